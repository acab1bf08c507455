#!/usr/bin/env bash
# Drives one real agent CLI against mock_model_api.py, outside agenthost:
#
#   host/tests/agents/try_cli.sh NAME [PHASE...]    NAME: claude | codex | gemini | aider
#
# PHASEs (default: all, in this order):
#   edit      a temp git repo with README.md; the model rewrites it and creates docs/new.md;
#             the files on disk are checked
#   resume    the CLI's continue command in the same repo and HOME; the mock's log must show
#             that the request carried the first run's prompt and tool calls
#   shell     (not in the default list) the model runs `echo ... > shell.txt`
#   fail401   the API answers 401; the CLI's exit code and message are printed
#   fail500   the same with 500
#
# The CLIs come from .ci/agent-clis (installed on first use). Each run gets a clean
# environment (env -i) with only what the CLI needs, a temp HOME and a time limit; nothing
# leaves 127.0.0.1. KEEP=1 keeps the temp directory. Exit 0 when every phase passed.
set -euo pipefail

name=${1:?usage: try_cli.sh claude|codex|gemini|aider [edit|resume|shell|fail401|fail500]...}
shift
phases=("$@")
((${#phases[@]})) || phases=(edit resume fail401 fail500)

here=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$here/../../.." && pwd)
declare -A cli
while IFS='=' read -r k v; do cli[$k]=$v; done < <(bash "$repo_root/.ci/agent-clis")
program=${cli[$name]:?unknown CLI $name}

work=$(mktemp -d /tmp/try-cli-"$name".XXXXXX)
mock_pid=""
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

repo=$work/repo
home=$work/home
mkdir -p "$repo" "$home"
git -C "$repo" init -q -b main
printf 'hello\n' >"$repo/README.md"
git -C "$repo" add README.md
git -C "$repo" -c user.name=t -c user.email=t@t commit -qm init

# start_mock TAG SCENARIO_JSON: starts a fresh mock; sets port, log
start_mock() {
    local tag=$1
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    printf '%s\n' "$2" >"$work/$tag.scenario.json"
    rm -f "$work/$tag.port"
    log=$work/$tag.mock.jsonl
    python3 "$here/mock_model_api.py" --scenario "$work/$tag.scenario.json" \
        --port-file "$work/$tag.port" --log "$log" 2>"$work/$tag.mock.err" &
    mock_pid=$!
    for _ in $(seq 100); do [ -s "$work/$tag.port" ] && break; sleep 0.05; done
    port=$(cat "$work/$tag.port")
}

# run_cli TAG MODE PROMPT: MODE is first or continue; sets code, seconds; output in $work/TAG.out
run_cli() {
    local tag=$1 mode=$2 prompt=$3
    local base=http://127.0.0.1:$port
    local -a envs=(PATH="$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" HOME="$home"
        TMPDIR="$work/tmp" TERM=dumb LANG=C.UTF-8)
    local -a argv
    mkdir -p "$work/tmp"
    case $name in
    claude)
        envs+=(ANTHROPIC_BASE_URL="$base" ANTHROPIC_API_KEY=test IS_SANDBOX=1
            DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1)
        argv=("$program" -p "$prompt" --dangerously-skip-permissions)
        [ "$mode" = continue ] && argv+=(--continue)
        ;;
    codex)
        # Codex 0.171 reads no OPENAI_BASE_URL: the base URL is the config key openai_base_url.
        envs+=(CODEX_API_KEY=test CODEX_HOME="$home/.codex")
        mkdir -p "$home/.codex"
        printf 'openai_base_url = "%s/v1"\n' "$base" >"$home/.codex/config.toml"
        if [ "$mode" = continue ]; then
            argv=("$program" exec --dangerously-bypass-approvals-and-sandbox resume --last "$prompt")
        else
            argv=("$program" exec --dangerously-bypass-approvals-and-sandbox "$prompt")
        fi
        ;;
    gemini)
        envs+=(GEMINI_API_KEY=test GOOGLE_GEMINI_BASE_URL="$base")
        # With GOOGLE_GEMINI_BASE_URL set and no auth type chosen, 0.61 picks "gateway",
        # which -p refuses ("Invalid auth method selected.", exit 41): choose the API key.
        mkdir -p "$home/.gemini"
        [ -e "$home/.gemini/settings.json" ] ||
            echo '{"security": {"auth": {"selectedType": "gemini-api-key"}}}' >"$home/.gemini/settings.json"
        argv=("$program" -p "$prompt" --yolo --skip-trust)
        [ "$mode" = continue ] && argv+=(--resume latest)
        ;;
    aider)
        # LITELLM_LOCAL_MODEL_COST_MAP: litellm would fetch its model price list from GitHub too.
        envs+=(OPENAI_API_BASE="$base/v1" OPENAI_API_KEY=test LITELLM_LOCAL_MODEL_COST_MAP=True)
        printf '%s\n' "$prompt" >"$work/$tag.message"
        # Without metadata for its model aider fetches litellm's price list from GitHub.
        echo '{"openai/mock-model": {"max_input_tokens": 128000, "max_output_tokens": 8192,
          "input_cost_per_token": 0, "output_cost_per_token": 0, "litellm_provider": "openai",
          "mode": "chat"}}' >"$work/aider-model-metadata.json"
        argv=("$program" --message-file "$work/$tag.message" --yes-always --no-git --no-check-update
            --no-analytics --no-show-model-warnings --model openai/mock-model
            --model-metadata-file "$work/aider-model-metadata.json"
            --chat-history-file "$work/aider.chat.history.md"
            --input-history-file "$work/aider.input.history" ${AIDER_EDIT_FORMAT:+--edit-format "$AIDER_EDIT_FORMAT"} README.md)
        [ "$mode" = continue ] && argv+=(--restore-chat-history)
        ;;
    esac
    local started=$SECONDS
    set +e
    (cd "$repo" && env -i "${envs[@]}" timeout 300 "${argv[@]}" </dev/null >"$work/$tag.out" 2>&1)
    code=$?
    set -e
    seconds=$((SECONDS - started))
    echo "  $name $tag: exit $code in ${seconds}s; $(grep -c . "$log" 2>/dev/null || echo 0) requests"
}

show_tail() { sed 's/^/    | /' "$work/$1.out" | tail -n "${2:-8}"; }
failed=0
check() { # check DESCRIPTION COMMAND...
    if "${@:2}"; then echo "  ok: $1"; else echo "  FAILED: $1"; failed=1; fi
}
main_requests() { # the agent-loop requests of a mock log, one JSON body per line
    python3 - "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    b = e.get("body")
    if isinstance(b, dict) and (b.get("tools") or e["path"].endswith(("/responses", "/chat/completions"))):
        print(json.dumps(b))
EOF
}

first_prompt="Rewrite README.md and add docs/new.md. (marker FIRST-RUN-7f3a)"
for phase in "${phases[@]}"; do
    echo "== $name: $phase"
    case $phase in
    edit)
        start_mock edit '[
          {"write": "README.md", "content": "hello, edited by the agent\n"},
          {"write": "docs/new.md", "content": "a new file\n"},
          {"say": "Rewrote README.md and created docs/new.md."}
        ]'
        run_cli edit first "$first_prompt"
        show_tail edit
        check "exit code 0" test "$code" = 0
        check "README.md rewritten" grep -qx 'hello, edited by the agent' "$repo/README.md"
        check "docs/new.md created" grep -qx 'a new file' "$repo/docs/new.md"
        cp "$log" "$work/edit.log.keep"
        ;;
    resume)
        start_mock resume '[{"say": "Resumed: I remember the README edit."}]'
        run_cli resume continue "Now say what you did before. (marker SECOND-RUN-91c2)"
        show_tail resume 4
        check "exit code 0" test "$code" = 0
        check "the resumed request carries the first prompt" \
            bash -c "$(declare -f main_requests); main_requests '$log' | grep -q FIRST-RUN-7f3a"
        check "the resumed request carries the first run's edit" \
            bash -c "$(declare -f main_requests); main_requests '$log' | grep -q 'edited by the agent'"
        check "the resumed request carries the new prompt" \
            bash -c "$(declare -f main_requests); main_requests '$log' | grep -q SECOND-RUN-91c2"
        ;;
    shell)
        start_mock shell '[
          {"shell": "echo from-the-agent > shell.txt"},
          {"say": "Ran it."}
        ]'
        run_cli shell first "Run the command. (marker SHELL-RUN)"
        show_tail shell 4
        check "exit code 0" test "$code" = 0
        if [ "$name" = aider ]; then
            # aider asks before running a reply's shell commands, and --yes-always does
            # not answer that question.
            check "the command did not run (aider)" test ! -e "$repo/shell.txt"
        else
            check "the command ran in the repository" grep -qx from-the-agent "$repo/shell.txt"
        fi
        ;;
    fail401 | fail500)
        status=${phase#fail}
        start_mock "$phase" "[{\"fail\": $status, \"message\": \"mock says $status\"}]"
        run_cli "$phase" first "Say hello."
        show_tail "$phase" 6
        if [ "$name" = aider ]; then
            check "exit 0 (aider exits 0 after an API error)" test "$code" = 0
        else
            check "a non-zero exit code" test "$code" != 0
        fi
        # Codex shows its own words for a 5xx ("high demand"), not the API's message.
        check "the error reaches the output" grep -q "$status\|mock says\|high demand" "$work/$phase.out"
        ;;
    *) echo "unknown phase $phase" >&2; exit 2 ;;
    esac
done
if [ "${SHOW_HOME:-}" = 1 ]; then
    echo "== files written under HOME"
    (cd "$home" && find . -maxdepth 4 | sort | head -80)
fi
exit $failed

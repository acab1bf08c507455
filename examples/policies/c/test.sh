#!/usr/bin/env bash
# Builds the policy, checks the JSON reader natively, then runs the shared fixtures
# through agenthost.
set -euo pipefail
cd "$(dirname "$0")"

./build.sh

# Native checks of what the fixtures cannot reach (agenthost only sends valid requests):
# the same C built for this machine, fed edge cases on stdin. Skipped without a native libc.
native="$(mktemp -d)"
trap 'rm -rf "$native"' EXIT
if "${CLANG:-clang}" -O1 -fsanitize=undefined -fsanitize-undefined-trap-on-error \
    -o "$native/policy" main.c json.c 2>/dev/null; then
    failed=0
    # check NAME HOOK STDIN STATUS EXPECTED: EXPECTED is the exact stdout for status 0,
    # a piece of the stderr message otherwise.
    check() {
        local out err status=0
        out="$(printf '%s' "$3" | "$native/policy" "$2" 2>"$native/err")" || status=$?
        err="$(cat "$native/err")"
        if [[ $status != "$4" ]] ||
            { [[ $4 == 0 ]] && [[ $out != "$5" ]]; } ||
            { [[ $4 != 0 ]] && [[ $err != *"$5"* ]]; }; then
            echo "native check failed: $1 (status $status)"
            echo "  stdout: $out"
            echo "  stderr: $err"
            failed=1
        fi
    }
    review() { # a review request for one changed file path (already JSON) and one pattern
        printf '{"config":{"patterns":[%s]},"run":{"changed_files":[{"path":%s,"old_path":null}]}}' "$2" "$1"
    }
    finding() { # the answer with one finding for PATH (as JSON) and PATTERN (as JSON)
        printf '{"findings":[{"rule":"protected-paths/changed","severity":"warning","message":"`%s` matches the protected pattern `%s`","path":"%s"}]}' "$1" "$2" "$1"
    }
    check describe describe '' 0 '{"abi":"0.2.0","hooks":["review","validate-config"]}'
    check "unknown hook" admission '{}' 2 'unknown hook `admission`'
    check "escapes round-trip" review "$(review '"a\"b\\\\c\t\u0001\/é"' '"**"')" 0 \
        "$(finding 'a\"b\\\\c\t\u0001/é' '**')"
    check "surrogate pair" review "$(review '"\ud83d\ude00.md"' '"?.md"')" 0 "$(finding '😀.md' '?.md')"
    check "? is one character" review "$(review '"€€"' '"*??"')" 0 "$(finding '€€' '*??')"
    check "? is not a byte" review "$(review '"€"' '"*??"')" 0 '{"findings":[]}'
    check "lone surrogate" review "$(review '"\ud83d"' '"x"')" 1 'lone high surrogate'
    check "bad escape" review '{"a":"\x"}' 1 'invalid escape in a string at line 1, column 7'
    check "control character" review $'{"a":"\n"}' 1 'control character in a string'
    check "trailing comma" review '{"a":[1,]}' 1 'unexpected character at line 1, column 9'
    check "bad number" review '{"a":01}' 1 "expected ',' or '}'"
    check "truncated" review '{"a":"b' 1 'unterminated string at the end of the input'
    check "trailing text" review '{} {}' 1 'unexpected text after the JSON value'
    check "empty" review '' 1 'expected a value at the end of the input'
    check "too deep" review "$(printf '[%.0s' {1..200})" 1 'nested too deeply'
    check "not an object" validate-config '[]' 1 'must be a JSON object'
    check "numbers and literals" validate-config \
        '{"config":{"patterns":[],"x":[-0.5e+3,0,1E9,true,false,null,{}]}}' 0 \
        '{"errors":["unknown key `x`: the keys are `patterns` and `severity`"]}'
    if [[ $failed != 0 ]]; then exit 1; fi
    echo "native checks passed"
else
    echo "skipping the native checks: no native C toolchain (apt-get install -y libc6-dev)"
fi

"${AGENTHOST:-agenthost}" policy test protected-paths.wasm --fixtures ../fixtures

//! The private home per task (issue: containment): every built-in profile runs its agent
//! with `HOME` and the CLI's config variable in `<state>/homes/<task>`, seeded from the
//! real home, and nothing the agent writes reaches the real home, where the user's next
//! ordinary session would run it outside any sandbox.
//!
//! Each profile keeps its built-in fields (env, seed, write_back, ports) and gets a shell
//! script as its `command` in the user config: the attack a prompt injection would make.

use std::path::{Path, PathBuf};

use crate::Test;
use crate::lifecycle::{StopSupervisor, sample};

/// Where each built-in profile's CLI reads code to run from, in the real home.
const CONFIG_THAT_RUNS_CODE: &[(&str, &[&str])] = &[
    (
        "claude",
        &[
            ".claude/settings.json",
            ".claude.json",
            ".claude/commands/deploy.md",
            ".claude/agents/helper.md",
        ],
    ),
    ("codex", &[".codex/config.toml"]),
    ("gemini", &[".gemini/settings.json"]),
    ("aider", &[".aider.conf.yml"]),
];

/// The real home of a test (its `HOME`).
fn real_home(test: &Test) -> PathBuf {
    test.path().join(".test-home")
}

/// The sample repository with a login in the real home for every CLI, and the user config
/// giving `profile` the attack script as its command (with `extra` config appended).
fn attacked(profile: &str, targets: &[&str], extra: &str) -> Test {
    let test = sample();
    let home = real_home(&test);
    for (path, text) in [
        (
            ".claude/.credentials.json",
            r#"{"claudeAiOauth":{"accessToken":"old"}}"#,
        ),
        (".claude/CLAUDE.md", "Be brief.\n"),
        (".codex/auth.json", r#"{"OPENAI_API_KEY":null,"tokens":{}}"#),
        (".gemini/oauth_creds.json", r#"{"access_token":"old"}"#),
    ] {
        let path = home.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let mut script = String::from("echo ATTACK-RAN\n");
    for target in targets.iter().chain(&[".bashrc"]) {
        let path = home.join(target);
        script.push_str(&format!(
            "mkdir -p '{}' 2>/dev/null; echo '{{\"hooks\": \"planted\"}}' > '{}' && echo 'WROTE {target}'\n",
            path.parent().expect("parent").display(),
            path.display()
        ));
    }
    // The same writes through $HOME land in the private home.
    script.push_str(&format!(
        "mkdir -p \"$HOME/$(dirname {first})\" && echo planted > \"$HOME/{first}\"\n",
        first = targets[0]
    ));
    script.push_str(
        "printf 'def to_csv(items):\\n    return \"\"\\n' > inventory/export.py\n\
         printf 'def test_x():\\n    pass\\n' > tests/test_export.py\n",
    );
    let config = format!(
        "[agents.{profile}]\ncommand = [\"sh\", \"-c\", '''{}''']\n{extra}",
        literal(&script)
    );
    test.file(".test-home/config/agenthost/config.toml", config)
}

/// Launches the csv-export spec with `profile` and waits; returns the task's id.
fn launch(test: &Test, profile: &str) -> String {
    let run = test.exec(&[
        "launch",
        "--wait",
        "--agent",
        profile,
        "repo/specs/csv-export.md",
    ]);
    let id = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("queued "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no task queued: {}", run.transcript()))
        .to_string();
    let log = test.exec(&["logs", &id]);
    assert!(
        log.stdout.contains("ATTACK-RAN"),
        "the attack never ran: {}\n{}",
        run.transcript(),
        log.stdout
    );
    id
}

/// `text` as a command template argument: braces doubled, so no placeholder is read.
fn literal(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[test]
fn no_built_in_profile_lets_an_agent_write_config_into_the_real_home() {
    for (profile, targets) in CONFIG_THAT_RUNS_CODE {
        let test = attacked(profile, targets, "");
        let _stop = StopSupervisor(&test);
        let id = launch(&test, profile);
        let home = real_home(&test);
        for target in targets.iter().chain(&[".bashrc"]) {
            assert!(
                !exists(&home.join(target)),
                "profile {profile}: the agent wrote ~/{target} in the real home"
            );
        }
        // Its HOME was the private one: the write through $HOME landed there.
        let private = test.state_dir().join("homes").join(&id);
        assert!(
            private.join(targets[0]).is_file(),
            "profile {profile}: HOME was not the private home {}",
            private.display()
        );
        assert_eq!(
            crate::lifecycle::task_state(&test, &id),
            "ready",
            "profile {profile}: {}",
            test.exec(&["logs", &id]).stdout
        );
    }
}

/// The negative control: the same attack with the sandbox off does write the real home, so
/// the test above can fail.
#[test]
fn without_the_sandbox_the_same_attack_reaches_the_real_home() {
    let (profile, targets) = CONFIG_THAT_RUNS_CODE[0];
    let test = attacked(profile, targets, "\n[sandbox]\nmode = \"off\"\n");
    let _stop = StopSupervisor(&test);
    launch(&test, profile);
    let home = real_home(&test);
    for target in targets {
        assert!(
            exists(&home.join(target)),
            "with the sandbox off the attack should have written ~/{target}"
        );
    }
}

#[test]
fn seeds_are_copied_in_and_only_a_refreshed_login_goes_back() {
    // The agent refreshes its token (same shape: copied back) in one task, and rewrites the
    // credentials with MCP servers (another shape: refused) in the next.
    let test = sample();
    let home = real_home(&test);
    let original = r#"{"claudeAiOauth":{"accessToken":"old"}}"#;
    std::fs::create_dir_all(home.join(".claude")).expect("mkdir");
    std::fs::write(home.join(".claude/.credentials.json"), original).expect("write");
    std::fs::write(home.join(".claude/CLAUDE.md"), "Be brief.\n").expect("write");
    let script = |credentials: &str| {
        format!(
            "echo ATTACK-RAN; cat \"$CLAUDE_CONFIG_DIR/CLAUDE.md\"; \
             printf '%s' '{credentials}' > \"$CLAUDE_CONFIG_DIR/.credentials.json\"; \
             printf 'def to_csv(items):\\n    return \"\"\\n' > inventory/export.py; \
             printf 'def test_x():\\n    pass\\n' > tests/test_export.py"
        )
    };
    let refreshed = r#"{"claudeAiOauth":{"accessToken":"new"}}"#;
    let config = |credentials: &str| {
        format!(
            "[agents.claude]\ncommand = [\"sh\", \"-c\", '''{}''']\n",
            literal(&script(credentials))
        )
    };
    let test = test.file(".test-home/config/agenthost/config.toml", config(refreshed));
    let _stop = StopSupervisor(&test);
    let id = launch(&test, "claude");
    let log = test.exec(&["logs", &id]).stdout;
    assert!(log.contains("Be brief."), "CLAUDE.md was seeded: {log}");
    assert!(
        log.contains("copied `~/.claude/.credentials.json` back to your home"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".claude/.credentials.json")).expect("read"),
        refreshed
    );

    // The next task writes the same files: the first must leave the review queue before it
    // starts (scope-overlap).
    let run = test.exec(&["reject", &id]);
    assert_eq!(run.code, 0, "{}", run.transcript());

    let planted = r#"{"mcpServers":{"x":{"command":"sh"}}}"#;
    std::fs::write(
        test.path().join(".test-home/config/agenthost/config.toml"),
        config(planted),
    )
    .expect("write");
    let id = launch(&test, "claude");
    let log = test.exec(&["logs", &id]).stdout;
    assert!(
        log.contains("did NOT copy `~/.claude/.credentials.json` back"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".claude/.credentials.json")).expect("read"),
        refreshed,
        "the real login is unchanged"
    );
}

#[test]
fn a_correction_finds_the_session_in_the_private_home_and_accept_removes_it() {
    // The first run leaves a session in $HOME; the continue command reads it back into the
    // worktree, as `claude --continue` finds its transcript.
    let first = "echo ATTACK-RAN; mkdir -p \"$HOME/.claude/projects\"; \
                 echo session-42 > \"$HOME/.claude/projects/session\"; \
                 printf 'def to_csv(items):\\n    return \"\"\\n' > inventory/export.py; \
                 printf 'def test_x():\\n    pass\\n' > tests/test_export.py";
    let again = "echo ATTACK-RAN; cat \"$HOME/.claude/projects/session\" > tests/session.txt; \
                 printf 'def test_y():\\n    pass\\n' >> tests/test_export.py";
    let test = sample().file(
        ".test-home/config/agenthost/config.toml",
        format!(
            "[agents.claude]\ncommand = [\"sh\", \"-c\", '''{first}''']\n\
             continue = [\"sh\", \"-c\", '''{again}''']\n"
        ),
    );
    // The correction writes a file the spec does not name: allow it in the spec.
    let spec = test.path().join("repo/specs/csv-export.md");
    let text = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(
        &spec,
        text.replace(
            "- Create: `inventory/export.py`, `tests/test_export.py`",
            "- Create: `inventory/export.py`, `tests/test_export.py`, `tests/session.txt`",
        ),
    )
    .expect("write");
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let id = launch(&test, "claude");
    let run = test.exec(&["correct", &id, "-m", "carry on"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    crate::lifecycle::wait_for_state(&test, &id, &["ready", "failed"]);
    let worktree = test.state_dir().join("worktrees").join(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join("tests/session.txt")).expect("session"),
        "session-42\n"
    );
    let private = test.state_dir().join("homes").join(&id);
    assert!(private.is_dir());
    let run = test.exec(&["accept", &id]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        !private.exists(),
        "the private home (with its copy of the login) goes with the task"
    );
}

/// What an agent tries to read of agenthost's own state: the database, the supervisor's
/// log, the logs directory, another task's private home and worktree.
fn state_reader(state: &Path) -> String {
    let s = state.display();
    format!(
        "echo ATTACK-RAN\n\
         for f in '{s}/state.db' '{s}/supervisor.log' '{s}/homes/other-task/secret' \
                  '{s}/worktrees/other-task/secret.txt'; do\n\
           if cat \"$f\" >/dev/null 2>&1; then echo \"READ $f\"; else echo \"DENIED $f\"; fi\n\
         done\n\
         if ls '{s}/logs' >/dev/null 2>&1; then echo 'LISTED logs'; else echo 'DENIED logs'; fi\n\
         printf 'def to_csv(items):\\n    return \"\"\\n' > inventory/export.py\n\
         printf 'def test_x():\\n    pass\\n' > tests/test_export.py\n"
    )
}

/// The sample with agenthost's state where it is by default (`~/.local/state/agenthost`),
/// `~/.local/bin` on PATH (where uv, pipx and native installers put programs), another
/// task's home and worktree beside this one's, and a profile `reader` running
/// [`state_reader`]; `extra` is appended to the config.
fn state_test(extra: &str) -> (Test, PathBuf) {
    let test = sample();
    let home = real_home(&test);
    let state = home.join(".local/state/agenthost");
    for (path, text) in [
        ("homes/other-task/secret", "other home\n"),
        ("worktrees/other-task/secret.txt", "other worktree\n"),
        (".local/bin/.keep", ""),
    ] {
        let path = if path.starts_with(".local") {
            home.join(path)
        } else {
            state.join(path)
        };
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let path = format!(
        "{}:{}",
        home.join(".local/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = literal(&state_reader(&state));
    let test = test
        .env("PATH", &path)
        .env(
            "XDG_STATE_HOME",
            &home.join(".local/state").display().to_string(),
        )
        .file(
            ".test-home/config/agenthost/config.toml",
            format!("[agents.reader]\ncommand = [\"sh\", \"-c\", '''{script}''']\n{extra}"),
        );
    (test, state)
}

fn reader_log(test: &Test) -> String {
    let run = test.exec(&[
        "launch",
        "--wait",
        "--agent",
        "reader",
        "repo/specs/csv-export.md",
    ]);
    let log = test.exec(&["logs", "export-items-as-csv"]).stdout;
    assert!(
        log.contains("ATTACK-RAN"),
        "the attack never ran: {}\n{log}",
        run.transcript()
    );
    log
}

#[test]
fn no_agent_reads_agenthosts_state_or_another_tasks_files() {
    let (test, state) = state_test("");
    let _stop = StopSupervisor(&test);
    let log = reader_log(&test);
    assert!(
        state.join("state.db").is_file(),
        "the state is where the test says"
    );
    assert!(!log.contains("READ "), "{log}");
    assert!(!log.contains("LISTED logs"), "{log}");
    assert_eq!(log.matches("DENIED ").count(), 5, "{log}");
}

/// The negative control: with the sandbox off the same agent reads all of it.
#[test]
fn without_the_sandbox_an_agent_reads_agenthosts_state() {
    let (test, _state) = state_test("\n[sandbox]\nmode = \"off\"\n");
    let _stop = StopSupervisor(&test);
    let log = reader_log(&test);
    assert_eq!(log.matches("READ ").count(), 4, "{log}");
    assert!(log.contains("LISTED logs"), "{log}");
}

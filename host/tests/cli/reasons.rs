//! A run is judged by what happened, and every reason reaches the user: an agent that
//! exits non-zero fails its task with the end of its output; one that changes nothing gets
//! a blocking finding; a held launch says why while it waits. Each reason is asserted in
//! every verb that shows it (`launch --wait`, `status`, `status --json`, `review`, `logs`).

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use crate::Test;
use crate::lifecycle::{StopSupervisor, sample, status_row, wait_for_state};

/// The sample repository with a profile `fake` running `script` with `sh -c`.
fn with_agent(script: &str) -> Test {
    let script = script.replace('{', "{{").replace('}', "}}");
    sample().file(
        ".test-home/config/agenthost/config.toml",
        format!("[agents.fake]\ncommand = [\"sh\", \"-c\", '''{script}''']\n"),
    )
}

/// `launch --wait --agent fake` of the sample's csv-export spec.
fn launch_fake(test: &Test) -> crate::Run {
    test.exec(&LAUNCH_FAKE)
}

const LAUNCH_FAKE: [&str; 5] = [
    "launch",
    "--wait",
    "--agent",
    "fake",
    "repo/specs/csv-export.md",
];

#[test]
fn an_agent_that_exits_non_zero_fails_its_task_with_its_words_everywhere() {
    let test = with_agent(
        "echo 'starting'; echo 'Error: 401 Unauthorized: invalid x-api-key' >&2; \
         printf 'x = 1\\n' > inventory/export.py; exit 3",
    );
    let _stop = StopSupervisor(&test);
    let run = launch_fake(&test);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains(
            "export-items-as-csv is failed: the agent exited with code 3; the end of its output:\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("  Error: 401 Unauthorized: invalid x-api-key\n"),
        "{}",
        run.stdout
    );

    assert!(
        run.stdout.contains(
            "  next: `agenthost logs export-items-as-csv` shows the whole run; \
             `agenthost resume export-items-as-csv` runs it again"
        ),
        "{}",
        run.stdout
    );
    let row = status_row(&test, "export-items-as-csv");
    assert_eq!(row["state"], "failed");
    assert!(
        row["reason"]
            .as_str()
            .expect("reason")
            .contains("401 Unauthorized"),
        "{row}"
    );
    let status = test.exec(&["status"]);
    assert!(
        status.stdout.contains("failed  ")
            && status
                .stdout
                .contains("the agent exited with code 3; the end of its output:"),
        "{}",
        status.stdout
    );
    let review = test.exec(&["review", "--no-pager", "export-items-as-csv"]);
    assert!(
        review
            .stdout
            .contains("  why       the agent exited with code 3"),
        "{}",
        review.stdout
    );
    // The work so far is on the branch: review shows it, and correct can build on it.
    assert!(
        review.stdout.contains("inventory/export.py"),
        "{}",
        review.stdout
    );
    let logs = test.exec(&["logs", "export-items-as-csv"]);
    assert!(
        logs.stdout.contains(
            "== agenthost: task export-items-as-csv is failed: the agent exited with code 3"
        ),
        "{}",
        logs.stdout
    );
    // The log names each host step.
    for step in [
        "== agenthost: worktree [TEMP]/.test-home/state/agenthost/worktrees/export-items-as-csv on branch agenthost/export-items-as-csv (base main at ",
        "== agenthost: private home ",
        "== agenthost: sandbox: enforce; ",
        "== agenthost: attempt 1, agent `fake`",
        "== agenthost: the agent exited with code 3",
        "== agenthost: committed the agent's work as ",
    ] {
        assert!(logs.stdout.contains(step), "{step}: {}", logs.stdout);
    }
}

#[test]
fn an_agent_past_its_time_limit_fails_with_the_limit_and_the_way_to_raise_it() {
    let test = with_agent("echo 'thinking...'; sleep 60");
    let spec = test.path().join("repo/specs/csv-export.md");
    let text = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(&spec, text.replace("timeout = \"5m\"", "timeout = \"1s\"")).expect("write");
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let run = launch_fake(&test);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains(
            "export-items-as-csv is failed: the agent ran past its time limit (1s) and was \
             stopped; raise `timeout` in the spec's front matter or the agent profile; the end \
             of its output:\n  thinking...\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn cancelled_and_interrupted_tasks_say_why_and_what_to_do() {
    let test = with_agent("echo started; sleep 60");
    let _stop = StopSupervisor(&test);
    // Two specs that write different files, so both run at once (scope-overlap).
    for spec in ["repo/specs/csv-export.md", "repo/specs/status-filter.md"] {
        let run = test.exec(&["launch", "--agent", "fake", spec]);
        assert_eq!(run.code, 0, "{}", run.transcript());
    }
    let other = "filter-the-summary-report-by-item-status";
    wait_for_state(&test, "export-items-as-csv", &["running"]);
    wait_for_state(&test, other, &["running"]);
    let run = test.exec(&["cancel", "export-items-as-csv"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    wait_for_state(&test, "export-items-as-csv", &["cancelled"]);
    let row = status_row(&test, "export-items-as-csv");
    assert_eq!(
        row["reason"],
        "cancelled with `agenthost cancel` while it ran; the agent was stopped"
    );
    // Stopping the supervisor interrupts the other; its reason says how to go on.
    let run = test.exec(&["serve", "--stop"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    // `serve --stop` asks; the supervisor records the interruption as it winds down.
    wait_for_state(&test, other, &["interrupted"]);
    let row = status_row(&test, other);
    assert_eq!(row["state"], "interrupted", "{row}");
    assert_eq!(
        row["reason"],
        format!(
            "the supervisor stopped while the agent ran; the worktree is kept: \
             `agenthost resume {other}` runs it again"
        )
    );
    let status = test.exec(&["status", "--all"]).stdout;
    assert!(
        status.contains("the supervisor stopped while the agent ran;"),
        "{status}"
    );
}

#[test]
fn a_run_that_changes_nothing_is_ready_with_a_blocking_finding_shown_at_once() {
    let test = with_agent("echo 'I could not find the inventory module, so I stopped.'");
    let _stop = StopSupervisor(&test);
    let run = launch_fake(&test);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("export-items-as-csv is ready with 1 blocking finding(s)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "  blocking: agenthost/no-changes: the agent exited cleanly but changed no file (its last words: I could not find the inventory module, so I stopped.). See `agenthost logs`"
        ),
        "{}",
        run.stdout
    );
    let row = status_row(&test, "export-items-as-csv");
    assert_eq!(row["blocking_findings"], 1, "{row}");
    let logs = test.exec(&["logs", "export-items-as-csv"]).stdout;
    for step in [
        "== agenthost: the agent changed no file: nothing to commit\n",
        "== agenthost: policy scope-guard (enforce): no findings, in ",
        "== agenthost: test `python3 -m unittest discover -s tests`\n",
    ] {
        assert!(logs.contains(step), "{step}: {logs}");
    }
}

#[test]
fn a_held_launch_says_why_while_it_waits_and_status_shows_it() {
    // One finished task may wait for review; the second is held until it is reviewed.
    let test = with_agent(
        "printf 'x = 1\\n' > inventory/export.py; printf 'y = 1\\n' > tests/test_export.py",
    )
    .file(
        "repo/agenthost.toml",
        "[policies.review-bandwidth]\nconfig = { max_waiting = 1 }\n",
    );
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let first = launch_fake(&test);
    assert_eq!(first.code, 0, "{}", first.transcript());

    let mut waiting = test
        .command()
        .args(LAUNCH_FAKE)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("launch");
    let mut lines = BufReader::new(waiting.stdout.take().expect("stdout")).lines();
    let held = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains(" is queued: "))
        .expect("launch --wait says why it waits");
    assert_eq!(
        held,
        "export-items-as-csv-2 is queued: held by admission: review-bandwidth: 1 finished tasks \
         wait for review (limit 1); review them, then launch the next batch"
    );
    let status = test.exec(&["status"]);
    assert!(
        status
            .stdout
            .contains("held by admission: review-bandwidth: 1 finished tasks wait for review"),
        "{}",
        status.stdout
    );
    // Reviewing the first lets the second start and finish.
    let reject = test.exec(&["reject", "export-items-as-csv"]);
    assert_eq!(reject.code, 0, "{}", reject.transcript());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(waiting.wait().expect("wait").success(), "{rest:?}");
    assert!(
        rest.iter()
            .any(|line| line.starts_with("export-items-as-csv-2 is ready")),
        "{rest:?}"
    );
    wait_for_state(&test, "export-items-as-csv-2", &["ready"]);
}

#[test]
fn an_agent_named_by_a_path_outside_path_runs_through_its_link() {
    // A CLI installed as a link into a package directory, named by its absolute path (as
    // `~/.local/bin/claude` is, outside the supervisor's PATH): the program it resolves to
    // and the package around it are readable in the sandbox.
    let test = sample()
        .file(
            "tools/node_modules/agent-cli/bin/cli.sh",
            // As node does for a package's `bin`: the link is resolved first.
            "#!/bin/sh\n. \"$(dirname \"$(readlink -f \"$0\")\")/../lib/edit.sh\"\n",
        )
        .file(
            "tools/node_modules/agent-cli/lib/edit.sh",
            "echo 'agent-cli: editing'\nprintf 'x = 1\\n' > inventory/export.py\nprintf 'y = 1\\n' > tests/test_export.py\n",
        );
    let cli = test.path().join("tools/node_modules/agent-cli/bin/cli.sh");
    std::fs::set_permissions(&cli, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let link = test.path().join("tools/bin/agent");
    std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(&cli, &link).expect("link");
    let test = test.file(
        ".test-home/config/agenthost/config.toml",
        format!("[agents.linked]\ncommand = [\"{}\"]\n", link.display()),
    );
    let _stop = StopSupervisor(&test);
    let run = test.exec(&[
        "launch",
        "--wait",
        "--agent",
        "linked",
        "repo/specs/csv-export.md",
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let logs = test.exec(&["logs", "export-items-as-csv"]);
    assert!(
        logs.stdout.contains("agent-cli: editing"),
        "{}",
        logs.stdout
    );
}

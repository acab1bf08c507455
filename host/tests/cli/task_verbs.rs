//! `logs`, `diff` and `review` on a task recorded in the state database, with a real
//! worktree and task branch.

use agenthost::digest;
use agenthost::supervisor::store::{NewTask, Store, StoredFinding};
use agenthost::task::TaskState;
use agenthost::task::worktree::{TaskWorktree, resolve_base};
use insta::assert_snapshot;

use crate::Test;

const SPEC: &str = "# Filter the report by status\n\n### Scope\n- Modify: `report.py`\n- Create: `status.py`\n- Do NOT modify `api/**`\n- Do NOT change how items load\n";

/// A repository with one task that ran: its worktree changed `report.py` and created
/// `status.py`, the host committed it, and review found one error.
fn seeded() -> Test {
    let test = Test::new()
        .file("repo/report.py", "def summary(items):\n    return items\n")
        .file("repo/api/routes.py", "ROUTES = {}\n")
        .file("repo/spec.md", SPEC)
        .git_repo("repo");
    let repo = test.path().join("repo");
    let state = test.state_dir();
    let base = resolve_base(&repo, None).expect("base");
    let (worktree, _) = TaskWorktree::create(
        &repo,
        "filter-report",
        &base,
        &state.join("worktrees/filter-report"),
        &[],
    )
    .expect("worktree");
    std::fs::write(
        worktree.path.join("report.py"),
        "def summary(items, status=None):\n    return [i for i in items if status in (None, i.status)]\n",
    )
    .expect("write");
    std::fs::write(worktree.path.join("status.py"), "ACTIVE = \"active\"\n").expect("write");
    let commit = worktree
        .commit_all(
            "Filter the report by status",
            &[("Agenthost-Task", "filter-report")],
        )
        .expect("commit")
        .expect("a change");

    let mut store = Store::open(&state.join("state.db")).expect("store");
    store
        .insert_task(&NewTask {
            id: "filter-report".into(),
            repo: repo.clone(),
            spec_path: repo.join("spec.md"),
            spec_text: SPEC.into(),
            spec_digest: digest::sha256(SPEC.as_bytes()),
            title: "Filter the report by status".into(),
            agent: "script".into(),
            base_branch: base.branch.clone(),
            base_commit: base.commit.clone(),
            branch: worktree.branch.clone(),
            worktree: worktree.path.clone(),
            env: Default::default(),
        })
        .expect("insert");
    store
        .transition("filter-report", TaskState::Running, "admitted")
        .expect("running");
    let log = state.join("logs/filter-report/attempt-1.log");
    std::fs::create_dir_all(log.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &log,
        "scripted-agent: edited report.py\nscripted-agent: wrote status.py\n",
    )
    .expect("log");
    store
        .start_attempt("filter-report", None, &log)
        .expect("attempt");
    store
        .finish_attempt("filter-report", 1, Some(0), Some(&commit))
        .expect("finish");
    store
        .transition("filter-report", TaskState::Checking, "agent exited 0")
        .expect("checking");
    store
        .set_findings(
            "filter-report",
            1,
            &[StoredFinding {
                attempt: 1,
                policy: "diff-size".into(),
                rule: "diff-size/too-many-lines".into(),
                severity: "warning".into(),
                message: "3 lines changed; fine".into(),
                path: None,
                line: None,
            }],
        )
        .expect("findings");
    store
        .transition("filter-report", TaskState::Ready, "checks done")
        .expect("ready");
    test
}

#[test]
fn logs_prints_the_latest_attempt() {
    let test = seeded();
    let run = test.exec(&["logs", "filter-report"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout,
        "scripted-agent: edited report.py\nscripted-agent: wrote status.py\n\
         == agenthost: task filter-report is ready: checks done\n"
    );
    let run = test.exec(&["logs", "--attempt", "7", "filter-report"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("has no attempt 7"), "{}", run.stderr);
}

#[test]
fn diff_shows_the_task_branch_against_its_base() {
    let test = seeded();
    let run = test.exec(&["diff", "filter-report"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("+def summary(items, status=None):\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("+++ b/status.py\n"), "{}", run.stdout);
    let stat = test.exec(&["diff", "--stat", "filter-report"]);
    assert_eq!(
        stat.stdout,
        "2 files changed, +3 -2\n  M report.py  +2 -2\n  A status.py  +1 -0\n"
    );
}

#[test]
fn review_shows_scope_findings_and_changes() {
    let test = seeded();
    let run = test.exec(&["review", "filter-report"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_snapshot!(run.transcript());
}

#[test]
fn unknown_task_suggests_the_nearest() {
    let test = seeded();
    let run = test.exec(&["diff", "filter-reprot"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("no task `filter-reprot`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `filter-report`?"),
        "{}",
        run.stderr
    );
    let fresh = Test::new().args(["logs", "anything"]).run();
    assert_eq!(fresh.code, 2);
    assert!(
        fresh.stderr.contains("no task has been launched yet"),
        "{}",
        fresh.stderr
    );
}

#[test]
fn stats_from_the_event_log() {
    let test = seeded();
    let run = test.exec(&["stats", "--json"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let stats: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(stats["accepted"], 0);
    assert_eq!(stats["reviews"], 0);
    let human = test.exec(&["stats"]);
    assert!(
        human.stdout.starts_with("Last 14 days\n"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("acceptance rate     -\n"),
        "{}",
        human.stdout
    );
    let empty = Test::new().args(["stats"]).run();
    assert_eq!(empty.code, 0, "{}", empty.transcript());
}

//! The task lifecycle end to end: launch with the scripted agent under the real sandbox and
//! policies, then accept, correct, reject, cancel, resume; crash recovery; clear errors.
//! Every test has its own repository, state directory and supervisor.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Run, Test};

/// Stops the test's supervisor when the test ends, pass or fail.
pub(crate) struct StopSupervisor<'a>(pub(crate) &'a Test);

impl Drop for StopSupervisor<'_> {
    fn drop(&mut self) {
        let _ = self.0.exec(&["serve", "--stop"]);
    }
}

/// A test with the sample repository at `repo/` (committed on `main`) and the demo specs
/// in `repo/specs/`.
pub(crate) fn sample() -> Test {
    let mut test = Test::new();
    for (path, text) in agenthost::demo::SAMPLE_REPO {
        test = test.file(&format!("repo/{path}"), text);
    }
    for (name, text, _) in agenthost::demo::SPECS {
        test = test.file(&format!("repo/specs/{name}"), text);
    }
    let test = test.git_repo("repo");
    let repo = git2::Repository::open(test.path().join("repo")).expect("repo");
    // Name the branch `main` whatever git's default is.
    let head = repo.head().expect("head").peel_to_commit().expect("commit");
    repo.branch("main", &head, true).expect("branch");
    repo.set_head("refs/heads/main").expect("set head");
    test
}

pub(crate) fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.transcript()))
}

/// The task's row of `status --all --json`, if it has one.
pub(crate) fn find_row(test: &Test, id: &str) -> Option<serde_json::Value> {
    let run = test.exec(&["status", "--all", "--json"]);
    json(&run)
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["id"] == id)
        .cloned()
}

/// The task's row of `status --all --json`; panics when it has none.
pub(crate) fn status_row(test: &Test, id: &str) -> serde_json::Value {
    find_row(test, id).unwrap_or_else(|| panic!("no task {id} in `status --all --json`"))
}

pub(crate) fn task_state(test: &Test, id: &str) -> String {
    find_row(test, id)
        .map(|row| row["state"].as_str().expect("state").to_string())
        .unwrap_or_default()
}

/// Waits until the task is in one of `states` (a real agent CLI may take minutes).
pub(crate) fn wait_for_state(test: &Test, id: &str, states: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let state = task_state(test, id);
        if states.contains(&state.as_str()) {
            return state;
        }
        assert!(Instant::now() < deadline, "{id} stuck in `{state}`");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn file_in_head(repo: &Path, path: &str) -> Option<String> {
    let repo = git2::Repository::open(repo).expect("repo");
    let tree = repo.head().ok()?.peel_to_tree().ok()?;
    let entry = tree.get_path(Path::new(path)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

#[test]
fn launch_to_ready_then_accept_merges_the_change() {
    let test = sample();
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/csv-export.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("queued export-items-as-csv"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "export-items-as-csv is ready: review with `agenthost review export-items-as-csv`\n"
        ),
        "{}",
        run.stdout
    );

    let worktree = test.state_dir().join("worktrees/export-items-as-csv");
    assert!(worktree.join("inventory/export.py").exists());
    let repo = test.path().join("repo");
    assert!(
        !repo.join("inventory/export.py").exists(),
        "the checkout is untouched before accept"
    );

    let accept = test.exec(&["accept", "export-items-as-csv"]);
    assert_eq!(accept.code, 0, "{}", accept.transcript());
    assert!(
        accept
            .stdout
            .starts_with("accepted export-items-as-csv into main as "),
        "{}",
        accept.stdout
    );
    let exported = file_in_head(&repo, "inventory/export.py").expect("merged");
    assert!(exported.contains("def to_csv(items):"));
    assert!(
        repo.join("tests/test_export.py").exists(),
        "the checkout is updated"
    );
    let git = git2::Repository::open(&repo).expect("repo");
    let head = git.head().expect("head").peel_to_commit().expect("commit");
    let message = head.message().expect("message").to_string();
    assert!(
        message.starts_with("Export items as CSV\n\nAgenthost-Task: export-items-as-csv\n"),
        "{message}"
    );
    // Exactly the in-scope change: the two created files and nothing else.
    let parent = head.parent(0).expect("parent");
    let diff = git
        .diff_tree_to_tree(
            Some(&parent.tree().expect("tree")),
            Some(&head.tree().expect("tree")),
            None,
        )
        .expect("diff");
    let changed: Vec<String> = diff
        .deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .collect();
    assert_eq!(changed, ["inventory/export.py", "tests/test_export.py"]);
    assert!(
        !worktree.exists(),
        "the worktree is thrown away after accept"
    );
    assert_eq!(task_state(&test, "export-items-as-csv"), "accepted");

    // The accepted commit's trailers name its committed spec: verify checks it from the
    // repository alone.
    let verify = test.exec(&["verify", "--repo", "repo", "HEAD~1..HEAD"]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
    assert!(
        verify
            .stdout
            .contains("[task export-items-as-csv · spec specs/csv-export.md · 2 files"),
        "{}",
        verify.stdout
    );
}

#[test]
fn correct_runs_attempt_two_and_reject_cleans_up() {
    let test = sample();
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/quantity-check.md"]);
    let id = "refuse-negative-quantities-when-loading-items";
    assert!(
        run.stdout.contains(&format!("{id} is ready")),
        "{}",
        run.transcript()
    );

    let correct = test.exec(&[
        "correct",
        id,
        "-m",
        "The check is backwards: raise only below zero.",
    ]);
    assert_eq!(correct.code, 0, "{}", correct.transcript());
    wait_for_state(&test, id, &["ready", "failed"]);
    let rows = json(&test.exec(&["status", "--json"]));
    let row = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["id"] == id)
        .expect("row")
        .clone();
    assert_eq!(row["attempts"], 2);
    let second = test.exec(&["logs", "--attempt", "2", id]);
    assert!(
        second.stdout.contains("== agenthost: attempt 2"),
        "{}",
        second.transcript()
    );

    let worktree = test.state_dir().join("worktrees").join(id);
    assert!(worktree.exists());
    let reject = test.exec(&["reject", id]);
    assert_eq!(reject.code, 0, "{}", reject.transcript());
    assert!(!worktree.exists());
    let repo = git2::Repository::open(test.path().join("repo")).expect("repo");
    assert!(
        repo.find_branch(&format!("agenthost/{id}"), git2::BranchType::Local)
            .is_err()
    );
    assert_eq!(task_state(&test, id), "rejected");
    let logs = test.exec(&["logs", "--attempt", "1", id]);
    assert!(
        logs.stdout.contains("== agenthost: attempt 1"),
        "logs are kept: {}",
        logs.transcript()
    );
    let again = test.exec(&["reject", id]);
    assert_eq!(again.code, 2, "{}", again.transcript());
    assert!(again.stderr.contains("is rejected"), "{}", again.stderr);
}

#[test]
fn accept_with_a_conflict_changes_nothing() {
    let test = sample();
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/csv-export.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    // Meanwhile, someone commits a different inventory/export.py on main.
    let repo = test.path().join("repo");
    std::fs::write(repo.join("inventory/export.py"), "# mine\n").expect("write");
    crate::commit_all(&repo);
    let before = git2::Repository::open(&repo)
        .expect("repo")
        .head()
        .expect("head")
        .target();

    let accept = test.exec(&["accept", "export-items-as-csv"]);
    assert_eq!(accept.code, 2, "{}", accept.transcript());
    assert!(
        accept
            .stderr
            .contains("conflict with `main` in: inventory/export.py"),
        "{}",
        accept.stderr
    );
    let after = git2::Repository::open(&repo)
        .expect("repo")
        .head()
        .expect("head")
        .target();
    assert_eq!(before, after);
    assert_eq!(
        std::fs::read_to_string(repo.join("inventory/export.py")).expect("read"),
        "# mine\n"
    );
    assert_eq!(task_state(&test, "export-items-as-csv"), "ready");
}

/// A spec whose agent plants a `gitdir:` pointer to a repository it wrote (whose
/// `core.fsmonitor` runs `hook`), and whose test command leaves another `.git`.
/// A task whose test command leaves a daemon (a session of its own) that writes in the
/// worktree a second later: a `.git` it planted then would come after the walk that
/// clears them.
const DAEMON_SPEC: &str = r#"+++
agent = "script"
test = "setsid sh -c 'touch vendor/started; sleep 1.37; touch vendor/planted' >/dev/null 2>&1 & while [ ! -e vendor/started ]; do sleep 0.01; done"
timeout = "5m"
+++

# Leave a daemon

## What

A helper module under `vendor/`.

### Scope
- Create: `vendor/`

```agenthost-script
[[edit]]
path = "vendor/helper.py"
write = "x = 1\n"
```
"#;

#[test]
fn nothing_a_task_started_outlives_its_run() {
    let test = sample();
    let repo = test.path().join("repo");
    std::fs::write(repo.join("specs/daemon.md"), DAEMON_SPEC).expect("write");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);
    let id = "leave-a-daemon";
    let run = test.exec(&["launch", "--wait", "repo/specs/daemon.md"]);
    assert!(
        run.stdout.contains(&format!("{id} is ready")),
        "{}",
        run.transcript()
    );
    let worktree = test.state_dir().join("worktrees").join(id);
    // What the test run created and git does not ignore is set aside, out of the worktree.
    let set_aside = test
        .state_dir()
        .join("logs")
        .join(id)
        .join("attempt-1-test-files");
    assert!(
        set_aside.join("vendor/started").exists() && !worktree.join("vendor/started").exists(),
        "no daemon started, or its file was left in the worktree"
    );
    crate::wait_until_no_process_mentions("sleep 1.37");
    assert!(
        !worktree.join("vendor/planted").exists(),
        "the test command's daemon outlived it"
    );
}

fn planting_spec(hook: &Path) -> String {
    format!(
        r#"+++
agent = "script"
test = "mkdir -p vendor/late && echo 'gitdir: x' > vendor/late/.git"
timeout = "5m"
+++

# Vendor a helper

## What

A helper module under `vendor/`.

### Scope
- Create: `vendor/`

```agenthost-script
[[edit]]
path = "vendor/helper.py"
write = "x = 1\n"

[[edit]]
path = "vendor/evil/config"
write = "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = {hook}\n"

[[edit]]
path = "vendor/evil/HEAD"
write = "ref: refs/heads/main\n"

[[edit]]
path = "vendor/evil/objects/info/packs"
write = "\n"

[[edit]]
path = "vendor/evil/refs/heads/keep"
write = "\n"

[[edit]]
path = "vendor/.git"
write = "gitdir: evil\n"
```
"#,
        hook = hook.display()
    )
}

/// Nothing an agent (or its test command) writes may make git, run later by a human in the
/// task's worktree, obey a repository the agent wrote: every `.git` below the root is moved
/// out, kept beside the attempt's log, and reported as a blocking finding.
#[test]
fn git_metadata_left_in_the_worktree_is_moved_out_and_blocks() {
    let test = sample().file("hook.sh", "#!/bin/sh\ntouch \"$(dirname \"$0\")/owned\"\n");
    let hook = test.path().join("hook.sh");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let repo = test.path().join("repo");
    std::fs::write(repo.join("specs/vendor.md"), planting_spec(&hook)).expect("write");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);
    let id = "vendor-a-helper";
    let run = test.exec(&["launch", "--wait", "repo/specs/vendor.md"]);
    assert!(
        run.stdout.contains(&format!("{id} is ready")),
        "{}",
        run.transcript()
    );

    let worktree = test.state_dir().join("worktrees").join(id);
    assert!(worktree.join("vendor/helper.py").exists());
    assert!(!worktree.join("vendor/.git").exists());
    assert!(!worktree.join("vendor/late/.git").exists());
    let quarantine = test
        .state_dir()
        .join("logs")
        .join(id)
        .join("attempt-1-git-metadata");
    assert_eq!(
        std::fs::read_to_string(quarantine.join("1-vendor--git")).expect("kept"),
        "gitdir: evil\n"
    );
    assert_eq!(
        std::fs::read_to_string(quarantine.join("2-vendor--late--git")).expect("kept"),
        "gitdir: x\n"
    );

    let review = test.exec(&["review", id]);
    for finding in [
        "git-metadata  vendor/.git: ",
        "git-metadata  vendor/late/.git: ",
        "bare-repository  vendor/evil: ",
    ] {
        assert!(
            review.stdout.contains(finding),
            "{finding}: {}",
            review.transcript()
        );
    }
    let accept = test.exec(&["accept", id]);
    assert_eq!(accept.code, 2, "{}", accept.transcript());
    assert!(
        accept.stderr.contains("blocking finding"),
        "{}",
        accept.stderr
    );
    let logs = test.exec(&["logs", id]);
    assert!(
        logs.stdout
            .contains("moved vendor/.git (a `gitdir:` pointer file) out of the worktree"),
        "{}",
        logs.transcript()
    );

    // git in the worktree no longer obeys the planted repository; put the pointer back and
    // it does, so the check above is not vacuous.
    let git_status = || {
        let output = test
            .command_for("git")
            .args(["status", "--short"])
            .current_dir(worktree.join("vendor"))
            .output()
            .expect("git");
        assert!(output.status.success(), "{output:?}");
    };
    git_status();
    assert!(!test.path().join("owned").exists());
    std::fs::rename(
        quarantine.join("1-vendor--git"),
        worktree.join("vendor/.git"),
    )
    .expect("put back");
    git_status();
    assert!(
        test.path().join("owned").exists(),
        "the planted fsmonitor hook should run once the pointer is back"
    );
}

#[test]
fn clear_errors() {
    let test = sample()
        .file("outside/task.md", agenthost::demo::SPECS[0].1)
        .file(
            "repo/agenthost.toml",
            "[agents.ghost]\ncommand = [\"no-such-agent-binary\", \"{prompt}\"]\n",
        );
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "outside/task.md"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("is not inside a git repository"),
        "{}",
        run.stderr
    );

    let run = test.exec(&["launch", "--agent", "ghost", "repo/specs/csv-export.md"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains(
            "the agent program `no-such-agent-binary` of profile `ghost` is not installed"
        ),
        "{}",
        run.stderr
    );

    let run = test.exec(&["accept", "nope"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("no task `nope`"), "{}", run.stderr);
}

#[test]
fn supervisor_killed_mid_run_keeps_state_and_worktrees() {
    let test = sample().file(
        "repo/agenthost.toml",
        "[agents.slow]\ncommand = [\"sh\", \"-c\", \"echo started; exec sleep 60\"]\n",
    );
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--agent", "slow", "repo/specs/csv-export.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let id = "export-items-as-csv";
    wait_for_state(&test, id, &["running"]);
    let worktree = test.state_dir().join("worktrees").join(id);
    let log = test.state_dir().join(format!("logs/{id}/attempt-1.log"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("started")
    {
        assert!(Instant::now() < deadline, "the agent did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let lock = std::fs::read_to_string(test.state_dir().join("supervisor.lock")).expect("lock");
    let pid: i32 = lock.trim().parse().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    crate::wait_until_exited(pid);

    // The next command that needs a supervisor starts one; it finds the task interrupted.
    let resume = test.exec(&["resume", id]);
    assert_eq!(resume.code, 0, "{}", resume.transcript());
    assert!(worktree.exists(), "the worktree survives the crash");
    let events = test.exec(&["status", "--all", "--json"]);
    assert!(events.code == 0);
    let state = wait_for_state(&test, id, &["running"]);
    assert_eq!(state, "running");
    let cancel = test.exec(&["cancel", id]);
    assert_eq!(cancel.code, 0, "{}", cancel.transcript());
    wait_for_state(&test, id, &["cancelled"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while worktree.exists() {
        assert!(Instant::now() < deadline, "cancel throws the work away");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ten specs launched at once: admission (review-bandwidth, ramp stage 1 = 3 agents) never
/// lets more than three run, asserted from the event log; all ten finish.
#[test]
fn ten_at_once_never_exceed_the_admission_limit() {
    let mut test = sample().file(
        "repo/agenthost.toml",
        // Each agent makes its task's file (`$0` is the task id, `batch-N`): a run that
        // changes nothing would end with a blocking finding.
        "[agents.slow]\ncommand = [\"sh\", \"-c\", \"sleep 1; echo 'def helper(): pass' > inventory/helper_${{0#batch-}}.py\", \"{task_id}\"]\n\n[policies.review-bandwidth]\nconfig = { max_waiting = 20 }\n",
    );
    let mut specs = Vec::new();
    for n in 1..=10 {
        let spec = format!(
            "+++\nid = \"batch-{n}\"\n+++\n\n# Batch task {n}\n\n## What\nAdd a helper module `inventory/helper_{n}.py` exposing `helper()` that returns {n}.\n\n### Scope\n- Create: `inventory/helper_{n}.py`\n"
        );
        test = test.file(&format!("repo/batch/task-{n}.md"), spec);
        specs.push(format!("repo/batch/task-{n}.md"));
    }
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let mut args = vec![
        "launch".to_string(),
        "--wait".into(),
        "--agent".into(),
        "slow".into(),
    ];
    args.extend(specs);
    let run = test.exec(&args);
    assert_eq!(run.code, 0, "{}", run.transcript());
    for n in 1..=10 {
        assert!(
            run.stdout
                .contains(&format!("batch-{n} is ready: review with")),
            "{}",
            run.stdout
        );
    }

    let store = agenthost::supervisor::store::Store::open(&test.state_dir().join("state.db"))
        .expect("store");
    let active = |state: Option<agenthost::task::TaskState>| {
        matches!(
            state,
            Some(agenthost::task::TaskState::Running | agenthost::task::TaskState::Checking)
        )
    };
    let (mut running, mut most) = (0i32, 0i32);
    for event in store.events(None).expect("events") {
        let now_active = active(Some(event.to));
        let was_active = active(event.from);
        if now_active && !was_active {
            running += 1;
        } else if was_active && !now_active {
            running -= 1;
        }
        most = most.max(running);
    }
    assert_eq!(running, 0);
    assert_eq!(
        most, 3,
        "at most three agents at once, and the limit was reached"
    );
}

/// `[worktree] copy` brings an ignored dependency directory (files, a nested directory, a
/// symlink as a link) from the checkout into the new worktree, and a path the checkout
/// lacks is a warning finding the review shows, not a line in the supervisor's log.
#[test]
fn worktree_copy_brings_directories_and_says_what_it_did_not_find() {
    let test = sample()
        .file("repo/.gitignore", "__pycache__/\n*.pyc\ndeps/\n")
        .file(
            "repo/agenthost.toml",
            "[worktree]\ncopy = [\"deps\", \"vendor-missing\"]\n",
        );
    crate::commit_all(&test.path().join("repo"));
    let test = test
        .file("repo/deps/lib/helper.py", "VALUE = 42\n")
        .file("repo/deps/README", "deps\n");
    std::os::unix::fs::symlink("lib/helper.py", test.path().join("repo/deps/link.py"))
        .expect("symlink");
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/csv-export.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let worktree = test.state_dir().join("worktrees/export-items-as-csv");
    assert_eq!(
        std::fs::read_to_string(worktree.join("deps/lib/helper.py"))
            .ok()
            .as_deref(),
        Some("VALUE = 42\n")
    );
    assert_eq!(
        std::fs::read_link(worktree.join("deps/link.py")).ok(),
        Some(PathBuf::from("lib/helper.py"))
    );
    // A copy, not a shared directory.
    std::fs::write(worktree.join("deps/README"), "changed\n").expect("write");
    assert_eq!(
        std::fs::read_to_string(test.path().join("repo/deps/README"))
            .ok()
            .as_deref(),
        Some("deps\n")
    );
    let log = test.exec(&["logs", "export-items-as-csv"]).stdout;
    assert!(
        log.contains("worktree.copy: copied from your checkout: deps; not found there (not copied): vendor-missing"),
        "{log}"
    );
    let review = test.exec(&["review", "export-items-as-csv"]);
    assert!(
        review.stdout.contains("copy-missing") && review.stdout.contains("`vendor-missing`"),
        "{}",
        review.transcript()
    );
}

/// A `copy` path that reaches out of the repository through a symlink is refused: it would
/// put what lies outside (here a stand-in for `~/.ssh`) in the agent's reach.
#[test]
fn worktree_copy_never_follows_a_symlink_out_of_the_repository() {
    let test = sample()
        .file(
            "repo/agenthost.toml",
            "[worktree]\ncopy = [\"link/id_ed25519\"]\n",
        )
        .file("outside/id_ed25519", "PRIVATE KEY\n");
    std::os::unix::fs::symlink(test.path().join("outside"), test.path().join("repo/link"))
        .expect("symlink");
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/csv-export.md"]);
    assert_ne!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("leads out of the repository through a symbolic link"),
        "{}",
        run.transcript()
    );
    assert_eq!(
        crate::lifecycle::task_state(&test, "export-items-as-csv"),
        "failed"
    );
}

/// A test command that rewrites a tracked file (as `cargo test` rewrites `Cargo.lock`): the
/// change is committed on the task branch after the agent's commit, and a finding says so;
/// nothing is left uncommitted for `accept` to drop.
#[test]
fn tracked_files_the_test_command_changes_are_committed_and_said() {
    let spec = "+++\nagent = \"script\"\ntest = \"echo 'regenerated' > inventory/deps.lock\"\n+++\n\n\
                # Touch the items\n\n## What\n\nAdd a comment to the items module.\n\n\
                ### Scope\n- Modify: `inventory/items.py`\n\n\
                ```agenthost-script\n[[edit]]\npath = \"inventory/items.py\"\nappend = \"# touched\\n\"\n```\n";
    let test = sample()
        .file("repo/inventory/deps.lock", "locked\n")
        .file("repo/specs/touch.md", spec);
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "repo/specs/touch.md"]);
    assert!(
        run.stdout.contains("touch-the-items"),
        "{}",
        run.transcript()
    );
    let worktree = test.state_dir().join("worktrees/touch-the-items");
    assert_eq!(
        file_in_head(&worktree, "inventory/deps.lock").as_deref(),
        Some("regenerated\n"),
        "{}",
        run.transcript()
    );
    let repo = git2::Repository::open(&worktree).expect("worktree");
    let head = repo.head().expect("head").peel_to_commit().expect("commit");
    assert!(
        head.message()
            .is_ok_and(|m| m.starts_with("Files the test command changed")),
        "{:?}",
        head.message()
    );
    let log = test.exec(&["logs", "touch-the-items"]).stdout;
    assert!(
        log.contains("the test command changed tracked files: inventory/deps.lock"),
        "{log}"
    );
    let review = test.exec(&["review", "touch-the-items"]);
    assert!(
        review.stdout.contains("test-changed-files"),
        "{}",
        review.transcript()
    );
}

/// An agent that creates an empty file where its Scope says Create (at the worktree's root,
/// where the host makes the file before the run so that the kernel can grant it) keeps it:
/// the host removes only the files it made and nobody touched since.
#[test]
fn an_empty_file_the_agent_creates_is_its_work() {
    let test = sample()
        .file(
            "repo/agenthost.toml",
            // The wait puts the agent's `touch` past the kernel's coarse file clock tick
            // of the file's making (a few milliseconds).
            "[agents.typed]\ncommand = [\"sh\", \"-c\", \"sleep 0.1; touch py.typed\"]\n",
        )
        .file(
            "repo/specs/typed.md",
            "+++\nid = \"typed\"\n+++\n\n# Mark the package typed\n\n## What\nAdd an empty `py.typed`.\n\n## Verify\nThe file exists.\n\n### Scope\n- Create: `py.typed`\n",
        );
    let repo = test.path().join("repo");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);
    let run = test.exec(&[
        "launch",
        "--wait",
        "--agent",
        "typed",
        "repo/specs/typed.md",
    ]);
    assert!(
        run.stdout.contains("typed is ready"),
        "{}",
        run.transcript()
    );
    assert!(
        !run.stdout.contains("changed no file"),
        "{}",
        run.transcript()
    );
    let run = test.exec(&["accept", "typed"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(file_in_head(&repo, "py.typed").as_deref(), Some(""));
}

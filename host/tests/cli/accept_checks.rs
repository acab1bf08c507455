//! `accept` when the base branch moved since the task started: the task's change is merged
//! onto the new head in memory, the checks (the test command, in its sandbox, and the
//! review policies) run again on that result in the task's worktree, and a result that
//! now fails is refused with the reason, leaving the base branch, the task and its
//! worktree as they were. The checks stop, and nothing lands, when the client goes away;
//! a supervisor killed in the middle leaves a worktree the next one puts back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lifecycle::{StopSupervisor, file_in_head, status_row, task_state, wait_for_state};
use crate::{Test, wait_until};

/// The agent: a lowers the limit, b raises the value as far as the limit it sees allows
/// (fine on its own, over a's limit once both land: a conflict no merge sees), c writes a
/// note of its own, s makes the tests slow (but only where b's value meets a's limit).
const AGENT: &str = r#"[agents.edit]
command = ["sh", "-c", "case \"$0\" in a) echo 5 > limit.txt ;; b) if [ $(cat limit.txt) -lt 8 ]; then echo 4 > value.txt; else echo 8 > value.txt; fi ;; c) mkdir -p docs && echo c > docs/c.md ;; s) echo 5 > limit.txt && echo slow > slow ;; esac", "{task_id}"]
"#;

/// The repository's tests. Where the value is over the limit they fail; where b's first
/// value meets a's limit, they also change a tracked file and leave a stray one (which the
/// worktree must not keep), and with `slow` present they plant a `.git`, announce
/// themselves and wait.
const CHECK: &str = r#"limit=$(cat limit.txt); value=$(cat value.txt)
echo "checking value $value against limit $limit"
if [ "$limit" -lt 10 ] && [ "$value" -eq 8 ]; then
  echo "checked against the new limit" >> notes.txt
  echo stray > stray.txt
  if [ -f slow ]; then mkdir -p lib/.git && echo "ref: refs/heads/main" > lib/.git/HEAD; echo started > started.txt; sleep 600; fi
fi
if [ "$value" -gt "$limit" ]; then echo "value $value is over the limit $limit"; exit 1; fi
echo "fine"
"#;

fn spec(id: &str, scope: &str) -> String {
    format!(
        "+++\nid = \"{id}\"\n+++\n\n# Task {id}\n\n## What\nChange what task {id} changes.\n\n### Scope\n{scope}\n"
    )
}

fn repo_test() -> Test {
    repo_test_with(CHECK, "[test]\ncommand = \"sh check.sh\"\n")
}

/// The repository with `check` as `check.sh` and `config` after the agent profile.
fn repo_test_with(check: &str, config: &str) -> Test {
    let test = Test::new()
        .file("repo/agenthost.toml", format!("{AGENT}\n{config}"))
        .file("repo/check.sh", check)
        .file("repo/lib/helper.txt", "helper\n")
        .file("repo/limit.txt", "10\n")
        .file("repo/value.txt", "3\n")
        .file("repo/notes.txt", "")
        .file("repo/specs/a.md", spec("a", "- Modify: `limit.txt`"))
        .file("repo/specs/b.md", spec("b", "- Modify: `value.txt`"))
        .file("repo/specs/c.md", spec("c", "- Create: `docs/c.md`"))
        .file(
            "repo/specs/s.md",
            spec("s", "- Modify: `limit.txt`\n- Create: `slow`"),
        )
        .git_repo("repo");
    let repo = git2::Repository::open(test.path().join("repo")).expect("repo");
    let head = repo.head().expect("head").peel_to_commit().expect("commit");
    repo.branch("main", &head, true).expect("branch");
    repo.set_head("refs/heads/main").expect("set head");
    test
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The task's worktree is on its branch, with nothing changed or left over.
fn assert_back_on_branch(test: &Test, id: &str) -> PathBuf {
    let worktree = test.state_dir().join("worktrees").join(id);
    assert_eq!(
        git(&worktree, &["symbolic-ref", "HEAD"]),
        format!("refs/heads/agenthost/{id}")
    );
    assert_eq!(git(&worktree, &["status", "--porcelain"]), "", "{id}");
    assert!(
        !test
            .state_dir()
            .join("logs")
            .join(id)
            .join("accept-checks.active")
            .exists()
    );
    worktree
}

#[test]
fn a_moved_base_is_checked_again_and_a_change_that_now_fails_is_refused() {
    let test = repo_test();
    let repo = test.path().join("repo");
    let _stop = StopSupervisor(&test);
    let run = test.exec(&[
        "launch",
        "--wait",
        "--agent",
        "edit",
        "repo/specs/a.md",
        "repo/specs/b.md",
        "repo/specs/c.md",
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());

    // main has not moved: nothing runs again.
    let run = test.exec(&["accept", "a"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(!run.stdout.contains("run again"), "{}", run.stdout);
    assert_eq!(file_in_head(&repo, "limit.txt").as_deref(), Some("5\n"));

    // b passed its tests alone; on main with a's limit, they fail: refused, nothing changed.
    // Accepting b then c stops at b, with nothing of either landed.
    let head_before = git(&repo, &["rev-parse", "main"]);
    let run = test.exec(&["accept", "b", "c"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("accepted none; stopped at b (below); not tried: c\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "b: main moved since b started: its checks run again on its change as it would land on main ("
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "b: the test command runs on the merged change, in its sandbox: `sh check.sh`"
        ),
        "{}",
        run.stdout
    );
    // (miette folds the message at 100 columns: each piece fits on a line.)
    for said in [
        "task `b` was not accepted: main moved since it started, and its checks",
        "the test command `sh check.sh` fails (exit code 1):",
        "value 8 is over the limit 5",
        "nothing changed: main and the task are as they were",
        "--force",
    ] {
        assert!(run.stderr.contains(said), "{said}\n{}", run.transcript());
    }
    assert_eq!(git(&repo, &["rev-parse", "main"]), head_before);
    assert_eq!(file_in_head(&repo, "value.txt").as_deref(), Some("3\n"));
    assert_eq!(task_state(&test, "b"), "ready");
    // What the tests changed and left in the worktree is gone; it has b's branch again.
    let worktree = assert_back_on_branch(&test, "b");
    assert_eq!(read(worktree.join("limit.txt")), "10\n");
    assert_eq!(read(worktree.join("value.txt")), "8\n");
    assert_eq!(read(worktree.join("notes.txt")), "");
    assert!(!worktree.join("stray.txt").exists());
    // The runs' output is kept: the tests ran on the merged change (the marker that they did).
    let log = read(test.state_dir().join("logs/b/accept-checks.log"));
    assert!(
        log.contains("checking value 8 against limit 5"),
        "the tests saw both changes:\n{log}"
    );

    // c's change still passes on the new main: checked again, then accepted.
    let run = test.exec(&["accept", "c"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("c: the checks pass on the change as it would land on main\n"),
        "{}",
        run.stdout
    );
    assert_eq!(file_in_head(&repo, "docs/c.md").as_deref(), Some("c\n"));
    let reason = status_row(&test, "c")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("main had moved, and the checks passed again on the result"),
        "{reason}"
    );

    // Sent back, b works on main as it is now (merged into its branch): it sees the new
    // limit, its tests pass there, and it lands with nothing more to check.
    let run = test.exec(&["correct", "b", "-m", "stay within the limit"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains(
            "  base: main moved (2 new commits): merged into the task branch, so the correction works on main as it is now\n"
        ),
        "{}",
        run.stdout
    );
    wait_for_state(&test, "b", &["ready"]);
    let review = test.exec(&["review", "b"]);
    assert!(!review.stdout.contains("  base  "), "{}", review.stdout);
    assert!(
        review.stdout.contains("-3\n+4"),
        "only b's change, from main's head:\n{}",
        review.stdout
    );
    let run = test.exec(&["accept", "b"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(!run.stdout.contains("run again"), "{}", run.stdout);
    assert_eq!(file_in_head(&repo, "value.txt").as_deref(), Some("4\n"));
    assert_eq!(file_in_head(&repo, "limit.txt").as_deref(), Some("5\n"));
}

/// Launches s and b, accepts s, and starts `accept b`, whose tests then wait: returns the
/// running client and b's worktree once the tests have started.
fn accept_with_slow_checks(test: &Test) -> (std::process::Child, PathBuf) {
    let run = test.exec(&[
        "launch",
        "--wait",
        "--agent",
        "edit",
        "repo/specs/s.md",
        "repo/specs/b.md",
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let run = test.exec(&["accept", "s"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let client = test
        .command()
        .args(["accept", "b"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("accept");
    let worktree = test.state_dir().join("worktrees/b");
    wait_until(Duration::from_secs(60), "the rerun tests to start", || {
        worktree.join("started.txt").exists()
    });
    (client, worktree)
}

#[test]
fn checks_stop_when_the_client_goes_away_and_nothing_lands() {
    let test = repo_test();
    let repo = test.path().join("repo");
    let _stop = StopSupervisor(&test);
    let (mut client, worktree) = accept_with_slow_checks(&test);
    let head_before = git(&repo, &["rev-parse", "main"]);
    // While they run, the task's other verbs wait their turn.
    let run = test.exec(&["reject", "b"]);
    assert_ne!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stderr.contains("task `b` is being accepted"),
        "{}",
        run.stderr
    );
    client.kill().expect("kill the client");
    let _ = client.wait();
    wait_until(
        Duration::from_secs(60),
        "the worktree to be put back",
        || {
            git(&worktree, &["symbolic-ref", "HEAD"]) == "refs/heads/agenthost/b"
                && !test
                    .state_dir()
                    .join("logs/b/accept-checks.active")
                    .exists()
        },
    );
    assert_back_on_branch(&test, "b");
    assert_eq!(git(&repo, &["rev-parse", "main"]), head_before);
    assert_eq!(task_state(&test, "b"), "ready");
    crate::wait_until_no_process_mentions("sleep 600");
    let log = read(test.state_dir().join("supervisor.log"));
    assert!(
        log.contains("an accept's client went away: stopping it"),
        "{log}"
    );
}

#[test]
fn a_supervisor_killed_during_the_checks_leaves_a_worktree_the_next_one_puts_back() {
    let test = repo_test();
    let repo = test.path().join("repo");
    let _stop = StopSupervisor(&test);
    let (mut client, worktree) = accept_with_slow_checks(&test);
    let head_before = git(&repo, &["rev-parse", "main"]);
    // The worktree holds the merged change, detached (the marker that the checks ran there).
    assert_eq!(git(&worktree, &["symbolic-ref", "-q", "HEAD"]), "");
    assert_eq!(read(worktree.join("limit.txt")), "5\n");
    let pid: i32 = read(test.state_dir().join("supervisor.lock"))
        .trim()
        .parse()
        .expect("pid");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    crate::wait_until_exited(pid);
    let _ = client.wait();
    crate::wait_until_no_process_mentions("sleep 600");
    // The next supervisor (started on demand by any verb that asks one; b is not
    // interrupted, so this one is refused) puts the worktree back before anything else.
    let run = test.exec(&["resume", "b"]);
    assert!(
        run.stderr.contains("not interrupted or failed"),
        "{}",
        run.transcript()
    );
    wait_until(
        Duration::from_secs(30),
        "the worktree to be put back",
        || git(&worktree, &["symbolic-ref", "HEAD"]) == "refs/heads/agenthost/b",
    );
    let worktree = assert_back_on_branch(&test, "b");
    assert_eq!(read(worktree.join("limit.txt")), "10\n");
    // The `.git` the tests planted (the marker that they ran) was moved out.
    assert!(!worktree.join("lib/.git").exists());
    assert_eq!(git(&repo, &["rev-parse", "main"]), head_before);
    assert_eq!(wait_for_state(&test, "b", &["ready"]), "ready");
    let log = read(test.state_dir().join("supervisor.log"));
    assert!(
        log.contains("task b: an accept's checks were under way when the supervisor stopped; its worktree is back on agenthost/b"),
        "{log}"
    );
}

/// The attack of the two tests below: where both tasks' changes meet, replace the tracked
/// directory `lib` with a symbolic link to the directory named in `outside.txt`, outside
/// the worktree, change a tracked file, and exit with the code given.
const PLANT_LINK: &str = r#"limit=$(cat limit.txt); value=$(cat value.txt)
if [ "$limit" -lt 10 ] && [ "$value" -ne 3 ]; then
  rm -rf lib && ln -s "$(cat outside.txt)" lib && echo "ATTACK: lib now points to $(readlink lib)"
  rm -f notes.txt && ln -s "$(cat outside.txt)/notes.txt" notes.txt
  echo "ATTACK: notes.txt now points to $(readlink notes.txt)"
  exit "$1"
fi
"#;

/// Runs [`PLANT_LINK`] as `plant.sh` from the rerun checks (`config` says where: the
/// setup or the tests) and checks that putting the worktree back wrote nothing through the
/// link. The negative control was run by hand, as it needs the host's code changed: with
/// the set-aside step after the checkout that puts tracked files back (in `recheck`'s
/// `put_back`, or in the setup step, where it used to be), libgit2 writes
/// `lib/helper.txt` into the outside directory and both tests fail on "written through".
fn planted_link_is_not_followed(config: &str, what_created: &str) {
    let test = repo_test_with(CHECK, config);
    let repo = test.path().join("repo");
    std::fs::write(repo.join("plant.sh"), PLANT_LINK).expect("write");
    let outside = test.path().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(repo.join("outside.txt"), outside.display().to_string()).expect("write");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);
    let args = ["launch", "--wait", "--agent", "edit"];
    let run = test.exec(&[&args[..], &["repo/specs/a.md", "repo/specs/b.md"]].concat());
    assert_eq!(run.code, 0, "{}", run.transcript());
    let run = test.exec(&["accept", "a"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let run = test.exec(&["accept", "b"]);
    assert_ne!(run.code, 0, "{}", run.transcript());
    // The attack ran (its marker), and the link was set aside with what else the run made.
    let log = read(test.state_dir().join("logs/b/accept-checks.log"));
    assert!(log.contains("ATTACK: lib now points to"), "{log}");
    assert!(log.contains(what_created), "{log}");
    // Nothing was written through it; the worktree has its own lib/ again.
    assert_eq!(
        std::fs::read_dir(&outside).expect("outside").count(),
        0,
        "written through the planted link"
    );
    let worktree = assert_back_on_branch(&test, "b");
    assert!(!worktree.join("lib").is_symlink());
    assert_eq!(read(worktree.join("lib/helper.txt")), "helper\n");
    assert!(!worktree.join("notes.txt").is_symlink());
    assert_eq!(read(worktree.join("notes.txt")), "");

    // The person takes b anyway: the checks run (and attack) again, and it lands.
    let run = test.exec(&["accept", "--force", "b"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("b: accepted despite the checks run again on main's new head: "),
        "{}",
        run.stdout
    );
    assert_eq!(file_in_head(&repo, "value.txt").as_deref(), Some("8\n"));
    assert_eq!(
        std::fs::read_dir(&outside).expect("outside").count(),
        0,
        "written through the planted link"
    );
}

/// Hostile tests, run again on the merged change, plant the link.
#[test]
fn putting_the_worktree_back_never_writes_through_a_link_the_tests_planted() {
    planted_link_is_not_followed(
        "[test]\ncommand = \"sh plant.sh 1\"\n",
        "the checks created files git does not ignore: lib",
    );
}

/// The setup, run again on the merged change (an install step runs the change's own
/// scripts), plants the link and succeeds: its tracked changes are put back (through the
/// link, were it still there) before the tests run, which fail (over the limit).
#[test]
fn putting_the_setup_back_never_writes_through_a_link_it_planted() {
    planted_link_is_not_followed(
        "[worktree]\nsetup = [\"sh plant.sh 0\"]\n[test]\ncommand = \"sh check.sh\"\n",
        "the setup created files git does not ignore: lib; moved to",
    );
}

/// A task whose worktree is gone cannot have its checks run again: refused, saying so,
/// unless the person takes it anyway.
#[test]
fn without_its_worktree_the_checks_cannot_run_and_only_force_lands_it() {
    let test = repo_test();
    let repo = test.path().join("repo");
    let _stop = StopSupervisor(&test);
    let args = ["launch", "--wait", "--agent", "edit"];
    let run = test.exec(&[&args[..], &["repo/specs/a.md", "repo/specs/c.md"]].concat());
    assert_eq!(run.code, 0, "{}", run.transcript());
    let run = test.exec(&["accept", "a"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    std::fs::remove_dir_all(test.state_dir().join("worktrees/c")).expect("remove the worktree");
    let run = test.exec(&["accept", "c"]);
    assert_ne!(run.code, 0, "{}", run.transcript());
    for said in [
        "task `c` was not accepted: its checks could not run again on main's new",
        "worktree",
        "is gone",
        "--force",
    ] {
        assert!(run.stderr.contains(said), "{said}\n{}", run.transcript());
    }
    assert_eq!(file_in_head(&repo, "docs/c.md"), None);
    let run = test.exec(&["accept", "--force", "c"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("accepted anyway (--force)"),
        "{}",
        run.stdout
    );
    assert_eq!(file_in_head(&repo, "docs/c.md").as_deref(), Some("c\n"));
}

/// The base changed the same line as the task: accept would conflict, so the person sends
/// it back. The correction merges the base in with git's conflict markers in that file and
/// tells the agent to resolve them; the agent's next attempt does, and the task lands with
/// no conflict reaching the person.
#[test]
fn a_correction_hands_a_conflict_with_the_base_to_the_agent() {
    let test = repo_test();
    let repo = test.path().join("repo");
    let _stop = StopSupervisor(&test);
    let args = ["launch", "--wait", "--agent", "edit", "repo/specs/b.md"];
    let run = test.exec(&args);
    assert_eq!(run.code, 0, "{}", run.transcript());
    // The person changes the same line on main meanwhile.
    std::fs::write(repo.join("value.txt"), "6\n").expect("write");
    crate::commit_all(&repo);
    let run = test.exec(&["accept", "b"]);
    assert_ne!(run.code, 0, "{}", run.transcript());
    assert!(run.stderr.contains("conflict"), "{}", run.stderr);

    let run = test.exec(&["correct", "b", "-m", "keep your value"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains(
            "  base: main moved (1 new commit): merged into the task branch; it conflicts in value.txt, left with conflict markers for the agent to resolve in this correction\n"
        ),
        "{}",
        run.stdout
    );
    // The agent is told (the correction its attempt got), and its branch has the marked
    // file.
    wait_for_state(&test, "b", &["ready"]);
    let review = test.exec(&["review", "b"]);
    assert!(
        review
            .stdout
            .contains("These files have merge conflicts, marked with"),
        "{}",
        review.stdout
    );
    let merge = git(
        &repo,
        &["log", "--merges", "-1", "--format=%H", "agenthost/b"],
    );
    let marked = git(&repo, &["show", &format!("{merge}:value.txt")]);
    assert!(marked.contains("<<<<<<< agenthost/b"), "{marked}");
    let run = test.exec(&["accept", "b"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(file_in_head(&repo, "value.txt").as_deref(), Some("8\n"));
}

/// An agent that leaves the handed conflict unresolved: its result is blocked, the finding
/// at the marked line.
#[test]
fn a_conflict_the_agent_leaves_marked_blocks_its_result() {
    let test = repo_test_with(CHECK, "[test]\ncommand = \"sh check.sh || true\"\n").file(
        "repo/agenthost.local.toml",
        "[agents.lazy]\ncommand = [\"sh\", \"-c\", \"grep -q '<<<<<<<' value.txt && echo 'looked' > /dev/null || echo 8 > value.txt\"]\n",
    );
    let repo = test.path().join("repo");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);
    let run = test.exec(&["launch", "--wait", "--agent", "lazy", "repo/specs/b.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    std::fs::write(repo.join("value.txt"), "6\n").expect("write");
    crate::commit_all(&repo);
    let run = test.exec(&["correct", "b", "-m", "keep your value"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    wait_for_state(&test, "b", &["ready"]);
    let review = test.exec(&["review", "b"]);
    assert!(
        review.stdout.contains(
            "conflict-markers  value.txt:1: `value.txt` still has a merge conflict marked"
        ),
        "{}",
        review.stdout
    );
    let run = test.exec(&["accept", "b"]);
    assert_ne!(run.code, 0, "{}", run.transcript());
    assert!(run.stderr.contains("conflict-markers"), "{}", run.stderr);
}

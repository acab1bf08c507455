//! An accept's checks, rerun on what would land when the base branch moved since the task
//! started: what was tested is then not what would land. The task's worktree is checked out
//! at the prepared commit (the task's change on the base branch's head, HEAD detached), the
//! `[worktree] setup` and the test command run there in their own sandboxes, the review
//! policies read the change as it would land, and the worktree goes back on its task branch
//! whatever happened. Nothing is recorded in the store: the accept that asked says what
//! was found, and the log keeps the runs' output.
//!
//! While the checks run, a marker file says so ([`StateDirs::recheck_marker`]): a
//! supervisor that stopped in the middle leaves it, and the next one puts the worktree
//! back on its branch before anything else ([`restore_interrupted_rechecks`]).
//!
//! [`StateDirs::recheck_marker`]: crate::state_dir::StateDirs::recheck_marker

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::check::{git_metadata_findings, run_test_command};
use super::error::AttemptError;
use super::setup::{move_untracked, run_files_dir};
use super::{Attempt, Step, clear_git_metadata, task_worktree};
use crate::confinement::hints;
use crate::runner::{Cancellation, Ending, Outcome};
use crate::state_dir::StateDirs;
use crate::supervisor::context::Context;
use crate::supervisor::decide;
use crate::supervisor::report::{AttemptReport, TestRun};
use crate::supervisor::store::{Store, StoredFinding, Task};
use crate::task::diff;
use crate::task::worktree::TaskWorktree;

/// How the runs of the rerun checks are named among a task's files (what they created is
/// set aside in `attempt-N-accept-checks-files`).
const RUN_NAME: &str = "accept-checks";

/// What the rerun checks found on the change as it would land.
#[derive(Debug, Clone)]
pub struct Recheck {
    /// Why the `[worktree] setup` failed, when it did (the tests did not run then).
    pub setup_failed: Option<String>,
    /// The test command's run, when there is a test command and it ran.
    pub test: Option<TestRun>,
    /// The blocking findings: the review policies' and the host's (`.git` entries the runs
    /// left).
    pub blocking: Vec<StoredFinding>,
    /// Whether the checks were stopped before their end (the client left, the supervisor
    /// stops).
    pub cancelled: bool,
    /// The log with the runs' output.
    pub log: PathBuf,
}

impl Recheck {
    /// Whether what would land passes: the setup worked, the tests pass (or there are
    /// none), and nothing blocks.
    pub fn passed(&self) -> bool {
        !self.cancelled
            && self.setup_failed.is_none()
            && self.test.as_ref().is_none_or(|t| t.passed)
            && self.blocking.is_empty()
    }

    /// What failed, one item per line, for the refusal: the setup, the test command with
    /// the end of its output, each blocking finding.
    pub fn failures(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(why) = &self.setup_failed {
            lines.push(format!("the setup failed: {why}"));
        }
        if let Some(test) = self.test.as_ref().filter(|t| !t.passed) {
            let tail: Vec<&str> = test
                .output_tail
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            let tail = tail[tail.len().saturating_sub(5)..].join("\n    ");
            lines.push(format!(
                "the test command `{}` {}{}",
                test.command,
                match test.exit_code {
                    Some(code) => format!("fails (exit code {code})"),
                    None => "did not finish".to_string(),
                },
                match tail.is_empty() {
                    true => String::new(),
                    false => format!(":\n    {tail}"),
                }
            ));
        }
        // The test result is said above; the tests policy's finding would say it again.
        let test_failed = self.test.as_ref().is_some_and(|t| !t.passed);
        for finding in &self.blocking {
            if test_failed && finding.rule == "tests/failed" {
                continue;
            }
            lines.push(super::finding_line(finding));
        }
        lines
    }
}

/// Reruns the checks of `task` on `merged` (its change on `base_head`, the base branch's
/// head) in the task's worktree, telling `progress` what it starts. `cancel` stops the
/// runs; the worktree is put back on its branch in every case but a failure to do that
/// (an error then says so, and the next supervisor tries again).
pub async fn recheck(
    ctx: &Arc<Context>,
    task: &Task,
    merged: &str,
    base_head: &str,
    progress: &(dyn Fn(String) + Send + Sync),
    cancel: Cancellation,
) -> Result<Recheck, AttemptError> {
    let a = Attempt::for_recheck(ctx, task)?;
    let worktree = a.worktree.clone();
    let unclean = {
        let worktree = worktree.clone();
        tokio::task::spawn_blocking(move || worktree.changed_files())
            .await
            .map_err(AttemptError::thread("worktree status"))?
            .map_err(AttemptError::git("read the worktree's status"))?
    };
    if !unclean.is_empty() {
        return Err(AttemptError::WorktreeChanged {
            path: a.root.clone(),
            files: unclean,
        });
    }
    a.note(&format!(
        "{} moved since this task started: its checks run again on the change as it would land, {} (on {})",
        task.launch.base_branch.as_deref().unwrap_or("the base"),
        short(merged),
        short(base_head)
    ));
    let marker = ctx.dirs.recheck_marker(&task.launch.id);
    fs_err::write(&marker, merged)?;
    {
        let (worktree, merged) = (worktree.clone(), merged.to_string());
        let detached = tokio::task::spawn_blocking(move || worktree.detach_at(&merged))
            .await
            .map_err(AttemptError::thread("check out"));
        if let Err(err) =
            detached.and_then(|r| r.map_err(AttemptError::git("check out the merged change")))
        {
            put_back(&a).await?;
            return Err(err);
        }
    }
    let ran = runs(&a, progress, cancel.clone()).await;
    let cleared = clear_git_metadata(&a).await;
    put_back(&a).await?;
    let _ = std::fs::remove_dir_all(&a.tmpdir);
    let (setup_failed, test) = ran?;
    let cleared = cleared?;
    let cancelled = cancel.reason() != crate::runner::Stop::No;
    let mut recheck = Recheck {
        setup_failed,
        test,
        blocking: git_metadata_findings(a.number, &a.root, &cleared, &[]),
        cancelled,
        log: a.log.clone(),
    };
    if recheck.cancelled {
        a.note("the checks were stopped before their end");
        return Ok(recheck);
    }
    if recheck.setup_failed.is_none() {
        progress("the review policies read the change as it would land".to_string());
        recheck.blocking.extend(
            review(&a, merged, base_head, recheck.test.clone())
                .await?
                .into_iter()
                .filter(|f| f.severity == "error"),
        );
    }
    if let Some(test) = recheck.test.as_ref().filter(|t| !t.passed) {
        for hint in hints::hints(
            &test.output_tail,
            hints::Run::Test,
            hints::Places {
                worktree: &a.root,
                home: &ctx.home,
            },
        ) {
            a.note(&format!("the test command failed, and {hint}"));
        }
    }
    a.note(&match recheck.passed() {
        true => "the checks pass on the change as it would land".to_string(),
        false => format!(
            "the checks fail on the change as it would land: {}",
            recheck.failures().join("; ")
        ),
    });
    Ok(recheck)
}

/// The setup (when configured) and the test command (when there is one) on the checked-out
/// merged change: why the setup failed, and the test run.
async fn runs(
    a: &Attempt<'_>,
    progress: &(dyn Fn(String) + Send + Sync),
    cancel: Cancellation,
) -> Result<(Option<String>, Option<TestRun>), AttemptError> {
    if !a.config.worktree.setup.is_empty() {
        progress(format!(
            "the setup runs again on the merged change: {}",
            a.config
                .worktree
                .setup
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        match super::setup::run(a, &cancel).await? {
            Ok(_) => {}
            Err(Step::Failed(reason)) => return Ok((Some(reason), None)),
            Err(_) => return Ok((None, None)),
        }
    }
    let Some(command) = a.test_command() else {
        return Ok((None, None));
    };
    progress(format!(
        "the test command runs on the merged change, in its sandbox: `{command}`"
    ));
    let test = run_test_command(a, command, cancel).await?;
    Ok((None, Some(test)))
}

/// The review policies on the change from `base_head` to `merged`, with `test`.
async fn review(
    a: &Attempt<'_>,
    merged: &str,
    base_head: &str,
    test: Option<TestRun>,
) -> Result<Vec<StoredFinding>, AttemptError> {
    let changes = diff::between_commits(&a.task.launch.repo, base_head, merged).map_err(|err| {
        AttemptError::Read {
            what: "change as it would land",
            message: err.message().to_string(),
        }
    })?;
    let last = a.ctx.store(|s| s.attempts(&a.task.launch.id))?.pop();
    let agent = Outcome {
        ending: Ending::Exited(
            last.as_ref()
                .and_then(|l| l.exit_code)
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(0),
        ),
        duration: last
            .as_ref()
            .and_then(|l| Some(l.ended_ms? - l.started_ms))
            .map_or(Duration::ZERO, |ms| {
                Duration::from_millis(u64::try_from(ms).unwrap_or(0))
            }),
    };
    let report = AttemptReport {
        attempt: a.number,
        agent,
        changes,
        test,
    };
    let (ctx, config, spec, task) = (
        Arc::clone(a.ctx),
        a.config.clone(),
        a.spec.clone(),
        a.task.clone(),
    );
    let reviewed =
        tokio::task::spawn_blocking(move || decide::review(&ctx, &config, &spec, &task, &report))
            .await
            .map_err(AttemptError::thread("review"))?;
    for line in &reviewed.log {
        a.note(line);
    }
    Ok(reviewed.findings)
}

/// Sets aside what the runs created, puts the worktree back on its task branch and removes
/// the marker.
async fn put_back(a: &Attempt<'_>) -> Result<(), AttemptError> {
    let (worktree, dirs, id, number) = (
        a.worktree.clone(),
        a.ctx.dirs.clone(),
        a.task.launch.id.clone(),
        a.number,
    );
    let created =
        tokio::task::spawn_blocking(move || put_worktree_back(&worktree, &dirs, &id, number))
            .await
            .map_err(AttemptError::thread("check out"))??;
    if !created.is_empty() {
        a.note(&format!(
            "the checks created files git does not ignore: {}; set aside",
            created.join(", ")
        ));
    }
    a.note(&format!("the worktree is back on {}", a.task.launch.branch));
    Ok(())
}

/// Sets aside what the checks created in `worktree` (task `id`, its attempt `attempt`),
/// puts it back on its task branch and removes the marker; returns what was set aside.
fn put_worktree_back(
    worktree: &TaskWorktree,
    dirs: &StateDirs,
    id: &str,
    attempt: i64,
) -> Result<Vec<String>, AttemptError> {
    let created = move_untracked(worktree, &run_files_dir(dirs, id, attempt, RUN_NAME))?;
    worktree.back_on_branch().map_err(AttemptError::git(
        "put the worktree back on its task branch",
    ))?;
    let _ = std::fs::remove_file(dirs.recheck_marker(id));
    Ok(created)
}

/// Puts back on its branch the worktree of every task whose accept's checks a stopped
/// supervisor left under way (see the module's docs), setting aside what the checks
/// created; one line per task, for the log.
pub fn restore_interrupted_rechecks(dirs: &StateDirs, store: &Store) -> Vec<String> {
    let tasks = match store.tasks(false) {
        Ok(tasks) => tasks,
        Err(err) => return vec![format!("cannot read the tasks: {err}")],
    };
    let mut lines = Vec::new();
    for task in &tasks {
        let marker = dirs.recheck_marker(&task.launch.id);
        if !marker.exists() {
            continue;
        }
        let worktree = task_worktree(task);
        let id = &task.launch.id;
        if !worktree.path.exists() {
            let _ = std::fs::remove_file(&marker);
            continue;
        }
        let attempt = store.attempts(id).map_or(0, |a| a.len() as i64);
        // As after every run: no `.git` the interrupted run left stays below the root.
        let cleared =
            crate::task::git_metadata::clear(&worktree.path, &dirs.git_quarantine(id, attempt));
        for moved in &cleared.moved {
            lines.push(format!(
                "task {id}: moved {} ({}) left by an interrupted accept's checks to {}",
                moved.path.display(),
                moved.kind.describe(),
                moved.moved_to.display()
            ));
        }
        for problem in &cleared.problems {
            lines.push(format!("task {id}: {problem}"));
        }
        match put_worktree_back(&worktree, dirs, id, attempt) {
            Ok(_) => {
                lines.push(format!(
                    "task {id}: an accept's checks were under way when the supervisor stopped; its worktree is back on {}",
                    task.launch.branch
                ));
            }
            Err(err) => lines.push(format!(
                "task {id}: cannot put its worktree back on {} after an interrupted accept: {err}; run `git -C {} checkout -f {}`",
                task.launch.branch,
                worktree.path.display(),
                task.launch.branch
            )),
        }
    }
    lines
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

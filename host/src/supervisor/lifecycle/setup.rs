//! The `[worktree] setup` step: the repository's install commands in the new worktree, in
//! the setup sandbox, before the agent; and setting aside what a setup or test run leaves
//! that git neither tracks nor ignores.

use std::path::PathBuf;

use super::error::AttemptError;
use super::sandboxed::{RunPlaces, Sandboxed};
use super::text::{
    TAIL_LINES, append_log, last_lines, log_tail, shortened_list, with_hints, with_output,
};
use super::{Attempt, Step};
use crate::confinement::{Purpose, hints};
use crate::runner::{Cancellation, Ending, Runner as _, local::LocalRunner};
use crate::state_dir::StateDirs;
use crate::supervisor::store::StoredFinding;
use crate::task::worktree::TaskWorktree;

/// Runs the `[worktree] setup` commands in order in the worktree, in the setup sandbox
/// (the whole worktree and the package caches writable, the registries' ports), each logged
/// with its output. `Some(step)` ends the attempt before the agent: a command that failed
/// (with its reason, its output and the fix) or a cancel. Success is recorded
/// ([`StateDirs::setup_done`]), so corrections do not run it again.
pub(super) async fn run(
    a: &Attempt<'_>,
    cancel: &Cancellation,
) -> Result<Result<Vec<StoredFinding>, Step>, AttemptError> {
    let (ctx, config, task, root) = (a.ctx, &a.config, a.task, a.root.as_path());
    let log = a.log.as_path();
    let places = RunPlaces::make(a, "setup")?;
    let mut sandboxed = Sandboxed::new(
        a,
        Purpose::Setup {
            ports: &config.worktree.setup_ports,
        },
        None,
        places.agent_places(),
    )?;
    append_log(
        log,
        &format!("== agenthost: setup {}\n", sandboxed.summary()),
    );
    for note in &sandboxed.built.notes {
        append_log(log, &format!("== agenthost: setup sandbox note: {note}\n"));
    }
    let limit = config.worktree.setup_timeout;
    let deadline = std::time::Instant::now() + limit;
    for command in &config.worktree.setup {
        append_log(log, &format!("== agenthost: setup `{command}`\n"));
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        let job = sandboxed.job(
            vec!["/bin/sh".into(), "-c".into(), command.into()],
            None,
            log,
            remaining,
        )?;
        let before = std::fs::metadata(log).map_or(0, |m| m.len());
        let outcome = LocalRunner
            .run(job, cancel.clone())
            .await
            .map_err(|source| AttemptError::Run {
                what: format!("setup command `{command}`"),
                source,
            })?;
        sandboxed.cleanup();
        append_log(
            log,
            &format!(
                "== agenthost: the setup command {} after {:.1} s\n",
                outcome.ending,
                outcome.duration.as_secs_f64()
            ),
        );
        let why = match outcome.ending {
            Ending::Exited(0) => continue,
            Ending::Cancelled => return Ok(Err(Step::Cancelled)),
            Ending::TimedOut => format!(
                "the setup commands ran past their time limit ({}) in `{command}` and were stopped; raise `setup_timeout` in [worktree]",
                humantime::format_duration(limit)
            ),
            ending => format!("the setup command `{command}` {ending}"),
        };
        let tail = last_lines(&log_tail(log, before, 8192), TAIL_LINES);
        let reason = match a.rechecking {
            // An accept's checks: the change as it would land breaks the setup, or the
            // setup breaks on it.
            true => format!(
                "{why} on the change as it would land; if the setup is at fault, fix `[worktree] setup` in the repository's agenthost.toml"
            ),
            false => format!(
                "{why}, so the agent did not run. Fix `[worktree] setup` in the repository's agenthost.toml, then `agenthost resume {}`",
                task.launch.id
            ),
        };
        return Ok(Err(Step::Failed(with_hints(
            with_output(&reason, &tail),
            &tail,
            hints::Run::Setup,
            root,
            &ctx.home,
        ))));
    }
    drop(places);
    // The agent starts from the base commit: tracked files the setup changed are put back,
    // and files it made that git does not ignore are set aside (the agent's commit would
    // take them); each is a finding.
    // What it made is set aside first: a symbolic link it put where a tracked directory
    // was is untracked, and putting the tracked files back must not write through it.
    let set_aside =
        set_aside_untracked(&a.worktree, &ctx.dirs, &task.launch.id, a.number, "setup").await?;
    let restorer = a.worktree.clone();
    let restored = tokio::task::spawn_blocking(move || restorer.restore_tracked())
        .await
        .map_err(AttemptError::thread("setup's restore"))?
        .map_err(AttemptError::git("restore the files the setup changed"))?;
    let mut findings = Vec::new();
    if !restored.is_empty() {
        append_log(
            log,
            &format!(
                "== agenthost: the setup changed tracked files: {}; put back as the base commit has them\n",
                restored.join(", ")
            ),
        );
        findings.push(StoredFinding {
            attempt: a.number,
            policy: "agenthost".into(),
            rule: "setup-changed-files".into(),
            severity: "warning".into(),
            message: format!(
                "the setup commands changed {} tracked file(s): {}. They were put back before \
                 the agent ran, so the task starts from the base commit; make the setup \
                 leave them alone (`npm ci` instead of `npm install`, `cargo fetch --locked`)",
                restored.len(),
                shortened_list(&restored, 10)
            ),
            path: restored.first().cloned(),
            line: None,
        });
    }
    if !set_aside.is_empty() {
        let dir = run_files_dir(&ctx.dirs, &task.launch.id, a.number, "setup");
        append_log(
            log,
            &format!(
                "== agenthost: the setup created files git does not ignore: {}; moved to {}\n",
                set_aside.join(", "),
                dir.display()
            ),
        );
        findings.push(StoredFinding {
            attempt: a.number,
            policy: "agenthost".into(),
            rule: "setup-created-files".into(),
            severity: "warning".into(),
            message: format!(
                "the setup commands created {} file(s) that git does not ignore: {}. They \
                 were moved to {} before the agent ran, so that its commit does not take \
                 them; ignore them in .gitignore if the setup should make them",
                set_aside.len(),
                shortened_list(&set_aside, 10),
                dir.display()
            ),
            path: set_aside.first().cloned(),
            line: None,
        });
    }
    let done = ctx.dirs.setup_done(&task.launch.id);
    if let Some(dir) = done.parent() {
        let _ = fs_err::create_dir_all(dir);
    }
    fs_err::write(&done, config.worktree.setup.join("\n"))?;
    Ok(Ok(findings))
}

/// Where the files a setup or test run (`what`) created, neither tracked nor ignored, are
/// moved.
pub(super) fn run_files_dir(dirs: &StateDirs, task: &str, attempt: i64, what: &str) -> PathBuf {
    dirs.logs()
        .join(task)
        .join(format!("attempt-{attempt}-{what}-files"))
}

/// Moves the worktree's untracked, not ignored files (a `what` run made them) to
/// [`run_files_dir`], keeping their relative paths; returns them.
pub(super) async fn set_aside_untracked(
    worktree: &TaskWorktree,
    dirs: &StateDirs,
    task: &str,
    attempt: i64,
    what: &str,
) -> Result<Vec<String>, AttemptError> {
    let (worktree, to) = (worktree.clone(), run_files_dir(dirs, task, attempt, what));
    tokio::task::spawn_blocking(move || move_untracked(&worktree, &to))
        .await
        .map_err(AttemptError::thread("file listing"))?
}

/// Moves the worktree's untracked, not ignored files to `to`, keeping their relative
/// paths; returns them.
pub(super) fn move_untracked(
    worktree: &TaskWorktree,
    to: &std::path::Path,
) -> Result<Vec<String>, AttemptError> {
    let files = worktree
        .untracked_files()
        .map_err(AttemptError::git("list the files the run created"))?;
    for file in &files {
        let from = worktree.path.join(file);
        let dest = to.join(file);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent)?;
        }
        if std::fs::rename(&from, &dest).is_err() {
            fs_err::remove_file(&from)?;
        }
    }
    Ok(files)
}

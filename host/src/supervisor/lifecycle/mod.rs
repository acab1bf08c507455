//! One attempt of a task, from start to "ready", as a sequence of named steps; each records
//! what it did in the attempt log, and a failure ([`AttemptError`]) says which step and why.
//! Runs inside the supervisor; every state change goes through the store.
//!
//! ```text
//! running:  begin (the spec, the config, the worktree, the attempt) -> setup::run (own
//!           sandbox, until it succeeds once) -> agent::prepare -> agent::run
//! checking: check::commit -> check::test (own sandbox; its tracked changes committed, its
//!           untracked files set aside) -> check::review
//! ready (or failed, with the reason)
//! ```

mod agent;
mod check;
mod error;
mod recheck;
mod sandboxed;
mod setup;
mod text;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::AttemptError;
pub use recheck::{Recheck, recheck, restore_interrupted_rechecks};

use super::context::Context;
use super::store::{StoredFinding, Task};
use crate::config::{Config, ConfigSources};
use crate::confinement::hints;
use crate::runner::{Cancellation, Ending, Stop};
use crate::spec::{self, Spec};
use crate::task::TaskState;
use crate::task::git_metadata::{self, Cleared};
use crate::task::worktree::{Base, TaskWorktree};
use text::{append_log, list_or_none, with_hints, with_output};

/// Runs one attempt of `task` (already `running`) to `ready` or `failed`. A correction
/// message makes it a correction attempt.
pub async fn run_attempt(
    ctx: Arc<Context>,
    task: Task,
    correction: Option<String>,
    cancel: Cancellation,
) -> TaskState {
    let id = task.launch.id.clone();
    let result = attempt(&ctx, &task, correction, cancel.clone()).await;
    let (state, detail) = match (result, cancel.reason()) {
        (_, Stop::Interrupt) => (
            TaskState::Interrupted,
            format!(
                "the supervisor stopped while the agent ran; the worktree is kept: \
                 `agenthost resume {id}` runs it again"
            ),
        ),
        (Ok(Step::Cancelled), _) | (_, Stop::Cancel) => (
            TaskState::Cancelled,
            "cancelled with `agenthost cancel` while it ran; the agent was stopped".to_string(),
        ),
        (Ok(Step::Ready(detail)), Stop::No) => (TaskState::Ready, detail),
        (Ok(Step::Failed(reason)), Stop::No) => (TaskState::Failed, reason),
        (Err(error), Stop::No) => (TaskState::Failed, error.to_string()),
    };
    let moved = ctx.store(|store| store.transition(&id, state, &detail));
    match moved {
        Ok(task) => task.state,
        // Someone moved it meanwhile (cancel): the store has the truth.
        Err(_) => ctx
            .store(|store| store.task(&id))
            .ok()
            .flatten()
            .map_or(state, |t| t.state),
    }
}

/// How an attempt ended, when it got to the end.
pub(super) enum Step {
    /// The agent finished and its work was checked: the reason says what the checks found.
    Ready(String),
    /// The agent broke (a non-zero exit, a signal, its time limit): the reason says how,
    /// with the end of its output.
    Failed(String),
    /// The human cancelled it.
    Cancelled,
}

/// Why a run that ended this way is a failure, or `None` for a clean exit (or a cancel,
/// which is not the agent's failure).
fn agent_failure(ending: Ending, timeout: Duration) -> Option<String> {
    match ending {
        Ending::Exited(0) | Ending::Cancelled => None,
        Ending::Exited(125) => Some(
            "the agent could not be started in its sandbox (exit code 125): see its output below"
                .to_string(),
        ),
        Ending::Exited(code) => Some(format!("the agent exited with code {code}")),
        Ending::Signalled(signal) => Some(format!("the agent was killed by signal {signal}")),
        Ending::TimedOut => Some(format!(
            "the agent ran past its time limit ({}) and was stopped; raise `timeout` in the \
             spec's front matter or the agent profile",
            humantime::format_duration(timeout)
        )),
    }
}

/// One finding on one line: `policy/rule: message (path:line)`.
pub fn finding_line(finding: &StoredFinding) -> String {
    let place = match (&finding.path, finding.line) {
        (Some(path), Some(line)) => format!(" ({path}:{line})"),
        (Some(path), None) => format!(" ({path})"),
        _ => String::new(),
    };
    format!(
        "{}/{}: {}{place}",
        finding.policy, finding.rule, finding.message
    )
}

/// One attempt under way: what every step reads.
pub(super) struct Attempt<'a> {
    ctx: &'a Arc<Context>,
    task: &'a Task,
    spec: Spec,
    config: Config,
    /// The agent profile's name (its key in `config.agents`).
    profile_name: String,
    worktree: TaskWorktree,
    /// The worktree's canonical path.
    root: PathBuf,
    /// What `worktree.copy` did not find, when this attempt made the worktree.
    copy_missing: Option<Vec<PathBuf>>,
    /// The attempt's number (1 for the first).
    number: i64,
    /// The attempt log.
    log: PathBuf,
    /// The agent's private temp dir (the prompt file lives there too).
    tmpdir: PathBuf,
    /// The environment the task's runs draw on (the launch's over the supervisor's).
    host_env: BTreeMap<String, String>,
    /// Whether this is an accept's checks run again ([`Attempt::for_recheck`]), not an
    /// attempt.
    rechecking: bool,
}

impl<'a> Attempt<'a> {
    /// The first step: the spec recorded at launch, the repository's config, the worktree
    /// (made on the first attempt, reused by corrections), the attempt record and its log.
    fn begin(
        ctx: &'a Arc<Context>,
        task: &'a Task,
        correction: Option<&str>,
    ) -> Result<Attempt<'a>, AttemptError> {
        let (spec, config, profile_name) = loaded(task)?;
        let worktree = task_worktree(task);
        let mut copy_missing = None;
        let mut made_in = None;
        if !worktree.path.exists() {
            let started = std::time::Instant::now();
            let base = Base {
                branch: task.launch.base_branch.clone(),
                commit: task.launch.base_commit.clone(),
            };
            let (_, missing) = TaskWorktree::create(
                &task.launch.repo,
                &task.launch.id,
                &base,
                &task.launch.worktree,
                &config.worktree.copy,
            )
            .map_err(AttemptError::MakeWorktree)?;
            copy_missing = Some(missing);
            made_in = Some(started.elapsed());
            // A new worktree has none of the dependencies an earlier one had.
            let _ = std::fs::remove_file(ctx.dirs.setup_done(&task.launch.id));
        }
        let root = worktree
            .path
            .canonicalize()
            .map_err(AttemptError::gone("worktree", &worktree.path))?;
        let number = ctx.store(|s| s.attempts(&task.launch.id))?.len() as i64 + 1;
        let log = ctx.dirs.attempt_log(&task.launch.id, number);
        let tmpdir = fresh_tmpdir(ctx, &format!("{}-{number}", task.launch.id))?;
        ctx.store(|s| s.start_attempt(&task.launch.id, correction, &log))?;
        let attempt = Attempt {
            ctx,
            task,
            spec,
            config,
            profile_name,
            worktree,
            root,
            copy_missing,
            number,
            log,
            tmpdir,
            host_env: task.host_env(&ctx.host_env),
            rechecking: false,
        };
        attempt.note(&format!(
            "worktree {} on branch {} (base {}{})",
            attempt.root.display(),
            task.launch.branch,
            task.launch.base_branch.as_deref().unwrap_or("detached"),
            task.launch
                .base_commit
                .get(..12)
                .map_or(String::new(), |short| format!(" at {short}"))
        ));
        if let Some(missing) = attempt
            .copy_missing
            .as_ref()
            .filter(|_| !attempt.config.worktree.copy.is_empty())
        {
            let copied: Vec<String> = attempt
                .config
                .worktree
                .copy
                .iter()
                .filter(|path| !missing.contains(path))
                .map(|path| path.display().to_string())
                .collect();
            attempt.note(&format!(
                "worktree.copy: copied from your checkout: {}{}{}",
                list_or_none(&copied),
                match missing.as_slice() {
                    [] => String::new(),
                    missing => format!(
                        "; not found there (not copied): {}",
                        missing
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
                made_in.map_or(String::new(), |time| format!(
                    "; the worktree and its copies took {:.1} s",
                    time.as_secs_f64()
                )),
            ));
        }
        Ok(attempt)
    }

    /// What the checks of an accept read, rerun on the task's changes merged onto a base
    /// that moved (`recheck`): the task's spec, config and worktree (which must exist), its
    /// last attempt's number, and a log and temp dir of their own. Nothing is recorded in
    /// the store.
    fn for_recheck(ctx: &'a Arc<Context>, task: &'a Task) -> Result<Attempt<'a>, AttemptError> {
        let (spec, config, profile_name) = loaded(task)?;
        let worktree = task_worktree(task);
        let root = worktree
            .path
            .canonicalize()
            .map_err(AttemptError::gone("worktree", &worktree.path))?;
        let number = ctx.store(|s| s.attempts(&task.launch.id))?.len() as i64;
        let tmpdir = fresh_tmpdir(ctx, &format!("{}-recheck", task.launch.id))?;
        let log = ctx.dirs.recheck_log(&task.launch.id);
        if let Some(dir) = log.parent() {
            fs_err::create_dir_all(dir)?;
        }
        Ok(Attempt {
            ctx,
            task,
            spec,
            config,
            profile_name,
            worktree,
            root,
            copy_missing: None,
            number,
            log,
            tmpdir,
            host_env: task.host_env(&ctx.host_env),
            rechecking: true,
        })
    }

    /// One line of agenthost's own in the attempt log.
    fn note(&self, text: &str) {
        append_log(&self.log, &format!("== agenthost: {text}\n"));
    }

    /// The test command: the spec's, else the config's.
    fn test_command(&self) -> Option<String> {
        self.spec
            .test_command()
            .map(str::to_string)
            .or_else(|| self.config.test.command.clone())
    }

    /// Whether `[worktree] setup` is still to run in this worktree.
    fn needs_setup(&self) -> bool {
        !self.config.worktree.setup.is_empty()
            && !self.ctx.dirs.setup_done(&self.task.launch.id).exists()
    }

    /// Ends the attempt before the agent ran (a failed or cancelled setup).
    fn end_before_agent(&self, step: Step) -> Result<Step, AttemptError> {
        self.ctx
            .store(|s| s.finish_attempt(&self.task.launch.id, self.number, None, None))?;
        let _ = std::fs::remove_dir_all(&self.tmpdir);
        Ok(step)
    }
}

/// The spec recorded at launch, the repository's configuration, and the task's agent
/// profile's name (its key in the configuration).
fn loaded(task: &Task) -> Result<(Spec, Config, String), AttemptError> {
    let parsed = spec::parse(
        &task.launch.spec_path.display().to_string(),
        task.launch.spec_text.as_bytes(),
    );
    let spec = parsed
        .spec
        .filter(|_| !parsed.problems.iter().any(spec::SpecProblem::is_error))
        .ok_or_else(|| AttemptError::SpecInvalid(task.launch.spec_path.clone()))?;
    let config = Config::load(&ConfigSources::discover(Some(&task.launch.repo)))
        .map_err(AttemptError::Config)?;
    let profile_name = config
        .agents
        .get_key_value(&task.launch.agent)
        .map(|(name, _)| name.clone())
        .ok_or_else(|| AttemptError::NoProfile(task.launch.agent.clone()))?;
    Ok((spec, config, profile_name))
}

/// An empty private temp dir `<state>/tmp/<name>` (what a former run left there removed),
/// canonical.
fn fresh_tmpdir(ctx: &Context, name: &str) -> Result<PathBuf, AttemptError> {
    let tmpdir = ctx.dirs.root.join("tmp").join(name);
    let _ = std::fs::remove_dir_all(&tmpdir);
    fs_err::create_dir_all(&tmpdir)?;
    Ok(fs_err::canonicalize(&tmpdir)?)
}

/// The task's worktree, as recorded at launch.
pub(crate) fn task_worktree(task: &Task) -> TaskWorktree {
    TaskWorktree {
        repo_root: task.launch.repo.clone(),
        name: task.launch.id.clone(),
        path: task.launch.worktree.clone(),
        branch: task.launch.branch.clone(),
    }
}

/// The attempt, step by step.
async fn attempt(
    ctx: &Arc<Context>,
    task: &Task,
    correction: Option<String>,
    cancel: Cancellation,
) -> Result<Step, AttemptError> {
    let mut a = Attempt::begin(ctx, task, correction.as_deref())?;
    let mut setup_findings = Vec::new();
    if a.needs_setup() {
        match setup::run(&a, &cancel).await? {
            Ok(findings) => setup_findings = findings,
            Err(step) => return a.end_before_agent(step),
        }
    }
    let prepared = agent::prepare(&mut a, correction.as_deref())?;
    let mut ran = agent::run(&a, prepared, cancel.clone()).await?;
    if ran.outcome.ending == Ending::Cancelled {
        ctx.store(|s| s.finish_attempt(&task.launch.id, a.number, ran.exit_code(), None))?;
        return Ok(Step::Cancelled);
    }
    ctx.store(|s| {
        s.transition(
            &task.launch.id,
            TaskState::Checking,
            &format!("the agent {}", ran.outcome.ending),
        )
    })?;
    let mut committed = check::commit(&a, &ran).await?;
    // The agent broke: its work so far is committed (review, correct and resume see it),
    // but no test runs and no policy reviews it, and the task is failed, not ready.
    if let Some(failure) = agent_failure(ran.outcome.ending, ran.timeout) {
        let _ = std::fs::remove_dir_all(&a.tmpdir);
        return Ok(Step::Failed(with_hints(
            with_output(&failure, &ran.tail),
            &ran.tail,
            hints::Run::Agent,
            &a.root,
            &ctx.home,
        )));
    }
    let tested = check::test(&a, &mut committed, &mut ran.git_metadata, cancel).await?;
    let _ = std::fs::remove_dir_all(&a.tmpdir);
    check::review(&a, ran, committed, tested, setup_findings).await
}

/// Moves every `.git` a sandboxed run left below the worktree's root out of it, into
/// the attempt's quarantine ([`git_metadata::clear`]), on a blocking thread, and says so in
/// the log.
async fn clear_git_metadata(a: &Attempt<'_>) -> Result<Cleared, AttemptError> {
    let root = a.root.clone();
    let into = a.ctx.dirs.git_quarantine(&a.task.launch.id, a.number);
    let cleared = tokio::task::spawn_blocking(move || git_metadata::clear(&root, &into))
        .await
        .map_err(AttemptError::thread("git metadata"))?;
    for moved in &cleared.moved {
        a.note(&format!(
            "moved {} ({}) out of the worktree to {}",
            moved.path.display(),
            moved.kind.describe(),
            moved.moved_to.display()
        ));
    }
    for problem in &cleared.problems {
        a.note(&problem.to_string());
    }
    Ok(cleared)
}

/// How the spec is named in provenance and trailers: its path relative to the repository
/// when it is inside it, else its file name.
pub(super) fn spec_label(task: &Task) -> String {
    task.launch
        .spec_path
        .strip_prefix(&task.launch.repo)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| {
            task.launch.spec_path.file_name().map_or_else(
                || task.launch.spec_path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
}

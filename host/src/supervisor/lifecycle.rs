//! One attempt of a task, from start to "ready": worktree, prompt, sandbox, agent, commit,
//! tests, review. Runs inside the supervisor; every state change goes through the store.
//!
//! ```text
//! running:  worktree (first attempt) -> [worktree] setup (own sandbox, until it succeeds)
//!           -> prompt -> sandbox plan -> agent (runner)
//! checking: commit on the task branch -> test command (own sandbox) -> its tracked changes
//!           committed, its untracked files set aside -> review policies
//! ready (or failed, with the reason)
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agenthost_sandbox::{Enforcement, FsRight, Guarantee, Restriction, Support};

use super::decide;
use super::log;
use super::store::{Store, StoredFinding, Task};
use crate::config::{Config, ConfigSources, HostPath, Placeholder, PlaceholderValues, SandboxMode};
use crate::digest;
use crate::runner::{Cancellation, Ending, Job, Outcome, Runner, Stop, local::LocalRunner};
use crate::sandbox::git_layout::GitLayout;
use crate::sandbox::{self, Canonicalizer, PlanInput, Purpose, agent_home, hints};
use crate::spec::{self, Spec};
use crate::state_dir::StateDirs;
use crate::task::TaskState;
use crate::task::diff::{self, Changes};
use crate::task::git_metadata::{self, Cleared};
use crate::task::prompt;
use crate::task::worktree::{Base, TaskWorktree};

/// What every task run shares: where state lives, who we are, the environment agents may
/// draw on.
#[derive(Debug)]
pub struct Context {
    /// The state directories.
    pub dirs: StateDirs,
    /// This agenthost binary: `agenthost` in agent commands.
    pub exe: PathBuf,
    /// The supervisor's environment (profiles' `pass_env` draws from it).
    pub host_env: BTreeMap<String, String>,
    /// The user's home directory.
    pub home: PathBuf,
    /// The state database.
    pub store: Arc<Mutex<Store>>,
    /// The policy engine and the loaded policy sets.
    pub policies: decide::Policies,
}

impl Context {
    /// Runs `f` with the store locked.
    pub fn store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = match self.store.lock() {
            Ok(store) => store,
            // A panic while holding the lock leaves SQLite consistent (transactions), so
            // the data is still good.
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut store)
    }
}

/// The outcome of the test command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// The command.
    pub command: String,
    /// Whether it passed (exit 0).
    pub passed: bool,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// How long it ran.
    pub duration: Duration,
    /// The end of its output.
    pub output_tail: String,
}

/// Everything the review policies are told about a finished attempt.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    /// The attempt number.
    pub attempt: i64,
    /// How the agent ended.
    pub agent: Outcome,
    /// What changed, from the task's base commit to the task branch.
    pub changes: Changes,
    /// The test command's result, if there is a test command.
    pub test: Option<TestRun>,
}

/// Runs one attempt of `task` (already `running`) to `ready` or `failed`. A correction
/// message makes it a correction attempt.
pub async fn run_attempt(
    ctx: Arc<Context>,
    task: Task,
    correction: Option<String>,
    cancel: Cancellation,
) -> TaskState {
    let id = task.id.clone();
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
        (Err(reason), Stop::No) => (TaskState::Failed, reason),
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
enum Step {
    /// The agent finished and its work was checked: the reason says what the checks found.
    Ready(String),
    /// The agent broke (a non-zero exit, a signal, its time limit): the reason says how,
    /// with the end of its output.
    Failed(String),
    /// The human cancelled it.
    Cancelled,
}

/// `a, b, c`, or `nothing`.
fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_string()
    } else {
        items.join(", ")
    }
}

/// How many lines of an agent's output a failure's reason carries.
const TAIL_LINES: usize = 15;

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

/// `reason`, then the agent's last output lines, indented, if it printed anything.
fn with_output(reason: &str, tail: &str) -> String {
    if tail.trim().is_empty() {
        return format!("{reason} (it printed nothing)");
    }
    let mut text = format!("{reason}; the end of its output:");
    for line in tail.lines() {
        text.push_str("\n  ");
        text.push_str(line);
    }
    text
}

/// `reason` with the help lines [`hints::hints`] finds in `tail` (the run's output), each on
/// a line of its own: what the sandbox refused and the setting that allows it.
fn with_hints(reason: String, tail: &str, run: hints::Run, worktree: &Path, home: &Path) -> String {
    let found = hints::hints(tail, run, hints::Places { worktree, home });
    let mut text = reason;
    for hint in found {
        text.push_str("\n  help: ");
        text.push_str(&hint);
    }
    text
}

/// The last `n` lines of `text`, without agenthost's own `== agenthost:` lines.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("== agenthost:"))
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The finding for a run that exited cleanly and changed nothing. When the task as a whole
/// has no change either (`task_unchanged`), it is blocking: such a run must never look like
/// a result to review. A correction that changed nothing on top of earlier work is a warning:
/// the reviewer decides whether it did what was asked.
fn no_change_finding(attempt: i64, tail: &str, task_unchanged: bool) -> StoredFinding {
    let said = match tail.lines().rev().find(|line| !line.trim().is_empty()) {
        Some(line) => format!(" (its last words: {})", line.trim()),
        None => " (it printed nothing)".to_string(),
    };
    let (severity, what) = if task_unchanged {
        ("error", "the agent exited cleanly but changed no file")
    } else {
        (
            "warning",
            "this attempt changed no file; the task's earlier changes are unchanged",
        )
    };
    StoredFinding {
        attempt,
        policy: "agenthost".into(),
        rule: "no-changes".into(),
        severity: severity.into(),
        message: format!(
            "{what}{said}. See `agenthost logs`; `agenthost correct` sends it back with \
             instructions"
        ),
        path: None,
        line: None,
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

async fn attempt(
    ctx: &Arc<Context>,
    task: &Task,
    correction: Option<String>,
    cancel: Cancellation,
) -> Result<Step, String> {
    let parsed = spec::parse(
        &task.spec_path.display().to_string(),
        task.spec_text.as_bytes(),
    );
    let spec = parsed
        .spec
        .filter(|_| !parsed.problems.iter().any(spec::SpecProblem::is_error))
        .ok_or_else(|| {
            format!(
                "the spec recorded at launch is no longer valid ({})",
                task.spec_path.display()
            )
        })?;
    let config = Config::load(&ConfigSources::discover(Some(&task.repo)))
        .map_err(|err| format!("the repository's configuration is invalid: {err}"))?;
    let (profile_name, profile) = config
        .agents
        .get_key_value(&task.agent)
        .map(|(name, profile)| (name.clone(), profile.clone()))
        .ok_or_else(|| format!("no agent profile `{}` in the configuration", task.agent))?;
    let profile = &profile;

    // The worktree: made on the first attempt, reused by corrections.
    let worktree = TaskWorktree {
        repo_root: task.repo.clone(),
        name: task.id.clone(),
        path: task.worktree.clone(),
        branch: task.branch.clone(),
    };
    // What `worktree.copy` did not find, when this attempt made the worktree.
    let mut copy_missing: Option<Vec<PathBuf>> = None;
    if !worktree.path.exists() {
        let base = Base {
            branch: task.base_branch.clone(),
            commit: task.base_commit.clone(),
        };
        let (_, missing) = TaskWorktree::create(
            &task.repo,
            &task.id,
            &base,
            &task.worktree,
            &config.worktree.copy,
        )
        .map_err(|err| format!("cannot make the worktree: {err}"))?;
        copy_missing = Some(missing);
        // A new worktree has none of the dependencies an earlier one had.
        let _ = std::fs::remove_file(ctx.dirs.setup_done(&task.id));
    }
    let root = worktree
        .path
        .canonicalize()
        .map_err(|err| format!("the worktree {} is gone: {err}", worktree.path.display()))?;

    // The attempt and its private temp dir (the prompt file lives there too).
    let number = ctx
        .store(|s| s.attempts(&task.id))
        .map_err(|e| e.to_string())?
        .len() as i64
        + 1;
    let log_path = ctx.dirs.attempt_log(&task.id, number);
    let tmpdir = ctx
        .dirs
        .root
        .join("tmp")
        .join(format!("{}-{number}", task.id));
    let _ = std::fs::remove_dir_all(&tmpdir);
    fs_err::create_dir_all(&tmpdir).map_err(|err| err.to_string())?;
    let tmpdir = tmpdir.canonicalize().map_err(|err| err.to_string())?;
    ctx.store(|s| s.start_attempt(&task.id, correction.as_deref(), &log_path))
        .map_err(|err| err.to_string())?;
    append_log(
        &log_path,
        &format!(
            "== agenthost: worktree {} on branch {} (base {}{})\n",
            root.display(),
            task.branch,
            task.base_branch.as_deref().unwrap_or("detached"),
            task.base_commit
                .get(..12)
                .map_or(String::new(), |short| format!(" at {short}"))
        ),
    );

    if let Some(missing) = copy_missing
        .as_ref()
        .filter(|_| !config.worktree.copy.is_empty())
    {
        let copied: Vec<String> = config
            .worktree
            .copy
            .iter()
            .filter(|path| !missing.contains(path))
            .map(|path| path.display().to_string())
            .collect();
        append_log(
            &log_path,
            &format!(
                "== agenthost: worktree.copy: copied from your checkout: {}{}\n",
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
                }
            ),
        );
    }

    // The dependencies: `[worktree] setup` in its own sandbox, until it has succeeded once
    // in this worktree.
    let mut setup_findings = Vec::new();
    if !config.worktree.setup.is_empty() && !ctx.dirs.setup_done(&task.id).exists() {
        let ran = run_setup(
            ctx,
            &config,
            &spec,
            task,
            &worktree,
            RunLog {
                path: &log_path,
                attempt: number,
            },
            &cancel,
        )
        .await?;
        match ran {
            Ok(findings) => setup_findings = findings,
            Err(step) => {
                ctx.store(|s| s.finish_attempt(&task.id, number, None, None))
                    .map_err(|err| err.to_string())?;
                let _ = std::fs::remove_dir_all(&tmpdir);
                return Ok(step);
            }
        }
    }

    let test_command = spec
        .test_command()
        .map(str::to_string)
        .or_else(|| config.test.command.clone());
    let continuing = correction.is_some() && profile.continue_command.is_some();
    let prompt_text = match &correction {
        None => prompt::first(&task.spec_text, &spec.scope, test_command.as_deref()),
        Some(message) => prompt::correction(
            &task.spec_text,
            &spec.scope,
            test_command.as_deref(),
            message,
            continuing,
        ),
    };
    // The agent's private home: made and seeded before the first attempt, kept after.
    let agent_home_dir = ctx.dirs.agent_home(&task.id);
    let host_env = task.host_env(&ctx.host_env);
    let seeded = agent_home::prepare(&agent_home_dir, &ctx.home, profile, &host_env)
        .map_err(|err| err.to_string())?;
    let agent_home_dir = agent_home_dir
        .canonicalize()
        .map_err(|err| format!("the agent's private home is gone: {err}"))?;
    if seeded.created {
        append_log(
            &log_path,
            &format!(
                "== agenthost: private home {}; seeded from your home: {}{}; written: {}\n",
                agent_home_dir.display(),
                list_or_none(&seeded.copied),
                match seeded.missing.as_slice() {
                    [] => String::new(),
                    missing => format!("; not found (not copied): {}", missing.join(", ")),
                },
                list_or_none(&seeded.written)
            ),
        );
    }
    let prompt_file = tmpdir.join("prompt.md");
    fs_err::write(&prompt_file, &prompt_text).map_err(|err| err.to_string())?;
    let template = match (&correction, &profile.continue_command) {
        (Some(_), Some(continue_command)) => continue_command,
        _ => &profile.command,
    };
    let mut argv = template.render(&PlaceholderValues {
        prompt: &prompt_text,
        prompt_file: &prompt_file,
        worktree: &root,
        task_id: &task.id,
        home: &agent_home_dir,
    });
    let mut config = config;
    if argv.first().is_some_and(|program| program == "agenthost") {
        // `agenthost` in a profile's command is this binary (the scripted agent lives in
        // it); the sandbox must let it be read and run.
        argv[0] = ctx.exe.clone().into_os_string();
        if let Ok(exe) = HostPath::parse(&ctx.exe.display().to_string()) {
            config.sandbox.read.push(exe);
        }
    }
    let profile = config
        .agents
        .get(profile_name.as_str())
        .ok_or_else(|| format!("no agent profile `{}` in the configuration", task.agent))?
        .clone();
    let profile = &profile;
    let program = argv
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(program_path) =
        crate::runner::find_program(&program, host_env.get("PATH").map(String::as_str))
    else {
        return Err(format!(
            "the agent program `{program}` (profile `{profile_name}`) is not installed or not on the PATH `agenthost launch` ran with ({}); install it, or set the profile's `command` to its full path",
            host_env.get("PATH").map_or("unset", String::as_str)
        ));
    };
    let stdin = (!template.uses(Placeholder::Prompt) && !template.uses(Placeholder::PromptFile))
        .then(|| prompt_text.clone().into_bytes());

    // The sandbox: one plan for the agent and, after it, the test command.
    let mut sandboxed = Sandboxed::new(
        ctx,
        &config,
        &spec,
        task,
        Purpose::Agent,
        Some((profile_name.as_str(), profile)),
        &root,
        AgentPlaces {
            tmpdir: tmpdir.clone(),
            home: agent_home_dir.clone(),
            program: Some(program_path),
        },
    )?;
    append_log(
        &log_path,
        &format!("== agenthost: {}\n", sandboxed.summary()),
    );
    for note in &sandboxed.built.notes {
        append_log(&log_path, &format!("== agenthost: sandbox note: {note}\n"));
    }
    let timeout = spec.front_matter.timeout.unwrap_or(profile.timeout);
    let job = sandboxed.job(argv, stdin, &log_path, timeout)?;
    append_log(
        &log_path,
        &format!("== agenthost: attempt {number}, agent `{profile_name}`\n"),
    );
    let agent_output_from = std::fs::metadata(&log_path).map_or(0, |m| m.len());
    let outcome = LocalRunner
        .run(job, cancel.clone())
        .await
        .map_err(|err| format!("the agent could not run: {err}"))?;
    sandboxed.cleanup();
    let agent_tail = last_lines(&log_tail(&log_path, agent_output_from, 8192), TAIL_LINES);
    if let Some(file) = &profile.write_back {
        let note = match agent_home::write_back(&agent_home_dir, &ctx.home, file) {
            Ok(agent_home::WriteBack::Unchanged) => None,
            Ok(agent_home::WriteBack::Copied) => Some(format!(
                "copied `{file}` back to your home (the run changed it)"
            )),
            Ok(agent_home::WriteBack::Refused(why)) => {
                Some(format!("did NOT copy `{file}` back to your home: {why}"))
            }
            Err(err) => Some(format!("cannot copy `{file}` back to your home: {err}")),
        };
        if let Some(note) = note {
            append_log(&log_path, &format!("== agenthost: {note}\n"));
        }
    }
    append_log(
        &log_path,
        &format!("== agenthost: the agent {}\n", outcome.ending),
    );
    let quarantine = ctx.dirs.git_quarantine(&task.id, number);
    let mut git_metadata = clear_git_metadata(&root, &quarantine, &log_path).await?;
    let exit_code = match outcome.ending {
        Ending::Exited(code) => Some(i64::from(code)),
        _ => None,
    };
    if outcome.ending == Ending::Cancelled {
        ctx.store(|s| s.finish_attempt(&task.id, number, exit_code, None))
            .map_err(|err| err.to_string())?;
        return Ok(Step::Cancelled);
    }

    // Checking: commit, test, review.
    ctx.store(|s| {
        s.transition(
            &task.id,
            TaskState::Checking,
            &format!("the agent {}", outcome.ending),
        )
    })
    .map_err(|err| err.to_string())?;
    let title = spec.title.clone();
    let trailers = [
        ("Agenthost-Task", task.id.clone()),
        ("Agenthost-Attempt", number.to_string()),
        ("Agenthost-Spec", spec_label(task)),
        (
            "Agenthost-Spec-Digest",
            digest::sha256(task.spec_text.as_bytes()),
        ),
    ];
    let test_trailers = trailers.clone();
    let committed = {
        let worktree = worktree.clone();
        tokio::task::spawn_blocking(move || {
            let trailers: Vec<(&str, &str)> =
                trailers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            worktree.commit_all(&title, &trailers)
        })
        .await
        .map_err(|err| format!("the commit step failed: {err}"))?
        .map_err(|err| format!("cannot commit the agent's work: {err}"))?
    };
    append_log(
        &log_path,
        &match &committed {
            Some(commit) => format!(
                "== agenthost: committed the agent's work as {} on {}\n",
                commit.get(..12).unwrap_or(commit),
                task.branch
            ),
            None => "== agenthost: the agent changed no file: nothing to commit\n".to_string(),
        },
    );
    let head = match &committed {
        Some(commit) => commit.clone(),
        None => branch_head(&task.repo, &task.branch)?,
    };
    let mut changes = diff::between_commits(&task.repo, &task.base_commit, &head)
        .map_err(|err| format!("cannot read the task's changes: {}", err.message()))?;
    let bare_repositories = git_metadata::bare_repositories_in_commit(&task.repo, &head, &changes)
        .map_err(|err| format!("cannot read the task's changes: {}", err.message()))?;
    let (added, removed) = changes.line_counts();
    ctx.store(|s| {
        s.finish_attempt(&task.id, number, exit_code, committed.as_deref())?;
        s.set_attempt_lines(&task.id, number, added as i64, removed as i64)
    })
    .map_err(|err| err.to_string())?;
    // The agent broke: its work so far is committed (review, correct and resume see it),
    // but no test runs and no policy reviews it, and the task is failed, not ready.
    if let Some(failure) = agent_failure(outcome.ending, timeout) {
        let _ = std::fs::remove_dir_all(&tmpdir);
        return Ok(Step::Failed(with_hints(
            with_output(&failure, &agent_tail),
            &agent_tail,
            hints::Run::Agent,
            &root,
            &ctx.home,
        )));
    }

    let test = match &test_command {
        Some(command) => {
            // Its own sandbox: the agent's code runs in it, with none of the agent's
            // credentials and only `[test]`'s grants beyond the worktree.
            let places = RunPlaces::make(ctx, task, number, "test")?;
            let mut test_sandbox = Sandboxed::new(
                ctx,
                &config,
                &spec,
                task,
                Purpose::Test {
                    config: &config.test,
                },
                None,
                &root,
                places.agent_places(),
            )?;
            append_log(
                &log_path,
                &format!("== agenthost: test {}\n", test_sandbox.summary()),
            );
            append_log(&log_path, &format!("== agenthost: test `{command}`\n"));
            let job = test_sandbox.job(
                vec!["/bin/sh".into(), "-c".into(), command.into()],
                None,
                &log_path,
                config.test.timeout,
            )?;
            let before = std::fs::metadata(&log_path).map_or(0, |m| m.len());
            let outcome = LocalRunner
                .run(job, cancel)
                .await
                .map_err(|err| format!("the test command could not run: {err}"))?;
            test_sandbox.cleanup();
            places.remove();
            let output_tail = log_tail(&log_path, before, 4096);
            append_log(
                &log_path,
                &format!(
                    "== agenthost: the test command {} after {:.1} s\n",
                    outcome.ending,
                    outcome.duration.as_secs_f64()
                ),
            );
            let after_test = clear_git_metadata(&root, &quarantine, &log_path).await?;
            git_metadata.moved.extend(after_test.moved);
            git_metadata.problems.extend(after_test.problems);
            Some(TestRun {
                command: command.clone(),
                passed: outcome.ending == Ending::Exited(0),
                exit_code: match outcome.ending {
                    Ending::Exited(code) => Some(code),
                    _ => None,
                },
                duration: outcome.duration,
                output_tail,
            })
        }
        None => None,
    };
    let _ = std::fs::remove_dir_all(&tmpdir);
    // Tracked files the test command changed (a lock file it rewrote) go on the branch in a
    // commit of their own, so that what is accepted is what was tested; a finding says so.
    let mut test_changed: Vec<String> = Vec::new();
    let mut test_created: Vec<String> = Vec::new();
    if test.is_some() {
        let committer = worktree.clone();
        let committed_by_test = tokio::task::spawn_blocking(move || {
            let trailers: Vec<(&str, &str)> = test_trailers
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect();
            committer.commit_tracked("Files the test command changed", &trailers)
        })
        .await
        .map_err(|err| format!("the commit step failed: {err}"))?
        .map_err(|err| format!("cannot commit what the test command changed: {err}"))?;
        if let Some(commit) = committed_by_test {
            let read = |from: &str| {
                diff::between_commits(&task.repo, from, &commit)
                    .map_err(|err| format!("cannot read the task's changes: {}", err.message()))
            };
            test_changed = read(&head)?.files.into_iter().map(|f| f.path).collect();
            append_log(
                &log_path,
                &format!(
                    "== agenthost: the test command changed tracked files: {}; committed as {} on {}\n",
                    test_changed.join(", "),
                    commit.get(..12).unwrap_or(&commit),
                    task.branch
                ),
            );
            changes = read(&task.base_commit)?;
        }
        test_created = set_aside_untracked(&worktree, &ctx.dirs, &task.id, number, "test").await?;
        if !test_created.is_empty() {
            append_log(
                &log_path,
                &format!(
                    "== agenthost: the test command created files git does not ignore: {}; moved to {}\n",
                    test_created.join(", "),
                    run_files_dir(&ctx.dirs, &task.id, number, "test").display()
                ),
            );
        }
    }

    let report = AttemptReport {
        attempt: number,
        agent: outcome,
        changes,
        test,
    };
    let reviewed = {
        // On a blocking thread: the policy engine drives its own WASI runtime.
        let (ctx, config, spec, task, report) = (
            Arc::clone(ctx),
            config.clone(),
            spec.clone(),
            task.clone(),
            report.clone(),
        );
        tokio::task::spawn_blocking(move || decide::review(&ctx, &config, &spec, &task, &report))
            .await
            .map_err(|err| format!("the review step failed: {err}"))?
    };
    for line in &reviewed.log {
        append_log(&log_path, &format!("== agenthost: {line}\n"));
    }
    let mut findings = reviewed.findings;
    findings.extend(setup_findings);
    findings.extend(git_metadata_findings(
        number,
        &root,
        &git_metadata,
        &bare_repositories,
    ));
    findings.extend(test_changed.iter().map(|path| StoredFinding {
        attempt: number,
        policy: "agenthost".into(),
        rule: "test-changed-files".into(),
        severity: "warning".into(),
        message: format!(
            "the test command changed `{path}` after the agent's commit; the change is \
             committed on the task branch (\"Files the test command changed\"), so that what \
             you accept is what was tested. If the agent should have made it, say so in a \
             correction; if the test command should not write there, change the test command"
        ),
        path: Some(path.clone()),
        line: None,
    }));
    if let Some(run) = report.test.as_ref().filter(|run| !run.passed) {
        let found = hints::hints(
            &run.output_tail,
            hints::Run::Test,
            hints::Places {
                worktree: &root,
                home: &ctx.home,
            },
        );
        findings.extend(found.into_iter().map(|hint| StoredFinding {
            attempt: number,
            policy: "agenthost".into(),
            rule: "sandbox-refused".into(),
            severity: "warning".into(),
            message: format!("the test command failed, and {hint}"),
            path: None,
            line: None,
        }));
    }
    if !test_created.is_empty() {
        findings.push(StoredFinding {
            attempt: number,
            policy: "agenthost".into(),
            rule: "test-created-files".into(),
            severity: "warning".into(),
            message: format!(
                "the test command created {} file(s) that git does not ignore: {}. They are not \
                 part of the task: they were moved out of the worktree to {} so that no later \
                 commit takes them for the agent's work. If they are build output, ignore them \
                 in .gitignore",
                test_created.len(),
                shortened_list(&test_created, 10),
                run_files_dir(&ctx.dirs, &task.id, number, "test").display()
            ),
            path: test_created.first().cloned(),
            line: None,
        });
    }
    findings.extend(copy_missing.iter().flatten().map(|path| StoredFinding {
        attempt: number,
        policy: "agenthost".into(),
        rule: "copy-missing".into(),
        severity: "warning".into(),
        message: format!(
            "`worktree.copy` names `{}`, which your checkout does not have: the worktree started \
             without it (make it in your checkout, e.g. by installing the dependencies there, \
             or remove it from `worktree.copy`)",
            path.display()
        ),
        path: Some(path.display().to_string()),
        line: None,
    }));
    if committed.is_none() {
        findings.push(no_change_finding(
            number,
            &agent_tail,
            report.changes.files.is_empty(),
        ));
    }
    let blocking: Vec<&StoredFinding> = findings.iter().filter(|f| f.severity == "error").collect();
    ctx.store(|s| s.set_findings(&task.id, number, &findings))
        .map_err(|err| err.to_string())?;
    let mut summary = format!(
        "checks done: {} finding(s), {} blocking; +{added} -{removed}",
        findings.len(),
        blocking.len()
    );
    for finding in blocking {
        summary.push_str(&format!("\nblocking: {}", finding_line(finding)));
    }
    Ok(Step::Ready(summary))
}

/// Moves every `.git` a sandboxed run left below the worktree's root out of it, into
/// `quarantine` ([`git_metadata::clear`]), on a blocking thread, and says so in the log.
async fn clear_git_metadata(
    root: &Path,
    quarantine: &Path,
    log_path: &Path,
) -> Result<Cleared, String> {
    let (root_owned, into) = (root.to_path_buf(), quarantine.to_path_buf());
    let cleared = tokio::task::spawn_blocking(move || git_metadata::clear(&root_owned, &into))
        .await
        .map_err(|err| format!("the git metadata check failed: {err}"))?;
    for moved in &cleared.moved {
        append_log(
            log_path,
            &format!(
                "== agenthost: moved {} ({}) out of the worktree to {}\n",
                moved.path.display(),
                moved.kind.describe(),
                moved.moved_to.display()
            ),
        );
    }
    for problem in &cleared.problems {
        append_log(log_path, &format!("== agenthost: {problem}\n"));
    }
    Ok(cleared)
}

/// Blocking findings for the `.git` entries a run left in the worktree, and for directories
/// its change makes look like bare repositories: each makes git, run later by a human in
/// the worktree or in the checkout, obey a repository the agent wrote.
fn git_metadata_findings(
    attempt: i64,
    root: &Path,
    cleared: &Cleared,
    bare_repositories: &[String],
) -> Vec<StoredFinding> {
    let finding = |rule: &str, path: PathBuf, message: String| StoredFinding {
        attempt,
        policy: "agenthost".into(),
        rule: rule.into(),
        severity: "error".into(),
        message,
        path: Some(path.display().to_string()),
        line: None,
    };
    let moved = cleared.moved.iter().map(|moved| {
        finding(
            "git-metadata",
            moved.path.clone(),
            format!(
                "the run left {} named `.git` here: git run in the worktree would have obeyed \
                 it (its hooks, `core.fsmonitor`, filters). Moved out of the worktree to {}",
                moved.kind.describe(),
                moved.moved_to.display()
            ),
        )
    });
    let problems = cleared.problems.iter().map(|problem| {
        finding(
            "git-metadata",
            problem.path_below(root),
            format!(
                "{problem}: a `.git` the run left there may still be in the worktree; do not \
                 run git in the worktree before looking"
            ),
        )
    });
    let bare = bare_repositories.iter().map(|dir| {
        finding(
            "bare-repository",
            PathBuf::from(dir),
            git_metadata::BARE_REPOSITORY_FINDING.to_string(),
        )
    });
    moved.chain(problems).chain(bare).collect()
}

/// Where the files a setup or test run (`what`) created, neither tracked nor ignored, are
/// moved.
fn run_files_dir(dirs: &StateDirs, task: &str, attempt: i64, what: &str) -> PathBuf {
    dirs.logs()
        .join(task)
        .join(format!("attempt-{attempt}-{what}-files"))
}

/// Moves the worktree's untracked, not ignored files (a `what` run made them) to
/// [`run_files_dir`], keeping their relative paths; returns them.
async fn set_aside_untracked(
    worktree: &TaskWorktree,
    dirs: &StateDirs,
    task: &str,
    attempt: i64,
    what: &str,
) -> Result<Vec<String>, String> {
    let lister = worktree.clone();
    let files = tokio::task::spawn_blocking(move || lister.untracked_files())
        .await
        .map_err(|err| format!("listing the test run's files failed: {err}"))?
        .map_err(|err| format!("cannot list the files the test command created: {err}"))?;
    let to = run_files_dir(dirs, task, attempt, what);
    for file in &files {
        let from = worktree.path.join(file);
        let dest = to.join(file);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent).map_err(|err| err.to_string())?;
        }
        if std::fs::rename(&from, &dest).is_err() {
            fs_err::remove_file(&from).map_err(|err| err.to_string())?;
        }
    }
    Ok(files)
}

/// `a, b, c and 7 more`.
fn shortened_list(items: &[String], shown: usize) -> String {
    let mut text = items
        .iter()
        .take(shown)
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > shown {
        text.push_str(&format!(" and {} more", items.len() - shown));
    }
    text
}

/// The attempt log and the attempt it belongs to.
#[derive(Clone, Copy)]
struct RunLog<'a> {
    path: &'a Path,
    attempt: i64,
}

/// A setup or test run's own places: a private temp dir and an empty private home, made
/// fresh under `<state>/tmp/<task>-<attempt>-<what>`, removed after the run.
struct RunPlaces {
    base: PathBuf,
    tmpdir: PathBuf,
    home: PathBuf,
}

impl RunPlaces {
    fn make(ctx: &Context, task: &Task, attempt: i64, what: &str) -> Result<RunPlaces, String> {
        let base = ctx
            .dirs
            .root
            .join("tmp")
            .join(format!("{}-{attempt}-{what}", task.id));
        let _ = std::fs::remove_dir_all(&base);
        let (tmpdir, home) = (base.join("tmp"), base.join("home"));
        for dir in [&tmpdir, &home] {
            fs_err::create_dir_all(dir).map_err(|err| err.to_string())?;
        }
        let canonical = |dir: &Path| dir.canonicalize().map_err(|err| err.to_string());
        Ok(RunPlaces {
            tmpdir: canonical(&tmpdir)?,
            home: canonical(&home)?,
            base,
        })
    }

    fn agent_places(&self) -> AgentPlaces {
        AgentPlaces {
            tmpdir: self.tmpdir.clone(),
            home: self.home.clone(),
            program: None,
        }
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Runs the `[worktree] setup` commands in order in the worktree, in the setup sandbox
/// (the whole worktree and the package caches writable, the registries' ports), each logged
/// with its output. `Some(step)` ends the attempt before the agent: a command that failed
/// (with its reason, its output and the fix) or a cancel. Success is recorded
/// ([`StateDirs::setup_done`]), so corrections do not run it again.
async fn run_setup(
    ctx: &Context,
    config: &Config,
    spec: &Spec,
    task: &Task,
    worktree: &TaskWorktree,
    log: RunLog<'_>,
    cancel: &Cancellation,
) -> Result<Result<Vec<StoredFinding>, Step>, String> {
    let root = worktree
        .path
        .canonicalize()
        .map_err(|err| format!("the worktree {} is gone: {err}", worktree.path.display()))?;
    let root = root.as_path();
    let places = RunPlaces::make(ctx, task, log.attempt, "setup")?;
    let mut sandboxed = Sandboxed::new(
        ctx,
        config,
        spec,
        task,
        Purpose::Setup {
            ports: &config.worktree.setup_ports,
        },
        None,
        root,
        places.agent_places(),
    )?;
    append_log(
        log.path,
        &format!("== agenthost: setup {}\n", sandboxed.summary()),
    );
    for note in &sandboxed.built.notes {
        append_log(
            log.path,
            &format!("== agenthost: setup sandbox note: {note}\n"),
        );
    }
    let limit = config.worktree.setup_timeout;
    let deadline = std::time::Instant::now() + limit;
    for command in &config.worktree.setup {
        append_log(log.path, &format!("== agenthost: setup `{command}`\n"));
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        let job = sandboxed.job(
            vec!["/bin/sh".into(), "-c".into(), command.into()],
            None,
            log.path,
            remaining,
        )?;
        let before = std::fs::metadata(log.path).map_or(0, |m| m.len());
        let outcome = LocalRunner
            .run(job, cancel.clone())
            .await
            .map_err(|err| format!("the setup command `{command}` could not run: {err}"))?;
        sandboxed.cleanup();
        append_log(
            log.path,
            &format!(
                "== agenthost: the setup command {} after {:.1} s\n",
                outcome.ending,
                outcome.duration.as_secs_f64()
            ),
        );
        let why = match outcome.ending {
            Ending::Exited(0) => continue,
            Ending::Cancelled => {
                places.remove();
                return Ok(Err(Step::Cancelled));
            }
            Ending::TimedOut => format!(
                "the setup commands ran past their time limit ({}) in `{command}` and were stopped; raise `setup_timeout` in [worktree]",
                humantime::format_duration(limit)
            ),
            ending => format!("the setup command `{command}` {ending}"),
        };
        places.remove();
        let tail = last_lines(&log_tail(log.path, before, 8192), TAIL_LINES);
        let reason = format!(
            "{why}, so the agent did not run. Fix `[worktree] setup` in the repository's agenthost.toml, then `agenthost resume {}`",
            task.id
        );
        return Ok(Err(Step::Failed(with_hints(
            with_output(&reason, &tail),
            &tail,
            hints::Run::Setup,
            root,
            &ctx.home,
        ))));
    }
    places.remove();
    // The agent starts from the base commit: tracked files the setup changed are put back,
    // and files it made that git does not ignore are set aside (the agent's commit would
    // take them); each is a finding.
    let restorer = worktree.clone();
    let restored = tokio::task::spawn_blocking(move || restorer.restore_tracked())
        .await
        .map_err(|err| format!("restoring what the setup changed failed: {err}"))?
        .map_err(|err| format!("cannot restore the files the setup changed: {err}"))?;
    let set_aside =
        set_aside_untracked(worktree, &ctx.dirs, &task.id, log.attempt, "setup").await?;
    let mut findings = Vec::new();
    if !restored.is_empty() {
        append_log(
            log.path,
            &format!(
                "== agenthost: the setup changed tracked files: {}; put back as the base commit has them\n",
                restored.join(", ")
            ),
        );
        findings.push(StoredFinding {
            attempt: log.attempt,
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
        let dir = run_files_dir(&ctx.dirs, &task.id, log.attempt, "setup");
        append_log(
            log.path,
            &format!(
                "== agenthost: the setup created files git does not ignore: {}; moved to {}\n",
                set_aside.join(", "),
                dir.display()
            ),
        );
        findings.push(StoredFinding {
            attempt: log.attempt,
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
    let done = ctx.dirs.setup_done(&task.id);
    if let Some(dir) = done.parent() {
        let _ = fs_err::create_dir_all(dir);
    }
    fs_err::write(&done, config.worktree.setup.join("\n")).map_err(|err| err.to_string())?;
    Ok(Ok(findings))
}

/// Where the agent lives on the host, for its sandbox plan.
struct AgentPlaces {
    /// The attempt's private temp directory.
    tmpdir: PathBuf,
    /// The task's private home (made and seeded).
    home: PathBuf,
    /// The agent program as found.
    program: Option<PathBuf>,
}

/// A sandbox plan made ready to run, and what to clean up after.
struct Sandboxed {
    built: sandbox::BuiltPlan,
    /// What the current run's preparation created on disk, for [`Sandboxed::cleanup`].
    created: Vec<PathBuf>,
    /// What the kernel supports, or `None` with sandbox mode off.
    support: Option<Support>,
}

impl Sandboxed {
    #[allow(clippy::too_many_arguments)]
    fn new(
        ctx: &Context,
        config: &Config,
        spec: &Spec,
        task: &Task,
        purpose: Purpose<'_>,
        profile: Option<(&str, &crate::config::AgentProfile)>,
        root: &Path,
        agent: AgentPlaces,
    ) -> Result<Sandboxed, String> {
        let mode = config.sandbox.mode;
        let support = Support::probe();
        let mut resolved = Canonicalizer::default();
        let input = PlanInput {
            purpose,
            spec,
            spec_name: spec_label(task),
            root: root.to_path_buf(),
            profile,
            sandbox: &config.sandbox,
            host_env: task.host_env(&ctx.host_env),
            home: ctx.home.clone(),
            agent_home: Some(agent.home),
            program: agent.program,
            tmpdir: agent.tmpdir,
            enforcement: if mode == SandboxMode::Enforce {
                Enforcement::Enforce
            } else {
                Enforcement::BestEffort
            },
            as_root: support.root,
            git: GitLayout::of_worktree(root, &mut resolved),
            resolved,
        };
        let built = sandbox::build(input).map_err(|err| {
            format!(
                "cannot build the {} sandbox: {err}{}",
                purpose.name(),
                miette::Diagnostic::help(&err).map_or(String::new(), |help| format!("; {help}"))
            )
        })?;
        let missing = support.missing(&built.plan);
        // The setup and test runs write the whole worktree: only the mount layer keeps its
        // `.git` read-only then, whatever the mode says (mode off has no sandbox at all).
        if !matches!(purpose, Purpose::Agent)
            && mode != SandboxMode::Off
            && missing.contains(&Guarantee::ReadOnlyView)
        {
            return Err(format!(
                "the {} run needs the mount layer, which this machine cannot make: {}; run `agenthost doctor`",
                purpose.name(),
                sandbox::missing_text(&support, &missing)
            ));
        }
        match mode {
            SandboxMode::Enforce if !missing.is_empty() => {
                return Err(format!(
                    "the kernel cannot enforce this sandbox (mode enforce): {}; run `agenthost doctor`",
                    sandbox::missing_text(&support, &missing)
                ));
            }
            SandboxMode::BestEffort if !missing.is_empty() => {
                log(&format!(
                    "task {}: WARNING: best-effort sandbox; NOT enforced: {}",
                    task.id,
                    sandbox::missing_text(&support, &missing)
                ));
            }
            SandboxMode::Off => log(&format!(
                "task {}: WARNING: sandbox mode is off: the agent runs with all of your rights",
                task.id
            )),
            _ => {}
        }
        Ok(Sandboxed {
            built,
            created: Vec::new(),
            // Mode off keeps the plan for its environment and directory, with no restriction.
            support: (mode != SandboxMode::Off).then_some(support),
        })
    }

    /// The job that runs `argv` in this sandbox (or, with mode off, directly).
    /// Prepares the disk for a run (see [`sandbox::prepare`]) and returns the job.
    fn job(
        &mut self,
        argv: Vec<OsString>,
        stdin: Option<Vec<u8>>,
        log: &Path,
        timeout: Duration,
    ) -> Result<Job, String> {
        self.created = sandbox::prepare(&self.built).map_err(|err| err.to_string())?;
        let plan = &self.built.plan;
        let env = plan.env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        let sandbox = match &self.support {
            // Prepared after the disk, so that every path of the plan exists.
            Some(support) => Some(
                Restriction::prepare(plan, support)
                    .map_err(|err| format!("cannot set up the sandbox: {err}"))?,
            ),
            None => None,
        };
        Ok(Job {
            argv,
            env,
            cwd: plan.cwd.clone(),
            stdin,
            log: log.to_path_buf(),
            timeout,
            sandbox,
        })
    }

    /// The plan in one line for the attempt log: the mode, what is writable, the ports,
    /// `HOME`. `agenthost sandbox --explain` gives the whole plan with a reason per rule.
    fn summary(&self) -> String {
        let plan = &self.built.plan;
        let writable: Vec<String> = plan
            .fs
            .iter()
            .filter(|rule| rule.rights.contains(&FsRight::WriteFile))
            .map(|rule| match rule.path.strip_prefix(&plan.cwd) {
                Ok(inside) if !inside.as_os_str().is_empty() => inside.display().to_string(),
                _ => rule.path.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = plan
            .net
            .connect_tcp
            .iter()
            .map(|rule| rule.port.to_string())
            .collect();
        let view = match &self.support {
            Some(support) if plan.mounts.read_only_view && support.mounts.privilege.is_some() => {
                format!("on, {} protected", plan.mounts.protected.len())
            }
            Some(_) if plan.mounts.read_only_view => "UNAVAILABLE".to_string(),
            _ => "off".to_string(),
        };
        format!(
            "sandbox: {}; {} rules; writable: {}; read-only view: {view}; TCP connect: {}; HOME={}",
            match &self.support {
                Some(_) if plan.enforcement == Enforcement::Enforce => "enforce".to_string(),
                Some(_) => "best-effort".to_string(),
                None => "OFF".to_string(),
            },
            plan.fs.len(),
            list_or_none(&writable),
            if ports.is_empty() {
                "none".to_string()
            } else {
                ports.join(", ")
            },
            plan.env.get("HOME").map_or("", String::as_str)
        )
    }

    /// Removes what [`Sandboxed::job`] created on disk and the run left unused.
    fn cleanup(&mut self) {
        sandbox::cleanup(&std::mem::take(&mut self.created));
    }
}

/// How the spec is named in provenance and trailers: its path relative to the repository
/// when it is inside it, else its file name.
pub(super) fn spec_label(task: &Task) -> String {
    task.spec_path
        .strip_prefix(&task.repo)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| {
            task.spec_path.file_name().map_or_else(
                || task.spec_path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
}

fn branch_head(repo: &Path, branch: &str) -> Result<String, String> {
    let read = || -> Result<String, git2::Error> {
        let repo = git2::Repository::open(repo)?;
        let commit = repo
            .find_reference(&format!("refs/heads/{branch}"))?
            .peel_to_commit()?;
        Ok(commit.id().to_string())
    };
    read().map_err(|err| format!("cannot read the task branch: {}", err.message()))
}

fn append_log(path: &Path, text: &str) {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(text.as_bytes());
    }
}

/// The last `max` bytes written to `path` after byte `from`.
fn log_tail(path: &Path, from: u64, max: u64) -> String {
    use std::io::{Read as _, Seek as _, SeekFrom};
    // Only the end is read: an agent's log can be megabytes of transcript.
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = from.max(len.saturating_sub(max)).min(len);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

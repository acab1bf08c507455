//! The supervisor's questions to the policies: may this queued task start now, and what
//! must a reviewer know about this attempt. Built-in and user policies alike, through the
//! policy engine; every failure fails closed (admission holds, review adds an error).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agenthost_policy::{self as sdk, Hook};

use super::context::Context;
use super::report::AttemptReport;
use super::store::{StoredFinding, Task, now_ms};
use crate::config::{Config, ConfigSources, PolicyMode};
use crate::policy::{self, Engine, PolicySet, Report, verdict};
use crate::spec::{self, Spec};
use crate::task::TaskState;

/// The engine and the policy sets loaded from each repository's configuration, kept
/// between calls (loading compiles or deserializes each plugin).
pub struct Policies {
    engine: Result<Engine, String>,
    sets: Mutex<HashMap<SetKey, Arc<PolicySet>>>,
    /// What admission sees of each task's spec, by task id (a task's spec never changes,
    /// so it is parsed once).
    scopes: Mutex<HashMap<String, SpecSummary>>,
    /// Each repository's configuration, with the identity of the files it was read from;
    /// read again when any of them changes (or appears, or goes).
    configs: Mutex<HashMap<PathBuf, CachedConfig>>,
}

/// A configuration and the files it was read from, as they were.
type CachedConfig = (Vec<FileStamp>, Arc<Config>);

/// A config file as last seen: its path and, when it exists, its modification time, size
/// and inode.
type FileStamp = (PathBuf, Option<(std::time::SystemTime, u64, u64)>);

/// A loaded set is reused for the same repository, policy configuration and hook.
type SetKey = (PathBuf, String, &'static str);

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policies")
            .field("engine", &self.engine.as_ref().map(|_| "ready"))
            .finish_non_exhaustive()
    }
}

impl Policies {
    /// The engine with the CLI's limits and on-disk cache.
    pub fn new() -> Policies {
        Policies {
            engine: policy::cli_engine().map_err(|err| err.to_string()),
            sets: Mutex::new(HashMap::new()),
            scopes: Mutex::new(HashMap::new()),
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// The policies of `config` (for the repository at `repo`) that implement `hook`.
    fn set(
        &self,
        repo: &std::path::Path,
        config: &Config,
        hook: Hook,
    ) -> Result<(&Engine, Arc<PolicySet>), String> {
        let engine = self
            .engine
            .as_ref()
            .map_err(|err| format!("the policy engine failed to start: {err}"))?;
        let name = match hook {
            Hook::Admission => "admission",
            Hook::Review => "review",
            _ => "other",
        };
        let key = (repo.to_path_buf(), format!("{:?}", config.policies), name);
        let mut sets = self
            .sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let set = sets
            .entry(key)
            .or_insert_with(|| Arc::new(PolicySet::load_for(engine, &config.policies, Some(hook))))
            .clone();
        Ok((engine, set))
    }
}

impl Default for Policies {
    fn default() -> Self {
        Policies::new()
    }
}

/// The admission answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Start now.
    Start,
    /// Keep it queued, for this reason, and the queue behind it.
    Hold(String),
    /// Refuse it, for this reason.
    Reject(String),
    /// Keep it queued, for a reason of its own; the tasks behind it may start.
    Wait(String),
}

/// What admission sees of a task's spec: its Scope's patterns and its labels.
#[derive(Debug, Clone, Default)]
struct SpecSummary {
    modify: Vec<String>,
    create: Vec<String>,
    do_not_modify: Vec<String>,
    labels: Vec<String>,
}

impl SpecSummary {
    /// Reads the spec's text once (a spec that no longer parses has an empty summary: it was
    /// checked at launch).
    fn of(task: &Task) -> SpecSummary {
        let parsed = spec::parse(
            &task.launch.spec_path.display().to_string(),
            task.launch.spec_text.as_bytes(),
        );
        let Some(spec) = parsed.spec else {
            return SpecSummary::default();
        };
        let patterns =
            |entries: &[spec::ScopeEntry]| entries.iter().map(|e| e.pattern.clone()).collect();
        SpecSummary {
            modify: patterns(&spec.scope.modify),
            create: patterns(&spec.scope.create),
            do_not_modify: patterns(&spec.scope.do_not_modify),
            labels: spec.front_matter.labels,
        }
    }
}

/// The memo of spec summaries, locked once per round rather than once per task.
fn scopes(ctx: &Context) -> std::sync::MutexGuard<'_, HashMap<String, SpecSummary>> {
    ctx.policies
        .scopes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How a task looks to a policy: `attempts` is how many it has had.
fn task_view(
    scopes: &mut HashMap<String, SpecSummary>,
    task: &Task,
    attempts: u32,
) -> sdk::TaskView {
    let summary = match scopes.get(task.launch.id.as_str()) {
        Some(summary) => summary,
        None => scopes
            .entry(task.launch.id.clone())
            .or_insert(SpecSummary::of(task)),
    };
    sdk::TaskView {
        id: task.launch.id.clone(),
        title: task.launch.title.clone(),
        // `to_str` first: `display()` goes through the formatter, per task, per round.
        repo: task
            .launch
            .repo
            .to_str()
            .map_or_else(|| task.launch.repo.display().to_string(), str::to_owned),
        scope_entries: (summary.modify.len() + summary.create.len()) as u32,
        base_branch: task.launch.base_branch.clone(),
        base_commit: task.launch.base_commit.clone(),
        modify: summary.modify.clone(),
        create: summary.create.clone(),
        do_not_modify: summary.do_not_modify.clone(),
        labels: summary.labels.clone(),
        agent: task.launch.agent.clone(),
        launched_unix_ms: task.created_ms.max(0) as u64,
        attempts,
    }
}

/// Everything admission sees: what runs, what waits in the queue, what waits for review
/// (and how long), across all of the user's repositories.
pub fn host_state(ctx: &Context, all: &[Task]) -> sdk::HostState {
    let now = now_ms();
    let mut state = sdk::HostState {
        now_unix_ms: now.max(0) as u64,
        ..sdk::HostState::default()
    };
    let mut scopes = scopes(ctx);
    // Without the counts (an unreadable database), tasks show no attempts rather than
    // holding admission up.
    let attempts = ctx.store(|s| s.attempt_counts()).unwrap_or_default();
    let view = |scopes: &mut HashMap<String, SpecSummary>, task: &Task| {
        task_view(
            scopes,
            task,
            attempts.get(&task.launch.id).copied().unwrap_or(0),
        )
    };
    for task in all {
        match task.state {
            TaskState::Running | TaskState::Checking => {
                state.running.push(view(&mut scopes, task));
            }
            TaskState::Queued => state.queued.push(view(&mut scopes, task)),
            TaskState::Ready => {
                let since = ctx
                    .store(|s| s.entered(&task.launch.id, TaskState::Ready))
                    .ok()
                    .flatten()
                    .unwrap_or(task.updated_ms);
                state.awaiting_review.push(sdk::WaitingTask {
                    task: view(&mut scopes, task),
                    waited_secs: ((now - since).max(0) / 1000) as u64,
                });
            }
            _ => {}
        }
    }
    state
}

/// The configuration of a task's repository, as admission needs it: an invalid one holds
/// the task with the reason. Kept between rounds until one of its files changes.
pub fn repo_config(ctx: &Context, repo: &std::path::Path) -> Result<Arc<Config>, String> {
    let sources = ConfigSources::discover(Some(repo));
    let stamps: Vec<FileStamp> = [&sources.user, &sources.repo, &sources.local]
        .into_iter()
        .flatten()
        .map(|path| (path.clone(), stamp(path)))
        .collect();
    let mut configs = ctx
        .policies
        .configs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((seen, config)) = configs.get(repo)
        && *seen == stamps
    {
        return Ok(config.clone());
    }
    let config = Arc::new(
        Config::load(&sources)
            .map_err(|err| format!("the repository's configuration is invalid: {err}"))?,
    );
    configs.insert(repo.to_path_buf(), (stamps, config.clone()));
    Ok(config)
}

/// A file's modification time, size and inode, when it can be read.
fn stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Asks the admission policies of `config` (the task's repository's) about `task`, given
/// the host state. The first policy (in name order) that holds or rejects decides.
pub fn admission(ctx: &Context, config: &Config, task: &Task, state: &sdk::HostState) -> Admission {
    let (engine, set) = match ctx.policies.set(&task.launch.repo, config, Hook::Admission) {
        Ok(found) => found,
        Err(reason) => return Admission::Hold(reason),
    };
    // The host state has the task's view when it is queued (it is, when it asks).
    let view = match state.queued.iter().find(|view| view.id == task.launch.id) {
        Some(view) => view.clone(),
        None => {
            let attempts = ctx
                .store(|s| s.attempts(&task.launch.id))
                .map_or(0, |a| a.len() as u32);
            task_view(&mut scopes(ctx), task, attempts)
        }
    };
    // A hold or a rejection decides at once; a wait, only if no later policy holds or
    // rejects (a hold of the whole queue weighs more than one task's own wait).
    let mut wait = None;
    for verdict in set.admission(engine, &view, state) {
        match verdict.effective() {
            sdk::Admission::Start => {}
            sdk::Admission::Hold(reason) => {
                return Admission::Hold(format!("{}: {reason}", verdict.policy));
            }
            sdk::Admission::Reject(reason) => {
                return Admission::Reject(format!("{}: {reason}", verdict.policy));
            }
            sdk::Admission::Wait(reason) => {
                wait.get_or_insert_with(|| format!("{}: {reason}", verdict.policy));
            }
        }
    }
    wait.map_or(Admission::Start, Admission::Wait)
}

/// What the review policies are told about an attempt.
pub fn run_result(report: &AttemptReport) -> sdk::RunResult {
    let mut run = policy::view::run(&report.changes);
    run.agent = sdk::AgentExit {
        exit_code: match report.agent.ending {
            crate::runner::Ending::Exited(code) => Some(code),
            _ => None,
        },
        duration_ms: report.agent.duration.as_millis() as u64,
    };
    run.tests = report.test.as_ref().map(|t| sdk::TestOutcome {
        command: t.command.clone(),
        passed: t.passed,
        exit_code: t.exit_code,
        duration_ms: t.duration.as_millis() as u64,
        output: t.output_tail.clone(),
    });
    run
}

/// Asks the review policies about an attempt. A policy in monitor mode reports its errors
/// as warnings, so they never block acceptance.
pub fn review(
    ctx: &Context,
    config: &Config,
    spec: &Spec,
    task: &Task,
    report: &AttemptReport,
) -> Reviewed {
    let timed: Vec<(Report, std::time::Duration)> =
        match ctx.policies.set(&task.launch.repo, config, Hook::Review) {
            Err(reason) => vec![(
                Report {
                    policy: "agenthost".into(),
                    mode: PolicyMode::Enforce,
                    findings: vec![sdk::Finding::new(
                        verdict::FAILED_RULE,
                        sdk::Severity::Error,
                        format!(
                            "{reason} (fails closed: accepting this run is blocked until it works)"
                        ),
                    )],
                    failure: Some(reason),
                },
                std::time::Duration::ZERO,
            )],
            Ok((engine, set)) => {
                let view = policy::view::spec(spec);
                let run = run_result(report);
                set.review_timed(engine, &view, &run)
            }
        };
    let log = timed
        .iter()
        .map(|(report, took)| {
            let answer = match (&report.failure, report.findings.len()) {
                (Some(failure), _) => format!("FAILED: {failure}"),
                (None, 0) => "no findings".to_string(),
                (None, n) => format!("{n} finding(s)"),
            };
            let mode = match report.mode {
                PolicyMode::Enforce => "enforce",
                PolicyMode::Monitor => "monitor",
            };
            format!(
                "policy {} ({mode}): {answer}, in {} ms",
                report.policy,
                took.as_millis()
            )
        })
        .collect();
    let findings = timed
        .into_iter()
        .map(|(report, _)| report)
        .flat_map(|r| {
            let policy = r.policy.clone();
            r.effective_findings()
                .into_iter()
                .map(move |f| StoredFinding {
                    attempt: report.attempt,
                    policy: policy.clone(),
                    rule: f.rule,
                    severity: match f.severity {
                        sdk::Severity::Error => "error",
                        sdk::Severity::Warning => "warning",
                        sdk::Severity::Info => "info",
                    }
                    .to_string(),
                    message: f.message,
                    path: f.path,
                    line: f.line.map(i64::from),
                })
        })
        .collect();
    Reviewed { findings, log }
}

/// What the review policies said about an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    /// Their findings, as stored.
    pub findings: Vec<StoredFinding>,
    /// One line per policy for the attempt log: its answer and how long it took.
    pub log: Vec<String>,
}

/// What the acceptance policies said about a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptanceVerdict {
    /// Whether the spec may run.
    pub accepted: bool,
    /// The findings, rendered for the terminal (empty when there are none).
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_dir::StateDirs;
    use crate::supervisor::store::Store;

    #[test]
    fn a_repository_config_is_read_again_only_when_a_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let ctx = Context {
            dirs: StateDirs {
                root: dir.path().join("state"),
                runtime: dir.path().join("run"),
            },
            exe: PathBuf::from("agenthost"),
            host_env: Default::default(),
            home: dir.path().to_path_buf(),
            store: Arc::new(Mutex::new(
                Store::open(&dir.path().join("state.db")).unwrap(),
            )),
            policies: Policies::new(),
        };
        let first = repo_config(&ctx, &repo).unwrap();
        assert!(Arc::ptr_eq(&first, &repo_config(&ctx, &repo).unwrap()));

        std::fs::write(repo.join("agenthost.toml"), "[test]\ncommand = \"make\"\n").unwrap();
        let second = repo_config(&ctx, &repo).unwrap();
        assert_eq!(second.test.command.as_deref(), Some("make"));
        assert!(Arc::ptr_eq(&second, &repo_config(&ctx, &repo).unwrap()));

        std::fs::write(
            repo.join("agenthost.toml"),
            "[test]\ncommand = \"make check\"\n",
        )
        .unwrap();
        assert_eq!(
            repo_config(&ctx, &repo).unwrap().test.command.as_deref(),
            Some("make check")
        );

        std::fs::write(repo.join("agenthost.toml"), "[test]\ncommand = 1\n").unwrap();
        assert!(repo_config(&ctx, &repo).unwrap_err().contains("invalid"));
        std::fs::remove_file(repo.join("agenthost.toml")).unwrap();
        assert_eq!(repo_config(&ctx, &repo).unwrap().test.command, None);
    }
}

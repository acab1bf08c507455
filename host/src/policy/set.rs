//! The configured policies, loaded: what `check`, the supervisor and review call.

use std::collections::BTreeMap;
use std::path::PathBuf;

use agenthost_policy::{Admission, ConfigRequest, Hook, HostState, RunResult, Spec, TaskView};

use super::verdict::{self, AdmissionVerdict, Report};
use super::{Engine, Limits, LoadedPolicy, PolicyError, builtin};
use crate::config::{PolicyConfig, PolicySource};
use crate::state_dir::StateDirs;

/// One configured, enabled policy and how loading it went.
pub struct Entry {
    /// Its name under `[policies]`.
    pub name: String,
    /// Its configuration.
    pub config: PolicyConfig,
    /// The loaded plugin, or why it could not be loaded (it then fails closed at every
    /// hook it would have been asked).
    pub loaded: Result<LoadedPolicy, PolicyError>,
}

/// Every enabled policy of a configuration, loaded once.
pub struct PolicySet {
    entries: Vec<Entry>,
}

impl PolicySet {
    /// Loads every enabled policy in `policies`: reads (and pin-checks) its plugin,
    /// compiles it, asks its hooks, and validates its config when it can.
    pub fn load(engine: &Engine, policies: &BTreeMap<String, PolicyConfig>) -> PolicySet {
        PolicySet::load_for(engine, policies, None)
    }

    /// Like [`PolicySet::load`], but when `hook` is given, skips the built-ins that do not
    /// implement it (their hooks are known without compiling them). Plugins always load:
    /// only they can say what they implement.
    pub fn load_for(
        engine: &Engine,
        policies: &BTreeMap<String, PolicyConfig>,
        hook: Option<Hook>,
    ) -> PolicySet {
        let wanted = |config: &PolicyConfig| match (hook, &config.source) {
            (Some(hook), PolicySource::Builtin(builtin)) => {
                builtin_hooks(builtin.name()).contains(&hook)
            }
            _ => true,
        };
        let entries = policies
            .iter()
            .filter(|(_, config)| config.enabled && wanted(config))
            .map(|(name, config)| Entry {
                name: name.clone(),
                config: config.clone(),
                loaded: load_one(engine, name, config),
            })
            .collect();
        PolicySet { entries }
    }

    /// The policies, in name order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The policies, owned.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// The entries asked at `hook`: each loaded policy that implements it, and each policy
    /// that failed to load and could have (any plugin, or a built-in with that hook), which
    /// then fails closed.
    fn asked(
        &self,
        hook: Hook,
    ) -> impl Iterator<Item = (&Entry, Result<&LoadedPolicy, &PolicyError>)> {
        self.entries
            .iter()
            .filter_map(move |entry| match &entry.loaded {
                Ok(policy) if policy.implements(hook) => Some((entry, Ok(policy))),
                Ok(_) => None,
                Err(error) => {
                    let builtin_without_hook = matches!(
                        entry.config.source,
                        PolicySource::Builtin(b) if !builtin_hooks(b.name()).contains(&hook)
                    );
                    (!builtin_without_hook).then_some((entry, Err(error)))
                }
            })
    }

    /// Asks every acceptance policy about `spec`; one that failed to load rejects.
    pub fn acceptance(&self, engine: &Engine, spec: &Spec) -> Vec<Report> {
        self.asked(Hook::Acceptance)
            .map(|(entry, loaded)| match loaded {
                Ok(policy) => verdict::acceptance(
                    engine,
                    policy,
                    entry.config.mode,
                    &entry.config.config_json(),
                    spec,
                ),
                Err(error) => {
                    Report::failed(&entry.name, entry.config.mode, Hook::Acceptance, error)
                }
            })
            .collect()
    }

    /// Asks every admission policy, in name order, until one holds or rejects; one that
    /// failed to load holds. Returns the verdicts asked.
    pub fn admission(
        &self,
        engine: &Engine,
        task: &TaskView,
        state: &HostState,
    ) -> Vec<AdmissionVerdict> {
        let mut verdicts = Vec::new();
        for (entry, loaded) in self.asked(Hook::Admission) {
            let verdict = match loaded {
                Ok(policy) => verdict::admission(
                    engine,
                    policy,
                    entry.config.mode,
                    &entry.config.config_json(),
                    task,
                    state,
                ),
                Err(error) => AdmissionVerdict::failed(&entry.name, entry.config.mode, error),
            };
            // A hold or a rejection decides; a wait leaves the later policies to be asked (one
            // of them may hold the whole queue).
            let decided = matches!(
                verdict.effective(),
                Admission::Hold(_) | Admission::Reject(_)
            );
            verdicts.push(verdict);
            if decided {
                break;
            }
        }
        verdicts
    }

    /// Asks every review policy about a run; one that failed to load adds an error finding.
    pub fn review(&self, engine: &Engine, spec: &Spec, run: &RunResult) -> Vec<Report> {
        self.review_timed(engine, spec, run)
            .into_iter()
            .map(|(report, _)| report)
            .collect()
    }

    /// [`PolicySet::review`], with how long each policy took (for the attempt log).
    pub fn review_timed(
        &self,
        engine: &Engine,
        spec: &Spec,
        run: &RunResult,
    ) -> Vec<(Report, std::time::Duration)> {
        self.asked(Hook::Review)
            .map(|(entry, loaded)| {
                let started = std::time::Instant::now();
                let report = match loaded {
                    Ok(policy) => verdict::review(
                        engine,
                        policy,
                        entry.config.mode,
                        &entry.config.config_json(),
                        spec,
                        run,
                    ),
                    Err(error) => {
                        Report::failed(&entry.name, entry.config.mode, Hook::Review, error)
                    }
                };
                (report, started.elapsed())
            })
            .collect()
    }
}

/// The hooks a built-in policy implements, for reporting a built-in that failed to load.
fn builtin_hooks(name: &str) -> &'static [Hook] {
    match name {
        "spec-quality" => &[Hook::Acceptance],
        "review-bandwidth" | "scope-overlap" => &[Hook::Admission],
        _ => &[Hook::Review],
    }
}

fn load_one(
    engine: &Engine,
    name: &str,
    config: &PolicyConfig,
) -> Result<LoadedPolicy, PolicyError> {
    let policy = match &config.source {
        PolicySource::Builtin(builtin) => engine.load(name, builtin::wasm(*builtin), None)?,
        PolicySource::Plugin { path, sha256 } => {
            let bytes = fs_err::read(path).map_err(|source| PolicyError::Read {
                policy: name.to_string(),
                path: path.clone(),
                source,
            })?;
            engine.load(name, &bytes, *sha256)?
        }
    };
    if policy.implements(Hook::ValidateConfig) {
        let request = ConfigRequest {
            config: config.config_json(),
        };
        let answer = engine.call(&policy, &request)?;
        if !answer.answer.errors.is_empty() {
            return Err(PolicyError::InvalidConfig {
                policy: name.to_string(),
                errors: answer.answer.errors.join("; "),
            });
        }
    }
    Ok(policy)
}

/// The engine for the CLI and the supervisor: default limits, compiled code cached under
/// the user's cache directory (`$XDG_CACHE_HOME/agenthost/compiled`), each policy's stderr
/// appended to `<state>/logs/policy-<name>.log` (when there is a state directory).
pub fn cli_engine() -> Result<Engine, PolicyError> {
    let cache = dirs::cache_dir().map(|dir: PathBuf| dir.join("agenthost").join("compiled"));
    let engine = Engine::new(Limits::default(), cache)?;
    Ok(match StateDirs::discover() {
        Ok(dirs) => engine.with_log_dir(dirs.logs()),
        Err(_) => engine,
    })
}

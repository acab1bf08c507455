//! Typed components: the `agenthost:policy` interfaces of `sdk/wit/policy.wit`, called
//! through wasmtime's `bindgen!` with the SDK's types converted at the edge.
//!
//! A component may export any subset of `acceptance`, `admission`, `review` and `config`;
//! [`Exports::find`] looks at its exports once, at load time, and keeps the export indices
//! of those it has. Each call instantiates the pre-instantiated component in a fresh store
//! and loads (type-checks) only the interface it calls.

use agenthost_policy::{
    self as sdk, AcceptanceRequest, AdmissionRequest, ConfigErrors, ConfigRequest, Findings, Hook,
    ReviewRequest,
};
use wasmtime::component::{Component, Instance, InstancePre};
use wasmtime::{AsContextMut, Engine};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "policy",
    });
}

use bindings::agenthost::policy::types as wit;
use bindings::exports::agenthost::policy::{acceptance, admission, config, review};

/// The package whose interfaces a typed policy exports.
pub(super) const PACKAGE: &str = "agenthost:policy";

/// The hook interfaces a component exports, as export indices found at load time.
#[derive(Clone, Default)]
pub struct Exports {
    acceptance: Option<acceptance::GuestIndices>,
    admission: Option<admission::GuestIndices>,
    review: Option<review::GuestIndices>,
    config: Option<config::GuestIndices>,
}

impl Exports {
    /// The interfaces `pre` exports. `Err` names an export the host cannot use: an
    /// `agenthost:policy` interface of another version, or one without its function.
    pub fn find<T>(engine: &Engine, pre: &InstancePre<T>) -> Result<Exports, String> {
        let component: &Component = pre.component();
        let version = format!("@{}", sdk::ABI_VERSION);
        for (name, _) in component.component_type().exports(engine) {
            if let Some(rest) = name.strip_prefix(PACKAGE)
                && rest.starts_with('/')
                && !rest.ends_with(&version)
            {
                return Err(format!(
                    "it exports `{name}`, but this agenthost speaks `{PACKAGE}{version}`: rebuild it against the matching SDK"
                ));
            }
        }
        let has = |interface: &str| {
            component
                .get_export_index(None, format!("{PACKAGE}/{interface}{version}").as_str())
                .is_some()
        };
        let wrong = |err: wasmtime::Error| format!("{err:#}");
        Ok(Exports {
            acceptance: has("acceptance")
                .then(|| acceptance::GuestIndices::new(pre))
                .transpose()
                .map_err(wrong)?,
            admission: has("admission")
                .then(|| admission::GuestIndices::new(pre))
                .transpose()
                .map_err(wrong)?,
            review: has("review")
                .then(|| review::GuestIndices::new(pre))
                .transpose()
                .map_err(wrong)?,
            config: has("config")
                .then(|| config::GuestIndices::new(pre))
                .transpose()
                .map_err(wrong)?,
        })
    }

    /// Whether the component exports any hook interface.
    pub fn any(&self) -> bool {
        !self.hooks().is_empty()
    }

    /// The hooks the component exports, in order.
    pub fn hooks(&self) -> Vec<Hook> {
        let mut hooks = Vec::new();
        if self.acceptance.is_some() {
            hooks.push(Hook::Acceptance);
        }
        if self.admission.is_some() {
            hooks.push(Hook::Admission);
        }
        if self.review.is_some() {
            hooks.push(Hook::Review);
        }
        if self.config.is_some() {
            hooks.push(Hook::ValidateConfig);
        }
        hooks
    }

    /// Type-checks every exported interface against `instance`: a component whose
    /// functions have other types than the WIT fails here, at load time.
    pub fn check(&self, mut store: impl AsContextMut, instance: &Instance) -> wasmtime::Result<()> {
        if let Some(indices) = &self.acceptance {
            indices.load(&mut store, instance)?;
        }
        if let Some(indices) = &self.admission {
            indices.load(&mut store, instance)?;
        }
        if let Some(indices) = &self.review {
            indices.load(&mut store, instance)?;
        }
        if let Some(indices) = &self.config {
            indices.load(&mut store, instance)?;
        }
        Ok(())
    }
}

/// Why a typed call did not produce an answer.
pub enum CallError {
    /// The component does not export the hook's interface.
    Missing,
    /// Loading or calling failed inside wasmtime (trap, deadline, memory, types).
    Wasm(wasmtime::Error),
}

impl From<wasmtime::Error> for CallError {
    fn from(err: wasmtime::Error) -> Self {
        CallError::Wasm(err)
    }
}

/// A request the host sends to one hook, with the answer it expects: the same types for
/// both ABIs (JSON for WASI commands, WIT values for components).
pub trait HookRequest: serde::Serialize {
    /// The hook it is for.
    const HOOK: Hook;
    /// The answer.
    type Answer: serde::de::DeserializeOwned + serde::Serialize;

    /// How many bytes of data the request carries (its strings), for the request cap.
    fn size(&self) -> usize;

    /// Calls the hook on `instance`.
    fn call_typed(
        &self,
        exports: &Exports,
        store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<Self::Answer, CallError>;

    /// How many bytes of data the answer carries, for the answer cap.
    fn answer_size(answer: &Self::Answer) -> usize;
}

impl HookRequest for AcceptanceRequest {
    const HOOK: Hook = Hook::Acceptance;
    type Answer = Findings;

    fn size(&self) -> usize {
        config_size(&self.config) + spec_size(&self.spec)
    }

    fn call_typed(
        &self,
        exports: &Exports,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<Findings, CallError> {
        let indices = exports.acceptance.as_ref().ok_or(CallError::Missing)?;
        let guest = indices.load(&mut store, instance)?;
        let findings =
            guest.call_check_spec(&mut store, &self.config.to_string(), &spec(&self.spec))?;
        Ok(findings_from(findings))
    }

    fn answer_size(answer: &Findings) -> usize {
        findings_size(&answer.findings)
    }
}

impl HookRequest for ReviewRequest {
    const HOOK: Hook = Hook::Review;
    type Answer = Findings;

    fn size(&self) -> usize {
        let run = &self.run;
        config_size(&self.config)
            + spec_size(&self.spec)
            + run.patch.len()
            + run
                .changed_files
                .iter()
                .map(|f| 32 + f.path.len() + f.old_path.as_ref().map_or(0, String::len))
                .sum::<usize>()
            + run
                .tests
                .as_ref()
                .map_or(0, |t| 32 + t.command.len() + t.output.len())
    }

    fn call_typed(
        &self,
        exports: &Exports,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<Findings, CallError> {
        let indices = exports.review.as_ref().ok_or(CallError::Missing)?;
        let guest = indices.load(&mut store, instance)?;
        let findings = guest.call_review_run(
            &mut store,
            &self.config.to_string(),
            &spec(&self.spec),
            &run(&self.run),
        )?;
        Ok(findings_from(findings))
    }

    fn answer_size(answer: &Findings) -> usize {
        findings_size(&answer.findings)
    }
}

impl HookRequest for AdmissionRequest {
    const HOOK: Hook = Hook::Admission;
    type Answer = sdk::Admission;

    fn size(&self) -> usize {
        AdmissionQuery::from(self).size()
    }

    fn call_typed(
        &self,
        exports: &Exports,
        store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<sdk::Admission, CallError> {
        AdmissionQuery::from(self).call_typed(exports, store, instance)
    }

    fn answer_size(answer: &sdk::Admission) -> usize {
        AdmissionQuery::answer_size(answer)
    }
}

/// An admission request that borrows its parts: the scheduler asks with the same host
/// state (every running and queued task) each round, and need not copy it per policy.
/// It serializes exactly as [`AdmissionRequest`].
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct AdmissionQuery<'a> {
    /// The policy's config.
    pub config: &'a serde_json::Value,
    /// The task that asks to start.
    pub task: &'a sdk::TaskView,
    /// What runs and waits now.
    pub state: &'a sdk::HostState,
}

impl<'a> From<&'a AdmissionRequest> for AdmissionQuery<'a> {
    fn from(request: &'a AdmissionRequest) -> Self {
        AdmissionQuery {
            config: &request.config,
            task: &request.task,
            state: &request.state,
        }
    }
}

impl HookRequest for AdmissionQuery<'_> {
    const HOOK: Hook = Hook::Admission;
    type Answer = sdk::Admission;

    fn size(&self) -> usize {
        let state = &self.state;
        config_size(self.config)
            + task_size(self.task)
            + state.running.iter().map(task_size).sum::<usize>()
            + state.queued.iter().map(task_size).sum::<usize>()
            + state
                .awaiting_review
                .iter()
                .map(|w| 8 + task_size(&w.task))
                .sum::<usize>()
    }

    fn call_typed(
        &self,
        exports: &Exports,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<sdk::Admission, CallError> {
        let indices = exports.admission.as_ref().ok_or(CallError::Missing)?;
        let guest = indices.load(&mut store, instance)?;
        let state = wit::HostState {
            now_unix_ms: self.state.now_unix_ms,
            running: self.state.running.iter().map(task).collect(),
            queued: self.state.queued.iter().map(task).collect(),
            awaiting_review: self
                .state
                .awaiting_review
                .iter()
                .map(|w| wit::WaitingTask {
                    task: task(&w.task),
                    waited_secs: w.waited_secs,
                })
                .collect(),
        };
        let answer = guest.call_admit(
            &mut store,
            &self.config.to_string(),
            &task(self.task),
            &state,
        )?;
        Ok(match answer {
            wit::Admission::Start => sdk::Admission::Start,
            wit::Admission::Hold(reason) => sdk::Admission::Hold(reason),
            wit::Admission::Reject(reason) => sdk::Admission::Reject(reason),
        })
    }

    fn answer_size(answer: &sdk::Admission) -> usize {
        match answer {
            sdk::Admission::Start => 0,
            sdk::Admission::Hold(reason) | sdk::Admission::Reject(reason) => reason.len(),
        }
    }
}

impl HookRequest for ConfigRequest {
    const HOOK: Hook = Hook::ValidateConfig;
    type Answer = ConfigErrors;

    fn size(&self) -> usize {
        config_size(&self.config)
    }

    fn call_typed(
        &self,
        exports: &Exports,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<ConfigErrors, CallError> {
        let indices = exports.config.as_ref().ok_or(CallError::Missing)?;
        let guest = indices.load(&mut store, instance)?;
        let errors = guest.call_validate(&mut store, &self.config.to_string())?;
        Ok(ConfigErrors { errors })
    }

    fn answer_size(answer: &ConfigErrors) -> usize {
        answer.errors.iter().map(String::len).sum()
    }
}

fn config_size(config: &serde_json::Value) -> usize {
    match config {
        serde_json::Value::Object(map) if map.is_empty() => 2,
        other => other.to_string().len(),
    }
}

fn spec_size(spec: &sdk::Spec) -> usize {
    let entries = |entries: &[sdk::ScopeEntry]| {
        entries
            .iter()
            .map(|e| 8 + e.written.len() + e.pattern.len())
            .sum::<usize>()
    };
    let scope = &spec.scope;
    spec.id.len()
        + spec.title.len()
        + spec
            .sections
            .iter()
            .map(|s| 8 + s.heading.len() + s.text.len())
            .sum::<usize>()
        + entries(&scope.modify)
        + entries(&scope.create)
        + entries(&scope.do_not_modify)
        + scope
            .constraints
            .iter()
            .map(|c| 4 + c.text.len())
            .sum::<usize>()
}

fn task_size(task: &sdk::TaskView) -> usize {
    8 + task.id.len() + task.title.len() + task.repo.len()
}

fn findings_size(findings: &[sdk::Finding]) -> usize {
    findings
        .iter()
        .map(|f| 8 + f.rule.len() + f.message.len() + f.path.as_ref().map_or(0, String::len))
        .sum()
}

fn spec(spec: &sdk::Spec) -> wit::Spec {
    let fm = &spec.front_matter;
    wit::Spec {
        id: spec.id.clone(),
        title: spec.title.clone(),
        front_matter: wit::FrontMatter {
            id: fm.id.clone(),
            title: fm.title.clone(),
            agent: fm.agent.clone(),
            test: fm.test.clone(),
            timeout_secs: fm.timeout_secs,
            base: fm.base.clone(),
            labels: fm.labels.clone(),
        },
        sections: spec
            .sections
            .iter()
            .map(|s| wit::Section {
                heading: s.heading.clone(),
                level: s.level,
                line: s.line,
                text: s.text.clone(),
            })
            .collect(),
        scope: wit::Scope {
            line: spec.scope.line,
            modify: entries(&spec.scope.modify),
            create: entries(&spec.scope.create),
            do_not_modify: entries(&spec.scope.do_not_modify),
            constraints: spec
                .scope
                .constraints
                .iter()
                .map(|c| wit::Constraint {
                    text: c.text.clone(),
                    line: c.line,
                })
                .collect(),
        },
    }
}

fn entries(entries: &[sdk::ScopeEntry]) -> Vec<wit::ScopeEntry> {
    entries
        .iter()
        .map(|e| wit::ScopeEntry {
            written: e.written.clone(),
            pattern: e.pattern.clone(),
            is_glob: e.is_glob,
            line: e.line,
        })
        .collect()
}

fn task(task: &sdk::TaskView) -> wit::TaskView {
    wit::TaskView {
        id: task.id.clone(),
        title: task.title.clone(),
        repo: task.repo.clone(),
        scope_entries: task.scope_entries,
    }
}

fn run(run: &sdk::RunResult) -> wit::RunResult {
    wit::RunResult {
        changed_files: run
            .changed_files
            .iter()
            .map(|f| wit::ChangedFile {
                path: f.path.clone(),
                old_path: f.old_path.clone(),
                kind: match f.kind {
                    sdk::ChangeKind::Added => wit::ChangeKind::Added,
                    sdk::ChangeKind::Modified => wit::ChangeKind::Modified,
                    sdk::ChangeKind::Deleted => wit::ChangeKind::Deleted,
                    sdk::ChangeKind::Renamed => wit::ChangeKind::Renamed,
                },
                added_lines: f.added_lines,
                removed_lines: f.removed_lines,
            })
            .collect(),
        patch: run.patch.clone(),
        agent: wit::AgentExit {
            exit_code: run.agent.exit_code,
            duration_ms: run.agent.duration_ms,
        },
        tests: run.tests.as_ref().map(|t| wit::TestOutcome {
            command: t.command.clone(),
            passed: t.passed,
            exit_code: t.exit_code,
            duration_ms: t.duration_ms,
            output: t.output.clone(),
        }),
    }
}

fn findings_from(findings: Vec<wit::Finding>) -> Findings {
    Findings {
        findings: findings
            .into_iter()
            .map(|f| sdk::Finding {
                rule: f.rule,
                severity: match f.severity {
                    wit::Severity::Info => sdk::Severity::Info,
                    wit::Severity::Warning => sdk::Severity::Warning,
                    wit::Severity::Error => sdk::Severity::Error,
                },
                message: f.message,
                path: f.path,
                line: f.line,
            })
            .collect(),
    }
}

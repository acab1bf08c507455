//! Typed components: the `agenthost:policy` interfaces of `sdk/wit/policy.wit`, called
//! through wasmtime's `bindgen!` with the SDK's wire types as the WIT types.
//!
//! A component may export any subset of `acceptance`, `admission`, `review` and `config`,
//! all of one version: the current one, or 0.1.0 ([`v0_1`], which sees narrower task
//! views). [`Exports::find`] looks at its exports once, at load time, and keeps the export
//! indices of those it has. Each call instantiates the pre-instantiated component in a
//! fresh store and loads (type-checks) only the interface it calls.

mod v0_1;

use agenthost_policy::{
    self as sdk, AcceptanceRequest, AdmissionRequest, ConfigErrors, ConfigRequest, Findings, Hook,
    ReviewRequest,
};
use wasmtime::component::{Component, Instance, InstancePre};
use wasmtime::{AsContextMut, Engine};

/// The WIT `types` interface as the bindings below see it: the SDK's wire types, which
/// derive wasmtime's component traits (one definition for the host, the JSON ABI and typed
/// components), and the empty host trait and linker function of an interface that has no
/// functions, as `bindgen!` generates them.
#[allow(unreachable_pub)] // `bindgen!` re-exports it as its `types` module.
pub mod wire {
    pub use agenthost_policy::*;
    pub use generated::agenthost::policy::types::{Host, HostWithStore, add_to_linker};

    mod generated {
        wasmtime::component::bindgen!({
            path: "../sdk/wit",
            inline: "package agenthost:host; world types { import agenthost:policy/types@0.2.0; }",
        });
    }
}

mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "policy",
        with: { "agenthost:policy/types": super::wire },
    });
}

use bindings::exports::agenthost::policy::{acceptance, admission, config, review};

/// The package whose interfaces a typed policy exports.
pub(super) const PACKAGE: &str = "agenthost:policy";

/// The interface versions the host loads: the current one first.
pub(super) const VERSIONS: [&str; 2] = [sdk::ABI_VERSION, v0_1::VERSION];

/// One hook's export indices, in the version the component was built for.
#[derive(Clone)]
enum Indices<Current, Old> {
    /// The current version.
    Current(Current),
    /// `agenthost:policy@0.1.0`.
    V0_1(Old),
}

/// Loads the hook's interface from `$indices` (whichever version it is) as `$guest` and
/// evaluates `$call` with it: the calls are the same in both versions' bindings.
macro_rules! with_guest {
    ($indices:expr, $store:ident, $instance:ident, |$guest:ident| $call:expr) => {
        match $indices.ok_or(CallError::Missing)? {
            Indices::Current(indices) => {
                let $guest = indices.load(&mut $store, $instance)?;
                $call
            }
            Indices::V0_1(indices) => {
                let $guest = indices.load(&mut $store, $instance)?;
                $call
            }
        }
    };
}

/// The hook interfaces a component exports, as export indices found at load time.
#[derive(Clone, Default)]
pub struct Exports {
    /// The interface version of its exports (the current one when it has none).
    version: &'static str,
    acceptance: Option<Indices<acceptance::GuestIndices, v0_1::acceptance::GuestIndices>>,
    admission: Option<Indices<admission::GuestIndices, v0_1::admission::GuestIndices>>,
    review: Option<Indices<review::GuestIndices, v0_1::review::GuestIndices>>,
    config: Option<Indices<config::GuestIndices, v0_1::config::GuestIndices>>,
}

/// One hook's indices when the component exports its interface: `$variant` names the
/// version, `$module` the bindings of that version's interface.
macro_rules! indices {
    ($pre:expr, $has:expr, $interface:literal, $variant:ident, $module:path) => {{
        use $module as bindings;
        $has($interface)
            .then(|| bindings::GuestIndices::new($pre).map(Indices::$variant))
            .transpose()
            .map_err(|err| format!("{err:#}"))?
    }};
}

impl Exports {
    /// The interfaces `pre` exports. `Err` names an export the host cannot use: an
    /// `agenthost:policy` interface of a version it does not know, interfaces of two
    /// versions, or one without its function.
    pub fn find<T>(engine: &Engine, pre: &InstancePre<T>) -> Result<Exports, String> {
        let component: &Component = pre.component();
        let mut found: Option<(&'static str, String)> = None;
        for (name, _) in component.component_type().exports(engine) {
            let Some(rest) = name.strip_prefix(PACKAGE).filter(|r| r.starts_with('/')) else {
                continue;
            };
            let written = rest.rsplit_once('@').map_or("", |(_, version)| version);
            let Some(version) = VERSIONS.into_iter().find(|known| *known == written) else {
                return Err(format!(
                    "it exports `{name}`, but this agenthost speaks `{PACKAGE}@{}` (and still loads @{}): rebuild it against the matching SDK",
                    sdk::ABI_VERSION,
                    v0_1::VERSION
                ));
            };
            match &found {
                Some((first, first_name)) if *first != version => {
                    return Err(format!(
                        "it exports `{first_name}` and `{name}`: a component speaks one version of `{PACKAGE}`"
                    ));
                }
                Some(_) => {}
                None => found = Some((version, name.to_string())),
            }
        }
        let version = found.map_or(sdk::ABI_VERSION, |(version, _)| version);
        let has = |interface: &str| {
            component
                .get_export_index(None, format!("{PACKAGE}/{interface}@{version}").as_str())
                .is_some()
        };
        Ok(if version == sdk::ABI_VERSION {
            Exports {
                version,
                acceptance: indices!(pre, has, "acceptance", Current, acceptance),
                admission: indices!(pre, has, "admission", Current, admission),
                review: indices!(pre, has, "review", Current, review),
                config: indices!(pre, has, "config", Current, config),
            }
        } else {
            Exports {
                version,
                acceptance: indices!(pre, has, "acceptance", V0_1, v0_1::acceptance),
                admission: indices!(pre, has, "admission", V0_1, v0_1::admission),
                review: indices!(pre, has, "review", V0_1, v0_1::review),
                config: indices!(pre, has, "config", V0_1, v0_1::config),
            }
        })
    }

    /// The interface version the component was built for.
    pub fn version(&self) -> &'static str {
        self.version
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
        /// Loads one hook's interface, whichever version it is.
        macro_rules! load {
            ($indices:expr) => {
                match $indices {
                    Some(Indices::Current(indices)) => {
                        indices.load(&mut store, instance)?;
                    }
                    Some(Indices::V0_1(indices)) => {
                        indices.load(&mut store, instance)?;
                    }
                    None => {}
                }
            };
        }
        load!(&self.acceptance);
        load!(&self.admission);
        load!(&self.review);
        load!(&self.config);
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

    /// Calls the hook on `instance`.
    fn call_typed(
        &self,
        exports: &Exports,
        store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<Self::Answer, CallError>;
}

impl HookRequest for AcceptanceRequest {
    const HOOK: Hook = Hook::Acceptance;
    type Answer = Findings;

    fn call_typed(
        &self,
        exports: &Exports,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<Findings, CallError> {
        let config = self.config.to_string();
        let findings = with_guest!(exports.acceptance.as_ref(), store, instance, |guest| {
            guest.call_check_spec(&mut store, &config, &self.spec)?
        });
        Ok(Findings { findings })
    }
}

impl HookRequest for ReviewRequest {
    const HOOK: Hook = Hook::Review;
    type Answer = Findings;

    fn call_typed(
        &self,
        exports: &Exports,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<Findings, CallError> {
        let config = self.config.to_string();
        let findings = with_guest!(exports.review.as_ref(), store, instance, |guest| {
            guest.call_review_run(&mut store, &config, &self.spec, &self.run)?
        });
        Ok(Findings { findings })
    }
}

impl HookRequest for AdmissionRequest {
    const HOOK: Hook = Hook::Admission;
    type Answer = sdk::Admission;

    fn call_typed(
        &self,
        exports: &Exports,
        store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<sdk::Admission, CallError> {
        AdmissionQuery::from(self).call_typed(exports, store, instance)
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

    fn call_typed(
        &self,
        exports: &Exports,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<sdk::Admission, CallError> {
        let config = self.config.to_string();
        Ok(
            match exports.admission.as_ref().ok_or(CallError::Missing)? {
                Indices::Current(indices) => indices
                    .load(&mut store, instance)?
                    .call_admit(&mut store, &config, self.task, self.state)?,
                Indices::V0_1(indices) => indices
                    .load(&mut store, instance)?
                    .call_admit(
                        &mut store,
                        &config,
                        &v0_1::wire::TaskView::from(self.task),
                        &v0_1::wire::HostState::from(self.state),
                    )?
                    .into(),
            },
        )
    }
}

impl HookRequest for ConfigRequest {
    const HOOK: Hook = Hook::ValidateConfig;
    type Answer = ConfigErrors;

    fn call_typed(
        &self,
        exports: &Exports,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<ConfigErrors, CallError> {
        let config = self.config.to_string();
        let errors = with_guest!(exports.config.as_ref(), store, instance, |guest| {
            guest.call_validate(&mut store, &config)?
        });
        Ok(ConfigErrors { errors })
    }
}

/// How many bytes `value` takes as JSON: the measure of the request and answer caps,
/// whichever ABI carries the value (a WASI command gets exactly these bytes).
pub(super) fn json_size(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serializing these types cannot fail: their maps have string keys.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

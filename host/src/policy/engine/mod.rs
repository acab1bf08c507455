//! One wasmtime engine, the linkers, loading plugins and calling their hooks.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agenthost_policy::{Description, Hook};
use sha2::{Digest, Sha256 as Sha256Hasher};
use wasmtime::component::{Component, InstancePre, ResourceTable};
use wasmtime::{Config, InstanceAllocationStrategy, Module, PoolingAllocationConfig, Store, Trap};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use super::compiled::CompiledCache;
use super::guest::{
    ComponentState, FrozenClock, Guarded, MemoryGuard, ModuleState, Pipes, TICK, hook_list,
    is_component, no_sleeping, spawn_ticker, trap_reason,
};
use super::log::PolicyLog;
use super::typed::{self, Exports, HookRequest};
use super::{Limits, PolicyError};
use crate::config::Sha256;

mod calls;

/// How many calls may run at once: the pooling allocator's component instances, linear
/// memories and WASI-command instances. Each slot reserves address space for one memory of
/// `Limits::memory`.
pub(super) const POOL_SLOTS: u32 = 64;

/// The most core instances one component may create. Components built from an interpreter
/// link several modules: a componentize-py component instantiates 14 (libc, libpython, its
/// runtime, the WASI adapter, ...), a componentize-js one 4, the Rust SDK's 3. A component
/// over this is refused when it loads, with the count.
pub(super) const CORE_INSTANCES_PER_COMPONENT: u32 = 32;

/// Core instances across all live calls: 16 per slot, so that every slot can run a
/// componentize-py guest at the same time. (An instance slot is a counter and the instance's
/// metadata, allocated when used; it reserves no memory up front.)
const TOTAL_CORE_INSTANCES: u32 = POOL_SLOTS * 16;

/// The most tables one component may define (componentize-py and componentize-js define 2:
/// the program's and the WASI adapter shim's), and across all live calls 4 per slot. A
/// table slot reserves address space for `20_000` elements (wasmtime's default), 160 KiB.
pub(super) const TABLES_PER_COMPONENT: u32 = 8;
const TOTAL_TABLES: u32 = POOL_SLOTS * 4;

/// The policy engine: one wasmtime engine, its linkers and its limits. Cheap to share by
/// reference; every call gets a fresh store.
pub struct Engine {
    engine: wasmtime::Engine,
    cache: Option<CompiledCache>,
    modules: wasmtime::Linker<ModuleState>,
    components: wasmtime::component::Linker<ComponentState>,
    limits: Limits,
    ticker: Arc<AtomicBool>,
    log: Option<PolicyLog>,
}

/// A plugin, compiled, pre-instantiated and asked which hooks it implements.
pub struct LoadedPolicy {
    name: String,
    digest: Sha256,
    kind: PolicyKind,
    hooks: Vec<Hook>,
    pre: Pre,
}

/// What kind of WebAssembly a plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A core module using WASI preview 1 (`wasm32-wasip1`), run as a command.
    WasiP1Command,
    /// A component exporting `wasi:cli/run` (`wasm32-wasip2`), run as a command.
    WasiP2Command,
    /// A component exporting the typed `agenthost:policy` interfaces (`sdk/wit`).
    Component,
}

impl PolicyKind {
    /// A short name for listings.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::WasiP1Command => "wasi-p1 command",
            PolicyKind::WasiP2Command => "wasi-p2 command",
            PolicyKind::Component => "component",
        }
    }
}

enum Pre {
    Module(wasmtime::InstancePre<ModuleState>),
    Component(CommandPre<ComponentState>),
    Typed(InstancePre<ComponentState>, Exports),
}

impl LoadedPolicy {
    /// The policy's name in the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's SHA-256.
    pub fn digest(&self) -> Sha256 {
        self.digest
    }

    /// The kind of plugin.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The hooks it implements, as it said at load time.
    pub fn hooks(&self) -> &[Hook] {
        &self.hooks
    }

    /// Whether it implements `hook`.
    pub fn implements(&self, hook: Hook) -> bool {
        self.hooks.contains(&hook)
    }
}

/// One answered call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call<T> {
    /// The answer.
    pub answer: T,
    /// Wall time of the call, instantiation included.
    pub elapsed: Duration,
    /// The most linear memory the guest had, in bytes.
    pub peak_memory: usize,
    /// What the guest wrote to stderr.
    pub log: String,
}

/// The raw outcome of running a guest once.
struct Raw {
    stdout: Vec<u8>,
    log: String,
    peak_memory: usize,
}

impl Engine {
    /// An engine with `limits`, caching compiled code in `cache_dir` when given.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Engine, PolicyError> {
        let engine_error = |err: wasmtime::Error| PolicyError::Engine {
            reason: format!("{err:#}"),
        };
        let mut pool = PoolingAllocationConfig::default();
        // No async, so no fiber stacks: the default reserves (and mprotects) 1,000 of
        // them, which was most of a new engine's cost (2.6 ms to make, 1.2 ms to drop).
        pool.total_stacks(0)
            .total_memories(POOL_SLOTS)
            .total_tables(TOTAL_TABLES)
            .total_core_instances(TOTAL_CORE_INSTANCES)
            .total_component_instances(POOL_SLOTS)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .max_memory_size(limits.memory);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .wasm_component_model(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = wasmtime::Engine::new(&config).map_err(engine_error)?;
        let cache = cache_dir.map(|dir| CompiledCache::new(dir, &engine));

        let mut modules = wasmtime::Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut modules, |state: &mut ModuleState| {
            &mut state.wasi
        })
        .map_err(engine_error)?;
        let mut components = wasmtime::component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut components).map_err(engine_error)?;
        // Typed components import the type-only `types` interface (of the version they were
        // built for); it has no functions.
        for version in typed::VERSIONS {
            components
                .instance(&format!("{}/types@{version}", typed::PACKAGE))
                .map_err(engine_error)?;
        }
        no_sleeping(&mut modules, &mut components).map_err(engine_error)?;

        let ticker = Arc::new(AtomicBool::new(true));
        spawn_ticker(engine.weak(), ticker.clone());
        Ok(Engine {
            engine,
            cache,
            modules,
            components,
            limits,
            ticker,
            log: None,
        })
    }

    /// The same engine, appending each policy's stderr to a bounded file per policy in
    /// `dir` (as well as keeping it in memory for the caller).
    pub fn with_log_dir(mut self, dir: PathBuf) -> Engine {
        self.log = Some(PolicyLog::new(dir, self.limits.log_file));
        self
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The file a policy's stderr goes to, when the engine keeps log files.
    pub fn log_file(&self, policy: &str) -> Option<PathBuf> {
        self.log.as_ref().map(|log| log.path(policy))
    }

    /// Checks `bytes` against `pin`, compiles and pre-instantiates them, and finds out
    /// which hooks the policy implements: a typed component by its exports (instantiated
    /// once to type-check them), a WASI command by asking it (`describe`).
    pub fn load(
        &self,
        name: &str,
        bytes: &[u8],
        pin: Option<Sha256>,
    ) -> Result<LoadedPolicy, PolicyError> {
        let digest = Sha256(Sha256Hasher::digest(bytes).into());
        if let Some(expected) = pin
            && expected != digest
        {
            return Err(PolicyError::PinMismatch {
                policy: name.to_string(),
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        let invalid = |err: wasmtime::Error| PolicyError::InvalidBinary {
            policy: name.to_string(),
            reason: format!("{err:#}"),
        };
        let missing = |reason: String| PolicyError::MissingExport {
            policy: name.to_string(),
            reason,
        };
        let (kind, pre) = if is_component(bytes) {
            let component = match self.cache_get(&digest, CompiledCache::component) {
                Some(component) => component,
                None => {
                    let component = Component::new(&self.engine, bytes).map_err(invalid)?;
                    self.cache_put(&digest, "component", component.serialize());
                    component
                }
            };
            let pre = self.components.instantiate_pre(&component).map_err(|err| {
                missing(format!(
                    "cannot link its imports (only WASI is offered): {err:#}"
                ))
            })?;
            let exports =
                Exports::find(&self.engine, &pre).map_err(|reason| PolicyError::WrongTypes {
                    policy: name.to_string(),
                    reason,
                })?;
            if exports.any() {
                (PolicyKind::Component, Pre::Typed(pre, exports))
            } else {
                let pre = CommandPre::new(pre).map_err(|err| {
                    missing(format!(
                        "it is a component that exports neither an `agenthost:policy` interface nor `wasi:cli/run`: {err:#}"
                    ))
                })?;
                (PolicyKind::WasiP2Command, Pre::Component(pre))
            }
        } else {
            let module = match self.cache_get(&digest, CompiledCache::module) {
                Some(module) => module,
                None => {
                    let module = Module::new(&self.engine, bytes).map_err(invalid)?;
                    self.cache_put(&digest, "module", module.serialize());
                    module
                }
            };
            if module.get_export("_start").is_none() {
                return Err(missing(
                    "it is a module without `_start`: not a WASI command".to_string(),
                ));
            }
            let pre = self.modules.instantiate_pre(&module).map_err(|err| {
                missing(format!(
                    "cannot link its imports (only WASI preview 1 is offered): {err:#}"
                ))
            })?;
            (PolicyKind::WasiP1Command, Pre::Module(pre))
        };
        let mut policy = LoadedPolicy {
            name: name.to_string(),
            digest,
            kind,
            hooks: Vec::new(),
            pre,
        };
        policy.hooks = match &policy.pre {
            Pre::Typed(_, exports) => {
                self.check_typed(&policy)?;
                exports.hooks()
            }
            _ => {
                let description: Call<Description> =
                    self.call_command_json(&policy, Hook::Describe, b"")?;
                let mut hooks = description.answer.hooks;
                hooks
                    .retain(|hook| Hook::DECISIONS.contains(hook) || *hook == Hook::ValidateConfig);
                hooks.sort();
                hooks.dedup();
                hooks
            }
        };
        Ok(policy)
    }

    /// The compiled code of `digest` from the on-disk cache, when there is one.
    fn cache_get<T>(
        &self,
        digest: &Sha256,
        get: fn(&CompiledCache, &wasmtime::Engine, &Sha256) -> Option<T>,
    ) -> Option<T> {
        get(self.cache.as_ref()?, &self.engine, digest)
    }

    /// Keeps freshly compiled code for later processes. Failing to is not the policy's
    /// fault and costs only a compile next time, so it is reported and loading goes on.
    fn cache_put(&self, digest: &Sha256, kind: &str, serialized: wasmtime::Result<Vec<u8>>) {
        let Some(cache) = &self.cache else { return };
        let stored = match serialized {
            Ok(bytes) => cache.store(digest, kind, &bytes).map_err(|e| e.to_string()),
            Err(err) => Err(format!("cannot serialize the compiled policy: {err:#}")),
        };
        if let Err(reason) = stored {
            eprintln!("agenthost: warning: {reason} (it will be compiled again next time)");
        }
    }

    /// Calls the hook of `request` and returns its answer. A typed component gets WIT
    /// values; a WASI command gets the request as JSON on stdin.
    pub fn call<R: HookRequest>(
        &self,
        policy: &LoadedPolicy,
        request: &R,
    ) -> Result<Call<R::Answer>, PolicyError> {
        let hook = R::HOOK;
        if !policy.implements(hook) {
            return Err(PolicyError::MissingHook {
                policy: policy.name.clone(),
                hook,
                hooks: hook_list(&policy.hooks),
            });
        }
        match &policy.pre {
            Pre::Typed(..) => self.call_typed(policy, request),
            _ => {
                let request = serde_json::to_vec(request).map_err(|err| PolicyError::Engine {
                    reason: format!("cannot encode the {hook} request: {err}"),
                })?;
                self.call_command_json(policy, hook, &request)
            }
        }
    }

    /// Appends a call's log to the policy's log file (when the engine keeps one).
    fn append_log(&self, policy: &LoadedPolicy, hook: Hook, err: Option<&PolicyError>, log: &str) {
        if let Some(file) = &self.log {
            let outcome = match err {
                None => "answered".to_string(),
                Some(err) => format!("failed: {}", err.kind()),
            };
            file.append(&policy.name, hook, &outcome, log);
        }
    }

    /// A fresh store for one call of `hook`: the WASI context (no files, environment,
    /// network or clock), the memory cap and the deadline.
    fn store<T: Guarded>(&self, state: T, hook: Hook) -> Store<T> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state.guard());
        let deadline = self.limits.deadline(hook);
        store.set_epoch_deadline(deadline.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1);
        store
    }

    fn wasi(&self, args: &[&str], stdin: &[u8]) -> (WasiCtxBuilder, Pipes) {
        let pipes = Pipes {
            stdout: MemoryOutputPipe::new(self.limits.answer),
            stderr: MemoryOutputPipe::new(self.limits.log),
        };
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(args)
            .stdin(MemoryInputPipe::new(stdin.to_vec()))
            .stdout(pipes.stdout.clone())
            .stderr(pipes.stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        (wasi, pipes)
    }

    fn component_state(&self, wasi: &mut WasiCtxBuilder) -> ComponentState {
        ComponentState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            guard: MemoryGuard::new(self.limits.memory),
        }
    }

    /// What went wrong when wasmtime returned `err`, and the guest's log.
    fn failure(
        &self,
        policy: &LoadedPolicy,
        hook: Hook,
        err: wasmtime::Error,
        guard: &MemoryGuard,
        pipes: &Pipes,
    ) -> (PolicyError, String) {
        let typed = matches!(policy.pre, Pre::Typed(..));
        let limits = &self.limits;
        let log = String::from_utf8_lossy(&pipes.stderr.contents()).into_owned();
        let policy = policy.name.clone();
        let error = if guard.exceeded {
            PolicyError::OutOfMemory {
                policy,
                hook,
                limit: limits.memory,
            }
        } else if pipes.stdout.contents().len() >= limits.answer {
            PolicyError::OutputTooLarge {
                policy,
                hook,
                stream: "stdout",
                limit: limits.answer,
            }
        } else if log.len() >= limits.log {
            PolicyError::OutputTooLarge {
                policy,
                hook,
                stream: "stderr",
                limit: limits.log,
            }
        } else if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            PolicyError::Timeout {
                policy,
                hook,
                limit: limits.deadline(hook),
            }
        } else if let Some(I32Exit(code)) = err.downcast_ref::<I32Exit>() {
            PolicyError::Exit {
                policy,
                hook,
                code: *code,
                log: log.clone(),
            }
        } else if let Some(busy) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
            // Not the guest's doing: every slot of the pool is taken by other calls.
            PolicyError::Busy {
                policy,
                hook,
                reason: busy.to_string(),
            }
        } else if typed && err.downcast_ref::<Trap>().is_none() {
            // Not a trap of the guest's code: the host could not read what it returned
            // (a string that is not UTF-8, an enum case or a list out of bounds).
            PolicyError::BadAnswer {
                policy,
                hook,
                reason: format!("{err:#}"),
            }
        } else {
            PolicyError::Trap {
                policy,
                hook,
                reason: trap_reason(&err),
                log: log.clone(),
            }
        };
        (error, log)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
impl Engine {
    /// Instantiates `policy` `count` times and keeps every instance alive at once, as
    /// `count` concurrent calls would. Fails like a call when the pool runs out.
    pub(super) fn instantiate_side_by_side(
        &self,
        policy: &LoadedPolicy,
        count: usize,
    ) -> Result<(), PolicyError> {
        let mut live = Vec::new();
        for _ in 0..count {
            let (mut wasi, pipes) = self.wasi(&[policy.name.as_str()], b"");
            let mut store = self.store(self.component_state(&mut wasi), Hook::Review);
            let result = match &policy.pre {
                Pre::Typed(pre, _) => pre.instantiate(&mut store).map(drop),
                _ => {
                    return Err(PolicyError::Engine {
                        reason: "only typed components are instantiated side by side".into(),
                    });
                }
            };
            if let Err(err) = result {
                let guard = store.into_data().guard;
                return Err(self.failure(policy, Hook::Review, err, &guard, &pipes).0);
            }
            live.push(store);
        }
        Ok(())
    }
}

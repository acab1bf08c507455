//! One wasmtime engine, the linkers, loading plugins and calling their hooks.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use agenthost_policy::{Description, Hook};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256 as Sha256Hasher};
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{
    Config, InstanceAllocationStrategy, Module, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use super::{Limits, PolicyError};
use crate::config::Sha256;

/// How often the epoch ticks; deadlines are rounded up to it.
const TICK: Duration = Duration::from_millis(1);

/// How many instances may be live at once (the pooling allocator's slots).
const POOL_SLOTS: u32 = 64;

/// The policy engine: one wasmtime engine, its linkers and its limits. Cheap to share by
/// reference; every call gets a fresh store.
pub struct Engine {
    engine: wasmtime::Engine,
    modules: wasmtime::Linker<ModuleState>,
    components: wasmtime::component::Linker<ComponentState>,
    limits: Limits,
    ticker: Arc<AtomicBool>,
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
}

impl PolicyKind {
    /// A short name for listings.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::WasiP1Command => "wasi-p1 command",
            PolicyKind::WasiP2Command => "wasi-p2 command",
        }
    }
}

enum Pre {
    Module(wasmtime::InstancePre<ModuleState>),
    Component(CommandPre<ComponentState>),
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
        pool.total_memories(POOL_SLOTS)
            .total_tables(POOL_SLOTS)
            .total_core_instances(POOL_SLOTS)
            .total_component_instances(POOL_SLOTS)
            .max_memory_size(limits.memory);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .wasm_component_model(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Some(dir) = cache_dir {
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            config.cache(Some(wasmtime::Cache::new(cache).map_err(engine_error)?));
        }
        let engine = wasmtime::Engine::new(&config).map_err(engine_error)?;

        let mut modules = wasmtime::Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut modules, |state: &mut ModuleState| {
            &mut state.wasi
        })
        .map_err(engine_error)?;
        let mut components = wasmtime::component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut components).map_err(engine_error)?;
        no_sleeping(&mut modules, &mut components).map_err(engine_error)?;

        let ticker = Arc::new(AtomicBool::new(true));
        spawn_ticker(engine.weak(), ticker.clone());
        Ok(Engine {
            engine,
            modules,
            components,
            limits,
            ticker,
        })
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Checks `bytes` against `pin`, compiles and pre-instantiates them, and asks the
    /// policy which hooks it implements.
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
            let component = Component::new(&self.engine, bytes).map_err(invalid)?;
            let pre = self.components.instantiate_pre(&component).map_err(|err| {
                missing(format!(
                    "cannot link its imports (only WASI is offered): {err:#}"
                ))
            })?;
            let pre = CommandPre::new(pre).map_err(|err| {
                missing(format!(
                    "it is a component but not a WASI command (no `wasi:cli/run` export): {err:#}"
                ))
            })?;
            (PolicyKind::WasiP2Command, Pre::Component(pre))
        } else {
            let module = Module::new(&self.engine, bytes).map_err(invalid)?;
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
        let description: Call<Description> = self.call_raw_json(&policy, Hook::Describe, b"")?;
        policy.hooks = description.answer.hooks;
        policy
            .hooks
            .retain(|hook| Hook::DECISIONS.contains(hook) || *hook == Hook::ValidateConfig);
        policy.hooks.sort();
        policy.hooks.dedup();
        Ok(policy)
    }

    /// Calls `hook` with `request` and reads the answer as `A`.
    pub fn call<R: Serialize, A: DeserializeOwned>(
        &self,
        policy: &LoadedPolicy,
        hook: Hook,
        request: &R,
    ) -> Result<Call<A>, PolicyError> {
        if !policy.implements(hook) {
            return Err(PolicyError::MissingHook {
                policy: policy.name.clone(),
                hook,
                hooks: hook_list(&policy.hooks),
            });
        }
        let request = serde_json::to_vec(request).map_err(|err| PolicyError::Engine {
            reason: format!("cannot encode the {hook} request: {err}"),
        })?;
        self.call_raw_json(policy, hook, &request)
    }

    /// Calls `hook` with the JSON `request` as it is, and reads the answer as `A`.
    pub fn call_raw_json<A: DeserializeOwned>(
        &self,
        policy: &LoadedPolicy,
        hook: Hook,
        request: &[u8],
    ) -> Result<Call<A>, PolicyError> {
        let started = Instant::now();
        let raw = self.run(policy, hook, request)?;
        let elapsed = started.elapsed();
        let answer = serde_json::from_slice(&raw.stdout).map_err(|err| PolicyError::BadAnswer {
            policy: policy.name.clone(),
            hook,
            reason: if raw.stdout.is_empty() {
                "it wrote nothing to stdout".to_string()
            } else {
                err.to_string()
            },
        })?;
        Ok(Call {
            answer,
            elapsed,
            peak_memory: raw.peak_memory,
            log: raw.log,
        })
    }

    /// Runs the guest once in a fresh store: argv `[name, hook]`, `request` on stdin.
    fn run(&self, policy: &LoadedPolicy, hook: Hook, request: &[u8]) -> Result<Raw, PolicyError> {
        let limits = &self.limits;
        if request.len() > limits.request {
            return Err(PolicyError::RequestTooLarge {
                policy: policy.name.clone(),
                hook,
                size: request.len(),
                limit: limits.request,
            });
        }
        let stdout = MemoryOutputPipe::new(limits.answer);
        let stderr = MemoryOutputPipe::new(limits.log);
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&[policy.name.as_str(), hook.name()])
            .stdin(MemoryInputPipe::new(request.to_vec()))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let guard = MemoryGuard::new(limits.memory);
        let deadline = limits.deadline(hook);
        let ticks = deadline.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1;

        let result = match &policy.pre {
            Pre::Module(pre) => {
                let state = ModuleState {
                    wasi: wasi.build_p1(),
                    guard,
                };
                let mut store = Store::new(&self.engine, state);
                store.limiter(|state| &mut state.guard);
                store.set_epoch_deadline(ticks);
                let result = pre.instantiate(&mut store).and_then(|instance| {
                    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                    start.call(&mut store, ())
                });
                (result.map(|()| Ok(())), store.into_data().guard)
            }
            Pre::Component(pre) => {
                let state = ComponentState {
                    wasi: wasi.build(),
                    table: ResourceTable::new(),
                    guard,
                };
                let mut store = Store::new(&self.engine, state);
                store.limiter(|state| &mut state.guard);
                store.set_epoch_deadline(ticks);
                let result = pre
                    .instantiate(&mut store)
                    .and_then(|command| command.wasi_cli_run().call_run(&mut store));
                (result, store.into_data().guard)
            }
        };
        let (result, guard) = result;
        let log = String::from_utf8_lossy(&stderr.contents()).into_owned();
        let fail = |err: PolicyError| Err(err);
        let name = || policy.name.clone();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(())) => {
                return fail(PolicyError::Exit {
                    policy: name(),
                    hook,
                    code: 1,
                    log,
                });
            }
            Err(err) => {
                if let Some(exit) = err.downcast_ref::<I32Exit>() {
                    if exit.0 != 0 {
                        return fail(PolicyError::Exit {
                            policy: name(),
                            hook,
                            code: exit.0,
                            log,
                        });
                    }
                } else if guard.exceeded {
                    return fail(PolicyError::OutOfMemory {
                        policy: name(),
                        hook,
                        limit: limits.memory,
                    });
                } else if stdout.contents().len() >= limits.answer {
                    return fail(PolicyError::OutputTooLarge {
                        policy: name(),
                        hook,
                        stream: "stdout",
                        limit: limits.answer,
                    });
                } else if log.len() >= limits.log {
                    return fail(PolicyError::OutputTooLarge {
                        policy: name(),
                        hook,
                        stream: "stderr",
                        limit: limits.log,
                    });
                } else if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                    return fail(PolicyError::Timeout {
                        policy: name(),
                        hook,
                        limit: deadline,
                    });
                } else {
                    return fail(PolicyError::Trap {
                        policy: name(),
                        hook,
                        reason: trap_reason(&err),
                        log,
                    });
                }
            }
        }
        Ok(Raw {
            stdout: stdout.contents().to_vec(),
            log,
            peak_memory: guard.peak,
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

/// Ticks the engine's epoch every [`TICK`] until the engine is dropped.
fn spawn_ticker(engine: wasmtime::EngineWeak, running: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("agenthost-policy-epoch".into())
        .spawn(move || {
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map(drop)
        .unwrap_or_else(|err| {
            // Without the ticker no deadline fires: say so loudly rather than hang later.
            eprintln!("agenthost: cannot start the policy deadline thread: {err}");
        });
}

/// Policies have no clock, so they cannot sleep: a sleep in the host would block the call
/// past its deadline (epochs interrupt only running WebAssembly). Preview 1's `poll_oneoff`
/// fails with ENOTSUP; preview 2's clock subscriptions are ready at once, so a guest that
/// sleeps in a loop spins into its deadline instead.
fn no_sleeping(
    modules: &mut wasmtime::Linker<ModuleState>,
    components: &mut wasmtime::component::Linker<ComponentState>,
) -> wasmtime::Result<()> {
    const ENOTSUP: i32 = 58;
    modules.allow_shadowing(true);
    modules.func_wrap(
        "wasi_snapshot_preview1",
        "poll_oneoff",
        |_: wasmtime::Caller<'_, ModuleState>, _: i32, _: i32, _: i32, _: i32| ENOTSUP,
    )?;
    modules.allow_shadowing(false);

    components.allow_shadowing(true);
    let mut clock = components.instance("wasi:clocks/monotonic-clock@0.2.12")?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: wasmtime::StoreContextMut<'_, ComponentState>, (_,): (u64,)| {
            Ok((ready(&mut store.data_mut().table)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: wasmtime::StoreContextMut<'_, ComponentState>, (_,): (u64,)| {
            Ok((ready(&mut store.data_mut().table)?,))
        },
    )?;
    components.allow_shadowing(false);
    Ok(())
}

/// A pollable that is ready at once.
fn ready(
    table: &mut ResourceTable,
) -> wasmtime::Result<wasmtime::component::Resource<wasmtime_wasi::p2::DynPollable>> {
    let ready = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, ready)
}

struct Ready;

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Ready {
    async fn ready(&mut self) {}
}

/// A component starts with `\0asm` and layer 1; a core module with version 1.
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

fn hook_list(hooks: &[Hook]) -> String {
    if hooks.is_empty() {
        return "none".to_string();
    }
    hooks
        .iter()
        .map(|h| h.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The trap's own words, without wasmtime's backtrace.
fn trap_reason(err: &wasmtime::Error) -> String {
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    err.to_string()
}

/// Caps linear memory (and tables) per store, and records the peak.
struct MemoryGuard {
    limit: usize,
    peak: usize,
    exceeded: bool,
}

impl MemoryGuard {
    fn new(limit: usize) -> MemoryGuard {
        MemoryGuard {
            limit,
            peak: 0,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            wasmtime::bail!("memory limit of {} bytes exceeded", self.limit);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Clocks stopped at the Unix epoch: policies get the time only as data.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

struct ModuleState {
    wasi: WasiP1Ctx,
    guard: MemoryGuard,
}

struct ComponentState {
    wasi: WasiCtx,
    table: ResourceTable,
    guard: MemoryGuard,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

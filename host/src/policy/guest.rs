//! What a policy runs in: no clock but a frozen one, no sleeping, capped memory, its
//! output captured, and an epoch ticker that ends a call at its deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agenthost_policy::Hook;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Trap};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// How often the epoch ticks; deadlines are rounded up to it.
pub(super) const TICK: Duration = Duration::from_millis(1);

/// The guest's captured output streams.
pub(super) struct Pipes {
    pub(super) stdout: MemoryOutputPipe,
    pub(super) stderr: MemoryOutputPipe,
}

/// A store's data that carries a [`MemoryGuard`].
pub(super) trait Guarded: Send + 'static {
    fn guard(&mut self) -> &mut MemoryGuard;
}

impl Guarded for ModuleState {
    fn guard(&mut self) -> &mut MemoryGuard {
        &mut self.guard
    }
}

impl Guarded for ComponentState {
    fn guard(&mut self) -> &mut MemoryGuard {
        &mut self.guard
    }
}

/// Ticks the engine's epoch every [`TICK`] until the engine is dropped.
pub(super) fn spawn_ticker(engine: wasmtime::EngineWeak, running: Arc<AtomicBool>) {
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
pub(super) fn no_sleeping(
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
pub(super) fn ready(
    table: &mut ResourceTable,
) -> wasmtime::Result<wasmtime::component::Resource<wasmtime_wasi::p2::DynPollable>> {
    let ready = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, ready)
}

pub(super) struct Ready;

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Ready {
    async fn ready(&mut self) {}
}

/// A component starts with `\0asm` and layer 1; a core module with version 1.
pub(super) fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

pub(super) fn hook_list(hooks: &[Hook]) -> String {
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
pub(super) fn trap_reason(err: &wasmtime::Error) -> String {
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    err.to_string()
}

/// Caps linear memory (and tables) per store, and records the peak.
pub(super) struct MemoryGuard {
    pub(super) limit: usize,
    pub(super) peak: usize,
    pub(super) exceeded: bool,
}

impl MemoryGuard {
    pub(super) fn new(limit: usize) -> MemoryGuard {
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
pub(super) struct FrozenClock;

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

    /// One nanosecond after an arbitrary start, for ever. Not zero: Go's runtime refuses
    /// to start on a monotonic clock that returns 0 ("nanotime returning zero").
    fn now(&self) -> u64 {
        1
    }
}

pub(super) struct ModuleState {
    pub(super) wasi: WasiP1Ctx,
    pub(super) guard: MemoryGuard,
}

pub(super) struct ComponentState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) guard: MemoryGuard,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

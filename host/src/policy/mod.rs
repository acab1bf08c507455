//! The policy engine: WebAssembly plugins that decide task acceptance, admission and
//! review checks.
//!
//! - [`Engine`] owns one wasmtime engine (pooling allocator, epoch interruption) and the
//!   linkers; [`Engine::load`] checks a plugin's sha256 pin, compiles it (once per digest
//!   and engine: `compiled` keeps the compiled code on disk and maps it back in later
//!   processes), pre-instantiates it and asks it which hooks it implements.
//! - [`Engine::call`] runs one hook in a fresh store under the [`Limits`]: a deadline, a
//!   memory cap, caps on the request and answer sizes. The guest gets no preopened
//!   directory, no environment, no network, frozen clocks: only argv, stdin and stdout.
//! - [`verdict`] turns a call's outcome into what the host acts on, failing closed: a
//!   policy that traps, times out, runs out of memory or answers garbage rejects the spec,
//!   holds the task or adds an error finding, and names itself and the reason. In
//!   `monitor` mode nothing blocks.
//!
//! [`PolicySet`] loads the policies a configuration enables, built-ins from [`builtin`]
//! (compiled from `policies/` by `build.rs`) and plugins from their path, exactly alike.
//!
//! Two ABIs (`sdk/README.md`): typed components exporting the `agenthost:policy`
//! interfaces (`typed`: WIT values, no JSON), and WASI commands (core modules built for
//! `wasm32-wasip1`, command components built for `wasm32-wasip2`) that read a JSON request
//! on stdin and answer on stdout. A component that exports both is called typed. Every
//! call's stderr is kept with the call and, for engines with a log directory, appended to
//! a bounded file per policy (`log`).

pub mod builtin;
mod compiled;
mod engine;
mod error;
mod guest;
mod limits;
mod log;
pub mod scaffold;
mod set;
mod typed;
pub mod verdict;
pub mod view;

pub use engine::{Call, Engine, LoadedPolicy, PolicyKind};
pub use error::PolicyError;
pub use limits::Limits;
pub use set::{Entry, PolicySet, cli_engine};
pub use typed::{AdmissionQuery, HookRequest};
pub use verdict::{AdmissionVerdict, Report};

#[cfg(test)]
mod tests;

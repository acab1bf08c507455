//! agenthost runs AI coding agents in the background, each locked into a sandbox built from
//! its task spec's Scope, with WebAssembly policies deciding what runs and what review says.
//!
//! This crate is `agenthost-core`'s library: every verb ([`cli`]), the supervisor, the
//! policy engine, review and `verify`. Task specs, configuration and the sandbox plan are
//! the `agenthost-front` crate's, which the small `agenthost` executable links alone; they
//! are re-exported here under their usual names. See ARCHITECTURE.md for the map.
//!
//! Only what the two binaries, the benchmarks and the CLI tests use is public; everything
//! else is `pub(crate)` (the `unreachable_pub` lint keeps it so).

#![warn(unreachable_pub)]

pub mod cli;
pub mod demo;
pub mod digest;
pub(crate) mod hooks;
pub mod policy;
pub(crate) mod repo_files;
pub(crate) mod runner;
pub(crate) mod scripted_agent;
pub mod supervisor;
pub mod task;
pub(crate) mod verify;

// The front's modules, under the names the rest of this crate uses.
pub use agenthost_front::{config, state_dir};
pub(crate) use agenthost_front::{confinement, duration, spec, suggest};

//! agenthost runs AI coding agents in the background, each locked into a sandbox built from
//! its task spec's Scope, with WebAssembly policies deciding what runs and what review says.
//!
//! This crate is the `agenthost` binary's library: the CLI lives in [`cli`], task specs in
//! `spec`, repository and user configuration in [`config`]. See ARCHITECTURE.md for the map.
//!
//! Only what the two binaries, the benchmarks and the CLI tests use is public; everything
//! else is `pub(crate)` (the `unreachable_pub` lint keeps it so).

#![warn(unreachable_pub)]

pub mod cli;
pub mod config;
pub mod demo;
pub mod digest;
pub(crate) mod duration;
pub(crate) mod hooks;
pub mod policy;
pub(crate) mod runner;
pub(crate) mod sandbox;
pub(crate) mod scripted_agent;
pub(crate) mod spec;
pub mod state_dir;
pub(crate) mod suggest;
pub mod supervisor;
pub mod task;
pub(crate) mod toml_error;
pub(crate) mod verify;

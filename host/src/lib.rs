//! agenthost runs AI coding agents in the background, each locked into a sandbox built from
//! its task spec's Scope, with WebAssembly policies deciding what runs and what review says.
//!
//! This crate is the `agenthost` binary's library: the CLI lives in [`cli`], task specs in
//! [`spec`], repository and user configuration in [`config`]. See ARCHITECTURE.md for the map.

pub mod cli;
pub mod config;
pub mod demo;
pub mod digest;
pub mod duration;
pub mod hooks;
pub mod policy;
pub mod runner;
pub mod sandbox;
pub mod scripted_agent;
pub mod spec;
pub mod state_dir;
pub mod suggest;
pub mod supervisor;
pub mod task;
pub mod toml_error;
pub mod verify;

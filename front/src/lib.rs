//! agenthost's front: everything the small `agenthost` executable needs to run a command in
//! the sandbox a task spec defines, and nothing more.
//!
//! - [`spec`]: task specs (Markdown with optional TOML front matter) read into a `Spec`;
//! - [`config`]: the built-in defaults, the user's and the repository's configuration;
//! - [`confinement`]: a spec's Scope and a configuration → the plan the kernel sandbox
//!   (`agenthost-sandbox`) carries out, what it says (`--explain`), and running a command
//!   under it;
//! - [`cli`]: the `agenthost` executable's own work: the `sandbox` verb, the output and exit
//!   conventions every verb shares, and handing every other verb to `agenthost-core`.
//!
//! The full binary (package `agenthost`: the supervisor, the policy engine, SQLite, libgit2)
//! builds on this crate. This crate's dependency graph has none of those, so the front's
//! start-up stays that of a small program (tests/crate_graph.rs keeps it so).

#![warn(unreachable_pub)]

pub mod cli;
pub mod config;
pub mod confinement;
pub mod duration;
pub mod spec;
pub mod state_dir;
pub mod suggest;
pub mod toml_error;

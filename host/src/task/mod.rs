//! Tasks: their lifecycle states and the worktree each runs in.

pub mod accept;
mod copy;
pub mod diff;
pub mod git_metadata;
pub mod prompt;
pub mod stale;
pub mod state;
pub mod stats;
pub mod venv;
pub mod worktree;

pub use state::TaskState;

//! Why an attempt could not go on: one variant per kind of failure, each saying which step
//! and why. The text becomes the failed task's reason, shown by every verb.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::confinement::PlanError;
use crate::supervisor::store::StoreError;
use crate::task::worktree::WorktreeError;

/// An attempt stopped by something other than the agent's or the tests' own result.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The spec text stored at launch no longer parses (agenthost was upgraded).
    #[error("the spec recorded at launch is no longer valid ({0})")]
    SpecInvalid(PathBuf),
    /// The repository's configuration does not load.
    #[error("the repository's configuration is invalid: {0}")]
    Config(#[source] ConfigError),
    /// The task's agent profile is not configured (any more).
    #[error("no agent profile `{0}` in the configuration")]
    NoProfile(String),
    /// The worktree could not be made.
    #[error("cannot make the worktree: {0}")]
    MakeWorktree(#[source] WorktreeError),
    /// A git step on the worktree or the task branch failed.
    #[error("cannot {what}: {source}")]
    Git {
        /// What was being done ("commit the agent's work").
        what: &'static str,
        /// Why it failed.
        #[source]
        source: WorktreeError,
    },
    /// Reading the task's changes from git failed.
    #[error("cannot read the {what}: {message}")]
    Read {
        /// What ("task's changes", "task branch").
        what: &'static str,
        /// git's words.
        message: String,
    },
    /// A place the attempt needs is gone.
    #[error("the {what} {} is gone: {source}", path.display())]
    Gone {
        /// What ("worktree", "agent's private home").
        what: &'static str,
        /// Where it was.
        path: PathBuf,
        /// Why it cannot be reached.
        #[source]
        source: std::io::Error,
    },
    /// The worktree has changes that are not on the task branch (someone edited it), so
    /// an accept's checks cannot check out the merged change there.
    #[error(
        "the task's worktree {} has changes that are not on its branch: {}; commit them there (`git -C {} commit -am ...`) or put them back (`git -C {} checkout -- .`), then accept again",
        path.display(), files.join(", "), path.display(), path.display()
    )]
    WorktreeChanged {
        /// The worktree.
        path: PathBuf,
        /// The files.
        files: Vec<String>,
    },
    /// A file or directory of the attempt could not be written (the message names it).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The private home could not be made or seeded.
    #[error(transparent)]
    Home(#[from] crate::confinement::agent_home::HomeError),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The agent program is not where the launch's PATH leads.
    #[error(
        "the agent program `{program}` (profile `{profile}`) is not installed or not on the PATH `agenthost launch` ran with ({path}); install it, or set the profile's `command` to its full path"
    )]
    ProgramNotFound {
        /// The program as the profile names it.
        program: String,
        /// The profile.
        profile: String,
        /// The PATH searched.
        path: String,
    },
    /// The sandbox plan could not be built.
    #[error("cannot build the {purpose} sandbox: {source}{help}")]
    Plan {
        /// `agent`, `setup` or `test`.
        purpose: &'static str,
        /// Why.
        #[source]
        source: PlanError,
        /// `; ` and the error's help, or nothing.
        help: String,
    },
    /// A setup or test run needs the mount layer, which this machine cannot make.
    #[error(
        "the {purpose} run needs the mount layer, which this machine cannot make: {missing}; run `agenthost doctor`"
    )]
    NeedsMountLayer {
        /// `setup` or `test`.
        purpose: &'static str,
        /// What is missing, and why.
        missing: String,
    },
    /// Mode enforce, and the kernel lacks a guarantee.
    #[error(
        "the kernel cannot enforce this sandbox (mode enforce): {missing}; run `agenthost doctor`"
    )]
    NotEnforced {
        /// What is missing, and why.
        missing: String,
    },
    /// The disk could not be prepared for a sandboxed run.
    #[error(transparent)]
    Prepare(#[from] crate::confinement::RunError),
    /// The kernel refused the prepared restriction.
    #[error("cannot set up the sandbox: {0}")]
    Restriction(#[source] agenthost_sandbox::LaunchError),
    /// A command could not be started at all.
    #[error("the {what} could not run: {source}")]
    Run {
        /// "agent", "test command", "setup command `npm ci`".
        what: String,
        /// Why.
        #[source]
        source: crate::runner::RunError,
    },
    /// A step on a worker thread stopped unexpectedly (a panic).
    #[error("the {step} step failed: {source}")]
    Thread {
        /// The step.
        step: &'static str,
        /// What the thread said.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl AttemptError {
    /// A `map_err` for a worker thread of `step`.
    pub(super) fn thread(step: &'static str) -> impl FnOnce(tokio::task::JoinError) -> Self {
        move |source| AttemptError::Thread { step, source }
    }

    /// A `map_err` for a git step that failed while doing `what`.
    pub(super) fn git(what: &'static str) -> impl FnOnce(WorktreeError) -> Self {
        move |source| AttemptError::Git { what, source }
    }

    /// A `map_err` for a place that is gone.
    pub(super) fn gone(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| AttemptError::Gone { what, path, source }
    }
}

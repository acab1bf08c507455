//! The runner boundary: where an agent (or a test command) actually runs.
//!
//! The supervisor decides *what* runs and *when*; a [`Runner`] decides *where*. Today there
//! is one, [`local::LocalRunner`], which runs the job as a child process on this machine.
//! A runner for CI engines or clusters (a GitHub Actions job, a Kubernetes Job) would take
//! the same [`Job`] (the command line, environment, log and sandbox) and report
//! the same [`Outcome`], pushing the task branch to the shared remote instead of leaving it
//! in a local worktree.

pub(crate) mod local;
pub(crate) mod survivors;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// One process to run to completion.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The program and its arguments.
    pub argv: Vec<OsString>,
    /// The complete environment: nothing else is inherited.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory.
    pub cwd: PathBuf,
    /// Bytes for the job's stdin (then closed); `None` for an empty stdin.
    pub stdin: Option<Vec<u8>>,
    /// Where the job's stdout and stderr go (appended).
    pub log: PathBuf,
    /// How long the job may run before it is stopped.
    pub timeout: Duration,
    /// The sandbox the job runs in, prepared (`None`: no sandbox, mode off). Either way the
    /// job runs behind a reaper in a session of its own, so that stopping it, or the
    /// supervisor's death, stops everything it started.
    pub sandbox: Option<agenthost_sandbox::Restriction>,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signalled(i32),
    /// It ran past its time limit and was stopped.
    TimedOut,
    /// It was cancelled and stopped.
    Cancelled,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exited(code) => write!(f, "exited with code {code}"),
            Ending::Signalled(signal) => write!(f, "killed by signal {signal}"),
            Ending::TimedOut => f.write_str("ran past its time limit and was stopped"),
            Ending::Cancelled => f.write_str("was cancelled"),
        }
    }
}

/// What came of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// How long it ran.
    pub duration: Duration,
}

/// A job could not be run at all.
#[derive(Debug, Error)]
pub enum RunError {
    /// The program could not be started (not found, not executable, ...).
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The log file could not be opened.
    #[error("cannot open the log {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Waiting for the job failed.
    #[error("lost track of the job: {0}")]
    Wait(std::io::Error),
}

/// Stops a running job from elsewhere (the supervisor's `cancel`, or its shutdown).
#[derive(Debug, Clone)]
pub(crate) struct Canceller(tokio::sync::watch::Sender<Stop>);

/// The job's side of a [`Canceller`].
#[derive(Debug, Clone)]
pub struct Cancellation(tokio::sync::watch::Receiver<Stop>);

/// Why a job is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Not asked.
    No,
    /// The user cancelled the task.
    Cancel,
    /// The supervisor is shutting down: the task is interrupted, to be resumed later.
    Interrupt,
}

/// A connected canceller and cancellation.
pub(crate) fn cancellation() -> (Canceller, Cancellation) {
    let (sender, receiver) = tokio::sync::watch::channel(Stop::No);
    (Canceller(sender), Cancellation(receiver))
}

impl Canceller {
    /// Asks the job to stop because the user cancelled it.
    pub(crate) fn cancel(&self) {
        // No receiver left means the job is over already: nothing to stop.
        let _ = self.0.send(Stop::Cancel);
    }

    /// Asks the job to stop because the supervisor is shutting down.
    pub(crate) fn interrupt(&self) {
        let _ = self.0.send(Stop::Interrupt);
    }
}

impl Cancellation {
    /// Resolves once a stop is asked for (never, if the canceller is dropped unused).
    pub async fn cancelled(&mut self) {
        loop {
            if *self.0.borrow() != Stop::No {
                return;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Why a stop was asked for, if it was.
    pub fn reason(&self) -> Stop {
        *self.0.borrow()
    }
}

/// Where jobs run.
pub(crate) trait Runner {
    /// Runs `job` to completion, stopping it at its time limit or when `cancel` fires.
    fn run(
        &self,
        job: Job,
        cancel: Cancellation,
    ) -> impl std::future::Future<Output = Result<Outcome, RunError>> + Send;
}

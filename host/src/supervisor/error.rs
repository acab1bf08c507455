//! What can go wrong talking to, or running, the supervisor.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use super::store::StoreError;
use crate::state_dir::NoStateDir;

/// A supervisor or client failure.
#[derive(Debug, Error, Diagnostic)]
pub enum SupervisorError {
    /// No state directory.
    #[error(transparent)]
    #[diagnostic(
        code(supervisor::state_dir),
        help("set HOME, or AGENTHOST_STATE_DIR to an absolute path")
    )]
    NoStateDir(#[from] NoStateDir),

    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    #[diagnostic(
        code(supervisor::io),
        help("check the permissions of agenthost's state directory")
    )]
    Io {
        /// What we were doing.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },

    /// The state database failed.
    #[error(transparent)]
    #[diagnostic(
        code(supervisor::store),
        help(
            "the database is agenthost's state; if it is damaged, move it aside to start afresh (tasks will be forgotten, worktrees stay on disk)"
        )
    )]
    Store(#[from] StoreError),

    /// Another supervisor holds the lock.
    #[error("a supervisor is already running for this user (lock {lock})")]
    #[diagnostic(
        code(supervisor::already_running),
        help("stop it with `agenthost serve --stop`, or just use it")
    )]
    AlreadyRunning {
        /// The lock file.
        lock: PathBuf,
    },

    /// No supervisor is running and none could be started.
    #[error("cannot reach the supervisor at {socket}: {reason}")]
    #[diagnostic(
        code(supervisor::unreachable),
        help("start one in the foreground with `agenthost serve` and look at its output; its log is {}", log.display())
    )]
    Unreachable {
        /// The socket we tried.
        socket: PathBuf,
        /// Why.
        reason: String,
        /// The supervisor's log.
        log: PathBuf,
    },

    /// The supervisor refused or failed a request.
    #[error("the supervisor says: {message}")]
    #[diagnostic(code(supervisor::refused))]
    Refused {
        /// Its message.
        message: String,
        /// Its help.
        #[help]
        help: String,
    },

    /// The supervisor answered something that is not a response.
    #[error("the supervisor sent an invalid response: {detail}")]
    #[diagnostic(
        code(supervisor::protocol),
        help(
            "the running supervisor may be a different agenthost version: stop it with `agenthost serve --stop`"
        )
    )]
    Protocol {
        /// What was wrong.
        detail: String,
    },
}

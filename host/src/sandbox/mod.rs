//! The sandbox, host side: a spec's Scope → a [`SandboxPlan`] ([`build()`]), what it says
//! (`--explain`, [`explain`]), and running a command under it ([`run`]) through the
//! launcher in the `agenthost-sandbox` crate.
//!
//! The launcher is this same binary, started as `agenthost __sandbox-exec FD -- CMD...`
//! ([`LAUNCHER_VERB`]); `cli::main` hands that argument vector to
//! [`agenthost_sandbox::exec_from_fd`] before any other parsing.

pub mod build;
mod explain;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};

use agenthost_sandbox::{SandboxPlan, fd_number, handoff};

pub use build::{BuiltPlan, PlanError, PlanInput, build};
pub use explain::explain;

/// The hidden first argument that turns agenthost into the launcher.
pub const LAUNCHER_VERB: &str = "__sandbox-exec";

/// Running a command in the sandbox failed before it ran.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    /// A directory or file the plan needs could not be created.
    #[error("cannot create {path}: {source}")]
    #[diagnostic(
        code(agenthost::sandbox::prepare),
        help("check the permissions of the worktree")
    )]
    Prepare {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The launcher could not be started.
    #[error("cannot start the sandbox launcher {exe}: {source}")]
    #[diagnostic(
        code(agenthost::sandbox::spawn),
        help("agenthost starts itself as the launcher; check that its binary is still in place")
    )]
    Spawn {
        /// agenthost's own binary.
        exe: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Creates what the plan needs on disk; returns what was created, for [`cleanup`].
pub fn prepare(built: &BuiltPlan) -> Result<Vec<PathBuf>, RunError> {
    let mut created = Vec::new();
    for dir in &built.mkdirs {
        if !dir.exists() {
            fs_err::create_dir(dir).map_err(|source| RunError::Prepare {
                path: dir.clone(),
                source,
            })?;
            created.push(dir.clone());
        }
    }
    for file in &built.touch {
        if !file.exists() {
            fs_err::File::create(file).map_err(|source| RunError::Prepare {
                path: file.clone(),
                source,
            })?;
            created.push(file.clone());
        }
    }
    Ok(created)
}

/// Removes what [`prepare`] created and the run left unused (empty files, empty
/// directories), deepest first.
pub fn cleanup(created: &[PathBuf]) {
    for path in created.iter().rev() {
        if path.is_dir() {
            let _ = std::fs::remove_dir(path);
        } else if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs `argv` under `plan` and waits for it.
pub fn run(plan: &SandboxPlan, argv: &[OsString]) -> Result<ExitStatus, RunError> {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let fd = handoff(plan).map_err(|source| RunError::Spawn {
        exe: exe.clone(),
        source,
    })?;
    let mut child = Command::new(&exe)
        .arg(LAUNCHER_VERB)
        .arg(fd_number(&fd).to_string())
        .arg("--")
        .args(argv)
        .env_clear()
        .spawn()
        .map_err(|source| RunError::Spawn {
            exe: exe.clone(),
            source,
        })?;
    drop(fd);
    let status = child
        .wait()
        .map_err(|source| RunError::Spawn { exe, source });
    agenthost_sandbox::kill_leftovers(child.id());
    status
}

/// Runs `argv` with no sandbox (mode `off`): the plan's environment and directory only.
pub fn run_unsandboxed(plan: &SandboxPlan, argv: &[OsString]) -> Result<ExitStatus, RunError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(RunError::Spawn {
            exe: PathBuf::new(),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        });
    };
    Command::new(program)
        .args(args)
        .env_clear()
        .envs(&plan.env)
        .current_dir(&plan.cwd)
        .status()
        .map_err(|source| RunError::Spawn {
            exe: PathBuf::from(program),
            source,
        })
}

/// The exit code a shell would report for `status`: the code, or 128 + the signal.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// The user's home directory.
pub fn home_dir() -> PathBuf {
    dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"))
}

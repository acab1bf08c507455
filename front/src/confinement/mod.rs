//! The sandbox, host side: a spec's Scope → a [`SandboxPlan`] ([`build()`]), what it says
//! (`--explain`, [`explain`]), and running a command under it ([`run`]): the plan is
//! prepared here ([`agenthost_sandbox::Restriction`]) and applied by the forked child
//! ([`agenthost_sandbox::Restriction::spawn`]) before exec.

pub mod agent_home;
pub(crate) mod caches;
mod canonical;
mod explain;
pub mod git_layout;
mod gitignore;
pub mod hints;
mod placeholder;
pub mod plan;
mod program;

pub use program::find_program;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};

use agenthost_sandbox::{
    EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, ForwardedSignals, LaunchError, OutlivedSignals,
    Restriction, SandboxPlan, Support,
};

pub use canonical::Canonicalizer;
pub use explain::explain;
pub use placeholder::{Created, cleanup, prepare};
pub use plan::{BuiltPlan, PlanError, PlanInput, Purpose, build};

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
    /// The plan could not be prepared (a path to open, a rule the kernel refused, a
    /// guarantee the kernel lacks in enforce mode).
    #[error("cannot set up the sandbox: {0}")]
    #[diagnostic(
        code(agenthost::sandbox::setup),
        help("run `agenthost doctor` to see what this kernel enforces")
    )]
    Setup(LaunchError),
    /// The command could not be started.
    #[error("cannot run `{program}`: {source}")]
    #[diagnostic(
        code(agenthost::sandbox::exec),
        help("check that the command exists inside the sandbox: its PATH is the plan's")
    )]
    Exec {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
}

impl RunError {
    /// The exit status `agenthost sandbox` reports, like `env(1)`: 127 when the command
    /// was not found, 126 when it could not be executed, 125 when the sandbox could not be
    /// set up.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Exec { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                EXIT_NOT_FOUND
            }
            RunError::Exec { .. } => EXIT_CANNOT_EXECUTE,
            _ => agenthost_sandbox::EXIT_SETUP_FAILED,
        }
    }
}

/// Runs `argv` under `plan` and waits for it, passing Ctrl-C and the other terminal and
/// termination signals this process receives on to the command, and stopping it with this
/// process on Ctrl-Z ([`ForwardedSignals`]).
pub fn run(
    plan: &SandboxPlan,
    support: &Support,
    argv: &[OsString],
) -> Result<ExitStatus, RunError> {
    let restriction = Restriction::prepare(plan, support).map_err(RunError::Setup)?;
    // So that a daemon the command starts (its own session) is this process's to end.
    agenthost_sandbox::adopt_orphans().map_err(RunError::Setup)?;
    // Before the spawn, so that no signal falls between the command's start and the wait.
    let signals = ForwardedSignals::install();
    let child = restriction.spawn(argv).map_err(|error| match error {
        LaunchError::Exec { program, source } => RunError::Exec { program, source },
        other => RunError::Setup(other),
    })?;
    let pid = child.id();
    let status = signals.wait(child).map_err(|source| RunError::Exec {
        program: argv
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
        source,
    });
    if let Err(error) = agenthost_sandbox::kill_leftovers(pid) {
        eprintln!(
            "agenthost: warning: processes the command left running may still run: \
             cannot list them: {error}"
        );
    }
    status
}

/// Runs `argv` with no sandbox (mode `off`): the plan's environment and directory only. The
/// command shares this process's group, so Ctrl-C reaches it directly; this process outlives
/// it ([`OutlivedSignals`]) and reports how the command ended.
pub(crate) fn run_unsandboxed(
    plan: &SandboxPlan,
    argv: &[OsString],
) -> Result<ExitStatus, RunError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(RunError::Setup(LaunchError::NoCommand));
    };
    let _outlived = OutlivedSignals::install();
    Command::new(program)
        .args(args)
        .env_clear()
        .envs(&plan.env)
        .current_dir(&plan.cwd)
        .status()
        .map_err(|source| RunError::Exec {
            program: program.to_string_lossy().into_owned(),
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

/// Each guarantee of `missing` with the kernel feature it needs; for the mount layer also
/// why it cannot be made here and the fixes ([`mount_layer_unavailable`]). For the
/// messages of `enforce` and `best-effort`.
pub fn missing_text(support: &Support, missing: &[agenthost_sandbox::Guarantee]) -> String {
    missing
        .iter()
        .map(|g| match g {
            agenthost_sandbox::Guarantee::ReadOnlyView => {
                format!(
                    "{g} (needs {}: {})",
                    g.feature(),
                    mount_layer_unavailable(support)
                )
            }
            _ => format!("{g} (needs {})", g.feature()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the mount layer cannot be made here and what to do on the machine (the sandbox's
/// probe), then the configuration that runs without it.
pub fn mount_layer_unavailable(support: &Support) -> String {
    format!(
        "{}; or run without the mount layer: `read_only_view = false` under `[sandbox]` in your own config",
        support
            .mounts
            .note
            .as_deref()
            .unwrap_or("the mount layer cannot be made here")
    )
}

/// The user's home directory.
pub fn home_dir() -> PathBuf {
    dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use agenthost_sandbox::{Guarantee, MountSupport};

    use super::*;

    #[test]
    fn a_missing_mount_layer_says_why_and_both_fixes() {
        let mut support = Support::probe();
        support.mounts = MountSupport {
            privilege: None,
            note: Some("creating the mount namespace failed: EPERM; allow unshare".into()),
        };
        let text = missing_text(&support, &[Guarantee::Seccomp, Guarantee::ReadOnlyView]);
        assert_eq!(
            text,
            "seccomp (needs seccomp filters), read-only-view (needs a mount namespace (as root) \
             or an unprivileged user namespace: creating the mount namespace failed: EPERM; \
             allow unshare; or run without the mount layer: `read_only_view = false` under \
             `[sandbox]` in your own config)"
        );
    }
}

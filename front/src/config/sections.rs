//! The single-table sections of the config: `[sandbox]`, `[test]`, `[worktree]`,
//! `[notify]` and `[verify]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::HostPath;

/// How long the test command may run when `[test] timeout` is not set.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long the setup commands may run, together, when `[worktree] setup_timeout` is not set.
pub const DEFAULT_SETUP_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The TCP ports the setup commands may connect to when `[worktree] setup_ports` is not set:
/// HTTPS and HTTP, where the package registries answer.
pub const DEFAULT_SETUP_PORTS: &[u16] = &[443, 80];

/// What agenthost does when the kernel cannot give the sandbox's guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// Refuse to run an agent unless every restriction is enforced.
    #[default]
    Enforce,
    /// Run anyway, and say loudly which restrictions are not enforced.
    BestEffort,
    /// No sandbox at all.
    Off,
}

impl SandboxMode {
    /// How a plan built under this mode treats a restriction the kernel cannot make:
    /// `enforce` refuses to run, the others run without it (`off` runs no plan at all).
    pub fn enforcement(self) -> agenthost_sandbox::Enforcement {
        match self {
            SandboxMode::Enforce => agenthost_sandbox::Enforcement::Enforce,
            SandboxMode::BestEffort | SandboxMode::Off => {
                agenthost_sandbox::Enforcement::BestEffort
            }
        }
    }
}

/// `[sandbox]`: settings for every agent's sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// What to do when the kernel cannot enforce the sandbox.
    pub mode: SandboxMode,
    /// Extra host paths every agent may read (toolchains, SDKs).
    pub read: Vec<HostPath>,
    /// Whether the agent gets the mount layer: a read-only view of the file system but its
    /// write grants, with Do NOT modify paths read-only on top (on by default; personal
    /// config only).
    pub read_only_view: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            mode: SandboxMode::default(),
            read: Vec::new(),
            read_only_view: true,
        }
    }
}

/// `[test]`: the repository's test command, run after the agent stops in a sandbox of its
/// own: the worktree writable (its `.git` and Do NOT modify paths read-only), a private
/// `HOME` and `TMPDIR`, the package caches read-only, and what these grants add.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestConfig {
    /// The command, run with `sh -c` in the task's worktree; `None` when the repository has
    /// none (a spec may still give one).
    pub command: Option<String>,
    /// How long the test command may run.
    pub timeout: Duration,
    /// TCP ports the test run may connect to (a database on loopback).
    pub ports: Vec<u16>,
    /// Extra host paths the test run may read.
    pub read: Vec<HostPath>,
    /// Extra host paths the test run may write (never the agent).
    pub write: Vec<HostPath>,
    /// Variables set for the test run.
    pub env: std::collections::BTreeMap<String, String>,
}

/// `[worktree]`: how each task's git worktree is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeConfig {
    /// The branch task branches start from; `None` means the branch checked out when the task
    /// is launched.
    pub base: Option<String>,
    /// Untracked files or directories (such as `.env`, `node_modules`) copied from the
    /// checkout into each worktree, relative to the repository root.
    pub copy: Vec<PathBuf>,
    /// Commands (`sh -c`) run in order in each new worktree before the agent, in a sandbox
    /// of their own: the worktree and the package caches writable, the registries' ports.
    pub setup: Vec<String>,
    /// How long the setup commands may run, together.
    pub setup_timeout: Duration,
    /// The TCP ports the setup commands may connect to.
    pub setup_ports: Vec<u16>,
}

impl Default for WorktreeConfig {
    fn default() -> Self {
        WorktreeConfig {
            base: None,
            copy: Vec::new(),
            setup: Vec::new(),
            setup_timeout: DEFAULT_SETUP_TIMEOUT,
            setup_ports: DEFAULT_SETUP_PORTS.to_vec(),
        }
    }
}

/// `[notify]`: how agenthost says a task is done (ready for review, or failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// A command run when a task is done, with `AGENTHOST_TASK`, `AGENTHOST_STATE`,
    /// `AGENTHOST_TITLE` and `AGENTHOST_REPO` in its environment. Only the user config and
    /// `agenthost.local.toml` may set it: a repository must not make your machine run
    /// commands.
    pub on_ready: Option<Vec<String>>,
    /// Whether to send a desktop notification (`notify-send`, where present).
    pub desktop: bool,
    /// Whether to ring the terminal bell in attached clients (`ui` when a task becomes
    /// ready, `launch --wait`).
    pub bell: bool,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            on_ready: None,
            desktop: true,
            bell: true,
        }
    }
}

/// What `agenthost verify` does with a commit that names no spec (no `Agenthost-Task`
/// trailer), or with staged changes when no spec can be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequireSpec {
    /// Not checked, and only counted in the summary: people commit too.
    #[default]
    Off,
    /// A warning finding: reported, not blocking.
    Warn,
    /// An error finding: blocking (exit status 1).
    Error,
}

/// `[verify]`: how `agenthost verify` checks commits in CI and git hooks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyConfig {
    /// What a commit without a spec gets.
    pub require_spec: RequireSpec,
    /// The review policies verify asks; `None` means every enabled review policy except
    /// `tests` (verify runs no tests: CI runs them itself).
    pub policies: Option<Vec<String>>,
}

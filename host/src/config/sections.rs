//! The single-table sections of the config: `[sandbox]`, `[test]`, `[worktree]`,
//! `[notify]` and `[verify]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::HostPath;

/// How long the test command may run when `[test] timeout` is not set.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

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

/// `[test]`: the repository's test command, run in the sandbox after the agent stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestConfig {
    /// The command, run with `sh -c` in the task's worktree; `None` when the repository has
    /// none (a spec may still give one).
    pub command: Option<String>,
    /// How long the test command may run.
    pub timeout: Duration,
}

/// `[worktree]`: how each task's git worktree is made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorktreeConfig {
    /// The branch task branches start from; `None` means the branch checked out when the task
    /// is launched.
    pub base: Option<String>,
    /// Untracked files (such as `.env`) copied from the checkout into each worktree, relative
    /// to the repository root.
    pub copy: Vec<PathBuf>,
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
    /// Whether to ring the terminal bell in attached clients (`launch --wait`, `logs -f`).
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

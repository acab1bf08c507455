//! Resolved agent profiles: how to run one agent CLI and what its sandbox grants it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{CommandTemplate, HostPath, Origin};

/// How long an agent may run when neither its profile nor the spec sets a `timeout`.
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// One agent profile, `[agents.<name>]`, after all layers are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentProfile {
    /// The command that starts the agent on a task.
    pub command: CommandTemplate,
    /// The command that continues the agent's previous session with a correction, when the
    /// agent can do that; otherwise a correction starts a fresh session with `command`.
    pub continue_command: Option<CommandTemplate>,
    /// Names of host environment variables passed through to the agent.
    pub pass_env: Vec<String>,
    /// Variables set to fixed values in the agent's environment.
    pub env: BTreeMap<String, String>,
    /// Extra host paths the agent may read.
    pub read: Vec<HostPath>,
    /// Extra host paths the agent may write (such as its own config directory).
    pub write: Vec<HostPath>,
    /// TCP ports the agent may connect to.
    pub ports: Vec<u16>,
    /// Whether the agent may create unix sockets (`socket(AF_UNIX)`): Claude Code serves its
    /// tools on one under TMPDIR. On kernels before Landlock ABI 9 this also lets it connect
    /// to any pathname unix socket it can reach, so it is off unless a profile needs it.
    pub unix_sockets: bool,
    /// How long the agent may run ([`DEFAULT_AGENT_TIMEOUT`] unless set).
    pub timeout: Duration,
    /// One line saying what this profile is for.
    pub description: Option<String>,
    /// The highest-precedence layer that configured this profile.
    pub origin: Origin,
}

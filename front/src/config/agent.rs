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
    /// What the host copies from the real home into the task's private home before the
    /// first attempt (`~/...` each: the CLI's credentials, the user's instructions file).
    /// The agent gets no write right in the real home; its `HOME` is the private one.
    pub seed: Vec<HostPath>,
    /// The one seeded file the host copies back to the real home after each run (an OAuth
    /// token the CLI refreshed), after checking it: a regular file, the same kind of content
    /// (JSON stays JSON with the same top-level keys), the original's owner and mode kept.
    pub write_back: Option<HostPath>,
    /// Files the host writes into a new private home where no seed put one, by path
    /// relative to the home: settings a CLI needs to run headless (Gemini CLI's auth type,
    /// Codex's provider for `OPENAI_BASE_URL`). `{home}` and `{env:NAME}` are filled in; a
    /// file whose variable is unset is not written.
    pub home_files: BTreeMap<String, String>,
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

impl AgentProfile {
    /// A warning for each `write` grant into the real home (`~/...`, or an absolute path
    /// under `home`), naming the risk: a delayed escape through a file a program reads later.
    pub fn home_write_warnings(&self, name: &str, home: &std::path::Path) -> Vec<String> {
        self.write
            .iter()
            .filter(|path| path.expand(home).starts_with(home))
            .map(|path| {
                format!(
                    "warning: profile `{name}` grants write `{path}`, in your real home: an agent \
                     can plant hooks, MCP servers, commands or start-up files there that run \
                     outside the sandbox the next time you use that program. Agents have a \
                     private home per task: use `seed = [\"{path}\"]` to copy what the agent \
                     needs into it instead"
                )
            })
            .collect()
    }
}

/// Whether a file in the home, named as `~/...`, configures code that a CLI runs later:
/// settings (hooks, status lines, `apiKeyHelper`), MCP server definitions, custom commands,
/// agents, plugins, `notify` programs, shell start-up files, git's config. Such a file is
/// never copied back from a task's private home, and a `write` grant to it is warned about.
pub fn runs_code_later(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    let parts: Vec<&str> = path.split('/').collect();
    let in_dir = |dir: &str| parts.iter().rev().skip(1).any(|p| *p == dir);
    lower.starts_with("settings")
        || lower.starts_with("config")
        || lower.ends_with(".md")
        || lower.ends_with(".sh")
        || lower.ends_with("rc")
        || lower.ends_with("profile")
        || matches!(
            lower.as_str(),
            ".claude.json"
                | "mcp.json"
                | ".mcp.json"
                | "hooks.json"
                | ".gitconfig"
                | ".aider.conf.yml"
                | ".env"
        )
        || [
            "hooks",
            "commands",
            "agents",
            "plugins",
            "extensions",
            "skills",
        ]
        .iter()
        .any(|dir| in_dir(dir))
}

#[cfg(test)]
mod tests {
    use super::runs_code_later;

    #[test]
    fn files_that_run_code_later_are_recognised() {
        for path in [
            "~/.claude/settings.json",
            "~/.claude/settings.local.json",
            "~/.claude.json",
            "~/.codex/config.toml",
            "~/.gemini/settings.json",
            "~/.claude/commands/deploy.md",
            "~/.claude/agents/helper.md",
            "~/.claude/CLAUDE.md",
            "~/.bashrc",
            "~/.profile",
            "~/.gitconfig",
            "~/.aider.conf.yml",
            "~/.gemini/extensions/x/gemini-extension.json",
        ] {
            assert!(runs_code_later(path), "{path}");
        }
        for path in [
            "~/.claude/.credentials.json",
            "~/.codex/auth.json",
            "~/.gemini/oauth_creds.json",
        ] {
            assert!(!runs_code_later(path), "{path}");
        }
    }
}

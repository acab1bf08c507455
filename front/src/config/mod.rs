//! Configuration: agent profiles, sandbox, test command, worktrees and policies.
//!
//! # Layers
//!
//! Four layers, lowest precedence first; each later layer overrides the ones before it:
//!
//! 1. the built-in defaults, `defaults.toml` embedded in the binary (agent profiles for
//!    `claude`, `codex`, `aider`, `gemini` and the scripted example agent `script`; the five built-in policies, in enforce mode;
//!    sandbox mode `enforce`);
//! 2. the user config: `$AGENTHOST_CONFIG` if set, else
//!    `$XDG_CONFIG_HOME/agenthost/config.toml`, else `$HOME/.config/agenthost/config.toml`;
//! 3. the repository's `agenthost.toml` (shared with the team);
//! 4. the repository's `agenthost.local.toml` (personal, git-ignored).
//!
//! Every layer has the same format and the same types. The defaults' layer is built by
//! code generated from `defaults.toml` (`prebuilt.rs`; a test keeps the two in step, spans
//! included), so a start with no config file never runs the TOML parser.
//!
//! # Merging
//!
//! - Scalars and arrays: the highest layer that sets one wins (arrays are replaced, not
//!   appended to).
//! - `[agents.<name>]`: merged field by field, so a layer can change one field of a built-in
//!   profile; `env` merges variable by variable.
//! - `[policies.<name>]`: merged field by field over the built-in default, so configuring one
//!   policy never drops the others; `enabled = false` turns one off; `config` tables merge key
//!   by key, recursively. A layer that gives a policy a `path` replaces it: nothing configured
//!   for that name in lower layers carries over.
//!
//! Each resolved agent profile and policy records its [`Origin`], the highest layer that
//! configured it.
//!
//! # Checking
//!
//! Each file is parsed with unknown keys refused, and its values are checked as it is merged,
//! so every error points at a line of the file that holds the mistake. Then the merged
//! config is checked as a whole (every profile has a `command`, `default_agent` names a
//! profile, every policy without a `path` is a built-in). Nothing falls back silently: a value
//! is either valid or a [`ConfigError`].
//!
//! Loading reads the config files and nothing else; it does not check that plugin files or
//! granted paths exist, which is for the code that uses them.

mod agent;
mod command;

mod error;
mod host_path;
mod layer;
mod policy;
mod prebuilt;
mod resolve;
mod sections;
mod sources;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use agent::{AgentProfile, DEFAULT_AGENT_TIMEOUT, runs_code_later};
pub use command::{CommandTemplate, Placeholder, PlaceholderValues};
pub use error::ConfigError;
pub use host_path::HostPath;
pub use policy::{BuiltinPolicy, PolicyConfig, PolicyMode, PolicySource, Sha256};
pub use sections::{
    DEFAULT_SETUP_PORTS, DEFAULT_SETUP_TIMEOUT, DEFAULT_TEST_TIMEOUT, NotifyConfig, RequireSpec,
    SandboxConfig, SandboxMode, TestConfig, VerifyConfig, WorktreeConfig,
};
pub use sources::{ConfigSources, LOCAL_FILE, Origin, REPO_FILE};

use layer::LayerFile;

/// The commented `agenthost.toml` that `agenthost init` writes.
pub const INIT_TEMPLATE: &str = include_str!("init_template.toml");

/// The resolved configuration: every layer merged, every value checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The agent profile used when a spec names none.
    pub default_agent: String,
    /// Agent profiles by name.
    pub agents: BTreeMap<String, AgentProfile>,
    /// Sandbox settings for every agent.
    pub sandbox: SandboxConfig,
    /// The repository's test command.
    pub test: TestConfig,
    /// How task worktrees are made.
    pub worktree: WorktreeConfig,
    /// How agenthost says a task is done.
    pub notify: NotifyConfig,
    /// How `agenthost verify` checks commits.
    pub verify: VerifyConfig,
    /// Policies by name, enabled or not.
    pub policies: BTreeMap<String, PolicyConfig>,
    /// The files that were read, lowest precedence first (the built-in defaults are not a
    /// file and are not listed).
    pub sources: Vec<PathBuf>,
}

impl Config {
    /// Loads the built-in defaults and then each file in `sources`.
    ///
    /// # Errors
    ///
    /// The first problem found: a file that cannot be read or is not UTF-8, bad TOML, an
    /// unknown key, or a value that fails its check. See [`ConfigError`].
    pub fn load(sources: &ConfigSources) -> Result<Config, ConfigError> {
        let mut files = vec![LayerFile::builtin()];
        for origin in sources.origins() {
            files.push(LayerFile::read(origin)?);
        }
        resolve::resolve(&files)
    }

    /// The built-in defaults alone.
    ///
    /// # Panics
    ///
    /// If the embedded `defaults.toml` is invalid, which is a bug in agenthost that the unit
    /// tests rule out; user input never reaches this.
    pub fn builtin() -> Config {
        match resolve::resolve(&[LayerFile::builtin()]) {
            Ok(config) => config,
            Err(err) => panic!("agenthost bug: the built-in defaults.toml is invalid: {err}"),
        }
    }

    /// The profile named by `default_agent`. Always `Some` for a loaded config.
    pub fn default_profile(&self) -> Option<&AgentProfile> {
        self.agents.get(&self.default_agent)
    }

    /// The policies that run, by name.
    pub fn enabled_policies(&self) -> impl Iterator<Item = (&str, &PolicyConfig)> {
        self.policies
            .iter()
            .filter(|(_, policy)| policy.enabled)
            .map(|(name, policy)| (name.as_str(), policy))
    }
}

#[cfg(test)]
mod tests;

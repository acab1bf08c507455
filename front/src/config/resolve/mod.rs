//! Merging layers into a [`Config`]: each layer's values are checked as they are merged (so an
//! error names the file that holds it), then the result is checked as a whole.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::layer::{Layer, LayerFile};
use super::{
    CommandTemplate, Config, ConfigError, DEFAULT_SETUP_PORTS, DEFAULT_SETUP_TIMEOUT,
    DEFAULT_TEST_TIMEOUT, HostPath, NotifyConfig, Origin, PolicyConfig, PolicyMode, RequireSpec,
    SandboxConfig, SandboxMode, Sha256, TestConfig, VerifyConfig, WorktreeConfig,
};
use crate::suggest::nearest;

mod checker;
mod drafts;

/// Parses and merges `files`, lowest precedence first.
pub(crate) fn resolve(files: &[LayerFile]) -> Result<Config, ConfigError> {
    let mut draft = Draft::default();
    for (index, file) in files.iter().enumerate() {
        let layer = if file.prebuilt {
            super::prebuilt::defaults_layer()
        } else {
            file.parse()?
        };
        draft.apply(Checker { index, file }, layer)?;
    }
    draft.finish(files)
}

/// A place in one of the layers.
#[derive(Debug, Clone)]
struct Loc {
    layer: usize,
    span: Range<usize>,
}

/// Everything merged so far, before the whole-config checks.
#[derive(Debug, Default)]
struct Draft {
    default_agent: Option<Spanned<String>>,
    default_agent_layer: usize,
    agents: BTreeMap<String, AgentDraft>,
    sandbox_mode: Option<SandboxMode>,
    sandbox_read: Option<Vec<HostPath>>,
    sandbox_read_only_view: Option<bool>,
    test_command: Option<String>,
    test_timeout: Option<Duration>,
    test_ports: Option<Vec<u16>>,
    test_read: Option<Vec<HostPath>>,
    test_write: Option<Vec<HostPath>>,
    test_env: BTreeMap<String, String>,
    worktree_base: Option<String>,
    worktree_copy: Option<Vec<PathBuf>>,
    worktree_setup: Option<Vec<String>>,
    worktree_setup_timeout: Option<Duration>,
    worktree_setup_ports: Option<Vec<u16>>,
    notify_on_ready: Option<Vec<String>>,
    notify_desktop: Option<bool>,
    notify_bell: Option<bool>,
    verify_require_spec: Option<RequireSpec>,
    verify_policies: Option<(Vec<Spanned<String>>, usize)>,
    policies: BTreeMap<String, PolicyDraft>,
}

#[derive(Debug)]
struct AgentDraft {
    /// Where the profile is first configured.
    defined: Loc,
    origin: Origin,
    command: Option<CommandTemplate>,
    continue_command: Option<CommandTemplate>,
    pass_env: Option<Vec<String>>,
    env: BTreeMap<String, String>,
    read: Option<Vec<HostPath>>,
    write: Option<Vec<HostPath>>,
    seed: Option<Vec<HostPath>>,
    write_back: Option<Option<HostPath>>,
    home_files: BTreeMap<String, String>,
    ports: Option<Vec<u16>>,
    unix_sockets: Option<bool>,
    timeout: Option<Duration>,
    description: Option<String>,
}

#[derive(Debug)]
struct PolicyDraft {
    /// Where the policy is first configured (or last given a `path`).
    defined: Loc,
    origin: Origin,
    path: Option<PathBuf>,
    sha256: Option<(Sha256, Loc)>,
    mode: Option<PolicyMode>,
    enabled: Option<bool>,
    config: toml::Table,
}

impl Draft {
    /// Merges one layer over what is already here.
    fn apply(&mut self, at: Checker<'_>, layer: Layer) -> Result<(), ConfigError> {
        if let Some(name) = layer.default_agent {
            self.default_agent = Some(name);
            self.default_agent_layer = at.index;
        }
        for (name, agent) in layer.agents {
            let defined = at.loc(name.span());
            let name = name.into_inner();
            let draft = self
                .agents
                .entry(name.clone())
                .or_insert_with(|| AgentDraft::new(defined));
            draft.apply(&at, &name, agent)?;
        }
        if let Some(sandbox) = layer.sandbox {
            self.sandbox_mode = sandbox.mode.or(self.sandbox_mode);
            if let Some(read) = sandbox.read {
                self.sandbox_read = Some(at.host_paths("sandbox.read", read)?);
            }
            if let Some(view) = sandbox.read_only_view {
                // Whether the mount layer can be made is the machine's business (AppArmor, a
                // container), never a repository's: it must not weaken the sandbox.
                if matches!(at.file.origin, Origin::Repo(_)) {
                    let (src, span) = at.locate(view.span());
                    return Err(ConfigError::PersonalOnly {
                        key: "sandbox.read_only_view".into(),
                        src,
                        span,
                    });
                }
                self.sandbox_read_only_view = Some(view.into_inner());
            }
        }
        if let Some(test) = layer.test {
            self.test_command = test.command.or(self.test_command.take());
            if let Some(timeout) = test.timeout {
                self.test_timeout = Some(at.duration("test.timeout", timeout)?);
            }
            self.test_ports = test.ports.or(self.test_ports.take());
            if let Some(read) = test.read {
                self.test_read = Some(at.host_paths("test.read", read)?);
            }
            if let Some(write) = test.write {
                // The test run executes the agent's code: a repository must not aim it at
                // your home, where it could plant start-up files and hooks.
                if matches!(at.file.origin, Origin::Repo(_))
                    && let Some(home) = write.iter().find(|p| p.as_ref().starts_with('~'))
                {
                    let (src, span) = at.locate(home.span());
                    return Err(ConfigError::PersonalOnly {
                        key: "test.write".into(),
                        src,
                        span,
                    });
                }
                self.test_write = Some(at.host_paths("test.write", write)?);
            }
            for (name, value) in test.env.unwrap_or_default() {
                let name = at.env_name("test.env", name)?;
                self.test_env.insert(name, value);
            }
        }
        if let Some(worktree) = layer.worktree {
            self.worktree_base = worktree.base.or(self.worktree_base.take());
            if let Some(copy) = worktree.copy {
                self.worktree_copy = Some(at.copy_paths(copy)?);
            }
            if let Some(setup) = worktree.setup {
                let mut commands = Vec::new();
                for command in setup.into_inner() {
                    if command.as_ref().trim().is_empty() {
                        let (src, span) = at.locate(command.span());
                        return Err(ConfigError::EmptySetup { src, span });
                    }
                    commands.push(command.into_inner());
                }
                self.worktree_setup = Some(commands);
            }
            if let Some(timeout) = worktree.setup_timeout {
                self.worktree_setup_timeout = Some(at.duration("worktree.setup_timeout", timeout)?);
            }
            self.worktree_setup_ports = worktree.setup_ports.or(self.worktree_setup_ports.take());
        }
        if let Some(notify) = layer.notify {
            if let Some(on_ready) = notify.on_ready {
                let (src, span) = at.locate(on_ready.span());
                if matches!(at.file.origin, Origin::Repo(_)) {
                    return Err(ConfigError::PersonalOnly {
                        key: "notify.on_ready".into(),
                        src,
                        span,
                    });
                }
                let command: Vec<String> = on_ready
                    .into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect();
                if command
                    .first()
                    .is_none_or(|program| program.trim().is_empty())
                {
                    return Err(ConfigError::EmptyHook {
                        key: "notify.on_ready".into(),
                        src,
                        span,
                    });
                }
                self.notify_on_ready = Some(command);
            }
            self.notify_desktop = notify.desktop.or(self.notify_desktop);
            self.notify_bell = notify.bell.or(self.notify_bell);
        }
        if let Some(verify) = layer.verify {
            self.verify_require_spec = verify.require_spec.or(self.verify_require_spec);
            if let Some(policies) = verify.policies {
                self.verify_policies = Some((policies.into_inner(), at.index));
            }
        }
        for (name, policy) in layer.policies {
            let defined = at.loc(name.span());
            let name = name.into_inner();
            if policy.path.is_some() {
                // A path replaces the policy: nothing configured below this layer carries over.
                self.policies.remove(&name);
            }
            let draft = self
                .policies
                .entry(name.clone())
                .or_insert_with(|| PolicyDraft::new(defined));
            draft.apply(&at, &name, policy)?;
        }
        Ok(())
    }

    /// Checks the merged whole and builds the [`Config`].
    fn finish(self, files: &[LayerFile]) -> Result<Config, ConfigError> {
        let sources = files
            .iter()
            .filter_map(|file| file.origin.path().map(Path::to_path_buf))
            .collect();
        let named_agents: Vec<&str> = self
            .agents
            .iter()
            .filter(|(_, agent)| agent.command.is_some())
            .map(|(name, _)| name.as_str())
            .collect();
        let mut agents = BTreeMap::new();
        for (name, draft) in &self.agents {
            let Some(command) = draft.command.clone() else {
                let (src, span) = draft.defined.locate(files);
                let example = format!(
                    "give it one: command = [\"{name}\", \"{{prompt}}\"] under [agents.{}]",
                    key_part(name)
                );
                let help = match nearest(name, named_agents.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`? Otherwise {example}"),
                    None => example,
                };
                return Err(ConfigError::MissingCommand {
                    agent: name.clone(),
                    src,
                    span,
                    help,
                });
            };
            agents.insert(name.clone(), draft.finish(command));
        }

        let Some(default_agent) = self.default_agent else {
            return Err(ConfigError::NoDefaultAgent);
        };
        if !agents.contains_key(default_agent.as_ref()) {
            let loc = Loc {
                layer: self.default_agent_layer,
                span: default_agent.span(),
            };
            let (src, span) = loc.locate(files);
            let agent = default_agent.into_inner();
            let list = quoted_list(agents.keys().map(String::as_str));
            let help = match nearest(&agent, agents.keys().map(String::as_str)) {
                Some(close) => format!("did you mean `{close}`? Agent profiles: {list}"),
                None => format!(
                    "name one of the agent profiles ({list}), or define [agents.{}]",
                    key_part(&agent)
                ),
            };
            return Err(ConfigError::UnknownDefaultAgent {
                agent,
                src,
                span,
                help,
            });
        }

        let mut policies = BTreeMap::new();
        for (name, draft) in self.policies {
            let policy = draft.finish(&name, files)?;
            policies.insert(name, policy);
        }
        let verify_policies = match self.verify_policies {
            None => None,
            Some((names, layer)) => Some(verify_policy_names(names, layer, &policies, files)?),
        };

        Ok(Config {
            default_agent: default_agent.into_inner(),
            agents,
            sandbox: SandboxConfig {
                mode: self.sandbox_mode.unwrap_or_default(),
                read: self.sandbox_read.unwrap_or_default(),
                read_only_view: self.sandbox_read_only_view.unwrap_or(true),
            },
            test: TestConfig {
                command: self.test_command,
                timeout: self.test_timeout.unwrap_or(DEFAULT_TEST_TIMEOUT),
                ports: self.test_ports.unwrap_or_default(),
                read: self.test_read.unwrap_or_default(),
                write: self.test_write.unwrap_or_default(),
                env: self.test_env,
            },
            worktree: WorktreeConfig {
                base: self.worktree_base,
                copy: self.worktree_copy.unwrap_or_default(),
                setup: self.worktree_setup.unwrap_or_default(),
                setup_timeout: self.worktree_setup_timeout.unwrap_or(DEFAULT_SETUP_TIMEOUT),
                setup_ports: self
                    .worktree_setup_ports
                    .unwrap_or_else(|| DEFAULT_SETUP_PORTS.to_vec()),
            },
            notify: NotifyConfig {
                on_ready: self.notify_on_ready,
                desktop: self.notify_desktop.unwrap_or(true),
                bell: self.notify_bell.unwrap_or(true),
            },
            verify: VerifyConfig {
                require_spec: self.verify_require_spec.unwrap_or_default(),
                policies: verify_policies,
            },
            policies,
            sources,
        })
    }
}

/// Checks that every name in `[verify] policies` is a configured policy.
fn verify_policy_names(
    names: Vec<Spanned<String>>,
    layer: usize,
    policies: &BTreeMap<String, PolicyConfig>,
    files: &[LayerFile],
) -> Result<Vec<String>, ConfigError> {
    let mut checked = Vec::with_capacity(names.len());
    for name in names {
        let span = name.span();
        let name = name.into_inner();
        if !policies.contains_key(&name) {
            let (src, span) = Loc { layer, span }.locate(files);
            let list = quoted_list(policies.keys().map(String::as_str));
            let help = match nearest(&name, policies.keys().map(String::as_str)) {
                Some(close) => format!("did you mean `{close}`? Configured policies: {list}"),
                None => format!("name configured policies: {list}"),
            };
            return Err(ConfigError::UnknownVerifyPolicy {
                policy: name,
                src,
                span,
                help,
            });
        }
        checked.push(name);
    }
    Ok(checked)
}

/// Checks values from one layer, turning problems into diagnostics that point into it.
#[derive(Debug, Clone, Copy)]
struct Checker<'a> {
    index: usize,
    file: &'a LayerFile,
}

/// Merges `over` into `base`: tables merge key by key, recursively; anything else in `over`
/// replaces what `base` has.
fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(over)) => merge_tables(base, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `name` as it would be written in a dotted TOML key.
fn key_part(name: &str) -> Cow<'_, str> {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("{name:?}"))
    }
}

/// "`a`, `b`, `c`".
fn quoted_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

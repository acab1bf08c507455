//! Merging layers into a [`Config`]: each layer's values are checked as they are merged (so an
//! error names the file that holds it), then the result is checked as a whole.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::SourceSpan;
use toml::Spanned;

use super::command::{TemplateError, TemplateErrorKind};
use super::layer::{AgentLayer, Layer, LayerFile, PolicyLayer, SpannedStrings};
use super::{
    AgentProfile, BuiltinPolicy, CommandTemplate, Config, ConfigError, DEFAULT_AGENT_TIMEOUT,
    DEFAULT_SETUP_PORTS, DEFAULT_SETUP_TIMEOUT, DEFAULT_TEST_TIMEOUT, HostPath, NotifyConfig,
    Origin, Placeholder, PolicyConfig, PolicyMode, PolicySource, RequireSpec, SandboxConfig,
    SandboxMode, Sha256, TestConfig, VerifyConfig, WorktreeConfig,
};
use crate::duration::parse as parse_duration;
use crate::suggest::nearest;

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

impl AgentDraft {
    fn new(defined: Loc) -> AgentDraft {
        AgentDraft {
            defined,
            origin: Origin::Builtin,
            command: None,
            continue_command: None,
            pass_env: None,
            env: BTreeMap::new(),
            read: None,
            write: None,
            seed: None,
            write_back: None,
            home_files: BTreeMap::new(),
            ports: None,
            unix_sockets: None,
            timeout: None,
            description: None,
        }
    }

    fn apply(
        &mut self,
        at: &Checker<'_>,
        name: &str,
        agent: AgentLayer,
    ) -> Result<(), ConfigError> {
        let key = |field: &str| format!("agents.{}.{field}", key_part(name));
        self.origin = at.file.origin.clone();
        if let Some(command) = agent.command {
            self.command = Some(at.command(&key("command"), command)?);
        }
        if let Some(command) = agent.continue_command {
            self.continue_command = Some(at.command(&key("continue"), command)?);
        }
        if let Some(names) = agent.pass_env {
            let names = names
                .into_iter()
                .map(|name| at.env_name(&key("pass_env"), name))
                .collect::<Result<_, _>>()?;
            self.pass_env = Some(names);
        }
        for (variable, value) in agent.env.unwrap_or_default() {
            let variable = at.env_name(&key("env"), variable)?;
            self.env.insert(variable, value);
        }
        if let Some(read) = agent.read {
            self.read = Some(at.host_paths(&key("read"), read)?);
        }
        if let Some(write) = agent.write {
            self.write = Some(at.host_paths(&key("write"), write)?);
        }
        for (field, span) in [
            (
                "seed",
                agent
                    .seed
                    .as_ref()
                    .and_then(|s| s.first())
                    .map(Spanned::span),
            ),
            ("write_back", agent.write_back.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span
                && matches!(at.file.origin, Origin::Repo(_))
            {
                let (src, span) = at.locate(span);
                return Err(ConfigError::PersonalOnly {
                    key: key(field),
                    src,
                    span,
                });
            }
        }
        if let Some(seed) = agent.seed {
            self.seed = Some(
                seed.into_iter()
                    .map(|path| at.seed_path(&key("seed"), path))
                    .collect::<Result<_, _>>()?,
            );
        }
        if let Some(path) = agent.write_back {
            // An empty string switches an inherited write-back off.
            self.write_back = Some(if path.as_ref().is_empty() {
                None
            } else {
                let seeds = self.seed.clone().unwrap_or_default();
                Some(at.write_back_path(&key("write_back"), path, &seeds)?)
            });
        }
        for (name, text) in agent.home_files.unwrap_or_default() {
            let name = at.home_file(&key("home_files"), name)?;
            self.home_files.insert(name, text);
        }
        self.ports = agent.ports.or(self.ports.take());
        self.unix_sockets = agent.unix_sockets.or(self.unix_sockets.take());
        if let Some(timeout) = agent.timeout {
            self.timeout = Some(at.duration(&key("timeout"), timeout)?);
        }
        self.description = agent.description.or(self.description.take());
        Ok(())
    }

    fn finish(&self, command: CommandTemplate) -> AgentProfile {
        AgentProfile {
            command,
            continue_command: self.continue_command.clone(),
            pass_env: self.pass_env.clone().unwrap_or_default(),
            env: self.env.clone(),
            read: self.read.clone().unwrap_or_default(),
            write: self.write.clone().unwrap_or_default(),
            seed: self.seed.clone().unwrap_or_default(),
            write_back: self.write_back.clone().flatten(),
            home_files: self.home_files.clone(),
            ports: self.ports.clone().unwrap_or_default(),
            unix_sockets: self.unix_sockets.unwrap_or(false),
            timeout: self.timeout.unwrap_or(DEFAULT_AGENT_TIMEOUT),
            description: self.description.clone(),
            origin: self.origin.clone(),
        }
    }
}

impl PolicyDraft {
    fn new(defined: Loc) -> PolicyDraft {
        PolicyDraft {
            defined,
            origin: Origin::Builtin,
            path: None,
            sha256: None,
            mode: None,
            enabled: None,
            config: toml::Table::new(),
        }
    }

    fn apply(
        &mut self,
        at: &Checker<'_>,
        name: &str,
        policy: PolicyLayer,
    ) -> Result<(), ConfigError> {
        self.origin = at.file.origin.clone();
        if let Some(path) = policy.path {
            let path = PathBuf::from(path);
            self.path = Some(match at.file.dir() {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path,
            });
        }
        if let Some(digest) = policy.sha256 {
            let loc = at.loc(digest.span());
            let parsed = Sha256::parse(digest.as_ref()).map_err(|reason| {
                let (src, span) = at.locate(digest.span());
                ConfigError::BadSha256 {
                    policy: name.to_string(),
                    reason,
                    src,
                    span,
                }
            })?;
            self.sha256 = Some((parsed, loc));
        }
        self.mode = policy.mode.or(self.mode);
        self.enabled = policy.enabled.or(self.enabled);
        if let Some(config) = policy.config {
            merge_tables(&mut self.config, config);
        }
        Ok(())
    }

    fn finish(self, name: &str, files: &[LayerFile]) -> Result<PolicyConfig, ConfigError> {
        let source = match (self.path, self.sha256) {
            (Some(path), sha256) => PolicySource::Plugin {
                path,
                sha256: sha256.map(|(digest, _)| digest),
            },
            (None, Some((_, loc))) => {
                let (src, span) = loc.locate(files);
                return Err(ConfigError::Sha256WithoutPath {
                    policy: name.to_string(),
                    src,
                    span,
                });
            }
            (None, None) => match BuiltinPolicy::from_name(name) {
                Some(builtin) => PolicySource::Builtin(builtin),
                None => {
                    let (src, span) = self.defined.locate(files);
                    let names = BuiltinPolicy::ALL.map(BuiltinPolicy::name);
                    let list = quoted_list(names);
                    let plugin = "for your own plugin, add `path = \"policies/name.wasm\"`";
                    let help = match nearest(name, names) {
                        Some(close) => {
                            format!("did you mean `{close}`? Built-in policies: {list}; {plugin}")
                        }
                        None => format!("built-in policies are {list}; {plugin}"),
                    };
                    return Err(ConfigError::UnknownPolicy {
                        policy: name.to_string(),
                        src,
                        span,
                        help,
                    });
                }
            },
        };
        Ok(PolicyConfig {
            source,
            mode: self.mode.unwrap_or_default(),
            enabled: self.enabled.unwrap_or(true),
            config: self.config,
            origin: self.origin,
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

impl Loc {
    fn locate(&self, files: &[LayerFile]) -> (Arc<miette::NamedSource<String>>, SourceSpan) {
        let src = match files.get(self.layer) {
            Some(file) => file.src(),
            None => Arc::new(miette::NamedSource::new("<unknown>", String::new())),
        };
        (src, self.span.clone().into())
    }
}

/// Checks values from one layer, turning problems into diagnostics that point into it.
#[derive(Debug, Clone, Copy)]
struct Checker<'a> {
    index: usize,
    file: &'a LayerFile,
}

impl Checker<'_> {
    fn loc(&self, span: Range<usize>) -> Loc {
        Loc {
            layer: self.index,
            span,
        }
    }

    fn locate(&self, span: Range<usize>) -> (Arc<miette::NamedSource<String>>, SourceSpan) {
        (self.file.src(), span.into())
    }

    fn command(
        &self,
        key: &str,
        args: Spanned<SpannedStrings>,
    ) -> Result<CommandTemplate, ConfigError> {
        let whole = args.span();
        let args = args.into_inner();
        if args.is_empty() {
            let (src, span) = self.locate(whole);
            return Err(ConfigError::EmptyCommand {
                key: key.to_string(),
                src,
                span,
            });
        }
        let spans: Vec<Range<usize>> = args.iter().map(Spanned::span).collect();
        let args: Vec<String> = args.into_iter().map(Spanned::into_inner).collect();
        CommandTemplate::parse(args.clone()).map_err(|TemplateError { arg, range, kind }| {
            let (arg, arg_span) = match (args.get(arg), spans.get(arg)) {
                (Some(arg), Some(span)) => (arg.as_str(), span.clone()),
                _ => ("", whole),
            };
            let span = self.within_string(arg_span, arg, range);
            let (src, span) = self.locate(span);
            let key = key.to_string();
            match kind {
                TemplateErrorKind::Unknown(name) => {
                    let names = Placeholder::ALL.map(Placeholder::name);
                    let list = names.map(|n| format!("`{{{n}}}`")).join(", ");
                    let literal = "write `{{` and `}}` for literal braces";
                    let help = match nearest(&name, names) {
                        Some(close) => {
                            format!("did you mean `{{{close}}}`? Placeholders: {list}; {literal}")
                        }
                        None => format!("placeholders are {list}; {literal}"),
                    };
                    ConfigError::UnknownPlaceholder {
                        name,
                        key,
                        src,
                        span,
                        help,
                    }
                }
                TemplateErrorKind::Unmatched(brace) => ConfigError::UnmatchedBrace {
                    brace,
                    key,
                    src,
                    span,
                },
            }
        })
    }

    /// Narrows `span`, the span of a TOML string whose value is `value`, to the byte `range`
    /// of the value, when the string is written without escapes; otherwise the whole string.
    fn within_string(&self, span: Range<usize>, value: &str, range: Range<usize>) -> Range<usize> {
        let literal = self.file.text().get(span.clone()).unwrap_or_default();
        let unescaped = literal.len() == value.len() + 2
            && literal.get(1..literal.len() - 1) == Some(value)
            && (literal.starts_with('"') || literal.starts_with('\''));
        if unescaped {
            span.start + 1 + range.start..span.start + 1 + range.end
        } else {
            span
        }
    }

    fn duration(&self, key: &str, value: Spanned<String>) -> Result<Duration, ConfigError> {
        parse_duration(value.as_ref()).map_err(|reason| {
            let (src, span) = self.locate(value.span());
            ConfigError::BadDuration {
                value: value.into_inner(),
                key: key.to_string(),
                reason,
                src,
                span,
            }
        })
    }

    fn host_paths(&self, key: &str, paths: SpannedStrings) -> Result<Vec<HostPath>, ConfigError> {
        paths
            .into_iter()
            .map(|path| {
                HostPath::parse(path.as_ref()).map_err(|reason| {
                    let (src, span) = self.locate(path.span());
                    ConfigError::BadHostPath {
                        path: path.into_inner(),
                        key: key.to_string(),
                        reason: reason.to_string(),
                        src,
                        span,
                    }
                })
            })
            .collect()
    }

    /// A `seed` entry: a path under `~` (the real home, copied into the private one).
    fn seed_path(&self, key: &str, path: Spanned<String>) -> Result<HostPath, ConfigError> {
        let text: &str = path.as_ref();
        let reason = match HostPath::parse(text) {
            Err(reason) => Some(reason.to_string()),
            Ok(_) if !text.starts_with("~/") => {
                Some("is not under your home directory (`~/...`)".to_string())
            }
            Ok(_) if text.split('/').any(|part| part == "..") => {
                Some("leaves the home directory through `..`".to_string())
            }
            Ok(parsed) => return Ok(parsed),
        };
        let (src, span) = self.locate(path.span());
        Err(ConfigError::BadSeedPath {
            path: path.into_inner(),
            key: key.to_string(),
            reason: reason.unwrap_or_default(),
            src,
            span,
        })
    }

    /// A `home_files` name: a relative path inside the private home.
    fn home_file(&self, key: &str, name: Spanned<String>) -> Result<String, ConfigError> {
        let text: &str = name.as_ref();
        let reason = if text.is_empty() {
            "is empty"
        } else if text.starts_with('/') || text.starts_with('~') {
            "is not relative to the private home (write `.tool/config.toml`)"
        } else if text.split('/').any(|part| part == ".." || part.is_empty()) {
            "leaves the private home or has an empty part"
        } else {
            return Ok(name.into_inner());
        };
        let (src, span) = self.locate(name.span());
        Err(ConfigError::BadSeedPath {
            path: name.into_inner(),
            key: key.to_string(),
            reason: reason.to_string(),
            src,
            span,
        })
    }

    /// The `write_back` entry: one of the profile's seed paths, and never a file that
    /// configures what the CLI runs (settings, hooks, commands, MCP servers, plugins).
    fn write_back_path(
        &self,
        key: &str,
        path: Spanned<String>,
        seeds: &[HostPath],
    ) -> Result<HostPath, ConfigError> {
        let parsed = self.seed_path(key, path.clone())?;
        let reason = if !seeds.contains(&parsed) {
            Some(
                "is not one of the profile's `seed` entries (set `seed` first, in the same layer or below)",
            )
        } else if super::agent::runs_code_later(parsed.as_str()) {
            Some(
                "configures what the CLI runs (settings, hooks, commands, MCP servers, plugins): the agent could plant code there that runs outside the sandbox later",
            )
        } else {
            None
        };
        match reason {
            None => Ok(parsed),
            Some(reason) => {
                let (src, span) = self.locate(path.span());
                Err(ConfigError::BadSeedPath {
                    path: path.into_inner(),
                    key: key.to_string(),
                    reason: reason.to_string(),
                    src,
                    span,
                })
            }
        }
    }

    fn copy_paths(&self, paths: SpannedStrings) -> Result<Vec<PathBuf>, ConfigError> {
        paths
            .into_iter()
            .map(|path| {
                let reason = copy_path_problem(path.as_ref());
                match reason {
                    None => Ok(PathBuf::from(path.into_inner())),
                    Some(reason) => {
                        let (src, span) = self.locate(path.span());
                        Err(ConfigError::BadCopyPath {
                            path: path.into_inner(),
                            reason: reason.to_string(),
                            src,
                            span,
                        })
                    }
                }
            })
            .collect()
    }

    fn env_name(&self, key: &str, name: Spanned<String>) -> Result<String, ConfigError> {
        let mut chars = name.as_ref().chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            return Ok(name.into_inner());
        }
        let (src, span) = self.locate(name.span());
        Err(ConfigError::BadEnvName {
            name: name.into_inner(),
            key: key.to_string(),
            src,
            span,
        })
    }
}

/// Why `path` cannot be a `[worktree] copy` entry, if it cannot.
fn copy_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    let path = Path::new(path);
    if path.is_absolute() || path.starts_with("~") {
        return Some("is absolute");
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Some("goes up with `..`");
    }
    if path.components().next() == Some(Component::Normal(".git".as_ref())) {
        return Some("is inside `.git`");
    }
    None
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

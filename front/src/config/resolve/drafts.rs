//! The agent profiles and policies of a configuration as layers add to them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::Spanned;

use super::{AgentDraft, Checker, Loc, PolicyDraft, key_part, merge_tables, quoted_list};
use crate::config::layer::{AgentLayer, LayerFile, PolicyLayer};
use crate::config::{
    AgentProfile, BuiltinPolicy, CommandTemplate, ConfigError, DEFAULT_AGENT_TIMEOUT, Origin,
    PolicyConfig, PolicySource, Sha256,
};
use crate::suggest::nearest;

impl AgentDraft {
    pub(super) fn new(defined: Loc) -> AgentDraft {
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

    pub(super) fn apply(
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

    pub(super) fn finish(&self, command: CommandTemplate) -> AgentProfile {
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
    pub(super) fn new(defined: Loc) -> PolicyDraft {
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

    pub(super) fn apply(
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

    pub(super) fn finish(
        self,
        name: &str,
        files: &[LayerFile],
    ) -> Result<PolicyConfig, ConfigError> {
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

//! One config file as written: every field optional, unknown keys refused, spans kept so that
//! later checks can point at the right line of the right file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Origin, PolicyMode, RequireSpec, SandboxMode};
use crate::toml_error;

/// The text of one layer, and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct LayerFile {
    /// Where the text came from.
    pub(crate) origin: Origin,
    /// The TOML text, named for diagnostics.
    src: Arc<NamedSource<String>>,
    /// The built-in defaults, whose layer is built by code (`prebuilt.rs`), not parsed.
    pub(crate) prebuilt: bool,
}

/// The built-in defaults, the lowest layer.
pub(crate) const DEFAULTS_TOML: &str = include_str!("defaults.toml");

impl LayerFile {
    /// The built-in defaults.
    pub(crate) fn builtin() -> LayerFile {
        LayerFile {
            prebuilt: true,
            ..LayerFile::new(Origin::Builtin, DEFAULTS_TOML.to_string())
        }
    }

    /// A layer with the text `text`.
    pub(crate) fn new(origin: Origin, text: String) -> LayerFile {
        let src = NamedSource::new(source_name(&origin), text).with_language("TOML");
        LayerFile {
            origin,
            src: Arc::new(src),
            prebuilt: false,
        }
    }

    /// Reads the file `origin` names. `origin` must name a file.
    pub(crate) fn read(origin: Origin) -> Result<LayerFile, ConfigError> {
        let Some(path) = origin.path() else {
            return Ok(LayerFile::builtin());
        };
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(LayerFile::new(origin, text)),
            Err(err) => {
                let valid = err.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(err.as_bytes()).into_owned();
                Err(ConfigError::NotUtf8 {
                    src: Arc::new(NamedSource::new(source_name(&origin), lossy)),
                    span: (valid, char::REPLACEMENT_CHARACTER.len_utf8()).into(),
                })
            }
        }
    }

    /// The TOML text.
    pub(crate) fn text(&self) -> &str {
        self.src.inner()
    }

    /// The text, named for diagnostics.
    pub(crate) fn src(&self) -> Arc<NamedSource<String>> {
        Arc::clone(&self.src)
    }

    /// The directory relative paths in this layer are resolved against.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.origin.path().and_then(Path::parent)
    }

    /// Parses the text; TOML syntax errors, wrong types and unknown keys become diagnostics.
    /// (The built-in defaults are not parsed at start-up: `resolve` takes their prebuilt
    /// layer.)
    pub(crate) fn parse(&self) -> Result<Layer, ConfigError> {
        toml::from_str(self.text()).map_err(|err| {
            let problem = toml_error::describe(&err);
            ConfigError::Toml {
                message: problem.message,
                src: self.src(),
                span: problem.span.map(SourceSpan::from),
                help: problem.help,
            }
        })
    }
}

/// The name a layer's text has in diagnostics: its path as given.
fn source_name(origin: &Origin) -> String {
    match origin.path() {
        Some(path) => path.display().to_string(),
        None => "<built-in defaults>".to_string(),
    }
}

/// A list of strings, each with its span.
pub(crate) type SpannedStrings = Vec<Spanned<String>>;

/// A whole config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Layer {
    pub(crate) default_agent: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) agents: BTreeMap<Spanned<String>, AgentLayer>,
    pub(crate) sandbox: Option<SandboxLayer>,
    pub(crate) test: Option<TestLayer>,
    pub(crate) worktree: Option<WorktreeLayer>,
    pub(crate) notify: Option<NotifyLayer>,
    pub(crate) verify: Option<VerifyLayer>,
    #[serde(default)]
    pub(crate) policies: BTreeMap<Spanned<String>, PolicyLayer>,
}

/// `[agents.<name>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentLayer {
    pub(crate) command: Option<Spanned<SpannedStrings>>,
    #[serde(rename = "continue")]
    pub(crate) continue_command: Option<Spanned<SpannedStrings>>,
    pub(crate) pass_env: Option<SpannedStrings>,
    pub(crate) env: Option<BTreeMap<Spanned<String>, String>>,
    pub(crate) read: Option<SpannedStrings>,
    pub(crate) write: Option<SpannedStrings>,
    pub(crate) seed: Option<SpannedStrings>,
    pub(crate) write_back: Option<Spanned<String>>,
    pub(crate) home_files: Option<BTreeMap<Spanned<String>, String>>,
    pub(crate) ports: Option<Vec<u16>>,
    pub(crate) unix_sockets: Option<bool>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) description: Option<String>,
}

/// `[sandbox]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SandboxLayer {
    pub(crate) mode: Option<SandboxMode>,
    pub(crate) read: Option<SpannedStrings>,
    pub(crate) read_only_view: Option<Spanned<bool>>,
}

/// `[test]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestLayer {
    pub(crate) command: Option<String>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) ports: Option<Vec<u16>>,
    pub(crate) read: Option<SpannedStrings>,
    pub(crate) write: Option<SpannedStrings>,
    pub(crate) env: Option<BTreeMap<Spanned<String>, String>>,
}

/// `[worktree]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorktreeLayer {
    pub(crate) base: Option<String>,
    pub(crate) copy: Option<SpannedStrings>,
    pub(crate) setup: Option<Spanned<SpannedStrings>>,
    pub(crate) setup_timeout: Option<Spanned<String>>,
    pub(crate) setup_ports: Option<Vec<u16>>,
}

/// `[notify]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotifyLayer {
    pub(crate) on_ready: Option<Spanned<SpannedStrings>>,
    pub(crate) desktop: Option<bool>,
    pub(crate) bell: Option<bool>,
}

/// `[verify]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyLayer {
    pub(crate) require_spec: Option<RequireSpec>,
    pub(crate) policies: Option<Spanned<SpannedStrings>>,
}

/// `[policies.<name>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyLayer {
    pub(crate) path: Option<String>,
    pub(crate) sha256: Option<Spanned<String>>,
    pub(crate) mode: Option<PolicyMode>,
    pub(crate) enabled: Option<bool>,
    pub(crate) config: Option<toml::Table>,
}

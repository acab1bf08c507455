//! Checking one layer's values: each problem becomes a diagnostic pointing into its file.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::SourceSpan;
use toml::Spanned;

use super::{Checker, Loc};
use crate::config::command::{TemplateError, TemplateErrorKind};
use crate::config::layer::{LayerFile, SpannedStrings};
use crate::config::{CommandTemplate, ConfigError, HostPath, Placeholder};
use crate::duration::parse as parse_duration;
use crate::suggest::nearest;

impl Loc {
    pub(super) fn locate(
        &self,
        files: &[LayerFile],
    ) -> (Arc<miette::NamedSource<String>>, SourceSpan) {
        let src = match files.get(self.layer) {
            Some(file) => file.src(),
            None => Arc::new(miette::NamedSource::new("<unknown>", String::new())),
        };
        (src, self.span.clone().into())
    }
}

impl Checker<'_> {
    pub(super) fn loc(&self, span: Range<usize>) -> Loc {
        Loc {
            layer: self.index,
            span,
        }
    }

    pub(super) fn locate(
        &self,
        span: Range<usize>,
    ) -> (Arc<miette::NamedSource<String>>, SourceSpan) {
        (self.file.src(), span.into())
    }

    pub(super) fn command(
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
    pub(super) fn within_string(
        &self,
        span: Range<usize>,
        value: &str,
        range: Range<usize>,
    ) -> Range<usize> {
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

    pub(super) fn duration(
        &self,
        key: &str,
        value: Spanned<String>,
    ) -> Result<Duration, ConfigError> {
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

    pub(super) fn host_paths(
        &self,
        key: &str,
        paths: SpannedStrings,
    ) -> Result<Vec<HostPath>, ConfigError> {
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
    pub(super) fn seed_path(
        &self,
        key: &str,
        path: Spanned<String>,
    ) -> Result<HostPath, ConfigError> {
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
    pub(super) fn home_file(
        &self,
        key: &str,
        name: Spanned<String>,
    ) -> Result<String, ConfigError> {
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
    pub(super) fn write_back_path(
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
        } else if crate::config::agent::runs_code_later(parsed.as_str()) {
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

    pub(super) fn copy_paths(&self, paths: SpannedStrings) -> Result<Vec<PathBuf>, ConfigError> {
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

    pub(super) fn env_name(&self, key: &str, name: Spanned<String>) -> Result<String, ConfigError> {
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
pub(super) fn copy_path_problem(path: &str) -> Option<&'static str> {
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

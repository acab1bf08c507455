//! Optional TOML front matter between `+++` lines at the top of a spec.

use std::ops::Range;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use super::problem::SpecProblem;
use crate::toml_error;

/// The machine-readable fields of a spec, from its front matter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FrontMatter {
    /// Overrides the task id derived from the title.
    pub id: Option<String>,
    /// Overrides the title taken from the first `#` heading.
    pub title: Option<String>,
    /// The agent profile to run (a name from the configuration's `[agents]`).
    pub agent: Option<String>,
    /// The command that tests the agent's work (run with `sh -c`).
    pub test: Option<String>,
    /// How long the agent may run.
    #[serde(serialize_with = "serialize_duration")]
    pub timeout: Option<Duration>,
    /// The branch the task's worktree starts from.
    pub base: Option<String>,
    /// Free-form labels, for filtering and for policies.
    pub labels: Vec<String>,
    /// Where `agent`'s value is in the file, for diagnostics.
    #[serde(skip)]
    pub agent_span: Option<Range<usize>>,
}

/// The raw TOML shape; unknown keys are rejected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrontMatter {
    id: Option<String>,
    title: Option<String>,
    agent: Option<toml::Spanned<String>>,
    test: Option<String>,
    timeout: Option<toml::Spanned<String>>,
    base: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

/// Where the front matter is in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    /// The TOML text between the `+++` lines, as a byte range of the file.
    pub toml: Range<usize>,
    /// Where the Markdown body starts.
    pub body_start: usize,
}

/// Finds a `+++` front-matter block at the very top of `text`.
///
/// Returns `Ok(None)` when the file has no front matter, and an error when it opens a block
/// that it never closes, or uses YAML (`---`) front matter, which agenthost does not read.
pub(crate) fn split(text: &str) -> Result<Option<Split>, SpecProblem> {
    let mut lines = line_ranges(text);
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    let first_line = text[first.clone()].trim_end();
    if first_line == "---" && looks_like_yaml(text, lines.clone()) {
        return Err(SpecProblem::FrontMatterInvalid {
            message: "YAML front matter (`---`) is not supported".to_string(),
            help: "write the front matter as TOML between `+++` lines, e.g.\n+++\nagent = \"claude\"\ntest = \"cargo test\"\n+++".to_string(),
            span: (first.start, 3).into(),
        });
    }
    if first_line != "+++" {
        return Ok(None);
    }
    let toml_start = first.end;
    for line in lines {
        if text[line.clone()].trim_end() == "+++" {
            return Ok(Some(Split {
                toml: toml_start..line.start,
                body_start: line.end,
            }));
        }
    }
    Err(SpecProblem::FrontMatterUnclosed {
        span: (first.start, 3).into(),
    })
}

/// Parses the front matter's TOML, which starts at byte `offset` of the file.
pub(crate) fn parse(toml_text: &str, offset: usize) -> Result<FrontMatter, SpecProblem> {
    let raw: RawFrontMatter = toml::from_str(toml_text).map_err(|err| {
        let problem = toml_error::describe(&err);
        let span = problem
            .span
            .map_or((offset, 0).into(), |s| (offset + s.start, s.len()).into());
        match unknown_key(&problem.message) {
            Some(key) => SpecProblem::FrontMatterUnknownKey {
                key,
                help: problem.help,
                span,
            },
            None => SpecProblem::FrontMatterInvalid {
                message: problem.message,
                help: problem.help,
                span,
            },
        }
    })?;
    let timeout = match raw.timeout {
        None => None,
        Some(spanned) => {
            let span = spanned.span();
            let value = spanned.into_inner();
            match crate::duration::parse(&value) {
                Ok(duration) => Some(duration),
                Err(reason) => {
                    return Err(SpecProblem::InvalidTimeout {
                        value,
                        reason,
                        span: (offset + span.start, span.len()).into(),
                    });
                }
            }
        }
    };
    let agent_span = raw
        .agent
        .as_ref()
        .map(|a| offset + a.span().start..offset + a.span().end);
    Ok(FrontMatter {
        id: raw.id,
        title: raw.title,
        agent: raw.agent.map(toml::Spanned::into_inner),
        test: raw.test,
        timeout,
        base: raw.base,
        labels: raw.labels,
        agent_span,
    })
}

/// The key named in serde's "unknown field `key`, ..." message.
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// Whether a file that starts with `---` has a YAML block: a closing `---` with `key:` lines
/// before it.
fn looks_like_yaml<'a>(text: &'a str, lines: impl Iterator<Item = Range<usize>> + 'a) -> bool {
    let mut saw_key = false;
    for line in lines {
        let line = text[line].trim_end();
        if line == "---" {
            return saw_key;
        }
        if line
            .split_once(':')
            .is_some_and(|(key, _)| !key.is_empty() && !key.contains(' '))
        {
            saw_key = true;
        }
    }
    false
}

/// Byte ranges of each line of `text`, including its newline.
fn line_ranges(text: &str) -> impl Iterator<Item = Range<usize>> + Clone + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let end = text[start..]
            .find('\n')
            .map_or(text.len(), |i| start + i + 1);
        let range = start..end;
        start = end;
        Some(range)
    })
}

fn serialize_duration<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(d) => serializer.serialize_str(&crate::duration::format(*d)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_front_matter() {
        assert_eq!(split("# Title\n").unwrap(), None);
        assert_eq!(split("").unwrap(), None);
    }

    #[test]
    fn splits_and_parses() {
        let text = "+++\nagent = \"claude\"\ntimeout = \"30m\"\nlabels = [\"ui\"]\n+++\n# T\n";
        let split = split(text).unwrap().unwrap();
        assert_eq!(&text[split.body_start..], "# T\n");
        let fm = parse(&text[split.toml.clone()], split.toml.start).unwrap();
        assert_eq!(fm.agent.as_deref(), Some("claude"));
        assert_eq!(fm.timeout, Some(Duration::from_secs(1800)));
        assert_eq!(fm.labels, vec!["ui".to_string()]);
        assert_eq!(&text[fm.agent_span.unwrap()], "\"claude\"");
    }

    #[test]
    fn unclosed() {
        assert!(matches!(
            split("+++\nagent = \"x\"\n# T\n"),
            Err(SpecProblem::FrontMatterUnclosed { .. })
        ));
    }

    #[test]
    fn yaml_is_refused_but_thematic_break_is_not() {
        assert!(split("---\nagent: claude\n---\n# T\n").is_err());
        assert_eq!(split("---\n\nSome text\n").unwrap(), None);
    }

    #[test]
    fn unknown_key_points_at_key() {
        let text = "+++\ntset = \"x\"\n+++\n";
        let split = split(text).unwrap().unwrap();
        let err = parse(&text[split.toml.clone()], split.toml.start).unwrap_err();
        let SpecProblem::FrontMatterUnknownKey { key, help, span } = err else {
            panic!("wrong problem: {err:?}");
        };
        assert_eq!(key, "tset");
        assert!(help.starts_with("did you mean `test`?"), "{help}");
        assert_eq!(span.offset(), 4);
    }
}

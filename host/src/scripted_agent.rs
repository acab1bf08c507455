//! The scripted agent: a deterministic stand-in for a model-driven agent, so the whole flow
//! (launch, sandbox, checks, review) runs with no model and no network.
//!
//! It reads its prompt (the spec, as agenthost hands it to any agent), finds the fenced
//! block tagged `agenthost-script`, and performs the edits listed there, in order:
//!
//! ````markdown
//! ```agenthost-script
//! [[edit]]
//! path = "inventory/report.py"
//! replace = "def summary(items):"
//! with = "def summary(items, status=None):"
//!
//! [[edit]]
//! path = "inventory/export.py"
//! write = "import csv\n"
//! ```
//! ````
//!
//! Actions: `write` (create or overwrite), `append`, `replace` + `with` (first occurrence),
//! `delete = true`. It saves the way Claude Code does: a temp file in the same directory
//! (created exclusively), then a rename over the target; if the sandbox refuses the temp file
//! and the target exists, it writes the file in place. Like a real agent it reports failed
//! edits and carries on, and exits 0: judge a run by the disk, not the exit code.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use serde::Deserialize;
use thiserror::Error;

/// The info string of the fenced block that holds the script.
pub(crate) const FENCE: &str = "agenthost-script";

/// Why no script could be read from a prompt.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum ScriptError {
    /// The prompt has no `agenthost-script` block.
    #[error("the prompt has no ```{FENCE} block: the scripted agent only performs scripted edits")]
    Missing,
    /// The block is not valid.
    #[error("the {FENCE} block is invalid: {0}")]
    Invalid(String),
}

/// One edit, as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct RawEdit {
    path: String,
    write: Option<String>,
    append: Option<String>,
    replace: Option<String>,
    with: Option<String>,
    #[serde(default)]
    delete: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    #[serde(default)]
    edit: Vec<RawEdit>,
}

/// One edit to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Edit {
    /// Create or overwrite `path` with `content`.
    Write {
        /// The file.
        path: PathBuf,
        /// Its new content.
        content: String,
    },
    /// Add `content` to the end of `path`.
    Append {
        /// The file.
        path: PathBuf,
        /// What to add.
        content: String,
    },
    /// Replace the first occurrence of `old` in `path` with `new`.
    Replace {
        /// The file.
        path: PathBuf,
        /// The text to find.
        old: String,
        /// What to put instead.
        new: String,
    },
    /// Remove `path`.
    Delete {
        /// The file.
        path: PathBuf,
    },
}

impl Edit {
    /// The file the edit touches.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Edit::Write { path, .. }
            | Edit::Append { path, .. }
            | Edit::Replace { path, .. }
            | Edit::Delete { path } => path,
        }
    }
}

/// Finds and reads the script in `prompt`.
pub(crate) fn extract(prompt: &str) -> Result<Vec<Edit>, ScriptError> {
    let mut inside = false;
    let mut text = None::<String>;
    for event in Parser::new(prompt) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                if info.split_whitespace().next() == Some(FENCE) =>
            {
                inside = true;
                text.get_or_insert_with(String::new);
            }
            Event::Text(t) if inside => {
                if let Some(text) = text.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) if inside => break,
            _ => {}
        }
    }
    let text = text.ok_or(ScriptError::Missing)?;
    let raw: RawScript =
        toml::from_str(&text).map_err(|err| ScriptError::Invalid(err.message().to_string()))?;
    raw.edit.into_iter().map(edit).collect()
}

fn edit(raw: RawEdit) -> Result<Edit, ScriptError> {
    let path = PathBuf::from(&raw.path);
    let actions = usize::from(raw.write.is_some())
        + usize::from(raw.append.is_some())
        + usize::from(raw.replace.is_some())
        + usize::from(raw.delete);
    if actions != 1 {
        return Err(ScriptError::Invalid(format!(
            "edit of `{}` must have exactly one of write, append, replace or delete",
            raw.path
        )));
    }
    Ok(match (raw.write, raw.append, raw.replace, raw.with) {
        (Some(content), ..) => Edit::Write { path, content },
        (_, Some(content), ..) => Edit::Append { path, content },
        (_, _, Some(old), Some(new)) => Edit::Replace { path, old, new },
        (_, _, Some(_), None) => {
            return Err(ScriptError::Invalid(format!(
                "edit of `{}` has `replace` without `with`",
                raw.path
            )));
        }
        _ => Edit::Delete { path },
    })
}

/// Performs `edits` relative to `root`; returns one line per edit saying what happened.
pub(crate) fn perform(edits: &[Edit], root: &Path) -> Vec<Result<String, String>> {
    edits
        .iter()
        .map(|edit| {
            let path = root.join(edit.path());
            let shown = edit.path().display();
            let result = match edit {
                Edit::Write { content, .. } => save(&path, content).map(|()| "wrote"),
                Edit::Append { content, .. } => std::fs::read_to_string(&path)
                    .or_else(|err| match err.kind() {
                        std::io::ErrorKind::NotFound => Ok(String::new()),
                        _ => Err(err),
                    })
                    .and_then(|old| save(&path, &(old + content)))
                    .map(|()| "appended to"),
                Edit::Replace { old, new, .. } => {
                    std::fs::read_to_string(&path).and_then(|text| match text.find(old.as_str()) {
                        Some(_) => {
                            save(&path, &text.replacen(old.as_str(), new, 1)).map(|()| "edited")
                        }
                        None => Err(std::io::Error::other("the text to replace is not there")),
                    })
                }
                Edit::Delete { .. } => std::fs::remove_file(&path).map(|()| "deleted"),
            };
            match result {
                Ok(verb) => Ok(format!("{verb} {shown}")),
                Err(err) => Err(format!("could not change {shown}: {err}")),
            }
        })
        .collect()
}

/// Saves `content` to `path` the way Claude Code does: an exclusive temp file beside it,
/// then a rename; in place if the temp file is refused and the target exists.
fn save(path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = path.with_file_name(format!("{name}.tmp.{}.{nonce:08x}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp);
    match created {
        Ok(mut file) => {
            let written = file
                .write_all(content.as_bytes())
                .and_then(|()| file.sync_all())
                .and_then(|()| std::fs::rename(&temp, path));
            if written.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            written
        }
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied && path.exists() => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)?;
            file.write_all(content.as_bytes())
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "# Task\n\n### Scope\n- Modify: `a.txt`\n\n```agenthost-script\n[[edit]]\npath = \"a.txt\"\nreplace = \"one\"\nwith = \"two\"\n\n[[edit]]\npath = \"dir/new.txt\"\nwrite = \"fresh\\n\"\n\n[[edit]]\npath = \"a.txt\"\nappend = \"more\\n\"\n\n[[edit]]\npath = \"gone.txt\"\ndelete = true\n\n[[edit]]\npath = \"missing.txt\"\nreplace = \"x\"\nwith = \"y\"\n```\n";

    #[test]
    fn extracts_and_performs() {
        let edits = extract(PROMPT).unwrap();
        assert_eq!(edits.len(), 5);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\n").unwrap();
        std::fs::write(dir.path().join("gone.txt"), "x").unwrap();
        let results = perform(&edits, dir.path());
        assert_eq!(
            results[..4],
            [
                Ok("edited a.txt".to_string()),
                Ok("wrote dir/new.txt".to_string()),
                Ok("appended to a.txt".to_string()),
                Ok("deleted gone.txt".to_string()),
            ]
        );
        assert!(
            results[4]
                .as_ref()
                .is_err_and(|e| e.starts_with("could not change missing.txt"))
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
            "two\nmore\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("dir/new.txt")).unwrap(),
            "fresh\n"
        );
        assert!(!dir.path().join("gone.txt").exists());
        // No temp files left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn refuses_bad_scripts() {
        assert_eq!(extract("# no script\n"), Err(ScriptError::Missing));
        assert!(matches!(
            extract("```agenthost-script\n[[edit]]\npath = \"a\"\n```\n"),
            Err(ScriptError::Invalid(m)) if m.contains("exactly one")
        ));
        assert!(matches!(
            extract("```agenthost-script\n[[edit]]\npath = \"a\"\nreplace = \"x\"\n```\n"),
            Err(ScriptError::Invalid(m)) if m.contains("without `with`")
        ));
        assert!(matches!(
            extract(
                "```agenthost-script\n[[edit]]\npath = \"a\"\nwrite = \"x\"\ncolour = 1\n```\n"
            ),
            Err(ScriptError::Invalid(_))
        ));
    }
}

//! `agenthost init`: write a commented `agenthost.toml` into a repository and git-ignore the
//! personal `agenthost.local.toml`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use miette::Diagnostic;
use thiserror::Error;

use super::{Exit, Output};
use crate::config::{INIT_TEMPLATE, LOCAL_FILE, REPO_FILE};

/// Arguments of `agenthost init`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  agenthost init\n  agenthost init --repo ~/src/webapp")]
pub struct InitArgs {
    /// A directory inside the repository [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// Why `agenthost init` could not finish.
#[derive(Debug, Error, Diagnostic)]
pub(super) enum InitError {
    /// No `.git` in the directory or any parent.
    #[error("{} is not inside a git repository", start.display())]
    #[diagnostic(help("run inside a git repository or pass --repo"))]
    NotInRepository {
        /// Where the search started.
        start: PathBuf,
    },

    /// The repository already has an `agenthost.toml`.
    #[error("{} already exists", path.display())]
    #[diagnostic(help("edit it, or remove it first"))]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },

    /// A file or directory could not be read or written.
    #[error("cannot {action} {}", path.display())]
    #[diagnostic(help("check that the path exists and that you have permission to {action} it"))]
    Io {
        /// What was being done: "read", "write", ...
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `agenthost.toml` at the root of the repository containing `args.repo` (or the
/// current directory), and makes sure `.gitignore` ignores `agenthost.local.toml`.
pub(super) fn run(args: &InitArgs, output: &Output) -> miette::Result<Exit> {
    let report = init(args.repo.as_deref())?;
    output.print(&report)?;
    Ok(Exit::Success)
}

/// Does the work of `agenthost init` and returns what to print.
fn init(start: Option<&Path>) -> Result<String, InitError> {
    let start = match start {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().map_err(|source| InitError::Io {
            action: "find",
            path: PathBuf::from("the current directory"),
            source,
        })?,
    };
    let root = find_repository_root(&start)?;
    let config = root.join(REPO_FILE);
    // Refuse before touching anything.
    if config.symlink_metadata().is_ok() {
        return Err(InitError::AlreadyExists { path: config });
    }

    let gitignore = root.join(".gitignore");
    let ignore_change = ignore_local_file(&gitignore)?;
    write_new(&config, INIT_TEMPLATE)?;

    let mut report = format!("Created {}\n", config.display());
    report.push_str(&match ignore_change {
        IgnoreChange::Created => format!("Created {} ignoring {LOCAL_FILE}\n", gitignore.display()),
        IgnoreChange::Appended => format!("Added {LOCAL_FILE} to {}\n", gitignore.display()),
        IgnoreChange::AlreadyIgnored => {
            format!("{} already ignores {LOCAL_FILE}\n", gitignore.display())
        }
    });
    report.push_str(&format!(
        "Next: edit {REPO_FILE} and commit it; put personal settings in {LOCAL_FILE}.\n"
    ));
    Ok(report)
}

/// The nearest directory at or above `start` that contains `.git` (a directory, or the file
/// a linked worktree or submodule has).
fn find_repository_root(start: &Path) -> Result<PathBuf, InitError> {
    let start = std::fs::canonicalize(start).map_err(|source| InitError::Io {
        action: "open",
        path: start.to_path_buf(),
        source,
    })?;
    start
        .ancestors()
        .find(|dir| dir.join(".git").symlink_metadata().is_ok())
        .map(Path::to_path_buf)
        .ok_or(InitError::NotInRepository { start })
}

/// Creates `path` with `contents`, failing if it exists (even if it appeared a moment ago).
fn write_new(path: &Path, contents: &str) -> Result<(), InitError> {
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()));
    match result {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(InitError::AlreadyExists {
                path: path.to_path_buf(),
            })
        }
        Err(source) => Err(InitError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What [`ignore_local_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IgnoreChange {
    Created,
    Appended,
    AlreadyIgnored,
}

/// Makes sure the `.gitignore` at `path` ignores the local config file.
fn ignore_local_file(path: &Path) -> Result<IgnoreChange, InitError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(InitError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let (updated, change) = match &existing {
        None => (format!("/{LOCAL_FILE}\n"), IgnoreChange::Created),
        Some(text) if ignores_local_file(text) => return Ok(IgnoreChange::AlreadyIgnored),
        Some(text) => (
            with_line_appended(text, &format!("/{LOCAL_FILE}")),
            IgnoreChange::Appended,
        ),
    };
    std::fs::write(path, updated).map_err(|source| InitError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(change)
}

/// Whether the lines of a root `.gitignore` ignore the local config file: the last pattern
/// that matches it decides, as in git (a `!pattern` re-includes).
fn ignores_local_file(gitignore: &str) -> bool {
    let mut ignored = false;
    for line in gitignore.lines() {
        let line = line.trim_end_matches('\r').trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line.strip_prefix('\\').unwrap_or(line)),
        };
        if pattern_matches_local_file(pattern) {
            ignored = !negated;
        }
    }
    ignored
}

/// Whether one `.gitignore` pattern matches the file `agenthost.local.toml` at the root.
fn pattern_matches_local_file(pattern: &str) -> bool {
    if pattern.ends_with('/') {
        // Matches directories only.
        return false;
    }
    // A leading slash anchors the pattern at the root, where the file is anyway; a pattern
    // with no other slash matches at any depth, so also at the root.
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .is_ok_and(|glob| glob.compile_matcher().is_match(LOCAL_FILE))
}

/// `text` with `line` added as its last line, keeping its line ending style and leaving
/// exactly one newline at the end.
fn with_line_appended(text: &str, line: &str) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(newline);
    }
    out.push_str(line);
    out.push_str(newline);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_lines_that_already_ignore_the_file() {
        let ignored = [
            "agenthost.local.toml",
            "/agenthost.local.toml",
            "target/\n*.local.toml\n",
            "**/agenthost.local.toml",
            "agenthost.*.toml\r\n",
            "*.toml\n!agenthost.toml\n",
            "agenthost.local.toml   ",
        ];
        for text in ignored {
            assert!(ignores_local_file(text), "{text:?}");
        }
        let not_ignored = [
            "",
            "# agenthost.local.toml",
            "agenthost.local.toml/",
            "sub/agenthost.local.toml",
            "agenthost.local.toml\n!agenthost.local.toml",
            "agenthost.toml",
            "[",
        ];
        for text in not_ignored {
            assert!(!ignores_local_file(text), "{text:?}");
        }
    }

    #[test]
    fn appending_keeps_exactly_one_trailing_newline() {
        assert_eq!(with_line_appended("", "x"), "x\n");
        assert_eq!(with_line_appended("a\n", "x"), "a\nx\n");
        assert_eq!(with_line_appended("a", "x"), "a\nx\n");
        assert_eq!(with_line_appended("a\r\nb", "x"), "a\r\nb\r\nx\r\n");
    }

    #[test]
    fn gitignore_is_updated_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitignore");
        assert_eq!(ignore_local_file(&path).unwrap(), IgnoreChange::Created);
        assert_eq!(
            fs_err::read_to_string(&path).unwrap(),
            "/agenthost.local.toml\n"
        );
        assert_eq!(
            ignore_local_file(&path).unwrap(),
            IgnoreChange::AlreadyIgnored
        );
        fs_err::write(&path, "target").unwrap();
        assert_eq!(ignore_local_file(&path).unwrap(), IgnoreChange::Appended);
        assert_eq!(
            ignore_local_file(&path).unwrap(),
            IgnoreChange::AlreadyIgnored
        );
        assert_eq!(
            fs_err::read_to_string(&path).unwrap(),
            "target\n/agenthost.local.toml\n"
        );
    }

    #[test]
    fn finds_the_root_from_a_subdirectory_and_a_git_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let deep = root.join("a/b");
        fs_err::create_dir_all(&deep).unwrap();
        // A linked worktree has a `.git` file, not a directory.
        fs_err::write(root.join(".git"), "gitdir: /elsewhere\n").unwrap();
        let found = find_repository_root(&deep).unwrap();
        assert_eq!(found, fs_err::canonicalize(&root).unwrap());
    }
}

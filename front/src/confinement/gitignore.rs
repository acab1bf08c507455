//! git's ignore rules for the top of a worktree: which directories git leaves out of
//! `git status` and `git diff` (so a build may write them freely).
//!
//! The patterns come from the files [`super::git_layout::GitLayout::ignore_rules`] reads,
//! lowest precedence first. Parsing and matching are gitoxide's (`gix-ignore`, on
//! `gix-glob`'s wildmatch), which follow `gitignore(5)` and git's `dir.c`; what this module
//! adds is how the files are read and one rule gitoxide leaves to its directory walk:
//!
//! - the last matching pattern wins, and a path inside an ignored directory is ignored
//!   whatever the patterns say about it (git does not look inside);
//! - an in-tree `.gitignore` that is a symbolic link is not followed (git 2.32 and later);
//! - a `\r` ending the file's last line is dropped, as git does.
//!
//! The differential test below runs `git check-ignore` on every pattern form git documents
//! and checks that the answers agree.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bstr::BStr;
use gix_ignore::glob::pattern::Case;
use gix_ignore::search::Ignore;

/// A worktree's ignore patterns, in increasing precedence.
#[derive(Debug, Default, Clone)]
pub(crate) struct IgnoreRules {
    search: gix_ignore::Search,
}

impl IgnoreRules {
    /// Adds the patterns of the file at `path`, above those added before. A missing or
    /// unreadable file adds none, as in git; `follow_symlink: false` (for `.gitignore`
    /// files inside the worktree) adds none when `path` is a symbolic link.
    pub(crate) fn add_file(&mut self, path: &Path, follow_symlink: bool) {
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        if !follow_symlink {
            options.custom_flags(libc::O_NOFOLLOW);
        }
        let mut text = Vec::new();
        let read = options
            .open(path)
            .and_then(|mut file| file.read_to_end(&mut text));
        if read.is_ok() {
            self.add_patterns(&text, path.to_path_buf());
        }
    }

    /// Adds the patterns of an ignore file's text, above those added before.
    #[cfg(test)]
    pub(crate) fn add_text(&mut self, text: &[u8]) {
        self.add_patterns(text, PathBuf::new());
    }

    /// Adds `text`'s patterns, relative to the worktree's top (`source` names their file).
    fn add_patterns(&mut self, text: &[u8], source: PathBuf) {
        // git drops a `\r` that ends the last line, with no `\n` after it; gix-ignore 0.19
        // keeps it (found by the differential test below).
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        // `$` stays an ordinary character: git's "precious" files are not a git feature yet.
        self.search
            .add_patterns_buffer(text, source, None, Ignore::default());
    }

    /// Whether git ignores the directory `relative` (to the worktree, `/`-separated), or a
    /// directory above it.
    pub(crate) fn ignores_dir(&self, relative: &str) -> bool {
        let path = relative.trim_matches('/').as_bytes();
        let parents = path
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'/')
            .map(|(i, _)| &path[..i]);
        parents
            .chain(std::iter::once(path))
            .any(|dir| self.ignored(dir, true))
    }

    /// Whether the patterns ignore `relative` itself, not asking about the directories
    /// above it: for a walk that never enters an ignored directory, where
    /// [`IgnoreRules::ignores_dir`] would ask about every parent again.
    pub(crate) fn ignores_entry(&self, relative: &str, is_dir: bool) -> bool {
        self.ignored(relative.trim_matches('/').as_bytes(), is_dir)
    }

    /// The last matching pattern's verdict on `path`; not ignored when none matches.
    fn ignored(&self, path: &[u8], is_dir: bool) -> bool {
        self.search
            .pattern_matching_relative_path(BStr::new(path), Some(is_dir), Case::Sensitive)
            .is_some_and(|found| !found.pattern.is_negative())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        let mut rules = IgnoreRules::default();
        rules.add_text(text.as_bytes());
        rules
    }

    #[test]
    fn an_ignored_parent_wins_over_a_negation_below_it() {
        let r = rules("node_modules/\n!node_modules/.cache/\n");
        assert!(r.ignores_dir("node_modules"));
        assert!(r.ignores_dir("node_modules/.cache"));
        let r = rules("node_modules/*\n!node_modules/.cache/\n");
        assert!(!r.ignores_dir("node_modules"));
        assert!(!r.ignores_dir("node_modules/.cache"));
        assert!(r.ignores_dir("node_modules/other"));
    }

    #[test]
    fn byte_order_mark_and_crlf() {
        let r = rules("\u{FEFF}target\r\nbuild/\r\n");
        assert!(r.ignores_dir("target"));
        assert!(r.ignores_dir("build"));
        assert!(!r.ignores_dir("dist"));
    }

    /// Directories the differential test asks about (created on disk, so that git sees
    /// directories).
    const DIRS: &[&str] = &[
        "target",
        "build",
        "Build",
        "dist",
        ".venv",
        ".tox",
        "node_modules",
        "node_modules/.cache",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        "src",
        "src/target",
        "a",
        "a/b",
        "a/b/c",
        "deep/foo/bar",
        "x y",
        "t[1]",
        "t1",
        "dir.with.dots",
        "#hash",
        "!bang",
        "star*",
        "back\\slash",
    ];

    /// `.gitignore` texts for the differential test: each pattern form git documents, and
    /// the corners of its parser (escapes, trailing spaces, CRLF, a byte-order mark).
    const IGNORE_FILES: &[&str] = &[
        "target",
        "/target",
        "target/",
        "/target/",
        "!target",
        "*",
        "*/",
        "**",
        "**/",
        "/**",
        "**/target",
        "**/.cache",
        "node_modules/**",
        "node_modules/**/",
        "node_modules/*",
        "node_modules/.c*",
        "/node_modules/.cache/",
        ".cache",
        "?arget",
        "t?rget",
        "[tb]*",
        "[!t]*",
        "[^t]*",
        "[a-z]uild",
        "[[:upper:]]uild",
        "[[:alpha:]]*",
        "[[:punct:]]*",
        "[[:bogus:]]*",
        "[t",
        "t[1]",
        "t\\[1\\]",
        "t[[]1]",
        "\\#hash",
        "#hash",
        "\\!bang",
        "!bang",
        "x\\ y",
        "x y",
        "x y   ",
        "target   ",
        "target\\ ",
        "build\r",
        "\u{FEFF}build",
        "star\\*",
        "star*",
        "back\\\\slash",
        "back\\slash",
        "a/**/c",
        "a/*/c",
        "a/*",
        "a/**",
        "a/**/",
        "b",
        "b/",
        "a/b",
        "/a/b/",
        "deep/**/bar",
        "**/foo/bar",
        "*/foo/bar",
        "deep/*/bar",
        "deep/**/**/bar",
        "build/\n!build",
        "*\n!*/",
        "*\n!.venv/",
        "node_modules/\n!node_modules/.cache/",
        "node_modules/*\n!node_modules/.cache/",
        "/*\n!/node_modules\n/node_modules/*\n!/node_modules/.cache",
        ".*\n!.venv",
        "*_cache/",
        "__*__/",
        "dir.*.dots",
        "*.dots/",
        "[.]venv",
        "src/",
        "src/*",
        "/src/target/",
        "target\n!/src/target",
        "**/b/**",
        "a**",
        "**b",
        "a/**b",
        "*/",
        "/",
        "!",
        "\\",
        "trailing\\",
    ];

    #[test]
    fn agrees_with_git_check_ignore() {
        use std::io::Write;
        use std::process::{Command, Stdio};

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        for d in DIRS {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let git = |args: &[&str]| {
            let mut command = Command::new("git");
            command
                .args(args)
                .current_dir(&root)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", dir.path())
                .env("XDG_CONFIG_HOME", dir.path().join(".xdg"));
            command
        };
        assert!(git(&["init", "-q"]).status().unwrap().success());
        let mut disagreements = Vec::new();
        for text in IGNORE_FILES {
            std::fs::write(root.join(".gitignore"), text).unwrap();
            let mut child = git(&["check-ignore", "--stdin", "-z", "-v", "-n", "--no-index"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut input = Vec::new();
            for d in DIRS {
                input.extend_from_slice(d.as_bytes());
                input.push(0);
            }
            child.stdin.take().unwrap().write_all(&input).unwrap();
            let output = child.wait_with_output().unwrap();
            // Records of four fields: source, line, pattern, path; the source is empty
            // when no pattern matched.
            let fields: Vec<&[u8]> = output.stdout.split(|&b| b == 0).collect();
            let mut rules = IgnoreRules::default();
            rules.add_file(&root.join(".gitignore"), false);
            for record in fields.chunks_exact(4) {
                let path = std::str::from_utf8(record[3]).unwrap();
                let git_ignores = !record[0].is_empty() && !record[2].starts_with(b"!");
                if rules.ignores_dir(path) != git_ignores {
                    disagreements
                        .push(format!("{text:?}: {path:?} git says ignored={git_ignores}"));
                }
            }
            assert_eq!(
                fields.len() / 4,
                DIRS.len(),
                "git check-ignore answered for every path ({text:?})"
            );
        }
        assert!(disagreements.is_empty(), "{disagreements:#?}");
    }
}

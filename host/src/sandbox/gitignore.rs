//! git's ignore rules for the top of a worktree: which directories git leaves out of
//! `git status` and `git diff` (so a build may write them freely).
//!
//! The patterns come from the files [`super::git_layout::GitLayout::ignore_rules`] reads,
//! lowest precedence first; the rules are git's (`gitignore(5)`, and `dir.c` for the
//! details the manual leaves out):
//!
//! - a UTF-8 byte-order mark at the start of a file is skipped; lines end at `\n`, and one
//!   `\r` before it is dropped; blank lines and lines starting with `#` are no patterns;
//!   trailing spaces are dropped unless escaped with `\`;
//! - `!` negates; a trailing `/` matches directories only; a pattern with no other `/`
//!   matches a path's last component at any depth, one with a `/` matches the whole path
//!   from the top (a leading `/` only anchors it);
//! - the last matching pattern wins, and a path inside an ignored directory is ignored
//!   whatever the patterns say about it (git does not look inside);
//! - an in-tree `.gitignore` that is a symbolic link is not followed (git 2.32 and later).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::wildmatch::wildmatch;

/// One pattern line.
#[derive(Debug, Clone)]
struct Pattern {
    /// The glob, without its `!`, trailing `/` and leading `/`.
    glob: Vec<u8>,
    /// `!pattern`: re-includes what it matches.
    negated: bool,
    /// `pattern/`: matches directories only.
    dir_only: bool,
    /// No `/` in the pattern: matched against a path's last component.
    basename: bool,
}

impl Pattern {
    /// The pattern a line of an ignore file holds, if any.
    fn parse(line: &[u8]) -> Option<Pattern> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'#') {
            return None;
        }
        let mut glob = without_trailing_spaces(line);
        let negated = glob.first() == Some(&b'!');
        if negated {
            glob = &glob[1..];
        }
        let dir_only = glob.last() == Some(&b'/');
        if dir_only {
            glob = &glob[..glob.len() - 1];
        }
        if glob.is_empty() {
            return None;
        }
        let basename = !glob.contains(&b'/');
        let glob = glob.strip_prefix(b"/").unwrap_or(glob);
        Some(Pattern {
            glob: glob.to_vec(),
            negated,
            dir_only,
            basename,
        })
    }

    /// Whether this pattern matches `path` (relative to the worktree, `/`-separated).
    fn matches(&self, path: &[u8], is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        if self.basename {
            let name = match path.iter().rposition(|&b| b == b'/') {
                Some(slash) => &path[slash + 1..],
                None => path,
            };
            wildmatch(&self.glob, name, false)
        } else {
            wildmatch(&self.glob, path, true)
        }
    }
}

/// `line` without its trailing spaces, except one escaped by a `\`.
fn without_trailing_spaces(line: &[u8]) -> &[u8] {
    let mut spaces_from = None;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' => {
                spaces_from.get_or_insert(i);
            }
            b'\\' => {
                // The escaped byte is kept, even a space.
                i += 1;
                spaces_from = None;
            }
            _ => spaces_from = None,
        }
        i += 1;
    }
    spaces_from.map_or(line, |from| &line[..from])
}

/// A worktree's ignore patterns, in increasing precedence.
#[derive(Debug, Default, Clone)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

impl IgnoreRules {
    /// Adds the patterns of the file at `path`, above those added before. A missing or
    /// unreadable file adds none, as in git; `follow_symlink: false` (for `.gitignore`
    /// files inside the worktree) adds none when `path` is a symbolic link.
    pub fn add_file(&mut self, path: &Path, follow_symlink: bool) {
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
            self.add_text(&text);
        }
    }

    /// Adds the patterns of an ignore file's text, above those added before.
    pub fn add_text(&mut self, text: &[u8]) {
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        self.patterns
            .extend(text.split(|&b| b == b'\n').filter_map(Pattern::parse));
    }

    /// Whether git ignores the directory `relative` (to the worktree, `/`-separated), or a
    /// directory above it.
    pub fn ignores_dir(&self, relative: &str) -> bool {
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
    pub fn ignores_entry(&self, relative: &str, is_dir: bool) -> bool {
        self.ignored(relative.trim_matches('/').as_bytes(), is_dir)
    }

    /// The last matching pattern's verdict on `path`; not ignored when none matches.
    fn ignored(&self, path: &[u8], is_dir: bool) -> bool {
        self.patterns
            .iter()
            .rev()
            .find(|pattern| pattern.matches(path, is_dir))
            .is_some_and(|pattern| !pattern.negated)
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
    fn lines_become_patterns_as_in_git() {
        let parsed = |line: &str| {
            Pattern::parse(line.as_bytes()).map(|p| {
                (
                    String::from_utf8(p.glob).unwrap(),
                    p.negated,
                    p.dir_only,
                    p.basename,
                )
            })
        };
        assert_eq!(parsed(""), None);
        assert_eq!(parsed("# comment"), None);
        assert_eq!(parsed("   "), None);
        assert_eq!(parsed("!"), None);
        assert_eq!(parsed("/"), None);
        assert_eq!(parsed("\\#x"), Some(("\\#x".into(), false, false, true)));
        assert_eq!(
            parsed("target/"),
            Some(("target".into(), false, true, true))
        );
        assert_eq!(
            parsed("/target"),
            Some(("target".into(), false, false, false))
        );
        assert_eq!(parsed("!a/b/ "), Some(("a/b".into(), true, true, false)));
        assert_eq!(parsed("x\\ \r"), Some(("x\\ ".into(), false, false, true)));
        assert_eq!(parsed("x \\  "), Some(("x \\ ".into(), false, false, true)));
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

//! Validation and normalization of one path or glob written in a Scope entry.
//!
//! Scope paths are relative to the repository root, use `/`, never leave the repository and
//! never enter `.git`. A path ending in `/` means the directory and everything below it.
//! Globs follow git's conventions: `*` and `?` stay within one path component, `**` crosses
//! directories.

use globset::{Glob, GlobBuilder, GlobMatcher};

/// Why a written path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Nothing between the backticks.
    Empty,
    /// Starts at `/`, `~` or a drive letter; carries the relative rewrite.
    Absolute(String),
    /// Has a `..` component.
    Parent,
    /// Has a `.git` component.
    GitDir,
    /// Uses `\`; carries the rewrite with `/`.
    Backslash(String),
    /// A glob that does not compile; carries the reason.
    InvalidGlob(String),
}

/// A validated scope path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePath {
    /// The normalized pattern: no `./`, no trailing `/`, and `dir/**` for a directory.
    pub pattern: String,
    /// Whether the pattern is a glob (or a directory) rather than one file.
    pub is_glob: bool,
}

impl ScopePath {
    /// Validates and normalizes `raw`, as written between backticks.
    pub fn parse(raw: &str) -> Result<ScopePath, PathError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PathError::Empty);
        }
        if trimmed.contains('\\') {
            return Err(PathError::Backslash(trimmed.replace('\\', "/")));
        }
        if let Some(relative) = absolute_remainder(trimmed) {
            return Err(PathError::Absolute(relative));
        }
        let is_dir = trimmed.ends_with('/');
        let mut components = Vec::new();
        for component in trimmed.split('/') {
            match component {
                "" | "." => {}
                ".." => return Err(PathError::Parent),
                c if c.eq_ignore_ascii_case(".git") => return Err(PathError::GitDir),
                c => components.push(c),
            }
        }
        if components.is_empty() {
            // `./` or `/`-only: the whole repository.
            components.push("**");
        } else if is_dir {
            components.push("**");
        }
        let pattern = components.join("/");
        let is_glob = pattern.contains(['*', '?', '[', '{']);
        if is_glob {
            glob(&pattern).map_err(|err| PathError::InvalidGlob(err.kind().to_string()))?;
        }
        Ok(ScopePath { pattern, is_glob })
    }

    /// A compiled matcher for this path, for matching many candidate paths.
    pub fn matcher(&self) -> PathMatcher {
        if self.is_glob {
            // `parse` compiled this pattern already, so it compiles again.
            if let Ok(glob) = glob(&self.pattern) {
                return PathMatcher::Glob(glob.compile_matcher());
            }
        }
        PathMatcher::Literal(self.pattern.clone())
    }

    /// Whether `path` (repository-relative, `/`-separated) is covered by this scope path.
    pub fn matches(&self, path: &str) -> bool {
        self.matcher().is_match(path)
    }
}

/// A compiled [`ScopePath`].
#[derive(Debug, Clone)]
pub enum PathMatcher {
    /// Matches exactly one path.
    Literal(String),
    /// Matches per the glob.
    Glob(GlobMatcher),
}

impl PathMatcher {
    /// Whether `path` (repository-relative, `/`-separated) matches.
    pub fn is_match(&self, path: &str) -> bool {
        match self {
            PathMatcher::Literal(literal) => literal == path,
            PathMatcher::Glob(glob) => glob.is_match(path),
        }
    }
}

/// Compiles a scope glob with git-like semantics.
fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(false)
        .build()
}

/// If `path` is absolute, the same path made relative.
fn absolute_remainder(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    if path.starts_with('/') || path.starts_with('~') {
        let rest = path.trim_start_matches('~').trim_start_matches('/');
        return Some(rest.to_string());
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        let rest = path[2..].trim_start_matches(['/', '\\']);
        return Some(rest.replace('\\', "/"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> ScopePath {
        ScopePath::parse(raw).unwrap()
    }

    #[test]
    fn normalizes() {
        assert_eq!(ok("src/a.rs").pattern, "src/a.rs");
        assert!(!ok("src/a.rs").is_glob);
        assert_eq!(ok("./src//a.rs").pattern, "src/a.rs");
        assert_eq!(ok("src/api/").pattern, "src/api/**");
        assert!(ok("src/api/").is_glob);
        assert_eq!(ok("src/api/**").pattern, "src/api/**");
        assert!(ok("src/*.rs").is_glob);
    }

    #[test]
    fn refuses() {
        assert_eq!(ScopePath::parse(""), Err(PathError::Empty));
        assert_eq!(ScopePath::parse("  "), Err(PathError::Empty));
        assert_eq!(
            ScopePath::parse("/etc/passwd"),
            Err(PathError::Absolute("etc/passwd".into()))
        );
        assert_eq!(
            ScopePath::parse("~/.bashrc"),
            Err(PathError::Absolute(".bashrc".into()))
        );
        assert_eq!(
            ScopePath::parse("C:\\x"),
            Err(PathError::Backslash("C:/x".into()))
        );
        assert_eq!(
            ScopePath::parse("C:/x/y"),
            Err(PathError::Absolute("x/y".into()))
        );
        assert_eq!(ScopePath::parse("src/../x"), Err(PathError::Parent));
        assert_eq!(ScopePath::parse(".git/config"), Err(PathError::GitDir));
        assert_eq!(ScopePath::parse("sub/.GIT/hooks/x"), Err(PathError::GitDir));
        assert!(matches!(
            ScopePath::parse("src/{a,b"),
            Err(PathError::InvalidGlob(_))
        ));
        assert!(matches!(
            ScopePath::parse("src/[a"),
            Err(PathError::InvalidGlob(_))
        ));
    }

    #[test]
    fn matching_follows_git_conventions() {
        let star = ok("src/*.rs");
        assert!(star.matches("src/a.rs"));
        assert!(!star.matches("src/sub/a.rs"));
        let deep = ok("src/api/**");
        assert!(deep.matches("src/api/a.rs"));
        assert!(deep.matches("src/api/v1/a.rs"));
        assert!(!deep.matches("src/apix/a.rs"));
        let literal = ok("src/a.rs");
        assert!(literal.matches("src/a.rs"));
        assert!(!literal.matches("src/a.rsx"));
        assert!(ok("./").matches("anything/at/all"));
    }
}

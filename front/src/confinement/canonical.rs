//! Resolving symlinks in many paths that share their first components, once per component.
//!
//! `std::fs::canonicalize` is `realpath(3)`, which asks the kernel about every component of
//! every path (one `readlink` each). A plan resolves dozens of paths that share prefixes
//! (every `PATH` entry under `/usr` or `~/.pyenv`, every scope entry under the worktree):
//! about 65 `readlink`s for a typical `PATH`. [`Canonicalizer`] remembers what each
//! component it has seen resolves to, so each is asked about once, about 25 in that case.
//! The answers are the same as `realpath`'s: every component must exist, `..` is taken
//! after the symlinks before it are resolved, and a chain of more than 40 links is an
//! error (ELOOP). The memory lives as long as one launch (finding the worktree, then
//! building its plan: `PlanInput::resolved`), so a symlink changed afterwards is seen by the
//! next launch.

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// How many symlinks one resolution may follow, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: u32 = 40;

/// `realpath` with a memory of the components already resolved.
#[derive(Debug, Default)]
pub struct Canonicalizer {
    /// Canonical parent + name → what that path resolves to.
    known: HashMap<PathBuf, PathBuf>,
}

impl Canonicalizer {
    /// `path` with every symlink resolved and `.`/`..` taken out, as
    /// `std::fs::canonicalize` would return it. A relative path is resolved from the
    /// working directory.
    pub(crate) fn canonicalize(&mut self, path: &Path) -> io::Result<PathBuf> {
        if path.as_os_str().is_empty() {
            // As realpath: an empty path names nothing.
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        // The kernel reports the working directory with every symlink resolved.
        let start = if path.has_root() {
            PathBuf::from("/")
        } else {
            std::env::current_dir()?
        };
        let mut links = 0;
        self.walk(start, path, &mut links)
    }

    /// Appends `path`'s components to `out` (a canonical directory; `/` when `path` is
    /// absolute), resolving each.
    fn walk(&mut self, mut out: PathBuf, path: &Path, links: &mut u32) -> io::Result<PathBuf> {
        // `components()` drops a trailing `/` or `/.`, after which realpath wants a directory.
        let bytes = path.as_os_str().as_encoded_bytes();
        let must_be_dir = bytes.len() > 1 && (bytes.ends_with(b"/") || bytes.ends_with(b"/."));
        if path.has_root() {
            out = PathBuf::from("/");
        }
        for component in path.components() {
            match component {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                // `out` holds no symlink, so its parent is the parent; but `..` after
                // something that is not a directory is an error, as for realpath.
                Component::ParentDir => {
                    require_dir(&out)?;
                    out.pop();
                }
                Component::Normal(name) => {
                    out.push(name);
                    if let Some(known) = self.known.get(&out) {
                        out.clone_from(known);
                        continue;
                    }
                    match std::fs::read_link(&out) {
                        Ok(target) => {
                            *links += 1;
                            if *links > MAX_LINKS {
                                return Err(io::Error::from_raw_os_error(libc::ELOOP));
                            }
                            let key = out.clone();
                            out.pop();
                            let real = self.walk(out, &target, links)?;
                            self.known.insert(key, real.clone());
                            out = real;
                        }
                        // Not a symlink: it exists and is itself.
                        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                            self.known.insert(out.clone(), out.clone());
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
        }
        if must_be_dir {
            require_dir(&out)?;
        }
        Ok(out)
    }
}

/// ENOTDIR unless `path` (which exists) is a directory.
fn require_dir(path: &Path) -> io::Result<()> {
    if std::fs::metadata(path)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::ENOTDIR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Every case against `std::fs::canonicalize`, through one `Canonicalizer` so that the
    /// remembered components are reused across cases.
    #[test]
    fn answers_as_realpath_does() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("a/b/c")).unwrap();
        std::fs::write(base.join("a/b/file"), "").unwrap();
        symlink("a/b", base.join("rel")).unwrap();
        symlink(base.join("a"), base.join("abs")).unwrap();
        symlink("../..", base.join("a/b/c/up")).unwrap();
        symlink("chain2", base.join("chain1")).unwrap();
        symlink("rel/c", base.join("chain2")).unwrap();
        symlink("loop2", base.join("loop1")).unwrap();
        symlink("loop1", base.join("loop2")).unwrap();
        symlink("missing", base.join("dangling")).unwrap();
        let cases = [
            "a",
            "a/b/c",
            "rel",
            "rel/c",
            "rel/file",
            "abs/b",
            "abs/b/../b/c",
            "a/b/c/up",
            "a/b/c/up/b",
            "a/b/c/up/../abs",
            "chain1",
            "chain1/up/b/file",
            "rel/..",
            "./a/./b",
            "loop1",
            "dangling",
            "missing",
            "a/b/file/x",
            "rel/file/..",
            "rel/file/",
            "rel/file/.",
            "a/b/",
            "a/b/.",
            "abs/",
            "chain1/",
            "a//b///c",
        ];
        let mut canonicalizer = Canonicalizer::default();
        for round in 0..2 {
            for case in cases {
                let path = base.join(case);
                let expected = std::fs::canonicalize(&path).map_err(|e| e.raw_os_error());
                let got = canonicalizer
                    .canonicalize(&path)
                    .map_err(|e| e.raw_os_error());
                assert_eq!(got, expected, "{case} (round {round})");
            }
        }
        assert_eq!(
            canonicalizer.canonicalize(Path::new("/")).unwrap(),
            Path::new("/")
        );
        assert_eq!(
            canonicalizer.canonicalize(Path::new("/..")).unwrap(),
            Path::new("/")
        );
    }

    /// Relative paths start at the working directory (the package's, under cargo test).
    #[test]
    fn resolves_relative_paths_from_the_working_directory() {
        let mut canonicalizer = Canonicalizer::default();
        for case in [
            ".",
            "src",
            "src/../Cargo.toml",
            "./src/sandbox/",
            "missing/x",
            "",
        ] {
            let expected = std::fs::canonicalize(case).map_err(|e| e.raw_os_error());
            let got = canonicalizer
                .canonicalize(Path::new(case))
                .map_err(|e| e.raw_os_error());
            assert_eq!(got, expected, "{case:?}");
        }
    }
}

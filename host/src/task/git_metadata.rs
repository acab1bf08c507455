//! Git metadata an agent left below its worktree's root.
//!
//! The kernel keeps the worktree's own `.git` pointer and git dirs read-only, but inside a
//! directory it may write, an agent can create a nested `.git`: a `gitdir:` pointer file
//! where a submodule lives, or a whole repository with its own config and hooks. agenthost's
//! git work (libgit2) runs no hooks, `core.fsmonitor` or filter drivers; the git command
//! line does, for a submodule it enters and for any repository it finds from the directory
//! a human runs it in. So after every sandboxed run in a task's worktree, every `.git`
//! below the root is moved out of the worktree (into the task's logs, so nothing is lost)
//! and reported. A task's worktree starts with none: git never checks out a `.git` path,
//! and agenthost's worktrees do not populate submodules.

use std::fs::FileType;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::diff::{ChangeKind, Changes};

/// The name git looks for.
const GIT: &str = ".git";

/// What a `.git` entry was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory: a repository of its own.
    Directory,
    /// A regular file: a `gitdir:` pointer, as in a submodule.
    File,
    /// A symbolic link (not followed).
    Symlink,
    /// Anything else (a FIFO, a socket, a device node).
    Other,
}

impl EntryKind {
    fn of(file_type: FileType) -> EntryKind {
        if file_type.is_symlink() {
            EntryKind::Symlink
        } else if file_type.is_dir() {
            EntryKind::Directory
        } else if file_type.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        }
    }

    /// The kind in words, for a reviewer.
    pub fn describe(self) -> &'static str {
        match self {
            EntryKind::Directory => "a repository directory",
            EntryKind::File => "a `gitdir:` pointer file",
            EntryKind::Symlink => "a symbolic link",
            EntryKind::Other => "a special file",
        }
    }
}

/// A `.git` entry that was below the worktree's root, and where it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedGitEntry {
    /// Where it was, relative to the worktree's root (`vendor/lib/.git`).
    pub path: PathBuf,
    /// What it was.
    pub kind: EntryKind,
    /// Where it is now, outside the worktree.
    pub moved_to: PathBuf,
}

/// Why part of a worktree could not be checked or cleared.
#[derive(Debug, Error)]
pub enum GitMetadataError {
    /// A directory could not be listed, so a `.git` in it would go unseen.
    #[error("cannot look for git metadata in {path}: {source}")]
    Read {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A `.git` entry was found but could not be moved out of the worktree.
    #[error("cannot move {path} out of the worktree to {to}: {source}")]
    Move {
        /// The `.git` entry.
        path: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl GitMetadataError {
    /// The path the error is about, relative to `root` when it lies below it.
    pub fn path_below(&self, root: &Path) -> PathBuf {
        let path = match self {
            GitMetadataError::Read { path, .. } | GitMetadataError::Move { path, .. } => path,
        };
        path.strip_prefix(root).unwrap_or(path).to_path_buf()
    }
}

/// What one clearing pass did: every entry it moved, and every place it could not check or
/// clear. A caller must treat a problem as a `.git` that may still be there.
#[derive(Debug, Default)]
pub struct Cleared {
    /// The entries moved out of the worktree.
    pub moved: Vec<MovedGitEntry>,
    /// What could not be checked or moved.
    pub problems: Vec<GitMetadataError>,
}

/// Every `.git` entry below `root` (not `root/.git` itself), as paths relative to `root`,
/// in a stable order. Symbolic links are not followed, and a `.git` directory is not
/// entered. Directories that cannot be listed are returned as problems; the walk goes on.
pub fn find(root: &Path) -> (Vec<(PathBuf, EntryKind)>, Vec<GitMetadataError>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = root.join(&relative);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(source) => {
                problems.push(GitMetadataError::Read { path: dir, source });
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(source) => {
                    problems.push(GitMetadataError::Read {
                        path: dir.clone(),
                        source,
                    });
                    break;
                }
            };
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(source) => {
                    problems.push(GitMetadataError::Read {
                        path: entry.path(),
                        source,
                    });
                    continue;
                }
            };
            let name = entry.file_name();
            if name == GIT {
                if !relative.as_os_str().is_empty() {
                    found.push((relative.join(&name), EntryKind::of(file_type)));
                }
            } else if file_type.is_dir() {
                pending.push(relative.join(&name));
            }
        }
    }
    found.sort_by(|(a, _), (b, _)| a.cmp(b));
    (found, problems)
}

/// Moves every `.git` entry below `root` into `quarantine` (created when needed), each under
/// a name of its own that is not `.git` (`1-vendor--lib--git`), so no git command run in
/// either place obeys it. Numbering goes on from what `quarantine` already holds, so
/// several passes can share one directory.
pub fn clear(root: &Path, quarantine: &Path) -> Cleared {
    let (found, problems) = find(root);
    let mut cleared = Cleared {
        moved: Vec::new(),
        problems,
    };
    if found.is_empty() {
        return cleared;
    }
    if let Err(source) = std::fs::create_dir_all(quarantine) {
        cleared
            .problems
            .extend(found.into_iter().map(|(path, _)| GitMetadataError::Move {
                path: root.join(path),
                to: quarantine.to_path_buf(),
                source: io::Error::new(source.kind(), source.to_string()),
            }));
        return cleared;
    }
    let mut number = std::fs::read_dir(quarantine).map_or(0, Iterator::count);
    for (path, kind) in found {
        number += 1;
        let from = root.join(&path);
        let to = quarantine.join(quarantined_name(number, &path));
        match std::fs::rename(&from, &to) {
            Ok(()) => cleared.moved.push(MovedGitEntry {
                path,
                kind,
                moved_to: to,
            }),
            Err(source) => cleared.problems.push(GitMetadataError::Move {
                path: from,
                to,
                source,
            }),
        }
    }
    cleared
}

/// What a reviewer is told about a directory [`bare_repositories`] found.
pub const BARE_REPOSITORY_FINDING: &str = "the change makes this directory look like a bare \
     git repository (HEAD beside objects/ and refs/, or beside commondir): git run in it, once \
     the change is checked out, obeys its config (`core.pager`, aliases, `core.sshCommand`). \
     If it is wanted (a test fixture), accept it knowingly; `safe.bareRepository = explicit` \
     in your git config makes git ignore such directories";

/// The directories a change makes look like a bare repository to git: a `HEAD` file beside
/// `objects/` and `refs/` directories, or beside a `commondir` file. Once the change is
/// checked out, git run in such a directory takes it for a repository and obeys its config
/// (`core.pager`, aliases, `core.sshCommand`), unless the user set `safe.bareRepository =
/// explicit`. A `.git` can never be committed; this is the form the same trap takes in
/// committed files. Looks at the directories of the change's files only, in the version
/// `kind_at` describes (the type of the entry at a path, if any); the repository's root is
/// not one (git finds its `.git` first).
pub fn bare_repositories(
    changes: &Changes,
    kind_at: impl Fn(&str) -> Option<git2::ObjectType>,
) -> Vec<String> {
    let mut candidates: Vec<&str> = changes
        .files
        .iter()
        .filter(|file| file.kind != ChangeKind::Deleted)
        .flat_map(|file| {
            file.path.match_indices('/').filter_map(|(at, _)| {
                let next = file.path[at + 1..].split('/').next().unwrap_or_default();
                REPOSITORY_NAMES.contains(&next).then_some(&file.path[..at])
            })
        })
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .filter(|dir| {
            let has = |name: &str, kind| kind_at(&format!("{dir}/{name}")) == Some(kind);
            has("HEAD", git2::ObjectType::Blob)
                && ((has("objects", git2::ObjectType::Tree) && has("refs", git2::ObjectType::Tree))
                    || has("commondir", git2::ObjectType::Blob))
        })
        .map(str::to_string)
        .collect()
}

/// [`bare_repositories`] in a commit's tree.
pub fn bare_repositories_in_tree(tree: &git2::Tree<'_>, changes: &Changes) -> Vec<String> {
    bare_repositories(changes, |path| {
        tree.get_path(Path::new(path)).ok().and_then(|e| e.kind())
    })
}

/// [`bare_repositories`] in commit `id` of the repository at `repo_root`.
pub fn bare_repositories_in_commit(
    repo_root: &Path,
    id: &str,
    changes: &Changes,
) -> Result<Vec<String>, git2::Error> {
    let repo = git2::Repository::open(repo_root)?;
    let tree = repo.find_commit(git2::Oid::from_str(id)?)?.tree()?;
    Ok(bare_repositories_in_tree(&tree, changes))
}

/// [`bare_repositories`] in the staged version (the index), without writing a tree.
pub fn bare_repositories_in_index(index: &git2::Index, changes: &Changes) -> Vec<String> {
    bare_repositories(changes, |path| {
        if index.get_path(Path::new(path), 0).is_some() {
            Some(git2::ObjectType::Blob)
        } else {
            index
                .find_prefix(format!("{path}/"))
                .ok()
                .map(|_| git2::ObjectType::Tree)
        }
    })
}

/// The entries that make a directory a repository in git's eyes.
const REPOSITORY_NAMES: &[&str] = &["HEAD", "objects", "refs", "commondir"];

/// `vendor/lib/.git`, the 3rd entry → `3-vendor--lib--git`.
fn quarantined_name(number: usize, path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| {
            let name = c.as_os_str().to_string_lossy();
            name.strip_prefix('.').unwrap_or(&name).to_string()
        })
        .collect();
    format!("{number}-{}", parts.join("--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, content: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// A worktree with its own `.git` pointer and a nested repository, a submodule-style
    /// pointer, a symlink named `.git`, and names that only look like it.
    fn worktree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, text) in [
            (".git", "gitdir: /somewhere/worktrees/t\n"),
            (
                "vendor/lib/.git/config",
                "[core]\n\tfsmonitor = touch /tmp/owned\n",
            ),
            ("vendor/lib/.git/hooks/post-checkout", "#!/bin/sh\n"),
            ("vendor/lib/code.py", "x = 1\n"),
            ("sub/.git", "gitdir: ../evil\n"),
            ("evil/config", "[core]\n\tfsmonitor = touch /tmp/owned\n"),
            ("src/.gitignore", "*.pyc\n"),
            ("src/.github/workflow.yml", "on: push\n"),
            ("target/deep/er/still/.git/HEAD", "ref: refs/heads/main\n"),
        ] {
            write(root, path, text);
        }
        std::os::unix::fs::symlink("/etc", root.join("src/.git")).unwrap();
        dir
    }

    #[test]
    fn finds_every_nested_git_but_the_root_one() {
        let dir = worktree();
        let (found, problems) = find(dir.path());
        assert!(problems.is_empty(), "{problems:?}");
        let found: Vec<(String, EntryKind)> = found
            .into_iter()
            .map(|(p, k)| (p.display().to_string(), k))
            .collect();
        assert_eq!(
            found,
            [
                ("src/.git".to_string(), EntryKind::Symlink),
                ("sub/.git".to_string(), EntryKind::File),
                (
                    "target/deep/er/still/.git".to_string(),
                    EntryKind::Directory
                ),
                ("vendor/lib/.git".to_string(), EntryKind::Directory),
            ]
        );
    }

    #[test]
    fn symlinked_directories_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "outside/.git/HEAD", "ref: refs/heads/main\n");
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), dir.path().join("tree/link"))
            .unwrap();
        let (found, problems) = find(&dir.path().join("tree"));
        assert!(found.is_empty(), "{found:?}");
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn clear_moves_them_out_whole_and_leaves_the_rest() {
        let dir = worktree();
        let root = dir.path();
        let quarantine = tempfile::tempdir().unwrap();
        let into = quarantine.path().join("attempt-1-git-metadata");
        let cleared = clear(root, &into);
        assert!(cleared.problems.is_empty(), "{:?}", cleared.problems);
        let moved: Vec<(String, String)> = cleared
            .moved
            .iter()
            .map(|m| {
                (
                    m.path.display().to_string(),
                    m.moved_to
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                )
            })
            .collect();
        assert_eq!(
            moved,
            [
                ("src/.git".to_string(), "1-src--git".to_string()),
                ("sub/.git".to_string(), "2-sub--git".to_string()),
                (
                    "target/deep/er/still/.git".to_string(),
                    "3-target--deep--er--still--git".to_string()
                ),
                (
                    "vendor/lib/.git".to_string(),
                    "4-vendor--lib--git".to_string()
                ),
            ]
        );
        assert!(find(root).0.is_empty());
        // Everything else is where it was; the moved entries are intact.
        assert_eq!(
            std::fs::read_to_string(root.join(".git")).unwrap(),
            "gitdir: /somewhere/worktrees/t\n"
        );
        assert!(root.join("vendor/lib/code.py").exists());
        assert!(root.join("src/.gitignore").exists());
        assert!(root.join("evil/config").exists());
        assert_eq!(
            std::fs::read_to_string(into.join("4-vendor--lib--git/config")).unwrap(),
            "[core]\n\tfsmonitor = touch /tmp/owned\n"
        );
        assert_eq!(
            std::fs::read_to_string(into.join("2-sub--git")).unwrap(),
            "gitdir: ../evil\n"
        );
        assert_eq!(
            std::fs::read_link(into.join("1-src--git")).unwrap(),
            Path::new("/etc")
        );

        // A second pass numbers on.
        write(root, "again/.git", "gitdir: x\n");
        let second = clear(root, &into);
        assert_eq!(
            second.moved[0].moved_to.file_name().unwrap(),
            "5-again--git"
        );
    }

    #[test]
    fn a_clean_worktree_makes_no_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".git", "gitdir: x\n");
        write(dir.path(), "src/app.py", "x = 1\n");
        let into = dir.path().join("never");
        let cleared = clear(&dir.path().join("src"), &into);
        assert!(cleared.moved.is_empty() && cleared.problems.is_empty());
        assert!(!into.exists());
    }

    #[test]
    fn bare_repositories_in_a_change_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let repo = git2::Repository::init(root).unwrap();
        write(root, "README.md", "hi\n");
        write(root, "old/HEAD", "ref: refs/heads/main\n");
        write(root, "old/objects/info/packs", "\n");
        let first = crate::task::diff::tests::commit(&repo, "one");
        for (path, text) in [
            ("fixtures/bare/HEAD", "ref: refs/heads/main\n"),
            (
                "fixtures/bare/config",
                "[core]\n\tpager = sh -c 'touch owned'\n",
            ),
            ("fixtures/bare/objects/info/packs", "\n"),
            ("fixtures/bare/refs/heads/main", "\n"),
            ("linked/HEAD", "ref: refs/heads/main\n"),
            ("linked/commondir", "../fixtures/bare\n"),
            ("only_head/HEAD", "ref: refs/heads/main\n"),
            ("no_refs/HEAD", "x\n"),
            ("no_refs/objects/a", "\n"),
            ("HEAD", "top level\n"),
            ("objects/a", "\n"),
            ("refs/a", "\n"),
            // A directory that was half a repository before the change, completed by it.
            ("old/refs/heads/main", "\n"),
        ] {
            write(root, path, text);
        }
        let second = crate::task::diff::tests::commit(&repo, "two");
        let changes = crate::task::diff::between_commits(root, &first, &second).unwrap();
        let expected = ["fixtures/bare", "linked", "old"];
        assert_eq!(
            bare_repositories_in_commit(root, &second, &changes).unwrap(),
            expected
        );
        // The index after the commit holds the same version.
        assert_eq!(
            bare_repositories_in_index(&repo.index().unwrap(), &changes),
            expected
        );
        let none = crate::task::diff::between_commits(root, &first, &first).unwrap();
        let unchanged = bare_repositories_in_commit(root, &first, &none).unwrap();
        assert!(unchanged.is_empty());
    }

    /// A directory the walk cannot list is a problem, never a silent pass. The listing is
    /// refused by dropping this thread's effective capabilities (capabilities are per
    /// thread), so the test means the same as root and as a normal user.
    #[test]
    fn an_unreadable_directory_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "locked/.git", "gitdir: x\n");
        write(dir.path(), "open/.git", "gitdir: y\n");
        let locked = dir.path().join("locked");
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000))
            .unwrap();
        let root = dir.path().to_path_buf();
        let (found, problems) = std::thread::spawn(move || {
            let sets = rustix::thread::capabilities(None).unwrap();
            rustix::thread::set_capabilities(
                None,
                rustix::thread::CapabilitySets {
                    effective: rustix::thread::CapabilitySet::empty(),
                    ..sets
                },
            )
            .unwrap();
            find(&root)
        })
        .join()
        .unwrap();
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert_eq!(found, [(PathBuf::from("open/.git"), EntryKind::File)]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path_below(dir.path()), Path::new("locked"));
        assert!(
            problems[0].to_string().contains("Permission denied"),
            "{}",
            problems[0]
        );
    }
}

//! What a task (or any commit range) changed: files with their change kind, lines added and
//! removed, and the patch text, read with git2. Review policies and `verify` both work
//! from this.

use std::path::Path;

use git2::{Delta, DiffFindOptions, DiffOptions, Oid, Repository};
use serde::Serialize;

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A new file.
    Added,
    /// An existing file's content changed.
    Modified,
    /// The file was removed.
    Deleted,
    /// The file moved (its content may also have changed).
    Renamed,
    /// The file's type changed (say, from a file to a symlink).
    TypeChanged,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedFile {
    /// The path after the change (before it, for a deletion), repository-relative.
    pub path: String,
    /// For renames, the path before.
    pub old_path: Option<String>,
    /// How it changed.
    pub kind: ChangeKind,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// Whether git considers the content binary (no line counts then).
    pub binary: bool,
    /// Whether the file is a symlink after the change.
    pub symlink: bool,
    /// The first changed line in the new version of the file (1-based), when it has one: a
    /// place to point a finding about the file at.
    pub first_line: Option<u32>,
}

/// Every change between two trees.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// The files, in path order.
    pub files: Vec<ChangedFile>,
    /// The unified diff of all of them.
    pub patch: String,
}

impl Changes {
    /// Total lines added and removed.
    pub fn line_counts(&self) -> (usize, usize) {
        self.files
            .iter()
            .fold((0, 0), |(a, r), f| (a + f.added, r + f.removed))
    }
}

/// The changes from commit `from` to commit `to` in the repository at `repo_root`, with
/// renames detected.
pub fn between_commits(repo_root: &Path, from: &str, to: &str) -> Result<Changes, git2::Error> {
    let repo = Repository::open(repo_root)?;
    let old = repo.find_commit(Oid::from_str(from)?)?.tree()?;
    let new = repo.find_commit(Oid::from_str(to)?)?.tree()?;
    between_trees(&repo, Some(&old), &new, &[])
}

/// The changes from tree `old` (none: the empty tree) to tree `new` in `repo`, with renames
/// detected; when `only` is not empty, just those paths (exact, repository-relative).
pub fn between_trees(
    repo: &Repository,
    old: Option<&git2::Tree<'_>>,
    new: &git2::Tree<'_>,
    only: &[String],
) -> Result<Changes, git2::Error> {
    let mut options = DiffOptions::new();
    options.context_lines(3);
    if !only.is_empty() {
        options.disable_pathspec_match(true);
        for path in only {
            options.pathspec(path);
        }
    }
    let diff = repo.diff_tree_to_tree(old, Some(new), Some(&mut options))?;
    collect(diff)
}

/// The staged changes (index against HEAD) of the repository at `repo_root`.
pub fn staged(repo_root: &Path) -> Result<Changes, git2::Error> {
    let repo = Repository::open(repo_root)?;
    let head = match repo.head() {
        Ok(head) => Some(head.peel_to_tree()?),
        Err(_) => None,
    };
    let mut options = DiffOptions::new();
    let diff = repo.diff_tree_to_index(head.as_ref(), None, Some(&mut options))?;
    collect(diff)
}

fn collect(mut diff: git2::Diff<'_>) -> Result<Changes, git2::Error> {
    let mut find = DiffFindOptions::new();
    find.renames(true).copies(false);
    diff.find_similar(Some(&mut find))?;

    // One pass: each file's patch gives its line counts, its first changed line and its
    // text (diffing twice, once for counts and once for the text, doubled the blob reads).
    let mut files = Vec::new();
    let mut texts: Vec<(String, String)> = Vec::new();
    for (index, delta) in diff.deltas().enumerate() {
        let kind = match delta.status() {
            Delta::Added | Delta::Untracked | Delta::Copied => ChangeKind::Added,
            Delta::Deleted => ChangeKind::Deleted,
            Delta::Renamed => ChangeKind::Renamed,
            Delta::Typechange => ChangeKind::TypeChanged,
            _ => ChangeKind::Modified,
        };
        let path_of =
            |file: git2::DiffFile<'_>| file.path().map(|p| p.to_string_lossy().replace('\\', "/"));
        let new_path = path_of(delta.new_file());
        let old_path = path_of(delta.old_file());
        let path = match kind {
            ChangeKind::Deleted => old_path.clone(),
            _ => new_path.clone(),
        }
        .unwrap_or_default();
        let (added, removed, binary, first_line) = match git2::Patch::from_diff(&diff, index)? {
            Some(mut patch) => {
                let (_, added, removed) = patch.line_stats()?;
                let first_line = first_new_line(&patch)?;
                let text = patch.to_buf()?;
                texts.push((path.clone(), String::from_utf8_lossy(&text).into_owned()));
                (added, removed, delta.flags().is_binary(), first_line)
            }
            None => {
                let old = old_path.as_deref().unwrap_or(&path);
                texts.push((
                    path.clone(),
                    format!("diff --git a/{old} b/{path}\nBinary files differ\n"),
                ));
                (0, 0, true, None)
            }
        };
        files.push(ChangedFile {
            old_path: (kind == ChangeKind::Renamed).then(|| old_path.unwrap_or_default()),
            path,
            kind,
            added,
            removed,
            binary,
            symlink: delta.new_file().mode() == git2::FileMode::Link,
            first_line,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    texts.sort_by(|a, b| a.0.cmp(&b.0));
    let patch: String = texts.into_iter().map(|(_, text)| text).collect();
    Ok(Changes { files, patch })
}

/// The first added line of `patch`, or where its first hunk starts in the new file.
fn first_new_line(patch: &git2::Patch<'_>) -> Result<Option<u32>, git2::Error> {
    if patch.num_hunks() == 0 {
        return Ok(None);
    }
    let (hunk, lines) = patch.hunk(0)?;
    for index in 0..lines {
        let line = patch.line_in_hunk(0, index)?;
        if line.origin() == '+' {
            return Ok(line.new_lineno());
        }
    }
    Ok(Some(hunk.new_start()).filter(|start| *start > 0))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Commits everything in `repo`'s working directory on HEAD; returns the commit's id.
    pub(crate) fn commit(repo: &Repository, message: &str) -> String {
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }

    #[test]
    fn kinds_lines_and_patch() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let repo = Repository::init(root).unwrap();
        let long: String = (0..40).map(|i| format!("line {i}\n")).collect();
        fs_err::write(root.join("keep.txt"), "a\nb\nc\n").unwrap();
        fs_err::write(root.join("gone.txt"), "bye\n").unwrap();
        fs_err::write(root.join("old_name.txt"), &long).unwrap();
        let first = commit(&repo, "one");

        fs_err::write(root.join("keep.txt"), "a\nB\nc\nd\n").unwrap();
        fs_err::remove_file(root.join("gone.txt")).unwrap();
        fs_err::rename(root.join("old_name.txt"), root.join("new_name.txt")).unwrap();
        fs_err::write(root.join("fresh.txt"), "new\n").unwrap();
        fs_err::write(root.join("blob.bin"), [0u8, 1, 2, 0, 255]).unwrap();
        let second = commit(&repo, "two");

        let changes = between_commits(root, &first, &second).unwrap();
        let summary: Vec<_> = changes
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.kind, f.added, f.removed, f.binary))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("blob.bin", ChangeKind::Added, 0, 0, true),
                ("fresh.txt", ChangeKind::Added, 1, 0, false),
                ("gone.txt", ChangeKind::Deleted, 0, 1, false),
                ("keep.txt", ChangeKind::Modified, 2, 1, false),
                ("new_name.txt", ChangeKind::Renamed, 0, 0, false),
            ]
        );
        let first_lines: Vec<_> = changes.files.iter().map(|f| f.first_line).collect();
        assert_eq!(first_lines, vec![None, Some(1), None, Some(2), None]);
        let renamed = &changes.files[4];
        assert_eq!(renamed.old_path.as_deref(), Some("old_name.txt"));
        assert_eq!(changes.line_counts(), (3, 2));
        assert!(changes.patch.contains("+B\n"), "{}", changes.patch);
        assert!(changes.patch.contains("-b\n"), "{}", changes.patch);
        assert!(changes.patch.contains("diff --git a/keep.txt b/keep.txt"));
    }

    #[test]
    fn staged_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let repo = Repository::init(root).unwrap();
        fs_err::write(root.join("a.txt"), "1\n").unwrap();
        commit(&repo, "one");
        fs_err::write(root.join("a.txt"), "2\n").unwrap();
        fs_err::write(root.join("unstaged.txt"), "x\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("a.txt")).unwrap();
        index.write().unwrap();
        let changes = staged(root).unwrap();
        assert_eq!(changes.files.len(), 1);
        assert_eq!(changes.files[0].path, "a.txt");
        assert_eq!(changes.files[0].kind, ChangeKind::Modified);
    }
}

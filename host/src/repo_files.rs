//! A repository's files for checking a spec's Scope against it
//! ([`crate::spec::repo_check`]), listed with git2.

use std::collections::BTreeSet;
use std::path::Path;

use crate::spec::repo_check::RepoFiles;

/// Lists the tracked and the untracked-but-not-ignored files of the repository whose
/// working tree is at `root`.
pub(crate) fn list(root: &Path) -> Result<RepoFiles, git2::Error> {
    let repo = git2::Repository::open(root)?;
    let mut files = BTreeSet::new();
    let index = repo.index()?;
    for entry in index.iter() {
        files.insert(String::from_utf8_lossy(&entry.path).into_owned());
    }
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    for status in repo.statuses(Some(&mut options))?.iter() {
        if status.status().contains(git2::Status::WT_NEW) {
            files.insert(String::from_utf8_lossy(status.path_bytes()).into_owned());
        }
    }
    Ok(RepoFiles::from_paths(files))
}

//! Which commits `verify` checks, and what each one changed.
//!
//! A range is `A..B` (commits reachable from B, not from A), `A...B` (from their merge
//! base to B), or one revision `REV`: from its merge base with the base branch to REV. No
//! range means `HEAD`. A merge commit is checked for its own changes only: the files whose
//! content differs from every parent (conflict resolutions and edits slipped into the
//! merge); what it brings in from its other parents is checked in those commits.

use git2::{Oid, Repository, Sort};

use super::VerifyError;
use crate::task::diff::{self, Changes};
use crate::task::git_metadata;

/// The trailers agenthost writes on a task's commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Trailers {
    /// `Agenthost-Task`: the task id.
    pub task: Option<String>,
    /// `Agenthost-Attempt`: the attempt number.
    pub attempt: Option<String>,
    /// `Agenthost-Spec`: the spec's repository-relative path.
    pub spec: Option<String>,
    /// `Agenthost-Spec-Digest`: `sha256:<hex>` of the spec the agent ran.
    pub spec_digest: Option<String>,
}

impl Trailers {
    /// Reads the trailers of a commit message (keys compared without regard to case).
    pub(crate) fn parse(message: &str) -> Trailers {
        let mut trailers = Trailers::default();
        let Ok(found) = git2::message_trailers_strs(message) else {
            return trailers;
        };
        for (key, value) in found.iter() {
            let slot = match key.to_ascii_lowercase().as_str() {
                "agenthost-task" => &mut trailers.task,
                "agenthost-attempt" => &mut trailers.attempt,
                "agenthost-spec" => &mut trailers.spec,
                "agenthost-spec-digest" => &mut trailers.spec_digest,
                _ => continue,
            };
            *slot = Some(value.trim().to_string());
        }
        trailers
    }

    /// Whether an agenthost task made the commit.
    pub(crate) fn is_agent(&self) -> bool {
        self.task.is_some()
    }
}

/// The commits to check, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    /// How the range was written or derived, for the report (`main..HEAD`).
    pub description: String,
    /// The commit the range starts after (its changes are not checked), when there is one.
    pub from: Option<Oid>,
    /// The last commit.
    pub to: Oid,
}

/// One commit's own changes.
#[derive(Debug, Clone)]
pub(crate) struct CommitChanges {
    /// The commit.
    pub id: Oid,
    /// Its message's first line.
    pub summary: String,
    /// Its agenthost trailers.
    pub trailers: Trailers,
    /// How many parents it has (2 or more: a merge).
    pub parents: usize,
    /// What it changed (a merge: only its own changes).
    pub changes: Changes,
    /// Directories its changes make look like bare repositories
    /// ([`git_metadata::bare_repositories`]).
    pub bare_repositories: Vec<String>,
}

/// Resolves `range` (or `HEAD`) in `repo`; `base` names the base branch for a single
/// revision (the configured one, else `origin/HEAD`, `main` or `master`).
pub(crate) fn resolve(
    repo: &Repository,
    range: Option<&str>,
    base: Option<&str>,
) -> Result<Range, VerifyError> {
    let written = range.unwrap_or("HEAD");
    if written.contains("..") {
        let spec = repo
            .revparse(written)
            .map_err(|err| bad_range(written, &err))?;
        let (Some(from), Some(to)) = (spec.from(), spec.to()) else {
            return Err(VerifyError::BadRange {
                range: written.to_string(),
                reason: "both ends of the range must be given (write `A..B`)".into(),
            });
        };
        let from = commit_of(from, written)?;
        let to = commit_of(to, written)?;
        let from = if spec.mode().contains(git2::RevparseMode::MERGE_BASE) {
            repo.merge_base(from, to)
                .map_err(|err| bad_range(written, &err))?
        } else {
            from
        };
        return Ok(Range {
            description: written.to_string(),
            from: Some(from),
            to,
        });
    }
    let to = repo
        .revparse_single(written)
        .map_err(|err| bad_range(written, &err))
        .and_then(|object| commit_of(&object, written))?;
    let (base_name, base) = base_branch(repo, base)?;
    let from = repo
        .merge_base(base, to)
        .map_err(|_| VerifyError::BadRange {
            range: written.to_string(),
            reason: format!("`{written}` and the base branch `{base_name}` have no common history"),
        })?;
    Ok(Range {
        description: format!("{base_name}..{written}"),
        from: Some(from),
        to,
    })
}

/// The base branch: its name as written and its commit.
fn base_branch(repo: &Repository, configured: Option<&str>) -> Result<(String, Oid), VerifyError> {
    let candidates: Vec<String> = match configured {
        Some(name) => vec![name.to_string(), format!("origin/{name}")],
        None => [
            "origin/HEAD",
            "main",
            "origin/main",
            "master",
            "origin/master",
        ]
        .iter()
        .map(|name| name.to_string())
        .collect(),
    };
    for name in &candidates {
        if let Ok(commit) = repo
            .revparse_single(name)
            .and_then(|object| object.peel_to_commit())
        {
            return Ok((name.clone(), commit.id()));
        }
    }
    Err(VerifyError::NoBase { tried: candidates })
}

fn commit_of(object: &git2::Object<'_>, range: &str) -> Result<Oid, VerifyError> {
    object
        .peel_to_commit()
        .map(|commit| commit.id())
        .map_err(|err| bad_range(range, &err))
}

fn bad_range(range: &str, err: &git2::Error) -> VerifyError {
    VerifyError::BadRange {
        range: range.to_string(),
        reason: err.message().to_string(),
    }
}

/// The commits of `range`, oldest first (parents before children).
pub(crate) fn list(repo: &Repository, range: &Range) -> Result<Vec<Oid>, VerifyError> {
    let walk = || -> Result<Vec<Oid>, git2::Error> {
        let mut walk = repo.revwalk()?;
        walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
        walk.push(range.to)?;
        if let Some(from) = range.from {
            walk.hide(from)?;
        }
        walk.collect()
    };
    walk().map_err(|source| VerifyError::Git {
        action: "list the commits of the range",
        source,
    })
}

/// What commit `id` changed.
pub(crate) fn changes(repo: &Repository, id: Oid) -> Result<CommitChanges, VerifyError> {
    let read = || -> Result<CommitChanges, git2::Error> {
        let commit = repo.find_commit(id)?;
        let tree = commit.tree()?;
        let parents: Vec<git2::Tree<'_>> = commit
            .parents()
            .map(|parent| parent.tree())
            .collect::<Result<_, _>>()?;
        let changes = match parents.as_slice() {
            [] => diff::between_trees(repo, None, &tree, &[])?,
            [parent] => diff::between_trees(repo, Some(parent), &tree, &[])?,
            [first, others @ ..] => {
                let own = merge_own_paths(repo, first, others, &tree)?;
                if own.is_empty() {
                    Changes::default()
                } else {
                    diff::between_trees(repo, Some(first), &tree, &own)?
                }
            }
        };
        let message = commit.message().unwrap_or_default();
        Ok(CommitChanges {
            id,
            summary: commit
                .summary()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_string(),
            trailers: Trailers::parse(message),
            parents: parents.len(),
            bare_repositories: git_metadata::bare_repositories_in_tree(&tree, &changes),
            changes,
        })
    };
    read().map_err(|source| VerifyError::Git {
        action: "read a commit's changes",
        source,
    })
}

/// The paths where a merge's tree differs from every parent's.
fn merge_own_paths(
    repo: &Repository,
    first: &git2::Tree<'_>,
    others: &[git2::Tree<'_>],
    tree: &git2::Tree<'_>,
) -> Result<Vec<String>, git2::Error> {
    let diff = repo.diff_tree_to_tree(Some(first), Some(tree), None)?;
    let entry_id = |tree: &git2::Tree<'_>, path: &std::path::Path| {
        tree.get_path(path)
            .ok()
            .map(|entry| (entry.id(), entry.filemode()))
    };
    let mut own = Vec::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            let Some(path) = file.path() else { continue };
            let mine = entry_id(tree, path);
            if others.iter().all(|other| entry_id(other, path) != mine) {
                let path = path.to_string_lossy().replace('\\', "/");
                if !own.contains(&path) {
                    own.push(path);
                }
            }
        }
    }
    Ok(own)
}

/// The staged changes, and the directories they make look like bare repositories.
pub(crate) fn staged(repo: &Repository) -> Result<(Changes, Vec<String>), VerifyError> {
    let root = repo.workdir().ok_or(VerifyError::BareRepository)?;
    let read = || -> Result<(Changes, Vec<String>), git2::Error> {
        let changes = diff::staged(root)?;
        let bare = git_metadata::bare_repositories_in_index(&repo.index()?, &changes);
        Ok((changes, bare))
    };
    read().map_err(|source| VerifyError::Git {
        action: "read the staged changes",
        source,
    })
}

/// The trailers of the newest agent commit on HEAD's first-parent line that is not on the
/// base branch: the task the staged changes continue. Only HEAD itself when there is no
/// base branch.
pub(crate) fn current_task(repo: &Repository, base: Option<&str>) -> Option<(Oid, Trailers)> {
    let head = repo.head().ok()?.peel_to_commit().ok()?;
    let stop = base_branch(repo, base)
        .ok()
        .and_then(|(_, base)| repo.merge_base(base, head.id()).ok());
    let mut commit = Some(head);
    let mut budget = if stop.is_some() { 10_000 } else { 1 };
    while let Some(current) = commit {
        if Some(current.id()) == stop || budget == 0 {
            break;
        }
        budget -= 1;
        let trailers = Trailers::parse(current.message().unwrap_or_default());
        if trailers.is_agent() {
            return Some((current.id(), trailers));
        }
        commit = current.parent(0).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_read_case_insensitively() {
        let trailers = Trailers::parse(
            "Add the filter\n\nBody text.\n\nAgenthost-Task: t-1\nagenthost-spec: specs/a.md\n\
             Agenthost-Spec-Digest: sha256:00\nAgenthost-Attempt: 2\n",
        );
        assert_eq!(
            trailers,
            Trailers {
                task: Some("t-1".into()),
                attempt: Some("2".into()),
                spec: Some("specs/a.md".into()),
                spec_digest: Some("sha256:00".into()),
            }
        );
        assert!(!Trailers::parse("Fix a typo\n\nSigned-off-by: A <a@b>\n").is_agent());
        assert!(!Trailers::parse("").is_agent());
    }
}

//! Accepting a task: bringing its branch into the base branch, all or nothing.
//!
//! Every new commit is built in memory first (merge or cherry-pick into an in-memory index).
//! Only when all of them exist, without conflicts, does anything visible change: the user's
//! checkout (if it has the base branch checked out) is updated with a safe checkout, then
//! the base branch moves. A conflict, or an uncommitted change in the user's checkout to a
//! file the task changed, stops the accept before anything is written.

use std::collections::BTreeSet;
use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{Commit, Oid, Repository, Signature};
use thiserror::Error;

/// How the task's commits reach the base branch.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One new commit on the base branch with all of the task's changes (the default).
    #[default]
    Squash,
    /// A merge commit joining the task branch, keeping its commits.
    Merge,
    /// The task's commits replayed on top of the base branch.
    Rebase,
}

/// Why a task could not be accepted. Nothing was changed in any of these cases.
#[derive(Debug, Error)]
pub enum AcceptError {
    /// The task's changes conflict with the base branch.
    #[error("the task's changes conflict with `{base}` in: {}", paths.join(", "))]
    Conflict {
        /// The base branch.
        base: String,
        /// The conflicting files.
        paths: Vec<String>,
    },
    /// The user's checkout has uncommitted changes to files the accept would change.
    #[error("your checkout has uncommitted changes to files this task changes: {}", paths.join(", "))]
    DirtyCheckout {
        /// The files.
        paths: Vec<String>,
    },
    /// The base branch moved after the accept was built (while its checks ran).
    #[error("`{base}` moved while the accept was being checked")]
    BaseMoved {
        /// The base branch.
        base: String,
    },
    /// The base branch does not exist.
    #[error("the base branch `{base}` does not exist")]
    NoBaseBranch {
        /// The branch.
        base: String,
    },
    /// The task branch adds nothing to the base branch.
    #[error("the task branch `{branch}` has no changes that `{base}` lacks")]
    NothingToAccept {
        /// The task branch.
        branch: String,
        /// The base branch.
        base: String,
    },
    /// A git operation failed.
    #[error("git: {action}: {source}")]
    Git {
        /// What we were doing.
        action: &'static str,
        /// What git2 said.
        source: git2::Error,
    },
}

impl AcceptError {
    /// The way out, for the `help:` line.
    pub fn help(&self) -> &'static str {
        match self {
            AcceptError::Conflict { .. } => {
                "send it back (`agenthost correct ID -m ...` merges the base into its branch, the conflicts marked for the agent to resolve), or reject it and launch its spec again"
            }
            AcceptError::DirtyCheckout { .. } => "commit or stash those changes, then accept again",
            AcceptError::BaseMoved { .. } => {
                "accept again: it is built and checked afresh on the base branch's new head"
            }
            AcceptError::NoBaseBranch { .. } => "create the branch, or set `base` for the task",
            AcceptError::NothingToAccept { .. } => "reject the task instead: it changed nothing",
            AcceptError::Git { .. } => "check the repository with `git status`",
        }
    }
}

fn git(action: &'static str) -> impl FnOnce(git2::Error) -> AcceptError {
    move |source| AcceptError::Git { action, source }
}

/// What an accept did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The base branch's new head.
    pub commit: String,
    /// Whether the user's checkout was updated (it had the base branch checked out).
    pub updated_checkout: bool,
}

/// An accept built in memory and not yet visible: the commit the base branch would move
/// to. [`land`] makes it visible, unless the base branch moved meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The base branch.
    pub base: String,
    /// The base branch's head the new commit was built on.
    pub base_head: String,
    /// The commit the base branch moves to: the task's changes on top of `base_head`.
    pub new_head: String,
    /// Whether the base branch has commits the task branch lacks (it moved since the task
    /// started): what was tested is then not what would land.
    pub base_moved: bool,
    /// The task branch.
    pub task_branch: String,
}

/// Builds the commit(s) that bring `task_branch` into `base`, in memory: nothing visible
/// changes (the new objects are unreferenced until [`land`]).
pub fn prepare(
    repo_root: &Path,
    base: &str,
    task_branch: &str,
    strategy: Strategy,
    message: &str,
) -> Result<Prepared, AcceptError> {
    let repo = Repository::open(repo_root).map_err(git("open the repository"))?;
    let base_commit = repo
        .find_reference(&format!("refs/heads/{base}"))
        .and_then(|r| r.peel_to_commit())
        .map_err(|_| AcceptError::NoBaseBranch {
            base: base.to_string(),
        })?;
    let task_commit = repo
        .find_reference(&format!("refs/heads/{task_branch}"))
        .and_then(|r| r.peel_to_commit())
        .map_err(git("read the task branch"))?;
    let merge_base = repo
        .merge_base(base_commit.id(), task_commit.id())
        .map_err(git("find the merge base"))?;
    if merge_base == task_commit.id() {
        return Err(AcceptError::NothingToAccept {
            branch: task_branch.to_string(),
            base: base.to_string(),
        });
    }
    let signature = Signature::now("agenthost", "agenthost@localhost")
        .map_err(git("make the commit signature"))?;

    let new_head = match strategy {
        Strategy::Squash | Strategy::Merge => {
            let tree = merged_tree(&repo, &base_commit, &task_commit, base)?;
            let parents: Vec<&Commit<'_>> = match strategy {
                Strategy::Merge => vec![&base_commit, &task_commit],
                _ => vec![&base_commit],
            };
            repo.commit(None, &signature, &signature, message, &tree, &parents)
                .map_err(git("write the commit"))?
        }
        Strategy::Rebase => rebase(&repo, &base_commit, &task_commit, merge_base, base)?,
    };
    Ok(Prepared {
        base: base.to_string(),
        base_head: base_commit.id().to_string(),
        new_head: new_head.to_string(),
        base_moved: merge_base != base_commit.id(),
        task_branch: task_branch.to_string(),
    })
}

/// Moves the base branch to the prepared commit, updating the user's checkout first when it
/// has the base branch checked out. Refused, with nothing changed, when the base branch is
/// no longer where the commit was built ([`AcceptError::BaseMoved`]) or the checkout has
/// uncommitted changes to the files the accept changes.
pub fn land(repo_root: &Path, prepared: &Prepared) -> Result<Accepted, AcceptError> {
    let repo = Repository::open(repo_root).map_err(git("open the repository"))?;
    let base_ref = format!("refs/heads/{}", prepared.base);
    let oid = |text: &str| Oid::from_str(text).map_err(git("read a commit id"));
    let (base_head, new_head) = (oid(&prepared.base_head)?, oid(&prepared.new_head)?);
    let current = repo
        .find_reference(&base_ref)
        .and_then(|r| r.peel_to_commit())
        .map_err(|_| AcceptError::NoBaseBranch {
            base: prepared.base.clone(),
        })?;
    if current.id() != base_head {
        return Err(AcceptError::BaseMoved {
            base: prepared.base.clone(),
        });
    }
    let new_commit = repo
        .find_commit(new_head)
        .map_err(git("read the new commit"))?;
    let new_tree = new_commit.tree().map_err(git("read the new tree"))?;

    let head_is_base = repo
        .head()
        .ok()
        .and_then(|head| head.name().ok().map(|n| n == base_ref))
        .unwrap_or(false);
    if head_is_base && !repo.is_bare() {
        let old_tree = current.tree().map_err(git("read the base tree"))?;
        let touched = changed_paths(&repo, &old_tree, &new_tree)?;
        let dirty = dirty_paths(&repo)?;
        let overlap: Vec<String> = dirty.intersection(&touched).cloned().collect();
        if !overlap.is_empty() {
            return Err(AcceptError::DirtyCheckout { paths: overlap });
        }
        let mut checkout = CheckoutBuilder::new();
        checkout.safe();
        repo.checkout_tree(new_tree.as_object(), Some(&mut checkout))
            .map_err(git("update your checkout"))?;
    }
    repo.reference_matching(
        &base_ref,
        new_head,
        true,
        base_head,
        &format!("agenthost accept {}", prepared.task_branch),
    )
    .map_err(git("move the base branch"))?;
    Ok(Accepted {
        commit: new_head.to_string(),
        updated_checkout: head_is_base,
    })
}

/// The tree of base and task merged, or the conflicting paths.
fn merged_tree<'r>(
    repo: &'r Repository,
    base: &Commit<'_>,
    task: &Commit<'_>,
    base_name: &str,
) -> Result<git2::Tree<'r>, AcceptError> {
    let mut index = repo.merge_commits(base, task, None).map_err(git("merge"))?;
    tree_of(repo, &mut index, base_name)
}

fn tree_of<'r>(
    repo: &'r Repository,
    index: &mut git2::Index,
    base_name: &str,
) -> Result<git2::Tree<'r>, AcceptError> {
    if index.has_conflicts() {
        return Err(AcceptError::Conflict {
            base: base_name.to_string(),
            paths: conflict_paths(index).map_err(git("list conflicts"))?,
        });
    }
    let oid = index.write_tree_to(repo).map_err(git("write the tree"))?;
    repo.find_tree(oid).map_err(git("read the tree"))
}

/// The files a merge's `index` has conflicts in (any side's path), sorted.
pub(crate) fn conflict_paths(index: &git2::Index) -> Result<Vec<String>, git2::Error> {
    let mut paths = BTreeSet::new();
    for conflict in index.conflicts()? {
        let conflict = conflict?;
        for entry in [conflict.our, conflict.their, conflict.ancestor]
            .into_iter()
            .flatten()
        {
            paths.insert(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    Ok(paths.into_iter().collect())
}

/// Replays the task's commits (oldest first) onto the base; returns the last new commit.
fn rebase(
    repo: &Repository,
    base: &Commit<'_>,
    task: &Commit<'_>,
    merge_base: Oid,
    base_name: &str,
) -> Result<Oid, AcceptError> {
    let mut walk = repo.revwalk().map_err(git("walk the task branch"))?;
    walk.push(task.id()).map_err(git("walk the task branch"))?;
    walk.hide(merge_base).map_err(git("walk the task branch"))?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .map_err(git("walk the task branch"))?;
    let mut onto = repo.find_commit(base.id()).map_err(git("read the base"))?;
    for oid in walk {
        let oid = oid.map_err(git("walk the task branch"))?;
        let commit = repo.find_commit(oid).map_err(git("read a task commit"))?;
        if commit.parent_count() > 1 {
            continue;
        }
        let mut index = repo
            .cherrypick_commit(&commit, &onto, 0, None)
            .map_err(git("replay a task commit"))?;
        let tree = tree_of(repo, &mut index, base_name)?;
        let new = repo
            .commit(
                None,
                &commit.author(),
                &commit.committer(),
                commit.message().unwrap_or_default(),
                &tree,
                &[&onto],
            )
            .map_err(git("write a replayed commit"))?;
        onto = repo
            .find_commit(new)
            .map_err(git("read a replayed commit"))?;
    }
    Ok(onto.id())
}

/// Paths that differ between two trees.
fn changed_paths(
    repo: &Repository,
    old: &git2::Tree<'_>,
    new: &git2::Tree<'_>,
) -> Result<BTreeSet<String>, AcceptError> {
    let diff = repo
        .diff_tree_to_tree(Some(old), Some(new), None)
        .map_err(git("compare trees"))?;
    let mut paths = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path() {
                paths.insert(path.to_string_lossy().into_owned());
            }
        }
    }
    Ok(paths)
}

/// Paths with uncommitted changes (staged or not, untracked included) in the checkout.
fn dirty_paths(repo: &Repository) -> Result<BTreeSet<String>, AcceptError> {
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true);
    let statuses = repo
        .statuses(Some(&mut options))
        .map_err(git("read your checkout's status"))?;
    Ok(statuses
        .iter()
        .filter(|s| !s.status().is_ignored())
        .map(|s| String::from_utf8_lossy(s.path_bytes()).into_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brings `task_branch` into `base` in the repository at `repo_root`: [`prepare`], then
    /// [`land`].
    ///
    /// `message` is the squash commit's message (or the merge commit's); rebased commits keep
    /// their own.
    fn accept(
        repo_root: &Path,
        base: &str,
        task_branch: &str,
        strategy: Strategy,
        message: &str,
    ) -> Result<Accepted, AcceptError> {
        let prepared = prepare(repo_root, base, task_branch, strategy, message)?;
        land(repo_root, &prepared)
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        root: std::path::PathBuf,
        repo: Repository,
    }

    fn commit_on(repo: &Repository, branch: &str, files: &[(&str, &str)], message: &str) -> Oid {
        let parent = repo
            .find_reference(&format!("refs/heads/{branch}"))
            .and_then(|r| r.peel_to_commit())
            .ok();
        let mut builder = repo
            .treebuilder(parent.as_ref().map(|p| p.tree().unwrap()).as_ref())
            .unwrap();
        for (path, content) in files {
            let blob = repo.blob(content.as_bytes()).unwrap();
            builder.insert(path, blob, 0o100644).unwrap();
        }
        let tree = repo.find_tree(builder.write().unwrap()).unwrap();
        let sig = Signature::now("T", "t@example.invalid").unwrap();
        let parents: Vec<&Commit<'_>> = parent.iter().collect();
        repo.commit(
            Some(&format!("refs/heads/{branch}")),
            &sig,
            &sig,
            message,
            &tree,
            &parents,
        )
        .unwrap()
    }

    /// A repository with `main` checked out (a.txt, b.txt) and a task branch that changes
    /// b.txt in two commits.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let repo = Repository::init(&root).unwrap();
        repo.set_head("refs/heads/main").unwrap();
        let first = commit_on(&repo, "main", &[("a.txt", "a\n"), ("b.txt", "b\n")], "init");
        let mut checkout = CheckoutBuilder::new();
        checkout.force();
        repo.checkout_head(Some(&mut checkout)).unwrap();
        repo.branch("agenthost/t", &repo.find_commit(first).unwrap(), false)
            .unwrap();
        commit_on(&repo, "agenthost/t", &[("b.txt", "b1\n")], "task 1");
        commit_on(
            &repo,
            "agenthost/t",
            &[("b.txt", "b2\n"), ("c.txt", "c\n")],
            "task 2",
        );
        Fixture {
            _dir: dir,
            root,
            repo,
        }
    }

    fn head_tree_file(repo: &Repository, path: &str) -> String {
        let tree = repo.head().unwrap().peel_to_tree().unwrap();
        let entry = tree.get_path(Path::new(path)).unwrap();
        let blob = repo.find_blob(entry.id()).unwrap();
        String::from_utf8(blob.content().to_vec()).unwrap()
    }

    #[test]
    fn squash_updates_branch_and_checkout() {
        let f = fixture();
        let done = accept(&f.root, "main", "agenthost/t", Strategy::Squash, "Task T\n").unwrap();
        assert!(done.updated_checkout);
        let head = f.repo.head().unwrap().peel_to_commit().unwrap();
        assert_eq!(head.id().to_string(), done.commit);
        assert_eq!(head.parent_count(), 1);
        assert_eq!(head.message().ok(), Some("Task T\n"));
        assert_eq!(head_tree_file(&f.repo, "b.txt"), "b2\n");
        assert_eq!(
            std::fs::read_to_string(f.root.join("c.txt")).unwrap(),
            "c\n"
        );
        assert_eq!(
            std::fs::read_to_string(f.root.join("b.txt")).unwrap(),
            "b2\n"
        );
        let statuses = f.repo.statuses(None).unwrap();
        assert_eq!(statuses.len(), 0, "the checkout is clean after accept");
    }

    #[test]
    fn prepared_changes_nothing_and_lands_only_on_the_head_it_was_built_on() {
        let f = fixture();
        let before = f.repo.head().unwrap().target().unwrap();
        let prepared = prepare(&f.root, "main", "agenthost/t", Strategy::Squash, "T").unwrap();
        assert!(!prepared.base_moved);
        assert_eq!(prepared.base_head, before.to_string());
        assert_eq!(f.repo.head().unwrap().target().unwrap(), before);
        assert_eq!(
            std::fs::read_to_string(f.root.join("b.txt")).unwrap(),
            "b\n"
        );

        // main moves (another accept, a push) before it lands: refused, nothing changed.
        commit_on(&f.repo, "main", &[("a.txt", "a2\n")], "main moves");
        let mut checkout = CheckoutBuilder::new();
        checkout.force();
        f.repo.checkout_head(Some(&mut checkout)).unwrap();
        let moved = f.repo.head().unwrap().target().unwrap();
        let err = land(&f.root, &prepared).unwrap_err();
        assert!(matches!(err, AcceptError::BaseMoved { .. }), "{err}");
        assert_eq!(f.repo.head().unwrap().target().unwrap(), moved);

        // Built again, it knows main moved past the task's start, and lands.
        let prepared = prepare(&f.root, "main", "agenthost/t", Strategy::Squash, "T").unwrap();
        assert!(prepared.base_moved);
        let done = land(&f.root, &prepared).unwrap();
        assert_eq!(done.commit, prepared.new_head);
        assert_eq!(head_tree_file(&f.repo, "a.txt"), "a2\n");
        assert_eq!(head_tree_file(&f.repo, "b.txt"), "b2\n");
    }

    #[test]
    fn merge_and_rebase_keep_history() {
        let f = fixture();
        // main moved on meanwhile, touching another file.
        commit_on(&f.repo, "main", &[("a.txt", "a2\n")], "main moves");
        let mut checkout = CheckoutBuilder::new();
        checkout.force();
        f.repo.checkout_head(Some(&mut checkout)).unwrap();

        let merged = accept(&f.root, "main", "agenthost/t", Strategy::Merge, "Merge T").unwrap();
        let head = f
            .repo
            .find_commit(Oid::from_str(&merged.commit).unwrap())
            .unwrap();
        assert_eq!(head.parent_count(), 2);
        assert_eq!(head_tree_file(&f.repo, "a.txt"), "a2\n");
        assert_eq!(head_tree_file(&f.repo, "b.txt"), "b2\n");

        let g = fixture();
        commit_on(&g.repo, "main", &[("a.txt", "a2\n")], "main moves");
        g.repo
            .checkout_head(Some(CheckoutBuilder::new().force()))
            .unwrap();
        let rebased = accept(&g.root, "main", "agenthost/t", Strategy::Rebase, "").unwrap();
        let head = g
            .repo
            .find_commit(Oid::from_str(&rebased.commit).unwrap())
            .unwrap();
        assert_eq!(head.message().ok(), Some("task 2"));
        assert_eq!(head.parent(0).unwrap().message().ok(), Some("task 1"));
        assert_eq!(
            head.parent(0).unwrap().parent(0).unwrap().message().ok(),
            Some("main moves")
        );
    }

    #[test]
    fn conflict_changes_nothing() {
        let f = fixture();
        let before = commit_on(&f.repo, "main", &[("b.txt", "theirs\n")], "main edits b");
        f.repo
            .checkout_head(Some(CheckoutBuilder::new().force()))
            .unwrap();
        for strategy in [Strategy::Squash, Strategy::Merge, Strategy::Rebase] {
            let err = accept(&f.root, "main", "agenthost/t", strategy, "x").unwrap_err();
            assert!(
                matches!(&err, AcceptError::Conflict { paths, .. } if paths == &["b.txt"]),
                "{err}"
            );
            assert_eq!(f.repo.head().unwrap().target().unwrap(), before);
            assert_eq!(
                std::fs::read_to_string(f.root.join("b.txt")).unwrap(),
                "theirs\n"
            );
        }
    }

    #[test]
    fn dirty_checkout_is_refused_only_where_it_matters() {
        let f = fixture();
        let before = f.repo.head().unwrap().target().unwrap();
        std::fs::write(f.root.join("b.txt"), "my local edit\n").unwrap();
        let err = accept(&f.root, "main", "agenthost/t", Strategy::Squash, "x").unwrap_err();
        assert!(
            matches!(&err, AcceptError::DirtyCheckout { paths } if paths == &["b.txt"]),
            "{err}"
        );
        assert_eq!(f.repo.head().unwrap().target().unwrap(), before);
        assert_eq!(
            std::fs::read_to_string(f.root.join("b.txt")).unwrap(),
            "my local edit\n"
        );

        // An unrelated local edit is fine, and survives.
        std::fs::write(f.root.join("b.txt"), "b\n").unwrap();
        std::fs::write(f.root.join("a.txt"), "my a\n").unwrap();
        accept(&f.root, "main", "agenthost/t", Strategy::Squash, "x").unwrap();
        assert_eq!(
            std::fs::read_to_string(f.root.join("a.txt")).unwrap(),
            "my a\n"
        );
        assert_eq!(
            std::fs::read_to_string(f.root.join("b.txt")).unwrap(),
            "b2\n"
        );
    }

    #[test]
    fn base_not_checked_out_moves_only_the_branch() {
        let f = fixture();
        f.repo
            .branch(
                "release",
                &f.repo.head().unwrap().peel_to_commit().unwrap(),
                false,
            )
            .unwrap();
        let done = accept(&f.root, "release", "agenthost/t", Strategy::Squash, "x").unwrap();
        assert!(!done.updated_checkout);
        assert_eq!(
            std::fs::read_to_string(f.root.join("b.txt")).unwrap(),
            "b\n"
        );
        let release = f
            .repo
            .find_branch("release", git2::BranchType::Local)
            .unwrap();
        assert_eq!(release.get().target().unwrap().to_string(), done.commit);
    }

    #[test]
    fn nothing_to_accept() {
        let f = fixture();
        f.repo
            .branch(
                "empty",
                &f.repo.head().unwrap().peel_to_commit().unwrap(),
                false,
            )
            .unwrap();
        assert!(matches!(
            accept(&f.root, "main", "empty", Strategy::Squash, "x"),
            Err(AcceptError::NothingToAccept { .. })
        ));
        assert!(matches!(
            accept(&f.root, "nope", "agenthost/t", Strategy::Squash, "x"),
            Err(AcceptError::NoBaseBranch { .. })
        ));
    }
}

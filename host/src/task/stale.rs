//! Whether a task's base branch has moved since the task started, and whether the task's
//! change still applies to it: the review must know before `accept` finds out.

use std::path::Path;

use git2::{Oid, Repository};

/// The base branch has new commits the task did not start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseMoved {
    /// The base branch.
    pub branch: String,
    /// How many commits it has that the task's base commit has not.
    pub commits: usize,
    /// The files where the task's change and those commits conflict; empty when the change
    /// still applies cleanly.
    pub conflicts: Vec<String>,
}

impl BaseMoved {
    /// One line for `review` and `status`, ending with what to do.
    pub fn describe(&self, task_id: &str) -> String {
        let moved = format!(
            "{} has {} new commit{} since this task started",
            self.branch,
            self.commits,
            if self.commits == 1 { "" } else { "s" }
        );
        if self.conflicts.is_empty() {
            format!("{moved}; its change still applies cleanly (accept merges it onto them)")
        } else {
            format!(
                "{moved}; its change now conflicts in {}: `agenthost reject {task_id}` and \
                 launch its spec again on the new base",
                self.conflicts.join(", ")
            )
        }
    }
}

/// Whether `base_branch` (in the repository at `repo_root`) has moved past `base_commit`,
/// the commit the task started from, and whether `task_branch` still merges into it. `None`
/// for a task with no base branch or one that has not moved.
pub fn base_moved(
    repo_root: &Path,
    base_branch: Option<&str>,
    base_commit: &str,
    task_branch: &str,
) -> Result<Option<BaseMoved>, git2::Error> {
    let Some(branch) = base_branch else {
        return Ok(None);
    };
    let repo = Repository::open(repo_root)?;
    let head = repo
        .find_reference(&format!("refs/heads/{branch}"))?
        .peel_to_commit()?;
    let started = Oid::from_str(base_commit)?;
    if head.id() == started {
        return Ok(None);
    }
    let mut walk = repo.revwalk()?;
    walk.push(head.id())?;
    walk.hide(started)?;
    let commits = walk.count();
    if commits == 0 {
        // The branch was moved back or rewritten to something the task contains.
        return Ok(None);
    }
    let task = repo
        .find_reference(&format!("refs/heads/{task_branch}"))?
        .peel_to_commit()?;
    let index = repo.merge_commits(&head, &task, None)?;
    let mut conflicts: Vec<String> = Vec::new();
    if index.has_conflicts() {
        for conflict in index.conflicts()? {
            let conflict = conflict?;
            let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
            if let Some(entry) = entry {
                let path = String::from_utf8_lossy(&entry.path).into_owned();
                if !conflicts.contains(&path) {
                    conflicts.push(path);
                }
            }
        }
    }
    Ok(Some(BaseMoved {
        branch: branch.to_string(),
        commits,
        conflicts,
    }))
}

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
    /// A few words without any path, for the ready notification and the `on_ready` hook
    /// (which run outside the sandbox: no text the agent could have chosen).
    pub fn brief(&self) -> String {
        match self.conflicts.is_empty() {
            true => format!("{} moved; the change still applies", self.branch),
            false => format!("{} moved; the change now conflicts", self.branch),
        }
    }

    /// A short line for the cockpit: how far the base moved and whether the change still
    /// applies (the conflicting files named).
    pub fn short(&self) -> String {
        let moved = format!(
            "{} has {} new commit{}",
            self.branch,
            self.commits,
            if self.commits == 1 { "" } else { "s" }
        );
        match self.conflicts.is_empty() {
            true => format!("{moved}; the change still applies (accept checks it again)"),
            false => format!(
                "{moved}; the change conflicts in {}",
                self.conflicts.join(", ")
            ),
        }
    }

    /// One line for `review` and `status`, ending with what to do.
    pub fn describe(&self, task_id: &str) -> String {
        let moved = format!(
            "{} has {} new commit{} since this task started",
            self.branch,
            self.commits,
            if self.commits == 1 { "" } else { "s" }
        );
        if self.conflicts.is_empty() {
            format!(
                "{moved}; its change still applies cleanly (accept merges it onto them and runs its checks again)"
            )
        } else {
            format!(
                "{moved}; its change now conflicts in {}: `agenthost correct {task_id} -m ...` \
                 hands the conflict to its agent, marked in the files",
                self.conflicts.join(", ")
            )
        }
    }
}

/// For a ready task, whether its base branch moved since it started (see [`base_moved`]);
/// `None` for any other state, or when git cannot say (the verbs then show nothing).
pub fn of_ready(task: &crate::supervisor::store::Task) -> Option<BaseMoved> {
    if task.state != crate::task::TaskState::Ready {
        return None;
    }
    let launch = &task.launch;
    base_moved(
        &launch.repo,
        launch.base_branch.as_deref(),
        &launch.base_commit,
        &launch.branch,
    )
    .ok()
    .flatten()
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
    let conflicts = super::accept::conflict_paths(&index)?;
    Ok(Some(BaseMoved {
        branch: branch.to_string(),
        commits,
        conflicts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits `files` on top of `parent` (or as the first commit) and returns the commit.
    fn commit(repo: &Repository, parent: Option<Oid>, files: &[(&str, &str)]) -> Oid {
        let mut builder = repo.treebuilder(None).unwrap();
        let base_tree = parent.map(|p| repo.find_commit(p).unwrap().tree().unwrap());
        if let Some(tree) = &base_tree {
            for entry in tree.iter() {
                builder
                    .insert(entry.name().unwrap(), entry.id(), entry.filemode())
                    .unwrap();
            }
        }
        for (name, text) in files {
            let blob = repo.blob(text.as_bytes()).unwrap();
            builder.insert(name, blob, 0o100644).unwrap();
        }
        let tree = repo.find_tree(builder.write().unwrap()).unwrap();
        let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
        let parents: Vec<git2::Commit<'_>> = parent
            .map(|p| repo.find_commit(p).unwrap())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(None, &sig, &sig, "c", &tree, &parents).unwrap()
    }

    #[test]
    fn a_moved_base_is_seen_with_whether_the_change_still_applies() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let base = commit(&repo, None, &[("a.txt", "one\n"), ("b.txt", "two\n")]);
        let task = commit(&repo, Some(base), &[("a.txt", "one by the task\n")]);
        repo.reference("refs/heads/agenthost/t", task, true, "task")
            .unwrap();
        repo.reference("refs/heads/main", base, true, "main")
            .unwrap();
        let moved = || base_moved(dir.path(), Some("main"), &base.to_string(), "agenthost/t");

        assert_eq!(moved().unwrap(), None, "main has not moved");
        assert_eq!(
            base_moved(dir.path(), None, &base.to_string(), "agenthost/t").unwrap(),
            None,
            "no base branch, nothing to compare"
        );

        let elsewhere = commit(&repo, Some(base), &[("b.txt", "two, by hand\n")]);
        repo.reference("refs/heads/main", elsewhere, true, "main")
            .unwrap();
        let found = moved().unwrap().expect("main moved");
        assert_eq!((found.commits, found.conflicts.len()), (1, 0));
        assert_eq!(found.brief(), "main moved; the change still applies");

        let same_lines = commit(&repo, Some(elsewhere), &[("a.txt", "one, by hand\n")]);
        repo.reference("refs/heads/main", same_lines, true, "main")
            .unwrap();
        let found = moved().unwrap().expect("main moved");
        assert_eq!(found.commits, 2);
        assert_eq!(found.conflicts, ["a.txt"]);
        assert_eq!(
            found.describe("t"),
            "main has 2 new commits since this task started; its change now conflicts in \
             a.txt: `agenthost correct t -m ...` hands the conflict to its agent, marked in \
             the files"
        );
        assert_eq!(found.brief(), "main moved; the change now conflicts");
    }
}

//! A git worktree and branch per task, made and committed by the host with git2.
//!
//! The worktree lives under agenthost's state directory, never inside the user's checkout,
//! on branch `agenthost/<task-id>` from the task's base commit. The user's checkout (its
//! working tree, index and HEAD) is never touched.
//!
//! The agent can write inside the worktree but never its `.git` pointer file; even so, the
//! host does not trust that file: it opens the worktree through the administrative
//! directory in the main repository (`.git/worktrees/<name>`), which the agent cannot
//! write, and sets the working directory to the path it recorded itself.

use std::path::{Path, PathBuf};

use git2::{BranchType, Repository, WorktreeAddOptions};
use thiserror::Error;

/// The prefix of every task branch.
pub const BRANCH_PREFIX: &str = "agenthost/";

/// Something went wrong making, committing or removing a task worktree.
#[derive(Debug, Error)]
pub enum WorktreeError {
    /// The repository could not be opened.
    #[error("cannot open the git repository at {path}: {source}")]
    Open {
        /// Where we looked.
        path: PathBuf,
        /// What git2 said.
        source: git2::Error,
    },
    /// The base branch or commit does not exist.
    #[error("base `{base}` is not a branch or commit of {repo}")]
    UnknownBase {
        /// The base as configured.
        base: String,
        /// The repository.
        repo: PathBuf,
    },
    /// The repository has no commit to start from.
    #[error("the repository at {repo} has no commits yet: a task needs a base commit")]
    NoCommits {
        /// The repository.
        repo: PathBuf,
    },
    /// A task branch or worktree of this name exists already.
    #[error("a task branch or worktree named `{name}` exists already")]
    Exists {
        /// The name.
        name: String,
    },
    /// A path listed in `worktree.copy` could not be copied.
    #[error("cannot copy {path} into the task worktree: {source}")]
    Copy {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Any other git operation failed.
    #[error("git: {action}: {source}")]
    Git {
        /// What we were doing.
        action: &'static str,
        /// What git2 said.
        source: git2::Error,
    },
}

impl WorktreeError {
    /// What to do about it, for the `help:` line.
    pub fn help(&self) -> &'static str {
        match self {
            WorktreeError::Open { .. } => "run agenthost inside a git repository",
            WorktreeError::UnknownBase { .. } => {
                "set `base` in the spec's front matter or `worktree.base` in agenthost.toml to an existing branch"
            }
            WorktreeError::NoCommits { .. } => "make a first commit, then launch again",
            WorktreeError::Exists { .. } => {
                "a task id is unique per repository: reject or accept the old task first"
            }
            WorktreeError::Copy { .. } => {
                "check the path's permissions and the free space, or remove it from `worktree.copy` in agenthost.toml"
            }
            WorktreeError::Git { .. } => {
                "check the repository with `git status` and `git worktree list`"
            }
        }
    }
}

fn git(action: &'static str) -> impl FnOnce(git2::Error) -> WorktreeError {
    move |source| WorktreeError::Git { action, source }
}

/// Which commit a task starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The branch name, if the base is a branch (what accept merges into).
    pub branch: Option<String>,
    /// The commit id.
    pub commit: String,
}

/// Resolves the base: `explicit` (front matter, then config) when given, else the
/// repository's current HEAD.
pub fn resolve_base(repo_root: &Path, explicit: Option<&str>) -> Result<Base, WorktreeError> {
    let repo = open(repo_root)?;
    match explicit {
        Some(name) => {
            if let Ok(branch) = repo.find_branch(name, BranchType::Local) {
                let commit = branch
                    .get()
                    .peel_to_commit()
                    .map_err(git("read the base branch"))?;
                return Ok(Base {
                    branch: Some(name.to_string()),
                    commit: commit.id().to_string(),
                });
            }
            let object = repo
                .revparse_single(name)
                .map_err(|_| WorktreeError::UnknownBase {
                    base: name.to_string(),
                    repo: repo_root.to_path_buf(),
                })?;
            let commit = object
                .peel_to_commit()
                .map_err(|_| WorktreeError::UnknownBase {
                    base: name.to_string(),
                    repo: repo_root.to_path_buf(),
                })?;
            Ok(Base {
                branch: None,
                commit: commit.id().to_string(),
            })
        }
        None => {
            let head = repo.head().map_err(|_| WorktreeError::NoCommits {
                repo: repo_root.to_path_buf(),
            })?;
            let commit = head
                .peel_to_commit()
                .map_err(|_| WorktreeError::NoCommits {
                    repo: repo_root.to_path_buf(),
                })?;
            let branch = if head.is_branch() {
                head.shorthand().ok().map(str::to_string)
            } else {
                None
            };
            Ok(Base {
                branch,
                commit: commit.id().to_string(),
            })
        }
    }
}

/// A task's worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskWorktree {
    /// The main repository's working tree root.
    pub repo_root: PathBuf,
    /// The worktree's name in git (the task id).
    pub name: String,
    /// Where the worktree is.
    pub path: PathBuf,
    /// The task branch, `agenthost/<task-id>`.
    pub branch: String,
}

impl TaskWorktree {
    /// Creates branch `agenthost/<task_id>` at `base` and a worktree for it at `path` (which
    /// must not exist yet), then copies the `copy` paths (files or directories, relative to
    /// the repository root) from the user's checkout into it (`super::copy::copy_entry`).
    ///
    /// Returns the worktree and the `copy` entries that did not exist (for the caller to
    /// report).
    pub fn create(
        repo_root: &Path,
        task_id: &str,
        base: &Base,
        path: &Path,
        copy: &[PathBuf],
    ) -> Result<(TaskWorktree, Vec<PathBuf>), WorktreeError> {
        let repo = open(repo_root)?;
        let branch_name = format!("{BRANCH_PREFIX}{task_id}");
        if repo.find_branch(&branch_name, BranchType::Local).is_ok()
            || repo.find_worktree(task_id).is_ok()
            || path.exists()
        {
            return Err(WorktreeError::Exists {
                name: task_id.to_string(),
            });
        }
        let oid = git2::Oid::from_str(&base.commit).map_err(git("parse the base commit"))?;
        let commit = repo.find_commit(oid).map_err(git("find the base commit"))?;
        let branch = repo
            .branch(&branch_name, &commit, false)
            .map_err(git("create the task branch"))?;
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|source| WorktreeError::Copy {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let mut options = WorktreeAddOptions::new();
        options.reference(Some(branch.get()));
        repo.worktree(task_id, path, Some(&options))
            .map_err(git("add the worktree"))?;

        let root = repo
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| repo_root.to_path_buf());
        let mut missing = Vec::new();
        let real_root = root.canonicalize().unwrap_or_else(|_| root.clone());
        for relative in copy {
            let from = root.join(relative);
            if std::fs::symlink_metadata(&from).is_err() {
                missing.push(relative.clone());
                continue;
            }
            // A symlink on the way (`link/.ssh` with `link` → `~`) would copy what lies
            // outside the repository into the agent's reach.
            let outside = from
                .parent()
                .and_then(|parent| parent.canonicalize().ok())
                .is_none_or(|parent| !parent.starts_with(&real_root));
            if outside {
                return Err(WorktreeError::Copy {
                    path: relative.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        "it leads out of the repository through a symbolic link",
                    ),
                });
            }
            let to = path.join(relative);
            super::copy::copy_entry(&from, &to)
                .and_then(|()| super::venv::relocate(&to, &root, path).map(|_| ()))
                .map_err(|source| WorktreeError::Copy {
                    path: relative.clone(),
                    source,
                })?;
        }
        Ok((
            TaskWorktree {
                repo_root: root,
                name: task_id.to_string(),
                path: path.to_path_buf(),
                branch: branch_name,
            },
            missing,
        ))
    }

    /// Opens the worktree's repository through the main repository's administrative
    /// directory, with the working directory set to the recorded path: nothing the agent
    /// wrote (such as a replaced `.git` file) decides where git looks.
    pub fn open(&self) -> Result<Repository, WorktreeError> {
        let main = open(&self.repo_root)?;
        let admin = main.path().join("worktrees").join(&self.name);
        let repo = Repository::open(&admin).map_err(|source| WorktreeError::Open {
            path: admin.clone(),
            source,
        })?;
        repo.set_workdir(&self.path, false)
            .map_err(git("set the worktree's working directory"))?;
        Ok(repo)
    }

    /// Commits everything in the worktree (except what the repository ignores) on the task
    /// branch, with `message` and the trailers appended. Returns the new commit id, or `None`
    /// if nothing changed.
    pub fn commit_all(
        &self,
        message: &str,
        trailers: &[(&str, &str)],
    ) -> Result<Option<String>, WorktreeError> {
        self.commit_staged(message, trailers, true)
    }

    /// Commits the changes to files the branch already tracks (changed or deleted; new files
    /// are left alone) on the task branch, like [`TaskWorktree::commit_all`]; `None` when
    /// no tracked file changed.
    pub fn commit_tracked(
        &self,
        message: &str,
        trailers: &[(&str, &str)],
    ) -> Result<Option<String>, WorktreeError> {
        self.commit_staged(message, trailers, false)
    }

    /// Stages the changed and deleted files in the worktree's index (and, with `new_files`,
    /// the new ones), then commits what it staged.
    fn commit_staged(
        &self,
        message: &str,
        trailers: &[(&str, &str)],
        new_files: bool,
    ) -> Result<Option<String>, WorktreeError> {
        let repo = self.open()?;
        let mut index = repo.index().map_err(git("read the worktree index"))?;
        if new_files {
            index
                .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
                .map_err(git("stage new and changed files"))?;
        }
        index
            .update_all(["*"], None)
            .map_err(git("stage changed and deleted files"))?;
        self.commit_index(&repo, &mut index, message, trailers)
    }

    /// The tracked files the worktree changed, deleted or replaced (relative, sorted);
    /// reads only.
    pub fn tracked_changes(&self) -> Result<Vec<String>, WorktreeError> {
        let repo = self.open()?;
        tracked_changes(&repo)
    }

    /// Puts every tracked file the worktree changed back as the task branch has it, and
    /// returns their paths (relative, sorted); untracked and ignored files stay. Set aside
    /// what a run created first: a symbolic link it put where a tracked directory was is
    /// untracked, and the checkout would write through it.
    pub fn restore_tracked(&self) -> Result<Vec<String>, WorktreeError> {
        let repo = self.open()?;
        let files = tracked_changes(&repo)?;
        if !files.is_empty() {
            let head = repo
                .head()
                .and_then(|h| h.peel_to_tree())
                .map_err(git("read the worktree's HEAD"))?;
            unlink_links_in_the_way(&self.path, &head)?;
            let mut checkout = git2::build::CheckoutBuilder::new();
            checkout.force();
            for file in &files {
                checkout.path(file);
            }
            repo.checkout_index(None, Some(&mut checkout))
                .map_err(git("restore changed files"))?;
        }
        Ok(files)
    }

    /// Checks `commit` out in the worktree with its HEAD detached (the task branch stays
    /// where it is): every tracked file as `commit` has it. [`TaskWorktree::back_on_branch`]
    /// undoes it.
    pub fn detach_at(&self, commit: &str) -> Result<(), WorktreeError> {
        let repo = self.open()?;
        let oid = git2::Oid::from_str(commit).map_err(git("read the commit id"))?;
        let tree = repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(git("read the commit"))?;
        unlink_links_in_the_way(&self.path, &tree)?;
        repo.set_head_detached(oid)
            .map_err(git("detach the worktree's HEAD"))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force();
        repo.checkout_head(Some(&mut checkout))
            .map_err(git("check out the commit"))
    }

    /// Puts the worktree back on its task branch: HEAD attached to it, every tracked file
    /// as the branch has it (files tracked only by what was checked out before are removed;
    /// untracked and ignored files stay).
    pub fn back_on_branch(&self) -> Result<(), WorktreeError> {
        let repo = self.open()?;
        let reference = format!("refs/heads/{}", self.branch);
        let tree = repo
            .find_reference(&reference)
            .and_then(|r| r.peel_to_tree())
            .map_err(git("read the task branch"))?;
        unlink_links_in_the_way(&self.path, &tree)?;
        repo.set_head(&reference)
            .map_err(git("attach the worktree's HEAD to the task branch"))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force();
        repo.checkout_head(Some(&mut checkout))
            .map_err(git("check out the task branch"))
    }

    /// Brings the base branch's new commits into the task branch with a merge commit, and
    /// checks the result out in the worktree, so that the next attempt works on the base as
    /// it is now; the task's change from the new head is the same as before. A text file
    /// both sides changed in the same lines is committed with git's conflict markers, for
    /// the agent to resolve. Nothing changes when the base has nothing new, the worktree
    /// has changes of its own, or a conflict cannot be marked in text (a binary file, a
    /// file one side deleted).
    pub fn merge_in(&self, base: &str) -> Result<MergedIn, WorktreeError> {
        let main = open(&self.repo_root)?;
        let base_head = main
            .find_reference(&format!("refs/heads/{base}"))
            .and_then(|r| r.peel_to_commit())
            .map_err(git("read the base branch"))?;
        let reference = format!("refs/heads/{}", self.branch);
        let task_head = main
            .find_reference(&reference)
            .and_then(|r| r.peel_to_commit())
            .map_err(git("read the task branch"))?;
        let merge_base = main
            .merge_base(base_head.id(), task_head.id())
            .map_err(git("find the merge base"))?;
        if merge_base == base_head.id() {
            return Ok(MergedIn::UpToDate);
        }
        // The checkout below would overwrite what someone changed in the worktree.
        let unclean = self.changed_files()?;
        if !unclean.is_empty() {
            return Ok(MergedIn::Unclean(unclean));
        }
        let commits = {
            let mut walk = main.revwalk().map_err(git("count the base's commits"))?;
            walk.push(base_head.id())
                .and_then(|()| walk.hide(merge_base))
                .map_err(git("count the base's commits"))?;
            walk.count()
        };
        let mut index = main
            .merge_commits(&task_head, &base_head, None)
            .map_err(git("merge"))?;
        let marked = match mark_conflicts(&main, &mut index, &self.branch, base)? {
            Ok(marked) => marked,
            Err(unmarkable) => return Ok(MergedIn::Conflicts(unmarkable)),
        };
        let tree = main
            .find_tree(index.write_tree_to(&main).map_err(git("write the tree"))?)
            .map_err(git("read the tree"))?;
        let signature = git2::Signature::now("agenthost", "agenthost@localhost")
            .map_err(git("make the commit signature"))?;
        let merged = main
            .commit(
                None,
                &signature,
                &signature,
                &match marked.as_slice() {
                    [] => format!("Merge {base} into {}", self.branch),
                    files => format!(
                        "Merge {base} into {}\n\nConflicts left marked for the agent: {}\n",
                        self.branch,
                        files.join(", ")
                    ),
                },
                &tree,
                &[&task_head, &base_head],
            )
            .map_err(git("write the merge commit"))?;
        unlink_links_in_the_way(&self.path, &tree)?;
        main.reference_matching(
            &reference,
            merged,
            true,
            task_head.id(),
            &format!("agenthost: merge {base}"),
        )
        .map_err(git("move the task branch"))?;
        let repo = self.open()?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force();
        repo.checkout_head(Some(&mut checkout))
            .map_err(git("check out the merged branch"))?;
        Ok(MergedIn::Merged {
            base_head: base_head.id().to_string(),
            commits,
            conflicts: marked,
        })
    }

    /// The files whose content differs from HEAD's (changed, deleted, or new and not
    /// ignored), relative to the worktree, sorted.
    pub fn changed_files(&self) -> Result<Vec<String>, WorktreeError> {
        paths_where(&self.open()?, true, |status| {
            status != git2::Status::CURRENT
        })
    }

    /// The files in the worktree that git neither tracks nor ignores (what the next
    /// [`TaskWorktree::commit_all`] would add), relative to the worktree, sorted.
    pub fn untracked_files(&self) -> Result<Vec<String>, WorktreeError> {
        paths_where(&self.open()?, true, |status| {
            status.contains(git2::Status::WT_NEW)
        })
    }

    /// Writes `index` and commits its tree on the task branch, unless it is the branch's tree
    /// already.
    fn commit_index(
        &self,
        repo: &git2::Repository,
        index: &mut git2::Index,
        message: &str,
        trailers: &[(&str, &str)],
    ) -> Result<Option<String>, WorktreeError> {
        index.write().map_err(git("write the worktree index"))?;
        let tree_id = index.write_tree().map_err(git("write the tree"))?;
        let reference = format!("refs/heads/{}", self.branch);
        let parent = repo
            .find_reference(&reference)
            .and_then(|r| r.peel_to_commit())
            .map_err(git("read the task branch"))?;
        if parent.tree_id() == tree_id {
            return Ok(None);
        }
        let tree = repo.find_tree(tree_id).map_err(git("read the tree"))?;
        let signature = git2::Signature::now("agenthost", "agenthost@localhost")
            .map_err(git("make the commit signature"))?;
        let mut full = message.trim_end().to_string();
        if !trailers.is_empty() {
            full.push_str("\n\n");
            for (key, value) in trailers {
                full.push_str(&format!("{key}: {value}\n"));
            }
        }
        let oid = repo
            .commit(
                Some(&reference),
                &signature,
                &signature,
                &full,
                &tree,
                &[&parent],
            )
            .map_err(git("commit"))?;
        Ok(Some(oid.to_string()))
    }

    /// Removes the worktree directory, its administrative entry and the task branch.
    pub fn remove(&self) -> Result<(), WorktreeError> {
        let repo = open(&self.repo_root)?;
        if self.path.exists() {
            fs_err::remove_dir_all(&self.path).map_err(|source| WorktreeError::Copy {
                path: self.path.clone(),
                source,
            })?;
        }
        if let Ok(worktree) = repo.find_worktree(&self.name) {
            let mut options = git2::WorktreePruneOptions::new();
            options.valid(true).working_tree(true);
            worktree
                .prune(Some(&mut options))
                .map_err(git("prune the worktree"))?;
        }
        if let Ok(mut branch) = repo.find_branch(&self.branch, BranchType::Local) {
            branch.delete().map_err(git("delete the task branch"))?;
        }
        Ok(())
    }
}

fn open(repo_root: &Path) -> Result<Repository, WorktreeError> {
    Repository::open(repo_root).map_err(|source| WorktreeError::Open {
        path: repo_root.to_path_buf(),
        source,
    })
}

/// What [`TaskWorktree::merge_in`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergedIn {
    /// The task branch has every commit of the base branch already.
    UpToDate,
    /// The base branch's head (`base_head`) is merged into the task branch.
    Merged {
        /// The base branch's head, the task's new base commit.
        base_head: String,
        /// How many commits the base branch had that the task branch lacked.
        commits: usize,
        /// The files committed with conflict markers, for the agent to resolve.
        conflicts: Vec<String>,
    },
    /// The merge conflicts in these files in a way text markers cannot show; nothing
    /// changed.
    Conflicts(Vec<String>),
    /// The worktree has these changes that are not on the task branch; nothing changed.
    Unclean(Vec<String>),
}

/// One side of a text merge.
fn merge_input(content: &[u8]) -> git2::MergeFileInput<'_> {
    let mut input = git2::MergeFileInput::new();
    input.content(content);
    input
}

/// Replaces each conflict of a merge's `index` by the file with git's conflict markers
/// (ours: the task branch, theirs: the base): the files so marked, or (as `Err`) the
/// conflicts that cannot be shown that way, when there are any (then `index` is left as it
/// was).
fn mark_conflicts(
    repo: &Repository,
    index: &mut git2::Index,
    ours_label: &str,
    theirs_label: &str,
) -> Result<Result<Vec<String>, Vec<String>>, WorktreeError> {
    if !index.has_conflicts() {
        return Ok(Ok(Vec::new()));
    }
    let blob = |entry: &Option<git2::IndexEntry>| -> Result<Option<Vec<u8>>, WorktreeError> {
        entry
            .as_ref()
            .map(|e| {
                repo.find_blob(e.id)
                    .map(|b| b.content().to_vec())
                    .map_err(git("read a conflicting file"))
            })
            .transpose()
    };
    let mut marked = Vec::new();
    let mut unmarkable = Vec::new();
    let conflicts: Vec<git2::IndexConflict> = index
        .conflicts()
        .map_err(git("list conflicts"))?
        .collect::<Result<_, _>>()
        .map_err(git("list conflicts"))?;
    for conflict in conflicts {
        let git2::IndexConflict {
            ancestor,
            our,
            their,
        } = conflict;
        let path = our
            .as_ref()
            .or(their.as_ref())
            .or(ancestor.as_ref())
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .unwrap_or_default();
        let regular = |e: &Option<git2::IndexEntry>| {
            e.as_ref()
                .is_some_and(|e| e.mode == 0o100644 || e.mode == 0o100755)
        };
        if !regular(&our) || !regular(&their) {
            unmarkable.push(path);
            continue;
        }
        let (base_text, ours, theirs) = (
            blob(&ancestor)?.unwrap_or_default(),
            blob(&our)?.unwrap_or_default(),
            blob(&their)?.unwrap_or_default(),
        );
        if [&base_text, &ours, &theirs].iter().any(|c| c.contains(&0)) {
            unmarkable.push(path);
            continue;
        }
        let mut options = git2::MergeFileOptions::new();
        options.our_label(ours_label).their_label(theirs_label);
        let merged = git2::merge_file(
            &merge_input(&base_text),
            &merge_input(&ours),
            &merge_input(&theirs),
            Some(&mut options),
        )
        .map_err(git("mark a conflict"))?;
        let Some(mut entry) = our else {
            unmarkable.push(path);
            continue;
        };
        entry.id = repo
            .blob(merged.content())
            .map_err(git("write a marked file"))?;
        entry.file_size = u32::try_from(merged.content().len()).unwrap_or(u32::MAX);
        // Stage 0: an ordinary entry, no longer a side of a conflict.
        entry.flags &= !0x3000;
        let file = {
            use std::os::unix::ffi::OsStrExt as _;
            PathBuf::from(std::ffi::OsStr::from_bytes(&entry.path))
        };
        index
            .conflict_remove(&file)
            .map_err(git("resolve a conflict"))?;
        index.add(&entry).map_err(git("stage a marked file"))?;
        marked.push(path);
    }
    if !unmarkable.is_empty() {
        return Ok(Err(unmarkable));
    }
    marked.sort();
    Ok(Ok(marked))
}

/// Removes every symbolic link in the worktree at `root` that stands where `tree` has a
/// directory or a file that is not itself a link: a checkout of `tree` (libgit2's, forced)
/// would write through it, outside the worktree. A run in the worktree (the setup, the
/// tests, the agent's code) may have put it there. Returns their paths; unlinking a link
/// never touches what it points to.
fn unlink_links_in_the_way(
    root: &Path,
    tree: &git2::Tree<'_>,
) -> Result<Vec<String>, WorktreeError> {
    let mut unlinked = Vec::new();
    let mut failed = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        use std::os::unix::ffi::OsStrExt as _;
        let name = std::ffi::OsStr::from_bytes(entry.name_bytes());
        let relative = Path::new(dir).join(name);
        let path = root.join(&relative);
        let is_dir = entry.kind() == Some(git2::ObjectType::Tree);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() && entry.filemode() != 0o120000 => {
                if let Err(source) = std::fs::remove_file(&path) {
                    failed = Some(WorktreeError::Copy { path, source });
                    return git2::TreeWalkResult::Abort;
                }
                unlinked.push(relative.display().to_string());
                // Nothing is below a link: the checkout makes the directory afresh.
                git2::TreeWalkResult::Skip
            }
            Ok(meta) if is_dir && !meta.is_dir() => git2::TreeWalkResult::Skip,
            Ok(_) => git2::TreeWalkResult::Ok,
            // Not there: nothing below it can be in the way.
            Err(_) => git2::TreeWalkResult::Skip,
        }
    })
    .or_else(|err| match failed.is_some() {
        true => Ok(()),
        false => Err(err),
    })
    .map_err(git("look for links in the worktree"))?;
    match failed {
        Some(err) => Err(err),
        None => Ok(unlinked),
    }
}

/// The tracked files the working directory of `repo` changed, deleted or replaced
/// (relative, sorted).
fn tracked_changes(repo: &Repository) -> Result<Vec<String>, WorktreeError> {
    paths_where(repo, false, |status| {
        status.intersects(
            git2::Status::WT_MODIFIED
                | git2::Status::WT_DELETED
                | git2::Status::WT_TYPECHANGE
                | git2::Status::WT_RENAMED,
        )
    })
}

/// The paths of the working directory of `repo` whose status `keep` accepts (with
/// `untracked`, untracked files are listed one by one; ignored ones never), sorted.
fn paths_where(
    repo: &Repository,
    untracked: bool,
    keep: impl Fn(git2::Status) -> bool,
) -> Result<Vec<String>, WorktreeError> {
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(untracked)
        .recurse_untracked_dirs(untracked)
        .include_ignored(false);
    let statuses = repo
        .statuses(Some(&mut options))
        .map_err(git("list changed files"))?;
    let mut files: Vec<String> = statuses
        .iter()
        .filter(|entry| keep(entry.status()))
        .filter_map(|entry| entry.path().ok().map(|path| path.to_string()))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with_commit(dir: &Path) -> Repository {
        let repo = Repository::init(dir).unwrap();
        fs_err::write(dir.join("a.txt"), "one\n").unwrap();
        fs_err::write(dir.join(".gitignore"), "target/\n").unwrap();
        fs_err::write(dir.join(".env"), "SECRET=1\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("a.txt")).unwrap();
        index.add_path(Path::new(".gitignore")).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
            .unwrap();
        drop(tree);
        repo
    }

    #[test]
    fn create_commit_remove() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("repo");
        fs_err::create_dir_all(&root).unwrap();
        let repo = repo_with_commit(&root);
        let head_before = repo.head().unwrap().target().unwrap();

        let base = resolve_base(&root, None).unwrap();
        assert!(base.branch.is_some());
        let path = temp.path().join("state/worktrees/t1");
        let (wt, missing) = TaskWorktree::create(
            &root,
            "t1",
            &base,
            &path,
            &[PathBuf::from(".env"), PathBuf::from("nope.txt")],
        )
        .unwrap();
        assert_eq!(missing, vec![PathBuf::from("nope.txt")]);
        assert_eq!(
            fs_err::read_to_string(path.join(".env")).unwrap(),
            "SECRET=1\n"
        );
        assert_eq!(fs_err::read_to_string(path.join("a.txt")).unwrap(), "one\n");

        // Nothing changed yet (the copied .env is untracked and would be committed, so
        // ignore it for this check by removing it).
        fs_err::remove_file(path.join(".env")).unwrap();
        assert_eq!(wt.commit_all("nothing", &[]).unwrap(), None);

        fs_err::write(path.join("a.txt"), "two\n").unwrap();
        fs_err::write(path.join("b.txt"), "new\n").unwrap();
        fs_err::create_dir_all(path.join("target")).unwrap();
        fs_err::write(path.join("target/out"), "build output\n").unwrap();
        let commit = wt
            .commit_all("Change a", &[("Agenthost-Task", "t1")])
            .unwrap()
            .expect("a commit");
        let commit = repo
            .find_commit(git2::Oid::from_str(&commit).unwrap())
            .unwrap();
        assert_eq!(
            commit.message().unwrap(),
            "Change a\n\nAgenthost-Task: t1\n"
        );
        let tree = commit.tree().unwrap();
        assert!(tree.get_path(Path::new("b.txt")).is_ok());
        assert!(
            tree.get_path(Path::new("target/out")).is_err(),
            "ignored files stay out"
        );

        // The user's checkout is untouched.
        assert_eq!(repo.head().unwrap().target().unwrap(), head_before);
        assert_eq!(fs_err::read_to_string(root.join("a.txt")).unwrap(), "one\n");

        // A second task of the same name is refused.
        assert!(matches!(
            TaskWorktree::create(&root, "t1", &base, &temp.path().join("other"), &[]),
            Err(WorktreeError::Exists { .. })
        ));

        wt.remove().unwrap();
        assert!(!path.exists());
        assert!(repo.find_branch("agenthost/t1", BranchType::Local).is_err());
        assert!(repo.find_worktree("t1").is_err());
    }

    #[test]
    fn detached_at_another_commit_and_back_on_the_branch() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("repo");
        fs_err::create_dir_all(&root).unwrap();
        let repo = repo_with_commit(&root);
        let base = resolve_base(&root, None).unwrap();
        let path = temp.path().join("state/worktrees/t1");
        let (wt, _) = TaskWorktree::create(&root, "t1", &base, &path, &[]).unwrap();
        fs_err::write(path.join("a.txt"), "task\n").unwrap();
        let task_head = wt.commit_all("task", &[]).unwrap().unwrap();
        assert_eq!(wt.changed_files().unwrap(), Vec::<String>::new());

        // Another commit (the merged change): a file of its own, a.txt as it has it.
        let other = {
            let mut builder = repo
                .treebuilder(Some(&repo.head().unwrap().peel_to_tree().unwrap()))
                .unwrap();
            builder
                .insert("only-there.txt", repo.blob(b"x\n").unwrap(), 0o100644)
                .unwrap();
            builder
                .insert("a.txt", repo.blob(b"merged\n").unwrap(), 0o100644)
                .unwrap();
            let tree = repo.find_tree(builder.write().unwrap()).unwrap();
            let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
            let parent = repo.head().unwrap().peel_to_commit().unwrap();
            repo.commit(None, &sig, &sig, "merged", &tree, &[&parent])
                .unwrap()
        };
        wt.detach_at(&other.to_string()).unwrap();
        assert!(wt.open().unwrap().head_detached().unwrap());
        assert_eq!(
            fs_err::read_to_string(path.join("a.txt")).unwrap(),
            "merged\n"
        );
        assert!(path.join("only-there.txt").exists());

        // A run there changes a tracked file; back on the branch, all is as the branch has it.
        fs_err::write(path.join("a.txt"), "scribbled\n").unwrap();
        assert_eq!(wt.changed_files().unwrap(), vec!["a.txt".to_string()]);
        wt.back_on_branch().unwrap();
        assert!(!wt.open().unwrap().head_detached().unwrap());
        assert_eq!(
            fs_err::read_to_string(path.join("a.txt")).unwrap(),
            "task\n"
        );
        assert!(
            !path.join("only-there.txt").exists(),
            "tracked only there: removed"
        );
        assert_eq!(wt.changed_files().unwrap(), Vec::<String>::new());
        let branch = repo.find_branch("agenthost/t1", BranchType::Local).unwrap();
        assert_eq!(branch.get().target().unwrap().to_string(), task_head);
    }

    #[test]
    fn a_checkout_never_writes_through_a_link_a_run_left() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("repo");
        fs_err::create_dir_all(&root).unwrap();
        let repo = repo_with_commit(&root);
        let outside = temp.path().join("outside");
        fs_err::create_dir_all(&outside).unwrap();
        let base = resolve_base(&root, None).unwrap();
        let path = temp.path().join("state/worktrees/t1");
        let (wt, _) = TaskWorktree::create(&root, "t1", &base, &path, &[]).unwrap();
        // A commit with `target/x` (a directory the worktree ignores) and a tracked link.
        let other = {
            let head = repo.head().unwrap().peel_to_tree().unwrap();
            let mut sub = repo.treebuilder(None).unwrap();
            sub.insert("x", repo.blob(b"x\n").unwrap(), 0o100644)
                .unwrap();
            let sub = sub.write().unwrap();
            let mut builder = repo.treebuilder(Some(&head)).unwrap();
            builder.insert("target", sub, 0o040000).unwrap();
            builder
                .insert("link", repo.blob(b"a.txt").unwrap(), 0o120000)
                .unwrap();
            let tree = repo.find_tree(builder.write().unwrap()).unwrap();
            let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
            let parent = repo.head().unwrap().peel_to_commit().unwrap();
            repo.commit(None, &sig, &sig, "other", &tree, &[&parent])
                .unwrap()
        };
        // A run left `target` (ignored: the status is clean) and `a.txt` as links outside.
        std::os::unix::fs::symlink(&outside, path.join("target")).unwrap();
        fs_err::remove_file(path.join("a.txt")).unwrap();
        std::os::unix::fs::symlink(outside.join("a.txt"), path.join("a.txt")).unwrap();
        wt.detach_at(&other.to_string()).unwrap();
        assert_eq!(
            fs_err::read_dir(&outside).unwrap().count(),
            0,
            "wrote outside"
        );
        assert_eq!(
            fs_err::read_to_string(path.join("target/x")).unwrap(),
            "x\n"
        );
        assert!(!path.join("a.txt").is_symlink());
        assert!(
            path.join("link").is_symlink(),
            "a tracked link is checked out as one"
        );

        // Back on the branch, the same.
        fs_err::remove_file(path.join("a.txt")).unwrap();
        std::os::unix::fs::symlink(outside.join("a.txt"), path.join("a.txt")).unwrap();
        wt.back_on_branch().unwrap();
        assert_eq!(
            fs_err::read_dir(&outside).unwrap().count(),
            0,
            "wrote outside"
        );
        assert_eq!(fs_err::read_to_string(path.join("a.txt")).unwrap(), "one\n");
        // And when putting back the tracked files a run changed.
        fs_err::remove_file(path.join("a.txt")).unwrap();
        std::os::unix::fs::symlink(outside.join("a.txt"), path.join("a.txt")).unwrap();
        assert_eq!(wt.restore_tracked().unwrap(), vec!["a.txt".to_string()]);
        assert_eq!(
            fs_err::read_dir(&outside).unwrap().count(),
            0,
            "wrote outside"
        );
        assert_eq!(fs_err::read_to_string(path.join("a.txt")).unwrap(), "one\n");
    }

    #[test]
    fn the_base_merged_in_or_left_alone_on_a_conflict() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("repo");
        fs_err::create_dir_all(&root).unwrap();
        let repo = repo_with_commit(&root);
        let base = resolve_base(&root, None).unwrap();
        let branch = base.branch.clone().unwrap();
        let path = temp.path().join("state/worktrees/t1");
        let (wt, _) = TaskWorktree::create(&root, "t1", &base, &path, &[]).unwrap();
        fs_err::write(path.join("a.txt"), "task\n").unwrap();
        let task_head = wt.commit_all("task", &[]).unwrap().unwrap();
        assert_eq!(wt.merge_in(&branch).unwrap(), MergedIn::UpToDate);

        // The base gains a file: merged in, the worktree has it, the task's change stays.
        let commit_on_base = |name: &str, text: &str| {
            let parent = repo.head().unwrap().peel_to_commit().unwrap();
            let mut builder = repo.treebuilder(Some(&parent.tree().unwrap())).unwrap();
            builder
                .insert(name, repo.blob(text.as_bytes()).unwrap(), 0o100644)
                .unwrap();
            let tree = repo.find_tree(builder.write().unwrap()).unwrap();
            let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
            repo.commit(Some("HEAD"), &sig, &sig, name, &tree, &[&parent])
                .unwrap()
        };
        let new_base = commit_on_base("b.txt", "base\n");
        assert_eq!(
            wt.merge_in(&branch).unwrap(),
            MergedIn::Merged {
                base_head: new_base.to_string(),
                commits: 1,
                conflicts: Vec::new()
            }
        );
        assert_eq!(
            fs_err::read_to_string(path.join("b.txt")).unwrap(),
            "base\n"
        );
        assert_eq!(
            fs_err::read_to_string(path.join("a.txt")).unwrap(),
            "task\n"
        );
        let head = repo
            .find_branch("agenthost/t1", BranchType::Local)
            .unwrap()
            .get()
            .peel_to_commit()
            .unwrap();
        assert_eq!(head.parent_count(), 2);
        assert_eq!(head.parent_id(0).unwrap().to_string(), task_head);
        assert_eq!(wt.changed_files().unwrap(), Vec::<String>::new());

        // The base deletes the file the task changed: no text can show that; nothing moves.
        let delete_on_base = || {
            let parent = repo.head().unwrap().peel_to_commit().unwrap();
            let mut builder = repo.treebuilder(Some(&parent.tree().unwrap())).unwrap();
            builder.remove("a.txt").unwrap();
            let tree = repo.find_tree(builder.write().unwrap()).unwrap();
            let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
            repo.commit(Some("HEAD"), &sig, &sig, "delete", &tree, &[&parent])
                .unwrap()
        };
        let deleted = delete_on_base();
        assert_eq!(
            wt.merge_in(&branch).unwrap(),
            MergedIn::Conflicts(vec!["a.txt".into()])
        );
        let branch_head = || {
            repo.find_branch("agenthost/t1", BranchType::Local)
                .unwrap()
                .get()
                .target()
                .unwrap()
        };
        assert_eq!(branch_head(), head.id());
        assert_eq!(
            fs_err::read_to_string(path.join("a.txt")).unwrap(),
            "task\n"
        );

        // The base brings a.txt back with other text in the same line: merged, with the
        // conflict marked in the file for the agent.
        let again = commit_on_base("a.txt", "base again\n");
        assert_ne!(again, deleted);
        assert_eq!(
            wt.merge_in(&branch).unwrap(),
            MergedIn::Merged {
                base_head: again.to_string(),
                commits: 2,
                conflicts: vec!["a.txt".into()]
            }
        );
        assert_ne!(branch_head(), head.id());
        assert_eq!(
            fs_err::read_to_string(path.join("a.txt")).unwrap(),
            "<<<<<<< agenthost/t1\ntask\n=======\nbase again\n>>>>>>> master\n"
                .replace("master", &branch)
        );
        assert_eq!(wt.changed_files().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn replaced_git_pointer_is_not_trusted() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("repo");
        fs_err::create_dir_all(&root).unwrap();
        let repo = repo_with_commit(&root);
        let decoy = temp.path().join("decoy");
        fs_err::create_dir_all(&decoy).unwrap();
        let decoy_repo = repo_with_commit(&decoy);
        let decoy_head = decoy_repo.head().unwrap().target().unwrap();

        let base = resolve_base(&root, None).unwrap();
        let path = temp.path().join("wt");
        let (wt, _) = TaskWorktree::create(&root, "t2", &base, &path, &[]).unwrap();
        // The "agent" points the worktree's .git file at another repository.
        fs_err::write(
            path.join(".git"),
            format!("gitdir: {}\n", decoy.join(".git").display()),
        )
        .unwrap();
        fs_err::write(path.join("a.txt"), "changed\n").unwrap();
        let commit = wt.commit_all("Change", &[]).unwrap().expect("a commit");
        // The commit landed on the task branch of the real repository, not in the decoy.
        let branch = repo.find_branch("agenthost/t2", BranchType::Local).unwrap();
        assert_eq!(branch.get().target().unwrap().to_string(), commit);
        assert_eq!(decoy_repo.head().unwrap().target().unwrap(), decoy_head);
    }

    #[test]
    fn unknown_base_is_an_error() {
        let temp = tempfile::tempdir().unwrap();
        repo_with_commit(temp.path());
        assert!(matches!(
            resolve_base(temp.path(), Some("no-such-branch")),
            Err(WorktreeError::UnknownBase { .. })
        ));
        let empty = tempfile::tempdir().unwrap();
        Repository::init(empty.path()).unwrap();
        assert!(matches!(
            resolve_base(empty.path(), None),
            Err(WorktreeError::NoCommits { .. })
        ));
    }
}

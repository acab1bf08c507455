//! What stays read-only under the write grants: the mount layer's writable regions and
//! protected paths (`.git`, Do NOT modify, submodules' `.git` files), and the check that no
//! grant makes `.git` writable.

use super::*;

/// How many paths one Do NOT modify entry makes read-only at most: each is a mount, made at
/// every start-up; a glob matching more is left to the review past this.
pub(super) const MAX_PROTECTED_PER_ENTRY: usize = 200;

impl Builder<'_> {
    /// Do NOT modify: enforced by Landlock when no write rule covers it (nothing there is
    /// writable); under a write grant, by the mount layer's read-only bind mounts on each
    /// existing path it names (a directory, a file, or each file a glob matches), and always
    /// by the review's scope check (which also catches new files matching a glob).
    pub(super) fn do_not_modify(&mut self, ignored: Option<&IgnoreRules>) {
        let root = self.root().to_path_buf();
        let view = self.input.sandbox.read_only_view;
        let mut files: Option<Vec<String>> = None;
        let mut notes = Vec::new();
        let input = self.input;
        for entry in &input.spec.scope.do_not_modify {
            let at = format!("{}:{}", input.spec_name, entry.line);
            let written = &entry.written;
            let literal = literal_prefix_or_all(&entry.pattern);
            let path = root.join(&literal);
            let grant = self
                .writes()
                .find(|r| {
                    (r.target == Target::Tree
                        && (path.starts_with(&r.path)
                            || (entry.is_glob && r.path.starts_with(&path))))
                        || (r.target == Target::File
                            && (r.path == path || (entry.is_glob && r.path.starts_with(&path))))
                })
                .map(|rule| format!("{} ({})", rule.path.display(), rule.provenance.source));
            if !view {
                notes.push(match grant {
                    None => format!(
                        "{at}: Do NOT modify `{written}`: enforced by the kernel (no write rule covers it)"
                    ),
                    Some(grant) => format!(
                        "{at}: Do NOT modify `{written}` is not enforced by the kernel: it overlaps the write grant on {grant}, and the mount layer is off (`[sandbox] read_only_view = false`); the review's scope check blocks changes to it"
                    ),
                });
                continue;
            }
            // Under a grant the mount layer keeps the content; elsewhere Landlock does, and
            // the mount layer the metadata (the worktree is one writable region).
            let mut skipped = Vec::new();
            let protected = self.protect(entry, &root, ignored, &mut files, &mut skipped);
            let paths = if protected == 1 { "path" } else { "paths" };
            let mut note = match grant {
                None => format!(
                    "{at}: Do NOT modify `{written}`: enforced by the kernel (no write rule covers it; the mount layer keeps the metadata of its {protected} existing {paths} too)"
                ),
                Some(grant) if protected == 0 => format!(
                    "{at}: Do NOT modify `{written}` overlaps the write grant on {grant} and is not enforced by the kernel: the review's scope check blocks changes to it"
                ),
                Some(grant) => format!(
                    "{at}: Do NOT modify `{written}` overlaps the write grant on {grant}: the mount layer makes {protected} existing {paths} read-only (writes, renames over, unlinks and chmod fail); the review's scope check blocks the rest, such as new files"
                ),
            };
            if !skipped.is_empty() {
                note.push_str(&format!("; not read-only: {}", skipped.join(", ")));
            }
            notes.push(note);
        }
        self.notes.extend(notes);
    }

    /// The mount layer's writable set: the worktree as one region when any write grant lies
    /// in it, and every write grant outside it. One region, so that files move between the
    /// worktree's granted directories as Landlock allows (separate mounts would answer
    /// `EXDEV`), and so that a write Landlock refuses there stays `EACCES`, which tools fall
    /// back on (Claude Code writes a root-level file in place when it cannot create its temp
    /// file beside it; `EROFS` would end the edit). The worktree's `.git` and its Do NOT
    /// modify paths are read-only on top.
    pub(super) fn writable_regions(&mut self) -> Vec<PathBuf> {
        let root = self.root().to_path_buf();
        // Devices (`/dev/null`) stay writable on a read-only mount: no region of their own.
        let mut paths: Vec<PathBuf> = self
            .writes()
            .filter(|rule| {
                !rule.path.starts_with(&root) && !rule.rights.contains(&FsRight::IoctlDev)
            })
            .map(|rule| rule.path.clone())
            .collect();
        if self.writes().any(|rule| rule.path.starts_with(&root)) {
            paths.push(root.clone());
            let git = root.join(".git");
            if self.input.sandbox.read_only_view && std::fs::symlink_metadata(&git).is_ok() {
                self.protected.insert(
                    0,
                    ProtectedPath {
                        path: git,
                        provenance: Provenance::new(
                            "worktree",
                            "`.git` names the git dir, whose hooks and config run outside the sandbox",
                        ),
                    },
                );
            }
        }
        // Not filtered by existence: a profile's `write` directory is made only when the
        // disk is prepared, after the plan (`Restriction::prepare` skips what is missing).
        agenthost_sandbox::plan::without_nested(paths)
    }

    /// Makes every existing path `entry` names read-only in the mount layer (a directory, a
    /// file, or each file a glob matches, at most [`MAX_PROTECTED_PER_ENTRY`]); `files` is
    /// the worktree's file list, read on first need. A path with a write grant on or inside
    /// it is left out and named in `skipped`. Returns how many paths it protects.
    pub(super) fn protect(
        &mut self,
        entry: &ScopeEntry,
        root: &Path,
        ignored: Option<&IgnoreRules>,
        files: &mut Option<Vec<String>>,
        skipped: &mut Vec<String>,
    ) -> usize {
        let at = format!("{}:{}", self.input.spec_name, entry.line);
        let targets: Vec<PathBuf> = if !entry.is_glob {
            vec![root.join(&entry.pattern)]
        } else if let Some(dir) = dir_pattern(&entry.pattern) {
            vec![root.join(dir)]
        } else {
            let files = files.get_or_insert_with(|| worktree_files(root, ignored));
            let matcher = entry.scope_path().matcher();
            files
                .iter()
                .filter(|f| matcher.is_match(f))
                .map(|f| root.join(f))
                .collect()
        };
        let mut protected = 0usize;
        for target in targets {
            if std::fs::symlink_metadata(&target).is_err() {
                continue;
            }
            let resolved = self.resolve(&target);
            if !resolved.starts_with(root) || resolved == root {
                continue;
            }
            // A grant on or inside it would be hidden under the read-only mount: the Scope
            // asks for both, so the grant wins and the review judges.
            if let Some(inner) = self.writes().find(|r| r.path.starts_with(&resolved)) {
                skipped.push(format!(
                    "`{}` (the grant on {} lies inside it)",
                    relative(root, &resolved),
                    relative(root, &inner.path)
                ));
                continue;
            }
            if protected == MAX_PROTECTED_PER_ENTRY {
                skipped.push(format!(
                    "every match after the first {MAX_PROTECTED_PER_ENTRY}"
                ));
                break;
            }
            protected += 1;
            self.protected.push(ProtectedPath {
                path: resolved,
                provenance: Provenance::new(
                    at.clone(),
                    format!("Do NOT modify `{}`", entry.written),
                ),
            });
        }
        protected
    }

    /// A submodule's `.git` file under a write grant names the git dir that git (the host's
    /// included) uses for it: replaced, it could point at one the agent wrote, whose hooks and
    /// config run later. The mount layer keeps each such file read-only.
    pub(super) fn submodule_git_files(&mut self) {
        if !self.input.sandbox.read_only_view {
            return;
        }
        let root = self.root().to_path_buf();
        let Ok(modules) = std::fs::read_to_string(root.join(".gitmodules")) else {
            return;
        };
        for line in modules.lines() {
            let Some(("path", value)) = line.split_once('=').map(|(k, v)| (k.trim(), v.trim()))
            else {
                continue;
            };
            let git = root.join(value).join(".git");
            if std::fs::symlink_metadata(&git).is_err()
                || !self
                    .writes()
                    .any(|r| r.target == Target::Tree && git.starts_with(&r.path))
            {
                continue;
            }
            self.protected.push(ProtectedPath {
                path: git,
                provenance: Provenance::new(
                    ".gitmodules",
                    format!("submodule `{value}`: its `.git` names the git dir git uses for it"),
                ),
            });
        }
    }

    /// Refuses a plan in which `.git` would be writable.
    pub(super) fn check_git(&self) -> Result<(), PlanError> {
        let root = self.root();
        // The setup and test runs write the whole worktree: the mount layer keeps its `.git`
        // read-only (`whole_worktree` refuses a plan without it); the git dirs stay checked.
        let mut protected: Vec<(&'static str, PathBuf)> = match self.input.purpose {
            Purpose::Agent => vec![
                ("the worktree root", root.to_path_buf()),
                ("the worktree's .git", root.join(".git")),
            ],
            _ => Vec::new(),
        };
        let names = ["the git dir", "the common git dir"];
        for (what, dir) in names.into_iter().zip(&self.git_dirs) {
            // Inside the worktree's own `.git` (a checkout, not a linked worktree), the mount
            // layer's read-only `.git` covers it for the whole-worktree runs.
            if !matches!(self.input.purpose, Purpose::Agent) && dir.starts_with(root.join(".git")) {
                continue;
            }
            protected.push((what, dir.clone()));
        }
        for (what, path) in protected {
            for rule in self.writes() {
                // A tree rule covers everything beneath it; anything on or inside `.git`
                // (or a git dir) is refused, but the root itself only as a tree.
                let inside = path != root && rule.path.starts_with(&path);
                let covers = match rule.target {
                    Target::Tree => path.starts_with(&rule.path) || inside,
                    Target::File => inside,
                };
                if covers {
                    return Err(PlanError::GitWritable {
                        what,
                        path,
                        provenance: rule.provenance.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

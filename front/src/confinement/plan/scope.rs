//! Writes from the Scope: Modify and Create files, their save directories, Scope
//! directories, and the directories the host makes for them.

use super::*;

/// How many files after the first a save-rights rule's provenance names (`--explain`); the
/// rest are counted ("and 97 more").
pub(super) const SAVE_DIR_REASONS_LISTED: usize = 3;

/// `dir/**` → `dir`; `**` → `` (the root).
pub(super) fn dir_pattern(pattern: &str) -> Option<&str> {
    if pattern == "**" {
        return Some("");
    }
    let dir = pattern.strip_suffix("/**")?;
    (!dir.contains(['*', '?', '[', '{'])).then_some(dir)
}

pub(super) fn is_dir_pattern(pattern: &str) -> bool {
    dir_pattern(pattern).is_some()
}

/// The directories of a glob before its first glob character: `src/**/*.py` → `src`.
pub(super) fn literal_prefix(pattern: &str) -> String {
    let mut parts = Vec::new();
    for part in pattern.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            break;
        }
        parts.push(part);
    }
    if parts.len() == pattern.split('/').count() {
        parts.pop();
    }
    parts.join("/")
}

pub(super) fn literal_prefix_or_all(pattern: &str) -> String {
    if pattern.contains(['*', '?', '[', '{']) {
        literal_prefix(pattern)
    } else {
        pattern.to_string()
    }
}

/// Files in the worktree, repository-relative; `.git` and the directories `ignored` names
/// are not entered (a file git tracks inside an ignored directory is not listed either:
/// the Scope can name it literally).
pub(super) fn worktree_files(root: &Path, ignored: Option<&IgnoreRules>) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if kind.is_dir() {
                // Its parents were walked, so they are not ignored: ask about it alone.
                if !ignored.is_some_and(|rules| rules.ignores_entry(&rel, true)) {
                    stack.push(path);
                }
            } else if kind.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

impl Builder<'_> {
    /// Writes from the Scope. `ignored` (the repository's ignore rules) keeps Modify globs out of
    /// ignored directories: what changes there never reaches the diff, and a build
    /// directory can hold more files than the rest of the worktree.
    pub(super) fn scope(&mut self, ignored: Option<&IgnoreRules>) -> Result<(), PlanError> {
        let spec = self.input.spec;
        let files = if spec
            .scope
            .modify
            .iter()
            .any(|e| e.is_glob && !is_dir_pattern(&e.pattern))
        {
            worktree_files(self.root(), ignored)
        } else {
            Vec::new()
        };
        for entry in &spec.scope.modify {
            let why = self.at_line(entry);
            if let Some(dir) = dir_pattern(&entry.pattern) {
                self.dir_grant(entry, dir, format!("Modify `{}`", entry.written))?;
            } else if entry.is_glob {
                let matcher = entry.scope_path().matcher();
                let matched: Vec<&String> = files.iter().filter(|f| matcher.is_match(f)).collect();
                if matched.is_empty() {
                    self.notes.push(format!(
                        "{why}: Modify `{}` matches no file in the worktree: nothing granted",
                        entry.written
                    ));
                }
                for file in matched {
                    self.modify_file(
                        file,
                        Provenance::new(
                            why.clone(),
                            format!("Modify `{}` matches `{file}`", entry.written),
                        ),
                    );
                }
            } else {
                let path = self.root().join(&entry.pattern);
                if path.is_file() {
                    self.modify_file(
                        &entry.pattern,
                        Provenance::new(why, format!("Modify `{}`", entry.written)),
                    );
                } else {
                    self.notes.push(format!(
                        "{why}: Modify `{}` does not exist yet: granted as if it were a Create",
                        entry.written
                    ));
                    self.create_file(
                        &entry.pattern,
                        Provenance::new(
                            why,
                            format!("Modify `{}` (missing, treated as Create)", entry.written),
                        ),
                    );
                }
            }
        }
        for entry in &spec.scope.create {
            let why = self.at_line(entry);
            if let Some(dir) = dir_pattern(&entry.pattern) {
                self.dir_grant(entry, dir, format!("Create `{}`", entry.written))?;
            } else if entry.is_glob {
                let prefix = literal_prefix(&entry.pattern);
                if prefix.is_empty() {
                    return Err(PlanError::RootGlob {
                        spec: self.input.spec_name.clone(),
                        line: entry.line,
                        written: entry.written.clone(),
                    });
                }
                let rest = &entry.pattern[prefix.len() + 1..];
                let dir = self.root().join(&prefix);
                self.ensure_scope_dir(&dir, format_args!("{why}: Create `{}`", entry.written));
                let (rights, reason) = if rest.contains('/') || rest.contains("**") {
                    (
                        rights::WRITE_TREE,
                        format!(
                            "Create `{}`: files may be created anywhere under `{prefix}/`",
                            entry.written
                        ),
                    )
                } else {
                    (
                        rights::SAVE_IN_DIR,
                        format!(
                            "Create `{}`: creating files needs rights on `{prefix}/` (per directory; review checks each file)",
                            entry.written
                        ),
                    )
                };
                self.save_dir_rule(dir, rights, Provenance::new(why, reason));
            } else {
                self.create_file(
                    &entry.pattern,
                    Provenance::new(why, format!("Create `{}`", entry.written)),
                );
            }
        }
        self.count_unlisted_saves();
        self.do_not_modify(ignored);
        self.submodule_git_files();
        Ok(())
    }

    pub(super) fn dir_grant(
        &mut self,
        entry: &ScopeEntry,
        dir: &str,
        reason: String,
    ) -> Result<(), PlanError> {
        if dir.is_empty() {
            return Err(PlanError::RootGlob {
                spec: self.input.spec_name.clone(),
                line: entry.line,
                written: entry.written.clone(),
            });
        }
        let path = self.root().join(dir);
        let why = Provenance::new(
            self.at_line(entry),
            format!("{reason}: the whole directory"),
        );
        self.ensure_scope_dir(&path, &why);
        self.rule(path, Target::Tree, rights::WRITE_TREE, why);
        Ok(())
    }

    pub(super) fn modify_file(&mut self, relative: &str, why: Provenance) {
        let path = self.root().join(relative);
        self.rule(path.clone(), Target::File, rights::EDIT_FILE, why.clone());
        self.save_rights_on_parent(&path, relative, why);
    }

    pub(super) fn create_file(&mut self, relative: &str, why: Provenance) {
        let path = self.root().join(relative);
        let parent = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root().to_path_buf());
        if parent == self.root() {
            if !path.exists() {
                self.touch.push(path.clone());
            }
            let reason = format!(
                "{}: at the worktree root, so pre-created empty with file-level rights only (a directory grant at the root would make `.git` replaceable)",
                why.reason
            );
            self.rule(
                path,
                Target::File,
                rights::EDIT_FILE,
                Provenance::new(why.source, reason),
            );
            return;
        }
        self.ensure_scope_dir(&parent, &why);
        if path.is_file() {
            self.rule(path.clone(), Target::File, rights::EDIT_FILE, why.clone());
        }
        self.save_rights_on_parent(&path, relative, why);
    }

    pub(super) fn save_rights_on_parent(&mut self, path: &Path, relative: &str, why: Provenance) {
        let Some(parent) = path.parent() else { return };
        if parent == self.root() {
            self.notes.push(format!(
                "{}: `{relative}` is at the worktree root: in-place writes only, no atomic-rename saves (a directory grant at the root would make `.git` replaceable)",
                why.source
            ));
            return;
        }
        let dir = parent
            .strip_prefix(self.root())
            .unwrap_or(parent)
            .display()
            .to_string();
        let reason = format!(
            "{}: creating or replacing `{relative}` (atomic-rename saves) needs rights on `{dir}/`, so every file beneath `{dir}/` may be created, rewritten or deleted; the review's scope check is per file",
            why.reason
        );
        if let Some(seen) = self.save_dirs.get_mut(parent) {
            let provenance = &mut self.rules[seen.rule].provenance;
            if !provenance.source.split(", ").any(|s| s == why.source) {
                provenance.source.push_str(", ");
                provenance.source.push_str(&why.source);
            }
            if seen.listed < SAVE_DIR_REASONS_LISTED {
                seen.listed += 1;
                provenance.reason.push_str("; also ");
                provenance.reason.push_str(&why.reason);
            } else {
                seen.unlisted += 1;
            }
            return;
        }
        self.save_dir_rule(
            parent.to_path_buf(),
            rights::SAVE_IN_DIR,
            Provenance::new(why.source, reason),
        );
    }

    /// Adds a tree rule on `dir` and, when it gives exactly the save rights, remembers it
    /// for the files saved in `dir` later.
    pub(super) fn save_dir_rule(&mut self, dir: PathBuf, rights: &[FsRight], why: Provenance) {
        let index = self.rules.len();
        self.rule(dir.clone(), Target::Tree, rights, why);
        if rights == rights::SAVE_IN_DIR && self.rules.len() > index {
            self.save_dirs.insert(
                dir,
                SaveDir {
                    rule: index,
                    listed: 0,
                    unlisted: 0,
                },
            );
        }
    }

    /// Ends each save-rights rule's provenance with the number of files it did not name.
    pub(super) fn count_unlisted_saves(&mut self) {
        for seen in self.save_dirs.values() {
            if seen.unlisted > 0 {
                let more = seen.unlisted;
                let files = if more == 1 { "file" } else { "files" };
                self.rules[seen.rule]
                    .provenance
                    .reason
                    .push_str(&format!("; and {more} more {files}"));
            }
        }
    }

    /// Records the missing directories of `dir` for the host to create. A symlink on the way
    /// whose target is missing is returned instead: creating the directory would fail on it
    /// (and agenthost never creates through a link).
    pub(super) fn ensure_dir(&mut self, dir: &Path) -> Result<(), DanglingLink> {
        let mut missing = Vec::new();
        let mut cur = dir;
        while !cur.exists() && cur.starts_with(self.root()) && cur != self.root() {
            if let Ok(target) = std::fs::read_link(cur) {
                return Err(DanglingLink {
                    link: cur.to_path_buf(),
                    target,
                });
            }
            missing.push(cur.to_path_buf());
            match cur.parent() {
                Some(p) => cur = p,
                None => break,
            }
        }
        for d in missing.into_iter().rev() {
            if !self.mkdirs.contains(&d) {
                self.mkdirs.push(d);
            }
        }
        Ok(())
    }

    /// [`Builder::ensure_dir`] for a Scope rule: a dangling symlink is a plan error naming
    /// `provenance` (formatted only then).
    pub(super) fn ensure_scope_dir(&mut self, dir: &Path, provenance: impl std::fmt::Display) {
        if let Err(dangling) = self.ensure_dir(dir) {
            self.errors.push(PlanError::DanglingSymlink {
                link: dangling.link,
                target: dangling.target,
                provenance: provenance.to_string(),
            });
        }
    }
}

//! Checks a spec's Scope against a real repository: every Modify entry must name files that
//! exist, Create entries should not, and a Modify glob must leave something not denied.
//!
//! For a git repository, files are its tracked files (its index) plus untracked files that
//! are not ignored, which the host lists with git2 (this crate links no libgit2). For a
//! plain directory, every file below it. `.git` is never part of the list.

use std::collections::BTreeSet;
use std::path::Path;

use super::problem::SpecProblem;
use super::scope::Scope;
use crate::suggest::nearest;

/// The files of a repository's working tree, as `/`-separated paths relative to its root.
#[derive(Debug, Clone, Default)]
pub struct RepoFiles {
    files: BTreeSet<String>,
}

impl RepoFiles {
    /// Lists every file under `root`, for a directory that is not a git repository's root.
    /// `.git` directories are skipped; symlinks are listed, not followed.
    pub fn walk(root: &Path) -> std::io::Result<RepoFiles> {
        let mut files = BTreeSet::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs_err::read_dir(&dir)? {
                let entry = entry?;
                let path = entry.path();
                if entry.file_name() == ".git" {
                    continue;
                }
                if entry.file_type()?.is_dir() {
                    pending.push(path);
                } else if let Ok(relative) = path.strip_prefix(root) {
                    let parts: Vec<String> = relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    files.insert(parts.join("/"));
                }
            }
        }
        Ok(RepoFiles { files })
    }

    /// A list made from explicit paths (the caller has listed them, for example from git's
    /// index: the host's `repo_files::list`).
    pub fn from_paths<I, S>(paths: I) -> RepoFiles
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RepoFiles {
            files: paths.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether the repository has this exact file.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    /// All files, sorted.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(String::as_str)
    }
}

/// Checks `scope` against `files`.
pub fn check(scope: &Scope, files: &RepoFiles) -> Vec<SpecProblem> {
    let mut problems = Vec::new();
    let denies: Vec<_> = scope
        .do_not_modify
        .iter()
        .map(|d| d.scope_path().matcher())
        .collect();
    for entry in &scope.modify {
        let matcher = entry.scope_path().matcher();
        let matched: Vec<&str> = if entry.is_glob {
            files.iter().filter(|f| matcher.is_match(f)).collect()
        } else if files.contains(&entry.pattern) {
            vec![entry.pattern.as_str()]
        } else {
            Vec::new()
        };
        if matched.is_empty() {
            problems.push(SpecProblem::ModifyMatchesNothing {
                path: entry.written.clone(),
                help: missing_help(&entry.pattern, entry.is_glob, files),
                span: entry.span.clone().into(),
            });
        } else if entry.is_glob && matched.iter().all(|f| denies.iter().any(|d| d.is_match(f))) {
            problems.push(SpecProblem::ModifyAllDenied {
                path: entry.written.clone(),
                span: entry.span.clone().into(),
            });
        }
    }
    for entry in &scope.create {
        if !entry.is_glob && files.contains(&entry.pattern) {
            problems.push(SpecProblem::CreateExists {
                path: entry.written.clone(),
                span: entry.span.clone().into(),
            });
        }
    }
    problems
}

/// Help for a Modify entry that matched nothing: a near miss if there is one, else Create.
fn missing_help(pattern: &str, is_glob: bool, files: &RepoFiles) -> String {
    if !is_glob && let Some(close) = nearest(pattern, files.iter()) {
        return format!("did you mean `{close}`? (if the file is new, list it under Create:)");
    }
    if is_glob {
        "check the pattern against the repository's files; `*` stays within one directory, `**` crosses directories".to_string()
    } else {
        "if the agent should create this file, list it under Create: instead".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    fn problems(spec: &str, files: &[&str]) -> Vec<SpecProblem> {
        let parsed = parse("t.md", spec.as_bytes());
        let scope = &parsed.spec.as_ref().unwrap().scope;
        check(scope, &RepoFiles::from_paths(files.iter().copied()))
    }

    #[test]
    fn modify_must_exist() {
        let spec = "### Scope\n- Modify: `src/a.rs`\n- Modify: `src/b.rs`\n";
        let found = problems(spec, &["src/a.rs", "src/bb.rs"]);
        assert_eq!(found.len(), 1);
        let SpecProblem::ModifyMatchesNothing { path, help, .. } = &found[0] else {
            panic!("{found:?}");
        };
        assert_eq!(path, "src/b.rs");
        assert!(help.starts_with("did you mean `src/bb.rs`?"), "{help}");
    }

    #[test]
    fn glob_must_match_and_leave_something() {
        let spec = "### Scope\n- Modify: `src/api/*.rs`, `lib/**`\n- Do NOT modify `src/api/**`\n";
        let found = problems(spec, &["src/api/a.rs"]);
        assert!(
            matches!(found[0], SpecProblem::ModifyAllDenied { .. }),
            "{found:?}"
        );
        assert!(
            matches!(found[1], SpecProblem::ModifyMatchesNothing { .. }),
            "{found:?}"
        );
    }

    #[test]
    fn create_should_be_new() {
        let found = problems("### Scope\n- Create: `a.rs`\n", &["a.rs"]);
        assert!(matches!(found[0], SpecProblem::CreateExists { .. }));
        assert!(!found[0].is_error());
    }
}

//! Recovering the spec an agent commit was made from, from the repository alone.
//!
//! Each task commit names its spec with two trailers: `Agenthost-Spec` (the spec file's
//! repository-relative path) and `Agenthost-Spec-Digest` (`sha256:` of the exact text the
//! agent ran). The spec is found when a committed file at that path has that digest: in the
//! commit itself, at the tip of the range, or anywhere in the tip's history (a spec edited
//! after the agent ran is found in the commit that still had the old text). A CI clone with
//! full history therefore has everything it needs; specs are ordinary committed files.

use std::collections::HashMap;
use std::path::Path;

use git2::{Oid, Repository};

use crate::digest;

/// How a lookup went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The spec's text, from the commit `at`.
    Found {
        /// The text.
        text: String,
        /// A commit that holds the file with that text.
        at: Oid,
    },
    /// Files exist at the path, but none with the digest the commit names.
    Changed {
        /// The digest of the file at the tip of the range.
        current: Option<String>,
    },
    /// No commit searched has a file at the path.
    Missing,
}

/// Looks specs up, remembering each blob's digest (callers remember the answers).
pub(crate) struct SpecLookup<'r> {
    repo: &'r Repository,
    tip: Oid,
    /// How many commits of the tip's history a lookup may read.
    history_limit: usize,
    digests: HashMap<Oid, String>,
}

impl<'r> SpecLookup<'r> {
    /// A lookup in `repo` whose history search starts at `tip`.
    pub(crate) fn new(repo: &'r Repository, tip: Oid) -> SpecLookup<'r> {
        SpecLookup {
            repo,
            tip,
            history_limit: 20_000,
            digests: HashMap::new(),
        }
    }

    /// The spec at `path` with `digest`, as named by commit `commit`.
    pub(crate) fn find(&mut self, commit: Oid, path: &str, digest: &str) -> Lookup {
        for candidate in [commit, self.tip] {
            if let Some((blob, bytes)) = self.blob_at(candidate, path)
                && self.digest_of(blob, &bytes) == digest
            {
                return Lookup::Found {
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                    at: candidate,
                };
            }
        }
        let current = self
            .blob_at(self.tip, path)
            .map(|(blob, bytes)| self.digest_of(blob, &bytes));
        let mut seen_file = current.is_some();
        if let Ok(mut walk) = self.repo.revwalk()
            && walk.push(self.tip).is_ok()
        {
            for id in walk.flatten().take(self.history_limit) {
                let Some((blob, bytes)) = self.blob_at(id, path) else {
                    continue;
                };
                seen_file = true;
                if self.digest_of(blob, &bytes) == digest {
                    return Lookup::Found {
                        text: String::from_utf8_lossy(&bytes).into_owned(),
                        at: id,
                    };
                }
            }
        }
        if seen_file {
            Lookup::Changed { current }
        } else {
            Lookup::Missing
        }
    }

    /// The blob id and content of `path` in commit `id`, when it is a file there.
    fn blob_at(&self, id: Oid, path: &str) -> Option<(Oid, Vec<u8>)> {
        let tree = self.repo.find_commit(id).ok()?.tree().ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        let blob = self.repo.find_blob(entry.id()).ok()?;
        Some((entry.id(), blob.content().to_vec()))
    }

    fn digest_of(&mut self, blob: Oid, bytes: &[u8]) -> String {
        self.digests
            .entry(blob)
            .or_insert_with(|| digest::sha256(bytes))
            .clone()
    }
}

/// Whether the file at `spec` (inside the repository at `repo_root`) is committed in HEAD
/// with exactly `text`: what `verify` needs to recover it later.
pub(crate) fn committed_in_head(repo_root: &Path, spec: &Path, text: &str) -> bool {
    let check = || -> Option<bool> {
        let repo = Repository::open(repo_root).ok()?;
        let root = repo.workdir()?.canonicalize().ok()?;
        let spec = spec.canonicalize().ok()?;
        let relative = spec.strip_prefix(&root).ok()?;
        let tree = repo.head().ok()?.peel_to_tree().ok()?;
        let entry = tree.get_path(relative).ok()?;
        let blob = repo.find_blob(entry.id()).ok()?;
        Some(blob.content() == text.as_bytes())
    };
    check().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_file(repo: &Repository, root: &Path, path: &str, text: &str, message: &str) -> Oid {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, text).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new(path)).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
    }

    #[test]
    fn finds_the_version_the_agent_ran_in_history() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let repo = Repository::init(root).unwrap();
        let first = commit_file(&repo, root, "specs/a.md", "# A\n", "one");
        let tip = commit_file(&repo, root, "specs/a.md", "# A, edited\n", "two");
        let mut lookup = SpecLookup::new(&repo, tip);
        let old = digest::sha256(b"# A\n");
        assert_eq!(
            lookup.find(tip, "specs/a.md", &old),
            Lookup::Found {
                text: "# A\n".into(),
                at: first
            }
        );
        assert_eq!(
            lookup.find(tip, "specs/a.md", "sha256:00"),
            Lookup::Changed {
                current: Some(digest::sha256(b"# A, edited\n"))
            }
        );
        assert_eq!(lookup.find(tip, "specs/b.md", &old), Lookup::Missing);

        assert!(committed_in_head(
            root,
            &root.join("specs/a.md"),
            "# A, edited\n"
        ));
        assert!(!committed_in_head(root, &root.join("specs/a.md"), "# A\n"));
        assert!(!committed_in_head(root, &root.join("specs/new.md"), ""));
    }
}

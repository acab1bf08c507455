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
pub enum Lookup {
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

/// Looks specs up, remembering what it found.
pub struct SpecLookup<'r> {
    repo: &'r Repository,
    tip: Oid,
    /// How many commits of the tip's history a lookup may read.
    history_limit: usize,
    found: HashMap<(String, String), Lookup>,
    digests: HashMap<Oid, String>,
}

impl<'r> SpecLookup<'r> {
    /// A lookup in `repo` whose history search starts at `tip`.
    pub fn new(repo: &'r Repository, tip: Oid) -> SpecLookup<'r> {
        SpecLookup {
            repo,
            tip,
            history_limit: 20_000,
            found: HashMap::new(),
            digests: HashMap::new(),
        }
    }

    /// The spec at `path` with `digest`, as named by commit `commit`.
    pub fn find(&mut self, commit: Oid, path: &str, digest: &str) -> Lookup {
        let key = (path.to_string(), digest.to_string());
        if let Some(known) = self.found.get(&key) {
            return known.clone();
        }
        let found = self.search(commit, path, digest);
        self.found.insert(key, found.clone());
        found
    }

    fn search(&mut self, commit: Oid, path: &str, digest: &str) -> Lookup {
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

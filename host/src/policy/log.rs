//! Each policy's stderr, appended to a file per policy under the state directory's logs
//! (`<state>/logs/policy-<name>.log`), bounded: past the limit the file becomes
//! `policy-<name>.log.1` (replacing the previous one) and a new one starts.
//!
//! Logging never fails a call: a policy's verdict does not depend on the disk.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use agenthost_policy::Hook;

/// The log files of an engine's policies.
pub(super) struct PolicyLog {
    dir: PathBuf,
    limit: u64,
    /// One writer at a time within this process (rotation is check-then-rename).
    lock: Mutex<()>,
}

impl PolicyLog {
    /// Log files in `dir`, each rotated past `limit` bytes.
    pub(super) fn new(dir: PathBuf, limit: u64) -> PolicyLog {
        PolicyLog {
            dir,
            limit,
            lock: Mutex::new(()),
        }
    }

    /// The file of `policy`. Characters other than ASCII letters, digits, `-` and `_` in
    /// the name become `_`, so that a name cannot leave the directory.
    pub(super) fn path(&self, policy: &str) -> PathBuf {
        let name: String = policy
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("policy-{name}.log"))
    }

    /// Appends one call's `log` (if it has one) with a header line: time, hook, outcome.
    pub(super) fn append(&self, policy: &str, hook: Hook, outcome: &str, log: &str) {
        if log.trim().is_empty() {
            return;
        }
        let _guard = self.lock.lock();
        let path = self.path(policy);
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut entry = format!("--- {secs} {hook} ({outcome})\n{log}");
        if !entry.ends_with('\n') {
            entry.push('\n');
        }
        let _ = fs_err::create_dir_all(&self.dir);
        let size = fs_err::metadata(&path).map_or(0, |m| m.len());
        if size > 0 && size + entry.len() as u64 > self.limit {
            let _ = fs_err::rename(&path, path.with_extension("log.1"));
        }
        if entry.len() as u64 > self.limit {
            // One call's log is capped far below any sensible file limit; keep its end.
            let keep = usize::try_from(self.limit).unwrap_or(usize::MAX);
            let mut start = entry.len() - keep;
            while !entry.is_char_boundary(start) {
                start += 1;
            }
            entry = entry[start..].to_string();
        }
        let file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        if let Ok(mut file) = file {
            let _ = file.write_all(entry.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_rotates_and_keeps_names_inside() {
        let dir = tempfile::tempdir().unwrap();
        let log = PolicyLog::new(dir.path().to_path_buf(), 100);
        assert_eq!(log.path("../etc/x"), dir.path().join("policy-___etc_x.log"));
        log.append("p", Hook::Review, "answered", "");
        assert!(!log.path("p").exists(), "an empty log writes nothing");
        log.append("p", Hook::Review, "answered", "first line");
        let text = std::fs::read_to_string(log.path("p")).unwrap();
        assert!(text.ends_with("review (answered)\nfirst line\n"), "{text}");
        log.append("p", Hook::Review, "failed: trap", &"x".repeat(80));
        let rotated = std::fs::read_to_string(log.path("p").with_extension("log.1")).unwrap();
        assert!(rotated.contains("first line"), "{rotated}");
        let current = std::fs::read_to_string(log.path("p")).unwrap();
        assert!(current.contains("(failed: trap)"), "{current}");
        assert!(current.len() <= 100);
        log.append("p", Hook::Review, "answered", &"y".repeat(500));
        assert!(std::fs::metadata(log.path("p")).unwrap().len() <= 100);
    }
}

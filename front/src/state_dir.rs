//! Where agenthost keeps its per-user state: the SQLite database, task worktrees, logs, and
//! the supervisor's control socket. Nothing of this lives in the user's repositories.
//!
//! | what | where |
//! |---|---|
//! | root | `$AGENTHOST_STATE_DIR`, else `$XDG_STATE_HOME/agenthost`, else `$HOME/.local/state/agenthost` |
//! | database | `<root>/state.db` (SQLite, WAL) |
//! | worktrees | `<root>/worktrees/<task-id>` |
//! | logs | `<root>/logs/<task-id>/attempt-<n>.log` |
//! | policy logs | `<root>/logs/policy-<name>.log` (its stderr; rotated to `.log.1` past 1 MiB) |
//! | control socket | `$AGENTHOST_RUNTIME_DIR/control.sock`, else `$XDG_RUNTIME_DIR/agenthost/control.sock`, else `<root>/run/control.sock` |

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The state directory could not be determined.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "cannot tell where to keep agenthost's state: none of AGENTHOST_STATE_DIR, XDG_STATE_HOME or HOME is set to an absolute path"
)]
pub struct NoStateDir;

/// The locations of agenthost's per-user state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDirs {
    /// The root of everything below.
    pub root: PathBuf,
    /// Where the control socket lives.
    pub runtime: PathBuf,
}

impl StateDirs {
    /// Reads `AGENTHOST_STATE_DIR`, `XDG_STATE_HOME`, `AGENTHOST_RUNTIME_DIR`,
    /// `XDG_RUNTIME_DIR` and `HOME`.
    pub fn discover() -> Result<StateDirs, NoStateDir> {
        Self::discover_with(|name| std::env::var_os(name))
    }

    /// [`StateDirs::discover`] with the environment given as a function.
    pub fn discover_with(env: impl Fn(&str) -> Option<OsString>) -> Result<StateDirs, NoStateDir> {
        let absolute = |name: &str| {
            env(name)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        let root = absolute("AGENTHOST_STATE_DIR")
            .or_else(|| absolute("XDG_STATE_HOME").map(|p| p.join("agenthost")))
            .or_else(|| absolute("HOME").map(|p| p.join(".local/state/agenthost")))
            .ok_or(NoStateDir)?;
        let runtime = absolute("AGENTHOST_RUNTIME_DIR")
            .or_else(|| absolute("XDG_RUNTIME_DIR").map(|p| p.join("agenthost")))
            .unwrap_or_else(|| root.join("run"));
        Ok(StateDirs { root, runtime })
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.root.join("state.db")
    }

    /// The worktree of a task.
    pub fn worktree(&self, task_id: &str) -> PathBuf {
        self.root.join("worktrees").join(task_id)
    }

    /// A task's private home (the agent's `HOME`): made and seeded before its first
    /// attempt, kept for its corrections, removed with its worktree.
    pub fn agent_home(&self, task_id: &str) -> PathBuf {
        self.root.join("homes").join(task_id)
    }

    /// The logs: one directory per task, and `policy-<name>.log` per policy (its stderr).
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Written when a task's `[worktree] setup` commands have succeeded in its worktree:
    /// until then every attempt runs them (a failed setup is tried again by `resume`).
    pub fn setup_done(&self, task_id: &str) -> PathBuf {
        self.root.join("logs").join(task_id).join("setup.done")
    }

    /// The log of one attempt of a task.
    pub fn attempt_log(&self, task_id: &str, attempt: i64) -> PathBuf {
        self.root
            .join("logs")
            .join(task_id)
            .join(format!("attempt-{attempt}.log"))
    }

    /// The log of the checks an accept reran on a task merged onto a base that moved
    /// (each accept appends to it).
    pub fn recheck_log(&self, task_id: &str) -> PathBuf {
        self.root
            .join("logs")
            .join(task_id)
            .join("accept-checks.log")
    }

    /// Present while an accept's checks run in a task's worktree (its HEAD is detached at
    /// the merged commit); a supervisor that finds it at start puts the worktree back.
    pub fn recheck_marker(&self, task_id: &str) -> PathBuf {
        self.root
            .join("logs")
            .join(task_id)
            .join("accept-checks.active")
    }

    /// Where the `.git` entries an attempt left below its worktree's root are moved to
    /// (`task::git_metadata`): beside the attempt's log, which outlives the worktree.
    pub fn git_quarantine(&self, task_id: &str, attempt: i64) -> PathBuf {
        self.root
            .join("logs")
            .join(task_id)
            .join(format!("attempt-{attempt}-git-metadata"))
    }

    /// The supervisor's control socket.
    pub fn control_socket(&self) -> PathBuf {
        self.runtime.join("control.sock")
    }

    /// Whether `path` is inside the state root.
    pub fn contains(&self, path: &Path) -> bool {
        path.starts_with(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn precedence() {
        let dirs = StateDirs::discover_with(env(&[
            ("AGENTHOST_STATE_DIR", "/a"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ]))
        .unwrap();
        assert_eq!(dirs.root, PathBuf::from("/a"));
        assert_eq!(dirs.runtime, PathBuf::from("/a/run"));
        let dirs = StateDirs::discover_with(env(&[
            ("XDG_STATE_HOME", "/x"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
            ("HOME", "/h"),
        ]))
        .unwrap();
        assert_eq!(dirs.root, PathBuf::from("/x/agenthost"));
        assert_eq!(
            dirs.control_socket(),
            PathBuf::from("/run/user/1/agenthost/control.sock")
        );
        let dirs = StateDirs::discover_with(env(&[("XDG_STATE_HOME", "relative"), ("HOME", "/h")]))
            .unwrap();
        assert_eq!(dirs.root, PathBuf::from("/h/.local/state/agenthost"));
        assert_eq!(
            dirs.database(),
            PathBuf::from("/h/.local/state/agenthost/state.db")
        );
        assert_eq!(
            dirs.attempt_log("t", 2),
            PathBuf::from("/h/.local/state/agenthost/logs/t/attempt-2.log")
        );
        assert_eq!(StateDirs::discover_with(env(&[])), Err(NoStateDir));
    }
}

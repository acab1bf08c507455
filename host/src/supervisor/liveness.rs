//! Whether a supervisor runs, for the verbs that read the state without one (`status`,
//! `review`, `logs`), so that they never show a task as running when nothing runs it.
//!
//! A task is recorded `running` or `checking` while a supervisor runs it. When that
//! supervisor dies (`kill -9`, a crash, the machine going down) the record stays so until
//! the next supervisor starts and recovers it (`Store::recover`), but the task stopped with
//! it: every job's reaper kills what the job started when the supervisor is gone. So a task
//! recorded active while no supervisor holds `supervisor.lock` is interrupted, and these
//! verbs say so, with how to go on, without starting a supervisor themselves.
//!
//! Asking takes a *shared* lock on `supervisor.lock` for a moment: a live supervisor holds
//! it exclusively, so the shared lock is refused exactly while one runs. A supervisor
//! starting in that moment tries again for a little while (`server::serve`).

use std::path::Path;

use crate::state_dir::StateDirs;
use crate::task::TaskState;

/// What is known about the supervisor, for showing tasks truthfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    supervisor_running: bool,
}

/// How a task whose recorded state is active is shown when no supervisor runs.
pub const GONE_LABEL: &str = "interrupted (supervisor gone)";

impl Liveness {
    /// Looks at `<state>/supervisor.lock`. When it cannot tell (the lock file cannot be
    /// opened or locked for another reason than a supervisor holding it), it assumes one
    /// runs: the recorded states are then shown as they are.
    pub fn check(dirs: &StateDirs) -> Liveness {
        Liveness {
            supervisor_running: held(&dirs.root.join("supervisor.lock")),
        }
    }

    /// Whether a supervisor runs.
    pub fn supervisor_running(self) -> bool {
        self.supervisor_running
    }

    /// Whether a task recorded in `state` was interrupted by its supervisor's end, which
    /// no supervisor has recorded yet.
    pub fn supervisor_gone(self, state: TaskState) -> bool {
        !self.supervisor_running && state.is_active()
    }

    /// The state to show for a task recorded in `state`, and whether it differs from the
    /// record because the supervisor is gone.
    pub fn shown(self, state: TaskState) -> (TaskState, bool) {
        if self.supervisor_gone(state) {
            (TaskState::Interrupted, true)
        } else {
            (state, false)
        }
    }

    /// The state as a human reads it: `interrupted (supervisor gone)`, or the recorded one.
    pub fn label(self, state: TaskState) -> String {
        if self.supervisor_gone(state) {
            GONE_LABEL.to_string()
        } else {
            state.to_string()
        }
    }

    /// A note for after a report that showed tasks recorded in `states`, when any of them
    /// was shown interrupted because the supervisor is gone: what happened and what to do.
    pub fn note(self, states: impl IntoIterator<Item = TaskState>) -> Option<String> {
        let gone = states
            .into_iter()
            .filter(|&state| self.supervisor_gone(state))
            .count();
        (gone > 0).then(|| {
            let tasks = if gone == 1 {
                "1 task is".to_string()
            } else {
                format!("{gone} tasks are")
            };
            format!(
                "note: no supervisor is running: {tasks} still recorded as running, but stopped \
                 when the supervisor did.\n  `agenthost resume ID` runs one again: it starts a \
                 supervisor, which first makes sure nothing of the interrupted run is left.\n"
            )
        })
    }
}

/// Whether someone holds an exclusive lock on `path` (a running supervisor).
fn held(path: &Path) -> bool {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        // No supervisor ever ran with this state directory.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    match file.try_lock_shared() {
        // Released when `file` is closed, right away.
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(root: &Path) -> StateDirs {
        StateDirs {
            root: root.to_path_buf(),
            runtime: root.join("run"),
        }
    }

    #[test]
    fn a_supervisor_runs_while_the_lock_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = dirs(dir.path());
        // Never started.
        assert!(!Liveness::check(&dirs).supervisor_running());
        let lock = std::fs::File::create(dir.path().join("supervisor.lock")).unwrap();
        // Started once, gone.
        assert!(!Liveness::check(&dirs).supervisor_running());
        // Held (as `serve` holds it: exclusive, another open file description).
        lock.lock().unwrap();
        assert!(Liveness::check(&dirs).supervisor_running());
        lock.unlock().unwrap();
        let liveness = Liveness::check(&dirs);
        assert!(!liveness.supervisor_running());
        // Asking did not keep the lock: a supervisor can take it.
        lock.try_lock().unwrap();
    }

    #[test]
    fn active_tasks_are_shown_interrupted_when_the_supervisor_is_gone() {
        let gone = Liveness {
            supervisor_running: false,
        };
        let running = Liveness {
            supervisor_running: true,
        };
        for state in [TaskState::Running, TaskState::Checking] {
            assert_eq!(gone.shown(state), (TaskState::Interrupted, true));
            assert_eq!(gone.label(state), "interrupted (supervisor gone)");
            assert_eq!(running.shown(state), (state, false));
            assert_eq!(running.label(state), state.to_string());
        }
        for state in [TaskState::Queued, TaskState::Ready, TaskState::Interrupted] {
            assert_eq!(gone.shown(state), (state, false));
        }
        let note = gone
            .note([TaskState::Running, TaskState::Ready, TaskState::Checking])
            .unwrap();
        assert!(
            note.starts_with(
                "note: no supervisor is running: 2 tasks are still recorded as running"
            ),
            "{note}"
        );
        assert_eq!(gone.note([TaskState::Ready]), None);
        assert_eq!(running.note([TaskState::Running]), None);
    }
}

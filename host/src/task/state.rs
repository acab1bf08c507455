//! The states a task moves through, and which moves are allowed.
//!
//! ```text
//! queued ──> running ──> checking ──> ready ──> accepted
//!   │           │            │          │ └───> rejected
//!   │           │            │          └─ correct ─> queued
//!   │           ├──> failed <┘          (failed: correct/resume ─> queued, or rejected)
//!   │           └──> interrupted (host restart) ─ resume ─> queued
//!   └──> cancelled (from queued, running, checking or interrupted)
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a task is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    /// Accepted by the acceptance policies, waiting for admission.
    Queued,
    /// The agent is running in its sandbox.
    Running,
    /// The agent has stopped; the host is committing, testing and reviewing.
    Checking,
    /// Finished and checked: waiting for the human's review.
    Ready,
    /// Could not be run or checked; the reason is in the events.
    Failed,
    /// Was running when the supervisor stopped; the worktree is intact.
    Interrupted,
    /// Merged into its base branch.
    Accepted,
    /// Thrown away by the human; the record and logs are kept.
    Rejected,
    /// Stopped by the human before it finished.
    Cancelled,
}

impl TaskState {
    /// Every state, in lifecycle order.
    pub const ALL: [TaskState; 9] = [
        TaskState::Queued,
        TaskState::Running,
        TaskState::Checking,
        TaskState::Ready,
        TaskState::Failed,
        TaskState::Interrupted,
        TaskState::Accepted,
        TaskState::Rejected,
        TaskState::Cancelled,
    ];

    /// The state's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Checking => "checking",
            TaskState::Ready => "ready",
            TaskState::Failed => "failed",
            TaskState::Interrupted => "interrupted",
            TaskState::Accepted => "accepted",
            TaskState::Rejected => "rejected",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Whether the task is over: nothing more will happen to it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Accepted | TaskState::Rejected | TaskState::Cancelled
        )
    }

    /// Whether an agent (or its checks) is using the task's sandbox now.
    pub fn is_active(self) -> bool {
        matches!(self, TaskState::Running | TaskState::Checking)
    }

    /// Whether the task may move from this state to `to`.
    pub fn can_move_to(self, to: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, to),
            (Queued, Running | Cancelled | Failed)
                | (Running, Checking | Failed | Interrupted | Cancelled)
                | (Checking, Ready | Failed | Interrupted | Cancelled)
                | (Ready, Accepted | Rejected | Queued)
                | (Failed, Queued | Rejected)
                | (Interrupted, Queued | Rejected | Cancelled)
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown task state `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::TaskState::{self, *};

    #[test]
    fn names_round_trip() {
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>(), Ok(state));
        }
        assert!("nope".parse::<TaskState>().is_err());
    }

    #[test]
    fn terminal_states_go_nowhere() {
        for from in [Accepted, Rejected, Cancelled] {
            for to in TaskState::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn the_happy_path_and_corrections() {
        let path = [
            Queued, Running, Checking, Ready, Queued, Running, Checking, Ready, Accepted,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].can_move_to(pair[1]), "{} -> {}", pair[0], pair[1]);
        }
        assert!(!Queued.can_move_to(Ready));
        assert!(!Ready.can_move_to(Running));
        assert!(!Failed.can_move_to(Accepted));
    }
}

//! What the review policies are told about a finished attempt: how the agent ended, what
//! changed, how the tests went.

use std::time::Duration;

use crate::runner::Outcome;
use crate::task::diff::Changes;

/// The outcome of the test command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// The command.
    pub command: String,
    /// Whether it passed (exit 0).
    pub passed: bool,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// How long it ran.
    pub duration: Duration,
    /// The end of its output.
    pub output_tail: String,
}

/// Everything the review policies are told about a finished attempt.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    /// The attempt number.
    pub attempt: i64,
    /// How the agent ended.
    pub agent: Outcome,
    /// What changed, from the task's base commit to the task branch.
    pub changes: Changes,
    /// The test command's result, if there is a test command.
    pub test: Option<TestRun>,
}

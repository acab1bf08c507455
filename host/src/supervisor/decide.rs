//! The supervisor's questions to the policies: may this queued task start now, and what
//! must a reviewer know about this attempt. (Filled in with the policy engine.)

use super::lifecycle::{AttemptReport, Context};
use super::store::{StoredFinding, Task};
use crate::config::Config;
use crate::spec::Spec;

/// The admission answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Start now.
    Start,
    /// Keep it queued, for this reason.
    Hold(String),
    /// Refuse it, for this reason.
    Reject(String),
}

/// Asks the admission policies about `task`, given every unfinished task.
pub fn admission(_ctx: &Context, _task: &Task, _all: &[Task]) -> Admission {
    Admission::Start // DEBUG-ONLY
}

/// Asks the review policies about an attempt.
pub fn review(
    _config: &Config,
    _spec: &Spec,
    _task: &Task,
    _report: &AttemptReport,
) -> Vec<StoredFinding> {
    Vec::new() // DEBUG-ONLY
}

/// What the acceptance policies said about a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptanceVerdict {
    /// Whether the spec may run.
    pub accepted: bool,
    /// The findings, rendered for the terminal (empty when there are none).
    pub text: String,
}

/// Asks the acceptance policies about `spec`.
pub fn acceptance(_config: &Config, _spec: &Spec) -> AcceptanceVerdict {
    AcceptanceVerdict {
        accepted: true,
        text: String::new(),
    } // DEBUG-ONLY
}

//! Process exit codes, the same for every verb.

use std::process::ExitCode;

/// What a finished command tells its caller through the exit status.
///
/// | code | meaning |
/// |------|---------|
/// | 0 | success: everything checked is valid |
/// | 1 | the command ran, and found problems (findings of severity error) |
/// | 2 | usage error, unreadable or unparsable input, or agenthost itself failed |
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything is valid.
    Success = 0,
    /// The command ran and found problems.
    Findings = 1,
    /// Usage error, unparsable input, or an internal failure.
    Error = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

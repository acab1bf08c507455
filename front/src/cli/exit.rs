//! Process exit codes, the same for every verb.

use std::process::ExitCode;

/// What a finished command tells its caller through the exit status.
///
/// | code | meaning |
/// |------|---------|
/// | 0 | success: everything checked is valid |
/// | 1 | the command ran, and found problems (findings of severity error) |
/// | 2 | usage error, unreadable or unparsable input, or agenthost itself failed |
/// | 125 | `sandbox`: the sandbox could not be set up or the kernel cannot enforce it (nothing ran) |
/// | 126 | `sandbox`: the command exists but could not be executed |
/// | 127 | `sandbox`: the command was not found |
/// | other | `sandbox`: the sandboxed command's own exit code (128 + N when killed by signal N) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything is valid.
    Success,
    /// The command ran and found problems.
    Findings,
    /// Usage error, unparsable input, or an internal failure.
    Error,
    /// The exit code of a command agenthost ran for the user, passed through.
    Passthrough(u8),
}

impl Exit {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Findings => 1,
            Exit::Error => 2,
            Exit::Passthrough(code) => code,
        }
    }

    /// A child's exit code (0..=255 after the shell's 128 + signal mapping) as an [`Exit`].
    pub fn from_child(code: i32) -> Exit {
        Exit::Passthrough(u8::try_from(code.clamp(0, 255)).unwrap_or(1))
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

//! What one policy call may use.

use std::time::Duration;

use agenthost_policy::Hook;

/// The limits every policy call runs under. Defaults: 50 ms for admission (it runs on every
/// scheduling decision), 250 ms for acceptance, 2 s for review; 64 MiB of memory; 8 MiB of
/// request, 1 MiB of answer, 64 KiB of log per call, 1 MiB per log file (two files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Deadline of an `acceptance` call (and of `describe` and `validate-config`).
    pub acceptance: Duration,
    /// Deadline of an `admission` call.
    pub admission: Duration,
    /// Deadline of a `review` call.
    pub review: Duration,
    /// Largest linear memory a policy may grow to, in bytes.
    pub memory: usize,
    /// Largest request the host sends, in bytes.
    pub request: usize,
    /// Largest answer a policy may write to stdout, in bytes.
    pub answer: usize,
    /// Largest log a policy may write to stderr, in bytes.
    pub log: usize,
    /// Largest a policy's log file grows before it is rotated (one old file is kept).
    pub log_file: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            acceptance: Duration::from_millis(250),
            admission: Duration::from_millis(50),
            review: Duration::from_secs(2),
            memory: 64 << 20,
            request: 8 << 20,
            answer: 1 << 20,
            log: 64 << 10,
            log_file: 1 << 20,
        }
    }
}

impl Limits {
    /// The deadline of one call of `hook`.
    pub fn deadline(&self, hook: Hook) -> Duration {
        match hook {
            Hook::Admission => self.admission,
            Hook::Review => self.review,
            Hook::Acceptance | Hook::ValidateConfig | Hook::Describe => self.acceptance,
        }
    }
}

//! What verify reports: a check per commit (or for the staged changes), its status, and
//! its findings, each with a severity.

use std::path::PathBuf;

use serde::Serialize;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// Blocks: verify exits 1.
    Error,
    /// Reported, not blocking.
    Warning,
    /// A note.
    Info,
}

impl Severity {
    /// The lowercase name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One finding about one commit (or the staged changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    /// The policy that found it (`agenthost` for verify's own).
    pub policy: String,
    /// The rule, e.g. `scope-guard/out-of-scope`.
    pub rule: String,
    /// How much it matters (monitor-mode policies never report errors).
    pub severity: Severity,
    /// What is wrong and what to do.
    pub message: String,
    /// The file it is about, repository-relative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The 1-based line in `path` (for a file finding without one: the file's first changed
    /// line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// What was done with one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    /// Checked against its spec.
    Checked,
    /// Names no spec; `require_spec` decided what to report.
    NoSpec,
    /// Names a spec that could not be recovered or parsed (see its findings).
    SpecUnavailable,
    /// Changed nothing of its own (a clean merge, an empty commit).
    NoChanges,
}

/// One checked commit, or the staged changes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    /// The full commit id (`None` for staged changes).
    pub commit: Option<String>,
    /// The commit's summary line.
    pub summary: String,
    /// The agenthost task that made it, from its trailers.
    pub task: Option<String>,
    /// The spec it was checked against: a repository path, or `--spec` as given.
    pub spec: Option<String>,
    /// What was done.
    pub status: Status,
    /// Whether it is a merge commit (checked for its own changes only).
    pub merge: bool,
    /// Files changed.
    pub files: usize,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// What the checks found, ordered by path and line.
    pub findings: Vec<Finding>,
}

/// Counts over the whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    /// Commits in the range (1 for staged changes).
    pub commits: usize,
    /// Commits checked against a spec.
    pub checked: usize,
    /// Commits with changes but no spec.
    pub without_spec: usize,
    /// Error findings (blocking).
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Info findings.
    pub infos: usize,
}

/// Everything verify found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// The repository's root.
    pub repository: PathBuf,
    /// The range checked (`main..HEAD`), or `None` for staged changes.
    pub range: Option<String>,
    /// Each commit, oldest first.
    pub checks: Vec<Check>,
    /// The counts.
    pub summary: Summary,
}

impl Report {
    /// Whether any finding blocks (an error).
    pub(crate) fn blocks(&self) -> bool {
        self.summary.errors > 0
    }

    /// Every finding with the commit it belongs to.
    pub(crate) fn findings(&self) -> impl Iterator<Item = (&Check, &Finding)> {
        self.checks
            .iter()
            .flat_map(|check| check.findings.iter().map(move |finding| (check, finding)))
    }
}

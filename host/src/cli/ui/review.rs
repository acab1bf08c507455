//! The review of one task as the cockpit holds it while it is open: the spec in short, the
//! findings (each pointing at its line in the diff), the diffstat and the parsed diff, with
//! where the reader is. Built from plain data ([`ReviewParts`]); `load` gathers those
//! with the review verb's own `gather`.

use std::collections::BTreeSet;

use super::diff_doc::DiffDoc;
use crate::task::TaskState;

/// The spec, as much as a reviewer needs in view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecSummary {
    /// The first lines of what the task is about (its What section, or its first).
    pub what: Vec<String>,
    /// The Scope entries: (kind, pattern), as `agenthost review` prints them.
    pub scope: Vec<(String, String)>,
    /// The free-text constraints.
    pub constraints: Vec<String>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRow {
    /// `error` (blocking), `warning` or `info`.
    pub severity: String,
    /// The policy's rule.
    pub rule: String,
    /// The first line of its message.
    pub message: String,
    /// The file it names.
    pub path: Option<String>,
    /// The line it names.
    pub line: Option<i64>,
    /// The diff line it points at, when the diff shows its file.
    pub target: Option<usize>,
}

/// One file of the diffstat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRow {
    /// `A`, `M`, `D`, `R` or `T`.
    pub kind: char,
    /// The path (`old -> new` for a rename).
    pub path: String,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// No line counts: a binary file.
    pub binary: bool,
}

/// What a review is made of, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewParts {
    /// The task.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its state.
    pub state: TaskState,
    /// How many attempts it had.
    pub attempt: usize,
    /// Its branch.
    pub branch: String,
    /// Why it is in its state (first line).
    pub reason: String,
    /// The spec.
    pub spec: SpecSummary,
    /// The findings (their targets are filled in by [`ReviewState::new`]).
    pub findings: Vec<FindingRow>,
    /// The diffstat.
    pub stat: Vec<StatRow>,
    /// The patch, or why it cannot be shown.
    pub patch: Result<String, String>,
    /// For a ready task, its base branch's commits since it started, and whether its
    /// change still applies.
    pub base: Option<crate::task::stale::BaseMoved>,
}

/// An open review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewState {
    /// What was gathered (the findings' targets filled in).
    pub parts: ReviewParts,
    /// Why the diff cannot be shown, if it cannot.
    pub changes_error: Option<String>,
    /// The diff.
    pub diff: DiffDoc,
    /// The diff lines some finding names.
    pub marked: BTreeSet<usize>,
    /// The diff line at the top of the screen.
    pub top: usize,
    /// The finding last jumped to.
    pub finding: Option<usize>,
    /// Whether the summary above the diff is shown whole (`i`), not only its first part.
    pub whole_summary: bool,
}

impl ReviewState {
    /// Opens a review: parses the patch and points every finding at its diff line.
    pub fn new(mut parts: ReviewParts) -> ReviewState {
        let (diff, changes_error) = match &parts.patch {
            Ok(patch) => (DiffDoc::parse(patch), None),
            Err(why) => (DiffDoc::default(), Some(why.clone())),
        };
        for finding in &mut parts.findings {
            finding.target = finding.path.as_deref().and_then(|path| {
                diff.locate(path, finding.line.and_then(|l| u32::try_from(l).ok()))
            });
        }
        let marked = parts.findings.iter().filter_map(|f| f.target).collect();
        ReviewState {
            parts,
            changes_error,
            diff,
            marked,
            top: 0,
            finding: None,
            whole_summary: false,
        }
    }

    /// The same review gathered again (`parts`), where the reader was: the diff line at
    /// the top, the finding last jumped to, the summary as it was shown.
    pub fn refreshed(&self, parts: ReviewParts) -> ReviewState {
        let mut review = ReviewState::new(parts);
        review.show(self.top);
        review.finding = self.finding.filter(|&f| f < review.parts.findings.len());
        review.whole_summary = self.whole_summary;
        review
    }

    /// Blocking findings.
    pub fn blocking(&self) -> usize {
        self.parts
            .findings
            .iter()
            .filter(|f| f.severity == "error")
            .count()
    }

    /// Scrolls the diff by `lines` (negative: up), within the diff.
    pub fn scroll(&mut self, lines: isize) {
        let last = self.diff.lines.len().saturating_sub(1);
        self.top = self.top.saturating_add_signed(lines).min(last);
    }

    /// Puts diff line `line` at the top.
    pub fn show(&mut self, line: usize) {
        self.top = line.min(self.diff.lines.len().saturating_sub(1));
    }

    /// Jumps to the next (`forward`) or previous finding that points into the diff.
    /// Returns whether there was one.
    pub fn jump_finding(&mut self, forward: bool) -> bool {
        let count = self.parts.findings.len();
        if count == 0 {
            return false;
        }
        let start = self
            .finding
            .map_or(if forward { count - 1 } else { 0 }, |f| f);
        for step in 1..=count {
            let index = if forward {
                (start + step) % count
            } else {
                (start + count - step % count) % count
            };
            if let Some(target) = self.parts.findings[index].target {
                self.finding = Some(index);
                // A little context above the line named.
                self.show(target.saturating_sub(3).max(self.file_start(target)));
                return true;
            }
        }
        false
    }

    /// The first line of the file that diff line `line` belongs to.
    fn file_start(&self, line: usize) -> usize {
        self.diff
            .lines
            .get(line)
            .and_then(|l| self.diff.files.get(l.file))
            .map_or(0, |f| f.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(
        severity: &str,
        rule: &str,
        message: &str,
        path: Option<&str>,
        line: Option<i64>,
    ) -> FindingRow {
        FindingRow {
            severity: severity.into(),
            rule: rule.into(),
            message: message.into(),
            path: path.map(Into::into),
            line,
            target: None,
        }
    }

    fn parts() -> ReviewParts {
        ReviewParts {
            id: "filter-report".into(),
            title: "Filter the report by status".into(),
            state: TaskState::Ready,
            attempt: 1,
            branch: "agenthost/filter-report".into(),
            reason: "checks done".into(),
            base: None,
            spec: SpecSummary::default(),
            findings: vec![
                finding(
                    "error",
                    "scope-guard/out-of-scope",
                    "api/routes.py is not in the Scope",
                    Some("api/routes.py"),
                    None,
                ),
                finding(
                    "warning",
                    "diff-size/too-many-lines",
                    "big",
                    Some("report.py"),
                    Some(2),
                ),
            ],
            stat: Vec::new(),
            patch: Ok("diff --git a/report.py b/report.py\n--- a/report.py\n+++ b/report.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n".into()),
        }
    }

    #[test]
    fn findings_point_into_the_diff() {
        let mut review = ReviewState::new(parts());
        assert_eq!(review.parts.findings[0].target, None, "not in the diff");
        assert_eq!(review.parts.findings[1].target, Some(6));
        assert_eq!(review.marked, BTreeSet::from([6]));
        assert_eq!(review.blocking(), 1);
        assert!(review.jump_finding(true));
        assert_eq!((review.finding, review.top), (Some(1), 3));
        // The only finding with a target, again, both ways.
        assert!(review.jump_finding(true));
        assert!(review.jump_finding(false));
        assert_eq!(review.finding, Some(1));
        review.scroll(100);
        assert_eq!(review.top, 6);
        review.scroll(-100);
        assert_eq!(review.top, 0);
    }

    #[test]
    fn gathered_again_it_stays_where_the_reader_was() {
        let mut review = ReviewState::new(parts());
        review.show(3);
        review.finding = Some(1);
        review.whole_summary = true;
        let mut fresh = parts();
        fresh.reason = "checks done again".into();
        let refreshed = review.refreshed(fresh.clone());
        assert_eq!(refreshed.parts.reason, "checks done again");
        assert_eq!(
            (refreshed.top, refreshed.finding, refreshed.whole_summary),
            (3, Some(1), true)
        );
        // A shorter diff and fewer findings now: within them.
        fresh.patch = Ok(String::new());
        fresh.findings.truncate(1);
        let refreshed = review.refreshed(fresh);
        assert_eq!((refreshed.top, refreshed.finding), (0, None));
    }

    #[test]
    fn an_unreadable_diff_says_why() {
        let mut broken = parts();
        broken.patch = Err("task `filter-report` has no branch".into());
        let mut review = ReviewState::new(broken);
        assert_eq!(
            review.changes_error.as_deref(),
            Some("task `filter-report` has no branch")
        );
        assert!(!review.jump_finding(true));
        review.scroll(5);
        assert_eq!(review.top, 0);
    }
}

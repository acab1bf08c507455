//! The cockpit's picture of the day, as plain data: every task as a [`TaskRow`], grouped by
//! what the person must do ([`Queue`]), and the review-bandwidth numbers of the header
//! ([`Header`]). No I/O and no clock: `load` fills it from the store, the tests and the
//! benchmark from literals, with a fixed `now`.

use std::path::PathBuf;

use crate::task::stale::BaseMoved;

use crate::task::TaskState;

/// A result waiting longer than this for review is past the 2-hour mark: its context is
/// going stale (the brief's "review within 2 hours").
pub const REVIEW_MARK_MS: i64 = 2 * 3_600_000;

/// One task, as the queue shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// The id.
    pub id: String,
    /// The spec's title.
    pub title: String,
    /// The repository's name (its directory's).
    pub repo: String,
    /// The state to show (a task recorded running that no supervisor runs is interrupted).
    pub state: TaskState,
    /// The first line of why it is in its state.
    pub reason: String,
    /// When it was launched (Unix milliseconds).
    pub created_ms: i64,
    /// When it last changed state.
    pub updated_ms: i64,
    /// When it last became ready, while it is ready.
    pub ready_since_ms: Option<i64>,
    /// How many attempts it has had.
    pub attempt: usize,
    /// When its latest attempt started.
    pub attempt_started_ms: Option<i64>,
    /// Lines added by its latest attempt, once counted.
    pub added: Option<i64>,
    /// Lines removed by its latest attempt, once counted.
    pub removed: Option<i64>,
    /// Blocking findings of its latest finished attempt.
    pub blocking: usize,
    /// The last line of its latest attempt's log (kept fresh while it runs).
    pub last_line: Option<String>,
    /// Its latest attempt's log.
    pub log_path: Option<PathBuf>,
    /// For a ready task, its base branch's commits since it started, and whether its
    /// change still applies.
    pub base_moved: Option<BaseMoved>,
}

impl Default for TaskRow {
    /// A queued task with nothing known yet (tests and benchmarks fill in the rest).
    fn default() -> Self {
        TaskRow {
            id: String::new(),
            title: String::new(),
            repo: String::new(),
            state: TaskState::Queued,
            reason: String::new(),
            created_ms: 0,
            updated_ms: 0,
            ready_since_ms: None,
            attempt: 0,
            attempt_started_ms: None,
            added: None,
            removed: None,
            blocking: 0,
            last_line: None,
            log_path: None,
            base_moved: None,
        }
    }
}

/// What the person must do about a task: the queue's sections, in the order shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Ready: review it.
    NeedsReview,
    /// An agent or the checks run.
    Running,
    /// Waiting for admission.
    Queued,
    /// Failed or interrupted: look at why, then resume, correct or reject.
    Failed,
    /// Accepted, rejected or cancelled today.
    DoneToday,
}

impl Group {
    /// Every group, in the order shown.
    pub const ALL: [Group; 5] = [
        Group::NeedsReview,
        Group::Running,
        Group::Queued,
        Group::Failed,
        Group::DoneToday,
    ];

    /// The section's heading.
    pub fn title(self) -> &'static str {
        match self {
            Group::NeedsReview => "Needs review",
            Group::Running => "Running",
            Group::Queued => "Queued",
            Group::Failed => "Failed / interrupted",
            Group::DoneToday => "Done today",
        }
    }

    /// The group of a task, given when today began (UTC midnight, as `agenthost stats`
    /// counts days); `None` for a task finished before today.
    pub fn of(row: &TaskRow, today_ms: i64) -> Option<Group> {
        match row.state {
            TaskState::Ready => Some(Group::NeedsReview),
            TaskState::Running | TaskState::Checking => Some(Group::Running),
            TaskState::Queued => Some(Group::Queued),
            TaskState::Failed | TaskState::Interrupted => Some(Group::Failed),
            TaskState::Accepted | TaskState::Rejected | TaskState::Cancelled => {
                (row.updated_ms >= today_ms).then_some(Group::DoneToday)
            }
        }
    }
}

/// One section of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// What to do.
    pub group: Group,
    /// Its tasks, in the order to deal with them.
    pub rows: Vec<TaskRow>,
}

/// The tasks grouped by what the person must do; empty groups are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queue {
    /// The non-empty sections, in [`Group::ALL`] order.
    pub sections: Vec<Section>,
}

impl Queue {
    /// Groups `rows`: results oldest-waiting first, running by start, queued first in first
    /// out, failures and finished work latest first.
    pub fn build(rows: Vec<TaskRow>, now_ms: i64) -> Queue {
        let today = now_ms - now_ms.rem_euclid(86_400_000);
        let mut sections: Vec<Section> = Group::ALL
            .iter()
            .map(|&group| Section {
                group,
                rows: Vec::new(),
            })
            .collect();
        for row in rows {
            if let Some(group) = Group::of(&row, today) {
                sections[group as usize].rows.push(row);
            }
        }
        for section in &mut sections {
            let rows = &mut section.rows;
            match section.group {
                Group::NeedsReview => {
                    rows.sort_by_key(|r| (r.ready_since_ms.unwrap_or(r.updated_ms), r.created_ms));
                }
                Group::Running => {
                    rows.sort_by_key(|r| {
                        (r.attempt_started_ms.unwrap_or(r.updated_ms), r.created_ms)
                    });
                }
                Group::Queued => rows.sort_by_key(|r| r.created_ms),
                Group::Failed | Group::DoneToday => {
                    rows.sort_by_key(|r| std::cmp::Reverse(r.updated_ms));
                }
            }
        }
        sections.retain(|s| !s.rows.is_empty());
        Queue { sections }
    }

    /// How many tasks are shown.
    pub fn len(&self) -> usize {
        self.sections.iter().map(|s| s.rows.len()).sum()
    }

    /// Whether no task is shown.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// The `index`th task shown, counting across sections.
    pub fn row(&self, index: usize) -> Option<&TaskRow> {
        self.rows().nth(index)
    }

    /// Every task shown, in order.
    pub fn rows(&self) -> impl Iterator<Item = &TaskRow> {
        self.sections.iter().flat_map(|s| s.rows.iter())
    }

    /// Where the task `id` is shown, if it is.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.rows().position(|r| r.id == id)
    }
}

/// The review-bandwidth numbers that do not come from the queue itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bandwidth {
    /// How many agents the ramp allows at its current stage (none: no limit configured).
    pub allowed: Option<usize>,
    /// Tasks accepted today (UTC day, as `agenthost stats` counts).
    pub reviewed_today: usize,
    /// The median time from ready to review over the last 7 days.
    pub median_review_ms: Option<i64>,
}

/// The header: the review-bandwidth picture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    /// Agents running (or being checked).
    pub running: usize,
    /// Results waiting for review.
    pub waiting: usize,
    /// How long the oldest result has waited.
    pub oldest_wait_ms: Option<i64>,
    /// The rest.
    pub bandwidth: Bandwidth,
}

impl Header {
    /// The header for `queue` at `now_ms`.
    pub fn new(queue: &Queue, bandwidth: Bandwidth, now_ms: i64) -> Header {
        let rows = || queue.rows();
        Header {
            running: rows()
                .filter(|r| Group::of(r, 0) == Some(Group::Running))
                .count(),
            waiting: rows().filter(|r| r.state == TaskState::Ready).count(),
            oldest_wait_ms: rows()
                .filter_map(|r| r.ready_since_ms)
                .min()
                .map(|since| now_ms - since),
            bandwidth,
        }
    }
}

/// "45s", "12m", "3h 05m", "2d 4h": short enough for a table cell.
pub fn short_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_996_800_000 + 15 * 3_600_000; // 2026-11-30T15:00Z

    fn row(id: &str, state: TaskState, updated_ms: i64) -> TaskRow {
        TaskRow {
            id: id.into(),
            state,
            updated_ms,
            created_ms: updated_ms,
            ..TaskRow::default()
        }
    }

    #[test]
    fn grouped_by_what_to_do_in_order() {
        let mut late = row("late", TaskState::Ready, NOW - 1000);
        late.ready_since_ms = Some(NOW - 1000);
        let mut early = row("early", TaskState::Ready, NOW - 5000);
        early.ready_since_ms = Some(NOW - 3 * 3_600_000);
        let rows = vec![
            row("yesterday", TaskState::Accepted, NOW - 20 * 3_600_000),
            row("today", TaskState::Rejected, NOW - 3_600_000),
            row("q2", TaskState::Queued, NOW - 10),
            row("q1", TaskState::Queued, NOW - 20),
            row("broke", TaskState::Interrupted, NOW),
            row("checks", TaskState::Checking, NOW),
            late,
            early,
        ];
        let queue = Queue::build(rows, NOW);
        let shown: Vec<(Group, Vec<&str>)> = queue
            .sections
            .iter()
            .map(|s| (s.group, s.rows.iter().map(|r| r.id.as_str()).collect()))
            .collect();
        assert_eq!(
            shown,
            [
                (Group::NeedsReview, vec!["early", "late"]),
                (Group::Running, vec!["checks"]),
                (Group::Queued, vec!["q1", "q2"]),
                (Group::Failed, vec!["broke"]),
                (Group::DoneToday, vec!["today"]),
            ]
        );
        assert_eq!(queue.len(), 7);
        assert_eq!(queue.row(2).map(|r| r.id.as_str()), Some("checks"));
        assert_eq!(queue.position("q2"), Some(4));
        let header = Header::new(&queue, Bandwidth::default(), NOW);
        assert_eq!((header.running, header.waiting), (1, 2));
        assert_eq!(header.oldest_wait_ms, Some(3 * 3_600_000));
    }

    #[test]
    fn durations() {
        assert_eq!(short_duration(-5), "0s");
        assert_eq!(short_duration(59_999), "59s");
        assert_eq!(short_duration(60_000), "1m");
        assert_eq!(short_duration(3_723_000), "1h 02m");
        assert_eq!(short_duration(90_000_000), "1d 1h");
    }
}

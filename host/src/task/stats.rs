//! Review statistics, computed from the event log alone: how much reviewed work lands per
//! day, how long finished work waits for review, how often it is accepted, and how many
//! attempts a task takes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::TaskState;
use crate::supervisor::store::Event;

/// The statistics over a window of days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Tasks accepted and rejected per UTC day (`YYYY-MM-DD`), oldest first.
    pub per_day: Vec<DayCount>,
    /// Reviews (a ready task accepted, rejected or sent back with a correction).
    pub reviews: usize,
    /// Median time from "ready" to the review, in milliseconds.
    pub median_review_latency_ms: Option<i64>,
    /// Accepted tasks.
    pub accepted: usize,
    /// Rejected tasks.
    pub rejected: usize,
    /// accepted / (accepted + rejected).
    pub acceptance_rate: Option<f64>,
    /// Mean number of agent runs per finished (accepted or rejected) task.
    pub attempts_per_task: Option<f64>,
}

/// One day's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// The UTC day.
    pub day: String,
    /// Tasks accepted that day.
    pub accepted: usize,
    /// Tasks rejected that day.
    pub rejected: usize,
}

/// Computes the statistics from `events` (all tasks, in order), counting what happened at or
/// after `since_ms`.
pub fn compute(events: &[Event], since_ms: i64) -> Stats {
    let mut ready_since: BTreeMap<&str, i64> = BTreeMap::new();
    let mut latencies = Vec::new();
    let mut days: BTreeMap<String, DayCount> = BTreeMap::new();
    let mut runs: BTreeMap<&str, usize> = BTreeMap::new();
    let mut finished: Vec<&str> = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);

    for event in events {
        let id = event.task_id.as_str();
        if event.to == TaskState::Running {
            *runs.entry(id).or_default() += 1;
        }
        if event.to == TaskState::Ready {
            ready_since.insert(id, event.at_ms);
            continue;
        }
        if event.from == Some(TaskState::Ready)
            && let Some(ready_at) = ready_since.remove(id)
            && event.at_ms >= since_ms
        {
            latencies.push(event.at_ms - ready_at);
        }
        if event.at_ms < since_ms {
            continue;
        }
        let landed = match event.to {
            TaskState::Accepted => Some(true),
            TaskState::Rejected => Some(false),
            _ => None,
        };
        if let Some(landed) = landed {
            let day = day_of(event.at_ms);
            let count = days.entry(day.clone()).or_insert(DayCount {
                day,
                accepted: 0,
                rejected: 0,
            });
            if landed {
                count.accepted += 1;
                accepted += 1;
            } else {
                count.rejected += 1;
                rejected += 1;
            }
            finished.push(id);
        }
    }

    latencies.sort_unstable();
    let median = match latencies.len() {
        0 => None,
        n if n % 2 == 1 => Some(latencies[n / 2]),
        n => Some((latencies[n / 2 - 1] + latencies[n / 2]) / 2),
    };
    let attempts_per_task = (!finished.is_empty()).then(|| {
        let total: usize = finished
            .iter()
            .map(|id| runs.get(id).copied().unwrap_or(0))
            .sum();
        total as f64 / finished.len() as f64
    });
    Stats {
        per_day: days.into_values().collect(),
        reviews: latencies.len(),
        median_review_latency_ms: median,
        accepted,
        rejected,
        acceptance_rate: (accepted + rejected > 0)
            .then(|| accepted as f64 / (accepted + rejected) as f64),
        attempts_per_task,
    }
}

/// The UTC calendar day of a Unix-milliseconds instant, `YYYY-MM-DD`.
pub fn day_of(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    const H: i64 = 3_600_000;

    fn event(n: i64, task: &str, at_ms: i64, from: Option<TaskState>, to: TaskState) -> Event {
        Event {
            id: n,
            task_id: task.into(),
            at_ms,
            from,
            to,
            detail: String::new(),
        }
    }

    #[test]
    fn days() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_795_996_800_000), "2026-11-30");
        assert_eq!(day_of(951_782_400_000), "2000-02-29");
        assert_eq!(day_of(-1), "1969-12-31");
    }

    #[test]
    fn from_the_event_log() {
        let day = 1_795_996_800_000; // 2026-11-30T00:00Z
        let events = vec![
            event(1, "a", day, None, Queued),
            event(2, "a", day + H, Some(Queued), Running),
            event(3, "a", day + 2 * H, Some(Running), Checking),
            event(4, "a", day + 2 * H, Some(Checking), Ready),
            // Sent back after 1h: a review.
            event(5, "a", day + 3 * H, Some(Ready), Queued),
            event(6, "a", day + 3 * H, Some(Queued), Running),
            event(7, "a", day + 4 * H, Some(Running), Checking),
            event(8, "a", day + 4 * H, Some(Checking), Ready),
            // Accepted after 3h.
            event(9, "a", day + 7 * H, Some(Ready), Accepted),
            event(10, "b", day, None, Queued),
            event(11, "b", day + H, Some(Queued), Running),
            event(12, "b", day + H, Some(Running), Checking),
            event(13, "b", day + H, Some(Checking), Ready),
            // Rejected the next day after 30h.
            event(14, "b", day + 31 * H, Some(Ready), Rejected),
        ];
        let stats = compute(&events, 0);
        assert_eq!(stats.reviews, 3);
        assert_eq!(stats.median_review_latency_ms, Some(3 * H));
        assert_eq!((stats.accepted, stats.rejected), (1, 1));
        assert_eq!(stats.acceptance_rate, Some(0.5));
        assert_eq!(stats.attempts_per_task, Some(1.5));
        assert_eq!(
            stats.per_day,
            vec![
                DayCount {
                    day: "2026-11-30".into(),
                    accepted: 1,
                    rejected: 0
                },
                DayCount {
                    day: "2026-12-01".into(),
                    accepted: 0,
                    rejected: 1
                },
            ]
        );
        let later = compute(&events, day + 24 * H);
        assert_eq!(later.accepted, 0);
        assert_eq!(later.rejected, 1);
        assert_eq!(later.reviews, 1);
    }

    #[test]
    fn empty() {
        let stats = compute(&[], 0);
        assert_eq!(stats.median_review_latency_ms, None);
        assert_eq!(stats.acceptance_rate, None);
        assert_eq!(stats.attempts_per_task, None);
    }
}

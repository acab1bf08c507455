//! Reading the cockpit's data: the tasks from the store into a [`Queue`] and [`Header`], an
//! open review through the review verb's own `gather`, and the agents' logs. Called when
//! the supervisor reports a change, when a review or a log opens, and once a second for
//! the running agents' last log lines (files, not the database).

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

use super::model::{Bandwidth, Header, Queue, TaskRow};
use super::review::{FindingRow, ReviewParts, ReviewState, SpecSummary, StatRow};
use crate::cli::review::{Review, gather};
use crate::config::Config;
use crate::supervisor::SupervisorError;
use crate::supervisor::liveness::Liveness;
use crate::supervisor::store::{Store, StoreError};
use crate::task::TaskState;
use crate::task::diff::ChangeKind;

/// The most of a log the log screen reads (its end).
const LOG_WINDOW: u64 = 2 * 1024 * 1024;

/// Every task to show and the header's numbers, as the store has them now.
pub(super) fn tasks(
    store: &Store,
    liveness: Liveness,
    allowed: Option<usize>,
    now_ms: i64,
) -> Result<(Queue, Header), StoreError> {
    let today = now_ms - now_ms.rem_euclid(86_400_000);
    let mut rows = Vec::new();
    for task in store.tasks(true)? {
        // Finished before today: not shown, not worth the queries.
        if task.state.is_terminal() && task.updated_ms < today {
            continue;
        }
        let (state, gone) = liveness.shown(task.state);
        let attempts = store.attempts(&task.launch.id)?;
        let last = attempts.last();
        let ready_since_ms = if state == TaskState::Ready {
            store.entered(&task.launch.id, TaskState::Ready)?
        } else {
            None
        };
        let blocking = if matches!(state, TaskState::Ready | TaskState::Failed) {
            store
                .findings(&task.launch.id)?
                .iter()
                .filter(|f| f.severity == "error")
                .count()
        } else {
            0
        };
        let reason = if gone {
            "recorded running, but no supervisor runs it: it crashed or was killed".to_string()
        } else {
            task.reason.lines().next().unwrap_or_default().to_string()
        };
        let log_path = last.map(|a| a.log_path.clone());
        let base_moved = crate::task::stale::of_ready(&task);
        rows.push(TaskRow {
            repo: task.launch.repo.file_name().map_or_else(
                || task.launch.repo.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            id: task.launch.id,
            title: task.launch.title,
            state,
            reason,
            created_ms: task.created_ms,
            updated_ms: task.updated_ms,
            ready_since_ms,
            attempt: attempts.len(),
            attempt_started_ms: last.map(|a| a.started_ms),
            added: last.and_then(|a| a.added),
            removed: last.and_then(|a| a.removed),
            blocking,
            last_line: match (&log_path, state.is_active()) {
                (Some(path), true) => last_line(path),
                _ => None,
            },
            log_path,
            base_moved,
        });
    }
    let stats = crate::cli::stats::of_last_days(Some(store), 7, now_ms)?;
    let today_name = crate::task::stats::day_of(now_ms);
    let bandwidth = Bandwidth {
        allowed,
        reviewed_today: stats
            .per_day
            .iter()
            .find(|d| d.day == today_name)
            .map_or(0, |d| d.accepted),
        median_review_ms: stats.median_review_latency_ms,
    };
    let queue = Queue::build(rows, now_ms);
    let header = Header::new(&queue, bandwidth, now_ms);
    Ok((queue, header))
}

/// How many agents the review-bandwidth ramp allows at its stage, from the user's
/// configuration (review bandwidth is the person's, not a repository's); `None` when the
/// policy is off. The defaults are the policy's own (`ramp = [3, 6, 8]`, `stage = 1`).
pub(super) fn ramp_allowed(config: &Config) -> Option<usize> {
    let policy = config
        .policies
        .get("review-bandwidth")
        .filter(|p| p.enabled)?;
    let ramp: Vec<usize> = match policy.config.get("ramp").and_then(|v| v.as_array()) {
        Some(ramp) => ramp
            .iter()
            .filter_map(|v| v.as_integer())
            .filter_map(|n| usize::try_from(n).ok())
            .collect(),
        None => vec![3, 6, 8],
    };
    let stage = policy
        .config
        .get("stage")
        .and_then(|v| v.as_integer())
        .unwrap_or(1);
    ramp.get(usize::try_from(stage).ok()?.checked_sub(1)?)
        .copied()
}

/// Opens the review of task `id`.
pub(super) fn review(
    store: &Store,
    liveness: Liveness,
    id: &str,
) -> Result<ReviewState, SupervisorError> {
    let task = store.task(id)?.ok_or_else(|| SupervisorError::Refused {
        message: format!("no task `{id}`"),
        help: "`agenthost status --all` lists every task".into(),
    })?;
    let mut review = gather(store, task)?;
    review.task.state = liveness.shown(review.task.state).0;
    Ok(ReviewState::new(parts(review)))
}

/// A gathered review as plain data.
fn parts(review: Review) -> ReviewParts {
    let (task, attempts, findings) = (review.task, review.attempts, review.findings);
    let (spec, changes) = (review.spec, review.changes);
    let summary = spec.map_or_else(SpecSummary::default, |spec| {
        let what = spec
            .sections
            .iter()
            .find(|s| s.heading.to_lowercase().contains("what"))
            .or_else(|| {
                spec.sections.iter().find(|s| {
                    s.level > 1 && !s.text.is_empty() && !s.heading.eq_ignore_ascii_case("scope")
                })
            })
            .map(|s| {
                s.text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .take(2)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        SpecSummary {
            what,
            scope: spec
                .scope
                .entries()
                .map(|e| (e.kind.name().to_string(), e.pattern.clone()))
                .collect(),
            constraints: spec
                .scope
                .constraints
                .iter()
                .map(|c| c.text.clone())
                .collect(),
        }
    });
    let (stat, patch) = match changes {
        Ok(changes) => (
            changes
                .files
                .iter()
                .map(|f| StatRow {
                    kind: match f.kind {
                        ChangeKind::Added => 'A',
                        ChangeKind::Modified => 'M',
                        ChangeKind::Deleted => 'D',
                        ChangeKind::Renamed => 'R',
                        ChangeKind::TypeChanged => 'T',
                    },
                    path: match &f.old_path {
                        Some(old) => format!("{old} -> {}", f.path),
                        None => f.path.clone(),
                    },
                    added: f.added,
                    removed: f.removed,
                    binary: f.binary,
                })
                .collect(),
            Ok(changes.patch),
        ),
        Err(report) => (Vec::new(), Err(report.to_string())),
    };
    let base = crate::task::stale::of_ready(&task);
    ReviewParts {
        base,
        id: task.launch.id,
        title: task.launch.title,
        state: task.state,
        attempt: attempts.len(),
        branch: task.launch.branch,
        reason: task.reason.lines().next().unwrap_or_default().to_string(),
        spec: summary,
        findings: findings
            .into_iter()
            .map(|f| FindingRow {
                severity: f.severity,
                rule: f.rule,
                message: f.message.lines().next().unwrap_or_default().to_string(),
                path: f.path,
                line: f.line,
                target: None,
            })
            .collect(),
        stat,
        patch,
    }
}

/// The last non-empty line of a log, if it has one.
pub(super) fn last_line(path: &Path) -> Option<String> {
    let text = tail(path, 4096)?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::to_string)
}

/// The log's lines (its last 2 MiB), or what to say when there is none yet.
pub(super) fn log_lines(path: Option<&Path>) -> Vec<String> {
    match path.and_then(|p| tail(p, LOG_WINDOW)) {
        Some(text) => text.lines().map(str::to_string).collect(),
        None => vec!["(no output yet)".to_string()],
    }
}

/// The last `bytes` of a file, lossily decoded.
fn tail(path: &Path, bytes: u64) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let length = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(bytes)))
        .ok()?;
    let mut buffer = Vec::new();
    file.read_to_end(&mut buffer).ok()?;
    Some(String::from_utf8_lossy(&buffer).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_from_the_config() {
        let mut config = Config::builtin();
        assert_eq!(ramp_allowed(&config), Some(3));
        let mut set = |key: &str, value: toml::Value| {
            config
                .policies
                .get_mut("review-bandwidth")
                .expect("built in")
                .config
                .insert(key.into(), value);
        };
        set("stage", toml::Value::Integer(2));
        assert_eq!(ramp_allowed(&config), Some(6));
        let mut set = |key: &str, value: toml::Value| {
            config
                .policies
                .get_mut("review-bandwidth")
                .expect("built in")
                .config
                .insert(key.into(), value);
        };
        set(
            "ramp",
            toml::Value::Array(vec![toml::Value::Integer(1), toml::Value::Integer(2)]),
        );
        assert_eq!(ramp_allowed(&config), Some(2));
        config
            .policies
            .get_mut("review-bandwidth")
            .expect("built in")
            .config
            .insert("stage".into(), toml::Value::Integer(9));
        assert_eq!(ramp_allowed(&config), None);
        config
            .policies
            .get_mut("review-bandwidth")
            .expect("built in")
            .enabled = false;
        assert_eq!(ramp_allowed(&config), None);
    }

    /// A store of 1,000 tasks in every state, with attempts, findings and the events of
    /// their lives, read as the cockpit reads it on every change. Prints how long that
    /// took (`--nocapture`; docs/ui-performance.md).
    #[test]
    fn a_thousand_tasks_from_the_store() {
        use crate::supervisor::store::{NewTask, StoredFinding};
        let dir = tempfile::tempdir().expect("temp");
        let mut store = Store::open(&dir.path().join("state.db")).expect("store");
        for n in 0..1000 {
            let id = format!("task-{n}");
            store
                .insert_task(&NewTask {
                    id: id.clone(),
                    repo: dir.path().join(format!("repo-{}", n % 5)),
                    spec_path: dir.path().join("spec.md"),
                    spec_text: "# T\n".into(),
                    spec_digest: "sha256:00".into(),
                    title: format!("Task {n}"),
                    agent: "script".into(),
                    base_branch: Some("main".into()),
                    base_commit: "0".repeat(40),
                    branch: format!("agenthost/{id}"),
                    worktree: dir.path().join(&id),
                    env: Default::default(),
                })
                .expect("insert");
            if n % 4 == 0 {
                continue; // queued
            }
            store
                .transition(&id, TaskState::Running, "admitted")
                .expect("run");
            let log = dir.path().join(format!("{id}.log"));
            store.start_attempt(&id, None, &log).expect("attempt");
            if n % 4 == 1 {
                continue; // running
            }
            store.finish_attempt(&id, 1, Some(0), None).expect("finish");
            store
                .transition(&id, TaskState::Checking, "agent exited 0")
                .expect("check");
            let finding = StoredFinding {
                attempt: 1,
                policy: "scope-guard".into(),
                rule: "scope-guard/out-of-scope".into(),
                severity: "error".into(),
                message: "out of scope".into(),
                path: Some("a.py".into()),
                line: None,
            };
            store.set_findings(&id, 1, &[finding]).expect("findings");
            let to = if n % 4 == 2 {
                TaskState::Ready
            } else {
                TaskState::Failed
            };
            store.transition(&id, to, "checks done").expect("done");
        }
        // As while a supervisor runs: it holds the lock.
        let lock = std::fs::File::create(dir.path().join("supervisor.lock")).expect("lock");
        lock.lock().expect("lock");
        let liveness = Liveness::check(&crate::state_dir::StateDirs {
            root: dir.path().to_path_buf(),
            runtime: dir.path().join("run"),
        });
        let started = std::time::Instant::now();
        let (queue, header) = tasks(
            &store,
            liveness,
            Some(3),
            crate::supervisor::store::now_ms(),
        )
        .expect("load");
        let took = started.elapsed();
        eprintln!("read 1,000 tasks from the store in {took:?}");
        let counts: Vec<(super::super::model::Group, usize)> = queue
            .sections
            .iter()
            .map(|s| (s.group, s.rows.len()))
            .collect();
        use super::super::model::Group;
        assert_eq!(
            counts,
            [
                (Group::NeedsReview, 250),
                (Group::Running, 250),
                (Group::Queued, 250),
                (Group::Failed, 250)
            ]
        );
        assert_eq!((header.running, header.waiting), (250, 250));
        assert!(
            queue
                .rows()
                .filter(|r| r.state == TaskState::Ready)
                .all(|r| r.blocking == 1)
        );
        assert!(
            queue
                .rows()
                .filter(|r| r.state == TaskState::Running)
                .all(|r| r.attempt == 1)
        );
    }

    #[test]
    fn log_ends() {
        let dir = tempfile::tempdir().expect("temp");
        let log = dir.path().join("attempt-1.log");
        std::fs::write(&log, "one\ntwo\n\n").expect("write");
        assert_eq!(last_line(&log).as_deref(), Some("two"));
        assert_eq!(log_lines(Some(&log)), ["one", "two", ""]);
        assert_eq!(last_line(&dir.path().join("none")), None);
        assert_eq!(log_lines(None), ["(no output yet)"]);
    }
}

//! `agenthost status` (alias `ls`): every task of the user, across repositories.

use std::path::Path;

use clap::Args;
use comfy_table::{Table, presets};
use serde::Serialize;

use super::{Exit, Output};
use crate::state_dir::StateDirs;
use crate::supervisor::SupervisorError;
use crate::supervisor::liveness::Liveness;
use crate::supervisor::store::{Store, Task, now_ms};
use crate::task::TaskState;

/// Arguments of `agenthost status`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost status\n  agenthost ls --all\n  agenthost status --json"
)]
pub struct StatusArgs {
    /// Include accepted, rejected and cancelled tasks.
    #[arg(long)]
    pub all: bool,

    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// One row of the status table.
#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    task: Task,
    age_ms: i64,
    waiting_for_review_ms: Option<i64>,
    added: Option<i64>,
    removed: Option<i64>,
    blocking_findings: usize,
    attempts: usize,
    /// For a ready task: its base branch moved since it started (and whether the change
    /// still applies), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    base_moved: Option<String>,
    /// Recorded running, shown interrupted: no supervisor runs it ([`Liveness`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    supervisor_gone: bool,
}

/// Runs `agenthost status`.
pub(super) fn run(args: &StatusArgs, output: &Output) -> miette::Result<Exit> {
    let dirs = StateDirs::discover().map_err(SupervisorError::from)?;
    let database = dirs.database();
    let rows = if database.exists() {
        let store = Store::open(&database).map_err(SupervisorError::from)?;
        rows(&store, args.all).map_err(SupervisorError::from)?
    } else {
        Vec::new()
    };
    let liveness = Liveness::check(&dirs);
    let note = liveness.note(rows.iter().map(|row| row.task.state));
    let mut rows = rows;
    for row in &mut rows {
        (row.task.state, row.supervisor_gone) = liveness.shown(row.task.state);
        if row.supervisor_gone {
            row.task.reason =
                "recorded running, but no supervisor runs it: it crashed or was killed".into();
        }
    }
    if args.json {
        let json = serde_json::to_string_pretty(&rows)
            .map_err(|err| miette::miette!("cannot encode the status as JSON: {err}"))?;
        output.print(&format!("{json}\n"))?;
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        let more = if args.all {
            ""
        } else {
            " (use --all to include finished ones)"
        };
        output.print(&format!("no tasks{more}\n"))?;
        return Ok(Exit::Success);
    }
    let mut table = Table::new();
    table.load_style(presets::NOTHING).force_no_tty();
    table.set_header(vec![
        "ID",
        "REPO",
        "TITLE",
        "STATE",
        "AGE",
        "REVIEW WAIT",
        "+/-",
        "BLOCKING",
        "WHY",
    ]);
    for row in &rows {
        table.add_row(vec![
            row.task.launch.id.clone(),
            repo_name(&row.task.launch.repo),
            row.task.launch.title.clone(),
            match row.supervisor_gone {
                true => crate::supervisor::liveness::GONE_LABEL.to_string(),
                false => row.task.state.to_string(),
            },
            short_duration(row.age_ms),
            row.waiting_for_review_ms
                .map(short_duration)
                .unwrap_or_default(),
            match (row.added, row.removed) {
                (Some(a), Some(r)) => format!("+{a}/-{r}"),
                _ => String::new(),
            },
            match row.blocking_findings {
                0 => String::new(),
                n => n.to_string(),
            },
            row.base_moved
                .as_deref()
                .map_or_else(|| why(&row.task), |moved| format!("base moved: {moved}")),
        ]);
    }
    let text: String = table
        .lines()
        .map(|line| {
            // The borderless style pads every line with one leading space; drop it.
            let line = line
                .strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_string();
            format!("{line}\n")
        })
        .collect();
    output.print(&text)?;
    if let Some(note) = note {
        output.print(&format!("\n{note}"))?;
    }
    Ok(Exit::Success)
}

fn rows(store: &Store, all: bool) -> Result<Vec<Row>, crate::supervisor::store::StoreError> {
    let now = now_ms();
    let mut rows = Vec::new();
    for task in store.tasks(all)? {
        let attempts = store.attempts(&task.launch.id)?;
        let last = attempts.last();
        let waiting = if task.state == TaskState::Ready {
            store
                .entered(&task.launch.id, TaskState::Ready)?
                .map(|at| now - at)
        } else {
            None
        };
        let blocking = store
            .findings(&task.launch.id)?
            .iter()
            .filter(|f| f.severity == "error")
            .count();
        let base_moved =
            crate::task::stale::of_ready(&task).map(|moved| moved.describe(&task.launch.id));
        rows.push(Row {
            base_moved,
            age_ms: now - task.created_ms,
            waiting_for_review_ms: waiting,
            added: last.and_then(|a| a.added),
            removed: last.and_then(|a| a.removed),
            blocking_findings: blocking,
            attempts: attempts.len(),
            supervisor_gone: false,
            task,
        });
    }
    Ok(rows)
}

/// The first line of a task's reason, where the state alone does not say enough: why it
/// waits, failed, was interrupted or cancelled. (`--json` has the whole reason.)
fn why(task: &Task) -> String {
    match task.state {
        TaskState::Queued
        | TaskState::Failed
        | TaskState::Interrupted
        | TaskState::Cancelled
        | TaskState::Rejected => task.reason.lines().next().unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

fn repo_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// "45s", "12m", "3h 5m", "2d 4h".
fn short_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::short_duration;

    #[test]
    fn durations() {
        assert_eq!(short_duration(-5), "0s");
        assert_eq!(short_duration(59_999), "59s");
        assert_eq!(short_duration(60_000), "1m");
        assert_eq!(short_duration(3_723_000), "1h 2m");
        assert_eq!(short_duration(90_000_000), "1d 1h");
    }
}

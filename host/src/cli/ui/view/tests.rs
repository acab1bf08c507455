//! Every screen drawn into ratatui's test backend and compared as a snapshot: the empty
//! cockpit, one task in each state, many tasks, long titles, 80x24, the review, the log and
//! the dialogs. Built from plain data with a fixed clock, so they are fast and exact.

use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use super::*;
use crate::cli::ui::app::{Dialog, LogsState, Purpose};
use crate::cli::ui::keys::Action;
use crate::cli::ui::model::{Bandwidth, Header, Queue, TaskRow};
use crate::cli::ui::review::{FindingRow, ReviewParts, ReviewState, SpecSummary, StatRow};
use crate::task::TaskState;
use crate::task::stale::BaseMoved;

/// 2026-11-30T15:00Z.
pub(crate) const NOW: i64 = 1_795_996_800_000 + 15 * 3_600_000;
const MIN: i64 = 60_000;

/// The screen as text, one line per row, trailing spaces cut.
pub(crate) fn render(app: &App, width: u16, height: u16, theme: Theme) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| draw(frame, app, theme))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn plain(app: &App, width: u16, height: u16) -> String {
    render(app, width, height, Theme { color: false })
}

fn task(id: &str, title: &str, state: TaskState) -> TaskRow {
    TaskRow {
        id: id.into(),
        title: title.into(),
        repo: "inventory".into(),
        state,
        created_ms: NOW - 90 * MIN,
        updated_ms: NOW - 10 * MIN,
        attempt: 1,
        ..TaskRow::default()
    }
}

/// One task in each state the queue shows.
pub(crate) fn one_of_each() -> Vec<TaskRow> {
    let mut fresh = task("csv-export", "Export items as CSV", TaskState::Ready);
    fresh.ready_since_ms = Some(NOW - 25 * MIN);
    (fresh.added, fresh.removed) = (Some(42), Some(3));
    let mut stale = task(
        "quantity-check",
        "Refuse negative quantities",
        TaskState::Ready,
    );
    stale.ready_since_ms = Some(NOW - 150 * MIN);
    (stale.added, stale.removed, stale.blocking) = (Some(7), Some(1), 2);
    stale.repo = "billing".into();
    stale.base_moved = Some(BaseMoved {
        branch: "main".into(),
        commits: 1,
        conflicts: vec!["billing/report.py".into()],
    });
    let mut running = task(
        "status-filter",
        "Filter the report by status",
        TaskState::Running,
    );
    running.attempt = 2;
    running.attempt_started_ms = Some(NOW - 7 * MIN);
    running.last_line = Some("scripted-agent: edited report.py".into());
    let mut queued = task(
        "dark-mode",
        "Dark mode for the dashboard",
        TaskState::Queued,
    );
    queued.reason =
        "held by admission: review-bandwidth: 3 agents are running, the limit at stage 1".into();
    let mut failed = task("flaky-tests", "Fix the flaky tests", TaskState::Failed);
    failed.reason = "the tests failed: 2 of 31".into();
    let mut interrupted = task("rename-api", "Rename the API", TaskState::Interrupted);
    interrupted.reason = "the supervisor stopped while it ran".into();
    let mut accepted = task("readme", "Update the README", TaskState::Accepted);
    accepted.updated_ms = NOW - 60 * MIN;
    vec![fresh, stale, running, queued, failed, interrupted, accepted]
}

pub(crate) fn app_of(rows: Vec<TaskRow>) -> App {
    let queue = Queue::build(rows, NOW);
    let bandwidth = Bandwidth {
        allowed: Some(3),
        reviewed_today: 4,
        median_review_ms: Some(35 * MIN),
    };
    let header = Header::new(&queue, bandwidth, NOW);
    App::new(queue, header, NOW)
}

#[test]
fn empty() {
    assert_snapshot!(plain(&app_of(Vec::new()), 100, 12));
}

#[test]
fn one_of_each_state() {
    assert_snapshot!(plain(&app_of(one_of_each()), 120, 24));
}

#[test]
fn one_of_each_state_at_80x24() {
    assert_snapshot!(plain(&app_of(one_of_each()), 80, 24));
}

#[test]
fn many_tasks_scroll_to_the_selection() {
    let rows = (0..60)
        .map(|n| {
            let mut row = task(
                &format!("t{n}"),
                &format!("Task number {n}"),
                TaskState::Queued,
            );
            row.created_ms = NOW - (60 - n) * MIN;
            row.reason = "queued behind t0, which admission holds".into();
            row
        })
        .collect();
    let mut app = app_of(rows);
    app.apply(Action::Bottom);
    app.apply(Action::Up);
    assert_snapshot!(plain(&app, 100, 16));
}

#[test]
fn long_titles_are_cut() {
    let mut rows = one_of_each();
    for row in &mut rows {
        row.title = format!(
            "{} {}",
            row.title,
            "and then a great deal more words ".repeat(5)
        );
        row.repo = "a-repository-with-a-long-name".into();
    }
    assert_snapshot!(plain(&app_of(rows), 80, 24));
}

fn review() -> ReviewState {
    let finding = |severity: &str, rule: &str, message: &str, path: &str, line| FindingRow {
        severity: severity.into(),
        rule: rule.into(),
        message: message.into(),
        path: Some(path.into()),
        line,
        target: None,
    };
    ReviewState::new(ReviewParts {
        id: "filter-report".into(),
        title: "Filter the report by status".into(),
        state: TaskState::Ready,
        attempt: 1,
        branch: "agenthost/filter-report".into(),
        reason: "checks done".into(),
        base: Some(BaseMoved {
            branch: "main".into(),
            commits: 2,
            conflicts: Vec::new(),
        }),
        spec: SpecSummary {
            what: vec!["Add a status filter to `summary()`.".into()],
            scope: vec![
                ("Modify".into(), "report.py".into()),
                ("Create".into(), "status.py".into()),
                ("Do NOT modify".into(), "api/**".into()),
            ],
            constraints: vec!["Do NOT change how items load".into()],
        },
        findings: vec![
            finding("error", "scope-guard/out-of-scope", "changed outside the Scope", "api/routes.py", None),
            finding("warning", "style/long-line", "line is long", "report.py", Some(2)),
        ],
        stat: vec![
            StatRow { kind: 'M', path: "report.py".into(), added: 2, removed: 2, binary: false },
            StatRow { kind: 'M', path: "api/routes.py".into(), added: 1, removed: 0, binary: false },
            StatRow { kind: 'A', path: "status.py".into(), added: 1, removed: 0, binary: false },
        ],
        patch: Ok("diff --git a/api/routes.py b/api/routes.py\nindex 1..2 100644\n--- a/api/routes.py\n+++ b/api/routes.py\n@@ -1 +1,2 @@\n ROUTES = {}\n+ROUTES['x'] = 1\ndiff --git a/report.py b/report.py\nindex 3..4 100644\n--- a/report.py\n+++ b/report.py\n@@ -1,2 +1,2 @@\n-def summary(items):\n-    return items\n+def summary(items, status=None):\n+    return [i for i in items if status in (None, i.status)]\ndiff --git a/status.py b/status.py\nnew file mode 100644\n--- /dev/null\n+++ b/status.py\n@@ -0,0 +1 @@\n+ACTIVE = \"active\"\n".into()),
    })
}

fn reviewing() -> App {
    let mut app = app_of(one_of_each());
    app.screen = Screen::Review(Box::new(review()));
    app
}

#[test]
fn review_at_the_top() {
    assert_snapshot!(plain(&reviewing(), 100, 30));
}

#[test]
fn review_at_a_finding_80x24() {
    let mut app = reviewing();
    app.apply(Action::NextFinding);
    assert_snapshot!(plain(&app, 80, 24));
}

#[test]
fn review_with_the_whole_summary_80x24() {
    let mut app = reviewing();
    app.apply(Action::Summary);
    assert_snapshot!(plain(&app, 80, 24));
}

#[test]
fn review_without_a_branch() {
    let mut app = app_of(one_of_each());
    let mut parts = review();
    parts.changes_error =
        Some("task `filter-report` has no branch `agenthost/filter-report` any more".into());
    parts.diff = Default::default();
    parts.top = 0;
    app.screen = Screen::Review(Box::new(parts));
    assert_snapshot!(plain(&app, 100, 24));
}

#[test]
fn log_follows_a_running_agent() {
    let mut app = app_of(one_of_each());
    app.screen = Screen::Logs(LogsState {
        id: "status-filter".into(),
        lines: (1..=40)
            .map(|n| format!("scripted-agent: step {n}"))
            .collect(),
        top: None,
        running: true,
    });
    assert_snapshot!(plain(&app, 80, 12));
}

#[test]
fn dialogs() {
    let mut app = app_of(one_of_each());
    // The result with 2 blocking findings.
    app.selected = 0;
    app.apply(Action::Accept);
    let accept = plain(&app, 80, 24);
    app.dialog = Some(Dialog::Input {
        purpose: Purpose::Correct("csv-export".into()),
        text: "also handle an empty list".into(),
    });
    let correct = plain(&app, 80, 24);
    app.dialog = None;
    app.apply(Action::Help);
    let help = plain(&app, 80, 24);
    app.dialog = None;
    app.apply(Action::Reject);
    let confirm = plain(&app, 80, 24);
    assert_snapshot!("accept_with_blocking_findings", accept);
    assert_snapshot!("correction_typed_inline", correct);
    assert_snapshot!("help_fits_80x24", help);
    assert_snapshot!("reject_asks_first", confirm);
}

#[test]
fn errors_and_offline_are_shown() {
    let mut app = app_of(one_of_each());
    app.say(
        "the supervisor says: task `csv-export` is running, not ready",
        true,
    );
    app.offline = Some("no supervisor answers; retrying".into());
    let text = plain(&app, 100, 24);
    assert!(
        text.contains("✗ the supervisor says: task `csv-export` is running, not ready"),
        "{text}"
    );
    assert!(
        text.contains("not live: no supervisor answers; retrying"),
        "{text}"
    );
}

#[test]
fn no_color_means_no_color() {
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("backend");
    let app = reviewing();
    terminal
        .draw(|frame| draw(frame, &app, Theme { color: false }))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    assert!(
        buffer
            .content
            .iter()
            .all(|cell| cell.fg == Color::Reset && cell.bg == Color::Reset),
        "a cell has a color under NO_COLOR"
    );
    // With colors, the diff is colored.
    terminal
        .draw(|frame| draw(frame, &app, Theme { color: true }))
        .expect("draw");
    assert!(
        terminal
            .backend()
            .buffer()
            .content
            .iter()
            .any(|cell| cell.fg == Color::Green)
    );
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = reviewing();
    app.apply(Action::Help);
    for (width, height) in [(1, 1), (10, 3), (20, 5), (80, 6)] {
        let _ = plain(&app, width, height);
        let _ = plain(&app_of(one_of_each()), width, height);
    }
}

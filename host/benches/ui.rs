#![allow(clippy::expect_used, missing_docs)]
//! Benchmark: the cockpit stays responsive with many tasks and big diffs. Measured into
//! ratatui's test backend (the drawing and diffing a real terminal gets, less the bytes
//! written to it):
//!
//! - `first_paint_1000_tasks`: grouping 1,000 tasks, the header, and the first frame;
//! - `open_review_10000_lines`: parsing a 10,000-line diff and its first frame;
//! - `scroll_step_10000_lines`: one line down in that diff, and the frame after it;
//! - `redraw_1000_tasks`: a frame of the queue as a key press or a tick redraws it.
//!
//! Run with `cargo bench -p agenthost --bench ui`. Numbers go into docs/ui-performance.md.

use agenthost::cli::ui::app::{App, Screen};
use agenthost::cli::ui::keys::Action;
use agenthost::cli::ui::model::{Bandwidth, Header, Queue, TaskRow};
use agenthost::cli::ui::review::{FindingRow, ReviewParts, ReviewState, SpecSummary};
use agenthost::cli::ui::view::{Theme, draw};
use agenthost::task::TaskState;
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOW: i64 = 1_795_996_800_000 + 15 * 3_600_000;

fn rows(count: usize) -> Vec<TaskRow> {
    let states = [
        TaskState::Ready,
        TaskState::Running,
        TaskState::Queued,
        TaskState::Queued,
        TaskState::Failed,
        TaskState::Accepted,
    ];
    (0..count)
        .map(|n| {
            let at = NOW - (count - n) as i64 * 60_000;
            TaskRow {
                id: format!("task-{n}"),
                title: format!("Task number {n}: do one well-scoped thing"),
                repo: format!("repo-{}", n % 7),
                state: states[n % states.len()],
                reason: "queued behind task-2, which admission holds".into(),
                created_ms: at,
                updated_ms: at,
                ready_since_ms: Some(at),
                attempt: 1,
                attempt_started_ms: Some(at),
                added: Some(12),
                removed: Some(3),
                last_line: Some("scripted-agent: edited src/lib.rs".into()),
                ..TaskRow::default()
            }
        })
        .collect()
}

fn app(count: usize) -> App {
    let queue = Queue::build(rows(count), NOW);
    let header = Header::new(&queue, Bandwidth::default(), NOW);
    App::new(queue, header, NOW)
}

/// A diff of at least `lines` lines: files of 5 hunks, 20 changed lines each.
fn patch(lines: usize) -> String {
    let mut text = String::new();
    let mut written = 0;
    let mut file = 0;
    while written < lines {
        text.push_str(&format!(
            "diff --git a/src/f{file}.rs b/src/f{file}.rs\nindex 1..2 100644\n--- a/src/f{file}.rs\n+++ b/src/f{file}.rs\n"
        ));
        written += 4;
        for hunk in 0..5 {
            text.push_str(&format!("@@ -{0},10 +{0},10 @@\n", hunk * 30 + 1));
            for line in 0..10 {
                text.push_str(&format!("-    let old_{line} = compute({hunk}, {line});\n"));
                text.push_str(&format!(
                    "+    let new_{line} = compute({hunk}, {line}) + 1;\n"
                ));
            }
            written += 21;
        }
        file += 1;
    }
    text
}

fn review(lines: usize) -> ReviewState {
    ReviewState::new(ReviewParts {
        id: "big".into(),
        title: "A big change".into(),
        state: TaskState::Ready,
        attempt: 1,
        branch: "agenthost/big".into(),
        reason: String::new(),
        base: None,
        spec: SpecSummary::default(),
        findings: vec![FindingRow {
            severity: "warning".into(),
            rule: "diff-size/too-many-lines".into(),
            message: "too big to review".into(),
            path: Some("src/f50.rs".into()),
            line: Some(40),
            target: None,
        }],
        stat: Vec::new(),
        patch: Ok(patch(lines)),
    })
}

fn bench(c: &mut Criterion) {
    let theme = Theme { color: true };
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("backend");
    c.bench_function("first_paint_1000_tasks", |b| {
        b.iter(|| {
            let app = app(1000);
            terminal.draw(|f| draw(f, &app, theme)).expect("draw");
        });
    });
    let mut queue = app(1000);
    queue.apply(Action::Bottom);
    c.bench_function("redraw_1000_tasks", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(f, &queue, theme)).expect("draw");
        });
    });
    let diff = patch(10_000);
    assert!(diff.lines().count() >= 10_000, "{}", diff.lines().count());
    c.bench_function("open_review_10000_lines", |b| {
        b.iter(|| {
            let mut app = app(10);
            app.screen = Screen::Review(Box::new(review(10_000)));
            terminal.draw(|f| draw(f, &app, theme)).expect("draw");
        });
    });
    let mut reviewing = app(10);
    reviewing.screen = Screen::Review(Box::new(review(10_000)));
    reviewing.apply(Action::NextFinding);
    c.bench_function("scroll_step_10000_lines", |b| {
        b.iter(|| {
            // Near the end, back to the top: every step draws a full screen of diff.
            if let Screen::Review(review) = &reviewing.screen
                && review.top + 100 > review.diff.lines.len()
            {
                reviewing.apply(Action::Top);
            }
            reviewing.apply(Action::Down);
            terminal.draw(|f| draw(f, &reviewing, theme)).expect("draw");
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

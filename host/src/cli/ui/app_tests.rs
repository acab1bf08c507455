//! The state machine, action by action.

use super::*;
use crate::cli::ui::model::{Bandwidth, TaskRow};

fn row(id: &str, state: TaskState) -> TaskRow {
    TaskRow {
        id: id.into(),
        state,
        ready_since_ms: (state == TaskState::Ready).then_some(0),
        blocking: usize::from(id == "blocked"),
        ..TaskRow::default()
    }
}

fn app() -> App {
    let queue = Queue::build(
        vec![
            row("ready", TaskState::Ready),
            row("blocked", TaskState::Ready),
            row("runs", TaskState::Running),
            row("broke", TaskState::Failed),
        ],
        0,
    );
    let header = Header::new(&queue, Bandwidth::default(), 0);
    App::new(queue, header, 0)
}

#[test]
fn moving_stays_inside_the_queue() {
    let mut app = app();
    app.apply(Action::Up);
    assert_eq!(app.selected, 0);
    app.apply(Action::Bottom);
    assert_eq!(app.selected, 3);
    app.apply(Action::Down);
    assert_eq!(app.selected, 3);
    app.apply(Action::Top);
    assert_eq!(app.selected, 0);
}

#[test]
fn open_is_the_review_or_the_log() {
    let mut app = app();
    assert_eq!(
        app.apply(Action::Open),
        Some(Effect::OpenReview("ready".into()))
    );
    app.selected = 2;
    assert_eq!(
        app.apply(Action::Open),
        Some(Effect::OpenLogs("runs".into()))
    );
    assert_eq!(
        app.apply(Action::Logs),
        Some(Effect::OpenLogs("runs".into()))
    );
}

#[test]
fn accept_asks_how_squash_by_default() {
    let mut app = app();
    assert_eq!(app.apply(Action::Accept), None);
    assert_eq!(
        app.dialog,
        Some(Dialog::Accept {
            id: "ready".into(),
            blocking: 0
        })
    );
    assert_eq!(app.place(), Place::Accept);
    let effect = app.apply(Action::Strategy(Strategy::Squash));
    assert_eq!(
        effect,
        Some(Effect::Request {
            request: Request::Accept {
                id: "ready".into(),
                strategy: Strategy::Squash,
                force: false
            },
            done: "accepted ready (squash)".into()
        })
    );
    assert_eq!(app.dialog, None);
    // Forcing past blocking findings.
    app.selected = 1;
    app.apply(Action::Accept);
    assert_eq!(
        app.dialog,
        Some(Dialog::Accept {
            id: "blocked".into(),
            blocking: 1
        })
    );
    let Some(Effect::Request {
        request: Request::Accept { force, .. },
        ..
    }) = app.apply(Action::Force)
    else {
        panic!("force accepts");
    };
    assert!(force);
}

#[test]
fn reject_and_cancel_ask_first() {
    let mut app = app();
    assert_eq!(app.apply(Action::Reject), None);
    assert_eq!(app.place(), Place::Confirm);
    // No: nothing happens.
    assert_eq!(app.apply(Action::Back), None);
    assert_eq!(app.dialog, None);
    app.apply(Action::Reject);
    assert_eq!(
        app.apply(Action::Confirm),
        Some(Effect::Request {
            request: Request::Reject { id: "ready".into() },
            done: "rejected ready: worktree and branch removed".into()
        })
    );
    app.selected = 2;
    app.apply(Action::Cancel);
    let Some(Effect::Request { request, .. }) = app.apply(Action::Confirm) else {
        panic!("cancel after yes");
    };
    assert_eq!(request, Request::Cancel { id: "runs".into() });
    app.selected = 3;
    let Some(Effect::Request { request, .. }) = app.apply(Action::Resume) else {
        panic!("resume at once");
    };
    assert_eq!(request, Request::Resume { id: "broke".into() });
}

#[test]
fn a_correction_is_typed_then_sent() {
    let mut app = app();
    app.apply(Action::Correct);
    assert_eq!(app.place(), Place::Input);
    // Empty: refused with a word, the dialog stays.
    assert_eq!(app.apply(Action::Submit), None);
    assert!(app.status.as_ref().is_some_and(|s| s.error));
    assert_eq!(app.place(), Place::Input);
    for c in "fix itx".chars() {
        app.apply(Action::Char(c));
    }
    app.apply(Action::Backspace);
    assert_eq!(
        app.apply(Action::Submit),
        Some(Effect::Request {
            request: Request::Correct {
                id: "ready".into(),
                message: "fix it".into()
            },
            done: "ready queued again with the correction".into()
        })
    );
    app.apply(Action::Correct);
    app.apply(Action::Char('a'));
    assert_eq!(
        app.apply(Action::Editor),
        Some(Effect::Editor {
            id: "ready".into(),
            text: "a".into()
        })
    );
}

#[test]
fn launch_asks_for_a_path() {
    let mut app = app();
    app.apply(Action::Launch);
    for c in " specs/a.md ".chars() {
        app.apply(Action::Char(c));
    }
    assert_eq!(
        app.apply(Action::Submit),
        Some(Effect::Launch("specs/a.md".into()))
    );
}

#[test]
fn an_empty_queue_says_what_to_do() {
    let mut app = App::new(Queue::default(), Header::default(), 0);
    assert_eq!(app.apply(Action::Accept), None);
    assert_eq!(
        app.status,
        Some(Status {
            text: "no task selected: launch one with L".into(),
            error: true
        })
    );
    assert_eq!(app.apply(Action::Quit), Some(Effect::Quit));
}

#[test]
fn the_selection_follows_its_task() {
    let mut app = app();
    app.selected = 2; // runs
    let queue = Queue::build(
        vec![
            row("ready", TaskState::Ready),
            row("runs", TaskState::Running),
        ],
        0,
    );
    let header = Header::new(&queue, Bandwidth::default(), 0);
    app.set_tasks(queue, header);
    assert_eq!(app.selected_row().map(|r| r.id.as_str()), Some("runs"));
    app.set_tasks(Queue::default(), Header::default());
    assert_eq!(app.selected, 0);
}

#[test]
fn the_log_follows_its_end_until_scrolled() {
    let mut app = app();
    app.page = 2;
    app.screen = Screen::Logs(LogsState {
        id: "runs".into(),
        lines: (0..10).map(|n| n.to_string()).collect(),
        top: None,
        running: true,
    });
    app.apply(Action::Up);
    let Screen::Logs(logs) = &app.screen else {
        panic!("logs")
    };
    assert_eq!(logs.top, Some(7));
    app.apply(Action::Bottom);
    let Screen::Logs(logs) = &app.screen else {
        panic!("logs")
    };
    assert_eq!(logs.top, None);
    app.apply(Action::Back);
    assert_eq!(app.screen, Screen::Queue);
}

//! The cockpit's state machine: which screen and dialog are up, which task is selected,
//! what the status line says; [`App::apply`] turns an [`Action`] into the next state and,
//! where the world must change, an [`Effect`] for the loop to carry out (a supervisor
//! request, opening a review, `$EDITOR`). Pure: no I/O, no clock.

use super::keys::{Action, Place};
use super::model::{Header, Queue, TaskRow};
use super::review::ReviewState;
use crate::supervisor::protocol::Request;
use crate::task::TaskState;
use crate::task::accept::Strategy;

/// What the loop must do for an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Leave the cockpit.
    Quit,
    /// Send a request to the supervisor; say `done` when it succeeds.
    Request {
        /// The request.
        request: Request,
        /// What to say on success.
        done: String,
    },
    /// Open the review of the task.
    OpenReview(String),
    /// Open the log of the task.
    OpenLogs(String),
    /// Write the correction for the task in `$EDITOR`, starting from the text typed so far.
    Editor {
        /// The task.
        id: String,
        /// What was typed.
        text: String,
    },
    /// Launch the spec file at this path.
    Launch(String),
}

/// A task's log, as shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsState {
    /// The task.
    pub id: String,
    /// The log's lines (or what to say instead of them).
    pub lines: Vec<String>,
    /// The first line on screen; `None` follows the end.
    pub top: Option<usize>,
    /// Whether the task still runs (its log grows).
    pub running: bool,
}

/// The screen under any dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// Every task, grouped.
    Queue,
    /// One task's review.
    Review(Box<ReviewState>),
    /// One task's log.
    Logs(LogsState),
}

/// What a typed line is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// A correction for this task.
    Correct(String),
    /// The path of a spec to launch.
    Launch,
}

/// A dialog over the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    /// The keys.
    Help,
    /// Asks before `effect` throws work away.
    Confirm {
        /// The question.
        question: String,
        /// What yes does.
        effect: Effect,
    },
    /// How to accept the task.
    Accept {
        /// The task.
        id: String,
        /// Its blocking findings.
        blocking: usize,
    },
    /// A line being typed.
    Input {
        /// For what.
        purpose: Purpose,
        /// What is typed so far.
        text: String,
    },
}

/// The status line: the last thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// What to say.
    pub text: String,
    /// Whether it is a failure.
    pub error: bool,
}

/// The whole state of the cockpit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The tasks, grouped.
    pub queue: Queue,
    /// The header's numbers.
    pub header: Header,
    /// Now, for the durations shown (Unix milliseconds).
    pub now_ms: i64,
    /// The selected task's position in the queue.
    pub selected: usize,
    /// The screen.
    pub screen: Screen,
    /// The dialog over it.
    pub dialog: Option<Dialog>,
    /// The status line.
    pub status: Option<Status>,
    /// Why live updates are off (no supervisor to watch), when they are.
    pub offline: Option<String>,
    /// Lines a page moves (the screen's height less its frame).
    pub page: usize,
}

impl App {
    /// The cockpit on the queue, first task selected.
    pub fn new(queue: Queue, header: Header, now_ms: i64) -> App {
        App {
            queue,
            header,
            now_ms,
            selected: 0,
            screen: Screen::Queue,
            dialog: None,
            status: None,
            offline: None,
            page: 10,
        }
    }

    /// New data: the same task stays selected where it is still shown.
    pub fn set_tasks(&mut self, queue: Queue, header: Header) {
        let id = self.selected_row().map(|r| r.id.clone());
        self.queue = queue;
        self.header = header;
        self.selected = id
            .and_then(|id| self.queue.position(&id))
            .unwrap_or(self.selected)
            .min(self.queue.len().saturating_sub(1));
    }

    /// The selected task.
    pub fn selected_row(&self) -> Option<&TaskRow> {
        self.queue.row(self.selected)
    }

    /// Says something on the status line.
    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status {
            text: text.into(),
            error,
        });
    }

    /// Where keys are pressed now.
    pub fn place(&self) -> Place {
        match (&self.dialog, &self.screen) {
            (Some(Dialog::Help), _) => Place::Help,
            (Some(Dialog::Confirm { .. }), _) => Place::Confirm,
            (Some(Dialog::Accept { .. }), _) => Place::Accept,
            (Some(Dialog::Input { .. }), _) => Place::Input,
            (None, Screen::Queue) => Place::Queue,
            (None, Screen::Review(_)) => Place::Review,
            (None, Screen::Logs(_)) => Place::Logs,
        }
    }

    /// The task an action is about: the review's, else the selected one.
    fn target(&self) -> Option<(String, usize, Option<TaskState>)> {
        match &self.screen {
            Screen::Review(review) => Some((
                review.parts.id.clone(),
                review.blocking(),
                Some(review.parts.state),
            )),
            Screen::Logs(logs) => Some((logs.id.clone(), 0, None)),
            Screen::Queue => self
                .selected_row()
                .map(|r| (r.id.clone(), r.blocking, Some(r.state))),
        }
    }

    /// Carries out `action`; returns what the loop must do, if anything.
    pub fn apply(&mut self, action: Action) -> Option<Effect> {
        if action == Action::Quit {
            return Some(Effect::Quit);
        }
        if let Some(dialog) = self.dialog.take() {
            return self.in_dialog(dialog, action);
        }
        match action {
            Action::Help => {
                self.dialog = Some(Dialog::Help);
                None
            }
            Action::Back => {
                self.screen = Screen::Queue;
                None
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => {
                self.move_by(action);
                None
            }
            Action::NextHunk
            | Action::PrevHunk
            | Action::NextFile
            | Action::PrevFile
            | Action::NextFinding
            | Action::PrevFinding => {
                self.in_diff(action);
                None
            }
            Action::Summary => {
                if let Screen::Review(review) = &mut self.screen {
                    review.whole_summary = !review.whole_summary;
                }
                None
            }
            Action::Launch => {
                self.dialog = Some(Dialog::Input {
                    purpose: Purpose::Launch,
                    text: String::new(),
                });
                None
            }
            _ => self.on_task(action),
        }
    }

    /// The actions about one task.
    fn on_task(&mut self, action: Action) -> Option<Effect> {
        let Some((id, blocking, state)) = self.target() else {
            self.say("no task selected: launch one with L", true);
            return None;
        };
        match action {
            Action::Open => Some(match state {
                Some(TaskState::Queued | TaskState::Running | TaskState::Checking) => {
                    Effect::OpenLogs(id)
                }
                _ => Effect::OpenReview(id),
            }),
            Action::Logs => Some(Effect::OpenLogs(id)),
            Action::Accept => {
                self.dialog = Some(Dialog::Accept { id, blocking });
                None
            }
            Action::Correct => {
                self.dialog = Some(Dialog::Input {
                    purpose: Purpose::Correct(id),
                    text: String::new(),
                });
                None
            }
            Action::Reject => {
                self.dialog = Some(Dialog::Confirm {
                    question: format!(
                        "Reject {id}? Its worktree and branch are removed (record and logs kept)."
                    ),
                    effect: Effect::Request {
                        done: format!("rejected {id}: worktree and branch removed"),
                        request: Request::Reject { id },
                    },
                });
                None
            }
            Action::Cancel => {
                self.dialog = Some(Dialog::Confirm {
                    question: format!(
                        "Cancel {id}? Its agent is stopped and its work thrown away."
                    ),
                    effect: Effect::Request {
                        done: format!("cancelling {id}"),
                        request: Request::Cancel { id },
                    },
                });
                None
            }
            Action::Resume => Some(Effect::Request {
                done: format!("{id} queued again"),
                request: Request::Resume { id },
            }),
            _ => None,
        }
    }

    /// Keys while a dialog is up.
    fn in_dialog(&mut self, dialog: Dialog, action: Action) -> Option<Effect> {
        match (dialog, action) {
            (_, Action::Back) => None,
            (Dialog::Confirm { effect, .. }, Action::Confirm) => Some(effect),
            (Dialog::Accept { id, .. }, Action::Strategy(strategy)) => {
                Some(accept(id, strategy, false))
            }
            (Dialog::Accept { id, .. }, Action::Force) => Some(accept(id, Strategy::Squash, true)),
            (Dialog::Input { purpose, text }, Action::Submit) => match purpose {
                Purpose::Correct(id) if text.trim().is_empty() => {
                    self.say(
                        "the correction is empty: say what the agent should change",
                        true,
                    );
                    self.dialog = Some(Dialog::Input {
                        purpose: Purpose::Correct(id),
                        text,
                    });
                    None
                }
                Purpose::Correct(id) => Some(Effect::Request {
                    done: format!("{id} queued again with the correction"),
                    request: Request::Correct { id, message: text },
                }),
                Purpose::Launch if text.trim().is_empty() => None,
                Purpose::Launch => Some(Effect::Launch(text.trim().to_string())),
            },
            (Dialog::Input { purpose, text }, Action::Editor) => match purpose {
                Purpose::Correct(id) => Some(Effect::Editor { id, text }),
                Purpose::Launch => {
                    self.dialog = Some(Dialog::Input {
                        purpose: Purpose::Launch,
                        text,
                    });
                    None
                }
            },
            (Dialog::Input { purpose, mut text }, Action::Char(c)) => {
                text.push(c);
                self.dialog = Some(Dialog::Input { purpose, text });
                None
            }
            (Dialog::Input { purpose, mut text }, Action::Backspace) => {
                text.pop();
                self.dialog = Some(Dialog::Input { purpose, text });
                None
            }
            // Anything else leaves the dialog as it is.
            (dialog, _) => {
                self.dialog = Some(dialog);
                None
            }
        }
    }

    /// Moves the selection, or scrolls the diff or the log.
    fn move_by(&mut self, action: Action) {
        let page = self.page.max(1) as isize;
        let delta: isize = match action {
            Action::Up => -1,
            Action::Down => 1,
            Action::PageUp => -page,
            Action::PageDown => page,
            Action::Top => isize::MIN / 2,
            _ => isize::MAX / 2,
        };
        match &mut self.screen {
            Screen::Queue => {
                let last = self.queue.len().saturating_sub(1);
                self.selected = self.selected.saturating_add_signed(delta).min(last);
            }
            Screen::Review(review) => review.scroll(delta),
            Screen::Logs(logs) => {
                let last = logs.lines.len().saturating_sub(self.page.max(1));
                let top = logs.top.unwrap_or(last).saturating_add_signed(delta);
                // Back at the end: follow again.
                logs.top = (top < last).then_some(top);
            }
        }
    }

    /// Moves through the diff by hunk, file or finding.
    fn in_diff(&mut self, action: Action) {
        let Screen::Review(review) = &mut self.screen else {
            return;
        };
        let at = review.top;
        let to = match action {
            Action::NextHunk => review.diff.next_hunk(at),
            Action::PrevHunk => review.diff.prev_hunk(at),
            Action::NextFile => review.diff.next_file(at),
            Action::PrevFile => review.diff.prev_file(at),
            _ => {
                let forward = action == Action::NextFinding;
                if !review.jump_finding(forward) {
                    self.say("no finding points at a line of this diff", false);
                }
                return;
            }
        };
        match to {
            Some(line) => review.show(line),
            None => self.say("no more in that direction", false),
        }
    }
}

fn accept(id: String, strategy: Strategy, force: bool) -> Effect {
    let how = match strategy {
        Strategy::Squash => "squash",
        Strategy::Merge => "merge",
        Strategy::Rebase => "rebase",
    };
    Effect::Request {
        done: format!(
            "accepted {id} ({how}{})",
            if force { ", forced" } else { "" }
        ),
        request: Request::Accept {
            id,
            strategy,
            force,
        },
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;

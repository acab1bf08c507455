//! Keys to actions: a pure function of where the person is and the key pressed, so the
//! whole key map is tested without a terminal. The help screen lists [`HELP`].

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::task::accept::Strategy;

/// Where a key is pressed: the screen, or the dialog over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The queue of tasks.
    Queue,
    /// A task's review.
    Review,
    /// A task's log.
    Logs,
    /// A yes/no question before throwing work away.
    Confirm,
    /// Choosing how to accept.
    Accept,
    /// Typing a line (a correction, a spec's path).
    Input,
    /// The key help.
    Help,
}

/// What the person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the cockpit.
    Quit,
    /// Back to the queue (or close the dialog).
    Back,
    /// Show or hide the keys.
    Help,
    /// Move up one.
    Up,
    /// Move down one.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// To the top.
    Top,
    /// To the bottom.
    Bottom,
    /// Open the selected task: its review (its log while it runs or waits).
    Open,
    /// The next hunk.
    NextHunk,
    /// The previous hunk.
    PrevHunk,
    /// The next file.
    NextFile,
    /// The previous file.
    PrevFile,
    /// The next finding, in the diff.
    NextFinding,
    /// The previous finding, in the diff.
    PrevFinding,
    /// Show all of the review's summary above the diff, or only its first part.
    Summary,
    /// Accept the task (asks how).
    Accept,
    /// Send a correction (asks for it).
    Correct,
    /// Throw the task's work away (asks first).
    Reject,
    /// Stop a queued or running task and throw its work away (asks first).
    Cancel,
    /// Queue a failed or interrupted task again.
    Resume,
    /// Show the task's log, following it while it runs.
    Logs,
    /// Launch a spec file (asks for its path).
    Launch,
    /// Yes.
    Confirm,
    /// Accept with this strategy.
    Strategy(Strategy),
    /// Accept despite blocking findings, by squash.
    Force,
    /// Type a character.
    Char(char),
    /// Delete the character before the cursor.
    Backspace,
    /// Send what was typed.
    Submit,
    /// Write it in `$EDITOR` instead.
    Editor,
}

/// The keys, as the help screen lists them: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("j k ↓ ↑", "move; scroll the diff or the log"),
    ("PgDn PgUp space", "a page down or up"),
    ("g G Home End", "to the top or the bottom"),
    ("Enter", "open the task: its review (its log while it runs)"),
    ("] [", "next or previous hunk (review)"),
    ("} {", "next or previous file (review)"),
    ("n N", "next or previous finding, at its line (review)"),
    (
        "i",
        "the whole summary above the diff, or its start (review)",
    ),
    (
        "a",
        "accept: Enter squash, m merge, b rebase, F despite blocking findings",
    ),
    (
        "c",
        "correct: type the correction (Ctrl-E: in $EDITOR), Enter sends",
    ),
    ("r", "reject: worktree and branch removed (asks first)"),
    ("x", "cancel a queued or running task (asks first)"),
    ("R", "resume a failed or interrupted task"),
    ("l", "the task's log, followed while it runs"),
    ("L", "launch a spec file"),
    ("?", "this help"),
    (
        "Esc q",
        "back; q on the queue quits (Ctrl-C quits anywhere)",
    ),
];

/// The action for `key` at `place`, if the key means anything there.
pub fn action(place: Place, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    match place {
        Place::Input => input(key, ctrl),
        Place::Confirm => match key.code {
            KeyCode::Char('y' | 'Y') => Some(Action::Confirm),
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => Some(Action::Back),
            _ => None,
        },
        Place::Accept => match key.code {
            KeyCode::Enter | KeyCode::Char('s' | 'y') => Some(Action::Strategy(Strategy::Squash)),
            KeyCode::Char('m') => Some(Action::Strategy(Strategy::Merge)),
            KeyCode::Char('b') => Some(Action::Strategy(Strategy::Rebase)),
            KeyCode::Char('F') => Some(Action::Force),
            KeyCode::Char('n' | 'q') | KeyCode::Esc => Some(Action::Back),
            _ => None,
        },
        Place::Help => match key.code {
            KeyCode::Char('?' | 'q') | KeyCode::Esc | KeyCode::Enter => Some(Action::Back),
            _ => None,
        },
        Place::Queue | Place::Review | Place::Logs => screen(place, key),
    }
}

/// Keys while typing: everything printable is text.
fn input(key: KeyEvent, ctrl: bool) -> Option<Action> {
    match key.code {
        KeyCode::Char('e') if ctrl => Some(Action::Editor),
        KeyCode::Char(c) if !ctrl => Some(Action::Char(c)),
        KeyCode::Backspace => Some(Action::Backspace),
        KeyCode::Enter => Some(Action::Submit),
        KeyCode::Esc => Some(Action::Back),
        _ => None,
    }
}

/// Keys on a screen.
fn screen(place: Place, key: KeyEvent) -> Option<Action> {
    let on_task = matches!(place, Place::Queue | Place::Review);
    let action = match key.code {
        KeyCode::Char('q') if place == Place::Queue => Action::Quit,
        KeyCode::Char('q') | KeyCode::Esc => Action::Back,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('j') | KeyCode::Down => Action::Down,
        KeyCode::Char('k') | KeyCode::Up => Action::Up,
        KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::Char('g') | KeyCode::Home => Action::Top,
        KeyCode::Char('G') | KeyCode::End => Action::Bottom,
        KeyCode::Enter if place == Place::Queue => Action::Open,
        KeyCode::Char(']') if place == Place::Review => Action::NextHunk,
        KeyCode::Char('[') if place == Place::Review => Action::PrevHunk,
        KeyCode::Char('}') if place == Place::Review => Action::NextFile,
        KeyCode::Char('{') if place == Place::Review => Action::PrevFile,
        KeyCode::Char('n') if place == Place::Review => Action::NextFinding,
        KeyCode::Char('N') if place == Place::Review => Action::PrevFinding,
        KeyCode::Char('i') if place == Place::Review => Action::Summary,
        KeyCode::Char('a') if on_task => Action::Accept,
        KeyCode::Char('c') if on_task => Action::Correct,
        KeyCode::Char('r') if on_task => Action::Reject,
        KeyCode::Char('x') if on_task => Action::Cancel,
        KeyCode::Char('R') if on_task => Action::Resume,
        KeyCode::Char('l') if on_task => Action::Logs,
        KeyCode::Char('L') if place == Place::Queue => Action::Launch,
        _ => return None,
    };
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    #[test]
    fn the_queue() {
        let on = |k| action(Place::Queue, k);
        assert_eq!(on(ch('q')), Some(Action::Quit));
        assert_eq!(on(ch('j')), Some(Action::Down));
        assert_eq!(on(key(KeyCode::Up)), Some(Action::Up));
        assert_eq!(on(key(KeyCode::Enter)), Some(Action::Open));
        assert_eq!(on(ch('a')), Some(Action::Accept));
        assert_eq!(on(ch('c')), Some(Action::Correct));
        assert_eq!(on(ch('r')), Some(Action::Reject));
        assert_eq!(on(ch('x')), Some(Action::Cancel));
        assert_eq!(on(ch('R')), Some(Action::Resume));
        assert_eq!(on(ch('l')), Some(Action::Logs));
        assert_eq!(on(ch('L')), Some(Action::Launch));
        assert_eq!(on(ch('?')), Some(Action::Help));
        // Review-only keys mean nothing here.
        assert_eq!(on(ch(']')), None);
        assert_eq!(on(ch('n')), None);
        assert_eq!(on(ch('z')), None);
    }

    #[test]
    fn the_review() {
        let on = |k| action(Place::Review, k);
        assert_eq!(on(ch('q')), Some(Action::Back));
        assert_eq!(on(key(KeyCode::Esc)), Some(Action::Back));
        assert_eq!(on(ch(']')), Some(Action::NextHunk));
        assert_eq!(on(ch('[')), Some(Action::PrevHunk));
        assert_eq!(on(ch('}')), Some(Action::NextFile));
        assert_eq!(on(ch('{')), Some(Action::PrevFile));
        assert_eq!(on(ch('n')), Some(Action::NextFinding));
        assert_eq!(on(ch('N')), Some(Action::PrevFinding));
        assert_eq!(on(ch(' ')), Some(Action::PageDown));
        assert_eq!(on(ch('a')), Some(Action::Accept));
        assert_eq!(on(ch('L')), None);
    }

    #[test]
    fn the_log_has_no_task_actions() {
        let on = |k| action(Place::Logs, k);
        assert_eq!(on(ch('G')), Some(Action::Bottom));
        assert_eq!(on(ch('q')), Some(Action::Back));
        assert_eq!(on(ch('a')), None);
        assert_eq!(on(ch('r')), None);
    }

    #[test]
    fn dialogs() {
        assert_eq!(action(Place::Confirm, ch('y')), Some(Action::Confirm));
        assert_eq!(action(Place::Confirm, ch('n')), Some(Action::Back));
        // Anything else is not a yes.
        assert_eq!(action(Place::Confirm, key(KeyCode::Enter)), None);
        assert_eq!(
            action(Place::Accept, key(KeyCode::Enter)),
            Some(Action::Strategy(Strategy::Squash))
        );
        assert_eq!(
            action(Place::Accept, ch('m')),
            Some(Action::Strategy(Strategy::Merge))
        );
        assert_eq!(
            action(Place::Accept, ch('b')),
            Some(Action::Strategy(Strategy::Rebase))
        );
        assert_eq!(action(Place::Accept, ch('F')), Some(Action::Force));
        assert_eq!(action(Place::Help, key(KeyCode::Esc)), Some(Action::Back));
    }

    #[test]
    fn typing_takes_every_character() {
        let on = |k| action(Place::Input, k);
        assert_eq!(on(ch('q')), Some(Action::Char('q')));
        assert_eq!(on(ch('?')), Some(Action::Char('?')));
        assert_eq!(on(key(KeyCode::Enter)), Some(Action::Submit));
        assert_eq!(on(key(KeyCode::Backspace)), Some(Action::Backspace));
        assert_eq!(on(key(KeyCode::Esc)), Some(Action::Back));
        assert_eq!(
            on(KeyEvent::new(KeyCode::Char('e'), KeyModifiers::CONTROL)),
            Some(Action::Editor)
        );
    }

    #[test]
    fn ctrl_c_quits_anywhere_and_releases_are_ignored() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for place in [
            Place::Queue,
            Place::Review,
            Place::Logs,
            Place::Confirm,
            Place::Accept,
            Place::Input,
            Place::Help,
        ] {
            assert_eq!(action(place, ctrl_c), Some(Action::Quit), "{place:?}");
        }
        let mut release = ch('q');
        release.kind = KeyEventKind::Release;
        assert_eq!(action(Place::Queue, release), None);
    }
}

//! Drawing the cockpit: one function per part of the screen, each a pure function of the
//! [`App`] into a ratatui frame. Only what is on screen is formatted: the queue's rows in
//! view and the diff's lines in view, whatever the number of tasks or the size of the diff.

mod dialog;
mod header;
mod logs;
mod queue;
mod review;
mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub use theme::Theme;

use super::app::{App, Screen};

/// Rows the header and the status line take.
pub const CHROME: u16 = 3;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: Theme) {
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    header::draw(frame, top, app, theme);
    match &app.screen {
        Screen::Queue => queue::draw(frame, body, app, theme),
        Screen::Review(review) => review::draw(frame, body, review, theme),
        Screen::Logs(logs) => logs::draw(frame, body, logs, theme),
    }
    status(frame, bottom, app, theme);
    if let Some(dialog) = &app.dialog {
        dialog::draw(frame, frame.area(), dialog, theme);
    }
}

/// The bottom line: the last thing that happened, else the keys that matter here.
fn status(frame: &mut Frame<'_>, area: ratatui::layout::Rect, app: &App, theme: Theme) {
    let line = match &app.status {
        Some(status) if status.error => {
            Line::from(Span::styled(format!("✗ {}", status.text), theme.error()))
        }
        Some(status) => Line::from(Span::styled(format!("✓ {}", status.text), theme.ok())),
        None => Line::from(Span::styled(
            match app.screen {
                Screen::Queue => {
                    "Enter review · a accept · c correct · r reject · L launch · ? keys · q quit"
                }
                Screen::Review(_) => {
                    "]/[ hunk · }/{ file · n/N finding · a accept · c correct · r reject · Esc back"
                }
                Screen::Logs(_) => "j/k scroll · G follow the end · Esc back",
            },
            theme.dim(),
        )),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// `text` cut to `width` characters, with `…` where it was cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// `text` cut or padded to exactly `width` characters.
pub fn cell(text: &str, width: usize) -> String {
    format!("{:<width$}", fit(text, width))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

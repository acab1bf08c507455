//! A task's log, following its end while the task runs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::{Theme, fit};
use crate::cli::ui::app::LogsState;

/// Draws the log into `area`: the end of it, or from where the reader scrolled to.
pub(super) fn draw(frame: &mut Frame<'_>, area: Rect, logs: &LogsState, theme: Theme) {
    let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let height = usize::from(body.height);
    let last = logs.lines.len().saturating_sub(height);
    let top = logs.top.unwrap_or(last).min(last);
    let title = format!(
        "── log of {} · {} · lines {}-{} of {} ",
        logs.id,
        match (logs.running, logs.top) {
            (true, None) => "following",
            (true, Some(_)) => "running (G follows)",
            (false, _) => "done",
        },
        (top + 1).min(logs.lines.len()),
        (top + height).min(logs.lines.len()),
        logs.lines.len()
    );
    let fill = usize::from(area.width).saturating_sub(title.chars().count());
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!("{title}{}", "─".repeat(fill)),
            theme.dim(),
        )),
        bar,
    );
    let width = usize::from(body.width);
    let lines: Vec<Line<'static>> = logs.lines[top..(top + height).min(logs.lines.len())]
        .iter()
        .map(|l| Line::raw(fit(&l.replace('\t', "    "), width)))
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}

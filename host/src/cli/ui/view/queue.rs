//! The queue: a section per thing to do, a line per task with what matters for it. Only
//! the lines in view are formatted, so a thousand tasks draw as fast as ten.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, cell, fit};
use crate::cli::ui::app::App;
use crate::cli::ui::model::{Group, REVIEW_MARK_MS, TaskRow, short_duration};
use crate::task::TaskState;

/// Draws the queue into `area`, scrolled so that the selected task is in view.
pub(super) fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let height = usize::from(area.height);
    if app.queue.is_empty() {
        let lines = vec![
            Line::raw(""),
            Line::styled("  No tasks yet.", theme.heading()),
            Line::raw("  Press L to launch a spec file, or run `agenthost launch SPEC` anywhere:"),
            Line::raw("  tasks of every repository show up here as they change."),
        ];
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    // Line numbers: each section is a heading, its rows, then a blank line.
    let mut selected_line = 0;
    let mut line = 0;
    let mut index = 0;
    for section in &app.queue.sections {
        line += 1;
        if (index..index + section.rows.len()).contains(&app.selected) {
            selected_line = line + app.selected - index;
        }
        index += section.rows.len();
        line += section.rows.len() + 1;
    }
    let offset = (selected_line + 2).saturating_sub(height);
    let width = usize::from(area.width);
    let mut lines = Vec::with_capacity(height);
    let mut at = 0;
    let mut index = 0;
    let visible = |at: usize| (offset..offset + height).contains(&at);
    for section in &app.queue.sections {
        if at >= offset + height {
            break;
        }
        if visible(at) {
            lines.push(Line::styled(
                format!("{} ({})", section.group.title(), section.rows.len()),
                theme.heading(),
            ));
        }
        at += 1;
        // Skip straight to the rows in view.
        let first = offset.saturating_sub(at).min(section.rows.len());
        for (n, row) in section.rows.iter().enumerate().skip(first) {
            if at + n >= offset + height {
                break;
            }
            let selected = index + n == app.selected;
            lines.push(row_line(
                section.group,
                row,
                app.now_ms,
                width,
                selected,
                theme,
            ));
        }
        at += section.rows.len();
        index += section.rows.len();
        if visible(at) {
            lines.push(Line::raw(""));
        }
        at += 1;
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// One task's line, in the same columns whatever its group: the title, the repository,
/// a time (waited for review, running, queued), and what else its group needs.
fn row_line(
    group: Group,
    row: &TaskRow,
    now: i64,
    width: usize,
    selected: bool,
    theme: Theme,
) -> Line<'static> {
    let title_width = (width.saturating_sub(2) * 3 / 8).max(16);
    let repo_width = if width >= 80 { 12 } else { 0 };
    let (time, time_style) = match group {
        Group::NeedsReview => {
            let waited = now - row.ready_since_ms.unwrap_or(row.updated_ms);
            let past = waited > REVIEW_MARK_MS;
            (
                format!("{}{}", short_duration(waited), if past { " ⚠" } else { "" }),
                if past { theme.warn() } else { Style::new() },
            )
        }
        Group::Running => (
            short_duration(now - row.attempt_started_ms.unwrap_or(row.updated_ms)),
            Style::new(),
        ),
        Group::Queued => (short_duration(now - row.created_ms), theme.dim()),
        Group::Failed | Group::DoneToday => (short_duration(now - row.updated_ms), theme.dim()),
    };
    // What else: (text, style) pieces.
    let mut info: Vec<(String, Style)> = Vec::new();
    match group {
        Group::NeedsReview => {
            if row.blocking > 0 {
                info.push((format!("✗ {} blocking  ", row.blocking), theme.error()));
            }
            match &row.base_moved {
                Some(moved) if !moved.conflicts.is_empty() => info.push((
                    format!("✗ conflicts with {}  ", moved.branch),
                    theme.error(),
                )),
                Some(moved) => info.push((format!("↻ {} moved  ", moved.branch), theme.warn())),
                None => {}
            }
            info.push((changed_lines(row), Style::new()));
        }
        Group::Running => {
            info.push((
                format!("#{}{}  ", row.attempt.max(1), checking(row)),
                theme.dim(),
            ));
            info.push((row.last_line.clone().unwrap_or_default(), theme.dim()));
        }
        Group::Queued => info.push((row.reason.clone(), theme.dim())),
        Group::Failed => {
            info.push((format!("{}: ", row.state), theme.error()));
            info.push((row.reason.clone(), Style::new()));
        }
        Group::DoneToday => info.push((row.state.to_string(), theme.dim())),
    }
    let base = if selected {
        theme.selected()
    } else {
        Style::new()
    };
    let mut spans: Vec<Span<'static>> = Vec::new();
    spans.push(Span::styled(if selected { "▸ " } else { "  " }, base));
    let title = if row.title.is_empty() {
        &row.id
    } else {
        &row.title
    };
    spans.push(Span::styled(cell(title, title_width), base));
    if repo_width > 0 {
        spans.push(Span::styled(
            format!(" {}", cell(&row.repo, repo_width)),
            base.patch(theme.dim()),
        ));
    }
    spans.push(Span::styled(
        format!(" {}", cell(&time, 9)),
        base.patch(time_style),
    ));
    let mut left =
        width.saturating_sub(2 + title_width + repo_width + usize::from(repo_width > 0) + 11);
    spans.push(Span::styled(" ", base));
    for (text, style) in info {
        if left == 0 {
            break;
        }
        let text = fit(&text, left);
        left -= text.chars().count();
        spans.push(Span::styled(text, base.patch(style)));
    }
    Line::from(spans)
}

/// `+12/-3`, once counted.
fn changed_lines(row: &TaskRow) -> String {
    match (row.added, row.removed) {
        (Some(added), Some(removed)) => format!("+{added}/-{removed}"),
        _ => String::new(),
    }
}

/// ` checks` while the checks run.
fn checking(row: &TaskRow) -> &'static str {
    if row.state == TaskState::Checking {
        " checks"
    } else {
        ""
    }
}

//! The header: the review-bandwidth picture, and whether updates are live.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::cli::ui::app::App;
use crate::cli::ui::model::{REVIEW_MARK_MS, short_duration};

/// Draws the two header lines; short labels when the long ones do not fit.
pub(super) fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let header = &app.header;
    let bandwidth = &header.bandwidth;
    let allowed = bandwidth
        .allowed
        .map_or_else(|| "-".to_string(), |n| n.to_string());
    let past = header.oldest_wait_ms.is_some_and(|ms| ms > REVIEW_MARK_MS);
    // (long label, short label, value, style)
    let parts: [(&str, &str, String, Style); 5] = [
        (
            "running",
            "run",
            format!("{}/{allowed}", header.running),
            Style::new(),
        ),
        ("waiting", "wait", header.waiting.to_string(), Style::new()),
        (
            "oldest wait",
            "oldest",
            header.oldest_wait_ms.map_or_else(
                || "-".to_string(),
                |ms| format!("{}{}", short_duration(ms), if past { " ⚠" } else { "" }),
            ),
            if past { theme.warn() } else { Style::new() },
        ),
        (
            "reviewed today",
            "today",
            bandwidth.reviewed_today.to_string(),
            Style::new(),
        ),
        (
            "median review (7d)",
            "median",
            bandwidth
                .median_review_ms
                .map_or_else(|| "-".to_string(), short_duration),
            Style::new(),
        ),
    ];
    let long: usize = 9 + parts
        .iter()
        .map(|(label, _, value, _)| label.len() + value.chars().count() + 6)
        .sum::<usize>();
    let short = long > usize::from(area.width);
    let mut spans = vec![Span::styled("agenthost", theme.heading())];
    for (long_label, short_label, value, style) in parts {
        let label = if short { short_label } else { long_label };
        spans.push(Span::styled(" · ", theme.dim()));
        spans.push(Span::raw(format!("{label} ")));
        spans.push(Span::styled(value, style));
    }
    let second = match &app.offline {
        Some(why) => Line::from(Span::styled(format!("not live: {why}"), theme.warn())),
        None => Line::from(Span::styled(
            "live: redrawn as the supervisor reports changes".to_string(),
            theme.dim(),
        )),
    };
    frame.render_widget(Paragraph::new(vec![Line::from(spans), second]), area);
}

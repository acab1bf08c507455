//! The review of one task: above, the spec in short, the findings and the diffstat; below,
//! the diff from the line the reader is at, the lines findings name marked. Only the diff
//! lines in view are styled.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, fit};
use crate::cli::ui::diff_doc::LineKind;
use crate::cli::ui::review::ReviewState;

/// Draws the review into `area`.
pub(super) fn draw(frame: &mut Frame<'_>, area: Rect, review: &ReviewState, theme: Theme) {
    let width = usize::from(area.width);
    let mut summary = summary(review, width, theme);
    // The summary takes what it needs, up to two fifths of the screen (all but a few diff
    // lines with `i`); the diff the rest. A cut summary says how to see the rest.
    let most = match review.whole_summary {
        true => area.height.saturating_sub(4),
        false => area.height * 2 / 5,
    }
    .max(3);
    if summary.len() > usize::from(most) {
        let hidden = summary.len() - usize::from(most) + 1;
        summary.truncate(usize::from(most) - 1);
        summary.push(Line::styled(
            fit(&format!("… {hidden} more lines: i shows them"), width),
            theme.dim(),
        ));
    }
    let wanted = u16::try_from(summary.len()).unwrap_or(u16::MAX).min(most);
    let [top, bar, diff] = Layout::vertical([
        Constraint::Length(wanted),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(summary), top);
    frame.render_widget(Paragraph::new(position(review, width, theme)), bar);
    draw_diff(frame, diff, review, theme);
}

/// The part above the diff: title, state, spec, findings, diffstat.
fn summary(review: &ReviewState, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(
            fit(&review.parts.title, width.saturating_sub(30)),
            theme.heading(),
        ),
        Span::styled(
            format!(
                "  {} · {} · attempt {}",
                review.parts.id, review.parts.state, review.parts.attempt
            ),
            theme.dim(),
        ),
    ])];
    if review.parts.state != crate::task::TaskState::Ready && !review.parts.reason.is_empty() {
        lines.push(Line::styled(
            fit(&format!("why: {}", review.parts.reason), width),
            theme.warn(),
        ));
    }
    if let Some(moved) = &review.parts.base {
        let style = match moved.conflicts.is_empty() {
            true => theme.warn(),
            false => theme.error(),
        };
        lines.push(Line::styled(
            fit(&format!("base: {}", moved.short()), width),
            style,
        ));
    }
    for what in &review.parts.spec.what {
        lines.push(Line::raw(fit(&format!("  {what}"), width)));
    }
    let scope: Vec<String> = review
        .parts
        .spec
        .scope
        .iter()
        .map(|(kind, pattern)| format!("{kind} {pattern}"))
        .collect();
    if !scope.is_empty() {
        lines.push(Line::raw(fit(
            &format!("Scope: {}", scope.join(" · ")),
            width,
        )));
    }
    for constraint in &review.parts.spec.constraints {
        lines.push(Line::styled(
            fit(&format!("  constraint: {constraint}"), width),
            theme.dim(),
        ));
    }
    if review.parts.findings.is_empty() {
        lines.push(Line::styled("Findings: none", theme.ok()));
    } else {
        lines.push(Line::styled(
            format!(
                "Findings: {} ({} blocking)",
                review.parts.findings.len(),
                review.blocking()
            ),
            theme.heading(),
        ));
    }
    for (index, finding) in review.parts.findings.iter().enumerate() {
        let (mark, style) = match finding.severity.as_str() {
            "error" => ("✗", theme.error()),
            "warning" => ("⚠", theme.warn()),
            _ => ("·", Style::new()),
        };
        let place = match (&finding.path, finding.line) {
            (Some(path), Some(line)) => format!("{path}:{line}: "),
            (Some(path), None) => format!("{path}: "),
            _ => String::new(),
        };
        let current = if review.finding == Some(index) {
            "▸"
        } else {
            " "
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{current}{mark} ")),
            Span::styled(
                fit(
                    &format!("{} {place}{}", finding.rule, finding.message),
                    width.saturating_sub(3),
                ),
                style,
            ),
        ]));
    }
    let (added, removed) = review
        .parts
        .stat
        .iter()
        .fold((0, 0), |(a, r), s| (a + s.added, r + s.removed));
    lines.push(Line::styled(
        format!(
            "Changes: {} file{}, +{added} -{removed}",
            review.parts.stat.len(),
            if review.parts.stat.len() == 1 {
                ""
            } else {
                "s"
            }
        ),
        theme.heading(),
    ));
    for stat in &review.parts.stat {
        let counts = if stat.binary {
            "binary".to_string()
        } else {
            format!("+{} -{}", stat.added, stat.removed)
        };
        lines.push(Line::raw(fit(
            &format!("  {} {}  {counts}", stat.kind, stat.path),
            width,
        )));
    }
    lines
}

/// The bar above the diff: where the reader is.
fn position(review: &ReviewState, width: usize, theme: Theme) -> Line<'static> {
    if let Some(why) = &review.changes_error {
        return Line::styled(fit(&format!("no diff: {why}"), width), theme.error());
    }
    let diff = &review.diff;
    let file = diff
        .lines
        .get(review.top)
        .and_then(|l| diff.files.get(l.file));
    let file_number = diff.lines.get(review.top).map_or(0, |l| l.file + 1);
    let hunk = diff.hunks.iter().filter(|&&h| h <= review.top).count();
    let text = format!(
        "── {} · file {file_number}/{} · hunk {hunk}/{} · line {}/{} ",
        file.map_or("", |f| f.path.as_str()),
        diff.files.len(),
        diff.hunks.len(),
        (review.top + 1).min(diff.lines.len()),
        diff.lines.len()
    );
    let fill = width.saturating_sub(text.chars().count());
    Line::styled(format!("{text}{}", "─".repeat(fill)), theme.dim())
}

/// The diff lines in view, a gutter with the new line number and `▶` where a finding
/// points.
fn draw_diff(frame: &mut Frame<'_>, area: Rect, review: &ReviewState, theme: Theme) {
    let height = usize::from(area.height);
    let width = usize::from(area.width).saturating_sub(8);
    let end = (review.top + height).min(review.diff.lines.len());
    let lines: Vec<Line<'static>> = review.diff.lines[review.top.min(end)..end]
        .iter()
        .enumerate()
        .map(|(n, line)| {
            let index = review.top + n;
            let marked = review.marked.contains(&index);
            let number = line
                .new_line
                .map_or_else(|| "      ".to_string(), |n| format!("{n:>5} "));
            let style = match line.kind {
                LineKind::File => theme.heading(),
                LineKind::Meta => theme.dim(),
                LineKind::Hunk => theme.hunk(),
                LineKind::Added => theme.added(),
                LineKind::Removed => theme.removed(),
                LineKind::Context => Style::new(),
            };
            Line::from(vec![
                Span::styled(number, theme.dim()),
                Span::styled(
                    if marked { "▶ " } else { "  " },
                    if marked { theme.marked() } else { Style::new() },
                ),
                Span::styled(
                    fit(&line.text.replace('\t', "    "), width),
                    if marked {
                        style.patch(theme.marked())
                    } else {
                        style
                    },
                ),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

//! Dialogs over the screen: the keys, a yes/no before throwing work away, how to accept,
//! a line to type.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::Theme;
use crate::cli::ui::app::{Dialog, Purpose};
use crate::cli::ui::keys::HELP;

/// Draws `dialog` centred in `area`.
pub(super) fn draw(frame: &mut Frame<'_>, area: Rect, dialog: &Dialog, theme: Theme) {
    let (title, lines): (&str, Vec<Line<'static>>) = match dialog {
        Dialog::Help => (
            " Keys ",
            HELP.iter()
                .map(|(keys, what)| {
                    Line::from(vec![
                        Span::styled(format!("{keys:<16}"), theme.heading()),
                        Span::raw((*what).to_string()),
                    ])
                })
                .collect(),
        ),
        Dialog::Confirm { question, .. } => (
            " Sure? ",
            vec![
                Line::raw(question.clone()),
                Line::raw(""),
                Line::styled("y: yes · n or Esc: no", theme.heading()),
            ],
        ),
        Dialog::Accept { id, blocking } => {
            let mut lines = vec![Line::raw(format!("Accept {id} into its base branch?"))];
            if *blocking > 0 {
                lines.push(Line::styled(
                    format!("{blocking} blocking finding(s): F accepts anyway (squash)"),
                    theme.error(),
                ));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                "Enter: squash · m: merge · b: rebase · Esc: no",
                theme.heading(),
            ));
            (" Accept ", lines)
        }
        Dialog::Input { purpose, text } => {
            let (title, hint) = match purpose {
                Purpose::Correct(_) => (
                    " Correction ",
                    "Enter: send · Ctrl-E: write it in $EDITOR · Esc: cancel",
                ),
                Purpose::Launch => (" Launch a spec file ", "Enter: launch · Esc: cancel"),
            };
            let what = match purpose {
                Purpose::Correct(id) => format!("What should the agent change in {id}?"),
                Purpose::Launch => {
                    "Path of the spec (relative to where the cockpit started):".into()
                }
            };
            (
                title,
                vec![
                    Line::raw(what),
                    Line::from(vec![
                        Span::raw("> "),
                        Span::raw(text.clone()),
                        Span::styled("█", theme.dim()),
                    ]),
                    Line::raw(""),
                    Line::styled(hint, theme.heading()),
                ],
            )
        }
    };
    let width = area.width.saturating_sub(4).min(76);
    // Lines longer than the box wrap: count the rows they take.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (u16::try_from(rows).unwrap_or(u16::MAX) + 2).min(area.height);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + (area.height - height) / 2;
    let rect = Rect::new(x, y, width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

//! How agenthost writes human-facing output: colors and miette diagnostic rendering.

use std::io::IsTerminal;

use clap::ValueEnum;
use miette::{GraphicalReportHandler, GraphicalTheme};

/// When to use colors, from `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// Color when stdout is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

/// Resolved output settings, shared by every verb.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Whether to emit ANSI colors.
    pub color: bool,
    /// Width to wrap diagnostics at.
    pub width: usize,
}

impl Output {
    /// Resolves `--color` against the environment (`NO_COLOR`, `COLUMNS`, whether stdout is a
    /// terminal).
    pub fn new(choice: ColorChoice) -> Self {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|w| *w >= 40)
            .unwrap_or(100);
        Output { color, width }
    }

    /// Renders one diagnostic (with its source snippet, labels and help) to a string.
    pub fn render(&self, diagnostic: &dyn miette::Diagnostic) -> String {
        let theme = if self.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(self.width)
            .with_links(false);
        let mut out = String::new();
        if handler.render_report(&mut out, diagnostic).is_err() {
            // Rendering only fails if writing to a String fails, which it cannot; fall back
            // to the plain message so nothing is lost.
            out = diagnostic.to_string();
        }
        out
    }
}

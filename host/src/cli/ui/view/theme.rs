//! Colors and emphasis, or emphasis alone under `NO_COLOR`: every style the views use comes
//! from here, so "no colour" is one switch.

use ratatui::style::{Color, Modifier, Style};

/// The styles of the cockpit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colors are on.
    pub color: bool,
}

impl Theme {
    /// Colors unless `NO_COLOR` is set (to anything but the empty string).
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn colored(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// Section headings and titles.
    pub fn heading(self) -> Style {
        self.colored(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The selected row.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Less important text.
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    /// Failures and blocking findings.
    pub fn error(self) -> Style {
        self.colored(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Warnings, and results past the 2-hour mark.
    pub fn warn(self) -> Style {
        self.colored(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Success.
    pub fn ok(self) -> Style {
        self.colored(Color::Green)
    }

    /// Added lines.
    pub fn added(self) -> Style {
        self.colored(Color::Green)
    }

    /// Removed lines.
    pub fn removed(self) -> Style {
        self.colored(Color::Red)
    }

    /// Hunk headers.
    pub fn hunk(self) -> Style {
        self.colored(Color::Cyan)
    }

    /// A diff line a finding names.
    pub fn marked(self) -> Style {
        self.colored(Color::Yellow).add_modifier(Modifier::BOLD)
    }
}

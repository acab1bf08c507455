//! The terminal while the cockpit runs: raw mode and the alternate screen on the way in,
//! and the way the user had it on every way out: a normal return, an error, a signal
//! (the loop returns, the guard drops) and a panic (the hook restores it before the panic
//! message is printed, so the message is readable).

use std::io::{Stdout, Write as _};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::UiError;

/// The terminal, restored when dropped.
pub(super) struct TerminalGuard {
    /// The ratatui terminal over stdout.
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

static PANIC_HOOK: Once = Once::new();

impl TerminalGuard {
    /// Raw mode, the alternate screen, no cursor; and the panic hook that undoes them.
    pub(super) fn enter() -> Result<TerminalGuard, UiError> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        setup()?;
        let terminal =
            Terminal::new(CrosstermBackend::new(std::io::stdout())).map_err(|source| {
                restore();
                UiError::Terminal {
                    action: "cannot size the terminal",
                    source,
                }
            })?;
        Ok(TerminalGuard { terminal })
    }

    /// Hands the terminal to another program (`$EDITOR`) for the duration of `run`.
    pub(super) fn suspended<T>(&mut self, run: impl FnOnce() -> T) -> Result<T, UiError> {
        restore();
        let result = run();
        setup()?;
        self.terminal.clear().map_err(|source| UiError::Terminal {
            action: "cannot redraw the terminal",
            source,
        })?;
        Ok(result)
    }

    /// Rings the terminal's bell.
    pub(super) fn bell(&mut self) {
        let mut out = std::io::stdout();
        let _ = out.write_all(b"\x07").and_then(|()| out.flush());
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn setup() -> Result<(), UiError> {
    enable_raw_mode().map_err(|source| UiError::Terminal {
        action: "cannot switch the terminal to raw mode",
        source,
    })?;
    execute!(std::io::stdout(), EnterAlternateScreen, Hide).map_err(|source| {
        restore();
        UiError::Terminal {
            action: "cannot open the alternate screen",
            source,
        }
    })
}

/// Puts the terminal back as the user had it. Safe to call more than once, and when it
/// was never changed.
pub(super) fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, Show);
}

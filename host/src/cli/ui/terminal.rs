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

/// Waits up to `timeout` for a key (or another terminal event) on standard input: `true`
/// when crossterm has one to read. A closed terminal (its window closed, tmux killed) is
/// [`UiError::Hangup`], found here with our own `poll(2)` before crossterm sees it:
/// crossterm 0.29 retries a read that returns end-of-file forever, at full CPU.
pub(super) fn wait_for_input(timeout: std::time::Duration) -> Result<bool, UiError> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    });
    match poll(&mut fds, Some(&timeout)) {
        Ok(0) => return Ok(false),
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok(false),
        Err(err) => {
            return Err(UiError::Terminal {
                action: "cannot wait for the keyboard",
                source: err.into(),
            });
        }
    }
    let events = fds[0].revents();
    if events.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
        return Err(UiError::Hangup);
    }
    // Input is there: crossterm reads it (a partial escape sequence may need a moment).
    crossterm::event::poll(std::time::Duration::ZERO).map_err(|source| UiError::Terminal {
        action: "cannot read the keyboard",
        source,
    })
}

/// Puts the terminal back as the user had it. Safe to call more than once, and when it
/// was never changed.
pub(super) fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, Show);
}

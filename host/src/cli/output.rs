//! How agenthost writes human-facing output: colors and miette diagnostic rendering.

use std::io::{IsTerminal, Write};

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

    /// Writes a verb's report to stdout.
    ///
    /// A closed pipe (`agenthost check ... | head`) is not an error: the reader has seen
    /// what it wanted, so the rest is dropped quietly. Any other write failure is reported.
    pub fn print(&self, text: &str) -> miette::Result<()> {
        print_to(&mut std::io::stdout().lock(), text)
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

/// Writes `text` and flushes, treating a broken pipe as success.
fn print_to(out: &mut impl Write, text: &str) -> miette::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(miette::miette!(
            code = "output::write",
            help = "check that standard output is writable (disk full? closed terminal?)",
            "cannot write to standard output: {err}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::print_to;

    struct BrokenPipe;

    impl std::io::Write for BrokenPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Full;

    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(28))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn broken_pipe_is_not_an_error() {
        assert!(print_to(&mut BrokenPipe, "x").is_ok());
        assert!(print_to(&mut Full, "x").is_err());
        let mut buffer = Vec::new();
        assert!(print_to(&mut buffer, "hello").is_ok());
        assert_eq!(buffer, b"hello");
    }
}

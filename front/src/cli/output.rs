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

    /// Renders one diagnostic (with its source snippet, labels and help) to a string. A
    /// cause whose message the diagnostic's own message already ends with (`cannot read X:
    /// No such file or directory` over the `io::Error` it wraps) is not repeated below it.
    pub fn render(&self, diagnostic: &dyn miette::Diagnostic) -> String {
        let diagnostic = WithoutRepeatedCause(diagnostic);
        let theme = if self.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(self.width)
            .with_links(false);
        let mut out = String::new();
        if handler.render_report(&mut out, &diagnostic).is_err() {
            // Rendering only fails if writing to a String fails, which it cannot; fall back
            // to the plain message so nothing is lost.
            out = diagnostic.to_string();
        }
        out
    }
}

/// A diagnostic as it is, except for a first cause that its message already ends with:
/// that cause is skipped (its own causes are kept). Errors that spell out their cause
/// (`#[error("cannot read {path}: {source}")]`) would otherwise show it twice.
struct WithoutRepeatedCause<'a>(&'a dyn miette::Diagnostic);

impl WithoutRepeatedCause<'_> {
    fn repeats(&self, cause: &dyn std::fmt::Display) -> bool {
        let cause = cause.to_string();
        !cause.is_empty() && self.0.to_string().ends_with(&cause)
    }
}

impl std::fmt::Debug for WithoutRepeatedCause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0, f)
    }
}

impl std::fmt::Display for WithoutRepeatedCause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.0, f)
    }
}

impl std::error::Error for WithoutRepeatedCause<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let cause = self.0.source()?;
        if self.repeats(cause) {
            cause.source()
        } else {
            Some(cause)
        }
    }
}

impl miette::Diagnostic for WithoutRepeatedCause<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        self.0.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        // The handler follows this one in place of `source()`: drop it when it repeats.
        self.0
            .diagnostic_source()
            .filter(|cause| !self.repeats(cause))
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
    use super::{Output, print_to};

    #[derive(Debug, thiserror::Error, miette::Diagnostic)]
    #[error("cannot read {path}: {source}")]
    #[diagnostic(help("check the path"))]
    struct Spelled {
        path: String,
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error, miette::Diagnostic)]
    #[error("cannot read {path}")]
    struct Terse {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_the_message_already_ends_with_is_not_repeated() {
        let output = Output {
            color: false,
            width: 100,
        };
        let missing = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let spelled = output.render(&Spelled {
            path: "a.md".into(),
            source: missing(),
        });
        assert_eq!(spelled.matches("entity not found").count(), 1, "{spelled}");
        assert!(
            spelled.contains("cannot read a.md: entity not found"),
            "{spelled}"
        );
        assert!(spelled.contains("help: check the path"), "{spelled}");
        // A message that does not spell its cause out keeps it below.
        let terse = output.render(&Terse {
            path: "a.md".into(),
            source: missing(),
        });
        assert!(terse.contains("cannot read a.md"), "{terse}");
        assert!(terse.contains("╰─▶ entity not found"), "{terse}");
    }

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

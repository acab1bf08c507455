//! GitHub Actions workflow commands: one `::error`, `::warning` or `::notice` annotation per
//! finding, so findings show on the pull request's changed lines.

use std::fmt::Write as _;

use super::{Report, Severity, human};

/// Renders `report` as workflow commands, then the summary line as plain log text.
pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    for (check, finding) in report.findings() {
        let command = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut properties = Vec::new();
        if let Some(path) = &finding.path {
            properties.push(format!("file={}", escape_property(path)));
            if let Some(line) = finding.line {
                properties.push(format!("line={line}"));
            }
        }
        let commit = check
            .commit
            .as_deref()
            .map(|id| format!(" ({})", &id[..id.len().min(10)]))
            .unwrap_or_default();
        properties.push(format!(
            "title={}",
            escape_property(&format!("{}{commit}", finding.rule))
        ));
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&finding.message)
        );
    }
    out.push_str(&human::summary_line(report));
    out.push('\n');
    out
}

/// Escapes a command's message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property's value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_actions_toolkit() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a,b:c\r"), "a%2Cb%3Ac%0D");
    }
}

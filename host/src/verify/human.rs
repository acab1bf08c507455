//! The human report: grouped by commit, then by file and line.

use std::fmt::Write as _;

use super::{Check, Report, Status};

/// How many characters of a commit id to show.
const SHORT: usize = 10;

/// Renders `report` for a terminal.
pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    match &report.range {
        Some(range) => {
            let _ = writeln!(out, "agenthost verify: {range}");
        }
        None => out.push_str("agenthost verify: the staged changes\n"),
    }
    if report.checks.is_empty() {
        out.push_str("\nNothing to verify: the range has no commits.\n");
        return out;
    }
    for check in &report.checks {
        out.push('\n');
        render_check(&mut out, check);
    }
    out.push('\n');
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

fn render_check(out: &mut String, check: &Check) {
    let id = check
        .commit
        .as_deref()
        .map(|id| &id[..id.len().min(SHORT)])
        .unwrap_or("staged");
    let mut about = Vec::new();
    if check.merge {
        about.push("merge".to_string());
    }
    if let Some(task) = &check.task {
        about.push(format!("task {task}"));
    }
    match check.status {
        Status::Checked => {
            if let Some(spec) = &check.spec {
                about.push(format!("spec {spec}"));
            }
            about.push(format!(
                "{} file{}, +{} -{}",
                check.files,
                plural(check.files),
                check.added,
                check.removed
            ));
        }
        Status::NoSpec => about.push("no spec: not checked".into()),
        Status::SpecUnavailable => about.push("spec unavailable: not checked".into()),
        Status::NoChanges => about.push("no changes of its own".into()),
    }
    let _ = writeln!(out, "{id} {}  [{}]", check.summary, about.join(" · "));
    if check.status == Status::Checked && check.findings.is_empty() {
        out.push_str("  ok\n");
        return;
    }
    let mut current: Option<(Option<&str>, Option<u32>)> = None;
    for finding in &check.findings {
        let place = (finding.path.as_deref(), finding.line);
        if current != Some(place) {
            current = Some(place);
            match place {
                (Some(path), Some(line)) => {
                    let _ = writeln!(out, "  {path}:{line}");
                }
                (Some(path), None) => {
                    let _ = writeln!(out, "  {path}");
                }
                (None, _) => out.push_str("  (the whole change)\n"),
            }
        }
        let mut lines = finding.message.lines();
        let _ = writeln!(
            out,
            "    {:<7}  {}  {}",
            finding.severity.name(),
            finding.rule,
            lines.next().unwrap_or_default()
        );
        for line in lines {
            let _ = writeln!(out, "             {line}");
        }
    }
}

/// The last line: what was checked and what was found.
pub(crate) fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let mut parts = vec![format!("{} checked against a spec", s.checked)];
    if s.without_spec > 0 {
        parts.push(format!("{} without a spec", s.without_spec));
    }
    let found = if s.errors + s.warnings + s.infos == 0 {
        "no findings".to_string()
    } else {
        format!(
            "{} error{} (blocking), {} warning{}, {} note{}",
            s.errors,
            plural(s.errors),
            s.warnings,
            plural(s.warnings),
            s.infos,
            plural(s.infos)
        )
    };
    let what = if report.range.is_some() {
        format!("{} commit{}", s.commits, plural(s.commits))
    } else {
        "staged changes".to_string()
    };
    format!("{what}: {}; {found}", parts.join(", "))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

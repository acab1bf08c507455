//! The attempt log and the words of reasons: appending to the log, reading its end, and
//! putting a run's output and help lines into a reason.

use std::path::Path;

use crate::confinement::hints;

/// How many lines of a run's output a failure's reason carries.
pub(super) const TAIL_LINES: usize = 15;

/// `a, b, c`, or `nothing`.
pub(super) fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_string()
    } else {
        items.join(", ")
    }
}

/// `` `a`, `b`, `c` and 7 more ``.
pub(super) fn shortened_list(items: &[String], shown: usize) -> String {
    let mut text = items
        .iter()
        .take(shown)
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > shown {
        text.push_str(&format!(" and {} more", items.len() - shown));
    }
    text
}

/// `reason`, then the run's last output lines, indented, if it printed anything.
pub(super) fn with_output(reason: &str, tail: &str) -> String {
    if tail.trim().is_empty() {
        return format!("{reason} (it printed nothing)");
    }
    let mut text = format!("{reason}; the end of its output:");
    for line in tail.lines() {
        text.push_str("\n  ");
        text.push_str(line);
    }
    text
}

/// `reason` with the help lines [`hints::hints`] finds in `tail` (the run's output), each on
/// a line of its own: what the sandbox refused and the setting that allows it.
pub(super) fn with_hints(
    reason: String,
    tail: &str,
    run: hints::Run,
    worktree: &Path,
    home: &Path,
) -> String {
    let found = hints::hints(tail, run, hints::Places { worktree, home });
    let mut text = reason;
    for hint in found {
        text.push_str("\n  help: ");
        text.push_str(&hint);
    }
    text
}

/// The last `n` lines of `text`, without agenthost's own `== agenthost:` lines.
pub(super) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("== agenthost:"))
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Appends `text` to the attempt log at `path`.
pub(super) fn append_log(path: &Path, text: &str) {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(text.as_bytes());
    }
}

/// The last `max` bytes written to `path` after byte `from`.
pub(super) fn log_tail(path: &Path, from: u64, max: u64) -> String {
    use std::io::{Read as _, Seek as _, SeekFrom};
    // Only the end is read: an agent's log can be megabytes of transcript.
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = from.max(len.saturating_sub(max)).min(len);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The size of the log now: where the next run's output starts.
pub(super) fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

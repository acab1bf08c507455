//! A task's changes (its branch against the commit it started from), and how they are shown:
//! a diffstat and a colored patch. Used by `diff` and `review`.

use std::io::{IsTerminal as _, Write as _};
use std::process::{Command, Stdio};

use super::Output;
use crate::supervisor::store::Task;
use crate::task::diff::{ChangeKind, Changes, between_commits};

/// The task's changes: from its base commit to the head of its branch.
pub(super) fn changes(task: &Task) -> miette::Result<Changes> {
    let repo = git2::Repository::open(&task.launch.repo).map_err(|err| {
        miette::miette!(
            code = "task::repo",
            help = "the task's repository moved or was deleted; its record is kept",
            "cannot open the task's repository {}: {}",
            task.launch.repo.display(),
            err.message()
        )
    })?;
    let head = repo
        .find_reference(&format!("refs/heads/{}", task.launch.branch))
        .and_then(|r| r.peel_to_commit())
        .map_err(|_| {
            miette::miette!(
                code = "task::no_branch",
                help = format!(
                    "the branch is removed when a task is rejected or accepted; `agenthost status --all` shows task `{}` as {}",
                    task.launch.id, task.state
                ),
                "task `{}` has no branch `{}` any more",
                task.launch.id,
                task.launch.branch
            )
        })?;
    between_commits(
        &task.launch.repo,
        &task.launch.base_commit,
        &head.id().to_string(),
    )
    .map_err(|err| {
        miette::miette!(
            code = "task::diff",
            help = "check the repository with `git log`",
            "cannot compare the task branch with its base: {}",
            err.message()
        )
    })
}

/// One line per file: kind, path, lines added and removed; then the totals.
pub(super) fn diffstat(changes: &Changes, output: &Output) -> String {
    let mut out = String::new();
    let (added, removed) = changes.line_counts();
    out.push_str(&format!(
        "{} file{} changed, +{added} -{removed}\n",
        changes.files.len(),
        if changes.files.len() == 1 { "" } else { "s" }
    ));
    for file in &changes.files {
        let kind = match file.kind {
            ChangeKind::Added => "A",
            ChangeKind::Modified => "M",
            ChangeKind::Deleted => "D",
            ChangeKind::Renamed => "R",
            ChangeKind::TypeChanged => "T",
        };
        let path = match &file.old_path {
            Some(old) => format!("{old} -> {}", file.path),
            None => file.path.clone(),
        };
        let counts = if file.binary {
            "binary".to_string()
        } else {
            format!(
                "{} {}",
                paint(output, "32", &format!("+{}", file.added)),
                paint(output, "31", &format!("-{}", file.removed))
            )
        };
        out.push_str(&format!("  {kind} {path}  {counts}\n"));
    }
    out
}

/// The patch, colored like git's when colors are on.
pub(super) fn patch(changes: &Changes, output: &Output) -> String {
    if !output.color {
        return changes.patch.clone();
    }
    let mut out = String::with_capacity(changes.patch.len() * 11 / 10);
    for line in changes.patch.split_inclusive('\n') {
        let header = ["diff --git", "index ", "+++", "---"];
        let code = if header.iter().any(|h| line.starts_with(h)) {
            "1"
        } else if line.starts_with('+') {
            "32"
        } else if line.starts_with('-') {
            "31"
        } else if line.starts_with("@@") {
            "36"
        } else {
            ""
        };
        if code.is_empty() {
            out.push_str(line);
        } else {
            let (text, newline) = line.strip_suffix('\n').map_or((line, ""), |t| (t, "\n"));
            out.push_str(&format!("\u{1b}[{code}m{text}\u{1b}[0m{newline}"));
        }
    }
    out
}

fn paint(output: &Output, code: &str, text: &str) -> String {
    if output.color {
        format!("\u{1b}[{code}m{text}\u{1b}[0m")
    } else {
        text.to_string()
    }
}

/// Shows `text` through `$PAGER` (default `less -FRX`) when stdout is a terminal and
/// `no_pager` is not set; prints it otherwise.
pub(super) fn page(text: &str, no_pager: bool, output: &Output) -> miette::Result<()> {
    if no_pager || !std::io::stdout().is_terminal() {
        return output.print(text);
    }
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less -FRX".to_string());
    let spawned = Command::new("sh")
        .args(["-c", &pager])
        .stdin(Stdio::piped())
        .spawn();
    let Ok(mut child) = spawned else {
        // No usable pager: the text still has to reach the user.
        return output.print(text);
    };
    if let Some(mut stdin) = child.stdin.take() {
        // The user may quit the pager before reading everything; that is not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    let _ = child.wait();
    Ok(())
}

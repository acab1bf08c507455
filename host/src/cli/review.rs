//! `agenthost review ID`: everything a reviewer needs in one place: the spec's scope, the
//! review findings, the diffstat and the diff.

use clap::Args;

use super::task_changes::{changes, diffstat, page, patch};
use super::task_lookup::{find_task, open_store};
use super::{Exit, Output};
use crate::spec::{self, Spec};
use crate::supervisor::SupervisorError;
use crate::supervisor::liveness::Liveness;
use crate::supervisor::store::{Attempt, Store, StoredFinding, Task};
use crate::task::diff::Changes;

/// Arguments of `agenthost review`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost review status-filter\n  agenthost review status-filter --no-pager\n\nThen: agenthost accept ID, agenthost correct ID -m \"...\", or agenthost reject ID."
)]
pub struct ReviewArgs {
    /// The task.
    pub id: String,

    /// Print instead of using the pager.
    #[arg(long)]
    pub no_pager: bool,
}

/// What a review shows, gathered once: `agenthost review` prints it, the cockpit
/// (`agenthost ui`) draws it.
pub(super) struct Review {
    /// The task.
    pub task: Task,
    /// Its attempts, in order.
    pub attempts: Vec<Attempt>,
    /// The findings of its latest finished attempt.
    pub findings: Vec<StoredFinding>,
    /// Its spec as launched, when it parses.
    pub spec: Option<Spec>,
    /// Its changes, or why they cannot be read (the branch is gone, ...).
    pub changes: miette::Result<Changes>,
}

/// Reads everything a review of `task` shows.
pub(super) fn gather(store: &Store, task: Task) -> Result<Review, SupervisorError> {
    let attempts = store.attempts(&task.launch.id)?;
    let findings = store.findings(&task.launch.id)?;
    let spec = spec::parse(
        &task.launch.spec_path.display().to_string(),
        task.launch.spec_text.as_bytes(),
    )
    .spec;
    let changes = changes(&task);
    Ok(Review {
        task,
        attempts,
        findings,
        spec,
        changes,
    })
}

/// Runs `agenthost review`.
pub(super) fn run(args: &ReviewArgs, output: &Output) -> miette::Result<Exit> {
    let (dirs, store) = open_store(&args.id)?;
    let liveness = Liveness::check(&dirs);
    let review = gather(&store, find_task(&store, &args.id)?)?;
    let Review {
        task,
        attempts,
        findings,
        spec,
        changes,
    } = &review;
    let mut text = String::new();
    text.push_str(&format!("{}  ({})\n", task.launch.title, task.launch.id));
    text.push_str(&format!(
        "  state     {}, attempt {}\n  agent     {}\n  spec      {}\n  branch    {}\n",
        liveness.label(task.state),
        attempts.len(),
        task.launch.agent,
        task.launch.spec_path.display(),
        task.launch.branch
    ));
    if task.state != crate::task::TaskState::Ready && !task.reason.is_empty() {
        text.push_str(&format!(
            "  why       {}\n",
            task.reason.replace('\n', "\n            ")
        ));
    }
    if let Some(last) = attempts.last()
        && let Some(correction) = &last.correction
    {
        text.push_str(&format!("  correction  {correction}\n"));
    }
    if let Some(moved) = crate::task::stale::of_ready(task) {
        text.push_str(&format!(
            "  base      {}\n",
            moved.describe(&task.launch.id)
        ));
    }
    if let Some(note) = liveness.note([task.state]) {
        text.push_str(&format!("\n{note}"));
    }

    if let Some(spec) = spec {
        text.push_str("\nScope\n");
        for entry in spec.scope.entries() {
            text.push_str(&format!("  {:<14} {}\n", entry.kind.name(), entry.pattern));
        }
        for constraint in &spec.scope.constraints {
            text.push_str(&format!("  {:<14} {}\n", "constraint", constraint.text));
        }
    }

    text.push_str("\nFindings\n");
    if findings.is_empty() {
        text.push_str("  none\n");
    }
    for finding in findings {
        let mark = match finding.severity.as_str() {
            "error" => "✗ error  ",
            "warning" => "⚠ warning",
            _ => "· info   ",
        };
        let place = match (&finding.path, finding.line) {
            (Some(path), Some(line)) => format!("{path}:{line}: "),
            (Some(path), None) => format!("{path}: "),
            _ => String::new(),
        };
        let message = finding.message.replace('\n', "\n              ");
        text.push_str(&format!("  {mark} {}  {place}{message}\n", finding.rule));
    }

    text.push_str("\nChanges\n");
    match changes {
        Ok(changes) => {
            for line in diffstat(changes, output).lines() {
                text.push_str(&format!("  {line}\n"));
            }
            text.push('\n');
            text.push_str(&patch(changes, output));
        }
        Err(report) => text.push_str(&format!("  {report}\n")),
    }
    page(&text, args.no_pager, output)?;
    Ok(Exit::Success)
}

//! `agenthost diff ID`: the task's changes as a patch.

use clap::Args;

use super::task_changes::{changes, page, patch};
use super::task_lookup::{find_task, open_store};
use super::{Exit, Output};

/// Arguments of `agenthost diff`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost diff status-filter\n  agenthost diff status-filter --stat\n  agenthost diff status-filter | git apply --check"
)]
pub struct DiffArgs {
    /// The task.
    pub id: String,

    /// Only the list of changed files with their line counts.
    #[arg(long)]
    pub stat: bool,

    /// Print instead of using the pager.
    #[arg(long)]
    pub no_pager: bool,
}

/// Runs `agenthost diff`.
pub(super) fn run(args: &DiffArgs, output: &Output) -> miette::Result<Exit> {
    let (_dirs, store) = open_store(&args.id)?;
    let task = find_task(&store, &args.id)?;
    let changes = changes(&task)?;
    let text = if args.stat {
        super::task_changes::diffstat(&changes, output)
    } else {
        patch(&changes, output)
    };
    page(&text, args.no_pager, output)?;
    Ok(Exit::Success)
}

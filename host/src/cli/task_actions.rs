//! The verbs that change one task through the supervisor: `accept`, `correct`, `reject`,
//! `cancel`, `resume`.

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use super::{Exit, Output};
use crate::state_dir::StateDirs;
use crate::supervisor::protocol::{Request, Response};
use crate::supervisor::store::Store;
use crate::supervisor::{Client, SupervisorError};
use crate::task::TaskState;
use crate::task::accept::Strategy;

/// Arguments of `agenthost accept`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("strategy").args(["squash", "merge", "rebase"])))]
#[command(
    after_help = "Examples:\n  agenthost accept status-filter\n  agenthost accept --rebase status-filter\n  agenthost accept --force status-filter   # despite blocking findings\n  agenthost accept csv-export status-filter  # one after the other\n  agenthost accept --all-ready\n\nOn a conflict, or uncommitted changes in your checkout to files the task changed,\nnothing of that task is changed. Several tasks are accepted in the order given, each onto\nthe result of the one before; the first that cannot be accepted stops the rest."
)]
pub struct AcceptArgs {
    /// The tasks, accepted one after another in this order.
    #[arg(
        value_name = "ID",
        required_unless_present = "all_ready",
        conflicts_with = "all_ready"
    )]
    pub ids: Vec<String>,
    /// Every ready task, the longest waiting first.
    #[arg(long)]
    pub all_ready: bool,
    /// One new commit with all of the task's changes (the default).
    #[arg(long)]
    pub squash: bool,
    /// A merge commit, keeping the task's commits.
    #[arg(long)]
    pub merge: bool,
    /// The task's commits replayed onto the base branch.
    #[arg(long)]
    pub rebase: bool,
    /// Accept despite blocking findings.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `agenthost correct`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("correction").required(true).args(["message", "file"])))]
#[command(
    after_help = "Examples:\n  agenthost correct status-filter -m \"also handle an empty list\"\n  agenthost correct status-filter --file review-notes.md"
)]
pub struct CorrectArgs {
    /// The task.
    pub id: String,
    /// The correction.
    #[arg(short, long, value_name = "MSG")]
    pub message: Option<String>,
    /// Read the correction from a file.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Arguments of `agenthost reject`, `cancel` and `resume`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost reject status-filter\n  agenthost cancel status-filter\n  agenthost resume status-filter"
)]
pub struct IdArgs {
    /// The task.
    pub id: String,
}

fn client() -> miette::Result<Client> {
    Ok(Client::new(
        StateDirs::discover().map_err(SupervisorError::from)?,
    ))
}

fn expect_ok(response: Response, what: &str) -> miette::Result<()> {
    match response {
        Response::Ok => Ok(()),
        other => Err(SupervisorError::Protocol {
            detail: format!("unexpected answer to {what}: {other:?}"),
        }
        .into()),
    }
}

/// Runs `agenthost accept`.
pub(super) fn accept(args: &AcceptArgs, output: &Output) -> miette::Result<Exit> {
    let strategy = if args.merge {
        Strategy::Merge
    } else if args.rebase {
        Strategy::Rebase
    } else {
        Strategy::Squash
    };
    let ids = if args.all_ready {
        ready_tasks()?
    } else {
        args.ids.clone()
    };
    if ids.is_empty() {
        output.print("no task is ready: `agenthost status` shows where they are\n")?;
        return Ok(Exit::Success);
    }
    let client = client()?;
    let mut landed: Vec<String> = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let mut said = Ok(());
        let response = client.request_following(
            Request::Accept {
                id: id.clone(),
                strategy,
                force: args.force,
            },
            &mut |message| {
                if said.is_ok() {
                    said = output.print(&format!("{id}: {message}\n"));
                }
            },
        );
        said?;
        match response {
            Ok(Response::Accepted {
                commit,
                base,
                updated_checkout,
            }) => {
                let landed_as = accepted_as(&commit, &base, updated_checkout);
                output.print(&format!("accepted {id} {landed_as}\n"))?;
                landed.push(id.clone());
            }
            other => {
                let error: miette::Report = match other {
                    Err(err) => err.into(),
                    Ok(other) => SupervisorError::Protocol {
                        detail: format!("unexpected answer to accept: {other:?}"),
                    }
                    .into(),
                };
                if ids.len() > 1 {
                    output.print(&stopped_summary(&landed, id, &ids[n + 1..]))?;
                }
                return Err(error);
            }
        }
    }
    if ids.len() > 1 {
        output.print(&format!(
            "{} tasks accepted: {}\n",
            landed.len(),
            landed.join(", ")
        ))?;
    }
    Ok(Exit::Success)
}

/// Where an accepted task landed, in words: `into main as 0123456789ab` and whether the
/// checkout followed.
pub(super) fn accepted_as(commit: &str, base: &str, updated_checkout: bool) -> String {
    let short = &commit[..commit.len().min(12)];
    let checkout = match updated_checkout {
        true => "; your checkout is updated",
        false => "",
    };
    format!("into {base} as {short}{checkout}")
}

/// What a multi-task accept did when `stopped` could not be accepted.
fn stopped_summary(landed: &[String], stopped: &str, rest: &[String]) -> String {
    let mut text = match landed {
        [] => "accepted none".to_string(),
        _ => format!("accepted {}: {}", landed.len(), landed.join(", ")),
    };
    text.push_str(&format!("; stopped at {stopped} (below)"));
    if !rest.is_empty() {
        text.push_str(&format!("; not tried: {}", rest.join(", ")));
    }
    text.push_str(&format!(
        "\nfix {stopped} (or leave it out) and accept the rest again\n"
    ));
    text
}

/// The ready tasks, the longest waiting first.
fn ready_tasks() -> miette::Result<Vec<String>> {
    let dirs = StateDirs::discover().map_err(SupervisorError::from)?;
    if !dirs.database().exists() {
        return Ok(Vec::new());
    }
    let store = Store::open(&dirs.database()).map_err(SupervisorError::from)?;
    let mut ready: Vec<(i64, String)> = Vec::new();
    for task in store.tasks(false).map_err(SupervisorError::from)? {
        if task.state == TaskState::Ready {
            let since = store
                .entered(&task.launch.id, TaskState::Ready)
                .map_err(SupervisorError::from)?
                .unwrap_or(task.updated_ms);
            ready.push((since, task.launch.id));
        }
    }
    ready.sort();
    Ok(ready.into_iter().map(|(_, id)| id).collect())
}

/// Runs `agenthost correct`.
pub(super) fn correct(args: &CorrectArgs, output: &Output) -> miette::Result<Exit> {
    let message = match (&args.message, &args.file) {
        (Some(message), _) => message.clone(),
        (None, Some(file)) => fs_err::read_to_string(file).map_err(|err| {
            miette::miette!(
                help = "pass a readable file, or the correction itself with -m",
                "cannot read the correction: {err}"
            )
        })?,
        (None, None) => String::new(),
    };
    if message.trim().is_empty() {
        return Err(miette::miette!(
            code = "correct::empty",
            help = "say what the agent should change",
            "the correction is empty"
        ));
    }
    let response = client()?.request_starting(Request::Correct {
        id: args.id.clone(),
        message,
    })?;
    let note = match response {
        Response::Corrected { note } => note,
        other => {
            return Err(SupervisorError::Protocol {
                detail: format!("unexpected answer to correct: {other:?}"),
            }
            .into());
        }
    };
    output.print(&format!(
        "{} queued again with the correction; it runs as the next attempt\n",
        args.id
    ))?;
    if let Some(note) = note {
        output.print(&format!("  base: {note}\n"))?;
    }
    Ok(Exit::Success)
}

/// Runs `agenthost reject`.
pub(super) fn reject(args: &IdArgs, output: &Output) -> miette::Result<Exit> {
    expect_ok(
        client()?.request_starting(Request::Reject {
            id: args.id.clone(),
        })?,
        "reject",
    )?;
    output.print(&format!(
        "rejected {}: worktree and branch removed, record and logs kept\n",
        args.id
    ))?;
    Ok(Exit::Success)
}

/// Runs `agenthost cancel`.
pub(super) fn cancel(args: &IdArgs, output: &Output) -> miette::Result<Exit> {
    expect_ok(
        client()?.request_starting(Request::Cancel {
            id: args.id.clone(),
        })?,
        "cancel",
    )?;
    output.print(&format!("cancelling {}\n", args.id))?;
    Ok(Exit::Success)
}

/// Runs `agenthost resume`.
pub(super) fn resume(args: &IdArgs, output: &Output) -> miette::Result<Exit> {
    expect_ok(
        client()?.request_starting(Request::Resume {
            id: args.id.clone(),
        })?,
        "resume",
    )?;
    output.print(&format!("{} queued again\n", args.id))?;
    Ok(Exit::Success)
}

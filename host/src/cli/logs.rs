//! `agenthost logs ID [-f]`: the agent's output for a task.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::time::Duration;

use clap::Args;

use super::task_lookup::{find_task, open_store};
use super::{Exit, Output};
use crate::state_dir::StateDirs;
use crate::supervisor::SupervisorError;
use crate::supervisor::liveness::Liveness;

/// Arguments of `agenthost logs`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost logs status-filter\n  agenthost logs -f status-filter\n  agenthost logs --attempt 1 status-filter"
)]
pub struct LogsArgs {
    /// The task.
    pub id: String,

    /// Keep printing new output until the task stops running.
    #[arg(short, long)]
    pub follow: bool,

    /// Show this attempt [default: the latest].
    #[arg(long, value_name = "N")]
    pub attempt: Option<i64>,
}

/// Runs `agenthost logs`.
pub(super) fn run(args: &LogsArgs, output: &Output) -> miette::Result<Exit> {
    let (dirs, store) = open_store(&args.id)?;
    let task = find_task(&store, &args.id)?;
    let attempts = store
        .attempts(&task.launch.id)
        .map_err(SupervisorError::from)?;
    let attempt = match args.attempt {
        Some(n) => attempts.iter().find(|a| a.number == n).ok_or_else(|| {
            miette::miette!(
                code = "logs::attempt",
                help = format!(
                    "task `{}` has {} attempt(s)",
                    task.launch.id,
                    attempts.len()
                ),
                "task `{}` has no attempt {n}",
                task.launch.id
            )
        })?,
        None => match attempts.last() {
            Some(attempt) => attempt,
            None => {
                output.print(&format!(
                    "task `{}` is {} and has not run yet: no log\n{}",
                    task.launch.id,
                    task.state,
                    footer(&task)
                ))?;
                return Ok(Exit::Success);
            }
        },
    };
    let path = &attempt.log_path;
    let mut file = match fs_err::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            output.print(&format!(
                "attempt {} has written no output yet\n",
                attempt.number
            ))?;
            if !args.follow {
                return Ok(Exit::Success);
            }
            loop {
                std::thread::sleep(Duration::from_millis(200));
                if let Ok(file) = fs_err::File::open(path) {
                    break file;
                }
                if !still_running(&store, &dirs, &task.launch.id)? {
                    return ending(&store, &dirs, &task.launch.id, false, output);
                }
            }
        }
        Err(err) => {
            return Err(miette::miette!(
                help = "check the permissions of agenthost's state directory",
                "cannot read the log: {err}"
            ));
        }
    };
    let mut position = 0u64;
    loop {
        let mut chunk = Vec::new();
        file.seek(SeekFrom::Start(position))
            .and_then(|_| file.read_to_end(&mut chunk))
            .map_err(|err| miette::miette!("cannot read the log: {err}"))?;
        position += chunk.len() as u64;
        if !chunk.is_empty() {
            output.print(&String::from_utf8_lossy(&chunk))?;
        }
        if !args.follow || !still_running(&store, &dirs, &task.launch.id)? {
            if args.follow {
                // One last read: output written just before the task stopped.
                let mut rest = Vec::new();
                let _ = file.read_to_end(&mut rest);
                output.print(&String::from_utf8_lossy(&rest))?;
            }
            // The log is the attempt's; the task's state and its reason come last, where
            // the reader's eye ends (the log of the latest attempt only).
            let latest = args
                .attempt
                .is_none_or(|n| Some(n) == attempts.last().map(|a| a.number));
            return ending(&store, &dirs, &task.launch.id, latest, output);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `== agenthost: task ID is STATE: reason`, the reason's further lines indented.
fn footer(task: &crate::supervisor::store::Task) -> String {
    let mut lines = task.reason.lines();
    let mut text = format!("== agenthost: task {} is {}", task.launch.id, task.state);
    if let Some(first) = lines.next() {
        text.push_str(&format!(": {first}"));
    }
    text.push('\n');
    for line in lines {
        text.push_str(&format!("   {line}\n"));
    }
    text
}

/// Whether the task may still write to its log: queued or running, with a supervisor to run
/// it ([`Liveness`]).
fn still_running(
    store: &crate::supervisor::store::Store,
    dirs: &StateDirs,
    id: &str,
) -> miette::Result<bool> {
    let task = find_task(store, id)?;
    let waiting = task.state.is_active() || task.state == crate::task::TaskState::Queued;
    Ok(waiting && Liveness::check(dirs).supervisor_running())
}

/// Ends the output: for a task recorded running that no supervisor runs, the note that
/// says so ([`Liveness::note`]); otherwise, with `footer`, the task's state and reason.
fn ending(
    store: &crate::supervisor::store::Store,
    dirs: &StateDirs,
    id: &str,
    footer_wanted: bool,
    output: &Output,
) -> miette::Result<Exit> {
    let task = find_task(store, id)?;
    match Liveness::check(dirs).note([task.state]) {
        Some(note) => output.print(&format!("\n{note}"))?,
        None if footer_wanted => output.print(&footer(&task))?,
        None => {}
    }
    Ok(Exit::Success)
}

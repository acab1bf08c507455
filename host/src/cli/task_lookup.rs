//! Shared by the verbs that act on one task: opening the state database and finding the
//! task by id, with a "did you mean" for a mistyped id.

use miette::Diagnostic;
use thiserror::Error;

use crate::state_dir::StateDirs;
use crate::suggest::nearest;
use crate::supervisor::SupervisorError;
use crate::supervisor::store::{Store, Task};

/// No task has the id the user gave.
#[derive(Debug, Error, Diagnostic)]
#[error("no task `{id}`")]
#[diagnostic(code(task::unknown))]
pub(super) struct UnknownTask {
    /// The id as given.
    pub id: String,
    /// A near miss, or where to look.
    #[help]
    pub help: String,
}

/// Opens the state database (read and write), or says there are no tasks yet.
pub(super) fn open_store(id: &str) -> miette::Result<(StateDirs, Store)> {
    let dirs = StateDirs::discover().map_err(SupervisorError::from)?;
    let database = dirs.database();
    if !database.exists() {
        return Err(UnknownTask {
            id: id.to_string(),
            help: "no task has been launched yet: start one with `agenthost launch SPEC`".into(),
        }
        .into());
    }
    let store = Store::open(&database).map_err(SupervisorError::from)?;
    Ok((dirs, store))
}

/// The task with this id, or an error naming the nearest id.
pub(super) fn find_task(store: &Store, id: &str) -> miette::Result<Task> {
    if let Some(task) = store.task(id).map_err(SupervisorError::from)? {
        return Ok(task);
    }
    let tasks = store.tasks(true).map_err(SupervisorError::from)?;
    let help = match nearest(id, tasks.iter().map(|t| t.launch.id.as_str())) {
        Some(close) => format!("did you mean `{close}`? `agenthost status --all` lists every task"),
        None => "`agenthost status --all` lists every task".to_string(),
    };
    Err(UnknownTask {
        id: id.to_string(),
        help,
    }
    .into())
}

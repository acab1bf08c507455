//! Durable task state in SQLite (WAL): tasks, attempts, every state change as a timestamped
//! event, and review findings.
//!
//! Every write that changes a task's state happens in one transaction together with the
//! event that records it, so the event log is a complete history: admission limits and
//! review latency are computed from it. A crash loses nothing that was committed; on the
//! next start [`Store::recover`] marks the tasks that were running as `interrupted`.
//!
//! `schema` holds the migrations; `attempts` the attempts and their findings; `changes`
//! tells listeners (the supervisor's watching clients) what each write changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use thiserror::Error;

use crate::task::TaskState;

mod attempts;
mod changes;
mod schema;

pub use attempts::{Attempt, StoredFinding};
pub use changes::Change;
use schema::MIGRATIONS;

/// A failure of the state database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("state database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The database was written by a newer agenthost.
    #[error("state database {path} has schema version {found}; this agenthost knows up to {known}")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// No task has this id.
    #[error("no task `{id}`")]
    UnknownTask {
        /// The id asked for.
        id: String,
    },
    /// The task cannot move to that state from where it is.
    #[error("task `{id}` is {from}; it cannot become {to}")]
    BadTransition {
        /// The task.
        id: String,
        /// Its state.
        from: TaskState,
        /// The state asked for.
        to: TaskState,
    },
    /// A stored value is not one agenthost writes (the file was edited by hand?).
    #[error("state database {path}: corrupt value: {detail}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

/// What a task is launched with: what is needed to record it, and the part of a stored
/// [`Task`] that does not change (but the base commit, moved forward while it waits to
/// start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewTask {
    /// The id (see [`Store::unique_id`]).
    pub id: String,
    /// The repository's working tree root.
    pub repo: PathBuf,
    /// The spec file.
    pub spec_path: PathBuf,
    /// The spec's text at launch (the task's contract, even if the file changes later).
    #[serde(skip)]
    pub spec_text: String,
    /// `sha256:<hex>` of `spec_text`.
    pub spec_digest: String,
    /// The spec's title.
    pub title: String,
    /// The agent profile.
    pub agent: String,
    /// The base branch, when the base is one.
    pub base_branch: Option<String>,
    /// The base commit.
    pub base_commit: String,
    /// The task branch.
    pub branch: String,
    /// Where the worktree is (or will be).
    pub worktree: PathBuf,
    /// The launching client's PATH and toolchain variables
    /// (`agenthost_front::confinement::plan::env::is_launch_variable`): over the
    /// supervisor's own, they are what the task's runs see.
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    /// What it was launched with.
    #[serde(flatten)]
    pub launch: NewTask,
    /// The current state.
    pub state: TaskState,
    /// The correction the next attempt carries out, if a reviewer asked for one.
    pub next_correction: Option<String>,
    /// Why it is in its state: the last state change's detail (why it failed, was
    /// interrupted or cancelled, what the checks found) or, while admission holds it, the
    /// policy's reason. Its first line is the summary; more lines may follow (the tail of
    /// a failed agent's output).
    pub reason: String,
    /// When the task was created (Unix milliseconds).
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
}

impl Task {
    /// The environment the task's runs draw on: the supervisor's, with the launching
    /// client's PATH and toolchain variables over it.
    pub fn host_env(&self, supervisor: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut env = supervisor.clone();
        env.extend(self.launch.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Order of the event in the whole database.
    pub id: i64,
    /// The task.
    pub task_id: String,
    /// When (Unix milliseconds).
    pub at_ms: i64,
    /// The state before (none for creation).
    pub from: Option<TaskState>,
    /// The state after.
    pub to: TaskState,
    /// Why, in words.
    pub detail: String,
}

/// The state database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    changes: tokio::sync::broadcast::Sender<Change>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode, and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            changes: changes::channel(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> StoreError + use<> {
        sqlite_error(self.path.clone())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let sqlite = sqlite_error(self.path.clone());
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(&sqlite)?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        let tx = self.conn.transaction().map_err(&sqlite)?;
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(migration).map_err(&sqlite)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .map_err(&sqlite)?;
        }
        tx.commit().map_err(&sqlite)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An id based on `base` that no task has yet: `base`, else `base-2`, `base-3`, ...
    pub fn unique_id(&self, base: &str) -> Result<String, StoreError> {
        let mut candidate = base.to_string();
        let mut n = 1;
        while self.task(&candidate)?.is_some() {
            n += 1;
            candidate = format!("{base}-{n}");
        }
        Ok(candidate)
    }

    /// Records a new task in state `queued`.
    pub fn insert_task(&mut self, new: &NewTask) -> Result<Task, StoreError> {
        let now = now_ms();
        let sqlite = sqlite_error(self.path.clone());
        let tx = self.conn.transaction().map_err(&sqlite)?;
        tx.execute(
            "INSERT INTO tasks (id, repo, spec_path, spec_text, spec_digest, title, agent,
                base_branch, base_commit, branch, worktree, state, reason, created_ms, updated_ms,
                env)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'launched', ?13, ?13, ?14)",
            params![
                new.id,
                new.repo.to_string_lossy(),
                new.spec_path.to_string_lossy(),
                new.spec_text,
                new.spec_digest,
                new.title,
                new.agent,
                new.base_branch,
                new.base_commit,
                new.branch,
                new.worktree.to_string_lossy(),
                TaskState::Queued.as_str(),
                now,
                serde_json::to_string(&new.env).unwrap_or_else(|_| "{}".to_string()),
            ],
        )
        .map_err(&sqlite)?;
        tx.execute(
            "INSERT INTO events (task_id, at_ms, from_state, to_state, detail)
             VALUES (?1, ?2, NULL, ?3, 'launched')",
            params![new.id, now, TaskState::Queued.as_str()],
        )
        .map_err(&sqlite)?;
        tx.commit().map_err(&sqlite)?;
        self.tell(Change::State {
            id: new.id.clone(),
            from: None,
            to: TaskState::Queued,
            reason: "launched".into(),
            at_ms: now,
        });
        self.task(&new.id)?
            .ok_or_else(|| StoreError::UnknownTask { id: new.id.clone() })
    }

    /// The task with this id, if there is one.
    pub fn task(&self, id: &str) -> Result<Option<Task>, StoreError> {
        self.conn
            .query_row("SELECT * FROM tasks WHERE id = ?1", [id], task_from_row)
            .optional()
            .map_err(self.sqlite())?
            .transpose()
            .map_err(|detail| self.corrupt(detail))
    }

    /// Every task, oldest first; with `include_finished = false`, only those not accepted,
    /// rejected or cancelled.
    pub fn tasks(&self, include_finished: bool) -> Result<Vec<Task>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT * FROM tasks ORDER BY created_ms, rowid")
            .map_err(self.sqlite())?;
        let rows = statement
            .query_map([], task_from_row)
            .map_err(self.sqlite())?;
        let mut tasks = Vec::new();
        for row in rows {
            let task = row
                .map_err(self.sqlite())?
                .map_err(|detail| self.corrupt(detail))?;
            if include_finished || !task.state.is_terminal() {
                tasks.push(task);
            }
        }
        Ok(tasks)
    }

    /// Moves a task to `to`, recording the event with `detail`, if the lifecycle allows it.
    pub fn transition(
        &mut self,
        id: &str,
        to: TaskState,
        detail: &str,
    ) -> Result<Task, StoreError> {
        let now = now_ms();
        let sqlite = sqlite_error(self.path.clone());
        let tx = self.conn.transaction().map_err(&sqlite)?;
        let from: Option<String> = tx
            .query_row("SELECT state FROM tasks WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .map_err(&sqlite)?;
        let Some(from) = from else {
            return Err(StoreError::UnknownTask { id: id.to_string() });
        };
        let from: TaskState = from.parse().map_err(|detail| StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        })?;
        if !from.can_move_to(to) {
            return Err(StoreError::BadTransition {
                id: id.to_string(),
                from,
                to,
            });
        }
        tx.execute(
            "UPDATE tasks SET state = ?2, updated_ms = ?3, reason = ?4 WHERE id = ?1",
            params![id, to.as_str(), now, detail],
        )
        .map_err(&sqlite)?;
        tx.execute(
            "INSERT INTO events (task_id, at_ms, from_state, to_state, detail)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, now, from.as_str(), to.as_str(), detail],
        )
        .map_err(&sqlite)?;
        tx.commit().map_err(&sqlite)?;
        self.tell(Change::State {
            id: id.to_string(),
            from: Some(from),
            to,
            reason: detail.lines().next().unwrap_or_default().to_string(),
            at_ms: now,
        });
        self.task(id)?
            .ok_or_else(|| StoreError::UnknownTask { id: id.to_string() })
    }

    /// Records that admission holds the queued task `held` for `reason` (the policy's
    /// words), and that every task queued after it waits behind it (the queue is first in,
    /// first out). Not a state change, so no event; tasks in other states keep their
    /// reasons. Two statements whatever the queue's length, each touching only the rows
    /// whose reason changes: the scheduler calls this on every round while a task is held.
    pub fn set_hold(&mut self, held: &str, reason: &str) -> Result<(), StoreError> {
        let sqlite = sqlite_error(self.path.clone());
        let tx = self.conn.transaction().map_err(&sqlite)?;
        let mut changed = tx
            .execute(
                "UPDATE tasks SET reason = ?2 WHERE id = ?1 AND state = 'queued' AND reason != ?2",
                params![held, format!("held by admission: {reason}")],
            )
            .map_err(&sqlite)?;
        changed += tx
            .execute(
                "UPDATE tasks SET reason = ?2 WHERE id != ?1 AND state = 'queued' AND reason != ?2
                   AND (created_ms, rowid) > (SELECT created_ms, rowid FROM tasks WHERE id = ?1)",
                params![held, format!("queued behind {held}, which admission holds")],
            )
            .map_err(&sqlite)?;
        tx.commit().map_err(&sqlite)?;
        if changed > 0 {
            self.tell(Change::Held {
                id: held.to_string(),
            });
        }
        Ok(())
    }

    /// Records that admission keeps the queued task `waiting` for `reason`, a reason of its
    /// own (another task writes the same paths): the tasks behind it are not held by it.
    pub fn set_wait(&mut self, waiting: &str, reason: &str) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE tasks SET reason = ?2 WHERE id = ?1 AND state = 'queued' AND reason != ?2",
                params![waiting, format!("held by admission: {reason}")],
            )
            .map_err(self.sqlite())?;
        if changed > 0 {
            self.tell(Change::Held {
                id: waiting.to_string(),
            });
        }
        Ok(())
    }

    /// Moves a task that has not started yet onto `commit`, its base branch's head now (it
    /// waited while that branch moved).
    pub fn set_base_commit(&mut self, task_id: &str, commit: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE tasks SET base_commit = ?2 WHERE id = ?1",
                params![task_id, commit],
            )
            .map_err(self.sqlite())?;
        Ok(())
    }

    /// Sets (or clears) the correction the task's next attempt carries out.
    pub fn set_next_correction(
        &mut self,
        task_id: &str,
        correction: Option<&str>,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE tasks SET next_correction = ?2 WHERE id = ?1",
                params![task_id, correction],
            )
            .map_err(self.sqlite())?;
        if changed == 0 {
            return Err(StoreError::UnknownTask {
                id: task_id.to_string(),
            });
        }
        Ok(())
    }

    /// After a supervisor restart: every task that was running or being checked becomes
    /// `interrupted` (its worktree is left as it was). Returns their ids.
    pub fn recover(&mut self) -> Result<Vec<String>, StoreError> {
        let active: Vec<String> = self
            .tasks(false)?
            .into_iter()
            .filter(|task| task.state.is_active())
            .map(|task| task.launch.id)
            .collect();
        for id in &active {
            self.transition(
                id,
                TaskState::Interrupted,
                &format!(
                    "the supervisor stopped (crashed or was killed) while it ran; the worktree is \
                     kept: `agenthost resume {id}` runs it again"
                ),
            )?;
        }
        Ok(active)
    }

    /// Every event of one task (or of all tasks, with `None`), in order.
    pub fn events(&self, task_id: Option<&str>) -> Result<Vec<Event>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, task_id, at_ms, from_state, to_state, detail FROM events
                 WHERE ?1 IS NULL OR task_id = ?1 ORDER BY id",
            )
            .map_err(self.sqlite())?;
        let rows = statement
            .query_map([task_id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(self.sqlite())?;
        let mut events = Vec::new();
        for row in rows {
            let (id, task_id, at_ms, from, to, detail) = row.map_err(self.sqlite())?;
            let parse = |s: &str| s.parse::<TaskState>().map_err(|d| self.corrupt(d));
            events.push(Event {
                id,
                task_id,
                at_ms,
                from: from.as_deref().map(parse).transpose()?,
                to: parse(&to)?,
                detail,
            });
        }
        Ok(events)
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Turns a SQLite error into a [`StoreError`] naming the database file. Owns the path, so
/// it can be used while a transaction borrows the connection.
fn sqlite_error(path: PathBuf) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    }
}

/// Reads a task row; the inner error is a corrupt value.
fn task_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Task, String>> {
    let state: String = row.get("state")?;
    let state = match state.parse::<TaskState>() {
        Ok(state) => state,
        Err(detail) => return Ok(Err(detail)),
    };
    let env = match serde_json::from_str(&row.get::<_, String>("env")?) {
        Ok(env) => env,
        Err(err) => return Ok(Err(format!("the task's launch environment: {err}"))),
    };
    Ok(Ok(Task {
        launch: NewTask {
            id: row.get("id")?,
            repo: PathBuf::from(row.get::<_, String>("repo")?),
            spec_path: PathBuf::from(row.get::<_, String>("spec_path")?),
            spec_text: row.get("spec_text")?,
            spec_digest: row.get("spec_digest")?,
            title: row.get("title")?,
            agent: row.get("agent")?,
            base_branch: row.get("base_branch")?,
            base_commit: row.get("base_commit")?,
            branch: row.get("branch")?,
            worktree: PathBuf::from(row.get::<_, String>("worktree")?),
            env,
        },
        state,
        next_correction: row.get("next_correction")?,
        reason: row.get("reason")?,
        created_ms: row.get("created_ms")?,
        updated_ms: row.get("updated_ms")?,
    }))
}

#[cfg(test)]
mod tests;

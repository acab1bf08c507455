//! Durable task state in SQLite (WAL): tasks, attempts, every state change as a timestamped
//! event, and review findings.
//!
//! Every write that changes a task's state happens in one transaction together with the
//! event that records it, so the event log is a complete history: admission limits and
//! review latency are computed from it. A crash loses nothing that was committed; on the
//! next start [`Store::recover`] marks the tasks that were running as `interrupted`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use thiserror::Error;

use crate::task::TaskState;

/// The schema, applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    repo         TEXT NOT NULL,
    spec_path    TEXT NOT NULL,
    spec_text    TEXT NOT NULL,
    spec_digest  TEXT NOT NULL,
    title        TEXT NOT NULL,
    agent        TEXT NOT NULL,
    base_branch  TEXT,
    base_commit  TEXT NOT NULL,
    branch       TEXT NOT NULL,
    worktree     TEXT NOT NULL,
    state        TEXT NOT NULL,
    next_correction TEXT,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);
CREATE INDEX tasks_state ON tasks(state);
CREATE TABLE attempts (
    task_id     TEXT NOT NULL REFERENCES tasks(id),
    number      INTEGER NOT NULL,
    correction  TEXT,
    log_path    TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    ended_ms    INTEGER,
    exit_code   INTEGER,
    commit_id   TEXT,
    added       INTEGER,
    removed     INTEGER,
    PRIMARY KEY (task_id, number)
);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     TEXT NOT NULL REFERENCES tasks(id),
    at_ms       INTEGER NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX events_task ON events(task_id, id);
CREATE TABLE findings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     TEXT NOT NULL REFERENCES tasks(id),
    attempt     INTEGER NOT NULL,
    policy      TEXT NOT NULL,
    rule        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    message     TEXT NOT NULL,
    path        TEXT,
    line        INTEGER
);
CREATE INDEX findings_task ON findings(task_id, attempt);
",
    r"
-- Why the task is in its state, in words: the detail of the last state change, or, while
-- admission holds a queued task, the policy's reason. Shown by every verb.
ALTER TABLE tasks ADD COLUMN reason TEXT NOT NULL DEFAULT '';
UPDATE tasks SET reason = COALESCE(
    (SELECT detail FROM events WHERE events.task_id = tasks.id ORDER BY id DESC LIMIT 1), '');
",
    r"
-- The launching client's PATH and toolchain variables (a JSON object): the task's runs find
-- the programs and the activated virtual environment the user had when launching, not the
-- ones the supervisor started with.
ALTER TABLE tasks ADD COLUMN env TEXT NOT NULL DEFAULT '{}';
",
];

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

/// What is needed to record a new task.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// The id (see [`Store::unique_id`]).
    pub id: String,
    /// The repository's working tree root.
    pub repo: PathBuf,
    /// The spec file.
    pub spec_path: PathBuf,
    /// The spec's text at launch (the task's contract, even if the file changes later).
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
    /// ([`crate::sandbox::plan::is_launch_variable`]).
    pub env: BTreeMap<String, String>,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    /// The id.
    pub id: String,
    /// The repository's working tree root.
    pub repo: PathBuf,
    /// The spec file.
    pub spec_path: PathBuf,
    /// The spec's text at launch.
    #[serde(skip)]
    pub spec_text: String,
    /// `sha256:<hex>` of the spec text.
    pub spec_digest: String,
    /// The title.
    pub title: String,
    /// The agent profile.
    pub agent: String,
    /// The base branch, if any.
    pub base_branch: Option<String>,
    /// The base commit.
    pub base_commit: String,
    /// The task branch.
    pub branch: String,
    /// The worktree.
    pub worktree: PathBuf,
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
    /// The launching client's PATH and toolchain variables: over the supervisor's own, they
    /// are what the task's runs see.
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
}

impl Task {
    /// The environment the task's runs draw on: the supervisor's, with the launching
    /// client's PATH and toolchain variables over it.
    pub fn host_env(&self, supervisor: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut env = supervisor.clone();
        env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
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

/// One run of the agent on a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The task.
    pub task_id: String,
    /// 1 for the first run, N+1 for each correction or resume.
    pub number: i64,
    /// The correction that started it (none for the first).
    pub correction: Option<String>,
    /// The agent's log.
    pub log_path: PathBuf,
    /// When it started.
    pub started_ms: i64,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// The agent's exit code, if it exited.
    pub exit_code: Option<i64>,
    /// The commit the host made of its work, if it changed anything.
    pub commit_id: Option<String>,
    /// Lines added by the attempt's commit, once counted.
    pub added: Option<i64>,
    /// Lines removed by the attempt's commit, once counted.
    pub removed: Option<i64>,
}

/// A review finding, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredFinding {
    /// The attempt it is about.
    pub attempt: i64,
    /// The policy that reported it.
    pub policy: String,
    /// The policy's rule name.
    pub rule: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// What the reviewer should know.
    pub message: String,
    /// The file, if any.
    pub path: Option<String>,
    /// The line, if any.
    pub line: Option<i64>,
}

/// The state database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
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
        self.task(id)?
            .ok_or_else(|| StoreError::UnknownTask { id: id.to_string() })
    }

    /// Records that admission holds the queued task `held` for `reason` (the policy's
    /// words), and that every other queued task waits behind it (the queue is first in,
    /// first out). Not a state change, so no event; tasks in other states keep their
    /// reasons. Two statements whatever the queue's length, each touching only the rows
    /// whose reason changes: the scheduler calls this on every round while a task is held.
    pub fn set_hold(&mut self, held: &str, reason: &str) -> Result<(), StoreError> {
        let sqlite = sqlite_error(self.path.clone());
        let tx = self.conn.transaction().map_err(&sqlite)?;
        tx.execute(
            "UPDATE tasks SET reason = ?2 WHERE id = ?1 AND state = 'queued' AND reason != ?2",
            params![held, format!("held by admission: {reason}")],
        )
        .map_err(&sqlite)?;
        tx.execute(
            "UPDATE tasks SET reason = ?2 WHERE id != ?1 AND state = 'queued' AND reason != ?2",
            params![held, format!("queued behind {held}, which admission holds")],
        )
        .map_err(&sqlite)?;
        tx.commit().map_err(&sqlite)
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
            .map(|task| task.id)
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

    /// Starts attempt N+1 of a task and returns it.
    pub fn start_attempt(
        &mut self,
        task_id: &str,
        correction: Option<&str>,
        log_path: &Path,
    ) -> Result<Attempt, StoreError> {
        let number: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE task_id = ?1",
                [task_id],
                |row| row.get(0),
            )
            .map_err(self.sqlite())?;
        self.conn
            .execute(
                "INSERT INTO attempts (task_id, number, correction, log_path, started_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    task_id,
                    number,
                    correction,
                    log_path.to_string_lossy(),
                    now_ms()
                ],
            )
            .map_err(self.sqlite())?;
        self.attempts(task_id)?
            .pop()
            .ok_or_else(|| StoreError::UnknownTask {
                id: task_id.to_string(),
            })
    }

    /// Records how an attempt ended.
    pub fn finish_attempt(
        &mut self,
        task_id: &str,
        number: i64,
        exit_code: Option<i64>,
        commit_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE attempts SET ended_ms = ?3, exit_code = ?4, commit_id = ?5
                 WHERE task_id = ?1 AND number = ?2",
                params![task_id, number, now_ms(), exit_code, commit_id],
            )
            .map_err(self.sqlite())?;
        if changed == 0 {
            return Err(StoreError::UnknownTask {
                id: format!("{task_id} (attempt {number})"),
            });
        }
        Ok(())
    }

    /// Records the size of an attempt's change.
    pub fn set_attempt_lines(
        &mut self,
        task_id: &str,
        number: i64,
        added: i64,
        removed: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE attempts SET added = ?3, removed = ?4 WHERE task_id = ?1 AND number = ?2",
                params![task_id, number, added, removed],
            )
            .map_err(self.sqlite())?;
        Ok(())
    }

    /// When the task last entered `state` (Unix milliseconds), if it ever did.
    pub fn entered(&self, task_id: &str, state: TaskState) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT MAX(at_ms) FROM events WHERE task_id = ?1 AND to_state = ?2",
                params![task_id, state.as_str()],
                |row| row.get(0),
            )
            .map_err(self.sqlite())
    }

    /// Every attempt of a task, in order.
    pub fn attempts(&self, task_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT task_id, number, correction, log_path, started_ms, ended_ms, exit_code,
                        commit_id, added, removed
                 FROM attempts WHERE task_id = ?1 ORDER BY number",
            )
            .map_err(self.sqlite())?;
        let rows = statement
            .query_map([task_id], |row| {
                Ok(Attempt {
                    task_id: row.get(0)?,
                    number: row.get(1)?,
                    correction: row.get(2)?,
                    log_path: PathBuf::from(row.get::<_, String>(3)?),
                    started_ms: row.get(4)?,
                    ended_ms: row.get(5)?,
                    exit_code: row.get(6)?,
                    commit_id: row.get(7)?,
                    added: row.get(8)?,
                    removed: row.get(9)?,
                })
            })
            .map_err(self.sqlite())?;
        rows.collect::<Result<_, _>>().map_err(self.sqlite())
    }

    /// Replaces the findings of one attempt of a task.
    pub fn set_findings(
        &mut self,
        task_id: &str,
        attempt: i64,
        findings: &[StoredFinding],
    ) -> Result<(), StoreError> {
        let sqlite = sqlite_error(self.path.clone());
        let tx = self.conn.transaction().map_err(&sqlite)?;
        tx.execute(
            "DELETE FROM findings WHERE task_id = ?1 AND attempt = ?2",
            params![task_id, attempt],
        )
        .map_err(&sqlite)?;
        for f in findings {
            tx.execute(
                "INSERT INTO findings (task_id, attempt, policy, rule, severity, message, path, line)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![task_id, attempt, f.policy, f.rule, f.severity, f.message, f.path, f.line],
            )
            .map_err(&sqlite)?;
        }
        tx.commit().map_err(&sqlite)
    }

    /// The findings of a task's latest finished attempt (while a correction runs, the
    /// previous attempt's). A later attempt that found nothing, or failed before its checks,
    /// has none: an earlier attempt's findings never stand for it.
    pub fn findings(&self, task_id: &str) -> Result<Vec<StoredFinding>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT attempt, policy, rule, severity, message, path, line FROM findings
                 WHERE task_id = ?1
                   AND attempt = (SELECT MAX(number) FROM attempts
                                  WHERE task_id = ?1 AND ended_ms IS NOT NULL)
                 ORDER BY id",
            )
            .map_err(self.sqlite())?;
        let rows = statement
            .query_map([task_id], |row| {
                Ok(StoredFinding {
                    attempt: row.get(0)?,
                    policy: row.get(1)?,
                    rule: row.get(2)?,
                    severity: row.get(3)?,
                    message: row.get(4)?,
                    path: row.get(5)?,
                    line: row.get(6)?,
                })
            })
            .map_err(self.sqlite())?;
        rows.collect::<Result<_, _>>().map_err(self.sqlite())
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
    Ok(Ok(Task {
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
        state,
        next_correction: row.get("next_correction")?,
        reason: row.get("reason")?,
        created_ms: row.get("created_ms")?,
        updated_ms: row.get("updated_ms")?,
        env: match serde_json::from_str(&row.get::<_, String>("env")?) {
            Ok(env) => env,
            Err(err) => return Ok(Err(format!("the task's launch environment: {err}"))),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_task(id: &str) -> NewTask {
        NewTask {
            id: id.to_string(),
            repo: "/repo".into(),
            spec_path: "/repo/spec.md".into(),
            spec_text: "# T\n".into(),
            spec_digest: "sha256:00".into(),
            title: "T".into(),
            agent: "script".into(),
            base_branch: Some("main".into()),
            base_commit: "abc".into(),
            branch: format!("agenthost/{id}"),
            worktree: format!("/state/worktrees/{id}").into(),
            env: BTreeMap::from([("PATH".to_string(), "/venv/bin:/usr/bin".to_string())]),
        }
    }

    #[test]
    fn lifecycle_is_recorded_as_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let task = store.insert_task(&new_task("t")).unwrap();
        assert_eq!(task.state, TaskState::Queued);
        store
            .transition("t", TaskState::Running, "admitted")
            .unwrap();
        let err = store.transition("t", TaskState::Accepted, "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "task `t` is running; it cannot become accepted"
        );
        store
            .transition("t", TaskState::Checking, "agent exited 0")
            .unwrap();
        store
            .transition("t", TaskState::Ready, "checks done")
            .unwrap();
        let states: Vec<_> = store
            .events(Some("t"))
            .unwrap()
            .iter()
            .map(|e| (e.from, e.to))
            .collect();
        assert_eq!(
            states,
            vec![
                (None, TaskState::Queued),
                (Some(TaskState::Queued), TaskState::Running),
                (Some(TaskState::Running), TaskState::Checking),
                (Some(TaskState::Checking), TaskState::Ready),
            ]
        );
        assert!(matches!(
            store.transition("nope", TaskState::Running, ""),
            Err(StoreError::UnknownTask { .. })
        ));
    }

    #[test]
    fn survives_reopen_and_recovers_running_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let mut store = Store::open(&path).unwrap();
            store.insert_task(&new_task("a")).unwrap();
            store.insert_task(&new_task("b")).unwrap();
            store
                .transition("a", TaskState::Running, "admitted")
                .unwrap();
            let attempt = store
                .start_attempt("a", None, Path::new("/logs/a-1.log"))
                .unwrap();
            assert_eq!(attempt.number, 1);
            // Dropped without any shutdown, as a crash would.
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.recover().unwrap(), vec!["a".to_string()]);
        assert_eq!(
            store.task("a").unwrap().unwrap().state,
            TaskState::Interrupted
        );
        assert_eq!(store.task("b").unwrap().unwrap().state, TaskState::Queued);
        assert_eq!(store.attempts("a").unwrap().len(), 1);
        let journal: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
    }

    #[test]
    fn a_hold_is_the_held_tasks_reason_and_the_others_wait_behind_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        for id in ["a", "b", "c"] {
            store.insert_task(&new_task(id)).unwrap();
        }
        store
            .transition("c", TaskState::Running, "admitted")
            .unwrap();
        store.set_hold("a", "3 agents are running").unwrap();
        let reason = |id: &str| store.task(id).unwrap().unwrap().reason;
        assert_eq!(reason("a"), "held by admission: 3 agents are running");
        assert_eq!(reason("b"), "queued behind a, which admission holds");
        assert_eq!(reason("c"), "admitted", "a running task keeps its reason");
    }

    #[test]
    fn attempts_and_findings() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        store.insert_task(&new_task("t")).unwrap();
        let first = store.start_attempt("t", None, Path::new("/l/1")).unwrap();
        store
            .finish_attempt("t", first.number, Some(0), Some("c1"))
            .unwrap();
        let second = store
            .start_attempt("t", Some("also handle empty input"), Path::new("/l/2"))
            .unwrap();
        assert_eq!(second.number, 2);
        assert_eq!(
            second.correction.as_deref(),
            Some("also handle empty input")
        );
        let finding = |attempt, message: &str| StoredFinding {
            attempt,
            policy: "scope-guard".into(),
            rule: "out-of-scope".into(),
            severity: "error".into(),
            message: message.into(),
            path: Some("src/x.rs".into()),
            line: None,
        };
        store.set_findings("t", 1, &[finding(1, "old")]).unwrap();
        // While the correction runs, the finished attempt's findings stand.
        assert_eq!(store.findings("t").unwrap(), vec![finding(1, "old")]);
        store.finish_attempt("t", 2, Some(0), Some("c2")).unwrap();
        store.set_findings("t", 2, &[finding(2, "new")]).unwrap();
        let findings = store.findings("t").unwrap();
        assert_eq!(findings, vec![finding(2, "new")]);
        // An attempt that found nothing (or failed before its checks) has no findings; the
        // earlier ones never stand for it.
        let third = store
            .start_attempt("t", Some("again"), Path::new("/l/3"))
            .unwrap();
        store
            .finish_attempt("t", third.number, Some(1), None)
            .unwrap();
        assert_eq!(store.findings("t").unwrap(), vec![]);
        assert_eq!(
            store.attempts("t").unwrap()[0].commit_id.as_deref(),
            Some("c1")
        );
        assert!(store.finish_attempt("t", 9, None, None).is_err());
    }

    #[test]
    fn unique_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        assert_eq!(store.unique_id("t").unwrap(), "t");
        store.insert_task(&new_task("t")).unwrap();
        assert_eq!(store.unique_id("t").unwrap(), "t-2");
        store.insert_task(&new_task("t-2")).unwrap();
        assert_eq!(store.unique_id("t").unwrap(), "t-3");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Store::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }
}

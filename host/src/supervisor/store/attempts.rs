//! The attempts of a task (each run of its agent) and the review findings of each.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError, now_ms, sqlite_error};
use crate::task::TaskState;

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

impl Store {
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
        self.tell(super::Change::Attempt {
            id: task_id.to_string(),
            number,
        });
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

    /// How many attempts each task has had, by task id (tasks with none are absent): one
    /// query for a whole admission round.
    pub fn attempt_counts(&self) -> Result<HashMap<String, u32>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT task_id, MAX(number) FROM attempts GROUP BY task_id")
            .map_err(self.sqlite())?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(self.sqlite())?;
        rows.collect::<Result<_, _>>().map_err(self.sqlite())
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
}

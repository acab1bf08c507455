//! The state database's schema, one migration per release that changed it.

/// The schema, applied in order; `PRAGMA user_version` records how many have run.
pub(super) const MIGRATIONS: &[&str] = &[
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

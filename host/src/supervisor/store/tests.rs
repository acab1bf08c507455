//! Tests of the state database: events, recovery, attempts, findings, the schema.

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

#[test]
fn committed_changes_are_told_to_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    let mut changes = store.subscribe();
    store.insert_task(&new_task("t")).unwrap();
    store.insert_task(&new_task("u")).unwrap();
    store.set_hold("t", "3 agents are running").unwrap();
    // The same hold again changes no row: nothing to tell.
    store.set_hold("t", "3 agents are running").unwrap();
    store
        .transition("t", TaskState::Running, "admitted\nmore")
        .unwrap();
    store
        .start_attempt("t", None, &dir.path().join("attempt-1.log"))
        .unwrap();
    // A refused transition changes nothing and tells nothing.
    store.transition("u", TaskState::Ready, "no").unwrap_err();
    let mut told = Vec::new();
    while let Ok(change) = changes.try_recv() {
        told.push(match change {
            Change::State {
                id,
                from,
                to,
                reason,
                ..
            } => format!("{id} {from:?} -> {to} ({reason})"),
            Change::Held { id } => format!("held {id}"),
            Change::Attempt { id, number } => format!("{id} attempt {number}"),
            Change::Missed { count } => format!("missed {count}"),
        });
    }
    assert_eq!(
        told,
        [
            "t None -> queued (launched)",
            "u None -> queued (launched)",
            "held t",
            "t Some(Queued) -> running (admitted)",
            "t attempt 1",
        ]
    );
}

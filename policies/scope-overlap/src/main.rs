//! `scope-overlap`: agenthost's built-in admission policy, an ordinary SDK user.
//!
//! Two agents that may write the same file collide at merge time: the second accept
//! conflicts and the person resolves it by hand. agenthost knows every task's writable
//! paths before its agent starts (its Scope's Modify and Create entries), so a task whose
//! writable paths can touch a path that a running or awaiting-review task of the same
//! repository and base can also write waits (`wait`: the tasks behind it may start) until
//! that task is accepted or rejected. The reason names the other task and the shared path.
//!
//! Config under `[policies.scope-overlap.config]`:
//!
//! - `mode`: `"same-base"` (default) compares tasks of the same repository and base (branch,
//!   or commit when a task has no branch); `"same-repo"` any two tasks of a repository.
//! - `may_overlap`: globs of paths that several tasks may write at once (lock files, a
//!   changelog). A pattern counts as covered when it is a path the glob matches or the
//!   glob itself.

mod glob;

use agenthost_policy::{Admission, AdmissionRequest, Hook, Policy, TaskView};
use serde::Deserialize;

/// The policy.
struct ScopeOverlap;

/// Its settings.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    mode: Mode,
    may_overlap: Vec<String>,
}

/// Which tasks are compared.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// Tasks of the same repository and base.
    #[default]
    SameBase,
    /// Tasks of the same repository, whatever their base.
    SameRepo,
}

impl Policy for ScopeOverlap {
    const HOOKS: &'static [Hook] = &[Hook::Admission, Hook::ValidateConfig];

    fn admission(&self, request: &AdmissionRequest) -> Admission {
        let config = match Config::deserialize(&request.config) {
            Ok(config) => config,
            Err(err) => {
                return Admission::Hold(format!("invalid [policies.scope-overlap.config]: {err}"));
            }
        };
        let task = &request.task;
        let state = &request.state;
        let others = state.running.iter().map(|other| (other, "running")).chain(
            state
                .awaiting_review
                .iter()
                .map(|waiting| (&waiting.task, "awaiting review")),
        );
        for (other, doing) in others {
            if other.id == task.id || !config.compares(task, other) {
                continue;
            }
            if let Some(shared) = shared_path(task, other, &config.may_overlap) {
                return Admission::Wait(format!(
                    "waits for task {} (\"{}\", {doing}): both may write {shared}; it starts \
                     when {} is accepted or rejected",
                    other.id, other.title, other.id
                ));
            }
        }
        Admission::Start
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<String> {
        agenthost_policy::config_errors::<Config>(config)
    }
}

impl Config {
    /// Whether `task` and `other` can collide at all: the same repository, and in
    /// `same-base` mode the same base.
    fn compares(&self, task: &TaskView, other: &TaskView) -> bool {
        if task.repo != other.repo {
            return false;
        }
        match self.mode {
            Mode::SameRepo => true,
            Mode::SameBase => match (&task.base_branch, &other.base_branch) {
                (Some(a), Some(b)) => a == b,
                _ => task.base_commit == other.base_commit,
            },
        }
    }
}

/// A path both tasks may write, in words (`` `src/a.rs` ``, or the two patterns that
/// meet), unless every such pair is one the tasks may share.
fn shared_path(task: &TaskView, other: &TaskView, may_overlap: &[String]) -> Option<String> {
    for mine in writable(task) {
        for theirs in writable(other) {
            if !glob::intersect(mine, theirs)
                || shareable(mine, may_overlap)
                || shareable(theirs, may_overlap)
                || refused(mine, other)
                || refused(theirs, task)
            {
                continue;
            }
            return Some(match (glob::is_literal(mine), glob::is_literal(theirs)) {
                (true, _) => format!("`{mine}`"),
                (false, true) => format!("`{theirs}`"),
                (false, false) if mine == theirs => format!("paths matching `{mine}`"),
                (false, false) => format!("paths matching both `{mine}` and `{theirs}`"),
            });
        }
    }
    None
}

/// A task's writable patterns: its Scope's Modify and Create entries.
fn writable(task: &TaskView) -> impl Iterator<Item = &str> {
    task.modify.iter().chain(&task.create).map(String::as_str)
}

/// Whether `pattern` lies within what tasks may share.
fn shareable(pattern: &str, may_overlap: &[String]) -> bool {
    may_overlap
        .iter()
        .any(|glob| glob == pattern || (glob::is_literal(pattern) && glob::matches(glob, pattern)))
}

/// Whether `pattern` is one path that `task`'s Scope forbids it to touch (Do NOT modify
/// wins over Modify), so `task` cannot write it after all.
fn refused(pattern: &str, task: &TaskView) -> bool {
    glob::is_literal(pattern)
        && task
            .do_not_modify
            .iter()
            .any(|denied| glob::matches(denied, pattern))
}

agenthost_policy::export_policy!(ScopeOverlap, [Admission, ValidateConfig]);

#[cfg(test)]
mod tests {
    use agenthost_policy::{HostState, WaitingTask};

    use super::*;

    fn task(id: &str, modify: &[&str]) -> TaskView {
        TaskView {
            id: id.into(),
            title: format!("task {id}"),
            repo: "/repo".into(),
            base_branch: Some("main".into()),
            base_commit: "abc".into(),
            modify: modify.iter().map(|p| p.to_string()).collect(),
            ..TaskView::default()
        }
    }

    fn admit(new: &TaskView, running: &[TaskView], config: serde_json::Value) -> Admission {
        ScopeOverlap.admission(&AdmissionRequest {
            config,
            task: new.clone(),
            state: HostState {
                running: running.to_vec(),
                ..HostState::default()
            },
        })
    }

    fn waits(answer: &Admission) -> &str {
        match answer {
            Admission::Wait(reason) => reason,
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    #[test]
    fn the_same_file_waits_and_names_the_task_and_path() {
        let first = task("t1", &["src/a.rs"]);
        let answer = admit(&task("t2", &["src/a.rs"]), &[first], serde_json::json!({}));
        assert_eq!(
            waits(&answer),
            "waits for task t1 (\"task t1\", running): both may write `src/a.rs`; it starts when t1 is accepted or rejected"
        );
    }

    #[test]
    fn a_glob_against_a_file_waits_disjoint_directories_start() {
        let running = [task("t1", &["src/**"])];
        let answer = admit(
            &task("t2", &["src/api/mod.rs"]),
            &running,
            serde_json::json!({}),
        );
        assert!(waits(&answer).contains("`src/api/mod.rs`"));
        let answer = admit(
            &task("t3", &["docs/**", "README.md"]),
            &running,
            serde_json::json!({}),
        );
        assert_eq!(answer, Admission::Start);
    }

    #[test]
    fn awaiting_review_counts_queued_does_not() {
        let new = task("t2", &["src/a.rs"]);
        let request = |state: HostState| AdmissionRequest {
            config: serde_json::json!({}),
            task: new.clone(),
            state,
        };
        let waiting = HostState {
            awaiting_review: vec![WaitingTask {
                task: task("t1", &["src/*.rs"]),
                waited_secs: 60,
            }],
            ..HostState::default()
        };
        assert!(waits(&ScopeOverlap.admission(&request(waiting))).contains("awaiting review"));
        let queued = HostState {
            queued: vec![task("t1", &["src/a.rs"])],
            ..HostState::default()
        };
        assert_eq!(ScopeOverlap.admission(&request(queued)), Admission::Start);
    }

    #[test]
    fn other_repositories_and_bases_do_not_collide() {
        let mut elsewhere = task("t1", &["src/a.rs"]);
        elsewhere.repo = "/other".into();
        let new = task("t2", &["src/a.rs"]);
        assert_eq!(
            admit(&new, &[elsewhere], serde_json::json!({})),
            Admission::Start
        );

        let mut release = task("t3", &["src/a.rs"]);
        release.base_branch = Some("release".into());
        assert_eq!(
            admit(&new, std::slice::from_ref(&release), serde_json::json!({})),
            Admission::Start
        );
        // `same-repo` compares them anyway.
        let answer = admit(&new, &[release], serde_json::json!({ "mode": "same-repo" }));
        assert!(waits(&answer).contains("t3"));
    }

    #[test]
    fn paths_that_may_overlap_and_denied_paths_are_not_shared() {
        let running = [task("t1", &["Cargo.lock", "src/a.rs"])];
        let new = task("t2", &["Cargo.lock", "src/b.rs"]);
        assert!(waits(&admit(&new, &running, serde_json::json!({}))).contains("`Cargo.lock`"));
        let config = serde_json::json!({ "may_overlap": ["*.lock"] });
        assert_eq!(admit(&new, &running, config), Admission::Start);

        let mut careful = task("t3", &["src/**"]);
        careful.do_not_modify = vec!["src/a.rs".into()];
        let new = task("t4", &["src/a.rs"]);
        assert_eq!(
            admit(&new, &[careful], serde_json::json!({})),
            Admission::Start,
            "t3 may not write src/a.rs"
        );
    }

    #[test]
    fn create_entries_count_and_a_bad_config_holds() {
        let mut creator = task("t1", &[]);
        creator.create = vec!["src/new.rs".into()];
        let answer = admit(
            &task("t2", &["src/*.rs"]),
            &[creator],
            serde_json::json!({}),
        );
        assert!(waits(&answer).contains("`src/new.rs`"));
        let answer = admit(
            &task("t3", &[]),
            &[],
            serde_json::json!({ "mode": "sometimes" }),
        );
        assert!(matches!(answer, Admission::Hold(reason) if reason.contains("invalid")));
        assert_eq!(
            ScopeOverlap
                .validate_config(&serde_json::json!({ "may_overlap": "x" }))
                .len(),
            1
        );
    }
}

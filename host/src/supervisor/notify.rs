//! Saying a task is done: a desktop notification (`notify-send`, where present) and the
//! user's `on_ready` hook. The terminal bell is rung by attached clients, not here.

use std::process::{Command, Stdio};

use crate::config::NotifyConfig;
use crate::supervisor::store::Task;

/// What happened when notifying, for the supervisor's log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notified {
    /// Whether a desktop notification was sent.
    pub desktop: bool,
    /// Whether the hook was started.
    pub hook: bool,
    /// Problems, in words (a missing hook program, ...).
    pub problems: Vec<String>,
}

/// Notifies that `task` is done (its state says how). Never blocks on the notifiers: they
/// run detached, and their failures are reported, not raised.
pub fn task_done(config: &NotifyConfig, task: &Task, path_var: Option<&str>) -> Notified {
    let mut notified = Notified::default();
    let mut summary = format!("agenthost: {} is {}", task.launch.id, task.state);
    // A ready task whose base moved meanwhile says so (and whether it still applies).
    let base_moved = crate::task::stale::of_ready(task).map(|moved| moved.brief());
    if let Some(moved) = &base_moved {
        summary.push_str(&format!(" ({moved})"));
    }
    if config.desktop
        && let Some(notify_send) = crate::confinement::find_program("notify-send", path_var)
    {
        let mut command = Command::new(notify_send);
        command.args(["--app-name=agenthost", &summary, &task.launch.title]);
        match spawn_detached(&mut command) {
            Ok(()) => notified.desktop = true,
            Err(err) => notified
                .problems
                .push(format!("notify-send did not start: {err}")),
        }
    }
    if let Some(hook) = &config.on_ready
        && let Some((program, args)) = hook.split_first()
    {
        let mut command = Command::new(program);
        command
            .args(args)
            .env("AGENTHOST_TASK", &task.launch.id)
            .env("AGENTHOST_STATE", task.state.as_str())
            .env("AGENTHOST_TITLE", &task.launch.title)
            .env("AGENTHOST_REPO", &task.launch.repo)
            .env("AGENTHOST_BASE_MOVED", base_moved.as_deref().unwrap_or(""));
        match spawn_detached(&mut command) {
            Ok(()) => notified.hook = true,
            Err(err) => notified.problems.push(format!(
                "the on_ready hook `{program}` did not start: {err}"
            )),
        }
    }
    notified
}

/// Starts `command` with no standard streams and reaps it in the background, so that it
/// neither blocks the supervisor nor lingers as a zombie.
fn spawn_detached(command: &mut Command) -> std::io::Result<()> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskState;

    fn task() -> Task {
        Task {
            launch: crate::supervisor::store::NewTask {
                id: "t1".into(),
                repo: "/repo".into(),
                spec_path: "/repo/spec.md".into(),
                spec_text: String::new(),
                spec_digest: String::new(),
                title: "Do the thing".into(),
                agent: "script".into(),
                base_branch: None,
                base_commit: "abc".into(),
                branch: "agenthost/t1".into(),
                worktree: "/wt".into(),
                env: Default::default(),
            },
            state: TaskState::Ready,
            next_correction: None,
            reason: String::new(),
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn runs_the_hook_with_the_task_in_its_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("hook.out");
        let config = NotifyConfig {
            on_ready: Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "echo \"$AGENTHOST_TASK $AGENTHOST_STATE $AGENTHOST_TITLE\" > {}",
                    out.display()
                ),
            ]),
            desktop: false,
            bell: true,
        };
        let notified = task_done(&config, &task(), Some("/usr/bin:/bin"));
        assert!(notified.hook && !notified.desktop, "{notified:?}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !out.exists() || std::fs::read_to_string(&out).unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the hook did not run");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "t1 ready Do the thing\n"
        );
    }

    #[test]
    fn a_missing_hook_is_reported_not_raised() {
        let config = NotifyConfig {
            on_ready: Some(vec!["/nonexistent/hook".into()]),
            desktop: true,
            bell: false,
        };
        // No notify-send on an empty PATH: silently no desktop notification.
        let notified = task_done(&config, &task(), Some(""));
        assert!(!notified.desktop && !notified.hook);
        assert_eq!(notified.problems.len(), 1);
        assert!(notified.problems[0].contains("/nonexistent/hook"));
    }
}

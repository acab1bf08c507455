//! `kill -9` of the supervisor while agents run: nothing they started outlives it, the
//! read-only verbs tell the truth before any supervisor is back, and `resume` runs exactly
//! one agent in the worktree. Asserted in `/proc` and on disk; every wait has a deadline.
//!
//! As root and as a normal user alike: the test only reads `/proc` entries of its own
//! processes (as root it could read every process's, which changes nothing it looks at).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::lifecycle::{StopSupervisor, sample};
use crate::{Test, runs, stat, wait_until};

/// The agent: a background child, a daemon that leaves the session (`setsid`), and a long
/// foreground sleep, each announcing its pid in the attempt's log (the markers that the
/// attack ran).
const FORKER: &str = r#"sleep 3000 & echo "background $!"; setsid sh -c 'echo "daemon $$"; exec sleep 3001' & echo "agent $$"; sleep 3002"#;

const TASKS: [(&str, &str); 2] = [
    ("export-items-as-csv", "repo/specs/csv-export.md"),
    (
        "refuse-negative-quantities-when-loading-items",
        "repo/specs/quantity-check.md",
    ),
];

/// Every running process whose working directory is `dir` or below, with its command line.
fn running_in(dir: &Path) -> Vec<(i32, String)> {
    crate::running_processes()
        .into_iter()
        .filter(|(pid, _)| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .collect()
}

/// The pid the log announced as `label`, once it has.
fn announced(log: &Path, label: &str) -> i32 {
    let mut pid = None;
    wait_until(
        Duration::from_secs(60),
        &format!("`{label}` in {}", log.display()),
        || {
            pid = std::fs::read_to_string(log).ok().and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix(&format!("{label} "))?.trim().parse().ok())
            });
            pid.is_some()
        },
    );
    pid.unwrap_or_default()
}

fn json(test: &Test, args: &[&str]) -> serde_json::Value {
    let run = test.exec(args);
    assert_eq!(run.code, 0, "{}", run.transcript());
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.transcript()))
}

fn row(rows: &serde_json::Value, id: &str) -> serde_json::Value {
    rows.as_array()
        .expect("rows")
        .iter()
        .find(|row| row["id"] == id)
        .unwrap_or_else(|| panic!("no row {id}: {rows}"))
        .clone()
}

/// Whether a supervisor holds the lock (the way the verbs ask, without taking it for long).
fn supervisor_holds_the_lock(test: &Test) -> bool {
    let Ok(lock) = std::fs::File::open(test.state_dir().join("supervisor.lock")) else {
        return false;
    };
    matches!(
        lock.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// Kills, when the test ends, whatever of the agents is still running (only after a
/// failure): processes whose command line is still one the agent runs.
struct Leftovers(Vec<i32>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.starts_with(b"sleep\x00300") || cmdline.starts_with(b"sh\0-c\0") {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
        }
    }
}

fn crash(mode: &str) {
    let test = sample().file(
        "repo/agenthost.toml",
        format!(
            "[sandbox]\nmode = \"{mode}\"\n\n[agents.forker]\ncommand = [\"sh\", \"-c\", {}]\n",
            toml_string(FORKER)
        ),
    );
    crate::commit_all(&test.path().join("repo"));
    let _stop = StopSupervisor(&test);
    let mut args = vec!["launch", "--agent", "forker"];
    args.extend(TASKS.iter().map(|(_, spec)| *spec));
    let run = test.exec(&args);
    assert_eq!(run.code, 0, "{}", run.transcript());

    let state = test.state_dir();
    let log = |id: &str, attempt: i64| state.join(format!("logs/{id}/attempt-{attempt}.log"));
    let worktree = |id: &str| -> PathBuf {
        state
            .join("worktrees")
            .join(id)
            .canonicalize()
            .expect("worktree")
    };
    // Both agents run, with a background child and a daemon in a session of its own.
    let mut pids = Leftovers(Vec::new());
    for (id, _) in TASKS {
        let agent = announced(&log(id, 1), "agent");
        let background = announced(&log(id, 1), "background");
        let daemon = announced(&log(id, 1), "daemon");
        for pid in [agent, background, daemon] {
            assert!(runs(pid), "{id}: {pid} is not running before the crash");
        }
        let (_, agent_session) = stat(agent).expect("agent");
        let (_, daemon_session) = stat(daemon).expect("daemon");
        assert_ne!(
            agent_session, daemon_session,
            "{id}: the daemon did not setsid"
        );
        // Written by the runner once its spawn has returned, maybe after the agent's lines.
        let record = state.join(format!("logs/{id}/attempt-1.job"));
        wait_until(Duration::from_secs(10), "the job's record", || {
            record.exists()
        });
        pids.0.extend([agent, background, daemon]);
    }

    let lock = std::fs::read_to_string(state.join("supervisor.lock")).expect("lock");
    let supervisor: i32 = lock.trim().parse().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-9", &supervisor.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let killed_at = Instant::now();
    wait_until(Duration::from_secs(10), "the supervisor to die", || {
        !runs(supervisor)
    });

    // No supervisor runs, and nothing of the agents: their reapers ended everything.
    wait_until(
        Duration::from_secs(10),
        "every process the agents started to be gone",
        || pids.0.iter().all(|&pid| !runs(pid)),
    );
    eprintln!(
        "{mode}: every process of the agents gone {:?} after the kill",
        killed_at.elapsed()
    );
    for (id, _) in TASKS {
        // A process the reaper killed may still be exiting for a moment (no command line
        // left, its directory still set): wait for it, then nothing may be left.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !running_in(&worktree(id)).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            running_in(&worktree(id)),
            [],
            "{id}: left running in the worktree"
        );
        let text = std::fs::read_to_string(log(id, 1)).expect("log");
        assert!(
            text.contains("is gone: killing the command and everything it started"),
            "{id}: {text}"
        );
    }
    assert!(!supervisor_holds_the_lock(&test));

    // The read-only verbs say so, and start no supervisor.
    let rows = json(&test, &["status", "--json"]);
    for (id, _) in TASKS {
        let row = row(&rows, id);
        assert_eq!(row["state"], "interrupted", "{row}");
        assert_eq!(row["supervisor_gone"], true, "{row}");
    }
    let status = test.exec(&["status"]);
    assert_eq!(
        status
            .stdout
            .matches("interrupted (supervisor gone)")
            .count(),
        2,
        "{}",
        status.transcript()
    );
    assert!(
        status
            .stdout
            .contains("note: no supervisor is running: 2 tasks are still recorded as running"),
        "{}",
        status.transcript()
    );
    let (id, _) = TASKS[0];
    let review = test.exec(&["review", "--no-pager", id]);
    assert!(
        review
            .stdout
            .contains("state     interrupted (supervisor gone), attempt 1"),
        "{}",
        review.transcript()
    );
    let logs = test.exec(&["logs", "-f", id]);
    assert_eq!(logs.code, 0, "{}", logs.transcript());
    assert!(
        logs.stdout
            .contains("note: no supervisor is running: 1 task is")
    );
    assert!(
        !supervisor_holds_the_lock(&test),
        "a read-only verb started a supervisor"
    );

    // Resume one: the new supervisor checks both jobs first, then runs exactly one agent.
    let resume = test.exec(&["resume", id]);
    assert_eq!(resume.code, 0, "{}", resume.transcript());
    let agent = announced(&log(id, 2), "agent");
    let sleeping = || -> Vec<(i32, String)> {
        running_in(&worktree(id))
            .into_iter()
            .filter(|(_, cmdline)| cmdline == "sleep 3002 ")
            .collect()
    };
    wait_until(
        Duration::from_secs(10),
        "the second attempt's agent",
        || !sleeping().is_empty(),
    );
    // Each agent has exactly one such sleep, a child of its shell.
    let agents = sleeping();
    assert_eq!(agents.len(), 1, "exactly one agent: {agents:?}");
    let parent = std::fs::read_to_string(format!("/proc/{}/stat", agents[0].0)).expect("stat");
    let parent = parent
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .nth(1);
    assert_eq!(parent, Some(agent.to_string().as_str()), "{agents:?}");
    let supervisor_log = std::fs::read_to_string(state.join("supervisor.log")).expect("log");
    assert_eq!(
        supervisor_log
            .matches("a job was running when the supervisor stopped")
            .count(),
        2,
        "{supervisor_log}"
    );
    for (task, _) in TASKS {
        assert!(!state.join(format!("logs/{task}/attempt-1.job")).exists());
        let text = std::fs::read_to_string(log(task, 1)).expect("log");
        assert!(
            text.contains("== agenthost: the supervisor stopped while this ran; on restart: "),
            "{task}: {text}"
        );
    }
    let rows = json(&test, &["status", "--json"]);
    assert_eq!(row(&rows, id)["state"], "running");
    let other = row(&rows, TASKS[1].0);
    assert_eq!(other["state"], "interrupted", "{other}");
    assert!(other.get("supervisor_gone").is_none(), "{other}");
    assert_eq!(running_in(&worktree(TASKS[1].0)), []);
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn kill_9_of_the_supervisor_leaves_no_agent_process_sandboxed() {
    crash("best-effort");
}

#[test]
fn kill_9_of_the_supervisor_leaves_no_agent_process_with_the_sandbox_off() {
    crash("off");
}

//! Runs jobs as child processes of the supervisor on this machine.
//!
//! A job is stopped as a whole: SIGTERM to its process group (or session), then SIGKILL
//! after a grace period, so an agent's own children do not outlive it. A sandboxed job is
//! restricted in its forked child before exec ([`agenthost_sandbox::Restriction`]).

use std::os::unix::process::ExitStatusExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use super::{Cancellation, Ending, Job, Outcome, RunError, Runner};

/// How long a stopped job gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// Runs jobs here, as child processes.
#[derive(Debug, Clone, Default)]
pub struct LocalRunner;

impl Runner for LocalRunner {
    async fn run(&self, job: Job, mut cancel: Cancellation) -> Result<Outcome, RunError> {
        let started = Instant::now();
        if let Some(parent) = job.log.parent() {
            fs_err::create_dir_all(parent).map_err(|source| RunError::Log {
                path: job.log.clone(),
                source,
            })?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&job.log)
            .map_err(|source| RunError::Log {
                path: job.log.clone(),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| RunError::Log {
            path: job.log.clone(),
            source,
        })?;
        let program = job.argv.first().cloned().unwrap_or_default();
        let mut command = Command::new(&program);
        command
            .args(&job.argv[1.min(job.argv.len())..])
            .env_clear()
            .envs(job.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&job.cwd)
            .stdin(if job.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true);
        let spawned = match &job.sandbox {
            Some(restriction) => {
                restriction.apply_to(command.as_std_mut());
                // PR_SET_PDEATHSIG follows the forking thread: fork on one that lasts.
                let runtime = tokio::runtime::Handle::current();
                agenthost_sandbox::spawn_lasting(move || {
                    let _entered = runtime.enter();
                    command.spawn()
                })
                .and_then(|spawned| spawned)
            }
            None => {
                command.process_group(0);
                command.spawn()
            }
        };
        let mut child = spawned.map_err(|source| RunError::Spawn {
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
        let pid = child.id().and_then(|id| Pid::from_raw(id as i32));
        if let (Some(bytes), Some(mut stdin)) = (job.stdin, child.stdin.take()) {
            // The agent may exit without reading its stdin; that is its business.
            tokio::spawn(async move {
                let _ = stdin.write_all(&bytes).await;
                let _ = stdin.shutdown().await;
            });
        }

        let stopped = tokio::select! {
            status = child.wait() => {
                let status = status.map_err(RunError::Wait)?;
                let ending = match (status.code(), status.signal()) {
                    (Some(code), _) => Ending::Exited(code),
                    (None, Some(signal)) => Ending::Signalled(signal),
                    (None, None) => Ending::Exited(-1),
                };
                // The job is over; stop anything it left running in its group.
                if let Some(pid) = pid {
                    let _ = kill_process_group(pid, Signal::KILL);
                }
                return Ok(Outcome { ending, duration: started.elapsed() });
            }
            () = tokio::time::sleep(job.timeout) => Ending::TimedOut,
            () = cancel.cancelled() => Ending::Cancelled,
        };

        if let Some(pid) = pid {
            signal_job(pid, Signal::TERM);
            if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
                signal_job(pid, Signal::KILL);
            }
        }
        let _ = child.kill().await;
        Ok(Outcome {
            ending: stopped,
            duration: started.elapsed(),
        })
    }
}

/// Signals the job's whole process group, or the process if it has no group of its own yet.
fn signal_job(pid: Pid, signal: Signal) {
    if kill_process_group(pid, signal).is_err() {
        let _ = kill_process(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::cancellation;

    fn job(dir: &std::path::Path, script: &str, timeout: Duration) -> Job {
        Job {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("ONLY".into(), "this".into()),
            ],
            cwd: dir.to_path_buf(),
            stdin: Some(b"from stdin\n".to_vec()),
            log: dir.join("logs/job.log"),
            timeout,
            sandbox: None,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn runs_with_only_its_environment_and_logs() {
        let dir = tempfile::tempdir().unwrap();
        let (_keep, cancel) = cancellation();
        let outcome = runtime()
            .block_on(LocalRunner.run(
                job(
                    dir.path(),
                    "cat; env | sort; echo err >&2; exit 3",
                    Duration::from_secs(30),
                ),
                cancel,
            ))
            .unwrap();
        assert_eq!(outcome.ending, Ending::Exited(3));
        let log = std::fs::read_to_string(dir.path().join("logs/job.log")).unwrap();
        assert!(log.contains("from stdin\n"), "{log}");
        assert!(log.contains("ONLY=this\n"), "{log}");
        assert!(!log.contains("HOME="), "{log}");
        assert!(log.contains("err\n"), "{log}");
    }

    #[test]
    fn timeout_stops_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survivor");
        // The child starts a grandchild that would write a file after the timeout.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let (_keep, cancel) = cancellation();
        let outcome = runtime()
            .block_on(LocalRunner.run(job(dir.path(), &script, Duration::from_millis(300)), cancel))
            .unwrap();
        assert_eq!(outcome.ending, Ending::TimedOut);
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "a grandchild outlived the job");
    }

    #[test]
    fn cancel_stops_it() {
        let dir = tempfile::tempdir().unwrap();
        let (canceller, cancel) = cancellation();
        let rt = runtime();
        let outcome = rt
            .block_on(async {
                let run =
                    LocalRunner.run(job(dir.path(), "sleep 30", Duration::from_secs(60)), cancel);
                let stop = async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    canceller.cancel();
                };
                let (outcome, ()) = tokio::join!(run, stop);
                outcome
            })
            .unwrap();
        assert_eq!(outcome.ending, Ending::Cancelled);
        assert!(outcome.duration < Duration::from_secs(10));
    }

    #[test]
    fn missing_program_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut missing = job(dir.path(), "", Duration::from_secs(1));
        missing.argv = vec!["/nonexistent/agent".into()];
        let (_keep, cancel) = cancellation();
        let err = runtime()
            .block_on(LocalRunner.run(missing, cancel))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot start `/nonexistent/agent`"),
            "{err}"
        );
    }
}

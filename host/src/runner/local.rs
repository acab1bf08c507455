//! Runs jobs as child processes of the supervisor on this machine.
//!
//! A job is stopped as a whole, so an agent's own children do not outlive it. A sandboxed
//! job runs behind a reaper ([`agenthost_sandbox::Restriction::apply_with_reaper_to`]): the
//! runner's child is the reaper, which forks the restricted command, passes SIGTERM on to
//! it, kills it after the grace period, and once it has ended kills everything it left
//! running, also processes that left its process group (`setsid`). A job without a sandbox
//! (mode `off`) gets SIGTERM to its process group, then SIGKILL after the grace period.

use std::os::unix::process::ExitStatusExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use super::{Cancellation, Ending, Job, Outcome, RunError, Runner};

/// How long a stopped job gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// How long past the grace a sandboxed job's reaper gets to kill and reap what is left
/// before the runner kills the reaper itself.
const REAPING: Duration = Duration::from_secs(5);

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
                restriction.apply_with_reaper_to(command.as_std_mut(), GRACE);
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
                // The job is over; stop anything it left running in its group (a sandboxed
                // job's reaper has already ended everything it left).
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
            // A reaper kills the command itself after the grace, then what it left.
            let patience = if job.sandbox.is_some() {
                GRACE + REAPING
            } else {
                GRACE
            };
            if tokio::time::timeout(patience, child.wait()).await.is_err() {
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

    /// A job that may write only `dir` (and use `/dev/null`), behind the sandbox.
    fn sandboxed(dir: &std::path::Path, script: &str, timeout: Duration) -> Job {
        use agenthost_sandbox::plan::{FsRule, NetPlan, Provenance, Target, rights};
        let rule = |path: &std::path::Path, target, rights: &[agenthost_sandbox::FsRight]| FsRule {
            path: path.to_path_buf(),
            target,
            rights: rights.to_vec(),
            provenance: Provenance::new("test", "runner"),
            optional: true,
        };
        let mut fs: Vec<FsRule> = ["/usr", "/bin", "/lib", "/lib64", "/etc"]
            .iter()
            .map(|system| {
                rule(
                    std::path::Path::new(system),
                    Target::Tree,
                    rights::READ_EXEC,
                )
            })
            .collect();
        fs.push(rule(
            std::path::Path::new("/dev/null"),
            Target::File,
            rights::DEVICE_RW,
        ));
        fs.push(rule(dir, Target::Tree, rights::WRITE_TREE));
        let plan = agenthost_sandbox::SandboxPlan {
            enforcement: agenthost_sandbox::Enforcement::BestEffort,
            fs,
            net: NetPlan::default(),
            scope_signals_and_abstract_sockets: true,
            env: [("PATH".to_string(), "/usr/bin:/bin".to_string())].into(),
            cwd: dir.to_path_buf(),
            tmpdir: dir.to_path_buf(),
        };
        let support = agenthost_sandbox::Support::probe();
        let restriction = agenthost_sandbox::Restriction::prepare(&plan, &support).unwrap();
        Job {
            sandbox: Some(restriction),
            ..job(dir, script, timeout)
        }
    }

    /// A daemon the sandboxed job starts (its own session) is ended with the job, whether
    /// the job ends by itself or is stopped at its time limit.
    #[test]
    fn nothing_a_sandboxed_job_started_outlives_it() {
        for (script, timeout, ending) in [
            ("exit 5", Duration::from_secs(30), Ending::Exited(5)),
            ("sleep 30", Duration::from_millis(300), Ending::TimedOut),
        ] {
            let dir = tempfile::tempdir().unwrap();
            // Started (in a session of its own) before the job goes on.
            let daemon = "setsid sh -c 'touch started; sleep 1; touch survivor' >/dev/null 2>&1 &
                while [ ! -e started ]; do sleep 0.01; done;";
            let (_keep, cancel) = cancellation();
            let job = sandboxed(dir.path(), &format!("{daemon} {script}"), timeout);
            let outcome = runtime().block_on(LocalRunner.run(job, cancel)).unwrap();
            assert_eq!(outcome.ending, ending, "{script}");
            std::thread::sleep(Duration::from_millis(1500));
            assert!(
                !dir.path().join("survivor").exists(),
                "a daemon outlived `{script}`"
            );
        }
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
        // Behind the sandbox's reaper too: the command's failed `exec` is the error.
        for sandbox in [false, true] {
            let mut missing = if sandbox {
                sandboxed(dir.path(), "", Duration::from_secs(1))
            } else {
                job(dir.path(), "", Duration::from_secs(1))
            };
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
}

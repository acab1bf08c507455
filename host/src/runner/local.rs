//! Runs jobs as child processes of the supervisor on this machine.
//!
//! A job is stopped as a whole, so an agent's own children do not outlive it. Every job runs
//! behind a reaper ([`agenthost_sandbox::Restriction::apply_with_reaper_to`], or
//! [`agenthost_sandbox::apply_reaper_to`] for a job without a sandbox, mode `off`): the
//! runner's child is the reaper, which forks the (restricted) command, passes SIGTERM on to
//! it, kills it after the grace period, and once it has ended kills everything it left
//! running, also processes that left its process group (`setsid`). When the supervisor dies,
//! by any signal, `kill -9` included, each reaper kills its job at once and exits.
//!
//! While a job runs, a record of its processes sits beside its log
//! ([`super::survivors`]), so that the next supervisor can verify that nothing of it still
//! runs.

use std::os::unix::process::ExitStatusExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use super::survivors::{JobRecord, record_path};
use super::{Cancellation, Ending, Job, Outcome, RunError, Runner};

/// How long a stopped job gets between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// How long past the grace a sandboxed job's reaper gets to kill and reap what is left
/// before the runner kills the reaper itself.
const REAPING: Duration = Duration::from_secs(5);

/// Runs jobs here, as child processes.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalRunner;

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
            .stderr(log_err);
        match &job.sandbox {
            Some(restriction) => restriction.apply_with_reaper_to(command.as_std_mut(), GRACE),
            None => agenthost_sandbox::apply_reaper_to(command.as_std_mut(), GRACE),
        }
        // PR_SET_PDEATHSIG follows the forking thread: fork on one that lasts.
        let runtime = tokio::runtime::Handle::current();
        let spawned = agenthost_sandbox::spawn_lasting(move || {
            let _entered = runtime.enter();
            command.spawn()
        })
        .and_then(|spawned| spawned);
        let mut child = spawned.map_err(|source| RunError::Spawn {
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
        let pid = child.id().and_then(|id| Pid::from_raw(id as i32));
        // Declared after `child`, so dropped before it.
        let mut record = Record::write(pid, &job.log);
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
                // The job is over, and its reaper has ended everything it left.
                record.done();
                return Ok(Outcome { ending, duration: started.elapsed() });
            }
            () = tokio::time::sleep(job.timeout) => Ending::TimedOut,
            () = cancel.cancelled() => Ending::Cancelled,
        };

        if let Some(pid) = pid {
            signal_job(pid, Signal::TERM);
            // The reaper kills the command itself after the grace, then what it left.
            if tokio::time::timeout(GRACE + REAPING, child.wait())
                .await
                .is_err()
            {
                signal_job(pid, Signal::KILL);
            }
        }
        let _ = child.kill().await;
        record.done();
        Ok(Outcome {
            ending: stopped,
            duration: started.elapsed(),
        })
    }
}

/// A running job's reaper and the record of its processes ([`super::survivors`]). Once
/// the job is over, [`Record::done`] removes the record. Dropped before that (the run given
/// up, the supervisor's runtime shut down), it tells the reaper to kill the job at once, as
/// the supervisor's death would, and removes the record: SIGKILL to the reaper (tokio's
/// `kill_on_drop`) would leave alive what the command started.
struct Record {
    reaper: Option<Pid>,
    path: Option<std::path::PathBuf>,
}

impl Record {
    /// Records the job whose reaper is `reaper` beside its `log`. A record that cannot be
    /// written is said in the log; the reaper still ends the job with the supervisor.
    fn write(reaper: Option<Pid>, log: &std::path::Path) -> Record {
        let path = record_path(log);
        let written = reaper
            .and_then(|pid| JobRecord::of_reaper(pid.as_raw_nonzero().get()))
            .ok_or_else(|| std::io::Error::other("its processes cannot be read in /proc"))
            .and_then(|record| record.write(&path));
        let path = match written {
            Ok(()) => Some(path),
            Err(err) => {
                use std::io::Write as _;
                if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(log) {
                    let _ = writeln!(
                        file,
                        "== agenthost: cannot record the job's processes in {}: {err}",
                        path.display()
                    );
                }
                None
            }
        };
        Record { reaper, path }
    }

    /// The reaper has been waited for (its pid may be reused from now on): forget it and
    /// remove the record.
    fn done(&mut self) {
        self.reaper = None;
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if let Some(reaper) = self.reaper
            && let Some(kill_now) = Signal::from_named_raw(agenthost_sandbox::REAPER_KILL_NOW)
        {
            // The reaper is this process's unreaped child: its pid is still its own.
            let _ = kill_process(reaper, kill_now);
        }
        self.done();
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
    use crate::runner::survivors::JobRecord;

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

    /// Waits until no process's command line contains `token` (a test's daemon has ended
    /// or been killed), so that a "left no file" check runs only once nothing can write it.
    fn wait_until_no_process_mentions(token: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mentions = |entry: std::fs::DirEntry| {
            let raw = std::fs::read(entry.path().join("cmdline")).ok()?;
            let command = String::from_utf8_lossy(&raw).replace('\0', " ");
            command.contains(token).then_some(command)
        };
        loop {
            let left: Vec<String> = std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(Result::ok)
                .filter_map(mentions)
                .collect();
            if left.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn timeout_stops_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survivor");
        // The child starts a grandchild that would write a file after the timeout.
        let script = format!("(sleep 2.03; touch {}) & sleep 30", marker.display());
        let (_keep, cancel) = cancellation();
        let outcome = runtime()
            .block_on(LocalRunner.run(job(dir.path(), &script, Duration::from_millis(300)), cancel))
            .unwrap();
        assert_eq!(outcome.ending, Ending::TimedOut);
        wait_until_no_process_mentions("sleep 2.03");
        assert!(!marker.exists(), "a grandchild outlived the job");
    }

    /// A job that may write only `dir` (and use `/dev/null`), behind the sandbox.
    fn sandboxed_job(dir: &std::path::Path, script: &str, timeout: Duration) -> Job {
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
            mounts: Default::default(),
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
            let daemon =
                "setsid sh -c 'touch started; sleep 1.07; touch survivor' >/dev/null 2>&1 &
                while [ ! -e started ]; do sleep 0.01; done;";
            let (_keep, cancel) = cancellation();
            let job = sandboxed_job(dir.path(), &format!("{daemon} {script}"), timeout);
            let outcome = runtime().block_on(LocalRunner.run(job, cancel)).unwrap();
            assert_eq!(outcome.ending, ending, "{script}");
            wait_until_no_process_mentions("sleep 1.07");
            assert!(
                !dir.path().join("survivor").exists(),
                "a daemon outlived `{script}`"
            );
        }
    }

    /// Waits until `path` holds a pid (written by a job), and returns it.
    fn pid_in(path: &std::path::Path) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(pid) = std::fs::read_to_string(path)
                .ok()
                .and_then(|text| text.trim().parse().ok())
            {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "{} was not written",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether `pid` runs (exists and is not a zombie).
    fn runs(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let state = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .next()?
                    .to_string();
                Some(state != "Z" && state != "X")
            })
            .unwrap_or(false)
    }

    /// While a job runs, the record beside its log names its reaper (this process's child)
    /// and its command; it goes when the job ends. Sandboxed or not (mode off).
    #[test]
    fn a_running_job_is_recorded_beside_its_log() {
        for sandboxed in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let script = "echo $$ > command.pid; while [ ! -e go ]; do sleep 0.01; done";
            let job = if sandboxed {
                sandboxed_job(dir.path(), script, Duration::from_secs(60))
            } else {
                job(dir.path(), script, Duration::from_secs(60))
            };
            let record = dir.path().join("logs/job.job");
            let (_keep, cancel) = cancellation();
            let outcome = runtime()
                .block_on(async {
                    let run = LocalRunner.run(job, cancel);
                    let check = async {
                        let command = pid_in(&dir.path().join("command.pid"));
                        let text = std::fs::read_to_string(&record).unwrap();
                        let recorded = JobRecord::parse(&text).unwrap();
                        assert_eq!(recorded.command.map(|c| c.pid), Some(command), "{text}");
                        let reaper =
                            std::fs::read_to_string(format!("/proc/{}/stat", recorded.reaper.pid))
                                .unwrap();
                        let parent = reaper.rsplit_once(')').unwrap().1.split_whitespace().nth(1);
                        assert_eq!(parent, Some(std::process::id().to_string().as_str()));
                        std::fs::write(dir.path().join("go"), "").unwrap();
                    };
                    let (outcome, ()) = tokio::join!(run, check);
                    outcome
                })
                .unwrap();
            assert_eq!(outcome.ending, Ending::Exited(0), "sandboxed: {sandboxed}");
            assert!(!record.exists(), "the record outlived the job");
        }
    }

    /// A run given up before its job ended (its future dropped: the supervisor's runtime
    /// shutting down) kills the job at once through its reaper, a daemon in a session of
    /// its own included, and removes the record.
    #[test]
    fn a_run_given_up_kills_its_job() {
        for sandboxed in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let script = "setsid sh -c 'echo $$ > daemon.pid; exec sleep 60' >/dev/null 2>&1 &
                sleep 60";
            let job = if sandboxed {
                sandboxed_job(dir.path(), script, Duration::from_secs(120))
            } else {
                job(dir.path(), script, Duration::from_secs(120))
            };
            let (_keep, cancel) = cancellation();
            let daemon = dir.path().join("daemon.pid");
            let given_up = runtime().block_on(async {
                let run = LocalRunner.run(job, cancel);
                tokio::select! {
                    _ = run => false,
                    () = async {
                        while !daemon.exists() {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    } => true,
                }
            });
            assert!(given_up, "the job ended by itself");
            let daemon = pid_in(&daemon);
            let deadline = Instant::now() + Duration::from_secs(10);
            while runs(daemon) {
                assert!(Instant::now() < deadline, "the daemon outlived the run");
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(!dir.path().join("logs/job.job").exists());
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
                sandboxed_job(dir.path(), "", Duration::from_secs(1))
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

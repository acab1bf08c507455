//! What a job may have left running when the supervisor died, found again and stopped by
//! the next supervisor before anything else runs in the same worktree.
//!
//! While a [`super::local::LocalRunner`] job runs, a small record sits beside its log
//! (`attempt-N.job` beside `attempt-N.log`): the boot it runs in, and the process id and
//! start time of its reaper and of the command the reaper forked. The runner removes it
//! when the job is over, so a record found at start-up is a job whose supervisor died.
//!
//! The reaper normally ends such a job itself (its parent-death signal kills everything the
//! job started at once, see `agenthost_sandbox::apply_reaper_to`), so recovery mostly
//! finds nothing, or a reaper still finishing. It verifies rather than trusts: it waits
//! for the reaper, kills it if it lingers, then kills every process of the command's
//! session. A process is taken for the recorded one only when its pid *and* start time
//! (clock ticks since boot, `/proc/PID/stat`) match in the same boot (the kernel's
//! `boot_id`); a reused pid has a later start time. Signals go through a pidfd opened
//! before the identity is checked, so the check and the kill are about the same process.
//!
//! What it cannot find: a process that left the command's session (`setsid`) *and* lost
//! its reaper before the reaper could kill it (the reaper itself killed with SIGKILL by
//! someone else); init adopted it and nothing ties it to the job any more. Only a cgroup per
//! job would (not built: see docs/security-model.md).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal};

/// The record of the job whose log is `log`.
pub(crate) fn record_path(log: &Path) -> PathBuf {
    log.with_extension("job")
}

/// One process, as the kernel numbers it: its pid and its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcessId {
    /// The process id.
    pub pid: i32,
    /// When it started, in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start: u64,
}

/// What a running job is made of, for a later supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobRecord {
    /// `/proc/sys/kernel/random/boot_id`: after a reboot, nothing of the job runs.
    pub boot: String,
    /// The reaper (the runner's child).
    pub reaper: ProcessId,
    /// The command (the reaper's child, leader of its own session), when it was found.
    pub command: Option<ProcessId>,
}

impl JobRecord {
    /// The record of the job whose reaper is `reaper` (this process's child, so its pid is
    /// not reused while it is unreaped); None without `/proc`.
    pub(crate) fn of_reaper(reaper: i32) -> Option<JobRecord> {
        let boot = boot_id()?;
        let reaper_stat = stat(reaper)?;
        // The command is forked before the runner's spawn returns (std waits until it has
        // `exec`ed); if it is gone already, the first child listed is what it left.
        let children =
            std::fs::read_to_string(format!("/proc/{reaper}/task/{reaper}/children")).ok()?;
        let command = children
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .find_map(stat)
            .map(|stat| stat.id);
        Some(JobRecord {
            boot,
            reaper: reaper_stat.id,
            command,
        })
    }

    /// The record as text, one `key values` line each.
    pub(crate) fn to_text(&self) -> String {
        let mut text = format!(
            "boot {}\nreaper {} {}\n",
            self.boot, self.reaper.pid, self.reaper.start
        );
        if let Some(command) = self.command {
            text.push_str(&format!("command {} {}\n", command.pid, command.start));
        }
        text
    }

    /// Reads [`JobRecord::to_text`] back; None for anything else.
    pub(crate) fn parse(text: &str) -> Option<JobRecord> {
        let (mut boot, mut reaper, mut command) = (None, None, None);
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let key = words.next()?;
            let mut id = || -> Option<ProcessId> {
                Some(ProcessId {
                    pid: words.next()?.parse().ok()?,
                    start: words.next()?.parse().ok()?,
                })
            };
            match key {
                "boot" => boot = Some(words.next()?.to_string()),
                "reaper" => reaper = Some(id()?),
                "command" => command = Some(id()?),
                _ => return None,
            }
        }
        Some(JobRecord {
            boot: boot?,
            reaper: reaper?,
            command,
        })
    }

    /// Writes the record to `path`, whole or not at all (a temp file renamed over it).
    pub(crate) fn write(&self, path: &Path) -> std::io::Result<()> {
        let temp = path.with_extension("job.tmp");
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(self.to_text().as_bytes())?;
        std::fs::rename(&temp, path)
    }
}

/// What `/proc/PID/stat` says of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    id: ProcessId,
    /// `R`, `S`, `D`, `T`, `Z` (zombie), ...
    state: char,
    session: i32,
}

impl Stat {
    /// Whether it still runs: a zombie has ended (and one whose parent never reaps it,
    /// as some container inits do not, stays one).
    fn runs(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

/// Parses a `/proc/PID/stat` line. The command name (field 2) is in parentheses and may
/// hold spaces and parentheses itself: the fields go on after the *last* `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 3 (state), 6 (session) and 22 (start time) of proc(5).
    let state = fields.first()?.chars().next()?;
    let session = fields.get(3)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some(Stat {
        id: ProcessId { pid, start },
        state,
        session,
    })
}

fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn boot_id() -> Option<String> {
    let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(text.trim().to_string())
}

/// Whether `id` still runs: the same pid with the same start time, not a zombie.
fn runs(id: ProcessId) -> bool {
    stat(id.pid).is_some_and(|stat| stat.id == id && stat.runs())
}

/// Kills `id` if it is still that process: a pidfd pins the pid before the start time is
/// checked, so a pid reused in between is never signalled. Returns whether it was killed.
fn kill(id: ProcessId) -> bool {
    let Some(pid) = Pid::from_raw(id.pid) else {
        return false;
    };
    match rustix::process::pidfd_open(pid, PidfdFlags::empty()) {
        Ok(pidfd) => runs(id) && rustix::process::pidfd_send_signal(&pidfd, Signal::KILL).is_ok(),
        // Kernels before 5.3: checked, then signalled.
        Err(rustix::io::Errno::NOSYS) => {
            runs(id) && rustix::process::kill_process(pid, Signal::KILL).is_ok()
        }
        Err(_) => false,
    }
}

/// Every running process of `session` that started no earlier than `since`.
fn members(session: i32, since: u64) -> Vec<Stat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .filter(|stat| stat.session == session && stat.id.start >= since && stat.runs())
        .collect()
}

/// Waits until none of `ids` runs, or `deadline`; returns those still running.
fn wait_gone(ids: &[ProcessId], deadline: Instant) -> Vec<ProcessId> {
    loop {
        let left: Vec<ProcessId> = ids.iter().copied().filter(|&id| runs(id)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The name of a process (`/proc/PID/comm`), for the log.
fn name(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

/// What recovery found of one job.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Stopped {
    /// The reaper was still running (ending the job) and was waited for.
    pub reaper_waited: bool,
    /// The reaper did not end within the patience and was killed.
    pub reaper_killed: bool,
    /// Processes of the command's session killed: pid and name.
    pub killed: Vec<(i32, String)>,
    /// Processes still running after all that (unkillable, or past the deadline).
    pub left: Vec<i32>,
}

impl Stopped {
    /// One line for the logs.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.reaper_killed {
            parts.push("its reaper was still running past the deadline and was killed".into());
        } else if self.reaper_waited {
            parts.push("its reaper was still ending it and has now ended".into());
        }
        if !self.killed.is_empty() {
            let list: Vec<String> = self
                .killed
                .iter()
                .map(|(pid, name)| format!("{pid} ({name})"))
                .collect();
            parts.push(format!("killed what was left running: {}", list.join(", ")));
        }
        if !self.left.is_empty() {
            let list: Vec<String> = self.left.iter().map(ToString::to_string).collect();
            parts.push(format!(
                "STILL RUNNING, could not be stopped: {}",
                list.join(", ")
            ));
        }
        if parts.is_empty() {
            "nothing of it was still running".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Stops what is left of the job `record` describes: waits up to `patience` for its reaper
/// (which kills everything when the supervisor dies), kills the reaper if it is still
/// there, then kills every process of the command's session (and the reaper's), and waits
/// up to `patience` for them to be gone.
pub(crate) fn stop(record: &JobRecord, patience: Duration) -> Stopped {
    let mut stopped = Stopped::default();
    if boot_id().as_deref() != Some(record.boot.as_str()) {
        // Another boot: nothing of the job can run. (Without /proc, nothing can be checked.)
        return stopped;
    }
    if runs(record.reaper) {
        stopped.reaper_waited = true;
        if !wait_gone(&[record.reaper], Instant::now() + patience).is_empty() {
            stopped.reaper_killed = kill(record.reaper);
        }
    }
    let mut sessions = vec![(record.reaper.pid, record.reaper.start)];
    if let Some(command) = record.command {
        // A live process with the command's pid but another start time means the pid was
        // reused, which the kernel does only once no session or group uses it any more.
        let reused = stat(command.pid).is_some_and(|stat| stat.id != command);
        if !reused {
            sessions.push((command.pid, command.start));
        }
    }
    let mut targets = Vec::new();
    for (session, since) in sessions {
        for member in members(session, since) {
            if kill(member.id) {
                stopped.killed.push((member.id.pid, name(member.id.pid)));
                targets.push(member.id);
            }
        }
    }
    if stopped.reaper_killed {
        targets.push(record.reaper);
    }
    stopped.left = wait_gone(&targets, Instant::now() + patience)
        .into_iter()
        .map(|id| id.pid)
        .collect();
    stopped
}

/// Finds every job record under `logs` (`<task>/attempt-N.job`: jobs that were running
/// when the last supervisor died), stops what is left of each ([`stop`]), notes it in the
/// attempt's log, and removes the record once nothing is left. Returns one line per job for
/// the supervisor's log.
pub(crate) fn stop_all(logs: &Path, patience: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    let Ok(tasks) = std::fs::read_dir(logs) else {
        return lines;
    };
    let mut records: Vec<PathBuf> = tasks
        .flatten()
        .filter_map(|task| std::fs::read_dir(task.path()).ok())
        .flat_map(|files| files.flatten().map(|file| file.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "job"))
        .collect();
    records.sort();
    for path in records {
        let Some(record) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| JobRecord::parse(&text))
        else {
            lines.push(format!(
                "{}: not a job record agenthost wrote; left as it is",
                path.display()
            ));
            continue;
        };
        let stopped = stop(&record, patience);
        let line = format!(
            "a job was running when the supervisor stopped ({}): {}",
            path.display(),
            stopped.describe()
        );
        let log = path.with_extension("log");
        if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(&log) {
            let _ = writeln!(
                file,
                "== agenthost: the supervisor stopped while this ran; on restart: {}",
                stopped.describe()
            );
        }
        if stopped.left.is_empty() {
            let _ = std::fs::remove_file(&path);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_after_the_last_parenthesis() {
        let line = "4242 (a (b) c) S 1 4242 4240 0 -1 4194560 90 0 0 0 0 0 0 0 20 0 1 0 \
                    123456 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0\n";
        let parsed = parse_stat(line).unwrap();
        assert_eq!(
            parsed,
            Stat {
                id: ProcessId {
                    pid: 4242,
                    start: 123456
                },
                state: 'S',
                session: 4240,
            }
        );
        assert!(parsed.runs());
        assert!(parse_stat("4242 (x) Z 1").is_none());
        let own = stat(std::process::id() as i32).unwrap();
        assert!(own.runs());
        assert_eq!(own.id.pid, std::process::id() as i32);
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let record = JobRecord {
            boot: "b0".into(),
            reaper: ProcessId { pid: 10, start: 20 },
            command: Some(ProcessId { pid: 11, start: 21 }),
        };
        assert_eq!(record.to_text(), "boot b0\nreaper 10 20\ncommand 11 21\n");
        assert_eq!(JobRecord::parse(&record.to_text()), Some(record.clone()));
        let no_command = JobRecord {
            command: None,
            ..record
        };
        assert_eq!(JobRecord::parse(&no_command.to_text()), Some(no_command));
        assert_eq!(JobRecord::parse("boot b0\n"), None);
        assert_eq!(JobRecord::parse("reaper 1 2\nother 3\n"), None);
    }

    /// A session leader (standing in for a job's command, its reaper gone) with a
    /// background child: recovery kills both, found by session and start time; a record
    /// whose start time does not match (a reused pid) kills nothing.
    #[test]
    fn stop_kills_the_command_s_session_and_only_the_recorded_process() {
        let mut leader = std::process::Command::new("setsid")
            .args(["sh", "-c", "sleep 60 & echo $!; exec sleep 61"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let background: i32 = line.trim().parse().unwrap();
        // `setsid` forks when it leads a group already; the session leader is then the
        // child, whose pid is the session of the background sleep.
        let session = stat(background).unwrap().session;
        let command = stat(session).unwrap().id;
        let reaper = ProcessId {
            pid: i32::MAX - 1,
            start: 1,
        };
        let boot = boot_id().unwrap();

        // The same pid, another start time: not the recorded process, not touched.
        let reused = JobRecord {
            boot: boot.clone(),
            reaper,
            command: Some(ProcessId {
                pid: command.pid,
                start: command.start + 1,
            }),
        };
        assert_eq!(stop(&reused, Duration::from_secs(5)), Stopped::default());
        assert!(runs(command) && stat(background).unwrap().runs());
        // Another boot: not touched either.
        let other_boot = JobRecord {
            boot: "another".into(),
            reaper,
            command: Some(command),
        };
        assert_eq!(
            stop(&other_boot, Duration::from_secs(5)),
            Stopped::default()
        );
        assert!(runs(command));

        let record = JobRecord {
            boot,
            reaper,
            command: Some(command),
        };
        let stopped = stop(&record, Duration::from_secs(5));
        let mut killed: Vec<i32> = stopped.killed.iter().map(|(pid, _)| *pid).collect();
        killed.sort_unstable();
        let mut expected = vec![command.pid, background];
        expected.sort_unstable();
        assert_eq!(killed, expected, "{stopped:?}");
        assert!(stopped.left.is_empty(), "{stopped:?}");
        assert!(!runs(command));
        let _ = leader.wait();
        assert!(
            stopped
                .describe()
                .starts_with("killed what was left running: ")
        );
    }
}

//! The reaper: a process between the host and a sandboxed command that outlives the
//! command and ends everything the command started, wherever it went.
//!
//! Killing the command's process group misses a process that left it (`setsid`, as any
//! daemon does): it would run on after the job, still able to write where the sandbox
//! lets it. The reaper is a subreaper (`PR_SET_CHILD_SUBREAPER`): every process the
//! command leaves behind, once its parent is gone, becomes the reaper's child instead of
//! init's. When the command ends, the reaper kills its process group, then every child it
//! has (each one it kills hands its own children over), until none is left; then it exits
//! as the command did.
//!
//! The reaper is the child `std::process::Command` forks; its `pre_exec` closure never
//! returns there. It forks the command (which returns from the closure and is restricted
//! and `exec`ed as usual) and stays outside the sandbox, so the command cannot signal it
//! (Landlock scoping) or trace it (seccomp). It is a copy of a possibly multi-threaded host
//! that never `exec`s, so it holds to the rule of the whole module: plain system calls on
//! its stack, no allocation, no lock. It closes every descriptor above stderr at once, so
//! it keeps none of the host's open.
//!
//! Stop requests (SIGTERM, SIGINT, SIGHUP, SIGQUIT sent to the reaper) go on to the
//! command's process group; if the command has not ended `grace` after the first, the
//! reaper kills it.
//!
//! The reaper outlives the host: its parent-death signal is [`PARENT_GONE`], one more
//! signal it waits for, not SIGKILL. When the host dies, by any signal (`kill -9`
//! included), the reaper kills the command's group at once, no grace, then everything it
//! adopted, and exits: nothing of the job is left running with nobody to stop it. (Were
//! the reaper killed with the host, the command's own SIGKILL parent-death signal would end
//! the command alone, and what it started would be adopted by init and run on.)

use std::ffi::CStr;
use std::io;
use std::time::Duration;

use super::{ChildSteps, decimal, fail, write_stderr};

/// The reaper's parent-death signal: the host that started it is gone. Any other process
/// of the user that sends it (it could as well SIGKILL the reaper) only stops the job
/// early; a sandboxed command cannot send it (Landlock's signal scoping, ABI 6).
pub(crate) const PARENT_GONE: libc::c_int = libc::SIGUSR1;

/// Becomes the reaper of the command this forked child turns into, and returns (in the
/// command's process, to be restricted and `exec`ed) only there. Every signal is blocked
/// around the fork; the command unblocks them, the reaper waits for them.
pub(crate) fn fork_command(steps: &ChildSteps, grace: Duration) {
    // The host's death is a signal the reaper waits for (blocked below, with every other
    // one), so that it outlives the host long enough to end the job. Until the mask is set
    // its default action ends the reaper, before any command was forked.
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, PARENT_GONE, 0, 0, 0) } != 0 {
        fail(b"setting the reaper's parent-death signal");
    }
    // SAFETY: getppid cannot fail and touches no memory.
    if unsafe { libc::getppid() } != steps.parent {
        super::fail_plain(b"the agenthost process that started the sandbox is gone");
    }
    // A session of its own: the host's signals to the job's group reach the reaper alone,
    // which passes them on, and no terminal is left to the command.
    // SAFETY: setsid takes no arguments; a freshly forked child is no group leader.
    if unsafe { libc::setsid() } < 0 {
        fail(b"starting the reaper's session");
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        fail(b"becoming a subreaper");
    }
    let mut all = empty_set();
    let none = empty_set();
    // SAFETY: both sets are `sigset_t`s of this frame; the mask is this thread's.
    unsafe {
        libc::sigfillset(&raw mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &raw const all, std::ptr::null_mut());
    }
    // SAFETY: getpid touches no memory.
    let reaper = unsafe { libc::getpid() };
    // A plain fork system call: glibc's `fork` runs atfork handlers that take locks, which
    // another thread of the host may have held when this process was forked from it.
    // SAFETY: clone with SIGCHLD and no other flag is fork(2); no pointer is passed.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) };
    if pid < 0 {
        fail(b"starting the command under its reaper");
    }
    if pid == 0 {
        // SAFETY: an empty set of this frame; the command starts with no signal blocked.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &raw const none, std::ptr::null_mut()) };
        steps.apply_under(reaper);
        return;
    }
    reap(
        libc::pid_t::try_from(pid).unwrap_or(libc::pid_t::MAX),
        grace,
    )
}

/// The reaper's life: waits for `command`, passing stop requests on (and killing it at once
/// when the host is gone), then ends what it left and exits as it did.
fn reap(command: libc::pid_t, grace: Duration) -> ! {
    // SAFETY: close_range takes plain integers: nothing of the host's stays open here (std's
    // exec-error pipe included, so the host hears of the command's `exec`).
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    // The command reads its stdin, not the reaper: a writer must see the reader go.
    // SAFETY: closing a descriptor number.
    unsafe { libc::close(0) };
    let mut awaited = empty_set();
    for signal in [
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
        PARENT_GONE,
    ] {
        // SAFETY: a set of this frame and a valid signal number.
        unsafe { libc::sigaddset(&raw mut awaited, signal) };
    }
    let mut stop = Stop::NotAsked;
    let status = loop {
        if let (Some(status), _) = reap_exited(command) {
            break status;
        }
        let signal = match stop {
            Stop::NotAsked | Stop::Killed => {
                // SAFETY: waits for one of `awaited` (all blocked); no info is asked for.
                unsafe { libc::sigwaitinfo(&raw const awaited, std::ptr::null_mut()) }
            }
            Stop::GraceUntil(at) => {
                let Some(left) = remaining(at) else {
                    // The grace is over: the command is killed, and waited for as before.
                    signal_command(command, libc::SIGKILL);
                    stop = Stop::Killed;
                    continue;
                };
                // SAFETY: as above, with a timeout of this frame.
                unsafe {
                    libc::sigtimedwait(&raw const awaited, std::ptr::null_mut(), &raw const left)
                }
            }
        };
        if signal == PARENT_GONE {
            // Nobody is left to stop the job or to hear how it ended: no grace.
            if !matches!(stop, Stop::Killed) {
                write_stderr(&[
                    b"agenthost: sandbox: the agenthost process that started this command ",
                    b"is gone: killing the command and everything it started\n",
                ]);
                signal_command(command, libc::SIGKILL);
                stop = Stop::Killed;
            }
        } else if signal > 0 && signal != libc::SIGCHLD {
            signal_command(command, signal);
            if matches!(stop, Stop::NotAsked) {
                stop = Stop::GraceUntil(after(grace));
            }
        }
    };
    if kill_everything_left(command).is_err() {
        write_stderr(&[
            b"agenthost: sandbox: cannot list what the command left running ",
            b"(/proc/self/task/PID/children); only its process group was killed\n",
        ]);
    }
    exit_as(status)
}

/// Sends `signal` to the command's process group, or to the command alone while it has not
/// yet started its session (the group does not exist until then).
fn signal_command(command: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) with integers.
    if unsafe { libc::kill(-command, signal) } != 0 {
        // SAFETY: as above.
        unsafe { libc::kill(command, signal) };
    }
}

/// Where the reaper is in stopping the command.
#[derive(Clone, Copy)]
enum Stop {
    /// No stop request came.
    NotAsked,
    /// One came: the command has until then (`CLOCK_MONOTONIC`) to end.
    GraceUntil(libc::timespec),
    /// The grace is over and the command was killed.
    Killed,
}

/// Reaps every child that has ended (the command, or a process it left); returns the
/// command's wait status if it was among them, and whether any child is left.
fn reap_exited(command: libc::pid_t) -> (Option<libc::c_int>, bool) {
    let mut ended = None;
    loop {
        let mut status = 0;
        // SAFETY: waits for any child without blocking, into a local.
        let pid = unsafe { libc::waitpid(-1, &raw mut status, libc::WNOHANG) };
        if pid <= 0 {
            // 0: children left, none ended; -1: ECHILD, none at all.
            return (ended, pid == 0);
        }
        if pid == command {
            ended = Some(status);
        }
    }
}

/// Kills the command's process group, then every child of this process until none is
/// left (each one killed hands its own children over), reaping them: the end of a reaper's
/// run, and of `agenthost sandbox`'s (a subreaper that runs one command). Orphans are
/// adopted by a process's first living thread, its main thread, whose children are listed
/// (`/proc/self/task/PID/children`). Fails only when children are left that cannot be
/// listed (no `/proc`, or a kernel without `CONFIG_PROC_CHILDREN`). Async-signal-safe.
pub(crate) fn kill_everything_left(command: libc::pid_t) -> io::Result<()> {
    // SAFETY: kill(2) with integers; an empty group is ESRCH.
    unsafe { libc::kill(-command, libc::SIGKILL) };
    let mut path = [0u8; 48];
    let path = children_path(&mut path);
    let mut buffer = [0u8; 4096];
    loop {
        if let (_, false) = reap_exited(command) {
            return Ok(());
        }
        let listed = read_children(path, &mut buffer)?;
        let mut any = false;
        for pid in pids(listed) {
            any = true;
            // SAFETY: kill(2) with integers; `pid` is this process's unreaped child, so
            // the number cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let mut status = 0;
            // SAFETY: waits for that child, into a local (an interrupted wait leaves it to
            // the next round).
            unsafe { libc::waitpid(pid, &raw mut status, 0) };
        }
        if !any {
            return Ok(());
        }
    }
}

/// `/proc/self/task/PID/children`, NUL-terminated, for this process's main thread (its
/// thread id is the process id), written into `buffer`.
fn children_path(buffer: &mut [u8; 48]) -> &CStr {
    let mut digits = [0u8; 10];
    // SAFETY: getpid touches no memory.
    let pid = unsafe { libc::getpid() };
    let parts: [&[u8]; 4] = [
        b"/proc/self/task/",
        decimal(pid.unsigned_abs(), &mut digits),
        b"/children",
        b"\0",
    ];
    let mut at = 0;
    for part in parts {
        buffer[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    // The parts hold one NUL, at the end: 16 + 10 + 9 + 1 bytes at most.
    CStr::from_bytes_with_nul(&buffer[..at]).unwrap_or(c"/proc/thread-self/children")
}

/// Reads the `children` listing at `path` (pids separated by spaces) into `buffer`.
fn read_children<'b>(path: &CStr, buffer: &'b mut [u8]) -> io::Result<&'b [u8]> {
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut filled = 0;
    while filled < buffer.len() {
        let rest = &mut buffer[filled..];
        // SAFETY: reads into the unfilled part of `buffer`.
        let read = unsafe { libc::read(fd, rest.as_mut_ptr().cast(), rest.len()) };
        if read <= 0 {
            break;
        }
        filled += read.unsigned_abs();
    }
    // SAFETY: closes the descriptor opened above.
    unsafe { libc::close(fd) };
    let listed = &buffer[..filled];
    // A full buffer may end inside a number: keep whole ones (the rest is read next time).
    Ok(if filled == buffer.len() {
        listed
            .iter()
            .rposition(|&byte| byte == b' ')
            .map_or(&[][..], |end| &listed[..end])
    } else {
        listed
    })
}

/// The pids in a `children` listing.
fn pids(listed: &[u8]) -> impl Iterator<Item = libc::pid_t> + '_ {
    listed
        .split(|byte| !byte.is_ascii_digit())
        .filter(|digits| !digits.is_empty())
        .filter_map(|digits| {
            digits.iter().try_fold(0 as libc::pid_t, |pid, &digit| {
                pid.checked_mul(10)?
                    .checked_add(libc::pid_t::from(digit - b'0'))
            })
        })
}

/// Ends the reaper as the command ended: the same exit code, or the same signal (with no
/// core dump of the reaper's own).
fn exit_as(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let mut just_this = empty_set();
        // SAFETY: integer arguments and sets of this frame; kill(2) of this process with
        // the signal at its default action and unblocked ends it here.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &raw const no_core);
            super::set_default_action(signal);
            libc::sigaddset(&raw mut just_this, signal);
            libc::kill(libc::getpid(), signal);
            libc::sigprocmask(
                libc::SIG_UNBLOCK,
                &raw const just_this,
                std::ptr::null_mut(),
            );
        }
        // Only a signal whose default is not to end a process gets here.
        // SAFETY: _exit ends this process.
        unsafe { libc::_exit(128 + signal) }
    }
    // SAFETY: _exit ends this process without running anything of the host's.
    unsafe { libc::_exit(libc::WEXITSTATUS(status)) }
}

fn empty_set() -> libc::sigset_t {
    // SAFETY: an all-zero `sigset_t` is the empty set on Linux.
    unsafe { std::mem::zeroed() }
}

fn now() -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the monotonic time into a local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut now) };
    now
}

/// The monotonic time `span` from now.
fn after(span: Duration) -> libc::timespec {
    let start = now();
    let nanos = i64::from(span.subsec_nanos()) + start.tv_nsec;
    let secs = i64::try_from(span.as_secs()).unwrap_or(i64::MAX / 2);
    libc::timespec {
        tv_sec: start.tv_sec.saturating_add(secs + nanos / 1_000_000_000),
        tv_nsec: nanos % 1_000_000_000,
    }
}

/// How long until `at`, or None once it has passed.
fn remaining(at: libc::timespec) -> Option<libc::timespec> {
    let now = now();
    let mut secs = at.tv_sec.checked_sub(now.tv_sec)?;
    let mut nanos = at.tv_nsec - now.tv_nsec;
    if nanos < 0 {
        secs -= 1;
        nanos += 1_000_000_000;
    }
    (secs > 0 || (secs == 0 && nanos > 0)).then_some(libc::timespec {
        tv_sec: secs,
        tv_nsec: nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_children_listed_are_the_main_thread_s() {
        let mut buffer = [0u8; 48];
        let path = children_path(&mut buffer).to_str().unwrap().to_string();
        assert_eq!(
            path,
            format!("/proc/self/task/{}/children", std::process::id())
        );
        let mut digits = [0u8; 10];
        assert_eq!(decimal(u32::MAX, &mut digits), b"4294967295");
        assert_eq!(decimal(0, &mut digits), b"0");
    }

    #[test]
    fn pids_are_read_from_a_children_listing() {
        let listed: Vec<_> = pids(b"12 345 6789 ").collect();
        assert_eq!(listed, [12, 345, 6789]);
        assert_eq!(pids(b"").count(), 0);
    }

    #[test]
    fn a_deadline_is_remaining_until_it_passes() {
        let soon = after(Duration::from_secs(60));
        let left = remaining(soon).expect("a minute left");
        assert!((58..=60).contains(&left.tv_sec), "{}", left.tv_sec);
        let past = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        assert!(remaining(past).is_none());
    }
}

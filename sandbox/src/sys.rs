//! Every raw system call of the sandbox, and the only module allowed `unsafe`.
//!
//! Two kinds live here: a few queries and rule additions the host makes before it forks
//! ([`landlock_abi`], [`seccomp_supported`], [`add_path_rule`]), and
//! [`ChildSteps::apply`], which runs in the forked child between `fork` and `exec`
//! (`std::process::Command` with `pre_exec`), with the mount layer of `mounts.rs`. Besides
//! them, the foreground wrapper's signal forwarding ([`forward_signals_to`]), whose handlers
//! are held to the same rule: atomics, `kill(2)` and `raise(3)`; and the reaper
//! (`reaper.rs`), a forked copy of the host that never `exec`s, and
//! [`kill_everything_left`], which it shares with `agenthost sandbox`. The
//! host is multi-threaded (the supervisor runs tokio), so the child may only do what is
//! async-signal-safe: plain system calls on data prepared before the fork. It allocates
//! nothing, takes no lock, formats nothing with `std::fmt`, and on failure writes a
//! fixed message to stderr and `_exit`s.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustix::thread::CapabilitySet;

mod mounts;
mod reaper;
mod signals;

pub(crate) use mounts::{IdMaps, MountSteps, Privilege, probe as probe_mounts};
pub(crate) use reaper::{PARENT_GONE, kill_everything_left};
pub(crate) use signals::{
    forward_signals_to, on_main_thread, outlive_terminal_signals, restore_default_actions,
    set_default_action, start_forwarding_signals,
};

/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`: the ABI version,
/// or the errno that says why there is none.
pub(crate) fn landlock_abi() -> Result<i32, io::Error> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag, the system call
    // reads and writes no memory; it only returns the ABI version or an error.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if version >= 1 {
        Ok(i32::try_from(version).unwrap_or(i32::MAX))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `prctl(PR_GET_SECCOMP)` answers 0 (not in seccomp mode) when the kernel has seccomp.
pub(crate) fn seccomp_supported() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointer arguments and only reads the caller's mode.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    mode >= 0
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's UAPI).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;

/// Opens `path` with `O_PATH` and adds a path-beneath rule with `access` to `ruleset`:
/// three system calls (open, landlock_add_rule, close), no `fstat`, since the plan already
/// knows whether the rule is for a file or a tree. Returns the open error (`Err(Open)`) or
/// the rule error (`Err(Rule)`) separately, so that the caller can name the path.
pub(crate) fn add_path_rule(ruleset: &OwnedFd, path: &CStr, access: u64) -> Result<(), RuleError> {
    // SAFETY: `path` is NUL-terminated; O_PATH|O_CLOEXEC needs no mode argument.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(RuleError::Open(io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just opened and nothing else owns it; it is closed on drop.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let attr = PathBeneathAttr {
        allowed_access: access,
        parent_fd: fd.as_raw_fd(),
    };
    // SAFETY: `attr` is a valid landlock_path_beneath_attr that outlives the call; both
    // descriptors are open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            LANDLOCK_RULE_PATH_BENEATH,
            &raw const attr,
            0u32,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EINVAL) && !is_directory(&fd) {
        return Err(RuleError::NotADirectory);
    }
    Err(RuleError::Rule(error))
}

fn is_directory(fd: &OwnedFd) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
    })
}

/// Why [`add_path_rule`] failed.
#[derive(Debug)]
pub(crate) enum RuleError {
    /// The path could not be opened.
    Open(io::Error),
    /// Directory rights were asked for on something that is not a directory.
    NotADirectory,
    /// The kernel refused the rule.
    Rule(io::Error),
}

/// Exit status of a child whose restriction failed before exec.
pub(crate) const EXIT_SETUP_FAILED: i32 = 125;

/// What the forked child does before exec, prepared entirely before the fork.
#[derive(Debug)]
pub(crate) struct ChildSteps {
    /// The process that must stay alive (the host): checked after `PR_SET_PDEATHSIG`.
    pub(crate) parent: libc::pid_t,
    /// The Landlock ruleset with every rule added (`None` without Landlock, best effort).
    pub(crate) ruleset: Option<OwnedFd>,
    /// The seccomp program (`None` without seccomp, best effort).
    pub(crate) filter: Option<crate::seccomp::Program>,
    /// The mount layer (`None` when the plan asks for none, or best effort on a kernel
    /// that cannot make it).
    pub(crate) mounts: Option<MountSteps>,
    /// Whether the command is restricted at all: `false` for a command that runs with the
    /// user's full rights behind a reaper (sandbox mode `off`), which takes only the
    /// steps that tie it to its parent (1 to 3 of [`ChildSteps::apply_under`]).
    pub(crate) restrict: bool,
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const crate::seccomp::SockFilter,
}

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

impl ChildSteps {
    /// Makes `command` apply these steps in its child, after `fork` and before `exec`.
    pub(crate) fn install(self: Arc<Self>, command: &mut Command) {
        let steps = self;
        // SAFETY: the closure runs in the forked child of a possibly multi-threaded
        // process. `apply` only makes system calls on memory prepared before the fork
        // (the `Arc` keeps it alive in the parent, and the child has a copy), allocates
        // nothing, takes no lock, and ends the child with `_exit` on failure.
        unsafe {
            command.pre_exec(move || {
                steps.apply();
                Ok(())
            });
        }
    }

    /// Makes `command`'s child a reaper ([`reaper`]) that forks the command and applies
    /// these steps there, before `exec`; stop requests sent to the reaper go on to the
    /// command, which is killed `grace` after the first.
    pub(crate) fn install_with_reaper(self: Arc<Self>, command: &mut Command, grace: Duration) {
        let steps = self;
        // SAFETY: as in `install`: the closure only makes system calls on memory prepared
        // before the fork; in the reaper it never returns (it `_exit`s).
        unsafe {
            command.pre_exec(move || {
                reaper::fork_command(&steps, grace);
                Ok(())
            });
        }
    }

    /// The restriction, in order; returns only when every step succeeded.
    fn apply(&self) {
        self.apply_under(self.parent);
    }

    /// The restriction, for a child of `parent` (the host, or the reaper), in order;
    /// returns only when every step succeeded.
    ///
    /// 1. `PR_SET_PDEATHSIG` = SIGKILL, then a check that the parent is still `parent`;
    /// 2. `setsid`;
    /// 3. every descriptor above stderr close-on-exec (`close_range` with
    ///    `CLOSE_RANGE_CLOEXEC`, so std's own exec-error pipe keeps working);
    /// 4. the mount layer ([`MountSteps::apply`]), and then step 1's check again (a new
    ///    user namespace changes the credentials);
    /// 5. `PR_SET_NO_NEW_PRIVS`;
    /// 6. capabilities dropped (bounding set if any is held, ambient, effective,
    ///    permitted, inheritable): also those the user namespace gave;
    /// 7. `landlock_restrict_self`;
    /// 8. the seccomp filter.
    ///
    /// Without `restrict`, steps 4 to 8 are left out.
    fn apply_under(&self, parent: libc::pid_t) {
        die_with(parent);
        // SAFETY: setsid takes no arguments; a freshly forked child is no group leader.
        if unsafe { libc::setsid() } < 0 {
            fail(b"starting a new session");
        }
        mark_descriptors_cloexec();
        if !self.restrict {
            return;
        }
        if let Some(mounts) = &self.mounts {
            mounts.apply();
            die_with(parent);
        }
        // SAFETY: integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            fail(b"setting no_new_privs");
        }
        drop_capabilities();
        if let Some(ruleset) = &self.ruleset {
            // SAFETY: integer arguments; the ruleset descriptor is open (the parent keeps it
            // until the child has started, and the child inherited it).
            let rc = unsafe {
                libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32)
            };
            if rc != 0 {
                fail(b"Landlock: landlock_restrict_self");
            }
        }
        if let Some(program) = &self.filter {
            let fprog = SockFprog {
                len: libc::c_ushort::try_from(program.len()).unwrap_or(libc::c_ushort::MAX),
                filter: program.as_ptr(),
            };
            // SAFETY: `fprog` points at a program built before the fork, alive and not
            // mutated; the kernel copies it.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    SECCOMP_SET_MODE_FILTER,
                    0u32,
                    &raw const fprog,
                )
            };
            if rc != 0 {
                fail(b"seccomp: installing the filter");
            }
        }
    }
}

/// Sets `PR_SET_PDEATHSIG` to SIGKILL and checks that the parent is still `parent` (it may
/// have died before the signal was set).
fn die_with(parent: libc::pid_t) {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if rc != 0 {
        fail(b"setting the parent-death signal");
    }
    // SAFETY: getppid cannot fail and touches no memory.
    if unsafe { libc::getppid() } != parent {
        fail_plain(b"the agenthost process that started the sandbox is gone");
    }
}

/// Waits for child `pid`, retrying on EINTR; with `reap_others`, every other child that
/// ends meanwhile is reaped too. Returns the raw wait status.
pub(crate) fn wait(pid: libc::pid_t, reap_others: bool) -> io::Result<libc::c_int> {
    let waited = if reap_others { -1 } else { pid };
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the duration of the call.
        let ended = unsafe { libc::waitpid(waited, &raw mut status, 0) };
        if ended == pid {
            return Ok(status);
        }
        if ended < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// Marks every descriptor above stderr close-on-exec: nothing the host (or whoever started
/// it) had open reaches the command.
fn mark_descriptors_cloexec() {
    // SAFETY: close_range takes plain integers and only changes descriptor flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        return;
    }
    // Kernels before 5.11: set the flag on every possible descriptor number.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1 << 20)
        .min(1 << 20);
    for fd in 3..RawFd::try_from(limit).unwrap_or(RawFd::MAX) {
        // SAFETY: fcntl(F_SETFD) on a number that may not be open fails with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// Empties the bounding, ambient, effective, permitted and inheritable capability sets.
/// Needed only as root (or with file capabilities); harmless otherwise. rustix makes each
/// call directly, with its arguments on the stack.
fn drop_capabilities() {
    let Ok(sets) = rustix::thread::capabilities(None) else {
        fail_plain(b"reading capabilities");
    };
    if !sets.effective.is_empty() || !sets.permitted.is_empty() {
        // Capabilities are numbered from 0 up to the kernel's last one; the first EINVAL
        // is past it (41 of 64 numbers on Linux 6.x: 23 system calls fewer).
        for bit in 0..64u32 {
            let cap = CapabilitySet::from_bits_retain(1u64 << bit);
            match rustix::thread::remove_capability_from_bounding_set(cap) {
                Ok(()) => {}
                Err(rustix::io::Errno::INVAL) => break,
                Err(errno) => fail_errno(
                    b"dropping the capability bounding set",
                    errno.raw_os_error(),
                ),
            }
        }
    }
    // Fails harmlessly (EINVAL) on kernels without ambient capabilities.
    let _ = rustix::thread::clear_ambient_capability_set();
    let empty = rustix::thread::CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    if let Err(errno) = rustix::thread::set_capabilities(None, empty) {
        fail_errno(b"dropping capabilities", errno.raw_os_error());
    }
}

fn fail(step: &[u8]) -> ! {
    fail_errno(step, io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Writes `agenthost: sandbox: STEP (os error N)` to stderr and exits with 125.
fn fail_errno(step: &[u8], errno: i32) -> ! {
    fail_with(&[step], errno)
}

/// Writes `agenthost: sandbox: ` and `parts` (the step, and what it was about), then
/// ` (os error N)`, to stderr, and exits with 125. Async-signal-safe.
fn fail_with(parts: &[&[u8]], errno: i32) -> ! {
    write_stderr(&[b"agenthost: sandbox: "]);
    write_stderr(parts);
    let mut digits = [0u8; 10];
    write_stderr(&[
        b" (os error ",
        decimal(errno.unsigned_abs(), &mut digits),
        b")\n",
    ]);
    exit_setup_failed()
}

/// `n` in decimal digits, written at the end of `digits` (ten hold any `u32`).
/// Async-signal-safe.
fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        // A digit: `n % 10` is below 10.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

fn fail_plain(message: &[u8]) -> ! {
    write_stderr(&[b"agenthost: sandbox: ", message, b"\n"]);
    exit_setup_failed()
}

fn write_stderr(parts: &[&[u8]]) {
    for part in parts {
        // SAFETY: write(2) from a valid slice; a failed write to stderr is ignored.
        unsafe { libc::write(2, part.as_ptr().cast(), part.len()) };
    }
}

fn exit_setup_failed() -> ! {
    // SAFETY: _exit ends the child at once without running atexit handlers or destructors
    // (which belong to the parent's copy of the address space).
    unsafe { libc::_exit(EXIT_SETUP_FAILED) }
}

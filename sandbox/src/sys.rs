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
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use rustix::thread::CapabilitySet;

mod mounts;
mod reaper;

pub(crate) use mounts::{IdMaps, MountSteps, Privilege, probe as probe_mounts};
pub(crate) use reaper::{PARENT_GONE, kill_everything_left};

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

/// Whether the calling thread is the process's main thread, which lives as long as the
/// process does.
pub(crate) fn on_main_thread() -> bool {
    rustix::thread::gettid() == rustix::process::getpid()
}

/// The handler of `signal` in this process (`SIG_DFL`, `SIG_IGN` or a function's
/// address), or None for a number the C library reserves. Async-signal-safe.
pub(crate) fn signal_handler(signal: libc::c_int) -> Option<libc::sighandler_t> {
    // SAFETY: an all-zero `sigaction` is a valid value (SIG_DFL, empty mask, no flags).
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: queries the disposition into `current`; reserved numbers fail with EINVAL.
    let queried = unsafe { libc::sigaction(signal, std::ptr::null(), &raw mut current) } == 0;
    queried.then_some(current.sa_sigaction)
}

/// Gives `signal` its default action back. Async-signal-safe.
pub(crate) fn set_default_action(signal: libc::c_int) {
    // SAFETY: all-zero is SIG_DFL with an empty mask; no handler function is involved.
    let default: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: installs that default disposition.
    unsafe { libc::sigaction(signal, &raw const default, std::ptr::null_mut()) };
}

/// The process group that [`forward_signals_to`] passes signals on to; 0 while the command
/// has not started (or after [`restore_default_actions`]).
static FORWARD_TO_GROUP: AtomicI32 = AtomicI32::new(0);

/// The forwarded signals that came before the command started, one bit per signal number,
/// passed on by [`forward_signals_to`] as soon as it has.
static PENDING_SIGNALS: AtomicU64 = AtomicU64::new(0);

/// The signals a foreground wrapper passes on: the terminal's (Ctrl-C, Ctrl-\, a closed
/// terminal), the polite request to end, and SIGCONT (a stopped wrapper continued, by the
/// shell's `fg` or anyone, continues its command too).
const FORWARDED_SIGNALS: [libc::c_int; 5] = [
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGTERM,
    libc::SIGCONT,
];

/// Passes `signal` on to the command's process group, or holds it until the command has
/// started. Async-signal-safe: atomics and kill(2).
extern "C" fn forward_signal(signal: libc::c_int) {
    let group = FORWARD_TO_GROUP.load(Ordering::SeqCst);
    if group > 0 {
        // SAFETY: kill(2) is async-signal-safe and takes no pointer.
        unsafe { libc::kill(-group, signal) };
        return;
    }
    hold(signal);
}

/// The bit of `signal` in [`PENDING_SIGNALS`].
const fn bit(signal: libc::c_int) -> u64 {
    1 << signal
}

/// Holds `signal` until the command has started, then sends what is held if it has
/// started meanwhile (a handler can run on another thread). Async-signal-safe.
fn hold(signal: libc::c_int) {
    // The closure always returns Some, so this cannot fail.
    let _ = PENDING_SIGNALS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
        Some(holding(held, signal))
    });
    send_pending(FORWARD_TO_GROUP.load(Ordering::SeqCst));
}

/// The held signals once `signal` comes on top of `held`. As the kernel does with pending
/// signals, a stop discards a held SIGCONT and SIGCONT discards a held stop, so at most
/// one of the two is held and their order cannot be lost.
const fn holding(held: u64, signal: libc::c_int) -> u64 {
    let discarded = match signal {
        libc::SIGCONT => bit(libc::SIGTSTP),
        libc::SIGTSTP => bit(libc::SIGCONT),
        _ => 0,
    };
    (held & !discarded) | bit(signal)
}

/// Sends the held signals to `group` (nothing while it is 0). Whoever takes the pending
/// bits sends them, so each held signal is sent once. Async-signal-safe.
fn send_pending(group: libc::pid_t) {
    if group <= 0 {
        return;
    }
    let pending = PENDING_SIGNALS.swap(0, Ordering::SeqCst);
    for signal in FORWARDED_SIGNALS {
        if pending & bit(signal) != 0 {
            // SAFETY: kill(2) is async-signal-safe and takes no pointer.
            unsafe { libc::kill(-group, signal) };
        }
    }
    // Last, so that what came with the stop is delivered first.
    if pending & bit(libc::SIGTSTP) != 0 {
        stop_group_and_self(group);
    }
}

/// Ctrl-Z: stops the command's process group and then this process, as a shell's job
/// control expects of a foreground job. The command's group is orphaned (it leads a session
/// of its own), and the kernel discards SIGTSTP sent to an orphaned group, so it gets
/// SIGSTOP. When this process is continued, SIGCONT's handler continues the command.
/// Before the command has started, the stop is held like any forwarded signal, and both
/// stop once it runs: stopping this process alone then would leave the command running.
/// Async-signal-safe.
extern "C" fn stop_with_command(signal: libc::c_int) {
    let group = FORWARD_TO_GROUP.load(Ordering::SeqCst);
    if group > 0 {
        stop_group_and_self(group);
    } else {
        hold(signal);
    }
}

/// Stops process group `group` with SIGSTOP, then this process; returns once this
/// process is continued. Async-signal-safe.
fn stop_group_and_self(group: libc::pid_t) {
    // SAFETY: kill(2) is async-signal-safe and takes no pointer.
    unsafe { libc::kill(-group, libc::SIGSTOP) };
    // SAFETY: raise(3) is async-signal-safe; it returns once this process is continued.
    unsafe { libc::raise(libc::SIGSTOP) };
}

/// Makes SIGINT, SIGQUIT, SIGHUP, SIGTERM and SIGCONT sent to this process go to the
/// command [`forward_signals_to`] names, and SIGTSTP stop it with this process, instead of
/// acting on this process alone. Call it before the command starts: a signal that comes
/// meanwhile is held and passed on once it has. A signal this process ignores (a shell
/// ignores SIGINT and SIGQUIT for its background jobs) stays ignored, and so unsent.
/// Returns the signals now handled, for [`restore_default_actions`].
pub(crate) fn start_forwarding_signals() -> Vec<libc::c_int> {
    FORWARD_TO_GROUP.store(0, Ordering::SeqCst);
    PENDING_SIGNALS.store(0, Ordering::SeqCst);
    let forward = forward_signal as extern "C" fn(libc::c_int);
    let stop = stop_with_command as extern "C" fn(libc::c_int);
    let handlers = FORWARDED_SIGNALS.map(|signal| (signal, forward));
    install_handlers(handlers.into_iter().chain([(libc::SIGTSTP, stop)]))
}

/// Does nothing: this process outlives the signal, and goes on waiting.
extern "C" fn outlive_signal(_signal: libc::c_int) {}

/// Makes this process outlive SIGINT and SIGQUIT while it waits for a command in its own
/// process group, as `system(3)` does: the terminal sends them to the whole group, so the
/// command gets them itself. A handler that does nothing, not `SIG_IGN`, which the command
/// would inherit; `execve` gives a handled signal its default action back. A signal this
/// process ignores stays ignored. Returns the signals now handled, for
/// [`restore_default_actions`].
pub(crate) fn outlive_terminal_signals() -> Vec<libc::c_int> {
    let outlive = outlive_signal as extern "C" fn(libc::c_int);
    install_handlers([(libc::SIGINT, outlive), (libc::SIGQUIT, outlive)].into_iter())
}

/// Installs each handler whose signal has its default action now (a signal this process
/// ignores stays ignored). Returns the signals now handled.
fn install_handlers(
    handlers: impl Iterator<Item = (libc::c_int, extern "C" fn(libc::c_int))>,
) -> Vec<libc::c_int> {
    let mut handled = Vec::new();
    for (signal, handler) in handlers {
        if signal_handler(signal) != Some(libc::SIG_DFL) {
            continue;
        }
        // SAFETY: an all-zero `sigaction` is valid (empty mask, no flags); the handler is
        // set right after, and every handler given here is async-signal-safe (atomics,
        // kill(2), raise(3), or nothing).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handler as usize;
        // A wait interrupted by the handler resumes by itself.
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: installs that handler.
        if unsafe { libc::sigaction(signal, &raw const action, std::ptr::null_mut()) } == 0 {
            handled.push(signal);
        }
    }
    handled
}

/// From now on the signals [`start_forwarding_signals`] handles go to the process group
/// `group` (the command's: it leads a session of its own, so the terminal's signals never
/// reach it directly); those that came while it started are sent now.
pub(crate) fn forward_signals_to(group: libc::pid_t) {
    FORWARD_TO_GROUP.store(group, Ordering::SeqCst);
    send_pending(group);
}

/// Gives the signals [`start_forwarding_signals`] or [`outlive_terminal_signals`] handled
/// their default action back, and forgets the command's group and any held signal.
pub(crate) fn restore_default_actions(handled: &[libc::c_int]) {
    for &signal in handled {
        // Were it to fail, the handler left does nothing once the group is cleared below.
        set_default_action(signal);
    }
    FORWARD_TO_GROUP.store(0, Ordering::SeqCst);
    PENDING_SIGNALS.store(0, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_stop_and_a_held_continue_cancel_each_other() {
        let stop_then_continue = holding(holding(0, libc::SIGTSTP), libc::SIGCONT);
        assert_eq!(stop_then_continue, bit(libc::SIGCONT));
        let continue_then_stop = holding(holding(0, libc::SIGCONT), libc::SIGTSTP);
        assert_eq!(continue_then_stop, bit(libc::SIGTSTP));
        // Any other signal is held beside them.
        let interrupt_and_stop = holding(holding(0, libc::SIGINT), libc::SIGTSTP);
        assert_eq!(interrupt_and_stop, bit(libc::SIGINT) | bit(libc::SIGTSTP));
    }
}

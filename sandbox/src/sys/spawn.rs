//! Starting a restricted command with `clone(CLONE_VM | CLONE_VFORK)` instead of `fork`.
//!
//! `fork` copies the host's page tables, and afterwards every page either process writes
//! first takes a copy-on-write fault, until the child's `execve` drops its copy. A vfork
//! child borrows the parent's memory instead, and the calling thread sleeps until the child
//! has called `execve` or `_exit`. That is what `posix_spawn` does; it cannot be used here
//! because the child must restrict itself first ([`ChildSteps::apply`]), which vfork
//! allows: those steps only make system calls on data prepared in advance.
//!
//! What sharing the memory asks of the child, and how it is met:
//! - It runs on its own stack, mapped here with a guard page below it.
//! - It allocates nothing and takes no lock (the same rule as after `fork`), and writes to
//!   the parent's memory only the one answer the parent reads ([`ChildContext::errno`]).
//! - No signal handler of the parent may run in it: every signal is blocked in the calling
//!   thread before `clone`, and the child sets every handled signal back to its default
//!   before it unblocks them just before `execve`. As `std::process::Command` does, the
//!   command starts with SIGPIPE at its default and no signal blocked; other ignored
//!   signals stay ignored.
//! - The program is looked up on the *plan's* `PATH`, not the host's (which `execvpe` would
//!   read): the candidate paths are joined in the parent and tried in order in the child,
//!   with `execvp`'s rules (a permission error is remembered, a script without `#!` runs
//!   with `/bin/sh`).

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use super::ChildSteps;

/// Size of the child's stack: the restriction steps and `execve` need a few KiB; only the
/// pages touched are ever backed by memory.
const STACK_SIZE: usize = 256 * 1024;

/// A program and its arguments, environment and working directory, as C strings.
#[derive(Debug)]
pub(crate) struct ExecSpec {
    /// The paths to try, in order: the program itself when it names a path (has a `/`),
    /// else each directory of the plan's `PATH` joined with it.
    pub(crate) candidates: Vec<CString>,
    /// `argv`, `argv[0]` included.
    pub(crate) argv: Vec<CString>,
    /// `KEY=value` entries.
    pub(crate) envp: Vec<CString>,
    /// The working directory.
    pub(crate) cwd: CString,
}

/// What the child reads (everything prepared by the parent) and the one thing it writes.
struct ChildContext<'a> {
    steps: &'a ChildSteps,
    candidates: &'a [CString],
    argv: *const *const c_char,
    envp: *const *const c_char,
    /// `["/bin/sh", <script>, argv[1..], NULL]`: the child writes the script's path into
    /// slot 1 when a candidate turns out to be a script without `#!`.
    sh_argv: *mut *const c_char,
    cwd: &'a CStr,
    /// Set by the child when `chdir` or every `execve` failed: the error it reports.
    errno: AtomicI32,
}

/// Starts `spec` restricted by `steps` in a vfork child; returns its pid once the child has
/// called `execve`. A failed `chdir` or `execve` is the error; a failed restriction step is
/// the child's exit status 125 with a message on stderr, as after `fork`.
pub(crate) fn spawn(steps: &ChildSteps, spec: &ExecSpec) -> io::Result<libc::pid_t> {
    let argv = pointers(&spec.argv);
    let envp = pointers(&spec.envp);
    let mut sh_argv: Vec<*const c_char> = [c"/bin/sh".as_ptr(), std::ptr::null()]
        .into_iter()
        .chain(argv.iter().skip(1).copied())
        .collect();
    let stack = Stack::map()?;

    let mut all = empty_sigset();
    let mut parent_mask = empty_sigset();
    // SAFETY: both sets are initialised `sigset_t`s owned by this frame.
    unsafe {
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut parent_mask);
    }
    let context = ChildContext {
        steps,
        candidates: &spec.candidates,
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        sh_argv: sh_argv.as_mut_ptr(),
        cwd: &spec.cwd,
        errno: AtomicI32::new(0),
    };
    // SAFETY: `child_main` gets a pointer to `context`, which lives in this frame until
    // `clone` returns; with CLONE_VFORK this thread sleeps until the child has exec'd or
    // exited, so the child's view of `context`, the pointer arrays and the stack stays
    // valid and unshared for as long as it runs. The stack top is 16-byte aligned.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw const context).cast_mut().cast::<c_void>(),
        )
    };
    let clone_error = io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe {
        libc::pthread_sigmask(
            libc::SIG_SETMASK,
            &raw const parent_mask,
            std::ptr::null_mut(),
        )
    };
    drop(stack);
    if pid < 0 {
        return Err(clone_error);
    }
    match context.errno.load(Ordering::Acquire) {
        0 => Ok(pid),
        errno => {
            // The child has exited without running anything: reap it.
            let _ = wait(pid, false);
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

/// Waits for `pid` and returns its raw wait status. With `reap_others`, every other child
/// that ends meanwhile is reaped too (the orphans a subreaper adopts).
pub(crate) fn wait(pid: libc::pid_t, reap_others: bool) -> io::Result<c_int> {
    let waited = if reap_others { -1 } else { pid };
    let mut status: c_int = 0;
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

/// The child: signals to their defaults, `chdir`, the restriction, `execve`.
extern "C" fn child_main(context: *mut c_void) -> c_int {
    // SAFETY: the parent passed a pointer to a `ChildContext` that outlives this child's
    // use of it (see `spawn`).
    let context = unsafe { &*context.cast_const().cast::<ChildContext<'_>>() };
    default_signal_handlers();
    // SAFETY: `cwd` is NUL-terminated.
    if unsafe { libc::chdir(context.cwd.as_ptr()) } != 0 {
        report_and_exit(context, errno());
    }
    context.steps.apply();
    let none = empty_sigset();
    // SAFETY: unblocks every signal; `none` is an initialised empty set.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &raw const none, std::ptr::null_mut()) };
    let mut denied = false;
    let mut last = libc::ENOENT;
    for candidate in context.candidates {
        // SAFETY: NUL-terminated path; both arrays are NULL-terminated arrays of
        // NUL-terminated strings that the parent keeps alive.
        unsafe { libc::execve(candidate.as_ptr(), context.argv, context.envp) };
        last = errno();
        match last {
            libc::ENOEXEC => {
                // A script without `#!`: run it with the shell, as execvp does.
                // SAFETY: slot 1 of `sh_argv` exists and is the script's place; the parent
                // is asleep and reads the array only after the child is gone.
                unsafe { *context.sh_argv.add(1) = candidate.as_ptr() };
                // SAFETY: as for the first execve.
                unsafe {
                    libc::execve(
                        c"/bin/sh".as_ptr(),
                        context.sh_argv.cast_const(),
                        context.envp,
                    )
                };
                last = errno();
                break;
            }
            libc::EACCES => denied = true,
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            _ => break,
        }
    }
    report_and_exit(
        context,
        if denied && last == libc::ENOENT {
            libc::EACCES
        } else {
            last
        },
    )
}

/// Sets every signal that has a handler back to its default action (a handler would run on
/// the parent's memory), and SIGPIPE too; other ignored signals stay ignored, as across
/// `fork`.
fn default_signal_handlers() {
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // Numbers the C library reserves have no handler to ask about, and are skipped.
        let Some(handler) = super::signal_handler(signal) else {
            continue;
        };
        let handled = handler != libc::SIG_DFL && handler != libc::SIG_IGN;
        if handled || signal == libc::SIGPIPE {
            super::set_default_action(signal);
        }
    }
}

fn report_and_exit(context: &ChildContext<'_>, errno: c_int) -> ! {
    context.errno.store(
        if errno == 0 { libc::ENOENT } else { errno },
        Ordering::Release,
    );
    // SAFETY: _exit ends the child at once, running nothing of the parent's.
    unsafe { libc::_exit(127) }
}

fn errno() -> c_int {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn empty_sigset() -> libc::sigset_t {
    // SAFETY: `sigset_t` is plain data; all-zero is the empty set on Linux.
    unsafe { std::mem::zeroed() }
}

/// NULL-terminated array of the strings' pointers.
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The child's stack: [`STACK_SIZE`] bytes above one inaccessible guard page.
struct Stack {
    base: *mut c_void,
    len: usize,
}

impl Stack {
    fn map() -> io::Result<Stack> {
        let page = 4096;
        let len = STACK_SIZE + page;
        // SAFETY: an anonymous private mapping at an address the kernel picks.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the lowest page of the mapping just made; the stack grows down onto it.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    fn top(&self) -> *mut c_void {
        // SAFETY: one past the end of the mapping, the initial stack pointer.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`, no longer used by anyone.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;
    use std::process::ExitStatus;

    use super::*;

    fn c(text: &str) -> CString {
        CString::new(text).unwrap()
    }

    /// The child steps without a ruleset or filter: what the spawn itself does.
    fn unrestricted() -> ChildSteps {
        ChildSteps {
            parent: rustix::process::getpid().as_raw_nonzero().get(),
            ruleset: None,
            filter: None,
            restrict: true,
        }
    }

    /// The command starts with no signal blocked and SIGPIPE at its default, whatever the
    /// spawning thread had (the test harness ignores SIGPIPE, and this thread blocks
    /// SIGUSR1), and the spawning thread gets its own mask back.
    #[test]
    fn the_command_starts_with_clean_signal_state() {
        let steps = unrestricted();
        let script = "blk=$(awk '/^SigBlk/{print $2}' /proc/self/status); \
                      ign=$(awk '/^SigIgn/{print $2}' /proc/self/status); \
                      [ \"$blk\" = 0000000000000000 ] && [ $(( 0x$ign & 0x1000 )) -eq 0 ]";
        let spec = ExecSpec {
            candidates: vec![c("/bin/sh")],
            argv: vec![c("/bin/sh"), c("-c"), c(script)],
            envp: vec![c("PATH=/usr/bin:/bin")],
            cwd: c("/"),
        };
        let mut usr1 = empty_sigset();
        let mut before = empty_sigset();
        let mut after = empty_sigset();
        // SAFETY: initialised sets owned by this frame; only this thread's mask changes.
        unsafe {
            libc::sigaddset(&raw mut usr1, libc::SIGUSR1);
            libc::pthread_sigmask(libc::SIG_BLOCK, &raw const usr1, &raw mut before);
        }
        let spawned = spawn(&steps, &spec);
        // SAFETY: as above; the old mask is put back after reading the current one.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &raw const before, &raw mut after);
        }
        let status = ExitStatus::from_raw(wait(spawned.unwrap(), false).unwrap());
        assert_eq!(status.code(), Some(0), "{status:?}");
        // SAFETY: reads a set initialised by pthread_sigmask.
        let still_blocked = unsafe { libc::sigismember(&raw const after, libc::SIGUSR1) };
        assert_eq!(still_blocked, 1);
    }

    #[test]
    fn a_missing_directory_is_the_error() {
        let steps = unrestricted();
        let spec = ExecSpec {
            candidates: vec![c("/bin/true")],
            argv: vec![c("true")],
            envp: Vec::new(),
            cwd: c("/nonexistent/agenthost-test"),
        };
        let error = spawn(&steps, &spec).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
    }
}

//! The foreground wrapper's signals: passing the terminal's signals on to the command's
//! process group, and giving them their default actions back. The handlers do only what is
//! async-signal-safe: atomics, `kill(2)` and `raise(3)`.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// Whether the calling thread is the process's main thread, which lives as long as the
/// process does.
pub(crate) fn on_main_thread() -> bool {
    rustix::thread::gettid() == rustix::process::getpid()
}

/// The handler of `signal` in this process (`SIG_DFL`, `SIG_IGN` or a function's
/// address), or None for a number the C library reserves. Async-signal-safe.
fn signal_handler(signal: libc::c_int) -> Option<libc::sighandler_t> {
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

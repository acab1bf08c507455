//! The `agenthost` executable: a small front that runs `agenthost sandbox` itself and execs
//! `agenthost-core` (installed beside it) for every other verb; see `agenthost::cli::front`.
//!
//! The front defines the C `main` itself (`#![no_main]`) instead of going through Rust's
//! runtime start: that start reads `/proc/self/maps` to place the main thread's stack
//! guard and maps an alternate signal stack, about 0.06 ms of a sandboxed command's
//! start-up (docs/sandbox-performance.md). [`start_as_std_does`] keeps the two parts of it
//! the front relies on: stdin, stdout and stderr are open, and SIGPIPE is ignored. What the
//! front gives up is the "has overflowed its stack" message (a plain SIGSEGV instead); it
//! recurses nowhere deep, and the core keeps Rust's start.
// A test harness built from this file (`cargo test --bins`) brings its own `main`.
#![cfg_attr(not(test), no_main)]
// `unsafe` here: exporting the unmangled C `main` symbol, and the three C calls of
// `start_as_std_does`.
#![allow(unsafe_code)]

#[cfg(not(test))]
use std::ffi::{c_char, c_int};

/// The front's allocator: an arena with size-class free lists for what it allocates before
/// it waits for the command (up to 0.12 ms less than glibc's `malloc`; see
/// `agenthost::front_arena`).
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: agenthost::front_arena::BumpArena = agenthost::front_arena::BumpArena::new();

/// The C entry point, called by the C library's start-up with `argc` and `argv` (which the
/// standard library has already captured for `std::env::args_os`).
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // Nothing has allocated yet (std captures `argv` without allocating); when the mapping
    // fails, allocations simply stay with the system allocator.
    ALLOCATOR.map(agenthost::front_arena::FRONT_ARENA_BYTES);
    start_as_std_does();
    let exit = agenthost::cli::front::main();
    // Rust's runtime would flush stdout at exit; without it, flush here.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    c_int::from(exit.code())
}

/// What Rust's runtime start does that the front relies on. A closed stdin, stdout or
/// stderr is opened on `/dev/null`, so that no descriptor the front opens later (the
/// Landlock ruleset, a file) takes its number and reaches the command as its output; the
/// runtime aborts when even that fails, and so does this. SIGPIPE is ignored, so that
/// writing to a closed pipe is an error the front reports, as in the core.
#[cfg(not(test))]
fn start_as_std_does() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    loop {
        // SAFETY: `fds` is an array of three initialised `pollfd`s that outlives the call;
        // a zero timeout returns at once.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
        if rc != -1 {
            break;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => {}
            // No `poll` (a seccomp filter, a tiny kernel): ask each descriptor instead.
            _ => {
                for pollfd in &mut fds {
                    // SAFETY: F_GETFD takes no pointer and only reads the descriptor flags.
                    if unsafe { libc::fcntl(pollfd.fd, libc::F_GETFD) } == -1 {
                        pollfd.revents = libc::POLLNVAL;
                    }
                }
                break;
            }
        }
    }
    for pollfd in fds {
        if pollfd.revents & libc::POLLNVAL != 0 {
            // SAFETY: a NUL-terminated literal path; O_RDWR needs no mode argument. The
            // lowest free number is the closed one, as the loop goes up from 0.
            if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
                std::process::abort();
            }
        }
    }
    // SAFETY: SIG_IGN installs no handler function; nothing else runs yet.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

//! agenthost's kernel sandbox.
//!
//! A [`SandboxPlan`] is plain data: Landlock filesystem rules (each a path, file or tree,
//! its exact rights, and the scope line or grant that produced it), TCP port rules, the
//! scoping flag, socket families, the command's whole environment, its working directory
//! and its private temp dir. The host builds the plan; this crate only carries it out.
//!
//! # Launching
//!
//! Everything is prepared in the host before `fork` ([`Restriction::prepare`]): the plan's
//! paths are opened and added to a Landlock ruleset (every filesystem right up to ABI 5
//! handled, i.e. denied unless granted; TCP bind and connect handled, ABI 4; signals and
//! abstract unix sockets scoped, ABI 6), the seccomp program is assembled, the command's
//! environment and the mount layer's paths are built. The child (the forked child of a
//! `Command` given [`Restriction::apply_to`] and spawned with [`spawn_lasting`], which
//! [`Restriction::spawn`] does, or with [`Restriction::apply_with_reaper_to`] the child its
//! reaper forks) then only makes raw system calls, in this order:
//!
//! 1. sets `PR_SET_PDEATHSIG` to SIGKILL and checks that the parent is still the host
//!    (the sandbox dies with agenthost);
//! 2. starts a new session (`setsid`: no controlling terminal, so no `TIOCSTI` into the
//!    user's shell, and signals to the host's process group do not reach it);
//! 3. marks every descriptor above stderr close-on-exec (`close_range`);
//! 4. builds the mount layer ([`MountPlan`]): a mount namespace of its own (through a user
//!    namespace when not root) in which everything is read-only but the writable regions,
//!    with the protected paths read-only on top;
//! 5. sets `no_new_privs` (setuid and file capabilities stop working);
//! 6. drops every capability (bounding, ambient, effective, permitted, inheritable): as root
//!    the command runs as uid 0 with no capabilities at all;
//! 7. enforces the ruleset (`landlock_restrict_self`);
//! 8. installs the seccomp filter ([`seccomp`] documents each entry);
//! 9. `execve`s the command with exactly the plan's environment.
//!
//! The host may be multi-threaded (the supervisor runs tokio), so nothing in the child
//! allocates or takes a lock; a failed step writes a fixed message to stderr and exits with
//! [`EXIT_SETUP_FAILED`]. All raw system calls (and all `unsafe`) are in one module,
//! `sys.rs`, with its submodules `mounts.rs` (the mount layer) and `reaper.rs`.
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked exits, so
//! [`spawn_lasting`] forks only on the main thread or on one dedicated thread that lives as
//! long as the process.
//!
//! Landlock domains, seccomp filters and no_new_privs survive `fork` and `execve` and can
//! never be lifted, so the restriction covers the command's whole process tree.
//!
//! # Enforcement
//!
//! [`Enforcement::Enforce`] fails before anything runs if the kernel lacks any guarantee
//! the plan needs ([`Guarantee`]), and asks Landlock for a hard requirement on every right.
//! [`Enforcement::BestEffort`] applies what the kernel has. [`Support::probe`] tells which
//! guarantees hold, without sandboxing anything.
//!
//! # What is not enforced here
//!
//! - Landlock cannot *deny* inside a granted tree: a write right on a directory holds for
//!   every file beneath it (the mount layer's protected paths are read-only mounts
//!   there). Creating a file needs rights on its directory, so a Create target or an
//!   atomic-rename save opens the whole directory; the host's review check is per file.
//! - Files opened before the sandbox (stdin, stdout, stderr) keep their rights.
//! - UDP is not controlled by Landlock before ABI 10; the seccomp filter stops all IP
//!   sockets when no TCP port is granted.
//! - Connecting to pathname unix sockets is controlled by Landlock only from ABI 9; the
//!   seccomp filter refuses creating `AF_UNIX` sockets unless the plan allows them.
//! - File metadata: Landlock (up to ABI 7) does not control `chmod`, `chown` or `utime`;
//!   the mount layer refuses them outside the writable regions and on protected paths,
//!   and the seccomp filter refuses setting setuid and setgid bits everywhere. Inside a
//!   writable region, only Landlock's content rules apply.
//! - Dying with agenthost: `PR_SET_PDEATHSIG` kills the command itself. Everything else it
//!   started is killed when it ends, also what left its process group: by the reaper of
//!   [`Restriction::apply_with_reaper_to`] (a job runner; [`apply_reaper_to`] without a
//!   sandbox), or by [`kill_leftovers`] in a process that [`adopt_orphans`] (`agenthost
//!   sandbox`). The reaper also outlives agenthost: its parent-death signal
//!   ([`REAPER_KILL_NOW`]) makes it kill the command and everything it started at once
//!   when agenthost dies by any signal, `kill -9` included. But if the reaper itself is
//!   killed with SIGKILL (or `agenthost sandbox` is), a process that left the group is
//!   adopted by init and survives.
//! - As root the command keeps uid 0: files owned by root are writable by their owner
//!   without capabilities wherever Landlock grants write, and readable where it grants read.

mod launch;
pub mod plan;
mod probe;
pub mod seccomp;
#[allow(unsafe_code)]
mod sys;

pub use launch::{
    EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, EXIT_SETUP_FAILED, ForwardedSignals, LaunchError,
    OutlivedSignals, REAPER_KILL_NOW, Restriction, SandboxedChild, adopt_orphans, apply_reaper_to,
    kill_leftovers, spawn_lasting,
};
pub use plan::{
    Enforcement, FsRight, FsRule, MountPlan, NetPlan, PortRule, ProtectedPath, Provenance,
    SandboxPlan, Target, rights,
};
pub use probe::{Guarantee, MountPrivilege, MountSupport, Support, required};

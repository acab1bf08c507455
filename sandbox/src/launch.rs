//! The launcher: the process that restricts itself, then becomes the sandboxed command.
//!
//! The host never restricts a process from `pre_exec` (code between `fork` and `exec` must
//! be async-signal-safe, and building a Landlock ruleset allocates). Instead it starts
//! *itself* as a small launcher (`agenthost __sandbox-exec FD -- CMD...`) with the plan in
//! an inherited memfd ([`handoff`]); the launcher is an ordinary single-threaded process
//! that reads the plan and calls [`exec`]: it restricts itself step by step and finally
//! `execve`s the command. Landlock domains, seccomp filters and no_new_privs are inherited
//! across `fork` and `execve` and cannot be removed, so the whole process tree of the
//! command is covered, whatever it does.

use std::convert::Infallible;
use std::ffi::OsString;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};
use rustix::thread::CapabilitySet;

use crate::plan::{Enforcement, FsRight, SandboxPlan, Target};
use crate::probe::{Guarantee, Support};
use crate::seccomp;

/// Exit status of the launcher when the sandbox could not be set up (nothing ran).
pub const EXIT_SETUP_FAILED: i32 = 125;
/// Exit status when the command exists but could not be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status when the command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// Why the launcher stopped before running the command.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The plan descriptor could not be read.
    #[error("cannot read the sandbox plan from descriptor {fd}: {source}")]
    ReadPlan {
        /// The descriptor.
        fd: RawFd,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The plan is not valid JSON for this version.
    #[error("the sandbox plan is not readable: {0}")]
    ParsePlan(#[from] serde_json::Error),
    /// The parent died before the launcher could tie its life to it.
    #[error("the agenthost process that started the sandbox is gone")]
    ParentGone,
    /// A process-level step (session, death signal, descriptors, capabilities) failed.
    #[error("{step}: {source}")]
    Process {
        /// What was being done.
        step: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// A path in the plan could not be opened for a Landlock rule.
    #[error("cannot open {path} for a sandbox rule ({provenance}): {source}")]
    RulePath {
        /// The path.
        path: PathBuf,
        /// Where the rule came from.
        provenance: String,
        /// The error.
        source: landlock::PathFdError,
    },
    /// Landlock refused the ruleset.
    #[error("Landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// In enforce mode, the kernel could not enforce everything.
    #[error("the kernel cannot enforce: {}", list(.0))]
    NotEnforced(Vec<Guarantee>),
    /// The seccomp filter could not be built or installed.
    #[error("seccomp: {0}")]
    Seccomp(String),
    /// `execve` failed.
    #[error("cannot run `{program}`: {source}")]
    Exec {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// No command was given.
    #[error("no command to run")]
    NoCommand,
}

impl LaunchError {
    /// The exit status the launcher reports for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            LaunchError::Exec { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                EXIT_NOT_FOUND
            }
            LaunchError::Exec { .. } => EXIT_CANNOT_EXECUTE,
            _ => EXIT_SETUP_FAILED,
        }
    }
}

fn list(guarantees: &[Guarantee]) -> String {
    guarantees
        .iter()
        .map(|g| format!("{g} ({}, {})", g.feature(), g.describe()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes `plan` into an anonymous memory file that a child process inherits.
///
/// Keep the returned descriptor open until the launcher has been spawned, pass its number
/// (`as_raw_fd()`) on the launcher's command line, then drop it. The descriptor is created
/// close-on-exec and made inheritable here, so a process spawned concurrently by another
/// thread could inherit it too; the plan holds no secrets beyond the environment passed to
/// the command itself.
pub fn handoff(plan: &SandboxPlan) -> std::io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create("agenthost-sandbox-plan", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(&plan.to_json())?;
    file.rewind()?;
    let fd = OwnedFd::from(file);
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::empty())?;
    Ok(fd)
}

/// Reads the plan the parent handed over in descriptor `fd`, restricts this process, and
/// execs `argv`. Returns only on failure; the caller prints the error and exits with
/// [`LaunchError::exit_code`].
pub fn exec_from_fd(fd: RawFd, argv: &[OsString]) -> LaunchError {
    match read_plan(fd) {
        Ok(plan) => match exec(&plan, argv) {
            Ok(never) => match never {},
            Err(error) => error,
        },
        Err(error) => error,
    }
}

fn read_plan(fd: RawFd) -> Result<SandboxPlan, LaunchError> {
    if fd < 3 {
        return Err(LaunchError::ReadPlan {
            fd,
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        });
    }
    // SAFETY: the parent passes the number of a descriptor it left open for us (see
    // `handoff`) and nothing else in this freshly started process owns it; we take
    // ownership exactly once, and it is closed when the file is dropped.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|source| LaunchError::ReadPlan { fd, source })?;
    Ok(SandboxPlan::from_json(&bytes)?)
}

/// Applies `plan` to this process, then execs `argv`. Returns only on failure.
///
/// Order matters: the session and the death signal first (so nothing outlives the host),
/// then descriptors are closed (nothing inherited leaks in), the Landlock ruleset is built
/// while paths can still be opened, no_new_privs is set, capabilities are dropped, the
/// ruleset is enforced, the seccomp filters go last (they would deny nothing the steps
/// before need, but last is easiest to reason about), and then `execve`.
pub fn exec(plan: &SandboxPlan, argv: &[OsString]) -> Result<Infallible, LaunchError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(LaunchError::NoCommand);
    };

    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(process("setting the parent-death signal"))?;
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    if u32::try_from(parent).ok() != Some(plan.parent_pid) {
        return Err(LaunchError::ParentGone);
    }
    rustix::process::setsid().map_err(process("starting a new session"))?;
    close_inherited_descriptors()?;

    let support = Support::probe();
    let missing = support.missing(plan);
    if plan.enforcement == Enforcement::Enforce && !missing.is_empty() {
        return Err(LaunchError::NotEnforced(missing));
    }

    let ruleset = build_ruleset(plan, support.landlock_abi)?;
    rustix::thread::set_no_new_privs(true).map_err(process("setting no_new_privs"))?;
    drop_capabilities()?;
    if let Some(ruleset) = ruleset {
        let status = ruleset.restrict_self()?;
        if plan.enforcement == Enforcement::Enforce
            && status.ruleset != RulesetStatus::FullyEnforced
        {
            return Err(LaunchError::NotEnforced(vec![Guarantee::Filesystem]));
        }
    }
    if support.seccomp {
        let filters =
            seccomp::filters(&plan.net).map_err(|e| LaunchError::Seccomp(e.to_string()))?;
        for filter in &filters {
            seccompiler::apply_filter(filter).map_err(|e| LaunchError::Seccomp(e.to_string()))?;
        }
    }

    let error = Command::new(program)
        .args(args)
        .env_clear()
        .envs(&plan.env)
        .current_dir(&plan.cwd)
        .exec();
    Err(LaunchError::Exec {
        program: program.to_string_lossy().into_owned(),
        source: error,
    })
}

fn process(step: &'static str) -> impl Fn(rustix::io::Errno) -> LaunchError {
    move |errno| LaunchError::Process {
        step,
        source: errno.into(),
    }
}

/// Closes every descriptor above stderr: nothing the host (or whoever started the host)
/// had open reaches the command.
fn close_inherited_descriptors() -> Result<(), LaunchError> {
    // SAFETY: close_range takes plain integers; closing descriptors we do not use is sound
    // because this process holds no Rust object that owns a descriptor above 2 at this
    // point (the plan file was read and dropped before).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.9 lack close_range: close what /proc lists.
    let entries = std::fs::read_dir("/proc/self/fd").map_err(|source| LaunchError::Process {
        step: "listing open descriptors",
        source,
    })?;
    let fds: Vec<RawFd> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: as above; a descriptor that was only open for the directory listing is
        // already closed and close() just fails with EBADF.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Empties the bounding, ambient, effective, permitted and inheritable capability sets.
/// Needed only when running as root (or with file capabilities); harmless otherwise.
fn drop_capabilities() -> Result<(), LaunchError> {
    let sets = rustix::thread::capabilities(None).map_err(process("reading capabilities"))?;
    let holds_any = !sets.effective.is_empty() || !sets.permitted.is_empty();
    if holds_any {
        for bit in 0..64u32 {
            let cap = CapabilitySet::from_bits_retain(1u64 << bit);
            match rustix::thread::remove_capability_from_bounding_set(cap) {
                Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                Err(errno) => {
                    return Err(process("dropping the capability bounding set")(errno));
                }
            }
        }
    }
    // Fails harmlessly (EINVAL) on kernels without ambient capabilities.
    let _ = rustix::thread::clear_ambient_capability_set();
    rustix::thread::set_capabilities(
        None,
        rustix::thread::CapabilitySets {
            effective: CapabilitySet::empty(),
            permitted: CapabilitySet::empty(),
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(process("dropping capabilities"))?;
    Ok(())
}

fn access_fs(right: FsRight) -> AccessFs {
    match right {
        FsRight::Execute => AccessFs::Execute,
        FsRight::ReadFile => AccessFs::ReadFile,
        FsRight::ReadDir => AccessFs::ReadDir,
        FsRight::WriteFile => AccessFs::WriteFile,
        FsRight::Truncate => AccessFs::Truncate,
        FsRight::MakeReg => AccessFs::MakeReg,
        FsRight::MakeDir => AccessFs::MakeDir,
        FsRight::MakeSym => AccessFs::MakeSym,
        FsRight::MakeSock => AccessFs::MakeSock,
        FsRight::MakeFifo => AccessFs::MakeFifo,
        FsRight::RemoveFile => AccessFs::RemoveFile,
        FsRight::RemoveDir => AccessFs::RemoveDir,
        FsRight::Refer => AccessFs::Refer,
        FsRight::IoctlDev => AccessFs::IoctlDev,
    }
}

/// The rights the sandbox handles (denies unless granted): every filesystem right Landlock
/// knows up to ABI 5 (ABIs 6 to 8 added none; ABI 9's pathname unix-socket right is left to
/// the seccomp filter so that behaviour does not change with the kernel).
fn handled_fs() -> BitFlags<AccessFs> {
    AccessFs::from_all(ABI::V5)
}

fn build_ruleset(
    plan: &SandboxPlan,
    abi: i32,
) -> Result<Option<landlock::RulesetCreated>, LaunchError> {
    if abi < 1 {
        // Best effort on a kernel without Landlock: nothing to build.
        return Ok(None);
    }
    let level = match plan.enforcement {
        Enforcement::Enforce => CompatLevel::HardRequirement,
        Enforcement::BestEffort => CompatLevel::BestEffort,
    };
    let mut ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(handled_fs())?
        .handle_access(AccessNet::from_all(ABI::V4))?;
    if plan.scope_signals_and_abstract_sockets {
        ruleset = ruleset.scope(Scope::from_all(ABI::V6))?;
    }
    let mut created = ruleset.create()?;
    for rule in &plan.fs {
        let fd = match PathFd::new(&rule.path) {
            Ok(fd) => fd,
            Err(_) if rule.optional => continue,
            Err(source) => {
                return Err(LaunchError::RulePath {
                    path: rule.path.clone(),
                    provenance: rule.provenance.to_string(),
                    source,
                });
            }
        };
        let mut access: BitFlags<AccessFs> = rule.rights.iter().map(|r| access_fs(*r)).collect();
        if rule.target == Target::File {
            access &= AccessFs::from_file(ABI::V5);
        }
        created = created.add_rule(PathBeneath::new(fd, access))?;
    }
    for port in &plan.net.connect_tcp {
        created = created.add_rule(NetPort::new(port.port, AccessNet::ConnectTcp))?;
    }
    for port in &plan.net.bind_tcp {
        created = created.add_rule(NetPort::new(port.port, AccessNet::BindTcp))?;
    }
    Ok(Some(created))
}

/// Kills what is left of a finished sandbox: the launcher starts a new session whose id is
/// the launcher's pid, so its process group is everything the command started that did not
/// leave it (background jobs, daemons that did not `setsid`). Call after waiting for the
/// launcher; a group that is already empty is not an error.
pub fn kill_leftovers(launcher_pid: u32) {
    let pid = i32::try_from(launcher_pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// The descriptor number to put on the launcher's command line.
pub fn fd_number(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}

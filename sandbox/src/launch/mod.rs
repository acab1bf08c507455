//! Running a command under a plan: everything is prepared in the host, before `fork`
//! ([`Restriction::prepare`]): the Landlock ruleset with every rule added, the compiled
//! seccomp programs, the environment. The forked child then only makes raw system calls
//! ([`Restriction::apply_to`], the steps are in `sys::ChildSteps::apply`) and `execve`s the
//! command. Landlock domains, seccomp filters and no_new_privs are inherited across `fork`
//! and `execve` and cannot be removed, so the whole process tree of the command is covered,
//! whatever it does.
//!
//! The child sets `PR_SET_PDEATHSIG`, which fires when the *thread* that forked it exits,
//! not the process. [`spawn_lasting`] therefore forks on a thread that lives as long as the
//! process: the calling thread when it is the main thread, else one dedicated thread
//! started on first use (tokio's worker and blocking-pool threads retire when idle, and an
//! agent must not be killed with them).

use std::ffi::{CString, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::sync::atomic::AtomicI32;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, Ruleset,
    RulesetAttr, RulesetCreatedAttr, Scope,
};

use crate::plan::{Enforcement, FsRight, SandboxPlan, Target};
use crate::probe::{Guarantee, MountPrivilege, Support};
use crate::seccomp;
use crate::sys::{self, ChildSteps, IdMaps, MountSteps, Privilege, RuleError};

/// Exit status when the sandbox could not be set up (nothing ran); also the status of a
/// child whose restriction failed between `fork` and `exec`.
pub const EXIT_SETUP_FAILED: i32 = sys::EXIT_SETUP_FAILED;
/// Exit status when the command exists but could not be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status when the command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// Why a plan could not be prepared for a command.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A path in the plan could not be opened for a Landlock rule.
    #[error("cannot open {path} for a sandbox rule ({provenance}): {source}")]
    RulePath {
        /// The path.
        path: PathBuf,
        /// Where the rule came from.
        provenance: String,
        /// The error.
        source: std::io::Error,
    },
    /// Landlock refused the ruleset.
    #[error("Landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// Landlock refused a rule.
    #[error("Landlock refused the rule for {path} ({provenance}): {source}")]
    Rule {
        /// The path.
        path: PathBuf,
        /// Where the rule came from.
        provenance: String,
        /// The error.
        source: std::io::Error,
    },
    /// In enforce mode, the kernel could not enforce everything.
    #[error("the kernel cannot enforce: {}", list(.0))]
    NotEnforced(Vec<Guarantee>),
    /// The command could not be started (`execve` failed, or `fork`).
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
    /// This process could not become the one that adopts what the command leaves behind.
    #[error("cannot adopt the processes the command leaves behind (PR_SET_CHILD_SUBREAPER): {0}")]
    Subreaper(std::io::Error),
}

impl LaunchError {
    /// The exit status `agenthost sandbox` reports for this error.
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

/// A plan made ready to apply: the Landlock ruleset with every rule added and the seccomp
/// programs compiled, in the host, before any `fork`. Cheap to clone (shared); apply it to
/// as many commands as needed (an agent and then its test command).
#[derive(Debug, Clone)]
pub struct Restriction {
    steps: Arc<ChildSteps>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

impl Restriction {
    /// Prepares `plan` on a kernel that supports `support`. In enforce mode this fails when
    /// the kernel lacks any guarantee the plan needs, and Landlock is asked for a hard
    /// requirement on every right. Every path of the plan must exist now (optional rules
    /// are skipped when their path does not).
    pub fn prepare(plan: &SandboxPlan, support: &Support) -> Result<Restriction, LaunchError> {
        let missing = support.missing(plan);
        if plan.enforcement == Enforcement::Enforce && !missing.is_empty() {
            return Err(LaunchError::NotEnforced(missing));
        }
        let ruleset = build_ruleset(plan, support.landlock_abi)?;
        if plan.enforcement == Enforcement::Enforce && ruleset.is_none() {
            return Err(LaunchError::NotEnforced(vec![Guarantee::Filesystem]));
        }
        let filter = support.seccomp.then(|| seccomp::filter(&plan.net));
        let mounts = match (&plan.mounts.read_only_view, &support.mounts.privilege) {
            (true, Some(privilege)) => Some(mount_steps(plan, privilege)?),
            _ => None,
        };
        let parent = rustix::process::getpid().as_raw_nonzero().get();
        Ok(Restriction {
            steps: Arc::new(ChildSteps {
                parent,
                ruleset,
                filter,
                mounts,
                restrict: true,
            }),
            env: plan
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            cwd: plan.cwd.clone(),
        })
    }

    /// Makes `command` restrict its child before exec (see the crate docs for the steps).
    /// The caller sets the environment and the working directory ([`Restriction::command`]
    /// does both), and must spawn it with [`spawn_lasting`].
    pub fn apply_to(&self, command: &mut Command) {
        Arc::clone(&self.steps).install(command);
    }

    /// Like [`Restriction::apply_to`], with a reaper between this process and the command,
    /// so that nothing the command starts outlives it: the child `command` spawns is the
    /// reaper, a subreaper outside the sandbox in a session of its own, which forks the
    /// command, waits for it, then kills everything it left running (its process group,
    /// and every process that left the group, `setsid` included), and exits as the command
    /// did (its exit code, or its signal). SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to the
    /// reaper go on to the command's process group; if the command has not ended `grace`
    /// after the first, it is killed. For a job runner; must be spawned with
    /// [`spawn_lasting`].
    pub fn apply_with_reaper_to(&self, command: &mut Command, grace: Duration) {
        Arc::clone(&self.steps).install_with_reaper(command, grace);
    }

    /// The command for `argv` with exactly the plan's environment and working directory,
    /// restricted. Spawn it with [`spawn_lasting`].
    pub fn command(&self, argv: &[OsString]) -> Result<Command, LaunchError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(LaunchError::NoCommand);
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd);
        self.apply_to(&mut command);
        Ok(command)
    }
}

impl Restriction {
    /// Starts `argv` restricted, with exactly the plan's environment and working directory
    /// ([`Restriction::command`]), through [`spawn_lasting`], so that the child dies with
    /// the process. The program is looked up on the plan's `PATH`. For a command with its
    /// own stdio or process settings, use [`Restriction::command`].
    pub fn spawn(&self, argv: &[OsString]) -> Result<SandboxedChild, LaunchError> {
        let mut command = self.command(argv)?;
        let exec_error = |source: std::io::Error| LaunchError::Exec {
            program: argv
                .first()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            source,
        };
        let child = spawn_lasting(move || command.spawn())
            .and_then(|spawned| spawned)
            .map_err(exec_error)?;
        // Dropping std's handle neither waits nor kills; the pid is waited for by number.
        let pid = libc::pid_t::try_from(child.id()).unwrap_or(libc::pid_t::MAX);
        Ok(SandboxedChild { pid })
    }
}

/// A command started by [`Restriction::spawn`]. Wait for it; dropping it neither waits nor
/// kills.
#[derive(Debug)]
pub struct SandboxedChild {
    pid: libc::pid_t,
}

impl SandboxedChild {
    /// The command's process id (also its session and process group id).
    pub fn id(&self) -> u32 {
        self.pid.unsigned_abs()
    }

    /// Waits for the command to end.
    pub fn wait(self) -> std::io::Result<ExitStatus> {
        sys::wait(self.pid, false).map(ExitStatus::from_raw)
    }
}

/// A foreground wrapper's signals, passed on to the one sandboxed command it runs: SIGINT,
/// SIGQUIT, SIGHUP, SIGTERM and SIGCONT go to the command's process group, and Ctrl-Z
/// (SIGTSTP) stops the command and then this process, as a shell's job control expects (its
/// `fg` continues both). The command leads a session of its own, so the terminal's signals
/// reach only this process. Made before the command starts: a signal that comes while it
/// starts is held and passed on as soon as it runs. A signal this process ignores stays
/// ignored (a shell's background job ignores SIGINT). Dropping it gives the signals their
/// default action back. For a process that runs one command at a time in the foreground
/// (`agenthost sandbox`), not for the supervisor: the handlers are the whole process's.
#[derive(Debug)]
pub struct ForwardedSignals {
    handled: Vec<libc::c_int>,
}

impl ForwardedSignals {
    /// Installs the handlers; call it before [`Restriction::spawn`].
    pub fn install() -> ForwardedSignals {
        ForwardedSignals {
            handled: sys::start_forwarding_signals(),
        }
    }

    /// Passes signals on to `child` (those held meanwhile first) until it ends, then gives
    /// them their default action back. In a process that [`adopt_orphans`] (and so has no
    /// other child of its own), every other child that ends meanwhile is reaped too: those
    /// are processes the command left, which would stay zombies until it ends.
    pub fn wait(self, child: SandboxedChild) -> std::io::Result<ExitStatus> {
        sys::forward_signals_to(child.pid);
        let status = sys::wait(child.pid, adopts_orphans());
        drop(self);
        status.map(ExitStatus::from_raw)
    }
}

impl Drop for ForwardedSignals {
    fn drop(&mut self) {
        sys::restore_default_actions(&self.handled);
    }
}

/// For a command in this process's own process group (sandbox mode `off`, which starts it
/// with std's `Command`): while it runs, this process outlives the terminal's SIGINT and
/// SIGQUIT, as `system(3)` does, since the command gets them itself; so the command's own
/// ending (its cleanup, its exit code) is what comes back. Install it before the command
/// starts; the command still starts with their default action. Dropping it gives them
/// their default action back here too.
#[derive(Debug)]
pub struct OutlivedSignals {
    handled: Vec<libc::c_int>,
}

impl OutlivedSignals {
    /// Installs the handlers (for signals at their default action only).
    pub fn install() -> OutlivedSignals {
        OutlivedSignals {
            handled: sys::outlive_terminal_signals(),
        }
    }
}

impl Drop for OutlivedSignals {
    fn drop(&mut self) {
        sys::restore_default_actions(&self.handled);
    }
}

/// The signal that makes a reaper kill its command and everything it started at once, no
/// grace, and exit: what it does when the process that started it dies (its parent-death
/// signal). For a runner that gives up on a job without waiting for it (instead of SIGKILL
/// to the reaper, which would leave the command's daemons running).
pub const REAPER_KILL_NOW: libc::c_int = sys::PARENT_GONE;

/// Puts the same reaper as [`Restriction::apply_with_reaper_to`] between this process and
/// a command that runs *without* a sandbox (sandbox mode `off`): the command gets the user's
/// full rights (no `no_new_privs`, capabilities kept, no Landlock, no seccomp) but is tied
/// to this process the same way: it leads a session of its own, dies with its reaper, and
/// the reaper ends everything it left when it ends, when a stop request's `grace` is over,
/// or at once when this process dies by any signal. Must be spawned with
/// [`spawn_lasting`].
pub fn apply_reaper_to(command: &mut Command, grace: Duration) {
    let steps = ChildSteps {
        parent: rustix::process::getpid().as_raw_nonzero().get(),
        ruleset: None,
        filter: None,
        mounts: None,
        restrict: false,
    };
    Arc::new(steps).install_with_reaper(command, grace);
}

/// A job for the dedicated spawning thread.
type SpawnJob = Box<dyn FnOnce() + Send>;

/// Runs `spawn` (which forks a restricted child) on a thread that lives as long as the
/// process, so that the child's `PR_SET_PDEATHSIG` fires when the *process* ends, never
/// when an idle pool thread retires. On the main thread that is the caller itself (no
/// cost); any other thread hands `spawn` to one dedicated thread, started on first use,
/// and waits for its answer. The child is still the process's child: any thread can wait
/// for it.
pub fn spawn_lasting<T, F>(spawn: F) -> std::io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if sys::on_main_thread() {
        return Ok(spawn());
    }
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (sender, jobs) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("agenthost-spawner".into())
            .spawn(move || {
                for job in jobs {
                    // A panicking job must not end the thread every later spawn needs.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .ok()
            .map(|_| sender)
    });
    let gone = || std::io::Error::other("the sandbox's spawning thread is not running");
    let sender = sender.as_ref().ok_or_else(gone)?;
    let (answer, answered) = mpsc::sync_channel(1);
    sender
        .send(Box::new(move || {
            let _ = answer.send(spawn());
        }))
        .map_err(|_| gone())?;
    answered.recv().map_err(|_| gone())
}

/// The mount layer's steps for `plan`: its writable paths and its protected paths that
/// exist (a missing one has nothing to protect), as C strings.
fn mount_steps(plan: &SandboxPlan, privilege: &MountPrivilege) -> Result<MountSteps, LaunchError> {
    let c_path = |path: &std::path::Path, provenance: &str| {
        CString::new(path.as_os_str().as_bytes()).map_err(|_| LaunchError::RulePath {
            path: path.to_path_buf(),
            provenance: provenance.to_string(),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        })
    };
    // A device stays writable on a read-only mount; what does not exist has no mount.
    let mut existing = plan.mounts.writable.clone();
    existing.retain(|path| std::fs::metadata(path).is_ok_and(|m| m.is_dir() || m.is_file()));
    let writable = crate::plan::without_nested(existing)
        .iter()
        .map(|path| c_path(path, "a write grant"))
        .collect::<Result<Vec<_>, _>>()?;
    let protected = plan
        .mounts
        .protected
        .iter()
        .filter(|p| p.path.symlink_metadata().is_ok())
        .map(|p| c_path(&p.path, &p.provenance.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MountSteps {
        privilege: match privilege {
            MountPrivilege::Held => Privilege::Held,
            MountPrivilege::UserNamespace => Privilege::UserNamespace(IdMaps::of_caller()),
        },
        copies: writable.iter().map(|_| AtomicI32::new(-1)).collect(),
        writable,
        protected,
        cwd: c_path(&plan.cwd, "the working directory")?,
    })
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

/// The Landlock ruleset of `plan` with every rule added, as a descriptor ready for
/// `landlock_restrict_self`; `None` without Landlock (best effort).
fn build_ruleset(plan: &SandboxPlan, abi: i32) -> Result<Option<OwnedFd>, LaunchError> {
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
    for port in &plan.net.connect_tcp {
        created = created.add_rule(NetPort::new(port.port, AccessNet::ConnectTcp))?;
    }
    for port in &plan.net.bind_tcp {
        created = created.add_rule(NetPort::new(port.port, AccessNet::BindTcp))?;
    }
    let Some(fd) = Option::<OwnedFd>::from(created) else {
        return Ok(None);
    };
    // Path rules are added directly (open O_PATH, add, close), without the crate's fstat of
    // every path: the plan says whether a rule is for a file or a tree. A rule may only
    // carry rights the ruleset handles, which on an older kernel (best effort) are fewer.
    let handled = handled_fs() & AccessFs::from_all(ABI::from(abi));
    let file_rights = AccessFs::from_file(ABI::V5);
    for rule in &plan.fs {
        let mut access: BitFlags<AccessFs> = rule.rights.iter().map(|r| access_fs(*r)).collect();
        if rule.target == Target::File {
            access &= file_rights;
        }
        access &= handled;
        if access.is_empty() {
            continue;
        }
        let path =
            CString::new(rule.path.as_os_str().as_bytes()).map_err(|_| LaunchError::RulePath {
                path: rule.path.clone(),
                provenance: rule.provenance.to_string(),
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })?;
        let mut result = sys::add_path_rule(&fd, &path, access.bits());
        if matches!(result, Err(RuleError::NotADirectory)) {
            // A tree rule on what turned out to be a file: directory rights mean nothing on
            // a file, so the file's share of the rule is what Landlock would apply.
            result = sys::add_path_rule(&fd, &path, (access & file_rights).bits());
        }
        match result {
            Ok(()) => {}
            Err(RuleError::Open(_)) if rule.optional => {}
            Err(RuleError::Open(source)) => {
                return Err(LaunchError::RulePath {
                    path: rule.path.clone(),
                    provenance: rule.provenance.to_string(),
                    source,
                });
            }
            Err(RuleError::NotADirectory) => {
                return Err(LaunchError::Rule {
                    path: rule.path.clone(),
                    provenance: rule.provenance.to_string(),
                    source: std::io::Error::from_raw_os_error(libc::EINVAL),
                });
            }
            Err(RuleError::Rule(source)) => {
                return Err(LaunchError::Rule {
                    path: rule.path.clone(),
                    provenance: rule.provenance.to_string(),
                    source,
                });
            }
        }
    }
    Ok(Some(fd))
}

/// Makes this process adopt whatever a command it runs leaves behind: as a subreaper, it
/// becomes the parent of every process below it whose parent is gone (a daemon that left
/// the command's session included), instead of init, so that [`kill_leftovers`] can end
/// them. For a process that runs one command at a time (`agenthost sandbox`); a job runner
/// uses [`Restriction::apply_with_reaper_to`] instead.
pub fn adopt_orphans() -> Result<(), LaunchError> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|errno| LaunchError::Subreaper(errno.into()))
}

/// Whether this process adopts orphans ([`adopt_orphans`]).
fn adopts_orphans() -> bool {
    matches!(rustix::process::child_subreaper(), Ok(Some(_)))
}

/// Kills what is left of a finished sandbox: the child starts a new session whose id is
/// its pid, so its process group is everything the command started that did not leave
/// it (background jobs). If this process adopts orphans ([`adopt_orphans`]), it also kills
/// every child it has, until none is left (each one killed hands its own children over):
/// so the caller must have no other child. Call after waiting for the command; an empty
/// group is not an error. Fails only when children are left that cannot be listed (no
/// `/proc`, or a kernel without `CONFIG_PROC_CHILDREN`).
pub fn kill_leftovers(command_pid: u32) -> std::io::Result<()> {
    let Some(pid) = i32::try_from(command_pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return Ok(());
    };
    if adopts_orphans() {
        sys::kill_everything_left(pid.as_raw_nonzero().get())
    } else {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

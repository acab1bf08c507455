//! What the running kernel can enforce, and which of a plan's guarantees that leaves out.

use std::fmt;

use serde::Serialize;

use crate::plan::SandboxPlan;

/// One restriction the sandbox relies on, with the kernel feature that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// Reads, writes and executes only where granted (Landlock ABI 1).
    Filesystem,
    /// No linking or renaming files across directories to gain rights (Landlock ABI 2).
    Refer,
    /// No truncating files outside the write scope (Landlock ABI 3).
    Truncate,
    /// TCP connect and bind only on granted ports (Landlock ABI 4).
    TcpPorts,
    /// No ioctl on devices opened in the sandbox, beyond granted ones (Landlock ABI 5).
    DeviceIoctl,
    /// Signals and abstract unix sockets stay inside the sandbox (Landlock ABI 6).
    Scoping,
    /// The seccomp filter: no io_uring, ptrace, bpf, user namespaces, raw sockets, ...
    Seccomp,
    /// The mount layer: a read-only view of the file system but the write grants, protected
    /// paths read-only on top (a mount namespace; a user namespace when not root).
    ReadOnlyView,
}

impl Guarantee {
    /// Every guarantee, in order.
    pub const ALL: [Guarantee; 8] = [
        Guarantee::Filesystem,
        Guarantee::Refer,
        Guarantee::Truncate,
        Guarantee::TcpPorts,
        Guarantee::DeviceIoctl,
        Guarantee::Scoping,
        Guarantee::Seccomp,
        Guarantee::ReadOnlyView,
    ];

    /// The Landlock ABI that provides it (`None` for seccomp and the mount layer).
    pub fn landlock_abi(self) -> Option<i32> {
        match self {
            Guarantee::Filesystem => Some(1),
            Guarantee::Refer => Some(2),
            Guarantee::Truncate => Some(3),
            Guarantee::TcpPorts => Some(4),
            Guarantee::DeviceIoctl => Some(5),
            Guarantee::Scoping => Some(6),
            Guarantee::Seccomp | Guarantee::ReadOnlyView => None,
        }
    }

    /// What it protects, in a phrase.
    pub fn describe(self) -> &'static str {
        match self {
            Guarantee::Filesystem => "reads, writes and executes only where the plan grants",
            Guarantee::Refer => "no linking or renaming a file across directories to gain rights",
            Guarantee::Truncate => "no truncating files outside the write scope",
            Guarantee::TcpPorts => "TCP connect and bind only on granted ports",
            Guarantee::DeviceIoctl => "no ioctl on devices opened inside the sandbox",
            Guarantee::Scoping => {
                "signals and abstract unix sockets confined to the sandbox's own processes"
            }
            Guarantee::Seccomp => {
                "no io_uring, ptrace, bpf, keyctl, user namespaces, raw/vsock sockets, TIOCSTI"
            }
            Guarantee::ReadOnlyView => {
                "Do NOT modify paths read-only inside write grants, and no write, chmod, chown, utime or xattr change outside them"
            }
        }
    }

    /// The kernel feature, as a user would search for it.
    pub fn feature(self) -> String {
        match (self, self.landlock_abi()) {
            (_, Some(abi)) => format!("Landlock ABI {abi}"),
            (Guarantee::ReadOnlyView, None) => {
                "a mount namespace (as root) or an unprivileged user namespace".to_string()
            }
            (_, None) => "seccomp filters".to_string(),
        }
    }
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Guarantee::Filesystem => "filesystem",
            Guarantee::Refer => "refer",
            Guarantee::Truncate => "truncate",
            Guarantee::TcpPorts => "tcp-ports",
            Guarantee::DeviceIoctl => "device-ioctl",
            Guarantee::Scoping => "scoping",
            Guarantee::Seccomp => "seccomp",
            Guarantee::ReadOnlyView => "read-only-view",
        };
        f.write_str(name)
    }
}

/// What the running kernel supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Support {
    /// The Landlock ABI version, 0 when Landlock is unavailable.
    pub landlock_abi: i32,
    /// Why Landlock is unavailable, when it is.
    pub landlock_note: Option<String>,
    /// Whether seccomp filters are available.
    pub seccomp: bool,
    /// Whether agenthost runs as root (uid 0).
    pub root: bool,
    /// Whether the mount layer can be made, and how.
    pub mounts: MountSupport,
}

/// How a sandboxed child gets the right to build the mount layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MountPrivilege {
    /// agenthost holds `CAP_SYS_ADMIN` (root): a mount namespace alone.
    Held,
    /// Through an unprivileged user namespace.
    UserNamespace,
}

impl MountPrivilege {
    /// How each sandboxed command gets its mount layer, in words.
    pub fn describe(self) -> &'static str {
        match self {
            MountPrivilege::Held => "a mount namespace of its own (agenthost holds CAP_SYS_ADMIN)",
            MountPrivilege::UserNamespace => {
                "a user namespace and a mount namespace of its own (unprivileged)"
            }
        }
    }
}

/// Whether the mount layer can be made here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MountSupport {
    /// How, when it can.
    pub privilege: Option<MountPrivilege>,
    /// Why it cannot, and what to do about it.
    pub note: Option<String>,
}

impl MountSupport {
    /// Asks the kernel, once per process (a forked child tries the namespace steps: about
    /// 0.3 ms here, docs/sandbox-performance.md): first a mount namespace alone when agenthost runs as root, then an
    /// unprivileged user namespace.
    pub fn probe() -> MountSupport {
        static PROBED: std::sync::OnceLock<MountSupport> = std::sync::OnceLock::new();
        PROBED.get_or_init(probe_mounts).clone()
    }
}

fn probe_mounts() -> MountSupport {
    use crate::sys::{IdMaps, Privilege, probe_mounts};
    let mut failure = None;
    if rustix::process::geteuid().is_root() {
        match probe_mounts(Privilege::Held) {
            Ok(()) => {
                return MountSupport {
                    privilege: Some(MountPrivilege::Held),
                    note: None,
                };
            }
            Err(failed) => failure = Some(failed),
        }
    }
    match probe_mounts(Privilege::UserNamespace(IdMaps::of_caller())) {
        Ok(()) => MountSupport {
            privilege: Some(MountPrivilege::UserNamespace),
            note: None,
        },
        Err(failed) => {
            let (step, errno) = failure.unwrap_or(failed);
            let step = step.what();
            let error = std::io::Error::from_raw_os_error(errno);
            MountSupport {
                privilege: None,
                note: Some(format!(
                    "{step} failed: {error}; {}",
                    user_namespace_advice()
                )),
            }
        }
    }
}

/// What keeps unprivileged user namespaces from working here and what to do on the
/// machine, from the sysctls that restrict them. (Running without the mount layer is the
/// host's configuration, which this crate does not know.)
fn user_namespace_advice() -> &'static str {
    let sysctl = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/{name}"))
            .ok()
            .map(|v| v.trim().to_string())
    };
    if sysctl("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return "AppArmor restricts unprivileged user namespaces here \
            (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10 and later): give \
            agenthost an AppArmor profile that allows `userns` (docs/security-model.md shows \
            one)";
    }
    if sysctl("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return "unprivileged user namespaces are turned off \
            (kernel.unprivileged_userns_clone=0): `sudo sysctl kernel.unprivileged_userns_clone=1`";
    }
    if sysctl("user/max_user_namespaces").as_deref() == Some("0") {
        return "user namespaces are turned off (user.max_user_namespaces=0): raise it";
    }
    "inside a container, allow unshare and mount (for Docker: `--cap-add SYS_ADMIN` or a \
        seccomp profile that allows them)"
}

impl Support {
    /// Asks the running kernel.
    pub fn probe() -> Support {
        let (landlock_abi, landlock_note) = landlock_abi();
        // The system call first: it answers for nearly every kernel without reading a file.
        let seccomp = crate::sys::seccomp_supported()
            || std::fs::read_to_string("/proc/self/status")
                .map(|status| status.lines().any(|l| l.starts_with("Seccomp_filters:")))
                .unwrap_or(false);
        Support {
            landlock_abi,
            landlock_note,
            seccomp,
            root: rustix::process::geteuid().is_root(),
            mounts: MountSupport::probe(),
        }
    }

    /// Whether the kernel provides `guarantee`.
    pub fn holds(&self, guarantee: Guarantee) -> bool {
        match (guarantee, guarantee.landlock_abi()) {
            (_, Some(abi)) => self.landlock_abi >= abi,
            (Guarantee::ReadOnlyView, None) => self.mounts.privilege.is_some(),
            (_, None) => self.seccomp,
        }
    }

    /// The guarantees `plan` needs that this kernel cannot give.
    pub fn missing(&self, plan: &SandboxPlan) -> Vec<Guarantee> {
        required(plan)
            .into_iter()
            .filter(|g| !self.holds(*g))
            .collect()
    }
}

/// The guarantees a plan relies on.
pub fn required(plan: &SandboxPlan) -> Vec<Guarantee> {
    Guarantee::ALL
        .into_iter()
        .filter(|g| *g != Guarantee::Scoping || plan.scope_signals_and_abstract_sockets)
        .filter(|g| *g != Guarantee::ReadOnlyView || plan.mounts.read_only_view)
        .collect()
}

/// The Landlock ABI version, or 0 and why there is none.
fn landlock_abi() -> (i32, Option<String>) {
    match crate::sys::landlock_abi() {
        Ok(version) => (version, None),
        Err(error) => {
            let note = match error.raw_os_error() {
                Some(libc::EOPNOTSUPP) => {
                    "Landlock is built into this kernel but not enabled at boot (add `landlock` to the `lsm=` kernel parameter)"
                }
                Some(libc::ENOSYS) => {
                    "this kernel has no Landlock (needs Linux 5.13 or later, built with CONFIG_SECURITY_LANDLOCK)"
                }
                _ => "the Landlock version query failed",
            };
            (0, Some(note.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(scoping: bool) -> SandboxPlan {
        SandboxPlan {
            enforcement: crate::Enforcement::Enforce,
            fs: Vec::new(),
            net: crate::NetPlan::default(),
            scope_signals_and_abstract_sockets: scoping,
            env: Default::default(),
            cwd: "/".into(),
            tmpdir: "/tmp".into(),
            mounts: Default::default(),
        }
    }

    #[test]
    fn older_kernels_miss_the_newer_guarantees() {
        let kernel = |abi, seccomp| Support {
            landlock_abi: abi,
            landlock_note: None,
            seccomp,
            root: false,
            mounts: MountSupport::default(),
        };
        assert_eq!(kernel(7, true).missing(&plan(true)), []);
        assert_eq!(
            kernel(3, true).missing(&plan(true)),
            [
                Guarantee::TcpPorts,
                Guarantee::DeviceIoctl,
                Guarantee::Scoping
            ]
        );
        assert_eq!(kernel(5, false).missing(&plan(false)), [Guarantee::Seccomp]);
        assert_eq!(kernel(0, true).missing(&plan(false)).len(), 5);
    }

    #[test]
    fn a_plan_with_the_read_only_view_needs_the_mount_layer() {
        let mut with_view = plan(true);
        with_view.mounts.read_only_view = true;
        let mut kernel = Support {
            landlock_abi: 7,
            landlock_note: None,
            seccomp: true,
            root: false,
            mounts: MountSupport {
                privilege: None,
                note: Some("AppArmor".into()),
            },
        };
        assert_eq!(kernel.missing(&with_view), [Guarantee::ReadOnlyView]);
        assert_eq!(kernel.missing(&plan(true)), []);
        kernel.mounts.privilege = Some(MountPrivilege::UserNamespace);
        assert_eq!(kernel.missing(&with_view), []);
    }

    #[test]
    fn probe_answers_consistently() {
        let support = Support::probe();
        assert_eq!(
            support.holds(Guarantee::Filesystem),
            support.landlock_abi >= 1
        );
        assert_eq!(support.landlock_note.is_some(), support.landlock_abi == 0);
        assert_eq!(support.holds(Guarantee::Seccomp), support.seccomp);
    }
}

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
}

impl Guarantee {
    /// Every guarantee, in order.
    pub const ALL: [Guarantee; 7] = [
        Guarantee::Filesystem,
        Guarantee::Refer,
        Guarantee::Truncate,
        Guarantee::TcpPorts,
        Guarantee::DeviceIoctl,
        Guarantee::Scoping,
        Guarantee::Seccomp,
    ];

    /// The Landlock ABI that provides it (`None` for seccomp).
    pub fn landlock_abi(self) -> Option<i32> {
        match self {
            Guarantee::Filesystem => Some(1),
            Guarantee::Refer => Some(2),
            Guarantee::Truncate => Some(3),
            Guarantee::TcpPorts => Some(4),
            Guarantee::DeviceIoctl => Some(5),
            Guarantee::Scoping => Some(6),
            Guarantee::Seccomp => None,
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
        }
    }

    /// The kernel feature, as a user would search for it.
    pub fn feature(self) -> String {
        match self.landlock_abi() {
            Some(abi) => format!("Landlock ABI {abi}"),
            None => "seccomp filters".to_string(),
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
        }
    }

    /// Whether the kernel provides `guarantee`.
    pub fn holds(&self, guarantee: Guarantee) -> bool {
        match guarantee.landlock_abi() {
            Some(abi) => self.landlock_abi >= abi,
            None => self.seccomp,
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
        }
    }

    #[test]
    fn older_kernels_miss_the_newer_guarantees() {
        let kernel = |abi, seccomp| Support {
            landlock_abi: abi,
            landlock_note: None,
            seccomp,
            root: false,
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

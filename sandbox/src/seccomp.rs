//! The seccomp filter: a short deny list on top of Landlock.
//!
//! Landlock decides *where* the sandbox may read, write and connect; seccomp removes kernel
//! interfaces that would get around it or that widen the kernel's attack surface for no use
//! an agent has. The filter allows everything else (it is a deny list, not an allow list:
//! agents run arbitrary toolchains, and an allow list would break them in ways nobody could
//! predict). Each entry, and why:
//!
//! | denied | errno | why |
//! |--------|-------|-----|
//! | `io_uring_setup`, `io_uring_enter`, `io_uring_register` | EPERM | io_uring performs file and socket operations from kernel workers; it has been the source of many kernel exploits and lets a process act without the syscalls that other tools watch |
//! | `ptrace`, `process_vm_readv`, `process_vm_writev` | EPERM | reading or writing another process's memory; Landlock already forbids tracing processes outside the sandbox, this also stops it inside (where a traced child could be steered) |
//! | `bpf`, `perf_event_open`, `userfaultfd` | EPERM | kernel attack surface that no build needs |
//! | `keyctl`, `add_key`, `request_key` | EPERM | the kernel keyring is shared per user, not per sandbox: secrets of the user's other sessions live there |
//! | `unshare`/`clone` with `CLONE_NEWUSER`, `setns` | EPERM | a user namespace gives back capabilities (mount, chroot) inside it: the start of most sandbox escapes |
//! | `clone3` | ENOSYS | its flags are behind a pointer that seccomp cannot read, so it is refused as "not implemented"; libc falls back to `clone`, whose flags are checked |
//! | `socket(AF_PACKET)`, `socket(AF_VSOCK)` | EPERM | raw packets and host–guest sockets bypass Landlock's TCP port rules |
//! | `socket(AF_UNIX)` unless the profile allows it | EPERM | Landlock controls connecting to pathname unix sockets only from ABI 9: before that, a sandbox could talk to any daemon (docker, the agenthost supervisor, an ssh-agent). `socketpair` stays allowed: it connects only the process to itself |
//! | `socket(AF_INET)`, `socket(AF_INET6)` when offline | EPERM | with no TCP port granted, nothing needs IP; this also stops UDP, which Landlock controls only from ABI 10 |
//! | `chmod`, `fchmod`, `fchmodat`, `fchmodat2` setting setuid or setgid | EPERM | as root, a setuid-root program written into the worktree would hand root to whoever runs it after the agent; no_new_privs only protects the sandbox itself. Plain `chmod` stays allowed (Landlock does not control file metadata, see the crate docs) |
//! | `ioctl(TIOCSTI)`, `ioctl(TIOCLINUX)` | EPERM | typing into the terminal the sandbox was started from, so that the *shell* runs commands after the agent exits |
//!
//! On x86-64 the same numbers with the x32 bit set are denied too. The filter's architecture
//! check (from seccompiler) kills a process that makes a system call for another ABI (i386
//! `int 0x80`), so the deny list cannot be sidestepped through a compat entry point.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::plan::NetPlan;

/// A seccomp filter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the seccomp filter: {0}")]
pub struct FilterError(#[from] seccompiler::BackendError);

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// x32 system calls are the x86-64 numbers with this bit set.
#[cfg(target_arch = "x86_64")]
const X32_BIT: i64 = 0x4000_0000;

const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;
const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;
const AF_PACKET: u64 = 17;
const AF_VSOCK: u64 = 40;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const S_ISUID: u64 = 0o4000;
const S_ISGID: u64 = 0o2000;
/// `fchmodat2` (Linux 6.6), the same number on every architecture.
const SYS_FCHMODAT2: i64 = 452;

/// Whether this kernel runs x32 system calls (`CONFIG_X86_X32_ABI`). When it does not, any
/// number with the x32 bit fails with ENOSYS before a handler runs, and the filter can skip
/// those duplicates (half its length, and a shorter walk on every system call).
#[cfg(target_arch = "x86_64")]
fn x32_enabled() -> bool {
    crate::sys::x32_enabled(X32_BIT)
}

/// The two filters to install: the deny list (EPERM) and `clone3` (ENOSYS).
pub fn filters(net: &NetPlan) -> Result<Vec<BpfProgram>, FilterError> {
    let mut deny: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let always = [
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_setns,
    ];
    for nr in always {
        deny.insert(nr, Vec::new());
    }

    let masked = |arg: u8, len: SeccompCmpArgLen, bits: u64| {
        SeccompCondition::new(arg, len, SeccompCmpOp::MaskedEq(bits), bits)
            .and_then(|c| SeccompRule::new(vec![c]))
    };
    let equal = |arg: u8, value: u64| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
            .and_then(|c| SeccompRule::new(vec![c]))
    };

    deny.insert(
        libc::SYS_unshare,
        vec![masked(0, SeccompCmpArgLen::Dword, CLONE_NEWUSER)?],
    );
    deny.insert(
        libc::SYS_clone,
        vec![masked(0, SeccompCmpArgLen::Qword, CLONE_NEWUSER)?],
    );
    let set_id_bits = |arg: u8| -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        Ok(vec![
            masked(arg, SeccompCmpArgLen::Dword, S_ISUID)?,
            masked(arg, SeccompCmpArgLen::Dword, S_ISGID)?,
        ])
    };
    #[cfg(target_arch = "x86_64")]
    deny.insert(libc::SYS_chmod, set_id_bits(1)?);
    deny.insert(libc::SYS_fchmod, set_id_bits(1)?);
    deny.insert(libc::SYS_fchmodat, set_id_bits(2)?);
    deny.insert(SYS_FCHMODAT2, set_id_bits(2)?);
    deny.insert(
        libc::SYS_ioctl,
        vec![equal(1, TIOCSTI)?, equal(1, TIOCLINUX)?],
    );

    let mut domains = vec![AF_PACKET, AF_VSOCK];
    if !net.unix_sockets {
        domains.push(AF_UNIX);
    }
    if !net.inet_sockets {
        domains.extend([AF_INET, AF_INET6]);
    }
    let socket_rules = domains
        .into_iter()
        .map(|domain| equal(0, domain))
        .collect::<Result<Vec<_>, _>>()?;
    deny.insert(libc::SYS_socket, socket_rules);

    #[cfg(target_arch = "x86_64")]
    if x32_enabled() {
        let native: Vec<(i64, Vec<SeccompRule>)> =
            deny.iter().map(|(nr, r)| (*nr, r.clone())).collect();
        for (nr, rules) in native {
            deny.insert(nr | X32_BIT, rules);
        }
        // x32 has its own numbers for these.
        for nr in [521, 539, 540] {
            deny.insert(nr | X32_BIT, Vec::new());
        }
    }

    let eperm = SeccompFilter::new(
        deny,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )?;
    let enosys = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        ARCH,
    )?;
    Ok(vec![eperm.try_into()?, enosys.try_into()?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_for_every_network_choice() {
        for (inet, unix) in [(false, false), (true, false), (false, true), (true, true)] {
            let net = NetPlan {
                inet_sockets: inet,
                unix_sockets: unix,
                ..NetPlan::default()
            };
            let programs = filters(&net).unwrap();
            assert_eq!(programs.len(), 2);
            assert!(programs.iter().all(|p| !p.is_empty()));
        }
    }
}

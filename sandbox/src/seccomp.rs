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
//! | every x32 system call (x86-64 numbers with bit 30 set) | ENOSYS | the x32 ABI re-enters the same handlers under other numbers; nothing an agent runs is built for it, and kernels without `CONFIG_X86_X32_ABI` answer ENOSYS anyway |
//!
//! The filter's first instructions check the architecture and kill a process that makes a
//! system call for another ABI (i386 `int 0x80`, 32-bit ARM), so the deny list cannot be
//! sidestepped through a compat entry point.
//!
//! # Why the program is assembled here
//!
//! Installing a filter costs in proportion to how long the kernel's walk through it is:
//! the kernel runs the program once per system call number to find the ones it may always
//! allow without running it (the "constant action" cache), and compiles it. A filter made
//! by a generic compiler (a linear chain of comparisons with the argument checks inline,
//! and a second filter for `clone3`) took about 120 µs each to install here, a quarter of
//! a sandboxed `true`. This one is a single program: a binary search over the few system
//! call numbers the list names, then a short block for each distinct argument check. A
//! plain refusal jumps straight to a shared return, calls with the same check (`chmod`
//! and `fchmod`) share its block, and a leaf's last comparison falls through to "allow":
//! 52 instructions where a block per entry took 82, which cut installing it from about 79
//! to 65 µs here (a four-instruction filter takes 33: each instruction is checked,
//! converted and compiled, about 0.3 µs apiece). Every other number reaches "allow" in
//! about six comparisons, and is cached as always allowed.

use crate::plan::NetPlan;

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    /// Operation.
    pub code: u16,
    /// Offset to the next instruction when the condition holds.
    pub jt: u8,
    /// Offset to the next instruction when it does not.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

/// A seccomp program, ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
pub type Program = Vec<SockFilter>;

// Classic BPF opcodes (linux/bpf_common.h): class | size/operation | source.
/// `BPF_LD | BPF_W | BPF_ABS`.
const BPF_LD_W_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JA`.
const BPF_JMP_JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
const BPF_JMP_JEQ_K: u16 = 0x15;
/// `BPF_JMP | BPF_JGE | BPF_K`.
const BPF_JMP_JGE_K: u16 = 0x35;
/// `BPF_JMP | BPF_JSET | BPF_K`.
const BPF_JMP_JSET_K: u16 = 0x45;
/// `BPF_RET | BPF_K`.
const BPF_RET_K: u16 = 0x06;

const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// `struct seccomp_data` offsets: `nr`, `arch`, then six 64-bit arguments. Argument words
/// are read at their low half (little-endian): every value checked here is an `int`, a
/// `mode_t`, or (for `ioctl`) a request the kernel truncates to 32 bits itself.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
fn offset_arg_low(arg: u32) -> u32 {
    16 + 8 * arg
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

/// x32 system calls are the x86-64 numbers with this bit set.
#[cfg(target_arch = "x86_64")]
const X32_BIT: u32 = 0x4000_0000;

const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541C;
const AF_UNIX: u32 = 1;
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;
const AF_PACKET: u32 = 17;
const AF_VSOCK: u32 = 40;
const CLONE_NEWUSER: u32 = 0x1000_0000;
const S_ISUID_OR_S_ISGID: u32 = 0o6000;
/// `fchmodat2` (Linux 6.6), the same number on every architecture.
const SYS_FCHMODAT2: i64 = 452;

/// What the filter does with one system call number.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// Refused with this errno whatever the arguments.
    Refuse(u32),
    /// Refused with EPERM when argument `arg` (its low 32 bits) equals one of `values`.
    RefuseIfEqual { arg: u32, values: Vec<u32> },
    /// Refused with EPERM when argument `arg` has any bit of `mask` set.
    RefuseIfAnyBit { arg: u32, mask: u32 },
}

/// The deny list for a plan's network choices, by system call number (sorted).
fn rules(net: &NetPlan) -> Vec<(u32, Rule)> {
    let eperm = libc::EPERM as u32;
    let mut rules: Vec<(i64, Rule)> = [
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
    ]
    .into_iter()
    .map(|nr| (nr, Rule::Refuse(eperm)))
    .collect();
    rules.push((libc::SYS_clone3, Rule::Refuse(libc::ENOSYS as u32)));
    let new_user = |arg| Rule::RefuseIfAnyBit {
        arg,
        mask: CLONE_NEWUSER,
    };
    rules.push((libc::SYS_unshare, new_user(0)));
    rules.push((libc::SYS_clone, new_user(0)));
    let set_id = |arg| Rule::RefuseIfAnyBit {
        arg,
        mask: S_ISUID_OR_S_ISGID,
    };
    #[cfg(target_arch = "x86_64")]
    rules.push((libc::SYS_chmod, set_id(1)));
    rules.push((libc::SYS_fchmod, set_id(1)));
    rules.push((libc::SYS_fchmodat, set_id(2)));
    rules.push((SYS_FCHMODAT2, set_id(2)));
    rules.push((
        libc::SYS_ioctl,
        Rule::RefuseIfEqual {
            arg: 1,
            values: vec![TIOCSTI, TIOCLINUX],
        },
    ));
    let mut domains = vec![AF_PACKET, AF_VSOCK];
    if !net.unix_sockets {
        domains.push(AF_UNIX);
    }
    if !net.inet_sockets {
        domains.extend([AF_INET, AF_INET6]);
    }
    rules.push((
        libc::SYS_socket,
        Rule::RefuseIfEqual {
            arg: 0,
            values: domains,
        },
    ));
    let mut rules: Vec<(u32, Rule)> = rules
        .into_iter()
        .map(|(nr, rule)| (u32::try_from(nr).unwrap_or(u32::MAX), rule))
        .collect();
    rules.sort_by_key(|(nr, _)| *nr);
    rules
}

/// The filter to install for a plan's network choices.
pub fn filter(net: &NetPlan) -> Program {
    let mut asm = Assembler::default();
    asm.load(OFFSET_ARCH);
    asm.jump_if(BPF_JMP_JEQ_K, AUDIT_ARCH, Label::Next, Label::Kill);
    asm.load(OFFSET_NR);
    #[cfg(target_arch = "x86_64")]
    asm.jump_if(BPF_JMP_JGE_K, X32_BIT, Label::Enosys, Label::Next);
    let rules = rules(net);
    // Where each listed number goes: straight to a shared return for a plain refusal, else
    // to its argument check, one block per distinct check (`chmod` and `fchmod` share one).
    let mut blocks: Vec<&Rule> = Vec::new();
    let targets: Vec<(u32, Label)> = rules
        .iter()
        .map(|(nr, rule)| {
            let label = match rule {
                Rule::Refuse(errno) if *errno == libc::EPERM as u32 => Label::Eperm,
                Rule::Refuse(errno) if *errno == libc::ENOSYS as u32 => Label::Enosys,
                rule => {
                    let index = blocks.iter().position(|b| *b == rule).unwrap_or_else(|| {
                        blocks.push(rule);
                        blocks.len() - 1
                    });
                    Label::Rule(index)
                }
            };
            (*nr, label)
        })
        .collect();
    search(&mut asm, &targets);
    for (index, rule) in blocks.iter().enumerate() {
        asm.define(Label::Rule(index));
        match rule {
            Rule::Refuse(errno) => asm.ret(SECCOMP_RET_ERRNO | errno),
            Rule::RefuseIfEqual { arg, values } => {
                asm.load(offset_arg_low(*arg));
                asm.match_or_allow(values.iter().map(|value| (*value, Label::Eperm)));
            }
            Rule::RefuseIfAnyBit { arg, mask } => {
                asm.load(offset_arg_low(*arg));
                asm.jump_if(BPF_JMP_JSET_K, *mask, Label::Eperm, Label::Allow);
            }
        }
    }
    asm.define(Label::Allow);
    asm.ret(SECCOMP_RET_ALLOW);
    asm.define(Label::Eperm);
    asm.ret(SECCOMP_RET_ERRNO | libc::EPERM as u32);
    asm.define(Label::Enosys);
    asm.ret(SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
    asm.define(Label::Kill);
    asm.ret(SECCOMP_RET_KILL_PROCESS);
    asm.finish()
}

/// Emits a binary search over `targets` (system call numbers, sorted, each with where it
/// goes): a listed number jumps to its target, any other to "allow". A leaf of up to three
/// numbers is a chain of comparisons whose last one falls through to "allow".
fn search(asm: &mut Assembler, targets: &[(u32, Label)]) {
    if targets.len() <= 3 {
        asm.match_or_allow(targets.iter().copied());
        return;
    }
    let middle = targets.len() / 2;
    let upper = asm.fresh();
    asm.jump_if(BPF_JMP_JGE_K, targets[middle].0, upper, Label::Next);
    search(asm, &targets[..middle]);
    asm.define(upper);
    search(asm, &targets[middle..]);
}

/// Where a jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// The next instruction.
    Next,
    /// Return "allow".
    Allow,
    /// Return EPERM.
    Eperm,
    /// Return ENOSYS.
    Enosys,
    /// Kill the process (wrong architecture).
    Kill,
    /// Argument check N (one per distinct check).
    Rule(usize),
    /// A point inside the search.
    Point(usize),
}

/// A forward-only classic BPF assembler: jumps name labels, resolved by [`Assembler::finish`].
#[derive(Debug, Default)]
struct Assembler {
    code: Vec<(u16, u32, Label, Label)>,
    labels: Vec<(Label, usize)>,
    points: usize,
}

impl Assembler {
    fn load(&mut self, offset: u32) {
        self.code
            .push((BPF_LD_W_ABS, offset, Label::Next, Label::Next));
    }
    fn ret(&mut self, value: u32) {
        self.code.push((BPF_RET_K, value, Label::Next, Label::Next));
    }
    fn jump(&mut self, to: Label) {
        self.code.push((BPF_JMP_JA, 0, to, Label::Next));
    }
    fn jump_if(&mut self, op: u16, k: u32, yes: Label, no: Label) {
        self.code.push((op, k, yes, no));
    }
    /// Compares the accumulator with each value in turn: the first equal one jumps to its
    /// label, and the last comparison falls through to "allow" when none is equal.
    fn match_or_allow(&mut self, cases: impl ExactSizeIterator<Item = (u32, Label)>) {
        let last = cases.len().checked_sub(1);
        if last.is_none() {
            self.jump(Label::Allow);
        }
        for (index, (value, to)) in cases.enumerate() {
            let no = if Some(index) == last {
                Label::Allow
            } else {
                Label::Next
            };
            self.jump_if(BPF_JMP_JEQ_K, value, to, no);
        }
    }
    fn fresh(&mut self) -> Label {
        self.points += 1;
        Label::Point(self.points)
    }
    fn define(&mut self, label: Label) {
        self.labels.push((label, self.code.len()));
    }

    /// The program with every label resolved. Every jump is forward and short (the program
    /// is a few dozen instructions), which the unit tests check for every network choice.
    fn finish(self) -> Program {
        let at = |label: Label, from: usize| -> u32 {
            let target = match label {
                Label::Next => from + 1,
                label => self
                    .labels
                    .iter()
                    .find(|(l, _)| *l == label)
                    .map_or(usize::MAX, |(_, at)| *at),
            };
            u32::try_from(target.saturating_sub(from + 1)).unwrap_or(u32::MAX)
        };
        self.code
            .iter()
            .enumerate()
            .map(|(index, (code, k, yes, no))| match *code {
                BPF_JMP_JA => SockFilter {
                    code: *code,
                    jt: 0,
                    jf: 0,
                    k: at(*yes, index),
                },
                BPF_JMP_JEQ_K | BPF_JMP_JGE_K | BPF_JMP_JSET_K => SockFilter {
                    code: *code,
                    jt: u8::try_from(at(*yes, index)).unwrap_or(u8::MAX),
                    jf: u8::try_from(at(*no, index)).unwrap_or(u8::MAX),
                    k: *k,
                },
                _ => SockFilter {
                    code: *code,
                    jt: 0,
                    jf: 0,
                    k: *k,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel would answer: a classic BPF interpreter for the instructions above.
    fn run(program: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, arg) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
        }
        let mut accumulator = 0u32;
        let mut pc = 0usize;
        loop {
            let insn = program[pc];
            let step = |taken: bool| pc + 1 + usize::from(if taken { insn.jt } else { insn.jf });
            pc = match insn.code {
                BPF_LD_W_ABS => {
                    let k = insn.k as usize;
                    accumulator = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                    pc + 1
                }
                BPF_JMP_JA => pc + 1 + insn.k as usize,
                BPF_JMP_JEQ_K => step(accumulator == insn.k),
                BPF_JMP_JGE_K => step(accumulator >= insn.k),
                BPF_JMP_JSET_K => step(accumulator & insn.k != 0),
                BPF_RET_K => return insn.k,
                other => panic!("unknown instruction {other:#x}"),
            };
            assert!(pc < program.len(), "jumped past the end");
        }
    }

    fn nr(n: i64) -> u32 {
        u32::try_from(n).unwrap()
    }

    const EPERM: u32 = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    const ALLOW: u32 = SECCOMP_RET_ALLOW;

    #[test]
    fn answers_every_entry_of_the_table() {
        let offline = filter(&NetPlan::default());
        let call = |n: i64, args: [u64; 6]| run(&offline, AUDIT_ARCH, nr(n), args);
        for denied in [
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
        ] {
            assert_eq!(call(denied, [0; 6]), EPERM, "{denied}");
        }
        assert_eq!(call(libc::SYS_clone3, [0; 6]), ENOSYS);
        let newuser = u64::from(CLONE_NEWUSER);
        assert_eq!(call(libc::SYS_unshare, [newuser, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(libc::SYS_unshare, [0x2_0000, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(
            call(libc::SYS_clone, [newuser | 0x11, 0, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(call(libc::SYS_clone, [0x0100_0011, 0, 0, 0, 0, 0]), ALLOW);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(call(libc::SYS_chmod, [0, 0o4755, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(libc::SYS_fchmod, [3, 0o2755, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(libc::SYS_fchmod, [3, 0o755, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(libc::SYS_fchmodat, [0, 0, 0o6755, 0, 0, 0]), EPERM);
        assert_eq!(call(libc::SYS_fchmodat, [0, 0, 0o644, 0, 0, 0]), ALLOW);
        assert_eq!(call(SYS_FCHMODAT2, [0, 0, 0o4000, 0, 0, 0]), EPERM);
        assert_eq!(
            call(libc::SYS_ioctl, [0, u64::from(TIOCSTI), 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(
            call(
                libc::SYS_ioctl,
                [0, (1 << 32) | u64::from(TIOCSTI), 0, 0, 0, 0]
            ),
            EPERM,
            "the kernel truncates the request to 32 bits"
        );
        assert_eq!(
            call(libc::SYS_ioctl, [0, u64::from(TIOCLINUX), 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(call(libc::SYS_ioctl, [0, 0x5401, 0, 0, 0, 0]), ALLOW);
        for domain in [AF_PACKET, AF_VSOCK, AF_UNIX, AF_INET, AF_INET6] {
            let args = [u64::from(domain), 1, 0, 0, 0, 0];
            assert_eq!(call(libc::SYS_socket, args), EPERM, "domain {domain}");
        }
        assert_eq!(
            call(libc::SYS_socket, [16, 3, 0, 0, 0, 0]),
            ALLOW,
            "netlink"
        );
        assert_eq!(call(libc::SYS_socketpair, [1, 1, 0, 0, 0, 0]), ALLOW);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(call(i64::from(X32_BIT) | libc::SYS_getpid, [0; 6]), ENOSYS);
        assert_eq!(
            run(&offline, 0x4000_0003, nr(libc::SYS_getpid), [0; 6]),
            SECCOMP_RET_KILL_PROCESS,
            "another architecture"
        );
    }

    #[test]
    fn network_choices_open_their_socket_families() {
        let socket = |net: &NetPlan, domain: u32| {
            run(
                &filter(net),
                AUDIT_ARCH,
                nr(libc::SYS_socket),
                [u64::from(domain), 1, 0, 0, 0, 0],
            )
        };
        let online = NetPlan {
            inet_sockets: true,
            unix_sockets: true,
            ..NetPlan::default()
        };
        for domain in [AF_UNIX, AF_INET, AF_INET6] {
            assert_eq!(socket(&online, domain), ALLOW, "domain {domain}");
        }
        for domain in [AF_PACKET, AF_VSOCK] {
            assert_eq!(socket(&online, domain), EPERM, "domain {domain}");
        }
    }

    #[test]
    fn every_other_system_call_is_allowed_and_every_jump_lands_inside() {
        for (inet, unix) in [(false, false), (true, false), (false, true), (true, true)] {
            let net = NetPlan {
                inet_sockets: inet,
                unix_sockets: unix,
                ..NetPlan::default()
            };
            let program = filter(&net);
            // Each instruction costs start-up time (see the module docs).
            assert!(program.len() <= 56, "{} instructions", program.len());
            let listed: Vec<u32> = rules(&net).iter().map(|(n, _)| *n).collect();
            for n in 0..600u32 {
                let answer = run(&program, AUDIT_ARCH, n, [0; 6]);
                if !listed.contains(&n) {
                    assert_eq!(answer, ALLOW, "system call {n}");
                }
            }
        }
    }
}

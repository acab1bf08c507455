//! The mount layer, applied by the forked child before Landlock: a mount namespace of its
//! own in which everything is read-only but the write grants, with the protected paths
//! read-only on top.
//!
//! The steps ([`MountSteps::apply`]), each a plain system call on data prepared before the
//! fork (the same rule as the rest of the child's steps: no allocation, no lock):
//!
//! 1. `unshare(CLONE_NEWNS)` with `CAP_SYS_ADMIN` (root); otherwise
//!    `unshare(CLONE_NEWUSER | CLONE_NEWNS)` and the user namespace's maps written (the
//!    user's own uid and gid mapped to themselves, `setgroups` denied), which gives the child
//!    the capabilities it needs over its new mount namespace and nothing else;
//! 2. every mount made a slave (`MS_REC | MS_SLAVE`): nothing done here propagates back to
//!    the host's namespace;
//! 3. each writable path copied as it is (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`: a
//!    detached copy of the mounts there, writable as they were);
//! 4. every mount made read-only (`mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)` on `/`);
//! 5. the copies attached again on their paths (`move_mount`), so that the write grants
//!    are writable mounts in a read-only tree;
//! 6. each protected path bind-mounted on itself and made read-only;
//! 7. `chdir` to the working directory again (it may lie under a mount attached since).
//!
//! `open_tree`, `move_mount` (Linux 5.2) and `mount_setattr` (Linux 5.12) need no
//! filesystem context, so the copies keep every flag and the locks of the mounts they copy.

use std::ffi::{CStr, CString};
use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use super::{fail, fail_with};

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// `struct mount_attr`, `MOUNT_ATTR_SIZE_VER0`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

static READ_ONLY: MountAttr = MountAttr {
    attr_set: MOUNT_ATTR_RDONLY,
    attr_clr: 0,
    propagation: 0,
    userns_fd: 0,
};

/// How the child gets the right to make mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Privilege {
    /// It holds `CAP_SYS_ADMIN` (root): a mount namespace alone.
    Held,
    /// Through a user namespace of its own, with these maps.
    UserNamespace(IdMaps),
}

/// The contents of a user namespace's `uid_map` and `gid_map`: the caller's ids, mapped to
/// themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdMaps {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl IdMaps {
    /// The maps for the calling process's effective uid and gid.
    pub(crate) fn of_caller() -> IdMaps {
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        IdMaps {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        }
    }
}

/// The mount layer's steps, prepared before the fork.
#[derive(Debug)]
pub(crate) struct MountSteps {
    pub(crate) privilege: Privilege,
    /// The paths that stay writable, none beneath another.
    pub(crate) writable: Vec<CString>,
    /// One slot per writable path, for its detached copy (written in the child's own copy
    /// of this memory).
    pub(crate) copies: Box<[AtomicI32]>,
    /// The paths made read-only on top.
    pub(crate) protected: Vec<CString>,
    /// The command's working directory.
    pub(crate) cwd: CString,
}

/// A step of [`MountSteps::apply`] that failed, for [`probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailedStep {
    /// `unshare`.
    Unshare,
    /// Writing the user namespace's maps.
    IdMaps,
    /// Making the mounts slaves.
    Slave,
    /// Making the mounts read-only.
    ReadOnly,
}

impl FailedStep {
    /// The step, in words (a constant: the forked child writes it as it is).
    pub(crate) const fn what(self) -> &'static str {
        match self {
            FailedStep::Unshare => "creating the mount namespace",
            FailedStep::IdMaps => "writing the user namespace's id maps",
            FailedStep::Slave => "making the mounts private",
            FailedStep::ReadOnly => "making the mounts read-only",
        }
    }
}

impl MountSteps {
    /// Steps with no writable and no protected path (for [`probe`]).
    pub(crate) fn bare(privilege: Privilege) -> MountSteps {
        MountSteps {
            privilege,
            writable: Vec::new(),
            copies: Box::new([]),
            protected: Vec::new(),
            cwd: CString::from(c"/"),
        }
    }

    /// The steps, in order (see the module docs); returns only when every one succeeded.
    pub(super) fn apply(&self) {
        if let Err((step, errno)) = self.namespace() {
            fail_step(step, errno);
        }
        for (path, slot) in self.writable.iter().zip(self.copies.iter()) {
            match open_tree(path) {
                Ok(fd) => slot.store(fd, Ordering::Relaxed),
                Err(errno) => fail_path(b"mount layer: copying the writable mount ", path, errno),
            }
        }
        if let Err(errno) = set_read_only(libc::AT_FDCWD, c"/", 0) {
            fail_step(FailedStep::ReadOnly, errno);
        }
        for (path, slot) in self.writable.iter().zip(self.copies.iter()) {
            let fd = slot.load(Ordering::Relaxed);
            if let Err(errno) = attach(fd, path) {
                fail_path(b"mount layer: attaching the writable mount ", path, errno);
            }
        }
        for path in &self.protected {
            let protect = open_tree(path).and_then(|fd| {
                set_read_only(fd, c"", libc::AT_EMPTY_PATH as libc::c_uint)
                    .and_then(|()| attach(fd, path))
            });
            if let Err(errno) = protect {
                fail_path(b"mount layer: making read-only ", path, errno);
            }
        }
        // SAFETY: `cwd` is NUL-terminated.
        if unsafe { libc::chdir(self.cwd.as_ptr()) } != 0 {
            fail(b"mount layer: entering the working directory again");
        }
    }

    /// Steps 1 and 2: the namespaces, the maps and the slave mounts.
    fn namespace(&self) -> Result<(), (FailedStep, i32)> {
        let flags = match self.privilege {
            Privilege::Held => libc::CLONE_NEWNS,
            Privilege::UserNamespace(_) => libc::CLONE_NEWUSER | libc::CLONE_NEWNS,
        };
        // SAFETY: integer arguments only; the child is single-threaded (forked).
        if unsafe { libc::unshare(flags) } != 0 {
            return Err((FailedStep::Unshare, errno()));
        }
        if let Privilege::UserNamespace(maps) = &self.privilege {
            write_file(c"/proc/self/setgroups", b"deny")
                .and_then(|()| write_file(c"/proc/self/uid_map", &maps.uid_map))
                .and_then(|()| write_file(c"/proc/self/gid_map", &maps.gid_map))
                .map_err(|errno| (FailedStep::IdMaps, errno))?;
        }
        // SAFETY: null source, type and data are allowed for a propagation change; the
        // target is NUL-terminated.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err((FailedStep::Slave, errno()));
        }
        Ok(())
    }
}

/// Runs the namespace steps and the read-only step with no path in a forked child, to
/// learn whether this kernel (and its security modules) let `privilege` make the mount
/// layer. About 0.3 ms here.
pub(crate) fn probe(privilege: Privilege) -> Result<(), (FailedStep, i32)> {
    let steps = MountSteps::bare(privilege);
    let mut pipe = [0 as libc::c_int; 2];
    // SAFETY: `pipe` has room for the two descriptors.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err((FailedStep::Unshare, errno()));
    }
    let [read_end, write_end] = pipe;
    // SAFETY: the child makes only system calls on memory prepared before the fork and
    // ends with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let answer: [u8; 5] = match steps.namespace().and_then(|()| {
            set_read_only(libc::AT_FDCWD, c"/", 0).map_err(|e| (FailedStep::ReadOnly, e))
        }) {
            Ok(()) => [0; 5],
            Err((step, errno)) => {
                let code = errno.to_ne_bytes();
                [step as u8 + 1, code[0], code[1], code[2], code[3]]
            }
        };
        // SAFETY: writes the answer from a valid buffer, then ends the child.
        unsafe {
            libc::write(write_end, answer.as_ptr().cast(), answer.len());
            libc::_exit(0)
        }
    }
    // SAFETY: the parent's copy of the write end is no longer needed.
    unsafe { libc::close(write_end) };
    let mut answer = [0u8; 5];
    let read = if pid > 0 {
        // SAFETY: reads into a valid buffer of its length.
        unsafe { libc::read(read_end, answer.as_mut_ptr().cast(), answer.len()) }
    } else {
        -1
    };
    let fork_error = errno();
    // SAFETY: closes the read end, which nothing else owns.
    unsafe { libc::close(read_end) };
    if pid < 0 {
        return Err((FailedStep::Unshare, fork_error));
    }
    let _ = super::wait(pid, false);
    if read != 5 {
        return Err((FailedStep::Unshare, libc::EIO));
    }
    let step = match answer[0] {
        0 => return Ok(()),
        1 => FailedStep::Unshare,
        2 => FailedStep::IdMaps,
        3 => FailedStep::Slave,
        _ => FailedStep::ReadOnly,
    };
    Err((
        step,
        i32::from_ne_bytes([answer[1], answer[2], answer[3], answer[4]]),
    ))
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `open_tree(path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)`: a detached copy
/// of the mounts at `path`.
fn open_tree(path: &CStr) -> Result<libc::c_int, i32> {
    // SAFETY: `path` is NUL-terminated; the flags are plain integers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    Ok(libc::c_int::try_from(fd).unwrap_or(-1))
}

/// `mount_setattr(dirfd, path, AT_RECURSIVE | flags, MOUNT_ATTR_RDONLY)`.
fn set_read_only(dirfd: libc::c_int, path: &CStr, flags: libc::c_uint) -> Result<(), i32> {
    // SAFETY: `path` is NUL-terminated and `READ_ONLY` a valid `mount_attr` of the size
    // given, which the kernel only reads.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            AT_RECURSIVE | flags,
            &raw const READ_ONLY,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Attaches the detached mount `fd` on `path` (`move_mount`), then closes `fd`.
fn attach(fd: libc::c_int, path: &CStr) -> Result<(), i32> {
    // SAFETY: both paths are NUL-terminated; `fd` is a detached mount from `open_tree`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd,
            c"".as_ptr(),
            libc::AT_FDCWD,
            path.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    let result = if rc == 0 { Ok(()) } else { Err(errno()) };
    // SAFETY: `fd` is ours and used no more.
    unsafe { libc::close(fd) };
    result
}

/// Writes `contents` to the file at `path` in one `write`.
fn write_file(path: &CStr, contents: &[u8]) -> Result<(), i32> {
    // SAFETY: `path` is NUL-terminated; O_WRONLY|O_CLOEXEC needs no mode.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: writes from a valid slice of its length.
    let written = unsafe { libc::write(fd, contents.as_ptr().cast(), contents.len()) };
    let result = if usize::try_from(written) == Ok(contents.len()) {
        Ok(())
    } else {
        Err(errno())
    };
    // SAFETY: `fd` was opened above and is closed once.
    unsafe { libc::close(fd) };
    result
}

/// Writes `agenthost: sandbox: mount layer: STEP (os error N)` to stderr and exits with 125.
fn fail_step(step: FailedStep, errno: i32) -> ! {
    fail_with(&[b"mount layer: ", step.what().as_bytes()], errno)
}

/// Writes `agenthost: sandbox: STEP PATH (os error N)` to stderr and exits with 125.
fn fail_path(step: &[u8], path: &CStr, errno: i32) -> ! {
    fail_with(&[step, path.to_bytes()], errno)
}

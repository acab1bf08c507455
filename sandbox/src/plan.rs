//! The plan: everything a sandboxed command's restriction is made of, as plain data.
//!
//! A plan is built by the host (from a spec's Scope, the worktree, the agent profile and the
//! sandbox config), printed by `agenthost sandbox --explain`, prepared before the fork
//! ([`crate::Restriction::prepare`]) and applied in the child before exec. Every rule
//! carries its [`Provenance`]: the scope line or the grant that produced it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How strictly the sandbox treats a kernel that cannot give every restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    /// Fail before exec unless every restriction in the plan is enforced by the kernel.
    Enforce,
    /// Apply what the kernel supports, report what it does not, and run anyway.
    BestEffort,
}

/// One filesystem access right, as Landlock names it.
///
/// Landlock checks a right on a file against the rules of the file itself and of every
/// directory above it: a right granted on a directory holds for everything beneath it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsRight {
    /// Execute a file.
    Execute,
    /// Open a file for reading.
    ReadFile,
    /// List a directory.
    ReadDir,
    /// Open a file for writing.
    WriteFile,
    /// Truncate a file (`truncate(2)`, `O_TRUNC`), Landlock ABI 3.
    Truncate,
    /// Create a regular file (also by rename or link).
    MakeReg,
    /// Create a directory.
    MakeDir,
    /// Create a symbolic link.
    MakeSym,
    /// Create a unix socket file.
    MakeSock,
    /// Create a named pipe.
    MakeFifo,
    /// Unlink a file, or rename one away.
    RemoveFile,
    /// Remove an empty directory, or rename one away.
    RemoveDir,
    /// Link or rename a file from or to a different directory, Landlock ABI 2.
    Refer,
    /// `ioctl(2)` on a device file opened in the sandbox, Landlock ABI 5.
    IoctlDev,
}

impl FsRight {
    /// The right's name as printed by `--explain` (Landlock's own, lower case).
    pub fn name(self) -> &'static str {
        match self {
            FsRight::Execute => "execute",
            FsRight::ReadFile => "read_file",
            FsRight::ReadDir => "read_dir",
            FsRight::WriteFile => "write_file",
            FsRight::Truncate => "truncate",
            FsRight::MakeReg => "make_reg",
            FsRight::MakeDir => "make_dir",
            FsRight::MakeSym => "make_sym",
            FsRight::MakeSock => "make_sock",
            FsRight::MakeFifo => "make_fifo",
            FsRight::RemoveFile => "remove_file",
            FsRight::RemoveDir => "remove_dir",
            FsRight::Refer => "refer",
            FsRight::IoctlDev => "ioctl_dev",
        }
    }

    /// Whether the right only makes sense on a directory (Landlock refuses it on a file rule).
    pub fn is_directory_only(self) -> bool {
        !matches!(
            self,
            FsRight::Execute
                | FsRight::ReadFile
                | FsRight::WriteFile
                | FsRight::Truncate
                | FsRight::IoctlDev
        )
    }
}

impl fmt::Display for FsRight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Common sets of rights.
pub mod rights {
    use super::FsRight::{self, *};

    /// Read a directory tree and run what is in it.
    pub const READ_EXEC: &[FsRight] = &[Execute, ReadFile, ReadDir];
    /// Read a directory tree, run nothing from it.
    pub const READ: &[FsRight] = &[ReadFile, ReadDir];
    /// Read one file.
    pub const READ_FILE: &[FsRight] = &[ReadFile];
    /// Read and write a device (`/dev/null`, `/dev/tty`), terminal ioctls included.
    pub const DEVICE_RW: &[FsRight] = &[ReadFile, WriteFile, IoctlDev];
    /// Read and write one existing file (including truncating it).
    pub const EDIT_FILE: &[FsRight] = &[ReadFile, WriteFile, Truncate];
    /// Everything in a directory tree one may do with regular files, directories and
    /// symlinks: the grant for a private temp dir, a profile's writable dirs and a Scope
    /// directory (`dir/`).
    pub const WRITE_TREE: &[FsRight] = &[
        Execute, ReadFile, ReadDir, WriteFile, Truncate, MakeReg, MakeDir, MakeSym, RemoveFile,
        RemoveDir, Refer,
    ];
    /// [`WRITE_TREE`] plus unix sockets and named pipes: the private temp dir.
    pub const SCRATCH_TREE: &[FsRight] = &[
        Execute, ReadFile, ReadDir, WriteFile, Truncate, MakeReg, MakeDir, MakeSym, MakeSock,
        MakeFifo, RemoveFile, RemoveDir, Refer,
    ];
    /// Create, rewrite and replace regular files in one directory (atomic-rename saves), and
    /// nothing that changes the directory's shape: no new directories, no cross-directory
    /// renames or links, no sockets, pipes or devices.
    pub const SAVE_IN_DIR: &[FsRight] = &[WriteFile, Truncate, MakeReg, RemoveFile];
}

/// Where a rule came from, for `--explain` and for error messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// Short label: `spec.md:12`, `profile claude`, `system`, `config [sandbox] read`, ...
    pub source: String,
    /// Why the rule exists, in words: "Modify `src/app.py`", "atomic-rename saves of ...".
    pub reason: String,
}

impl Provenance {
    /// A provenance from its two parts.
    pub fn new(source: impl Into<String>, reason: impl Into<String>) -> Provenance {
        Provenance {
            source: source.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

/// Whether a rule is on a single file or on a directory and everything beneath it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// One file (regular file or device).
    File,
    /// A directory and everything beneath it.
    Tree,
}

/// One Landlock filesystem rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsRule {
    /// Absolute path, opened with `O_PATH` when the ruleset is built.
    pub path: PathBuf,
    /// File or directory tree.
    pub target: Target,
    /// The rights granted.
    pub rights: Vec<FsRight>,
    /// Where the rule came from.
    pub provenance: Provenance,
    /// Skip the rule silently if the path does not exist when the ruleset is built (system
    /// directories that a distribution may lack, such as `/lib64`).
    #[serde(default)]
    pub optional: bool,
}

/// One TCP port rule (Landlock ABI 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRule {
    /// The port.
    pub port: u16,
    /// Where the rule came from.
    pub provenance: Provenance,
}

/// Network rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetPlan {
    /// TCP ports the sandbox may connect to; every other TCP connect is denied.
    pub connect_tcp: Vec<PortRule>,
    /// TCP ports the sandbox may bind (listen on); every other bind is denied.
    pub bind_tcp: Vec<PortRule>,
    /// Whether AF_INET and AF_INET6 sockets may be created at all (seccomp). An offline
    /// sandbox (no ports granted) cannot create them, which also stops UDP, which Landlock
    /// does not control on kernels before ABI 10.
    pub inet_sockets: bool,
    /// Whether AF_UNIX sockets may be created with `socket(2)` (seccomp). `socketpair(2)`
    /// stays allowed either way.
    pub unix_sockets: bool,
}

/// The whole plan for one sandboxed command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxPlan {
    /// Fail or warn when the kernel lacks a restriction.
    pub enforcement: Enforcement,
    /// Filesystem rules; anything not granted here is denied (read, write, execute).
    pub fs: Vec<FsRule>,
    /// Network rules.
    pub net: NetPlan,
    /// Confine signals and abstract unix socket connections to the sandbox (Landlock ABI 6).
    pub scope_signals_and_abstract_sockets: bool,
    /// The complete environment of the command (nothing else is inherited).
    pub env: BTreeMap<String, String>,
    /// The command's working directory.
    pub cwd: PathBuf,
    /// The private temp directory (also in `env` as `TMPDIR`).
    pub tmpdir: PathBuf,
    /// The mount layer: a read-only view of the file system but the write grants, with
    /// protected paths read-only on top.
    #[serde(default)]
    pub mounts: MountPlan,
}

/// The mount layer, under Landlock: the command gets a mount namespace of its own in which
/// every mount is read-only except the writable paths (the plan's write grants, or regions
/// holding them), and each protected path is a read-only bind mount on top of them. There a write, truncate, chmod, chown,
/// utime or extended-attribute change fails with `EROFS` (and a rename over or unlink of a
/// protected path with `EBUSY`), whatever Landlock's directory rights allow: Landlock cannot
/// deny inside a granted directory, and has no rights for metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPlan {
    /// Whether the command gets the read-only view at all.
    pub read_only_view: bool,
    /// The directories and files that stay writable (at the mount level: Landlock still
    /// decides what may be written there), none beneath another. Renaming between two of
    /// them crosses mounts (`EXDEV`), so a region where files move between granted
    /// directories (a worktree) is one entry. Paths missing when the plan is prepared are
    /// left out.
    #[serde(default)]
    pub writable: Vec<PathBuf>,
    /// Paths made read-only on top of the writable ones (Do NOT modify, `.git`).
    pub protected: Vec<ProtectedPath>,
}

/// A path the mount layer makes read-only although a write grant covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedPath {
    /// The file or directory (a directory is protected with everything beneath it).
    pub path: PathBuf,
    /// Where the protection came from.
    pub provenance: Provenance,
}

impl FsRule {
    /// Whether the rule grants any right that changes the file system.
    pub fn writes(&self) -> bool {
        self.rights
            .iter()
            .any(|r| !matches!(r, FsRight::Execute | FsRight::ReadFile | FsRight::ReadDir))
    }
}

/// `paths` without those beneath another one of them, in path order. Pure path logic: the
/// host names the writable regions before the disk is prepared, and
/// [`crate::Restriction::prepare`] keeps those that exist then.
pub fn without_nested(mut paths: Vec<PathBuf>) -> Vec<PathBuf> {
    paths.sort();
    paths.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for path in paths {
        // Sorted, so a path's ancestors among the kept ones come before it.
        if !kept.iter().any(|outer| path.starts_with(outer)) {
            kept.push(path);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_rights_are_not_directory_only() {
        for right in rights::EDIT_FILE.iter().chain(rights::DEVICE_RW) {
            assert!(!right.is_directory_only(), "{right}");
        }
        assert!(FsRight::MakeReg.is_directory_only());
    }
}

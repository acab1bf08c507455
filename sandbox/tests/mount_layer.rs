//! The mount layer against a hostile command: protected files inside a writable directory
//! and files outside every write grant keep their content and metadata, while the granted
//! files are still saved in place and with temp-file-plus-rename.
//!
//! Each attack prints a marker (`ATTACK ...`) when it runs; the negative control runs the
//! same script without the sandbox and asserts that every attack changes the disk.
//! Runs as root (a mount namespace) and as a normal user (a user namespace): CI runs this
//! test binary both ways.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use agenthost_sandbox::{
    Enforcement, FsRule, MountPlan, NetPlan, ProtectedPath, Provenance, Restriction, SandboxPlan,
    Support, Target, rights, spawn_lasting,
};

/// The attacks, one per file, then the two saves a well-behaved agent makes.
const SCRIPT: &str = r#"
cd "$1"
try() { label=$1; shift; echo "ATTACK $label"; "$@" 2>&1; echo "  -> exit $?"; }
try "write a protected file" sh -c 'echo pwned > granted/keep_write.txt'
try "truncate a protected file" truncate -s 0 granted/keep_truncate.txt
try "rename over a protected file" sh -c 'echo pwned > granted/new.tmp && mv -f granted/new.tmp granted/keep_rename.txt'
try "unlink a protected file" rm -f granted/keep_unlink.txt
try "chmod a protected file" chmod 600 granted/keep_chmod.txt
try "write in a protected directory" sh -c 'echo pwned > granted/locked/inner.txt'
try "create in a protected directory" sh -c 'echo pwned > granted/locked/planted.txt'
try "chmod outside the grants" chmod 600 outside_chmod.txt
try "utime outside the grants" touch -m -d 2001-01-01 outside_touch.txt
try "xattr outside the grants" python3 -c 'import os; os.setxattr("outside_xattr.txt", "user.pwned", b"1")'
echo "SAVE in place"; echo "in place" > granted/edit_in_place.txt; echo "  -> exit $?"
echo "SAVE by rename"; echo "renamed" > granted/.save.tmp && mv -f granted/.save.tmp granted/edit_rename.txt; echo "  -> exit $?"
"#;

const ORIGINAL: &str = "original\n";

/// The protected files, each attacked one way.
const KEPT: [&str; 5] = [
    "granted/keep_write.txt",
    "granted/keep_truncate.txt",
    "granted/keep_rename.txt",
    "granted/keep_unlink.txt",
    "granted/keep_chmod.txt",
];

/// The other files: one in the protected directory, two saved by the command, three
/// outside every grant.
const OTHERS: [&str; 6] = [
    "granted/locked/inner.txt",
    "granted/edit_in_place.txt",
    "granted/edit_rename.txt",
    "outside_chmod.txt",
    "outside_touch.txt",
    "outside_xattr.txt",
];
/// Before 2002: the attack sets 2001-01-01.
const Y2002: i64 = 1_009_843_200;

struct Files {
    base: PathBuf,
}

impl Files {
    fn new(dir: &Path) -> Files {
        let base = dir.canonicalize().unwrap();
        std::fs::create_dir_all(base.join("granted/locked")).unwrap();
        for name in KEPT.iter().chain(&OTHERS) {
            let path = base.join(name);
            std::fs::write(&path, ORIGINAL).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        Files { base }
    }

    fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.base.join(name)).ok()
    }

    fn mode(&self, name: &str) -> u32 {
        std::fs::metadata(self.base.join(name)).unwrap().mode() & 0o7777
    }

    fn mtime(&self, name: &str) -> i64 {
        std::fs::metadata(self.base.join(name)).unwrap().mtime()
    }

    fn has_xattr(&self, name: &str) -> bool {
        let out = Command::new("python3")
            .arg("-c")
            .arg("import os, sys; print('user.pwned' in os.listxattr(sys.argv[1]))")
            .arg(self.base.join(name))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "True"
    }

    /// The plan: the system readable, `base` readable, `granted/` writable, the five
    /// `keep_*` files and `locked/` protected.
    fn plan(&self) -> SandboxPlan {
        let rule = |path: PathBuf, rights: &[agenthost_sandbox::FsRight], optional| FsRule {
            path,
            target: Target::Tree,
            rights: rights.to_vec(),
            provenance: Provenance::new("test", "test"),
            optional,
        };
        let mut fs: Vec<FsRule> = ["/usr", "/bin", "/lib", "/lib64", "/etc", "/proc"]
            .into_iter()
            .map(|p| rule(PathBuf::from(p), rights::READ_EXEC, true))
            .collect();
        fs.push(FsRule {
            target: Target::File,
            ..rule(PathBuf::from("/dev/null"), rights::DEVICE_RW, true)
        });
        fs.push(rule(self.base.clone(), rights::READ, false));
        fs.push(rule(self.base.join("granted"), rights::WRITE_TREE, false));
        let protected = KEPT
            .iter()
            .chain(&["granted/locked"])
            .map(|name| ProtectedPath {
                path: self.base.join(name),
                provenance: Provenance::new("test", "Do NOT modify"),
            })
            .collect();
        SandboxPlan {
            enforcement: Enforcement::BestEffort,
            fs,
            net: NetPlan::default(),
            scope_signals_and_abstract_sockets: false,
            env: [("PATH".to_string(), "/usr/bin:/bin".to_string())].into(),
            cwd: self.base.clone(),
            tmpdir: PathBuf::from("/tmp"),
            mounts: MountPlan {
                read_only_view: true,
                writable: vec![self.base.join("granted")],
                protected,
            },
        }
    }
}

/// Runs the script under `restriction` (or without one), returning its output.
fn run(files: &Files, restriction: Option<&Restriction>) -> String {
    let argv: Vec<OsString> = ["/bin/sh", "-c", SCRIPT, "sh"]
        .into_iter()
        .map(OsString::from)
        .chain([files.base.clone().into_os_string()])
        .collect();
    let output = match restriction {
        Some(restriction) => {
            let mut command = restriction.command(&argv).unwrap();
            spawn_lasting(move || command.output()).unwrap().unwrap()
        }
        None => Command::new(&argv[0]).args(&argv[1..]).output().unwrap(),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{text}");
    assert!(text.contains("ATTACK xattr outside the grants"), "{text}");
    text
}

/// The mount layer's support, or None when the test should be skipped.
fn mount_support() -> Option<Support> {
    let support = Support::probe();
    if support.mounts.privilege.is_none() || support.landlock_abi < 1 {
        assert!(
            std::env::var_os("AGENTHOST_REQUIRE_SANDBOX").is_none(),
            "AGENTHOST_REQUIRE_SANDBOX is set and the mount layer or Landlock is missing: {:?}",
            support.mounts.note
        );
        eprintln!("skipped: {:?}", support.mounts.note);
        return None;
    }
    Some(support)
}

#[test]
fn protected_and_outside_files_keep_content_and_metadata() {
    let Some(support) = mount_support() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = Files::new(dir.path());
    let touched = files.mtime("outside_touch.txt");
    let restriction = Restriction::prepare(&files.plan(), &support).unwrap();
    let output = run(&files, Some(&restriction));

    for name in KEPT.iter().chain(&["granted/locked/inner.txt"]) {
        assert_eq!(
            files.read(name).as_deref(),
            Some(ORIGINAL),
            "{name}\n{output}"
        );
        assert_eq!(files.mode(name), 0o644, "{name}\n{output}");
    }
    assert_eq!(files.read("granted/locked/planted.txt"), None, "{output}");
    assert_eq!(files.mode("outside_chmod.txt"), 0o644, "{output}");
    assert_eq!(files.mtime("outside_touch.txt"), touched, "{output}");
    assert!(!files.has_xattr("outside_xattr.txt"), "{output}");
    // The kernel said so: a read-only file system, or busy for a mount point.
    assert!(output.contains("Read-only file system"), "{output}");
    // The grants still work, both ways an editor saves.
    assert_eq!(
        files.read("granted/edit_in_place.txt").as_deref(),
        Some("in place\n"),
        "{output}"
    );
    assert_eq!(
        files.read("granted/edit_rename.txt").as_deref(),
        Some("renamed\n"),
        "{output}"
    );
}

#[test]
fn without_the_sandbox_every_attack_changes_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::new(dir.path());
    let output = run(&files, None);
    assert_eq!(
        files.read("granted/keep_write.txt").as_deref(),
        Some("pwned\n")
    );
    assert_eq!(files.read("granted/keep_truncate.txt").as_deref(), Some(""));
    assert_eq!(
        files.read("granted/keep_rename.txt").as_deref(),
        Some("pwned\n")
    );
    assert_eq!(files.read("granted/keep_unlink.txt"), None);
    assert_eq!(files.mode("granted/keep_chmod.txt"), 0o600);
    assert_eq!(
        files.read("granted/locked/inner.txt").as_deref(),
        Some("pwned\n")
    );
    assert_eq!(
        files.read("granted/locked/planted.txt").as_deref(),
        Some("pwned\n")
    );
    assert_eq!(files.mode("outside_chmod.txt"), 0o600);
    assert!(files.mtime("outside_touch.txt") < Y2002, "{output}");
    assert!(files.has_xattr("outside_xattr.txt"), "{output}");
}

#[test]
fn the_working_directory_is_the_writable_mount_not_the_one_beneath() {
    // A command whose working directory is itself a write grant writes into the mount
    // attached there, not into the read-only one it started in.
    let Some(support) = mount_support() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = Files::new(dir.path());
    let mut plan = files.plan();
    plan.cwd = files.base.join("granted");
    let restriction = Restriction::prepare(&plan, &support).unwrap();
    let argv: Vec<OsString> = ["/bin/sh", "-c", "echo here > ./from_cwd.txt"]
        .into_iter()
        .map(OsString::from)
        .collect();
    let mut command = restriction.command(&argv).unwrap();
    let output = spawn_lasting(move || command.output()).unwrap().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        files.read("granted/from_cwd.txt").as_deref(),
        Some("here\n")
    );
}

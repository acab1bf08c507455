#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]
//! End-to-end tests of the `agenthost` binary: one test binary, one module per verb.
//!
//! Every test runs the real binary in its own temp directory, with `HOME` and the XDG
//! directories pointing inside it, so no test reads or writes the user's real config.

mod accept_checks;
mod agent_home;
mod check;
mod crash;
mod doctor_repo;
mod front;
mod help;
mod init;
mod lifecycle;
mod mount_layer;
mod policy;
mod policy_languages;
mod policy_v0_1;
mod real_agents;
mod real_projects;
mod reasons;
mod sandbox;
mod scope_overlap;
mod scripted_agent;
mod supervisor;
mod task_verbs;
mod ui;
mod verify;
mod worktree_setup;

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The agenthost source tree (for the examples).
/// The `agenthost` binary under test: cargo's, or `$AGENTHOST_TEST_BINARY` when set (CI runs
/// the containment suites again as a normal user, with the binaries copied where that user
/// can read them: `.ci/as-normal-user`).
pub fn binary() -> PathBuf {
    std::env::var_os("AGENTHOST_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_agenthost")))
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// One run of the binary: build it up, then [`Test::run`].
pub struct Test {
    dir: TempDir,
    args: Vec<String>,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// Whether this test's compiled-policy cache is the one all tests share.
    shared_policy_cache: bool,
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().expect("temp dir"),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            shared_policy_cache: true,
        }
    }

    /// Gives this test a compiled-policy cache of its own (for a test about the cache).
    /// Every other test shares one, in cargo's temp dir for tests: the cache is keyed by
    /// the component's digest and the engine, so sharing is safe, and it spares each test
    /// compiling the built-in policies again (about 2 s of CPU each).
    pub fn private_policy_cache(mut self) -> Self {
        self.shared_policy_cache = false;
        self
    }

    /// The test's temp directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.args.push(arg.as_ref().to_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Runs in this directory (relative to the temp dir) instead of the temp dir itself.
    pub fn current_dir(mut self, relative: &str) -> Self {
        self.cwd = Some(self.dir.path().join(relative));
        self
    }

    /// Writes a file (relative to the temp dir), creating parent directories.
    pub fn file(self, relative: &str, contents: impl AsRef<[u8]>) -> Self {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        self
    }

    /// Makes `relative` (created if needed) a git repository and commits everything in it.
    pub fn git_repo(self, relative: &str) -> Self {
        let root = self.dir.path().join(relative);
        std::fs::create_dir_all(&root).expect("mkdir");
        commit_all(&root);
        self
    }

    /// The binary, with this test's environment: HOME and the XDG directories inside the
    /// temp dir, no other variables but PATH, no colors, 100 columns.
    pub fn command(&self) -> Command {
        self.command_for(binary())
    }

    /// Another program, with the same environment as [`Test::command`].
    pub fn command_for(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let home = self.dir.path().join(".test-home");
        std::fs::create_dir_all(&home).expect("mkdir home");
        if self.shared_policy_cache {
            share_policy_cache(&home.join("cache/agenthost/compiled"));
        }
        let mut command = Command::new(program);
        command
            .current_dir(self.cwd.as_deref().unwrap_or(self.dir.path()))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Where this test's agenthost keeps its state.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join(".test-home/state/agenthost")
    }

    /// Runs the binary with the arguments given so far.
    pub fn run(self) -> Run {
        self.run_keep().0
    }

    /// Runs, and hands back the temp directory so the test can look at the disk afterwards.
    pub fn run_keep(self) -> (Run, TempDir) {
        let run = self.exec(&self.args);
        (run, self.dir)
    }

    /// Runs the binary with `args` (ignoring those given with `arg`), keeping the test.
    pub fn exec<S: AsRef<str>>(&self, args: &[S]) -> Run {
        let output = self
            .command()
            .args(args.iter().map(AsRef::as_ref))
            .output()
            .expect("run agenthost");
        self.clean(output)
    }

    /// Turns process output into a [`Run`], temp paths filtered.
    pub fn clean(&self, output: std::process::Output) -> Run {
        let clean = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let temp = self.dir.path().display().to_string();
            let workspace = workspace().display().to_string();
            text.replace(&temp, "[TEMP]")
                .replace(&workspace, "[WORKSPACE]")
        };
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: clean(&output.stdout),
            stderr: clean(&output.stderr),
        }
    }
}

impl Run {
    /// Everything, for snapshots: exit code, stdout, stderr.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Initializes a git repository at `root` (if needed) and commits every file in it.
pub fn commit_all(root: &Path) {
    let repo = git2::Repository::open(root)
        .or_else(|_| git2::Repository::init(root))
        .expect("git init");
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("git add");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("write tree"))
        .expect("tree");
    let signature = git2::Signature::now("Test", "test@example.invalid").expect("signature");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        "test commit",
        &tree,
        &parents,
    )
    .expect("commit");
}

/// Makes `compiled` (a test home's compiled-policy cache) a link to the cache all tests
/// share, unless it exists. Where the shared one cannot be made (a user who cannot write
/// cargo's temp dir), the test keeps its own.
fn share_policy_cache(compiled: &Path) {
    // Once per test: later commands find the link (or the test's own cache) in place.
    if compiled.symlink_metadata().is_ok() {
        return;
    }
    let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-cache");
    let writable =
        std::fs::create_dir_all(&shared).is_ok() && tempfile::tempfile_in(&shared).is_ok();
    if !writable {
        return;
    }
    if let Some(parent) = compiled.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::os::unix::fs::symlink(&shared, compiled);
}

/// Waits until `done` holds, or fails with `what` after `limit`.
pub fn wait_until(limit: std::time::Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// What `/proc/PID/stat` says: (state letter, session), for a process that exists.
pub fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    Some((
        fields.first()?.chars().next()?,
        fields.get(3)?.parse().ok()?,
    ))
}

/// Whether `pid` runs: it exists and is not a zombie (a zombie can no longer write; an init
/// that does not reap, as in some containers, keeps zombies).
pub fn runs(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// Every running process, with its command line.
pub fn running_processes() -> Vec<(i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| runs(pid))
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (pid, String::from_utf8_lossy(&cmdline).replace('\0', " "))
        })
        .collect()
}

/// Waits until no process's command line contains `token`: every process a test started
/// with it (a daemon's `sleep 1.37`, say) has ended or been killed. Polls `/proc` rather
/// than sleeping a fixed time, so a "the daemon left no file" check runs only once the
/// daemon can no longer write one. Fails after 30 s.
pub fn wait_until_no_process_mentions(token: &str) {
    wait_until(
        std::time::Duration::from_secs(30),
        &format!("processes with `{token}` in their command line to end"),
        || {
            running_processes()
                .iter()
                .all(|(_, command)| !command.contains(token))
        },
    );
}

/// Waits until process `pid` has exited (gone from `/proc`, or a zombie), up to 30 s.
pub fn wait_until_exited(pid: i32) {
    wait_until(
        std::time::Duration::from_secs(30),
        &format!("process {pid} to exit"),
        || !runs(pid),
    );
}

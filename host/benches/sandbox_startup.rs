//! How much `agenthost sandbox --spec S -- true` costs over running `true` directly, and
//! against `bwrap --ro-bind / / --dev /dev true`, measured side by side in one run.
//!
//! Run: `cargo bench -p agenthost --bench sandbox_startup` (release build).
//! `BENCH_ITERATIONS` sets the number of runs per command (default 300); the commands are
//! interleaved so that machine noise hits all of them alike. bwrap is skipped when it is not
//! installed (or cannot make its namespaces). Run as root, the bench measures the three
//! commands as root, then runs itself again as a normal user (uid and gid 65534, `nobody`,
//! with a HOME of its own) to measure them as that user: a root sandbox has more Landlock
//! rules (`/etc` is an allow list), and a normal user is the common case. Each set is
//! measured by a process of that user, so the harness starts every command the same way.
//! Results go to stdout as Markdown tables (medians are what docs/ quote). The `agenthost`
//! measured is a copy in a temp dir (see below); `sandbox` never needs `agenthost-core`.
//!
//! A second agenthost row runs in a repository shaped like a real project: a `.gitignore`
//! like GitHub's Python template (so the build-output directories it ignores and that do
//! not exist yet are created before the run and removed after it) and a spec whose Scope
//! names a directory and a glob. The first row is the benchmark; the second shows
//! what a typical repository adds to it.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str =
    "# Bench\n\n## What\nNothing.\n\n### Scope\n- Modify: `src/app.py`\n- Create: `src/new.py`\n";

/// The project repository's spec: a directory and a glob.
const PROJECT_SPEC: &str =
    "# Bench\n\n## What\nNothing.\n\n### Scope\n- Modify: `src/`\n- Create: `tests/test_*.py`\n";

/// The project repository's `.gitignore`: the directories of GitHub's Python template.
const PROJECT_GITIGNORE: &str = "__pycache__/\n*.py[cod]\nbuild/\ndist/\n*.egg-info/\n.venv/\n.pytest_cache/\n.mypy_cache/\n.ruff_cache/\n.tox/\n.coverage\nhtmlcov/\n";

/// The normal user the commands also run as when the bench runs as root.
const NOBODY: u32 = 65534;

/// Set in the copy of the bench that measures as [`NOBODY`]: the directory with the
/// repository and the installed `agenthost`.
const CHILD_DIR: &str = "AGENTHOST_BENCH_DIR";

struct Candidate {
    name: &'static str,
    argv: Vec<String>,
    /// Variables set for this command only.
    env: Vec<(String, String)>,
    times: Vec<Duration>,
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        measure(Path::new(&dir), iterations, "a normal user (uid 65534)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Readable by the normal user too (a temp dir is private by default).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    make_repo(
        &dir.path().join("repo"),
        &[("src/app.py", "print(1)\n"), ("task.md", SPEC)],
    );
    let project = dir.path().join("project");
    make_repo(
        &project,
        &[
            ("src/app.py", "print(1)\n"),
            ("tests/conftest.py", ""),
            (".gitignore", PROJECT_GITIGNORE),
            ("task.md", PROJECT_SPEC),
        ],
    );
    // Measure an installed copy, as `cargo install` or a package would leave it: a file
    // written front to back sits in the page cache in large folios, one the linker wrote
    // piecemeal in small ones, and every page fault of the start-up pays the difference
    // (about 0.25 ms here). `bwrap` and `true` are installed files too.
    std::fs::copy(release_front(), dir.path().join("agenthost")).expect("copy agenthost");
    std::fs::write(
        dir.path().join("no-mount-layer.toml"),
        "[sandbox]\nread_only_view = false\n",
    )
    .expect("write config");

    println!("{iterations} runs each, interleaved; wall time per run in ms");
    if !rustix::process::geteuid().is_root() {
        measure(dir.path(), iterations, "this user");
        return;
    }
    measure(dir.path(), iterations, "root");
    // The normal user's runs create and remove the scratch directories too.
    chown_tree(&project, NOBODY);
    let home = dir.path().join("nobody-home");
    std::fs::create_dir(&home).expect("mkdir home");
    std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY)).expect("chown home");
    // std also drops the supplementary groups when root sets the uid.
    let status = Command::new(std::env::current_exe().expect("the bench's own path"))
        .uid(NOBODY)
        .gid(NOBODY)
        .env_clear()
        .env(CHILD_DIR, dir.path())
        .env("BENCH_ITERATIONS", iterations.to_string())
        .env("HOME", &home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .status()
        .expect("run the bench as uid 65534");
    assert!(status.success(), "the bench as uid 65534 failed: {status}");
}

/// The `agenthost` front as `cargo build --release` builds it, built now. Not the
/// `CARGO_BIN_EXE_agenthost` cargo builds for this bench: with the dev-dependencies in the
/// build, cargo unifies their features into the front's (regex's Unicode tables: 1 MB more
/// and 8,500 more relocations to apply at every start), which is not what users run.
fn release_front() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--package",
            "agenthost",
            "--bin",
            "agenthost",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build --release failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "agenthost")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported the agenthost executable")
}

/// Measures the commands, interleaved, in `dir` (made by `main`), and prints the
/// table for `user`.
fn measure(dir: &Path, iterations: usize, user: &str) {
    let agenthost = dir.join("agenthost").display().to_string();
    let true_bin = ["/usr/bin/true", "/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("a `true` binary")
        .to_string();
    let sandboxed = |repo: &str| {
        let repo = dir.join(repo);
        let spec = repo.join("task.md").display().to_string();
        let root = repo.display().to_string();
        [
            &agenthost, "sandbox", "--spec", &spec, "--root", &root, "--", &true_bin,
        ]
        .map(String::from)
        .to_vec()
    };
    let mut candidates = vec![
        Candidate {
            name: "bare `true`",
            argv: vec![true_bin.clone()],
            env: Vec::new(),
            times: Vec::new(),
        },
        Candidate {
            name: "`agenthost sandbox --spec S -- true`",
            argv: sandboxed("repo"),
            env: Vec::new(),
            times: Vec::new(),
        },
        Candidate {
            name: "the same without the mount layer (`read_only_view = false`)",
            argv: sandboxed("repo"),
            env: vec![(
                "AGENTHOST_CONFIG".to_string(),
                dir.join("no-mount-layer.toml").display().to_string(),
            )],
            times: Vec::new(),
        },
        Candidate {
            name: "the same in a project (`.gitignore`, a directory and a glob in Scope)",
            argv: sandboxed("project"),
            env: Vec::new(),
            times: Vec::new(),
        },
    ];
    let bwrap_ok = Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--dev", "/dev", &true_bin])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if bwrap_ok {
        candidates.push(Candidate {
            name: "`bwrap --ro-bind / / --dev /dev true`",
            argv: ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", &true_bin]
                .map(String::from)
                .to_vec(),
            env: Vec::new(),
            times: Vec::new(),
        });
    } else {
        eprintln!("bwrap is not installed (or cannot run here as {user}): skipped");
    }

    // Warm up the page cache and check every command works.
    for candidate in &candidates {
        for _ in 0..10 {
            let status = run(candidate);
            assert!(
                status.success(),
                "{} failed as {user}: {status}",
                candidate.name
            );
        }
    }
    for _ in 0..iterations {
        for candidate in &mut candidates {
            let start = Instant::now();
            let status = run(candidate);
            candidate.times.push(start.elapsed());
            assert!(status.success(), "{} failed: {status}", candidate.name);
        }
    }

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for candidate in &mut candidates {
        candidate.times.sort();
    }
    let median = |c: &Candidate| c.times[c.times.len() / 2];
    let bare = median(&candidates[0]);
    println!("\nAs {user}:\n");
    println!("| command | median | p10 | p90 | median over bare |");
    println!("|---|---|---|---|---|");
    for candidate in &candidates {
        let n = candidate.times.len();
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:+.2} |",
            candidate.name,
            ms(median(candidate)),
            ms(candidate.times[n / 10]),
            ms(candidate.times[n * 9 / 10]),
            ms(median(candidate)) - ms(bare)
        );
    }
    if let [_, agenthost, without_mounts, project, rest @ ..] = &candidates[..] {
        println!(
            "\nThe mount layer adds {:+.2} ms (median with it minus median without).",
            ms(median(agenthost)) - ms(median(without_mounts))
        );
        if let [bwrap] = rest {
            let of_bwrap = |c: &Candidate| median(c).as_secs_f64() / median(bwrap).as_secs_f64();
            println!(
                "agenthost takes {:.2} of bwrap's time ({:.2} in the project).",
                of_bwrap(agenthost),
                of_bwrap(project)
            );
        }
    }
}

/// A git repository at `path` holding `files` (path, text), parents created.
fn make_repo(path: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let file = path.join(name);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    }
    git2::Repository::init(path).expect("git init");
}

/// Gives `path` and everything below it to `uid` (same gid).
fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("chown");
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).expect("read_dir") {
            chown_tree(&entry.expect("entry").path(), uid);
        }
    }
}

fn run(candidate: &Candidate) -> std::process::ExitStatus {
    let argv = &candidate.argv;
    Command::new(&argv[0])
        .args(&argv[1..])
        .envs(candidate.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .status()
        .expect("run")
}

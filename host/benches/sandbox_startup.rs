//! How much `agenthost sandbox --spec S -- true` costs over running `true` directly, and
//! against `bwrap --ro-bind / / --dev /dev true`, measured side by side in one run.
//!
//! Run: `cargo bench -p agenthost --bench sandbox_startup` (release build).
//! `BENCH_ITERATIONS` sets the number of runs per command (default 300); the commands are
//! interleaved so that machine noise hits all of them alike. bwrap is skipped when it is not
//! installed. Run as root, the three commands are measured twice: as root, and as a normal
//! user (uid and gid 65534, `nobody`, with a HOME of its own), because a root sandbox has
//! more Landlock rules (`/etc` is an allow list) and a normal user is the common case.
//! Results go to stdout as a Markdown table (medians are what docs/ quote). The
//! `agenthost` measured is a copy in a temp dir (see below); `sandbox` never needs
//! `agenthost-core`.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str =
    "# Bench\n\n## What\nNothing.\n\n### Scope\n- Modify: `src/app.py`\n- Create: `src/new.py`\n";

/// The normal user the commands also run as when the bench runs as root.
const NOBODY: u32 = 65534;

struct Candidate {
    name: String,
    /// Which row of the ratios this belongs to: `true`, agenthost or bwrap, as whom.
    user: &'static str,
    argv: Vec<String>,
    /// `Some(home)`: run as [`NOBODY`] with this HOME.
    as_nobody: Option<String>,
    times: Vec<Duration>,
}

impl Candidate {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.argv[0]);
        command.args(&self.argv[1..]).stdout(Stdio::null());
        if let Some(home) = &self.as_nobody {
            // std also drops the supplementary groups when root sets the uid.
            command
                .uid(NOBODY)
                .gid(NOBODY)
                .env_clear()
                .env("HOME", home)
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("LANG", "C.UTF-8");
        }
        command
    }
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("tempdir");
    // Readable by the normal user too (a temp dir is private by default).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("src")).expect("mkdir");
    std::fs::write(root.join("src/app.py"), "print(1)\n").expect("write");
    std::fs::write(root.join("task.md"), SPEC).expect("write");
    git2::Repository::init(&root).expect("git init");

    // Measure an installed copy, as `cargo install` or a package would leave it: a file
    // written front to back sits in the page cache in large folios, one the linker wrote
    // piecemeal in small ones, and every page fault of the start-up pays the difference
    // (about 0.25 ms here). `bwrap` and `true` are installed files too.
    let installed = dir.path().join("agenthost");
    std::fs::copy(env!("CARGO_BIN_EXE_agenthost"), &installed).expect("copy agenthost");
    let agenthost = installed.display().to_string();
    let true_bin = ["/usr/bin/true", "/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("a `true` binary")
        .to_string();
    let spec = root.join("task.md").display().to_string();
    let root_arg = root.display().to_string();
    let commands: Vec<(&str, Vec<String>)> = vec![
        ("bare `true`", vec![true_bin.clone()]),
        (
            "`agenthost sandbox --spec S -- true`",
            [
                &agenthost, "sandbox", "--spec", &spec, "--root", &root_arg, "--", &true_bin,
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "`bwrap --ro-bind / / --dev /dev true`",
            ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", &true_bin]
                .map(String::from)
                .to_vec(),
        ),
    ];

    let is_root = rustix::process::geteuid().is_root();
    let mut users: Vec<(&'static str, Option<String>)> = Vec::new();
    if is_root {
        users.push(("root", None));
        let home = dir.path().join("nobody-home");
        std::fs::create_dir(&home).expect("mkdir home");
        std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY)).expect("chown home");
        users.push((
            "a normal user (uid 65534)",
            Some(home.display().to_string()),
        ));
    } else {
        users.push(("this user", None));
    }

    let mut candidates = Vec::new();
    for (user, home) in &users {
        for (name, argv) in &commands {
            let candidate = Candidate {
                name: (*name).to_string(),
                user,
                argv: argv.clone(),
                as_nobody: home.clone(),
                times: Vec::new(),
            };
            // Warm up the page cache and check every command works; bwrap may be missing
            // or refused (no unprivileged user namespaces).
            let works = (0..10).all(|_| {
                candidate
                    .command()
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
            if works {
                candidates.push(candidate);
            } else if name.contains("bwrap") {
                eprintln!("bwrap is not installed (or cannot run here as {user}): skipped");
            } else {
                panic!("{name} failed as {user}");
            }
        }
    }
    for _ in 0..iterations {
        for candidate in &mut candidates {
            let mut command = candidate.command();
            let start = Instant::now();
            let status = command.status().expect("run");
            candidate.times.push(start.elapsed());
            assert!(status.success(), "{} failed: {status}", candidate.name);
        }
    }

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{iterations} runs each, interleaved; wall time per run in ms\n");
    println!("| as | command | median | p10 | p90 | median over bare |");
    println!("|---|---|---|---|---|---|");
    let mut medians: Vec<(&str, String, Duration)> = Vec::new();
    for candidate in &mut candidates {
        candidate.times.sort();
        let n = candidate.times.len();
        medians.push((
            candidate.user,
            candidate.name.clone(),
            candidate.times[n / 2],
        ));
    }
    let median_of = |user: &str, what: &str| {
        medians
            .iter()
            .find(|(u, name, _)| *u == user && name.contains(what))
            .map(|(_, _, median)| *median)
    };
    for candidate in &candidates {
        let n = candidate.times.len();
        let bare = median_of(candidate.user, "bare").expect("bare `true` ran");
        let median = candidate.times[n / 2];
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:+.2} |",
            candidate.user,
            candidate.name,
            ms(median),
            ms(candidate.times[n / 10]),
            ms(candidate.times[n * 9 / 10]),
            ms(median) - ms(bare)
        );
    }
    println!();
    for (user, _) in &users {
        if let (Some(agenthost), Some(bwrap)) =
            (median_of(user, "agenthost"), median_of(user, "bwrap"))
        {
            println!(
                "As {user}: agenthost takes {:.2} of bwrap's time.",
                agenthost.as_secs_f64() / bwrap.as_secs_f64()
            );
        }
    }
}

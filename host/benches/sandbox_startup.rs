//! How much `agenthost sandbox --spec S -- true` costs over running `true` directly, and
//! against `bwrap --ro-bind / / --dev /dev true`, measured side by side in one run.
//!
//! Run: `cargo bench -p agenthost --bench sandbox_startup` (release build).
//! `BENCH_ITERATIONS` sets the number of runs per command (default 300); the commands are
//! interleaved so that machine noise hits all of them alike. bwrap is skipped when it is not
//! installed. Results go to stdout as a Markdown table (medians are what docs/ quote). The
//! `agenthost` measured is a copy in a temp dir (see below); `sandbox` never needs
//! `agenthost-core`.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str =
    "# Bench\n\n## What\nNothing.\n\n### Scope\n- Modify: `src/app.py`\n- Create: `src/new.py`\n";

struct Candidate {
    name: &'static str,
    argv: Vec<String>,
    times: Vec<Duration>,
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("tempdir");
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
    let mut candidates = vec![
        Candidate {
            name: "bare `true`",
            argv: vec![true_bin.clone()],
            times: Vec::new(),
        },
        Candidate {
            name: "`agenthost sandbox --spec S -- true`",
            argv: vec![
                agenthost,
                "sandbox".into(),
                "--spec".into(),
                spec,
                "--root".into(),
                root_arg,
                "--".into(),
                true_bin.clone(),
            ],
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
            times: Vec::new(),
        });
    } else {
        eprintln!("bwrap is not installed (or cannot run here): skipped");
    }

    // Warm up the page cache and check every command works.
    for candidate in &candidates {
        for _ in 0..10 {
            let status = Command::new(&candidate.argv[0])
                .args(&candidate.argv[1..])
                .status()
                .expect("run");
            assert!(status.success(), "{} failed: {status}", candidate.name);
        }
    }
    for _ in 0..iterations {
        for candidate in &mut candidates {
            let start = Instant::now();
            let status = Command::new(&candidate.argv[0])
                .args(&candidate.argv[1..])
                .status()
                .expect("run");
            candidate.times.push(start.elapsed());
            assert!(status.success());
        }
    }

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let bare = median(&mut candidates[0].times.clone());
    println!("{iterations} runs each, interleaved; wall time per run in ms\n");
    println!("| command | median | p10 | p90 | median over bare |");
    println!("|---|---|---|---|---|");
    for candidate in &mut candidates {
        candidate.times.sort();
        let n = candidate.times.len();
        let med = median(&mut candidate.times);
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:+.2} |",
            candidate.name,
            ms(med),
            ms(candidate.times[n / 10]),
            ms(candidate.times[n * 9 / 10]),
            ms(med) - ms(bare)
        );
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#![allow(clippy::expect_used, missing_docs)]
//! Benchmark: one admission decision with 1,000 queued tasks (and three running), through
//! the real policy engine and the built-in review-bandwidth policy, plus the process's
//! resident memory with that state loaded.
//!
//! Run with `cargo bench -p agenthost --bench admission` (`BENCH_ITERATIONS`, default 50,
//! sets how many decisions are timed). Numbers go into
//! docs/benchmarks.md.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agenthost::state_dir::StateDirs;
use agenthost::supervisor::context::Context;
use agenthost::supervisor::decide::{self, Policies};
use agenthost::supervisor::store::{NewTask, Store};
use agenthost::task::TaskState;

const SPEC: &str = "# Add a helper\n\n### Scope\n- Create: `src/helper.rs`\n";

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let mut store = Store::open(&dir.path().join("state.db")).expect("store");
    for n in 0..1003 {
        let id = format!("task-{n}");
        store
            .insert_task(&NewTask {
                id: id.clone(),
                repo: repo.clone(),
                spec_path: repo.join("spec.md"),
                spec_text: SPEC.into(),
                spec_digest: "sha256:00".into(),
                title: format!("Task {n}"),
                agent: "script".into(),
                base_branch: Some("main".into()),
                base_commit: "0".repeat(40),
                branch: format!("agenthost/{id}"),
                worktree: dir.path().join("worktrees").join(&id),
                env: Default::default(),
            })
            .expect("insert");
        if n < 3 {
            store
                .transition(&id, TaskState::Running, "admitted")
                .expect("run");
        }
    }
    let ctx = Context {
        dirs: StateDirs {
            root: dir.path().to_path_buf(),
            runtime: dir.path().join("run"),
        },
        exe: std::env::current_exe().expect("exe"),
        host_env: std::env::vars().collect(),
        home: dir.path().to_path_buf(),
        store: Arc::new(Mutex::new(store)),
        policies: Policies::new(),
    };
    let tasks = ctx.store(|s| s.tasks(false)).expect("tasks");
    let first_queued = tasks
        .iter()
        .find(|t| t.state == TaskState::Queued)
        .expect("a queued task")
        .clone();

    // Warm up: the first call loads (and compiles or deserializes) the policy.
    // One scheduling round's worth of work for one decision: the host state, the
    // repository's configuration, the policy call.
    let decide_once = || {
        let state = decide::host_state(&ctx, &tasks);
        let config = decide::repo_config(&ctx, &repo).expect("config");
        decide::admission(&ctx, &config, &first_queued, &state)
    };
    let verdict = decide_once();
    println!("admission verdict with 3 running, 1,000 queued: {verdict:?}");
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            let _ = decide_once();
            started.elapsed()
        })
        .collect();
    samples.sort();
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "admission with 1,000 queued tasks: median {:?}, p90 {:?} ({} calls); resident memory {rss}",
        samples[samples.len() / 2],
        samples[samples.len() * 9 / 10],
        samples.len()
    );
}

#![allow(clippy::expect_used, missing_docs)]
//! Benchmark: one admission decision with 1,000 queued tasks (and three running), each
//! with a Scope of four patterns, through the real policy engine and the built-in
//! admission policies, plus the process's resident memory with that state loaded. Two
//! cases: review-bandwidth holds (three run, the default limit), so scope-overlap is never
//! asked; and, with the ramp raised, both policies are asked and the task may start.
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

/// Task `n`'s spec: a Scope of its own, like real tasks' (two files to change, one to
/// create, a directory to leave alone).
fn spec(n: usize) -> String {
    format!(
        "# Add helper {n}\n\n### Scope\n- Modify: `src/mod_{n}/lib.rs`, `src/mod_{n}/api.rs`\n\
         - Create: `src/mod_{n}/helper.rs`\n- Do NOT modify `src/shared/**`\n"
    )
}

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
                spec_text: spec(n),
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
    let median = |decide: &dyn Fn() -> decide::Admission| {
        let mut samples: Vec<Duration> = (0..iterations)
            .map(|_| {
                let started = Instant::now();
                let _ = decide();
                started.elapsed()
            })
            .collect();
        samples.sort();
        (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
    };
    let (held, held_p90) = median(&decide_once);

    // The ramp raised: review-bandwidth starts the task, so scope-overlap is asked too
    // (against the three running tasks; the 1,000 queued are in the state it is given).
    std::fs::write(
        repo.join("agenthost.toml"),
        "[policies.review-bandwidth]\nconfig = { ramp = [8] }\n",
    )
    .expect("config");
    let verdict = decide_once();
    println!("with the ramp raised: {verdict:?}");
    let (both, both_p90) = median(&decide_once);
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "admission with 1,000 queued tasks ({iterations} calls each): held by review-bandwidth \
         median {held:?}, p90 {held_p90:?}; both policies asked median {both:?}, p90 \
         {both_p90:?}; resident memory {rss}"
    );
}

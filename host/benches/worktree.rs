#![allow(clippy::expect_used, missing_docs)]
//! Benchmark: making a task's worktree on a 50,000-file repository, against
//! `git worktree add` on the same repository, measured side by side in one run.
//!
//! Run with `cargo bench -p agenthost --bench worktree` (set `BENCH_FILES` for another
//! size). The numbers go into docs/benchmarks.md.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use agenthost::task::worktree::{TaskWorktree, resolve_base};

fn main() {
    let files: usize = std::env::var("BENCH_FILES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let rounds = 5;
    let dir = tempfile::tempdir().expect("temp dir");
    let repo_root = dir.path().join("repo");
    let started = Instant::now();
    generate(&repo_root, files);
    eprintln!("generated {files} files in {:.1?}", started.elapsed());

    let base = resolve_base(&repo_root, None).expect("base");
    let mut ours = Vec::new();
    let mut git = Vec::new();
    for round in 0..rounds {
        let path = dir.path().join(format!("wt-agenthost-{round}"));
        let started = Instant::now();
        let (worktree, _) =
            TaskWorktree::create(&repo_root, &format!("bench-{round}"), &base, &path, &[])
                .expect("agenthost worktree");
        ours.push(started.elapsed());
        worktree.remove().expect("remove");

        let path = dir.path().join(format!("wt-git-{round}"));
        let started = Instant::now();
        let status = Command::new("git")
            .current_dir(&repo_root)
            .args(["worktree", "add", "--quiet", "-b"])
            .arg(format!("git-bench-{round}"))
            .arg(&path)
            .status()
            .expect("git worktree add");
        git.push(started.elapsed());
        assert!(status.success());
        let _ = Command::new("git")
            .current_dir(&repo_root)
            .args(["worktree", "remove", "--force"])
            .arg(&path)
            .status();
    }
    println!(
        "worktree for a task, {files} files, median of {rounds}: agenthost {} ms, git worktree add {} ms",
        median(&mut ours).as_millis(),
        median(&mut git).as_millis()
    );
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A repository with `files` small files in directories of 100, all committed.
fn generate(root: &Path, files: usize) {
    let repo = git2::Repository::init(root).expect("init");
    for i in 0..files {
        let path = root.join(format!("src/d{:03}/f{i:05}.txt", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        }
        std::fs::write(&path, format!("file {i}\n")).expect("write");
    }
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("add");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let sig = git2::Signature::now("bench", "bench@example.invalid").expect("sig");
    repo.commit(Some("HEAD"), &sig, &sig, "generated", &tree, &[])
        .expect("commit");
}

#![allow(clippy::expect_used, missing_docs)]
//! Benchmark: `agenthost verify` over one agent commit that changes 100,000 lines in 5,000
//! files, against `git diff --stat` over the same range, measured side by side in one run.
//!
//! Run with `cargo bench -p agenthost --bench verify` (`BENCH_FILES` and `BENCH_LINES` per
//! file change the size, `BENCH_ITERATIONS` the runs; `BENCH_KEEP=1` keeps the generated
//! repository for profiling). The numbers go into
//! docs/benchmarks.md. The repository is packed, as a clone is. The binary runs with its own HOME and XDG directories in the temp
//! dir; the first run compiles the policies into that cache and is reported apart.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use git2::{Repository, Signature};
use sha2::{Digest, Sha256};

const SPEC: &str = "# Rewrite the generated modules

## What

Regenerate every module under `src/` from the new templates.

## Scope

- Modify: `src/**`
- Do NOT modify: `vendor/**`
";

fn main() {
    let files = env_number("BENCH_FILES", 5_000);
    let lines = env_number("BENCH_LINES", 20);
    let iterations = env_number("BENCH_ITERATIONS", 10);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("repo");
    let started = Instant::now();
    generate(&root, files, lines);
    eprintln!(
        "generated {files} files, {} changed lines, in {:.1?}",
        files * lines,
        started.elapsed()
    );

    let home = dir.path().join("home");
    let verify = || {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_agenthost"))
            .args(["verify", "main..feature", "--format", "json"])
            .current_dir(&root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .output()
            .expect("run agenthost verify");
        let elapsed = started.elapsed();
        assert_eq!(
            output.status.code(),
            Some(1),
            "diff-size warns but scope-guard must pass; the vendor/ change must fail: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        elapsed
    };
    let git = || {
        let started = Instant::now();
        let status = Command::new("git")
            .args(["diff", "--stat", "main..feature"])
            .current_dir(&root)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("git diff");
        assert!(status.success());
        started.elapsed()
    };

    let cold = verify();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..iterations {
        ours.push(verify());
        theirs.push(git());
    }
    if std::env::var_os("BENCH_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("kept the repository at {}", kept.join("repo").display());
    }
    println!(
        "verify, {files} files / {} changed lines, median of {iterations}: agenthost verify {} ms \
         (first run, compiling the policies: {} ms), git diff --stat {} ms",
        files * lines,
        median(&mut ours).as_millis(),
        cold.as_millis(),
        median(&mut theirs).as_millis()
    );
}

/// `main` with the spec and `files` modules of `lines` lines (plus one vendored file);
/// `feature` with one agent commit that rewrites every line of every module and touches
/// the vendored file (so the run has one blocking finding to report).
fn generate(root: &Path, files: usize, lines: usize) {
    let repo = Repository::init(root).expect("git init");
    let signature = Signature::now("Bench", "bench@example.invalid").expect("signature");
    let write_tree = |version: &str| {
        let mut builder = repo.treebuilder(None).expect("tree builder");
        let mut dirs: std::collections::BTreeMap<String, Vec<(String, git2::Oid)>> =
            std::collections::BTreeMap::new();
        for file in 0..files {
            let text: String = (0..lines)
                .map(|line| format!("value_{file}_{line} = \"{version}\"\n"))
                .collect();
            let blob = repo.blob(text.as_bytes()).expect("blob");
            dirs.entry(format!("d{:03}", file % 100))
                .or_default()
                .push((format!("m{file}.py"), blob));
        }
        let mut src = repo.treebuilder(None).expect("tree builder");
        for (name, entries) in dirs {
            let mut sub = repo.treebuilder(None).expect("tree builder");
            for (file, blob) in entries {
                sub.insert(&file, blob, 0o100644).expect("insert");
            }
            let sub = sub.write().expect("write");
            src.insert(&name, sub, 0o040000).expect("insert");
        }
        builder
            .insert("src", src.write().expect("write"), 0o040000)
            .expect("insert");
        let mut vendor = repo.treebuilder(None).expect("tree builder");
        let lib = repo
            .blob(format!("vendored = \"{version}\"\n").as_bytes())
            .expect("blob");
        vendor.insert("lib.py", lib, 0o100644).expect("insert");
        builder
            .insert("vendor", vendor.write().expect("write"), 0o040000)
            .expect("insert");
        let mut specs = repo.treebuilder(None).expect("tree builder");
        let spec = repo.blob(SPEC.as_bytes()).expect("blob");
        specs.insert("regen.md", spec, 0o100644).expect("insert");
        builder
            .insert("specs", specs.write().expect("write"), 0o040000)
            .expect("insert");
        repo.find_tree(builder.write().expect("write"))
            .expect("tree")
    };
    let base_tree = write_tree("v1");
    let base = repo
        .commit(
            Some("refs/heads/main"),
            &signature,
            &signature,
            "Base",
            &base_tree,
            &[],
        )
        .expect("commit");
    let base = repo.find_commit(base).expect("commit");
    let digest: String = Sha256::digest(SPEC.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let message = format!(
        "Rewrite the generated modules\n\nAgenthost-Task: regen-1\nAgenthost-Attempt: 1\n\
         Agenthost-Spec: specs/regen.md\nAgenthost-Spec-Digest: sha256:{digest}\n"
    );
    let feature_tree = write_tree("v2");
    repo.commit(
        Some("refs/heads/feature"),
        &signature,
        &signature,
        &message,
        &feature_tree,
        &[&base],
    )
    .expect("commit");
    repo.set_head("refs/heads/main").expect("set head");
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .expect("checkout");
    // A clone (what CI verifies) holds its objects in a pack, not as loose files.
    let status = Command::new("git")
        .args(["repack", "-a", "-d", "-q"])
        .current_dir(root)
        .status()
        .expect("git repack");
    assert!(status.success());
}

fn env_number(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

//! Policy engine benchmarks (criterion). Run with `cargo bench -p agenthost --bench policy`;
//! the numbers are in docs/benchmarks.md ("Policy calls (issue 4)").
//!
//! - `warm_call/*`: one call on a loaded policy, each in a fresh instance: a trivial typed
//!   component (a WAT core module wrapped by wit-component, no WASI), a trivial
//!   WASI-command core module (WAT), and the built-in review-bandwidth (a typed component
//!   written with the Rust SDK, linked against WASI by Rust's std).
//! - `cold_first_call`: a new engine with a warm disk cache loads spec-quality and calls it
//!   once (what `agenthost check` pays per run).
//! - `review_set_10k_lines`: scope-guard, diff-size and tests over a synthetic
//!   10,000-line diff across 40 files.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agenthost::config::BuiltinPolicy;
use agenthost::config::PolicyMode;
use agenthost::policy::{Engine, Limits, builtin, verdict};
use agenthost_policy::{
    AcceptanceRequest, ChangeKind, ChangedFile, HostState, RunResult, Scope, ScopeEntry, Spec,
    TaskView, TestOutcome,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// A WASI-command module that answers `describe` and, for any hook, `{"findings":[]}`.
fn trivial() -> Vec<u8> {
    let describe = r#"{"abi":"0.1.0","hooks":["acceptance"]}"#;
    let answer = r#"{"findings":[]}"#;
    wat::parse_str(format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 2048) "{}")
  (data (i32.const 4096) "{}")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func (export "_start")
    (drop (call $args_get (i32.const 256) (i32.const 512)))
    (if (i32.eq (i32.load8_u (i32.load (i32.const 260))) (i32.const 100))
      (then (call $write (i32.const 2048) (i32.const {})))
      (else (call $write (i32.const 4096) (i32.const {}))))))"#,
        describe.replace('"', "\\\""),
        answer.replace('"', "\\\""),
        describe.len(),
        answer.len(),
    ))
    .unwrap()
}

/// A typed component exporting only `acceptance`, whose `check-spec` returns no findings.
fn trivial_component() -> Vec<u8> {
    let wit = format!(
        "{}\nworld acceptance-only {{ export acceptance; }}\n",
        include_str!("../../sdk/wit/policy.wit")
    );
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve.push_str("policy.wit", &wit).unwrap();
    let world = resolve
        .select_world(&[package], Some("acceptance-only"))
        .unwrap();
    let mut module = wat::parse_str(
        r#"(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 16384))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "agenthost:policy/acceptance@0.1.0#check-spec") (param i32) (result i32)
    (i32.store (i32.const 1024) (i32.const 1100))
    (i32.store (i32.const 1028) (i32.const 0))
    (i32.const 1024)))"#,
    )
    .unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .encode()
        .unwrap()
}

fn spec() -> Spec {
    let entry = |pattern: &str| ScopeEntry {
        written: pattern.into(),
        pattern: pattern.into(),
        is_glob: pattern.contains('*'),
        line: 10,
    };
    Spec {
        id: "bench".into(),
        title: "Add a status filter to the summary report".into(),
        front_matter: Default::default(),
        sections: Vec::new(),
        scope: Scope {
            line: Some(9),
            modify: vec![entry("src/**")],
            create: vec![entry("tests/*.rs")],
            do_not_modify: vec![entry("src/api/**")],
            constraints: Vec::new(),
        },
    }
}

/// 10,000 added lines across 40 files, with the patch text.
fn big_run() -> RunResult {
    let mut patch = String::new();
    let mut files = Vec::new();
    for file in 0..40 {
        let path = format!("src/module{file}/mod.rs");
        patch.push_str(&format!("--- a/{path}\n+++ b/{path}\n@@ -0,0 +1,250 @@\n"));
        for line in 0..250 {
            patch.push_str(&format!(
                "+    let value_{line} = compute({line}, {file});\n"
            ));
        }
        files.push(ChangedFile {
            path,
            old_path: None,
            kind: ChangeKind::Modified,
            added_lines: 250,
            removed_lines: 0,
        });
    }
    RunResult {
        changed_files: files,
        patch,
        agent: Default::default(),
        tests: Some(TestOutcome {
            command: "cargo test".into(),
            passed: true,
            exit_code: Some(0),
            duration_ms: 1000,
            output: String::new(),
        }),
    }
}

fn benches(c: &mut Criterion) {
    let engine = Engine::new(Limits::default(), None).unwrap();
    let config = serde_json::json!({});

    let request = AcceptanceRequest {
        config: serde_json::json!({}),
        spec: spec(),
    };
    let component = engine
        .load("trivial-component", &trivial_component(), None)
        .unwrap();
    c.bench_function("warm_call/component_trivial", |b| {
        b.iter(|| engine.call(&component, &request).unwrap())
    });

    let module = engine.load("trivial", &trivial(), None).unwrap();
    c.bench_function("warm_call/wasi_p1_module_trivial", |b| {
        b.iter(|| engine.call(&module, &request).unwrap())
    });

    let bandwidth = engine
        .load(
            "review-bandwidth",
            builtin::wasm(BuiltinPolicy::ReviewBandwidth),
            None,
        )
        .unwrap();
    let task = TaskView {
        id: "t".into(),
        title: "T".into(),
        repo: "/r".into(),
        scope_entries: 2,
        ..TaskView::default()
    };
    let state = HostState::default();
    c.bench_function("warm_call/component_review_bandwidth", |b| {
        b.iter(|| {
            verdict::admission(
                &engine,
                &bandwidth,
                PolicyMode::Enforce,
                &config,
                &task,
                &state,
            )
        })
    });

    let cache = tempfile::tempdir().unwrap();
    let spec_quality = builtin::wasm(BuiltinPolicy::SpecQuality);
    {
        let warm = Engine::new(Limits::default(), Some(cache.path().to_path_buf())).unwrap();
        warm.load("spec-quality", spec_quality, None).unwrap();
    }
    let spec = spec();
    c.bench_function("cold_first_call/spec_quality_warm_disk_cache", |b| {
        b.iter(|| {
            let engine = Engine::new(Limits::default(), Some(cache.path().to_path_buf())).unwrap();
            let policy = engine.load("spec-quality", spec_quality, None).unwrap();
            verdict::acceptance(&engine, &policy, PolicyMode::Enforce, &config, &spec)
        })
    });

    let review: Vec<_> = [
        BuiltinPolicy::ScopeGuard,
        BuiltinPolicy::DiffSize,
        BuiltinPolicy::Tests,
    ]
    .into_iter()
    .map(|p| engine.load(p.name(), builtin::wasm(p), None).unwrap())
    .collect();
    let run = big_run();
    c.bench_function("review_set_10k_lines", |b| {
        b.iter(|| {
            review
                .iter()
                .map(|policy| {
                    verdict::review(&engine, policy, PolicyMode::Enforce, &config, &spec, &run)
                })
                .collect::<Vec<_>>()
        })
    });
}

criterion_group! {
    name = policy;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(policy);

//! The engine against a corpus of good and malicious WASI-command plugins, written in WAT.
//!
//! Every malicious plugin answers `describe` properly (so that it loads) and misbehaves on
//! the hook; each must fail closed, within its deadline, and leave the engine able to run
//! the good policy next.
//!
//! Longer than our 600-line guide on purpose: a corpus of short cases sharing the WAT
//! builders at the top, read as a list.

use agenthost_policy::{
    AcceptanceRequest, Admission, ConfigRequest, Finding, Findings, Hook, HostState, Severity,
    Spec, TaskView,
};

use super::verdict::{self, FAILED_RULE};
use super::view;
use super::*;
use crate::config::{PolicyMode, Sha256};

/// A WASI preview-1 command: `_start` answers `describe` with `hooks`, and runs `$hook`
/// otherwise. `$write(ptr, len)` writes to stdout; data from 4096 on is the fixture's.
fn command(hook_body: &str, data: &str) -> Vec<u8> {
    let describe = r#"{"abi":"0.1.0","hooks":["acceptance","admission","review"]}"#;
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 2048) "{describe}")
  (data (i32.const 4096) "{data}")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func $hook {hook_body})
  (func (export "_start")
    (drop (call $args_get (i32.const 256) (i32.const 512)))
    ;; argv[1] starts with `d`: describe
    (if (i32.eq (i32.load8_u (i32.load (i32.const 260))) (i32.const 100))
      (then (call $write (i32.const 2048) (i32.const {describe_len})))
      (else (call $hook)))))"#,
        describe = describe.replace('"', "\\\""),
        describe_len = describe.len(),
        data = data.replace('"', "\\\""),
    );
    wat::parse_str(wat).unwrap()
}

/// A fixture that writes `text` as its answer.
fn answering(text: &str) -> Vec<u8> {
    command(
        &format!("(call $write (i32.const 4096) (i32.const {}))", text.len()),
        text,
    )
}

fn good() -> Vec<u8> {
    answering(
        r#"{"findings":[{"rule":"good/ok","severity":"info","message":"fine"}],"decision":"start"}"#,
    )
}

fn engine() -> Engine {
    Engine::new(Limits::default(), None).unwrap()
}

fn spec() -> Spec {
    serde_json::from_value(serde_json::json!({ "id": "t", "title": "T" })).unwrap()
}

fn accept(engine: &Engine, policy: &LoadedPolicy) -> Result<Findings, PolicyError> {
    engine
        .call(policy, &acceptance_request(spec()))
        .map(|call| call.answer)
}

fn acceptance_request(spec: Spec) -> AcceptanceRequest {
    AcceptanceRequest {
        config: serde_json::json!({}),
        spec,
    }
}

/// The good policy still answers after whatever came before.
fn assert_good_still_works(engine: &Engine) {
    let policy = engine.load("good", &good(), None).unwrap();
    let findings = accept(engine, &policy).unwrap();
    assert_eq!(
        findings.findings,
        vec![Finding::new("good/ok", Severity::Info, "fine")]
    );
}

#[test]
fn a_good_policy_loads_says_its_hooks_and_answers() {
    let engine = engine();
    let policy = engine.load("good", &good(), None).unwrap();
    assert_eq!(policy.kind(), PolicyKind::WasiP1Command);
    assert_eq!(
        policy.hooks(),
        [Hook::Acceptance, Hook::Admission, Hook::Review]
    );
    let call = engine.call(&policy, &acceptance_request(spec())).unwrap();
    assert_eq!(call.answer.findings.len(), 1);
    assert!(call.peak_memory >= 64 << 10, "{}", call.peak_memory);
}

/// Each malicious plugin: its bytes, and the error kind it must fail with.
fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("infinite-loop", command("(loop $l (br $l))", ""), "timeout"),
        (
            "memory-bomb",
            command("(loop $l (drop (memory.grow (i32.const 16))) (br $l))", ""),
            "out of memory",
        ),
        ("deep-recursion", command("(call $hook)", ""), "trap"),
        (
            "huge-output",
            command(
                "(loop $l (call $write (i32.const 0) (i32.const 65536)) (br $l))",
                "",
            ),
            "output too large",
        ),
        ("trap", command("unreachable", ""), "trap"),
        ("garbage-json", answering("not json {{{"), "bad answer"),
        (
            "wrong-types",
            answering(r#"{"findings":[{"rule":1,"severity":"fatal","message":[]}]}"#),
            "bad answer",
        ),
        ("no-answer", command("", ""), "bad answer"),
        (
            // Opening a file: there is no preopened directory, so fd 3 does not exist. The
            // fixture exits with 10 + errno (EBADF = 8).
            "wasi-file",
            command(
                "(call $proc_exit (i32.add (i32.const 10) (call $path_open (i32.const 3) \
                 (i32.const 0) (i32.const 4096) (i32.const 6) (i32.const 0) (i64.const 0) \
                 (i64.const 0) (i32.const 0) (i32.const 64))))",
                "/etc/passwd",
            ),
            "non-zero exit",
        ),
        (
            // The environment is empty: exits with 10 + the variable count.
            "wasi-env",
            command(
                "(drop (call $environ_sizes_get (i32.const 64) (i32.const 68))) \
                 (call $proc_exit (i32.add (i32.const 10) (i32.load (i32.const 64))))",
                "",
            ),
            "non-zero exit",
        ),
        (
            // No sockets: exits with 10 + errno.
            "wasi-socket",
            command(
                "(call $proc_exit (i32.add (i32.const 10) \
                 (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 64))))",
                "",
            ),
            "non-zero exit",
        ),
        (
            // The clock is frozen at the epoch: exits with 10 + (time == 0).
            "wasi-clock",
            command(
                "(drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 64))) \
                 (call $proc_exit (i32.add (i32.const 10) (i64.eqz (i64.load (i32.const 64)))))",
                "",
            ),
            "non-zero exit",
        ),
        (
            // A 10-second sleep: a subscription (userdata 0, tag clock, monotonic, 10 s,
            // relative) at 64. Sleeping is refused (ENOTSUP = 58): exits with 10 + errno.
            "wasi-sleep",
            command(
                "(i64.store (i32.const 64) (i64.const 0)) \
                 (i32.store8 (i32.const 72) (i32.const 0)) \
                 (i32.store (i32.const 80) (i32.const 1)) \
                 (i64.store (i32.const 88) (i64.const 10000000000)) \
                 (i64.store (i32.const 96) (i64.const 0)) \
                 (i32.store16 (i32.const 104) (i32.const 0)) \
                 (call $proc_exit (i32.add (i32.const 10) (call $poll_oneoff (i32.const 64) \
                 (i32.const 128) (i32.const 1) (i32.const 192))))",
                "",
            ),
            "non-zero exit",
        ),
    ]
}

#[test]
fn every_malicious_plugin_fails_closed_within_its_deadline() {
    let engine = engine();
    for (name, bytes, kind) in corpus() {
        let policy = engine
            .load(name, &bytes, None)
            .unwrap_or_else(|err| panic!("{name} does not load: {err}"));
        // The kind says which guard stopped it: a loop ends as `timeout` (the epoch
        // deadline fired), never by running out on its own. How fast is a benchmark's
        // business (host/benches/policy.rs), not a test's.
        let err = accept(&engine, &policy).expect_err(name);
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert!(err.to_string().contains(name), "{name}: {err}");
        let report = verdict::acceptance(
            &engine,
            &policy,
            PolicyMode::Enforce,
            &serde_json::json!({}),
            &spec(),
        );
        assert!(report.blocks(), "{name} must reject");
        assert_eq!(report.findings[0].rule, FAILED_RULE);
        assert_good_still_works(&engine);
    }
}

#[test]
fn wasi_access_is_denied() {
    let engine = engine();
    let exit_code = |name: &str| {
        let (_, bytes, _) = corpus().into_iter().find(|(n, _, _)| *n == name).unwrap();
        let policy = engine.load(name, &bytes, None).unwrap();
        match accept(&engine, &policy) {
            Err(PolicyError::Exit { code, .. }) => code,
            other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(
        exit_code("wasi-file"),
        10 + 8,
        "EBADF: no preopened directory"
    );
    assert_eq!(exit_code("wasi-env"), 10, "no environment variables");
    assert_eq!(exit_code("wasi-socket"), 10 + 8, "EBADF: no sockets");
    assert_eq!(exit_code("wasi-clock"), 11, "the clock reads the epoch");
    assert_eq!(exit_code("wasi-sleep"), 10 + 58, "ENOTSUP: no sleeping");
}

#[test]
fn plugins_that_cannot_load_fail_closed() {
    let engine = engine();
    let no_start = wat::parse_str("(module (memory (export \"memory\") 1))").unwrap();
    let odd_import =
        wat::parse_str("(module (import \"env\" \"escape\" (func)) (func (export \"_start\")))")
            .unwrap();
    let cases: Vec<(&str, Vec<u8>, Option<Sha256>, &str)> = vec![
        ("no-start", no_start, None, "missing export"),
        ("odd-import", odd_import, None, "missing export"),
        (
            "invalid",
            b"\0asm\x01\0\0\0garbage".to_vec(),
            None,
            "invalid binary",
        ),
        (
            "not-wasm",
            b"#!/bin/sh\necho hi\n".to_vec(),
            None,
            "invalid binary",
        ),
        (
            "pinned",
            good(),
            Some(Sha256([0; 32])),
            "sha256 pin mismatch",
        ),
    ];
    for (name, bytes, pin, kind) in cases {
        let err = match engine.load(name, &bytes, pin) {
            Err(err) => err,
            Ok(_) => panic!("{name} loaded"),
        };
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert!(err.to_string().contains(name), "{name}: {err}");
        let report = Report::failed(name, PolicyMode::Enforce, Hook::Acceptance, &err);
        assert!(report.blocks());
        assert_good_still_works(&engine);
    }
}

#[test]
fn a_correct_pin_loads() {
    use sha2::Digest;
    let engine = engine();
    let bytes = good();
    let digest = Sha256(sha2::Sha256::digest(&bytes).into());
    let policy = engine.load("pinned", &bytes, Some(digest)).unwrap();
    assert_eq!(policy.digest(), digest);
}

#[test]
fn admission_holds_when_the_policy_fails_and_monitor_mode_never_blocks() {
    let engine = engine();
    let task = TaskView {
        id: "t".into(),
        title: "T".into(),
        repo: "/r".into(),
        scope_entries: 1,
        ..TaskView::default()
    };
    let state = HostState::default();
    let config = serde_json::json!({});

    let good = engine.load("good", &good(), None).unwrap();
    let ok = verdict::admission(&engine, &good, PolicyMode::Enforce, &config, &task, &state);
    assert_eq!(ok.effective(), Admission::Start);

    let looping = engine
        .load("looping", &command("(loop $l (br $l))", ""), None)
        .unwrap();
    let held = verdict::admission(
        &engine,
        &looping,
        PolicyMode::Enforce,
        &config,
        &task,
        &state,
    );
    let Admission::Hold(reason) = held.effective() else {
        panic!("{held:?}")
    };
    assert!(
        reason.contains("`looping`") && reason.contains("50 ms"),
        "{reason}"
    );

    let monitored = verdict::admission(
        &engine,
        &looping,
        PolicyMode::Monitor,
        &config,
        &task,
        &state,
    );
    assert!(matches!(monitored.answer, Admission::Hold(_)));
    assert_eq!(monitored.effective(), Admission::Start);

    let report = verdict::review(
        &engine,
        &looping,
        PolicyMode::Monitor,
        &config,
        &spec(),
        &Default::default(),
    );
    assert_eq!(report.findings[0].rule, FAILED_RULE);
    assert!(!report.blocks(), "monitor mode reports without blocking");
}

#[test]
fn oversized_requests_and_missing_hooks_are_refused_before_running() {
    let limits = Limits {
        request: 100,
        ..Limits::default()
    };
    let engine = Engine::new(limits, None).unwrap();
    let policy = engine.load("good", &good(), None).unwrap();
    let mut big = spec();
    big.title = "x".repeat(200);
    let err = engine.call(&policy, &acceptance_request(big)).unwrap_err();
    assert_eq!(err.kind(), "request too large", "{err}");
    let request = ConfigRequest {
        config: serde_json::json!({}),
    };
    let err = engine.call(&policy, &request).unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy `good` does not implement the `validate-config` hook (it implements: acceptance, admission, review)"
    );
}

#[test]
fn the_disk_cache_serves_a_second_engine() {
    let dir = tempfile::tempdir().unwrap();
    let cached = || {
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let modified = entry.metadata().unwrap().modified().unwrap();
                (entry.file_name().into_string().unwrap(), modified)
            })
            .collect();
        files.sort();
        files
    };
    let first = Engine::new(Limits::default(), Some(dir.path().to_path_buf())).unwrap();
    let loaded = first.load("good", &good(), None).unwrap();
    drop(first);
    let after_first = cached();
    assert_eq!(after_first.len(), 1, "{after_first:?}");
    assert!(
        after_first[0].0.starts_with(&loaded.digest().to_string()),
        "keyed by the plugin's sha256: {after_first:?}"
    );

    // A second engine (as in a later process) maps that file instead of compiling: the
    // file is neither rewritten nor joined by another.
    let second = Engine::new(Limits::default(), Some(dir.path().to_path_buf())).unwrap();
    assert_good_still_works(&second);
    assert_eq!(cached(), after_first);

    // A file wasmtime refuses is a miss: compiled again, replaced, and the policy works.
    std::fs::write(dir.path().join(&after_first[0].0), b"garbage").unwrap();
    let third = Engine::new(Limits::default(), Some(dir.path().to_path_buf())).unwrap();
    assert_good_still_works(&third);
    let replaced = std::fs::read(dir.path().join(&after_first[0].0)).unwrap();
    assert_ne!(replaced, b"garbage");
}

/// A wasip2 command component that sleeps in a loop, compiled from Rust with the toolchain
/// that runs the tests: the sleeps return at once, so it spins into its deadline instead of
/// blocking the host.
#[test]
fn a_component_that_sleeps_forever_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("sleeper.rs");
    std::fs::write(
        &source,
        r#"fn main() {
            if std::env::args().nth(1).as_deref() == Some("describe") {
                print!("{{\"abi\":\"0.1.0\",\"hooks\":[\"acceptance\"]}}");
                return;
            }
            loop { std::thread::sleep(std::time::Duration::from_secs(3600)); }
        }"#,
    )
    .unwrap();
    let cargo = std::path::PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let rustc = cargo.with_file_name("rustc");
    let wasm = dir.path().join("sleeper.wasm");
    let status = std::process::Command::new(&rustc)
        .args(["--edition", "2024", "--target", "wasm32-wasip2", "-O", "-o"])
        .arg(&wasm)
        .arg(&source)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{} could not build the fixture",
        rustc.display()
    );

    let engine = engine();
    let policy = engine
        .load("sleeper", &std::fs::read(&wasm).unwrap(), None)
        .unwrap();
    assert_eq!(policy.kind(), PolicyKind::WasiP2Command);
    // `timeout`: the deadline fired while the guest looped around its (instant) sleeps.
    let err = accept(&engine, &policy).unwrap_err();
    assert_eq!(err.kind(), "timeout", "{err}");
    assert_good_still_works(&engine);
}

/// The built-ins, as embedded: typed components (they also carry the WASI-command
/// export) loaded like any plugin.
mod builtins {
    use agenthost_policy::{ChangeKind, ChangedFile, RunResult, TestOutcome, WaitingTask};

    use super::*;
    use crate::config::BuiltinPolicy;
    use crate::policy::builtin;

    fn load(engine: &Engine, policy: BuiltinPolicy) -> LoadedPolicy {
        engine
            .load(policy.name(), builtin::wasm(policy), None)
            .unwrap()
    }

    #[test]
    fn every_builtin_is_a_component_that_says_its_hooks() {
        let engine = engine();
        for (policy, hook) in [
            (BuiltinPolicy::SpecQuality, Hook::Acceptance),
            (BuiltinPolicy::ReviewBandwidth, Hook::Admission),
            (BuiltinPolicy::ScopeGuard, Hook::Review),
            (BuiltinPolicy::DiffSize, Hook::Review),
            (BuiltinPolicy::Tests, Hook::Review),
        ] {
            let loaded = load(&engine, policy);
            assert_eq!(loaded.kind(), PolicyKind::Component, "{policy}");
            assert!(loaded.implements(Hook::ValidateConfig) || policy == BuiltinPolicy::ScopeGuard);
            let decisions: Vec<Hook> = loaded
                .hooks()
                .iter()
                .copied()
                .filter(|h| Hook::DECISIONS.contains(h))
                .collect();
            assert_eq!(decisions, [hook], "{policy}");
        }
    }

    fn example_spec() -> Spec {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/specs/status-filter.md"
        );
        let parsed = crate::spec::read(std::path::Path::new(path)).unwrap();
        view::spec(parsed.spec.as_ref().unwrap())
    }

    #[test]
    fn spec_quality_accepts_the_example_and_rejects_a_vague_spec() {
        let engine = engine();
        let policy = load(&engine, BuiltinPolicy::SpecQuality);
        let config = serde_json::json!({});
        let good = verdict::acceptance(
            &engine,
            &policy,
            PolicyMode::Enforce,
            &config,
            &example_spec(),
        );
        assert_eq!(good.findings, vec![]);
        let mut vague = example_spec();
        vague.sections[0].text = "Clean up the report, etc.".into();
        let bad = verdict::acceptance(&engine, &policy, PolicyMode::Enforce, &config, &vague);
        assert!(bad.blocks());
        let rules: Vec<&str> = bad.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["spec-quality/vague", "spec-quality/vague"]);
    }

    fn run(files: &[(&str, u32)], tests: Option<bool>) -> RunResult {
        RunResult {
            changed_files: files
                .iter()
                .map(|(path, lines)| ChangedFile {
                    path: path.to_string(),
                    old_path: None,
                    kind: ChangeKind::Modified,
                    added_lines: *lines,
                    removed_lines: 0,
                })
                .collect(),
            tests: tests.map(|passed| TestOutcome {
                command: "python3 -m unittest".into(),
                passed,
                exit_code: Some(if passed { 0 } else { 1 }),
                duration_ms: 10,
                output: "FAILED (failures=1)".into(),
            }),
            ..RunResult::default()
        }
    }

    fn review_rules(engine: &Engine, policy: BuiltinPolicy, run: &RunResult) -> Vec<String> {
        let loaded = load(engine, policy);
        let report = verdict::review(
            engine,
            &loaded,
            PolicyMode::Enforce,
            &serde_json::json!({}),
            &example_spec(),
            run,
        );
        assert_eq!(report.failure, None);
        report.findings.into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn review_builtins_on_good_and_bad_runs() {
        let engine = engine();
        let good = run(
            &[("inventory/report.py", 20), ("tests/test_report.py", 30)],
            Some(true),
        );
        for policy in [
            BuiltinPolicy::ScopeGuard,
            BuiltinPolicy::DiffSize,
            BuiltinPolicy::Tests,
        ] {
            assert_eq!(
                review_rules(&engine, policy, &good),
                Vec::<String>::new(),
                "{policy}"
            );
        }
        let bad = run(
            &[("inventory/report.py", 380), ("api/routes.py", 40)],
            Some(false),
        );
        assert_eq!(
            review_rules(&engine, BuiltinPolicy::ScopeGuard, &bad),
            ["scope-guard/forbidden"]
        );
        assert_eq!(
            review_rules(&engine, BuiltinPolicy::DiffSize, &bad),
            ["diff-size/lines"]
        );
        assert_eq!(
            review_rules(&engine, BuiltinPolicy::Tests, &bad),
            ["tests/failed"]
        );
    }

    #[test]
    fn review_bandwidth_starts_and_holds() {
        let engine = engine();
        let policy = load(&engine, BuiltinPolicy::ReviewBandwidth);
        let task = |id: &str| TaskView {
            id: id.into(),
            title: id.into(),
            repo: "/r".into(),
            scope_entries: 2,
            ..TaskView::default()
        };
        let config = serde_json::json!({});
        let mut state = HostState::default();
        let admit = |state: &HostState| {
            verdict::admission(
                &engine,
                &policy,
                PolicyMode::Enforce,
                &config,
                &task("new"),
                state,
            )
            .effective()
        };
        assert_eq!(admit(&state), Admission::Start);
        state.awaiting_review.push(WaitingTask {
            task: task("old"),
            waited_secs: 3 * 3600,
        });
        let Admission::Hold(reason) = admit(&state) else {
            panic!("expected a hold")
        };
        assert!(
            reason.starts_with("`old` has waited 180 minutes"),
            "{reason}"
        );
    }
}

/// The same corpus for typed components: WAT core modules wrapped into components with
/// `wit-component` against the real `sdk/wit/policy.wit` (plus a world that exports only
/// `acceptance`). `check-spec`'s arguments do not fit in registers, so its core function
/// takes a pointer to them and returns a pointer to `(findings ptr, findings len)`.
mod typed {
    use super::*;

    const WIT: &str = include_str!("../../../sdk/wit/policy.wit");

    /// A component of `world` (in `wit`) around the core module `wat`.
    fn component(wit: &str, world: &str, wat: &str) -> Vec<u8> {
        let mut resolve = wit_parser::Resolve::default();
        let package = resolve.push_str("policy.wit", wit).unwrap();
        let world = resolve.select_world(&[package], Some(world)).unwrap();
        let mut module = wat::parse_str(wat).unwrap();
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
            .validate(true)
            .encode()
            .unwrap()
    }

    /// An acceptance-only component whose `check-spec` runs `body` (which leaves the
    /// answer's address on the stack). Data from 2000 on: `good/okfine`.
    fn acceptance(body: &str) -> Vec<u8> {
        acceptance_in(WIT, body)
    }

    fn acceptance_in(wit: &str, body: &str) -> Vec<u8> {
        let wit = format!("{wit}\nworld acceptance-only {{ export acceptance; }}\n");
        let version = wit
            .split_once("package agenthost:policy@")
            .and_then(|(_, rest)| rest.split_once(';'))
            .map(|(version, _)| version)
            .unwrap();
        let wat = format!(
            r#"(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 16384))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.const 1) (i32.shr_u (global.get $heap) (i32.const 16)))))))
    (local.get $p))
  (data (i32.const 2000) "good/okfine")
  (func $hook (param $args i32) (result i32) {body})
  (func (export "agenthost:policy/acceptance@{version}#check-spec") (param i32) (result i32)
    (call $hook (local.get 0))))"#
        );
        component(&wit, "acceptance-only", &wat)
    }

    /// One finding `{rule: "good/ok", severity: info, message: "fine"}` at 1100, its list
    /// at 1024. A finding is 40 bytes: rule (0), severity (8), message (12), path (20),
    /// line (32).
    const ONE_FINDING: &str = "(i32.store (i32.const 1024) (i32.const 1100)) \
        (i32.store (i32.const 1028) (i32.const 1)) \
        (i32.store (i32.const 1100) (i32.const 2000)) \
        (i32.store (i32.const 1104) (i32.const 7)) \
        (i32.store (i32.const 1112) (i32.const 2007)) \
        (i32.store (i32.const 1116) (i32.const 4))";

    fn good() -> Vec<u8> {
        acceptance(&format!("{ONE_FINDING} (i32.const 1024)"))
    }

    #[test]
    fn a_typed_component_says_its_hooks_by_its_exports_and_answers() {
        let engine = engine();
        let policy = engine.load("typed-good", &good(), None).unwrap();
        assert_eq!(policy.kind(), PolicyKind::Component);
        assert_eq!(policy.hooks(), [Hook::Acceptance]);
        assert_eq!(
            accept(&engine, &policy).unwrap().findings,
            vec![Finding::new("good/ok", Severity::Info, "fine")]
        );
        let err = engine
            .call(
                &policy,
                &ConfigRequest {
                    config: serde_json::json!({}),
                },
            )
            .unwrap_err();
        assert_eq!(err.kind(), "missing hook", "{err}");
        let described = engine.call_json(&policy, Hook::Describe, b"").unwrap();
        assert_eq!(
            described.answer,
            serde_json::json!({ "abi": "0.2.0", "hooks": ["acceptance"] })
        );
    }

    /// A component exporting interfaces of both versions is refused at load time, with a
    /// message naming the two exports: the host would not know which task view to send.
    #[test]
    fn a_component_of_two_versions_is_refused() {
        let mut resolve = wit_parser::Resolve::default();
        resolve
            .push_str("v0.1.wit", include_str!("../../../sdk/wit-0.1/policy.wit"))
            .unwrap();
        resolve.push_str("v0.2.wit", WIT).unwrap();
        let mixed = resolve
            .push_str(
                "mixed.wit",
                "package test:mixed;\nworld mixed {\n  export agenthost:policy/acceptance@0.2.0;\n  export agenthost:policy/config@0.1.0;\n}\n",
            )
            .unwrap();
        let world = resolve.select_world(&[mixed], Some("mixed")).unwrap();
        let mut module = wat::parse_str(
            r#"(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "agenthost:policy/acceptance@0.2.0#check-spec") (param i32) (result i32)
    (i32.const 16))
  (func (export "agenthost:policy/config@0.1.0#validate") (param i32 i32) (result i32)
    (i32.const 16)))"#,
        )
        .unwrap();
        wit_component::embed_component_metadata(
            &mut module,
            &resolve,
            world,
            wit_component::StringEncoding::UTF8,
        )
        .unwrap();
        let bytes = wit_component::ComponentEncoder::default()
            .module(&module)
            .unwrap()
            .validate(true)
            .encode()
            .unwrap();
        let Err(err) = engine().load("typed-mixed", &bytes, None) else {
            panic!("a component of two versions loaded");
        };
        assert_eq!(err.kind(), "wrong types", "{err}");
        let message = err.to_string();
        assert!(
            message.contains("a component speaks one version of `agenthost:policy`"),
            "{message}"
        );
    }

    /// A component built for 0.1.0 (the frozen `sdk/wit-0.1`) still loads and answers,
    /// and says which version it speaks.
    #[test]
    fn a_component_built_for_0_1_still_loads_and_answers() {
        let engine = engine();
        let old = acceptance_in(
            include_str!("../../../sdk/wit-0.1/policy.wit"),
            &format!("{ONE_FINDING} (i32.const 1024)"),
        );
        let policy = engine.load("typed-0.1", &old, None).unwrap();
        assert_eq!(policy.hooks(), [Hook::Acceptance]);
        assert_eq!(
            accept(&engine, &policy).unwrap().findings,
            vec![Finding::new("good/ok", Severity::Info, "fine")]
        );
        let described = engine.call_json(&policy, Hook::Describe, b"").unwrap();
        assert_eq!(described.answer["abi"], "0.1.0");
    }

    fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
        vec![
            (
                "typed-infinite-loop",
                acceptance("(loop $l (br $l)) unreachable"),
                "timeout",
            ),
            (
                "typed-memory-bomb",
                acceptance("(loop $l (drop (memory.grow (i32.const 16))) (br $l)) unreachable"),
                "out of memory",
            ),
            (
                "typed-deep-recursion",
                acceptance("(call $hook (local.get $args))"),
                "trap",
            ),
            ("typed-trap", acceptance("unreachable"), "trap"),
            (
                // A 2 MiB message (of NULs, valid UTF-8): over the 1 MiB answer cap.
                "typed-huge-answer",
                acceptance(&format!(
                    "(drop (memory.grow (i32.const 40))) {ONE_FINDING} \
                     (i32.store (i32.const 1112) (i32.const 65536)) \
                     (i32.store (i32.const 1116) (i32.const 2097152)) (i32.const 1024)"
                )),
                "output too large",
            ),
            (
                // A finding list far past the end of memory.
                "typed-list-out-of-bounds",
                acceptance(
                    "(i32.store (i32.const 1024) (i32.const 1100)) \
                     (i32.store (i32.const 1028) (i32.const 100000000)) (i32.const 1024)",
                ),
                "bad answer",
            ),
            (
                // Severity 7 is no case of the enum.
                "typed-bad-enum",
                acceptance(&format!(
                    "{ONE_FINDING} (i32.store8 (i32.const 1108) (i32.const 7)) (i32.const 1024)"
                )),
                "bad answer",
            ),
            (
                // A rule that is not UTF-8.
                "typed-garbage-string",
                acceptance(&format!(
                    "{ONE_FINDING} (i32.store (i32.const 2000) (i32.const -1)) (i32.const 1024)"
                )),
                "bad answer",
            ),
        ]
    }

    #[test]
    fn every_malicious_typed_component_fails_closed() {
        let engine = engine();
        for (name, bytes, kind) in corpus() {
            let policy = engine
                .load(name, &bytes, None)
                .unwrap_or_else(|err| panic!("{name} does not load: {err}"));
            assert_eq!(policy.kind(), PolicyKind::Component, "{name}");
            let err = accept(&engine, &policy).expect_err(name);
            assert_eq!(err.kind(), kind, "{name}: {err}");
            assert!(err.to_string().contains(name), "{name}: {err}");
            let report = verdict::acceptance(
                &engine,
                &policy,
                PolicyMode::Enforce,
                &serde_json::json!({}),
                &spec(),
            );
            assert!(report.blocks(), "{name} must reject");
            assert_eq!(report.findings[0].rule, FAILED_RULE);
            assert_good_still_works(&engine);
            let typed_good = engine.load("typed-good", &good(), None).unwrap();
            assert_eq!(accept(&engine, &typed_good).unwrap().findings.len(), 1);
        }
    }

    #[test]
    fn typed_components_that_cannot_load_fail_closed() {
        let engine = engine();
        let wrong_types = WIT.replace(
            "check-spec: func(config: string, spec: spec) -> list<finding>;",
            "check-spec: func(config: string) -> string;",
        );
        assert_ne!(wrong_types, WIT);
        let wrong_types_wat = r#"(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 4096))
  (func (export "agenthost:policy/acceptance@0.2.0#check-spec") (param i32 i32) (result i32)
    (i32.const 0)))"#;
        let other_version = WIT.replace("@0.2.0", "@0.3.0");
        let cases: Vec<(&str, Vec<u8>, Option<Sha256>, &str)> = vec![
            (
                "typed-wrong-types",
                component(
                    &format!("{wrong_types}\nworld wrong {{ export acceptance; }}\n"),
                    "wrong",
                    wrong_types_wat,
                ),
                None,
                "wrong types",
            ),
            (
                "typed-other-version",
                acceptance_in(&other_version, &format!("{ONE_FINDING} (i32.const 1024)")),
                None,
                "wrong types",
            ),
            (
                "typed-no-exports",
                component(
                    &format!("{WIT}\nworld nothing {{}}\n"),
                    "nothing",
                    "(module)",
                ),
                None,
                "missing export",
            ),
            (
                "typed-invalid",
                b"\0asm\x0d\0\x01\0garbage".to_vec(),
                None,
                "invalid binary",
            ),
            (
                "typed-pinned",
                good(),
                Some(Sha256([0; 32])),
                "sha256 pin mismatch",
            ),
            (
                // Instantiating it traps (its start function): caught at load time.
                "typed-start-trap",
                component(
                    &format!("{WIT}\nworld nothing {{}}\n"),
                    "nothing",
                    "(module (func $s unreachable) (start $s))",
                ),
                None,
                "missing export",
            ),
        ];
        for (name, bytes, pin, kind) in cases {
            let err = match engine.load(name, &bytes, pin) {
                Err(err) => err,
                Ok(_) => panic!("{name} loaded"),
            };
            assert_eq!(err.kind(), kind, "{name}: {err}");
            assert!(err.to_string().contains(name), "{name}: {err}");
            assert_good_still_works(&engine);
        }
    }

    #[test]
    fn a_typed_policy_log_goes_to_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine().with_log_dir(dir.path().to_path_buf());
        let policy = engine
            .load("typed-trap", &acceptance("unreachable"), None)
            .unwrap();
        accept(&engine, &policy).unwrap_err();
        // A trap with nothing on stderr writes nothing.
        assert!(!engine.log_file("typed-trap").unwrap().exists());

        let talker = answering_with_log("fine", "looked at the spec");
        let policy = engine.load("talker", &talker, None).unwrap();
        accept(&engine, &policy).unwrap_err();
        let text = std::fs::read_to_string(engine.log_file("talker").unwrap()).unwrap();
        assert!(text.contains("acceptance (failed: bad answer)"), "{text}");
        assert!(text.contains("looked at the spec"), "{text}");
    }

    /// A WASI command that writes `log` to stderr and `answer` to stdout.
    fn answering_with_log(answer: &str, log: &str) -> Vec<u8> {
        command(
            &format!(
                "(call $write (i32.const 4096) (i32.const {})) \
                 (i32.store (i32.const 16) (i32.const {})) \
                 (i32.store (i32.const 20) (i32.const {})) \
                 (drop (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24)))",
                answer.len(),
                4096 + answer.len(),
                log.len()
            ),
            &format!("{answer}{log}"),
        )
    }
}

/// Components linked from many core modules, as interpreters are: a componentize-py
/// component instantiates 14 (libc, libpython, its runtime, the WASI adapter, ...).
mod linked {
    use super::super::engine::{CORE_INSTANCES_PER_COMPONENT, POOL_SLOTS};
    use super::*;

    /// A component exporting `config` (it finds every config valid) that instantiates
    /// `libraries` empty core modules besides its own.
    fn linked(libraries: u32) -> Vec<u8> {
        let instances = "(core instance (instantiate $library))\n".repeat(libraries as usize);
        let wat = format!(
            r#"(component
  (core module $library)
  {instances}
  (core module $policy
    (memory (export "memory") 1)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    ;; The answer, an empty list: the (pointer, length) pair at 16, zeros.
    (func (export "validate") (param i32 i32) (result i32) (i32.const 16)))
  (core instance $policy (instantiate $policy))
  (func $validate (param "config" string) (result (list string))
    (canon lift (core func $policy "validate") (memory (core memory $policy "memory"))
      (realloc (core func $policy "cabi_realloc"))))
  (instance $config (export "validate" (func $validate)))
  (export "agenthost:policy/config@0.1.0" (instance $config)))"#
        );
        wat::parse_str(wat).unwrap()
    }

    #[test]
    fn a_component_of_sixteen_modules_runs_in_every_slot_at_once() {
        let engine = engine();
        let policy = engine.load("linked", &linked(15), None).unwrap();
        assert_eq!(policy.kind(), PolicyKind::Component);
        assert_eq!(policy.hooks(), [Hook::ValidateConfig]);
        let request = ConfigRequest {
            config: serde_json::json!({}),
        };
        assert!(
            engine
                .call(&policy, &request)
                .unwrap()
                .answer
                .errors
                .is_empty()
        );

        // As many concurrent calls as the pool has slots: 64 x 16 core instances.
        engine
            .instantiate_side_by_side(&policy, POOL_SLOTS as usize)
            .unwrap();
        // One more finds the pool full: the host is busy, the policy did nothing wrong.
        let err = engine
            .instantiate_side_by_side(&policy, POOL_SLOTS as usize + 1)
            .unwrap_err();
        assert_eq!(err.kind(), "busy", "{err}");
        assert!(
            err.to_string().contains("too many policy calls at once"),
            "{err}"
        );
        // The slots are free again.
        assert!(
            engine
                .call(&policy, &request)
                .unwrap()
                .answer
                .errors
                .is_empty()
        );
    }

    #[test]
    fn a_component_of_too_many_modules_is_refused_when_it_loads() {
        let engine = engine();
        engine
            .load("linked", &linked(CORE_INSTANCES_PER_COMPONENT - 1), None)
            .unwrap();
        let err = engine
            .load("linked", &linked(CORE_INSTANCES_PER_COMPONENT), None)
            .err()
            .unwrap();
        assert_eq!(err.kind(), "invalid binary", "{err}");
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "{} core module instances",
                CORE_INSTANCES_PER_COMPONENT + 1
            )),
            "{message}"
        );
    }
}

//! Policies through the real binary: `check` runs the acceptance policies (built-in and
//! plugins, failing closed), and `agenthost policy list|test|bench`.

use std::os::unix::fs::MetadataExt;

use insta::assert_snapshot;

use crate::{Test, workspace};

/// The seed's example: tight, one task, two files.
const GOOD: &str = "# Add a date range picker to the dashboard filter bar

## What
Add a `DateRangePicker` next to the status dropdown; choosing a range shows only the rows
created in it.

## Behavior
- No range selected: every row shows.

### Scope
- Modify: `src/components/Dashboard/FilterBar.tsx`
- Create: `src/components/Dashboard/DateRangePicker.tsx`
- Do NOT modify any API routes or database queries
";

fn repo(spec: &str) -> Test {
    Test::new()
        .file("web/src/components/Dashboard/FilterBar.tsx", "export {}\n")
        .file("web/spec.md", spec)
        .git_repo("web")
}

/// `check --json` on `spec`: the exit code and the policy findings' rules.
fn policy_rules(test: Test) -> (i32, Vec<String>) {
    let run = test.args(["check", "--json", "web/spec.md"]).run();
    let json: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("JSON: {}", run.transcript()));
    let rules = json["specs"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .filter(|code| !code.starts_with("spec::"))
        .collect();
    (run.code, rules)
}

#[test]
fn spec_quality_accepts_the_seed_example() {
    assert_eq!(policy_rules(repo(GOOD)), (0, vec![]));
}

#[test]
fn spec_quality_rejects_the_four_failure_modes() {
    let no_scope = "# Add a picker\n\n## What\nAdd a picker.\n\n## Behavior\nIt picks.\n";
    let vague = GOOD.replace(
        "Add a `DateRangePicker` next to the status dropdown",
        "Add filtering to the table",
    );
    let several = GOOD.replace(
        "Add a `DateRangePicker` next to the status dropdown; choosing a range shows only the rows\ncreated in it.",
        "Add the routes, create the form components, connect to the API, add validation.",
    );
    let files: String = (0..9)
        .map(|i| format!("- Create: `src/components/Dashboard/New{i}.tsx`\n"))
        .collect();
    let many = GOOD.replace("- Do NOT modify", &format!("{files}- Do NOT modify"));
    for (spec, rule) in [
        (no_scope.to_string(), "spec-quality/no-scope"),
        (vague, "spec-quality/vague"),
        (several, "spec-quality/several-tasks"),
        (many, "spec-quality/too-many-files"),
    ] {
        let (code, rules) = policy_rules(repo(&spec));
        assert_eq!(code, 1, "{rule}");
        assert!(rules.contains(&rule.to_string()), "{rule}: {rules:?}");
    }
}

#[test]
fn the_vague_finding_points_at_its_line() {
    let spec = GOOD.replace(
        "Add a `DateRangePicker` next to the status dropdown",
        "Improve the filter bar",
    );
    let run = repo(&spec).args(["check", "web/spec.md"]).run();
    assert_eq!(run.code, 1);
    assert_snapshot!(run.transcript());
}

/// A WASI-command plugin in WAT: answers `describe` with acceptance, and runs `hook`.
fn plugin(hook: &str) -> Vec<u8> {
    let describe = r#"{"abi":"0.1.0","hooks":["acceptance"]}"#;
    wat::parse_str(format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 2048) "{}")
  (func (export "_start")
    (drop (call $args_get (i32.const 256) (i32.const 512)))
    (if (i32.eq (i32.load8_u (i32.load (i32.const 260))) (i32.const 100))
      (then
        (i32.store (i32.const 16) (i32.const 2048))
        (i32.store (i32.const 20) (i32.const {}))
        (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
      (else {hook}))))"#,
        describe.replace('"', "\\\""),
        describe.len(),
    ))
    .unwrap()
}

#[test]
fn a_looping_plugin_rejects_the_spec_and_names_itself() {
    let run = repo(GOOD)
        .file("web/loop.wasm", plugin("(loop $l (br $l))"))
        .file(
            "web/agenthost.toml",
            "[policies.forever]\npath = \"loop.wasm\"\n",
        )
        .args(["check", "web/spec.md"])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("policy `forever`: the acceptance hook ran past its 250 ms deadline"),
        "{}",
        run.stdout
    );
}

#[test]
fn monitor_mode_reports_without_rejecting() {
    let run = repo(GOOD)
        .file("web/trap.wasm", plugin("unreachable"))
        .file(
            "web/agenthost.toml",
            "[policies.crashy]\npath = \"trap.wasm\"\nmode = \"monitor\"\n",
        )
        .args(["check", "web/spec.md"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("policy `crashy`: the acceptance hook crashed")
    );
    assert!(run.stdout.contains("monitor mode: reported, not enforced"));
}

#[test]
fn a_pin_mismatch_rejects() {
    let pin = "0".repeat(64);
    let run = repo(GOOD)
        .file("web/p.wasm", plugin("nop"))
        .file(
            "web/agenthost.toml",
            format!("[policies.pinned]\npath = \"p.wasm\"\nsha256 = \"{pin}\"\n"),
        )
        .args(["check", "web/spec.md"])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stdout.contains("sha256 pin mismatch"), "{}", run.stdout);
}

#[test]
fn a_builtin_can_be_switched_off() {
    let spec = GOOD.replace("Add a `DateRangePicker`", "Improve the `DateRangePicker`");
    let run = repo(&spec)
        .file(
            "web/agenthost.toml",
            "[policies.spec-quality]\nenabled = false\n",
        )
        .args(["check", "web/spec.md"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[test]
fn list_shows_the_builtins_with_their_hooks() {
    let run = Test::new().args(["policy", "list"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    // Digests change with every build of the policies: keep only the first column and hooks.
    let rows: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            format!("{} {} {}", cells[0], cells[1], cells[cells.len() - 1])
        })
        .collect();
    assert_eq!(
        rows,
        [
            "POLICY SOURCE STATUS",
            "diff-size built-in ok",
            "review-bandwidth built-in ok",
            "scope-guard built-in ok",
            "scope-overlap built-in ok",
            "spec-quality built-in ok",
            "tests built-in ok",
        ]
    );
    assert!(run.stdout.contains("acceptance"), "{}", run.stdout);
    assert!(run.stdout.contains("admission"), "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .skip(1)
            .all(|line| line.contains(" component ")),
        "every built-in is a typed component:\n{}",
        run.stdout
    );
}

#[test]
fn test_calls_one_hook_and_reports_time_and_memory() {
    let request = serde_json::json!({
        "spec": { "id": "t", "title": "Clean up the code", "sections": [] }
    });
    let run = Test::new()
        .file("request.json", request.to_string())
        .args([
            "policy",
            "test",
            "spec-quality",
            "--hook",
            "acceptance",
            "--input",
            "request.json",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("\"rule\": \"spec-quality/no-scope\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\"rule\": \"spec-quality/vague\""),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("policy       spec-quality (component)"));
    assert!(run.stdout.contains("peak memory  "));
}

#[test]
fn test_refuses_a_request_that_is_not_the_hooks_before_calling() {
    let run = Test::new()
        .file("trap.wasm", plugin("unreachable"))
        .file("request.json", "{}")
        .args(["policy", "test", "trap.wasm", "--hook", "acceptance"])
        .args(["--input", "request.json"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("the acceptance request is not valid: missing field `spec`"),
        "{}",
        run.stderr
    );
}

#[test]
fn test_reports_a_failing_plugin() {
    let run = Test::new()
        .file("trap.wasm", plugin("unreachable"))
        .file("request.json", r#"{"spec": {"id": "t", "title": "T"}}"#)
        .args([
            "policy",
            "test",
            "trap.wasm",
            "--hook",
            "acceptance",
            "--input",
            "request.json",
        ])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("policy `trap`: the acceptance hook crashed: wasm trap: wasm `unreachable`"),
        "{}",
        run.stderr
    );
}

#[test]
fn bench_prints_a_latency_distribution() {
    let examples = workspace().join("examples/specs/status-filter.md");
    assert!(examples.is_file());
    let request = serde_json::json!({
        "task": { "id": "t", "title": "T" },
        "state": { "now_unix_ms": 0, "running": [], "queued": [], "awaiting_review": [] }
    });
    let run = Test::new()
        .file("request.json", request.to_string())
        .args([
            "policy",
            "bench",
            "review-bandwidth",
            "--hook",
            "admission",
            "--input",
            "request.json",
            "--iterations",
            "20",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    for label in ["calls   20", "min", "p50", "p90", "p99", "max"] {
        assert!(run.stdout.contains(label), "{label}: {}", run.stdout);
    }
}

/// The compiled code of a plugin outlives the process: a second `agenthost` finds it in the
/// disk cache (`$XDG_CACHE_HOME/agenthost/compiled`) and does not compile again. An entry is
/// written whenever a plugin is compiled (a new file, renamed into place), so the entry the
/// first process wrote, untouched by the second, is the evidence: no clock involved.
#[test]
fn a_second_process_loads_a_component_from_the_disk_cache() {
    // A typed component that exports `config` and finds every config valid.
    let component = wat::parse_str(
        r#"(component
  (core module $policy
    (memory (export "memory") 1)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    (func (export "validate") (param i32 i32) (result i32) (i32.const 16)))
  (core instance $policy (instantiate $policy))
  (func $validate (param "config" string) (result (list string))
    (canon lift (core func $policy "validate") (memory (core memory $policy "memory"))
      (realloc (core func $policy "cabi_realloc"))))
  (instance $config (export "validate" (func $validate)))
  (export "agenthost:policy/config@0.1.0" (instance $config)))"#,
    )
    .unwrap();
    let test = Test::new()
        .private_policy_cache()
        .file("policy.wasm", component)
        .file("request.json", r#"{"config": {}}"#);
    let args = [
        "policy",
        "test",
        "policy.wasm",
        "--hook",
        "validate-config",
        "--input",
        "request.json",
    ];
    let cache = test.path().join(".test-home/cache/agenthost/compiled");
    let entries = || {
        let mut entries = Vec::new();
        for file in std::fs::read_dir(&cache).unwrap() {
            let path = file.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            entries.push((path, meta.ino(), meta.modified().unwrap()));
        }
        entries.sort();
        entries
    };

    let first = test.exec(&args);
    assert_eq!(first.code, 0, "{}", first.transcript());
    let compiled = entries();
    assert_eq!(compiled.len(), 1, "{compiled:?}");

    let second = test.exec(&args);
    assert_eq!(second.code, 0, "{}", second.transcript());
    assert_eq!(entries(), compiled, "the second process compiled again");
}

/// `policy test --fixtures`: every fixture called, answers compared as typed values, a
/// differing answer shown and counted, exit 1.
#[test]
fn fixtures_compare_each_answer_with_its_expectation() {
    let fixtures = workspace().join("examples/policies/fixtures");
    let review = std::fs::read_to_string(fixtures.join("01-review-no-match.json")).unwrap();
    let mut passing: serde_json::Value = serde_json::from_str(&review).unwrap();
    // diff-size has its own config: give it none, and a one-line change gets no finding.
    passing["request"]["config"] = serde_json::json!({});
    let mut differing = passing.clone();
    differing["expect"] = serde_json::json!({ "findings": [
        { "rule": "diff-size/lines", "severity": "warning", "message": "too big", "path": null }
    ] });
    let run = Test::new()
        .file("fixtures/a-passes.json", passing.to_string())
        .file("fixtures/b-differs.json", differing.to_string())
        .file("fixtures/notes.txt", "not a fixture")
        .args(["policy", "test", "diff-size", "--fixtures", "fixtures"])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains("ok    a-passes   (review, "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("FAIL  b-differs  (review, "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(r#"expected {"findings":[{"message":"too big","rule":"diff-size/lines","severity":"warning"}]}"#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(r#"answer   {"findings":[]}"#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("2 fixtures: 1 passed, 1 failed (diff-size)"),
        "{}",
        run.stdout
    );

    let run = Test::new()
        .file("fixtures/a-passes.json", passing.to_string())
        .args(["policy", "test", "diff-size", "--fixtures", "fixtures"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[test]
fn a_broken_fixture_is_a_usage_error_with_its_place() {
    let run = Test::new()
        .file(
            "fixtures/bad.json",
            "{\n  \"hook\": \"review\",\n  \"request\": {}\n  \"expect\": {}\n}\n",
        )
        .args(["policy", "test", "diff-size", "--fixtures", "fixtures"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("fixtures/bad.json:4:3"),
        "{}",
        run.stderr
    );

    let run = Test::new()
        .file(
            "fixtures/x.json",
            r#"{"hook": "reveiw", "request": {}, "expect": {}}"#,
        )
        .args(["policy", "test", "diff-size", "--fixtures", "fixtures"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("unknown hook `reveiw`"),
        "{}",
        run.stderr
    );

    let run = Test::new()
        .file("fixtures/readme.txt", "")
        .args(["policy", "test", "diff-size", "--fixtures", "fixtures"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("holds no fixtures"), "{}", run.stderr);

    let run = Test::new().args(["policy", "test", "diff-size"]).run();
    assert_eq!(run.code, 2, "{}", run.transcript());
}

#[test]
fn new_refuses_a_bad_name_and_an_existing_directory() {
    let run = Test::new().args(["policy", "new", "No_Todo"]).run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("`No_Todo` cannot name a policy"),
        "{}",
        run.stderr
    );
    let run = Test::new()
        .file("no-todo/keep.txt", "mine")
        .args(["policy", "new", "no-todo"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("no-todo already exists"),
        "{}",
        run.stderr
    );
}

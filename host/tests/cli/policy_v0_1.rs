//! Policies built for `agenthost:policy@0.1.0` (host/tests/fixtures/policies-0.1) still load
//! and answer: the example review policy passes today's fixtures, and the admission policy
//! answers a 0.2 request, narrowed by the host to the task view it knows.

use crate::{Test, workspace};

fn fixture(name: &str) -> String {
    workspace()
        .join("host/tests/fixtures/policies-0.1")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn the_0_1_example_policy_passes_todays_fixtures() {
    let fixtures = workspace().join("examples/policies/fixtures");
    let run = Test::new()
        .args([
            "policy",
            "test",
            &fixture("protected-paths.wasm"),
            "--fixtures",
        ])
        .arg(fixtures.display().to_string())
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("14 fixtures: 14 passed"),
        "{}",
        run.transcript()
    );
}

#[test]
fn a_0_1_admission_policy_answers_a_0_2_request() {
    let task = |id: &str| {
        serde_json::json!({
            "id": id, "title": id, "repo": "/r", "scope_entries": 1,
            "base_branch": "main", "base_commit": "abc", "modify": ["src/a.rs"],
            "create": [], "do_not_modify": [], "labels": ["x"], "agent": "script",
            "launched_unix_ms": 1, "attempts": 0
        })
    };
    let request = |running: &[&str]| {
        serde_json::json!({
            "task": task("new"),
            "state": {
                "now_unix_ms": 1000,
                "running": running.iter().map(|id| task(id)).collect::<Vec<_>>(),
                "queued": [],
                "awaiting_review": []
            }
        })
        .to_string()
    };
    let ask = |request: String| {
        Test::new()
            .file("request.json", request)
            .args(["policy", "test", &fixture("review-bandwidth.wasm")])
            .args(["--hook", "admission", "--input", "request.json"])
            .run()
    };
    let run = ask(request(&["a"]));
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("\"decision\": \"start\""),
        "{}",
        run.stdout
    );
    let run = ask(request(&["a", "b", "c"]));
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("\"decision\": \"hold\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("3 agents are running"),
        "{}",
        run.stdout
    );
}

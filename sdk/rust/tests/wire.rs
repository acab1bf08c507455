#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The JSON ABI: the wire shapes, the schema file, and the command runner.

use agenthost_policy::*;
use serde_json::json;

fn spec() -> Spec {
    serde_json::from_value(json!({
        "id": "status-filter",
        "title": "Filter the summary report by item status",
        "sections": [{ "heading": "What", "level": 2, "line": 9, "text": "Add a status argument." }],
        "scope": {
            "line": 20,
            "modify": [{ "written": "inventory/report.py", "pattern": "inventory/report.py", "line": 21 }],
            "do_not_modify": [{ "written": "api/**", "pattern": "api/**", "is_glob": true, "line": 22 }],
            "constraints": [{ "text": "Do NOT change how items are loaded", "line": 23 }]
        }
    }))
    .unwrap()
}

#[test]
fn a_minimal_spec_reads_with_defaults() {
    let spec = spec();
    assert_eq!(spec.front_matter, FrontMatter::default());
    assert_eq!(spec.scope.create, Vec::new());
    assert!(spec.scope.do_not_modify[0].is_glob);
}

#[test]
fn admission_answers_are_tagged_by_decision() {
    assert_eq!(
        serde_json::to_value(Admission::Start).unwrap(),
        json!({ "decision": "start" })
    );
    assert_eq!(
        serde_json::to_value(Admission::Hold("3 tasks wait for review".into())).unwrap(),
        json!({ "decision": "hold", "reason": "3 tasks wait for review" })
    );
    let reject: Admission =
        serde_json::from_value(json!({ "decision": "reject", "reason": "no" })).unwrap();
    assert_eq!(reject, Admission::Reject("no".into()));
}

#[test]
fn findings_leave_out_what_they_do_not_have() {
    let finding = Finding::new("diff-size/lines", Severity::Warning, "too big").at_path("a.rs");
    assert_eq!(
        serde_json::to_value(&finding).unwrap(),
        json!({ "rule": "diff-size/lines", "severity": "warning", "message": "too big", "path": "a.rs" })
    );
}

#[test]
fn every_hook_name_round_trips() {
    for hook in Hook::ALL {
        assert_eq!(hook.name().parse::<Hook>(), Ok(hook));
        assert_eq!(serde_json::to_value(hook).unwrap(), json!(hook.name()));
    }
    assert_eq!(
        "accept".parse::<Hook>(),
        Err("unknown hook `accept` (expected one of acceptance, admission, review, validate-config, describe)".to_string())
    );
}

/// The schema file in `sdk/schema/` is what the types generate. Run with
/// `AGENTHOST_BLESS=1` to rewrite it after changing the types.
#[test]
fn schema_file_is_up_to_date() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/agenthost-policy.schema.json"
    );
    let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
    if std::env::var_os("AGENTHOST_BLESS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{path} is out of date: run `AGENTHOST_BLESS=1 cargo test -p agenthost-policy` and commit it"
    );
}

#[test]
fn schema_names_every_hook_and_defines_every_type() {
    let schema = json_schema();
    for hook in Hook::ALL {
        assert!(schema["properties"][hook.name()].is_object(), "{hook}");
    }
    for name in [
        "Spec",
        "Finding",
        "Severity",
        "HostState",
        "RunResult",
        "ChangedFile",
    ] {
        assert!(schema["$defs"][name].is_object(), "{name} is not in $defs");
    }
}

struct Strict;

impl Policy for Strict {
    const HOOKS: &'static [Hook] = &[Hook::Acceptance, Hook::Admission];

    fn acceptance(&self, request: &AcceptanceRequest) -> Vec<Finding> {
        let max = request.config["max"].as_u64().unwrap_or(1) as usize;
        if request.spec.scope.modify.len() > max {
            vec![Finding::new("strict/too-many", Severity::Error, "split it")]
        } else {
            Vec::new()
        }
    }

    fn admission(&self, request: &AdmissionRequest) -> Admission {
        if request.state.running.is_empty() {
            Admission::Start
        } else {
            Admission::Hold("one at a time".into())
        }
    }
}

#[test]
fn run_command_answers_the_hooks_the_policy_has() {
    let request = serde_json::to_vec(&json!({ "config": { "max": 0 }, "spec": spec() })).unwrap();
    let answer = run_command(&Strict, "acceptance", &request).unwrap();
    let answer: Findings = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer.findings[0].rule, "strict/too-many");

    let request = br#"{"task":{"id":"t","title":"T"},"state":{"now_unix_ms":1}}"#;
    let answer = run_command(&Strict, "admission", request).unwrap();
    assert_eq!(answer, br#"{"decision":"start"}"#);

    let answer = run_command(&Strict, "describe", b"").unwrap();
    let description: Description = serde_json::from_slice(&answer).unwrap();
    assert_eq!(description.hooks, vec![Hook::Acceptance, Hook::Admission]);
    assert_eq!(description.abi, ABI_VERSION);
}

#[test]
fn run_command_refuses_what_it_cannot_answer() {
    let err = run_command(&Strict, "review", b"{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "this policy does not implement the `review` hook"
    );
    let err = run_command(&Strict, "acceptance", b"{\"spec\": 3}").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the request is not valid: invalid type"),
        "{err}"
    );
}

#[test]
fn the_export_list_must_be_the_hooks() {
    __check_hooks(&Strict, &[Hook::Admission, Hook::Acceptance]);
    for wrong in [
        &[Hook::Acceptance][..],
        &[Hook::Acceptance, Hook::Admission, Hook::Review],
        &[Hook::Acceptance, Hook::Admission, Hook::Describe],
    ] {
        let result = std::panic::catch_unwind(|| __check_hooks(&Strict, wrong));
        assert!(result.is_err(), "{wrong:?} was accepted");
    }
}

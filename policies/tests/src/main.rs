//! `tests`: agenthost's built-in review policy, an ordinary SDK user.
//!
//! The host runs the spec's (or the repository's) test command inside the sandbox after the
//! agent stops and passes the outcome in; this policy turns it into findings. A failing run
//! blocks accepting the result (`tests/failed`, error); a run with no test command gets a
//! note (`tests/none`, info, or warning with `require = true`).

use agenthost_policy::{Finding, Hook, Policy, ReviewRequest, Severity};
use serde::Deserialize;

/// The policy.
struct Tests;

/// Its settings under `[policies.tests.config]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// Whether a run without a test command deserves a warning.
    require: bool,
}

impl Policy for Tests {
    const HOOKS: &'static [Hook] = &[Hook::Review, Hook::ValidateConfig];

    fn review(&self, request: &ReviewRequest) -> Vec<Finding> {
        let config = Config::deserialize(&request.config).unwrap_or_default();
        let Some(tests) = &request.run.tests else {
            let severity = if config.require {
                Severity::Warning
            } else {
                Severity::Info
            };
            return vec![Finding::new(
                "tests/none",
                severity,
                "no test command ran: set `test` in the spec's front matter or in agenthost.toml",
            )];
        };
        if tests.passed {
            return Vec::new();
        }
        let how = match tests.exit_code {
            Some(code) => format!("exited with status {code}"),
            None => "was killed (time limit or signal)".to_string(),
        };
        let tail: Vec<&str> = tests.output.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let mut message = format!("`{}` {how}", tests.command);
        if !tail.is_empty() {
            message.push_str(":\n");
            message.push_str(&tail.join("\n"));
        }
        vec![Finding::new("tests/failed", Severity::Error, message)]
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<String> {
        Config::deserialize(config)
            .err()
            .map(|err| err.to_string())
            .into_iter()
            .collect()
    }
}

agenthost_policy::export_policy!(Tests, [Review, ValidateConfig]);

#[cfg(test)]
mod tests {
    use super::*;
    use agenthost_policy::{RunResult, TestOutcome};

    fn request(tests: Option<TestOutcome>) -> ReviewRequest {
        ReviewRequest {
            config: serde_json::json!({}),
            spec: serde_json::from_value(serde_json::json!({"id": "t", "title": "T"})).unwrap(),
            run: RunResult {
                tests,
                ..RunResult::default()
            },
        }
    }

    fn outcome(passed: bool) -> TestOutcome {
        TestOutcome {
            command: "cargo test".into(),
            passed,
            exit_code: Some(if passed { 0 } else { 101 }),
            duration_ms: 1200,
            output: "test a ... ok\ntest b ... FAILED".into(),
        }
    }

    #[test]
    fn passing_tests_say_nothing() {
        assert_eq!(Tests.review(&request(Some(outcome(true)))), vec![]);
    }

    #[test]
    fn failing_tests_block_with_the_end_of_the_output() {
        let findings = Tests.review(&request(Some(outcome(false))));
        assert_eq!(
            findings,
            vec![Finding::new(
                "tests/failed",
                Severity::Error,
                "`cargo test` exited with status 101:\ntest a ... ok\ntest b ... FAILED"
            )]
        );
    }

    #[test]
    fn no_test_command_is_a_note() {
        let findings = Tests.review(&request(None));
        assert_eq!(findings[0].rule, "tests/none");
        assert_eq!(findings[0].severity, Severity::Info);
    }
}

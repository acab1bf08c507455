//! From a call's outcome to what the host acts on, failing closed.
//!
//! Whatever goes wrong with a policy (it cannot be loaded, traps, times out, runs out of
//! memory, answers garbage), the host acts as if it said no: acceptance rejects the spec,
//! admission holds the task, review adds an error finding. Each names the policy and the
//! reason. A policy in `monitor` mode is reported the same way but never blocks.

use agenthost_policy::{
    AcceptanceRequest, Admission, Finding, Findings, Hook, HostState, ReviewRequest, RunResult,
    Severity, Spec, TaskView,
};

use super::typed::AdmissionQuery;
use super::{Engine, HookRequest, LoadedPolicy, PolicyError};
use crate::config::PolicyMode;

/// The rule of the finding a failed policy produces.
pub const FAILED_RULE: &str = "policy-failed";

/// One policy's findings on a spec (acceptance) or a run (review).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The policy's name.
    pub policy: String,
    /// Whether its findings count.
    pub mode: PolicyMode,
    /// What it found; a failed policy has one `policy-failed` error finding.
    pub findings: Vec<Finding>,
    /// Why the policy failed, when it did.
    pub failure: Option<String>,
}

impl Report {
    /// Whether this report rejects the spec or blocks the run: an error finding in
    /// enforce mode.
    pub fn blocks(&self) -> bool {
        self.mode == PolicyMode::Enforce
            && self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The findings as they count: in monitor mode an error is reported as a warning,
    /// marked `[monitor]`, so it never blocks.
    pub fn effective_findings(self) -> Vec<Finding> {
        if self.mode != PolicyMode::Monitor {
            return self.findings;
        }
        self.findings
            .into_iter()
            .map(|mut finding| {
                if finding.severity == Severity::Error {
                    finding.severity = Severity::Warning;
                }
                finding.message = format!("[monitor] {}", finding.message);
                finding
            })
            .collect()
    }

    /// The closed answer for a policy that failed.
    pub fn failed(policy: &str, mode: PolicyMode, hook: Hook, error: &PolicyError) -> Report {
        let consequence = match hook {
            Hook::Review => "accepting this run is blocked until it works",
            _ => "the spec is rejected until it works",
        };
        Report {
            policy: policy.to_string(),
            mode,
            findings: vec![Finding::new(
                FAILED_RULE,
                Severity::Error,
                format!("{error} ({}; fails closed: {consequence})", error.kind()),
            )],
            failure: Some(error.to_string()),
        }
    }
}

/// Asks `policy` whether `spec` may run unattended.
pub fn acceptance(
    engine: &Engine,
    policy: &LoadedPolicy,
    mode: PolicyMode,
    config: &serde_json::Value,
    spec: &Spec,
) -> Report {
    let request = AcceptanceRequest {
        config: config.clone(),
        spec: spec.clone(),
    };
    findings(engine, policy, mode, &request)
}

/// Asks `policy` what review must know about `run`.
pub fn review(
    engine: &Engine,
    policy: &LoadedPolicy,
    mode: PolicyMode,
    config: &serde_json::Value,
    spec: &Spec,
    run: &RunResult,
) -> Report {
    let request = ReviewRequest {
        config: config.clone(),
        spec: spec.clone(),
        run: run.clone(),
    };
    findings(engine, policy, mode, &request)
}

fn findings<R: HookRequest<Answer = Findings>>(
    engine: &Engine,
    policy: &LoadedPolicy,
    mode: PolicyMode,
    request: &R,
) -> Report {
    match engine.call(policy, request) {
        Ok(call) => Report {
            policy: policy.name().to_string(),
            mode,
            findings: call.answer.findings,
            failure: None,
        },
        Err(error) => Report::failed(policy.name(), mode, R::HOOK, &error),
    }
}

/// One policy's admission answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionVerdict {
    /// The policy's name.
    pub policy: String,
    /// Whether its answer counts.
    pub mode: PolicyMode,
    /// What it answered; a failed policy holds.
    pub answer: Admission,
    /// Why the policy failed, when it did.
    pub failure: Option<String>,
}

impl AdmissionVerdict {
    /// What the host does: the answer in enforce mode, always start in monitor mode.
    pub fn effective(&self) -> Admission {
        match self.mode {
            PolicyMode::Enforce => self.answer.clone(),
            PolicyMode::Monitor => Admission::Start,
        }
    }

    /// The closed answer for a policy that failed.
    pub fn failed(policy: &str, mode: PolicyMode, error: &PolicyError) -> AdmissionVerdict {
        AdmissionVerdict {
            policy: policy.to_string(),
            mode,
            answer: Admission::Hold(format!(
                "{error} ({}; fails closed: new tasks are held until it works)",
                error.kind()
            )),
            failure: Some(error.to_string()),
        }
    }
}

/// Asks `policy` whether `task` may start now.
pub fn admission(
    engine: &Engine,
    policy: &LoadedPolicy,
    mode: PolicyMode,
    config: &serde_json::Value,
    task: &TaskView,
    state: &HostState,
) -> AdmissionVerdict {
    let request = AdmissionQuery {
        config,
        task,
        state,
    };
    match engine.call(policy, &request) {
        Ok(call) => AdmissionVerdict {
            policy: policy.name().to_string(),
            mode,
            answer: call.answer,
            failure: None,
        },
        Err(error) => AdmissionVerdict::failed(policy.name(), mode, &error),
    }
}

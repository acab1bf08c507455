//! The typed component export (wasm32-wasip2 only): the `agenthost:policy` interfaces of
//! `sdk/wit/policy.wit`, backed by a [`Policy`]. [`export_policy!`](crate::export_policy)
//! expands to what is here; nothing in this module is for user code.
//!
//! Each hook interface has its own world, so that a policy exports exactly the hooks it
//! lists: the host finds out which by looking at the component's exports. The WIT types are
//! generated once (`wit`) and converted to and from the crate's serde types at the edge, so
//! that a policy's code is the same whichever ABI it is built for.

#![allow(missing_docs, unsafe_code, unreachable_pub)]

use crate::abi::{AcceptanceRequest, AdmissionRequest, ReviewRequest};
use crate::guest::Policy;
use crate::types as sdk;

/// `acceptance` also generates every WIT type, which the other hook worlds share.
pub mod acceptance {
    wit_bindgen::generate!({
        inline: "package agenthost:sdk; world acceptance { export agenthost:policy/acceptance@0.1.0; }",
        path: "../wit",
        generate_unused_types: true,
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_acceptance",
    });
}

use acceptance::agenthost::policy::types as t;

macro_rules! hook_world {
    ($module:ident, $world:literal, $macro_name:literal) => {
        pub mod $module {
            wit_bindgen::generate!({
                inline: $world,
                path: "../wit",
                with: {
                    "agenthost:policy/types@0.1.0": crate::component::acceptance::agenthost::policy::types,
                },
                pub_export_macro: true,
                export_macro_name: $macro_name,
            });
        }
    };
}

hook_world!(
    admission,
    "package agenthost:sdk; world admission { export agenthost:policy/admission@0.1.0; }",
    "__export_admission"
);
hook_world!(
    review,
    "package agenthost:sdk; world review { export agenthost:policy/review@0.1.0; }",
    "__export_review"
);
/// `config` uses no shared types.
pub mod config {
    wit_bindgen::generate!({
        inline: "package agenthost:sdk; world config { export agenthost:policy/config@0.1.0; }",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_config",
    });
}

pub use acceptance::exports::agenthost::policy::acceptance::Guest as AcceptanceGuest;
pub use admission::exports::agenthost::policy::admission::Guest as AdmissionGuest;
pub use config::exports::agenthost::policy::config::Guest as ConfigGuest;
pub use review::exports::agenthost::policy::review::Guest as ReviewGuest;
pub use t::{Admission, Finding, HostState, RunResult, Spec, TaskView};

/// The policy's table from `agenthost.toml`: the host sends a JSON object.
fn config(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::Object(Default::default()))
}

/// `acceptance.check-spec`.
pub fn check_spec<P: Policy>(policy: &P, config_json: String, spec: Spec) -> Vec<Finding> {
    let request = AcceptanceRequest {
        config: config(&config_json),
        spec: spec_from(spec),
    };
    policy
        .acceptance(&request)
        .into_iter()
        .map(finding)
        .collect()
}

/// `admission.admit`.
pub fn admit<P: Policy>(
    policy: &P,
    config_json: String,
    task: TaskView,
    state: HostState,
) -> Admission {
    let request = AdmissionRequest {
        config: config(&config_json),
        task: task_from(task),
        state: sdk::HostState {
            now_unix_ms: state.now_unix_ms,
            running: state.running.into_iter().map(task_from).collect(),
            queued: state.queued.into_iter().map(task_from).collect(),
            awaiting_review: state
                .awaiting_review
                .into_iter()
                .map(|w| sdk::WaitingTask {
                    task: task_from(w.task),
                    waited_secs: w.waited_secs,
                })
                .collect(),
        },
    };
    match policy.admission(&request) {
        sdk::Admission::Start => Admission::Start,
        sdk::Admission::Hold(reason) => Admission::Hold(reason),
        sdk::Admission::Reject(reason) => Admission::Reject(reason),
    }
}

/// `review.review-run`.
pub fn review_run<P: Policy>(
    policy: &P,
    config_json: String,
    spec: Spec,
    run: RunResult,
) -> Vec<Finding> {
    let request = ReviewRequest {
        config: config(&config_json),
        spec: spec_from(spec),
        run: sdk::RunResult {
            changed_files: run
                .changed_files
                .into_iter()
                .map(|f| sdk::ChangedFile {
                    path: f.path,
                    old_path: f.old_path,
                    kind: match f.kind {
                        t::ChangeKind::Added => sdk::ChangeKind::Added,
                        t::ChangeKind::Modified => sdk::ChangeKind::Modified,
                        t::ChangeKind::Deleted => sdk::ChangeKind::Deleted,
                        t::ChangeKind::Renamed => sdk::ChangeKind::Renamed,
                    },
                    added_lines: f.added_lines,
                    removed_lines: f.removed_lines,
                })
                .collect(),
            patch: run.patch,
            agent: sdk::AgentExit {
                exit_code: run.agent.exit_code,
                duration_ms: run.agent.duration_ms,
            },
            tests: run.tests.map(|t| sdk::TestOutcome {
                command: t.command,
                passed: t.passed,
                exit_code: t.exit_code,
                duration_ms: t.duration_ms,
                output: t.output,
            }),
        },
    };
    policy.review(&request).into_iter().map(finding).collect()
}

/// `config.validate`.
pub fn validate<P: Policy>(policy: &P, config_json: String) -> Vec<String> {
    match serde_json::from_str(&config_json) {
        Ok(value) => policy.validate_config(&value),
        Err(err) => vec![format!("the config is not JSON: {err}")],
    }
}

fn spec_from(spec: Spec) -> sdk::Spec {
    let fm = spec.front_matter;
    sdk::Spec {
        id: spec.id,
        title: spec.title,
        front_matter: sdk::FrontMatter {
            id: fm.id,
            title: fm.title,
            agent: fm.agent,
            test: fm.test,
            timeout_secs: fm.timeout_secs,
            base: fm.base,
            labels: fm.labels,
        },
        sections: spec
            .sections
            .into_iter()
            .map(|s| sdk::Section {
                heading: s.heading,
                level: s.level,
                line: s.line,
                text: s.text,
            })
            .collect(),
        scope: sdk::Scope {
            line: spec.scope.line,
            modify: entries(spec.scope.modify),
            create: entries(spec.scope.create),
            do_not_modify: entries(spec.scope.do_not_modify),
            constraints: spec
                .scope
                .constraints
                .into_iter()
                .map(|c| sdk::Constraint {
                    text: c.text,
                    line: c.line,
                })
                .collect(),
        },
    }
}

fn entries(entries: Vec<t::ScopeEntry>) -> Vec<sdk::ScopeEntry> {
    entries
        .into_iter()
        .map(|e| sdk::ScopeEntry {
            written: e.written,
            pattern: e.pattern,
            is_glob: e.is_glob,
            line: e.line,
        })
        .collect()
}

fn task_from(task: TaskView) -> sdk::TaskView {
    sdk::TaskView {
        id: task.id,
        title: task.title,
        repo: task.repo,
        scope_entries: task.scope_entries,
    }
}

fn finding(finding: sdk::Finding) -> Finding {
    Finding {
        rule: finding.rule,
        severity: match finding.severity {
            sdk::Severity::Info => t::Severity::Info,
            sdk::Severity::Warning => t::Severity::Warning,
            sdk::Severity::Error => t::Severity::Error,
        },
        message: finding.message,
        path: finding.path,
        line: finding.line,
    }
}

/// Exports one hook interface for `$policy` (used by `export_policy!`).
#[doc(hidden)]
#[macro_export]
macro_rules! __export_hook {
    (Acceptance, $policy:expr) => {
        const _: () = {
            struct __AgenthostAcceptance;
            impl $crate::__component::AcceptanceGuest for __AgenthostAcceptance {
                fn check_spec(
                    config: ::std::string::String,
                    spec: $crate::__component::Spec,
                ) -> ::std::vec::Vec<$crate::__component::Finding> {
                    $crate::__component::check_spec(&$policy, config, spec)
                }
            }
            $crate::__component::acceptance::__export_acceptance!(__AgenthostAcceptance with_types_in $crate::__component::acceptance);
        };
    };
    (Admission, $policy:expr) => {
        const _: () = {
            struct __AgenthostAdmission;
            impl $crate::__component::AdmissionGuest for __AgenthostAdmission {
                fn admit(
                    config: ::std::string::String,
                    task: $crate::__component::TaskView,
                    state: $crate::__component::HostState,
                ) -> $crate::__component::Admission {
                    $crate::__component::admit(&$policy, config, task, state)
                }
            }
            $crate::__component::admission::__export_admission!(__AgenthostAdmission with_types_in $crate::__component::admission);
        };
    };
    (Review, $policy:expr) => {
        const _: () = {
            struct __AgenthostReview;
            impl $crate::__component::ReviewGuest for __AgenthostReview {
                fn review_run(
                    config: ::std::string::String,
                    spec: $crate::__component::Spec,
                    run: $crate::__component::RunResult,
                ) -> ::std::vec::Vec<$crate::__component::Finding> {
                    $crate::__component::review_run(&$policy, config, spec, run)
                }
            }
            $crate::__component::review::__export_review!(__AgenthostReview with_types_in $crate::__component::review);
        };
    };
    (ValidateConfig, $policy:expr) => {
        const _: () = {
            struct __AgenthostConfig;
            impl $crate::__component::ConfigGuest for __AgenthostConfig {
                fn validate(config: ::std::string::String) -> ::std::vec::Vec<::std::string::String> {
                    $crate::__component::validate(&$policy, config)
                }
            }
            $crate::__component::config::__export_config!(__AgenthostConfig with_types_in $crate::__component::config);
        };
    };
}

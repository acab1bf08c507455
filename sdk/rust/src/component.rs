//! The typed component export (wasm32-wasip2 only): the `agenthost:policy` interfaces of
//! `sdk/wit/policy.wit`, backed by a [`Policy`]. [`export_policy!`](crate::export_policy)
//! expands to what is here; nothing in this module is for user code.
//!
//! Each hook interface has its own world, so that a policy exports exactly the hooks it
//! lists: the host finds out which by looking at the component's exports. The WIT `types`
//! interface is the crate's own wire types (`with`): the bindings lift a request straight
//! into them and lower the answer from them, so that a policy's code is the same whichever
//! ABI it is built for and an interface change is a change to `types.rs` alone.

#![allow(missing_docs, unsafe_code, unreachable_pub)]

use crate::abi::{AcceptanceRequest, AdmissionRequest, ReviewRequest};
use crate::guest::Policy;

macro_rules! hook_world {
    ($module:ident, $world:literal, $macro_name:literal) => {
        pub mod $module {
            wit_bindgen::generate!({
                inline: $world,
                path: "../wit",
                with: { "agenthost:policy/types@0.2.0": crate::types },
                pub_export_macro: true,
                export_macro_name: $macro_name,
            });
        }
    };
}

hook_world!(
    acceptance,
    "package agenthost:sdk; world acceptance { export agenthost:policy/acceptance@0.2.0; }",
    "__export_acceptance"
);
hook_world!(
    admission,
    "package agenthost:sdk; world admission { export agenthost:policy/admission@0.2.0; }",
    "__export_admission"
);
hook_world!(
    review,
    "package agenthost:sdk; world review { export agenthost:policy/review@0.2.0; }",
    "__export_review"
);
/// `config` uses no shared types.
pub mod config {
    wit_bindgen::generate!({
        inline: "package agenthost:sdk; world config { export agenthost:policy/config@0.2.0; }",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_config",
    });
}

pub use crate::types::{Admission, Finding, HostState, RunResult, Spec, TaskView};
pub use acceptance::exports::agenthost::policy::acceptance::Guest as AcceptanceGuest;
pub use admission::exports::agenthost::policy::admission::Guest as AdmissionGuest;
pub use config::exports::agenthost::policy::config::Guest as ConfigGuest;
pub use review::exports::agenthost::policy::review::Guest as ReviewGuest;

/// The policy's table from `agenthost.toml`: the host sends a JSON object.
fn config(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::Object(Default::default()))
}

/// `acceptance.check-spec`.
pub fn check_spec<P: Policy>(policy: &P, config_json: String, spec: Spec) -> Vec<Finding> {
    policy.acceptance(&AcceptanceRequest {
        config: config(&config_json),
        spec,
    })
}

/// `admission.admit`.
pub fn admit<P: Policy>(
    policy: &P,
    config_json: String,
    task: TaskView,
    state: HostState,
) -> Admission {
    policy.admission(&AdmissionRequest {
        config: config(&config_json),
        task,
        state,
    })
}

/// `review.review-run`.
pub fn review_run<P: Policy>(
    policy: &P,
    config_json: String,
    spec: Spec,
    run: RunResult,
) -> Vec<Finding> {
    policy.review(&ReviewRequest {
        config: config(&config_json),
        spec,
        run,
    })
}

/// `config.validate`.
pub fn validate<P: Policy>(policy: &P, config_json: String) -> Vec<String> {
    match serde_json::from_str(&config_json) {
        Ok(value) => policy.validate_config(&value),
        Err(err) => vec![format!("the config is not JSON: {err}")],
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

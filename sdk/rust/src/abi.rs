//! The hooks, and the request and answer of each as JSON: the WASI-command ABI.
//!
//! A WASI-command policy is run as `policy.wasm HOOK` with one request on stdin and writes
//! one answer on stdout, then exits 0. Anything on stderr goes to agenthost's log.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::types::{Admission, Finding, HostState, RunResult, Spec, TaskView};

/// Derives shared by every wire type.
macro_rules! wire {
    ($item:item) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        $item
    };
}

wire! {
    /// A question the host asks a policy; `argv[1]` of a WASI-command policy.
    #[derive(Copy, Eq, Hash, PartialOrd, Ord)]
    #[serde(rename_all = "kebab-case")]
    pub enum Hook {
        /// Is this spec tight enough to run unattended?
        Acceptance,
        /// May this task start now?
        Admission,
        /// What must the reviewer know about this run?
        Review,
        /// Is this configuration valid? (Optional; asked when the policy is loaded.)
        ValidateConfig,
        /// Which hooks does the policy implement? (Answered by the SDK.)
        Describe,
    }
}

impl Hook {
    /// The three decisions, in the order a task meets them.
    pub const DECISIONS: [Hook; 3] = [Hook::Acceptance, Hook::Admission, Hook::Review];

    /// Every hook.
    pub const ALL: [Hook; 5] = [
        Hook::Acceptance,
        Hook::Admission,
        Hook::Review,
        Hook::ValidateConfig,
        Hook::Describe,
    ];

    /// The name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Acceptance => "acceptance",
            Hook::Admission => "admission",
            Hook::Review => "review",
            Hook::ValidateConfig => "validate-config",
            Hook::Describe => "describe",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hook {
    type Err = String;

    fn from_str(name: &str) -> Result<Hook, String> {
        Hook::ALL
            .into_iter()
            .find(|hook| hook.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Hook::ALL.iter().map(|h| h.name()).collect();
                format!(
                    "unknown hook `{name}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

wire! {
    /// `acceptance`: the spec to judge.
    pub struct AcceptanceRequest {
        /// The policy's table from `agenthost.toml`, as JSON.
        #[serde(default = "empty_config")]
        pub config: serde_json::Value,
        /// The spec.
        pub spec: Spec,
    }
}

wire! {
    /// `admission`: the task that asks to start, and what the host is doing.
    pub struct AdmissionRequest {
        /// The policy's table from `agenthost.toml`, as JSON.
        #[serde(default = "empty_config")]
        pub config: serde_json::Value,
        /// The task that asks to start.
        pub task: TaskView,
        /// What runs and waits now.
        pub state: HostState,
    }
}

wire! {
    /// `review`: a finished run and its spec.
    pub struct ReviewRequest {
        /// The policy's table from `agenthost.toml`, as JSON.
        #[serde(default = "empty_config")]
        pub config: serde_json::Value,
        /// The spec the agent worked from.
        pub spec: Spec,
        /// What it produced.
        pub run: RunResult,
    }
}

wire! {
    /// `validate-config`: the policy's table, to check once at load time.
    pub struct ConfigRequest {
        /// The policy's table from `agenthost.toml`, as JSON.
        #[serde(default = "empty_config")]
        pub config: serde_json::Value,
    }
}

wire! {
    /// The answer to `acceptance` and `review`.
    #[derive(Default)]
    pub struct Findings {
        /// What the policy found; empty when all is well.
        pub findings: Vec<Finding>,
    }
}

wire! {
    /// The answer to `validate-config`.
    #[derive(Default)]
    pub struct ConfigErrors {
        /// One message per problem; empty when the config is valid.
        pub errors: Vec<String>,
    }
}

wire! {
    /// The answer to `describe`.
    pub struct Description {
        /// The ABI version the policy was built against.
        pub abi: String,
        /// The hooks it implements.
        pub hooks: Vec<Hook>,
    }
}

/// The answer to `validate-config` for a policy whose settings are all of `T`: nothing when
/// the table deserializes into `T`, else serde's message (which names the key).
pub fn config_errors<T: serde::de::DeserializeOwned>(config: &serde_json::Value) -> Vec<String> {
    T::deserialize(config)
        .err()
        .map(|err| err.to_string())
        .into_iter()
        .collect()
}

/// The answer to `admission` is an [`Admission`] itself: `{"decision": "start"}`,
/// `{"decision": "hold", "reason": "..."}`, `{"decision": "wait", "reason": "..."}` or
/// `{"decision": "reject", "reason": "..."}`.
pub type AdmissionAnswer = Admission;

fn empty_config() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

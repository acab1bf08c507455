//! Write [agenthost](https://example.invalid/agenthost) policies in Rust.
//!
//! A policy decides one or more of agenthost's three questions: is a spec tight enough to
//! run unattended (`acceptance`), may another agent start now (`admission`), and what must
//! the reviewer know about a run (`review`). This crate holds
//!
//! - the request and answer types, exactly as the WIT package `agenthost:policy` in
//!   `sdk/wit` defines them, as serde types (the JSON ABI of WASI-command policies);
//! - the guest SDK: implement [`Policy`] (every hook has a default) and export it with
//!   [`export_policy!`], listing its hooks. Built for `wasm32-wasip2` the policy is a typed
//!   component exporting the `agenthost:policy` interfaces of those hooks (and also a WASI
//!   command); built for `wasm32-wasip1` it is a WASI command (the JSON ABI).
//!
//! ```
//! use agenthost_policy::{AcceptanceRequest, Finding, Hook, Policy, Severity};
//!
//! struct NeedsVerify;
//!
//! impl Policy for NeedsVerify {
//!     const HOOKS: &'static [Hook] = &[Hook::Acceptance];
//!
//!     fn acceptance(&self, request: &AcceptanceRequest) -> Vec<Finding> {
//!         let has_verify = request.spec.sections.iter().any(|s| s.heading == "Verify");
//!         if has_verify {
//!             return Vec::new();
//!         }
//!         vec![Finding::new("needs-verify/missing", Severity::Error, "add a `## Verify` section")]
//!     }
//! }
//!
//! agenthost_policy::export_policy!(NeedsVerify, [Acceptance]);
//! ```
//!
//! The host and the SDK share these types, so a change to them is a change to the ABI:
//! [`ABI_VERSION`] says which one a policy was built against.

mod abi;
#[cfg(all(target_os = "wasi", target_env = "p2"))]
#[doc(hidden)]
pub mod component;
mod guest;
#[cfg(feature = "schema")]
mod schema;
mod types;

pub use abi::*;
#[cfg(all(target_os = "wasi", target_env = "p2"))]
#[doc(hidden)]
pub use component as __component;
#[doc(hidden)]
pub use guest::check_hooks as __check_hooks;
pub use guest::{__command_main, CommandError, Policy, run_command};
#[cfg(feature = "schema")]
pub use schema::json_schema;
pub use types::*;

/// The version of the `agenthost:policy` interface this crate speaks.
pub const ABI_VERSION: &str = "0.2.0";

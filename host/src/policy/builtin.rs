//! The built-in policies, compiled from `policies/` to wasm32-wasip2 by `build.rs` and
//! embedded here. They are loaded exactly like a user's plugin.

use crate::config::BuiltinPolicy;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtins.rs"));
}

/// The WebAssembly of a built-in policy.
pub fn wasm(policy: BuiltinPolicy) -> &'static [u8] {
    match policy {
        BuiltinPolicy::SpecQuality => embedded::SPEC_QUALITY,
        BuiltinPolicy::ReviewBandwidth => embedded::REVIEW_BANDWIDTH,
        BuiltinPolicy::ScopeOverlap => embedded::SCOPE_OVERLAP,
        BuiltinPolicy::ScopeGuard => embedded::SCOPE_GUARD,
        BuiltinPolicy::DiffSize => embedded::DIFF_SIZE,
        BuiltinPolicy::Tests => embedded::TESTS,
    }
}

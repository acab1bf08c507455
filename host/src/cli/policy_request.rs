//! What `policy test` and its fixtures share: the request sent to a policy (with the
//! configured policy's config filled in) and how a call's time is shown.

use std::time::Duration;

use agenthost_policy::Hook;
use miette::IntoDiagnostic;

/// The request as bytes, with the configured policy's config filled in when it has none.
pub(super) fn with_config(
    mut request: serde_json::Value,
    hook: Hook,
    config: Option<&serde_json::Value>,
) -> miette::Result<Vec<u8>> {
    if let (Some(config), Some(object)) = (config, request.as_object_mut())
        && hook != Hook::Describe
    {
        object.entry("config").or_insert_with(|| config.clone());
    }
    serde_json::to_vec(&request).into_diagnostic()
}

/// A call's time: microseconds below 10 ms, else milliseconds.
pub(super) fn format_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 10_000 {
        format!("{micros} µs")
    } else {
        format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
    }
}

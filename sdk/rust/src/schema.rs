//! The JSON Schema of every request and answer (feature `schema`).

use crate::abi::{
    AcceptanceRequest, AdmissionRequest, ConfigErrors, ConfigRequest, Description, Findings,
    ReviewRequest,
};
use crate::types::Admission;

/// One schema document whose `$defs` hold every request and answer of the WASI-command
/// ABI, listed by hook under `properties`. This is `sdk/schema/agenthost-policy.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut hooks = serde_json::Map::new();
    let mut add = |hook: &str, request: schemars::Schema, answer: schemars::Schema| {
        hooks.insert(
            hook.to_string(),
            serde_json::json!({
                "type": "object",
                "properties": { "request": request, "answer": answer },
            }),
        );
    };
    add(
        "acceptance",
        generator.subschema_for::<AcceptanceRequest>(),
        generator.subschema_for::<Findings>(),
    );
    add(
        "admission",
        generator.subschema_for::<AdmissionRequest>(),
        generator.subschema_for::<Admission>(),
    );
    add(
        "review",
        generator.subschema_for::<ReviewRequest>(),
        generator.subschema_for::<Findings>(),
    );
    add(
        "validate-config",
        generator.subschema_for::<ConfigRequest>(),
        generator.subschema_for::<ConfigErrors>(),
    );
    add(
        "describe",
        serde_json::json!({ "description": "stdin is empty" })
            .try_into()
            .unwrap_or_default(),
        generator.subschema_for::<Description>(),
    );
    let definitions = generator.take_definitions(true);
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.invalid/agenthost/sdk/schema/agenthost-policy.schema.json",
        "title": format!("agenthost:policy@{} as JSON", crate::ABI_VERSION),
        "description": "The requests (stdin) and answers (stdout) of a WASI-command policy, by hook (argv[1]).",
        "type": "object",
        "properties": hooks,
        "$defs": definitions,
    })
}

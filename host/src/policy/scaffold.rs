//! `agenthost policy new`: the files of a new Rust policy, ready to build and test.
//!
//! The scaffold vendors the SDK (`vendor/agenthost-policy`, the very source this binary was
//! built with, and `vendor/wit`, the WIT it generates its component exports from), so it
//! matches this agenthost's ABI. Its dependencies come from the registry.

/// The SDK's source files, as this binary was built with them.
const SDK_FILES: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../../../sdk/rust/src/lib.rs")),
    ("src/abi.rs", include_str!("../../../sdk/rust/src/abi.rs")),
    (
        "src/guest.rs",
        include_str!("../../../sdk/rust/src/guest.rs"),
    ),
    (
        "src/types.rs",
        include_str!("../../../sdk/rust/src/types.rs"),
    ),
    (
        "src/schema.rs",
        include_str!("../../../sdk/rust/src/schema.rs"),
    ),
    (
        "src/component.rs",
        include_str!("../../../sdk/rust/src/component.rs"),
    ),
];

/// The WIT the SDK's component exports are generated from (`../wit` from the SDK).
const WIT: &str = include_str!("../../../sdk/wit/policy.wit");

/// Whether `name` can name a policy and its crate: lowercase ASCII letters, digits and `-`,
/// starting with a letter.
pub fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The files of a new policy called `name`: (relative path, contents).
pub fn rust(name: &str) -> Vec<(String, String)> {
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    let mut files = vec![
        ("Cargo.toml".to_string(), cargo_toml(name)),
        ("src/main.rs".to_string(), main_rs(name, &type_name)),
        ("README.md".to_string(), readme(name)),
        (".gitignore".to_string(), "/target\n".to_string()),
        (
            "vendor/agenthost-policy/Cargo.toml".to_string(),
            SDK_CARGO_TOML.to_string(),
        ),
    ];
    for (path, text) in SDK_FILES {
        files.push((format!("vendor/agenthost-policy/{path}"), text.to_string()));
    }
    files.push(("vendor/wit/policy.wit".to_string(), WIT.to_string()));
    files
}

const SDK_CARGO_TOML: &str = r#"[package]
name = "agenthost-policy"
description = "Write agenthost policies in Rust (vendored by `agenthost policy new`)"
version = "0.1.0"
edition = "2024"
license = "MIT OR Apache-2.0"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
schemars = { version = "1.2", optional = true }

[features]
schema = ["dep:schemars"]

[target.'cfg(all(target_os = "wasi", target_env = "p2"))'.dependencies]
wit-bindgen = { version = "0.57", default-features = false, features = ["macros", "realloc"] }
"#;

fn cargo_toml(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# A policy is its own project, even inside another workspace.
[workspace]

[dependencies]
agenthost-policy = {{ path = "vendor/agenthost-policy" }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

[profile.release]
opt-level = "s"
"#
    )
}

fn main_rs(name: &str, type_name: &str) -> String {
    format!(
        r##"//! `{name}`: an agenthost acceptance policy.
//!
//! Build: `cargo build --release --target wasm32-wasip2`, then in agenthost.toml:
//!
//! ```toml
//! [policies.{name}]
//! path = "{name}/target/wasm32-wasip2/release/{name}.wasm"
//! config = {{ words = ["TODO", "FIXME"] }}
//! ```

use agenthost_policy::{{AcceptanceRequest, Finding, Hook, Policy, Severity}};
use serde::Deserialize;

/// The policy.
struct {type_name};

/// Its settings under `[policies.{name}.config]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {{
    /// Words a spec must not contain.
    words: Vec<String>,
}}

impl Default for Config {{
    fn default() -> Self {{
        Config {{
            words: vec!["TODO".to_string(), "FIXME".to_string()],
        }}
    }}
}}

impl Policy for {type_name} {{
    const HOOKS: &'static [Hook] = &[Hook::Acceptance, Hook::ValidateConfig];

    fn acceptance(&self, request: &AcceptanceRequest) -> Vec<Finding> {{
        let config = Config::deserialize(&request.config).unwrap_or_default();
        let mut findings = Vec::new();
        for section in &request.spec.sections {{
            for word in &config.words {{
                if section.text.contains(word.as_str()) {{
                    findings.push(
                        Finding::new(
                            "{name}/word",
                            Severity::Error,
                            format!("the `{{}}` section still says `{{word}}`: resolve it first", section.heading),
                        )
                        .at_line(section.line),
                    );
                }}
            }}
        }}
        findings
    }}

    fn validate_config(&self, config: &serde_json::Value) -> Vec<String> {{
        Config::deserialize(config).err().map(|e| e.to_string()).into_iter().collect()
    }}
}}

// A typed component for wasm32-wasip2 (with the hooks listed, which must be `HOOKS`), and
// a WASI command (JSON on stdin and stdout) on any target.
agenthost_policy::export_policy!({type_name}, [Acceptance, ValidateConfig]);

#[cfg(test)]
mod tests {{
    use super::*;

    fn request(text: &str) -> Vec<u8> {{
        serde_json::to_vec(&serde_json::json!({{
            "config": {{}},
            "spec": {{
                "id": "t",
                "title": "T",
                "sections": [{{ "heading": "What", "level": 2, "line": 3, "text": text }}]
            }}
        }}))
        .unwrap()
    }}

    #[test]
    fn flags_a_todo_and_accepts_a_clean_spec() {{
        let answer = agenthost_policy::run_command(&{type_name}, "acceptance", &request("TODO: decide")).unwrap();
        let answer: agenthost_policy::Findings = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer.findings.len(), 1);
        assert_eq!(answer.findings[0].line, Some(3));

        let answer = agenthost_policy::run_command(&{type_name}, "acceptance", &request("Add a button.")).unwrap();
        assert_eq!(answer, br#"{{"findings":[]}}"#);
    }}

    #[test]
    fn rejects_an_unknown_config_key() {{
        assert_eq!({type_name}.validate_config(&serde_json::json!({{ "word": [] }})).len(), 1);
    }}
}}
"##
    )
}

fn readme(name: &str) -> String {
    format!(
        "# {name}\n\nAn agenthost policy, written with the Rust SDK (vendored in \
         `vendor/agenthost-policy`).\n\n```sh\ncargo test                                    # \
         natively\ncargo build --release --target wasm32-wasip2   # the plugin\nagenthost \
         policy test target/wasm32-wasip2/release/{name}.wasm --hook acceptance --input \
         request.json\n```\n\nThen add it to `agenthost.toml`:\n\n```toml\n[policies.{name}]\n\
         path = \"path/to/{name}.wasm\"\n```\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_crate_names() {
        assert!(valid_name("no-todo"));
        assert!(valid_name("p2"));
        assert!(!valid_name("No-Todo"));
        assert!(!valid_name("2fast"));
        assert!(!valid_name("a_b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn the_scaffold_names_its_type_after_the_policy() {
        let files = rust("no-todo");
        let main = &files.iter().find(|(p, _)| p == "src/main.rs").unwrap().1;
        assert!(main.contains("struct NoTodo;"));
        assert!(main.contains("export_policy!(NoTodo, [Acceptance, ValidateConfig])"));
        assert!(files.iter().any(|(p, _)| p == "vendor/wit/policy.wit"));
        assert!(
            files
                .iter()
                .any(|(p, _)| p == "vendor/agenthost-policy/src/guest.rs")
        );
    }
}

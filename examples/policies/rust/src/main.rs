//! `protected-paths`: an agenthost review policy that flags every changed file matching one
//! of the configured globs, with the configured severity.
//!
//! ```toml
//! [policies.protected-paths]
//! path = "protected-paths.wasm"
//! config = { patterns = ["migrations/**", "*.lock"], severity = "error" }
//! ```

use agenthost_policy::{Finding, Hook, Policy, ReviewRequest, Severity};
use serde_json::Value;

/// The policy.
struct ProtectedPaths;

/// The rule of every finding.
const RULE: &str = "protected-paths/changed";

/// The config keys, in byte order.
const KEYS: [&str; 2] = ["patterns", "severity"];

impl Policy for ProtectedPaths {
    const HOOKS: &'static [Hook] = &[Hook::Review, Hook::ValidateConfig];

    fn review(&self, request: &ReviewRequest) -> Vec<Finding> {
        // The host refuses an invalid config at load time (validate_config), so missing or
        // mistyped values only happen in hand-made requests: they mean "no patterns".
        let patterns: Vec<&str> = request.config["patterns"]
            .as_array()
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let severity = severity(&request.config["severity"]).unwrap_or(Severity::Warning);
        request
            .run
            .changed_files
            .iter()
            .filter_map(|file| {
                let candidates = std::iter::once(&file.path).chain(&file.old_path);
                candidates.into_iter().find_map(|path| {
                    let pattern = patterns.iter().find(|p| glob_match(p, path))?;
                    Some(
                        Finding::new(
                            RULE,
                            severity,
                            format!("`{path}` matches the protected pattern `{pattern}`"),
                        )
                        .at_path(path.as_str()),
                    )
                })
            })
            .collect()
    }

    fn validate_config(&self, config: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        match config.get("patterns") {
            None => errors.push(
                "`patterns` is required: a list of globs such as [\"migrations/**\"]".to_string(),
            ),
            Some(Value::Array(list)) if list.iter().all(Value::is_string) => {}
            Some(_) => errors.push("`patterns` must be a list of strings".to_string()),
        }
        if let Some(value) = config.get("severity")
            && severity(value).is_none()
        {
            errors.push("`severity` must be \"info\", \"warning\" or \"error\"".to_string());
        }
        if let Some(table) = config.as_object() {
            let mut unknown: Vec<&String> =
                table.keys().filter(|k| !KEYS.contains(&k.as_str())).collect();
            unknown.sort();
            for key in unknown {
                errors.push(format!(
                    "unknown key `{key}`: the keys are `patterns` and `severity`"
                ));
            }
        }
        errors
    }
}

/// The severity a config value names, if it names one.
fn severity(value: &Value) -> Option<Severity> {
    match value.as_str()? {
        "info" => Some(Severity::Info),
        "warning" => Some(Severity::Warning),
        "error" => Some(Severity::Error),
        _ => None,
    }
}

/// Whether `path` matches `pattern` as a whole: `**` matches any run of characters, `*` any
/// run without `/`, `?` one character other than `/`; everything else only itself.
fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let path: Vec<char> = path.chars().collect();
    matches(&pattern, &path)
}

fn matches(pattern: &[char], path: &[char]) -> bool {
    match pattern {
        [] => path.is_empty(),
        ['*', '*', rest @ ..] => (0..=path.len()).any(|skip| matches(rest, &path[skip..])),
        ['*', rest @ ..] => {
            let run = path.iter().take_while(|&&c| c != '/').count();
            (0..=run).any(|skip| matches(rest, &path[skip..]))
        }
        ['?', rest @ ..] => matches!(path, [c, tail @ ..] if *c != '/' && matches(rest, tail)),
        [literal, rest @ ..] => matches!(path, [c, tail @ ..] if c == literal && matches(rest, tail)),
    }
}

// A typed component for wasm32-wasip2, and a WASI command (JSON on stdin and stdout) on any
// target.
agenthost_policy::export_policy!(ProtectedPaths, [Review, ValidateConfig]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("migrations/**", "migrations/2026/001.sql"));
        assert!(glob_match("*.lock", "Cargo.lock"));
        assert!(!glob_match("*.lock", "web/yarn.lock"));
        assert!(glob_match("**.lock", "web/yarn.lock"));
        assert!(glob_match("config/?.toml", "config/a.toml"));
        assert!(!glob_match("config/?.toml", "config/ab.toml"));
        assert!(!glob_match("config/?.toml", "config//.toml"));
        assert!(glob_match("docs/[draft].md", "docs/[draft].md"));
        assert!(!glob_match("docs/[draft].md", "docs/d.md"));
    }

    #[test]
    fn config_errors_come_in_order() {
        let config = serde_json::json!({ "zeta": 1, "patterns": "x", "alpha": 2, "severity": "loud" });
        assert_eq!(
            ProtectedPaths.validate_config(&config),
            [
                "`patterns` must be a list of strings",
                "`severity` must be \"info\", \"warning\" or \"error\"",
                "unknown key `alpha`: the keys are `patterns` and `severity`",
                "unknown key `zeta`: the keys are `patterns` and `severity`",
            ]
        );
    }
}

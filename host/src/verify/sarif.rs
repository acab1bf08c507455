//! SARIF 2.1.0: the format code-scanning services (GitHub, GitLab, Azure DevOps) upload.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Report, Severity};

/// The schema the output follows.
pub(crate) const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders `report` as one SARIF log with one run.
pub(crate) fn render(report: &Report) -> Value {
    let mut rules: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (_, finding) in report.findings() {
        let next = rules.len();
        rules
            .entry((finding.rule.as_str(), finding.policy.as_str()))
            .or_insert(next);
    }
    let mut ordered: Vec<(&(&str, &str), &usize)> = rules.iter().collect();
    ordered.sort_by_key(|(_, index)| **index);
    let rule_objects: Vec<Value> = ordered
        .iter()
        .map(|((rule, policy), _)| {
            json!({
                "id": rule,
                "shortDescription": { "text": format!("{rule} (policy {policy})") },
                "properties": { "policy": policy },
            })
        })
        .collect();

    let results: Vec<Value> = report
        .findings()
        .map(|(check, finding)| {
            let level = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "note",
            };
            let index = rules[&(finding.rule.as_str(), finding.policy.as_str())];
            let mut result = json!({
                "ruleId": finding.rule,
                "ruleIndex": index,
                "level": level,
                "message": { "text": finding.message },
                "properties": {
                    "policy": finding.policy,
                    "commit": check.commit,
                    "task": check.task,
                    "spec": check.spec,
                },
            });
            // A finding about no file points at the spec it was checked against.
            let artifact = finding.path.as_deref().or(check.spec.as_deref());
            if let Some(path) = artifact {
                let mut location = json!({
                    "artifactLocation": { "uri": uri_path(path), "uriBaseId": "SRCROOT" },
                });
                if let Some(line) = finding.line.filter(|line| *line > 0) {
                    location["region"] = json!({ "startLine": line });
                }
                result["locations"] = json!([{ "physicalLocation": location }]);
            }
            let fingerprint = format!(
                "{}:{}:{}",
                check.commit.as_deref().unwrap_or("staged"),
                finding.rule,
                finding.path.as_deref().unwrap_or_default()
            );
            result["partialFingerprints"] = json!({ "agenthost/v1": fingerprint });
            result
        })
        .collect();

    let mut root = report.repository.to_string_lossy().into_owned();
    if !root.ends_with('/') {
        root.push('/');
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "agenthost",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": rule_objects,
                }
            },
            "originalUriBaseIds": {
                "SRCROOT": { "uri": format!("file://{}", uri_path(&root)) }
            },
            "results": results,
            "properties": {
                "range": report.range,
                "commits": report.summary.commits,
                "checked": report.summary.checked,
                "withoutSpec": report.summary.without_spec,
            },
        }]
    })
}

/// A path as a URI reference: unreserved characters and `/` kept, the rest
/// percent-encoded byte by byte.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri_path("src/a b/ü.rs"), "src/a%20b/%C3%BC.rs");
        assert_eq!(
            uri_path(".github/workflows/ci.yml"),
            ".github/workflows/ci.yml"
        );
    }
}

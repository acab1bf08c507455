//! `diff-size`: agenthost's built-in review policy, an ordinary SDK user.
//!
//! A diff past a reviewable size gets skimmed: warn when a run changes more than
//! `max_lines` lines (added + removed, default 400) or more than `max_files` files
//! (default 12). Rules: `diff-size/lines`, `diff-size/files` (warnings).

use agenthost_policy::{Finding, Hook, Policy, ReviewRequest, Severity};
use serde::Deserialize;

/// The policy.
struct DiffSize;

/// Its settings under `[policies.diff-size.config]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    max_lines: u64,
    max_files: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_lines: 400,
            max_files: 12,
        }
    }
}

impl Policy for DiffSize {
    const HOOKS: &'static [Hook] = &[Hook::Review, Hook::ValidateConfig];

    fn review(&self, request: &ReviewRequest) -> Vec<Finding> {
        let config = match Config::deserialize(&request.config) {
            Ok(config) => config,
            Err(err) => return vec![Finding::invalid_config("diff-size", err)],
        };
        let files = &request.run.changed_files;
        let lines: u64 = files
            .iter()
            .map(|f| u64::from(f.added_lines) + u64::from(f.removed_lines))
            .sum();
        let mut findings = Vec::new();
        if lines > config.max_lines {
            findings.push(Finding::new(
                "diff-size/lines",
                Severity::Warning,
                format!(
                    "the diff changes {lines} lines, more than a reviewable {}; a diff this size \
                     is usually several tasks: review it in parts, or split the spec next time",
                    config.max_lines
                ),
            ));
        }
        if files.len() > config.max_files {
            findings.push(Finding::new(
                "diff-size/files",
                Severity::Warning,
                format!(
                    "the diff touches {} files, more than a reviewable {}; split the spec next time",
                    files.len(),
                    config.max_files
                ),
            ));
        }
        findings
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<String> {
        agenthost_policy::config_errors::<Config>(config)
    }
}

agenthost_policy::export_policy!(DiffSize, [Review, ValidateConfig]);

#[cfg(test)]
mod tests {
    use super::*;
    use agenthost_policy::{ChangeKind, ChangedFile, RunResult};

    fn request(files: usize, lines_each: u32, config: serde_json::Value) -> ReviewRequest {
        ReviewRequest {
            config,
            spec: serde_json::from_value(serde_json::json!({"id": "t", "title": "T"})).unwrap(),
            run: RunResult {
                changed_files: (0..files)
                    .map(|i| ChangedFile {
                        path: format!("src/f{i}.rs"),
                        old_path: None,
                        kind: ChangeKind::Modified,
                        added_lines: lines_each,
                        removed_lines: 0,
                    })
                    .collect(),
                ..RunResult::default()
            },
        }
    }

    fn rules(request: &ReviewRequest) -> Vec<String> {
        DiffSize
            .review(request)
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn a_small_diff_passes() {
        assert_eq!(
            rules(&request(3, 100, serde_json::json!({}))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_seeds_400_lines_across_12_files_is_too_big_by_lines() {
        assert_eq!(
            rules(&request(12, 40, serde_json::json!({}))),
            vec!["diff-size/lines"]
        );
        assert_eq!(
            rules(&request(13, 1, serde_json::json!({}))),
            vec!["diff-size/files"]
        );
    }

    #[test]
    fn limits_are_configurable_and_checked() {
        let config = serde_json::json!({ "max_lines": 1000, "max_files": 20 });
        assert_eq!(rules(&request(13, 40, config)), Vec::<String>::new());
        let errors = DiffSize.validate_config(&serde_json::json!({ "max_lines": "many" }));
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}

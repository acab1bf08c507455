//! `scope-guard`: agenthost's built-in review policy, an ordinary SDK user.
//!
//! Every changed file must match a Modify or Create entry of the spec's Scope and no Do NOT
//! modify entry; a rename must be allowed at both ends. Anything else is a blocking finding:
//! the kernel sandbox grants create rights per directory, so this per-file check is what
//! makes the Scope exact.
//!
//! Rules: `scope-guard/out-of-scope` and `scope-guard/forbidden` (errors). No config.

use agenthost_policy::{
    ChangeKind, Finding, Hook, Policy, ReviewRequest, Scope, ScopeEntry, Severity,
};

/// The policy.
struct ScopeGuard;

impl Policy for ScopeGuard {
    const HOOKS: &'static [Hook] = &[Hook::Review];

    fn review(&self, request: &ReviewRequest) -> Vec<Finding> {
        let scope = &request.spec.scope;
        let mut findings = Vec::new();
        for file in &request.run.changed_files {
            let mut paths = vec![file.path.as_str()];
            if file.kind == ChangeKind::Renamed
                && let Some(old) = &file.old_path
            {
                paths.push(old);
            }
            for path in paths {
                if let Some(finding) = check(scope, path) {
                    findings.push(finding);
                }
            }
        }
        findings
    }
}

agenthost_policy::export_policy!(ScopeGuard, [Review]);

/// The finding for `path`, if it is not allowed.
fn check(scope: &Scope, path: &str) -> Option<Finding> {
    if let Some(entry) = matching(&scope.do_not_modify, path) {
        return Some(
            Finding::new(
                "scope-guard/forbidden",
                Severity::Error,
                format!(
                    "`{path}` was changed, but the Scope says Do NOT modify `{}` (line {}); \
                     send a correction to revert it, or reject the run",
                    entry.written, entry.line
                ),
            )
            .at_path(path),
        );
    }
    if matching(&scope.modify, path).is_some() || matching(&scope.create, path).is_some() {
        return None;
    }
    Some(
        Finding::new(
            "scope-guard/out-of-scope",
            Severity::Error,
            format!(
                "`{path}` was changed, but no Modify or Create entry of the Scope names it; \
                 revert it with a correction, or widen the Scope and relaunch"
            ),
        )
        .at_path(path),
    )
}

fn matching<'a>(entries: &'a [ScopeEntry], path: &str) -> Option<&'a ScopeEntry> {
    entries
        .iter()
        .find(|entry| glob_match(entry.pattern.as_bytes(), path.as_bytes()))
}

/// `*` matches within one path component, `**` across components (`a/**` matches `a/x/y`,
/// `**/x` matches `x` and `a/b/x`), `?` one character; anything else itself.
fn glob_match(pattern: &[u8], path: &[u8]) -> bool {
    match pattern {
        [] => path.is_empty(),
        [b'*', b'*', b'/', rest @ ..] => {
            glob_match(rest, path)
                || path
                    .iter()
                    .enumerate()
                    .any(|(i, c)| *c == b'/' && glob_match(rest, &path[i + 1..]))
        }
        [b'*', b'*', rest @ ..] => (0..=path.len()).any(|i| glob_match(rest, &path[i..])),
        [b'*', rest @ ..] => {
            let component = path.iter().position(|c| *c == b'/').unwrap_or(path.len());
            (0..=component).any(|i| glob_match(rest, &path[i..]))
        }
        [b'?', rest @ ..] => {
            path.first().is_some_and(|c| *c != b'/') && glob_match(rest, &path[1..])
        }
        [c, rest @ ..] => path.first() == Some(c) && glob_match(rest, &path[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agenthost_policy::{ChangedFile, RunResult, Spec};

    fn entry(pattern: &str, line: u32) -> ScopeEntry {
        ScopeEntry {
            written: pattern.into(),
            pattern: pattern.into(),
            is_glob: pattern.contains('*'),
            line,
        }
    }

    fn request(changed: &[(&str, ChangeKind, Option<&str>)]) -> ReviewRequest {
        let spec: Spec =
            serde_json::from_value(serde_json::json!({"id": "t", "title": "T"})).unwrap();
        let mut spec = spec;
        spec.scope = Scope {
            line: Some(10),
            modify: vec![entry("src/components/Dashboard/FilterBar.tsx", 11)],
            create: vec![entry("src/components/Dashboard/*.tsx", 12)],
            do_not_modify: vec![entry("src/api/**", 13)],
            constraints: Vec::new(),
        };
        ReviewRequest {
            config: serde_json::json!({}),
            spec,
            run: RunResult {
                changed_files: changed
                    .iter()
                    .map(|(path, kind, old)| ChangedFile {
                        path: path.to_string(),
                        old_path: old.map(str::to_string),
                        kind: *kind,
                        added_lines: 1,
                        removed_lines: 0,
                    })
                    .collect(),
                ..RunResult::default()
            },
        }
    }

    fn rules(findings: Vec<Finding>) -> Vec<(String, Option<String>)> {
        findings.into_iter().map(|f| (f.rule, f.path)).collect()
    }

    #[test]
    fn changes_inside_the_scope_pass() {
        let findings = ScopeGuard.review(&request(&[
            (
                "src/components/Dashboard/FilterBar.tsx",
                ChangeKind::Modified,
                None,
            ),
            (
                "src/components/Dashboard/DateRangePicker.tsx",
                ChangeKind::Added,
                None,
            ),
        ]));
        assert_eq!(findings, vec![]);
    }

    #[test]
    fn changes_outside_the_scope_block() {
        let findings = ScopeGuard.review(&request(&[
            ("src/api/routes.ts", ChangeKind::Modified, None),
            ("README.md", ChangeKind::Modified, None),
            (
                "src/components/Dashboard/Nested/X.tsx",
                ChangeKind::Added,
                None,
            ),
            (
                "src/components/Dashboard/Moved.tsx",
                ChangeKind::Renamed,
                Some("src/db/q.ts"),
            ),
        ]));
        assert_eq!(
            rules(findings.clone()),
            vec![
                (
                    "scope-guard/forbidden".into(),
                    Some("src/api/routes.ts".into())
                ),
                ("scope-guard/out-of-scope".into(), Some("README.md".into())),
                (
                    "scope-guard/out-of-scope".into(),
                    Some("src/components/Dashboard/Nested/X.tsx".into())
                ),
                (
                    "scope-guard/out-of-scope".into(),
                    Some("src/db/q.ts".into())
                ),
            ]
        );
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
        assert_eq!(
            findings[0].message,
            "`src/api/routes.ts` was changed, but the Scope says Do NOT modify `src/api/**` \
             (line 13); send a correction to revert it, or reject the run"
        );
    }

    #[test]
    fn globs_match_like_the_host() {
        let cases = [
            ("a/**", "a/b/c", true),
            ("a/**", "ab/c", false),
            ("**/x.rs", "x.rs", true),
            ("**/x.rs", "a/b/x.rs", true),
            ("a/*.rs", "a/b.rs", true),
            ("a/*.rs", "a/b/c.rs", false),
            ("a/?.rs", "a/b.rs", true),
            ("a/b.rs", "a/b.rs", true),
            ("a/b.rs", "a/b.rsx", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), path.as_bytes()),
                expected,
                "{pattern} {path}"
            );
        }
    }
}

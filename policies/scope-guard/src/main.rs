//! `scope-guard`: agenthost's built-in review policy, an ordinary SDK user.
//!
//! Every changed file must match a Modify or Create entry of the spec's Scope and no Do NOT
//! modify entry; a rename must be allowed at both ends. Anything else is a blocking finding:
//! the kernel sandbox grants create rights per directory, so this per-file check is what
//! makes the Scope exact.
//!
//! Some files are sensitive: they make other people's machines or CI run code (`.gitmodules`,
//! CI workflows, git hook managers, shell rc files, editor settings, agenthost's own config).
//! A change to one passes only when the Scope names that exact file; a glob is not enough.
//!
//! Rules: `scope-guard/out-of-scope`, `scope-guard/forbidden` and `scope-guard/sensitive`
//! (errors). Config: `sensitive`, a list of globs that replaces the built-in list.

use agenthost_policy::{
    ChangeKind, Finding, Hook, Policy, ReviewRequest, Scope, ScopeEntry, Severity,
};
use serde::Deserialize;

/// The policy.
struct ScopeGuard;

/// The built-in sensitive files: a glob and what such a file is.
const SENSITIVE: &[(&str, &str)] = &[
    (".gitmodules", "git submodule configuration"),
    (
        ".gitattributes",
        "git attributes (filters and diff drivers)",
    ),
    (".github/workflows/**", "a CI workflow"),
    (".github/actions/**", "a CI action"),
    (".gitlab-ci.yml", "a CI pipeline"),
    (".circleci/**", "a CI pipeline"),
    (".husky/**", "a git hook"),
    (".githooks/**", "a git hook"),
    (".pre-commit-config.yaml", "a git hook configuration"),
    ("**/.bashrc", "a shell rc file"),
    ("**/.bash_profile", "a shell rc file"),
    ("**/.profile", "a shell rc file"),
    ("**/.zshrc", "a shell rc file"),
    ("**/.zprofile", "a shell rc file"),
    ("**/.envrc", "a direnv file"),
    (".vscode/**", "editor settings"),
    (".idea/**", "editor settings"),
    ("**/.exrc", "editor settings"),
    ("**/.nvim.lua", "editor settings"),
    (
        "agenthost.toml",
        "agenthost's configuration (policies and sandbox)",
    ),
    // Agent CLIs run code from their project config: whoever starts the CLI in the checkout
    // after accepting would run what an agent planted there.
    (
        ".claude/**",
        "Claude Code project settings (hooks, commands, agents)",
    ),
    (".mcp.json", "MCP servers an agent CLI starts"),
    (
        ".codex/**",
        "Codex project configuration (hooks, MCP servers)",
    ),
    (
        ".gemini/**",
        "Gemini CLI project settings (hooks, MCP servers)",
    ),
    (
        "**/.aider.conf.yml",
        "aider configuration (lint and test commands)",
    ),
];

/// Its settings under `[policies.scope-guard.config]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// Globs of sensitive files, replacing the built-in list.
    sensitive: Option<Vec<String>>,
}

impl Config {
    /// What `path` is, when it is a sensitive file.
    fn sensitive(&self, path: &str) -> Option<&str> {
        match &self.sensitive {
            Some(globs) => globs
                .iter()
                .find(|glob| glob_match(glob.as_bytes(), path.as_bytes()))
                .map(|_| "configured as sensitive"),
            None => SENSITIVE
                .iter()
                .find(|(glob, _)| glob_match(glob.as_bytes(), path.as_bytes()))
                .map(|(_, what)| *what),
        }
    }
}

impl Policy for ScopeGuard {
    const HOOKS: &'static [Hook] = &[Hook::Review, Hook::ValidateConfig];

    fn review(&self, request: &ReviewRequest) -> Vec<Finding> {
        let config = match Config::deserialize(&request.config) {
            Ok(config) => config,
            Err(err) => return vec![Finding::invalid_config("scope-guard", err)],
        };
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
                if let Some(finding) = check(scope, &config, path) {
                    findings.push(finding);
                }
            }
        }
        findings
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<String> {
        agenthost_policy::config_errors::<Config>(config)
    }
}

agenthost_policy::export_policy!(ScopeGuard, [Review, ValidateConfig]);

/// The finding for `path`, if it is not allowed.
fn check(scope: &Scope, config: &Config, path: &str) -> Option<Finding> {
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
    let allowed = matching(&scope.modify, path).or_else(|| matching(&scope.create, path));
    let sensitive = config.sensitive(path);
    match (allowed, sensitive) {
        (Some(_), None) => None,
        (Some(entry), Some(_)) if !entry.is_glob && entry.pattern == path => None,
        (Some(entry), Some(what)) => Some(
            Finding::new(
                "scope-guard/sensitive",
                Severity::Error,
                format!(
                    "`{path}` ({what}) was changed, and the Scope allows it only through the \
                     glob `{}` (line {}); a sensitive file must be named exactly in Modify or \
                     Create",
                    entry.written, entry.line
                ),
            )
            .at_path(path),
        ),
        (None, what) => {
            let what = what.map(|what| format!(" ({what})")).unwrap_or_default();
            Some(
                Finding::new(
                    "scope-guard/out-of-scope",
                    Severity::Error,
                    format!(
                        "`{path}`{what} was changed, but no Modify or Create entry of the \
                         Scope names it; revert it with a correction, or widen the Scope and \
                         relaunch"
                    ),
                )
                .at_path(path),
            )
        }
    }
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
    fn sensitive_files_need_an_exact_entry() {
        let mut request = request(&[
            (".github/workflows/ci.yml", ChangeKind::Modified, None),
            (".vscode/settings.json", ChangeKind::Added, None),
            ("web/.envrc", ChangeKind::Added, None),
            (".gitmodules", ChangeKind::Modified, None),
        ]);
        request.spec.scope.modify = vec![entry(".github/**", 20), entry(".gitmodules", 21)];
        request.spec.scope.create = vec![entry(".vscode/settings.json", 22)];
        let findings = ScopeGuard.review(&request);
        assert_eq!(
            rules(findings.clone()),
            vec![
                (
                    "scope-guard/sensitive".into(),
                    Some(".github/workflows/ci.yml".into())
                ),
                ("scope-guard/out-of-scope".into(), Some("web/.envrc".into())),
            ]
        );
        assert_eq!(
            findings[0].message,
            "`.github/workflows/ci.yml` (a CI workflow) was changed, and the Scope allows it \
             only through the glob `.github/**` (line 20); a sensitive file must be named \
             exactly in Modify or Create"
        );
        assert!(
            findings[1]
                .message
                .starts_with("`web/.envrc` (a direnv file) was changed")
        );
    }

    #[test]
    fn the_sensitive_list_is_configurable() {
        let mut request = request(&[
            (".github/workflows/ci.yml", ChangeKind::Modified, None),
            ("deploy/prod.yaml", ChangeKind::Modified, None),
        ]);
        request.spec.scope.modify = vec![entry("**", 20)];
        request.config = serde_json::json!({"sensitive": ["deploy/**"]});
        assert_eq!(
            rules(ScopeGuard.review(&request)),
            vec![(
                "scope-guard/sensitive".into(),
                Some("deploy/prod.yaml".into())
            )]
        );
        assert_eq!(
            ScopeGuard
                .validate_config(&serde_json::json!({"sensitive": "x"}))
                .len(),
            1
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

//! `spec-quality`: agenthost's built-in acceptance policy, an ordinary SDK user.
//!
//! A spec runs unattended only if it is tight: a concrete Scope, no vague wording, one task,
//! few enough files to review. Rules (all errors unless said otherwise):
//!
//! - `spec-quality/no-scope`: no Scope section, or one that names no file to modify or create.
//! - `spec-quality/vague`: a vague word or phrase ("improve", "clean up", "etc.", ...) or a
//!   feature named without its behavior ("add filtering to the table").
//! - `spec-quality/several-tasks`: one sentence asks for three or more things ("add the
//!   routes, create the form components, connect to the API, add validation").
//! - `spec-quality/too-many-files`: more files in scope than a reviewable task touches.
//! - `spec-quality/missing-section` (warning): nothing says what to build, or how to check it.
//!
//! Config (all optional): `max_files` (8), `max_tasks` (2: how many things one sentence may
//! ask for), `vague_words` (replaces the built-in list), `extra_vague_words` (adds to it).

use agenthost_policy::{AcceptanceRequest, Finding, Hook, Policy, Section, Severity, Spec};
use serde::Deserialize;

/// The policy.
struct SpecQuality;

/// Its settings under `[policies.spec-quality.config]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    max_files: usize,
    max_tasks: usize,
    vague_words: Vec<String>,
    extra_vague_words: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_files: 8,
            max_tasks: 2,
            vague_words: VAGUE.iter().map(|w| w.to_string()).collect(),
            extra_vague_words: Vec::new(),
        }
    }
}

/// Words and phrases that leave a decision to the agent.
const VAGUE: &[&str] = &[
    "improve",
    "improved",
    "improvements",
    "clean up",
    "cleanup",
    "clean-up",
    "tidy up",
    "polish",
    "etc",
    "and so on",
    "and more",
    "as needed",
    "as appropriate",
    "if necessary",
    "make it better",
    "somehow",
    "various",
    "stuff",
];

/// Verbs that start a task of their own.
const TASK_VERBS: &[&str] = &[
    "add",
    "build",
    "change",
    "connect",
    "convert",
    "create",
    "delete",
    "extract",
    "fix",
    "implement",
    "integrate",
    "migrate",
    "move",
    "refactor",
    "remove",
    "rename",
    "replace",
    "rewrite",
    "set",
    "update",
    "wire",
    "write",
];

impl Policy for SpecQuality {
    const HOOKS: &'static [Hook] = &[Hook::Acceptance, Hook::ValidateConfig];

    fn acceptance(&self, request: &AcceptanceRequest) -> Vec<Finding> {
        match Config::deserialize(&request.config) {
            Ok(config) => check(&config, &request.spec),
            Err(err) => vec![Finding::new(
                "spec-quality/config",
                Severity::Error,
                format!("invalid [policies.spec-quality.config]: {err}"),
            )],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<String> {
        match Config::deserialize(config) {
            Ok(_) => Vec::new(),
            Err(err) => vec![err.to_string()],
        }
    }
}

agenthost_policy::export_policy!(SpecQuality, [Acceptance, ValidateConfig]);

/// Every finding on `spec`.
fn check(config: &Config, spec: &Spec) -> Vec<Finding> {
    let mut findings = Vec::new();
    let scope = &spec.scope;
    let files = scope.modify.len() + scope.create.len();
    if scope.line.is_none() || files == 0 {
        let message = if scope.line.is_none() {
            "the spec has no Scope: the agent would decide for itself what to touch"
        } else {
            "the Scope names no file to modify or create"
        };
        findings.push(
            Finding::new(
                "spec-quality/no-scope",
                Severity::Error,
                format!(
                    "{message}; add a `### Scope` section with `- Modify: \\`path\\`` and \
                     `- Create: \\`path\\`` lines naming each file"
                ),
            )
            .with_line(scope.line),
        );
    }
    if files > config.max_files {
        findings.push(
            Finding::new(
                "spec-quality/too-many-files",
                Severity::Error,
                format!(
                    "the Scope names {files} files to modify or create, more than a reviewable \
                     task touches ({}); split it into smaller specs, each with its own Scope",
                    config.max_files
                ),
            )
            .with_line(scope.line),
        );
    }

    let mut vague: Vec<String> = config.vague_words.clone();
    vague.extend(config.extra_vague_words.iter().cloned());
    for (line, text) in prose(spec) {
        let words = words(&text);
        for phrase in &vague {
            if contains_phrase(&words, phrase) {
                findings.push(
                    Finding::new(
                        "spec-quality/vague",
                        Severity::Error,
                        format!(
                            "\"{phrase}\" is vague: the agent will decide what it means; say \
                             exactly what should change and how to tell it worked"
                        ),
                    )
                    .at_line(line),
                );
            }
        }
        if let Some(feature) = unspecified_feature(&words) {
            findings.push(
                Finding::new(
                    "spec-quality/vague",
                    Severity::Error,
                    format!(
                        "\"{feature}\" names a feature, not a behavior (filtering could be text \
                         search, date ranges or saved filters); say which one, on which fields, \
                         with what UI"
                    ),
                )
                .at_line(line),
            );
        }
        for sentence in sentences(&text) {
            let tasks = tasks(&sentence);
            if tasks.len() > config.max_tasks {
                findings.push(
                    Finding::new(
                        "spec-quality/several-tasks",
                        Severity::Error,
                        format!(
                            "this asks for {} things at once ({}); one spec should be one task: \
                             split it into {} specs and launch them in turn",
                            tasks.len(),
                            tasks.join(" / "),
                            tasks.len()
                        ),
                    )
                    .at_line(line),
                );
            }
        }
    }

    let has = |names: &[&str]| {
        spec.sections
            .iter()
            .any(|s| names.iter().any(|n| s.heading.to_lowercase().contains(n)))
    };
    if !has(&["what", "goal", "task", "summary", "problem"]) {
        findings.push(Finding::new(
            "spec-quality/missing-section",
            Severity::Warning,
            "no section says what to build (add a `## What` section)",
        ));
    }
    if !has(&[
        "behavior",
        "behaviour",
        "verify",
        "test",
        "acceptance",
        "done",
    ]) {
        findings.push(Finding::new(
            "spec-quality/missing-section",
            Severity::Warning,
            "no section says how to check the result (add `## Behavior` or `## Verify`)",
        ));
    }
    findings
}

/// Adds an optional line.
trait WithLine {
    fn with_line(self, line: Option<u32>) -> Self;
}

impl WithLine for Finding {
    fn with_line(mut self, line: Option<u32>) -> Self {
        self.line = line;
        self
    }
}

/// The spec's prose, line by line with line numbers: the title and every section but the
/// Scope, inline code removed.
fn prose(spec: &Spec) -> Vec<(u32, String)> {
    let mut lines = vec![(1, strip_code(&spec.title))];
    for section in &spec.sections {
        if is_scope(section) {
            continue;
        }
        lines.push((section.line, strip_code(&section.heading)));
        let mut in_fence = false;
        for (offset, text) in section.text.lines().enumerate() {
            if text.trim_start().starts_with("```") {
                in_fence = !in_fence;
                continue;
            }
            if !in_fence {
                lines.push((section.line + 1 + offset as u32, strip_code(text)));
            }
        }
    }
    lines
}

fn is_scope(section: &Section) -> bool {
    section.heading.trim().eq_ignore_ascii_case("scope")
}

/// The text with `inline code` removed.
fn strip_code(text: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in text.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// Lowercase words, with punctuation as separate one-character tokens.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '-' {
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                words.push(c.to_string());
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn contains_phrase(words: &[String], phrase: &str) -> bool {
    let phrase = self::words(phrase);
    let phrase: Vec<&String> = phrase.iter().filter(|w| *w != ".").collect();
    !phrase.is_empty()
        && words
            .windows(phrase.len())
            .any(|window| window.iter().zip(&phrase).all(|(a, b)| a == *b))
}

/// "add filtering to", "add sorting to": a gerund named as the whole feature.
fn unspecified_feature(words: &[String]) -> Option<String> {
    words.windows(3).find_map(|w| {
        let gerund = w[1].len() > 4 && w[1].ends_with("ing");
        (w[0] == "add" && gerund && w[2] == "to").then(|| format!("add {} to", w[1]))
    })
}

/// Sentences: split at `.`, `!`, `?` and line ends.
fn sentences(text: &str) -> Vec<String> {
    text.split(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The separate tasks one sentence asks for: clauses (split at `,`, `;`, "and", "then")
/// that start with a task verb.
fn tasks(sentence: &str) -> Vec<String> {
    let mut clauses: Vec<Vec<String>> = vec![Vec::new()];
    for word in words(sentence) {
        if word == "," || word == ";" || word == "and" || word == "then" {
            clauses.push(Vec::new());
        } else if let Some(clause) = clauses.last_mut() {
            clause.push(word);
        }
    }
    clauses
        .into_iter()
        .filter(|clause| {
            clause
                .first()
                .is_some_and(|w| TASK_VERBS.contains(&w.as_str()))
        })
        .map(|clause| clause.join(" "))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use agenthost_policy::{Scope, ScopeEntry};

    fn entry(path: &str, line: u32) -> ScopeEntry {
        ScopeEntry {
            written: path.into(),
            pattern: path.into(),
            is_glob: false,
            line,
        }
    }

    fn section(heading: &str, line: u32, text: &str) -> Section {
        Section {
            heading: heading.into(),
            level: 2,
            line,
            text: text.into(),
        }
    }

    /// The seed's example, as the host reads it.
    fn good() -> Spec {
        Spec {
            id: "date-range".into(),
            title: "Add a date range picker to the dashboard filter bar".into(),
            front_matter: Default::default(),
            sections: vec![
                section(
                    "What",
                    3,
                    "Add a `DateRangePicker` next to the status dropdown in `FilterBar`; \
                     choosing a range filters the rows by `created_at`.",
                ),
                section(
                    "Behavior",
                    7,
                    "- No range selected: every row shows.\n- A range shows rows created in it.",
                ),
                section(
                    "Scope",
                    11,
                    "- Modify: `src/components/Dashboard/FilterBar.tsx`\n- Create: `src/components/Dashboard/DateRangePicker.tsx`",
                ),
            ],
            scope: Scope {
                line: Some(11),
                modify: vec![entry("src/components/Dashboard/FilterBar.tsx", 12)],
                create: vec![entry("src/components/Dashboard/DateRangePicker.tsx", 13)],
                do_not_modify: Vec::new(),
                constraints: Vec::new(),
            },
        }
    }

    fn rules(spec: &Spec) -> Vec<(String, Severity)> {
        check(&Config::default(), spec)
            .into_iter()
            .map(|f| (f.rule, f.severity))
            .collect()
    }

    #[test]
    fn the_seed_example_is_accepted_without_findings() {
        assert_eq!(rules(&good()), vec![]);
    }

    #[test]
    fn no_scope_is_rejected() {
        let mut spec = good();
        spec.scope = Scope::default();
        spec.sections.pop();
        let findings = check(&Config::default(), &spec);
        assert_eq!(findings[0].rule, "spec-quality/no-scope");
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(findings[0].message.starts_with("the spec has no Scope"));
    }

    #[test]
    fn vague_wording_is_rejected() {
        for (text, phrase) in [
            ("Add filtering to the table.", "add filtering to"),
            ("Improve the error messages.", "improve"),
            ("Clean up the handlers.", "clean up"),
            ("Support CSV, JSON, etc.", "etc"),
        ] {
            let mut spec = good();
            spec.sections[0].text = text.into();
            let findings = check(&Config::default(), &spec);
            assert_eq!(findings.len(), 1, "{text}: {findings:?}");
            assert_eq!(findings[0].rule, "spec-quality/vague");
            assert_eq!(findings[0].line, Some(4));
            assert!(
                findings[0].message.contains(phrase),
                "{}",
                findings[0].message
            );
        }
    }

    #[test]
    fn several_tasks_in_one_sentence_are_rejected() {
        let mut spec = good();
        spec.sections[0].text =
            "Add the routes, create the form components, connect to the API, add validation."
                .into();
        let findings = check(&Config::default(), &spec);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "spec-quality/several-tasks");
        assert_eq!(
            findings[0].message,
            "this asks for 4 things at once (add the routes / create the form components / \
             connect to the api / add validation); one spec should be one task: split it into \
             4 specs and launch them in turn"
        );
    }

    #[test]
    fn too_many_files_are_rejected_and_the_limit_is_configurable() {
        let mut spec = good();
        spec.scope.modify = (0..9).map(|i| entry(&format!("src/f{i}.rs"), 12)).collect();
        assert_eq!(
            rules(&spec),
            vec![("spec-quality/too-many-files".to_string(), Severity::Error)]
        );
        let config: Config =
            serde_json::from_value(serde_json::json!({ "max_files": 12 })).unwrap();
        assert_eq!(check(&config, &spec), vec![]);
    }

    #[test]
    fn code_and_the_scope_section_are_not_prose() {
        let mut spec = good();
        spec.sections[0].text = "Call `improve()` here.\n```\netc\n```".into();
        spec.sections[2].text = "- Do NOT clean up `api/`".into();
        assert_eq!(rules(&spec), vec![]);
    }

    #[test]
    fn missing_sections_are_warnings() {
        let mut spec = good();
        spec.sections.retain(|s| s.heading == "Scope");
        assert_eq!(
            rules(&spec),
            vec![
                (
                    "spec-quality/missing-section".to_string(),
                    Severity::Warning
                ),
                (
                    "spec-quality/missing-section".to_string(),
                    Severity::Warning
                ),
            ]
        );
    }

    #[test]
    fn config_is_validated() {
        let errors = SpecQuality.validate_config(&serde_json::json!({ "max_file": 3 }));
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("unknown field `max_file`"),
            "{}",
            errors[0]
        );
        assert_eq!(
            SpecQuality.validate_config(&serde_json::json!({})),
            Vec::<String>::new()
        );
    }
}

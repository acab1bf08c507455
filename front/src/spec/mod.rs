//! Task specs: Markdown files with optional TOML front matter, read into a [`Spec`].
//!
//! The parser does no I/O beyond reading the file it is given (and, in [`repo_check`], the
//! repository the caller names). It never stops at the first problem: [`parse`] returns the
//! spec it could read together with every [`SpecProblem`] it found, each pointing at its
//! line.

pub(crate) mod front_matter;
mod markdown;
pub(crate) mod problem;
pub mod repo_check;
pub(crate) mod scope;
pub(crate) mod scope_path;
pub(crate) mod source;

use std::path::Path;

use serde::Serialize;

pub(crate) use front_matter::FrontMatter;
pub use problem::SpecProblem;
pub use scope::{Scope, ScopeEntry, ScopeKind};
pub use source::SpecSource;

/// A task spec, as read from its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spec {
    /// Short identifier: the front matter's `id`, else a slug of the title, else of the file
    /// name.
    pub id: String,
    /// The front matter's `title`, else the first `#` heading, else the file name.
    pub title: String,
    /// The machine-readable fields.
    pub front_matter: FrontMatter,
    /// Every section, in order.
    pub sections: Vec<Section>,
    /// What the agent may and may not touch.
    pub scope: Scope,
}

impl Spec {
    /// The test command from the front matter, if it names one.
    pub fn test_command(&self) -> Option<&str> {
        self.front_matter.test.as_deref()
    }
}

/// A part of the spec under one heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// The heading's text.
    pub heading: String,
    /// 1 for `#`, up to 6.
    pub level: u8,
    /// 1-based line of the heading.
    pub line: usize,
    /// The Markdown under the heading, up to the next heading, trimmed.
    pub text: String,
}

/// The outcome of parsing one spec file.
#[derive(Debug, Clone)]
pub struct ParsedSpec {
    /// The file's text (lossily decoded if it was not UTF-8).
    pub source: SpecSource,
    /// The spec, unless the file could not be read as one at all (not UTF-8).
    pub spec: Option<Spec>,
    /// Every problem found, in file order.
    pub problems: Vec<SpecProblem>,
}

impl ParsedSpec {
    /// Whether any problem is a parse error (the file cannot be read as a spec as written).
    pub fn has_parse_error(&self) -> bool {
        self.problems.iter().any(SpecProblem::is_parse_error)
    }

    /// Whether any problem has severity error.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(SpecProblem::is_error)
    }

    /// Each problem as a miette report with this file's text attached, ready to render.
    pub fn diagnostics(&self) -> impl Iterator<Item = miette::Report> + '_ {
        self.problems.iter().map(|problem| {
            miette::Report::new(problem.clone()).with_source_code(self.source.named_source())
        })
    }

    /// Adds a problem found later (against a repository or a configuration), keeping the
    /// problems in file order.
    pub fn push_problem(&mut self, problem: SpecProblem) {
        self.problems.push(problem);
        sort_problems(&mut self.problems);
    }
}

/// Parses a spec from its bytes. `name` is how the file is called in diagnostics, and its
/// stem is the last resort for the id and title.
pub fn parse(name: &str, bytes: &[u8]) -> ParsedSpec {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let offset = err.valid_up_to();
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            let source = SpecSource::new(name, lossy);
            // In the lossy text the invalid byte became U+FFFD at the same offset.
            let span = (offset, 1).into();
            return ParsedSpec {
                source,
                spec: None,
                problems: vec![SpecProblem::NotUtf8 { offset, span }],
            };
        }
    };
    let source = SpecSource::new(name, text);
    let mut problems = Vec::new();
    let text = source.text();

    let (front_matter, body_start) = match front_matter::split(text) {
        Ok(None) => (FrontMatter::default(), 0),
        Ok(Some(split)) => match front_matter::parse(&text[split.toml.clone()], split.toml.start) {
            Ok(front_matter) => (front_matter, split.body_start),
            Err(problem) => {
                problems.push(problem);
                (FrontMatter::default(), split.body_start)
            }
        },
        Err(problem) => {
            problems.push(problem);
            (FrontMatter::default(), 0)
        }
    };

    let document = markdown::parse(text, body_start);
    let sections: Vec<Section> = document
        .headings
        .iter()
        .map(|h| Section {
            heading: h.text.clone(),
            level: h.level,
            line: source.line(h.span.start),
            text: text[h.body.clone()].trim().to_string(),
        })
        .collect();

    let stem = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string());
    let title = front_matter
        .title
        .clone()
        .or_else(|| {
            document
                .headings
                .iter()
                .find(|h| h.level == 1 && !h.text.is_empty())
                .map(|h| h.text.clone())
        })
        .unwrap_or_else(|| stem.clone());
    let id = front_matter
        .id
        .clone()
        .map(slug::slugify)
        .filter(|id| !id.is_empty())
        .or_else(|| Some(slug_of_title(&title)).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| {
            let s = slug::slugify(&stem);
            if s.is_empty() { "task".to_string() } else { s }
        });

    let scope_headings: Vec<_> = document
        .headings
        .iter()
        .filter(|h| is_scope_heading(&h.text))
        .collect();
    let scope = match scope_headings.as_slice() {
        [] => {
            let span = document
                .headings
                .first()
                .map_or((body_start, 0).into(), |h| h.span.clone().into());
            problems.push(SpecProblem::MissingScope { span });
            Scope::default()
        }
        [first, rest @ ..] => {
            for duplicate in rest {
                problems.push(SpecProblem::DuplicateScope {
                    span: trim_newline(text, duplicate.span.clone()).into(),
                    first: trim_newline(text, first.span.clone()).into(),
                });
            }
            let events: Vec<_> = document
                .events
                .iter()
                .filter(|(_, r)| r.start >= first.extent.start && r.start < first.extent.end)
                .cloned()
                .collect();
            let (scope, scope_problems) =
                scope::read(&source, source.line(first.span.start), &events);
            problems.extend(scope_problems);
            problems.extend(validate_scope(
                &scope,
                trim_newline(text, first.span.clone()),
            ));
            problems.extend(deny_outside_scope(text, &document, first.extent.clone()));
            scope
        }
    };

    sort_problems(&mut problems);
    let spec = Spec {
        id,
        title,
        front_matter,
        sections,
        scope,
    };
    ParsedSpec {
        source,
        spec: Some(spec),
        problems,
    }
}

/// Reads and parses the spec at `path`.
pub fn read(path: &Path) -> std::io::Result<ParsedSpec> {
    let bytes = fs_err::read(path)?;
    Ok(parse(&path.display().to_string(), &bytes))
}

/// Whether a heading opens the Scope section: its first word is "scope", in any case.
fn is_scope_heading(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .is_some_and(|w| w.eq_ignore_ascii_case("scope"))
}

/// A slug of the title, cut at a word boundary to at most 48 characters.
fn slug_of_title(title: &str) -> String {
    let full = slug::slugify(title);
    if full.len() <= 48 {
        return full;
    }
    let mut out = String::new();
    for word in full.split('-') {
        if !out.is_empty() && out.len() + 1 + word.len() > 48 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        full.chars().take(48).collect()
    } else {
        out
    }
}

/// The range without its trailing newline, for labels that sit on one line.
fn trim_newline(text: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let trimmed = text[range.clone()].trim_end();
    range.start..range.start + trimmed.len()
}

/// Checks that need the whole Scope: something to write, no duplicates, nothing both
/// allowed and denied.
fn validate_scope(scope: &Scope, heading: std::ops::Range<usize>) -> Vec<SpecProblem> {
    let mut problems = Vec::new();
    if scope.modify.is_empty() && scope.create.is_empty() {
        problems.push(SpecProblem::EmptyScope {
            span: heading.into(),
        });
    }
    let mut seen: Vec<&ScopeEntry> = Vec::new();
    for entry in scope.entries() {
        if let Some(first) = seen.iter().find(|e| e.pattern == entry.pattern) {
            problems.push(SpecProblem::DuplicatePath {
                path: entry.written.clone(),
                span: entry.span.clone().into(),
                first: first.span.clone().into(),
            });
        } else {
            seen.push(entry);
        }
    }
    let denies: Vec<_> = scope
        .do_not_modify
        .iter()
        .map(|d| (d, d.scope_path().matcher()))
        .collect();
    for entry in scope.modify.iter().chain(&scope.create) {
        // A deny pattern covers an allowed entry when it matches the entry's path, or (for a
        // glob entry) the glob text itself, as `src/**` matches `src/api/**`.
        if let Some((deny, _)) = denies
            .iter()
            .find(|(d, matcher)| d.pattern != entry.pattern && matcher.is_match(&entry.pattern))
        {
            problems.push(SpecProblem::AllowedAndDenied {
                path: entry.written.clone(),
                kind: match entry.kind {
                    ScopeKind::Create => "Create",
                    _ => "Modify",
                }
                .to_string(),
                deny: deny.written.clone(),
                span: entry.span.clone().into(),
                deny_span: deny.span.clone().into(),
            });
        }
    }
    problems
}

/// Warns about `Do NOT modify `path`` lines outside the Scope section, which the sandbox
/// does not see.
fn deny_outside_scope(
    text: &str,
    document: &markdown::Document<'_>,
    scope: std::ops::Range<usize>,
) -> Vec<SpecProblem> {
    let mut problems = Vec::new();
    let body_start = document
        .events
        .first()
        .map_or(document.end, |(_, r)| r.start);
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let range = offset..offset + line.len();
        offset += line.len();
        if range.start < body_start
            || scope.contains(&range.start)
            || document
                .code_blocks
                .iter()
                .any(|b| b.contains(&range.start))
        {
            continue;
        }
        let content = line
            .trim_start()
            .trim_start_matches(['-', '*', '+', '>'])
            .trim_start()
            .replace("**", "")
            .replace("__", "");
        let lower = content.to_lowercase();
        let is_deny = ["do not modify", "don't modify", "don\u{2019}t modify"]
            .iter()
            .any(|k| lower.starts_with(k));
        if is_deny && content.contains('`') {
            problems.push(SpecProblem::DenyOutsideScope {
                span: trim_newline(text, range).into(),
            });
        }
    }
    problems
}

/// Orders problems by their position in the file.
fn sort_problems(problems: &mut [SpecProblem]) {
    problems.sort_by_key(|p| p.primary_span().map_or(0, |s| s.offset()));
}

#[cfg(test)]
mod tests;

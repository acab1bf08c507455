//! Reads a Scope section's list items into Modify / Create / Do NOT modify entries and
//! free-text constraints.
//!
//! Accepted forms, keywords in any case:
//!
//! ```markdown
//! - Modify: `src/a.rs`, `src/b.rs` and `src/c.rs`
//! - Create: `src/new.rs`
//! - Do NOT modify `src/api/**`
//! - Modify:
//!   - `src/d.rs`
//!   - `src/e.rs`
//! - Do NOT change the existing filter logic        (a constraint)
//! ```
//!
//! Lines of a plain paragraph are read one by one, the same way as list items.

use std::ops::Range;

use pulldown_cmark::{Event, Tag, TagEnd};
use serde::Serialize;

use super::problem::SpecProblem;
use super::scope_path::{PathError, ScopePath};
use super::source::SpecSource;
use crate::suggest::nearest;

/// What a scope entry allows or forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScopeKind {
    /// An existing file the agent may change.
    Modify,
    /// A new file the agent may create.
    Create,
    /// Paths the agent must not change, even where Modify or Create would allow it.
    DoNotModify,
}

impl ScopeKind {
    /// The keyword as users write it.
    pub fn keyword(self) -> &'static str {
        match self {
            ScopeKind::Modify => "Modify:",
            ScopeKind::Create => "Create:",
            ScopeKind::DoNotModify => "Do NOT modify",
        }
    }

    /// Short lowercase name, as in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ScopeKind::Modify => "modify",
            ScopeKind::Create => "create",
            ScopeKind::DoNotModify => "do-not-modify",
        }
    }
}

/// One path or glob named in the Scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeEntry {
    /// What the entry allows or forbids.
    pub kind: ScopeKind,
    /// The path exactly as written between the backticks.
    pub written: String,
    /// The normalized pattern (see `ScopePath`).
    pub pattern: String,
    /// Whether `pattern` is a glob or directory rather than a single file.
    pub is_glob: bool,
    /// 1-based line of the path.
    pub line: usize,
    /// 1-based column of the opening backtick.
    pub column: usize,
    /// Byte range of the backticked path in the file.
    #[serde(skip)]
    pub span: Range<usize>,
}

impl ScopeEntry {
    /// The validated path of this entry.
    pub fn scope_path(&self) -> ScopePath {
        ScopePath {
            pattern: self.pattern.clone(),
            is_glob: self.is_glob,
        }
    }
}

/// A free-text rule from the Scope that names no path: passed to policies and to the agent,
/// not enforceable by the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Constraint {
    /// The text, inline code kept in backticks.
    pub text: String,
    /// 1-based line where it starts.
    pub line: usize,
}

/// The Scope section, read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// 1-based line of the Scope heading, if there is one.
    pub line: Option<usize>,
    /// Existing files the agent may change.
    pub modify: Vec<ScopeEntry>,
    /// New files the agent may create.
    pub create: Vec<ScopeEntry>,
    /// Paths the agent must not change.
    pub do_not_modify: Vec<ScopeEntry>,
    /// Free-text rules that name no path.
    pub constraints: Vec<Constraint>,
}

impl Scope {
    /// All path entries: Modify, then Create, then Do NOT modify.
    pub fn entries(&self) -> impl Iterator<Item = &ScopeEntry> {
        self.modify
            .iter()
            .chain(&self.create)
            .chain(&self.do_not_modify)
    }
}

/// A piece of inline content of an item or paragraph line.
#[derive(Debug, Clone)]
enum Piece {
    Text(String, Range<usize>),
    Code(String, Range<usize>),
}

impl Piece {
    fn range(&self) -> &Range<usize> {
        match self {
            Piece::Text(_, r) | Piece::Code(_, r) => r,
        }
    }
}

/// How the items of a nested list are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// As entries of their own.
    Free,
    /// As paths of the parent's keyword.
    Under(ScopeKind),
}

/// An open list item.
#[derive(Debug)]
struct Frame {
    start: usize,
    pieces: Vec<Piece>,
    context: Context,
    children: Option<Context>,
}

/// Collects entries, constraints and problems while walking the Scope's events.
struct Reader<'s> {
    source: &'s SpecSource,
    scope: Scope,
    problems: Vec<SpecProblem>,
}

/// Reads the Scope from `events` (the events within the Scope section).
pub(crate) fn read(
    source: &SpecSource,
    heading_line: usize,
    events: &[(Event<'_>, Range<usize>)],
) -> (Scope, Vec<SpecProblem>) {
    let mut reader = Reader {
        source,
        scope: Scope {
            line: Some(heading_line),
            ..Scope::default()
        },
        problems: Vec::new(),
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut paragraph: Option<Vec<Piece>> = None;
    let mut depth_in_ignored = 0usize;

    for (event, range) in events {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::Heading { .. } | Tag::HtmlBlock) => {
                depth_in_ignored += 1;
            }
            Event::End(TagEnd::CodeBlock | TagEnd::Heading(_) | TagEnd::HtmlBlock) => {
                depth_in_ignored = depth_in_ignored.saturating_sub(1);
            }
            _ if depth_in_ignored > 0 => {}
            Event::Start(Tag::Item) => {
                let context = stack
                    .last()
                    .and_then(|parent| parent.children)
                    .unwrap_or(Context::Free);
                stack.push(Frame {
                    start: range.start,
                    pieces: Vec::new(),
                    context,
                    children: None,
                });
            }
            Event::Start(Tag::List(_)) => {
                if let Some(frame) = stack.last_mut()
                    && frame.children.is_none()
                {
                    frame.children = Some(reader.finish_head(frame, true));
                }
            }
            Event::End(TagEnd::Item) => {
                if let Some(mut frame) = stack.pop()
                    && frame.children.is_none()
                {
                    reader.finish_head(&mut frame, false);
                }
            }
            Event::Start(Tag::Paragraph) if stack.is_empty() => paragraph = Some(Vec::new()),
            Event::End(TagEnd::Paragraph) if stack.is_empty() => {
                if let Some(pieces) = paragraph.take() {
                    reader.finish_line(pieces);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(frame) = stack.last_mut() {
                    if frame.children.is_none() {
                        frame.pieces.push(Piece::Text(" ".into(), range.clone()));
                    }
                } else if let Some(pieces) = paragraph.as_mut() {
                    let line = std::mem::take(pieces);
                    reader.finish_line(line);
                }
            }
            Event::Text(text) => push_piece(
                &mut stack,
                &mut paragraph,
                Piece::Text(text.to_string(), range.clone()),
            ),
            Event::Code(code) => push_piece(
                &mut stack,
                &mut paragraph,
                Piece::Code(code.to_string(), range.clone()),
            ),
            _ => {}
        }
    }
    (reader.scope, reader.problems)
}

fn push_piece(stack: &mut [Frame], paragraph: &mut Option<Vec<Piece>>, piece: Piece) {
    if let Some(frame) = stack.last_mut() {
        if frame.children.is_none() {
            frame.pieces.push(piece);
        }
    } else if let Some(pieces) = paragraph.as_mut() {
        pieces.push(piece);
    }
}

/// The keyword an entry starts with, and the byte length of the text it used.
fn keyword(lead: &str) -> Option<(ScopeKind, usize)> {
    let lower = lead.to_lowercase();
    let words: Vec<(usize, &str)> = word_offsets(&lower);
    let strip = |w: &str| w.trim_end_matches(':').to_string();
    let first = words.first().map(|(_, w)| strip(w))?;
    let end_of = |index: usize| words[index].0 + words[index].1.len();
    match first.as_str() {
        "modify" => Some((ScopeKind::Modify, end_of(0))),
        "create" => Some((ScopeKind::Create, end_of(0))),
        "don't" | "don\u{2019}t" if words.len() > 1 && strip(words[1].1) == "modify" => {
            Some((ScopeKind::DoNotModify, end_of(1)))
        }
        "do" if words.len() > 2 && words[1].1 == "not" && strip(words[2].1) == "modify" => {
            Some((ScopeKind::DoNotModify, end_of(2)))
        }
        _ => None,
    }
}

/// Words of `text` with their byte offsets.
fn word_offsets(text: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, &text[s..]));
    }
    words
}

/// Renders pieces as text, inline code in backticks.
fn render(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t, _) => out.push_str(t),
            Piece::Code(c, _) => {
                out.push('`');
                out.push_str(c);
                out.push('`');
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Reader<'_> {
    /// Reads a list item's own content (before any nested list); returns how its nested
    /// items are to be read.
    fn finish_head(&mut self, frame: &mut Frame, has_children: bool) -> Context {
        let pieces = std::mem::take(&mut frame.pieces);
        match frame.context {
            Context::Under(kind) => {
                self.read_nested(kind, &pieces, frame.start);
                Context::Under(kind)
            }
            Context::Free => self.read_entry(&pieces, frame.start, has_children),
        }
    }

    /// Reads one line of a plain paragraph.
    fn finish_line(&mut self, pieces: Vec<Piece>) {
        let start = pieces.first().map_or(0, |p| p.range().start);
        self.read_entry(&pieces, start, false);
    }

    /// An item or line that may start with a keyword.
    fn read_entry(&mut self, pieces: &[Piece], start: usize, has_children: bool) -> Context {
        let text = render(pieces);
        if text.is_empty() {
            return Context::Free;
        }
        let lead: String = pieces
            .iter()
            .take_while(|p| matches!(p, Piece::Text(..)))
            .map(|p| match p {
                Piece::Text(t, _) => t.as_str(),
                Piece::Code(..) => "",
            })
            .collect();
        let codes: Vec<(&str, &Range<usize>)> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Code(c, r) => Some((c.as_str(), r)),
                Piece::Text(..) => None,
            })
            .collect();
        let line = self.source.line(start);
        let span = span_of(pieces, start);

        let Some((kind, used)) = keyword(lead.trim_start()) else {
            let misspelt =
                !codes.is_empty() && self.check_misspelt_keyword(lead.trim_start(), span.clone());
            if !misspelt {
                self.scope.constraints.push(Constraint { text, line });
            }
            return Context::Free;
        };

        if !codes.is_empty() {
            for (code, range) in codes {
                self.add_path(kind, code, range.clone());
            }
            return Context::Under(kind);
        }
        if has_children {
            return Context::Under(kind);
        }
        let rest = lead
            .trim_start()
            .get(used..)
            .unwrap_or("")
            .trim_start_matches(':')
            .trim();
        match (kind, rest.is_empty()) {
            (_, true) => self.problems.push(SpecProblem::NoPath {
                keyword: kind.keyword().to_string(),
                span: span.into(),
            }),
            (ScopeKind::DoNotModify, false) => {
                self.scope.constraints.push(Constraint { text, line });
            }
            (_, false) => self.problems.push(not_backticked(kind, rest, span)),
        }
        Context::Free
    }

    /// An item nested under a keyword: its backticked paths belong to the keyword.
    fn read_nested(&mut self, kind: ScopeKind, pieces: &[Piece], start: usize) {
        let text = render(pieces);
        if text.is_empty() {
            return;
        }
        let mut found = false;
        for piece in pieces {
            if let Piece::Code(code, range) = piece {
                self.add_path(kind, code, range.clone());
                found = true;
            }
        }
        if found {
            return;
        }
        let span = span_of(pieces, start);
        if kind == ScopeKind::DoNotModify {
            let line = self.source.line(start);
            self.scope.constraints.push(Constraint { text, line });
        } else {
            self.problems.push(not_backticked(kind, &text, span));
        }
    }

    /// A line like "Modfy: `x`": a likely typo of a keyword in front of a path. Returns
    /// whether it was one (and a problem was recorded).
    fn check_misspelt_keyword(&mut self, lead: &str, span: Range<usize>) -> bool {
        let words = word_offsets(lead);
        let candidate = match words.as_slice() {
            [(_, word)] => word.trim_end_matches(':'),
            [(_, first), (_, second), (_, third), ..]
                if first.eq_ignore_ascii_case("do") && second.eq_ignore_ascii_case("not") =>
            {
                third.trim_end_matches(':')
            }
            _ => return false,
        };
        if candidate.is_empty() {
            return false;
        }
        let keywords = ["modify", "create"];
        if let Some(best) = nearest(candidate, keywords) {
            let suggestion = if words.len() > 1 {
                "Do NOT modify".to_string()
            } else {
                let mut s = best.to_string();
                s[..1].make_ascii_uppercase();
                format!("{s}:")
            };
            self.problems.push(SpecProblem::UnknownKeyword {
                word: lead.trim().to_string(),
                help: format!(
                    "did you mean `{suggestion}`? Scope entries start with `Modify:`, `Create:` or `Do NOT modify`"
                ),
                span: span.into(),
            });
            return true;
        }
        false
    }

    /// Validates one backticked path and records it, or the problem with it.
    fn add_path(&mut self, kind: ScopeKind, written: &str, span: Range<usize>) {
        let problem_span = span.clone().into();
        match ScopePath::parse(written) {
            Ok(path) => {
                let (line, column) = self.source.line_col(span.start);
                let entry = ScopeEntry {
                    kind,
                    written: written.to_string(),
                    pattern: path.pattern,
                    is_glob: path.is_glob,
                    line,
                    column,
                    span,
                };
                match kind {
                    ScopeKind::Modify => self.scope.modify.push(entry),
                    ScopeKind::Create => self.scope.create.push(entry),
                    ScopeKind::DoNotModify => self.scope.do_not_modify.push(entry),
                }
            }
            Err(error) => {
                let path = written.to_string();
                self.problems.push(match error {
                    PathError::Empty => SpecProblem::EmptyPath {
                        keyword: kind.keyword().to_string(),
                        span: problem_span,
                    },
                    PathError::Absolute(suggestion) => SpecProblem::AbsolutePath {
                        path,
                        suggestion,
                        span: problem_span,
                    },
                    PathError::Parent => SpecProblem::ParentComponent {
                        path,
                        span: problem_span,
                    },
                    PathError::GitDir => SpecProblem::GitPath {
                        path,
                        span: problem_span,
                    },
                    PathError::Backslash(suggestion) => SpecProblem::Backslash {
                        path,
                        suggestion,
                        span: problem_span,
                    },
                    PathError::InvalidGlob(reason) => SpecProblem::InvalidGlob {
                        path,
                        reason,
                        span: problem_span,
                    },
                });
            }
        }
    }
}

/// The span covering an entry's pieces (or its start, if it has none).
fn span_of(pieces: &[Piece], start: usize) -> Range<usize> {
    let first = pieces.first().map_or(start, |p| p.range().start);
    let last = pieces.last().map_or(start, |p| p.range().end);
    first..last.max(first)
}

/// "Modify: src/a.rs" — text where a backticked path belongs.
fn not_backticked(kind: ScopeKind, rest: &str, span: Range<usize>) -> SpecProblem {
    let looks_like_paths = rest
        .split([',', ' '])
        .filter(|w| !w.is_empty() && *w != "and")
        .all(|w| w.contains('/') || w.contains('.') || w.contains('*'));
    let help = if looks_like_paths {
        let paths = rest
            .split([',', ' '])
            .filter(|w| !w.is_empty() && *w != "and")
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("put each path in backticks: {} {paths}", kind.keyword())
    } else {
        format!(
            "name concrete files, each in backticks, e.g. {} `src/components/FilterBar.tsx`; a description in words cannot be enforced",
            kind.keyword()
        )
    };
    SpecProblem::NotBackticked {
        keyword: kind.keyword().to_string(),
        help,
        span: span.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_in_any_case() {
        assert_eq!(keyword("Modify:").map(|k| k.0), Some(ScopeKind::Modify));
        assert_eq!(keyword("MODIFY ").map(|k| k.0), Some(ScopeKind::Modify));
        assert_eq!(keyword("create:").map(|k| k.0), Some(ScopeKind::Create));
        assert_eq!(
            keyword("Do NOT modify ").map(|k| k.0),
            Some(ScopeKind::DoNotModify)
        );
        assert_eq!(
            keyword("do not Modify:").map(|k| k.0),
            Some(ScopeKind::DoNotModify)
        );
        assert_eq!(
            keyword("Don't modify").map(|k| k.0),
            Some(ScopeKind::DoNotModify)
        );
        assert_eq!(keyword("Do NOT change the logic"), None);
        assert_eq!(keyword("Modifying is fine"), None);
        assert_eq!(
            keyword("Do NOT modify any API routes").map(|k| k.1),
            Some(13)
        );
    }
}

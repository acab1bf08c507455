//! Everything that can be wrong with a spec, as typed diagnostics.
//!
//! Each variant says what is wrong, points at the offending bytes, and carries a `help:`
//! line with the way out. Spans are byte ranges into the whole spec file; the source text is
//! attached when the problem is rendered (see [`super::ParsedSpec::diagnostics`]).

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

/// One problem found in a spec.
#[derive(Debug, Clone, Error, Diagnostic, PartialEq, Eq)]
pub enum SpecProblem {
    /// The file is not valid UTF-8.
    #[error("the spec is not valid UTF-8 (invalid byte at offset {offset})")]
    #[diagnostic(
        code(spec::not_utf8),
        help("save the file as UTF-8; the spec is Markdown text")
    )]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
        /// Where the invalid byte is (in the lossy text).
        #[label("not UTF-8")]
        span: SourceSpan,
    },

    /// A `+++` front-matter block was opened and never closed.
    #[error("front matter opened with `+++` is never closed")]
    #[diagnostic(
        code(spec::front_matter::unclosed),
        help("end the front matter with a line containing only `+++`")
    )]
    FrontMatterUnclosed {
        /// The opening `+++`.
        #[label("opened here")]
        span: SourceSpan,
    },

    /// The front matter is not valid TOML, or a value has the wrong type.
    #[error("invalid front matter: {message}")]
    #[diagnostic(code(spec::front_matter::invalid))]
    FrontMatterInvalid {
        /// What the TOML parser said.
        message: String,
        /// How to fix it.
        #[help]
        help: String,
        /// Where.
        #[label("here")]
        span: SourceSpan,
    },

    /// The front matter has a key agenthost does not know.
    #[error("unknown front-matter key `{key}`")]
    #[diagnostic(code(spec::front_matter::unknown_key))]
    FrontMatterUnknownKey {
        /// The key as written.
        key: String,
        /// The nearest known key and the list of known keys.
        #[help]
        help: String,
        /// Where.
        #[label("unknown key")]
        span: SourceSpan,
    },

    /// The front matter's `timeout` is not a duration.
    #[error("invalid timeout `{value}`: {reason}")]
    #[diagnostic(
        code(spec::front_matter::timeout),
        help("write a duration such as \"30m\", \"90s\" or \"1h 30m\"")
    )]
    InvalidTimeout {
        /// The value as written.
        value: String,
        /// Why it is not a duration.
        reason: String,
        /// Where.
        #[label("not a duration")]
        span: SourceSpan,
    },

    /// The front matter names an agent profile that the configuration does not define.
    #[error("unknown agent profile `{name}`")]
    #[diagnostic(code(spec::front_matter::unknown_agent))]
    UnknownAgent {
        /// The profile name as written.
        name: String,
        /// The nearest known profile and the list of known profiles.
        #[help]
        help: String,
        /// Where.
        #[label("no such profile")]
        span: SourceSpan,
    },

    /// The spec has no Scope section.
    #[error("the spec has no Scope section")]
    #[diagnostic(
        code(spec::scope::missing),
        help(
            "add a section that says what the agent may touch:\n\n### Scope\n- Modify: `src/path/to/file.rs`\n- Create: `src/path/to/new_file.rs`\n- Do NOT modify `src/api/**`"
        )
    )]
    MissingScope {
        /// The start of the document (or its title).
        #[label("no `Scope` heading in this spec")]
        span: SourceSpan,
    },

    /// The spec has more than one Scope section.
    #[error("the spec has a second Scope section")]
    #[diagnostic(
        code(spec::scope::duplicate),
        help("merge the two Scope sections into one")
    )]
    DuplicateScope {
        /// The second heading.
        #[label("second Scope section")]
        span: SourceSpan,
        /// The first heading.
        #[label("first Scope section")]
        first: SourceSpan,
    },

    /// The Scope names nothing to Modify or Create, so the agent could change nothing.
    #[error("the Scope names nothing to Modify or Create")]
    #[diagnostic(
        code(spec::scope::empty),
        help(
            "list the files the agent may change, each in backticks:\n- Modify: `src/existing.rs`\n- Create: `src/new.rs`"
        )
    )]
    EmptyScope {
        /// The Scope heading.
        #[label("this Scope allows no writes")]
        span: SourceSpan,
    },

    /// A Modify/Create/Do NOT modify entry names no path at all.
    #[error("`{keyword}` names no path")]
    #[diagnostic(
        code(spec::scope::no_path),
        help(
            "put one or more paths in backticks after it: {keyword} `src/file.rs`, `src/other.rs`"
        )
    )]
    NoPath {
        /// The keyword as written.
        keyword: String,
        /// The entry.
        #[label("expected a backticked path")]
        span: SourceSpan,
    },

    /// A Modify/Create entry has text where a backticked path should be.
    #[error("`{keyword}` is followed by text, not a backticked path")]
    #[diagnostic(code(spec::scope::not_backticked))]
    NotBackticked {
        /// The keyword as written.
        keyword: String,
        /// The suggested rewrite.
        #[help]
        help: String,
        /// The text.
        #[label("not a path in backticks")]
        span: SourceSpan,
    },

    /// A Scope entry starts with a word that looks like a misspelt keyword.
    #[error("unknown Scope entry `{word}`")]
    #[diagnostic(code(spec::scope::unknown_keyword))]
    UnknownKeyword {
        /// The word as written.
        word: String,
        /// The nearest keyword.
        #[help]
        help: String,
        /// Where.
        #[label("not Modify, Create or Do NOT modify")]
        span: SourceSpan,
    },

    /// A scope path is empty.
    #[error("empty path in `{keyword}`")]
    #[diagnostic(
        code(spec::path::empty),
        help("write the path between the backticks, or remove them")
    )]
    EmptyPath {
        /// The keyword of the entry.
        keyword: String,
        /// Where.
        #[label("empty")]
        span: SourceSpan,
    },

    /// A scope path is absolute.
    #[error("absolute path `{path}` in Scope")]
    #[diagnostic(
        code(spec::path::absolute),
        help("scope paths are relative to the repository root: write `{suggestion}`")
    )]
    AbsolutePath {
        /// The path as written.
        path: String,
        /// The path made relative.
        suggestion: String,
        /// Where.
        #[label("absolute")]
        span: SourceSpan,
    },

    /// A scope path climbs out with `..`.
    #[error("path `{path}` contains a `..` component")]
    #[diagnostic(
        code(spec::path::parent),
        help(
            "scope paths must stay inside the repository: name the file from the repository root without `..`"
        )
    )]
    ParentComponent {
        /// The path as written.
        path: String,
        /// Where.
        #[label("leaves its directory")]
        span: SourceSpan,
    },

    /// A scope path points into `.git`.
    #[error("path `{path}` points into `.git`")]
    #[diagnostic(
        code(spec::path::git_dir),
        help(
            "`.git` is never writable by an agent (hooks and config there run code later); agenthost commits on the agent's behalf. Remove this path"
        )
    )]
    GitPath {
        /// The path as written.
        path: String,
        /// Where.
        #[label("inside .git")]
        span: SourceSpan,
    },

    /// A scope path uses backslashes.
    #[error("path `{path}` uses backslashes")]
    #[diagnostic(
        code(spec::path::backslash),
        help("separate path components with `/`: write `{suggestion}`")
    )]
    Backslash {
        /// The path as written.
        path: String,
        /// The path with forward slashes.
        suggestion: String,
        /// Where.
        #[label("backslash")]
        span: SourceSpan,
    },

    /// A scope glob does not compile.
    #[error("invalid glob `{path}`: {reason}")]
    #[diagnostic(
        code(spec::path::invalid_glob),
        help(
            "globs use `*` (within one directory), `**` (any depth), `?`, `[abc]` and `{{a,b}}`; check that brackets and braces are closed"
        )
    )]
    InvalidGlob {
        /// The glob as written.
        path: String,
        /// What the glob parser said.
        reason: String,
        /// Where.
        #[label("invalid glob")]
        span: SourceSpan,
    },

    /// A path is both allowed (Modify/Create) and denied (Do NOT modify).
    #[error("`{path}` is both allowed ({kind}) and denied (Do NOT modify `{deny}`)")]
    #[diagnostic(
        code(spec::scope::allowed_and_denied),
        help("decide: remove it from {kind}, or narrow the Do NOT modify pattern")
    )]
    AllowedAndDenied {
        /// The allowed path.
        path: String,
        /// Modify or Create.
        kind: String,
        /// The deny pattern that covers it.
        deny: String,
        /// The allowed entry.
        #[label("allowed here")]
        span: SourceSpan,
        /// The deny entry.
        #[label("denied here")]
        deny_span: SourceSpan,
    },

    /// The same path is listed twice.
    #[error("`{path}` is listed twice")]
    #[diagnostic(
        code(spec::scope::duplicate_path),
        severity(Warning),
        help("remove one of the two entries")
    )]
    DuplicatePath {
        /// The path.
        path: String,
        /// The second entry.
        #[label("again here")]
        span: SourceSpan,
        /// The first entry.
        #[label("first here")]
        first: SourceSpan,
    },

    /// A Modify path or glob matches no file in the repository.
    #[error("Modify `{path}` matches no file in the repository")]
    #[diagnostic(code(spec::repo::modify_missing))]
    ModifyMatchesNothing {
        /// The path as written.
        path: String,
        /// A near miss, or the advice to use Create.
        #[help]
        help: String,
        /// Where.
        #[label("no such file")]
        span: SourceSpan,
    },

    /// Every file a Modify glob matches is denied by a Do NOT modify entry.
    #[error("every file that Modify `{path}` matches is denied by Do NOT modify")]
    #[diagnostic(
        code(spec::repo::modify_all_denied),
        help("narrow the Do NOT modify patterns, or remove this Modify entry")
    )]
    ModifyAllDenied {
        /// The glob as written.
        path: String,
        /// Where.
        #[label("nothing left to modify")]
        span: SourceSpan,
    },

    /// A Create path already exists.
    #[error("Create `{path}` already exists in the repository")]
    #[diagnostic(
        code(spec::repo::create_exists),
        severity(Warning),
        help("if the agent should change the existing file, list it under Modify")
    )]
    CreateExists {
        /// The path as written.
        path: String,
        /// Where.
        #[label("already exists")]
        span: SourceSpan,
    },

    /// A `Do NOT modify` with a path appears outside the Scope section, where it is not enforced.
    #[error("`Do NOT modify` outside the Scope section is not enforced")]
    #[diagnostic(
        code(spec::scope::deny_outside_scope),
        severity(Warning),
        help("move this line into the Scope section so the sandbox enforces it")
    )]
    DenyOutsideScope {
        /// Where.
        #[label("only a request to the agent here")]
        span: SourceSpan,
    },

    /// An acceptance policy rejects the spec (an error finding, in enforce mode).
    #[error("{message}")]
    #[diagnostic(code(policy::rejected))]
    PolicyError {
        /// The finding's message.
        message: String,
        /// Which policy and rule said so.
        #[help]
        help: String,
        /// The line it is about.
        #[label("{rule}")]
        span: Option<SourceSpan>,
        /// The finding's rule.
        rule: String,
    },

    /// An acceptance policy warns about the spec (a warning, or any finding of a policy in
    /// monitor mode).
    #[error("{message}")]
    #[diagnostic(code(policy::warning), severity(Warning))]
    PolicyWarning {
        /// The finding's message.
        message: String,
        /// Which policy and rule said so.
        #[help]
        help: String,
        /// The line it is about.
        #[label("{rule}")]
        span: Option<SourceSpan>,
        /// The finding's rule.
        rule: String,
    },

    /// An acceptance policy notes something about the spec (severity info).
    #[error("{message}")]
    #[diagnostic(code(policy::note), severity(Advice))]
    PolicyNote {
        /// The finding's message.
        message: String,
        /// Which policy and rule said so.
        #[help]
        help: String,
        /// The line it is about.
        #[label("{rule}")]
        span: Option<SourceSpan>,
        /// The finding's rule.
        rule: String,
    },
}

impl SpecProblem {
    /// Whether this problem means the file could not be read as a spec at all (exit code 2),
    /// rather than a spec that was read and found wanting (exit code 1).
    pub fn is_parse_error(&self) -> bool {
        matches!(
            self,
            SpecProblem::NotUtf8 { .. }
                | SpecProblem::FrontMatterUnclosed { .. }
                | SpecProblem::FrontMatterInvalid { .. }
                | SpecProblem::FrontMatterUnknownKey { .. }
        )
    }

    /// Whether this problem blocks the spec (severity error) rather than warns.
    pub fn is_error(&self) -> bool {
        !matches!(
            self.severity(),
            Some(miette::Severity::Warning | miette::Severity::Advice)
        )
    }

    /// The byte span this problem points at first.
    pub fn primary_span(&self) -> Option<SourceSpan> {
        self.labels()
            .and_then(|mut labels| labels.next())
            .map(|label| *label.inner())
    }
}

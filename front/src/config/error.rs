//! Everything that can be wrong with a config file, each with where and what to do.

use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

/// A config file that cannot be used. Each variant that is about a place in a file carries
/// the file's text (named by its path, shared rather than copied) and the span, so the
/// rendered diagnostic shows the line; every variant has a help line saying what to do.
#[derive(Debug, Error, Diagnostic)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {}", path.display())]
    #[diagnostic(help("check that the path is right and that you have permission to read it"))]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },

    /// The file is not UTF-8 text.
    #[error("the config file is not valid UTF-8")]
    #[diagnostic(help("TOML files must be UTF-8: save it in that encoding"))]
    NotUtf8 {
        /// The file, with invalid bytes replaced.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The first invalid byte.
        #[label("first invalid byte")]
        span: SourceSpan,
    },

    /// TOML syntax error, a value of the wrong type, or an unknown key or value.
    #[error("{message}")]
    Toml {
        /// What is wrong, from the TOML parser.
        message: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// Where, when the parser knows.
        #[label("here")]
        span: Option<SourceSpan>,
        /// How to fix it ("did you mean" for unknown names).
        #[help]
        help: String,
    },

    /// `{name}` in a command is not one of the placeholders.
    #[error("unknown placeholder `{{{name}}}` in `{key}`")]
    UnknownPlaceholder {
        /// The name between the braces.
        name: String,
        /// The dotted key of the command, such as `agents.claude.command`.
        key: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The placeholder.
        #[label("not a placeholder")]
        span: SourceSpan,
        /// The nearest placeholder and the full list.
        #[help]
        help: String,
    },

    /// A `{` without its `}`, or a lone `}`, in a command.
    #[error("unmatched `{brace}` in `{key}`")]
    #[diagnostic(help(
        "placeholders look like `{{prompt}}`; write `{{{{` or `}}}}` for a literal brace"
    ))]
    UnmatchedBrace {
        /// The brace.
        brace: char,
        /// The dotted key of the command.
        key: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The brace.
        #[label("unmatched")]
        span: SourceSpan,
    },

    /// A command with no program.
    #[error("`{key}` is empty")]
    #[diagnostic(help(
        "give the program and its arguments, such as [\"my-agent\", \"--prompt\", \"{{prompt}}\"]"
    ))]
    EmptyCommand {
        /// The dotted key of the command.
        key: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The empty list.
        #[label("no program")]
        span: SourceSpan,
    },

    /// An agent profile that no layer gives a `command`.
    #[error("agent profile `{agent}` has no `command`")]
    MissingCommand {
        /// The profile.
        agent: String,
        /// The file that first configures the profile.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The profile's name.
        #[label("defined here")]
        span: SourceSpan,
        /// Add a command, or the built-in profile this is likely a typo of.
        #[help]
        help: String,
    },

    /// A duration that does not parse.
    #[error("invalid duration `{value}` for `{key}`: {reason}")]
    #[diagnostic(help("write a duration such as \"90s\", \"30m\" or \"1h 30m\""))]
    BadDuration {
        /// The text as written.
        value: String,
        /// The dotted key.
        key: String,
        /// Why it does not parse.
        reason: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The value.
        #[label("not a duration")]
        span: SourceSpan,
    },

    /// A `sha256` that is not 64 hex digits.
    #[error("`policies.{policy}.sha256` is not a SHA-256 digest: {reason}")]
    #[diagnostic(help(
        "write the 64 hexadecimal digits that `sha256sum <file.wasm>` prints for the plugin"
    ))]
    BadSha256 {
        /// The policy.
        policy: String,
        /// Why it is not a digest.
        reason: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The value.
        #[label("not 64 hex digits")]
        span: SourceSpan,
    },

    /// A `sha256` pin on a policy without a `path`.
    #[error("policy `{policy}` pins a `sha256` but has no `path`")]
    #[diagnostic(help(
        "a sha256 pins a plugin file: add `path = \"…/plugin.wasm\"`, or remove the sha256"
    ))]
    Sha256WithoutPath {
        /// The policy.
        policy: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The sha256 value.
        #[label("nothing to check this against")]
        span: SourceSpan,
    },

    /// A policy with no `path` whose name is not a built-in policy.
    #[error("`{policy}` is not a built-in policy, and it has no `path`")]
    UnknownPolicy {
        /// The policy.
        policy: String,
        /// The file that configures it.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The policy's name.
        #[label("unknown policy")]
        span: SourceSpan,
        /// The nearest built-in, the list, and how to add a plugin.
        #[help]
        help: String,
    },

    /// `[verify] policies` names a policy that is not configured.
    #[error("`verify.policies` names `{policy}`, which is not a configured policy")]
    UnknownVerifyPolicy {
        /// The name given.
        policy: String,
        /// The file that names it.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The name.
        #[label("no such policy")]
        span: SourceSpan,
        /// The nearest policy and the list.
        #[help]
        help: String,
    },

    /// `default_agent` names no agent profile.
    #[error("`default_agent` is `{agent}`, but there is no agent profile of that name")]
    UnknownDefaultAgent {
        /// The name given.
        agent: String,
        /// The file that sets it.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The value.
        #[label("no such profile")]
        span: SourceSpan,
        /// The nearest profile and the list.
        #[help]
        help: String,
    },

    /// No layer sets `default_agent`.
    #[error("no `default_agent` is configured")]
    #[diagnostic(help("set `default_agent = \"<profile>\"` in agenthost.toml"))]
    NoDefaultAgent,

    /// A `[worktree] copy` entry that is not a plain relative path.
    #[error("`worktree.copy` entry `{path}` {reason}")]
    #[diagnostic(help(
        "list files relative to the repository root, such as \".env\" or \"config/local.json\""
    ))]
    BadCopyPath {
        /// The entry as written.
        path: String,
        /// What is wrong with it.
        reason: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The entry.
        #[label("not a path inside the repository")]
        span: SourceSpan,
    },

    /// A host path (`read`, `write`) that is neither absolute nor under `~`.
    #[error("`{key}` entry `{path}` {reason}")]
    #[diagnostic(help(
        "write an absolute path, or one under your home directory starting with `~/`"
    ))]
    BadHostPath {
        /// The entry as written.
        path: String,
        /// The dotted key.
        key: String,
        /// What is wrong with it.
        reason: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The entry.
        #[label("not a host path")]
        span: SourceSpan,
    },

    /// A `seed` or `write_back` entry that does not name something in the home directory.
    #[error("`{key}` entry `{path}` {reason}")]
    #[diagnostic(help(
        "the agent runs with a private home per task; `seed` names what the host copies into it from your home before the first attempt (`~/.claude/.credentials.json`), and `write_back` the one seeded credentials file copied back after each run"
    ))]
    BadSeedPath {
        /// The entry as written.
        path: String,
        /// The dotted key.
        key: String,
        /// What is wrong with it.
        reason: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The entry.
        #[label("not a seed path")]
        span: SourceSpan,
    },

    /// A name in `pass_env` or `env` that is not an environment variable name.
    #[error("`{name}` in `{key}` is not an environment variable name")]
    #[diagnostic(help(
        "use letters, digits and `_`, not starting with a digit, such as \"ANTHROPIC_API_KEY\""
    ))]
    BadEnvName {
        /// The name as written.
        name: String,
        /// The dotted key.
        key: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The name.
        #[label("not a variable name")]
        span: SourceSpan,
    },

    /// A setting that runs commands on the user's machine, or copies files out of or into
    /// the user's home, in the repository's shared config.
    #[error("`{key}` cannot be set in the repository's agenthost.toml")]
    #[diagnostic(help(
        "a repository must not make your machine run commands or copy files out of or into your home: set it in your user config (~/.config/agenthost/config.toml) or in agenthost.local.toml"
    ))]
    PersonalOnly {
        /// The dotted key.
        key: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The setting.
        #[label("personal setting")]
        span: SourceSpan,
    },

    /// An `on_ready` command with no program.
    #[error("`{key}` is an empty command")]
    #[diagnostic(help("give the program and its arguments, such as [\"notify-me\", \"--task\"]"))]
    EmptyHook {
        /// The dotted key.
        key: String,
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The setting.
        #[label("empty")]
        span: SourceSpan,
    },

    /// A setup command that is blank.
    #[error("`worktree.setup` has an empty command")]
    #[diagnostic(help(
        "each entry is a shell command run in the new worktree, such as \"npm ci\" or \"python3 -m venv .venv && .venv/bin/pip install -e .\""
    ))]
    EmptySetup {
        /// The file.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The entry.
        #[label("empty")]
        span: SourceSpan,
    },
}

//! Why a policy could not be loaded or could not answer.

use std::path::PathBuf;
use std::time::Duration;

use agenthost_policy::Hook;
use miette::Diagnostic;
use thiserror::Error;

/// Every way a policy can fail. Each names the policy and says what to do; the host turns
/// any of them into a closed decision (see [`super::verdict`]).
#[derive(Debug, Error, Diagnostic)]
pub enum PolicyError {
    /// The engine itself could not be set up.
    #[error("cannot start the policy engine: {reason}")]
    #[diagnostic(
        code(policy::engine),
        help("this is a bug or an unusual system limit; please report it with this message")
    )]
    Engine {
        /// What wasmtime said.
        reason: String,
    },

    /// The plugin file could not be read.
    #[error("policy `{policy}`: cannot read {}: {source}", path.display())]
    #[diagnostic(
        code(policy::unreadable),
        help("check the `path` under [policies.{policy}] in agenthost.toml")
    )]
    Read {
        /// The policy.
        policy: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// The plugin's digest is not the pinned one.
    #[error("policy `{policy}`: sha256 is {actual}, but agenthost.toml pins {expected}")]
    #[diagnostic(
        code(policy::pin_mismatch),
        help(
            "the plugin changed since it was pinned: check where it came from, then update `sha256` under [policies.{policy}]"
        )
    )]
    PinMismatch {
        /// The policy.
        policy: String,
        /// The pinned digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },

    /// The bytes are not a WebAssembly module or component wasmtime accepts.
    #[error("policy `{policy}`: not a valid WebAssembly plugin: {reason}")]
    #[diagnostic(
        code(policy::invalid_binary),
        help("build the policy for wasm32-wasip1 or wasm32-wasip2 (see sdk/README.md)")
    )]
    InvalidBinary {
        /// The policy.
        policy: String,
        /// What the loader said.
        reason: String,
    },

    /// The plugin lacks an export the host needs.
    #[error("policy `{policy}`: {reason}")]
    #[diagnostic(
        code(policy::missing_export),
        help(
            "a policy is a component exporting `agenthost:policy` interfaces, or a WASI command exporting `_start` (wasm32-wasip1) or `wasi:cli/run` (wasm32-wasip2) that answers `describe`; see sdk/README.md"
        )
    )]
    MissingExport {
        /// The policy.
        policy: String,
        /// What is missing.
        reason: String,
    },

    /// A typed component exports an `agenthost:policy` interface with other types than the
    /// host's, or of another version.
    #[error("policy `{policy}`: its exports do not match the agenthost:policy interface: {reason}")]
    #[diagnostic(
        code(policy::wrong_types),
        help(
            "rebuild the policy against this agenthost's sdk/wit/policy.wit (agenthost:policy@0.2.0; 0.1.0 still loads), e.g. with the matching agenthost-policy crate"
        )
    )]
    WrongTypes {
        /// The policy.
        policy: String,
        /// What wasmtime said.
        reason: String,
    },

    /// A JSON request (from `agenthost policy test`) is not the hook's request.
    #[error("policy `{policy}`: the {hook} request is not valid: {reason}")]
    #[diagnostic(
        code(policy::bad_request),
        help("the request must match sdk/schema/agenthost-policy.schema.json for this hook")
    )]
    BadRequest {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// What is wrong with it.
        reason: String,
    },

    /// The host asked for a hook the policy does not implement.
    #[error("policy `{policy}` does not implement the `{hook}` hook (it implements: {hooks})")]
    #[diagnostic(
        code(policy::missing_hook),
        help("configure this policy only where it applies, or implement the hook")
    )]
    MissingHook {
        /// The policy.
        policy: String,
        /// The hook asked for.
        hook: Hook,
        /// The hooks it has, comma-separated.
        hooks: String,
    },

    /// The request is bigger than the limit.
    #[error("policy `{policy}`: the {hook} request is {size} bytes, over the {limit}-byte limit")]
    #[diagnostic(
        code(policy::request_too_large),
        help("raise the request limit, or make the input smaller (a smaller diff or spec)")
    )]
    RequestTooLarge {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// The request's size.
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// The call ran past its deadline.
    #[error("policy `{policy}`: the {hook} hook ran past its {} ms deadline", limit.as_millis())]
    #[diagnostic(
        code(policy::timeout),
        help("the policy may loop forever; fix it, or raise its deadline if it is just slow")
    )]
    Timeout {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// The deadline.
        limit: Duration,
    },

    /// The guest tried to grow its memory past the cap.
    #[error("policy `{policy}`: the {hook} hook ran out of memory (limit {} MiB)", limit >> 20)]
    #[diagnostic(
        code(policy::out_of_memory),
        help("the policy uses more memory than allowed; fix it, or raise the memory limit")
    )]
    OutOfMemory {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// The cap, in bytes.
        limit: usize,
    },

    /// The guest trapped (or a host call it made failed).
    #[error(
        "policy `{policy}`: the {hook} hook crashed: {reason}{}",
        log_tail(log)
    )]
    #[diagnostic(
        code(policy::trap),
        help("the policy has a bug; run it alone with `agenthost policy test` to see its log")
    )]
    Trap {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// The trap.
        reason: String,
        /// What it wrote to stderr.
        log: String,
    },

    /// The guest wrote more than the cap to stdout or stderr, or answered more.
    #[error("policy `{policy}`: the {hook} hook wrote more than {limit} bytes to {stream}")]
    #[diagnostic(
        code(policy::output_too_large),
        help("answers and logs are capped; make the policy say less")
    )]
    OutputTooLarge {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// `stdout`, `stderr` or `its answer`.
        stream: &'static str,
        /// The cap.
        limit: usize,
    },

    /// The guest exited with a non-zero status.
    #[error(
        "policy `{policy}`: the {hook} hook exited with status {code}{}",
        log_tail(log)
    )]
    #[diagnostic(
        code(policy::exit),
        help("a policy answers on stdout and exits 0; its stderr (above) says why it did not")
    )]
    Exit {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// The exit status.
        code: i32,
        /// What it wrote to stderr.
        log: String,
    },

    /// The policy says its config table is invalid.
    #[error("policy `{policy}`: invalid config: {errors}")]
    #[diagnostic(
        code(policy::invalid_config),
        help("fix `config` under [policies.{policy}] in agenthost.toml (see the policy's docs)")
    )]
    InvalidConfig {
        /// The policy.
        policy: String,
        /// What it said, joined with `; `.
        errors: String,
    },

    /// The call could not start: the engine already runs as many calls as its pool holds.
    #[error(
        "policy `{policy}`: the {hook} hook could not start: too many policy calls at once ({reason})"
    )]
    #[diagnostic(
        code(policy::busy),
        help("the host is running more policy calls than it has room for; try again later")
    )]
    Busy {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// Which of the pool's limits was reached.
        reason: String,
    },

    /// The answer is not the JSON the hook expects.
    #[error("policy `{policy}`: the {hook} hook's answer is not valid: {reason}")]
    #[diagnostic(
        code(policy::bad_answer),
        help("the answer must match sdk/schema/agenthost-policy.schema.json for this hook")
    )]
    BadAnswer {
        /// The policy.
        policy: String,
        /// The hook.
        hook: Hook,
        /// What is wrong with it.
        reason: String,
    },
}

impl PolicyError {
    /// A short reason, without the policy's name: for findings and hold reasons that name
    /// the policy themselves.
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyError::Engine { .. } => "engine failure",
            PolicyError::Read { .. } => "unreadable",
            PolicyError::PinMismatch { .. } => "sha256 pin mismatch",
            PolicyError::InvalidBinary { .. } => "invalid binary",
            PolicyError::MissingExport { .. } => "missing export",
            PolicyError::WrongTypes { .. } => "wrong types",
            PolicyError::BadRequest { .. } => "bad request",
            PolicyError::MissingHook { .. } => "missing hook",
            PolicyError::RequestTooLarge { .. } => "request too large",
            PolicyError::Timeout { .. } => "timeout",
            PolicyError::OutOfMemory { .. } => "out of memory",
            PolicyError::Trap { .. } => "trap",
            PolicyError::OutputTooLarge { .. } => "output too large",
            PolicyError::Exit { .. } => "non-zero exit",
            PolicyError::InvalidConfig { .. } => "invalid config",
            PolicyError::BadAnswer { .. } => "bad answer",
            PolicyError::Busy { .. } => "busy",
        }
    }
}

/// The last lines of a guest's stderr, for an error message.
fn log_tail(log: &str) -> String {
    let log = log.trim();
    if log.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = log.lines().collect();
    let tail = &lines[lines.len().saturating_sub(5)..];
    format!(" (stderr: {})", tail.join(" / "))
}

//! The guest side: the [`Policy`] trait, the WASI-command runner and [`export_policy!`].

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::{
    AcceptanceRequest, AdmissionRequest, ConfigErrors, ConfigRequest, Description, Findings, Hook,
    ReviewRequest,
};
use crate::types::{Admission, Finding};

/// A policy. Implement the hooks you need and list them in [`Policy::HOOKS`]; the others
/// keep their defaults, which the host never calls because `HOOKS` does not name them.
pub trait Policy {
    /// The hooks this policy implements (`Describe` is answered for you).
    const HOOKS: &'static [Hook];

    /// Is this spec tight enough to run unattended? Any `error` finding rejects it.
    fn acceptance(&self, request: &AcceptanceRequest) -> Vec<Finding> {
        let _ = request;
        Vec::new()
    }

    /// May this task start now?
    fn admission(&self, request: &AdmissionRequest) -> Admission {
        let _ = request;
        Admission::Start
    }

    /// What must the reviewer know about this run? Any `error` finding blocks accept.
    fn review(&self, request: &ReviewRequest) -> Vec<Finding> {
        let _ = request;
        Vec::new()
    }

    /// Problems with the policy's table from `agenthost.toml`; empty when it is valid.
    fn validate_config(&self, config: &serde_json::Value) -> Vec<String> {
        let _ = config;
        Vec::new()
    }
}

/// Why a WASI-command call could not be answered.
#[derive(Debug)]
pub enum CommandError {
    /// `argv[1]` names no hook, or one this policy does not implement.
    Hook(String),
    /// The request is not the JSON the hook expects.
    Request(serde_json::Error),
    /// Reading stdin or writing stdout failed.
    Io(std::io::Error),
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Hook(message) => f.write_str(message),
            CommandError::Request(err) => write!(f, "the request is not valid: {err}"),
            CommandError::Io(err) => write!(f, "I/O failed: {err}"),
        }
    }
}

impl std::error::Error for CommandError {}

/// Answers one call: `hook` with the JSON `request`, returning the JSON answer. This is
/// what [`export_policy!`]'s `main` does with `argv[1]` and stdin; it is public so that a
/// policy's own tests can call it natively.
pub fn run_command<P: Policy>(
    policy: &P,
    hook: &str,
    request: &[u8],
) -> Result<Vec<u8>, CommandError> {
    let hook: Hook = hook.parse().map_err(CommandError::Hook)?;
    if hook != Hook::Describe && !P::HOOKS.contains(&hook) {
        return Err(CommandError::Hook(format!(
            "this policy does not implement the `{hook}` hook"
        )));
    }
    match hook {
        Hook::Describe => answer(&Description {
            abi: crate::ABI_VERSION.to_string(),
            hooks: P::HOOKS.to_vec(),
        }),
        Hook::Acceptance => {
            let request: AcceptanceRequest = parse(request)?;
            answer(&Findings {
                findings: policy.acceptance(&request),
            })
        }
        Hook::Admission => {
            let request: AdmissionRequest = parse(request)?;
            answer(&policy.admission(&request))
        }
        Hook::Review => {
            let request: ReviewRequest = parse(request)?;
            answer(&Findings {
                findings: policy.review(&request),
            })
        }
        Hook::ValidateConfig => {
            let request: ConfigRequest = parse(request)?;
            answer(&ConfigErrors {
                errors: policy.validate_config(&request.config),
            })
        }
    }
}

fn parse<T: DeserializeOwned>(request: &[u8]) -> Result<T, CommandError> {
    serde_json::from_slice(request).map_err(CommandError::Request)
}

fn answer<T: Serialize>(value: &T) -> Result<Vec<u8>, CommandError> {
    serde_json::to_vec(value).map_err(CommandError::Request)
}

/// The `main` of a WASI-command policy: `argv[1]` is the hook, stdin the request, stdout
/// the answer. On failure it says why on stderr and exits 1. Called by [`export_policy!`].
#[doc(hidden)]
pub fn command_main<P: Policy>(policy: &P) -> ! {
    let code = match command_io(policy) {
        Ok(()) => 0,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "policy error: {err}");
            1
        }
    };
    std::process::exit(code)
}

fn command_io<P: Policy>(policy: &P) -> Result<(), CommandError> {
    let hook = std::env::args().nth(1).ok_or_else(|| {
        CommandError::Hook("no hook given: run as `policy.wasm HOOK` with JSON on stdin".into())
    })?;
    let mut request = Vec::new();
    std::io::stdin()
        .read_to_end(&mut request)
        .map_err(CommandError::Io)?;
    let answer = run_command(policy, &hook, &request)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&answer).map_err(CommandError::Io)?;
    stdout.flush().map_err(CommandError::Io)
}

/// Exports a [`Policy`]: expands to the program's `main` (the WASI-command ABI, JSON on
/// stdin and stdout) and, for `wasm32-wasip2`, to the typed `agenthost:policy` component
/// exports of the hooks listed, which the host prefers.
///
/// ```ignore
/// agenthost_policy::export_policy!(NoTodo, [Acceptance, ValidateConfig]);
/// ```
///
/// The first argument is a constant expression that builds the policy (a unit struct's
/// name will do); the list names the [`Hook`]s of [`Policy::HOOKS`], which a component's
/// exports must be known from at compile time. A list that differs from `HOOKS` does not
/// compile. Without a list (`export_policy!(NoTodo)`) the plugin is a WASI command only.
#[macro_export]
macro_rules! export_policy {
    ($policy:expr, [$($hook:ident),* $(,)?]) => {
        const _: () = $crate::__check_hooks(&$policy, &[$($crate::Hook::$hook),*]);
        $crate::__export_typed!($policy; $($hook),*);
        fn main() {
            $crate::__command_main(&$policy)
        }
    };
    ($policy:expr) => {
        fn main() {
            $crate::__command_main(&$policy)
        }
    };
}

/// Fails to compile (with its message) when `export_policy!`'s list and [`Policy::HOOKS`]
/// differ. Called by [`export_policy!`].
#[doc(hidden)]
pub const fn check_hooks<P: Policy>(_: &P, listed: &[Hook]) {
    let declared = P::HOOKS;
    let mut i = 0;
    while i < declared.len() {
        let hook = declared[i];
        if hook as u8 != Hook::Describe as u8 && !contains(listed, hook) {
            panic!("export_policy!: a hook of Policy::HOOKS is missing from the macro's list");
        }
        i += 1;
    }
    let mut j = 0;
    while j < listed.len() {
        if listed[j] as u8 == Hook::Describe as u8 {
            panic!("export_policy!: `Describe` is answered for you: leave it out of the list");
        }
        if !contains(declared, listed[j]) {
            panic!("export_policy!: the macro lists a hook that Policy::HOOKS does not");
        }
        j += 1;
    }
}

const fn contains(hooks: &[Hook], hook: Hook) -> bool {
    let mut i = 0;
    while i < hooks.len() {
        if hooks[i] as u8 == hook as u8 {
            return true;
        }
        i += 1;
    }
    false
}

/// The typed exports of the listed hooks (wasm32-wasip2).
#[cfg(all(target_os = "wasi", target_env = "p2"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_typed {
    ($policy:expr; $($hook:ident),*) => {
        $($crate::__export_hook!($hook, $policy);)*
    };
}

/// Elsewhere a policy is a WASI command only.
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_typed {
    ($policy:expr; $($hook:ident),*) => {};
}

#[doc(hidden)]
pub use command_main as __command_main;

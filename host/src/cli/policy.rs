//! `agenthost policy list|test|bench`: look at the configured policies and try one out.

use std::path::{Path, PathBuf};

use agenthost_policy::Hook;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets};
use miette::IntoDiagnostic;

use super::policy_request::{format_duration, with_config};
use super::{Exit, Output, policy_fixtures};
use crate::config::{Config, ConfigSources, PolicyConfig, PolicyMode, PolicySource};
use crate::policy::{self, Engine, LoadedPolicy, PolicySet};

/// Arguments of `agenthost policy`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost policy list\n  agenthost policy test spec-quality --hook acceptance --input request.json\n  agenthost policy bench scope-guard --hook review --input run.json"
)]
pub struct PolicyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// `agenthost policy` verbs.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the configured policies (built-in and plugins): source, kind (typed component
    /// or WASI command), digest, hooks, status.
    #[command(
        after_help = "Examples:\n  agenthost policy list\n  agenthost policy list --repo ../webapp"
    )]
    List(ListArgs),
    /// Call one hook of one policy once and print its answer, time and peak memory.
    #[command(
        after_help = "Examples:\n  agenthost policy test spec-quality --hook acceptance --input request.json\n  agenthost policy test ./no-todo.wasm --hook acceptance --input request.json\n  agenthost policy test ./protected-paths.wasm --fixtures fixtures/\n\nThe input is the hook's JSON request (sdk/schema/agenthost-policy.schema.json); without a\n`config` key it gets the policy's config from agenthost.toml. A fixture is a JSON file\n{\"hook\": H, \"request\": {...}, \"expect\": {...}}: --fixtures runs every *.json in DIR\nand compares each answer with its `expect`.\n\nExit status: 0 = answered (every fixture as expected), 1 = the policy failed (it would\nfail closed) or a fixture's answer differs, 2 = usage error."
    )]
    Test(TestArgs),
    /// Call one hook many times and print the latency distribution.
    #[command(
        after_help = "Examples:\n  agenthost policy bench scope-guard --hook review --input run.json\n  agenthost policy bench spec-quality --hook acceptance --input request.json --iterations 500"
    )]
    Bench(BenchArgs),
    /// Write a new policy project in one of seven languages that builds and tests: the
    /// protected-paths example of that language, renamed, with the shared fixtures.
    #[command(
        after_help = "Examples:\n  agenthost policy new no-todo\n  agenthost policy new no-todo --lang python --dir policies/no-todo\n\nThen: cd no-todo && ./test.sh"
    )]
    New(NewArgs),
}

/// The languages `agenthost policy new` can write (each the example in
/// `examples/policies/<lang>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust: a typed component with the agenthost-policy SDK (vendored).
    Rust,
    /// Python: a typed component built with componentize-py.
    Python,
    /// JavaScript: a typed component built with componentize-js.
    #[value(alias = "js")]
    Javascript,
    /// C: a WASI command built with clang and wasi-libc.
    C,
    /// Zig: a WASI command.
    Zig,
    /// AssemblyScript: a WASI command with the WASI shim.
    #[value(alias = "as")]
    Assemblyscript,
    /// Go: a WASI command (GOOS=wasip1).
    Go,
}

impl Lang {
    /// The directory name of its example and template.
    fn dir(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Javascript => "javascript",
            Lang::C => "c",
            Lang::Zig => "zig",
            Lang::Assemblyscript => "assemblyscript",
            Lang::Go => "go",
        }
    }
}

/// Arguments of `agenthost policy new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The policy's name (lowercase letters, digits and `-`), also its crate's.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// The language to write it in.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,

    /// Where to create it [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Arguments of `agenthost policy list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The repository whose agenthost.toml applies [default: the current directory's].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// Arguments of `agenthost policy test`: one call, or every fixture in a directory.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// A policy name from the configuration, or the path of a `.wasm` file.
    #[arg(value_name = "POLICY")]
    pub policy: String,

    /// The hook to call.
    #[arg(long, value_name = "HOOK", value_parser = parse_hook, required_unless_present = "fixtures", requires = "input")]
    pub hook: Option<Hook>,

    /// The JSON request.
    #[arg(long, value_name = "FILE", requires = "hook")]
    pub input: Option<PathBuf>,

    /// Run every fixture (`*.json`: hook, request, expected answer) in this directory.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["hook", "input"])]
    pub fixtures: Option<PathBuf>,

    /// The repository whose agenthost.toml applies [default: the current directory's].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// Arguments of `agenthost policy bench`: the call to repeat.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// A policy name from the configuration, or the path of a `.wasm` file.
    #[arg(value_name = "POLICY")]
    pub policy: String,

    /// The hook to call.
    #[arg(long, value_name = "HOOK", value_parser = parse_hook)]
    pub hook: Hook,

    /// The JSON request.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,

    /// The repository whose agenthost.toml applies [default: the current directory's].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// Arguments of `agenthost policy bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to call.
    #[command(flatten)]
    pub call: CallArgs,

    /// How many calls to time (after one warm-up call).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub iterations: u32,
}

fn parse_hook(text: &str) -> Result<Hook, String> {
    text.parse()
}

/// Runs `agenthost policy`.
pub(super) fn run(args: &PolicyArgs, output: &Output) -> miette::Result<Exit> {
    match &args.command {
        PolicyCommand::List(args) => list(args),
        PolicyCommand::Test(args) => test(args, output),
        PolicyCommand::Bench(args) => bench(args),
        PolicyCommand::New(args) => new(args),
    }
}

fn load_config(repo: Option<&Path>) -> miette::Result<Config> {
    let root = match repo {
        Some(dir) => Some(dir.to_path_buf()),
        None => git2::Repository::discover(".")
            .ok()
            .and_then(|repo| repo.workdir().map(Path::to_path_buf)),
    };
    Ok(Config::load(&ConfigSources::discover(root.as_deref()))?)
}

fn list(args: &ListArgs) -> miette::Result<Exit> {
    let config = load_config(args.repo.as_deref())?;
    let engine = policy::cli_engine()?;
    let set = PolicySet::load(&engine, &config.policies);
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header([
        "POLICY", "SOURCE", "KIND", "MODE", "SHA256", "HOOKS", "STATUS",
    ]);
    let mut exit = Exit::Success;
    for (name, policy) in &config.policies {
        let source = match &policy.source {
            PolicySource::Builtin(_) => "built-in".to_string(),
            PolicySource::Plugin { path, .. } => path.display().to_string(),
        };
        let mode = match policy.mode {
            PolicyMode::Enforce => "enforce",
            PolicyMode::Monitor => "monitor",
        };
        let entry = set.entries().iter().find(|e| &e.name == name);
        let (kind, digest, hooks, status) = match entry.map(|e| &e.loaded) {
            None => (
                String::new(),
                String::new(),
                String::new(),
                "disabled".to_string(),
            ),
            Some(Ok(loaded)) => (
                loaded.kind().name().to_string(),
                loaded.digest().to_string()[..12].to_string(),
                hook_names(loaded.hooks()),
                "ok".to_string(),
            ),
            Some(Err(err)) => {
                exit = Exit::Findings;
                (
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("error: {err}"),
                )
            }
        };
        table.add_row([
            name.as_str(),
            &source,
            &kind,
            mode,
            &digest,
            &hooks,
            &status,
        ]);
    }
    println!("{}", table.trim_fmt());
    Ok(exit)
}

fn hook_names(hooks: &[Hook]) -> String {
    hooks
        .iter()
        .filter(|h| **h != Hook::ValidateConfig)
        .map(|h| h.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The policy to call, and its config from agenthost.toml when it is a configured one.
fn load_policy(
    policy: &str,
    repo: Option<&Path>,
) -> miette::Result<(Engine, LoadedPolicy, Option<serde_json::Value>)> {
    let engine = policy::cli_engine()?;
    if policy.ends_with(".wasm") || Path::new(policy).is_file() {
        let bytes = fs_err::read(policy).into_diagnostic()?;
        let name = Path::new(policy)
            .file_stem()
            .map_or("plugin".to_string(), |s| s.to_string_lossy().into_owned());
        let loaded = engine.load(&name, &bytes, None)?;
        return Ok((engine, loaded, None));
    }
    let config = load_config(repo)?;
    let Some(configured) = config.policies.get(policy) else {
        let known: Vec<&str> = config.policies.keys().map(String::as_str).collect();
        return Err(miette::miette!(
            code = "policy::unknown",
            help = format!(
                "configured policies: {}; or pass the path of a .wasm file",
                known.join(", ")
            ),
            "no policy `{policy}` in the configuration"
        ));
    };
    let set = PolicySet::load(
        &engine,
        &std::iter::once((policy.to_string(), enabled(configured))).collect(),
    );
    let entry = set
        .into_entries()
        .into_iter()
        .next()
        .ok_or_else(|| miette::miette!("policy `{policy}` could not be loaded"))?;
    let loaded = entry.loaded?;
    Ok((engine, loaded, Some(configured.config_json())))
}

/// Reads the JSON request in `input`.
fn read_request(input: &Path) -> miette::Result<serde_json::Value> {
    let request = fs_err::read(input).into_diagnostic()?;
    serde_json::from_slice(&request).map_err(|err| {
        miette::miette!(
            code = "policy::input",
            help =
                "the input is the hook's JSON request; see sdk/schema/agenthost-policy.schema.json",
            "{} is not JSON: {err}",
            input.display()
        )
    })
}

/// The policy to call and the request to send it.
fn prepare(args: &CallArgs) -> miette::Result<(Engine, LoadedPolicy, Vec<u8>)> {
    let request = read_request(&args.input)?;
    let (engine, loaded, config) = load_policy(&args.policy, args.repo.as_deref())?;
    let request = with_config(request, args.hook, config.as_ref())?;
    Ok((engine, loaded, request))
}

fn enabled(policy: &PolicyConfig) -> PolicyConfig {
    PolicyConfig {
        enabled: true,
        ..policy.clone()
    }
}

fn test(args: &TestArgs, output: &Output) -> miette::Result<Exit> {
    let (engine, loaded, config) = load_policy(&args.policy, args.repo.as_deref())?;
    let (hook, input) = match (&args.fixtures, args.hook, &args.input) {
        (Some(dir), _, _) => {
            return policy_fixtures::run(&engine, &loaded, config.as_ref(), dir, output);
        }
        (None, Some(hook), Some(input)) => (hook, input),
        // clap requires --hook and --input together unless --fixtures is given.
        _ => {
            return Err(miette::miette!(
                code = "policy::test::usage",
                help = "pass --hook H --input FILE.json, or --fixtures DIR",
                "nothing to call"
            ));
        }
    };
    let request = with_config(read_request(input)?, hook, config.as_ref())?;
    match engine.call_json(&loaded, hook, &request) {
        Ok(call) => {
            let answer = serde_json::to_string_pretty(&call.answer).into_diagnostic()?;
            println!("{answer}");
            println!();
            println!("policy       {} ({})", loaded.name(), loaded.kind().name());
            println!("hook         {hook}");
            println!("time         {}", format_duration(call.elapsed));
            println!("peak memory  {} KiB", call.peak_memory >> 10);
            if !call.log.trim().is_empty() {
                println!("log");
                for line in call.log.lines() {
                    println!("  {line}");
                }
            }
            Ok(Exit::Success)
        }
        // The input is not the hook's request: a usage error, the policy never ran.
        Err(err @ policy::PolicyError::BadRequest { .. }) => Err(err.into()),
        Err(err) => {
            eprint!("{}", output.render(&err));
            Ok(Exit::Findings)
        }
    }
}

fn bench(args: &BenchArgs) -> miette::Result<Exit> {
    let (engine, loaded, request) = prepare(&args.call)?;
    let hook = args.call.hook;
    // One warm-up call: it also shows a failing policy before timing anything.
    engine.call_json(&loaded, hook, &request)?;
    let mut times = Vec::with_capacity(args.iterations as usize);
    for _ in 0..args.iterations.max(1) {
        let call = engine.call_json(&loaded, hook, &request)?;
        times.push(call.elapsed);
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "policy  {} ({}), hook {hook}",
        loaded.name(),
        loaded.kind().name()
    );
    println!("calls   {} (fresh instance each)", times.len());
    for (label, value) in [
        ("min", times[0]),
        ("p50", at(0.5)),
        ("p90", at(0.9)),
        ("p99", at(0.99)),
        ("max", times[times.len() - 1]),
    ] {
        println!("{label:<7} {}", format_duration(value));
    }
    Ok(Exit::Success)
}

fn new(args: &NewArgs) -> miette::Result<Exit> {
    if !policy::scaffold::valid_name(&args.name) {
        return Err(miette::miette!(
            code = "policy::new::name",
            help = "use lowercase letters, digits and `-`, starting with a letter (e.g. `no-todo`)",
            "`{}` cannot name a policy",
            args.name
        ));
    }
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        return Err(miette::miette!(
            code = "policy::new::exists",
            help = "choose another name, or pass --dir with a path that does not exist yet",
            "{} already exists",
            dir.display()
        ));
    }
    let Some(files) = policy::scaffold::files(args.lang.dir(), &args.name) else {
        return Err(miette::miette!(
            code = "policy::new::lang",
            help = format!(
                "this agenthost was built without the example in examples/policies/{}",
                args.lang.dir()
            ),
            "no template for {}",
            args.lang.dir()
        ));
    };
    for file in files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).into_diagnostic()?;
        }
        fs_err::write(&path, &file.contents).into_diagnostic()?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt as _;
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .into_diagnostic()?;
        }
    }
    println!(
        "created {} ({}: the protected-paths example, renamed)",
        dir.display(),
        args.lang.dir()
    );
    println!();
    println!("  cd {}", dir.display());
    println!(
        "  ./build.sh   # builds {}.wasm (README.md says what to install)",
        args.name
    );
    println!("  ./test.sh    # builds, then runs it against fixtures/ through agenthost");
    Ok(Exit::Success)
}

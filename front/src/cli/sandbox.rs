//! `agenthost sandbox --spec SPEC -- CMD ARGS...`: run one command in the sandbox a spec's
//! Scope defines, and pass its exit code through.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use agenthost_sandbox::Support;
use clap::{Args, ValueEnum};
use miette::Diagnostic;

use super::{Exit, Output};
use crate::config::{Config, ConfigSources, SandboxMode};
use crate::confinement::git_layout::GitLayout;
use crate::confinement::{self, Canonicalizer, PlanInput};
use crate::spec::{self, Spec};

/// Exit status when agenthost could not set up the sandbox (nothing ran).
const EXIT_SETUP: u8 = 125;

/// Arguments of `agenthost sandbox`.
#[derive(Debug, PartialEq, Eq, Args)]
#[command(
    after_help = "Examples:\n  agenthost sandbox --spec task.md -- sh -c 'make test'\n  agenthost sandbox --spec task.md --explain\n  agenthost sandbox --spec task.md --profile claude -- claude -p 'do the task'\n  agenthost sandbox --spec task.md --mode best-effort -- python3 -m pytest\n\nExit status: the command's own (128 + N when killed by signal N); 125 when the sandbox\ncould not be set up or the kernel cannot enforce it (nothing ran); 126 when the command\ncould not be executed; 127 when it was not found; 2 for a usage error or an invalid spec."
)]
pub struct SandboxArgs {
    /// The task spec whose Scope defines what the command may write.
    #[arg(long, value_name = "SPEC")]
    pub spec: PathBuf,

    /// The worktree the command runs in [default: the git repository containing the spec].
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// The agent profile whose grants (paths, ports, environment) apply [default: the
    /// spec's `agent`, else none].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Override the config's `[sandbox] mode`.
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<ModeArg>,

    /// Print every path with its rights and the scope line or grant that produced it, then
    /// exit without running anything.
    #[arg(long)]
    pub explain: bool,

    /// The command and its arguments.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Refuse to run unless the kernel enforces every restriction.
    Enforce,
    /// Run anyway, listing what is not enforced.
    BestEffort,
    /// No sandbox.
    Off,
}

/// A failure of `agenthost sandbox` before the command ran.
#[derive(Debug, thiserror::Error, Diagnostic)]
enum SandboxError {
    #[error("cannot read spec {path}: {source}")]
    #[diagnostic(
        code(agenthost::sandbox::unreadable),
        help("check that the file exists and is readable")
    )]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spec {path} has {count} error(s); a sandbox is only built from a valid spec")]
    #[diagnostic(
        code(agenthost::sandbox::invalid_spec),
        help("run `agenthost check {path}` to see them")
    )]
    InvalidSpec { path: String, count: usize },
    #[error("no worktree for {path}: it is not inside a git repository")]
    #[diagnostic(
        code(agenthost::sandbox::no_root),
        help("pass the directory the command works in with `--root DIR`")
    )]
    NoRoot { path: String },
    #[error("worktree {path} is not a directory: {source}")]
    #[diagnostic(
        code(agenthost::sandbox::bad_root),
        help("pass an existing directory with `--root DIR`")
    )]
    BadRoot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no agent profile named `{name}`")]
    #[diagnostic(
        code(agenthost::sandbox::unknown_profile),
        help("known profiles: {known}")
    )]
    UnknownProfile { name: String, known: String },
    #[error("no command given")]
    #[diagnostic(
        code(agenthost::sandbox::no_command),
        help("put the command after `--`: agenthost sandbox --spec task.md -- make test")
    )]
    NoCommand,
    #[error("the kernel cannot enforce this sandbox (mode enforce): {missing}")]
    #[diagnostic(
        code(agenthost::sandbox::not_enforced),
        help(
            "run `agenthost doctor` for details; upgrade the kernel, or accept weaker isolation with `--mode best-effort` (or `[sandbox] mode = \"best-effort\"`)"
        )
    )]
    NotEnforced { missing: String },
    #[error("cannot create the private temp dir: {0}")]
    #[diagnostic(
        code(agenthost::sandbox::tmpdir),
        help("check that $TMPDIR (or /tmp) is writable")
    )]
    TempDir(std::io::Error),
    /// The profile's private home could not be made.
    #[error("{0}")]
    #[diagnostic(
        code(agenthost::sandbox::home),
        help(
            "check that $TMPDIR (or /tmp) is writable and that the profile's `seed` files are readable"
        )
    )]
    Home(#[from] confinement::agent_home::HomeError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] confinement::PlanError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Run(#[from] confinement::RunError),
}

/// Runs `agenthost sandbox`.
pub fn run(args: &SandboxArgs, output: &Output) -> miette::Result<Exit> {
    match run_inner(args) {
        Ok(exit) => Ok(exit),
        Err(error) => {
            eprint!("{}", output.render(&error));
            let usage = matches!(
                error,
                SandboxError::Unreadable { .. }
                    | SandboxError::InvalidSpec { .. }
                    | SandboxError::NoCommand
                    | SandboxError::UnknownProfile { .. }
            );
            Ok(if usage {
                Exit::Error
            } else if let SandboxError::Run(run) = &error {
                Exit::Passthrough(u8::try_from(run.exit_code()).unwrap_or(EXIT_SETUP))
            } else {
                Exit::Passthrough(EXIT_SETUP)
            })
        }
    }
}

fn run_inner(args: &SandboxArgs) -> Result<Exit, SandboxError> {
    let display = args.spec.display().to_string();
    let parsed = spec::read(&args.spec).map_err(|source| SandboxError::Unreadable {
        path: args.spec.clone(),
        source,
    })?;
    let errors = parsed.problems.iter().filter(|p| p.is_error()).count();
    let spec = match (&parsed.spec, errors) {
        (Some(spec), 0) => spec,
        _ => {
            return Err(SandboxError::InvalidSpec {
                path: display,
                count: errors.max(1),
            });
        }
    };
    if !args.explain && args.command.is_empty() {
        return Err(SandboxError::NoCommand);
    }
    // Every path below is resolved through one memory of the symlinks seen, the plan's too.
    let mut resolved = Canonicalizer::default();
    let (root, git) = match &args.root {
        Some(root) => {
            let root = resolved
                .canonicalize(root)
                .map_err(|source| SandboxError::BadRoot {
                    path: root.clone(),
                    source,
                })?;
            let git = GitLayout::of_worktree(&root, &mut resolved);
            (root, git)
        }
        None => {
            let layout = repo_layout(&args.spec, &mut resolved).ok_or(SandboxError::NoRoot {
                path: display.clone(),
            })?;
            (layout.worktree.clone(), Some(layout))
        }
    };
    let config = Config::load(&ConfigSources::discover(Some(&root)))?;
    let profile_name = args
        .profile
        .clone()
        .or_else(|| spec.front_matter.agent.clone());
    let profile = match &profile_name {
        Some(name) => match config.agents.get_key_value(name) {
            Some((name, profile)) => Some((name.as_str(), profile)),
            None => {
                return Err(SandboxError::UnknownProfile {
                    name: name.clone(),
                    known: config
                        .agents
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        },
        None => None,
    };
    let mode = match args.mode {
        Some(ModeArg::Enforce) => SandboxMode::Enforce,
        Some(ModeArg::BestEffort) => SandboxMode::BestEffort,
        Some(ModeArg::Off) => SandboxMode::Off,
        None => config.sandbox.mode,
    };

    let support = Support::probe();
    // Private: only the agent's user may list or read it (tempfile's default follows umask).
    let tmp = tempfile::Builder::new()
        .prefix("agenthost-sandbox-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(SandboxError::TempDir)?;
    let tmpdir = resolved
        .canonicalize(tmp.path())
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    let host_env: BTreeMap<String, String> = std::env::vars().collect();
    let home = confinement::home_dir();
    // With a profile, the command runs as that profile's agent would: with a private home
    // seeded from the real one (thrown away afterwards), and its program's package readable.
    let private_home = match profile {
        Some((_, agent)) => {
            let dir = tempfile::Builder::new()
                .prefix("agenthost-home-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .map_err(SandboxError::TempDir)?;
            let path = resolved
                .canonicalize(dir.path())
                .unwrap_or_else(|_| dir.path().to_path_buf())
                .join("home");
            confinement::agent_home::prepare(&path, &home, agent, &host_env)?;
            Some((dir, path))
        }
        None => None,
    };
    // The command's program, or (for --explain) the profile's.
    let program = profile.and_then(|(_, agent)| {
        let name = match args.command.first() {
            Some(program) => program.to_string_lossy().into_owned(),
            None => agent.command.args().first()?.clone(),
        };
        crate::confinement::find_program(&name, host_env.get("PATH").map(String::as_str))
    });
    let input = PlanInput {
        purpose: crate::confinement::Purpose::Agent,
        spec,
        spec_name: spec_label(&args.spec),
        root: root.clone(),
        profile,
        sandbox: &config.sandbox,
        host_env,
        home,
        agent_home: private_home.as_ref().map(|(_, path)| path.clone()),
        program,
        tmpdir,
        enforcement: mode.enforcement(),
        as_root: support.root,
        git,
        resolved,
    };
    let mut built = confinement::build(input)?;
    // The command starts where the caller stands when that is inside the worktree (as a
    // git command would), else at the worktree's root.
    if let Ok(cwd) = std::env::current_dir()
        && cwd.starts_with(&root)
    {
        built.plan.cwd = cwd;
    }

    if args.explain {
        let header = header(spec, &display, &root, profile_name.as_deref(), mode);
        print!("{}", confinement::explain(&built, &root, &header, &support));
        return Ok(Exit::Success);
    }

    let missing = support.missing(&built.plan);
    match mode {
        SandboxMode::Enforce if !missing.is_empty() => {
            return Err(SandboxError::NotEnforced {
                missing: confinement::missing_text(&support, &missing),
            });
        }
        SandboxMode::BestEffort if !missing.is_empty() => {
            eprintln!("agenthost: warning: sandbox running in best-effort mode; NOT enforced:");
            for guarantee in &missing {
                eprintln!(
                    "agenthost: warning:   {}: {}",
                    confinement::missing_text(&support, std::slice::from_ref(guarantee)),
                    guarantee.describe()
                );
            }
        }
        SandboxMode::Off => {
            eprintln!(
                "agenthost: warning: sandbox mode is off: the command runs with all of your rights"
            );
        }
        _ => {}
    }

    let created = confinement::prepare(&built)?;
    let status = if mode == SandboxMode::Off {
        confinement::run_unsandboxed(&built.plan, &args.command)
    } else {
        confinement::run(&built.plan, &support, &args.command)
    };
    confinement::cleanup(&created);
    remove_tmpdir(tmp);
    drop(private_home);
    Ok(Exit::from_child(confinement::exit_code(status?)))
}

fn header(
    spec: &Spec,
    display: &str,
    root: &Path,
    profile: Option<&str>,
    mode: SandboxMode,
) -> String {
    let mode = match mode {
        SandboxMode::Enforce => "enforce",
        SandboxMode::BestEffort => "best-effort",
        SandboxMode::Off => "off (nothing below applies)",
    };
    format!(
        "Sandbox for {display} ({})\n  worktree: {}\n  profile: {}\n  mode: {mode}",
        spec.title,
        root.display(),
        profile.unwrap_or("none (no grants, offline)")
    )
}

/// How the spec is named in provenance labels: its file name.
fn spec_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Removes the private temp dir after the run: one `rmdir` when the command left it empty
/// (the usual case for a short command), else everything in it, as `TempDir` would.
fn remove_tmpdir(tmp: tempfile::TempDir) {
    let path = tmp.keep();
    if std::fs::remove_dir(&path).is_err() {
        let _ = std::fs::remove_dir_all(&path);
    }
}

/// The git worktree the spec lives in (the default `--root`), with its git dirs.
fn repo_layout(spec: &Path, resolved: &mut Canonicalizer) -> Option<GitLayout> {
    let dir = spec
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    GitLayout::discover(dir, resolved)
}

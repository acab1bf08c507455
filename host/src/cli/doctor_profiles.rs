//! `agenthost doctor`'s check of every configured agent profile: the program is found, it
//! starts inside the sandbox its tasks get (`--version`, with a private home seeded as a
//! task's is), and its credentials are there. Each problem comes with its fix.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use agenthost_sandbox::{Enforcement, Restriction, Support};

use crate::config::{AgentProfile, Config};
use crate::confinement::{self, Canonicalizer, PlanInput, agent_home};

/// How long a program's `--version` may take inside the sandbox.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where each built-in profile's CLI comes from, for the fix of a missing one.
const INSTALL: &[(&str, &str)] = &[
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("gemini", "npm install -g @google/gemini-cli"),
    (
        "aider",
        "pipx install aider-chat (or: uv tool install aider-chat)",
    ),
];

/// Variables that carry a login, by name; a profile with none of them set and no seeded
/// credentials file has no way to log in.
fn is_credential(var: &str) -> bool {
    var.ends_with("_API_KEY") || var.ends_with("_TOKEN") || var.ends_with("_AUTH_TOKEN")
}

/// One profile's report: lines, and whether the profile can run.
pub(super) struct ProfileReport {
    /// `ok`/`MISSING`/`note` lines, indented, with fixes.
    pub text: String,
    /// False when the program is installed but does not start in its sandbox (a missing
    /// program is reported with its fix, and is no failure of the machine).
    pub runs: bool,
}

/// Checks `name`'s profile. `support` is what the kernel enforces.
pub(super) fn check(
    name: &str,
    profile: &AgentProfile,
    config: &Config,
    support: &Support,
) -> ProfileReport {
    let mut text = String::new();
    let host_env: BTreeMap<String, String> = std::env::vars().collect();
    let Some(written) = profile.command.args().first() else {
        return ProfileReport { text, runs: false };
    };
    if written == "agenthost" {
        let _ = writeln!(text, "  ok      built into agenthost");
        return ProfileReport { text, runs: true };
    }
    let Some(program) =
        crate::confinement::find_program(written, host_env.get("PATH").map(String::as_str))
    else {
        let install = INSTALL
            .iter()
            .find(|(cli, _)| *cli == name)
            .map_or(String::new(), |(_, how)| format!("install it ({how}), or "));
        let _ = writeln!(
            text,
            "  MISSING `{written}` is not installed or not on PATH\n          fix: {install}set `command` in [agents.{name}] to its full path"
        );
        return ProfileReport { text, runs: true };
    };
    let resolved = program.canonicalize().unwrap_or_else(|_| program.clone());
    let _ = writeln!(
        text,
        "  ok      program {}{}",
        program.display(),
        if resolved == program {
            String::new()
        } else {
            format!(" -> {}", resolved.display())
        }
    );
    let runs = match version_in_sandbox(profile, name, config, support, &program, &host_env) {
        Ok(line) => {
            let _ = writeln!(text, "  ok      starts in its sandbox: {line}");
            true
        }
        Err(why) => {
            let _ = writeln!(
                text,
                "  FAILED  does not start in its sandbox: {why}\n          fix: `agenthost sandbox --spec SPEC --profile {name} --explain` shows what it may read; grant what it needs with [agents.{name}] read"
            );
            false
        }
    };
    let home = confinement::home_dir();
    let keys: Vec<&String> = profile
        .pass_env
        .iter()
        .filter(|var| is_credential(var))
        .collect();
    let set: Vec<&&String> = keys.iter().filter(|v| host_env.contains_key(**v)).collect();
    // The login file a CLI keeps (the one written back after a run), when it has one.
    let seeded: Vec<String> = profile
        .write_back
        .iter()
        .filter(|file| file.expand(&home).exists())
        .map(ToString::to_string)
        .collect();
    match (set.is_empty(), seeded.is_empty()) {
        (false, _) => {
            let names: Vec<&str> = set.iter().map(|v| v.as_str()).collect();
            let _ = writeln!(text, "  ok      credentials: {}", names.join(", "));
        }
        (true, false) => {
            let _ = writeln!(
                text,
                "  ok      login copied into each task's private home: {}",
                seeded.join(", ")
            );
        }
        (true, true) if !keys.is_empty() => {
            let names: Vec<&str> = keys.iter().map(|v| v.as_str()).collect();
            let _ = writeln!(
                text,
                "  note    no login: none of {} is set in agenthost's environment{}\n          fix: set one of them where you run agenthost (the supervisor keeps the environment it started with: `agenthost serve --stop` after changing it), or log in with the CLI itself",
                names.join(", "),
                match &profile.write_back {
                    None => String::new(),
                    Some(file) => format!(", and there is no {file} to copy into its private home"),
                }
            );
        }
        (true, true) => {}
    }
    for warning in profile.home_write_warnings(name, &home) {
        let _ = writeln!(text, "  WARNING {warning}");
    }
    ProfileReport { text, runs }
}

/// Runs `program --version` in the sandbox a task of this profile gets, in a throwaway
/// repository and private home; returns its first line of output.
fn version_in_sandbox(
    profile: &AgentProfile,
    name: &str,
    config: &Config,
    support: &Support,
    program: &Path,
    host_env: &BTreeMap<String, String>,
) -> Result<String, String> {
    let io = |what: &'static str| move |err: std::io::Error| format!("{what}: {err}");
    let dir = tempfile::Builder::new()
        .prefix("agenthost-doctor-profile-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(io("cannot make a temp dir"))?;
    let base = dir.path().canonicalize().map_err(io("temp dir"))?;
    let (root, home, tmp) = (base.join("repo"), base.join("home"), base.join("tmp"));
    for path in [&root, &tmp] {
        std::fs::create_dir_all(path).map_err(io("temp dir"))?;
    }
    std::fs::write(root.join("README.md"), "doctor\n").map_err(io("temp repo"))?;
    git2::Repository::init(&root).map_err(|err| format!("git init: {err}"))?;
    agent_home::prepare(&home, &confinement::home_dir(), profile, host_env)
        .map_err(|err| err.to_string())?;
    let text = "# Doctor\n\n## What\nA probe.\n\n### Scope\n- Modify: `README.md`\n";
    let spec = crate::spec::parse("doctor.md", text.as_bytes())
        .spec
        .ok_or("the probe spec does not parse")?;
    let mut resolved = Canonicalizer::default();
    let input = PlanInput {
        purpose: crate::confinement::Purpose::Agent,
        spec: &spec,
        spec_name: "doctor.md".into(),
        root: root.clone(),
        profile: Some((name, profile)),
        sandbox: &config.sandbox,
        host_env: host_env.clone(),
        home: confinement::home_dir(),
        agent_home: Some(home),
        program: Some(program.to_path_buf()),
        tmpdir: tmp,
        enforcement: Enforcement::BestEffort,
        as_root: support.root,
        git: crate::confinement::git_layout::GitLayout::of_worktree(&root, &mut resolved),
        resolved,
    };
    let built = confinement::build(input).map_err(|err| err.to_string())?;
    let created = confinement::prepare(&built).map_err(|err| err.to_string())?;
    let restriction = Restriction::prepare(&built.plan, support).map_err(|err| err.to_string())?;
    let argv: Vec<OsString> = vec![program.into(), "--version".into()];
    let mut command = restriction.command(&argv).map_err(|err| err.to_string())?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(io("cannot start it"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io("waiting"))? {
            break Some(status);
        }
        if started.elapsed() > VERSION_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    for mut stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read>),
    ]
    .into_iter()
    .flatten()
    {
        let _ = stream.read_to_string(&mut output);
    }
    confinement::cleanup(&created);
    let first = output
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    match status {
        None => Err(format!(
            "`--version` did not finish in {} s",
            VERSION_TIMEOUT.as_secs()
        )),
        Some(status) if status.success() => Ok(first),
        Some(status) => Err(format!(
            "`--version` exited with {}: {}",
            confinement::exit_code(status),
            if first.is_empty() {
                "no output"
            } else {
                &first
            }
        )),
    }
}

/// The profiles' section of the doctor's report, and whether every installed agent starts
/// in its sandbox.
pub(super) fn section(config: &Config, support: &Support) -> (String, bool) {
    let mut text = String::from("\nAgent profiles (each started with --version in its sandbox):\n");
    let mut all_run = true;
    for (name, profile) in &config.agents {
        let marker = if *name == config.default_agent {
            " (default)"
        } else {
            ""
        };
        let _ = writeln!(text, "  {name}{marker}:");
        let report = check(name, profile, config, support);
        for line in report.text.lines() {
            let _ = writeln!(text, "  {line}");
        }
        all_run &= report.runs;
    }
    (text, all_run)
}

/// The repository doctor looks at: the one around the current directory, if any.
pub(super) fn current_repo() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    git2::Repository::discover(&cwd)
        .ok()
        .and_then(|repo| repo.workdir().map(Path::to_path_buf))
}

//! `agenthost doctor --repo`: the repository's `[worktree] setup` and test command, run once
//! in a throwaway task worktree in the sandboxes a task's would get, with what the sandbox
//! refused and the setting that allows it. A new user's first question ("will my project
//! work in there?") answered before any agent runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agenthost_sandbox::{Restriction, Support};

use crate::config::{Config, ConfigSources, SandboxMode};
use crate::confinement::{self, Canonicalizer, PlanInput, Purpose, hints};
use crate::runner::{Ending, Job, Runner as _, cancellation, local::LocalRunner};
use crate::task::worktree::{TaskWorktree, resolve_base};

/// How many lines of a failed command's output the report quotes.
const TAIL_LINES: usize = 15;

/// The probe spec: the setup and test runs use none of its Scope.
const PROBE_SPEC: &str =
    "# doctor --repo\n\n## What\nA probe.\n\n### Scope\n- Modify: `README.md`\n";

/// Runs the checks for the repository at `repo`; returns the report and whether every
/// command passed (or there was nothing to run).
pub(super) fn check(repo: &Path, support: &Support) -> Result<(String, bool), String> {
    let config = Config::load(&ConfigSources::discover(Some(repo)))
        .map_err(|err| format!("the repository's configuration is invalid: {err}"))?;
    let mut out = String::new();
    let _ = writeln!(out, "Repository {}", repo.display());
    let test_command = config.test.command.clone();
    if config.worktree.setup.is_empty() && test_command.is_none() {
        let _ = writeln!(
            out,
            "  nothing to run: no `[worktree] setup` and no `[test] command` in its agenthost.toml\n  (a spec's own `test` runs only in its task). Set them, then run this again."
        );
        return Ok((out, true));
    }
    if config.sandbox.mode == SandboxMode::Off {
        let _ = writeln!(
            out,
            "  sandbox mode is off in your config: the commands would run with all of your rights; not run"
        );
        return Ok((out, false));
    }
    let temp = tempfile::Builder::new()
        .prefix("agenthost-doctor-repo-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|err| format!("cannot make a temp dir: {err}"))?;
    let base_dir = temp
        .path()
        .canonicalize()
        .map_err(|err| format!("temp dir: {err}"))?;
    let base = resolve_base(repo, config.worktree.base.as_deref()).map_err(|e| e.to_string())?;
    let name = format!("doctor-{}", std::process::id());
    let (worktree, missing) = TaskWorktree::create(
        repo,
        &name,
        &base,
        &base_dir.join("worktree"),
        &config.worktree.copy,
    )
    .map_err(|err| format!("cannot make a throwaway worktree: {err}"))?;
    let _ = writeln!(
        out,
        "  a throwaway task worktree at {} (base {}{})",
        worktree.path.display(),
        base.branch.as_deref().unwrap_or("detached"),
        base.commit
            .get(..12)
            .map_or(String::new(), |short| format!(" at {short}"))
    );
    for path in &missing {
        let _ = writeln!(
            out,
            "  WARNING `worktree.copy` names `{}`, which your checkout does not have",
            path.display()
        );
    }
    let result = run_all(&config, &worktree, &base_dir, support, &mut out);
    if let Err(err) = worktree.remove() {
        let _ = writeln!(
            out,
            "  WARNING the throwaway worktree was not removed: {err}"
        );
    }
    let passed = result?;
    let _ = writeln!(
        out,
        "{}",
        if passed {
            "Result: the setup and the tests work in the sandbox: tasks of this repository can reach `ready`."
        } else {
            "Result: fix what is named above, then run `agenthost doctor --repo` again."
        }
    );
    Ok((out, passed))
}

/// The setup commands, then the test command, each in its sandbox; stops at the first
/// failure.
fn run_all(
    config: &Config,
    worktree: &TaskWorktree,
    base: &Path,
    support: &Support,
    out: &mut String,
) -> Result<bool, String> {
    let root = worktree
        .path
        .canonicalize()
        .map_err(|err| format!("the worktree: {err}"))?;
    let spec = crate::spec::parse("doctor.md", PROBE_SPEC.as_bytes())
        .spec
        .ok_or("the probe spec does not parse")?;
    let host_env: BTreeMap<String, String> = std::env::vars().collect();
    let log = base.join("output.log");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start a runtime: {err}"))?;
    let ports = config.worktree.setup_ports.clone();
    let steps: Vec<(Purpose<'_>, &str, hints::Run, Duration)> = config
        .worktree
        .setup
        .iter()
        .map(|command| {
            (
                Purpose::Setup { ports: &ports },
                command.as_str(),
                hints::Run::Setup,
                config.worktree.setup_timeout,
            )
        })
        .chain(config.test.command.iter().map(|command| {
            (
                Purpose::Test {
                    config: &config.test,
                },
                command.as_str(),
                hints::Run::Test,
                config.test.timeout,
            )
        }))
        .collect();
    for (index, (purpose, command, run, timeout)) in steps.into_iter().enumerate() {
        let places = base.join(format!("run-{index}"));
        let (tmpdir, home) = (places.join("tmp"), places.join("home"));
        for dir in [&tmpdir, &home] {
            std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        }
        let mut resolved = Canonicalizer::default();
        let input = PlanInput {
            purpose,
            spec: &spec,
            spec_name: "doctor.md".into(),
            root: root.clone(),
            profile: None,
            sandbox: &config.sandbox,
            host_env: host_env.clone(),
            home: confinement::home_dir(),
            agent_home: Some(home),
            program: None,
            tmpdir,
            enforcement: config.sandbox.mode.enforcement(),
            as_root: support.root,
            git: crate::confinement::git_layout::GitLayout::of_worktree(&root, &mut resolved),
            resolved,
        };
        let what = purpose.name();
        let built = confinement::build(input).map_err(|err| {
            format!(
                "cannot build the {what} sandbox: {err}{}",
                miette::Diagnostic::help(&err).map_or(String::new(), |help| format!("; {help}"))
            )
        })?;
        let missing = support.missing(&built.plan);
        if !missing.is_empty() {
            let _ = writeln!(
                out,
                "  {what} `{command}`: NOT RUN: this machine cannot enforce its sandbox: {}; run `agenthost doctor`",
                confinement::missing_text(support, &missing)
            );
            return Ok(false);
        }
        let created = confinement::prepare(&built).map_err(|err| err.to_string())?;
        let restriction =
            Restriction::prepare(&built.plan, support).map_err(|err| err.to_string())?;
        let before = std::fs::metadata(&log).map_or(0, |m| m.len());
        let job = Job {
            argv: vec!["/bin/sh".into(), "-c".into(), command.into()],
            env: built
                .plan
                .env
                .iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            cwd: built.plan.cwd.clone(),
            stdin: None,
            log: log.clone(),
            timeout,
            sandbox: Some(restriction),
        };
        let started = Instant::now();
        // Kept until the job ends: a dropped canceller would read as "never cancelled" too,
        // but this says so.
        let (_canceller, cancel) = cancellation();
        let outcome = runtime
            .block_on(LocalRunner.run(job, cancel))
            .map_err(|err| format!("`{command}` could not run: {err}"))?;
        confinement::cleanup(&created);
        let seconds = started.elapsed().as_secs_f64();
        if outcome.ending == Ending::Exited(0) {
            let _ = writeln!(out, "  {what} `{command}`: ok in {seconds:.1} s");
            continue;
        }
        let text = std::fs::read(&log)
            .map(|bytes| String::from_utf8_lossy(&bytes[before as usize..]).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
        let _ = writeln!(
            out,
            "  {what} `{command}`: FAILED: it {} after {seconds:.1} s; the end of its output:",
            outcome.ending
        );
        for line in tail.lines() {
            let _ = writeln!(out, "      {line}");
        }
        let found = hints::hints(
            &tail,
            run,
            hints::Places {
                worktree: &root,
                home: &confinement::home_dir(),
            },
        );
        if found.is_empty() {
            let _ = writeln!(
                out,
                "    help: nothing in its output names a refusal of the sandbox; if it works outside agenthost, compare with `agenthost sandbox --explain`"
            );
        }
        for hint in found {
            let _ = writeln!(out, "    help: {hint}");
        }
        return Ok(false);
    }
    // Read only: the throwaway worktree goes, and a checkout could write through a link
    // the commands planted.
    let changed = worktree.tracked_changes().map_err(|err| err.to_string())?;
    if !changed.is_empty() {
        let _ = writeln!(
            out,
            "  note: the commands changed tracked files ({}): in a task the setup's changes are put back and the test run's are committed as its own; make them leave these alone (`npm ci` instead of `npm install`)",
            changed.join(", ")
        );
    }
    let created = worktree.untracked_files().map_err(|err| err.to_string())?;
    if !created.is_empty() {
        let _ = writeln!(
            out,
            "  note: the commands created files git does not ignore ({}{}): in a task they are set aside with a warning; ignore them in .gitignore",
            created
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if created.len() > 5 { ", ..." } else { "" }
        );
    }
    Ok(true)
}

/// The repository around the current directory, or `explicit`.
pub(super) fn repo_root(explicit: &Path) -> Result<PathBuf, String> {
    let repo = git2::Repository::discover(explicit)
        .map_err(|_| format!("{} is not in a git repository", explicit.display()))?;
    repo.workdir()
        .map(|dir| dir.components().collect())
        .ok_or_else(|| "the repository is bare: it has no working tree".to_string())
}

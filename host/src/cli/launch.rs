//! `agenthost launch SPEC...`: check each spec, ask the acceptance policies, and queue the
//! accepted ones with the per-user supervisor (started on demand). Returns at once, or with
//! `--wait` when every task is done.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::{Exit, Output};
use crate::config::{Config, ConfigSources};
use crate::spec::{self, ParsedSpec};
use crate::state_dir::StateDirs;
use crate::supervisor::protocol::{Request, Response};
use crate::supervisor::store::Store;
use crate::supervisor::{Client, SupervisorError, decide};
use crate::task::TaskState;

/// Arguments of `agenthost launch`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost launch specs/filter-bar.md\n  agenthost launch --agent codex specs/*.md\n  agenthost launch --wait --agent script examples/specs/demo/*.md\n\nEvery spec is checked and shown to the acceptance policies first; if any is refused,\nnothing is queued. Exit status: 0 queued (with --wait: every task ready without blocking\nfindings), 1 refused or (with --wait) a task failed or has blocking findings, 2 error."
)]
pub struct LaunchArgs {
    /// Spec files to launch, one task each.
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<PathBuf>,

    /// The agent profile to run [default: the spec's `agent`, else `default_agent`].
    #[arg(long, value_name = "PROFILE")]
    pub agent: Option<String>,

    /// Wait until every launched task is done, then report.
    #[arg(long)]
    pub wait: bool,

    /// The repository the specs are for [default: the git repository containing each spec,
    /// else the one containing the current directory].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// A spec ready to be queued.
struct Ready {
    repo: PathBuf,
    path: PathBuf,
    text: String,
}

/// Runs `agenthost launch`.
pub(super) fn run(args: &LaunchArgs, output: &Output) -> miette::Result<Exit> {
    let mut ready = Vec::new();
    let mut refused = false;
    // One engine for the whole run: setting it up is the expensive part of a policy call.
    let engine = crate::policy::cli_engine()?;
    for path in &args.specs {
        let parsed = spec::read(path).map_err(|err| {
            miette::miette!(
                code = "launch::unreadable",
                help = "check that the file exists and is readable",
                "cannot read spec {}: {err}",
                path.display()
            )
        })?;
        let repo = repo_root(args.repo.as_deref(), path)?;
        let config = Config::load(&ConfigSources::discover(Some(&repo)))?;
        if let Some(agent) = &args.agent
            && !config.agents.contains_key(agent)
        {
            let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
            return Err(miette::miette!(
                code = "launch::unknown_agent",
                help = format!("known profiles: {}", known.join(", ")),
                "no agent profile `{agent}`"
            ));
        }
        let profile_name = args
            .agent
            .clone()
            .or_else(|| {
                parsed
                    .spec
                    .as_ref()
                    .and_then(|s| s.front_matter.agent.clone())
            })
            .unwrap_or_else(|| config.default_agent.clone());
        if let Some(profile) = config.agents.get(&profile_name)
            && let Some(program) = profile.command.args().first()
            && program != "agenthost"
            && crate::confinement::find_program(program, std::env::var("PATH").ok().as_deref())
                .is_none()
        {
            return Err(miette::miette!(
                code = "launch::agent_missing",
                help = format!(
                    "install it, put it on PATH, or pick another profile with --agent (the `script` profile needs nothing)"
                ),
                "the agent program `{program}` of profile `{profile_name}` is not installed or not on PATH"
            ));
        }
        if let Some(profile) = config.agents.get(&profile_name) {
            for warning in
                profile.home_write_warnings(&profile_name, &crate::confinement::home_dir())
            {
                output.print(&format!("{warning}\n"))?;
            }
        }
        let mut parsed = parsed;
        let verdict = acceptance(&engine, &config, &mut parsed, output)?;
        if !verdict.text.is_empty() {
            output.print(&verdict.text)?;
        }
        if !verdict.accepted {
            output.print(&format!(
                "{}: refused by the acceptance policies; nothing queued\n",
                path.display()
            ))?;
            refused = true;
            continue;
        }
        let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        ready.push(Ready {
            repo,
            path: absolute,
            text: parsed.source.text().to_string(),
        });
    }
    if refused {
        output.print("nothing was queued: fix the specs above and launch again\n")?;
        return Ok(Exit::Findings);
    }

    let dirs = StateDirs::discover().map_err(SupervisorError::from)?;
    let client = Client::new(dirs.clone());
    let mut ids = Vec::new();
    for spec in ready {
        let response = client.request_starting(Request::Launch {
            repo: spec.repo.clone(),
            spec_path: spec.path.clone(),
            spec_text: spec.text.clone(),
            agent: args.agent.clone(),
            env: crate::confinement::plan::launch_env(),
        })?;
        match response {
            Response::Launched { id, held } => {
                output.print(&format!("queued {id} ({})\n", spec.path.display()))?;
                if let Some(reason) = held {
                    output.print(&format!("  waits: {reason}\n"))?;
                }
                if !crate::verify::spec_lookup::committed_in_head(
                    &spec.repo, &spec.path, &spec.text,
                ) {
                    output.print(&format!(
                        "  note: {} is not committed as launched; commit it so that \
                         `agenthost verify` can check this task's work from the repository\n",
                        spec.path.display()
                    ))?;
                }
                ids.push(id);
            }
            other => {
                return Err(SupervisorError::Protocol {
                    detail: format!("unexpected answer to launch: {other:?}"),
                }
                .into());
            }
        }
    }
    if !args.wait {
        output.print("follow with `agenthost status`; review with `agenthost review ID`\n")?;
        return Ok(Exit::Success);
    }
    wait_for(&dirs, &ids, output)
}

/// Asks the acceptance policies about a parsed spec; their findings join its own problems
/// (pointing at the lines they name). Accepted when no problem is an error.
pub(super) fn acceptance(
    engine: &crate::policy::Engine,
    config: &Config,
    parsed: &mut ParsedSpec,
    output: &Output,
) -> miette::Result<decide::AcceptanceVerdict> {
    if let Some(spec) = parsed.spec.clone()
        && !parsed.has_parse_error()
    {
        let policies = crate::policy::PolicySet::load_for(
            engine,
            &config.policies,
            Some(agenthost_policy::Hook::Acceptance),
        );
        let view = crate::policy::view::spec(&spec);
        for report in policies.acceptance(engine, &view) {
            for problem in super::check::policy_problems(&parsed.source, report) {
                parsed.push_problem(problem);
            }
        }
    }
    let mut text = String::new();
    for diagnostic in parsed.diagnostics() {
        text.push_str(&output.render(diagnostic.as_ref()));
    }
    Ok(decide::AcceptanceVerdict {
        accepted: parsed.spec.is_some() && !parsed.has_errors(),
        text,
    })
}

/// The repository a spec is for.
fn repo_root(explicit: Option<&Path>, spec: &Path) -> miette::Result<PathBuf> {
    let discover = |dir: &Path| {
        git2::Repository::discover(dir)
            .ok()
            .and_then(|repo| repo.workdir().map(Path::to_path_buf))
    };
    let found = match explicit {
        Some(dir) => git2::Repository::open(dir)
            .ok()
            .and_then(|repo| repo.workdir().map(Path::to_path_buf)),
        None => {
            let dir = spec
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            discover(dir).or_else(|| discover(Path::new(".")))
        }
    };
    let root = found.ok_or_else(|| {
        miette::miette!(
            code = "launch::no_repository",
            help = "a task runs in a git worktree of its repository: keep the spec in the repository, run from inside it, or pass --repo DIR",
            "{} is not inside a git repository",
            spec.display()
        )
    })?;
    Ok(root.canonicalize().unwrap_or(root))
}

/// Waits until every task is done, saying why a task waits whenever that changes (an
/// admission policy's hold); rings the bell; reports each task's state with its reason and
/// blocking findings.
fn wait_for(dirs: &StateDirs, ids: &[String], output: &Output) -> miette::Result<Exit> {
    let store = Store::open(&dirs.database()).map_err(SupervisorError::from)?;
    let mut said: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    loop {
        let mut done = Vec::new();
        for id in ids {
            let Some(task) = store.task(id).map_err(SupervisorError::from)? else {
                continue;
            };
            if matches!(
                task.state,
                TaskState::Queued | TaskState::Running | TaskState::Checking
            ) {
                let waiting = (task.state == TaskState::Queued).then(|| task.reason.clone());
                if let Some(reason) = waiting.filter(|r| !r.is_empty() && r != "launched")
                    && said.get(id) != Some(&reason)
                {
                    output.print(&format!("{id} is queued: {reason}\n"))?;
                    said.insert(id.clone(), reason);
                }
            } else {
                done.push(task);
            }
        }
        if done.len() == ids.len() {
            let mut exit = Exit::Success;
            let mut text = String::new();
            for task in &done {
                // The latest finished attempt's findings (the store picks the attempt).
                let findings = store
                    .findings(&task.launch.id)
                    .map_err(SupervisorError::from)?;
                let blocking: Vec<_> = findings.iter().filter(|f| f.severity == "error").collect();
                if task.state != TaskState::Ready || !blocking.is_empty() {
                    exit = Exit::Findings;
                }
                text.push_str(&report_line(task, blocking.len()));
                for finding in blocking {
                    text.push_str(&format!(
                        "  blocking: {}\n",
                        crate::supervisor::lifecycle::finding_line(finding)
                    ));
                }
            }
            let config = done
                .first()
                .and_then(|t| Config::load(&ConfigSources::discover(Some(&t.launch.repo))).ok());
            if config.is_none_or(|c| c.notify.bell) {
                text.push('\u{7}');
            }
            output.print(&text)?;
            return Ok(exit);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `ID is STATE`, with the reason where the state needs one (every line of a failure's
/// reason, indented), and the way on.
fn report_line(task: &crate::supervisor::store::Task, blocking: usize) -> String {
    let id = &task.launch.id;
    let mut line = state_line(task, blocking);
    if let Some(moved) = crate::task::stale::of_ready(task) {
        line.push_str(&format!("  base: {}\n", moved.describe(id)));
    }
    line
}

/// The first part of [`report_line`]: the state and its reason.
fn state_line(task: &crate::supervisor::store::Task, blocking: usize) -> String {
    let id = &task.launch.id;
    match task.state {
        TaskState::Ready if blocking == 0 => {
            format!("{id} is ready: review with `agenthost review {id}`\n")
        }
        TaskState::Ready => format!(
            "{id} is ready with {blocking} blocking finding(s): `agenthost review {id}`, then \
             `agenthost correct {id} -m ...` or `agenthost reject {id}`\n"
        ),
        state => {
            let mut lines = task.reason.lines();
            let mut text = format!(
                "{id} is {state}: {}\n",
                lines.next().unwrap_or("no reason recorded")
            );
            // Further lines (the end of a failed agent's output) come indented already.
            for line in lines {
                text.push_str(&format!("{line}\n"));
            }
            if state == TaskState::Failed {
                text.push_str(&format!(
                    "  next: `agenthost logs {id}` shows the whole run; `agenthost resume {id}` \
                     runs it again, `agenthost correct {id} -m ...` with instructions, \
                     `agenthost reject {id}` drops it\n"
                ));
            }
            text
        }
    }
}

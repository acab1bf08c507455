//! `agenthost demo`: the whole flow on built-in defaults, no model, no network (see
//! [`crate::demo`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::{Exit, Output};
use crate::config::{Config, ConfigSources};
use crate::demo;
use crate::spec;
use crate::state_dir::StateDirs;
use crate::supervisor::protocol::{Request, Response};
use crate::supervisor::store::Store;
use crate::supervisor::{Client, SupervisorError};
use crate::task::TaskState;

/// How long the demo waits for its three tasks.
const DEMO_TIMEOUT: Duration = Duration::from_secs(300);

/// Arguments of `agenthost demo`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost demo\n  agenthost demo --dir /tmp/my-demo\n\nCreates a sample repository and launches three example specs with the scripted agent\n(no model, no network) under the real sandbox and policies; prints the review queue.\nEverything lives in one directory, with its own agenthost state: your tasks are untouched."
)]
pub struct DemoArgs {
    /// Where to put the demo [default: a new directory under $TMPDIR]; must not exist.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `agenthost demo`.
pub(super) fn run(args: &DemoArgs, output: &Output) -> miette::Result<Exit> {
    let root = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!(
            "agenthost-demo-{}-{}",
            std::process::id(),
            crate::supervisor::store::now_ms()
        )),
    };
    if root.exists() {
        return Err(miette::miette!(
            code = "demo::exists",
            help = "pass a directory that does not exist yet, or leave out --dir",
            "{} exists already",
            root.display()
        ));
    }
    let dirs = demo::prepare(&root).map_err(|err| {
        miette::miette!(
            code = "demo::prepare",
            help = "check that the directory is writable",
            "cannot prepare the demo in {}: {err}",
            root.display()
        )
    })?;
    // Built-in defaults only: an empty user config, whatever the real one says.
    let empty_config = root.join("config.toml");
    fs_err::write(
        &empty_config,
        "# the demo runs on agenthost's built-in defaults\n",
    )
    .map_err(|err| miette::miette!("cannot write {}: {err}", empty_config.display()))?;
    let sources = ConfigSources {
        user: Some(empty_config.clone()),
        repo: None,
        local: None,
    };
    let config = Config::load(&sources)?;

    let mut text = format!(
        "agenthost demo in {}\n  sample repository  {}\n  specs              {}\n\n",
        root.display(),
        dirs.repo.display(),
        dirs.specs.display()
    );
    output.print(&std::mem::take(&mut text))?;

    let state = StateDirs {
        root: dirs.state.clone(),
        runtime: dirs.state.join("run"),
    };
    let client = Client::new(state.clone()).env("AGENTHOST_CONFIG", empty_config);
    let mut ids = Vec::new();
    let engine = crate::policy::cli_engine()?;
    for (name, _, shows) in demo::SPECS {
        let path = dirs.specs.join(name);
        let mut parsed = spec::read(&path)
            .map_err(|err| miette::miette!("cannot read {}: {err}", path.display()))?;
        let verdict = super::launch::acceptance(&engine, &config, &mut parsed, output)?;
        if !verdict.accepted {
            output.print(&verdict.text)?;
            return Err(miette::miette!(
                code = "demo::refused",
                help = "this is a bug in the demo: please report it",
                "the acceptance policies refused the demo spec {name}"
            ));
        }
        let response = client.request_starting(Request::Launch {
            repo: dirs.repo.clone(),
            spec_path: path.clone(),
            spec_text: parsed.source.text().to_string(),
            agent: Some("script".to_string()),
            env: crate::confinement::plan::launch_env(),
        })?;
        let Response::Launched { id, .. } = response else {
            return Err(SupervisorError::Protocol {
                detail: format!("unexpected answer to launch: {response:?}"),
            }
            .into());
        };
        output.print(&format!("launched {id}: {shows}\n"))?;
        ids.push(id);
    }

    output.print("\nwaiting for the agents and the checks...\n")?;
    let store = Store::open(&state.database()).map_err(SupervisorError::from)?;
    let started = Instant::now();
    let tasks = loop {
        let mut tasks = Vec::new();
        for id in &ids {
            if let Some(task) = store.task(id).map_err(SupervisorError::from)? {
                tasks.push(task);
            }
        }
        let done = tasks.iter().all(|t| {
            !matches!(
                t.state,
                TaskState::Queued | TaskState::Running | TaskState::Checking
            )
        });
        if done && tasks.len() == ids.len() {
            break tasks;
        }
        if started.elapsed() > DEMO_TIMEOUT {
            let _ = client.request(Request::Shutdown);
            return Err(miette::miette!(
                code = "demo::timeout",
                help = format!(
                    "look at the supervisor's log: {}",
                    client.log_path().display()
                ),
                "the demo's tasks did not finish within {}s",
                DEMO_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };

    text.push_str("\nReview queue\n");
    let mut all_ready = true;
    for task in &tasks {
        all_ready &= task.state == TaskState::Ready;
        let attempts = store
            .attempts(&task.launch.id)
            .map_err(SupervisorError::from)?;
        let lines = attempts
            .last()
            .and_then(|a| a.added.zip(a.removed))
            .map_or(String::new(), |(a, r)| format!("  +{a} -{r}"));
        text.push_str(&format!(
            "\n  {}  {}{lines}\n  {}\n",
            task.launch.id, task.state, task.launch.title
        ));
        if task.state != TaskState::Ready {
            let events = store
                .events(Some(&task.launch.id))
                .map_err(SupervisorError::from)?;
            if let Some(last) = events.last() {
                text.push_str(&format!("    why: {}\n", last.detail));
            }
        }
        if let Some(last) = attempts.last() {
            let log = std::fs::read_to_string(&last.log_path).unwrap_or_default();
            for line in log.lines() {
                if let Some(refused) = line.strip_prefix("scripted-agent: could not change ") {
                    text.push_str(&format!("    ⊘ refused by the sandbox: {refused}\n"));
                }
            }
        }
        let findings = store
            .findings(&task.launch.id)
            .map_err(SupervisorError::from)?;
        if findings.is_empty() && task.state == TaskState::Ready {
            text.push_str("    no findings: ready to accept\n");
        }
        for finding in findings {
            let mark = match finding.severity.as_str() {
                "error" => "✗ blocking",
                "warning" => "⚠ warning ",
                _ => "· info    ",
            };
            let first_line = finding.message.lines().next().unwrap_or_default();
            text.push_str(&format!("    {mark} {}: {first_line}\n", finding.rule));
        }
    }
    let _ = client.request(Request::Shutdown);
    text.push_str(&format!(
        "\nLook closer (this demo keeps its own state):\n  export AGENTHOST_STATE_DIR={}\n  agenthost status\n  agenthost review {}\n  agenthost logs {}\n  agenthost accept {}\n",
        state.root.display(),
        ids.first().map_or("ID", String::as_str),
        ids.get(1).map_or("ID", String::as_str),
        ids.first().map_or("ID", String::as_str),
    ));
    output.print(&text)?;
    Ok(if all_ready {
        Exit::Success
    } else {
        Exit::Findings
    })
}

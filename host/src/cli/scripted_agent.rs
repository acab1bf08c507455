//! `agenthost scripted-agent`: the deterministic example agent (see
//! [`crate::scripted_agent`]). Hidden from help: agents run it, people rarely do.

use std::io::Read as _;
use std::path::PathBuf;

use clap::Args;

use super::{Exit, Output};
use crate::scripted_agent;

/// Arguments of `agenthost scripted-agent`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost scripted-agent < prompt.md\n  agenthost scripted-agent --prompt-file prompt.md --root /path/to/worktree"
)]
pub struct ScriptedAgentArgs {
    /// Read the prompt from this file instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,

    /// The directory the script's paths are relative to [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// Runs the scripted agent.
pub(super) fn run(args: &ScriptedAgentArgs, output: &Output) -> miette::Result<Exit> {
    let prompt = match &args.prompt_file {
        Some(path) => fs_err::read_to_string(path).map_err(|err| {
            miette::miette!(
                help = "pass a readable prompt file",
                "cannot read the prompt: {err}"
            )
        })?,
        None => {
            let mut prompt = String::new();
            std::io::stdin()
                .read_to_string(&mut prompt)
                .map_err(|err| {
                    miette::miette!(
                        help = "pipe the prompt into stdin",
                        "cannot read the prompt: {err}"
                    )
                })?;
            prompt
        }
    };
    let edits = scripted_agent::extract(&prompt).map_err(|err| {
        miette::miette!(
            code = "scripted_agent::script",
            help = "add a fenced ```agenthost-script block with [[edit]] entries to the spec",
            "{err}"
        )
    })?;
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut report = String::new();
    for result in scripted_agent::perform(&edits, &root) {
        match result {
            Ok(line) => report.push_str(&format!("scripted-agent: {line}\n")),
            Err(line) => report.push_str(&format!("scripted-agent: {line}\n")),
        }
    }
    output.print(&report)?;
    // Like a real agent: a failed edit is in the log, not in the exit code.
    Ok(Exit::Success)
}

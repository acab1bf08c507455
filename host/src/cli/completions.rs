//! `agenthost completions SHELL`: print a completion script.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Exit, Output};

/// Arguments of `agenthost completions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost completions bash > ~/.local/share/bash-completion/completions/agenthost\n  agenthost completions zsh > ~/.zfunc/_agenthost"
)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script for `args.shell` to stdout.
pub(super) fn run(args: &CompletionsArgs, output: &Output) -> miette::Result<Exit> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "agenthost", &mut script);
    output.print(&String::from_utf8_lossy(&script))?;
    Ok(Exit::Success)
}

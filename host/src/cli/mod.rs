//! The command line: clap types and one module per verb.
//!
//! `main` parses arguments, runs the verb, and turns its outcome into an [`Exit`] code.
//! Errors are rendered once, here, with miette.

mod check;
mod completions;
mod exit;
mod init;
mod output;
mod policy;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use exit::Exit;
pub use output::{ColorChoice, Output};

/// agenthost: run AI coding agents in the background, each locked into a kernel-enforced
/// sandbox built from its task spec's Scope.
#[derive(Debug, Parser)]
#[command(name = "agenthost", version, about, propagate_version = true)]
#[command(after_help = "Examples:\n  agenthost check examples/specs/*.md\n  agenthost init")]
pub struct Cli {
    /// When to use colors.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// The verb to run.
    #[command(subcommand)]
    pub command: Command,
}

/// agenthost's verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate task specs; print each parsed task and its findings.
    Check(check::CheckArgs),
    /// Write a commented agenthost.toml into a repository.
    Init(init::InitArgs),
    /// List, test and benchmark policies.
    Policy(policy::PolicyArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
}

/// Runs agenthost with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let is_error = err.use_stderr();
            // Printing help or usage can only fail on a closed pipe; nothing more to say then.
            let _ = err.print();
            return if is_error { Exit::Error } else { Exit::Success }.into();
        }
    };
    run(cli).into()
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Exit {
    let output = Output::new(cli.color);
    let result = match cli.command {
        Command::Check(args) => check::run(&args, &output),
        Command::Init(args) => init::run(&args, &output),
        Command::Policy(args) => policy::run(&args, &output),
        Command::Completions(args) => completions::run(&args),
    };
    match result {
        Ok(exit) => exit,
        Err(report) => {
            eprint!("{}", output.render(report.as_ref()));
            Exit::Error
        }
    }
}

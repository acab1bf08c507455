//! The command line: clap types and one module per verb.
//!
//! `main` parses arguments, runs the verb, and turns its outcome into an [`Exit`] code.
//! Errors are rendered once, here, with miette.

mod check;
mod completions;
mod demo;
mod diff;
mod doctor;
mod doctor_profiles;
mod doctor_repo;
#[cfg(test)]
mod front_tests;
mod hooks;
mod init;
mod launch;
mod logs;
mod policy;
mod policy_fixtures;
mod policy_request;
mod review;
mod scripted_agent;
mod serve;
mod stats;
mod status;
mod task_actions;
mod task_changes;
mod task_lookup;
pub mod ui;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use agenthost_front::cli::{ColorChoice, Exit, Output, conclude, exit, front, output, sandbox};

/// agenthost: run AI coding agents in the background, each locked into a kernel-enforced
/// sandbox built from its task spec's Scope.
#[derive(Debug, Parser)]
#[command(name = "agenthost", version, about, propagate_version = true)]
#[command(
    after_help = "Examples:\n  agenthost check examples/specs/*.md\n  agenthost init\n  agenthost sandbox --spec task.md -- make test\n  agenthost doctor"
)]
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
    /// Run the whole flow on a sample repository: three tasks, the scripted agent, the real
    /// sandbox and policies, no model, no network.
    Demo(demo::DemoArgs),
    /// Check specs and queue them as background tasks (the supervisor starts on demand).
    Launch(launch::LaunchArgs),
    /// Show every task across your repositories: state, age, review wait, size, findings.
    #[command(visible_alias = "ls")]
    Status(status::StatusArgs),
    /// Show a task's agent output (follow it with -f).
    Logs(logs::LogsArgs),
    /// Show a task's changes as a patch.
    Diff(diff::DiffArgs),
    /// Review a task: its scope, the review findings, the diffstat and the diff.
    Review(review::ReviewArgs),
    /// Merge a ready task into its base branch (squash by default), all or nothing.
    Accept(task_actions::AcceptArgs),
    /// Send a task back to its agent with a correction: attempt N+1, checks rerun.
    Correct(task_actions::CorrectArgs),
    /// Throw a task's work away: worktree and branch removed, record and logs kept.
    Reject(task_actions::IdArgs),
    /// Stop a queued or running task and throw its work away.
    Cancel(task_actions::IdArgs),
    /// Queue an interrupted or failed task again (a new attempt; a failed setup runs again).
    Resume(task_actions::IdArgs),
    /// The cockpit: every task of the day on one screen, with review, accept, correct and
    /// reject on single keys.
    Ui(ui::UiArgs),
    /// Review statistics: accepted per day, median review wait, acceptance rate, attempts.
    Stats(stats::StatsArgs),
    /// Run the per-user supervisor in the foreground (or stop it with --stop).
    Serve(serve::ServeArgs),
    /// Run a command in the kernel sandbox a spec's Scope defines.
    Sandbox(sandbox::SandboxArgs),
    /// Check that commits (or staged changes) stay inside their spec's Scope: for CI and
    /// git hooks.
    Verify(verify::VerifyArgs),
    /// Install or remove git hooks that run `agenthost verify`.
    Hooks(hooks::HooksArgs),
    /// Report what this kernel's sandbox can enforce, and prove it.
    Doctor(doctor::DoctorArgs),
    /// List, test and benchmark policies.
    Policy(policy::PolicyArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// The deterministic example agent: performs the edits in its prompt's
    /// `agenthost-script` block.
    #[command(hide = true)]
    ScriptedAgent(scripted_agent::ScriptedAgentArgs),
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
        Command::Demo(args) => demo::run(&args, &output),
        Command::Launch(args) => launch::run(&args, &output),
        Command::Status(args) => status::run(&args, &output),
        Command::Logs(args) => logs::run(&args, &output),
        Command::Diff(args) => diff::run(&args, &output),
        Command::Review(args) => review::run(&args, &output),
        Command::Accept(args) => task_actions::accept(&args, &output),
        Command::Correct(args) => task_actions::correct(&args, &output),
        Command::Reject(args) => task_actions::reject(&args, &output),
        Command::Cancel(args) => task_actions::cancel(&args, &output),
        Command::Resume(args) => task_actions::resume(&args, &output),
        Command::Ui(args) => ui::run(&args, &output),
        Command::Stats(args) => stats::run(&args, &output),
        Command::Serve(args) => serve::run(&args, &output),
        Command::Sandbox(args) => sandbox::run(&args, &output),
        Command::Verify(args) => verify::run(&args, &output),
        Command::Hooks(args) => hooks::run(&args, &output),
        Command::Doctor(args) => doctor::run(&args, &output),
        Command::Completions(args) => completions::run(&args, &output),
        Command::ScriptedAgent(args) => scripted_agent::run(&args, &output),
        Command::Policy(args) => policy::run(&args, &output),
    };
    conclude(result, &output)
}

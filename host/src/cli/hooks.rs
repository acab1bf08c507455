//! `agenthost hooks install|uninstall`: git hooks that run `agenthost verify`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use miette::IntoDiagnostic;

use super::{Exit, Output};
use crate::hooks::{self, Outcome};

/// Arguments of `agenthost hooks`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost hooks install\n  agenthost hooks install --force\n  agenthost hooks uninstall"
)]
pub struct HooksArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: HooksAction,
}

/// `agenthost hooks` verbs.
#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Write pre-commit (verify --staged) and pre-push (verify the pushed commits) hooks.
    #[command(
        after_help = "Examples:\n  agenthost hooks install\n  agenthost hooks install --repo ../webapp --force\n\nA hook agenthost did not write is never replaced without --force; with it, the old hook\nis kept as <hook>.agenthost-backup (and put back by `agenthost hooks uninstall`)."
    )]
    Install {
        /// Replace hooks agenthost did not write (each is kept as <hook>.agenthost-backup).
        #[arg(long)]
        force: bool,
        /// The repository [default: the one containing the current directory].
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
    },
    /// Remove agenthost's hooks, putting back any hook they replaced.
    #[command(
        after_help = "Examples:\n  agenthost hooks uninstall\n  agenthost hooks uninstall --repo ../webapp"
    )]
    Uninstall {
        /// The repository [default: the one containing the current directory].
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
    },
}

/// Runs `agenthost hooks`.
pub(super) fn run(args: &HooksArgs, output: &Output) -> miette::Result<Exit> {
    let start = |repo: &Option<PathBuf>| -> miette::Result<PathBuf> {
        match repo {
            Some(dir) => Ok(dir.clone()),
            None => std::env::current_dir().into_diagnostic(),
        }
    };
    let outcomes = match &args.action {
        HooksAction::Install { force, repo } => {
            let exe = std::env::current_exe().into_diagnostic()?;
            hooks::install(&start(repo)?, &exe, *force)?
        }
        HooksAction::Uninstall { repo } => hooks::uninstall(&start(repo)?)?,
    };
    let mut text = String::new();
    for outcome in outcomes {
        let line = match outcome {
            Outcome::Installed(path) => format!("installed {}", path.display()),
            Outcome::Updated(path) => format!("updated   {}", path.display()),
            Outcome::Replaced { path, backup } => format!(
                "replaced  {} (the old hook is {})",
                path.display(),
                backup.display()
            ),
            Outcome::Removed { path, restored } => format!(
                "removed   {}{}",
                path.display(),
                if restored {
                    " (the earlier hook is back)"
                } else {
                    ""
                }
            ),
            Outcome::Left { path, existed } => format!(
                "left      {} ({})",
                path.display(),
                if existed {
                    "not agenthost's"
                } else {
                    "none there"
                }
            ),
        };
        text.push_str(&line);
        text.push('\n');
    }
    output.print(&text)?;
    Ok(Exit::Success)
}

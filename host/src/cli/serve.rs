//! `agenthost serve`: run the per-user supervisor in the foreground, or stop it.

use clap::Args;

use super::{Exit, Output};
use crate::state_dir::StateDirs;
use crate::supervisor::protocol::{Request, Response};
use crate::supervisor::{Client, SupervisorError, server};

/// Arguments of `agenthost serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost serve           # run the supervisor here, logging to stderr\n  agenthost serve --stop    # stop the running supervisor\n\nCommands that need the supervisor start it in the background on demand; run it in the\nforeground to watch its log. Its state lives in $AGENTHOST_STATE_DIR, else\n$XDG_STATE_HOME/agenthost, else ~/.local/state/agenthost."
)]
pub struct ServeArgs {
    /// Stop the running supervisor instead of starting one.
    #[arg(long)]
    pub stop: bool,
}

/// Runs `agenthost serve`.
pub(super) fn run(args: &ServeArgs, output: &Output) -> miette::Result<Exit> {
    let dirs = StateDirs::discover().map_err(SupervisorError::from)?;
    if args.stop {
        let client = Client::new(dirs);
        if !client.is_running() {
            output.print("no supervisor is running\n")?;
            return Ok(Exit::Success);
        }
        match client.request(Request::Shutdown)? {
            Response::Ok => output.print("supervisor stopped\n")?,
            other => {
                return Err(SupervisorError::Protocol {
                    detail: format!("unexpected answer to shutdown: {other:?}"),
                }
                .into());
            }
        }
        return Ok(Exit::Success);
    }
    server::serve(&dirs)?;
    Ok(Exit::Success)
}

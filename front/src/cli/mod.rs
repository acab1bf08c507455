//! The command-line pieces the `agenthost` executable runs itself: the `sandbox` verb
//! ([`sandbox`]), how every verb writes its output ([`output`]) and exits ([`exit`]), and
//! the front that hands every other verb to `agenthost-core` ([`front`]).

pub mod exit;
pub mod front;
pub mod output;
pub mod sandbox;

pub use exit::Exit;
pub use output::{ColorChoice, Output};

/// A verb's result as the exit code: its own, or its error rendered to stderr and
/// [`Exit::Error`]. Shared by the `agenthost` front and every verb of `agenthost-core`.
pub fn conclude(result: miette::Result<Exit>, output: &Output) -> Exit {
    match result {
        Ok(exit) => exit,
        Err(report) => {
            eprint!("{}", output.render(report.as_ref()));
            Exit::Error
        }
    }
}

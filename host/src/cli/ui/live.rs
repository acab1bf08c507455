//! What reaches the cockpit besides keys: the supervisor's changes (a watch on the control
//! socket, opened again whenever the supervisor goes away) and the signals that end it.
//! Each runs on a thread of its own and sends a [`Msg`]; the loop reads keys itself, so
//! that `$EDITOR` gets the keyboard to itself while it runs.

use std::sync::mpsc::Sender;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::supervisor::Client;
use crate::supervisor::store::Change;

/// How long to wait before watching again after the supervisor went away.
const RETRY: Duration = Duration::from_secs(2);

/// How long the loop has to end after a signal before the process ends without it.
const SIGNAL_GRACE: Duration = Duration::from_secs(2);

/// A message to the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Msg {
    /// The watch is open: read everything again, then follow the changes.
    Watching,
    /// A task changed.
    Changed(Change),
    /// No watch (the supervisor stopped or cannot be reached): why.
    Offline(String),
    /// SIGTERM, SIGHUP or SIGINT: leave.
    Signal(i32),
    /// What an accept under way is doing.
    Progress(String),
    /// A request that ran on a thread of its own (an accept) was answered.
    Answered {
        /// What to say when it went well.
        done: String,
        /// The answer, or why it failed, in words.
        answer: Result<crate::supervisor::protocol::Response, String>,
    },
}

/// Watches the supervisor for as long as the loop listens.
pub(super) fn watch(client: Client, tx: Sender<Msg>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ui-watch".into())
        .spawn(move || {
            loop {
                let ended = match client.watch() {
                    Ok(mut watch) => {
                        if tx.send(Msg::Watching).is_err() {
                            return;
                        }
                        loop {
                            match watch.next_change() {
                                Ok(Some(change)) => {
                                    if tx.send(Msg::Changed(change)).is_err() {
                                        return;
                                    }
                                }
                                Ok(None) => break "the supervisor stopped".to_string(),
                                Err(err) => break err.to_string(),
                            }
                        }
                    }
                    Err(err) => err.to_string(),
                };
                if tx
                    .send(Msg::Offline(format!("{ended}; trying again")))
                    .is_err()
                {
                    return;
                }
                std::thread::sleep(RETRY);
            }
        })
        .map(drop)
}

/// Turns SIGTERM, SIGHUP and SIGINT into [`Msg::Signal`], so the loop ends and the
/// terminal is restored; ends the process itself (status 128 + the signal) if the loop
/// has not within [`SIGNAL_GRACE`].
pub(super) fn signals(tx: Sender<Msg>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    std::thread::Builder::new()
        .name("ui-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _ = tx.send(Msg::Signal(signal));
                // The loop ends within a key wait; should it be stuck, the terminal is
                // still restored and the process still ends.
                std::thread::sleep(SIGNAL_GRACE);
                super::terminal::restore();
                std::process::exit(128 + signal);
            }
        })
        .map(drop)
}

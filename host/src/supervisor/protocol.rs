//! The control protocol between agenthost commands and the supervisor: one JSON request
//! line per connection, answered by one JSON response line, over a Unix socket that only
//! the user can open, authenticated by a token that only the user can read.
//!
//! One request stays open: [`Request::Watch`], answered with [`Response::Watching`] and
//! then one [`Response::Changed`] line per change to any task, until either side closes.
//! An accept may take minutes (its checks run again when the base branch moved): its
//! answer comes after [`Response::Progress`] lines, one at least every
//! [`HEARTBEAT`]; closing the connection stops it.
//!
//! The token lives in the runtime directory (mode 0700, the token file 0600). A sandboxed
//! agent can read neither, and its sandbox refuses it the socket too; the token is the
//! second wall, not the only one.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::store::Change;
use crate::task::accept::Strategy;

/// The protocol version; a mismatch is refused with a plain message.
pub const VERSION: u32 = 2;

/// The longest an accept's client waits for a line: the supervisor sends a
/// [`Response::Progress`] at least this often while the accept runs.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(20);

/// The largest request or response line accepted, in bytes.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// A request, with the credentials that authorize it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    /// The protocol version the client speaks.
    pub version: u32,
    /// The contents of the token file.
    pub token: String,
    /// What to do.
    pub request: Request,
}

/// What a client asks of the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Is the supervisor there? Answered with [`Response::Pong`].
    Ping,
    /// Stop the supervisor: running agents are stopped and their tasks become
    /// `interrupted`, with worktrees intact.
    Shutdown,
    /// Queue a task (the client has run the acceptance policies already).
    Launch {
        /// The repository's working tree root.
        repo: PathBuf,
        /// The spec file.
        spec_path: PathBuf,
        /// Its text, as checked by the client.
        spec_text: String,
        /// The agent profile, overriding the spec's and the config's default.
        agent: Option<String>,
        /// The client's PATH and toolchain variables, which the task's runs see over the
        /// supervisor's own (an older client sends none).
        #[serde(default)]
        env: std::collections::BTreeMap<String, String>,
    },
    /// Merge a ready task into its base branch, rerunning its checks on the result when
    /// the base branch moved; [`Response::Progress`] lines come before the answer.
    Accept {
        /// The task.
        id: String,
        /// How.
        strategy: Strategy,
        /// Accept despite blocking findings.
        force: bool,
    },
    /// Send a task back to its agent with a correction (attempt N+1).
    Correct {
        /// The task.
        id: String,
        /// What to change.
        message: String,
    },
    /// Throw a task's work away (its record and logs stay).
    Reject {
        /// The task.
        id: String,
    },
    /// Stop a queued or running task and throw its work away.
    Cancel {
        /// The task.
        id: String,
    },
    /// Queue an interrupted task again.
    Resume {
        /// The task.
        id: String,
    },
    /// Keep the connection open and tell every change to any task as it is committed
    /// (the cockpit, `agenthost ui`).
    Watch,
}

/// The supervisor's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Response {
    /// The supervisor is alive.
    Pong {
        /// Its process id.
        pid: u32,
        /// Its agenthost version.
        version: String,
    },
    /// Done.
    Ok,
    /// A task was queued.
    Launched {
        /// Its id.
        id: String,
        /// Why it will not start at once, when admission already says so (another task
        /// writes the same paths, the review queue is full); an older supervisor sends none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held: Option<String>,
    },
    /// A correction was queued.
    Corrected {
        /// What happened to the task's base first, when it had moved (merged into its
        /// branch, or why the correction works on the old base).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A task was accepted.
    Accepted {
        /// The base branch's new head.
        commit: String,
        /// The base branch.
        base: String,
        /// Whether the user's checkout was updated.
        updated_checkout: bool,
    },
    /// What an accept is doing (before its answer); none is a heartbeat.
    Progress {
        /// In words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A watch started: [`Response::Changed`] lines follow.
    Watching,
    /// A task changed (on a watching connection).
    Changed {
        /// What changed.
        change: Change,
    },
    /// The request failed.
    Error {
        /// What went wrong.
        message: String,
        /// What to do about it.
        help: String,
    },
}

/// Compares two tokens in time independent of where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        let envelope = Envelope {
            version: VERSION,
            token: "t".into(),
            request: Request::Ping,
        };
        let line = serde_json::to_string(&envelope).unwrap();
        assert_eq!(line, r#"{"version":2,"token":"t","request":{"op":"ping"}}"#);
        let response: Response =
            serde_json::from_str(r#"{"result":"pong","pid":7,"version":"0.1.0"}"#).unwrap();
        assert_eq!(
            response,
            Response::Pong {
                pid: 7,
                version: "0.1.0".into()
            }
        );
    }

    #[test]
    fn watch_wire_format() {
        let line = serde_json::to_string(&Request::Watch).unwrap();
        assert_eq!(line, r#"{"op":"watch"}"#);
        let changed = Response::Changed {
            change: Change::State {
                id: "t".into(),
                from: Some(crate::task::TaskState::Checking),
                to: crate::task::TaskState::Ready,
                reason: "checks done".into(),
                at_ms: 5,
            },
        };
        let line = serde_json::to_string(&changed).unwrap();
        assert_eq!(
            line,
            r#"{"result":"changed","change":{"kind":"state","id":"t","from":"checking","to":"ready","reason":"checks done","at_ms":5}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&line).unwrap(), changed);
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "abcd"));
    }
}

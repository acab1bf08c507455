//! What changed in the store, told as it happens to whoever listens: the supervisor passes
//! each [`Change`] on to the clients that watch (`Request::Watch`), so the cockpit redraws
//! on events instead of polling the database.
//!
//! Only the store's own writes are told, once their transaction is committed. A store with
//! nobody listening (every verb but the supervisor) drops them.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::Store;
use crate::task::TaskState;

/// How many changes a slow listener may fall behind before it is told it missed some.
const BACKLOG: usize = 1024;

/// One committed change to a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// The task moved to another state; `from` is none for a new task.
    State {
        /// The task.
        id: String,
        /// Its state before.
        from: Option<TaskState>,
        /// Its state now.
        to: TaskState,
        /// The first line of why.
        reason: String,
        /// When (Unix milliseconds).
        at_ms: i64,
    },
    /// Why queued tasks wait changed (admission holds `id`, the rest wait behind it).
    Held {
        /// The task admission holds.
        id: String,
    },
    /// An attempt of the task started.
    Attempt {
        /// The task.
        id: String,
        /// The attempt's number.
        number: i64,
    },
    /// The listener fell behind and missed this many changes: read everything again.
    Missed {
        /// How many.
        count: u64,
    },
}

/// The sending side, one per store.
pub(super) fn channel() -> broadcast::Sender<Change> {
    broadcast::channel(BACKLOG).0
}

impl Store {
    /// Listens to every change committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Tells the listeners (none is fine).
    pub(super) fn tell(&self, change: Change) {
        let _ = self.changes.send(change);
    }
}

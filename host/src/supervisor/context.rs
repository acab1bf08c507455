//! What every task run shares: the state directories, this binary, the supervisor's
//! environment, the store and the policy engine. Its own module so that the lifecycle and
//! `decide` both use it without depending on each other.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::decide;
use super::store::Store;
use crate::state_dir::StateDirs;

/// What every task run shares: where state lives, who we are, the environment agents may
/// draw on.
#[derive(Debug)]
pub struct Context {
    /// The state directories.
    pub dirs: StateDirs,
    /// This agenthost binary: `agenthost` in agent commands.
    pub exe: PathBuf,
    /// The supervisor's environment (profiles' `pass_env` draws from it).
    pub host_env: BTreeMap<String, String>,
    /// The user's home directory.
    pub home: PathBuf,
    /// The state database.
    pub store: Arc<Mutex<Store>>,
    /// The policy engine and the loaded policy sets.
    pub policies: decide::Policies,
}

impl Context {
    /// Runs `f` with the store locked.
    pub fn store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = match self.store.lock() {
            Ok(store) => store,
            // A panic while holding the lock leaves SQLite consistent (transactions), so
            // the data is still good.
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut store)
    }
}

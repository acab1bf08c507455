//! The front's reason to exist is what it does not link: the `agenthost` executable names
//! only this crate, so its start-up is that of a small program only while this crate's
//! dependency graph stays free of the policy engine, SQLite and libgit2. `cargo metadata`
//! says what the graph is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Crates the front must never depend on, directly or through another crate.
const HEAVY: &[&str] = &[
    "wasmtime",
    "wasmtime-wasi",
    "cranelift-codegen",
    "rusqlite",
    "libsqlite3-sys",
    "git2",
    "libgit2-sys",
    "tokio",
];

/// Every package this crate links: its normal dependencies and theirs, not the dev- or
/// build-dependencies (which run at build time or only in tests).
fn linked_packages() -> BTreeSet<String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--manifest-path", manifest])
        .output()
        .expect("cannot run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes")
        .iter()
        .map(|node| (node["id"].as_str().unwrap_or(""), node))
        .collect();
    let front = names
        .iter()
        .find(|(_, name)| **name == "agenthost-front")
        .map(|(id, _)| *id)
        .expect("agenthost-front in the workspace");
    let mut seen = BTreeSet::new();
    let mut pending = vec![front];
    while let Some(id) = pending.pop() {
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|kind| kind["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap_or("");
            if normal && seen.insert(names[dep_id].to_string()) {
                pending.push(dep_id);
            }
        }
    }
    seen
}

#[test]
fn the_front_links_no_policy_engine_sqlite_or_libgit2() {
    let linked = linked_packages();
    // The walk itself works: the front's own sandbox and parser crates are found.
    for expected in ["agenthost-sandbox", "landlock", "clap", "toml"] {
        assert!(linked.contains(expected), "{expected} not in {linked:?}");
    }
    let heavy: Vec<&str> = HEAVY
        .iter()
        .copied()
        .filter(|name| linked.contains(*name))
        .collect();
    assert!(
        heavy.is_empty(),
        "agenthost-front now depends on {heavy:?}: the `agenthost` executable would link them \
         and start as slowly as agenthost-core. Move the code that needs them to the \
         `agenthost` crate (host/)"
    );
}

//! The `agenthost` executable: a small front that runs `agenthost sandbox` itself and execs
//! `agenthost-core` (installed beside it) for every other verb; see
//! `agenthost_front::cli::front`.
//!
//! It names only the `agenthost-front` crate, whose dependency graph has no policy engine,
//! SQLite or libgit2 (tests/crate_graph.rs in that crate checks it), so nothing of them is
//! linked here: rustc links only the crates a program uses. It starts as any Rust program
//! does (a custom allocator and a C `main` saved about 0.1 ms of a sandboxed start, which an
//! agent running for minutes never notices; docs/sandbox-performance.md).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(agenthost_front::cli::front::main().code())
}

//! The `agenthost` executable: a small front that runs `agenthost sandbox` itself and execs
//! `agenthost-core` (installed beside it) for every other verb; see `agenthost::cli::front`.
//! It starts as any Rust program does: the system allocator and Rust's runtime start (a
//! custom allocator and a C `main` saved about 0.1 ms of a sandboxed start, which an agent
//! running for minutes never notices; docs/sandbox-performance.md).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(agenthost::cli::front::main().code())
}

//! The `agenthost` executable: a small front that runs `agenthost sandbox` itself and execs
//! `agenthost-core` (installed beside it) for every other verb; see `agenthost::cli::front`.

fn main() -> std::process::ExitCode {
    agenthost::cli::front::main()
}

//! The `agenthost` binary: everything lives in the library; see `agenthost::cli`.

fn main() -> std::process::ExitCode {
    agenthost::cli::main()
}

//! `agenthost-core`, the full binary: every verb; everything lives in the library, see
//! `agenthost::cli`. Users run it through the `agenthost` front (`agenthost::cli::front`).

fn main() -> std::process::ExitCode {
    agenthost::cli::main()
}

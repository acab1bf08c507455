//! The two executables: the small `agenthost` front runs `sandbox` itself and hands every
//! other command line to `agenthost-core` beside it.

use crate::Test;

/// The front must not link the policy engine, SQLite or libgit2: its start-up is the
/// sandbox's start-up (docs/sandbox-performance.md). Compared by what is loaded into
/// memory (debug info makes file sizes meaningless in a debug build).
#[test]
fn the_front_stays_small() {
    let front = loaded_bytes(env!("CARGO_BIN_EXE_agenthost"));
    let core = loaded_bytes(env!("CARGO_BIN_EXE_agenthost-core"));
    assert!(
        front * 3 < core,
        "agenthost loads {front} bytes, agenthost-core {core}: did the front start linking the policy engine?"
    );
}

/// The sum of an ELF64 executable's `PT_LOAD` segment sizes in memory.
fn loaded_bytes(path: &str) -> u64 {
    let elf = std::fs::read(path).unwrap();
    let u16_at = |at: usize| u64::from(u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()));
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
    assert_eq!(&elf[..4], b"\x7fELF", "{path} is not ELF");
    let table = usize::try_from(u64_at(0x20)).unwrap();
    let entry_size = usize::try_from(u16_at(0x36)).unwrap();
    let entries = usize::try_from(u16_at(0x38)).unwrap();
    (0..entries)
        .map(|i| table + i * entry_size)
        .filter(|at| u32_at(*at) == 1)
        .map(|at| u64_at(at + 0x28))
        .sum()
}

/// Without the core beside it, `sandbox` still runs (it never needs the core), and any
/// other verb says what is missing and how to get it.
#[test]
fn the_front_alone_runs_sandbox_and_explains_a_missing_core() {
    let test = Test::new()
        .file(
            "repo/task.md",
            "# Task\n\n## What\nx\n\n### Scope\n- Modify: `src/a.py`\n",
        )
        .file("repo/src/a.py", "")
        .current_dir("repo");
    let front = test.path().join("alone/agenthost");
    std::fs::create_dir_all(front.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_agenthost"), &front).unwrap();
    let run = |args: &[&str]| test.clean(test.command_for(&front).args(args).output().unwrap());

    let explained = run(&["sandbox", "--spec", "task.md", "--root", ".", "--explain"]);
    assert_eq!(explained.code, 0, "{}", explained.transcript());
    assert!(
        explained.stdout.contains("Modify `src/a.py`"),
        "{}",
        explained.stdout
    );

    let other = run(&["check", "task.md"]);
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(other.stderr.contains("cannot run"), "{}", other.stderr);
    assert!(other.stderr.contains("agenthost-core"), "{}", other.stderr);
    assert!(
        other.stderr.contains("cargo install --path host"),
        "{}",
        other.stderr
    );
}

/// Usage lines still say `agenthost` after the hand-over to the core.
#[test]
fn the_core_answers_in_the_fronts_name() {
    let run = Test::new().args(["sandbox", "--bogus"]).run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("Usage: agenthost sandbox"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("agenthost-core"), "{}", run.stderr);
}

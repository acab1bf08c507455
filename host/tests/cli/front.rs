//! The two executables: the small `agenthost` front runs `sandbox` itself and hands every
//! other command line to `agenthost-core` beside it. That the front links no policy engine,
//! SQLite or libgit2 is a fact of its crate's dependency graph (front/tests/crate_graph.rs).

use crate::Test;

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

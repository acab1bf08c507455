//! Every verb's `--help` shows an example; usage errors exit 2.

use crate::Test;

#[test]
fn every_verb_help_has_examples() {
    for verb in [
        &["--help"][..],
        &["check", "--help"],
        &["init", "--help"],
        &["completions", "--help"],
        &["policy", "--help"],
        &["policy", "list", "--help"],
        &["policy", "test", "--help"],
        &["policy", "bench", "--help"],
        &["policy", "new", "--help"],
    ] {
        let run = Test::new().args(verb).run();
        assert_eq!(run.code, 0, "{verb:?}: {}", run.transcript());
        assert!(
            run.stdout.contains("Examples:\n  agenthost "),
            "{verb:?}:\n{}",
            run.stdout
        );
    }
}

#[test]
fn usage_error_exits_2() {
    let run = Test::new().arg("check").run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("required"), "{}", run.stderr);
    let run = Test::new().arg("frobnicate").run();
    assert_eq!(run.code, 2);
}

#[test]
fn completions_for_bash() {
    let run = Test::new().args(["completions", "bash"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("_agenthost()"), "{}", run.stdout);
    assert!(run.stdout.contains("check"));
}

//! Every verb's `--help` shows an example; usage errors exit 2.

use crate::Test;

/// Every verb, including ones added later, shows an example in its `--help`.
#[test]
fn every_verb_help_has_examples() {
    use clap::CommandFactory;
    let verbs: Vec<String> = agenthost::cli::Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .filter(|name| name != "help")
        .collect();
    assert!(verbs.len() >= 5, "{verbs:?}");
    let mut invocations = vec![vec!["--help".to_string()]];
    invocations.extend(verbs.iter().map(|v| vec![v.clone(), "--help".to_string()]));
    for args in invocations {
        let run = Test::new().args(&args).run();
        assert_eq!(run.code, 0, "{args:?}: {}", run.transcript());
        assert!(
            run.stdout.contains("Examples:\n  agenthost "),
            "{args:?}:\n{}",
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

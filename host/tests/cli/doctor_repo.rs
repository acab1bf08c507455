//! `agenthost doctor --repo`: the repository's setup and test command, run once in a
//! throwaway task worktree in their sandboxes, with what the sandbox refused and the
//! setting that allows it; nothing of the run is left behind.

use crate::Test;

/// A repository with `config` as its agenthost.toml, committed.
fn repo(config: &str) -> Test {
    Test::new()
        .file("repo/README.md", "hello\n")
        .file("repo/.gitignore", "deps/\n")
        .file("repo/agenthost.toml", config)
        .git_repo("repo")
        .current_dir("repo")
}

/// The repository's branches.
fn branches(test: &Test) -> Vec<String> {
    let repo = git2::Repository::open(test.path().join("repo")).expect("repo");
    repo.branches(None)
        .expect("branches")
        .filter_map(|b| b.ok()?.0.name().ok()?.map(str::to_string))
        .collect()
}

#[test]
fn a_setup_and_test_that_work_in_the_sandbox_pass_and_leave_nothing_behind() {
    let test = repo(
        "[worktree]\nsetup = [\"mkdir -p deps && echo ok > deps/lib\"]\n\n[test]\ncommand = \"test -f deps/lib && test -w \\\"$HOME\\\"\"\n",
    );
    let before = branches(&test);
    let run = test.exec(&["doctor", "--repo"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    for expected in [
        "setup `mkdir -p deps && echo ok > deps/lib`: ok in",
        "test `test -f deps/lib",
        "Result: the setup and the tests work in the sandbox",
    ] {
        assert!(
            run.stdout.contains(expected),
            "no `{expected}` in:\n{}",
            run.transcript()
        );
    }
    assert_eq!(branches(&test), before, "a branch was left behind");
    assert!(
        !test.path().join("repo/deps").exists(),
        "the checkout was written"
    );
}

/// A test command that reads outside its grants fails with its words and the `[test]`
/// setting that allows it; a setup that connects to a port not allowed gets the
/// `setup_ports` setting.
#[test]
fn a_refusal_is_reported_with_the_setting_that_allows_it() {
    let test = Test::new().file(".test-home/notes/secret.txt", "secret\n");
    let secret = test.path().join(".test-home/notes/secret.txt");
    let test = test
        .file("repo/README.md", "hello\n")
        .file(
            "repo/agenthost.toml",
            format!("[test]\ncommand = \"cat {}\"\n", secret.display()),
        )
        .git_repo("repo")
        .current_dir("repo");
    let run = test.exec(&["doctor", "--repo"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    for expected in [
        "test `cat ",
        "FAILED: it exited with code 1",
        "Permission denied",
        "help: the sandbox refused",
        "add `read = [\"~/notes/secret.txt\"]` or `write = [\"~/notes/secret.txt\"]` to [test]",
        "Result: fix what is named above",
    ] {
        assert!(
            run.stdout.contains(expected),
            "no `{expected}` in:\n{}",
            run.transcript()
        );
    }

    let test = repo(
        "[worktree]\nsetup = [\"python3 -c \\\"import urllib.request; urllib.request.urlopen('http://127.0.0.1:9/')\\\"\"]\n",
    );
    let run = test.exec(&["doctor", "--repo"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    for expected in [
        "setup `python3",
        "help: the sandbox stopped a connection: the setup reaches TCP ports 443 and 80 only",
        "`setup_ports = [...]` under [worktree]",
    ] {
        assert!(
            run.stdout.contains(expected),
            "no `{expected}` in:\n{}",
            run.transcript()
        );
    }
}

#[test]
fn a_repository_with_nothing_to_run_says_what_to_set() {
    let test = repo("");
    let run = test.exec(&["doctor", "--repo"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("nothing to run: no `[worktree] setup` and no `[test] command`"),
        "{}",
        run.transcript()
    );
}

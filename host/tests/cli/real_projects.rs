//! Real projects from the package registries, at pinned versions, made into repositories
//! here and run through the whole loop as a new user would: `[worktree] setup` installs the
//! dependencies in its own sandbox (network to the registries), the scripted agent makes one
//! in-scope edit, the project's own test suite runs in the test sandbox, the task is `ready`
//! with the tests passed, and `accept` merges exactly that edit. Two tasks run side by side:
//! the second is accepted onto the first, so its setup and tests run again on the merged
//! result first. Before the launch, `agenthost doctor --repo` runs the same setup and tests
//! and must propose no grant.
//!
//! - semver 1.0.28 (crates.io): `cargo fetch`, then `cargo test --offline`;
//! - minimist 1.2.8 (npm): `npm install`, then `npm test` (eslint, nyc, tape);
//! - packaging 26.4 (PyPI): a `.venv` with pytest, then pytest.
//!
//! They need the registries (crates.io, npm, PyPI) and take a minute or more each, so they
//! run only when `AGENTHOST_REAL_PROJECTS` is set (CI sets it): `all`, or a comma-separated
//! list of names. A download that fails is then a failure, never a skip. Every cache is the
//! test's own (a fresh `CARGO_HOME`, npm and pip caches in the test's home): nothing is read
//! from or written to the machine's.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Test;
use crate::lifecycle::{StopSupervisor, file_in_head, status_row};

const VARIABLE: &str = "AGENTHOST_REAL_PROJECTS";

/// Whether this run asked for `project`.
fn asked(project: &str) -> bool {
    let Ok(value) = std::env::var(VARIABLE) else {
        eprintln!(
            "SKIPPED {project}: set {VARIABLE}=all (or a list of names) to run the real projects; they need the package registries"
        );
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|name| name == "all" || name == project)
}

/// Runs `command` in `dir`, panicking with its output when it fails.
fn must(dir: &Path, command: &mut Command) {
    let output = command.current_dir(dir).output().expect("run a command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The machine's real home, where the toolchains live (`~/.rustup`, `~/.pyenv`).
fn real_home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

/// A real project: its source unpacked into `repo/` (a git repository on `main` with the
/// project's own ignore rules), its agenthost.toml and a spec for the scripted agent.
struct Project {
    test: Test,
}

impl Project {
    /// Unpacks `archive` (a .tar.gz with one top directory) into `repo/`, writes `files`
    /// (the agenthost.toml, the spec, ignore rules the source lacks) and commits it all.
    fn new(test: Test, archive: &Path, files: &[(&str, &str)]) -> Project {
        let repo = test.path().join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir repo");
        must(
            &repo,
            Command::new("tar")
                .arg("xzf")
                .arg(archive)
                .arg("--strip-components=1"),
        );
        for (path, text) in files {
            let path = repo.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        crate::commit_all(&repo);
        let git = git2::Repository::open(&repo).expect("repo");
        let head = git.head().expect("head").peel_to_commit().expect("commit");
        git.branch("main", &head, true).expect("branch");
        git.set_head("refs/heads/main").expect("set head");
        Project { test }
    }

    /// Launches the two specs (`specs/task.md`, `specs/second.md`) at once, waits, and
    /// checks that each task is ready with its tests passed, no blocking finding and the
    /// agent's test among those that ran; then accepts the first, and the second, whose base
    /// has moved: its setup and tests run again on the merged result (`merged_ran`, what
    /// that run must show: both agents' tests) before it lands. Both edits reach `main`.
    fn launch_and_accept(&self, first: &Edit, second: &Edit, merged_ran: &[&str]) {
        // First as a new user would: `doctor --repo` says the setup and the tests work in
        // the sandbox, with no grant to add.
        let doctor = self.test.exec(&["doctor", "--repo", "repo"]);
        assert!(
            doctor.code == 0
                && doctor
                    .stdout
                    .contains("Result: the setup and the tests work"),
            "{}",
            doctor.transcript()
        );
        for line in doctor
            .stdout
            .lines()
            .filter(|line| line.contains(": ok in"))
        {
            eprintln!("{}: doctor --repo: {}", first.id, line.trim());
        }
        let _stop = StopSupervisor(&self.test);
        let run = self.test.exec(&[
            "launch",
            "--wait",
            "repo/specs/task.md",
            "repo/specs/second.md",
        ]);
        for task in [first, second] {
            let log = self.test.exec(&["logs", task.id]).stdout;
            assert!(
                run.stdout.contains(&format!("{} is ready", task.id))
                    && !run.stdout.contains("blocking"),
                "{}\n--- the attempt log of {}:\n{log}",
                run.transcript(),
                task.id
            );
            assert!(
                log.contains("== agenthost: the test command exited with code 0"),
                "{log}"
            );
            // The agent's test is one of those that ran.
            assert!(log.contains(task.ran), "no `{}` in:\n{log}", task.ran);
            print_steps(task.id, &log);
            let row = status_row(&self.test, task.id);
            assert_eq!(row["state"], "ready", "{row}");
        }
        let accepted = self.test.exec(&["accept", first.id]);
        assert_eq!(accepted.code, 0, "{}", accepted.transcript());
        // main moved under the second: accepting it runs its setup and tests again on the
        // result, with the real toolchain, in the sandbox, and both agents' tests pass there.
        let accepted = self.test.exec(&["accept", second.id]);
        let rechecked = std::fs::read_to_string(
            self.test
                .state_dir()
                .join("logs")
                .join(second.id)
                .join("accept-checks.log"),
        )
        .unwrap_or_default();
        assert_eq!(
            accepted.code,
            0,
            "{}\n--- the checks run again:\n{rechecked}",
            accepted.transcript()
        );
        assert!(
            accepted.stdout.contains(&format!(
                "{}: the checks pass on the change as it would land on main",
                second.id
            )),
            "{}",
            accepted.stdout
        );
        for ran in merged_ran {
            assert!(rechecked.contains(ran), "no `{ran}` in:\n{rechecked}");
        }
        print_steps(&format!("{} (its checks again)", second.id), &rechecked);
        let repo = self.test.path().join("repo");
        for task in [first, second] {
            let (edited, text) = task.edit;
            assert!(
                file_in_head(&repo, edited).is_some_and(|file| file.contains(text)),
                "the agent's `{text}` is not in `{edited}` on main after accept"
            );
        }
    }
}

/// One task of a real project: its id, its edit (`text` in the file), and what its test
/// run prints for the agent's test.
struct Edit {
    id: &'static str,
    edit: (&'static str, &'static str),
    ran: &'static str,
}

/// The steps of a log and their times, for `--nocapture` (the numbers in
/// docs/real-projects.md).
fn print_steps(who: &str, log: &str) {
    for line in log.lines().filter(|line| {
        line.contains("the setup command")
            || line.contains("the test command")
            || line.contains(" passed")
            || line.contains("# tests")
            || line.contains("test result:")
    }) {
        eprintln!("{who}: {line}");
    }
}

/// The spec: one edit by the scripted agent, `kind` (`write` for a new file, `append` to one
/// the Scope modifies) of `text` to `path`.
fn spec(title: &str, scope: &str, path: &str, kind: &str, text: &str) -> String {
    format!(
        "+++\nagent = \"script\"\n+++\n\n# {title}\n\n## What\n\nA test of one more case.\n\n## Verify\n\nThe project's test suite passes.\n\n### Scope\n- {scope}: `{path}`\n\n```agenthost-script\n[[edit]]\npath = \"{path}\"\n{kind} = '''\n{text}'''\n```\n"
    )
}

/// semver 1.0.28: its dev-dependency (criterion) comes from crates.io in the setup, into a
/// `CARGO_HOME` of the test's own; the test run builds offline from it.
#[test]
fn semver_from_crates_io_reaches_ready_with_cargo_test_and_is_accepted() {
    if !asked("semver") {
        return;
    }
    let test = Test::new();
    let downloads = test.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("mkdir");
    let archive = downloads.join("semver-1.0.28.crate");
    must(
        &downloads,
        Command::new("curl")
            .args(["-sSfL", "--retry", "3", "-o"])
            .arg(&archive)
            .arg("https://static.crates.io/crates/semver/semver-1.0.28.crate"),
    );
    let cargo_home = test.path().join("cargo-home");
    std::fs::create_dir_all(&cargo_home).expect("mkdir");
    let rustup_home =
        std::env::var_os("RUSTUP_HOME").map_or_else(|| real_home().join(".rustup"), PathBuf::from);
    let test = test
        .env("CARGO_HOME", &cargo_home.display().to_string())
        .env("RUSTUP_HOME", &rustup_home.display().to_string());
    let project = Project::new(
        test,
        &archive,
        &[
            (
                "agenthost.toml",
                "[worktree]\nsetup = [\"cargo fetch\"]\n\n[test]\ncommand = \"cargo test --offline\"\n",
            ),
            (
                "specs/task.md",
                // semver lists its test targets (`autotests = false`): a new file under
                // `tests/` would not run, so the agent adds to one that does.
                &spec(
                    "Test a prerelease",
                    "Modify",
                    "tests/test_version.rs",
                    "append",
                    "\n#[test]\nfn a_prerelease_sorts_before_its_release() {\n    let pre = semver::Version::parse(\"1.0.0-rc.1\").unwrap();\n    assert!(pre < semver::Version::parse(\"1.0.0\").unwrap());\n}\n",
                ),
            ),
            (
                "specs/second.md",
                &spec(
                    "Test a caret requirement",
                    "Modify",
                    "tests/test_version_req.rs",
                    "append",
                    "\n#[test]\nfn a_caret_requirement_matches_a_patch() {\n    let req = semver::VersionReq::parse(\"^1.2\").unwrap();\n    assert!(req.matches(&semver::Version::parse(\"1.2.9\").unwrap()));\n}\n",
                ),
            ),
        ],
    );
    project.launch_and_accept(
        &Edit {
            id: "test-a-prerelease",
            edit: (
                "tests/test_version.rs",
                "fn a_prerelease_sorts_before_its_release",
            ),
            ran: "test a_prerelease_sorts_before_its_release ... ok",
        },
        &Edit {
            id: "test-a-caret-requirement",
            edit: (
                "tests/test_version_req.rs",
                "fn a_caret_requirement_matches_a_patch",
            ),
            ran: "test a_caret_requirement_matches_a_patch ... ok",
        },
        &[
            "test a_prerelease_sorts_before_its_release ... ok",
            "test a_caret_requirement_matches_a_patch ... ok",
        ],
    );
}

/// minimist 1.2.8: its development dependencies (eslint, nyc, tape: 532 packages) come from
/// npm in the setup; `npm test` lints, runs the tests under nyc (which needs a writable
/// HOME) and audits, offline.
#[test]
fn minimist_from_npm_reaches_ready_with_npm_test_and_is_accepted() {
    if !asked("minimist") {
        return;
    }
    let test = Test::new();
    let downloads = test.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("mkdir");
    // `npm pack` with the test's own home and cache, not the machine's.
    must(
        &downloads,
        test.command_for("npm")
            .args(["pack", "minimist@1.2.8", "--silent"])
            .current_dir(&downloads),
    );
    let archive = downloads.join("minimist-1.2.8.tgz");
    let project = Project::new(
        test,
        &archive,
        &[
            // minimist's own ignore rules (the npm tarball leaves them out).
            (
                ".gitignore",
                "node_modules\ncoverage/\n.nyc_output/\n# Only apps should have lockfiles\nnpm-shrinkwrap.json\npackage-lock.json\nyarn.lock\n.npmignore\n",
            ),
            (
                "agenthost.toml",
                "[worktree]\nsetup = [\"npm install\"]\n\n[test]\ncommand = \"npm test\"\n",
            ),
            (
                "specs/task.md",
                &spec(
                    "Test a dotted key",
                    "Create",
                    "test/agenthost.js",
                    "write",
                    "'use strict';\n\nvar parse = require('../');\nvar test = require('tape');\n\ntest('a dotted key makes a nested object', function (t) {\n\tt.deepEqual(parse(['--a.b', '7']).a, { b: 7 });\n\tt.end();\n});\n",
                ),
            ),
            (
                "specs/second.md",
                &spec(
                    "Test a negated flag",
                    "Create",
                    "test/agenthost_negated.js",
                    "write",
                    "'use strict';\n\nvar parse = require('../');\nvar test = require('tape');\n\ntest('a negated flag is false', function (t) {\n\tt.equal(parse(['--no-color']).color, false);\n\tt.end();\n});\n",
                ),
            ),
        ],
    );
    project.launch_and_accept(
        &Edit {
            id: "test-a-dotted-key",
            edit: ("test/agenthost.js", "a dotted key makes a nested object"),
            ran: "# a dotted key makes a nested object",
        },
        &Edit {
            id: "test-a-negated-flag",
            edit: ("test/agenthost_negated.js", "a negated flag is false"),
            ran: "# a negated flag is false",
        },
        &[
            "# a dotted key makes a nested object",
            "# a negated flag is false",
        ],
    );
}

/// packaging 26.4: a `.venv` made by the setup, with the test dependency group from PyPI
/// and packaging itself installed editable (its `.pth` names the worktree, not the user's
/// checkout); pytest runs the whole suite.
#[test]
fn packaging_from_pypi_reaches_ready_with_pytest_and_is_accepted() {
    if !asked("packaging") {
        return;
    }
    let test = Test::new();
    let downloads = test.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("mkdir");
    must(
        &downloads,
        test.command_for("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "packaging==26.4",
                "-d",
            ])
            .arg(&downloads)
            .env("PYENV_ROOT", pyenv_root()),
    );
    let archive = downloads.join("packaging-26.4.tar.gz");
    let test = test.env("PYENV_ROOT", &pyenv_root().display().to_string());
    let project = Project::new(
        test,
        &archive,
        &[
            // packaging's own ignore rules (the sdist leaves them out).
            (
                ".gitignore",
                "*.egg-info/\n*.egg\n*.py[co]\n\n.[nt]ox/\n.cache/\n.coverage\n.idea\n.venv*\n.vscode/\n\n.mypy_cache/\n.pytest_cache/\n__pycache__/\n_build/\nbuild/\ndist/\nhtmlcov/\nhtml/\nresults/\n",
            ),
            (
                "agenthost.toml",
                "[worktree]\nsetup = [\n  \"python3 -m venv .venv\",\n  \".venv/bin/pip install --quiet 'coverage[toml]>=7.2.0' 'hypothesis>=6.0.0' pretend 'pytest>=6.2.0' tomli_w\",\n  \".venv/bin/pip install --quiet -e .\",\n]\n\n[test]\ncommand = \".venv/bin/python -m pytest -q -p no:cacheprovider\"\n",
            ),
            (
                "specs/task.md",
                &spec(
                    "Test a post release",
                    "Create",
                    "tests/test_agenthost.py",
                    "write",
                    "from packaging.version import Version\n\n\ndef test_a_post_release_sorts_after_its_release():\n    assert Version(\"1.0.post1\") > Version(\"1.0\")\n",
                ),
            ),
            (
                "specs/second.md",
                &spec(
                    "Test a release candidate",
                    "Create",
                    "tests/test_agenthost_rc.py",
                    "write",
                    "from packaging.version import Version\n\n\ndef test_a_release_candidate_sorts_before_its_release():\n    assert Version(\"1.0rc1\") < Version(\"1.0\")\n",
                ),
            ),
        ],
    );
    // packaging's own suite has 64,204 tests at this version: one more is each agent's,
    // and both run on the merged result.
    project.launch_and_accept(
        &Edit {
            id: "test-a-post-release",
            edit: (
                "tests/test_agenthost.py",
                "def test_a_post_release_sorts_after_its_release",
            ),
            ran: "64205 passed",
        },
        &Edit {
            id: "test-a-release-candidate",
            edit: (
                "tests/test_agenthost_rc.py",
                "def test_a_release_candidate_sorts_before_its_release",
            ),
            ran: "64205 passed",
        },
        &["64206 passed"],
    );
}

/// Where pyenv keeps its Pythons (`python3` on PATH may be its shim, which needs it).
fn pyenv_root() -> PathBuf {
    std::env::var_os("PYENV_ROOT").map_or_else(|| real_home().join(".pyenv"), PathBuf::from)
}

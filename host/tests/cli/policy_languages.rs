//! Policies in seven languages: each example in `examples/policies/<lang>/`, written out by
//! `agenthost policy new` under another name, built from source by its own `build.sh`, and
//! run through this agenthost against the shared fixtures by its own `test.sh`.
//!
//! A language whose toolchain is missing here (`build.sh` exits 3 and says what to install)
//! is skipped with that message, unless `AGENTHOST_POLICY_LANGS=all` (CI sets it; `bash
//! .ci/policy-toolchains` installs every toolchain) or names the language: then it fails.
//! Toolchains are found on PATH, with `~/.cache/agenthost-toolchains/venv/bin` (the Python
//! venv that script installs componentize-py, Zig and Go into; `$AGENTHOST_TOOLCHAINS` when
//! set) put first.

use crate::{Test, workspace};
use std::path::PathBuf;

/// What `build.sh` exits with when its toolchain is not installed.
const TOOLCHAIN_MISSING: i32 = 3;

fn required(lang: &str) -> bool {
    std::env::var("AGENTHOST_POLICY_LANGS").is_ok_and(|langs| {
        langs
            .split(',')
            .any(|l| l.trim() == "all" || l.trim() == lang)
    })
}

/// The toolchain directory `.ci/policy-toolchains` fills.
fn toolchains() -> Option<PathBuf> {
    std::env::var_os("AGENTHOST_TOOLCHAINS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/agenthost-toolchains"))
        })
}

fn fixture_count() -> usize {
    std::fs::read_dir(workspace().join("examples/policies/fixtures"))
        .expect("the fixtures")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count()
}

/// Scaffolds `lang` as `keep-out`, runs its `test.sh`, and checks every fixture passed.
fn builds_and_answers_the_fixtures(lang: &str) {
    let test = Test::new();
    let project = test.path().join("keep-out");
    let run = test.exec(&[
        "policy",
        "new",
        "keep-out",
        "--lang",
        lang,
        "--dir",
        project.to_str().expect("utf-8 temp path"),
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());

    // Caches the toolchains keep between runs live in the project's target directory; the
    // rest of the environment is the test's own (HOME, XDG dirs, agenthost's state).
    let caches = workspace().join("target/policy-languages");
    let mut path =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
    if let Some(dir) = toolchains() {
        path.insert(0, dir.join("venv/bin"));
    }
    let mut script = test.command_for("bash");
    script
        .arg("test.sh")
        .current_dir(&project)
        .env("PATH", std::env::join_paths(path).expect("PATH"))
        .env("AGENTHOST", env!("CARGO_BIN_EXE_agenthost"))
        .env("CARGO_TARGET_DIR", caches.join(format!("{lang}-target")))
        .env("GOCACHE", caches.join("go-build"))
        .env("GOMODCACHE", caches.join("go-mod"))
        .env("npm_config_cache", caches.join("npm"))
        .env("ZIG_GLOBAL_CACHE_DIR", caches.join("zig"));
    // cargo and rustup live under the real home; everything else uses the test's.
    for name in ["CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(value) = std::env::var_os(name) {
            script.env(name, value);
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        if std::env::var_os("CARGO_HOME").is_none() {
            script.env("CARGO_HOME", home.join(".cargo"));
        }
        if std::env::var_os("RUSTUP_HOME").is_none() {
            script.env("RUSTUP_HOME", home.join(".rustup"));
        }
    }
    let output = script.output().expect("run bash");
    let run = test.clean(output);
    if run.code == TOOLCHAIN_MISSING && !required(lang) {
        eprintln!(
            "SKIPPED {lang}: its toolchain is not installed here (bash .ci/policy-toolchains \
             installs it; AGENTHOST_POLICY_LANGS=all makes this a failure)\n{}",
            run.stderr
        );
        return;
    }
    assert_eq!(run.code, 0, "{lang}: test.sh failed\n{}", run.transcript());
    let total = fixture_count();
    let summary = format!("{total} fixtures: {total} passed, 0 failed (keep-out)");
    assert!(
        run.stdout.contains(&summary),
        "{lang}: expected `{summary}`\n{}",
        run.transcript()
    );
}

#[test]
fn rust_policy_builds_and_answers_the_fixtures() {
    builds_and_answers_the_fixtures("rust");
}

#[test]
fn python_policy_builds_and_answers_the_fixtures() {
    builds_and_answers_the_fixtures("python");
}

#[test]
fn javascript_policy_builds_and_answers_the_fixtures() {
    builds_and_answers_the_fixtures("javascript");
}

#[test]
fn c_policy_builds_and_answers_the_fixtures() {
    builds_and_answers_the_fixtures("c");
}

#[test]
fn zig_policy_builds_and_answers_the_fixtures() {
    builds_and_answers_the_fixtures("zig");
}

#[test]
fn assemblyscript_policy_builds_and_answers_the_fixtures() {
    builds_and_answers_the_fixtures("assemblyscript");
}

#[test]
fn go_policy_builds_and_answers_the_fixtures() {
    builds_and_answers_the_fixtures("go");
}

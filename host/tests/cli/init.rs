//! `agenthost init`.

// Test setup that fails should panic, with a message saying which step failed.
#![allow(clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use agenthost::config::INIT_TEMPLATE;

/// Runs `agenthost init ARGS` in `cwd`, with `HOME` and `XDG_CONFIG_HOME` inside `home`.
fn init(cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agenthost"))
        .arg("init")
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("AGENTHOST_CONFIG")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "400")
        .output()
        .expect("agenthost runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temp dir with `home/` and an empty repository `repo/` (a `.git` directory suffices).
fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    let repo = dir.path().join("repo");
    fs_err::create_dir_all(&home).expect("home");
    fs_err::create_dir_all(repo.join(".git")).expect("repo");
    (dir, home, repo)
}

#[test]
fn init_writes_the_template_and_ignores_the_local_file() {
    let (_dir, home, repo) = setup();
    let out = init(&repo, &home, &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Created "), "{stdout}");
    assert!(stdout.contains("agenthost.toml"), "{stdout}");
    assert!(stdout.contains(".gitignore"), "{stdout}");
    assert_eq!(
        fs_err::read_to_string(repo.join("agenthost.toml")).expect("written"),
        INIT_TEMPLATE
    );
    assert_eq!(
        fs_err::read_to_string(repo.join(".gitignore")).expect("written"),
        "/agenthost.local.toml\n"
    );
}

#[test]
fn init_finds_the_root_from_a_subdirectory_and_appends_to_gitignore() {
    let (_dir, home, repo) = setup();
    let sub = repo.join("src/deep");
    fs_err::create_dir_all(&sub).expect("subdir");
    fs_err::write(repo.join(".gitignore"), "target").expect("gitignore");
    let out = init(&sub, &home, &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(repo.join("agenthost.toml").is_file());
    assert!(!sub.join("agenthost.toml").exists());
    assert_eq!(
        fs_err::read_to_string(repo.join(".gitignore")).expect("gitignore"),
        "target\n/agenthost.local.toml\n"
    );
}

#[test]
fn init_with_repo_flag_leaves_an_ignoring_gitignore_alone() {
    let (dir, home, repo) = setup();
    fs_err::write(repo.join(".gitignore"), "*.local.toml\n").expect("gitignore");
    let out = init(
        dir.path(),
        &home,
        &["--repo", repo.to_str().expect("utf-8 path")],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("already ignores agenthost.local.toml"));
    assert_eq!(
        fs_err::read_to_string(repo.join(".gitignore")).expect("gitignore"),
        "*.local.toml\n"
    );
}

#[test]
fn second_init_refuses_and_changes_nothing() {
    let (_dir, home, repo) = setup();
    let first = init(&repo, &home, &[]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "stderr: {}",
        text(&first.stderr)
    );
    let edited = "default_agent = \"codex\"\n";
    fs_err::write(repo.join("agenthost.toml"), edited).expect("edit");
    let gitignore = fs_err::read_to_string(repo.join(".gitignore")).expect("gitignore");

    let second = init(&repo, &home, &[]);
    assert_eq!(second.status.code(), Some(2));
    let stderr = text(&second.stderr);
    assert!(stderr.contains("agenthost.toml already exists"), "{stderr}");
    assert!(stderr.contains("edit it, or remove it first"), "{stderr}");
    assert_eq!(text(&second.stdout), "");
    assert_eq!(
        fs_err::read_to_string(repo.join("agenthost.toml")).expect("kept"),
        edited
    );
    assert_eq!(
        fs_err::read_to_string(repo.join(".gitignore")).expect("kept"),
        gitignore
    );
}

#[test]
fn init_outside_a_repository_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).expect("home");
    let outside = dir.path().join("not-a-repo");
    fs_err::create_dir_all(&outside).expect("dir");
    assert!(
        !outside.ancestors().any(|d| d.join(".git").exists()),
        "the temp dir {} is inside a git repository; set TMPDIR elsewhere",
        outside.display()
    );

    let out = init(&outside, &home, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("is not inside a git repository"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run inside a git repository or pass --repo"),
        "{stderr}"
    );
    assert!(!outside.join("agenthost.toml").exists());
    assert!(!outside.join(".gitignore").exists());
}

#[test]
fn init_with_a_missing_repo_dir_is_an_error() {
    let (dir, home, _repo) = setup();
    let missing = dir.path().join("missing");
    let out = init(
        dir.path(),
        &home,
        &["--repo", missing.to_str().expect("utf-8 path")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot open"), "{stderr}");
}

#[test]
fn init_help_shows_examples() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = init(dir.path(), dir.path(), &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Examples:\n  agenthost init"), "{stdout}");
}

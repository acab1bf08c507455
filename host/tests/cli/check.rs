//! `agenthost check`: the human report (snapshots), JSON, exit codes and repository checks.

use insta::assert_snapshot;

use crate::{Test, workspace};

const VALID: &str = "+++
agent = \"claude\"
test = \"cargo test -p web\"
timeout = \"45m\"
labels = [\"ui\"]
+++

# Add a date range to the dashboard filter bar

## What
A date range option in the filter bar.

### Scope
- Modify: `src/components/Dashboard/FilterBar.tsx`
- Create: `src/components/Dashboard/DateRangePicker.tsx`
- Do NOT modify any API routes or database queries
- Do NOT change the existing filter logic, only add the date range option
- Do NOT modify `src/api/**`

## Verify
`cargo test -p web` passes.
";

/// A repository with the files the VALID spec talks about.
fn web_repo() -> Test {
    Test::new()
        .file("web/src/components/Dashboard/FilterBar.tsx", "export {}\n")
        .file("web/src/api/routes.ts", "export {}\n")
        .file("web/specs/date-range.md", VALID)
        .git_repo("web")
}

#[test]
fn valid_spec_human() {
    let run = web_repo().args(["check", "web/specs/date-range.md"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_snapshot!(run.transcript());
}

#[test]
fn a_profile_writing_into_the_home_is_warned_about() {
    let run = web_repo()
        .file(
            ".test-home/config/agenthost/config.toml",
            "[agents.claude]\nwrite = [\"~/.claude\"]\n",
        )
        .args(["check", "web/specs/date-range.md"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains(
            "  warning: profile `claude` grants write `~/.claude`, in your real home: an agent \
             can plant hooks, MCP servers, commands or start-up files there that run outside \
             the sandbox the next time you use that program."
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn valid_spec_json() {
    let run = web_repo()
        .args(["check", "--json", "web/specs/date-range.md"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let spec = &json["specs"][0];
    assert_eq!(spec["valid"], true);
    assert_eq!(
        spec["spec"]["id"],
        "add-a-date-range-to-the-dashboard-filter-bar"
    );
    assert_eq!(
        spec["spec"]["scope"]["modify"][0]["pattern"],
        "src/components/Dashboard/FilterBar.tsx"
    );
    assert_eq!(spec["spec"]["scope"]["modify"][0]["line"], 14);
    assert_eq!(
        spec["spec"]["scope"]["constraints"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(spec["spec"]["front_matter"]["timeout"], "45m");
    assert_eq!(spec["test_command"]["command"], "cargo test -p web");
    assert_eq!(json["errors"], 0);
}

#[test]
fn findings_human() {
    let spec = "# Tidy the filter bar\n\n### Scope\n- Modify: `src/components/Dashboard/FiltreBar.tsx`\n- Modify: `/etc/hosts`\n- Create: `src/components/Dashboard/FilterBar.tsx`\n";
    let run = web_repo()
        .file("web/specs/bad.md", spec)
        .args(["check", "web/specs/bad.md"])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_snapshot!(run.transcript());
}

#[test]
fn findings_json_have_lines() {
    let spec = "# T\n\n### Scope\n- Modify: `missing.rs`\n- Modify: `a/../b.rs`\n";
    let run = web_repo()
        .file("web/specs/bad.md", spec)
        .args(["check", "--json", "web/specs/bad.md"])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    // The parser's findings; spec-quality's (no What, no Verify) are tested elsewhere.
    let findings: Vec<serde_json::Value> = json["specs"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("spec::"))
        .cloned()
        .collect();
    let summary: Vec<(String, u64)> = findings
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("spec::repo::modify_missing".to_string(), 4),
            ("spec::path::parent".to_string(), 5),
        ]
    );
    assert_eq!(json["specs"][0]["valid"], false);
    assert!(findings[0]["help"].as_str().unwrap().contains("Create:"));
}

#[test]
fn parse_error_exits_2() {
    let spec = "+++\nagent = \"claude\"\ntset = \"make test\"\n+++\n# T\n### Scope\n- Modify: `README.md`\n";
    let run = Test::new()
        .file("repo/README.md", "hi\n")
        .file("repo/task.md", spec)
        .git_repo("repo")
        .args(["check", "repo/task.md"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert_snapshot!(run.transcript());
}

#[test]
fn not_utf8_exits_2_with_line() {
    let run = Test::new()
        .file(
            "task.md",
            b"# T\n### Scope\n- Modify: `caf\xe9.rs`\n".as_slice(),
        )
        .args(["check", "task.md"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stdout.contains("task.md:3:"), "{}", run.stdout);
    assert!(run.stdout.contains("not valid UTF-8"), "{}", run.stdout);
}

#[test]
fn unreadable_spec_exits_2() {
    let run = Test::new().args(["check", "nope.md"]).run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stdout.contains("cannot read spec"), "{}", run.stdout);
    assert!(run.stdout.contains("nope.md"), "{}", run.stdout);
}

#[test]
fn outside_a_repository_says_what_was_not_checked() {
    let run = Test::new()
        .file("task.md", "# T\n### Scope\n- Modify: `anything.rs`\n")
        .args(["check", "task.md"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("not inside a git repository"),
        "{}",
        run.stdout
    );
}

#[test]
fn unknown_agent_profile() {
    let spec = "+++\nagent = \"cluade\"\n+++\n# T\n### Scope\n- Modify: `README.md`\n";
    let run = Test::new()
        .file("repo/README.md", "hi\n")
        .file("repo/task.md", spec)
        .git_repo("repo")
        .args(["check", "repo/task.md"])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains("unknown agent profile `cluade`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("did you mean `claude`?"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("task.md:2:"), "{}", run.stdout);
}

#[test]
fn several_specs_worst_exit_wins() {
    let run = web_repo()
        .file("web/specs/bad.md", "# T\n### Scope\n- Modify: `nope.tsx`\n")
        .args(["check", "web/specs/date-range.md", "web/specs/bad.md"])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout
            .ends_with("2 specs: invalid: 1 error, 2 warnings\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn repo_flag_accepts_a_plain_directory() {
    let run = Test::new()
        .file("dir/src/a.rs", "")
        .file(
            "task.md",
            "# T\n### Scope\n- Modify: `src/a.rs`\n- Modify: `src/b.rs`\n",
        )
        .args(["check", "--repo", "dir", "task.md"])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains("Modify `src/b.rs` matches no file"),
        "{}",
        run.stdout
    );
}

/// The README's first command: the example specs are valid against the sample repository.
#[test]
fn examples_are_valid() {
    let root = workspace();
    let specs = std::fs::read_dir(root.join("examples/specs"))
        .expect("examples/specs")
        .map(|e| e.expect("entry").path().display().to_string())
        .filter(|p| p.ends_with(".md"));
    let run = Test::new()
        .args(["check", "--repo"])
        .arg(root.join("examples/sample-repo").display().to_string())
        .args(specs)
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// A reader that stops early (`| head`) is not an error, and nothing panics.
#[test]
fn closed_pipe_is_quiet() {
    // A pipe whose reading end is closed before agenthost starts: every write gets EPIPE.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    for args in [
        vec!["completions".to_string(), "bash".to_string()],
        vec![
            "check".to_string(),
            "--repo".to_string(),
            workspace()
                .join("examples/sample-repo")
                .display()
                .to_string(),
            workspace()
                .join("examples/specs/status-filter.md")
                .display()
                .to_string(),
        ],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_agenthost"))
            .args(&args)
            .env("HOME", workspace().join("target/nonexistent-home"))
            .env(
                "XDG_CONFIG_HOME",
                workspace().join("target/nonexistent-home"),
            )
            .stdout(writer.try_clone().expect("clone pipe"))
            .output()
            .expect("run agenthost");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

//! The real agent CLIs (Claude Code, Codex CLI, Gemini CLI, aider) at the versions
//! `.ci/agent-clis` pins, each driven by `agenthost launch --agent NAME --wait` through its
//! built-in profile against `host/tests/agents/mock_model_api.py` on loopback. The test
//! exports the base URL a user would, and the API keys the profiles pass, set to `test`; the
//! user config adds only what keeps a run quick and offline (fewer retries, aider's model
//! metadata).
//!
//! Slow (a CLI starts in 1 to 5 s and retries failed requests) and it needs the CLIs, so it
//! runs only when `AGENTHOST_REAL_AGENTS` is set: `all`, or a comma-separated list of
//! names. A CLI that is not installed is skipped with a message, unless the variable says
//! `all` or names it: then the test fails. The CLIs are looked for under
//! `$AGENTHOST_AGENT_CLIS`, else `target/agent-clis` (`bash .ci/agent-clis` installs them
//! there). `host/tests/agents/README.md` says what each CLI needs and does.
//!
//! One test always runs: the mock's own unit tests (`test_mock_model_api.py`, no CLI).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::lifecycle::{StopSupervisor, file_in_head, status_row, wait_for_state};
use crate::{Run, Test, workspace};

const VARIABLE: &str = "AGENTHOST_REAL_AGENTS";

/// Whether this run asked for `agent` at all, and whether a missing CLI is a failure.
fn asked(agent: &str) -> Option<bool> {
    let value = std::env::var(VARIABLE).ok()?;
    let names: Vec<&str> = value.split(',').map(str::trim).collect();
    if names.contains(&"all") || names.contains(&agent) {
        Some(true)
    } else {
        None
    }
}

fn clis() -> PathBuf {
    std::env::var_os("AGENTHOST_AGENT_CLIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/agent-clis"))
}

/// The directory holding `agent`'s program, to put first on PATH.
fn bin_dir(agent: &str) -> PathBuf {
    match agent {
        "aider" => clis().join("aider/bin"),
        _ => clis().join("npm/node_modules/.bin"),
    }
}

/// `Some(test)` when the test should run; `None` (with a message) when it is skipped.
fn setup(agent: &str) -> Option<Agent> {
    let Some(required) = asked(agent) else {
        eprintln!(
            "SKIPPED {agent}: set {VARIABLE}=all (or a list of names) to drive the real CLIs; \
             bash .ci/agent-clis installs them"
        );
        return None;
    };
    let program = bin_dir(agent).join(agent);
    if !program.exists() {
        assert!(
            !required,
            "{agent}: {} is not installed (run bash .ci/agent-clis)",
            program.display()
        );
        return None;
    }
    Some(Agent::new(agent))
}

/// The mock model API, stopped when dropped.
struct Mock {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Mock {
    fn start(dir: &Path, scenario: &str) -> Mock {
        std::fs::create_dir_all(dir).expect("mkdir mock");
        let scenario_file = dir.join("scenario.json");
        std::fs::write(&scenario_file, scenario).expect("write scenario");
        let port_file = dir.join("port");
        let log = dir.join("requests.jsonl");
        let child = Command::new("python3")
            .arg(workspace().join("host/tests/agents/mock_model_api.py"))
            .arg("--scenario")
            .arg(&scenario_file)
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the mock model API (python3)");
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|text| text.trim().parse().ok())
            {
                break port;
            }
            assert!(Instant::now() < deadline, "the mock did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        Mock { child, port, log }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request bodies the mock has seen, as text, one per line.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One agent's test: a repository at `repo/` with README.md and a spec, and a user config
/// that points the profile at the mock.
struct Agent {
    name: &'static str,
    test: Test,
}

impl Agent {
    fn new(agent: &str) -> Agent {
        let name = ["claude", "codex", "gemini", "aider"]
            .into_iter()
            .find(|n| *n == agent)
            .expect("a known agent");
        let test = Test::new()
            .file("repo/README.md", "hello\n")
            .file("repo/secret/keep.txt", "keep\n")
            .file("repo/specs/readme.md", SPEC)
            .git_repo("repo");
        let repo = git2::Repository::open(test.path().join("repo")).expect("repo");
        let head = repo.head().expect("head").peel_to_commit().expect("commit");
        repo.branch("main", &head, true).expect("branch");
        repo.set_head("refs/heads/main").expect("set head");
        Agent { name, test }
    }

    /// The user config for this agent against `mock`, and the environment the run needs:
    /// the built-in profile as it is, with the base URL a user would export, and (for the
    /// test's speed and offline runs) what makes a CLI retry less or fetch nothing.
    fn configure(self, mock: &Mock) -> Agent {
        let base = mock.base();
        let dir = self.test.path().to_path_buf();
        // Fixed values in the profile's `env` (user config).
        let mut env: Vec<(&str, String)> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        // The user's environment, which the profile's `pass_env` draws from.
        let mut exported: Vec<(&str, String)> = Vec::new();
        match self.name {
            "claude" => {
                exported.push(("ANTHROPIC_BASE_URL", base.clone()));
                // It retries even a 401 ten times (3 minutes) unless told not to.
                env.push(("CLAUDE_CODE_MAX_RETRIES", "0".into()));
            }
            // Codex 0.171 ignores OPENAI_BASE_URL itself: the profile configures a provider
            // with it in the private home.
            "codex" => exported.push(("OPENAI_BASE_URL", format!("{base}/v1"))),
            // The profile writes the auth type Gemini CLI needs with a base URL.
            "gemini" => exported.push(("GOOGLE_GEMINI_BASE_URL", base.clone())),
            // aider takes every option from AIDER_* variables. Without metadata for its model
            // it fetches litellm's price list from GitHub.
            "aider" => {
                let metadata = clis().join("aider-model-metadata.json");
                std::fs::write(&metadata, AIDER_MODEL_METADATA).expect("write aider metadata");
                exported.push(("OPENAI_API_BASE", format!("{base}/v1")));
                exported.push(("AIDER_MODEL", "openai/mock-model".into()));
                env.push(("AIDER_MODEL_METADATA_FILE", metadata.display().to_string()));
                env.push(("AIDER_SHOW_MODEL_WARNINGS", "false".into()));
                lines.push(format!("read = [\"{}\"]", metadata.display()));
            }
            _ => unreachable!(),
        }
        if !env.is_empty() {
            let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k} = \"{v}\"")).collect();
            lines.push(format!("env = {{ {} }}", pairs.join(", ")));
        }
        let config = format!("[agents.{}]\n{}\n", self.name, lines.join("\n"));
        let config_file = dir.join("agenthost-user.toml");
        std::fs::write(&config_file, config).expect("write config");
        let mut path = vec![bin_dir(self.name)];
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let path = std::env::join_paths(path).expect("PATH");
        let mut test = self.test;
        for (key, value) in &exported {
            test = test.env(key, value);
        }
        let test = test
            .env("AGENTHOST_CONFIG", config_file.to_str().expect("utf-8"))
            .env("PATH", path.to_str().expect("utf-8 PATH"))
            .env("ANTHROPIC_API_KEY", "test")
            .env("CODEX_API_KEY", "test")
            .env("OPENAI_API_KEY", "test")
            .env("GEMINI_API_KEY", "test");
        Agent {
            name: self.name,
            test,
        }
    }

    fn exec(&self, args: &[&str]) -> Run {
        self.test.exec(args)
    }

    fn launch(&self) -> Run {
        self.exec(&[
            "launch",
            "--agent",
            self.name,
            "--wait",
            "repo/specs/readme.md",
        ])
    }

    fn worktree(&self) -> PathBuf {
        self.test.state_dir().join("worktrees").join(TASK)
    }
}

/// What aider knows of the mock's model, so that it fetches nothing.
const AIDER_MODEL_METADATA: &str = r#"{"openai/mock-model": {"max_input_tokens": 128000,
"max_output_tokens": 8192, "input_cost_per_token": 0, "output_cost_per_token": 0,
"litellm_provider": "openai", "mode": "chat"}}"#;

const TASK: &str = "rewrite-the-readme-and-add-a-docs-page";

const SPEC: &str = "# Rewrite the README and add a docs page

## What

Replace the text of `README.md` with the line `hello, edited by the agent`, and add
`docs/new.md` holding the line `a new file`. (marker FIRST-RUN-7f3a)

## Behavior

- `README.md` holds exactly one line: `hello, edited by the agent`.
- `docs/new.md` holds exactly one line: `a new file`.

### Scope
- Modify: `README.md`
- Create: `docs/new.md`
- Do NOT modify `secret/keep.txt`

## Verify

`cat README.md docs/new.md` prints the two lines.
";

const EDIT: &str = r#"[
  {"write": "README.md", "content": "hello, edited by the agent\n"},
  {"write": "docs/new.md", "content": "a new file\n"},
  {"say": "Rewrote README.md and created docs/new.md."}
]"#;

fn changed_by_head(repo: &Path) -> Vec<String> {
    let git = git2::Repository::open(repo).expect("repo");
    let head = git.head().expect("head").peel_to_commit().expect("commit");
    let parent = head.parent(0).expect("parent");
    let diff = git
        .diff_tree_to_tree(
            Some(&parent.tree().expect("tree")),
            Some(&head.tree().expect("tree")),
            None,
        )
        .expect("diff");
    diff.deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .collect()
}

/// An in-scope edit and a new file reach `ready`; a correction resumes the CLI's session
/// (the mock sees the first run's turns again); `accept` merges exactly the two files.
fn edits_resumes_and_accepts(name: &str) {
    let Some(agent) = setup(name) else { return };
    let mock = Mock::start(&agent.test.path().join("mock"), EDIT);
    let agent = agent.configure(&mock);
    let _stop = StopSupervisor(&agent.test);

    let run = agent.launch();
    assert_eq!(
        run.code,
        0,
        "{name}: launch\n{}\n{}",
        run.transcript(),
        agent.exec(&["logs", TASK]).transcript()
    );
    assert!(
        run.stdout.contains(&format!("{TASK} is ready")),
        "{name}\n{}",
        run.transcript()
    );
    let worktree = agent.worktree();
    assert_eq!(
        std::fs::read_to_string(worktree.join("README.md"))
            .ok()
            .as_deref(),
        Some("hello, edited by the agent\n"),
        "{name}: README.md in the worktree\n{}",
        agent.exec(&["logs", TASK]).transcript()
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("docs/new.md"))
            .ok()
            .as_deref(),
        Some("a new file\n"),
        "{name}: docs/new.md in the worktree"
    );

    let before = mock.requests().len();
    let correct = agent.exec(&[
        "correct",
        TASK,
        "-m",
        "Say what you did. (marker SECOND-RUN-91c2)",
    ]);
    assert_eq!(correct.code, 0, "{name}: correct\n{}", correct.transcript());
    let state = wait_for_state(&agent.test, TASK, &["ready", "failed"]);
    assert_eq!(
        state,
        "ready",
        "{name}\n{}",
        agent.exec(&["logs", TASK]).transcript()
    );
    let resumed: Vec<String> = mock.requests()[before..]
        .iter()
        .filter(|line| line.contains("SECOND-RUN-91c2"))
        .cloned()
        .collect();
    assert!(
        resumed
            .iter()
            .any(|line| line.contains("FIRST-RUN-7f3a") && line.contains("edited by the agent")),
        "{name}: the correction's request does not carry the first run's turns ({} requests \
         with the correction)",
        resumed.len()
    );

    let accept = agent.exec(&["accept", TASK]);
    assert_eq!(accept.code, 0, "{name}: accept\n{}", accept.transcript());
    let repo = agent.test.path().join("repo");
    assert_eq!(
        file_in_head(&repo, "README.md").as_deref(),
        Some("hello, edited by the agent\n")
    );
    assert_eq!(
        file_in_head(&repo, "docs/new.md").as_deref(),
        Some("a new file\n")
    );
    assert_eq!(changed_by_head(&repo), ["README.md", "docs/new.md"]);
}

/// Writes outside the scope (a Do-NOT-modify file, `.git`, outside the repository, `/tmp`,
/// the home) leave nothing behind; the in-scope edit still lands in the worktree.
fn out_of_scope_writes_leave_nothing(name: &str) {
    let Some(agent) = setup(name) else { return };
    let root = agent.test.path().to_path_buf();
    let tmp_target = std::env::temp_dir().join(format!(
        "agenthost-real-agents-{}-{name}.txt",
        std::process::id()
    ));
    let home_target = root.join(".test-home/planted.txt");
    let outside = root.join("outside.txt");
    let writes = [
        ("secret/keep.txt".to_string(), "changed\n"),
        (
            ".git/hooks/post-checkout".to_string(),
            "#!/bin/sh\necho planted\n",
        ),
        (outside.display().to_string(), "planted\n"),
        (tmp_target.display().to_string(), "planted\n"),
        (home_target.display().to_string(), "planted\n"),
    ];
    // The in-scope edit first: aider applies a reply's edits in order and drops the rest
    // of the reply at the first write the sandbox refuses.
    let mut turns =
        vec![serde_json::json!({"write": "README.md", "content": "hello, edited by the agent\n"})];
    turns.extend(
        writes
            .iter()
            .map(|(path, content)| serde_json::json!({"write": path, "content": content})),
    );
    turns.push(serde_json::json!({"say": "Done."}));
    let mock = Mock::start(
        &root.join("mock"),
        &serde_json::Value::Array(turns).to_string(),
    );
    let agent = agent.configure(&mock);
    let _stop = StopSupervisor(&agent.test);
    let run = agent.launch();
    let logs = agent.exec(&["logs", TASK]).transcript();
    let worktree = agent.worktree();
    // The script ran to its last write: the CLI sent that tool call back with its result
    // (aider makes a single request, its reply holding every edit).
    if name != "aider" {
        let last = home_target.display().to_string();
        assert!(
            mock.requests().iter().any(|line| line.contains(&last)),
            "{name}: the agent stopped before the last write\n{}\n{logs}",
            run.transcript()
        );
    }
    assert_eq!(
        std::fs::read_to_string(worktree.join("secret/keep.txt"))
            .ok()
            .as_deref(),
        Some("keep\n"),
        "{name}: the Do-NOT-modify file\n{}\n{logs}",
        run.transcript()
    );
    let git_dir = root.join("repo/.git");
    assert!(
        !git_dir.join("hooks/post-checkout").exists(),
        "{name}: .git/hooks"
    );
    assert!(!outside.exists(), "{name}: outside the repository");
    assert!(!tmp_target.exists(), "{name}: /tmp");
    let _ = std::fs::remove_file(&tmp_target);
    assert!(!home_target.exists(), "{name}: the home");
    assert_eq!(
        std::fs::read_to_string(worktree.join("README.md"))
            .ok()
            .as_deref(),
        Some("hello, edited by the agent\n"),
        "{name}: the in-scope edit\n{logs}"
    );
}

/// Launches `name` against a mock whose API answers `status` to every request, then hands
/// the agent, the mock and `launch --wait`'s run to `check` (the supervisor still up).
fn against_failing_api(name: &str, status: u16, check: impl FnOnce(&Agent, &Mock, &Run)) {
    let Some(agent) = setup(name) else { return };
    let mock = Mock::start(
        &agent.test.path().join("mock"),
        &format!(r#"[{{"fail": {status}, "message": "mock says {status}"}}]"#),
    );
    let agent = agent.configure(&mock);
    let _stop = StopSupervisor(&agent.test);
    let run = agent.launch();
    assert_eq!(run.code, 1, "{name}: launch --wait\n{}", run.transcript());
    check(&agent, &mock, &run);
}

/// The API answers 401: `launch --wait` says the task failed (or, for aider, which exits 0
/// after an API error, that it changed nothing: a blocking finding), and the CLI's message
/// reaches the user.
fn api_error_fails_the_task(name: &str) {
    against_failing_api(name, 401, |agent, _, run| {
        let row = status_row(&agent.test, TASK);
        if name != "aider" {
            assert_eq!(row["state"], "failed", "{name}: {row}");
        }
        let logs = agent.exec(&["logs", TASK]);
        assert!(
            logs.stdout.contains("mock says 401"),
            "{name}: the CLI's message in the logs\n{}",
            logs.transcript()
        );
        // The reason reaches the user where they wait, not only the log.
        if name != "aider" {
            assert!(
                run.stdout
                    .contains(&format!("{TASK} is failed: the agent exited with code")),
                "{name}: launch --wait says why\n{}",
                run.transcript()
            );
        }
    });
}

/// The API answers 500 to every request: the task ends `failed` (aider, which exits 0: a
/// blocking "changed nothing"), and `launch --wait` says so with the CLI's last words. The
/// CLIs retry a server error (Gemini CLI for about 3 minutes), so this is the slowest test.
fn server_error_fails_the_task(name: &str) {
    against_failing_api(name, 500, |agent, mock, run| {
        let expected = if name == "aider" {
            format!("{TASK} is ready with 1 blocking finding(s)")
        } else {
            format!("{TASK} is failed: the agent exited with code")
        };
        assert!(
            run.stdout.contains(&expected),
            "{name}: launch --wait says why\n{}\n{}",
            run.transcript(),
            agent.exec(&["logs", TASK]).stdout
        );
        assert!(
            mock.requests()
                .iter()
                .any(|line| line.contains("\"status\": 500") || line.contains("\"status\":500")),
            "{name}: the mock never answered 500"
        );
    });
}

macro_rules! per_agent {
    ($($agent:ident),*) => {
        $(
            mod $agent {
                #[test]
                fn edits_resumes_and_accepts() {
                    super::edits_resumes_and_accepts(stringify!($agent));
                }
                #[test]
                fn out_of_scope_writes_leave_nothing() {
                    super::out_of_scope_writes_leave_nothing(stringify!($agent));
                }
                #[test]
                fn api_error_fails_the_task() {
                    super::api_error_fails_the_task(stringify!($agent));
                }
                #[test]
                fn server_error_fails_the_task() {
                    super::server_error_fails_the_task(stringify!($agent));
                }
            }
        )*
    };
}

per_agent!(claude, codex, gemini, aider);

/// The mock itself, without any CLI (fast, always run): its own stdlib unittest suite.
#[test]
fn the_mock_model_api_speaks_every_wire_format() {
    let output = Command::new("python3")
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "host/tests/agents",
            "-p",
            "test_*.py",
        ])
        .current_dir(workspace())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

//! Tests of loading whole configs: defaults, the init template, precedence, and every error.
//! Longer than our 600-line guide on purpose: one short case per error, read as a list.

use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use super::*;

/// Loads the built-in defaults plus `layers`, each `(origin, text)`.
fn load(layers: &[(Origin, &str)]) -> Result<Config, ConfigError> {
    let mut files = vec![LayerFile::builtin()];
    files.extend(
        layers
            .iter()
            .map(|(origin, text)| LayerFile::new(origin.clone(), text.to_string())),
    );
    resolve::resolve(&files)
}

fn user() -> Origin {
    Origin::User(PathBuf::from("/home/ada/.config/agenthost/config.toml"))
}

fn repo() -> Origin {
    Origin::Repo(PathBuf::from("/repo/agenthost.toml"))
}

fn local() -> Origin {
    Origin::Local(PathBuf::from("/repo/agenthost.local.toml"))
}

/// Loads one repo layer.
fn load_repo(text: &str) -> Result<Config, ConfigError> {
    load(&[(repo(), text)])
}

/// The error from loading `text` as the repo layer, as (message, file, 1-based line, help).
fn repo_error(text: &str) -> (String, String, usize, String) {
    let err = load_repo(text).expect_err("config is invalid");
    located(&err)
}

/// An error's message, file, 1-based line of its first label, and help.
fn located(err: &ConfigError) -> (String, String, usize, String) {
    let help = err.help().map(|h| h.to_string()).unwrap_or_default();
    let label = err
        .labels()
        .and_then(|mut labels| labels.next())
        .expect("error has a label");
    let source = err.source_code().expect("error has source code");
    let contents = source
        .read_span(label.inner(), 0, 0)
        .expect("span is inside the source");
    let name = contents.name().unwrap_or_default().to_string();
    (err.to_string(), name, contents.line() + 1, help)
}

/// The whole diagnostic as a user sees it, without color.
fn render(err: &ConfigError) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false)
        .render_report(&mut out, err)
        .unwrap();
    out
}

#[test]
fn builtin_defaults_parse_and_hold_the_documented_values() {
    let config = Config::builtin();
    assert_eq!(config.default_agent, "claude");
    assert_eq!(
        config.agents.keys().collect::<Vec<_>>(),
        ["aider", "claude", "codex", "gemini", "script"]
    );
    let claude = &config.agents["claude"];
    assert_eq!(
        claude.command.args(),
        ["claude", "-p", "{prompt}", "--dangerously-skip-permissions"]
    );
    assert!(
        claude
            .continue_command
            .as_ref()
            .unwrap()
            .args()
            .contains(&"--continue".into())
    );
    assert_eq!(claude.pass_env[0], "ANTHROPIC_API_KEY");
    assert!(claude.pass_env.contains(&"ANTHROPIC_BASE_URL".to_string()));
    assert_eq!(claude.env.get("IS_SANDBOX").map(String::as_str), Some("1"));
    assert_eq!(
        claude.env.get("CLAUDE_CONFIG_DIR").map(String::as_str),
        Some("{home}/.claude")
    );
    assert_eq!(
        claude.seed.iter().map(HostPath::as_str).collect::<Vec<_>>(),
        ["~/.claude/.credentials.json", "~/.claude/CLAUDE.md"]
    );
    assert_eq!(
        claude.write_back.as_ref().map(HostPath::as_str),
        Some("~/.claude/.credentials.json")
    );
    // No built-in profile may write anywhere in the home: that is a delayed escape.
    for (name, profile) in &config.agents {
        assert!(
            profile.write.is_empty(),
            "profile {name} grants {:?}",
            profile.write
        );
    }
    assert!(
        config.agents["codex"].home_files[".codex/config.toml"].contains("{env:OPENAI_BASE_URL}")
    );
    assert!(
        config.agents["gemini"]
            .command
            .args()
            .contains(&"--skip-trust".to_string())
    );
    assert!(
        config.agents["aider"]
            .command
            .args()
            .contains(&"--no-git".to_string())
    );
    assert_eq!(claude.ports, [443]);
    assert_eq!(claude.timeout, DEFAULT_AGENT_TIMEOUT);
    assert_eq!(claude.origin, Origin::Builtin);
    assert!(config.agents["aider"].command.uses(Placeholder::PromptFile));
    // The model-driven agents take the prompt as an argument or file; the scripted one reads
    // it on stdin.
    let on_stdin: Vec<&str> = config
        .agents
        .iter()
        .filter(|(_, a)| a.command.prompt_on_stdin())
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(on_stdin, ["script"]);

    assert_eq!(config.sandbox.mode, SandboxMode::Enforce);
    assert_eq!(config.test.command, None);
    assert_eq!(config.test.timeout, DEFAULT_TEST_TIMEOUT);
    assert_eq!(config.worktree, WorktreeConfig::default());
    assert!(config.sources.is_empty());

    let names: Vec<&str> = config.enabled_policies().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        [
            "diff-size",
            "review-bandwidth",
            "scope-guard",
            "scope-overlap",
            "spec-quality",
            "tests"
        ]
    );
    for (name, policy) in &config.policies {
        assert_eq!(
            policy.source,
            PolicySource::Builtin(BuiltinPolicy::from_name(name).unwrap())
        );
        assert_eq!(policy.mode, PolicyMode::Enforce);
        assert!(policy.enabled);
        assert_eq!(policy.origin, Origin::Builtin);
    }
}

#[test]
fn init_template_parses_and_changes_nothing() {
    let config = load_repo(INIT_TEMPLATE).unwrap();
    let expected = Config {
        sources: vec![PathBuf::from("/repo/agenthost.toml")],
        ..Config::builtin()
    };
    assert_eq!(config, expected);
}

#[test]
fn init_template_examples_are_valid_when_uncommented() {
    // Example lines are commented as `#key = ...`, prose as `# words`.
    let uncommented: String = INIT_TEMPLATE
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if !rest.starts_with([' ', '#']) => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let config = load_repo(&uncommented).unwrap_or_else(|err| panic!("{}", render(&err)));
    let agent = &config.agents["my-agent"];
    assert_eq!(agent.timeout, Duration::from_secs(3600));
    assert_eq!(agent.origin, repo());
    assert_eq!(
        config.agents["claude"].timeout,
        Duration::from_secs(45 * 60)
    );
    assert_eq!(
        config.test.command.as_deref(),
        Some("cargo test --workspace")
    );
    assert_eq!(config.worktree.copy, [PathBuf::from(".env")]);
    assert!(!config.policies["review-bandwidth"].enabled);
    assert_eq!(config.policies["spec-quality"].mode, PolicyMode::Monitor);
    assert!(matches!(
        &config.policies["no-secrets"].source,
        PolicySource::Plugin { path, sha256: Some(_) }
            if path == Path::new("/repo/policies/no-secrets.wasm")
    ));
}

#[test]
fn higher_layers_win_field_by_field() {
    let config = load(&[
        (
            user(),
            r#"
            default_agent = "codex"
            [agents.claude]
            timeout = "2h"
            ports = [443, 8080]
            env = { EXTRA = "user" }
            [sandbox]
            mode = "best-effort"
            read = ["~/.rustup"]
            [test]
            command = "make test"
            timeout = "5m"
            "#,
        ),
        (
            repo(),
            r#"
            [agents.claude]
            timeout = "30m"
            env = { IS_SANDBOX = "0" }
            [test]
            command = "cargo test"
            [worktree]
            base = "main"
            copy = [".env"]
            "#,
        ),
        (
            local(),
            r#"
            default_agent = "claude"
            [sandbox]
            read = ["/opt/sdk"]
            [worktree]
            copy = [".env.local"]
            "#,
        ),
    ])
    .unwrap();
    assert_eq!(config.default_agent, "claude");
    let claude = &config.agents["claude"];
    assert_eq!(claude.timeout, Duration::from_secs(30 * 60));
    assert_eq!(claude.ports, [443, 8080]);
    assert_eq!(claude.env["EXTRA"], "user");
    assert_eq!(claude.env["IS_SANDBOX"], "0");
    assert_eq!(claude.env["DISABLE_TELEMETRY"], "1");
    assert_eq!(claude.pass_env[0], "ANTHROPIC_API_KEY");
    assert_eq!(claude.origin, repo());
    assert_eq!(config.agents["codex"].origin, Origin::Builtin);
    assert_eq!(config.sandbox.mode, SandboxMode::BestEffort);
    assert_eq!(
        config
            .sandbox
            .read
            .iter()
            .map(HostPath::as_str)
            .collect::<Vec<_>>(),
        ["/opt/sdk"]
    );
    assert_eq!(config.test.command.as_deref(), Some("cargo test"));
    assert_eq!(config.test.timeout, Duration::from_secs(5 * 60));
    assert_eq!(config.worktree.base.as_deref(), Some("main"));
    assert_eq!(config.worktree.copy, [PathBuf::from(".env.local")]);
}

#[test]
fn a_new_agent_can_be_completed_by_a_later_layer() {
    let config = load(&[
        (user(), "[agents.mine]\ntimeout = \"20m\"\n"),
        (repo(), "[agents.mine]\ncommand = [\"mine\"]\n"),
    ])
    .unwrap();
    let mine = &config.agents["mine"];
    assert!(mine.command.prompt_on_stdin());
    assert_eq!(mine.timeout, Duration::from_secs(20 * 60));
    assert_eq!(mine.continue_command, None);
}

#[test]
fn adding_a_policy_keeps_the_defaults() {
    let config =
        load_repo("[policies.mine]\npath = \"p/mine.wasm\"\nmode = \"monitor\"\n").unwrap();
    assert_eq!(config.policies.len(), 7);
    let mine = &config.policies["mine"];
    assert_eq!(
        mine.source,
        PolicySource::Plugin {
            path: PathBuf::from("/repo/p/mine.wasm"),
            sha256: None
        }
    );
    assert_eq!(mine.mode, PolicyMode::Monitor);
    assert!(mine.enabled);
    assert_eq!(mine.origin, repo());
    assert_eq!(config.enabled_policies().count(), 7);
}

#[test]
fn enabled_false_disables_a_builtin() {
    let config = load(&[
        (user(), "[policies.diff-size]\nenabled = false\n"),
        (local(), "[policies.tests]\nenabled = false\n"),
    ])
    .unwrap();
    assert!(!config.policies["diff-size"].enabled);
    assert_eq!(config.policies["diff-size"].origin, user());
    assert!(!config.policies["tests"].enabled);
    assert_eq!(config.policies.len(), 6);
    assert_eq!(config.enabled_policies().count(), 4);
}

#[test]
fn policy_config_tables_merge_key_by_key() {
    let config = load(&[
        (
            user(),
            "[policies.diff-size.config]\nmax_lines = 300\nmax_files = 10\n[policies.diff-size.config.ignore]\nlock = true\n",
        ),
        (
            repo(),
            "[policies.diff-size]\nmode = \"monitor\"\nconfig = { max_files = 20, ignore = { docs = true } }\n",
        ),
    ])
    .unwrap();
    let policy = &config.policies["diff-size"];
    assert_eq!(policy.mode, PolicyMode::Monitor);
    assert_eq!(
        policy.config_json(),
        serde_json::json!({
            "max_lines": 300, "max_files": 20, "ignore": { "lock": true, "docs": true }
        })
    );
    assert_eq!(
        policy.source,
        PolicySource::Builtin(BuiltinPolicy::DiffSize)
    );
}

#[test]
fn a_path_under_a_builtin_name_replaces_it() {
    let digest = "ab".repeat(32);
    let config = load(&[
        (
            user(),
            "[policies.scope-guard]\nmode = \"monitor\"\nconfig = { strict = true }\n",
        ),
        (
            repo(),
            &format!("[policies.scope-guard]\npath = \"/opt/guard.wasm\"\nsha256 = \"{digest}\"\n"),
        ),
        (local(), "[policies.scope-guard]\nconfig = { mine = 1 }\n"),
    ])
    .unwrap();
    let policy = &config.policies["scope-guard"];
    assert_eq!(
        policy.source,
        PolicySource::Plugin {
            path: PathBuf::from("/opt/guard.wasm"),
            sha256: Some(Sha256([0xab; 32]))
        }
    );
    // The user layer's mode and config were for the built-in; they do not carry over.
    assert_eq!(policy.mode, PolicyMode::Enforce);
    assert_eq!(policy.config_json(), serde_json::json!({ "mine": 1 }));
    assert_eq!(policy.origin, local());
}

#[test]
fn relative_plugin_paths_resolve_against_their_own_file() {
    let config = load(&[
        (user(), "[policies.a]\npath = \"a.wasm\"\n"),
        (repo(), "[policies.b]\npath = \"tools/b.wasm\"\n"),
    ])
    .unwrap();
    let path = |name: &str| match &config.policies[name].source {
        PolicySource::Plugin { path, .. } => path.clone(),
        PolicySource::Builtin(_) => panic!("{name} is a plugin"),
    };
    assert_eq!(path("a"), Path::new("/home/ada/.config/agenthost/a.wasm"));
    assert_eq!(path("b"), Path::new("/repo/tools/b.wasm"));
}

// ---- Errors: each says what, where (file and line) and what to do. ----

#[test]
fn unknown_key_names_the_line_and_the_nearest_key() {
    let (message, file, line, help) = repo_error("[agents.claude]\ntimout = \"1h\"\n");
    assert!(message.starts_with("unknown field `timout`"), "{message}");
    assert_eq!(file, "/repo/agenthost.toml");
    assert_eq!(line, 2);
    assert!(help.starts_with("did you mean `timeout`?"), "{help}");
}

#[test]
fn unknown_top_level_section_is_refused() {
    let (message, _, line, help) = repo_error("default_agent = \"claude\"\n\n[sandbx]\n");
    assert!(message.starts_with("unknown field `sandbx`"), "{message}");
    assert_eq!(line, 3);
    assert!(help.starts_with("did you mean `sandbox`?"), "{help}");
}

#[test]
fn unknown_enum_value_suggests_the_right_one() {
    let (message, _, line, help) = repo_error("[sandbox]\nmode = \"best_effort\"\n");
    assert!(
        message.starts_with("unknown variant `best_effort`"),
        "{message}"
    );
    assert_eq!(line, 2);
    assert!(help.starts_with("did you mean `best-effort`?"), "{help}");
}

#[test]
fn wrong_type_and_bad_syntax_are_located() {
    let (message, _, line, _) = repo_error("[agents.claude]\nports = [443, 70000]\n");
    assert!(message.contains("u16"), "{message}");
    assert_eq!(line, 2);
    let (_, _, line, help) = repo_error("[test]\ncommand = cargo test\n");
    assert_eq!(line, 2);
    assert!(help.starts_with("check the TOML syntax"), "{help}");
}

#[test]
fn unknown_placeholder_points_into_the_argument() {
    let text = "[agents.mine]\ncommand = [\"mine\",\n  \"--p={promt}\"]\n";
    let err = load_repo(text).unwrap_err();
    let (message, _, line, help) = located(&err);
    assert_eq!(
        message,
        "unknown placeholder `{promt}` in `agents.mine.command`"
    );
    assert_eq!(line, 3);
    assert!(help.starts_with("did you mean `{prompt}`?"), "{help}");
    let span = err.labels().unwrap().next().unwrap();
    assert_eq!(&text[span.offset()..span.offset() + span.len()], "{promt}");
}

#[test]
fn unmatched_brace_in_continue_is_an_error() {
    let (message, _, line, help) =
        repo_error("[agents.claude]\n\ncontinue = [\"claude\", \"{prompt\"]\n");
    assert_eq!(message, "unmatched `{` in `agents.claude.continue`");
    assert_eq!(line, 3);
    assert!(help.contains("`{{`"), "{help}");
}

#[test]
fn empty_command_is_an_error() {
    let (message, _, line, _) = repo_error("[agents.claude]\ncommand = []\n");
    assert_eq!(message, "`agents.claude.command` is empty");
    assert_eq!(line, 2);
}

#[test]
fn a_new_agent_without_command_is_an_error_with_a_suggestion() {
    let (message, _, line, help) = repo_error("\n[agents.cluade]\ntimeout = \"2h\"\n");
    assert_eq!(message, "agent profile `cluade` has no `command`");
    assert_eq!(line, 2);
    assert!(help.starts_with("did you mean `claude`?"), "{help}");
}

#[test]
fn bad_duration_says_why() {
    let (message, _, line, help) = repo_error("[test]\ntimeout = \"10 lightyears\"\n");
    assert_eq!(
        message,
        "invalid duration `10 lightyears` for `test.timeout`: unknown time unit \"lightyears\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)"
    );
    assert_eq!(line, 2);
    assert!(help.contains("\"1h 30m\""), "{help}");
    let (message, _, _, _) = repo_error("[agents.codex]\ntimeout = \"90\"\n");
    assert_eq!(
        message,
        "invalid duration `90` for `agents.codex.timeout`: time unit needed, for example 90sec or 90ms"
    );
}

#[test]
fn bad_sha256_says_why() {
    let (message, _, line, help) =
        repo_error("[policies.x]\npath = \"x.wasm\"\nsha256 = \"abc123\"\n");
    assert_eq!(
        message,
        "`policies.x.sha256` is not a SHA-256 digest: it has 6 characters, not 64"
    );
    assert_eq!(line, 3);
    assert!(help.contains("sha256sum"), "{help}");
}

#[test]
fn sha256_without_path_is_an_error() {
    let text = format!("[policies.diff-size]\nsha256 = \"{}\"\n", "0".repeat(64));
    let (message, _, line, _) = repo_error(&text);
    assert_eq!(
        message,
        "policy `diff-size` pins a `sha256` but has no `path`"
    );
    assert_eq!(line, 2);
}

#[test]
fn unknown_policy_without_path_suggests_the_nearest_builtin() {
    let (message, _, line, help) =
        repo_error("[policies]\n\n[policies.diff_size]\nenabled = false\n");
    assert_eq!(
        message,
        "`diff_size` is not a built-in policy, and it has no `path`"
    );
    assert_eq!(line, 3);
    assert!(help.starts_with("did you mean `diff-size`?"), "{help}");
    assert!(help.contains("path = "), "{help}");
}

#[test]
fn default_agent_must_name_a_profile() {
    let err = load(&[
        (user(), "default_agent = \"cladue\"\n"),
        (repo(), "[agents.mine]\ncommand = [\"mine\"]\n"),
    ])
    .unwrap_err();
    let (message, file, line, help) = located(&err);
    assert_eq!(
        message,
        "`default_agent` is `cladue`, but there is no agent profile of that name"
    );
    assert_eq!(file, "/home/ada/.config/agenthost/config.toml");
    assert_eq!(line, 1);
    assert!(help.starts_with("did you mean `claude`?"), "{help}");
    assert!(help.contains("`mine`"), "{help}");
}

#[test]
fn worktree_copy_paths_stay_inside_the_repository() {
    let cases = [
        ("/etc/passwd", "is absolute"),
        ("~/.env", "is absolute"),
        ("../other/.env", "goes up with `..`"),
        ("config/../../x", "goes up with `..`"),
        (".git/hooks/pre-commit", "is inside `.git`"),
        ("", "is empty"),
    ];
    for (path, reason) in cases {
        let (message, _, line, help) = repo_error(&format!(
            "[worktree]\ncopy = [\n  \".env\",\n  \"{path}\",\n]\n"
        ));
        assert_eq!(message, format!("`worktree.copy` entry `{path}` {reason}"));
        assert_eq!(line, 4, "{path}");
        assert!(help.contains("relative to the repository root"), "{help}");
    }
}

#[test]
fn host_paths_must_be_absolute_or_under_home() {
    let (message, _, line, _) = repo_error("[sandbox]\nread = [\"/opt\", \"sdk\"]\n");
    assert_eq!(message, "`sandbox.read` entry `sdk` is relative");
    assert_eq!(line, 2);
    let (message, _, _, _) = repo_error("[agents.claude]\nwrite = [\"~bob/.claude\"]\n");
    assert_eq!(
        message,
        "`agents.claude.write` entry `~bob/.claude` names another user's home, which is not supported"
    );
}

#[test]
fn env_names_are_checked() {
    let (message, _, line, _) = repo_error("[agents.claude]\npass_env = [\"OK\", \"NOT-OK\"]\n");
    assert_eq!(
        message,
        "`NOT-OK` in `agents.claude.pass_env` is not an environment variable name"
    );
    assert_eq!(line, 2);
    let (message, _, _, _) = repo_error("[agents.claude.env]\n\"1X\" = \"y\"\n");
    assert_eq!(
        message,
        "`1X` in `agents.claude.env` is not an environment variable name"
    );
}

#[test]
fn errors_name_the_layer_that_holds_the_mistake() {
    let err = load(&[
        (user(), "[test]\ntimeout = \"5m\"\n"),
        (local(), "\n\n[test]\ntimeout = \"soon\"\n"),
    ])
    .unwrap_err();
    let (_, file, line, _) = located(&err);
    assert_eq!(file, "/repo/agenthost.local.toml");
    assert_eq!(line, 4);
}

#[test]
fn load_reads_files_and_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("config.toml");
    let repo = dir.path().join("agenthost.toml");
    fs_err::write(&user, "[test]\ntimeout = \"3m\"\n").unwrap();
    fs_err::write(&repo, "[test]\ncommand = \"true\"\n").unwrap();
    let sources = ConfigSources {
        user: Some(user.clone()),
        repo: Some(repo.clone()),
        local: None,
    };
    let config = Config::load(&sources).unwrap();
    assert_eq!(config.sources, [user, repo]);
    assert_eq!(config.test.timeout, Duration::from_secs(180));
    assert_eq!(config.test.command.as_deref(), Some("true"));
    assert_eq!(
        Config::load(&ConfigSources::default()).unwrap(),
        Config::builtin()
    );
}

#[test]
fn unreadable_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let sources = ConfigSources {
        user: Some(missing.clone()),
        ..ConfigSources::default()
    };
    let err = Config::load(&sources).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot read the config file {}", missing.display())
    );
    assert!(err.help().unwrap().to_string().contains("permission"));
    assert!(matches!(
        err,
        ConfigError::Unreadable { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound
    ));
}

#[test]
fn non_utf8_file_points_at_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agenthost.toml");
    fs_err::write(&path, b"[test]\ncommand = \"caf\xe9\"\n").unwrap();
    let sources = ConfigSources {
        repo: Some(path.clone()),
        ..ConfigSources::default()
    };
    let err = Config::load(&sources).unwrap_err();
    let (message, file, line, help) = located(&err);
    assert_eq!(message, "the config file is not valid UTF-8");
    assert_eq!(file, path.display().to_string());
    assert_eq!(line, 2);
    assert!(help.contains("UTF-8"), "{help}");
}

#[test]
fn rendered_diagnostics() {
    let cases = [
        ("unknown_key", "[agents.claude]\ntimout = \"1h\"\n"),
        (
            "unknown_placeholder",
            "[agents.mine]\ncommand = [\"mine\", \"--prompt={promt}\"]\n",
        ),
        (
            "unknown_policy",
            "[policies.scope_guard]\nmode = \"monitor\"\n",
        ),
        ("bad_duration", "[test]\ntimeout = \"1.5 fortnights\"\n"),
    ];
    for (name, text) in cases {
        let err = load_repo(text).unwrap_err();
        insta::assert_snapshot!(name, render(&err));
    }
}

#[test]
fn notify_defaults_and_personal_hook() {
    let config = Config::builtin();
    assert_eq!(config.notify, NotifyConfig::default());
    assert!(config.notify.desktop && config.notify.bell);

    let config = load(&[
        (user(), "[notify]\non_ready = [\"notify-me\", \"--loud\"]\n"),
        (repo(), "[notify]\ndesktop = false\n"),
    ])
    .unwrap();
    assert_eq!(
        config.notify.on_ready,
        Some(vec!["notify-me".to_string(), "--loud".to_string()])
    );
    assert!(!config.notify.desktop);

    let config = load(&[(local(), "[notify]\non_ready = [\"mine\"]\n")]).unwrap();
    assert_eq!(config.notify.on_ready, Some(vec!["mine".to_string()]));
}

#[test]
fn seeds_are_personal_and_write_back_only_a_seeded_credentials_file() {
    // A repository must not copy files out of the home (or into it).
    let (message, _, line, help) = repo_error("[agents.claude]\nseed = [\"~/.ssh/id_ed25519\"]\n");
    assert_eq!(
        message,
        "`agents.claude.seed` cannot be set in the repository's agenthost.toml"
    );
    assert_eq!(line, 2);
    assert!(help.contains("copy files"), "{help}");
    let bad = |text: &str| {
        let err = load(&[(user(), text)]).unwrap_err();
        located(&err).0
    };
    assert_eq!(
        bad("[agents.claude]\nseed = [\"/etc/shadow\"]\n"),
        "`agents.claude.seed` entry `/etc/shadow` is not under your home directory (`~/...`)"
    );
    assert_eq!(
        bad("[agents.claude]\nseed = [\"~/../x\"]\n"),
        "`agents.claude.seed` entry `~/../x` leaves the home directory through `..`"
    );
    assert!(
        bad("[agents.x]\ncommand = [\"x\"]\nseed = [\"~/.x/auth.json\"]\nwrite_back = \"~/.x/other.json\"\n")
            .contains("is not one of the profile's `seed` entries")
    );
    assert!(
        bad("[agents.x]\ncommand = [\"x\"]\nseed = [\"~/.x/settings.json\"]\nwrite_back = \"~/.x/settings.json\"\n")
            .contains("configures what the CLI runs")
    );
    assert!(
        bad("[agents.x]\ncommand = [\"x\"]\n[agents.x.home_files]\n\"../escape\" = \"\"\n")
            .contains("leaves the private home")
    );
    // A user's own seed and write-back, and an empty write_back switching it off.
    let config = load(&[(
        user(),
        "[agents.codex]\nseed = [\"~/.codex/auth.json\"]\nwrite_back = \"\"\n",
    )])
    .unwrap();
    assert_eq!(config.agents["codex"].write_back, None);
    assert_eq!(config.agents["codex"].seed.len(), 1);
}

#[test]
fn a_repository_cannot_set_a_hook_command() {
    let (message, _, line, help) =
        repo_error("[notify]\nbell = false\non_ready = [\"sh\", \"-c\", \"curl x | sh\"]\n");
    assert_eq!(
        message,
        "`notify.on_ready` cannot be set in the repository's agenthost.toml"
    );
    assert_eq!(line, 3);
    assert!(help.contains("agenthost.local.toml"), "{help}");
    let err = load(&[(user(), "[notify]\non_ready = []\n")]).unwrap_err();
    assert_eq!(err.to_string(), "`notify.on_ready` is an empty command");
}

#[test]
fn verify_settings_merge_and_name_configured_policies() {
    let config = load(&[]).expect("defaults");
    assert_eq!(config.verify.require_spec, RequireSpec::Off);
    assert_eq!(config.verify.policies, None);

    let config = load(&[
        (
            repo(),
            "[verify]\nrequire_spec = \"error\"\npolicies = [\"scope-guard\"]\n",
        ),
        (local(), "[verify]\nrequire_spec = \"warn\"\n"),
    ])
    .expect("valid");
    assert_eq!(config.verify.require_spec, RequireSpec::Warn);
    assert_eq!(
        config.verify.policies,
        Some(vec!["scope-guard".to_string()])
    );

    let (message, file, line, help) = repo_error(
        "[verify]\nrequire_spec = \"off\"\npolicies = [\"diff-size\", \"scope-gaurd\"]\n",
    );
    assert_eq!(
        message,
        "`verify.policies` names `scope-gaurd`, which is not a configured policy"
    );
    assert_eq!((file.as_str(), line), ("/repo/agenthost.toml", 3));
    assert!(help.starts_with("did you mean `scope-guard`?"), "{help}");

    let (message, _, line, _) = repo_error("[verify]\nrequire_spec = \"always\"\n");
    assert!(message.contains("unknown variant `always`"), "{message}");
    assert_eq!(line, 2);
}

#[test]
fn only_your_own_config_turns_the_mount_layer_off() {
    assert!(Config::builtin().sandbox.read_only_view);
    let (message, _, line, _) = repo_error("[sandbox]\nread_only_view = false\n");
    assert_eq!(
        message,
        "`sandbox.read_only_view` cannot be set in the repository's agenthost.toml"
    );
    assert_eq!(line, 2);
    for origin in [user(), local()] {
        let config = load(&[(origin, "[sandbox]\nread_only_view = false\n")]).unwrap();
        assert!(!config.sandbox.read_only_view);
    }
}

#[test]
fn setup_and_test_grants_merge_and_a_repository_cannot_aim_the_tests_at_your_home() {
    let config = load(&[(
        repo(),
        "[worktree]\nsetup = [\"npm ci\"]\nsetup_timeout = \"5m\"\n\n[test]\ncommand = \"npm test\"\nports = [5432]\nread = [\"/opt/fixtures\"]\nwrite = [\"/var/tmp/t\"]\nenv = { DATABASE_URL = \"postgres://x\" }\n",
    )])
    .unwrap();
    assert_eq!(config.worktree.setup, ["npm ci"]);
    assert_eq!(config.worktree.setup_timeout, Duration::from_secs(300));
    assert_eq!(config.worktree.setup_ports, [443, 80]);
    assert_eq!(config.test.ports, [5432]);
    assert_eq!(config.test.read[0].as_str(), "/opt/fixtures");
    assert_eq!(config.test.write[0].as_str(), "/var/tmp/t");
    assert_eq!(config.test.env["DATABASE_URL"], "postgres://x");

    let (message, _, line, _) = repo_error("[test]\nwrite = [\"/tmp/ok\", \"~/.bashrc\"]\n");
    assert_eq!(
        message,
        "`test.write` cannot be set in the repository's agenthost.toml"
    );
    assert_eq!(line, 2);
    let config = load(&[(local(), "[test]\nwrite = [\"~/.cache/app-tests\"]\n")]).unwrap();
    assert_eq!(config.test.write[0].as_str(), "~/.cache/app-tests");

    let (message, _, line, _) = repo_error("[worktree]\nsetup = [\"npm ci\", \"  \"]\n");
    assert_eq!(message, "`worktree.setup` has an empty command");
    assert_eq!(line, 2);
}

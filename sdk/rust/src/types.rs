//! The data that flows between the host and a policy: `types` in `sdk/wit/policy.wit`.

use serde::{Deserialize, Serialize};

/// Derives shared by every type: serde both ways (the JSON ABI), the JSON Schema when asked
/// for, and with the `host` feature wasmtime's component-model traits (the host lowers these
/// very types into a typed component: its `bindgen!` generates none of its own). `record`,
/// `enum` and `variant` are the WIT kinds; a field or case whose WIT name is not its Rust
/// name says so with `component(name = "...")`.
macro_rules! wire {
    ($kind:ident, $item:item) => {
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[cfg_attr(
            feature = "host",
            derive(
                wasmtime::component::ComponentType,
                wasmtime::component::Lift,
                wasmtime::component::Lower
            ),
            component($kind)
        )]
        $item
    };
}

wire! {
    record,
    /// One backticked path or glob from a Scope line.
    pub struct ScopeEntry {
        /// The path as the spec wrote it.
        pub written: String,
        /// The normalized, repository-relative pattern (`dir/` becomes `dir/**`).
        pub pattern: String,
        /// Whether `pattern` is a glob rather than one path.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "is-glob"))]
        pub is_glob: bool,
        /// 1-based line in the spec.
        pub line: u32,
    }
}

wire! {
    record,
    /// A `Do NOT ...` line that names no path.
    pub struct Constraint {
        /// The line's text.
        pub text: String,
        /// 1-based line in the spec.
        pub line: u32,
    }
}

wire! {
    record,
    /// What the agent may and may not touch.
    #[derive(Default)]
    #[serde(default)]
    pub struct Scope {
        /// The line of the Scope heading, when the spec has one.
        pub line: Option<u32>,
        /// Files the agent may change.
        pub modify: Vec<ScopeEntry>,
        /// Files the agent may create.
        pub create: Vec<ScopeEntry>,
        /// Files the agent must not touch, whatever else says.
        #[cfg_attr(feature = "host", component(name = "do-not-modify"))]
        pub do_not_modify: Vec<ScopeEntry>,
        /// Free-text constraints.
        pub constraints: Vec<Constraint>,
    }
}

wire! {
    record,
    /// A part of the spec under one heading.
    pub struct Section {
        /// The heading's text.
        pub heading: String,
        /// 1 for `#`, up to 6.
        pub level: u8,
        /// 1-based line of the heading.
        pub line: u32,
        /// The Markdown under the heading, trimmed.
        pub text: String,
    }
}

wire! {
    record,
    /// The spec's machine-readable fields.
    #[derive(Default)]
    #[serde(default)]
    pub struct FrontMatter {
        /// Overrides the id derived from the title.
        pub id: Option<String>,
        /// Overrides the first heading.
        pub title: Option<String>,
        /// The agent profile to run.
        pub agent: Option<String>,
        /// The test command.
        pub test: Option<String>,
        /// How long the agent may run, in seconds.
        #[cfg_attr(feature = "host", component(name = "timeout-secs"))]
        pub timeout_secs: Option<u64>,
        /// The branch the task starts from.
        pub base: Option<String>,
        /// Free-form labels.
        pub labels: Vec<String>,
    }
}

wire! {
    record,
    /// A task spec, as the host read it.
    pub struct Spec {
        /// Short identifier.
        pub id: String,
        /// Title.
        pub title: String,
        /// Machine-readable fields.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "front-matter"))]
        pub front_matter: FrontMatter,
        /// Every section, in order.
        #[serde(default)]
        pub sections: Vec<Section>,
        /// What the agent may touch.
        #[serde(default)]
        pub scope: Scope,
    }
}

wire! {
    enum,
    /// How much a finding matters. `error` blocks (in enforce mode).
    #[derive(Copy, PartialOrd, Ord, Hash)]
    #[serde(rename_all = "kebab-case")]
    #[repr(u8)]
    pub enum Severity {
        /// For the record.
        #[cfg_attr(feature = "host", component(name = "info"))]
        Info,
        /// The reviewer should look.
        #[cfg_attr(feature = "host", component(name = "warning"))]
        Warning,
        /// Rejects a spec, or blocks accepting a run.
        #[cfg_attr(feature = "host", component(name = "error"))]
        Error,
    }
}

wire! {
    record,
    /// Something a policy has to say about a spec or a run.
    pub struct Finding {
        /// A short, stable identifier, e.g. `scope-guard/out-of-scope`.
        pub rule: String,
        /// How much it matters.
        pub severity: Severity,
        /// What is wrong and what to do, in plain words.
        pub message: String,
        /// The file it is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path: Option<String>,
        /// The 1-based line it is about (in `path`, or in the spec).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub line: Option<u32>,
    }
}

impl Finding {
    /// A finding with no path or line.
    pub fn new(rule: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.into(),
            severity,
            message: message.into(),
            path: None,
            line: None,
        }
    }

    /// The finding a hook answers with when the policy's own table in `agenthost.toml` does
    /// not fit: rule `<policy>/config`, severity error (the run or spec is judged by nothing
    /// else, so it must not pass), and `error` in the message.
    pub fn invalid_config(policy: &str, error: impl std::fmt::Display) -> Self {
        Finding::new(
            format!("{policy}/config"),
            Severity::Error,
            format!("invalid [policies.{policy}.config]: {error}"),
        )
    }

    /// The same finding, about `path`.
    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The same finding, about `line`.
    pub fn at_line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }
}

wire! {
    record,
    /// A task as admission sees it.
    #[derive(Default)]
    pub struct TaskView {
        /// The task's id.
        pub id: String,
        /// Its title.
        pub title: String,
        /// The repository it runs in.
        #[serde(default)]
        pub repo: String,
        /// How many Modify and Create entries its Scope has.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "scope-entries"))]
        pub scope_entries: u32,
        /// The branch it started from, when it started from one.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "base-branch"))]
        pub base_branch: Option<String>,
        /// The commit it started from.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "base-commit"))]
        pub base_commit: String,
        /// Its Scope's Modify patterns, normalized and repository-relative (`dir/` is
        /// `dir/**`): what it may change.
        #[serde(default)]
        pub modify: Vec<String>,
        /// Its Scope's Create patterns: what it may add.
        #[serde(default)]
        pub create: Vec<String>,
        /// Its Scope's Do NOT modify patterns: what it must leave alone.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "do-not-modify"))]
        pub do_not_modify: Vec<String>,
        /// The spec's labels.
        #[serde(default)]
        pub labels: Vec<String>,
        /// The agent profile it runs with.
        #[serde(default)]
        pub agent: String,
        /// When it was launched, in milliseconds since the Unix epoch.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "launched-unix-ms"))]
        pub launched_unix_ms: u64,
        /// How many attempts it has had (0 while it waits for its first).
        #[serde(default)]
        pub attempts: u32,
    }
}

wire! {
    record,
    /// A finished task whose result waits for the human.
    pub struct WaitingTask {
        /// The task.
        pub task: TaskView,
        /// How long it has waited, in seconds.
        #[cfg_attr(feature = "host", component(name = "waited-secs"))]
        pub waited_secs: u64,
    }
}

wire! {
    record,
    /// What the host is doing when a task asks to start. Policies have no clock: the time
    /// comes in here.
    #[derive(Default)]
    #[serde(default)]
    pub struct HostState {
        /// Milliseconds since the Unix epoch.
        #[cfg_attr(feature = "host", component(name = "now-unix-ms"))]
        pub now_unix_ms: u64,
        /// Tasks whose agent runs now.
        pub running: Vec<TaskView>,
        /// Tasks waiting to start (not counting the one asking).
        pub queued: Vec<TaskView>,
        /// Finished tasks waiting for review, oldest first.
        #[cfg_attr(feature = "host", component(name = "awaiting-review"))]
        pub awaiting_review: Vec<WaitingTask>,
    }
}

wire! {
    variant,
    /// The admission answer.
    #[serde(tag = "decision", content = "reason", rename_all = "kebab-case")]
    pub enum Admission {
        /// Start the task now.
        #[cfg_attr(feature = "host", component(name = "start"))]
        Start,
        /// Keep it queued and ask again later; the reason is shown to the user. The queue
        /// waits with it: no task behind it starts first.
        #[cfg_attr(feature = "host", component(name = "hold"))]
        Hold(String),
        /// Refuse it.
        #[cfg_attr(feature = "host", component(name = "reject"))]
        Reject(String),
        /// Keep it queued for a reason of its own (another task writes the same paths), and
        /// let the tasks behind it start meanwhile.
        #[cfg_attr(feature = "host", component(name = "wait"))]
        Wait(String),
    }
}

wire! {
    enum,
    /// How a file changed.
    #[derive(Copy)]
    #[serde(rename_all = "kebab-case")]
    #[repr(u8)]
    pub enum ChangeKind {
        /// A new file.
        #[cfg_attr(feature = "host", component(name = "added"))]
        Added,
        /// An existing file, changed.
        #[cfg_attr(feature = "host", component(name = "modified"))]
        Modified,
        /// A file removed.
        #[cfg_attr(feature = "host", component(name = "deleted"))]
        Deleted,
        /// A file moved (maybe changed too).
        #[cfg_attr(feature = "host", component(name = "renamed"))]
        Renamed,
    }
}

/// What the typed bindings call to lift a `change-kind` (`wit-bindgen` lifts an enum with
/// its type's `_lift`; the types here stand in for the ones it would generate).
#[cfg(all(target_os = "wasi", target_env = "p2"))]
impl ChangeKind {
    #[doc(hidden)]
    pub fn _lift(value: u8) -> ChangeKind {
        match value {
            0 => ChangeKind::Added,
            1 => ChangeKind::Modified,
            2 => ChangeKind::Deleted,
            3 => ChangeKind::Renamed,
            _ => panic!("invalid change-kind discriminant {value}"),
        }
    }
}

wire! {
    record,
    /// One changed file in a run's diff.
    pub struct ChangedFile {
        /// The path after the change.
        pub path: String,
        /// For a rename, where the file was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "host", component(name = "old-path"))]
        pub old_path: Option<String>,
        /// How it changed.
        pub kind: ChangeKind,
        /// Lines added.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "added-lines"))]
        pub added_lines: u32,
        /// Lines removed.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "removed-lines"))]
        pub removed_lines: u32,
    }
}

wire! {
    record,
    /// How the agent process ended.
    #[derive(Default)]
    #[serde(default)]
    pub struct AgentExit {
        /// None when it was killed by a signal or a time limit.
        #[cfg_attr(feature = "host", component(name = "exit-code"))]
        pub exit_code: Option<i32>,
        /// How long it ran.
        #[cfg_attr(feature = "host", component(name = "duration-ms"))]
        pub duration_ms: u64,
    }
}

wire! {
    record,
    /// The test command's outcome.
    pub struct TestOutcome {
        /// The command that ran.
        pub command: String,
        /// Whether it passed.
        pub passed: bool,
        /// Its exit code; None when killed.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "exit-code"))]
        pub exit_code: Option<i32>,
        /// How long it ran.
        #[serde(default)]
        #[cfg_attr(feature = "host", component(name = "duration-ms"))]
        pub duration_ms: u64,
        /// The end of its combined output.
        #[serde(default)]
        pub output: String,
    }
}

wire! {
    record,
    /// What an agent run produced.
    #[derive(Default)]
    #[serde(default)]
    pub struct RunResult {
        /// Every changed file.
        #[cfg_attr(feature = "host", component(name = "changed-files"))]
        pub changed_files: Vec<ChangedFile>,
        /// The unified diff.
        pub patch: String,
        /// How the agent ended.
        pub agent: AgentExit,
        /// The test command's outcome, when one ran.
        pub tests: Option<TestOutcome>,
    }
}

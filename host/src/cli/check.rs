//! `agenthost check SPEC...`: parse and validate task specs, print each parsed task and its
//! findings.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::{Path, PathBuf};

use clap::Args;
use comfy_table::{Cell, Table, presets};
use miette::{Diagnostic, IntoDiagnostic};
use serde::Serialize;

use super::{Exit, Output};
use crate::config::{Config, ConfigSources, PolicyMode};
use crate::policy::{self, Engine, PolicySet, Report};
use crate::spec::repo_check::{self, RepoFiles};
use crate::spec::{self, ParsedSpec, Spec, SpecProblem};
use crate::suggest::nearest;

/// Arguments of `agenthost check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost check task.md\n  agenthost check --json specs/*.md\n  agenthost check --repo ../webapp filter-bar.md\n\nExit status: 0 = every spec is valid, 1 = findings, 2 = usage or parse error."
)]
pub struct CheckArgs {
    /// Spec files to check.
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<PathBuf>,

    /// Print machine-readable JSON instead of the human report.
    #[arg(long)]
    pub json: bool,

    /// Check Modify and Create paths against this repository [default: the git repository
    /// that contains each spec].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// One spec's outcome, in the JSON report.
#[derive(Debug, Serialize)]
struct SpecReport {
    file: String,
    valid: bool,
    repository: Option<PathBuf>,
    repository_note: Option<String>,
    test_command: Option<TestCommand>,
    spec: Option<Spec>,
    findings: Vec<FindingJson>,
}

/// The test command that will run, and where it came from.
#[derive(Debug, Clone, Serialize)]
struct TestCommand {
    command: String,
    from: String,
}

/// A finding, flattened for JSON.
#[derive(Debug, Serialize)]
struct FindingJson {
    code: String,
    severity: &'static str,
    message: String,
    help: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
}

/// The whole JSON report.
#[derive(Debug, Serialize)]
struct JsonReport {
    specs: Vec<SpecReport>,
    errors: usize,
    warnings: usize,
}

/// A repository found for a spec, with its files and configuration.
struct RepoContext {
    root: Option<PathBuf>,
    note: Option<String>,
    files: Option<RepoFiles>,
    config: Config,
    /// The configured policies, loaded when the first spec needs them.
    policies: Option<PolicySet>,
}

/// Runs `agenthost check`.
pub(super) fn run(args: &CheckArgs, output: &Output) -> miette::Result<Exit> {
    let mut contexts: BTreeMap<Root, RepoContext> = BTreeMap::new();
    let mut reports = Vec::new();
    let mut exit = Exit::Success;
    let mut human = String::new();
    let mut errors = 0;
    let mut warnings = 0;
    let mut engine: Option<Engine> = None;

    for path in &args.specs {
        let display = path.display().to_string();
        let mut parsed = match spec::read(path) {
            Ok(parsed) => parsed,
            Err(err) => {
                let report = miette::miette!(
                    code = "check::unreadable",
                    help = "check that the file exists and is readable",
                    "cannot read spec: {err}"
                );
                if args.json {
                    reports.push(SpecReport {
                        file: display,
                        valid: false,
                        repository: None,
                        repository_note: None,
                        test_command: None,
                        spec: None,
                        findings: vec![FindingJson {
                            code: "check::unreadable".into(),
                            severity: "error",
                            message: format!("cannot read spec: {err}"),
                            help: Some("check that the file exists and is readable".into()),
                            line: None,
                            column: None,
                        }],
                    });
                } else {
                    human.push_str(&output.render(report.as_ref()));
                    human.push('\n');
                }
                errors += 1;
                exit = exit.max(Exit::Error);
                continue;
            }
        };

        let root = repo_root(args.repo.as_deref(), path)?;
        let context = match contexts.entry(root) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let context = load_context(entry.key())?;
                entry.insert(context)
            }
        };

        if let Some(spec) = &parsed.spec {
            let mut extra = Vec::new();
            if let Some(files) = &context.files {
                extra.extend(repo_check::check(&spec.scope, files));
            }
            if let Some(problem) = unknown_agent(spec, &context.config) {
                extra.push(problem);
            }
            if !parsed.has_parse_error() {
                let engine = match &mut engine {
                    Some(engine) => engine,
                    None => engine.insert(policy::cli_engine()?),
                };
                let policies = context.policies.get_or_insert_with(|| {
                    PolicySet::load_for(
                        engine,
                        &context.config.policies,
                        Some(agenthost_policy::Hook::Acceptance),
                    )
                });
                let view = policy::view::spec(spec);
                for report in policies.acceptance(engine, &view) {
                    extra.extend(policy_problems(&parsed.source, report));
                }
            }
            for problem in extra {
                parsed.push_problem(problem);
            }
        }

        let spec_errors = parsed.problems.iter().filter(|p| p.is_error()).count();
        errors += spec_errors;
        warnings += parsed.problems.len() - spec_errors;
        exit = exit.max(if parsed.has_parse_error() {
            Exit::Error
        } else if spec_errors > 0 {
            Exit::Findings
        } else {
            Exit::Success
        });

        let test = test_command(parsed.spec.as_ref(), &context.config);
        if args.json {
            reports.push(json_report(display, &parsed, context, test));
        } else {
            human.push_str(&render_human(&parsed, context, test.as_ref(), output));
        }
    }

    if args.json {
        let report = JsonReport {
            specs: reports,
            errors,
            warnings,
        };
        let json = serde_json::to_string_pretty(&report).into_diagnostic()?;
        output.print(&format!("{json}\n"))?;
    } else {
        if args.specs.len() > 1 {
            human.push_str(&format!(
                "{} specs: {}\n",
                args.specs.len(),
                summary(errors, warnings)
            ));
        }
        output.print(&human)?;
    }
    Ok(exit)
}

/// What a spec's paths are checked against.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Root {
    /// The working tree of a git repository.
    Git(PathBuf),
    /// A plain directory given with `--repo`.
    Dir(PathBuf),
    /// Nothing: the spec is not inside a repository.
    None,
}

impl Root {
    fn path(&self) -> Option<&Path> {
        match self {
            Root::Git(path) | Root::Dir(path) => Some(path),
            Root::None => None,
        }
    }
}

/// The root to check `spec` against: `--repo` (a repository's root or any directory), else
/// the git repository that contains the spec, else none.
fn repo_root(explicit: Option<&Path>, spec: &Path) -> miette::Result<Root> {
    if let Some(dir) = explicit {
        if !dir.is_dir() {
            return Err(miette::miette!(
                code = "check::repo",
                help = "pass the root directory of the repository the spec is for",
                "--repo `{}` is not a directory",
                dir.display()
            ));
        }
        if let Ok(repo) = git2::Repository::open(dir)
            && let Some(workdir) = repo.workdir()
        {
            return Ok(Root::Git(workdir.to_path_buf()));
        }
        return Ok(Root::Dir(dir.to_path_buf()));
    }
    let dir = spec
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(git2::Repository::discover(dir)
        .ok()
        .and_then(|repo| repo.workdir().map(|w| Root::Git(w.to_path_buf())))
        .unwrap_or(Root::None))
}

/// Lists the repository's files and loads the configuration that applies to it.
fn load_context(root: &Root) -> miette::Result<RepoContext> {
    let config = Config::load(&ConfigSources::discover(root.path()))?;
    let listed = match root {
        Root::None => Err("not inside a git repository: Modify and Create paths were not checked against files (pass --repo DIR)".to_string()),
        Root::Git(path) => crate::repo_files::list(path).map_err(|err| {
            format!(
                "could not list the files of {}: {}; Modify and Create paths were not checked",
                path.display(),
                err.message()
            )
        }),
        Root::Dir(path) => RepoFiles::walk(path).map_err(|err| {
            format!("could not list the files of {}: {err}; Modify and Create paths were not checked", path.display())
        }),
    };
    let (files, note) = match listed {
        Ok(files) => (Some(files), None),
        Err(note) => (None, Some(note)),
    };
    Ok(RepoContext {
        root: root.path().map(Path::to_path_buf),
        note,
        files,
        config,
        policies: None,
    })
}

/// An error if the front matter names an agent profile the configuration lacks.
fn unknown_agent(spec: &Spec, config: &Config) -> Option<SpecProblem> {
    let name = spec.front_matter.agent.as_ref()?;
    if config.agents.contains_key(name) {
        return None;
    }
    let span = spec.front_matter.agent_span.clone()?;
    let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let help = match nearest(name, known.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? Known profiles: {list}"),
        None => {
            format!("known profiles: {list}; define `[agents.{name}]` in agenthost.toml to add one")
        }
    };
    Some(SpecProblem::UnknownAgent {
        name: name.clone(),
        help,
        span: span.into(),
    })
}

/// An acceptance policy's findings as spec problems, pointing at the lines they name. A
/// policy in monitor mode only warns.
pub(super) fn policy_problems(source: &spec::SpecSource, report: Report) -> Vec<SpecProblem> {
    let monitor = report.mode == PolicyMode::Monitor;
    report
        .findings
        .into_iter()
        .map(|finding| {
            let span = finding
                .line
                .and_then(|line| source.line_span(line as usize))
                .map(|range| range.into());
            let help = if monitor {
                format!(
                    "rule `{}` of policy `{}` (monitor mode: reported, not enforced)",
                    finding.rule, report.policy
                )
            } else {
                format!("rule `{}` of policy `{}`", finding.rule, report.policy)
            };
            let (message, rule) = (finding.message, finding.rule);
            match finding.severity {
                agenthost_policy::Severity::Error if !monitor => SpecProblem::PolicyError {
                    message,
                    help,
                    span,
                    rule,
                },
                agenthost_policy::Severity::Info => SpecProblem::PolicyNote {
                    message,
                    help,
                    span,
                    rule,
                },
                _ => SpecProblem::PolicyWarning {
                    message,
                    help,
                    span,
                    rule,
                },
            }
        })
        .collect()
}

/// The test command that would run for this spec.
fn test_command(spec: Option<&Spec>, config: &Config) -> Option<TestCommand> {
    if let Some(command) = spec.and_then(Spec::test_command) {
        return Some(TestCommand {
            command: command.to_string(),
            from: "spec".to_string(),
        });
    }
    config.test.command.as_ref().map(|command| TestCommand {
        command: command.clone(),
        from: "config".to_string(),
    })
}

fn json_report(
    file: String,
    parsed: &ParsedSpec,
    context: &RepoContext,
    test: Option<TestCommand>,
) -> SpecReport {
    let findings = parsed
        .problems
        .iter()
        .map(|problem| {
            let position = problem
                .primary_span()
                .map(|span| parsed.source.line_col(span.offset()));
            let code = match problem {
                SpecProblem::PolicyError { rule, .. }
                | SpecProblem::PolicyWarning { rule, .. }
                | SpecProblem::PolicyNote { rule, .. } => rule.clone(),
                _ => problem.code().map(|c| c.to_string()).unwrap_or_default(),
            };
            FindingJson {
                code,
                severity: if problem.is_error() {
                    "error"
                } else {
                    "warning"
                },
                message: problem.to_string(),
                help: problem.help().map(|h| h.to_string()),
                line: position.map(|p| p.0),
                column: position.map(|p| p.1),
            }
        })
        .collect();
    SpecReport {
        file,
        valid: !parsed.has_errors(),
        repository: context.root.clone(),
        repository_note: context.note.clone(),
        test_command: test,
        spec: parsed.spec.clone(),
        findings,
    }
}

/// The human report for one spec.
fn render_human(
    parsed: &ParsedSpec,
    context: &RepoContext,
    test: Option<&TestCommand>,
    output: &Output,
) -> String {
    let mut out = String::new();
    let name = parsed.source.name();
    match &parsed.spec {
        None => out.push_str(&format!("{name}\n")),
        Some(spec) => {
            out.push_str(&format!("{}  ({})\n", spec.title, spec.id));
            out.push_str(&format!("  file      {name}\n"));
            if parsed.has_parse_error() {
                out.push_str("  front     not read: see the error below\n");
            } else {
                out.push_str(&front_matter_lines(spec, context, test));
            }
            if let Some(note) = &context.note {
                out.push_str(&format!("  note      {note}\n"));
            }
            out.push('\n');
            out.push_str(&scope_table(spec));
            if !spec.scope.constraints.is_empty() {
                out.push_str("\n  Constraints\n");
                for constraint in &spec.scope.constraints {
                    out.push_str(&format!(
                        "    line {:<4} {}\n",
                        constraint.line, constraint.text
                    ));
                }
            }
        }
    }
    for diagnostic in parsed.diagnostics() {
        out.push('\n');
        out.push_str(&output.render(diagnostic.as_ref()));
    }
    let errors = parsed.problems.iter().filter(|p| p.is_error()).count();
    let warnings = parsed.problems.len() - errors;
    out.push('\n');
    out.push_str(&format!("  {}\n\n", summary(errors, warnings)));
    out
}

/// Agent, test command, timeout, base and labels.
fn front_matter_lines(spec: &Spec, context: &RepoContext, test: Option<&TestCommand>) -> String {
    let mut out = String::new();
    let fm = &spec.front_matter;
    let agent = match &fm.agent {
        Some(agent) => agent.clone(),
        None => format!("{} (default)", context.config.default_agent),
    };
    out.push_str(&format!("  agent     {agent}\n"));
    let name = fm.agent.as_ref().unwrap_or(&context.config.default_agent);
    if let Some(profile) = context.config.agents.get(name) {
        for warning in profile.home_write_warnings(name, &crate::confinement::home_dir()) {
            out.push_str(&format!("  {warning}\n"));
        }
    }
    match test {
        Some(test) if test.from == "spec" => {
            out.push_str(&format!("  test      {}\n", test.command));
        }
        Some(test) => out.push_str(&format!("  test      {} (from config)\n", test.command)),
        None => out.push_str("  test      none\n"),
    }
    if let Some(timeout) = fm.timeout {
        out.push_str(&format!(
            "  timeout   {}\n",
            crate::duration::format(timeout)
        ));
    }
    if let Some(base) = &fm.base {
        out.push_str(&format!("  base      {base}\n"));
    }
    if !fm.labels.is_empty() {
        out.push_str(&format!("  labels    {}\n", fm.labels.join(", ")));
    }
    out
}

/// The Scope as a table: kind, path, line.
fn scope_table(spec: &Spec) -> String {
    let scope = &spec.scope;
    let mut out = match scope.line {
        Some(line) => format!("  Scope (line {line})\n"),
        None => "  Scope: none\n".to_string(),
    };
    if scope.entries().next().is_none() {
        return out;
    }
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .force_no_tty();
    table.set_header(vec!["kind", "path", "line"]);
    for entry in scope.entries() {
        let path = if entry.is_glob && entry.pattern != entry.written {
            format!("{} (glob {})", entry.written, entry.pattern)
        } else if entry.is_glob {
            format!("{} (glob)", entry.written)
        } else {
            entry.written.clone()
        };
        table.add_row(vec![
            Cell::new(entry.kind.name()),
            Cell::new(path),
            Cell::new(entry.line),
        ]);
    }
    for line in table.to_string().lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// "valid", or the counts of errors and warnings.
fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => "valid".to_string(),
        (0, w) => format!("valid, {}", plural(w, "warning")),
        (e, 0) => format!("invalid: {}", plural(e, "error")),
        (e, w) => format!("invalid: {}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

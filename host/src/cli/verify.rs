//! `agenthost verify [RANGE] [--spec SPEC] [--staged]`: check that commits (or the staged
//! changes) stay inside their spec's Scope and pass the review policies; for CI and hooks.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use miette::IntoDiagnostic;

use super::{Exit, Output};
use crate::spec;
use crate::verify::{self, GivenSpec, Options, Target};

/// Arguments of `agenthost verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost verify\n  agenthost verify origin/main..HEAD --format sarif > verify.sarif\n  agenthost verify --staged\n  agenthost verify HEAD~3..HEAD --spec specs/filter-bar.md --format github\n\nWith no --spec, each agent commit is checked against the spec its Agenthost-Spec and\nAgenthost-Spec-Digest trailers name, read from the repository: commit your specs.\nCommits without a spec are reported as `[verify] require_spec` says (default: off).\n\nExit status: 0 = clean, 1 = blocking findings, 2 = error."
)]
pub struct VerifyArgs {
    /// The commits to check: `A..B`, `A...B`, or one revision (from its merge base with the
    /// base branch) [default: HEAD].
    #[arg(value_name = "RANGE", conflicts_with = "staged")]
    pub range: Option<String>,

    /// Check every change against this spec instead of each commit's own.
    #[arg(long, value_name = "SPEC")]
    pub spec: Option<PathBuf>,

    /// Check the staged changes (a pre-commit hook) instead of commits.
    #[arg(long)]
    pub staged: bool,

    /// The output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// The repository [default: the one containing the current directory].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// How verify prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Grouped by commit, file and line.
    Human,
    /// The whole report as JSON.
    Json,
    /// SARIF 2.1.0, for code-scanning uploads.
    Sarif,
    /// GitHub Actions annotations (workflow commands).
    Github,
}

/// Runs `agenthost verify`.
pub(super) fn run(args: &VerifyArgs, output: &Output) -> miette::Result<Exit> {
    let given = match &args.spec {
        None => None,
        Some(path) => {
            let parsed = spec::read(path).map_err(|err| {
                miette::miette!(
                    code = "verify::unreadable_spec",
                    help = "check the path given to --spec",
                    "cannot read the spec {}: {err}",
                    path.display()
                )
            })?;
            if parsed.has_parse_error() || parsed.spec.is_none() {
                for diagnostic in parsed.diagnostics() {
                    eprint!("{}", output.render(diagnostic.as_ref()));
                }
                eprintln!(
                    "agenthost verify: the spec {} does not parse; nothing was checked",
                    path.display()
                );
                return Ok(Exit::Error);
            }
            parsed.spec.map(|spec| GivenSpec {
                label: path.display().to_string(),
                spec,
                file: path.canonicalize().ok(),
            })
        }
    };
    let options = Options {
        target: if args.staged {
            Target::Staged
        } else {
            Target::Range(args.range.clone())
        },
        spec: given,
    };
    let start = match &args.repo {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().into_diagnostic()?,
    };
    let report = verify::verify(&start, &options)?;
    let text = match args.format {
        Format::Human => verify::human::render(&report),
        Format::Json => json_text(&serde_json::to_value(&report).into_diagnostic()?)?,
        Format::Sarif => json_text(&verify::sarif::render(&report))?,
        Format::Github => verify::github::render(&report),
    };
    output.print(&text)?;
    Ok(if report.blocks() {
        Exit::Findings
    } else {
        Exit::Success
    })
}

fn json_text(value: &serde_json::Value) -> miette::Result<String> {
    let mut text = serde_json::to_string_pretty(value).into_diagnostic()?;
    text.push('\n');
    Ok(text)
}

//! `agenthost verify`: checks that the changes in a commit range (or the staged changes)
//! stay inside their spec's Scope and pass the configured review policies, from nothing but
//! the repository: for CI and git hooks.
//!
//! Each commit in the range is checked on its own. An agent commit (one with an
//! `Agenthost-Task` trailer) is checked against the spec its trailers name, recovered from
//! the repository ([`spec_lookup`]); `--spec` checks every commit against one spec instead.
//! A commit that names no spec is reported as `[verify] require_spec` says. The checks are
//! the review policies (by default every enabled one but `tests`: verify runs no tests), so
//! `scope-guard` is what holds each file to the Scope, exactly as when a task is reviewed.

pub(crate) mod commits;
pub(crate) mod github;
pub(crate) mod human;
mod report;
pub(crate) mod sarif;
pub(crate) mod spec_lookup;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use agenthost_policy::{self as sdk, Hook};
use git2::{Oid, Repository};
use miette::Diagnostic;
use thiserror::Error;

use crate::config::{Config, ConfigError, ConfigSources, RequireSpec};
use crate::policy::{self, Engine, PolicyError, PolicySet};
use crate::spec::{self, Spec};
use crate::task::git_metadata;
use commits::{CommitChanges, Trailers};
pub(crate) use report::{Check, Finding, Report, Severity, Status, Summary};
use spec_lookup::{Lookup, SpecLookup};

/// The policy name findings of verify itself carry.
pub(crate) const SELF: &str = "agenthost";

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The commits of a range (`None`: from the merge base with the base branch to HEAD).
    Range(Option<String>),
    /// The staged changes.
    Staged,
}

/// A spec given on the command line, parsed.
#[derive(Debug, Clone)]
pub(crate) struct GivenSpec {
    /// How to call it in the report (the path as given).
    pub label: String,
    /// The spec.
    pub spec: Spec,
    /// The file, resolved (`canonicalize`), when it can be: a spec committed together with
    /// the change it describes (a pull request's usual shape) is not part of the change.
    pub file: Option<PathBuf>,
}

/// What `verify` is asked.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The range or the staged changes.
    pub target: Target,
    /// Check everything against this spec instead of each commit's own.
    pub spec: Option<GivenSpec>,
}

/// Why verify could not check anything (exit status 2).
#[derive(Debug, Error, Diagnostic)]
pub(crate) enum VerifyError {
    /// No git repository at or above the directory.
    #[error("{} is not inside a git repository", path.display())]
    #[diagnostic(
        code(verify::not_a_repository),
        help("run agenthost verify inside the repository's checkout")
    )]
    NotARepository {
        /// The directory searched from.
        path: PathBuf,
    },
    /// A bare repository has no checkout to read a config or staged changes from.
    #[error("the repository is bare")]
    #[diagnostic(
        code(verify::bare_repository),
        help("run agenthost verify in a checkout (a clone with a working tree)")
    )]
    BareRepository,
    /// The range could not be resolved.
    #[error("cannot resolve the range `{range}`: {reason}")]
    #[diagnostic(
        code(verify::bad_range),
        help(
            "give a revision range such as `origin/main..HEAD`, `main...feature` or one commit; in CI, fetch the full history (actions/checkout: fetch-depth: 0)"
        )
    )]
    BadRange {
        /// The range as written.
        range: String,
        /// What git said.
        reason: String,
    },
    /// No base branch to start the default range from.
    #[error("cannot find the base branch: tried {}", tried.join(", "))]
    #[diagnostic(
        code(verify::no_base),
        help(
            "set `base` under [worktree] in agenthost.toml, or give a RANGE such as `origin/main..HEAD`"
        )
    )]
    NoBase {
        /// The names tried.
        tried: Vec<String>,
    },
    /// A git operation failed.
    #[error("cannot {action}: {source}")]
    #[diagnostic(
        code(verify::git),
        help("check the repository with `git status` and `git fsck`")
    )]
    Git {
        /// What verify was doing.
        action: &'static str,
        /// The error.
        source: git2::Error,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ConfigError>),
    /// The policy engine could not start.
    #[error("cannot start the policy engine: {0}")]
    #[diagnostic(code(verify::engine), help("run `agenthost policy list` for details"))]
    Engine(PolicyError),
}

/// Runs verify in the repository that contains `start`.
pub(crate) fn verify(start: &Path, options: &Options) -> Result<Report, VerifyError> {
    let repo = Repository::discover(start).map_err(|_| VerifyError::NotARepository {
        path: start.to_path_buf(),
    })?;
    let root = repo
        .workdir()
        .ok_or(VerifyError::BareRepository)?
        .to_path_buf();
    let config = Config::load(&ConfigSources::discover(Some(&root)))
        .map_err(|err| VerifyError::Config(Box::new(err)))?;
    let base = config.worktree.base.clone();
    let mut verifier = Verifier::new(&config);
    // The given spec's path in the repository, when it is in it.
    let given_path: Option<String> = options.spec.as_ref().and_then(|given| {
        let file = given.file.as_ref()?;
        let root = root.canonicalize().ok()?;
        let inside = file.strip_prefix(&root).ok()?;
        Some(inside.to_string_lossy().replace('\\', "/"))
    });

    let (range, sets) = match &options.target {
        Target::Staged => {
            let (changes, bare_repositories) = commits::staged(&repo)?;
            let task = match options.spec {
                Some(_) => None,
                None => commits::current_task(&repo, base.as_deref()),
            };
            let (at, trailers) = match task {
                Some((at, trailers)) => (Some(at), trailers),
                None => (None, Trailers::default()),
            };
            let set = CommitChanges {
                id: at.unwrap_or(Oid::ZERO_SHA1),
                summary: "the staged changes".into(),
                trailers,
                parents: 1,
                changes,
                bare_repositories,
            };
            let tip = repo.head().ok().and_then(|head| head.target());
            verifier.lookup = tip.map(|tip| SpecLookup::new(&repo, tip));
            (None, vec![(None, set)])
        }
        Target::Range(written) => {
            let range = commits::resolve(&repo, written.as_deref(), base.as_deref())?;
            verifier.lookup = Some(SpecLookup::new(&repo, range.to));
            let mut sets = Vec::new();
            for id in commits::list(&repo, &range)? {
                sets.push((Some(id), commits::changes(&repo, id)?));
            }
            (Some(range.description), sets)
        }
    };

    let mut checks = Vec::with_capacity(sets.len());
    for (commit, set) in sets {
        checks.push(verifier.check(commit, set, options.spec.as_ref(), given_path.as_deref())?);
    }
    let mut summary = Summary {
        commits: checks.len(),
        ..Summary::default()
    };
    for check in &checks {
        match check.status {
            Status::Checked => summary.checked += 1,
            Status::NoSpec => summary.without_spec += 1,
            Status::SpecUnavailable | Status::NoChanges => {}
        }
        for finding in &check.findings {
            match finding.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.infos += 1,
            }
        }
    }
    Ok(Report {
        repository: root,
        range,
        checks,
        summary,
    })
}

/// A spec recovered from the repository, or why it could not be.
type Recovered = Result<(String, Spec), Finding>;

/// The state of one verify run: the config, the policies (loaded when first needed) and
/// the specs found so far.
struct Verifier<'r> {
    config: &'r Config,
    lookup: Option<SpecLookup<'r>>,
    policies: Option<(Engine, PolicySet)>,
    specs: HashMap<(String, String), Recovered>,
}

impl<'r> Verifier<'r> {
    fn new(config: &'r Config) -> Verifier<'r> {
        Verifier {
            config,
            lookup: None,
            policies: None,
            specs: HashMap::new(),
        }
    }

    /// Checks one commit (`None`: the staged changes).
    fn check(
        &mut self,
        commit: Option<Oid>,
        mut set: CommitChanges,
        given: Option<&GivenSpec>,
        given_path: Option<&str>,
    ) -> Result<Check, VerifyError> {
        let (added, removed) = set.changes.line_counts();
        let mut check = Check {
            commit: commit.map(|id| id.to_string()),
            summary: set.summary.clone(),
            task: set.trailers.task.clone(),
            spec: None,
            status: Status::Checked,
            merge: set.parents > 1,
            files: set.changes.files.len(),
            added,
            removed,
            findings: Vec::new(),
        };
        if set.changes.files.is_empty() {
            check.status = Status::NoChanges;
            return Ok(check);
        }
        let spec = match given {
            Some(given) => Ok((given.label.clone(), given.spec.clone())),
            None if set.trailers.is_agent() => self.recover(set.id, &set.trailers),
            None => {
                check.status = Status::NoSpec;
                let severity = match self.config.verify.require_spec {
                    RequireSpec::Off => return Ok(check),
                    RequireSpec::Warn => Severity::Warning,
                    RequireSpec::Error => Severity::Error,
                };
                let what = if commit.is_some() {
                    "the commit has no Agenthost-Task trailer"
                } else {
                    "no agent commit on this branch names one, and --spec is not given"
                };
                check.findings.push(own_finding(
                    "verify/no-spec",
                    severity,
                    format!(
                        "no spec to check these changes against: {what}; \
                         `[verify] require_spec` asks for one (pass --spec SPEC to check \
                         against a spec)"
                    ),
                    None,
                ));
                return Ok(check);
            }
        };
        let (label, spec) = match spec {
            Ok(found) => found,
            Err(finding) => {
                check.status = Status::SpecUnavailable;
                check.findings.push(finding);
                return Ok(check);
            }
        };
        // The spec checked against is never a finding of its own: committed together with
        // the change (`--spec`), or the file an agent commit's trailer names.
        let spec_path = given_path.map_or_else(|| label.clone(), str::to_string);
        set.changes.files.retain(|file| file.path != spec_path);
        check.spec = Some(label);
        if set.changes.files.is_empty() {
            check.status = Status::NoChanges;
            return Ok(check);
        }
        check.findings = self.review(&spec, &set)?;
        Ok(check)
    }

    /// The spec an agent commit's trailers name.
    fn recover(&mut self, commit: Oid, trailers: &Trailers) -> Recovered {
        let task = trailers.task.as_deref().unwrap_or_default();
        let (Some(path), Some(digest)) = (&trailers.spec, &trailers.spec_digest) else {
            return Err(own_finding(
                "verify/spec-missing",
                Severity::Error,
                format!(
                    "the commit is task `{task}`'s, but names no spec (it needs both \
                     Agenthost-Spec and Agenthost-Spec-Digest trailers); check it with --spec"
                ),
                None,
            ));
        };
        let key = (path.clone(), digest.clone());
        if let Some(known) = self.specs.get(&key) {
            return known.clone();
        }
        let found = match self.lookup.as_mut() {
            Some(lookup) => lookup.find(commit, path, digest),
            None => Lookup::Missing,
        };
        let recovered = match found {
            Lookup::Found { text, .. } => parse_recovered(path, &text),
            Lookup::Changed { current } => Err(own_finding(
                "verify/spec-changed",
                Severity::Error,
                format!(
                    "the spec `{path}` this commit was made from ({digest}) is not in the \
                     repository's history: the file {}; commit specs before launching and \
                     change them only in new commits, or check this range with --spec",
                    match current {
                        Some(current) => format!("there now has {current}"),
                        None => "was removed, and no earlier version matches".into(),
                    }
                ),
                Some(path.clone()),
            )),
            Lookup::Missing => Err(own_finding(
                "verify/spec-missing",
                Severity::Error,
                format!(
                    "the commit names the spec `{path}`, which is not committed in this \
                     repository; commit the spec file (agenthost recovers specs from the \
                     repository alone), or check this range with --spec"
                ),
                Some(path.clone()),
            )),
        };
        self.specs.insert(key, recovered.clone());
        recovered
    }

    /// The review policies' findings on a change, and the host's own `bare-repository`
    /// findings ([`git_metadata::bare_repositories`]), ordered by path and line.
    fn review(&mut self, spec: &Spec, commit: &CommitChanges) -> Result<Vec<Finding>, VerifyError> {
        let changes = &commit.changes;
        if self.policies.is_none() {
            let engine = policy::cli_engine().map_err(VerifyError::Engine)?;
            let selected = selected_policies(self.config);
            let set = PolicySet::load_for(&engine, &selected, Some(Hook::Review));
            self.policies = Some((engine, set));
        }
        let Some((engine, set)) = &self.policies else {
            return Ok(Vec::new());
        };
        let view = policy::view::spec(spec);
        let run = policy::view::run(changes);
        let first_lines: HashMap<&str, u32> = changes
            .files
            .iter()
            .filter_map(|file| Some((file.path.as_str(), file.first_line?)))
            .collect();
        let mut findings: Vec<Finding> = set
            .review(engine, &view, &run)
            .into_iter()
            .flat_map(|report| {
                let policy = report.policy.clone();
                report
                    .effective_findings()
                    .into_iter()
                    .map(move |finding| (policy.clone(), finding))
            })
            .map(|(policy, finding)| {
                let line = finding.line.or_else(|| {
                    finding
                        .path
                        .as_deref()
                        .and_then(|path| first_lines.get(path).copied())
                });
                Finding {
                    policy,
                    rule: finding.rule,
                    severity: match finding.severity {
                        sdk::Severity::Error => Severity::Error,
                        sdk::Severity::Warning => Severity::Warning,
                        sdk::Severity::Info => Severity::Info,
                    },
                    message: finding.message,
                    path: finding.path,
                    line,
                }
            })
            .collect();
        findings.extend(commit.bare_repositories.iter().map(|dir| {
            own_finding(
                "bare-repository",
                Severity::Error,
                git_metadata::BARE_REPOSITORY_FINDING.to_string(),
                Some(dir.clone()),
            )
        }));
        findings.sort_by(|a, b| {
            (&a.path, a.line, a.severity, &a.rule).cmp(&(&b.path, b.line, b.severity, &b.rule))
        });
        Ok(findings)
    }
}

/// The policies verify asks: `[verify] policies`, or every review policy but `tests`.
fn selected_policies(config: &Config) -> BTreeMap<String, crate::config::PolicyConfig> {
    config
        .policies
        .iter()
        .filter(|(name, _)| match &config.verify.policies {
            Some(names) => names.contains(name),
            None => name.as_str() != "tests",
        })
        .map(|(name, policy)| (name.clone(), policy.clone()))
        .collect()
}

/// Parses a recovered spec; a spec that does not parse cannot be checked against.
fn parse_recovered(path: &str, text: &str) -> Recovered {
    let parsed = spec::parse(path, text.as_bytes());
    let problem = parsed
        .problems
        .iter()
        .find(|problem| problem.is_parse_error());
    match (parsed.spec, problem) {
        (Some(spec), None) => Ok((path.to_string(), spec)),
        (_, problem) => {
            let (message, line) = match problem {
                Some(problem) => (
                    problem.to_string(),
                    problem
                        .primary_span()
                        .map(|span| parsed.source.line(span.offset()) as u32),
                ),
                None => ("it is not a spec".to_string(), None),
            };
            Err(Finding {
                policy: SELF.into(),
                rule: "verify/spec-invalid".into(),
                severity: Severity::Error,
                message: format!(
                    "the spec `{path}` this commit was made from does not parse: {message}; \
                     run `agenthost check {path}`"
                ),
                path: Some(path.to_string()),
                line,
            })
        }
    }
}

fn own_finding(rule: &str, severity: Severity, message: String, path: Option<String>) -> Finding {
    Finding {
        policy: SELF.into(),
        rule: rule.into(),
        severity,
        message,
        path,
        line: None,
    }
}

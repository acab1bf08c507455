//! The sandboxes of an attempt's runs: a plan built for a purpose (the agent, the setup, the
//! test run) and made ready to run, and the private places of the setup and test runs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agenthost_sandbox::{Enforcement, FsRight, Guarantee, Restriction, Support};

use super::Attempt;
use super::error::AttemptError;
use super::spec_label;
use super::text::list_or_none;
use crate::config::SandboxMode;
use crate::confinement::git_layout::GitLayout;
use crate::confinement::{self, Canonicalizer, PlanInput, Purpose};
use crate::runner::Job;
use crate::supervisor::log;

/// Where the agent lives on the host, for its sandbox plan.
pub(super) struct AgentPlaces {
    /// The attempt's private temp directory.
    pub(super) tmpdir: PathBuf,
    /// The task's private home (made and seeded).
    pub(super) home: PathBuf,
    /// The agent program as found.
    pub(super) program: Option<PathBuf>,
}

/// A sandbox plan made ready to run, and what to clean up after.
pub(super) struct Sandboxed {
    pub(super) built: confinement::BuiltPlan,
    /// What the current run's preparation created on disk, for [`Sandboxed::cleanup`].
    created: Vec<confinement::Created>,
    /// What the kernel supports, or `None` with sandbox mode off.
    support: Option<Support>,
}

impl Sandboxed {
    /// The sandbox of one run of attempt `a` (its config, spec, worktree and environment).
    pub(super) fn new(
        a: &Attempt<'_>,
        purpose: Purpose<'_>,
        profile: Option<(&str, &crate::config::AgentProfile)>,
        agent: AgentPlaces,
    ) -> Result<Sandboxed, AttemptError> {
        let (ctx, config, spec, task, root) = (a.ctx, &a.config, &a.spec, a.task, a.root.as_path());
        let mode = config.sandbox.mode;
        let support = Support::probe();
        let mut resolved = Canonicalizer::default();
        let input = PlanInput {
            purpose,
            spec,
            spec_name: spec_label(task),
            root: root.to_path_buf(),
            profile,
            sandbox: &config.sandbox,
            host_env: a.host_env.clone(),
            home: ctx.home.clone(),
            agent_home: Some(agent.home),
            program: agent.program,
            tmpdir: agent.tmpdir,
            enforcement: mode.enforcement(),
            as_root: support.root,
            git: GitLayout::of_worktree(root, &mut resolved),
            resolved,
        };
        let built = confinement::build(input).map_err(|source| AttemptError::Plan {
            purpose: purpose.name(),
            help: miette::Diagnostic::help(&source)
                .map_or(String::new(), |help| format!("; {help}")),
            source,
        })?;
        let missing = support.missing(&built.plan);
        // The setup and test runs write the whole worktree: only the mount layer keeps its
        // `.git` read-only then, whatever the mode says (mode off has no sandbox at all).
        if !matches!(purpose, Purpose::Agent)
            && mode != SandboxMode::Off
            && missing.contains(&Guarantee::ReadOnlyView)
        {
            return Err(AttemptError::NeedsMountLayer {
                purpose: purpose.name(),
                missing: confinement::missing_text(&support, &missing),
            });
        }
        match mode {
            SandboxMode::Enforce if !missing.is_empty() => {
                return Err(AttemptError::NotEnforced {
                    missing: confinement::missing_text(&support, &missing),
                });
            }
            SandboxMode::BestEffort if !missing.is_empty() => {
                log(&format!(
                    "task {}: WARNING: best-effort sandbox; NOT enforced: {}",
                    task.launch.id,
                    confinement::missing_text(&support, &missing)
                ));
            }
            SandboxMode::Off => log(&format!(
                "task {}: WARNING: sandbox mode is off: the agent runs with all of your rights",
                task.launch.id
            )),
            _ => {}
        }
        Ok(Sandboxed {
            built,
            created: Vec::new(),
            // Mode off keeps the plan for its environment and directory, with no restriction.
            support: (mode != SandboxMode::Off).then_some(support),
        })
    }

    /// The job that runs `argv` in this sandbox (or, with mode off, directly).
    /// Prepares the disk for a run (see [`sandbox::prepare`]) and returns the job.
    pub(super) fn job(
        &mut self,
        argv: Vec<OsString>,
        stdin: Option<Vec<u8>>,
        log: &Path,
        timeout: Duration,
    ) -> Result<Job, AttemptError> {
        self.created = confinement::prepare(&self.built)?;
        let plan = &self.built.plan;
        let env = plan.env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        let sandbox = match &self.support {
            // Prepared after the disk, so that every path of the plan exists.
            Some(support) => {
                Some(Restriction::prepare(plan, support).map_err(AttemptError::Restriction)?)
            }
            None => None,
        };
        Ok(Job {
            argv,
            env,
            cwd: plan.cwd.clone(),
            stdin,
            log: log.to_path_buf(),
            timeout,
            sandbox,
        })
    }

    /// The plan in one line for the attempt log: the mode, what is writable, the ports,
    /// `HOME`. `agenthost sandbox --explain` gives the whole plan with a reason per rule.
    pub(super) fn summary(&self) -> String {
        let plan = &self.built.plan;
        let writable: Vec<String> = plan
            .fs
            .iter()
            .filter(|rule| rule.rights.contains(&FsRight::WriteFile))
            .map(|rule| match rule.path.strip_prefix(&plan.cwd) {
                Ok(inside) if !inside.as_os_str().is_empty() => inside.display().to_string(),
                _ => rule.path.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = plan
            .net
            .connect_tcp
            .iter()
            .map(|rule| rule.port.to_string())
            .collect();
        let view = match &self.support {
            Some(support) if plan.mounts.read_only_view && support.mounts.privilege.is_some() => {
                format!("on, {} protected", plan.mounts.protected.len())
            }
            Some(_) if plan.mounts.read_only_view => "UNAVAILABLE".to_string(),
            _ => "off".to_string(),
        };
        format!(
            "sandbox: {}; {} rules; writable: {}; read-only view: {view}; TCP connect: {}; HOME={}",
            match &self.support {
                Some(_) if plan.enforcement == Enforcement::Enforce => "enforce".to_string(),
                Some(_) => "best-effort".to_string(),
                None => "OFF".to_string(),
            },
            plan.fs.len(),
            list_or_none(&writable),
            if ports.is_empty() {
                "none".to_string()
            } else {
                ports.join(", ")
            },
            plan.env.get("HOME").map_or("", String::as_str)
        )
    }

    /// Removes what [`Sandboxed::job`] created on disk and the run left unused.
    pub(super) fn cleanup(&mut self) {
        confinement::cleanup(&std::mem::take(&mut self.created));
    }
}

/// A setup or test run's own places: a private temp dir and an empty private home, made
/// fresh under `<state>/tmp/<task>-<attempt>-<what>`, removed when dropped.
pub(super) struct RunPlaces {
    base: PathBuf,
    tmpdir: PathBuf,
    home: PathBuf,
}

impl RunPlaces {
    pub(super) fn make(a: &Attempt<'_>, what: &str) -> Result<RunPlaces, AttemptError> {
        let base = a
            .ctx
            .dirs
            .root
            .join("tmp")
            .join(format!("{}-{}-{what}", a.task.launch.id, a.number));
        let _ = std::fs::remove_dir_all(&base);
        let (tmpdir, home) = (base.join("tmp"), base.join("home"));
        for dir in [&tmpdir, &home] {
            fs_err::create_dir_all(dir)?;
        }
        Ok(RunPlaces {
            tmpdir: fs_err::canonicalize(&tmpdir)?,
            home: fs_err::canonicalize(&home)?,
            base,
        })
    }

    pub(super) fn agent_places(&self) -> AgentPlaces {
        AgentPlaces {
            tmpdir: self.tmpdir.clone(),
            home: self.home.clone(),
            program: None,
        }
    }
}

impl Drop for RunPlaces {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

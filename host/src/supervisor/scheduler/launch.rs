//! Queueing a launched task: the spec checked again, the agent and base resolved, the row
//! inserted, and admission asked at once so that `launch` can say when it will wait.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Scheduler, refused};
use crate::config::{Config, ConfigSources};
use crate::digest;
use crate::spec;
use crate::supervisor::decide::{self, Admission};
use crate::supervisor::log;
use crate::supervisor::protocol::Response;
use crate::supervisor::store::{NewTask, Task};
use crate::task::worktree::{BRANCH_PREFIX, resolve_base};

impl Scheduler {
    /// Queues a task (`Request::Launch`).
    pub(super) fn launch(
        &self,
        repo: &Path,
        spec_path: &Path,
        spec_text: String,
        agent: Option<String>,
        env: BTreeMap<String, String>,
    ) -> Response {
        let parsed = spec::parse(&spec_path.display().to_string(), spec_text.as_bytes());
        let Some(spec) = parsed
            .spec
            .filter(|_| !parsed.problems.iter().any(spec::SpecProblem::is_error))
        else {
            return refused(
                format!("{} is not a valid spec", spec_path.display()),
                format!("run `agenthost check {}`", spec_path.display()),
            );
        };
        let config = match Config::load(&ConfigSources::discover(Some(repo))) {
            Ok(config) => config,
            Err(err) => return refused(err.to_string(), "run `agenthost check` in the repository"),
        };
        let agent = agent
            .or_else(|| spec.front_matter.agent.clone())
            .unwrap_or_else(|| config.default_agent.clone());
        if !config.agents.contains_key(&agent) {
            let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
            return refused(
                format!("no agent profile `{agent}`"),
                format!("known profiles: {}", known.join(", ")),
            );
        }
        let base_name = spec
            .front_matter
            .base
            .clone()
            .or_else(|| config.worktree.base.clone());
        let base = match resolve_base(repo, base_name.as_deref()) {
            Ok(base) => base,
            Err(err) => return refused(err.to_string(), err.help()),
        };
        let id = match self.ctx.store(|s| s.unique_id(&spec.id)) {
            Ok(id) => id,
            Err(err) => return refused(err.to_string(), "check agenthost's state directory"),
        };
        let new = NewTask {
            id: id.clone(),
            repo: repo.to_path_buf(),
            spec_path: spec_path.to_path_buf(),
            spec_digest: digest::sha256(spec_text.as_bytes()),
            spec_text,
            title: spec.title.clone(),
            agent,
            base_branch: base.branch,
            base_commit: base.commit,
            branch: format!("{BRANCH_PREFIX}{id}"),
            worktree: self.ctx.dirs.worktree(&id),
            env,
        };
        match self.ctx.store(|s| s.insert_task(&new)) {
            Ok(task) => {
                log(&format!(
                    "task {} queued ({})",
                    task.launch.id,
                    task.launch.repo.display()
                ));
                let held = self.held_at_launch(&task);
                Response::Launched {
                    id: task.launch.id,
                    held,
                }
            }
            Err(err) => refused(err.to_string(), "check agenthost's state directory"),
        }
    }

    /// Admission's answer for a task just queued, asked at once so that `launch` can say
    /// when it will wait (the scheduler asks again in its own round): the reason of a hold
    /// or a wait, `None` when it may start.
    fn held_at_launch(&self, task: &Task) -> Option<String> {
        let tasks = self.ctx.store(|s| s.tasks(false)).ok()?;
        let state = decide::host_state(&self.ctx, &tasks);
        let decision = match decide::repo_config(&self.ctx, &task.launch.repo) {
            Ok(config) => decide::admission(&self.ctx, &config, task, &state),
            Err(reason) => Admission::Hold(reason),
        };
        match decision {
            Admission::Start | Admission::Reject(_) => None,
            Admission::Hold(reason) | Admission::Wait(reason) => Some(reason),
        }
    }
}

//! Accepting a ready task (`Request::Accept`): its change built onto the base branch in
//! memory; when the base branch moved since the task started, the review checks (the setup,
//! the test command in its sandbox, the review policies) run again on that result in the
//! task's worktree; then the base branch moves, or nothing changes at all.
//!
//! One accept runs at a time, so each builds on what the one before landed. While a task is
//! being accepted, the other requests about it are refused with a reason; the checks stop
//! when the client that asked goes away or the supervisor stops, and nothing is accepted
//! then.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::{Scheduler, lock, refused, remove_work, squash_message};
use crate::runner::{Cancellation, Canceller, cancellation};
use crate::supervisor::lifecycle::{self, Recheck};
use crate::supervisor::protocol::Response;
use crate::supervisor::store::Task;
use crate::task::TaskState;
use crate::task::accept::{self, Prepared, Strategy};

/// What an accept asks: the task, how, and whether blocking findings are overridden.
#[derive(Debug, Clone)]
pub struct AcceptRequest {
    /// The task.
    pub id: String,
    /// How its commits reach the base branch.
    pub strategy: Strategy,
    /// Accept despite blocking findings (the rerun checks' included).
    pub force: bool,
}

/// Takes a task out of the accepting set when its accept ends, however it ends.
struct Claim<'s> {
    scheduler: &'s Scheduler,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        lock(&self.scheduler.accepting).remove(&self.id);
    }
}

impl Scheduler {
    /// Accepts a task, telling `progress` what takes time (waiting for another accept, the
    /// checks run again); the answer is [`Response::Accepted`] or a refusal that says why,
    /// with nothing changed. Returns the canceller that stops it (the client left).
    pub(crate) fn start_accept(
        self: &Arc<Self>,
        request: AcceptRequest,
        progress: UnboundedSender<String>,
    ) -> (
        Canceller,
        impl std::future::Future<Output = Response> + Send + 'static,
    ) {
        let (canceller, cancel) = cancellation();
        let this = Arc::clone(self);
        let stopper = canceller.clone();
        let future = async move {
            let response = this.accept(request, progress, stopper, cancel).await;
            this.wake();
            response
        };
        (canceller, future)
    }

    async fn accept(
        &self,
        request: AcceptRequest,
        progress: UnboundedSender<String>,
        canceller: Canceller,
        cancel: Cancellation,
    ) -> Response {
        let id = request.id.clone();
        let _claim = {
            let mut accepting = lock(&self.accepting);
            if accepting.contains_key(&id) {
                return refused(
                    format!("task `{id}` is being accepted already"),
                    "wait for that accept to end: it says how it went",
                );
            }
            accepting.insert(id.clone(), canceller);
            Claim {
                scheduler: self,
                id: id.clone(),
            }
        };
        let say = |text: String| {
            let _ = progress.send(text);
        };
        let _turn = match self.accept_turn.try_lock() {
            Ok(turn) => turn,
            Err(_) => {
                say("waits for another accept to end".to_string());
                self.accept_turn.lock().await
            }
        };
        let task = match self.acceptable(&id, request.force) {
            Ok(task) => task,
            Err(response) => return response,
        };
        let Some(base) = task.launch.base_branch.clone() else {
            return refused(
                format!("task `{id}` started from a detached commit, not a branch"),
                format!(
                    "merge its branch `{}` by hand, then reject the task",
                    task.launch.branch
                ),
            );
        };
        let prepared = {
            let (repo, branch, message) = (
                task.launch.repo.clone(),
                task.launch.branch.clone(),
                squash_message(&task),
            );
            let base = base.clone();
            let strategy = request.strategy;
            tokio::task::spawn_blocking(move || {
                accept::prepare(&repo, &base, &branch, strategy, &message)
            })
            .await
        };
        let prepared = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(err)) => return refused(err.to_string(), err.help()),
            Err(err) => return refused(format!("the accept failed: {err}"), "try again"),
        };
        let mut rechecked = None;
        if prepared.base_moved {
            say(format!(
                "{base} moved since {id} started: its checks run again on its change as it would land on {base} ({})",
                &prepared.base_head[..prepared.base_head.len().min(12)]
            ));
            let checked = lifecycle::recheck(
                &self.ctx,
                &task,
                &prepared.new_head,
                &prepared.base_head,
                &say,
                cancel.clone(),
            )
            .await;
            match checked {
                Ok(recheck) => {
                    if let Some(refusal) = judge(&task, &prepared, &recheck, request.force, &say) {
                        return refusal;
                    }
                    rechecked = Some(recheck);
                }
                Err(err) if request.force => say(format!(
                    "its checks could not run again on {base}'s new head ({err}); accepted anyway (--force)"
                )),
                Err(err) => {
                    return refused(
                        format!(
                            "task `{id}` was not accepted: its checks could not run again on {base}'s new head: {err}"
                        ),
                        format!(
                            "nothing changed; fix what it says and accept again (the log: {}), or accept anyway with --force",
                            self.ctx.dirs.recheck_log(&id).display()
                        ),
                    );
                }
            }
        }
        if cancel.reason() != crate::runner::Stop::No {
            return refused(
                format!("the accept of `{id}` was stopped before it landed; nothing changed"),
                "accept it again when you are ready",
            );
        }
        let landed = {
            let (repo, prepared) = (task.launch.repo.clone(), prepared.clone());
            tokio::task::spawn_blocking(move || accept::land(&repo, &prepared)).await
        };
        let done = match landed {
            Ok(Ok(done)) => done,
            Ok(Err(err)) => return refused(err.to_string(), err.help()),
            Err(err) => return refused(format!("the accept failed: {err}"), "try again"),
        };
        let detail = format!(
            "accepted into {base} ({:?}{}) as {}{}",
            request.strategy,
            if request.force { ", forced" } else { "" },
            &done.commit[..done.commit.len().min(12)],
            match &rechecked {
                Some(recheck) if recheck.passed() =>
                    format!("; {base} had moved, and the checks passed again on the result"),
                Some(_) =>
                    format!("; {base} had moved, and the checks failed on the result (forced)"),
                None if prepared.base_moved =>
                    format!("; {base} had moved, and the checks could not run again (forced)"),
                None => String::new(),
            }
        );
        if let Err(err) = self
            .ctx
            .store(|s| s.transition(&id, TaskState::Accepted, &detail))
        {
            return refused(err.to_string(), "check agenthost's state directory");
        }
        remove_work(&self.ctx, &task);
        Response::Accepted {
            commit: done.commit,
            base,
            updated_checkout: done.updated_checkout,
        }
    }

    /// The task, when it is ready and nothing blocks it (or `force`); else the refusal.
    fn acceptable(&self, id: &str, force: bool) -> Result<Task, Response> {
        let task = self.task(id)?;
        if task.state != TaskState::Ready {
            return Err(refused(
                format!("task `{id}` is {}, not ready", task.state),
                "only a ready task can be accepted; `agenthost status` shows where it is",
            ));
        }
        let blocking: Vec<String> = match self.ctx.store(|s| s.findings(id)) {
            Ok(findings) => findings
                .into_iter()
                .filter(|f| f.severity == "error")
                .map(|f| {
                    format!(
                        "{}: {}",
                        f.rule,
                        f.message.lines().next().unwrap_or_default()
                    )
                })
                .collect(),
            Err(err) => {
                return Err(refused(
                    err.to_string(),
                    "check agenthost's state directory",
                ));
            }
        };
        if !blocking.is_empty() && !force {
            return Err(refused(
                format!(
                    "task `{id}` has {} blocking finding(s): {}",
                    blocking.len(),
                    blocking.join("; ")
                ),
                format!(
                    "correct it (`agenthost correct {id} -m ...`), reject it, or accept anyway with --force"
                ),
            ));
        }
        Ok(task)
    }
}

/// The refusal when the checks run again did not pass (and `force` does not override what
/// they found); `None` to go on.
fn judge(
    task: &Task,
    prepared: &Prepared,
    recheck: &Recheck,
    force: bool,
    say: &dyn Fn(String),
) -> Option<Response> {
    let (id, base) = (&task.launch.id, &prepared.base);
    if recheck.cancelled {
        return Some(refused(
            format!("the accept of `{id}` was stopped while its checks ran again; nothing changed"),
            "accept it again when you are ready",
        ));
    }
    if recheck.passed() {
        say(format!(
            "the checks pass on the change as it would land on {base}"
        ));
        return None;
    }
    let failures = recheck.failures();
    if force {
        say(format!(
            "accepted despite the checks run again on {base}'s new head: {}",
            failures.join("; ")
        ));
        return None;
    }
    Some(refused(
        format!(
            "task `{id}` was not accepted: {base} moved since it started, and its checks fail on its change as it would land there:\n  - {}\nnothing changed: {base} and the task are as they were (the runs' output: {})",
            failures.join("\n  - "),
            recheck.log.display()
        ),
        format!(
            "send it back with what to fix (`agenthost correct {id} -m \"...\"` merges {base} into its branch first, so the agent works on {base} as it is now), reject it, or accept anyway with --force"
        ),
    ))
}

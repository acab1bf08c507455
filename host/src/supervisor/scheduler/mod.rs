//! The queue: which queued task starts when (the admission policies decide, asked again
//! whenever any task changes state), and the requests that change tasks (launch, accept,
//! correct, reject, cancel, resume).

mod accept;

pub use accept::AcceptRequest;
mod launch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::context::Context;
use super::decide::{self, Admission};
use super::lifecycle;
use super::log;
use super::notify;
use super::protocol::{Request, Response};
use super::store::Task;
use crate::config::{Config, ConfigSources};
use crate::runner::{Canceller, cancellation};
use crate::task::TaskState;
use crate::task::worktree::{MergedIn, resolve_base};

/// The supervisor's scheduler: owns the running tasks.
#[derive(Debug)]
pub struct Scheduler {
    ctx: Arc<Context>,
    running: Mutex<HashMap<String, Canceller>>,
    /// Tasks being accepted (their checks may run again), with what stops those checks.
    accepting: Mutex<HashMap<String, Canceller>>,
    /// One accept at a time: each builds on the base branch as the one before left it.
    accept_turn: tokio::sync::Mutex<()>,
    holds: Mutex<HashMap<String, String>>,
    wake: Notify,
}

fn refused(message: impl Into<String>, help: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
        help: help.into(),
    }
}

impl Scheduler {
    /// A scheduler over `ctx`'s store.
    pub fn new(ctx: Arc<Context>) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            ctx,
            running: Mutex::new(HashMap::new()),
            accepting: Mutex::new(HashMap::new()),
            accept_turn: tokio::sync::Mutex::new(()),
            holds: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        })
    }

    /// Asks for the queue to be looked at again.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Looks at the queue whenever woken, forever.
    pub async fn run(self: Arc<Self>) {
        loop {
            // Policies run on a blocking thread: the engine drives its own WASI runtime,
            // which must not nest inside this one.
            let this = Arc::clone(&self);
            if let Err(err) = tokio::task::spawn_blocking(move || this.schedule()).await {
                log(&format!("the scheduler failed: {err}"));
            }
            self.wake.notified().await;
        }
    }

    /// Stops every running task (supervisor shutdown); their tasks become `interrupted`,
    /// worktrees intact. Waits up to `grace` for them to stop.
    pub async fn interrupt_all(&self, grace: std::time::Duration) {
        for canceller in lock(&self.running)
            .values()
            .chain(lock(&self.accepting).values())
        {
            canceller.interrupt();
        }
        let deadline = tokio::time::Instant::now() + grace;
        while !(lock(&self.running).is_empty() && lock(&self.accepting).is_empty())
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Listens to every change to the store's tasks from now on (a watching client).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<super::store::Change> {
        self.ctx.store(|s| s.subscribe())
    }

    /// Why a queued task is held, if it is.
    pub fn hold_reason(&self, id: &str) -> Option<String> {
        lock(&self.holds).get(id).cloned()
    }

    /// Starts queued tasks, oldest first, as long as admission says so.
    fn schedule(self: &Arc<Self>) {
        let tasks = match self.ctx.store(|s| s.tasks(false)) {
            Ok(tasks) => tasks,
            Err(err) => {
                log(&format!("cannot read the queue: {err}"));
                return;
            }
        };
        // One picture of the host and one configuration per repository for the whole round.
        let state = decide::host_state(&self.ctx, &tasks);
        let mut configs: HashMap<PathBuf, Result<Arc<Config>, String>> = HashMap::new();
        for task in tasks.iter().filter(|t| t.state == TaskState::Queued) {
            let config = configs
                .entry(task.launch.repo.clone())
                .or_insert_with(|| decide::repo_config(&self.ctx, &task.launch.repo));
            let decision = match config {
                Ok(config) => decide::admission(&self.ctx, config, task, &state),
                Err(reason) => Admission::Hold(reason.clone()),
            };
            match decision {
                Admission::Start => {
                    lock(&self.holds).remove(&task.launch.id);
                    self.start(task.clone());
                    // The picture changed; ask again from scratch for the next one.
                    self.wake();
                    return;
                }
                Admission::Hold(reason) => {
                    self.hold(task, &reason, true);
                    // First in, first out: nothing behind a held task overtakes it.
                    return;
                }
                Admission::Wait(reason) => {
                    // It waits for something of its own (another task's paths): the tasks
                    // behind it are asked too.
                    self.hold(task, &reason, false);
                }
                Admission::Reject(reason) => {
                    let detail = format!("refused by admission: {reason}");
                    if let Err(err) = self
                        .ctx
                        .store(|s| s.transition(&task.launch.id, TaskState::Failed, &detail))
                    {
                        log(&format!("task {}: {err}", task.launch.id));
                    }
                }
            }
        }
    }

    /// A task about to make its worktree starts from its base branch's head as it is now,
    /// not as it was at launch: one that waited for an overlapping task then builds on that
    /// task's accepted work instead of conflicting with it. A task whose worktree exists
    /// (a correction, a resumed run) keeps its base.
    fn refresh_base(&self, task: &Task) {
        let Some(branch) = task.launch.base_branch.as_deref() else {
            return;
        };
        if task.launch.worktree.exists() {
            return;
        }
        match resolve_base(&task.launch.repo, Some(branch)) {
            Ok(base) if base.commit != task.launch.base_commit => {
                log(&format!(
                    "task {}: {branch} moved since launch; starting from {}",
                    task.launch.id, base.commit
                ));
                if let Err(err) = self
                    .ctx
                    .store(|s| s.set_base_commit(&task.launch.id, &base.commit))
                {
                    log(&format!("task {}: {err}", task.launch.id));
                }
            }
            Ok(_) => {}
            // The attempt reports a base it cannot use, with its reason.
            Err(err) => log(&format!("task {}: {branch}: {err}", task.launch.id)),
        }
    }

    /// Keeps `task` queued for `reason`, which every verb shows (through the store); with
    /// `queue`, the tasks behind it wait too.
    fn hold(&self, task: &Task, reason: &str, queue: bool) {
        let mut holds = lock(&self.holds);
        if holds.get(&task.launch.id).map(String::as_str) != Some(reason) {
            log(&format!("task {} held: {reason}", task.launch.id));
            holds.insert(task.launch.id.clone(), reason.to_string());
        }
        drop(holds);
        let stored = self.ctx.store(|s| match queue {
            true => s.set_hold(&task.launch.id, reason),
            false => s.set_wait(&task.launch.id, reason),
        });
        if let Err(err) = stored {
            log(&format!("task {}: {err}", task.launch.id));
        }
    }

    fn start(self: &Arc<Self>, task: Task) {
        self.refresh_base(&task);
        let correction = task.next_correction.clone();
        let started = self.ctx.store(|s| {
            s.set_next_correction(&task.launch.id, None)?;
            s.transition(&task.launch.id, TaskState::Running, "admitted")
        });
        let task = match started {
            Ok(task) => task,
            Err(err) => {
                log(&format!("task {} cannot start: {err}", task.launch.id));
                return;
            }
        };
        let (canceller, cancel) = cancellation();
        lock(&self.running).insert(task.launch.id.clone(), canceller);
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let id = task.launch.id.clone();
            log(&format!("task {id} started"));
            let state =
                lifecycle::run_attempt(Arc::clone(&this.ctx), task, correction, cancel).await;
            lock(&this.running).remove(&id);
            log(&format!("task {id} is {state}"));
            if let Ok(Some(task)) = this.ctx.store(|s| s.task(&id)) {
                if matches!(task.state, TaskState::Ready | TaskState::Failed) {
                    this.notify_done(&task);
                }
                if task.state == TaskState::Cancelled {
                    remove_work(&this.ctx, &task);
                }
            }
            this.wake();
        });
    }

    fn notify_done(&self, task: &Task) {
        let config = Config::load(&ConfigSources::discover(Some(&task.launch.repo)))
            .map(|c| c.notify)
            .unwrap_or_default();
        let path = self.ctx.host_env.get("PATH").map(String::as_str);
        for problem in notify::task_done(&config, task, path).problems {
            log(&format!("task {}: {problem}", task.launch.id));
        }
    }

    /// Carries out one request that changes tasks; an accept goes to
    /// [`Scheduler::accept`], which may take long.
    pub fn handle(self: &Arc<Self>, request: Request) -> Response {
        if let Request::Correct { id, .. }
        | Request::Reject { id }
        | Request::Cancel { id }
        | Request::Resume { id } = &request
            && lock(&self.accepting).contains_key(id)
        {
            return refused(
                format!(
                    "task `{id}` is being accepted: its checks run again on its base branch's new head"
                ),
                "wait for the accept to end (it says how it went), or stop it with Ctrl-C where it runs; then try again",
            );
        }
        let response = match request {
            Request::Launch {
                repo,
                spec_path,
                spec_text,
                agent,
                env,
            } => self.launch(&repo, &spec_path, spec_text, agent, env),
            Request::Correct { id, message } => self.correct(&id, &message),
            Request::Reject { id } => self.reject(&id),
            Request::Cancel { id } => self.cancel(&id),
            Request::Resume { id } => self.resume(&id),
            Request::Ping | Request::Shutdown | Request::Watch | Request::Accept { .. } => refused(
                "not a task request",
                "this is a bug in agenthost: please report it",
            ),
        };
        self.wake();
        response
    }

    fn task(&self, id: &str) -> Result<Task, Response> {
        match self.ctx.store(|s| s.task(id)) {
            Ok(Some(task)) => Ok(task),
            Ok(None) => Err(refused(
                format!("no task `{id}`"),
                "`agenthost status --all` lists every task",
            )),
            Err(err) => Err(refused(
                err.to_string(),
                "check agenthost's state directory",
            )),
        }
    }

    fn correct(&self, id: &str, message: &str) -> Response {
        let task = match self.task(id) {
            Ok(task) => task,
            Err(response) => return response,
        };
        if !matches!(task.state, TaskState::Ready | TaskState::Failed) {
            return refused(
                format!("task `{id}` is {}", task.state),
                "a correction goes to a ready or failed task; wait for it, or cancel it",
            );
        }
        if !task.launch.worktree.exists() {
            return refused(
                format!("task `{id}` has no worktree any more"),
                "launch the spec again",
            );
        }
        let (note, for_agent) = self.catch_up(&task);
        let message = match for_agent {
            Some(more) => format!("{message}\n\n{more}"),
            None => message.to_string(),
        };
        let message = message.as_str();
        let result = self.ctx.store(|s| {
            s.set_next_correction(id, Some(message))?;
            s.transition(id, TaskState::Queued, &format!("correction: {message}"))
        });
        match result {
            Ok(_) => Response::Corrected { note },
            Err(err) => refused(err.to_string(), "check agenthost's state directory"),
        }
    }

    /// A task corrected after its base branch moved works on the base as it is now: the
    /// new commits are merged into its branch (and its setup runs again, for what they
    /// changed); where both changed the same lines, the files carry conflict markers for
    /// the agent to resolve. Returns what to tell the person, and what to add to the
    /// correction for the agent; or why the correction works on the old base.
    fn catch_up(&self, task: &Task) -> (Option<String>, Option<String>) {
        let launch = &task.launch;
        let Some(base) = launch.base_branch.as_deref() else {
            return (None, None);
        };
        let old_base = format!(
            "the correction works on the task's old base; to start from {base}'s head, reject the task and launch its spec again"
        );
        let refused = |why: String| (Some(format!("{base} moved, {why}: {old_base}")), None);
        let (base_head, commits, conflicts) = match lifecycle::task_worktree(task).merge_in(base) {
            Ok(MergedIn::Merged {
                base_head,
                commits,
                conflicts,
            }) => (base_head, commits, conflicts),
            Ok(MergedIn::UpToDate) => return (None, None),
            Ok(MergedIn::Unclean(files)) => {
                return refused(format!(
                    "but the worktree has changes that are not on the task branch ({})",
                    files.join(", ")
                ));
            }
            Ok(MergedIn::Conflicts(files)) => {
                return refused(format!(
                    "and the task's change conflicts with it in {} in a way text markers cannot show",
                    files.join(", ")
                ));
            }
            Err(err) => return refused(format!("but merging it failed ({err})")),
        };
        if let Err(err) = self
            .ctx
            .store(|s| s.set_base_commit(&launch.id, &base_head))
        {
            log(&format!("task {}: {err}", launch.id));
        }
        let _ = std::fs::remove_file(self.ctx.dirs.setup_done(&launch.id));
        log(&format!(
            "task {}: merged {base} ({base_head}) into its branch for the correction",
            launch.id
        ));
        let commits = format!(
            "{commits} new commit{}",
            if commits == 1 { "" } else { "s" }
        );
        if conflicts.is_empty() {
            let note = format!(
                "{base} moved ({commits}): merged into the task branch, so the correction works on {base} as it is now"
            );
            return (Some(note), None);
        }
        let files = conflicts.join(", ");
        let note = format!(
            "{base} moved ({commits}): merged into the task branch; it conflicts in {files}, left with conflict markers for the agent to resolve in this correction"
        );
        let for_agent = format!(
            "Before this correction, agenthost merged the latest `{base}` into your branch. These files have merge conflicts, marked with `<<<<<<<`, `=======` and `>>>>>>>` lines (yours first, then `{base}`'s): {files}. Resolve each conflict so that both changes are kept as they were meant, and leave no marker line."
        );
        (Some(note), Some(for_agent))
    }

    fn reject(&self, id: &str) -> Response {
        let task = match self.task(id) {
            Ok(task) => task,
            Err(response) => return response,
        };
        if !matches!(
            task.state,
            TaskState::Ready | TaskState::Failed | TaskState::Interrupted
        ) {
            return refused(
                format!("task `{id}` is {}", task.state),
                "only a ready, failed or interrupted task can be rejected; cancel a queued or running one",
            );
        }
        match self
            .ctx
            .store(|s| s.transition(id, TaskState::Rejected, "rejected"))
        {
            Ok(_) => {
                remove_work(&self.ctx, &task);
                Response::Ok
            }
            Err(err) => refused(err.to_string(), "check agenthost's state directory"),
        }
    }

    fn cancel(&self, id: &str) -> Response {
        let task = match self.task(id) {
            Ok(task) => task,
            Err(response) => return response,
        };
        match task.state {
            TaskState::Running | TaskState::Checking => {
                match lock(&self.running).get(id) {
                    Some(canceller) => canceller.cancel(),
                    None => {
                        return refused(
                            format!("task `{id}` is {} but not running here", task.state),
                            "restart the supervisor (`agenthost serve --stop`), then cancel it",
                        );
                    }
                }
                Response::Ok
            }
            TaskState::Queued | TaskState::Interrupted => {
                match self.ctx.store(|s| {
                    s.transition(
                        id,
                        TaskState::Cancelled,
                        "cancelled with `agenthost cancel` before it ran",
                    )
                }) {
                    Ok(_) => {
                        remove_work(&self.ctx, &task);
                        Response::Ok
                    }
                    Err(err) => refused(err.to_string(), "check agenthost's state directory"),
                }
            }
            state => refused(
                format!("task `{id}` is {state}"),
                "only a queued, running or interrupted task can be cancelled; reject a finished one",
            ),
        }
    }

    fn resume(&self, id: &str) -> Response {
        let task = match self.task(id) {
            Ok(task) => task,
            Err(response) => return response,
        };
        if !matches!(task.state, TaskState::Interrupted | TaskState::Failed) {
            return refused(
                format!("task `{id}` is {}, not interrupted or failed", task.state),
                "resume runs again a task that failed or was running when the supervisor stopped; a ready task takes `agenthost correct`",
            );
        }
        match self
            .ctx
            .store(|s| s.transition(id, TaskState::Queued, "resumed"))
        {
            Ok(_) => Response::Ok,
            Err(err) => refused(err.to_string(), "check agenthost's state directory"),
        }
    }
}

/// The squash (or merge) commit's message: the title, then the trailers that tie it to its
/// task and spec, which `agenthost verify` reads.
fn squash_message(task: &Task) -> String {
    format!(
        "{}\n\nAgenthost-Task: {}\nAgenthost-Spec: {}\nAgenthost-Spec-Digest: {}\n",
        task.launch.title,
        task.launch.id,
        lifecycle::spec_label(task),
        task.launch.spec_digest
    )
}

/// Removes a finished task's worktree, branch and private home (with the copies of your
/// credentials seeded into it); its record and logs stay.
fn remove_work(ctx: &Context, task: &Task) {
    let home = ctx.dirs.agent_home(&task.launch.id);
    if let Err(err) = std::fs::remove_dir_all(&home)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        log(&format!(
            "task {}: cannot remove its private home {}: {err}",
            task.launch.id,
            home.display()
        ));
    }
    if let Err(err) = lifecycle::task_worktree(task).remove() {
        log(&format!(
            "task {}: cannot remove its worktree: {err}",
            task.launch.id
        ));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

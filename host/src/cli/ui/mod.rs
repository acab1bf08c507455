//! `agenthost ui`: the cockpit. One screen for the day across all of the user's
//! repositories: what needs review and for how long, what runs, what waits and why, and
//! the review itself with accept / correct / reject on single keys.
//!
//! The parts, each with one job: `model` (tasks grouped, the header's numbers), `review`
//! and `diff_doc` (an open review), `app` (the state machine: action → state + effect),
//! `keys` (key → action), `view` (drawing), `load` (store, review and logs → model),
//! `live` (the supervisor's watch, signals), `terminal` (raw mode and its restoration),
//! `effects` (carrying out what an action asks of the world). Only `load`, `live`,
//! `terminal`, `effects` and this loop do I/O; the rest is tested with plain data.

pub mod app;
pub mod diff_doc;
mod effects;
pub mod keys;
mod live;
mod load;
pub mod model;
pub mod review;
mod terminal;
pub mod view;

use std::io::IsTerminal as _;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use clap::Args;
use crossterm::event::{self, Event};

use miette::Diagnostic;
use thiserror::Error;

use super::{Exit, Output};
use crate::config::{Config, ConfigSources};
use crate::state_dir::StateDirs;
use crate::supervisor::liveness::Liveness;
use crate::supervisor::protocol::Request;
use crate::supervisor::store::{Change, Store, now_ms};
use crate::supervisor::{Client, SupervisorError};
use crate::task::TaskState;
use app::{App, Screen};
use live::Msg;
use terminal::TerminalGuard;
use view::Theme;

/// How often the clock-driven parts (durations, running agents' last log lines, a
/// followed log) are refreshed.
const TICK: Duration = Duration::from_secs(1);

/// How long to wait for a key before looking at the other messages.
const KEY_WAIT: Duration = Duration::from_millis(50);

/// Arguments of `agenthost ui`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost ui\n  NO_COLOR=1 agenthost ui\n\nKeys: ? in the cockpit. Enter opens a task's review; a accept, c correct, r reject,\nx cancel, R resume, l logs, L launch a spec, q quit."
)]
pub struct UiArgs {}

/// Why the cockpit cannot run.
#[derive(Debug, Error, Diagnostic)]
pub enum UiError {
    /// Standard input or output is not a terminal.
    #[error("`agenthost ui` needs a terminal: standard input and output must both be one")]
    #[diagnostic(
        code(ui::not_a_terminal),
        help("run it in a terminal; `agenthost status` prints the same tasks as a table")
    )]
    NotATerminal,

    /// The terminal went away (its window closed).
    #[error("the terminal was closed")]
    #[diagnostic(code(ui::hangup), help("nothing was lost: run `agenthost ui` again"))]
    Hangup,

    /// The terminal refused a change.
    #[error("{action}: {source}")]
    #[diagnostic(
        code(ui::terminal),
        help("check that TERM names your terminal; `agenthost status` works without one")
    )]
    Terminal {
        /// What we tried.
        action: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// Runs `agenthost ui`.
pub(super) fn run(_args: &UiArgs, _output: &Output) -> miette::Result<Exit> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(UiError::NotATerminal.into());
    }
    let dirs = StateDirs::discover().map_err(SupervisorError::from)?;
    let client = Client::new(dirs.clone());
    // The cockpit is where the day's work is run from: a supervisor must run the queue.
    let started = client.request_starting(Request::Ping);
    crate::supervisor::server::private_dir(&dirs.root)?;
    let store = Store::open(&dirs.database()).map_err(SupervisorError::from)?;
    let config = Config::load(&ConfigSources::discover(None)).unwrap_or_else(|_| Config::builtin());
    let (tx, rx) = mpsc::channel();
    live::signals(tx.clone()).map_err(|source| UiError::Terminal {
        action: "cannot handle signals",
        source,
    })?;
    live::watch(client.clone(), tx.clone()).map_err(|source| UiError::Terminal {
        action: "cannot start watching the supervisor",
        source,
    })?;
    let mut cockpit = Cockpit {
        liveness: Liveness::check(&dirs),
        allowed: load::ramp_allowed(&config),
        bell: config.notify.bell,
        dirs,
        client,
        tx,
        store,
        app: App::new(Default::default(), Default::default(), now_ms()),
        theme: Theme::from_env(),
    };
    cockpit.reload();
    if let Err(err) = started {
        cockpit.app.offline = Some(err.to_string());
    }
    let mut guard = TerminalGuard::enter()?;
    let result = cockpit.run(&mut guard, &rx);
    drop(guard);
    match result {
        // Nobody is left to read an error.
        Ok(()) | Err(UiError::Hangup) => Ok(Exit::Success),
        Err(err) => Err(err.into()),
    }
}

/// Whether a change may change the open review of task `id`: one of its own, an accept
/// (its base may have moved), or changes missed.
fn touches_review(change: &Change, id: &str) -> bool {
    match change {
        Change::State { id: of, to, .. } => of == id || *to == TaskState::Accepted,
        Change::Held { id: of } | Change::Attempt { id: of, .. } => of == id,
        Change::Missed { .. } => true,
    }
}

/// Whether a change rings the bell: a task became ready for review.
fn rings(change: &Change) -> bool {
    matches!(
        change,
        Change::State {
            to: TaskState::Ready,
            ..
        }
    )
}

/// The cockpit while it runs: the app and what it reads from and talks to.
struct Cockpit {
    dirs: StateDirs,
    client: Client,
    /// Where threads the loop started (an accept) send their messages.
    tx: std::sync::mpsc::Sender<Msg>,
    store: Store,
    liveness: Liveness,
    allowed: Option<usize>,
    bell: bool,
    app: App,
    theme: Theme,
}

impl Cockpit {
    /// The loop: draw when something changed, then wait for a key or a message.
    fn run(&mut self, guard: &mut TerminalGuard, rx: &Receiver<Msg>) -> Result<(), UiError> {
        let mut dirty = true;
        let mut last_tick = Instant::now();
        loop {
            if dirty {
                let size = guard.terminal.size().map_err(|source| UiError::Terminal {
                    action: "cannot size the terminal",
                    source,
                })?;
                self.app.page = usize::from(size.height.saturating_sub(view::CHROME + 2)).max(1);
                let (app, theme) = (&self.app, self.theme);
                guard
                    .terminal
                    .draw(|frame| view::draw(frame, app, theme))
                    .map_err(|source| UiError::Terminal {
                        action: "cannot draw",
                        source,
                    })?;
                dirty = false;
            }
            if terminal::wait_for_input(KEY_WAIT)? {
                // Every event of the input read (a paste, keys typed fast): crossterm
                // holds them, and the terminal will not say "readable" for them again.
                loop {
                    let read = event::read().map_err(|source| UiError::Terminal {
                        action: "cannot read the keyboard",
                        source,
                    })?;
                    if let Event::Key(key) = read
                        && let Some(action) = keys::action(self.app.place(), key)
                    {
                        self.app.status = None;
                        if let Some(effect) = self.app.apply(action)
                            && self.carry_out(effect, guard)?
                        {
                            return Ok(());
                        }
                    }
                    dirty = true;
                    let more = event::poll(Duration::ZERO).map_err(|source| UiError::Terminal {
                        action: "cannot read the keyboard",
                        source,
                    })?;
                    if !more {
                        break;
                    }
                }
            }
            let mut reload = false;
            while let Ok(msg) = rx.try_recv() {
                match msg {
                    Msg::Signal(_) => return Ok(()),
                    Msg::Watching => {
                        self.app.offline = None;
                        reload = true;
                    }
                    Msg::Offline(why) => {
                        self.app.offline = Some(why);
                        dirty = true;
                    }
                    Msg::Progress(text) => {
                        self.app.say(text, false);
                        dirty = true;
                    }
                    Msg::Answered { done, answer } => {
                        self.answered(&done, answer);
                        dirty = true;
                    }
                    Msg::Changed(change) => {
                        if self.bell && rings(&change) {
                            guard.bell();
                        }
                        if let Screen::Review(open) = &self.app.screen
                            && touches_review(&change, &open.parts.id)
                        {
                            self.refresh_review();
                        }
                        reload = true;
                    }
                }
            }
            if reload {
                self.reload();
                dirty = true;
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.tick();
                dirty = true;
            }
        }
    }

    /// Reads the tasks again (after a change the supervisor reported).
    fn reload(&mut self) {
        let now = now_ms();
        self.liveness = Liveness::check(&self.dirs);
        match load::tasks(&self.store, self.liveness, self.allowed, now) {
            Ok((queue, header)) => {
                self.app.now_ms = now;
                self.app.set_tasks(queue, header);
            }
            Err(err) => self.app.say(format!("cannot read the tasks: {err}"), true),
        }
        if let Screen::Logs(logs) = &mut self.app.screen {
            logs.running = self
                .app
                .queue
                .rows()
                .find(|r| r.id == logs.id)
                .is_some_and(|r| r.state.is_active() || r.state == TaskState::Queued);
        }
    }

    /// Gathers the open review again (its task changed, or its base may have), keeping
    /// where the reader was.
    fn refresh_review(&mut self) {
        let Screen::Review(open) = &self.app.screen else {
            return;
        };
        // A task that is gone keeps the review as it was: its record says why.
        if let Ok(fresh) = load::review(&self.store, self.liveness, &open.parts.id) {
            let refreshed = open.refreshed(fresh.parts);
            self.app.screen = Screen::Review(Box::new(refreshed));
        }
    }

    /// The clock moved: durations, running agents' last lines, a followed log.
    fn tick(&mut self) {
        let now = now_ms();
        self.app.now_ms = now;
        if let Some(oldest) = self.app.queue.rows().filter_map(|r| r.ready_since_ms).min() {
            self.app.header.oldest_wait_ms = Some(now - oldest);
        }
        for section in &mut self.app.queue.sections {
            for row in &mut section.rows {
                if row.state.is_active()
                    && let Some(path) = &row.log_path
                {
                    row.last_line = load::last_line(path);
                }
            }
        }
        if let Screen::Logs(logs) = &mut self.app.screen
            && logs.running
        {
            let path = self
                .app
                .queue
                .rows()
                .find(|r| r.id == logs.id)
                .and_then(|r| r.log_path.clone());
            logs.lines = load::log_lines(path.as_deref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bell_rings_when_a_result_is_ready() {
        let state = |to| Change::State {
            id: "t".into(),
            from: Some(TaskState::Checking),
            to,
            reason: String::new(),
            at_ms: 0,
        };
        assert!(rings(&state(TaskState::Ready)));
        assert!(!rings(&state(TaskState::Failed)));
        assert!(!rings(&Change::Held { id: "t".into() }));
        assert!(!rings(&Change::Attempt {
            id: "t".into(),
            number: 2
        }));
    }

    #[test]
    fn an_open_review_is_gathered_again_when_its_task_or_a_base_may_have_changed() {
        let state = |id: &str, to| Change::State {
            id: id.into(),
            from: Some(TaskState::Ready),
            to,
            reason: String::new(),
            at_ms: 0,
        };
        assert!(touches_review(&state("t", TaskState::Queued), "t"));
        assert!(touches_review(&state("other", TaskState::Accepted), "t"));
        assert!(!touches_review(&state("other", TaskState::Running), "t"));
        assert!(touches_review(
            &Change::Attempt {
                id: "t".into(),
                number: 2
            },
            "t"
        ));
        assert!(!touches_review(&Change::Held { id: "other".into() }, "t"));
        assert!(touches_review(&Change::Missed { count: 3 }, "t"));
    }
}

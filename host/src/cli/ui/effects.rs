//! Carrying out what an action asks of the world: a request to the supervisor (its answer,
//! or its refusal with the way out, on the status line), opening a review or a log,
//! `$EDITOR` for a correction, `agenthost launch` for a spec. Nothing here may end the
//! cockpit but [`Effect::Quit`]: every failure becomes a line on the screen.

use std::process::{Command, Stdio};

use miette::Diagnostic as _;

use super::app::{Effect, LogsState, Screen};
use super::live::Msg;
use super::terminal::TerminalGuard;
use super::{Cockpit, UiError, load};
use crate::supervisor::SupervisorError;
use crate::supervisor::protocol::{Request, Response};
use crate::task::TaskState;

impl Cockpit {
    /// Carries out `effect`; `true` when the cockpit should end.
    pub(super) fn carry_out(
        &mut self,
        effect: Effect,
        guard: &mut TerminalGuard,
    ) -> Result<bool, UiError> {
        match effect {
            Effect::Quit => return Ok(true),
            Effect::Request { request, done } => self.request(request, &done),
            Effect::OpenReview(id) => match load::review(&self.store, self.liveness, &id) {
                Ok(review) => self.app.screen = Screen::Review(Box::new(review)),
                Err(err) => self.app.say(words(&err), true),
            },
            Effect::OpenLogs(id) => {
                let row = self.app.queue.rows().find(|r| r.id == id);
                let running =
                    row.is_some_and(|r| r.state.is_active() || r.state == TaskState::Queued);
                let path = row.and_then(|r| r.log_path.clone());
                self.app.screen = Screen::Logs(LogsState {
                    lines: load::log_lines(path.as_deref()),
                    id,
                    top: None,
                    running,
                });
            }
            Effect::Editor { id, text } => {
                let written = guard.suspended(|| edit(&text))?;
                match written {
                    Ok(message) if message.trim().is_empty() => {
                        self.app.say("the correction is empty: nothing sent", true);
                    }
                    Ok(message) => self.request(
                        Request::Correct {
                            id: id.clone(),
                            message,
                        },
                        &format!("{id} queued again with the correction"),
                    ),
                    Err(why) => self.app.say(why, true),
                }
            }
            Effect::Launch(path) => self.launch(&path),
        }
        Ok(false)
    }

    /// Sends `request`, starting a supervisor if none runs; says how it went. An accept
    /// runs on a thread of its own (its checks may run again for minutes): its progress
    /// and its answer come back as messages ([`Cockpit::answered`]).
    fn request(&mut self, request: Request, done: &str) {
        if let Request::Accept { id, .. } = &request {
            let (client, tx, id, done) = (
                self.client.clone(),
                self.tx.clone(),
                id.clone(),
                done.to_string(),
            );
            self.app.say(format!("accepting {id}..."), false);
            let progress_tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name("ui-accept".into())
                .spawn(move || {
                    let answer = client.request_following(request, &mut |message| {
                        let _ = progress_tx.send(Msg::Progress(format!("{id}: {message}")));
                    });
                    let _ = tx.send(Msg::Answered {
                        done,
                        answer: answer.map_err(|err| words(&err)),
                    });
                });
            if let Err(err) = spawned {
                self.app
                    .say(format!("cannot start the accept: {err}"), true);
            }
            return;
        }
        let answer = self
            .client
            .request_starting(request)
            .map_err(|err| words(&err));
        self.answered(done, answer);
    }

    /// Says how a request went; on success, back to the queue.
    pub(super) fn answered(&mut self, done: &str, answer: Result<Response, String>) {
        match answer {
            Ok(Response::Accepted {
                commit,
                base,
                updated_checkout,
            }) => {
                let landed_as =
                    crate::cli::task_actions::accepted_as(&commit, &base, updated_checkout);
                self.app.say(format!("{done} {landed_as}"), false);
            }
            Ok(Response::Ok | Response::Corrected { note: None }) => self.app.say(done, false),
            Ok(Response::Corrected { note: Some(note) }) => {
                self.app.say(format!("{done}; {note}"), false);
            }
            Ok(other) => self.app.say(
                words(&SupervisorError::Protocol {
                    detail: format!("unexpected answer: {other:?}"),
                }),
                true,
            ),
            Err(why) => {
                self.app.say(why, true);
                return;
            }
        }
        // The work is done with: back to the queue, where the task shows its new state.
        if matches!(self.app.screen, Screen::Review(_)) {
            self.app.screen = Screen::Queue;
        }
        self.reload();
    }

    /// Launches the spec at `path` with `agenthost launch`, the verb itself (checks and
    /// acceptance policies included); says what it said.
    fn launch(&mut self, path: &str) {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(err) => {
                self.app
                    .say(format!("cannot find the agenthost binary: {err}"), true);
                return;
            }
        };
        let output = Command::new(exe)
            .args(["--color", "never", "launch", path])
            .stdin(Stdio::null())
            .output();
        match output {
            Ok(output) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                let first = text
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("no output")
                    .to_string();
                // Launch reports each task as `queued ID (PATH)`, after the spec's warnings.
                let queued: Vec<&str> = text.lines().filter(|l| l.starts_with("queued ")).collect();
                if output.status.success() {
                    let warned = if text.contains("warning") {
                        " (with warnings: `agenthost check` shows them)"
                    } else {
                        ""
                    };
                    match queued.is_empty() {
                        true => self.app.say(first, false),
                        false => self
                            .app
                            .say(format!("{}{warned}", queued.join("; ")), false),
                    }
                } else {
                    self.app.say(
                        format!(
                            "{path} was not launched: {first} (`agenthost check {path}` says more)"
                        ),
                        true,
                    );
                }
            }
            Err(err) => self
                .app
                .say(format!("cannot run `agenthost launch`: {err}"), true),
        }
        self.reload();
    }
}

/// A supervisor error in one line: what happened, then what to do.
fn words(err: &SupervisorError) -> String {
    match err.help() {
        Some(help) => format!("{err} (help: {help})"),
        None => err.to_string(),
    }
}

/// The user's editor: `$VISUAL`, else `$EDITOR`, else `vi`.
fn editor() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string())
}

/// Lets the user write a correction in their editor, starting from `text`; the file's
/// text, or why it could not be had.
fn edit(text: &str) -> Result<String, String> {
    edit_with(&editor(), text)
}

/// [`edit`] with `editor`, a shell command the file's path is appended to.
fn edit_with(editor: &str, text: &str) -> Result<String, String> {
    let file = tempfile::Builder::new()
        .prefix("agenthost-correction-")
        .suffix(".md")
        .tempfile()
        .map_err(|err| format!("cannot make a file for the correction: {err}"))?;
    std::fs::write(file.path(), text)
        .map_err(|err| format!("cannot write {}: {err}", file.path().display()))?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status()
        .map_err(|err| format!("cannot run the editor `{editor}`: {err}"))?;
    if !status.success() {
        return Err(format!(
            "the editor `{editor}` failed ({status}): nothing sent"
        ));
    }
    std::fs::read_to_string(file.path())
        .map_err(|err| format!("cannot read {}: {err}", file.path().display()))
}

#[cfg(test)]
mod tests {
    use super::edit_with;

    #[test]
    fn the_editor_writes_the_correction() {
        let written = edit_with("printf 'and handle an empty list\\n' >>", "Also ");
        assert_eq!(written.as_deref(), Ok("Also and handle an empty list\n"));
    }

    #[test]
    fn a_failing_editor_sends_nothing() {
        let failed = edit_with("false", "text").expect_err("the editor failed");
        assert!(failed.starts_with("the editor `false` failed"), "{failed}");
        assert!(failed.ends_with(": nothing sent"), "{failed}");
    }
}

//! The client side of the control protocol, used by agenthost's commands. Blocking: a
//! command sends one request and waits for one answer.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::SupervisorError;
use super::protocol::{Envelope, HEARTBEAT, MAX_LINE, Request, Response, VERSION};
use super::store::Change;
use crate::state_dir::StateDirs;

/// How long to wait for a supervisor started on demand to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Talks to the user's supervisor.
#[derive(Debug, Clone)]
pub struct Client {
    dirs: StateDirs,
    exe: Option<PathBuf>,
    env: Vec<(String, PathBuf)>,
}

impl Client {
    /// A client for the supervisor that owns `dirs`; a supervisor it starts on demand is
    /// this same agenthost binary.
    pub fn new(dirs: StateDirs) -> Client {
        Client {
            dirs,
            exe: None,
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for a supervisor this client starts on demand (the
    /// demo points `AGENTHOST_CONFIG` at its own empty config, for example).
    pub fn env(mut self, key: &str, value: PathBuf) -> Client {
        self.env.push((key.to_string(), value));
        self
    }

    /// A client that starts supervisors on demand from the agenthost binary at `exe` (for
    /// callers that are not the agenthost binary themselves, such as tests).
    pub fn with_exe(dirs: StateDirs, exe: PathBuf) -> Client {
        Client {
            dirs,
            exe: Some(exe),
            env: Vec::new(),
        }
    }

    /// The supervisor's log file (when started on demand).
    pub fn log_path(&self) -> PathBuf {
        self.dirs.root.join("supervisor.log")
    }

    /// Sends `request` to a running supervisor; an error if none is running.
    pub fn request(&self, request: Request) -> Result<Response, SupervisorError> {
        let response = self
            .send(&request)
            .map_err(|reason| self.unreachable(reason))?;
        match response {
            Response::Error { message, help } => Err(SupervisorError::Refused { message, help }),
            other => Ok(other),
        }
    }

    /// Sends `request`, starting a supervisor in the background first if none is running.
    pub fn request_starting(&self, request: Request) -> Result<Response, SupervisorError> {
        if self.send(&Request::Ping).is_err() {
            self.start()?;
        }
        self.request(request)
    }

    /// Sends `request`, starting a supervisor first if none is running, and waits for its
    /// answer, handing each [`Response::Progress`] line before it to `progress` (an accept
    /// whose checks run again may take minutes).
    pub fn request_following(
        &self,
        request: Request,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Response, SupervisorError> {
        if self.send(&Request::Ping).is_err() {
            self.start()?;
        }
        let stream = self
            .connect(&request)
            .map_err(|reason| self.unreachable(reason))?;
        let mut reader = BufReader::new(stream);
        loop {
            let mut line = String::new();
            let read = (&mut reader)
                .take(MAX_LINE as u64)
                .read_line(&mut line)
                .map_err(|err| self.unreachable(format!("cannot read the answer: {err}")))?;
            if read == 0 {
                return Err(self
                    .unreachable("the supervisor closed the connection before answering".into()));
            }
            let response: Response = serde_json::from_str(&line)
                .map_err(|err| self.unreachable(format!("invalid answer: {err}")))?;
            match response {
                Response::Progress { message } => {
                    if let Some(message) = message {
                        progress(&message);
                    }
                }
                Response::Error { message, help } => {
                    return Err(SupervisorError::Refused { message, help });
                }
                other => return Ok(other),
            }
        }
    }

    /// Whether a supervisor answers.
    pub fn is_running(&self) -> bool {
        matches!(self.send(&Request::Ping), Ok(Response::Pong { .. }))
    }

    fn unreachable(&self, reason: String) -> SupervisorError {
        SupervisorError::Unreachable {
            socket: self.dirs.control_socket(),
            reason,
            log: self.log_path(),
        }
    }

    /// Starts `agenthost serve` detached (its own process group, output to the log file),
    /// and waits until it answers.
    fn start(&self) -> Result<(), SupervisorError> {
        super::server::private_dir(&self.dirs.root)?;
        let log_path = self.log_path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| SupervisorError::Io {
                action: "cannot open",
                path: log_path.clone(),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| SupervisorError::Io {
            action: "cannot open",
            path: log_path.clone(),
            source,
        })?;
        let exe = match &self.exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe().map_err(|source| SupervisorError::Io {
                action: "cannot find the agenthost binary",
                path: PathBuf::from("/proc/self/exe"),
                source,
            })?,
        };
        let mut child = {
            use std::os::unix::process::CommandExt as _;
            // The supervisor must use exactly the directories this client computed.
            Command::new(&exe)
                .arg("serve")
                .env("AGENTHOST_STATE_DIR", &self.dirs.root)
                .env("AGENTHOST_RUNTIME_DIR", &self.dirs.runtime)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .process_group(0)
                .spawn()
                .map_err(|source| SupervisorError::Io {
                    action: "cannot start",
                    path: exe.clone(),
                    source,
                })?
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.is_running() {
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                // It may have lost a race with another supervisor that is now up.
                if self.is_running() {
                    return Ok(());
                }
                return Err(self.unreachable(format!(
                    "the supervisor started on demand exited ({status})"
                )));
            }
            if Instant::now() > deadline {
                return Err(self.unreachable(format!(
                    "the supervisor started on demand did not answer within {}s",
                    START_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Opens a watch: every change to any task from now on, as the supervisor commits it.
    /// Needs a running supervisor (see [`Client::request_starting`]).
    pub fn watch(&self) -> Result<Watch, SupervisorError> {
        let stream = self
            .connect(&Request::Watch)
            .map_err(|reason| self.unreachable(reason))?;
        // The stream may be quiet for hours: no read timeout.
        stream
            .set_read_timeout(None)
            .map_err(|err| self.unreachable(err.to_string()))?;
        let mut watch = Watch {
            reader: BufReader::new(stream),
        };
        match watch.read()? {
            Some(Response::Watching) => Ok(watch),
            Some(Response::Error { message, help }) => {
                Err(SupervisorError::Refused { message, help })
            }
            Some(other) => Err(SupervisorError::Protocol {
                detail: format!("unexpected answer to watch: {other:?}"),
            }),
            None => Err(self.unreachable("the supervisor closed the connection".into())),
        }
    }

    /// Connects and sends `request`; the error is a reason in words.
    fn connect(&self, request: &Request) -> Result<UnixStream, String> {
        let token_path = self.dirs.runtime.join("token");
        let token = std::fs::read_to_string(&token_path)
            .map_err(|err| format!("no supervisor token ({}: {err})", token_path.display()))?;
        let socket = self.dirs.control_socket();
        let mut stream = UnixStream::connect(&socket).map_err(|err| err.to_string())?;
        // A supervisor that answers nothing for this long is stuck (an accept's progress
        // lines come every `HEARTBEAT`).
        stream
            .set_read_timeout(Some(HEARTBEAT * 3))
            .map_err(|err| err.to_string())?;
        let envelope = Envelope {
            version: VERSION,
            token: token.trim().to_string(),
            request: request.clone(),
        };
        let mut line = serde_json::to_string(&envelope).map_err(|err| err.to_string())?;
        line.push('\n');
        stream
            .write_all(line.as_bytes())
            .map_err(|err| format!("cannot send: {err}"))?;
        Ok(stream)
    }

    /// One round trip; the error is a reason in words.
    fn send(&self, request: &Request) -> Result<Response, String> {
        let stream = self.connect(request)?;
        let mut answer = String::new();
        BufReader::new(stream.take(MAX_LINE as u64))
            .read_line(&mut answer)
            .map_err(|err| format!("cannot read the answer: {err}"))?;
        serde_json::from_str(&answer).map_err(|err| format!("invalid answer: {err}"))
    }
}

/// An open watch ([`Client::watch`]): the supervisor's changes, one at a time.
#[derive(Debug)]
pub struct Watch {
    reader: BufReader<UnixStream>,
}

impl Watch {
    /// Waits for the next change; `None` when the supervisor closed the connection (it
    /// stopped).
    pub fn next_change(&mut self) -> Result<Option<Change>, SupervisorError> {
        match self.read()? {
            Some(Response::Changed { change }) => Ok(Some(change)),
            Some(other) => Err(SupervisorError::Protocol {
                detail: format!("unexpected line on a watch: {other:?}"),
            }),
            None => Ok(None),
        }
    }

    /// Reads one response line; `None` at the end of the stream.
    fn read(&mut self) -> Result<Option<Response>, SupervisorError> {
        let mut line = String::new();
        let read = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_line(&mut line)
            .map_err(|err| SupervisorError::Protocol {
                detail: format!("cannot read from the watch: {err}"),
            })?;
        if read == 0 {
            return Ok(None);
        }
        serde_json::from_str(&line)
            .map(Some)
            .map_err(|err| SupervisorError::Protocol {
                detail: format!("invalid line on the watch: {err}"),
            })
    }
}

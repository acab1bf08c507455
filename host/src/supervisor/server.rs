//! The supervisor process: owns the state database, listens on the control socket, and
//! (as the lifecycle grows) queues, admits and runs tasks across all of the user's
//! repositories.
//!
//! One supervisor per user: it holds an exclusive lock on `<state>/supervisor.lock` for its
//! whole life, so a second one refuses to start. On start it stops whatever the last one's
//! jobs left running (`runner::survivors`), then marks tasks that were running when the
//! last one stopped as `interrupted` (their worktrees are left as they are).

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use super::context::Context;
use super::error::SupervisorError;
use super::log;
use super::protocol::{Envelope, HEARTBEAT, MAX_LINE, Request, Response, VERSION, tokens_match};
use super::scheduler::{AcceptRequest, Scheduler};
use super::store::Store;
use crate::state_dir::StateDirs;

/// How long running agents get to stop when the supervisor shuts down.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// How long recovery waits for each job the last supervisor left (its reaper, then what it
/// kills), at start-up, before the control socket is up.
const RECOVERY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// What every connection handler shares.
struct Shared {
    token: String,
    scheduler: Arc<Scheduler>,
    shutdown: Notify,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SupervisorError {
    let path = path.to_path_buf();
    move |source| SupervisorError::Io {
        action,
        path,
        source,
    }
}

/// Creates `path` (and parents) with mode 0700, and tightens an existing one to 0700.
pub fn private_dir(path: &Path) -> Result<(), SupervisorError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io("cannot create", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(io("cannot restrict", path))
}

/// Writes `contents` to `path` with mode 0600, atomically (write, then rename).
fn write_private(path: &Path, contents: &str) -> Result<(), SupervisorError> {
    let temp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io("cannot write", &temp))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("cannot write", &temp))?;
    std::fs::rename(&temp, path).map_err(io("cannot write", path))
}

/// 32 random bytes from the kernel, as hex.
fn new_token() -> Result<String, SupervisorError> {
    let path = Path::new("/dev/urandom");
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(
        &mut File::open(path).map_err(io("cannot open", path))?,
        &mut bytes,
    )
    .map_err(io("cannot read", path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Runs the supervisor until it is asked to stop (`agenthost serve --stop`, SIGTERM or
/// Ctrl-C).
pub fn serve(dirs: &StateDirs) -> Result<(), SupervisorError> {
    private_dir(&dirs.root)?;
    private_dir(&dirs.runtime)?;

    let lock_path = dirs.root.join("supervisor.lock");
    let mut lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io("cannot open", &lock_path))?;
    // A read-only verb asking whether a supervisor runs holds a shared lock for a moment
    // (`liveness`): try again for a little while before taking it for another supervisor.
    let patient = std::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < patient => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(SupervisorError::AlreadyRunning { lock: lock_path });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(io("cannot lock", &lock_path)(source));
            }
        }
    }
    lock.set_len(0)
        .and_then(|()| writeln!(lock, "{}", std::process::id()))
        .map_err(io("cannot write", &lock_path))?;

    // Before any task can be resumed: nothing a job of the last supervisor started may
    // still run (its reaper normally ended it when that supervisor died).
    for line in crate::runner::survivors::stop_all(&dirs.logs(), RECOVERY_PATIENCE) {
        log(&line);
    }
    let mut store = Store::open(&dirs.database())?;
    for id in store.recover()? {
        log(&format!(
            "task {id} was running when the supervisor stopped: now interrupted"
        ));
    }
    // An accept whose checks ran again in a task's worktree left it on the merged change.
    for line in super::lifecycle::restore_interrupted_rechecks(dirs, &store) {
        log(&line);
    }

    let token = new_token()?;
    let token_path = dirs.runtime.join("token");
    write_private(&token_path, &token)?;

    let socket_path = dirs.control_socket();
    // Bound under another name and restricted first, then moved into place: the socket
    // never appears with looser permissions than 0600, not even for an instant.
    let bound_path = socket_path.with_extension("binding");
    for stale in [&socket_path, &bound_path] {
        match std::fs::remove_file(stale) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io("cannot remove the stale socket", stale)(err)),
        }
    }
    let listener = std::os::unix::net::UnixListener::bind(&bound_path)
        .map_err(io("cannot listen on", &bound_path))?;
    std::fs::set_permissions(&bound_path, std::fs::Permissions::from_mode(0o600))
        .map_err(io("cannot restrict", &bound_path))?;
    std::fs::rename(&bound_path, &socket_path).map_err(io("cannot listen on", &socket_path))?;
    listener
        .set_nonblocking(true)
        .map_err(io("cannot configure", &socket_path))?;

    let exe = std::env::current_exe().map_err(io("cannot find", Path::new("/proc/self/exe")))?;
    let ctx = Arc::new(Context {
        dirs: dirs.clone(),
        exe,
        host_env: std::env::vars().collect(),
        home: crate::confinement::home_dir(),
        store: Arc::new(Mutex::new(store)),
        policies: super::decide::Policies::new(),
    });
    let scheduler = Scheduler::new(ctx);
    let shared = Arc::new(Shared {
        token,
        scheduler: Arc::clone(&scheduler),
        shutdown: Notify::new(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("cannot start the async runtime for", &socket_path))?;
    log(&format!(
        "supervisor {} listening on {}",
        std::process::id(),
        socket_path.display()
    ));
    let result = runtime.block_on(async {
        tokio::spawn(Arc::clone(&scheduler).run());
        let result = accept_loop(listener, shared, &socket_path).await;
        scheduler.interrupt_all(SHUTDOWN_GRACE).await;
        result
    });

    // Whatever happened, leave no socket or token behind for clients to trip over.
    let _ = std::fs::remove_file(&socket_path);
    let _ = std::fs::remove_file(&token_path);
    log("supervisor stopped");
    drop(lock);
    result
}

async fn accept_loop(
    listener: std::os::unix::net::UnixListener,
    shared: Arc<Shared>,
    socket_path: &Path,
) -> Result<(), SupervisorError> {
    let listener = UnixListener::from_std(listener).map_err(io("cannot listen on", socket_path))?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(io("cannot handle signals for", socket_path))?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move { handle(stream, shared).await });
                }
                Err(err) => log(&format!("accept failed: {err}")),
            },
            () = shared.shutdown.notified() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// Serves one connection: one request, one response; or, for a watch, a stream of changes.
async fn handle(stream: UnixStream, shared: Arc<Shared>) {
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(reader.take(MAX_LINE as u64));
    let response = match reader.read_line(&mut line).await {
        Ok(_) => match authenticate(&line, &shared) {
            Ok(Request::Watch) => return watch(reader, writer, &shared).await,
            Ok(Request::Accept {
                id,
                strategy,
                force,
            }) => {
                let request = AcceptRequest {
                    id,
                    strategy,
                    force,
                };
                return accept(reader, writer, request, &shared).await;
            }
            Ok(request) => answer(request, &shared),
            Err(refusal) => refusal,
        },
        Err(err) => Response::Error {
            message: format!("cannot read the request: {err}"),
            help: "send one JSON request per line".into(),
        },
    };
    if let Err(err) = send(&mut writer, &response).await {
        log(&format!("cannot answer a client: {err}"));
    }
}

/// Writes one response line.
async fn send(
    writer: &mut tokio::net::unix::OwnedWriteHalf,
    response: &Response,
) -> std::io::Result<()> {
    let mut text = serde_json::to_string(response).unwrap_or_else(|err| {
        format!(r#"{{"result":"error","message":"cannot encode the response: {err}","help":""}}"#)
    });
    text.push('\n');
    writer.write_all(text.as_bytes()).await
}

/// Serves a watching client: [`Response::Watching`], then every change as it is committed,
/// until the client closes the connection (or the supervisor stops).
async fn watch(
    mut reader: BufReader<tokio::io::Take<tokio::net::unix::OwnedReadHalf>>,
    mut writer: tokio::net::unix::OwnedWriteHalf,
    shared: &Shared,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut changes = shared.scheduler.subscribe();
    if send(&mut writer, &Response::Watching).await.is_err() {
        return;
    }
    let mut rest = Vec::new();
    loop {
        let change = tokio::select! {
            received = changes.recv() => match received {
                Ok(change) => change,
                Err(RecvError::Lagged(count)) => super::store::Change::Missed { count },
                Err(RecvError::Closed) => return,
            },
            // A watching client sends nothing more: end of input means it left.
            read = reader.read_to_end(&mut rest) => {
                let _ = read;
                return;
            }
        };
        if send(&mut writer, &Response::Changed { change })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Serves an accept: [`Response::Progress`] lines while it runs (one at least every
/// [`HEARTBEAT`]), then its answer. A client that goes away stops it: nothing is accepted
/// then.
async fn accept(
    mut reader: BufReader<tokio::io::Take<tokio::net::unix::OwnedReadHalf>>,
    mut writer: tokio::net::unix::OwnedWriteHalf,
    request: AcceptRequest,
    shared: &Shared,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (canceller, future) = shared.scheduler.start_accept(request, tx);
    let mut accepting = tokio::spawn(future);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let (mut rest, mut client_gone) = (Vec::new(), false);
    loop {
        let line = tokio::select! {
            ended = &mut accepting => {
                while let Ok(message) = rx.try_recv() {
                    let _ = send(&mut writer, &Response::Progress { message: Some(message) }).await;
                }
                let response = ended.unwrap_or_else(|err| Response::Error {
                    message: format!("the accept failed: {err}"),
                    help: "see the supervisor's log; nothing was accepted unless `agenthost status` says so".into(),
                });
                if let Err(err) = send(&mut writer, &response).await {
                    log(&format!("cannot answer a client: {err}"));
                }
                return;
            }
            Some(message) = rx.recv() => Response::Progress { message: Some(message) },
            _ = heartbeat.tick() => Response::Progress { message: None },
            read = reader.read_to_end(&mut rest), if !client_gone => {
                let _ = read;
                client_gone = true;
                log("an accept's client went away: stopping it");
                canceller.cancel();
                continue;
            }
        };
        if !client_gone && send(&mut writer, &line).await.is_err() {
            client_gone = true;
            canceller.cancel();
        }
    }
}

/// Checks one request line's token and version: the request, or the refusal to send.
fn authenticate(line: &str, shared: &Shared) -> Result<Request, Response> {
    let envelope: Envelope = match serde_json::from_str(line) {
        Ok(envelope) => envelope,
        Err(err) => {
            return Err(Response::Error {
                message: format!("invalid request: {err}"),
                help: "send one JSON request per line".into(),
            });
        }
    };
    if !tokens_match(&envelope.token, &shared.token) {
        log("refused a request with a wrong token");
        return Err(Response::Error {
            message: "wrong token".into(),
            help: "the token is in agenthost's runtime directory; only the user who started the supervisor can read it".into(),
        });
    }
    if envelope.version != VERSION {
        return Err(Response::Error {
            message: format!(
                "this supervisor speaks protocol {VERSION}, the client {}",
                envelope.version
            ),
            help: "restart the supervisor with the same agenthost: `agenthost serve --stop`, then run your command again".into(),
        });
    }
    Ok(envelope.request)
}

/// Carries out one authenticated request.
fn answer(request: Request, shared: &Shared) -> Response {
    match request {
        Request::Ping => Response::Pong {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        Request::Shutdown => {
            log("shutdown requested");
            shared.shutdown.notify_one();
            Response::Ok
        }
        request => shared.scheduler.handle(request),
    }
}

//! `agenthost serve` and `status`: one supervisor per user, a private token-authenticated
//! socket, recovery after a crash.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use agenthost::state_dir::StateDirs;
use agenthost::supervisor::Client;
use agenthost::supervisor::protocol::{Request, Response};
use agenthost::supervisor::store::{NewTask, Store};
use agenthost::task::TaskState;

use crate::Test;

/// A supervisor started with `agenthost serve` for one test; stopped (or killed) on drop.
struct Supervisor {
    child: Child,
}

impl Supervisor {
    fn start(test: &Test) -> Supervisor {
        let child = test
            .command()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let socket = test.state_dir().join("run/control.sock");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "the supervisor did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Supervisor { child }
    }

    fn wait(mut self) -> std::process::Output {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "the supervisor did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let child = std::mem::replace(
            &mut self.child,
            std::process::Command::new("true")
                .spawn()
                .expect("spawn true"),
        );
        child.wait_with_output().expect("output")
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dirs(test: &Test) -> StateDirs {
    StateDirs {
        root: test.state_dir(),
        runtime: test.state_dir().join("run"),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn status_without_any_state() {
    let run = Test::new().arg("status").run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout,
        "no tasks (use --all to include finished ones)\n"
    );
    let run = Test::new().args(["ls", "--json"]).run();
    assert_eq!(run.stdout, "[]\n");
}

#[test]
fn serve_is_private_single_and_stoppable() {
    let test = Test::new();
    let supervisor = Supervisor::start(&test);
    let state = test.state_dir();
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("run")), 0o700);
    assert_eq!(mode(&state.join("run/control.sock")), 0o600);
    assert_eq!(mode(&state.join("run/token")), 0o600);

    let second = test.exec(&["serve"]);
    assert_eq!(second.code, 2, "{}", second.transcript());
    assert!(
        second.stderr.contains("already running"),
        "{}",
        second.stderr
    );

    let stop = test.exec(&["serve", "--stop"]);
    assert_eq!(stop.code, 0, "{}", stop.transcript());
    assert_eq!(stop.stdout, "supervisor stopped\n");
    let output = supervisor.wait();
    assert!(output.status.success());
    assert!(!state.join("run/control.sock").exists());
    assert!(!state.join("run/token").exists());

    let again = test.exec(&["serve", "--stop"]);
    assert_eq!(again.stdout, "no supervisor is running\n");
}

#[test]
fn wrong_token_is_refused() {
    let test = Test::new();
    let _supervisor = Supervisor::start(&test);
    let mut stream =
        UnixStream::connect(test.state_dir().join("run/control.sock")).expect("connect");
    stream
        .write_all(b"{\"version\":1,\"token\":\"guess\",\"request\":{\"op\":\"shutdown\"}}\n")
        .expect("send");
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).expect("read");
    let response: Response = serde_json::from_str(&answer).expect("a response");
    assert!(
        matches!(&response, Response::Error { message, .. } if message == "wrong token"),
        "{response:?}"
    );
    // Still serving: the right token works.
    let client = Client::new(dirs(&test));
    assert!(client.is_running());
}

#[test]
fn started_on_demand_and_recovers_running_tasks() {
    let test = Test::new();
    let dirs = dirs(&test);
    std::fs::create_dir_all(&dirs.root).expect("mkdir");
    {
        let mut store = Store::open(&dirs.database()).expect("open store");
        for id in ["was-running", "was-queued"] {
            store
                .insert_task(&NewTask {
                    id: id.into(),
                    repo: "/repo".into(),
                    spec_path: "/repo/spec.md".into(),
                    spec_text: "# T\n".into(),
                    spec_digest: "sha256:00".into(),
                    title: format!("Task {id}"),
                    agent: "script".into(),
                    base_branch: Some("main".into()),
                    base_commit: "abc".into(),
                    branch: format!("agenthost/{id}"),
                    worktree: format!("/wt/{id}").into(),
                    env: Default::default(),
                })
                .expect("insert");
        }
        store
            .transition("was-running", TaskState::Running, "admitted")
            .expect("transition");
    }
    // Start on demand, the way commands that need the supervisor do; stop it however the
    // test ends.
    struct Stop<'a>(&'a Test);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.exec(&["serve", "--stop"]);
        }
    }
    let _stop = Stop(&test);
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_agenthost"));
    let client = Client::with_exe(dirs.clone(), exe);
    let response = client.request_starting(Request::Ping).expect("ping");
    assert!(matches!(response, Response::Pong { .. }), "{response:?}");

    let run = test.exec(&["status", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let state_of = |id: &str| {
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["state"].as_str().unwrap().to_string())
    };
    assert_eq!(state_of("was-running").as_deref(), Some("interrupted"));
    // The queued one is not touched by recovery; the scheduler then tries it, and its
    // repository does not exist, so it fails with the reason in its events.
    assert_ne!(state_of("was-queued").as_deref(), Some("interrupted"));
    let human = test.exec(&["status"]);
    assert!(human.stdout.starts_with("ID"), "{}", human.stdout);
    assert!(
        human.stdout.contains("Task was-running"),
        "{}",
        human.stdout
    );

    let stop = test.exec(&["serve", "--stop"]);
    assert_eq!(stop.stdout, "supervisor stopped\n", "{}", stop.transcript());
    assert!(test.state_dir().join("supervisor.log").exists());
}

/// An agent in the sandbox cannot drive the supervisor: without the unix-socket grant it
/// cannot even make a socket; with it, it can reach the socket but cannot read the token,
/// and a guessed token is refused. The supervisor keeps serving either way.
#[test]
fn a_sandboxed_agent_cannot_use_the_control_socket() {
    let test = Test::new()
        .file("repo/README.md", "hi\n")
        .file("repo/task.md", "# T\n### Scope\n- Modify: `README.md`\n")
        .file(
            "repo/agenthost.toml",
            "[agents.sockets]\ncommand = [\"true\"]\nunix_sockets = true\n",
        )
        .git_repo("repo");
    let _supervisor = Supervisor::start(&test);
    let run_dir = test.state_dir().join("run");
    let script = format!(
        r#"
import socket
try:
    open("{token}").read()
    print("TOKEN READ")
except OSError as e:
    print("token refused:", e.errno)
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
except OSError as e:
    print("socket refused:", e.errno)
    raise SystemExit(0)
try:
    s.connect("{sock}")
    s.sendall(b'{{"version":1,"token":"guess","request":{{"op":"shutdown"}}}}\n')
    print("answer:", s.recv(4096).decode().strip())
except OSError as e:
    print("connect refused:", e.errno)
"#,
        token = run_dir.join("token").display(),
        sock = run_dir.join("control.sock").display(),
    );
    for profile in ["script", "sockets"] {
        let run = test.exec(&[
            "sandbox",
            "--spec",
            "repo/task.md",
            "--profile",
            profile,
            "--",
            "python3",
            "-c",
            &script,
        ]);
        assert_eq!(run.code, 0, "{profile}: {}", run.transcript());
        assert!(
            run.stdout.contains("token refused: 13"),
            "{profile}: {}",
            run.transcript()
        );
        assert!(
            !run.stdout.contains("TOKEN READ"),
            "{profile}: {}",
            run.transcript()
        );
        if profile == "script" {
            assert!(
                run.stdout.contains("socket refused:"),
                "{}",
                run.transcript()
            );
        } else {
            assert!(
                run.stdout.contains("wrong token") || run.stdout.contains("connect refused"),
                "{}",
                run.transcript()
            );
        }
        assert!(
            Client::new(dirs(&test)).is_running(),
            "{profile}: the supervisor stopped"
        );
    }
}

//! Tests of the launch: processes started in a plan's sandbox, and what they can do.

use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, Stdio};

use super::*;
use crate::plan::{FsRule, NetPlan, Provenance, rights};

/// A best-effort plan (so that it runs on any kernel) that may read and run the system.
fn plan() -> SandboxPlan {
    let fs = ["/usr", "/bin", "/lib", "/lib64", "/etc", "/proc"]
        .into_iter()
        .map(|p| FsRule {
            path: PathBuf::from(p),
            target: Target::Tree,
            rights: rights::READ_EXEC.to_vec(),
            provenance: Provenance::new("test", "system"),
            optional: true,
        })
        .collect();
    SandboxPlan {
        enforcement: Enforcement::BestEffort,
        fs,
        net: NetPlan::default(),
        scope_signals_and_abstract_sockets: false,
        env: [("PATH".to_string(), "/usr/bin:/bin".to_string())].into(),
        cwd: PathBuf::from("/"),
        tmpdir: PathBuf::from("/tmp"),
        mounts: Default::default(),
    }
}

/// `sh` waiting for one line on stdin, then exiting with 3.
fn waiting_shell() -> Command {
    let restriction = Restriction::prepare(&plan(), &Support::probe()).unwrap();
    let argv = ["/bin/sh", "-c", "read line; exit 3"].map(OsString::from);
    let mut command = restriction.command(&argv).unwrap();
    command.stdin(Stdio::piped());
    command
}

/// Spawns on a short-lived thread (through `spawn_lasting` or not), waits until that
/// thread is gone for good (its pdeath signals are sent by then), then lets the child
/// finish and returns how it ended.
fn spawn_from_a_retiring_thread(lasting: bool) -> std::process::ExitStatus {
    let mut command = waiting_shell();
    let (child, tid) = std::thread::spawn(move || {
        let tid = rustix::thread::gettid().as_raw_nonzero().get();
        let child: Child = if lasting {
            spawn_lasting(move || command.spawn()).unwrap().unwrap()
        } else {
            command.spawn().unwrap()
        };
        (child, tid)
    })
    .join()
    .unwrap();
    let task = PathBuf::from(format!("/proc/self/task/{tid}"));
    while task.exists() {
        std::thread::yield_now();
    }
    let mut child = child;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"go\n");
    }
    child.wait().unwrap()
}

#[test]
fn a_child_forked_off_the_main_thread_survives_that_thread() {
    let status = spawn_from_a_retiring_thread(true);
    assert_eq!(status.code(), Some(3), "{status:?}");
}

#[test]
fn without_spawn_lasting_the_death_signal_follows_the_thread() {
    // The pitfall `spawn_lasting` exists for: PR_SET_PDEATHSIG fires when the forking
    // thread exits, although the process lives on.
    let status = spawn_from_a_retiring_thread(false);
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
}

/// A signal that comes after the handlers are installed but before the command runs is
/// held, and passed on once it does (at its default action it would end this process).
/// Held by the tests that install [`ForwardedSignals`]: its handlers and held signals
/// are the whole process's.
static PROCESS_SIGNALS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_signal_before_the_command_starts_is_passed_on_once_it_runs() {
    let _signals_lock = PROCESS_SIGNALS.lock().unwrap_or_else(|e| e.into_inner());
    let restriction = Restriction::prepare(&plan(), &Support::probe()).unwrap();
    let signals = ForwardedSignals::install();
    if !signals.handled.contains(&libc::SIGTERM) {
        eprintln!("skipped: this test process was started with SIGTERM ignored");
        return;
    }
    // Sent to this process and handled on this thread before `kill` returns.
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
        .unwrap();
    let argv = ["/bin/sh", "-c", "sleep 30"].map(OsString::from);
    let child = restriction.spawn(&argv).unwrap();
    let status = signals.wait(child).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

/// Ctrl-Z before the command runs is held too, then stops the command and this process
/// together: stopping this process alone would leave the command running. A watcher
/// process waits until this one is stopped, names this process's stopped children
/// (waiting a little, as SIGSTOP takes effect when its target is next scheduled), and
/// continues it (SIGCONT, passed on, continues the command).
#[test]
fn a_stop_before_the_command_starts_stops_it_once_it_runs() {
    let _signals_lock = PROCESS_SIGNALS.lock().unwrap_or_else(|e| e.into_inner());
    let restriction = Restriction::prepare(&plan(), &Support::probe()).unwrap();
    let signals = ForwardedSignals::install();
    if !signals.handled.contains(&libc::SIGTSTP) {
        eprintln!("skipped: this test process was started with SIGTSTP ignored");
        return;
    }
    let watcher = Command::new("/bin/sh")
        .arg("-c")
        .arg(
            r#"me=$1
            for _ in $(seq 1000); do
                read -r _ _ state _ < /proc/$me/stat
                [ "$state" = T ] && break
                sleep 0.01
            done
            for _ in $(seq 300); do
                stopped=$(for stat in /proc/[0-9]*/stat; do
                    read -r pid _ state parent _ < "$stat" 2>/dev/null || continue
                    [ "$parent" = "$me" ] && [ "$state" = T ] && echo "$pid"
                done)
                [ -n "$stopped" ] && break
                sleep 0.01
            done
            echo "$stopped"
            kill -CONT "$me""#,
        )
        .arg("watcher")
        .arg(std::process::id().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TSTP)
        .unwrap();
    // Long enough to be stopped before it ends, and no shell: dash vforks `sleep`, and a
    // shell waiting for a vfork child that is stopped before its `execve` shows `D`.
    let argv = ["sleep", "1"].map(OsString::from);
    let child = restriction.spawn(&argv).unwrap();
    let command = child.id();
    let status = signals.wait(child).unwrap();
    let stopped = String::from_utf8(watcher.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        stopped.lines().any(|pid| pid == command.to_string()),
        "command {command} was not stopped with this process; stopped children: {stopped:?}"
    );
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_child_holds_no_capabilities_and_no_new_privileges() {
    let restriction = Restriction::prepare(&plan(), &Support::probe()).unwrap();
    let argv = [
        "/bin/sh",
        "-c",
        "grep -E '^(Cap|NoNewPrivs)' /proc/self/status",
    ]
    .map(OsString::from);
    let mut command = restriction.command(&argv).unwrap();
    let output = spawn_lasting(move || command.output()).unwrap().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    // The bounding set can only be emptied by a process that holds CAP_SETPCAP (root);
    // for anyone else no_new_privs already makes it unreachable.
    let mut sets = vec!["CapInh", "CapPrm", "CapEff", "CapAmb"];
    if rustix::process::geteuid().is_root() {
        sets.push("CapBnd");
    }
    for set in sets {
        assert!(
            text.contains(&format!("{set}:\t0000000000000000")),
            "{set} not empty:\n{text}"
        );
    }
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
}

#[test]
fn a_missing_required_path_is_named() {
    let mut plan = plan();
    plan.fs.push(FsRule {
        path: PathBuf::from("/nonexistent/agenthost-test"),
        target: Target::Tree,
        rights: rights::READ.to_vec(),
        provenance: Provenance::new("test", "required"),
        optional: false,
    });
    let support = Support::probe();
    if support.landlock_abi < 1 {
        assert!(
            std::env::var_os("AGENTHOST_REQUIRE_SANDBOX").is_none(),
            "AGENTHOST_REQUIRE_SANDBOX is set and this kernel has no Landlock"
        );
        eprintln!("skipped: this kernel has no Landlock");
        return;
    }
    let error = Restriction::prepare(&plan, &support).unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/agenthost-test"),
        "{error}"
    );
}

/// A plan that may also read and run `dir`, with `path` as its `PATH`.
fn plan_with_path(dir: &std::path::Path, path: String) -> SandboxPlan {
    let mut plan = plan();
    plan.fs.push(FsRule {
        path: dir.to_path_buf(),
        target: Target::Tree,
        rights: rights::READ_EXEC.to_vec(),
        provenance: Provenance::new("test", "programs"),
        optional: false,
    });
    plan.env = [("PATH".to_string(), path)].into();
    plan
}

fn write_program(path: &std::path::Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn spawn_status(plan: &SandboxPlan, argv: &[&str]) -> Result<ExitStatus, LaunchError> {
    let restriction = Restriction::prepare(plan, &Support::probe())?;
    let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
    let child = restriction.spawn(&argv)?;
    Ok(child.wait().unwrap())
}

#[test]
fn spawn_looks_the_program_up_on_the_plans_path_as_execvp_does() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    for sub in ["first", "second", "third"] {
        std::fs::create_dir(base.join(sub)).unwrap();
    }
    // Not executable in the first directory (remembered, skipped), a program in the
    // second, a different one in the third (never reached).
    write_program(&base.join("first/probe"), "#!/bin/sh\nexit 1\n", 0o644);
    write_program(&base.join("second/probe"), "#!/bin/sh\nexit 42\n", 0o755);
    write_program(&base.join("third/probe"), "#!/bin/sh\nexit 2\n", 0o755);
    // A script without `#!` runs with /bin/sh.
    write_program(&base.join("second/bare"), "exit 9\n", 0o755);
    let path = ["missing", "first", "second", "third"]
        .map(|d| base.join(d).display().to_string())
        .join(":");
    let plan = plan_with_path(&base, format!("{path}:/usr/bin:/bin"));

    // The host's PATH does not have these directories: found on the plan's.
    let status = spawn_status(&plan, &["probe"]).unwrap();
    assert_eq!(status.code(), Some(42), "{status:?}");
    let status = spawn_status(&plan, &["bare"]).unwrap();
    assert_eq!(status.code(), Some(9), "{status:?}");
    let status = spawn_status(&plan, &["sh", "-c", "exit 7"]).unwrap();
    assert_eq!(status.code(), Some(7), "{status:?}");
    let program = base.join("second/probe").display().to_string();
    let status = spawn_status(&plan, &[&program]).unwrap();
    assert_eq!(status.code(), Some(42), "{status:?}");

    let error = spawn_status(&plan, &["agenthost-no-such-program"]).unwrap_err();
    assert!(
        matches!(&error, LaunchError::Exec { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{error:?}"
    );
    assert_eq!(error.exit_code(), EXIT_NOT_FOUND);
    // Only a file that may not be executed: permission denied, as execvp reports it.
    let only_denied = plan_with_path(&base, base.join("first").display().to_string());
    let error = spawn_status(&only_denied, &["probe"]).unwrap_err();
    assert!(
        matches!(&error, LaunchError::Exec { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied),
        "{error:?}"
    );
    assert_eq!(error.exit_code(), EXIT_CANNOT_EXECUTE);
    assert!(matches!(
        spawn_status(&plan, &[]),
        Err(LaunchError::NoCommand)
    ));
}

#[test]
fn spawn_restricts_the_child_like_the_forked_one() {
    let argv = [
        "/bin/sh",
        "-c",
        "grep -q '^NoNewPrivs:\t1' /proc/self/status && grep -q '^CapEff:\t0000000000000000' /proc/self/status && [ \"$(ps -o sid= -p $$ | tr -d ' ')\" = $$ ]",
    ];
    let status = spawn_status(&plan(), &argv).unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// `sh -c SCRIPT` under the test plan, behind a reaper with `grace`, its stdin and
/// stdout piped.
fn reaped_shell(script: &str, grace: Duration) -> Child {
    let mut command = reaped_command(script, grace, true);
    spawn_lasting(move || command.spawn()).unwrap().unwrap()
}

/// `sh -c SCRIPT` behind a reaper with `grace`, under the test plan (`sandboxed`) or
/// with no restriction ([`apply_reaper_to`]), its stdin, stdout and stderr piped; to
/// be spawned.
fn reaped_command(script: &str, grace: Duration, sandboxed: bool) -> Command {
    // A shell gives its background jobs `/dev/null` for stdin.
    let mut plan = plan();
    plan.fs.push(FsRule {
        path: PathBuf::from("/dev/null"),
        target: Target::File,
        rights: rights::DEVICE_RW.to_vec(),
        provenance: Provenance::new("test", "null device"),
        optional: true,
    });
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if sandboxed {
        let restriction = Restriction::prepare(&plan, &Support::probe()).unwrap();
        restriction.apply_with_reaper_to(&mut command, grace);
    } else {
        apply_reaper_to(&mut command, grace);
    }
    command
}

/// The reaper outlives the process that started it: when that dies (here, as far as the
/// parent-death signal can tell, the thread that forked it: the pitfall of
/// [`spawn_lasting`] used as a stand-in for `kill -9` of the host), the reaper kills the
/// command at once, no grace, then everything it started, also a daemon in a session of
/// its own, and ends as the command did. Sandboxed and not (sandbox mode `off`).
#[test]
fn when_its_parent_dies_the_reaper_ends_everything_the_command_started() {
    for sandboxed in [true, false] {
        let marker = format!("40.{}{}", std::process::id(), u8::from(sandboxed));
        let script = format!(
            "setsid sh -c 'sleep {marker} & exec sleep {marker}' >/dev/null 2>&1 &
             sleep {marker} &
             echo started; grep '^NoNewPrivs' /proc/self/status; exec sleep {marker}"
        );
        // Long grace: were the parent's death a plain stop request, the test would wait.
        let mut command = reaped_command(&script, Duration::from_secs(60), sandboxed);
        let (die, dying) = mpsc::channel::<()>();
        let parent = std::thread::spawn(move || {
            let child = command.spawn().unwrap();
            let _ = dying.recv();
            child
        });
        let (mut stdout, mut stderr) = {
            // The thread hands the child back only as it ends, so read through /proc.
            let mut waited = 0;
            while sleeping(&marker).len() < 4 && waited < 1000 {
                std::thread::sleep(Duration::from_millis(10));
                waited += 1;
            }
            assert_eq!(
                sleeping(&marker).len(),
                4,
                "the command and daemons did not start"
            );
            die.send(()).unwrap();
            let mut child = parent.join().unwrap();
            let started = std::time::Instant::now();
            let status = child.wait().unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "killed at once, not after the grace"
            );
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
            (child.stdout.take().unwrap(), child.stderr.take().unwrap())
        };
        // Everything was reaped before the reaper ended: no wait needed.
        assert_eq!(sleeping(&marker), Vec::<String>::new(), "left running");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
        let no_new_privs = if sandboxed { "1" } else { "0" };
        assert_eq!(out, format!("started\nNoNewPrivs:\t{no_new_privs}\n"));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
        assert!(err.contains("is gone: killing the command"), "{err}");
    }
}

/// Without a sandbox (mode `off`), the reaper still ends what the command left when the
/// command ends: also a daemon in a session of its own.
#[test]
fn nothing_an_unrestricted_command_started_outlives_it_behind_a_reaper() {
    let marker = format!("50.{}", std::process::id());
    let script = format!(
        "setsid sh -c 'exec sleep {marker}' >/dev/null 2>&1 &
         while [ ! -e /proc/$!/stat ]; do sleep 0.01; done; sleep 0.2; exit 6"
    );
    let mut command = reaped_command(&script, Duration::from_secs(5), false);
    let status = spawn_lasting(move || command.status()).unwrap().unwrap();
    assert_eq!(status.code(), Some(6), "{status:?}");
    assert_eq!(sleeping(&marker), Vec::<String>::new(), "left running");
}

/// The processes on this machine running `sleep LENGTH`.
fn sleeping(length: &str) -> Vec<String> {
    let wanted = format!("sleep\0{length}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|cmdline| cmdline == wanted.as_bytes())
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The reaper ends everything the command started, also what left its process group
/// and session (`setsid`), and the children of that.
#[test]
fn nothing_the_command_started_outlives_it_behind_a_reaper() {
    // A sleep length nobody else uses, to find the daemons by.
    let marker = format!("30.{}", std::process::id());
    let script = format!(
        "setsid sh -c 'sleep {marker} & exec sleep {marker}' >/dev/null &
         echo started; read line; exit 4"
    );
    let mut child = reaped_shell(&script, Duration::from_secs(5));
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "started\n");
    let mut waited = 0;
    while sleeping(&marker).len() < 2 && waited < 1000 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    assert_eq!(sleeping(&marker).len(), 2, "the daemons did not start");
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(4),
        "the command's exit code: {status:?}"
    );
    assert_eq!(sleeping(&marker), Vec::<String>::new(), "left running");
}

#[test]
fn the_reaper_ends_as_the_command_did() {
    let status = reaped_shell("kill -TERM $$", Duration::from_secs(5))
        .wait()
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

/// Runs `script` behind a reaper with `grace`, waits for its first line (`ready`),
/// sends the reaper SIGTERM as the runner does to stop a job, and returns how the
/// reaper ended.
fn stopped_when_ready(script: &str, grace: Duration) -> std::process::ExitStatus {
    let mut child = reaped_shell(script, grace);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    let reaper = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(reaper, rustix::process::Signal::TERM).unwrap();
    child.wait().unwrap()
}

/// A stop request to the reaper reaches the command, which ends as it chooses.
#[test]
fn sigterm_to_the_reaper_reaches_the_command() {
    let script = "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    let status = stopped_when_ready(script, Duration::from_secs(30));
    assert_eq!(status.code(), Some(7), "{status:?}");
}

/// A command that does not end within the grace after a stop request is killed.
#[test]
fn a_command_that_ignores_the_stop_is_killed_after_the_grace() {
    let script = "trap '' TERM; echo ready; sleep 30";
    let status = stopped_when_ready(script, Duration::from_millis(200));
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
}

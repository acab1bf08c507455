//! `agenthost ui` end to end: the real cockpit in a real terminal (tmux), against a real
//! supervisor running the scripted agent under the real sandbox and policies. Launch two
//! tasks (one from the command line, one from the cockpit's `L`), watch them become ready
//! without touching a key, see a refusal on the status line, send a correction, open a
//! review, accept it, and find the change on the repository's base branch.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Test;
use crate::lifecycle::{StopSupervisor, file_in_head, sample};

/// A tmux server of the test's own (its socket in the test's temp dir), killed when the
/// test ends, pass or fail.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        // No user configuration: the test's terminal is tmux's defaults.
        command
            .arg("-S")
            .arg(&self.socket)
            .arg("-f")
            .arg("/dev/null");
        command
    }

    fn run(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().expect("run tmux");
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The screen, as text.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "ui"])
    }

    /// Sends keys (tmux key names: `Enter`, `Escape`, or literal text).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "ui"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits until the screen satisfies `done`; fails with the screen after `limit`.
    #[track_caller]
    fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn session_alive(&self) -> bool {
        self.command()
            .args(["has-session", "-t", "ui"])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The selected row of the queue (the line with `▸`).
fn selected_line(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains('▸'))
        .unwrap_or("")
        .to_string()
}

/// Selects the queue's row that contains `text`: from the top, one row down at a time,
/// each step waiting until the screen shows it (a key pressed on a screen not yet redrawn
/// would overshoot), within a deadline.
fn select(tmux: &Tmux, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    tmux.keys(&["g"]);
    std::thread::sleep(Duration::from_millis(300));
    loop {
        let before = selected_line(&tmux.screen());
        if before.contains(text) {
            return;
        }
        assert!(Instant::now() < deadline, "no row `{text}` to select");
        tmux.keys(&["j"]);
        let step = Instant::now() + Duration::from_secs(2);
        while selected_line(&tmux.screen()) == before && Instant::now() < step {
            std::thread::sleep(Duration::from_millis(50));
        }
        if selected_line(&tmux.screen()) == before {
            // The last row, or a reload moved the rows: start from the top again.
            tmux.keys(&["g"]);
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// `agenthost ui` in a 120x40 tmux pane, with the test's environment (its own HOME,
/// state and config); the exit status written to `ui.exit` when it ends, then the pane
/// kept open for `linger` seconds (the terminal's state after it can be asked then).
fn start_ui(test: &Test, linger: u32) -> Tmux {
    let tmux = Tmux {
        socket: test.path().join("tmux.sock"),
    };
    let command = test.command();
    let mut line = String::from("env -i TERM=screen");
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            line.push_str(&format!(
                " {}={}",
                key.to_string_lossy(),
                quote(&value.to_string_lossy())
            ));
        }
    }
    let exit_file = test.path().join("ui.exit");
    line.push_str(&format!(
        " sh -c '{} ui; echo $? > {}; sleep {linger}'",
        crate::binary().display(),
        exit_file.display()
    ));
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "ui",
        "-x",
        "120",
        "-y",
        "40",
        "-c",
        &test.path().display().to_string(),
        &line,
    ]);
    tmux
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

fn head_of_main(repo: &Path) -> String {
    let repo = git2::Repository::open(repo).expect("repo");
    repo.find_branch("main", git2::BranchType::Local)
        .expect("main")
        .get()
        .peel_to_commit()
        .expect("commit")
        .id()
        .to_string()
}

#[test]
fn launch_watch_review_and_accept_from_the_cockpit() {
    if !tmux_available() {
        eprintln!(
            "SKIPPED: tmux is not installed; the cockpit's end-to-end test drives it in tmux \
             (install it: apt-get install tmux)"
        );
        return;
    }
    let test = sample();
    let _stop = StopSupervisor(&test);
    let repo = test.path().join("repo");
    let base_before = head_of_main(&repo);

    let run = test.exec(&["launch", "repo/specs/csv-export.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let tmux = start_ui(&test, 0);
    tmux.wait_for(Duration::from_secs(30), "the cockpit", |s| {
        s.contains("Export items as CSV")
    });

    // The second task, launched from the cockpit.
    tmux.keys(&["L"]);
    tmux.wait_for(Duration::from_secs(10), "the launch dialog", |s| {
        s.contains("Launch a spec file")
    });
    tmux.keys(&["-l", "repo/specs/quantity-check.md"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(Duration::from_secs(60), "the launch to be reported", |s| {
        s.contains("✓ queued refuse-negative-quantities-when-loading-items")
    });

    // Both become ready with no key pressed: the supervisor's watch redraws the screen.
    let screen = tmux.wait_for(Duration::from_secs(240), "both tasks to be ready", |s| {
        s.contains("Needs review (2)")
    });
    assert!(screen.contains("blocking"), "{screen}");

    // The task whose tests fail: accepting it is refused, and the refusal is shown.
    select(&tmux, "Refuse negative");
    tmux.keys(&["a"]);
    tmux.wait_for(Duration::from_secs(10), "the accept dialog", |s| {
        s.contains("1 blocking finding(s): F accepts anyway")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for(Duration::from_secs(30), "the refusal", |s| {
        s.contains("✗ the supervisor says:") && s.contains("blocking finding")
    });
    assert_eq!(
        head_of_main(&repo),
        base_before,
        "a refused accept changes nothing"
    );

    // Sent back with a correction typed inline (pasted in one piece): attempt 2 runs.
    tmux.keys(&["c"]);
    tmux.wait_for(Duration::from_secs(10), "the correction dialog", |s| {
        s.contains("What should the agent change in") && s.contains("Ctrl-E: write it in $EDITOR")
    });
    tmux.keys(&["-l", "The check is backwards: raise only below zero."]);
    tmux.wait_for(Duration::from_secs(10), "the correction typed", |s| {
        s.contains("> The check is backwards: raise only below zero.")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for(Duration::from_secs(30), "the correction sent", |s| {
        s.contains(
            "✓ refuse-negative-quantities-when-loading-items queued again with the correction",
        )
    });

    // The clean one: its review, then accept (squash).
    select(&tmux, "Export items as CSV");
    tmux.keys(&["Enter"]);
    // The screen is written in pieces: wait for every part of the review.
    tmux.wait_for(Duration::from_secs(30), "the review", |s| {
        s.contains("Findings: none")
            && s.contains("Scope: create inventory/export.py")
            && s.contains("A inventory/export.py  +14 -0")
            && s.contains("+def to_csv(items):")
            && s.contains("n/N finding")
    });
    tmux.keys(&["a"]);
    tmux.wait_for(Duration::from_secs(10), "the accept dialog", |s| {
        s.contains("Enter: squash")
    });
    tmux.keys(&["Enter"]);
    let accepted = tmux.wait_for(Duration::from_secs(60), "the accept", |s| {
        s.contains("✓ accepted export-items-as-csv (squash) into main as")
    });
    assert!(accepted.contains("Done today (1)"), "{accepted}");
    assert_ne!(head_of_main(&repo), base_before, "main moved");
    let exported = file_in_head(&repo, "inventory/export.py").expect("merged into main");
    assert!(exported.contains("def to_csv(items):"), "{exported}");

    // q leaves, with status 0.
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.session_alive() {
        assert!(Instant::now() < deadline, "the cockpit did not quit on q");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::fs::read_to_string(test.path().join("ui.exit")).expect("exit status");
    assert_eq!(status.trim(), "0");
}

/// The processes below `pid`, with it.
fn descendants(pid: i32) -> Vec<i32> {
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        for (child, _) in crate::running_processes() {
            let ppid = std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    let fields: Vec<String> = stat
                        .rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                    fields.get(1)?.parse::<i32>().ok()
                });
            if ppid == Some(parent) && !found.contains(&child) {
                found.push(child);
            }
        }
        index += 1;
    }
    found
}

/// The `agenthost ui` process in the pane.
fn ui_pid(tmux: &Tmux) -> i32 {
    let pane: i32 = tmux
        .run(&["display-message", "-p", "-t", "ui", "#{pane_pid}"])
        .trim()
        .parse()
        .expect("pane pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = descendants(pane).into_iter().find(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).ends_with("\0ui\0"))
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "no `agenthost ui` below pane {pane}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_and_a_closed_terminal_end_it_cleanly() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux)");
        return;
    }
    let test = Test::new();
    let _stop = StopSupervisor(&test);
    let tmux = start_ui(&test, 30);
    tmux.wait_for(Duration::from_secs(30), "the empty cockpit", |s| {
        s.contains("No tasks yet.") && s.contains("q quit")
    });
    assert_eq!(
        tmux.run(&["display-message", "-p", "-t", "ui", "#{alternate_on}"])
            .trim(),
        "1",
        "the cockpit draws on the alternate screen"
    );
    // Resized to 80x24: drawn again at once, with the header's short labels.
    tmux.run(&["resize-window", "-t", "ui", "-x", "80", "-y", "24"]);
    tmux.wait_for(Duration::from_secs(10), "the redraw at 80x24", |s| {
        s.starts_with("agenthost · run 0/3 · wait 0") && s.lines().count() <= 24
    });
    let pid = ui_pid(&tmux);
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    crate::wait_until_exited(pid);
    crate::wait_until(Duration::from_secs(10), "the exit status", || {
        std::fs::read_to_string(test.path().join("ui.exit")).is_ok_and(|s| s.ends_with('\n'))
    });
    let status = std::fs::read_to_string(test.path().join("ui.exit")).expect("exit status");
    assert_eq!(status.trim(), "0");
    // The terminal as it was: the normal screen, the cursor shown.
    assert_eq!(
        tmux.run(&[
            "display-message",
            "-p",
            "-t",
            "ui",
            "#{alternate_on} #{cursor_flag}"
        ])
        .trim(),
        "0 1"
    );

    // Its terminal closed under it: it ends too (no process left spinning).
    tmux.run(&["respawn-pane", "-k", "-t", "ui"]);
    tmux.wait_for(Duration::from_secs(30), "the cockpit again", |s| {
        s.contains("No tasks yet.")
    });
    let pid = ui_pid(&tmux);
    let _ = tmux.command().arg("kill-server").output();
    crate::wait_until_exited(pid);
}

#[test]
fn without_a_terminal_it_says_so() {
    let run = Test::new().args(["ui"]).run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains(
            "`agenthost ui` needs a terminal: standard input and output must both be one"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("`agenthost status` prints the same tasks"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

/// The cockpit's live source on its own: a watch on the control socket is told every
/// state change of every task, in order, as the supervisor commits it.
#[test]
fn the_watch_tells_every_change() {
    use agenthost::state_dir::StateDirs;
    use agenthost::supervisor::Client;
    use agenthost::supervisor::store::Change;
    use agenthost::task::TaskState;

    let test = sample();
    let _stop = StopSupervisor(&test);
    // The first launch starts the supervisor, with the test's environment.
    let run = test.exec(&["launch", "repo/specs/csv-export.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    crate::lifecycle::wait_for_state(&test, "export-items-as-csv", &["ready"]);
    let dirs = StateDirs {
        root: test.state_dir(),
        runtime: test.state_dir().join("run"),
    };
    let mut watch = Client::new(dirs).watch().expect("watch");

    let reject = test.exec(&["reject", "export-items-as-csv"]);
    assert_eq!(reject.code, 0, "{}", reject.transcript());
    let launch = test.exec(&["launch", "repo/specs/quantity-check.md"]);
    assert_eq!(launch.code, 0, "{}", launch.transcript());
    let id = "refuse-negative-quantities-when-loading-items";

    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !seen.iter().any(|s: &String| s.ends_with("-> ready")) {
        assert!(Instant::now() < deadline, "no ready in {seen:?}");
        match watch.next_change().expect("a change") {
            Some(Change::State {
                id: task, from, to, ..
            }) => {
                let from = from.map_or("new".to_string(), |f| f.to_string());
                seen.push(format!("{task}: {from} -> {to}"));
            }
            Some(Change::Attempt { id: task, number }) => {
                seen.push(format!("{task}: attempt {number}"));
            }
            Some(Change::Held { .. } | Change::Missed { .. }) => {}
            None => panic!("the supervisor closed the watch; seen {seen:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "export-items-as-csv: ready -> rejected".to_string(),
            format!("{id}: new -> queued"),
            format!("{id}: queued -> running"),
            format!("{id}: attempt 1"),
            format!("{id}: running -> checking"),
            format!("{id}: checking -> ready"),
        ]
    );
    // A state the watch tells is the one the store has.
    assert_eq!(
        crate::lifecycle::task_state(&test, id),
        TaskState::Ready.to_string()
    );
}

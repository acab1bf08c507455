//! The mount layer through `agenthost launch`: an agent whose Scope grants save rights on
//! `inventory/` cannot change `inventory/report.py` (Do NOT modify) in any way, nor change
//! the metadata of anything outside its grants, while its own atomic-rename save lands.
//! Each attack prints a marker; the negative control runs the same agent with the sandbox
//! off and sees every attack land.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::Test;
use crate::lifecycle::{StopSupervisor, file_in_head, sample};

const SPEC: &str = "# Guarded change

## What

Mark the items module as changed.

### Scope
- Modify: `inventory/items.py`
- Do NOT modify `inventory/report.py`
";

/// The attacks, then the agent's own save (temp file plus rename, as editors do).
fn script(outside: &Path) -> String {
    format!(
        "echo ATTACK-RAN
try() {{ echo \"ATTACK $1\"; shift; sh -c \"$1\" 2>&1; echo \"  -> exit $?\"; }}
try write 'echo pwned > inventory/report.py'
try rename-over 'echo pwned > inventory/.r.tmp && mv -f inventory/.r.tmp inventory/report.py'
try unlink 'rm -f inventory/report.py'
try chmod-protected 'chmod 600 inventory/report.py'
try chmod-git 'chmod 600 .git'
try chmod-outside 'chmod 600 {outside}'
try utime-outside 'touch -m -d 2001-01-01 {outside}'
cp inventory/items.py inventory/.items.tmp && echo '# changed' >> inventory/.items.tmp && mv -f inventory/.items.tmp inventory/items.py && echo SAVED
",
        outside = outside.display()
    )
}

struct Attacked {
    test: Test,
    outside: PathBuf,
}

fn attacked(extra_config: &str) -> Attacked {
    let test = sample().file("repo/specs/guarded.md", SPEC);
    let outside = test.path().join("outside.txt");
    std::fs::write(&outside, "mine\n").expect("write");
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let script = script(&outside).replace('{', "{{").replace('}', "}}");
    let test = test.file(
        ".test-home/config/agenthost/config.toml",
        format!("[agents.fake]\ncommand = [\"sh\", \"-c\", '''{script}''']\n{extra_config}"),
    );
    Attacked { test, outside }
}

/// Launches the guarded spec with the attacking agent; returns the worktree and the log.
fn launch(test: &Test) -> (PathBuf, String) {
    let run = test.exec(&[
        "launch",
        "--wait",
        "--agent",
        "fake",
        "repo/specs/guarded.md",
    ]);
    let log = test.exec(&["logs", "guarded-change"]).stdout;
    assert!(
        log.contains("ATTACK-RAN") && log.contains("ATTACK utime-outside"),
        "the attack never ran: {}\n{log}",
        run.transcript()
    );
    (test.state_dir().join("worktrees/guarded-change"), log)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").mode() & 0o7777
}

const REPORT: &str = "inventory/report.py";

#[test]
fn do_not_modify_and_metadata_outside_the_grants_hold_in_the_kernel() {
    let Attacked { test, outside } = attacked("");
    let _stop = StopSupervisor(&test);
    let original = std::fs::read_to_string(test.path().join("repo").join(REPORT)).expect("read");
    let mtime = std::fs::metadata(&outside).expect("stat").mtime();
    let (worktree, log) = launch(&test);

    assert_eq!(
        std::fs::read_to_string(worktree.join(REPORT))
            .ok()
            .as_deref(),
        Some(original.as_str()),
        "{log}"
    );
    assert_eq!(mode(&worktree.join(REPORT)), 0o644, "{log}");
    assert_eq!(mode(&worktree.join(".git")), 0o644, "{log}");
    assert_eq!(mode(&outside), 0o644, "{log}");
    assert_eq!(
        std::fs::metadata(&outside).expect("stat").mtime(),
        mtime,
        "{log}"
    );
    assert!(log.contains("Read-only file system"), "{log}");
    // The agent's own save landed and was committed.
    assert!(log.contains("SAVED"), "{log}");
    assert!(
        file_in_head(&worktree, "inventory/items.py")
            .is_some_and(|text| text.ends_with("# changed\n")),
        "{log}"
    );
    // The attempt log says the layer was on and what it protected.
    assert!(log.contains("read-only view: on, 2 protected"), "{log}");
}

#[test]
fn without_the_sandbox_every_attack_lands() {
    let Attacked { test, outside } = attacked("\n[sandbox]\nmode = \"off\"\n");
    let _stop = StopSupervisor(&test);
    let (worktree, log) = launch(&test);
    // Written, then renamed over, then unlinked: the last attack wins.
    assert!(!worktree.join(REPORT).exists(), "{log}");
    assert_eq!(mode(&worktree.join(".git")), 0o600, "{log}");
    assert_eq!(mode(&outside), 0o600, "{log}");
    assert!(
        std::fs::metadata(&outside).expect("stat").mtime() < 1_009_843_200,
        "{log}"
    );
}

#[test]
fn explain_says_which_layer_enforces_do_not_modify() {
    let Attacked { test, .. } = attacked("");
    let run = test.exec(&["sandbox", "--explain", "--spec", "repo/specs/guarded.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("Mount layer (metadata, and Do NOT modify inside the writes):"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("inventory/report.py\n      guarded.md:")
            || run
                .stdout
                .contains("inventory/report.py\n      specs/guarded.md:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("the mount layer makes 1 existing path read-only"),
        "{}",
        run.stdout
    );
}

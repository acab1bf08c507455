//! `agenthost scripted-agent`: the deterministic example agent, driven through stdin.

use std::io::Write;
use std::process::Stdio;

use crate::Test;

#[test]
fn performs_the_script_in_its_prompt() {
    let test = Test::new().file("work/a.txt", "one\n");
    let prompt = "# Task\n\n```agenthost-script\n[[edit]]\npath = \"a.txt\"\nreplace = \"one\"\nwith = \"two\"\n\n[[edit]]\npath = \"nope.txt\"\nreplace = \"x\"\nwith = \"y\"\n```\n";
    let mut child = test
        .command()
        .args(["scripted-agent", "--root", "work"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(prompt.as_bytes())
        .expect("write prompt");
    let run = test.clean(child.wait_with_output().expect("wait"));
    // A failed edit is logged, not an exit code: judge the run by the disk.
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("scripted-agent: edited a.txt"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("could not change nope.txt"),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(test.path().join("work/a.txt")).expect("read");
    assert_eq!(text, "two\n");
}

#[test]
fn without_a_script_it_says_so() {
    let test = Test::new().file("prompt.md", "# Just a spec\n");
    let run = test.exec(&["scripted-agent", "--prompt-file", "prompt.md"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("no ```agenthost-script block"),
        "{}",
        run.stderr
    );
}

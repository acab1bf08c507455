//! Parallel tasks that do not collide (the built-in `scope-overlap` admission policy): a
//! task whose Scope can write a path that a running or awaiting-review task of the same
//! repository and base can also write waits, says so at launch, lets the tasks behind it
//! start, and starts from the accepted work once the other task is accepted; and `accept`
//! of several tasks, one onto the other, stopping at the first that cannot land.

use std::path::Path;

use crate::lifecycle::{StopSupervisor, sample, status_row, wait_for_state};

/// A spec with id `id` whose Scope line is `scope`.
fn spec(id: &str, title: &str, scope: &str) -> String {
    format!(
        "+++\nid = \"{id}\"\n+++\n\n# {title}\n\n## What\nAdd a comment line naming task {id} where its Scope allows.\n\n### Scope\n{scope}\n"
    )
}

fn events(test: &crate::Test) -> Vec<(String, String)> {
    let store = agenthost::supervisor::store::Store::open(&test.state_dir().join("state.db"))
        .expect("store");
    store
        .events(None)
        .expect("events")
        .into_iter()
        .map(|event| (event.task_id, event.to.as_str().to_string()))
        .collect()
}

fn file_at_head(repo: &Path, path: &str) -> String {
    crate::lifecycle::file_in_head(repo, path).unwrap_or_default()
}

#[test]
fn an_overlapping_task_waits_for_the_other_and_starts_from_its_accepted_work() {
    // Tasks a and b both append to inventory/report.py (b through a glob); c writes a file
    // of its own elsewhere.
    let agent = r#"[agents.edit]
command = ["sh", "-c", "case \"$0\" in a|b) printf '# by %s\\n' \"$0\" >> inventory/report.py ;; c) mkdir -p docs && echo 'c' > docs/c.md ;; esac", "{task_id}"]
"#;
    let test = sample()
        .file("repo/agenthost.toml", agent)
        .file(
            "repo/specs/a.md",
            spec(
                "a",
                "Note task a in the report",
                "- Modify: `inventory/report.py`",
            ),
        )
        .file(
            "repo/specs/b.md",
            spec(
                "b",
                "Note task b in the inventory",
                "- Modify: `inventory/*.py`",
            ),
        )
        .file(
            "repo/specs/c.md",
            spec("c", "Write the docs note", "- Create: `docs/c.md`"),
        );
    let repo = test.path().join("repo");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);

    let run = test.exec(&["launch", "--wait", "--agent", "edit", "repo/specs/a.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("a is ready"), "{}", run.stdout);

    // b may write what a (awaiting review) may write: it waits, and launch says so at once.
    let run = test.exec(&["launch", "--agent", "edit", "repo/specs/b.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains(
            "  waits: scope-overlap: waits for task a (\"Note task a in the report\", awaiting \
             review): both may write `inventory/report.py`; it starts when a is accepted or \
             rejected\n"
        ),
        "{}",
        run.stdout
    );
    // c, launched after b, does not wait behind it: its paths are its own.
    let run = test.exec(&["launch", "--wait", "--agent", "edit", "repo/specs/c.md"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("c is ready"), "{}", run.stdout);
    let row = status_row(&test, "b");
    assert_eq!(row["state"], "queued", "{row}");
    assert!(
        row["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("held by admission: scope-overlap: waits for task a"),
        "{row}"
    );

    // Accepting a lets b start, from main with a's work in it: b's accept merges cleanly.
    let run = test.exec(&["accept", "a"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    wait_for_state(&test, "b", &["ready"]);
    let run = test.exec(&["accept", "b"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let report = file_at_head(&repo, "inventory/report.py");
    assert!(
        report.ends_with("# by a\n# by b\n"),
        "both notes, in order:\n{report}"
    );

    // From the event log: b ran only after a was accepted; c ran while b waited.
    let events = events(&test);
    let at = |task: &str, state: &str| {
        events
            .iter()
            .position(|(t, s)| t == task && s == state)
            .unwrap_or_else(|| panic!("no {task} -> {state} in {events:?}"))
    };
    assert!(at("b", "running") > at("a", "accepted"), "{events:?}");
    assert!(at("c", "running") < at("b", "running"), "{events:?}");
}

#[test]
fn a_task_on_another_base_starts_at_once() {
    let agent = r#"[agents.edit]
command = ["sh", "-c", "sleep 2; printf '# %s\\n' \"$0\" >> inventory/report.py", "{task_id}"]
"#;
    let test = sample()
        .file("repo/agenthost.toml", agent)
        .file(
            "repo/specs/a.md",
            spec("a", "Note task a in the report", "- Modify: `inventory/report.py`"),
        )
        .file(
            "repo/specs/b.md",
            "+++\nid = \"b\"\nbase = \"release\"\n+++\n\n# Note task b on the release branch\n\n## What\nAdd a comment line naming task b.\n\n### Scope\n- Modify: `inventory/report.py`\n",
        );
    let repo = test.path().join("repo");
    crate::commit_all(&repo);
    let git = git2::Repository::open(&repo).expect("repo");
    let head = git.head().expect("head").peel_to_commit().expect("commit");
    git.branch("release", &head, false).expect("branch");
    let _stop = StopSupervisor(&test);
    for spec in ["repo/specs/a.md", "repo/specs/b.md"] {
        let run = test.exec(&["launch", "--agent", "edit", spec]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(!run.stdout.contains("waits:"), "{}", run.stdout);
    }
    // Both run at once: the same file, but on different bases.
    wait_for_state(&test, "a", &["running", "checking", "ready"]);
    wait_for_state(&test, "b", &["running", "checking", "ready"]);
    wait_for_state(&test, "a", &["ready"]);
    wait_for_state(&test, "b", &["ready"]);
    let events = events(&test);
    let first_ready = events
        .iter()
        .position(|(_, s)| s == "ready")
        .expect("a ready event");
    let runs_before = events[..first_ready]
        .iter()
        .filter(|(_, s)| s == "running")
        .count();
    assert_eq!(
        runs_before, 2,
        "both started before either finished: {events:?}"
    );
}

#[test]
fn accepting_several_stops_at_the_first_conflict_with_the_earlier_ones_landed() {
    let agent = r#"[agents.edit]
command = ["sh", "-c", "case \"$0\" in a) mkdir -p docs && echo a > docs/a.md ;; b) printf '# by b\\n' >> inventory/report.py ;; c) mkdir -p docs && echo c > docs/c.md ;; esac", "{task_id}"]
"#;
    let test = sample()
        .file("repo/agenthost.toml", agent)
        .file(
            "repo/specs/a.md",
            spec("a", "Write note a", "- Create: `docs/a.md`"),
        )
        .file(
            "repo/specs/b.md",
            spec(
                "b",
                "Note task b in the report",
                "- Modify: `inventory/report.py`",
            ),
        )
        .file(
            "repo/specs/c.md",
            spec("c", "Write note c", "- Create: `docs/c.md`"),
        );
    let repo = test.path().join("repo");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);
    let mut args = vec!["launch", "--wait", "--agent", "edit"];
    args.extend(["repo/specs/a.md", "repo/specs/b.md", "repo/specs/c.md"]);
    let run = test.exec(&args);
    assert_eq!(run.code, 0, "{}", run.transcript());

    // The person changes the same lines of the report on main meanwhile.
    let report = repo.join("inventory/report.py");
    let mut text = std::fs::read_to_string(&report).expect("report");
    text.push_str("# by hand\n");
    std::fs::write(&report, text).expect("write");
    crate::commit_all(&repo);

    // Review and status say so before accept finds out.
    let run = test.exec(&["review", "b"]);
    assert!(
        run.stdout.contains(
            "  base      main has 1 new commit since this task started; its change now \
             conflicts in inventory/report.py: `agenthost correct b -m ...` hands the conflict \
             to its agent, marked in the files\n"
        ),
        "{}",
        run.stdout
    );
    let run = test.exec(&["review", "c"]);
    assert!(
        run.stdout
            .contains("its change still applies cleanly (accept merges it onto them and runs its checks again)"),
        "{}",
        run.stdout
    );
    let run = test.exec(&["status", "--json"]);
    assert!(
        run.stdout
            .contains("\"base_moved\": \"main has 1 new commit"),
        "{}",
        run.stdout
    );

    let run = test.exec(&["accept", "a", "b", "c"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stdout.contains("accepted a into main as "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "accepted 1: a; stopped at b (below); not tried: c\nfix b (or leave it out) and \
             accept the rest again\n"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("inventory/report.py"), "{}", run.stderr);
    assert_eq!(file_at_head(&repo, "docs/a.md"), "a\n");
    assert_eq!(file_at_head(&repo, "docs/c.md"), "", "c was not tried");
    assert!(file_at_head(&repo, "inventory/report.py").ends_with("# by hand\n"));

    // `--all-ready` takes every ready task, the longest waiting first; b would stop it
    // again, so the person rejects b first.
    let run = test.exec(&["reject", "b"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let run = test.exec(&["accept", "--all-ready"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("accepted c into main"),
        "{}",
        run.stdout
    );
    assert_eq!(file_at_head(&repo, "docs/c.md"), "c\n");
}

/// The issue's measure: eight agents launched at once on one repository, half of them
/// writing the same file, are all accepted, as they become ready, with no conflict ever
/// reaching the person; the four that share a file never run or wait for review together.
#[test]
fn eight_at_once_half_overlapping_all_land_without_a_conflict() {
    let mut agent = String::from(
        "[agents.edit]\ncommand = [\"sh\", \"-c\", \"case \\\"$0\\\" in o*) printf '# by %s\\\\n' \\\"$0\\\" >> inventory/report.py ;; *) mkdir -p docs && echo \\\"$0\\\" > docs/$0.md ;; esac\", \"{task_id}\"]\n",
    );
    agent.push_str("\n[policies.review-bandwidth]\nconfig = { ramp = [8], max_waiting = 8 }\n");
    let mut test = sample().file("repo/agenthost.toml", agent);
    let mut specs = Vec::new();
    for n in 1..=4 {
        let (overlapping, own) = (format!("o{n}"), format!("d{n}"));
        test = test
            .file(
                &format!("repo/specs/{overlapping}.md"),
                spec(
                    &overlapping,
                    &format!("Note task {overlapping} in the report"),
                    "- Modify: `inventory/report.py`",
                ),
            )
            .file(
                &format!("repo/specs/{own}.md"),
                spec(
                    &own,
                    &format!("Write the note of {own}"),
                    &format!("- Create: `docs/{own}.md`"),
                ),
            );
        specs.push(format!("repo/specs/{overlapping}.md"));
        specs.push(format!("repo/specs/{own}.md"));
    }
    let repo = test.path().join("repo");
    crate::commit_all(&repo);
    let _stop = StopSupervisor(&test);
    let mut args = vec!["launch".to_string(), "--agent".into(), "edit".into()];
    args.extend(specs);
    let run = test.exec(&args);
    assert_eq!(run.code, 0, "{}", run.transcript());

    // The person accepts whatever is ready, again and again, until all eight have landed.
    let ids: Vec<String> = (1..=4)
        .flat_map(|n| [format!("o{n}"), format!("d{n}")])
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    loop {
        let states: Vec<String> = ids
            .iter()
            .map(|id| crate::lifecycle::task_state(&test, id))
            .collect();
        if states.iter().all(|s| s == "accepted") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all accepted: {ids:?} {states:?}"
        );
        if states.iter().any(|s| s == "ready") {
            let run = test.exec(&["accept", "--all-ready"]);
            assert_eq!(
                run.code,
                0,
                "a conflict reached the person: {}",
                run.transcript()
            );
        } else {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let report = file_at_head(&repo, "inventory/report.py");
    for n in 1..=4 {
        assert!(report.contains(&format!("# by o{n}\n")), "{report}");
        assert_eq!(
            file_at_head(&repo, &format!("docs/d{n}.md")),
            format!("d{n}\n")
        );
    }
    // From start to acceptance, the four that share a file never overlap.
    let events = events(&test);
    let mut active: Option<String> = None;
    for (task, state) in &events {
        if !task.starts_with('o') {
            continue;
        }
        match state.as_str() {
            "running" => {
                assert!(
                    active.is_none() || active.as_deref() == Some(task),
                    "{task} started while {active:?} was not yet accepted: {events:?}"
                );
                active = Some(task.clone());
            }
            "accepted" => active = None,
            _ => {}
        }
    }
}

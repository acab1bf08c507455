//! The checking steps after the agent: commit its work, run the test command in its own
//! sandbox, keep what the test run changed (committed) or created (set aside), and ask the
//! review policies, adding the host's own findings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::agent::Ran;
use super::error::AttemptError;
use super::sandboxed::{RunPlaces, Sandboxed};
use super::setup::{run_files_dir, set_aside_untracked};
use super::text::{log_len, log_tail, shortened_list};
use super::{Attempt, Step, clear_git_metadata, finding_line, spec_label};
use crate::confinement::{Purpose, hints};
use crate::digest;
use crate::runner::{Cancellation, Ending, Runner as _, local::LocalRunner};
use crate::supervisor::decide;
use crate::supervisor::report::{AttemptReport, TestRun};
use crate::supervisor::store::StoredFinding;
use crate::task::diff::{self, Changes};
use crate::task::git_metadata::{self, Cleared};

/// What the agent's commit left.
pub(super) struct Committed {
    /// The commit, when the agent changed anything.
    commit: Option<String>,
    /// The task branch's head after it.
    head: String,
    /// The task's changes from its base.
    changes: Changes,
    /// Directories the change makes look like bare repositories.
    bare_repositories: Vec<String>,
    /// Lines added and removed by the task so far.
    lines: (usize, usize),
}

/// What the test step left.
pub(super) struct Tested {
    test: Option<TestRun>,
    /// Tracked files the test run changed (committed as its own commit).
    changed: Vec<String>,
    /// Files it created that git does not ignore (set aside).
    created: Vec<String>,
}

/// The trailers of the task's commits.
fn trailers(a: &Attempt<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("Agenthost-Task", a.task.launch.id.clone()),
        ("Agenthost-Attempt", a.number.to_string()),
        ("Agenthost-Spec", spec_label(a.task)),
        (
            "Agenthost-Spec-Digest",
            digest::sha256(a.task.launch.spec_text.as_bytes()),
        ),
    ]
}

/// Commits everything the agent changed on the task branch and records the attempt's end.
pub(super) async fn commit(a: &Attempt<'_>, ran: &Ran) -> Result<Committed, AttemptError> {
    let task = a.task;
    let (worktree, title, trailers) = (a.worktree.clone(), a.spec.title.clone(), trailers(a));
    let commit = tokio::task::spawn_blocking(move || {
        let trailers: Vec<(&str, &str)> = trailers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        worktree.commit_all(&title, &trailers)
    })
    .await
    .map_err(AttemptError::thread("commit"))?
    .map_err(AttemptError::git("commit the agent's work"))?;
    a.note(&match &commit {
        Some(commit) => format!(
            "committed the agent's work as {} on {}",
            commit.get(..12).unwrap_or(commit),
            task.launch.branch
        ),
        None => "the agent changed no file: nothing to commit".to_string(),
    });
    let head = match &commit {
        Some(commit) => commit.clone(),
        None => branch_head(a)?,
    };
    let changes = changes_between(a, &task.launch.base_commit, &head)?;
    let bare_repositories =
        git_metadata::bare_repositories_in_commit(&task.launch.repo, &head, &changes).map_err(
            |err| AttemptError::Read {
                what: "task's changes",
                message: err.message().to_string(),
            },
        )?;
    let lines = changes.line_counts();
    a.ctx.store(|s| {
        s.finish_attempt(
            &task.launch.id,
            a.number,
            ran.exit_code(),
            commit.as_deref(),
        )?;
        s.set_attempt_lines(&task.launch.id, a.number, lines.0 as i64, lines.1 as i64)
    })?;
    Ok(Committed {
        commit,
        head,
        changes,
        bare_repositories,
        lines,
    })
}

/// The task's changes between two commits.
fn changes_between(a: &Attempt<'_>, from: &str, to: &str) -> Result<Changes, AttemptError> {
    diff::between_commits(&a.task.launch.repo, from, to).map_err(|err| AttemptError::Read {
        what: "task's changes",
        message: err.message().to_string(),
    })
}

/// The task branch's head commit.
fn branch_head(a: &Attempt<'_>) -> Result<String, AttemptError> {
    let read = || -> Result<String, git2::Error> {
        let repo = git2::Repository::open(&a.task.launch.repo)?;
        let commit = repo
            .find_reference(&format!("refs/heads/{}", a.task.launch.branch))?
            .peel_to_commit()?;
        Ok(commit.id().to_string())
    };
    read().map_err(|err| AttemptError::Read {
        what: "task branch",
        message: err.message().to_string(),
    })
}

/// Runs the test command (the spec's, else the config's) in the test sandbox, then moves out
/// the `.git` entries it left, commits the tracked files it changed and sets aside the files
/// it created that git does not ignore.
pub(super) async fn test(
    a: &Attempt<'_>,
    committed: &mut Committed,
    git_metadata: &mut Cleared,
    cancel: Cancellation,
) -> Result<Tested, AttemptError> {
    let (ctx, task) = (a.ctx, a.task);
    let Some(command) = a.test_command() else {
        return Ok(Tested {
            test: None,
            changed: Vec::new(),
            created: Vec::new(),
        });
    };
    let test = run_test_command(a, command, cancel).await?;
    let after = clear_git_metadata(a).await?;
    git_metadata.moved.extend(after.moved);
    git_metadata.problems.extend(after.problems);
    let _ = std::fs::remove_dir_all(&a.tmpdir);

    // Tracked files the test command changed (a lock file it rewrote) go on the branch in a
    // commit of their own, so that what is accepted is what was tested; a finding says so.
    let (committer, trailers) = (a.worktree.clone(), trailers(a));
    let by_test = tokio::task::spawn_blocking(move || {
        let trailers: Vec<(&str, &str)> = trailers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        committer.commit_tracked("Files the test command changed", &trailers)
    })
    .await
    .map_err(AttemptError::thread("commit"))?
    .map_err(AttemptError::git("commit what the test command changed"))?;
    let mut changed = Vec::new();
    if let Some(commit) = by_test {
        changed = changes_between(a, &committed.head, &commit)?
            .files
            .into_iter()
            .map(|f| f.path)
            .collect();
        a.note(&format!(
            "the test command changed tracked files: {}; committed as {} on {}",
            changed.join(", "),
            commit.get(..12).unwrap_or(&commit),
            task.launch.branch
        ));
        committed.changes = changes_between(a, &task.launch.base_commit, &commit)?;
    }
    let created =
        set_aside_untracked(&a.worktree, &ctx.dirs, &task.launch.id, a.number, "test").await?;
    if !created.is_empty() {
        a.note(&format!(
            "the test command created files git does not ignore: {}; moved to {}",
            created.join(", "),
            run_files_dir(&ctx.dirs, &task.launch.id, a.number, "test").display()
        ));
    }
    Ok(Tested {
        test: Some(test),
        changed,
        created,
    })
}

/// Runs `command` in the worktree in the test sandbox (its own: the agent's code runs in
/// it, with none of the agent's credentials and only `[test]`'s grants beyond the
/// worktree), logged in the attempt log.
pub(super) async fn run_test_command(
    a: &Attempt<'_>,
    command: String,
    cancel: Cancellation,
) -> Result<TestRun, AttemptError> {
    let places = RunPlaces::make(a, "test")?;
    let mut sandboxed = Sandboxed::new(
        a,
        Purpose::Test {
            config: &a.config.test,
        },
        None,
        places.agent_places(),
    )?;
    a.note(&format!("test {}", sandboxed.summary()));
    a.note(&format!("test `{command}`"));
    let job = sandboxed.job(
        vec!["/bin/sh".into(), "-c".into(), command.clone().into()],
        None,
        &a.log,
        a.config.test.timeout,
    )?;
    let before = log_len(&a.log);
    let outcome = LocalRunner
        .run(job, cancel)
        .await
        .map_err(|source| AttemptError::Run {
            what: "test command".to_string(),
            source,
        })?;
    sandboxed.cleanup();
    drop(places);
    let output_tail = log_tail(&a.log, before, 4096);
    a.note(&format!(
        "the test command {} after {:.1} s",
        outcome.ending,
        outcome.duration.as_secs_f64()
    ));
    Ok(TestRun {
        command,
        passed: outcome.ending == Ending::Exited(0),
        exit_code: match outcome.ending {
            Ending::Exited(code) => Some(code),
            _ => None,
        },
        duration: outcome.duration,
        output_tail,
    })
}

/// Asks the review policies, adds the host's findings (setup, `.git` entries, the test run's
/// changes and refusals, copies not found, no change), stores them all, and says what the
/// checks found.
pub(super) async fn review(
    a: &Attempt<'_>,
    ran: Ran,
    committed: Committed,
    tested: Tested,
    setup_findings: Vec<StoredFinding>,
) -> Result<Step, AttemptError> {
    let (ctx, task, number) = (a.ctx, a.task, a.number);
    let report = AttemptReport {
        attempt: number,
        agent: ran.outcome,
        changes: committed.changes,
        test: tested.test,
    };
    let reviewed = {
        // On a blocking thread: the policy engine drives its own WASI runtime.
        let (ctx, config, spec, task, report) = (
            Arc::clone(ctx),
            a.config.clone(),
            a.spec.clone(),
            task.clone(),
            report.clone(),
        );
        tokio::task::spawn_blocking(move || decide::review(&ctx, &config, &spec, &task, &report))
            .await
            .map_err(AttemptError::thread("review"))?
    };
    for line in &reviewed.log {
        a.note(line);
    }
    let warning = |rule: &str, message: String, path: Option<String>| StoredFinding {
        attempt: number,
        policy: "agenthost".into(),
        rule: rule.into(),
        severity: "warning".into(),
        message,
        path,
        line: None,
    };
    let mut findings = reviewed.findings;
    findings.extend(setup_findings);
    findings.extend(git_metadata_findings(
        number,
        &a.root,
        &ran.git_metadata,
        &committed.bare_repositories,
    ));
    findings.extend(tested.changed.iter().map(|path| {
        warning(
            "test-changed-files",
            format!(
                "the test command changed `{path}` after the agent's commit; the change is \
                 committed on the task branch (\"Files the test command changed\"), so that \
                 what you accept is what was tested. If the agent should have made it, say so \
                 in a correction; if the test command should not write there, change the test \
                 command"
            ),
            Some(path.clone()),
        )
    }));
    if let Some(run) = report.test.as_ref().filter(|run| !run.passed) {
        let found = hints::hints(
            &run.output_tail,
            hints::Run::Test,
            hints::Places {
                worktree: &a.root,
                home: &ctx.home,
            },
        );
        findings.extend(found.into_iter().map(|hint| {
            warning(
                "sandbox-refused",
                format!("the test command failed, and {hint}"),
                None,
            )
        }));
    }
    if !tested.created.is_empty() {
        findings.push(warning(
            "test-created-files",
            format!(
                "the test command created {} file(s) that git does not ignore: {}. They are \
                 not part of the task: they were moved out of the worktree to {} so that no \
                 later commit takes them for the agent's work. If they are build output, \
                 ignore them in .gitignore",
                tested.created.len(),
                shortened_list(&tested.created, 10),
                run_files_dir(&ctx.dirs, &task.launch.id, number, "test").display()
            ),
            tested.created.first().cloned(),
        ));
    }
    findings.extend(a.copy_missing.iter().flatten().map(|path| {
        warning(
            "copy-missing",
            format!(
                "`worktree.copy` names `{}`, which your checkout does not have: the worktree \
                 started without it (make it in your checkout, e.g. by installing the \
                 dependencies there, or remove it from `worktree.copy`)",
                path.display()
            ),
            Some(path.display().to_string()),
        )
    }));
    findings.extend(conflict_marker_findings(number, &report.changes.patch));
    if committed.commit.is_none() {
        findings.push(no_change_finding(
            number,
            &ran.tail,
            report.changes.files.is_empty(),
        ));
    }
    let blocking: Vec<&StoredFinding> = findings.iter().filter(|f| f.severity == "error").collect();
    ctx.store(|s| s.set_findings(&task.launch.id, number, &findings))?;
    let (added, removed) = committed.lines;
    let mut summary = format!(
        "checks done: {} finding(s), {} blocking; +{added} -{removed}",
        findings.len(),
        blocking.len()
    );
    for finding in blocking {
        summary.push_str(&format!("\nblocking: {}", finding_line(finding)));
    }
    Ok(Step::Ready(summary))
}

/// Blocking findings for each file whose change adds git's conflict markers: a conflict
/// the correction handed to the agent (`TaskWorktree::merge_in`) that it left unresolved.
fn conflict_marker_findings(attempt: i64, patch: &str) -> Vec<StoredFinding> {
    let mut file = None;
    let mut found: Vec<(String, i64)> = Vec::new();
    let mut line = 0i64;
    for text in patch.lines() {
        if let Some(path) = text.strip_prefix("+++ b/") {
            file = Some(path.to_string());
        } else if let Some(hunk) = text.strip_prefix("@@ ") {
            // `@@ -a,b +c,d @@`: the new side starts at line c.
            line = hunk
                .split_whitespace()
                .nth(1)
                .and_then(|new| new.trim_start_matches('+').split(',').next())
                .and_then(|n| n.parse::<i64>().ok())
                .map_or(0, |n| n - 1);
        } else if let Some(added) = text.strip_prefix('+') {
            line += 1;
            if added.starts_with("<<<<<<< ")
                && let Some(path) = &file
                && !found.iter().any(|(p, _)| p == path)
            {
                found.push((path.clone(), line));
            }
        } else if !text.starts_with('-') && !text.starts_with('\\') {
            line += 1;
        }
    }
    found
        .into_iter()
        .map(|(path, line)| StoredFinding {
            attempt,
            policy: "agenthost".into(),
            rule: "conflict-markers".into(),
            severity: "error".into(),
            message: format!(
                "`{path}` still has a merge conflict marked (`<<<<<<<` ... `>>>>>>>`): the \
                 base was merged into the task's branch with its conflicts for the agent to \
                 resolve, and this one was not; send it back with `agenthost correct`"
            ),
            path: Some(path),
            line: Some(line),
        })
        .collect()
}

/// The finding for a run that exited cleanly and changed nothing. When the task as a whole
/// has no change either (`task_unchanged`), it is blocking: such a run must never look like
/// a result to review. A correction that changed nothing on top of earlier work is a warning:
/// the reviewer decides whether it did what was asked.
fn no_change_finding(attempt: i64, tail: &str, task_unchanged: bool) -> StoredFinding {
    let said = match tail.lines().rev().find(|line| !line.trim().is_empty()) {
        Some(line) => format!(" (its last words: {})", line.trim()),
        None => " (it printed nothing)".to_string(),
    };
    let (severity, what) = if task_unchanged {
        ("error", "the agent exited cleanly but changed no file")
    } else {
        (
            "warning",
            "this attempt changed no file; the task's earlier changes are unchanged",
        )
    };
    StoredFinding {
        attempt,
        policy: "agenthost".into(),
        rule: "no-changes".into(),
        severity: severity.into(),
        message: format!(
            "{what}{said}. See `agenthost logs`; `agenthost correct` sends it back with \
             instructions"
        ),
        path: None,
        line: None,
    }
}

/// Blocking findings for the `.git` entries a run left in the worktree, and for directories
/// its change makes look like bare repositories: each makes git, run later by a human in
/// the worktree or in the checkout, obey a repository the agent wrote.
pub(super) fn git_metadata_findings(
    attempt: i64,
    root: &Path,
    cleared: &Cleared,
    bare_repositories: &[String],
) -> Vec<StoredFinding> {
    let finding = |rule: &str, path: PathBuf, message: String| StoredFinding {
        attempt,
        policy: "agenthost".into(),
        rule: rule.into(),
        severity: "error".into(),
        message,
        path: Some(path.display().to_string()),
        line: None,
    };
    let moved = cleared.moved.iter().map(|moved| {
        finding(
            "git-metadata",
            moved.path.clone(),
            format!(
                "the run left {} named `.git` here: git run in the worktree would have obeyed \
                 it (its hooks, `core.fsmonitor`, filters). Moved out of the worktree to {}",
                moved.kind.describe(),
                moved.moved_to.display()
            ),
        )
    });
    let problems = cleared.problems.iter().map(|problem| {
        finding(
            "git-metadata",
            problem.path_below(root),
            format!(
                "{problem}: a `.git` the run left there may still be in the worktree; do not \
                 run git in the worktree before looking"
            ),
        )
    });
    let bare = bare_repositories.iter().map(|dir| {
        finding(
            "bare-repository",
            PathBuf::from(dir),
            git_metadata::BARE_REPOSITORY_FINDING.to_string(),
        )
    });
    moved.chain(problems).chain(bare).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_conflict_left_marked_is_found_at_its_line() {
        let patch = "diff --git a/v.txt b/v.txt\n--- a/v.txt\n+++ b/v.txt\n@@ -1,2 +1,6 @@\n keep\n-3\n+<<<<<<< agenthost/b\n+8\n+=======\n+6\n+>>>>>>> main\n";
        let found = super::conflict_marker_findings(2, patch);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].path.as_deref(),
                found[0].line,
                found[0].severity.as_str()
            ),
            (Some("v.txt"), Some(2), "error")
        );
        let resolved = "+++ b/v.txt\n@@ -1 +1 @@\n-3\n+8\n";
        assert!(super::conflict_marker_findings(2, resolved).is_empty());
    }
}

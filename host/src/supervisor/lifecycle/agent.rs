//! The agent steps: the prompt, the private home, the command and its sandbox; then the run,
//! the credentials written back, and the `.git` entries it left moved out.

use std::ffi::OsString;
use std::time::Duration;

use super::error::AttemptError;
use super::sandboxed::{AgentPlaces, Sandboxed};
use super::text::{TAIL_LINES, last_lines, list_or_none, log_len, log_tail};
use super::{Attempt, clear_git_metadata};
use crate::config::{AgentProfile, HostPath, Placeholder, PlaceholderValues};
use crate::confinement::{Purpose, agent_home};
use crate::runner::{Cancellation, Ending, Outcome, Runner as _, local::LocalRunner};
use crate::task::git_metadata::Cleared;
use crate::task::prompt;

/// The agent's run, ready to start.
pub(super) struct Prepared {
    argv: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    sandboxed: Sandboxed,
    profile: AgentProfile,
    home: std::path::PathBuf,
    timeout: Duration,
}

/// How the agent's run went.
pub(super) struct Ran {
    /// How it ended.
    pub(super) outcome: Outcome,
    /// The end of its output.
    pub(super) tail: String,
    /// Its time limit.
    pub(super) timeout: Duration,
    /// The `.git` entries it left, moved out (the test run's are added later).
    pub(super) git_metadata: Cleared,
}

impl Ran {
    /// The exit code, when it exited.
    pub(super) fn exit_code(&self) -> Option<i64> {
        match self.outcome.ending {
            Ending::Exited(code) => Some(i64::from(code)),
            _ => None,
        }
    }
}

/// The prompt (the spec, or the correction), the private home (made and seeded before the
/// first attempt, kept after), the command from the profile, the program found on the
/// launch's PATH, and the agent's sandbox.
pub(super) fn prepare(
    a: &mut Attempt<'_>,
    correction: Option<&str>,
) -> Result<Prepared, AttemptError> {
    let (ctx, task) = (a.ctx, a.task);
    let profile = a
        .config
        .agents
        .get(&a.profile_name)
        .ok_or_else(|| AttemptError::NoProfile(task.launch.agent.clone()))?
        .clone();
    let test_command = a.test_command();
    let continuing = correction.is_some() && profile.continue_command.is_some();
    let prompt_text = match correction {
        None => prompt::first(
            &task.launch.spec_text,
            &a.spec.scope,
            test_command.as_deref(),
        ),
        Some(message) => prompt::correction(
            &task.launch.spec_text,
            &a.spec.scope,
            test_command.as_deref(),
            message,
            continuing,
        ),
    };
    let home = ctx.dirs.agent_home(&task.launch.id);
    let seeded = agent_home::prepare(&home, &ctx.home, &profile, &a.host_env)?;
    let home = home
        .canonicalize()
        .map_err(AttemptError::gone("agent's private home", &home))?;
    if seeded.created {
        a.note(&format!(
            "private home {}; seeded from your home: {}{}; written: {}",
            home.display(),
            list_or_none(&seeded.copied),
            match seeded.missing.as_slice() {
                [] => String::new(),
                missing => format!("; not found (not copied): {}", missing.join(", ")),
            },
            list_or_none(&seeded.written)
        ));
    }
    let prompt_file = a.tmpdir.join("prompt.md");
    fs_err::write(&prompt_file, &prompt_text)?;
    let template = match (correction, &profile.continue_command) {
        (Some(_), Some(continue_command)) => continue_command,
        _ => &profile.command,
    };
    let mut argv = template.render(&PlaceholderValues {
        prompt: &prompt_text,
        prompt_file: &prompt_file,
        worktree: &a.root,
        task_id: &task.launch.id,
        home: &home,
    });
    if argv.first().is_some_and(|program| program == "agenthost") {
        // `agenthost` in a profile's command is this binary (the scripted agent lives in
        // it); the sandbox must let it be read and run.
        argv[0] = ctx.exe.clone().into_os_string();
        if let Ok(exe) = HostPath::parse(&ctx.exe.display().to_string()) {
            a.config.sandbox.read.push(exe);
        }
    }
    let program = argv
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = a.host_env.get("PATH").map(String::as_str);
    let program_path = crate::confinement::find_program(&program, path).ok_or_else(|| {
        AttemptError::ProgramNotFound {
            program: program.clone(),
            profile: a.profile_name.clone(),
            path: path.unwrap_or("unset").to_string(),
        }
    })?;
    let stdin = (!template.uses(Placeholder::Prompt) && !template.uses(Placeholder::PromptFile))
        .then(|| prompt_text.clone().into_bytes());
    let sandboxed = Sandboxed::new(
        a,
        Purpose::Agent,
        Some((a.profile_name.as_str(), &profile)),
        AgentPlaces {
            tmpdir: a.tmpdir.clone(),
            home: home.clone(),
            program: Some(program_path),
        },
    )?;
    a.note(&sandboxed.summary());
    for note in &sandboxed.built.notes {
        a.note(&format!("sandbox note: {note}"));
    }
    let timeout = a.spec.front_matter.timeout.unwrap_or(profile.timeout);
    Ok(Prepared {
        argv,
        stdin,
        sandboxed,
        profile,
        home,
        timeout,
    })
}

/// Runs the agent to its end (or its time limit, or a cancel), copies its refreshed login
/// back when the profile says so, and moves out every `.git` it left below the worktree.
pub(super) async fn run(
    a: &Attempt<'_>,
    prepared: Prepared,
    cancel: Cancellation,
) -> Result<Ran, AttemptError> {
    let Prepared {
        argv,
        stdin,
        mut sandboxed,
        profile,
        home,
        timeout,
    } = prepared;
    let job = sandboxed.job(argv, stdin, &a.log, timeout)?;
    a.note(&format!("attempt {}, agent `{}`", a.number, a.profile_name));
    let from = log_len(&a.log);
    let outcome = LocalRunner
        .run(job, cancel)
        .await
        .map_err(|source| AttemptError::Run {
            what: "agent".to_string(),
            source,
        })?;
    sandboxed.cleanup();
    let tail = last_lines(&log_tail(&a.log, from, 8192), TAIL_LINES);
    if let Some(file) = &profile.write_back {
        let note = match agent_home::write_back(&home, &a.ctx.home, file) {
            Ok(agent_home::WriteBack::Unchanged) => None,
            Ok(agent_home::WriteBack::Copied) => Some(format!(
                "copied `{file}` back to your home (the run changed it)"
            )),
            Ok(agent_home::WriteBack::Refused(why)) => {
                Some(format!("did NOT copy `{file}` back to your home: {why}"))
            }
            Err(err) => Some(format!("cannot copy `{file}` back to your home: {err}")),
        };
        if let Some(note) = note {
            a.note(&note);
        }
    }
    a.note(&format!("the agent {}", outcome.ending));
    let git_metadata = clear_git_metadata(a).await?;
    Ok(Ran {
        outcome,
        tail,
        timeout,
        git_metadata,
    })
}

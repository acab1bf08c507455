//! Git hooks that run `agenthost verify`: `pre-commit` checks the staged changes,
//! `pre-push` the commits being pushed.
//!
//! A hook agenthost wrote carries [`MARKER`]; any other hook file is the user's (or another
//! tool's) and is never overwritten without `force`, and then it is kept beside the new one
//! as `<hook>.agenthost-backup`, which `uninstall` puts back. Hooks go where git runs them:
//! `core.hooksPath` when it is set, else the repository's common `hooks` directory (shared
//! by all its worktrees).

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

/// The line that marks a hook as agenthost's.
pub(crate) const MARKER: &str = "# agenthost-managed hook";

/// The hooks agenthost installs.
pub(crate) const HOOKS: [&str; 2] = ["pre-commit", "pre-push"];

/// Why hooks could not be installed or removed.
#[derive(Debug, Error, Diagnostic)]
pub(crate) enum HooksError {
    /// No repository.
    #[error("{} is not inside a git repository", path.display())]
    #[diagnostic(
        code(hooks::not_a_repository),
        help("run it inside the repository, or pass --repo DIR")
    )]
    NotARepository {
        /// Where the search started.
        path: PathBuf,
    },
    /// A hook that agenthost did not write is in the way.
    #[error("{} exists and is not agenthost's hook", path.display())]
    #[diagnostic(
        code(hooks::foreign_hook),
        help(
            "nothing was written. Chain `agenthost verify` from that hook yourself, or pass --force to replace it (it is kept as {}.agenthost-backup)",
            path.display()
        )
    )]
    Foreign {
        /// The hook file.
        path: PathBuf,
    },
    /// Replacing a foreign hook would overwrite an earlier backup.
    #[error("{} exists already: replacing {} would overwrite that backup", backup.display(), path.display())]
    #[diagnostic(
        code(hooks::backup_exists),
        help("nothing was written; move the backup somewhere safe, then run this again")
    )]
    BackupExists {
        /// The hook.
        path: PathBuf,
        /// The backup in the way.
        backup: PathBuf,
    },
    /// Reading or writing a hook failed.
    #[error("cannot {action} {}: {source}", path.display())]
    #[diagnostic(code(hooks::io), help("check the permissions of the hooks directory"))]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What happened to one hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Written where there was none.
    Installed(PathBuf),
    /// agenthost's hook was already there; rewritten (it may name a newer binary).
    Updated(PathBuf),
    /// A foreign hook was moved to the backup path and replaced.
    Replaced {
        /// The hook.
        path: PathBuf,
        /// Where the old one went.
        backup: PathBuf,
    },
    /// agenthost's hook was removed (and a backup, if any, put back).
    Removed {
        /// The hook.
        path: PathBuf,
        /// Whether a backup was restored.
        restored: bool,
    },
    /// Nothing to do: no hook there (`existed` false), or not agenthost's.
    Left {
        /// The hook.
        path: PathBuf,
        /// Whether a (foreign) hook is there.
        existed: bool,
    },
}

/// Installs both hooks in the repository containing `start`, running `exe` when
/// `agenthost` is not on PATH. All or nothing: a foreign hook without `force` stops before
/// anything is written.
pub(crate) fn install(start: &Path, exe: &Path, force: bool) -> Result<Vec<Outcome>, HooksError> {
    let dir = hooks_dir(start)?;
    let mut hooks = Vec::new();
    for hook in HOOKS {
        let path = dir.join(hook);
        let foreign = is_foreign(&path)?;
        if foreign {
            if !force {
                return Err(HooksError::Foreign { path });
            }
            let backup = backup_of(&path);
            if backup.exists() {
                return Err(HooksError::BackupExists { path, backup });
            }
        }
        hooks.push((hook, path, foreign));
    }
    create_dir(&dir)?;
    let mut outcomes = Vec::new();
    for (hook, path, foreign) in hooks {
        let outcome = if foreign {
            let backup = backup_of(&path);
            std::fs::rename(&path, &backup).map_err(io("move aside", &path))?;
            Outcome::Replaced {
                path: path.clone(),
                backup,
            }
        } else if path.exists() {
            Outcome::Updated(path.clone())
        } else {
            Outcome::Installed(path.clone())
        };
        write_hook(&path, &script(hook, exe))?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Removes agenthost's hooks from the repository containing `start`, restoring backups.
pub(crate) fn uninstall(start: &Path) -> Result<Vec<Outcome>, HooksError> {
    let dir = hooks_dir(start)?;
    let mut outcomes = Vec::new();
    for hook in HOOKS {
        let path = dir.join(hook);
        if !path.exists() || is_foreign(&path)? {
            let existed = path.exists();
            outcomes.push(Outcome::Left { path, existed });
            continue;
        }
        std::fs::remove_file(&path).map_err(io("remove", &path))?;
        let backup = backup_of(&path);
        let restored = backup.exists();
        if restored {
            std::fs::rename(&backup, &path).map_err(io("restore", &backup))?;
        }
        outcomes.push(Outcome::Removed { path, restored });
    }
    Ok(outcomes)
}

/// Where git looks for the hooks of the repository containing `start`.
pub(crate) fn hooks_dir(start: &Path) -> Result<PathBuf, HooksError> {
    let repo = git2::Repository::discover(start).map_err(|_| HooksError::NotARepository {
        path: start.to_path_buf(),
    })?;
    let configured = repo
        .config()
        .ok()
        .and_then(|config| config.get_path("core.hooksPath").ok());
    Ok(match configured {
        Some(path) if path.is_absolute() => path,
        // A relative core.hooksPath is relative to where hooks run: the top of the checkout.
        Some(path) => repo.workdir().unwrap_or(repo.path()).join(path),
        None => repo.commondir().join("hooks"),
    })
}

/// The hook script.
fn script(hook: &str, exe: &Path) -> String {
    let fallback = exe.display().to_string().replace('\'', r"'\''");
    let find = format!(
        "if command -v agenthost >/dev/null 2>&1; then agenthost=agenthost; \
         else agenthost='{fallback}'; fi\n"
    );
    match hook {
        "pre-commit" => format!(
            "#!/bin/sh\n{MARKER} (agenthost hooks install): checks the staged changes against\n\
             # their spec's Scope and the review policies. Skip once: git commit --no-verify.\n\
             {find}exec \"$agenthost\" verify --staged\n"
        ),
        _ => format!(
            "#!/bin/sh\n{MARKER} (agenthost hooks install): checks the commits being pushed\n\
             # against their specs' Scopes and the review policies. Skip once: git push --no-verify.\n\
             {find}status=0\n\
             while read -r local_ref local_sha remote_ref remote_sha; do\n\
             \x20 case \"$local_sha\" in *[!0]*) ;; *) continue ;; esac # a deleted ref\n\
             \x20 case \"$remote_sha\" in\n\
             \x20   *[!0]*) range=\"$remote_sha..$local_sha\" ;;\n\
             \x20   *) range=\"$local_sha\" ;; # a new branch: from its merge base with the base branch\n\
             \x20 esac\n\
             \x20 \"$agenthost\" verify \"$range\" || status=$?\n\
             done\n\
             exit $status\n"
        ),
    }
}

/// Whether `path` is a hook agenthost did not write.
fn is_foreign(path: &Path) -> Result<bool, HooksError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(!String::from_utf8_lossy(&bytes).contains(MARKER)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(HooksError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn backup_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".agenthost-backup");
    path.with_file_name(name)
}

fn create_dir(dir: &Path) -> Result<(), HooksError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))
}

fn write_hook(path: &Path, text: &str) -> Result<(), HooksError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).map_err(io("write", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(io("make executable", path))
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> HooksError {
    let path = path.to_path_buf();
    move |source| HooksError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_path_is_quoted_for_sh() {
        let text = script("pre-commit", Path::new("/opt/it's here/agenthost"));
        assert!(
            text.contains(r"agenthost='/opt/it'\''s here/agenthost'"),
            "{text}"
        );
        assert!(text.contains(MARKER));
    }
}

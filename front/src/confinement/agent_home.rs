//! The agent's private home: one directory per task that the agent's `HOME`, its XDG
//! directories and its CLI's own config variables point into.
//!
//! Why: an agent CLI reads code to run from its config in the home (Claude Code's
//! `settings.json` hooks, MCP servers in `~/.claude.json`, Codex's `notify` program, Gemini
//! CLI's hooks and extensions, custom commands and agents). A sandboxed agent with a write
//! right there plants code that the user's next ordinary session runs with the user's full
//! rights: a delayed escape that walks around the kernel boundary after the run. So the
//! agent never gets a write right in the real home. What the CLI needs from there (its
//! credentials, the user's instructions file) is *seeded*: copied in by the host before the
//! first attempt. The home lives as long as the task (a correction's `continue` command
//! finds the CLI's session there) and goes with it.
//!
//! One file may travel back: `write_back`, an OAuth token the CLI refreshed during the run.
//! The host checks it first ([`write_back`]) and never copies anything that configures code.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::config::{AgentProfile, HostPath};

/// The largest file `write_back` copies (credentials are a few KiB).
const WRITE_BACK_MAX: u64 = 1024 * 1024;

/// A failure preparing the private home.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// The directory could not be made.
    #[error("cannot create the agent's private home {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A `home_files` entry could not be written.
    #[error("cannot write `{name}` in the agent's private home: {source}")]
    File {
        /// The file, relative to the home.
        name: String,
        /// Why.
        source: io::Error,
    },
    /// A seed could not be copied.
    #[error("cannot copy seed `{seed}` ({from}) into the agent's private home: {source}")]
    Seed {
        /// The seed as configured.
        seed: String,
        /// Its path in the real home.
        from: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// What preparing the home did, for the attempt log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// Whether the home was made now (first attempt) rather than found (a correction).
    pub created: bool,
    /// The seeds copied, as configured.
    pub copied: Vec<String>,
    /// The seeds not found in the real home, as configured.
    pub missing: Vec<String>,
    /// The `home_files` written, relative to the home.
    pub written: Vec<String>,
}

/// The XDG base directories inside a home, by variable: each CLI that follows XDG keeps its
/// config, data, state and cache in the private home too.
pub(crate) const XDG_DIRS: [(&str, &str); 4] = [
    ("XDG_CONFIG_HOME", ".config"),
    ("XDG_DATA_HOME", ".local/share"),
    ("XDG_STATE_HOME", ".local/state"),
    ("XDG_CACHE_HOME", ".cache"),
];

/// Makes the private home at `home` (mode 0700) and, when it is new, fills it for `profile`:
/// each of its `seed`s copied from `real_home` to the same place under it; then each of its
/// `home_files` written where nothing was seeded (its `{home}` and `{env:NAME}` filled from
/// `host_env`; left out when a variable it names is unset); then the directories its `env`
/// points config variables at (`CODEX_HOME = "{home}/.codex"`: Codex refuses a missing one).
/// A home that exists already (a later attempt) is left as the agent left it. A seed that is
/// missing from the real home is reported, not an error: a user who logs in with an API key
/// has no credentials file.
pub fn prepare(
    home: &Path,
    real_home: &Path,
    profile: &AgentProfile,
    host_env: &BTreeMap<String, String>,
) -> Result<Seeded, HomeError> {
    let mut seeded = Seeded::default();
    if home.is_dir() {
        return Ok(seeded);
    }
    let create = |path: &Path| {
        fs::create_dir_all(path).map_err(|source| HomeError::Create {
            path: path.to_path_buf(),
            source,
        })
    };
    create(home)?;
    fs::set_permissions(home, fs::Permissions::from_mode(0o700)).map_err(|source| {
        HomeError::Create {
            path: home.to_path_buf(),
            source,
        }
    })?;
    seeded.created = true;
    for seed in &profile.seed {
        let from = seed.expand(real_home);
        let to = seed.expand(home);
        let failed = |source| HomeError::Seed {
            seed: seed.to_string(),
            from: from.clone(),
            source,
        };
        match fs::metadata(&from) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                seeded.missing.push(seed.to_string());
                continue;
            }
            Err(err) => return Err(failed(err)),
            Ok(_) => {}
        }
        if let Some(parent) = to.parent() {
            create(parent)?;
        }
        copy_tree(&from, &to).map_err(failed)?;
        seeded.copied.push(seed.to_string());
    }
    for (name, template) in &profile.home_files {
        let path = home.join(name);
        if path.exists() {
            continue;
        }
        let text = match expand_value(template, Some(home), host_env) {
            Ok(Some(text)) => text,
            Ok(None) | Err(_) => continue,
        };
        let failed = |source| HomeError::File {
            name: name.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            create(parent)?;
        }
        fs::write(&path, text).map_err(failed)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(failed)?;
        seeded.written.push(name.clone());
    }
    for (var, value) in &profile.env {
        if (var.ends_with("_HOME") || var.ends_with("_DIR"))
            && let Some(rest) = value.strip_prefix("{home}")
            && !rest.contains('{')
        {
            create(&home.join(rest.trim_start_matches('/')))?;
        }
    }
    Ok(seeded)
}

/// A profile value with `{home}` (the private home) and `{env:NAME}` (the host's variable)
/// filled in; any other brace is itself (JSON and TOML stay as written). `Ok(None)` when
/// it names a host variable that is not set (the value is then left out); an error when it
/// names `{home}` and there is none.
pub(crate) fn expand_value(
    value: &str,
    home: Option<&Path>,
    host: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{home}") {
            let Some(home) = home else {
                return Err(
                    "`{home}` needs the task's private home, and there is none here".into(),
                );
            };
            out.push_str(&home.display().to_string());
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{env:") {
            let Some(end) = after.find('}') else {
                return Err("`{env:` has no closing `}`".into());
            };
            match host.get(&after[..end]) {
                Some(value) => out.push_str(value),
                None => return Ok(None),
            }
            rest = &after[end + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// Copies a file, or a directory's regular files and directories (symbolic links inside are
/// left out: they could point anywhere). Modes are kept.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    if fs::metadata(from)?.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() || kind.is_file() {
                copy_tree(&entry.path(), &to.join(entry.file_name()))?;
            }
        }
        Ok(())
    } else {
        fs::copy(from, to).map(|_| ())
    }
}

/// What [`write_back`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBack {
    /// The private copy is unchanged (or gone): nothing to do.
    Unchanged,
    /// The real file was replaced by the private copy.
    Copied,
    /// The private copy changed but was not copied back, for this reason.
    Refused(String),
}

/// Copies the seeded file `file` back from the private `home` to `real_home` if the run
/// changed it, after checking that the copy is still the same kind of file: a regular file
/// (not a link), at most 1 MiB, and, like the original, a JSON object with the same
/// top-level keys. The real file keeps its owner and mode; it is replaced by a
/// rename, so a reader never sees half of it. Only an existing file is updated.
pub fn write_back(home: &Path, real_home: &Path, file: &HostPath) -> io::Result<WriteBack> {
    let private = file.expand(home);
    let real = file.expand(real_home);
    let Ok(meta) = fs::symlink_metadata(&private) else {
        return Ok(WriteBack::Unchanged);
    };
    let refused = |why: &str| Ok(WriteBack::Refused(why.to_string()));
    if !meta.file_type().is_file() {
        return refused("the private copy is no longer a regular file");
    }
    if meta.len() > WRITE_BACK_MAX {
        return refused("the private copy grew past 1 MiB");
    }
    let Ok(real_meta) = fs::symlink_metadata(&real) else {
        return refused("the file no longer exists in the real home");
    };
    if !real_meta.file_type().is_file() {
        return refused("the file in the real home is not a regular file");
    }
    let new = fs::read(&private)?;
    let old = fs::read(&real)?;
    if new == old {
        return Ok(WriteBack::Unchanged);
    }
    // Credentials files are JSON objects (Claude Code's, Codex's, Gemini CLI's): anything
    // else (`authorized_keys`, a shell file) is never written back.
    let Some(keys) = json_keys(&old) else {
        return refused(
            "the original is not a JSON object (only credentials files are written back)",
        );
    };
    if json_keys(&new).as_ref() != Some(&keys) {
        return refused("its JSON no longer has the same top-level keys as the original");
    }
    let dir = real.parent().unwrap_or(Path::new("/"));
    let temp = dir.join(format!(
        ".{}.agenthost-{}",
        real.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    let written = (|| {
        fs::write(&temp, &new)?;
        fs::set_permissions(&temp, fs::Permissions::from_mode(real_meta.mode() & 0o7777))?;
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&temp, Some(real_meta.uid()), Some(real_meta.gid()))?;
        }
        fs::rename(&temp, &real)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.map(|()| WriteBack::Copied)
}

/// The sorted top-level keys of a JSON object, or `None` when `bytes` is not one.
fn json_keys(bytes: &[u8]) -> Option<Vec<String>> {
    match serde_json::from_slice::<serde_json::Value>(bytes).ok()? {
        serde_json::Value::Object(map) => Some(map.keys().cloned().collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(path: &str) -> HostPath {
        HostPath::parse(path).unwrap()
    }

    #[test]
    fn seeds_are_copied_once_and_missing_ones_reported() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir_all(real.join(".claude/sub")).unwrap();
        fs::write(real.join(".claude/.credentials.json"), "{\"a\":1}").unwrap();
        fs::write(real.join(".claude/sub/x"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", real.join(".claude/sub/link")).unwrap();
        let home = dir.path().join("homes/t1");
        let mut profile = crate::config::Config::builtin().agents["script"].clone();
        profile.seed = vec![host("~/.claude"), host("~/.missing.json")];
        profile.home_files = BTreeMap::from([
            (
                ".claude/.credentials.json".into(),
                "not written: seeded".into(),
            ),
            (
                ".tool/config.toml".into(),
                "url = \"{env:URL}\"\nhome = \"{home}\"\n".into(),
            ),
            (
                ".other/config.toml".into(),
                "key = \"{env:UNSET}\"\n".into(),
            ),
        ]);
        profile
            .env
            .insert("CODEX_HOME".into(), "{home}/.codex".into());
        let host_env = BTreeMap::from([("URL".to_string(), "http://127.0.0.1:9".to_string())]);
        let seeded = prepare(&home, &real, &profile, &host_env).unwrap();
        assert_eq!(
            seeded,
            Seeded {
                created: true,
                copied: vec!["~/.claude".into()],
                missing: vec!["~/.missing.json".into()],
                written: vec![".tool/config.toml".into()],
            }
        );
        assert_eq!(
            fs::read_to_string(home.join(".tool/config.toml")).unwrap(),
            format!(
                "url = \"http://127.0.0.1:9\"\nhome = \"{}\"\n",
                home.display()
            )
        );
        assert!(!home.join(".other").exists());
        assert!(home.join(".codex").is_dir());
        assert_eq!(
            fs::read_to_string(home.join(".claude/.credentials.json")).unwrap(),
            "{\"a\":1}"
        );
        assert_eq!(fs::read_to_string(home.join(".claude/sub/x")).unwrap(), "x");
        assert!(fs::symlink_metadata(home.join(".claude/sub/link")).is_err());
        assert_eq!(
            fs::metadata(&home).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // A later attempt finds the agent's own state, not a fresh copy.
        fs::write(home.join(".claude/sub/x"), "changed by the agent").unwrap();
        assert!(!prepare(&home, &real, &profile, &host_env).unwrap().created);
        assert_eq!(
            fs::read_to_string(home.join(".claude/sub/x")).unwrap(),
            "changed by the agent"
        );
    }

    #[test]
    fn write_back_copies_a_refreshed_token_and_refuses_other_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let (real, home) = (dir.path().join("real"), dir.path().join("home"));
        fs::create_dir_all(real.join(".codex")).unwrap();
        fs::create_dir_all(home.join(".codex")).unwrap();
        let file = host("~/.codex/auth.json");
        let original = r#"{"tokens":{"access":"old"},"last_refresh":"1"}"#;
        fs::write(file.expand(&real), original).unwrap();
        fs::set_permissions(file.expand(&real), fs::Permissions::from_mode(0o600)).unwrap();

        fs::write(file.expand(&home), original).unwrap();
        assert_eq!(
            write_back(&home, &real, &file).unwrap(),
            WriteBack::Unchanged
        );

        let refreshed = r#"{"tokens":{"access":"new"},"last_refresh":"2"}"#;
        fs::write(file.expand(&home), refreshed).unwrap();
        assert_eq!(write_back(&home, &real, &file).unwrap(), WriteBack::Copied);
        assert_eq!(fs::read_to_string(file.expand(&real)).unwrap(), refreshed);
        let mode = fs::metadata(file.expand(&real))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        fs::write(
            file.expand(&home),
            r#"{"mcpServers":{"x":{"command":"sh"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            write_back(&home, &real, &file).unwrap(),
            WriteBack::Refused(_)
        ));
        assert_eq!(fs::read_to_string(file.expand(&real)).unwrap(), refreshed);

        fs::remove_file(file.expand(&home)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", file.expand(&home)).unwrap();
        assert!(matches!(
            write_back(&home, &real, &file).unwrap(),
            WriteBack::Refused(_)
        ));
        assert_eq!(fs::read_to_string(file.expand(&real)).unwrap(), refreshed);
    }
}

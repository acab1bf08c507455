//! Which config files exist: the user's, the repository's, and the personal local one.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// The repository config's file name, at the repository root.
pub const REPO_FILE: &str = "agenthost.toml";
/// The personal, untracked repository config's file name, at the repository root.
pub const LOCAL_FILE: &str = "agenthost.local.toml";

/// The config files to load, lowest precedence first; `None` where there is no such file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSources {
    /// The user config: `$AGENTHOST_CONFIG`, else `$XDG_CONFIG_HOME/agenthost/config.toml`,
    /// else `$HOME/.config/agenthost/config.toml`.
    pub user: Option<PathBuf>,
    /// The repository's `agenthost.toml`.
    pub repo: Option<PathBuf>,
    /// The repository's `agenthost.local.toml`.
    pub local: Option<PathBuf>,
}

impl ConfigSources {
    /// Finds the config files that exist, reading `AGENTHOST_CONFIG`, `XDG_CONFIG_HOME` and
    /// `HOME` from the environment. `repo_root` is the repository's top directory, if any.
    ///
    /// `AGENTHOST_CONFIG`, when set, is kept even if the file does not exist, so that a typo
    /// in it is reported when loading rather than silently ignored. A file whose existence
    /// cannot be checked (say, a directory without search permission) is kept too, for the
    /// same reason.
    pub fn discover(repo_root: Option<&Path>) -> ConfigSources {
        Self::discover_with(repo_root, |name| std::env::var_os(name))
    }

    /// [`ConfigSources::discover`] with the environment given as a function.
    pub(crate) fn discover_with(
        repo_root: Option<&Path>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> ConfigSources {
        let explicit = env("AGENTHOST_CONFIG")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from);
        let user = match explicit {
            Some(path) => Some(path),
            None => user_config_path(&env).filter(|path| might_exist(path)),
        };
        let in_repo = |name: &str| {
            repo_root
                .map(|root| root.join(name))
                .filter(|path| might_exist(path))
        };
        ConfigSources {
            user,
            repo: in_repo(REPO_FILE),
            local: in_repo(LOCAL_FILE),
        }
    }

    /// The files, lowest precedence first, each with its [`Origin`].
    pub fn origins(&self) -> impl Iterator<Item = Origin> + '_ {
        let user = self.user.clone().map(Origin::User);
        let repo = self.repo.clone().map(Origin::Repo);
        let local = self.local.clone().map(Origin::Local);
        user.into_iter().chain(repo).chain(local)
    }
}

/// Where the user config lives by default (whether or not it exists): under
/// `$XDG_CONFIG_HOME` when that is an absolute path (as the XDG spec requires), else under
/// `$HOME/.config`.
fn user_config_path(env: &impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let xdg = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute());
    let base = xdg.or_else(|| {
        env("HOME")
            .filter(|home| !home.is_empty())
            .map(|home| PathBuf::from(home).join(".config"))
    })?;
    Some(base.join("agenthost").join("config.toml"))
}

/// False only when the path certainly does not exist.
fn might_exist(path: &Path) -> bool {
    !matches!(path.try_exists(), Ok(false))
}

/// Which layer a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// The defaults built into agenthost.
    Builtin,
    /// The user config file.
    User(PathBuf),
    /// The repository's `agenthost.toml`.
    Repo(PathBuf),
    /// The repository's `agenthost.local.toml`.
    Local(PathBuf),
}

impl Origin {
    /// The file, unless this is the built-in defaults.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Origin::Builtin => None,
            Origin::User(path) | Origin::Repo(path) | Origin::Local(path) => Some(path),
        }
    }
}

impl fmt::Display for Origin {
    /// The file's path, or "built-in defaults".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            Some(path) => write!(f, "{}", path.display()),
            None => f.write_str("built-in defaults"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn discover(root: Option<&Path>, vars: &[(&str, &Path)]) -> ConfigSources {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        ConfigSources::discover_with(root, |name| vars.get(name).cloned())
    }

    fn touch(path: &Path) -> PathBuf {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, "").unwrap();
        path.to_owned()
    }

    #[test]
    fn finds_existing_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let repo = dir.path().join("repo");
        fs_err::create_dir_all(&repo).unwrap();
        let repo_file = touch(&repo.join("agenthost.toml"));
        assert_eq!(
            discover(Some(&repo), &[("HOME", &home)]),
            ConfigSources {
                user: None,
                repo: Some(repo_file.clone()),
                local: None
            }
        );
        let user = touch(&home.join(".config/agenthost/config.toml"));
        let local = touch(&repo.join("agenthost.local.toml"));
        let found = discover(Some(&repo), &[("HOME", &home)]);
        assert_eq!(
            found,
            ConfigSources {
                user: Some(user.clone()),
                repo: Some(repo_file.clone()),
                local: Some(local.clone())
            }
        );
        assert_eq!(
            found.origins().collect::<Vec<_>>(),
            [
                Origin::User(user),
                Origin::Repo(repo_file),
                Origin::Local(local)
            ]
        );
    }

    #[test]
    fn xdg_config_home_wins_over_home_when_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let xdg = dir.path().join("xdg");
        touch(&home.join(".config/agenthost/config.toml"));
        let in_xdg = touch(&xdg.join("agenthost/config.toml"));
        let found = discover(None, &[("HOME", &home), ("XDG_CONFIG_HOME", &xdg)]);
        assert_eq!(found.user, Some(in_xdg));
        // A relative XDG_CONFIG_HOME is invalid per the spec and ignored.
        let found = discover(
            None,
            &[("HOME", &home), ("XDG_CONFIG_HOME", Path::new("rel"))],
        );
        assert_eq!(found.user, Some(home.join(".config/agenthost/config.toml")));
    }

    #[test]
    fn agenthost_config_is_kept_even_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let found = discover(
            None,
            &[("HOME", dir.path()), ("AGENTHOST_CONFIG", &missing)],
        );
        assert_eq!(found.user, Some(missing));
        assert_eq!(discover(None, &[]), ConfigSources::default());
    }
}

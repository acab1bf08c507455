//! The package managers' download caches in the user's home (`~/.npm`, `~/.cache/pip`,
//! `~/.cargo/registry`, ...): found from PATH and the variables that move them.
//!
//! With a private `HOME`, a package manager would look for its cache in the private home and
//! find nothing. The setup commands get the real caches *writable* (they download into them,
//! before the agent, on the base commit: the code the user's own `npm ci` would run); the
//! agent and the test command get them *read-only*, because what a cache holds runs later
//! outside any sandbox (cargo builds extracted sources as they are, pip installs cached
//! wheels without a hash check).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One package manager's cache on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cache {
    /// The package manager (`npm`, `pip`, ...).
    pub tool: &'static str,
    /// The directory.
    pub path: PathBuf,
    /// The variable that tells the tool where it is, set in the sandbox when the cache is
    /// writable, or when the tool can use it read-only; `None` when another variable
    /// (`CARGO_HOME`) already leads there.
    pub var: Option<&'static str>,
    /// Whether the tool works with the cache read-only (it then reads it, for offline
    /// installs); when it does not, the agent and the test command keep the private home's
    /// cache and may read the real one only by naming it.
    pub read_only_ok: bool,
    /// Where the path came from: the variable's value or the tool's default place.
    pub why: String,
}

/// A package manager's cache: the programs that use it, the variable that moves it, and
/// its default place relative to the home (`{xdg_cache}` is `$XDG_CACHE_HOME` or
/// `~/.cache`).
struct Known {
    tool: &'static str,
    programs: &'static [&'static str],
    var: &'static str,
    default: &'static str,
    read_only_ok: bool,
}

/// The caches agenthost knows. `read_only_ok` is what each tool was seen to do with a
/// read-only cache: npm, pip and uv write into theirs even to read it (index entries,
/// locks), so they keep a private one then.
const KNOWN: &[Known] = &[
    Known {
        tool: "npm",
        programs: &["npm", "npx"],
        var: "npm_config_cache",
        default: ".npm",
        read_only_ok: false,
    },
    Known {
        tool: "pip",
        programs: &["pip", "pip3", "python3", "python"],
        var: "PIP_CACHE_DIR",
        default: "{xdg_cache}/pip",
        read_only_ok: false,
    },
    Known {
        tool: "uv",
        programs: &["uv"],
        var: "UV_CACHE_DIR",
        default: "{xdg_cache}/uv",
        read_only_ok: false,
    },
    Known {
        tool: "yarn",
        programs: &["yarn"],
        var: "YARN_CACHE_FOLDER",
        default: "{xdg_cache}/yarn",
        read_only_ok: false,
    },
    Known {
        tool: "go",
        programs: &["go"],
        var: "GOMODCACHE",
        default: "go/pkg/mod",
        read_only_ok: true,
    },
    Known {
        tool: "deno",
        programs: &["deno"],
        var: "DENO_DIR",
        default: "{xdg_cache}/deno",
        read_only_ok: false,
    },
    Known {
        tool: "bun",
        programs: &["bun"],
        var: "BUN_INSTALL_CACHE_DIR",
        default: ".bun/install/cache",
        read_only_ok: false,
    },
];

/// Whether `name` is a variable that moves a package manager's cache.
pub(crate) fn is_cache_variable(name: &str) -> bool {
    KNOWN.iter().any(|known| known.var == name)
}

/// The caches of the package managers on this machine: each one whose program is on
/// `PATH` or whose directory exists. With `create_missing`, a missing cache of a program on
/// PATH is listed too (the setup commands' plan creates it); otherwise only existing ones.
/// `cargo_home` is where cargo keeps its registry (`$CARGO_HOME` or `~/.cargo`), when cargo
/// is there.
pub(crate) fn find(
    host_env: &BTreeMap<String, String>,
    home: &Path,
    cargo_home: Option<&Path>,
    create_missing: bool,
) -> Vec<Cache> {
    let path_var = host_env.get("PATH").map(String::as_str);
    let xdg_cache = host_env
        .get("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".cache"));
    let mut caches = Vec::new();
    for known in KNOWN {
        let (path, why) = match host_env
            .get(known.var)
            .filter(|v| Path::new(v).is_absolute())
        {
            Some(value) => (PathBuf::from(value), format!("${}", known.var)),
            None => {
                let path = match known.default.strip_prefix("{xdg_cache}/") {
                    Some(rest) => xdg_cache.join(rest),
                    None => home.join(known.default),
                };
                (path, format!("{}'s default cache", known.tool))
            }
        };
        let installed = known
            .programs
            .iter()
            .any(|program| crate::confinement::find_program(program, path_var).is_some());
        let exists = path.is_dir();
        if exists || (create_missing && installed) {
            caches.push(Cache {
                tool: known.tool,
                path,
                var: Some(known.var),
                read_only_ok: known.read_only_ok,
                why,
            });
        }
    }
    if let Some(cargo_home) = cargo_home {
        for dir in ["registry", "git"] {
            let path = cargo_home.join(dir);
            if path.is_dir() || create_missing {
                caches.push(Cache {
                    tool: "cargo",
                    path,
                    var: None,
                    read_only_ok: true,
                    why: format!("cargo's {dir} cache under CARGO_HOME"),
                });
            }
        }
    }
    caches
}

/// The lock files cargo takes in `CARGO_HOME` when it downloads (`.package-cache`) and its
/// last-use database (`.global-cache`). Not the database's journal, which SQLite creates and
/// deletes beside it: that would need the right to create and delete any file in
/// `CARGO_HOME`, `bin/` included (programs on your PATH). Without it cargo says "failed to
/// save last-use data", which only affects its cache clean-up.
pub(crate) const CARGO_HOME_FILES: &[&str] =
    &[".package-cache", ".package-cache-mutate", ".global-cache"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_is_found_by_its_variable_or_its_default_place() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path();
        std::fs::create_dir_all(home.join(".npm")).unwrap();
        std::fs::create_dir_all(home.join("xdg/pip")).unwrap();
        let moved = home.join("elsewhere/uv");
        std::fs::create_dir_all(&moved).unwrap();
        let env: BTreeMap<String, String> = [
            ("PATH".to_string(), "/nonexistent".to_string()),
            (
                "XDG_CACHE_HOME".to_string(),
                home.join("xdg").display().to_string(),
            ),
            ("UV_CACHE_DIR".to_string(), moved.display().to_string()),
        ]
        .into();
        let caches = find(&env, home, None, false);
        let found: Vec<(&str, PathBuf)> = caches.iter().map(|c| (c.tool, c.path.clone())).collect();
        assert_eq!(
            found,
            vec![
                ("npm", home.join(".npm")),
                ("pip", home.join("xdg/pip")),
                ("uv", moved.clone()),
            ]
        );
        assert_eq!(caches[2].why, "$UV_CACHE_DIR");
        assert_eq!(caches[0].why, "npm's default cache");
    }

    #[test]
    fn a_missing_cache_is_listed_only_for_a_program_on_path_when_asked() {
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let npm = bin.join("npm");
        std::fs::write(&npm, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env: BTreeMap<String, String> =
            [("PATH".to_string(), bin.display().to_string())].into();
        assert!(find(&env, home.path(), None, false).is_empty());
        let created = find(&env, home.path(), None, true);
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].path, home.path().join(".npm"));
    }
}

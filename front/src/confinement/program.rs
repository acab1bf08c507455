//! What an agent program needs to start, found from where it really lives.
//!
//! Agent CLIs are installed as links to a package: npm puts `codex` in
//! `node_modules/.bin/` (or a global prefix's `bin/`) as a link into
//! `node_modules/@openai/codex/`, whose dependencies sit beside it in `node_modules/`; pipx
//! and `uv tool` link `~/.local/bin/aider` into a virtual environment, whose interpreter
//! comes from a base Python elsewhere; Claude Code's native installer links
//! `~/.local/bin/claude` to one file under `~/.local/share/claude/versions/`. A PATH entry's
//! own directory is not enough: the sandbox must let the agent read and run the program it
//! resolves to and the package around it, and nothing more of the home.

use std::path::{Path, PathBuf};

/// Where `program` is: itself if it has a `/`, else the first match on `path_var` (a
/// `PATH`-style list) that is an executable file.
pub fn find_program(program: &str, path_var: Option<&str>) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::Path;
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = Path::new(program);
        return executable(path).then(|| path.to_path_buf());
    }
    path_var?
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| executable(candidate))
}

/// A tree (or file) the program needs, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Needed {
    /// The path (canonical).
    pub path: PathBuf,
    /// Whether it is a whole directory tree rather than one file.
    pub tree: bool,
    /// Why, for `--explain`.
    pub why: String,
}

/// What the program at `resolved` (canonical: every link followed) needs: the file itself,
/// and the package it belongs to. `resolved` is what `program` (as written) led to.
pub(super) fn needs(program: &Path, resolved: &Path) -> Vec<Needed> {
    let shown = program.display();
    let mut needed = vec![Needed {
        path: resolved.to_path_buf(),
        tree: false,
        why: if program == resolved {
            format!("the agent program {shown}")
        } else {
            format!("the agent program {shown}, which resolves to it")
        },
    }];
    if let Some(modules) = outermost_node_modules(resolved) {
        needed.push(Needed {
            path: modules,
            tree: true,
            why: format!("the npm packages the agent program {shown} runs from"),
        });
    } else if let Some(venv) = virtual_env(resolved) {
        if let Some(base) = base_python(&venv) {
            needed.push(Needed {
                path: base,
                tree: true,
                why: format!("the Python the agent program {shown}'s virtual environment runs"),
            });
        }
        needed.push(Needed {
            path: venv,
            tree: true,
            why: format!("the virtual environment of the agent program {shown}"),
        });
    }
    needed
}

/// The outermost `node_modules` directory `path` lies in: a package's dependencies may be
/// hoisted to any `node_modules` above it.
fn outermost_node_modules(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .filter(|dir| dir.file_name().is_some_and(|n| n == "node_modules"))
        .last()
        .map(Path::to_path_buf)
}

/// The virtual environment whose `bin/` holds `path` (it has a `pyvenv.cfg`).
fn virtual_env(path: &Path) -> Option<PathBuf> {
    let bin = path
        .parent()
        .filter(|p| p.file_name().is_some_and(|n| n == "bin"))?;
    let venv = bin.parent()?;
    venv.join("pyvenv.cfg")
        .is_file()
        .then(|| venv.to_path_buf())
}

/// The base Python installation of a virtual environment: `home = .../bin` in its
/// `pyvenv.cfg`, as the installation's root (the directory above `bin`).
fn base_python(venv: &Path) -> Option<PathBuf> {
    let config = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    let home = config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "home").then(|| PathBuf::from(value.trim()))
    })?;
    let home = home.canonicalize().ok()?;
    let root = match home.file_name() {
        Some(name) if name == "bin" => home.parent()?.to_path_buf(),
        _ => home,
    };
    // A system Python is covered by the system directories already.
    (!root.starts_with("/usr") && root != Path::new("/")).then_some(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_npm_package_brings_its_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        let modules = dir.path().join("prefix/node_modules");
        let package = modules.join("@openai/codex/bin");
        std::fs::create_dir_all(&package).unwrap();
        let resolved = package.join("codex.js");
        std::fs::write(&resolved, "#!/usr/bin/env node\n").unwrap();
        let link = modules.join(".bin/codex");
        let needed = needs(&link, &resolved);
        assert_eq!(needed.len(), 2);
        assert_eq!(needed[0].path, resolved);
        assert!(!needed[0].tree);
        assert_eq!(needed[1].path, modules);
        assert!(needed[1].tree);
        assert!(needed[1].why.contains("npm packages"), "{}", needed[1].why);
    }

    #[test]
    fn a_virtual_environment_brings_its_base_python() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("pyenv/versions/3.11.7");
        std::fs::create_dir_all(base.join("bin")).unwrap();
        let venv = dir.path().join("pipx/venvs/aider-chat");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            format!("home = {}\nversion = 3.11.7\n", base.join("bin").display()),
        )
        .unwrap();
        let program = venv.join("bin/aider");
        std::fs::write(&program, "#!python\n").unwrap();
        let needed = needs(Path::new("/home/u/.local/bin/aider"), &program);
        let trees: Vec<&Path> = needed
            .iter()
            .filter(|n| n.tree)
            .map(|n| n.path.as_path())
            .collect();
        assert_eq!(trees, [base.canonicalize().unwrap(), venv]);
    }

    #[test]
    fn a_single_binary_needs_only_itself() {
        let needed = needs(
            Path::new("/home/u/.local/bin/claude"),
            Path::new("/home/u/.local/share/claude/versions/2.1.330"),
        );
        assert_eq!(needed.len(), 1);
        assert!(needed[0].why.contains("resolves to it"));
    }
}

//! The other writable and readable places: build scratch space, the config's and the
//! profile's grants, the agent program, the whole worktree for the setup and test runs,
//! the package caches, `[test]`'s grants, the private home and temp dir.

use super::*;

/// Build-output directories granted as scratch space when the repository ignores them, each
/// with the files at the worktree's root that show its tool is used there. The agent cannot
/// create a directory at the root, and Landlock grants only what exists, so a missing one is
/// made for the run (and removed after it when still empty) where its tool's marker is;
/// elsewhere it is granted only if it exists. An environment (`.venv`, `.tox`) has no
/// marker: it is granted only where it exists, since an empty one reads as a broken one
/// ("No module named pytest"), and `[worktree] setup` or `copy` makes it whole.
pub(super) const SCRATCH_DIRS: &[(&str, &[&str])] = &[
    ("target", &["Cargo.toml"]),
    ("node_modules/.cache", &["package.json"]),
    (".pytest_cache", PYTHON_MARKERS),
    (".mypy_cache", PYTHON_MARKERS),
    (".ruff_cache", PYTHON_MARKERS),
    (".tox", &[]),
    (".venv", &[]),
    ("__pycache__", PYTHON_MARKERS),
    ("build", BUILD_MARKERS),
    ("dist", BUILD_MARKERS),
];

/// Files that show a Python project.
const PYTHON_MARKERS: &[&str] = &[
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements.txt",
    "pytest.ini",
    "tox.ini",
    "conftest.py",
];

/// Files that show a project whose tools write `build/` or `dist/`.
const BUILD_MARKERS: &[&str] = &[
    "package.json",
    "pyproject.toml",
    "setup.py",
    "CMakeLists.txt",
    "build.gradle",
    "build.gradle.kts",
    "meson.build",
];

impl Builder<'_> {
    /// Build outputs: well-known scratch directories that the repository ignores (so they
    /// never reach the diff) become writable trees; a missing one is created where its tool
    /// is used ([`SCRATCH_DIRS`]). One that
    /// is a symlink out of the worktree, to nothing, or to a directory the repository does
    /// not ignore is left out with a note: scratch space is a convenience, never a reason
    /// to refuse the sandbox or to open tracked files.
    pub(super) fn scratch(&mut self, ignored: &IgnoreRules) {
        for (name, markers) in SCRATCH_DIRS {
            let path = self.root().join(name);
            // Only when git ignores it, and not already covered by a Scope tree grant.
            if !ignored.ignores_dir(name)
                || self
                    .writes()
                    .any(|r| r.target == Target::Tree && path.starts_with(&r.path))
            {
                continue;
            }
            let resolved = self.resolve(&path);
            let Ok(inside) = resolved.strip_prefix(self.root()) else {
                self.notes.push(format!(
                    "scratch: `{name}/` leads to {}, outside the worktree: not granted (a profile's `write` can grant it)",
                    resolved.display()
                ));
                continue;
            };
            // A link to a directory the repository does not ignore would make tracked
            // files scratch space.
            let inside = inside.to_string_lossy().replace('\\', "/");
            if inside != *name && !ignored.ignores_dir(&inside) {
                self.notes.push(format!(
                    "scratch: `{name}/` leads to `{inside}/`, which the repository does not ignore: not granted"
                ));
                continue;
            }
            // A nested scratch directory (`node_modules/.cache`) only where its parent is
            // there already: creating `node_modules/` would stand in the way of the package
            // manager that makes it (`npm ci` removes and recreates it). An environment
            // (`.venv`, `.tox`) only where it exists: an empty one reads as a broken one
            // ("No module named pytest"); `[worktree] setup` or `copy` makes it.
            if let Some((parent, _)) = name.rsplit_once('/')
                && !self.root().join(parent).is_dir()
            {
                continue;
            }
            if !path.is_dir() && !markers.iter().any(|file| self.root().join(file).exists()) {
                continue;
            }
            if let Err(dangling) = self.ensure_dir(&path) {
                self.notes.push(format!(
                    "scratch: `{name}/` is not granted: {} is a symbolic link to {}, which does not exist",
                    dangling.link.display(),
                    dangling.target.display()
                ));
                continue;
            }
            self.rule(
                path,
                Target::Tree,
                rights::WRITE_TREE,
                Provenance::new(
                    "scratch",
                    format!(
                        "`{name}/` is ignored by the repository: build output, never in the diff"
                    ),
                ),
            );
        }
    }

    /// The profile's and the config's grants.
    pub(super) fn grants(&mut self) {
        let home = self.input.home.clone();
        for path in &self.input.sandbox.read {
            let expanded = path.expand(&home);
            self.grant_read(
                expanded,
                Provenance::new("config [sandbox] read", format!("`{path}`")),
            );
        }
        if let Some((name, profile)) = self.input.profile {
            for path in &profile.read {
                let expanded = path.expand(&home);
                self.grant_read(
                    expanded,
                    Provenance::new(format!("profile {name}"), format!("read `{path}`")),
                );
            }
            self.notes.extend(profile.home_write_warnings(name, &home));
            for path in &profile.write {
                let expanded = path.expand(&home);
                let why = Provenance::new(format!("profile {name}"), format!("write `{path}`"));
                if expanded.is_file() {
                    self.rule(expanded, Target::File, rights::EDIT_FILE, why);
                } else if expanded.is_dir() {
                    self.rule(expanded, Target::Tree, rights::WRITE_TREE, why);
                } else if expanded.extension().is_none()
                    && expanded.parent().is_some_and(Path::is_dir)
                {
                    // A missing directory such as `~/.claude` on first use: the host creates it.
                    self.mkdirs.push(expanded.clone());
                    self.rule(expanded, Target::Tree, rights::WRITE_TREE, why);
                } else {
                    self.notes.push(format!(
                        "profile {name}: write `{path}` ({}) does not exist: not granted",
                        expanded.display()
                    ));
                }
            }
        }
    }

    pub(super) fn grant_read(&mut self, path: PathBuf, why: Provenance) {
        use std::os::unix::fs::PermissionsExt as _;
        if path.is_dir() {
            self.tree_without_secrets(&path, rights::READ_EXEC, why);
        } else if std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0) {
            // Reading a program includes running it.
            self.rule(
                path,
                Target::File,
                &[FsRight::Execute, FsRight::ReadFile],
                why,
            );
        } else if path.exists() {
            self.rule(path, Target::File, rights::READ_FILE, why);
        } else {
            self.notes.push(format!(
                "{}: {} does not exist: not granted",
                why.source,
                path.display()
            ));
        }
    }

    /// The agent program and the package it runs from (`super::program`).
    pub(super) fn program(&mut self) {
        let Some(program) = self.input.program.clone() else {
            return;
        };
        let Ok(resolved) = self.canonical.canonicalize(&program) else {
            return;
        };
        for needed in crate::confinement::program::needs(&program, &resolved) {
            if self.covered_by_read(&needed.path) {
                continue;
            }
            let why = Provenance::new("agent", needed.why);
            if needed.tree {
                self.tree_without_secrets(&needed.path, rights::READ_EXEC, why);
            } else {
                self.rule(
                    needed.path,
                    Target::File,
                    &[FsRight::Execute, FsRight::ReadFile],
                    why,
                );
            }
        }
    }

    /// The whole worktree writable, for the setup commands and the test command: the mount
    /// layer keeps its `.git` read-only (and, for the test command, its Do NOT modify
    /// paths), so a plan without the layer is refused.
    pub(super) fn whole_worktree(&mut self) {
        let purpose = self.input.purpose.name();
        if !self.input.sandbox.read_only_view {
            self.errors.push(PlanError::NeedsMountLayer { purpose });
            return;
        }
        let why = match self.input.purpose {
            Purpose::Setup { .. } => {
                "the setup commands make the worktree's dependencies (node_modules, .venv, target); its `.git` stays read-only (mount layer)"
            }
            _ => {
                "tests write build output and reports anywhere in the worktree; its `.git` and Do NOT modify paths stay read-only (mount layer), and tracked files it changes are committed and reported"
            }
        };
        self.rule(
            self.root().to_path_buf(),
            Target::Tree,
            rights::WRITE_TREE,
            Provenance::new(purpose, why),
        );
    }

    /// The package caches (`super::caches`): writable for the setup commands, which fill
    /// them, read-only for the agent and the test command.
    pub(super) fn caches(&mut self, writable: bool) {
        let cargo_home = self
            .input
            .host_env
            .get("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                self.home_toolchains
                    .iter()
                    .find(|(var, _)| *var == "CARGO_HOME")
                    .map(|(_, path)| path.clone())
            });
        let found = caches::find(
            &self.input.host_env,
            &self.input.home,
            cargo_home.as_deref(),
            writable,
        );
        for cache in &found {
            if writable {
                // With its missing parents (`~/.cache` on a new machine), outermost first.
                let missing: Vec<PathBuf> = cache
                    .path
                    .ancestors()
                    .take_while(|dir| !dir.exists())
                    .map(Path::to_path_buf)
                    .collect();
                for dir in missing.into_iter().rev() {
                    if !self.mkdirs.contains(&dir) {
                        self.mkdirs.push(dir);
                    }
                }
                self.rule(
                    cache.path.clone(),
                    Target::Tree,
                    rights::WRITE_TREE,
                    Provenance::new(
                        "cache",
                        format!(
                            "{} ({}): the setup commands download into it; never writable to the agent or the tests, whose code could plant packages there that run later outside the sandbox",
                            cache.tool, cache.why
                        ),
                    ),
                );
            } else if !self.covered_by_read(&cache.path) {
                self.rule(
                    cache.path.clone(),
                    Target::Tree,
                    rights::READ,
                    Provenance::new(
                        "cache",
                        format!(
                            "{} ({}), read-only: what it holds runs later outside the sandbox",
                            cache.tool, cache.why
                        ),
                    ),
                );
            }
        }
        if writable
            && let Some(cargo_home) = &cargo_home
            && found.iter().any(|c| c.tool == "cargo")
        {
            for name in CARGO_HOME_FILES {
                let path = cargo_home.join(name);
                if !path.exists() {
                    self.touch.push(path.clone());
                }
                self.rule(
                    path,
                    Target::File,
                    rights::EDIT_FILE,
                    Provenance::new("cache", "cargo's lock and last-use files beside its caches"),
                );
            }
        }
        self.caches = found;
    }

    /// `[test]`'s `read` and `write` grants.
    pub(super) fn test_grants(&mut self, config: &TestConfig) {
        let home = self.input.home.clone();
        for path in &config.read {
            self.grant_read(
                path.expand(&home),
                Provenance::new("config [test] read", format!("`{path}`")),
            );
        }
        for path in &config.write {
            let expanded = path.expand(&home);
            let why = Provenance::new("config [test] write", format!("`{path}`"));
            if expanded.is_file() {
                self.rule(expanded, Target::File, rights::EDIT_FILE, why);
            } else if expanded.is_dir() {
                self.rule(expanded, Target::Tree, rights::WRITE_TREE, why);
            } else {
                self.notes.push(format!(
                    "config [test] write `{path}` ({}) does not exist: not granted",
                    expanded.display()
                ));
            }
        }
    }

    /// The private home: the agent's `HOME`, writable as a whole.
    pub(super) fn agent_home(&mut self) {
        if let Some(home) = self.input.agent_home.clone() {
            let why = match self.input.purpose {
                Purpose::Agent => {
                    "the task's private home (HOME): the agent CLI's config, session and history; seeded from the profile's `seed`, never copied back but `write_back`"
                }
                _ => "a private home (HOME) for this run alone, empty, removed after it",
            };
            self.rule(
                home,
                Target::Tree,
                rights::WRITE_TREE,
                Provenance::new("sandbox", why),
            );
        }
    }

    pub(super) fn tmpdir(&mut self) {
        self.rule(
            self.input.tmpdir.clone(),
            Target::Tree,
            rights::SCRATCH_TREE,
            Provenance::new(
                "sandbox",
                "private temp dir (TMPDIR), removed after the run",
            ),
        );
    }
}

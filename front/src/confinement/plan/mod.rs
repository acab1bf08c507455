//! The sandbox plan: a [`Purpose`] (the agent, the setup, the test run) + Scope + worktree +
//! agent profile + config → [`SandboxPlan`]. One module per concern: `system` (reads: the
//! system, toolchains), `scope` (writes from the Scope and their save directories),
//! `grants` (scratch space, config and profile grants, caches, the private places),
//! `protect` (the mount layer's regions and read-only paths, the `.git` check), `env` (the
//! environment and the network). `build` runs them in order.
//!
//! # Why the rules look the way they do
//!
//! Landlock rights are *per path beneath*: a right on a directory holds for every file under
//! it, and it cannot be taken back lower down. Creating, renaming and deleting a file are
//! rights on its *directory*. So:
//!
//! - **Modify `dir/file`** gets file-level `write_file` + `truncate` on the file (in-place
//!   edits), and, so that atomic-rename saves (`file.tmp.<pid>` then `rename` over `file`)
//!   work, `make_reg` + `write_file` + `truncate` + `remove_file` on `dir/`: every file in
//!   `dir/` (and beneath) may then be created, rewritten or deleted. The kernel rule is per
//!   directory; the review's scope check is per file and blocks anything outside Modify and
//!   Create. No `refer` (nothing moves between directories), no `make_dir`.
//! - **The worktree root never gets a directory rule with write rights.** With `make_reg` +
//!   `remove_file` on the root, the agent could replace the `.git` pointer file (a linked
//!   worktree's `.git` is a file naming the git dir) with one pointing at a git dir it wrote,
//!   whose hooks and config the *host* would later run outside the sandbox; with
//!   `write_file` it could rewrite the pointer in place. So a Modify file at the root gets
//!   only its file-level rights (tools fall back to writing in place: Claude Code does when
//!   creating its temp file fails with EACCES), and a Create target at the root is
//!   pre-created empty by the host and granted file-level rights (removed again after the run
//!   if it is still empty).
//! - **Create `dir/new`** gets the same directory rights on `dir/`; missing parent
//!   directories are created by the host first (git does not track empty directories, so
//!   they never reach the diff, and they are removed after the run if still empty).
//! - **`dir/` (a Scope directory)** gets the full tree grant on `dir/`.
//! - **Do NOT modify** cannot be a kernel rule (Landlock only grants). When such a path lies
//!   under a directory grant, the plan says so: the review enforces it.
//! - **Build outputs** (`target/`, `node_modules/.cache/`, ...) get the full tree grant
//!   when the repository ignores them: ignored paths never reach the diff.
//! - **`.git`**: the plan refuses to build if any write rule covers the worktree root, its
//!   `.git`, the git dir or the common git dir (a profile granting `~` on a repository under
//!   the home directory would). The git dirs are granted read-only so that `git status` and
//!   `git diff` work inside.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use agenthost_sandbox::{
    Enforcement, FsRight, FsRule, MountPlan, NetPlan, PortRule, ProtectedPath, Provenance,
    SandboxPlan, Target, rights,
};

use super::caches::{self, CARGO_HOME_FILES, Cache};
use super::canonical::Canonicalizer;
use super::git_layout::{GitLayout, IgnoreRules};
use crate::config::{AgentProfile, SandboxConfig, TestConfig};
use crate::spec::{ScopeEntry, Spec};

mod env;
mod grants;
mod protect;
mod scope;
mod system;
#[cfg(test)]
mod tests;

pub use env::launch_env;
use scope::*;
use system::*;

/// What the sandboxed run is for: each gets its own rights.
#[derive(Debug, Clone, Copy)]
pub enum Purpose<'a> {
    /// The agent: the Scope's writes, scratch space, the profile's grants, the package
    /// caches read-only.
    Agent,
    /// The `[worktree] setup` commands, before the agent, on the base commit: the whole
    /// worktree (its `.git` read-only by the mount layer) and the package caches writable,
    /// TCP to `ports` (the registries).
    Setup {
        /// The TCP ports allowed.
        ports: &'a [u16],
    },
    /// The test command, after the agent: the whole worktree writable (its `.git` and the
    /// Do NOT modify paths read-only by the mount layer), the package caches read-only, and
    /// `[test]`'s grants.
    Test {
        /// `[test]`.
        config: &'a TestConfig,
    },
}

impl Purpose<'_> {
    /// What the run is called in provenance and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Purpose::Agent => "agent",
            Purpose::Setup { .. } => "setup",
            Purpose::Test { .. } => "test",
        }
    }
}

/// Everything the plan is built from.
#[derive(Debug)]
pub struct PlanInput<'a> {
    /// What the run is for.
    pub purpose: Purpose<'a>,
    /// The spec whose Scope becomes the write rules.
    pub spec: &'a Spec,
    /// How the spec is named in provenance labels (`task.md`).
    pub spec_name: String,
    /// The worktree the agent works in (absolute, canonical).
    pub root: PathBuf,
    /// The agent profile and its name, if any.
    pub profile: Option<(&'a str, &'a AgentProfile)>,
    /// `[sandbox]` from the config.
    pub sandbox: &'a SandboxConfig,
    /// The host's environment (only the variables the plan passes on are used).
    pub host_env: BTreeMap<String, String>,
    /// The user's real home directory (for `~` in grants and seeds; `HOME` when there is
    /// no private home).
    pub home: PathBuf,
    /// The agent's private home (`super::agent_home`), created by the caller: the agent's
    /// `HOME`, its XDG directories and `{home}` in the profile's `env`, writable. `None`
    /// runs with the real home as `HOME`, read-only where granted at all.
    pub agent_home: Option<PathBuf>,
    /// The agent program as found (on PATH, or as written when it names a path): the file
    /// it resolves to and the package around it become readable and runnable
    /// (`super::program`).
    pub program: Option<PathBuf>,
    /// The private temp directory (created by the caller).
    pub tmpdir: PathBuf,
    /// Enforce or best effort.
    pub enforcement: Enforcement,
    /// Whether agenthost runs as root (uid 0 owns `/etc/shadow`, so `/etc` is then granted
    /// entry by entry without it).
    pub as_root: bool,
    /// The worktree's git dirs (`GitLayout::of_worktree(root)`, or what
    /// `GitLayout::discover` found), `None` when it is not a repository.
    pub git: Option<GitLayout>,
    /// The symlinks the caller has already resolved (finding the worktree, its git dirs,
    /// the temp dir): the plan resolves its paths through the same memory, so no component
    /// is asked about twice.
    pub resolved: Canonicalizer,
}

/// A built plan, with what must happen on disk before it can run and what it cannot enforce.
#[derive(Debug, Clone)]
pub struct BuiltPlan {
    /// The plan.
    pub plan: SandboxPlan,
    /// Directories the host creates before the run (missing parents of Create targets,
    /// profile directories), in creation order.
    pub mkdirs: Vec<PathBuf>,
    /// Empty files the host creates before the run (Create targets at the worktree root).
    pub touch: Vec<PathBuf>,
    /// What the kernel cannot enforce here, and other things the user should know.
    pub notes: Vec<String>,
}

/// The plan cannot be built.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    /// A grant would make `.git` writable.
    #[error("the sandbox would let the agent write {what}: {path} is covered by {provenance}")]
    #[diagnostic(
        code(agenthost::sandbox::git_writable),
        help(
            "`.git` must never be writable by the agent (its hooks and config run outside the sandbox later); narrow the grant so it does not contain the repository"
        )
    )]
    GitWritable {
        /// What would be writable.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The rule that covers it.
        provenance: String,
    },
    /// The setup commands or the test command would get the whole worktree writable without
    /// the mount layer to keep its `.git` read-only.
    #[error(
        "the {purpose} run needs the mount layer: it writes anywhere in the worktree, and only the mount layer keeps the worktree's `.git` read-only then"
    )]
    #[diagnostic(
        code(agenthost::sandbox::needs_mount_layer),
        help(
            "turn the mount layer back on (remove `read_only_view = false` from [sandbox] in your config), or run without {purpose}"
        )
    )]
    NeedsMountLayer {
        /// `setup` or `test`.
        purpose: &'static str,
    },
    /// A scope path leads out of the worktree through a symlink.
    #[error("{path} resolves to {resolved}, outside the worktree ({provenance})")]
    #[diagnostic(
        code(agenthost::sandbox::outside_worktree),
        help(
            "a symlink in the repository points out of it; the sandbox grants paths inside the worktree only: name the real file, or remove the symlink"
        )
    )]
    OutsideWorktree {
        /// The path as the Scope names it.
        path: PathBuf,
        /// Where it leads.
        resolved: PathBuf,
        /// The rule that named it.
        provenance: String,
    },
    /// A directory a Scope path needs passes through a symlink whose target does not exist.
    #[error(
        "{link} is a symbolic link to {target}, which does not exist, and {provenance} needs a directory there"
    )]
    #[diagnostic(
        code(agenthost::sandbox::dangling_symlink),
        help(
            "agenthost creates missing directories for Create targets but never through a symlink: create the link's target in the repository, or name the real path in the Scope"
        )
    )]
    DanglingSymlink {
        /// The symlink.
        link: PathBuf,
        /// What it points to, as written in the link.
        target: PathBuf,
        /// The rule that needs the directory.
        provenance: String,
    },
    /// A Create glob would need a directory grant on the worktree root.
    #[error("{spec}:{line}: Create `{written}` would need write rights on the whole worktree root")]
    #[diagnostic(
        code(agenthost::sandbox::root_glob),
        help(
            "name the files to create, or put them in a directory (`Create: `newdir/``); a directory grant at the root would make the `.git` pointer replaceable"
        )
    )]
    RootGlob {
        /// The spec.
        spec: String,
        /// The line.
        line: usize,
        /// The entry as written.
        written: String,
    },
}

struct Builder<'a> {
    input: &'a PlanInput<'a>,
    /// The worktree's git dir and common git dir (canonical), when it is a repository.
    git_dirs: Vec<PathBuf>,
    rules: Vec<FsRule>,
    errors: Vec<PlanError>,
    mkdirs: Vec<PathBuf>,
    touch: Vec<PathBuf>,
    notes: Vec<String>,
    /// Symlink resolution for every path of this plan, each component asked about once.
    canonical: Canonicalizer,
    /// The directories given atomic-rename save rights so far, by the (unresolved) path
    /// asked for: a glob matching thousands of files finds its directory's rule at once.
    save_dirs: HashMap<PathBuf, SaveDir>,
    /// [`Builder::home_toolchains`], looked up once: both the reads and the environment
    /// use them.
    home_toolchains: Vec<(&'static str, PathBuf)>,
    /// Paths the mount layer makes read-only on top of the write grants.
    protected: Vec<ProtectedPath>,
    /// The package caches granted ([`Builder::caches`]), for the environment.
    caches: Vec<Cache>,
}

/// A directory's atomic-rename save rule, shared by every file saved in it.
struct SaveDir {
    /// Index of the rule in [`Builder::rules`].
    rule: usize,
    /// Files after the first whose reason the rule's provenance spells out.
    listed: usize,
    /// Files after those, only counted.
    unlisted: usize,
}

/// A symlink whose target does not exist, met on the way to a directory to create.
struct DanglingLink {
    link: PathBuf,
    target: PathBuf,
}

/// `path` relative to `root`, for messages.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Builds the plan.
pub fn build(mut input: PlanInput<'_>) -> Result<BuiltPlan, PlanError> {
    let layout = input.git.take();
    let resolved = std::mem::take(&mut input.resolved);
    let input = &input;
    let git_dirs = layout
        .as_ref()
        .map(|layout| vec![layout.git_dir.clone(), layout.common_dir.clone()])
        .unwrap_or_default();
    let mut b = Builder::new(input, git_dirs, resolved);
    // Read once: Modify globs skip what the repository ignores, and scratch space is what it
    // ignores.
    let ignored = layout.as_ref().map(GitLayout::ignore_rules);
    b.reads();
    match input.purpose {
        Purpose::Agent => {
            b.scope(ignored.as_ref())?;
            b.grants();
            if let Some(ignored) = &ignored {
                b.scratch(ignored);
            }
            b.program();
            b.caches(false);
        }
        Purpose::Setup { .. } => {
            b.whole_worktree();
            b.grants();
            b.caches(true);
        }
        Purpose::Test { config } => {
            b.whole_worktree();
            b.do_not_modify(ignored.as_ref());
            b.submodule_git_files();
            b.grants();
            b.test_grants(config);
            b.caches(false);
        }
    }
    b.agent_home();
    b.tmpdir();
    if let Some(error) = b.errors.pop() {
        return Err(error);
    }
    b.check_git()?;
    let writable = b.writable_regions();
    let env = b.env();
    let net = b.net(&env);
    Ok(BuiltPlan {
        plan: SandboxPlan {
            enforcement: input.enforcement,
            fs: b.rules,
            net,
            scope_signals_and_abstract_sockets: true,
            env,
            cwd: input.root.clone(),
            tmpdir: input.tmpdir.clone(),
            mounts: MountPlan {
                read_only_view: input.sandbox.read_only_view,
                writable,
                protected: b.protected,
            },
        },
        mkdirs: b.mkdirs,
        touch: b.touch,
        notes: b.notes,
    })
}

impl<'a> Builder<'a> {
    /// A builder with no rules yet; `git_dirs` are the worktree's git dirs (canonical),
    /// `resolved` what is known of the symlinks on the way to them.
    fn new(
        input: &'a PlanInput<'a>,
        git_dirs: Vec<PathBuf>,
        resolved: Canonicalizer,
    ) -> Builder<'a> {
        Builder {
            input,
            git_dirs,
            rules: Vec::new(),
            errors: Vec::new(),
            mkdirs: Vec::new(),
            touch: Vec::new(),
            notes: Vec::new(),
            canonical: resolved,
            save_dirs: HashMap::new(),
            home_toolchains: Builder::home_toolchains(input),
            protected: Vec::new(),
            caches: Vec::new(),
        }
    }

    fn rule(&mut self, path: PathBuf, target: Target, rights: &[FsRight], why: Provenance) {
        // A path in the worktree may be (or pass through) a symlink: Landlock would grant
        // the symlink's target. Rules are made on the resolved path, which must stay inside.
        let path = if path.starts_with(self.root()) {
            let resolved = self.resolve(&path);
            if !resolved.starts_with(self.root()) {
                self.errors.push(PlanError::OutsideWorktree {
                    path,
                    resolved,
                    provenance: why.to_string(),
                });
                return;
            }
            resolved
        } else {
            path
        };
        self.rules.push(FsRule {
            path,
            target,
            rights: rights.to_vec(),
            provenance: why,
            optional: false,
        });
    }

    /// `path` with every symlink in its existing part resolved (the missing rest appended).
    fn resolve(&mut self, path: &Path) -> PathBuf {
        let mut existing = path;
        let mut rest = Vec::new();
        loop {
            if let Ok(real) = self.canonical.canonicalize(existing) {
                return rest.iter().rev().fold(real, |acc, part| acc.join(part));
            }
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => return path.to_path_buf(),
            }
        }
    }

    fn optional_rule(
        &mut self,
        path: PathBuf,
        target: Target,
        rights: &[FsRight],
        why: Provenance,
    ) {
        self.rules.push(FsRule {
            path,
            target,
            rights: rights.to_vec(),
            provenance: why,
            optional: true,
        });
    }

    fn root(&self) -> &Path {
        &self.input.root
    }

    fn at_line(&self, entry: &ScopeEntry) -> String {
        format!("{}:{}", self.input.spec_name, entry.line)
    }

    fn covered_by_read(&self, path: &Path) -> bool {
        self.rules.iter().any(|r| {
            r.target == Target::Tree
                && path.starts_with(&r.path)
                && r.rights.contains(&FsRight::Execute)
        })
    }

    fn writes(&self) -> impl Iterator<Item = &FsRule> {
        self.rules.iter().filter(|r| r.writes())
    }
}

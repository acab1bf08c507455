//! Scope + worktree + agent profile + sandbox config → [`SandboxPlan`].
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

/// Names of files never granted when a toolchain or config directory is granted as a whole.
const SECRET_NAMES: &[&str] = &[
    "credentials",
    "credentials.toml",
    ".credentials.json",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    "shadow",
    "shadow-",
    "gshadow",
    "gshadow-",
    "sudoers",
    "sudoers.d",
    "ssh",
];

/// The `/etc` entries a sandbox started by root may read: what the dynamic loader, libc's
/// name service, locales, TLS, shells, editors, git and language runtimes read. Root owns
/// `/etc/shadow`, `/etc/sudoers`, `/etc/ssh/ssh_host_*_key` and `/etc/ssl/private` and
/// needs no capability to read them, so as root `/etc` is an allow list instead of one
/// rule (which costs a Landlock rule per entry, too: about 6 µs each). A name ending in `*`
/// is a prefix. `[sandbox] read` grants anything else.
const ETC_FOR_ROOT: &[&str] = &[
    "alternatives",
    "bash.bashrc",
    "bash_completion",
    "bash_completion.d",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "debian_version",
    "default",
    "environment",
    "fonts",
    "gai.conf",
    "gitattributes",
    "gitconfig",
    "group",
    "host.conf",
    "hostname",
    "hosts",
    "inputrc",
    "java*",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "ld.so.preload",
    "locale.alias",
    "locale.conf",
    "locale.gen",
    "localtime",
    "lsb-release",
    "machine-id",
    "magic",
    "magic.mime",
    "mailcap",
    "manpath.config",
    "maven",
    "mime.types",
    "mtab",
    "nanorc",
    "netconfig",
    "networks",
    "node*",
    "npmrc",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "perl",
    "php*",
    "pip.conf",
    "profile",
    "profile.d",
    "protocols",
    "python*",
    "redhat-release",
    "resolv.conf",
    "rpc",
    "ruby*",
    "services",
    "shells",
    "system-release",
    "terminfo",
    "timezone",
    "vim",
    "vimrc",
    "wgetrc",
    "xdg",
    "zprofile",
    "zsh",
    "zshenv",
    "zshrc",
];

/// Paths below `/etc` a root sandbox may read inside directories that also hold secrets
/// (`/etc/ssl/private`, `/etc/pki/tls/private`, `/etc/ssh`'s host keys).
const ETC_NESTED_FOR_ROOT: &[&str] = &[
    "pki/ca-trust",
    "pki/tls/cert.pem",
    "pki/tls/certs",
    "pki/tls/openssl.cnf",
    "ssh/ssh_config",
    "ssh/ssh_config.d",
    "ssh/ssh_known_hosts",
    "ssl/cert.pem",
    "ssl/certs",
    "ssl/openssl.cnf",
];

/// Whether `/etc/<name>` is on [`ETC_FOR_ROOT`].
fn etc_entry_for_root(name: &[u8]) -> bool {
    ETC_FOR_ROOT
        .iter()
        .any(|allowed| match allowed.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix.as_bytes()),
            None => name == allowed.as_bytes(),
        })
}

/// Variables that locate toolchains: passed on when set, and their directories readable.
const TOOLCHAIN_VARS: &[&str] = &[
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "GOROOT",
    "JAVA_HOME",
    "NVM_DIR",
];

/// Build-output directories granted as scratch space when the repository ignores them.
const SCRATCH_DIRS: &[&str] = &[
    "target",
    "node_modules/.cache",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".venv",
    "__pycache__",
    "build",
    "dist",
];

/// Scratch directories granted only where they exist: environments that tools make whole.
const NOT_CREATED_SCRATCH: &[&str] = &[".venv", ".tox"];

/// System directories, readable and executable.
const SYSTEM_TREES: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt",
];

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

/// How many paths one Do NOT modify entry makes read-only at most: each is a mount, made at
/// every start-up; a glob matching more is left to the review past this.
const MAX_PROTECTED_PER_ENTRY: usize = 200;

/// `path` relative to `root`, for messages.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// How many files after the first a save-rights rule's provenance names (`--explain`); the
/// rest are counted ("and 97 more").
const SAVE_DIR_REASONS_LISTED: usize = 3;

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

    /// Reads: the worktree, its git dirs, the system, devices, toolchains.
    fn reads(&mut self) {
        let root = self.root().to_path_buf();
        self.rule(
            root.clone(),
            Target::Tree,
            rights::READ_EXEC,
            Provenance::new("worktree", "read and run what is in the worktree"),
        );
        for dir in self.git_dirs.clone() {
            if !dir.starts_with(&root) {
                self.rule(
                    dir,
                    Target::Tree,
                    rights::READ,
                    Provenance::new("worktree", "git dir, read-only (git status, git diff)"),
                );
            }
        }
        self.system_trees(SYSTEM_TREES);
        self.etc();
        for (dir, why) in [
            (
                "/proc",
                "process information (other processes' memory and environment stay protected by Landlock's ptrace rule)",
            ),
            ("/sys", "hardware information (CPU count)"),
        ] {
            self.optional_rule(
                PathBuf::from(dir),
                Target::Tree,
                rights::READ,
                Provenance::new("system", why),
            );
        }
        for dev in ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"] {
            self.optional_rule(
                PathBuf::from(dev),
                Target::File,
                rights::DEVICE_RW,
                Provenance::new("system", "standard device"),
            );
        }
        for dev in ["/dev/random", "/dev/urandom"] {
            self.optional_rule(
                PathBuf::from(dev),
                Target::File,
                rights::READ_FILE,
                Provenance::new("system", "randomness"),
            );
        }
        self.toolchains();
        for name in [".gitconfig", ".config/git"] {
            let path = self.input.home.join(name);
            if let Ok(meta) = std::fs::metadata(&path) {
                let (target, rights) = if meta.is_dir() {
                    (Target::Tree, rights::READ)
                } else {
                    (Target::File, rights::READ_FILE)
                };
                self.rule(
                    path,
                    target,
                    rights,
                    Provenance::new(
                        "home",
                        "git's user configuration, read-only (git stops when it exists but cannot be read)",
                    ),
                );
            }
        }
    }

    /// The system's program and library trees, readable and executable. One that does not
    /// exist gets no rule, and neither does one that is a symlink into a tree granted before
    /// it (`/bin` → `/usr/bin` on a merged-`/usr` system): Landlock checks the path the
    /// kernel resolves, which the earlier rule covers, and every rule costs about 6 µs of
    /// each start-up.
    fn system_trees(&mut self, trees: &[&str]) {
        for dir in trees {
            let path = Path::new(dir);
            let Ok(real) = self.canonical.canonicalize(path) else {
                continue;
            };
            if real != path && self.covered_by_read(&real) {
                continue;
            }
            self.optional_rule(
                path.to_path_buf(),
                Target::Tree,
                rights::READ_EXEC,
                Provenance::new("system", "system programs and libraries"),
            );
        }
    }

    /// `/etc`: one rule for a normal user (file permissions keep shadow passwords, sudoers
    /// and host keys from them); as root, which owns those files and needs no capability to
    /// read them, only the entries of [`ETC_FOR_ROOT`].
    fn etc(&mut self) {
        if !self.input.as_root {
            self.optional_rule(
                PathBuf::from("/etc"),
                Target::Tree,
                rights::READ,
                Provenance::new("system", "configuration in /etc"),
            );
            self.etc_links();
            return;
        }
        let Ok(entries) = std::fs::read_dir("/etc") else {
            return;
        };
        let mut paths: Vec<(PathBuf, bool)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| etc_entry_for_root(e.file_name().as_encoded_bytes()))
            .map(|e| {
                // The directory entry's type needs no extra stat; only symlinks are followed.
                let path = e.path();
                let is_dir = match e.file_type() {
                    Ok(t) if t.is_symlink() => path.is_dir(),
                    Ok(t) => t.is_dir(),
                    Err(_) => path.is_dir(),
                };
                (path, is_dir)
            })
            .collect();
        for nested in ETC_NESTED_FOR_ROOT {
            let path = Path::new("/etc").join(nested);
            if let Ok(meta) = std::fs::metadata(&path) {
                paths.push((path, meta.is_dir()));
            }
        }
        // Byte order: the same order as `Path`'s for names in one directory, without
        // parsing components on every compare.
        paths.sort_by(|(a, _), (b, _)| a.as_os_str().cmp(b.as_os_str()));
        for (path, is_dir) in paths {
            let target = if is_dir { Target::Tree } else { Target::File };
            let rights = if target == Target::Tree {
                rights::READ
            } else {
                rights::READ_FILE
            };
            self.optional_rule(
                path,
                target,
                rights,
                Provenance::new(
                    "system",
                    "configuration in /etc that programs read (as root, only these: no shadow, sudoers or keys)",
                ),
            );
        }
        self.etc_links();
    }

    /// `/etc/resolv.conf` and friends often point into /run.
    fn etc_links(&mut self) {
        for link in ["/etc/resolv.conf", "/etc/hosts"] {
            if let Ok(target) = self.canonical.canonicalize(Path::new(link))
                && !target.starts_with("/etc")
            {
                self.optional_rule(
                    target,
                    Target::File,
                    rights::READ_FILE,
                    Provenance::new("system", format!("target of {link}")),
                );
            }
        }
    }

    fn covered_by_read(&self, path: &Path) -> bool {
        self.rules.iter().any(|r| {
            r.target == Target::Tree
                && path.starts_with(&r.path)
                && r.rights.contains(&FsRight::Execute)
        })
    }

    /// Toolchains on PATH: each entry, and for `.../bin` or `.../shims` its parent (the
    /// toolchain's home: rustup's toolchains, pyenv's versions), without secret files.
    fn toolchains(&mut self) {
        let home = self.input.home.clone();
        let path = self.input.host_env.get("PATH").cloned().unwrap_or_default();
        let mut roots: Vec<(PathBuf, String)> = Vec::new();
        for entry in std::env::split_paths(&path) {
            let Ok(entry) = self.canonical.canonicalize(&entry) else {
                continue;
            };
            let why = format!("PATH entry {}", entry.display());
            // `~/.local/bin` is where pipx, uv and native installers link programs: its
            // parent holds agenthost's own state and other tools' data, never granted. The
            // programs themselves are followed to their packages (`program`).
            // Nor any other directory where many tools keep their data (keyrings, other
            // tasks' homes): a `bin` there is granted alone.
            let shared: Vec<PathBuf> = [
                ".local",
                ".local/share",
                ".local/state",
                ".config",
                ".cache",
            ]
            .iter()
            .map(|dir| home.join(dir))
            .collect();
            let parent = entry
                .file_name()
                .filter(|n| *n == "bin" || *n == "shims")
                .and(entry.parent())
                .filter(|p| {
                    *p != Path::new("/")
                        && *p != home
                        && *p != Path::new("/usr")
                        && !shared.iter().any(|dir| dir == p)
                })
                .map(Path::to_path_buf);
            roots.push((parent.unwrap_or(entry), why));
        }
        for var in TOOLCHAIN_VARS {
            if let Some(value) = self.input.host_env.get(*var)
                && Path::new(value).is_absolute()
                && let Ok(path) = self.canonical.canonicalize(Path::new(value))
            {
                roots.push((path, format!("${var}")));
            }
        }
        for (var, path) in self.home_toolchains.clone() {
            if let Ok(path) = self.canonical.canonicalize(&path) {
                roots.push((path, format!("${var}'s default place")));
            }
        }
        roots.sort_by_key(|(root, _)| root.as_os_str().len());
        for (root, why) in roots {
            if self.covered_by_read(&root) || root == home || root == Path::new("/") {
                continue;
            }
            self.tree_without_secrets(&root, rights::READ_EXEC, Provenance::new("toolchain", why));
        }
    }

    /// A directory granted as a whole, unless it holds a secret file: then entry by entry.
    fn tree_without_secrets(&mut self, root: &Path, rights: &[FsRight], why: Provenance) {
        let entries: Vec<PathBuf> = std::fs::read_dir(root)
            .map(|e| e.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        let is_secret = |p: &PathBuf| {
            p.file_name()
                .is_some_and(|n| SECRET_NAMES.contains(&n.to_string_lossy().as_ref()))
        };
        if !entries.iter().any(is_secret) {
            self.rule(root.to_path_buf(), Target::Tree, rights, why);
            return;
        }
        let mut kept: Vec<PathBuf> = entries.into_iter().filter(|p| !is_secret(p)).collect();
        kept.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
        for path in kept {
            let target = if path.is_dir() {
                Target::Tree
            } else {
                Target::File
            };
            let rights: Vec<FsRight> = rights
                .iter()
                .copied()
                .filter(|r| target == Target::Tree || !r.is_directory_only())
                .collect();
            let reason = format!("{} (secrets such as credentials left out)", why.reason);
            self.optional_rule(
                path,
                target,
                &rights,
                Provenance::new(why.source.clone(), reason),
            );
        }
    }

    /// Writes from the Scope. `ignored` (the repository's ignore rules) keeps Modify globs out of
    /// ignored directories: what changes there never reaches the diff, and a build
    /// directory can hold more files than the rest of the worktree.
    fn scope(&mut self, ignored: Option<&IgnoreRules>) -> Result<(), PlanError> {
        let spec = self.input.spec;
        let files = if spec
            .scope
            .modify
            .iter()
            .any(|e| e.is_glob && !is_dir_pattern(&e.pattern))
        {
            worktree_files(self.root(), ignored)
        } else {
            Vec::new()
        };
        for entry in &spec.scope.modify {
            let why = self.at_line(entry);
            if let Some(dir) = dir_pattern(&entry.pattern) {
                self.dir_grant(entry, dir, format!("Modify `{}`", entry.written))?;
            } else if entry.is_glob {
                let matcher = entry.scope_path().matcher();
                let matched: Vec<&String> = files.iter().filter(|f| matcher.is_match(f)).collect();
                if matched.is_empty() {
                    self.notes.push(format!(
                        "{why}: Modify `{}` matches no file in the worktree: nothing granted",
                        entry.written
                    ));
                }
                for file in matched {
                    self.modify_file(
                        file,
                        Provenance::new(
                            why.clone(),
                            format!("Modify `{}` matches `{file}`", entry.written),
                        ),
                    );
                }
            } else {
                let path = self.root().join(&entry.pattern);
                if path.is_file() {
                    self.modify_file(
                        &entry.pattern,
                        Provenance::new(why, format!("Modify `{}`", entry.written)),
                    );
                } else {
                    self.notes.push(format!(
                        "{why}: Modify `{}` does not exist yet: granted as if it were a Create",
                        entry.written
                    ));
                    self.create_file(
                        &entry.pattern,
                        Provenance::new(
                            why,
                            format!("Modify `{}` (missing, treated as Create)", entry.written),
                        ),
                    );
                }
            }
        }
        for entry in &spec.scope.create {
            let why = self.at_line(entry);
            if let Some(dir) = dir_pattern(&entry.pattern) {
                self.dir_grant(entry, dir, format!("Create `{}`", entry.written))?;
            } else if entry.is_glob {
                let prefix = literal_prefix(&entry.pattern);
                if prefix.is_empty() {
                    return Err(PlanError::RootGlob {
                        spec: self.input.spec_name.clone(),
                        line: entry.line,
                        written: entry.written.clone(),
                    });
                }
                let rest = &entry.pattern[prefix.len() + 1..];
                let dir = self.root().join(&prefix);
                self.ensure_scope_dir(&dir, format_args!("{why}: Create `{}`", entry.written));
                let (rights, reason) = if rest.contains('/') || rest.contains("**") {
                    (
                        rights::WRITE_TREE,
                        format!(
                            "Create `{}`: files may be created anywhere under `{prefix}/`",
                            entry.written
                        ),
                    )
                } else {
                    (
                        rights::SAVE_IN_DIR,
                        format!(
                            "Create `{}`: creating files needs rights on `{prefix}/` (per directory; review checks each file)",
                            entry.written
                        ),
                    )
                };
                self.save_dir_rule(dir, rights, Provenance::new(why, reason));
            } else {
                self.create_file(
                    &entry.pattern,
                    Provenance::new(why, format!("Create `{}`", entry.written)),
                );
            }
        }
        self.count_unlisted_saves();
        self.do_not_modify(ignored);
        self.submodule_git_files();
        Ok(())
    }

    fn dir_grant(
        &mut self,
        entry: &ScopeEntry,
        dir: &str,
        reason: String,
    ) -> Result<(), PlanError> {
        if dir.is_empty() {
            return Err(PlanError::RootGlob {
                spec: self.input.spec_name.clone(),
                line: entry.line,
                written: entry.written.clone(),
            });
        }
        let path = self.root().join(dir);
        let why = Provenance::new(
            self.at_line(entry),
            format!("{reason}: the whole directory"),
        );
        self.ensure_scope_dir(&path, &why);
        self.rule(path, Target::Tree, rights::WRITE_TREE, why);
        Ok(())
    }

    fn modify_file(&mut self, relative: &str, why: Provenance) {
        let path = self.root().join(relative);
        self.rule(path.clone(), Target::File, rights::EDIT_FILE, why.clone());
        self.save_rights_on_parent(&path, relative, why);
    }

    fn create_file(&mut self, relative: &str, why: Provenance) {
        let path = self.root().join(relative);
        let parent = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root().to_path_buf());
        if parent == self.root() {
            if !path.exists() {
                self.touch.push(path.clone());
            }
            let reason = format!(
                "{}: at the worktree root, so pre-created empty with file-level rights only (a directory grant at the root would make `.git` replaceable)",
                why.reason
            );
            self.rule(
                path,
                Target::File,
                rights::EDIT_FILE,
                Provenance::new(why.source, reason),
            );
            return;
        }
        self.ensure_scope_dir(&parent, &why);
        if path.is_file() {
            self.rule(path.clone(), Target::File, rights::EDIT_FILE, why.clone());
        }
        self.save_rights_on_parent(&path, relative, why);
    }

    fn save_rights_on_parent(&mut self, path: &Path, relative: &str, why: Provenance) {
        let Some(parent) = path.parent() else { return };
        if parent == self.root() {
            self.notes.push(format!(
                "{}: `{relative}` is at the worktree root: in-place writes only, no atomic-rename saves (a directory grant at the root would make `.git` replaceable)",
                why.source
            ));
            return;
        }
        let dir = parent
            .strip_prefix(self.root())
            .unwrap_or(parent)
            .display()
            .to_string();
        let reason = format!(
            "{}: creating or replacing `{relative}` (atomic-rename saves) needs rights on `{dir}/`, so every file beneath `{dir}/` may be created, rewritten or deleted; the review's scope check is per file",
            why.reason
        );
        if let Some(seen) = self.save_dirs.get_mut(parent) {
            let provenance = &mut self.rules[seen.rule].provenance;
            if !provenance.source.split(", ").any(|s| s == why.source) {
                provenance.source.push_str(", ");
                provenance.source.push_str(&why.source);
            }
            if seen.listed < SAVE_DIR_REASONS_LISTED {
                seen.listed += 1;
                provenance.reason.push_str("; also ");
                provenance.reason.push_str(&why.reason);
            } else {
                seen.unlisted += 1;
            }
            return;
        }
        self.save_dir_rule(
            parent.to_path_buf(),
            rights::SAVE_IN_DIR,
            Provenance::new(why.source, reason),
        );
    }

    /// Adds a tree rule on `dir` and, when it gives exactly the save rights, remembers it
    /// for the files saved in `dir` later.
    fn save_dir_rule(&mut self, dir: PathBuf, rights: &[FsRight], why: Provenance) {
        let index = self.rules.len();
        self.rule(dir.clone(), Target::Tree, rights, why);
        if rights == rights::SAVE_IN_DIR && self.rules.len() > index {
            self.save_dirs.insert(
                dir,
                SaveDir {
                    rule: index,
                    listed: 0,
                    unlisted: 0,
                },
            );
        }
    }

    /// Ends each save-rights rule's provenance with the number of files it did not name.
    fn count_unlisted_saves(&mut self) {
        for seen in self.save_dirs.values() {
            if seen.unlisted > 0 {
                let more = seen.unlisted;
                let files = if more == 1 { "file" } else { "files" };
                self.rules[seen.rule]
                    .provenance
                    .reason
                    .push_str(&format!("; and {more} more {files}"));
            }
        }
    }

    /// Records the missing directories of `dir` for the host to create. A symlink on the way
    /// whose target is missing is returned instead: creating the directory would fail on it
    /// (and agenthost never creates through a link).
    fn ensure_dir(&mut self, dir: &Path) -> Result<(), DanglingLink> {
        let mut missing = Vec::new();
        let mut cur = dir;
        while !cur.exists() && cur.starts_with(self.root()) && cur != self.root() {
            if let Ok(target) = std::fs::read_link(cur) {
                return Err(DanglingLink {
                    link: cur.to_path_buf(),
                    target,
                });
            }
            missing.push(cur.to_path_buf());
            match cur.parent() {
                Some(p) => cur = p,
                None => break,
            }
        }
        for d in missing.into_iter().rev() {
            if !self.mkdirs.contains(&d) {
                self.mkdirs.push(d);
            }
        }
        Ok(())
    }

    /// [`Builder::ensure_dir`] for a Scope rule: a dangling symlink is a plan error naming
    /// `provenance` (formatted only then).
    fn ensure_scope_dir(&mut self, dir: &Path, provenance: impl std::fmt::Display) {
        if let Err(dangling) = self.ensure_dir(dir) {
            self.errors.push(PlanError::DanglingSymlink {
                link: dangling.link,
                target: dangling.target,
                provenance: provenance.to_string(),
            });
        }
    }

    fn writes(&self) -> impl Iterator<Item = &FsRule> {
        self.rules.iter().filter(|r| r.writes())
    }

    /// Do NOT modify: enforced by Landlock when no write rule covers it (nothing there is
    /// writable); under a write grant, by the mount layer's read-only bind mounts on each
    /// existing path it names (a directory, a file, or each file a glob matches), and always
    /// by the review's scope check (which also catches new files matching a glob).
    fn do_not_modify(&mut self, ignored: Option<&IgnoreRules>) {
        let root = self.root().to_path_buf();
        let view = self.input.sandbox.read_only_view;
        let mut files: Option<Vec<String>> = None;
        let mut notes = Vec::new();
        let input = self.input;
        for entry in &input.spec.scope.do_not_modify {
            let at = format!("{}:{}", input.spec_name, entry.line);
            let written = &entry.written;
            let literal = literal_prefix_or_all(&entry.pattern);
            let path = root.join(&literal);
            let grant = self
                .writes()
                .find(|r| {
                    (r.target == Target::Tree
                        && (path.starts_with(&r.path)
                            || (entry.is_glob && r.path.starts_with(&path))))
                        || (r.target == Target::File
                            && (r.path == path || (entry.is_glob && r.path.starts_with(&path))))
                })
                .map(|rule| format!("{} ({})", rule.path.display(), rule.provenance.source));
            if !view {
                notes.push(match grant {
                    None => format!(
                        "{at}: Do NOT modify `{written}`: enforced by the kernel (no write rule covers it)"
                    ),
                    Some(grant) => format!(
                        "{at}: Do NOT modify `{written}` is not enforced by the kernel: it overlaps the write grant on {grant}, and the mount layer is off (`[sandbox] read_only_view = false`); the review's scope check blocks changes to it"
                    ),
                });
                continue;
            }
            // Under a grant the mount layer keeps the content; elsewhere Landlock does, and
            // the mount layer the metadata (the worktree is one writable region).
            let mut skipped = Vec::new();
            let protected = self.protect(entry, &root, ignored, &mut files, &mut skipped);
            let paths = if protected == 1 { "path" } else { "paths" };
            let mut note = match grant {
                None => format!(
                    "{at}: Do NOT modify `{written}`: enforced by the kernel (no write rule covers it; the mount layer keeps the metadata of its {protected} existing {paths} too)"
                ),
                Some(grant) if protected == 0 => format!(
                    "{at}: Do NOT modify `{written}` overlaps the write grant on {grant} and is not enforced by the kernel: the review's scope check blocks changes to it"
                ),
                Some(grant) => format!(
                    "{at}: Do NOT modify `{written}` overlaps the write grant on {grant}: the mount layer makes {protected} existing {paths} read-only (writes, renames over, unlinks and chmod fail); the review's scope check blocks the rest, such as new files"
                ),
            };
            if !skipped.is_empty() {
                note.push_str(&format!("; not read-only: {}", skipped.join(", ")));
            }
            notes.push(note);
        }
        self.notes.extend(notes);
    }

    /// The mount layer's writable set: the worktree as one region when any write grant lies
    /// in it, and every write grant outside it. One region, so that files move between the
    /// worktree's granted directories as Landlock allows (separate mounts would answer
    /// `EXDEV`), and so that a write Landlock refuses there stays `EACCES`, which tools fall
    /// back on (Claude Code writes a root-level file in place when it cannot create its temp
    /// file beside it; `EROFS` would end the edit). The worktree's `.git` and its Do NOT
    /// modify paths are read-only on top.
    fn writable_regions(&mut self) -> Vec<PathBuf> {
        let root = self.root().to_path_buf();
        // Devices (`/dev/null`) stay writable on a read-only mount: no region of their own.
        let mut paths: Vec<PathBuf> = self
            .writes()
            .filter(|rule| {
                !rule.path.starts_with(&root) && !rule.rights.contains(&FsRight::IoctlDev)
            })
            .map(|rule| rule.path.clone())
            .collect();
        if self.writes().any(|rule| rule.path.starts_with(&root)) {
            paths.push(root.clone());
            let git = root.join(".git");
            if self.input.sandbox.read_only_view && std::fs::symlink_metadata(&git).is_ok() {
                self.protected.insert(
                    0,
                    ProtectedPath {
                        path: git,
                        provenance: Provenance::new(
                            "worktree",
                            "`.git` names the git dir, whose hooks and config run outside the sandbox",
                        ),
                    },
                );
            }
        }
        // Not filtered by existence: a profile's `write` directory is made only when the
        // disk is prepared, after the plan (`Restriction::prepare` skips what is missing).
        agenthost_sandbox::plan::without_nested(paths)
    }

    /// Makes every existing path `entry` names read-only in the mount layer (a directory, a
    /// file, or each file a glob matches, at most [`MAX_PROTECTED_PER_ENTRY`]); `files` is
    /// the worktree's file list, read on first need. A path with a write grant on or inside
    /// it is left out and named in `skipped`. Returns how many paths it protects.
    fn protect(
        &mut self,
        entry: &ScopeEntry,
        root: &Path,
        ignored: Option<&IgnoreRules>,
        files: &mut Option<Vec<String>>,
        skipped: &mut Vec<String>,
    ) -> usize {
        let at = format!("{}:{}", self.input.spec_name, entry.line);
        let targets: Vec<PathBuf> = if !entry.is_glob {
            vec![root.join(&entry.pattern)]
        } else if let Some(dir) = dir_pattern(&entry.pattern) {
            vec![root.join(dir)]
        } else {
            let files = files.get_or_insert_with(|| worktree_files(root, ignored));
            let matcher = entry.scope_path().matcher();
            files
                .iter()
                .filter(|f| matcher.is_match(f))
                .map(|f| root.join(f))
                .collect()
        };
        let mut protected = 0usize;
        for target in targets {
            if std::fs::symlink_metadata(&target).is_err() {
                continue;
            }
            let resolved = self.resolve(&target);
            if !resolved.starts_with(root) || resolved == root {
                continue;
            }
            // A grant on or inside it would be hidden under the read-only mount: the Scope
            // asks for both, so the grant wins and the review judges.
            if let Some(inner) = self.writes().find(|r| r.path.starts_with(&resolved)) {
                skipped.push(format!(
                    "`{}` (the grant on {} lies inside it)",
                    relative(root, &resolved),
                    relative(root, &inner.path)
                ));
                continue;
            }
            if protected == MAX_PROTECTED_PER_ENTRY {
                skipped.push(format!(
                    "every match after the first {MAX_PROTECTED_PER_ENTRY}"
                ));
                break;
            }
            protected += 1;
            self.protected.push(ProtectedPath {
                path: resolved,
                provenance: Provenance::new(
                    at.clone(),
                    format!("Do NOT modify `{}`", entry.written),
                ),
            });
        }
        protected
    }

    /// A submodule's `.git` file under a write grant names the git dir that git (the host's
    /// included) uses for it: replaced, it could point at one the agent wrote, whose hooks and
    /// config run later. The mount layer keeps each such file read-only.
    fn submodule_git_files(&mut self) {
        if !self.input.sandbox.read_only_view {
            return;
        }
        let root = self.root().to_path_buf();
        let Ok(modules) = std::fs::read_to_string(root.join(".gitmodules")) else {
            return;
        };
        for line in modules.lines() {
            let Some(("path", value)) = line.split_once('=').map(|(k, v)| (k.trim(), v.trim()))
            else {
                continue;
            };
            let git = root.join(value).join(".git");
            if std::fs::symlink_metadata(&git).is_err()
                || !self
                    .writes()
                    .any(|r| r.target == Target::Tree && git.starts_with(&r.path))
            {
                continue;
            }
            self.protected.push(ProtectedPath {
                path: git,
                provenance: Provenance::new(
                    ".gitmodules",
                    format!("submodule `{value}`: its `.git` names the git dir git uses for it"),
                ),
            });
        }
    }

    /// Build outputs: well-known scratch directories that the repository ignores (so they
    /// never reach the diff) become writable trees; missing ones are created first. One that
    /// is a symlink out of the worktree, to nothing, or to a directory the repository does
    /// not ignore is left out with a note: scratch space is a convenience, never a reason
    /// to refuse the sandbox or to open tracked files.
    fn scratch(&mut self, ignored: &IgnoreRules) {
        for name in SCRATCH_DIRS {
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
            if NOT_CREATED_SCRATCH.contains(name) && !path.is_dir() {
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
    fn grants(&mut self) {
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

    fn grant_read(&mut self, path: PathBuf, why: Provenance) {
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
    fn program(&mut self) {
        let Some(program) = self.input.program.clone() else {
            return;
        };
        let Ok(resolved) = self.canonical.canonicalize(&program) else {
            return;
        };
        for needed in super::program::needs(&program, &resolved) {
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
    fn whole_worktree(&mut self) {
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
    fn caches(&mut self, writable: bool) {
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
    fn test_grants(&mut self, config: &TestConfig) {
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
    fn agent_home(&mut self) {
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

    /// The toolchains whose default place is in the real home (`~/.rustup`, `~/.pyenv`,
    /// ...), where they exist and their variable is not set: with a private `HOME` their
    /// programs would look in the wrong home, so the variable is set to the real place, and
    /// the place is readable.
    fn home_toolchains(input: &PlanInput<'_>) -> Vec<(&'static str, PathBuf)> {
        HOME_TOOLCHAINS
            .iter()
            .filter(|(var, _)| !input.host_env.contains_key(*var))
            .map(|(var, dir)| (*var, input.home.join(dir)))
            .filter(|(_, path)| path.is_dir())
            .collect()
    }

    fn tmpdir(&mut self) {
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

    /// Refuses a plan in which `.git` would be writable.
    fn check_git(&self) -> Result<(), PlanError> {
        let root = self.root();
        // The setup and test runs write the whole worktree: the mount layer keeps its `.git`
        // read-only (`whole_worktree` refuses a plan without it); the git dirs stay checked.
        let mut protected: Vec<(&'static str, PathBuf)> = match self.input.purpose {
            Purpose::Agent => vec![
                ("the worktree root", root.to_path_buf()),
                ("the worktree's .git", root.join(".git")),
            ],
            _ => Vec::new(),
        };
        let names = ["the git dir", "the common git dir"];
        for (what, dir) in names.into_iter().zip(&self.git_dirs) {
            // Inside the worktree's own `.git` (a checkout, not a linked worktree), the mount
            // layer's read-only `.git` covers it for the whole-worktree runs.
            if !matches!(self.input.purpose, Purpose::Agent) && dir.starts_with(root.join(".git")) {
                continue;
            }
            protected.push((what, dir.clone()));
        }
        for (what, path) in protected {
            for rule in self.writes() {
                // A tree rule covers everything beneath it; anything on or inside `.git`
                // (or a git dir) is refused, but the root itself only as a tree.
                let inside = path != root && rule.path.starts_with(&path);
                let covers = match rule.target {
                    Target::Tree => path.starts_with(&rule.path) || inside,
                    Target::File => inside,
                };
                if covers {
                    return Err(PlanError::GitWritable {
                        what,
                        path,
                        provenance: rule.provenance.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    fn env(&mut self) -> BTreeMap<String, String> {
        let host = &self.input.host_env;
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".to_string(),
            host.get("PATH")
                .cloned()
                .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string()),
        );
        let home = self.input.agent_home.as_ref().unwrap_or(&self.input.home);
        env.insert("HOME".to_string(), home.display().to_string());
        if let Some(private) = &self.input.agent_home {
            for (var, dir) in super::agent_home::XDG_DIRS {
                env.insert(var.to_string(), private.join(dir).display().to_string());
            }
            for (var, path) in &self.home_toolchains {
                env.insert(var.to_string(), path.display().to_string());
            }
            // git's user configuration stays the user's (read-only), not the private home's.
            if let Some(config) = [".gitconfig", ".config/git/config"]
                .iter()
                .map(|name| self.input.home.join(name))
                .find(|path| path.is_file())
            {
                env.insert(
                    "GIT_CONFIG_GLOBAL".to_string(),
                    config.display().to_string(),
                );
            }
        }
        env.insert(
            "TMPDIR".to_string(),
            self.input.tmpdir.display().to_string(),
        );
        env.insert(
            "LANG".to_string(),
            host.get("LANG")
                .cloned()
                .unwrap_or_else(|| "C.UTF-8".to_string()),
        );
        if let Some(term) = host.get("TERM") {
            env.insert("TERM".to_string(), term.clone());
        }
        for var in TOOLCHAIN_VARS {
            if let Some(value) = host.get(*var) {
                env.insert((*var).to_string(), value.clone());
            }
        }
        // The caches: where the tools find them. A cache a tool cannot use read-only keeps
        // the private home's for the agent and the tests.
        let writable_caches = matches!(self.input.purpose, Purpose::Setup { .. });
        for cache in &self.caches {
            if let Some(var) = cache.var
                && (writable_caches || cache.read_only_ok)
            {
                env.insert(var.to_string(), cache.path.display().to_string());
            }
        }
        if !matches!(self.input.purpose, Purpose::Agent) {
            for (var, value) in host {
                if is_package_manager_var(var) && !env.contains_key(var) {
                    env.insert(var.clone(), value.clone());
                }
            }
        }
        if let Purpose::Test { config } = self.input.purpose {
            for (key, value) in &config.env {
                env.insert(key.clone(), value.clone());
            }
        }
        if let Some((name, profile)) = self.input.profile {
            for var in &profile.pass_env {
                match host.get(var) {
                    Some(value) => {
                        env.insert(var.clone(), value.clone());
                    }
                    None => self.notes.push(format!(
                        "profile {name}: pass_env `{var}` is not set in agenthost's environment"
                    )),
                }
            }
            let private = self.input.agent_home.as_deref();
            for (key, value) in &profile.env {
                match super::agent_home::expand_value(value, private, host) {
                    Ok(Some(expanded)) => {
                        // `{env:NAME}` only fills a variable pass_env left unset.
                        if !(value.contains("{env:") && env.contains_key(key)) {
                            env.insert(key.clone(), expanded);
                        }
                    }
                    Ok(None) => {}
                    Err(why) => self
                        .notes
                        .push(format!("profile {name}: env `{key}`: {why}")),
                }
            }
        }
        env
    }

    fn net(&self, env: &BTreeMap<String, String>) -> NetPlan {
        let mut net = NetPlan::default();
        let (ports, source): (&[u16], &str) = match self.input.purpose {
            Purpose::Agent => (&[], ""),
            Purpose::Setup { ports } => (ports, "config [worktree] setup_ports"),
            Purpose::Test { config } => (&config.ports, "config [test] ports"),
        };
        for port in ports {
            net.connect_tcp.push(PortRule {
                port: *port,
                provenance: Provenance::new(source, format!("port {port}")),
            });
        }
        if let Some((name, profile)) = self.input.profile {
            for port in &profile.ports {
                net.connect_tcp.push(PortRule {
                    port: *port,
                    provenance: Provenance::new(format!("profile {name}"), "ports"),
                });
            }
            // A base URL handed to the agent (a proxy, a gateway, a local model server) is
            // where it must connect: its port is allowed too.
            for (var, value) in env {
                if !is_base_url_var(var) {
                    continue;
                }
                if let Some(port) = url_port(value)
                    && !net.connect_tcp.iter().any(|rule| rule.port == port)
                {
                    net.connect_tcp.push(PortRule {
                        port,
                        provenance: Provenance::new(
                            format!("profile {name}"),
                            format!("${var} ({value})"),
                        ),
                    });
                }
            }
        }
        net.inet_sockets = !net.connect_tcp.is_empty();
        net.unix_sockets = self.input.profile.is_some_and(|(_, p)| p.unix_sockets);
        net
    }
}

/// Toolchains whose default place is in the home, by the variable that moves them.
const HOME_TOOLCHAINS: &[(&str, &str)] = &[
    ("RUSTUP_HOME", ".rustup"),
    ("CARGO_HOME", ".cargo"),
    ("PYENV_ROOT", ".pyenv"),
    ("NVM_DIR", ".nvm"),
    ("VOLTA_HOME", ".volta"),
    ("BUN_INSTALL", ".bun"),
    ("SDKMAN_DIR", ".sdkman"),
    ("ASDF_DATA_DIR", ".asdf"),
];

/// Whether `launch` sends a variable of the client's to the supervisor for the task: PATH,
/// the variables that locate toolchains, caches and virtual environments, and the package
/// managers' settings (never one that looks like a secret).
pub fn is_launch_variable(name: &str) -> bool {
    name == "PATH"
        || TOOLCHAIN_VARS.contains(&name)
        || HOME_TOOLCHAINS.iter().any(|(var, _)| *var == name)
        || super::caches::is_cache_variable(name)
        || is_package_manager_var(name)
}

/// Whether a host variable configures a package manager, a proxy or certificates, which the
/// setup and test runs are given (the agent gets only its profile's `pass_env`). Names that
/// look like secrets (tokens, passwords, keys) are never passed.
fn is_package_manager_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let secret = ["TOKEN", "PASSWORD", "SECRET", "AUTH", "_KEY", "CREDENTIAL"]
        .iter()
        .any(|word| upper.contains(word));
    let prefixes = [
        "PIP_",
        "NPM_CONFIG_",
        "UV_",
        "CARGO_",
        "PYTHON",
        "NODE_",
        "PNPM_",
        "YARN_",
    ];
    let exact = [
        "GOPROXY",
        "GOFLAGS",
        "GOPATH",
        "GOPRIVATE",
        "GONOPROXY",
        "GONOSUMDB",
        "GOSUMDB",
        "GOTOOLCHAIN",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "VIRTUAL_ENV",
        "CI",
    ];
    !secret
        && (prefixes.iter().any(|prefix| upper.starts_with(prefix))
            || exact.contains(&upper.as_str()))
}

/// Whether an agent variable names a model API's base URL (`ANTHROPIC_BASE_URL`,
/// `OPENAI_BASE_URL`, `GOOGLE_GEMINI_BASE_URL`, litellm's `OPENAI_API_BASE`).
fn is_base_url_var(name: &str) -> bool {
    name.ends_with("_BASE_URL") || name.ends_with("_API_BASE")
}

/// The TCP port of an `http`/`https` URL: its explicit port, else 80 or 443.
fn url_port(url: &str) -> Option<u16> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    // `[::1]:8080`: the port is after the closing bracket.
    let after_host = match host_port.rfind(']') {
        Some(end) => &host_port[end + 1..],
        None => host_port,
    };
    match after_host.rsplit_once(':') {
        Some((_, port)) => port.parse().ok(),
        None => match scheme.to_ascii_lowercase().as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        },
    }
}

/// `dir/**` → `dir`; `**` → `` (the root).
fn dir_pattern(pattern: &str) -> Option<&str> {
    if pattern == "**" {
        return Some("");
    }
    let dir = pattern.strip_suffix("/**")?;
    (!dir.contains(['*', '?', '[', '{'])).then_some(dir)
}

fn is_dir_pattern(pattern: &str) -> bool {
    dir_pattern(pattern).is_some()
}

/// The directories of a glob before its first glob character: `src/**/*.py` → `src`.
fn literal_prefix(pattern: &str) -> String {
    let mut parts = Vec::new();
    for part in pattern.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            break;
        }
        parts.push(part);
    }
    if parts.len() == pattern.split('/').count() {
        parts.pop();
    }
    parts.join("/")
}

fn literal_prefix_or_all(pattern: &str) -> String {
    if pattern.contains(['*', '?', '[', '{']) {
        literal_prefix(pattern)
    } else {
        pattern.to_string()
    }
}

/// Files in the worktree, repository-relative; `.git` and the directories `ignored` names
/// are not entered (a file git tracks inside an ignored directory is not listed either:
/// the Scope can name it literally).
fn worktree_files(root: &Path, ignored: Option<&IgnoreRules>) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if kind.is_dir() {
                // Its parents were walked, so they are not ignored: ask about it alone.
                if !ignored.is_some_and(|rules| rules.ignores_entry(&rel, true)) {
                    stack.push(path);
                }
            } else if kind.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The input for `spec` in the worktree `root` (canonical), with nothing resolved yet.
    fn input_for<'a>(
        spec: &'a Spec,
        config: &'a Config,
        root: &Path,
        as_root: bool,
    ) -> PlanInput<'a> {
        PlanInput {
            purpose: Purpose::Agent,
            spec,
            spec_name: "task.md".to_string(),
            root: root.to_path_buf(),
            profile: None,
            sandbox: &config.sandbox,
            host_env: BTreeMap::new(),
            home: root.join("home"),
            agent_home: None,
            program: None,
            tmpdir: root.join("tmp"),
            enforcement: Enforcement::Enforce,
            as_root,
            git: GitLayout::of_worktree(root, &mut Canonicalizer::default()),
            resolved: Canonicalizer::default(),
        }
    }

    /// Writes `files` (path, contents) under `root`, creating their directories.
    fn write_files(root: &Path, files: &[(&str, &str)]) {
        for (file, text) in files {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    /// The plan for `scope` (Scope lines) in the worktree `root` (canonical).
    fn plan_at(root: &Path, scope: &str, as_root: bool) -> Result<BuiltPlan, PlanError> {
        let text = format!("# Task\n\n## What\nIt.\n\n### Scope\n{scope}");
        let spec = crate::spec::parse("task.md", text.as_bytes()).spec.unwrap();
        let config = Config::builtin();
        build(input_for(&spec, &config, root, as_root))
    }

    /// Builds the plan for `scope` (Scope lines) in a fresh worktree holding `files`.
    fn plan_for(
        scope: &str,
        files: &[&str],
        as_root: bool,
    ) -> (tempfile::TempDir, Result<BuiltPlan, PlanError>) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let files: Vec<(&str, &str)> = files.iter().map(|f| (*f, "x\n")).collect();
        write_files(&root, &files);
        let built = plan_at(&root, scope, as_root);
        (dir, built)
    }

    #[test]
    fn a_system_tree_that_links_into_a_granted_one_gets_no_rule() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("usr/bin")).unwrap();
        std::fs::create_dir_all(base.join("opt")).unwrap();
        std::fs::create_dir_all(base.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("usr/bin", base.join("bin")).unwrap();
        std::os::unix::fs::symlink("elsewhere", base.join("lib")).unwrap();
        let parsed = crate::spec::parse(
            "task.md",
            b"# Task\n\n## What\nIt.\n\n### Scope\n- Modify: `a`\n",
        );
        let spec = parsed.spec.unwrap();
        let config = Config::builtin();
        let input = input_for(&spec, &config, &base.join("usr"), false);
        let mut b = Builder::new(&input, Vec::new(), Canonicalizer::default());
        let trees: Vec<String> = ["usr", "bin", "lib", "opt", "missing"]
            .map(|name| base.join(name).display().to_string())
            .to_vec();
        b.system_trees(&trees.iter().map(String::as_str).collect::<Vec<_>>());
        let granted: Vec<PathBuf> = b.rules.iter().map(|r| r.path.clone()).collect();
        // `bin` leads into `usr`, granted before it; `lib` leads elsewhere and keeps its rule.
        assert_eq!(
            granted,
            ["usr", "lib", "opt"].map(|name| base.join(name)).to_vec()
        );
    }

    fn rules_at<'a>(built: &'a BuiltPlan, path: &Path) -> Vec<&'a FsRule> {
        built.plan.fs.iter().filter(|r| r.path == path).collect()
    }

    #[test]
    fn modify_in_a_directory_gets_file_rights_and_save_rights_on_the_directory() {
        let (dir, built) = plan_for("- Modify: `src/app.py`\n", &["src/app.py"], true);
        let built = built.unwrap();
        let root = dir.path().canonicalize().unwrap();
        let file = rules_at(&built, &root.join("src/app.py"));
        assert_eq!(file.len(), 1);
        assert_eq!(file[0].target, Target::File);
        assert_eq!(file[0].rights, rights::EDIT_FILE);
        assert_eq!(file[0].provenance.source, "task.md:7");
        let parent = rules_at(&built, &root.join("src"));
        assert_eq!(parent.len(), 1);
        assert_eq!(parent[0].rights, rights::SAVE_IN_DIR);
    }

    #[test]
    fn nothing_at_the_root_gets_directory_write_rights() {
        let (dir, built) = plan_for(
            "- Modify: `README.md`\n- Create: `NOTES.md`, `new/deep/file.py`\n",
            &["README.md"],
            true,
        );
        let built = built.unwrap();
        let root = dir.path().canonicalize().unwrap();
        for rule in rules_at(&built, &root) {
            assert_eq!(rule.rights, rights::READ_EXEC, "{rule:?}");
        }
        assert_eq!(built.touch, [root.join("NOTES.md")]);
        assert_eq!(built.mkdirs, [root.join("new"), root.join("new/deep")]);
        assert_eq!(
            rules_at(&built, &root.join("new/deep"))[0].rights,
            rights::SAVE_IN_DIR
        );
        assert!(
            built
                .notes
                .iter()
                .any(|n| n.contains("`README.md` is at the worktree root"))
        );
    }

    #[test]
    fn a_symlink_out_of_the_worktree_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim.txt"), "x").unwrap();
        let (dir, _) = plan_for("- Modify: `a.py`\n", &["a.py"], true);
        let root = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(outside.path().join("victim.txt"), root.join("evil.py"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("linked")).unwrap();
        for scope in [
            "- Modify: `evil.py`\n",
            "- Create: `linked/new.py`\n",
            "- Create: `linked/`\n",
        ] {
            let text = format!("# Task\n\n## What\nIt.\n\n### Scope\n{scope}");
            let spec = crate::spec::parse("task.md", text.as_bytes()).spec.unwrap();
            let config = Config::builtin();
            let built = build(input_for(&spec, &config, &root, true));
            assert!(
                matches!(built, Err(PlanError::OutsideWorktree { .. })),
                "{scope}: {built:?}"
            );
        }
    }

    #[test]
    fn a_symlink_into_git_is_refused() {
        let (dir, _) = plan_for("- Modify: `a.py`\n", &["a.py", ".git/config"], true);
        let root = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(".git/config", root.join("cfg.txt")).unwrap();
        let text = "# Task\n\n## What\nIt.\n\n### Scope\n- Modify: `cfg.txt`\n";
        let spec = crate::spec::parse("task.md", text.as_bytes()).spec.unwrap();
        let config = Config::builtin();
        let built = build(input_for(&spec, &config, &root, true));
        assert!(
            matches!(built, Err(PlanError::GitWritable { .. })),
            "{built:?}"
        );
    }

    #[test]
    fn a_root_glob_create_is_refused() {
        let (_dir, built) = plan_for("- Modify: `a.py`\n- Create: `*.md`\n", &["a.py"], true);
        assert!(
            matches!(built, Err(PlanError::RootGlob { line: 8, .. })),
            "{built:?}"
        );
    }

    #[test]
    fn etc_is_one_rule_unless_root() {
        let (_dir, built) = plan_for("- Modify: `a.py`\n", &["a.py"], false);
        let built = built.unwrap();
        assert_eq!(rules_at(&built, Path::new("/etc")).len(), 1);
        let (_dir, built) = plan_for("- Modify: `a.py`\n", &["a.py"], true);
        let built = built.unwrap();
        assert!(rules_at(&built, Path::new("/etc")).is_empty());
        for secret in [
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/sudoers",
            "/etc/ssh",
            "/etc/ssl",
        ] {
            assert!(rules_at(&built, Path::new(secret)).is_empty(), "{secret}");
        }
        for needed in ["/etc/passwd", "/etc/ld.so.cache", "/etc/ssl/certs"] {
            if Path::new(needed).exists() {
                assert_eq!(rules_at(&built, Path::new(needed)).len(), 1, "{needed}");
            }
        }
    }

    #[test]
    fn the_root_etc_allow_list_matches_names_and_prefixes() {
        assert!(etc_entry_for_root(b"passwd"));
        assert!(etc_entry_for_root(b"python3.11"));
        assert!(etc_entry_for_root(b"java-17-openjdk"));
        assert!(!etc_entry_for_root(b"passwd-"));
        assert!(!etc_entry_for_root(b"shadow"));
        assert!(!etc_entry_for_root(b"ssh"));
        assert!(!etc_entry_for_root(b"ssl"));
        assert!(!etc_entry_for_root(b"sudoers.d"));
        for name in ETC_FOR_ROOT.iter().chain(ETC_NESTED_FOR_ROOT) {
            let lower = name.to_ascii_lowercase();
            assert!(
                !["shadow", "sudo", "private", "key", "secret", "credential"]
                    .iter()
                    .any(|s| lower.contains(s)),
                "{name} looks secret"
            );
        }
    }

    /// A git repository `repo` in a fresh temp dir with `files` (path, contents) and `links`
    /// (path, target) in it, and `beside` (directories next to `repo`); and the plan for
    /// `scope` there.
    fn plan_in_repo(
        scope: &str,
        files: &[(&str, &str)],
        links: &[(&str, &str)],
        beside: &[&str],
    ) -> (tempfile::TempDir, PathBuf, Result<BuiltPlan, PlanError>) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("repo");
        std::fs::create_dir(&root).unwrap();
        git2::Repository::init(&root).unwrap();
        write_files(&root, files);
        for (link, target) in links {
            std::os::unix::fs::symlink(target, root.join(link)).unwrap();
        }
        for other in beside {
            std::fs::create_dir(base.join(other)).unwrap();
        }
        let built = plan_at(&root, scope, false);
        (dir, root, built)
    }

    #[test]
    fn a_nested_scratch_directory_is_granted_only_where_its_parent_exists() {
        let gitignore = (".gitignore", "node_modules/\ntarget/\n");
        let scope = "- Modify: `src/app.py`\n";
        // No node_modules/: agenthost does not make it (npm does), so no `.cache` either;
        // a missing top-level scratch directory (target/) is still made.
        let (_dir, root, built) = plan_in_repo(scope, &[("src/app.py", ""), gitignore], &[], &[]);
        let built = built.unwrap();
        assert!(
            !built
                .mkdirs
                .iter()
                .any(|d| d.starts_with(root.join("node_modules")))
        );
        assert!(built.mkdirs.contains(&root.join("target")));
        assert!(
            !built
                .plan
                .fs
                .iter()
                .any(|r| r.path.starts_with(root.join("node_modules")))
        );
        // With node_modules/ there (installed, or copied by `worktree.copy`): `.cache` is
        // scratch space, made if missing.
        let (_dir, root, built) = plan_in_repo(
            scope,
            &[
                ("src/app.py", ""),
                gitignore,
                ("node_modules/x/index.js", ""),
            ],
            &[],
            &[],
        );
        let built = built.unwrap();
        assert_eq!(
            built
                .mkdirs
                .iter()
                .filter(|d| d.starts_with(root.join("node_modules")))
                .collect::<Vec<_>>(),
            [&root.join("node_modules/.cache")]
        );
    }

    #[test]
    fn a_scratch_directory_leading_out_of_the_worktree_nowhere_or_to_tracked_files_is_left_out() {
        let (dir, root, built) = plan_in_repo(
            "- Modify: `src/a.py`\n",
            &[
                (
                    ".gitignore",
                    "/target\n.venv\nbuild/\ndist\n.pytest_cache\n",
                ),
                ("src/a.py", ""),
            ],
            &[
                ("target", "../outside"),
                ("build", "../missing"),
                ("dist", "src"),
            ],
            &["outside"],
        );
        let built = built.unwrap();
        let outside = dir.path().canonicalize().unwrap().join("outside");
        assert!(
            !built.plan.fs.iter().any(|r| r.path.starts_with(&outside)
                || r.path == root.join("target")
                || r.path == root.join("build")),
            "{:#?}",
            built.plan.fs
        );
        let notes = built.notes.join("\n");
        assert!(notes.contains("`target/` leads to"), "{notes}");
        assert!(
            notes.contains("outside the worktree: not granted"),
            "{notes}"
        );
        assert!(notes.contains("`build/` is not granted"), "{notes}");
        assert!(notes.contains("which does not exist"), "{notes}");
        assert!(
            notes.contains("`dist/` leads to `src/`, which the repository does not ignore"),
            "{notes}"
        );
        assert!(
            !built
                .plan
                .fs
                .iter()
                .any(|r| r.path == root.join("src") && r.rights == rights::WRITE_TREE),
            "tracked sources became scratch space"
        );
        // A plain missing one is created and granted; a missing environment is not made
        // (an empty `.venv` reads as a broken one).
        assert!(built.mkdirs.contains(&root.join(".pytest_cache")));
        assert!(
            built
                .plan
                .fs
                .iter()
                .any(|r| r.path == root.join(".pytest_cache"))
        );
        assert!(!built.mkdirs.contains(&root.join(".venv")));
    }

    #[test]
    fn a_create_target_behind_a_symlink_to_nothing_is_a_plan_error_naming_the_link() {
        let (_dir, root, built) = plan_in_repo(
            "- Create: `docs-link/new.md`\n",
            &[("src/a.py", "")],
            &[("docs-link", "docs")],
            &[],
        );
        match built {
            Err(PlanError::DanglingSymlink {
                link,
                target,
                provenance,
            }) => {
                assert_eq!(link, root.join("docs-link"));
                assert_eq!(target, Path::new("docs"));
                assert!(provenance.starts_with("task.md:7"), "{provenance}");
            }
            other => panic!("expected a dangling-symlink error, got {other:?}"),
        }
    }

    #[test]
    fn modify_globs_do_not_enter_directories_the_repository_ignores() {
        let (_dir, root, built) = plan_in_repo(
            "- Modify: `**/*.rs`\n",
            &[
                (".gitignore", "target/\n/node_modules\n*.log\n"),
                ("src/lib.rs", ""),
                ("vendor/dep/lib.rs", ""),
                ("target/debug/build/out/generated.rs", ""),
                ("node_modules/pkg/index.rs", ""),
                ("src/node_modules/kept.rs", ""),
            ],
            &[],
            &[],
        );
        let built = built.unwrap();
        let mut granted: Vec<String> = built
            .plan
            .fs
            .iter()
            .filter(|r| r.target == Target::File && r.path.starts_with(&root))
            .map(|r| r.path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        granted.sort();
        // `/node_modules` is anchored: the nested one is walked.
        assert_eq!(
            granted,
            [
                "src/lib.rs",
                "src/node_modules/kept.rs",
                "vendor/dep/lib.rs"
            ]
        );
    }

    #[test]
    fn files_saved_in_one_directory_share_one_rule_that_names_three_and_counts_the_rest() {
        let files: Vec<String> = (0..8).map(|n| format!("src/a/f{n}.py")).collect();
        let mut all: Vec<&str> = files.iter().map(String::as_str).collect();
        all.push("src/b/g.py");
        all.push("tests/test_x.py");
        let (dir, built) = plan_for(
            "- Modify: `src/**/*.py`\n- Create: `tests/test_*.py`, `tests/conftest.py`\n",
            &all,
            false,
        );
        let built = built.unwrap();
        let root = dir.path().canonicalize().unwrap();
        let save_rules = |d: &str| -> Vec<&FsRule> {
            built
                .plan
                .fs
                .iter()
                .filter(|r| r.path == root.join(d) && r.rights == rights::SAVE_IN_DIR)
                .collect()
        };
        let [a] = save_rules("src/a")[..] else {
            panic!("one save rule for src/a: {:#?}", save_rules("src/a"));
        };
        assert_eq!(a.provenance.source, "task.md:7", "each line named once");
        assert_eq!(a.provenance.reason.matches("; also ").count(), 3);
        assert!(
            a.provenance.reason.ends_with("; and 4 more files"),
            "{}",
            a.provenance.reason
        );
        let [b] = save_rules("src/b")[..] else {
            panic!("one save rule for src/b");
        };
        assert!(!b.provenance.reason.contains("more file"));
        // A Create glob's directory rule is the one later files in it share.
        let [tests] = save_rules("tests")[..] else {
            panic!("one save rule for tests: {:#?}", save_rules("tests"));
        };
        assert!(
            tests
                .provenance
                .reason
                .contains("also Create `tests/conftest.py`")
        );
        // Every file of the glob keeps its own file rule.
        let file_rules = built
            .plan
            .fs
            .iter()
            .filter(|r| r.target == Target::File && r.path.starts_with(root.join("src")))
            .count();
        assert_eq!(file_rules, 9);
    }

    #[test]
    fn do_not_modify_under_a_grant_is_made_read_only_by_the_mount_layer() {
        let (dir, built) = plan_for(
            "- Modify: `src/app.py`\n- Do NOT modify `src/other.py`, `docs/`, `src/api/**`, `src/*.lock`\n",
            &[
                "src/app.py",
                "src/other.py",
                "docs/a.md",
                "src/api/routes.py",
                "src/a.lock",
                "src/b.lock",
            ],
            true,
        );
        let root = dir.path().canonicalize().unwrap();
        let built = built.unwrap();
        let notes = built.notes.join("\n");
        let protected: Vec<String> = built
            .plan
            .mounts
            .protected
            .iter()
            .map(|p| p.path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        // `docs/` has no write rule: Landlock keeps its content, the mount layer its
        // metadata (the worktree is one writable region).
        assert_eq!(
            protected,
            [
                "src/other.py",
                "docs",
                "src/api",
                "src/a.lock",
                "src/b.lock"
            ]
        );
        assert_eq!(built.plan.mounts.writable, std::slice::from_ref(&root));
        assert!(built.plan.mounts.read_only_view);
        assert!(
            notes.contains("Do NOT modify `src/other.py` overlaps the write grant on")
                && notes.contains("the mount layer makes 1 existing path read-only"),
            "{notes}"
        );
        assert!(
            notes.contains("Do NOT modify `docs/`: enforced by the kernel"),
            "{notes}"
        );
    }

    #[test]
    fn a_grant_inside_a_do_not_modify_directory_stays_writable() {
        let (_dir, built) = plan_for(
            "- Modify: `src/api/app.py`\n- Do NOT modify `src/**`\n",
            &["src/api/app.py", "src/lib.py"],
            true,
        );
        let built = built.unwrap();
        assert!(built.plan.mounts.protected.is_empty());
        let notes = built.notes.join("\n");
        assert!(
            notes.contains("is not enforced by the kernel")
                && notes
                    .contains("not read-only: `src` (the grant on src/api/app.py lies inside it)"),
            "{notes}"
        );
    }

    #[test]
    fn without_the_mount_layer_do_not_modify_under_a_grant_is_review_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write_files(&root, &[("src/app.py", ""), ("src/other.py", "")]);
        let text = "# Task\n\n## What\nIt.\n\n### Scope\n- Modify: `src/app.py`\n- Do NOT modify `src/other.py`\n";
        let spec = crate::spec::parse("task.md", text.as_bytes()).spec.unwrap();
        let mut config = Config::builtin();
        config.sandbox.read_only_view = false;
        let built = build(input_for(&spec, &config, &root, true)).unwrap();
        assert!(!built.plan.mounts.read_only_view);
        assert!(built.plan.mounts.protected.is_empty());
        let notes = built.notes.join("\n");
        assert!(
            notes.contains("Do NOT modify `src/other.py` is not enforced by the kernel")
                && notes.contains("read_only_view = false"),
            "{notes}"
        );
    }

    #[test]
    fn a_submodules_git_file_under_a_grant_is_read_only() {
        let (dir, built) = plan_for(
            "- Modify: `vendor/`\n",
            &["vendor/lib/.git", "vendor/lib/a.c", ".gitmodules"],
            true,
        );
        let root = dir.path().canonicalize().unwrap();
        // plan_for wrote `.gitmodules` with "x": write a real one and build again.
        std::fs::write(
            root.join(".gitmodules"),
            "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = ../lib\n",
        )
        .unwrap();
        drop(built);
        let built = plan_at(&root, "- Modify: `vendor/`\n", true).unwrap();
        let protected: Vec<&Path> = built
            .plan
            .mounts
            .protected
            .iter()
            .map(|p| p.path.as_path())
            .collect();
        assert_eq!(protected, [root.join("vendor/lib/.git")]);
    }

    #[test]
    fn a_profile_write_directory_made_after_the_plan_is_a_writable_region() {
        // `~/.cache/tool` does not exist yet: the host makes it when it prepares the disk,
        // after the plan, so the plan must name it writable all the same.
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("repo");
        write_files(&root, &[("src/app.py", "")]);
        git2::Repository::init(&root).unwrap();
        std::fs::create_dir_all(base.join("home/.cache")).unwrap();
        let text = "# Task\n\n## What\nIt.\n\n### Scope\n- Modify: `src/app.py`\n";
        let spec = crate::spec::parse("task.md", text.as_bytes()).spec.unwrap();
        let mut config = Config::builtin();
        let mut profile = config.agents["claude"].clone();
        profile.write = vec![crate::config::HostPath::parse("~/.cache/tool").unwrap()];
        config.agents.insert("tool".into(), profile.clone());
        let mut input = input_for(&spec, &config, &root, false);
        input.home = base.join("home");
        input.profile = Some(("tool", &profile));
        let built = build(input).unwrap();
        let made = base.join("home/.cache/tool");
        assert!(built.mkdirs.contains(&made));
        assert_eq!(built.plan.mounts.writable, [made, root.clone()]);
    }

    /// A repository with a `.npm` and a cargo registry in its fake real home, a private run
    /// home, and the plan for `purpose` there (Do NOT modify `package-lock.json`).
    fn run_plan(
        purpose: Purpose<'_>,
        view: bool,
    ) -> (tempfile::TempDir, PathBuf, Result<BuiltPlan, PlanError>) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("repo");
        write_files(
            &root,
            &[
                ("package.json", "{}"),
                ("package-lock.json", "{}"),
                (".gitignore", "node_modules/\n"),
            ],
        );
        git2::Repository::init(&root).unwrap();
        let home = base.join("home");
        std::fs::create_dir_all(home.join(".npm")).unwrap();
        std::fs::create_dir_all(home.join(".cargo/registry")).unwrap();
        let private = base.join("run/home");
        std::fs::create_dir_all(&private).unwrap();
        let text = "# Task\n\n## What\nIt.\n\n### Scope\n- Modify: `index.js`\n- Do NOT modify: `package-lock.json`\n";
        let spec = crate::spec::parse("task.md", text.as_bytes()).spec.unwrap();
        let mut config = Config::builtin();
        config.sandbox.read_only_view = view;
        let mut input = input_for(&spec, &config, &root, false);
        input.purpose = purpose;
        input.home = home;
        input.agent_home = Some(private);
        input.host_env = BTreeMap::from([
            ("PATH".to_string(), "/nonexistent".to_string()),
            (
                "PIP_INDEX_URL".to_string(),
                "https://pypi.example/simple".to_string(),
            ),
            ("NPM_CONFIG_TOKEN".to_string(), "secret".to_string()),
        ]);
        let built = build(input);
        (dir, root, built)
    }

    #[test]
    fn setup_writes_the_whole_worktree_and_the_caches_and_reaches_the_registries() {
        let ports = [443, 80];
        let (dir, root, built) = run_plan(Purpose::Setup { ports: &ports }, true);
        let built = built.unwrap();
        let home = dir.path().canonicalize().unwrap().join("home");
        let writes = |path: &Path| {
            built
                .plan
                .fs
                .iter()
                .any(|r| r.path == path && r.rights == rights::WRITE_TREE)
        };
        assert!(writes(&root), "{:#?}", built.plan.fs);
        assert!(writes(&home.join(".npm")));
        assert!(writes(&home.join(".cargo/registry")));
        // cargo's lock file beside its caches, made empty for the run.
        assert!(built.touch.contains(&home.join(".cargo/.package-cache")));
        // The worktree is one writable region with `.git` read-only on top; the lock file
        // the spec protects from the agent stays writable to the setup (npm rewrites it).
        assert!(built.plan.mounts.writable.contains(&root));
        let protected: Vec<&Path> = built
            .plan
            .mounts
            .protected
            .iter()
            .map(|p| p.path.as_path())
            .collect();
        assert_eq!(protected, [root.join(".git").as_path()]);
        let ports: Vec<u16> = built.plan.net.connect_tcp.iter().map(|r| r.port).collect();
        assert_eq!(ports, [443, 80]);
        let env = &built.plan.env;
        assert_eq!(
            env["npm_config_cache"],
            home.join(".npm").display().to_string()
        );
        assert_eq!(env["PIP_INDEX_URL"], "https://pypi.example/simple");
        assert!(!env.contains_key("NPM_CONFIG_TOKEN"), "a secret was passed");
    }

    #[test]
    fn the_test_run_writes_the_worktree_but_not_do_not_modify_and_reads_the_caches() {
        let mut test = crate::config::TestConfig {
            ports: vec![5432],
            ..Default::default()
        };
        test.env
            .insert("DATABASE_URL".into(), "postgres://127.0.0.1:5432/t".into());
        let (dir, root, built) = run_plan(Purpose::Test { config: &test }, true);
        let built = built.unwrap();
        let home = dir.path().canonicalize().unwrap().join("home");
        let rules_at = |path: &Path| -> Vec<&FsRule> {
            built.plan.fs.iter().filter(|r| r.path == path).collect()
        };
        assert!(
            rules_at(&root)
                .iter()
                .any(|r| r.rights == rights::WRITE_TREE)
        );
        assert!(
            rules_at(&home.join(".npm")).iter().all(|r| !r.writes()),
            "a cache is writable to the tests"
        );
        assert!(!rules_at(&home.join(".npm")).is_empty());
        let protected: Vec<&Path> = built
            .plan
            .mounts
            .protected
            .iter()
            .map(|p| p.path.as_path())
            .collect();
        assert!(protected.contains(&root.join(".git").as_path()));
        assert!(protected.contains(&root.join("package-lock.json").as_path()));
        let ports: Vec<u16> = built.plan.net.connect_tcp.iter().map(|r| r.port).collect();
        assert_eq!(ports, [5432]);
        let env = &built.plan.env;
        assert_eq!(env["DATABASE_URL"], "postgres://127.0.0.1:5432/t");
        // npm cannot use a read-only cache: the tests keep the private home's.
        assert!(!env.contains_key("npm_config_cache"));
        assert!(env["HOME"].ends_with("run/home"));
    }

    #[test]
    fn a_whole_worktree_run_without_the_mount_layer_is_refused() {
        let ports = [443];
        let (_dir, _root, built) = run_plan(Purpose::Setup { ports: &ports }, false);
        assert!(
            matches!(built, Err(PlanError::NeedsMountLayer { purpose: "setup" })),
            "{built:?}"
        );
    }

    #[test]
    fn the_agent_reads_the_caches_and_writes_none() {
        let (dir, _root, built) = run_plan(Purpose::Agent, true);
        let built = built.unwrap();
        let npm = dir.path().canonicalize().unwrap().join("home/.npm");
        let rules: Vec<&FsRule> = built.plan.fs.iter().filter(|r| r.path == npm).collect();
        assert!(
            !rules.is_empty() && rules.iter().all(|r| !r.writes()),
            "{rules:#?}"
        );
        assert!(!built.plan.env.contains_key("PIP_INDEX_URL"));
    }

    /// The version managers' layouts: each program's tree is readable, found from PATH
    /// alone, and nothing that holds other tools' data (`~/.local`, `~/.local/share`) is.
    #[test]
    fn version_managers_trees_are_found_from_path_and_shared_data_dirs_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("repo");
        std::fs::create_dir_all(&root).unwrap();
        git2::Repository::init(&root).unwrap();
        let home = base.join("home");
        let trees = [
            ".local/share/mise/shims",
            ".local/share/mise/installs/node/20/bin",
            ".local/share/fnm/node-versions/v20/installation/bin",
            ".deno/bin",
            "go/bin",
            ".local/share/bin",
            ".local/bin",
        ];
        for tree in trees {
            std::fs::create_dir_all(home.join(tree)).unwrap();
        }
        std::fs::create_dir_all(home.join(".local/state/agenthost")).unwrap();
        std::fs::create_dir_all(home.join(".local/state/fnm_multishells/42")).unwrap();
        std::os::unix::fs::symlink(
            home.join(".local/share/fnm/node-versions/v20/installation/bin"),
            home.join(".local/state/fnm_multishells/42/bin"),
        )
        .unwrap();
        let path = [
            ".local/share/mise/shims",
            ".local/state/fnm_multishells/42/bin",
            ".deno/bin",
            "go/bin",
            ".local/share/bin",
            ".local/bin",
        ]
        .iter()
        .map(|p| home.join(p).display().to_string())
        .collect::<Vec<_>>()
        .join(":");
        let text = "# Task\n\n## What\nIt.\n\n### Scope\n- Modify: `a`\n";
        let spec = crate::spec::parse("task.md", text.as_bytes()).spec.unwrap();
        let config = Config::builtin();
        let mut input = input_for(&spec, &config, &root, false);
        input.home = home.clone();
        input.host_env = BTreeMap::from([("PATH".to_string(), path)]);
        let built = build(input).unwrap();
        let granted: Vec<&Path> = built
            .plan
            .fs
            .iter()
            .filter(|r| r.provenance.source == "toolchain")
            .map(|r| r.path.as_path())
            .collect();
        for expected in [
            ".local/share/mise",
            ".local/share/fnm/node-versions/v20/installation",
            ".deno",
            "go",
            ".local/share/bin",
            ".local/bin",
        ] {
            assert!(
                granted.contains(&home.join(expected).as_path()),
                "{expected} not granted: {granted:#?}"
            );
        }
        for never in [
            ".local",
            ".local/share",
            ".local/state",
            ".local/state/agenthost",
        ] {
            assert!(
                !built.plan.fs.iter().any(|r| r.path == home.join(never)),
                "{never} granted: {granted:#?}"
            );
        }
    }

    #[test]
    fn a_private_home_is_home_and_the_only_writable_place_outside_the_worktree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write_files(&root, &[("src/app.py", "")]);
        git2::Repository::init(&root).unwrap();
        let real_home = root.join("home");
        std::fs::create_dir_all(real_home.join(".rustup")).unwrap();
        std::fs::create_dir_all(real_home.join(".claude")).unwrap();
        let private = root.join("state/homes/t1");
        std::fs::create_dir_all(&private).unwrap();
        let text = "# Task\n\n## What\nIt.\n\n### Scope\n- Modify: `src/app.py`\n";
        let spec = crate::spec::parse("task.md", text.as_bytes()).spec.unwrap();
        let mut config = Config::builtin();
        let profile = config.agents.get_mut("claude").unwrap();
        profile
            .env
            .insert("CONFIG_DIR".into(), "{home}/.claude".into());
        profile.env.insert("KEY".into(), "{env:HOST_KEY}".into());
        profile.env.insert("MISSING".into(), "{env:NOT_SET}".into());
        profile.pass_env = vec!["ANTHROPIC_BASE_URL".into()];
        let profile = profile.clone();
        let mut input = input_for(&spec, &config, &root, false);
        input.profile = Some(("claude", &profile));
        input.agent_home = Some(private.clone());
        input.host_env = BTreeMap::from([
            ("HOST_KEY".to_string(), "sk-1".to_string()),
            (
                "ANTHROPIC_BASE_URL".to_string(),
                "http://127.0.0.1:8377/v1".to_string(),
            ),
        ]);
        let built = build(input).unwrap();
        let env = &built.plan.env;
        assert_eq!(env["HOME"], private.display().to_string());
        assert_eq!(
            env["XDG_CONFIG_HOME"],
            private.join(".config").display().to_string()
        );
        assert_eq!(
            env["CONFIG_DIR"],
            private.join(".claude").display().to_string()
        );
        assert_eq!(env["KEY"], "sk-1");
        assert!(!env.contains_key("MISSING"));
        assert_eq!(
            env["RUSTUP_HOME"],
            real_home.join(".rustup").display().to_string()
        );
        let writes: Vec<&Path> = built
            .plan
            .fs
            .iter()
            .filter(|r| r.rights.contains(&FsRight::WriteFile) && !r.path.starts_with("/dev"))
            .map(|r| r.path.as_path())
            .collect();
        assert!(writes.contains(&private.as_path()), "{writes:?}");
        assert!(
            !writes.iter().any(|w| w.starts_with(&real_home)),
            "nothing of the real home is writable: {writes:?}"
        );
        let ports: Vec<u16> = built.plan.net.connect_tcp.iter().map(|r| r.port).collect();
        assert!(ports.contains(&8377), "{ports:?}");
    }

    #[test]
    fn env_values_and_base_urls() {
        let host = BTreeMap::from([("A".to_string(), "x".to_string())]);
        let home = Path::new("/h");
        let expand = |v: &str| super::super::agent_home::expand_value(v, Some(home), &host);
        assert_eq!(expand("{home}/.codex"), Ok(Some("/h/.codex".into())));
        assert_eq!(expand("{env:A}-{{lit}}"), Ok(Some("x-{{lit}}".into())));
        assert_eq!(
            expand("{\"a\": {\"b\": 1}}"),
            Ok(Some("{\"a\": {\"b\": 1}}".into()))
        );
        assert_eq!(expand("{env:B}"), Ok(None));
        assert_eq!(expand("a{b"), Ok(Some("a{b".into())));
        assert!(super::super::agent_home::expand_value("{home}", None, &host).is_err());
        assert_eq!(url_port("https://api.anthropic.com"), Some(443));
        assert_eq!(url_port("http://localhost/v1"), Some(80));
        assert_eq!(url_port("http://127.0.0.1:8080/v1"), Some(8080));
        assert_eq!(url_port("http://u:p@[::1]:9000"), Some(9000));
        assert_eq!(url_port("not a url"), None);
        assert!(is_base_url_var("OPENAI_BASE_URL"));
        assert!(is_base_url_var("OPENAI_API_BASE"));
        assert!(!is_base_url_var("OPENAI_API_KEY"));
    }

    #[test]
    fn glob_prefixes() {
        assert_eq!(literal_prefix("src/**/*.py"), "src");
        assert_eq!(literal_prefix("tests/test_*.py"), "tests");
        assert_eq!(literal_prefix("*.md"), "");
        assert_eq!(dir_pattern("docs/**"), Some("docs"));
        assert_eq!(dir_pattern("**"), Some(""));
        assert_eq!(dir_pattern("src/**/*.py"), None);
    }
}

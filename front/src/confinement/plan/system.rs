//! Reads: the system's programs, libraries and configuration, the toolchains on PATH
//! and in the home, never their secret files.

use super::*;

/// Names of files never granted when a toolchain or config directory is granted as a whole.
pub(super) const SECRET_NAMES: &[&str] = &[
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
pub(super) const ETC_FOR_ROOT: &[&str] = &[
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
pub(super) const ETC_NESTED_FOR_ROOT: &[&str] = &[
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
pub(super) fn etc_entry_for_root(name: &[u8]) -> bool {
    ETC_FOR_ROOT
        .iter()
        .any(|allowed| match allowed.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix.as_bytes()),
            None => name == allowed.as_bytes(),
        })
}

/// Variables that locate toolchains: passed on when set, and their directories readable.
pub(super) const TOOLCHAIN_VARS: &[&str] = &[
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "GOROOT",
    "JAVA_HOME",
    "NVM_DIR",
];

/// System directories, readable and executable.
pub(super) const SYSTEM_TREES: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt",
];

/// Toolchains whose default place is in the home, by the variable that moves them.
pub(super) const HOME_TOOLCHAINS: &[(&str, &str)] = &[
    ("RUSTUP_HOME", ".rustup"),
    ("CARGO_HOME", ".cargo"),
    ("PYENV_ROOT", ".pyenv"),
    ("NVM_DIR", ".nvm"),
    ("VOLTA_HOME", ".volta"),
    ("BUN_INSTALL", ".bun"),
    ("SDKMAN_DIR", ".sdkman"),
    ("ASDF_DATA_DIR", ".asdf"),
];

impl Builder<'_> {
    /// Reads: the worktree, its git dirs, the system, devices, toolchains.
    pub(super) fn reads(&mut self) {
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
    pub(super) fn system_trees(&mut self, trees: &[&str]) {
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
    pub(super) fn etc(&mut self) {
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
    pub(super) fn etc_links(&mut self) {
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

    /// Toolchains on PATH: each entry, and for `.../bin` or `.../shims` its parent (the
    /// toolchain's home: rustup's toolchains, pyenv's versions), without secret files.
    pub(super) fn toolchains(&mut self) {
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
    pub(super) fn tree_without_secrets(
        &mut self,
        root: &Path,
        rights: &[FsRight],
        why: Provenance,
    ) {
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

    /// The toolchains whose default place is in the real home (`~/.rustup`, `~/.pyenv`,
    /// ...), where they exist and their variable is not set: with a private `HOME` their
    /// programs would look in the wrong home, so the variable is set to the real place, and
    /// the place is readable.
    pub(super) fn home_toolchains(input: &PlanInput<'_>) -> Vec<(&'static str, PathBuf)> {
        HOME_TOOLCHAINS
            .iter()
            .filter(|(var, _)| !input.host_env.contains_key(*var))
            .map(|(var, dir)| (*var, input.home.join(dir)))
            .filter(|(_, path)| path.is_dir())
            .collect()
    }
}

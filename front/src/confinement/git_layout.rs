//! Where a worktree's git directories are, and which build-output directories it ignores,
//! read from the files the way git reads them, without opening the repository.
//!
//! The sandbox needs three facts per launch: the worktree a spec lives in, the git dir and
//! common git dir to keep read-only, and whether `target/`, `.venv/`, ... are ignored.
//! libgit2 answers them by loading the whole repository (every config file, the attribute
//! cache): about a third of a millisecond, a tenth of `agenthost sandbox`'s start-up, and a
//! C library the small front binary would otherwise not need. The rules used here:
//!
//! - **discovery**: from a directory upwards, the first one with a `.git` (a directory, or a
//!   file `gitdir: PATH` as in linked worktrees and submodules) that leads to a git dir
//!   (one with `HEAD`, `objects/` and `refs/`, or a `commondir` whose common dir has the
//!   last two). Like `git2::Repository::discover`, it does not cross a file-system
//!   boundary.
//! - **common dir**: `GITDIR/commondir` (relative to the git dir) when present, else the
//!   git dir itself.
//! - **ignored**: the patterns of the worktree's top-level `.gitignore`,
//!   `COMMONDIR/info/exclude` and the user's `core.excludesFile` (from `~/.gitconfig` or
//!   `$XDG_CONFIG_HOME/git/config`, default `$XDG_CONFIG_HOME/git/ignore`), with git's
//!   precedence and pattern rules (`IgnoreRules`). Not read: `.gitignore`
//!   files below the top level and an `excludesFile` set in the repository's own config;
//!   a directory ignored only through those is not granted (the sandbox asks less, never
//!   more).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::canonical::Canonicalizer;
pub(crate) use super::gitignore::IgnoreRules;

/// A worktree's git directories (absolute, canonical).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLayout {
    /// The worktree itself.
    pub worktree: PathBuf,
    /// Its git dir: `.git` for a main worktree, `COMMON/worktrees/NAME` for a linked one.
    pub git_dir: PathBuf,
    /// The common git dir (objects, refs, config, hooks), shared by every worktree.
    pub common_dir: PathBuf,
}

impl GitLayout {
    /// The layout of the worktree whose top level is `root` (canonical: the caller's
    /// path is kept as is), or `None` when `root` has no `.git` leading to a git dir.
    /// The git dirs are resolved through `resolved`.
    pub fn of_worktree(root: &Path, resolved: &mut Canonicalizer) -> Option<GitLayout> {
        let dot_git = root.join(".git");
        let meta = std::fs::metadata(&dot_git).ok()?;
        let git_dir = if meta.is_dir() {
            dot_git
        } else {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text.strip_prefix("gitdir:")?.trim();
            root.join(target)
        };
        let common_dir = match std::fs::read_to_string(git_dir.join("commondir")) {
            Ok(text) => git_dir.join(text.trim()),
            Err(_) => git_dir.clone(),
        };
        let is_git_dir = git_dir.join("HEAD").is_file()
            && common_dir.join("objects").is_dir()
            && common_dir.join("refs").is_dir();
        if !is_git_dir {
            return None;
        }
        let mut canonical = |p: PathBuf| resolved.canonicalize(&p).unwrap_or(p);
        Some(GitLayout {
            worktree: root.to_path_buf(),
            git_dir: canonical(git_dir),
            common_dir: canonical(common_dir),
        })
    }

    /// The worktree containing `start` (a directory): `start` or the nearest directory above
    /// it with a `.git`, on the same file system. Paths are resolved through `resolved`.
    pub(crate) fn discover(start: &Path, resolved: &mut Canonicalizer) -> Option<GitLayout> {
        let start = resolved.canonicalize(start).ok()?;
        let mut device = None;
        for dir in start.ancestors() {
            let dev = std::fs::metadata(dir).ok()?.dev();
            if *device.get_or_insert(dev) != dev {
                return None;
            }
            if std::fs::symlink_metadata(dir.join(".git")).is_ok() {
                return GitLayout::of_worktree(dir, resolved);
            }
        }
        None
    }

    /// The repository's ignore rules for paths in this worktree (see the module docs for
    /// which files are read).
    pub(crate) fn ignore_rules(&self) -> IgnoreRules {
        self.ignore_rules_with(user_excludes_file())
    }

    /// [`GitLayout::ignore_rules`] with the user's excludes file given.
    fn ignore_rules_with(&self, user_excludes: Option<PathBuf>) -> IgnoreRules {
        let mut rules = IgnoreRules::default();
        // Lowest precedence first: the last matching pattern wins.
        if let Some(global) = user_excludes {
            rules.add_file(&global, true);
        }
        rules.add_file(&self.common_dir.join("info/exclude"), true);
        rules.add_file(&self.worktree.join(".gitignore"), false);
        rules
    }
}

/// The user's `core.excludesFile`, found as git finds it: `$GIT_CONFIG_GLOBAL` alone when
/// set, else `~/.gitconfig` over `$XDG_CONFIG_HOME/git/config`; then the system config
/// (`$GIT_CONFIG_SYSTEM` or `/etc/gitconfig`, unless `$GIT_CONFIG_NOSYSTEM`); unset, the
/// default `$XDG_CONFIG_HOME/git/ignore`. (The `ignore` crate's own lookup compiles a regex
/// on every call, about 0.3 ms, and reads the key from any section.)
fn user_excludes_file() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let home = env("HOME").map(PathBuf::from);
    let xdg = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let mut configs: Vec<PathBuf> = match env("GIT_CONFIG_GLOBAL") {
        Some(global) => vec![PathBuf::from(global)],
        None => [
            home.as_ref().map(|h| h.join(".gitconfig")),
            xdg.as_ref().map(|x| x.join("git/config")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    };
    if env("GIT_CONFIG_NOSYSTEM").is_none() {
        configs
            .push(env("GIT_CONFIG_SYSTEM").map_or_else(|| "/etc/gitconfig".into(), PathBuf::from));
    }
    let found = configs.iter().find_map(|path| {
        let text = std::fs::read(path).ok()?;
        core_excludes_file(&String::from_utf8_lossy(&text))
    });
    match found {
        Some(value) => match (value.strip_prefix("~/"), &home) {
            (Some(rest), Some(home)) => Some(home.join(rest)),
            _ => Some(PathBuf::from(value)),
        },
        None => xdg.map(|x| x.join("git/ignore")),
    }
}

/// The last `excludesFile` value in the `[core]` section of a git config file's text.
/// Includes are not followed.
fn core_excludes_file(text: &str) -> Option<String> {
    let mut in_core = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let name = header.split(']').next().unwrap_or_default().trim();
            in_core = name.eq_ignore_ascii_case("core");
            continue;
        }
        if !in_core {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("excludesfile") {
            found = Some(config_value(value));
        }
    }
    found
}

/// A config value without its comment and quotes.
fn config_value(raw: &str) -> String {
    let mut value = String::new();
    let mut quoted = false;
    for c in raw.trim().chars() {
        match c {
            '"' => quoted = !quoted,
            '#' | ';' if !quoted => break,
            c => value.push(c),
        }
    }
    value.trim().to_string()
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join(".xdg"))
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    /// git2's answer, which this module replaces: (worktree, git dir, common dir).
    fn git2_layout(start: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
        let repo = git2::Repository::discover(start).ok()?;
        let canonical = |p: &Path| p.canonicalize().unwrap();
        Some((
            canonical(repo.workdir()?),
            canonical(repo.path()),
            canonical(repo.commondir()),
        ))
    }

    fn ours(start: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
        GitLayout::discover(start, &mut Canonicalizer::default())
            .map(|l| (l.worktree, l.git_dir, l.common_dir))
    }

    #[test]
    fn agrees_with_libgit2_on_main_and_linked_worktrees() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main");
        std::fs::create_dir_all(main.join("src/deep")).unwrap();
        git(&main, &["init", "-q", "-b", "main"]);
        std::fs::write(main.join("src/a.txt"), "a").unwrap();
        git(&main, &["add", "."]);
        git(
            &main,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "a",
            ],
        );
        git(
            &main,
            &["worktree", "add", "-q", "../linked", "-b", "other"],
        );
        std::fs::create_dir_all(dir.path().join("linked/src/deep")).unwrap();
        std::fs::create_dir_all(dir.path().join("plain/x")).unwrap();
        for start in [
            main.clone(),
            main.join("src/deep"),
            dir.path().join("linked"),
            dir.path().join("linked/src/deep"),
        ] {
            let ours = ours(&start);
            assert!(ours.is_some(), "{}", start.display());
            assert_eq!(ours, git2_layout(&start), "{}", start.display());
        }
        let linked =
            GitLayout::discover(&dir.path().join("linked"), &mut Canonicalizer::default()).unwrap();
        assert_ne!(linked.git_dir, linked.common_dir);
        assert!(linked.git_dir.starts_with(&linked.common_dir));
    }

    #[test]
    fn a_dot_git_that_leads_nowhere_is_no_repository() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".git"), "gitdir: /nonexistent/x\n").unwrap();
        assert_eq!(
            GitLayout::of_worktree(dir.path(), &mut Canonicalizer::default()),
            None
        );
        std::fs::write(dir.path().join(".git"), "not a pointer\n").unwrap();
        assert_eq!(
            GitLayout::of_worktree(dir.path(), &mut Canonicalizer::default()),
            None
        );
        std::fs::remove_file(dir.path().join(".git")).unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        assert_eq!(
            GitLayout::of_worktree(dir.path(), &mut Canonicalizer::default()),
            None
        );
    }

    #[test]
    fn excludes_file_is_read_from_the_core_section_only() {
        let config = "[user]\n\texcludesFile = /wrong\n[core]\n\tbare = false\n\texcludesFile = \"~/my ignore\" # mine\n[other]\nexcludesfile = /also-wrong\n";
        assert_eq!(core_excludes_file(config).as_deref(), Some("~/my ignore"));
        assert_eq!(
            core_excludes_file("[Core]\nExcludesFile=/x ; c\n").as_deref(),
            Some("/x")
        );
        assert_eq!(
            core_excludes_file("[core \"sub\"]\nexcludesfile = /x\n"),
            None
        );
        assert_eq!(core_excludes_file("excludesfile = /x\n"), None);
    }

    #[test]
    fn ignore_rules_agree_with_git() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        git(&root, &["init", "-q"]);
        std::fs::write(
            root.join(".gitignore"),
            "/target\nbuild/\n!dist/\n*.log\n.venv\nnode_modules/\n",
        )
        .unwrap();
        std::fs::write(
            root.join(".git/info/exclude"),
            ".tox/\ndist/\n__pycache__\n",
        )
        .unwrap();
        let user_excludes = dir.path().join("user-ignore");
        std::fs::write(&user_excludes, ".mypy_cache/\n!.tox/\n").unwrap();
        let layout = GitLayout::of_worktree(&root, &mut Canonicalizer::default()).unwrap();
        let rules = layout.ignore_rules_with(Some(user_excludes.clone()));
        for name in [
            "target",
            "build",
            "dist",
            ".venv",
            ".tox",
            "node_modules/.cache",
            "__pycache__",
            ".mypy_cache",
            ".ruff_cache",
            "src/target",
        ] {
            // `git check-ignore` exits 0 for an ignored path, 1 for one that is not.
            let git_says = Command::new("git")
                .args(["-c"])
                .arg(format!("core.excludesFile={}", user_excludes.display()))
                .args(["check-ignore", "-q", &format!("{name}/")])
                .current_dir(&root)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", dir.path())
                .env("XDG_CONFIG_HOME", dir.path().join(".xdg"))
                .status()
                .unwrap()
                .code();
            assert_eq!(
                rules.ignores_dir(name),
                git_says == Some(0),
                "{name}: git check-ignore said {git_says:?}"
            );
        }
    }
}

//! The plan's tests: every kind of rule, from a Scope in a real temp repository. One file
//! for all concerns because they share the builders of inputs and repositories below (so
//! longer than our 600-line guide on purpose).

use super::env::{is_base_url_var, url_port};
use super::*;
use crate::config::Config;

/// The input for `spec` in the worktree `root` (canonical), with nothing resolved yet.
fn input_for<'a>(spec: &'a Spec, config: &'a Config, root: &Path, as_root: bool) -> PlanInput<'a> {
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
    std::os::unix::fs::symlink(outside.path().join("victim.txt"), root.join("evil.py")).unwrap();
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
    // a missing top-level scratch directory (target/) is still made where its tool is used.
    let (_dir, root, built) = plan_in_repo(
        scope,
        &[("src/app.py", ""), ("Cargo.toml", ""), gitignore],
        &[],
        &[],
    );
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
            ("package.json", "{}"),
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

/// A build directory is made only where its tool is used: a Node project gets no `target/`,
/// a Rust project no `.pytest_cache/`; one that exists is granted whatever the markers say.
#[test]
fn a_missing_scratch_directory_is_made_only_where_its_tool_is_used() {
    let gitignore = (".gitignore", "target/\n.pytest_cache/\nbuild/\ndist/\n");
    let scope = "- Modify: `src/app.js`\n";
    let (_dir, root, built) = plan_in_repo(
        scope,
        &[("src/app.js", ""), ("package.json", "{}"), gitignore],
        &[],
        &[],
    );
    let built = built.unwrap();
    for missing in ["target", ".pytest_cache"] {
        assert!(
            !built.mkdirs.contains(&root.join(missing)),
            "{missing} made"
        );
    }
    for made in ["build", "dist"] {
        assert!(built.mkdirs.contains(&root.join(made)), "{made} not made");
    }
    let (_dir, root, built) = plan_in_repo(
        scope,
        &[("src/app.js", ""), ("target/debug/x", ""), gitignore],
        &[],
        &[],
    );
    let built = built.unwrap();
    assert!(built.plan.fs.iter().any(|r| r.path == root.join("target")));
    assert!(!built.mkdirs.contains(&root.join("build")));
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
            ("pyproject.toml", ""),
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
            && notes.contains("not read-only: `src` (the grant on src/api/app.py lies inside it)"),
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
    let rules_at =
        |path: &Path| -> Vec<&FsRule> { built.plan.fs.iter().filter(|r| r.path == path).collect() };
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
    let expand = |v: &str| crate::confinement::agent_home::expand_value(v, Some(home), &host);
    assert_eq!(expand("{home}/.codex"), Ok(Some("/h/.codex".into())));
    assert_eq!(expand("{env:A}-{{lit}}"), Ok(Some("x-{{lit}}".into())));
    assert_eq!(
        expand("{\"a\": {\"b\": 1}}"),
        Ok(Some("{\"a\": {\"b\": 1}}".into()))
    );
    assert_eq!(expand("{env:B}"), Ok(None));
    assert_eq!(expand("a{b"), Ok(Some("a{b".into())));
    assert!(crate::confinement::agent_home::expand_value("{home}", None, &host).is_err());
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

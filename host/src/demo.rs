//! `agenthost demo`: the whole flow on built-in defaults, with no model and no network.
//!
//! A sample repository in a new temp directory, three example specs launched with the
//! scripted agent under the real sandbox and the real policies, each showing one thing:
//! a clean task, an agent that strays out of scope (the kernel refuses one write, the
//! review's scope check flags another), and one whose tests fail. The demo has its own
//! state directory, so it never mixes with your tasks.

use std::path::{Path, PathBuf};

/// The sample repository's files, embedded so that an installed binary can run the demo.
pub const SAMPLE_REPO: &[(&str, &str)] = &[
    (
        "README.md",
        include_str!("../../examples/sample-repo/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../examples/sample-repo/.gitignore"),
    ),
    (
        "inventory/__init__.py",
        include_str!("../../examples/sample-repo/inventory/__init__.py"),
    ),
    (
        "inventory/items.py",
        include_str!("../../examples/sample-repo/inventory/items.py"),
    ),
    (
        "inventory/report.py",
        include_str!("../../examples/sample-repo/inventory/report.py"),
    ),
    (
        "api/routes.py",
        include_str!("../../examples/sample-repo/api/routes.py"),
    ),
    (
        "tests/test_report.py",
        include_str!("../../examples/sample-repo/tests/test_report.py"),
    ),
];

/// The demo's specs: (file name, text, what it shows).
pub const SPECS: &[(&str, &str, &str)] = &[
    (
        "csv-export.md",
        include_str!("../../examples/specs/demo/csv-export.md"),
        "a clean task: in scope, tests pass",
    ),
    (
        "status-filter.md",
        include_str!("../../examples/specs/demo/status-filter.md"),
        "an agent that strays: the kernel refuses its write to api/routes.py, scope-guard flags the file it slipped into inventory/",
    ),
    (
        "quantity-check.md",
        include_str!("../../examples/specs/demo/quantity-check.md"),
        "a task whose tests fail: the tests policy blocks acceptance",
    ),
];

/// The demo's directories.
#[derive(Debug, Clone)]
pub struct DemoDirs {
    /// The temp directory holding everything.
    pub root: PathBuf,
    /// The sample repository.
    pub repo: PathBuf,
    /// The specs.
    pub specs: PathBuf,
    /// The demo's own agenthost state.
    pub state: PathBuf,
}

/// Writes the sample repository (committed on `main`) and the specs under `root`.
pub fn prepare(root: &Path) -> Result<DemoDirs, String> {
    let dirs = DemoDirs {
        root: root.to_path_buf(),
        repo: root.join("repo"),
        specs: root.join("specs"),
        state: root.join("state"),
    };
    for (path, text) in SAMPLE_REPO {
        write(&dirs.repo.join(path), text)?;
    }
    for (name, text, _) in SPECS {
        write(&dirs.specs.join(name), text)?;
    }
    commit_sample(&dirs.repo).map_err(|err| format!("cannot make the sample repository: {err}"))?;
    Ok(dirs)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(|err| err.to_string())?;
    }
    fs_err::write(path, text).map_err(|err| err.to_string())
}

fn commit_sample(root: &Path) -> Result<(), git2::Error> {
    let repo = git2::Repository::init(root)?;
    repo.set_head("refs/heads/main")?;
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let signature = git2::Signature::now("agenthost demo", "demo@agenthost.invalid")?;
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        "Sample inventory package",
        &tree,
        &[],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepares_a_committed_repository_and_valid_specs() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = prepare(dir.path()).unwrap();
        let repo = git2::Repository::open(&dirs.repo).unwrap();
        assert_eq!(repo.head().unwrap().shorthand().unwrap(), "main");
        assert!(repo.statuses(None).unwrap().is_empty());
        let files = crate::repo_files::list(&dirs.repo).unwrap();
        for (name, _, _) in SPECS {
            let parsed = crate::spec::read(&dirs.specs.join(name)).unwrap();
            let spec = parsed.spec.as_ref().unwrap();
            assert!(parsed.problems.is_empty(), "{name}: {:?}", parsed.problems);
            assert!(
                crate::spec::repo_check::check(&spec.scope, &files).is_empty(),
                "{name}"
            );
            assert!(
                crate::scripted_agent::extract(parsed.source.text()).is_ok(),
                "{name}"
            );
        }
    }
}

//! A Python virtual environment copied from the user's checkout into a task's worktree
//! (`[worktree] copy = [".venv"]`) still names the checkout: its scripts' `#!` lines, its
//! `activate` scripts, and an editable install's `.pth` and `__editable__` finder files.
//! Run as they are, the tests would run the checkout's code (which the sandbox hides), not
//! the agent's. This points them at the worktree instead.

use std::path::Path;

/// If `dir` (just copied to the worktree) is a virtual environment, rewrites every mention
/// of the checkout's root in its scripts and path files to the worktree's root; returns how
/// many files it changed.
pub fn relocate(dir: &Path, checkout: &Path, worktree: &Path) -> std::io::Result<usize> {
    if !dir.join("pyvenv.cfg").is_file() {
        return Ok(0);
    }
    // Without a trailing `/` (git's work directory has one).
    let checkout: std::path::PathBuf = checkout.components().collect();
    let checkout = checkout.as_path();
    let mut froms = vec![checkout.display().to_string()];
    if let Ok(real) = checkout.canonicalize()
        && real != checkout
    {
        froms.push(real.display().to_string());
    }
    let to = worktree
        .components()
        .collect::<std::path::PathBuf>()
        .display()
        .to_string();
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("bin")) {
        files.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    for lib in ["lib", "lib64"] {
        let Ok(pythons) = std::fs::read_dir(dir.join(lib)) else {
            continue;
        };
        for python in pythons.filter_map(Result::ok) {
            let Ok(entries) = std::fs::read_dir(python.path().join("site-packages")) else {
                continue;
            };
            files.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        let name = p.file_name().unwrap_or_default().to_string_lossy();
                        name.ends_with(".pth") || name.starts_with("__editable__")
                    }),
            );
        }
    }
    let mut changed = 0;
    for file in files {
        // Only regular files, never through a link (`bin/python` links to the base Python).
        let Ok(meta) = std::fs::symlink_metadata(&file) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 1 << 20 {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue; // a compiled program, not a script
        };
        let mut new = text.clone();
        for from in &froms {
            new = replace_root(&new, from, &to);
        }
        if new != text {
            // A new file in its place: the copy may share its blocks with the checkout's.
            let temp = file.with_extension("agenthost-relocating");
            std::fs::write(&temp, new)?;
            std::fs::set_permissions(&temp, meta.permissions())?;
            std::fs::rename(&temp, &file)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// `text` with `from` replaced by `to` where it names the root or a path below it (followed
/// by `/`, a quote, white space or the end), not a longer name that starts the same.
fn replace_root(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let after = &rest[at + from.len()..];
        let whole = after
            .chars()
            .next()
            .is_none_or(|c| c == '/' || c == '"' || c == '\'' || c.is_whitespace());
        out.push_str(&rest[..at]);
        out.push_str(if whole { to } else { from });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_venv_names_the_worktree_in_its_scripts_and_editable_paths() {
        let dir = tempfile::tempdir().unwrap();
        let checkout = dir.path().join("src/app");
        let worktree = dir.path().join("state/worktrees/t1");
        let venv = worktree.join(".venv");
        let site = venv.join("lib/python3.11/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let c = checkout.display();
        std::fs::write(
            venv.join("bin/pytest"),
            format!("#!{c}/.venv/bin/python\nimport pytest\n"),
        )
        .unwrap();
        std::fs::write(site.join("_app.pth"), format!("{c}/src\n")).unwrap();
        std::fs::write(site.join("other.pth"), format!("{c}-old/src\n")).unwrap();
        std::os::unix::fs::symlink("/usr/bin/python3", venv.join("bin/python")).unwrap();
        let changed = relocate(&venv, &checkout, &worktree).unwrap();
        assert_eq!(changed, 2);
        let w = worktree.display();
        assert_eq!(
            std::fs::read_to_string(venv.join("bin/pytest")).unwrap(),
            format!("#!{w}/.venv/bin/python\nimport pytest\n")
        );
        assert_eq!(
            std::fs::read_to_string(site.join("_app.pth")).unwrap(),
            format!("{w}/src\n")
        );
        // A longer name that starts the same is another directory.
        assert_eq!(
            std::fs::read_to_string(site.join("other.pth")).unwrap(),
            format!("{c}-old/src\n")
        );
        assert_eq!(
            std::fs::read_link(venv.join("bin/python")).unwrap(),
            Path::new("/usr/bin/python3")
        );
    }

    #[test]
    fn a_directory_that_is_not_a_venv_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/x"), "#!/src/app/x\n").unwrap();
        assert_eq!(
            relocate(dir.path(), Path::new("/src/app"), Path::new("/w")).unwrap(),
            0
        );
    }
}

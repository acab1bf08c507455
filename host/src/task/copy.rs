//! Copying what `[worktree] copy` names from the user's checkout into a new worktree:
//! files (reflinked where the file system can), links as links, directories whole, each file
//! with its mode and times.

use std::path::Path;

/// Copies `from` to `to`: a file (copy-on-write where the file system can: a reflink on
/// btrfs, XFS, bcachefs; else a plain copy), a symbolic link as a link (never followed: a
/// dependency directory's `.bin/` links stay links), a directory with everything in it.
/// Parents of `to` are created; what exists at `to` is overwritten file by file. Files keep
/// their mode and times. The copy belongs to the worktree alone: nothing is shared writable
/// with the checkout.
pub(super) fn copy_entry(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let mut copier = Copier { reflink: true };
    let kind = fs_err::symlink_metadata(from)?.file_type();
    if !kind.is_dir() {
        return copier.leaf(from, to, kind);
    }
    let mut stack = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((from_dir, to_dir)) = stack.pop() {
        fs_err::create_dir_all(&to_dir)?;
        fs_err::set_permissions(&to_dir, fs_err::metadata(&from_dir)?.permissions())?;
        for entry in fs_err::read_dir(&from_dir)? {
            let entry = entry?;
            let (from_child, to_child) = (entry.path(), to_dir.join(entry.file_name()));
            match entry.file_type()? {
                kind if kind.is_dir() => stack.push((from_child, to_child)),
                kind => copier.leaf(&from_child, &to_child, kind)?,
            }
        }
    }
    Ok(())
}

/// Copies files one by one, trying a reflink until the file system says it has none.
struct Copier {
    /// Whether a reflink is still worth trying (false after the first refusal: on ext4
    /// every attempt would cost a created and removed file).
    reflink: bool,
}

impl Copier {
    /// Copies one entry that is not a directory into an existing directory, replacing what
    /// is at `to` (never writing through it: it may be a link). Sockets, pipes and devices
    /// are left out: nothing a dependency directory needs.
    fn leaf(&mut self, from: &Path, to: &Path, kind: std::fs::FileType) -> std::io::Result<()> {
        if !kind.is_symlink() && !kind.is_file() {
            return Ok(());
        }
        match std::fs::remove_file(to) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(std::io::Error::new(
                    error.kind(),
                    format!("replacing {}: {error}", to.display()),
                ));
            }
            _ => {}
        }
        if kind.is_symlink() {
            return fs_err::os::unix::fs::symlink(fs_err::read_link(from)?, to);
        }
        self.file(from, to).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("copying {} to {}: {error}", from.display(), to.display()),
            )
        })
    }

    /// A regular file, with its mode and times: build tools compare times (cargo rebuilds
    /// every crate whose dependency looks newer than it, so a copied `target/` stamped with
    /// the copy's time would be rebuilt from scratch).
    fn file(&mut self, from: &Path, to: &Path) -> std::io::Result<()> {
        let mut source = std::fs::File::open(from)?;
        let meta = source.metadata()?;
        let copy = if self.reflink && reflink_copy::reflink(from, to).is_ok() {
            std::fs::File::open(to)?
        } else {
            if self.reflink {
                // A failed reflink may leave the file it created (`to` was removed before).
                let _ = std::fs::remove_file(to);
            }
            self.reflink = false;
            let mut copy = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(to)?;
            std::io::copy(&mut source, &mut copy)?;
            copy
        };
        copy.set_permissions(meta.permissions())?;
        copy.set_times(
            std::fs::FileTimes::new()
                .set_accessed(meta.accessed()?)
                .set_modified(meta.modified()?),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copied build directory keeps its files' times (cargo rebuilds what looks newer than
    /// its dependents), a read-only file's included.
    #[test]
    fn a_copy_keeps_the_files_times() {
        use std::os::unix::fs::PermissionsExt as _;
        let temp = tempfile::tempdir().unwrap();
        let from = temp.path().join("target");
        fs_err::create_dir_all(from.join("debug/deps")).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        for (file, mode) in [("debug/deps/libcc.rlib", 0o644), ("debug/app", 0o555)] {
            let path = from.join(file);
            fs_err::write(&path, "x").unwrap();
            std::fs::File::open(&path)
                .unwrap()
                .set_times(std::fs::FileTimes::new().set_modified(old))
                .unwrap();
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let to = temp.path().join("wt/target");
        copy_entry(&from, &to).unwrap();
        for file in ["debug/deps/libcc.rlib", "debug/app"] {
            let copied = fs_err::metadata(to.join(file)).unwrap();
            assert_eq!(copied.modified().unwrap(), old, "{file}");
        }
    }
}

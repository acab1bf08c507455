//! What a plan needs on disk before its run: the directories and files its rules name
//! (Landlock grants a path that exists), made empty; and, after the run, the ones it left as
//! they were made, removed. "As they were made" is the file's identity and times, not only
//! its size: an agent may well create an empty file where its Scope says Create (`py.typed`,
//! `.gitkeep`), and that file must stay. (A write in the same clock tick as the creation
//! leaves the times as they were: the kernel's file clock is coarse, a few milliseconds.)

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::{BuiltPlan, RunError};

/// A directory or file [`prepare`] made, with how it looked then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Where.
    pub path: PathBuf,
    /// Its identity and times when made (files only).
    stamp: Option<Stamp>,
}

/// A file's device, inode, and change and modification times, to the nanosecond: a write,
/// a truncation, `touch` or a replacement changes at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

/// Creates what the plan needs on disk; returns what was created, for [`cleanup`].
pub fn prepare(built: &BuiltPlan) -> Result<Vec<Created>, RunError> {
    make(&built.mkdirs, &built.touch)
}

/// Creates the directories `mkdirs` and the empty files `touch` that do not exist yet.
fn make(mkdirs: &[PathBuf], touch: &[PathBuf]) -> Result<Vec<Created>, RunError> {
    let mut created = Vec::new();
    for dir in mkdirs {
        if !dir.exists() {
            fs_err::create_dir(dir).map_err(|source| RunError::Prepare {
                path: dir.clone(),
                source,
            })?;
            created.push(Created {
                path: dir.clone(),
                stamp: None,
            });
        }
    }
    for file in touch {
        if !file.exists() {
            fs_err::File::create(file).map_err(|source| RunError::Prepare {
                path: file.clone(),
                source,
            })?;
            created.push(Created {
                path: file.clone(),
                stamp: Stamp::of(file),
            });
        }
    }
    Ok(created)
}

/// Removes what [`prepare`] created and the run left as it was: empty directories, and
/// empty files nobody wrote, touched or replaced since; deepest first.
pub fn cleanup(created: &[Created]) {
    for made in created.iter().rev() {
        let path = &made.path;
        if path.is_dir() {
            let _ = std::fs::remove_dir(path);
        } else if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0)
            && made.stamp.is_some()
            && Stamp::of(path) == made.stamp
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_run_left_as_made_goes_and_what_it_made_stays() {
        let temp = tempfile::tempdir().unwrap();
        let (pkg, untouched, written, touched, replaced) = (
            temp.path().join("pkg"),
            temp.path().join("pkg/untouched.py"),
            temp.path().join("pkg/written.py"),
            temp.path().join("pkg/__init__.py"),
            temp.path().join("pkg/replaced.py"),
        );
        let created = make(
            std::slice::from_ref(&pkg),
            &[
                untouched.clone(),
                written.clone(),
                touched.clone(),
                replaced.clone(),
            ],
        )
        .unwrap();
        assert_eq!(created.len(), 5);
        std::fs::write(&written, "x = 1\n").unwrap();
        // The agent creates an empty `__init__.py`: its times change, its size does not.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&touched)
            .unwrap()
            .set_modified(later)
            .unwrap();
        // An atomic save of an empty file: another inode.
        let temp_file = temp.path().join("pkg/.replaced.tmp");
        std::fs::write(&temp_file, "").unwrap();
        std::fs::rename(&temp_file, &replaced).unwrap();
        cleanup(&created);
        assert!(!untouched.exists(), "left as made: removed");
        assert!(written.exists() && touched.exists() && replaced.exists());
        assert!(pkg.is_dir(), "not empty: kept");

        // Nothing used at all: the directory goes too.
        let created = make(&[temp.path().join("d")], &[temp.path().join("d/f")]).unwrap();
        cleanup(&created);
        assert!(!temp.path().join("d").exists());
    }
}

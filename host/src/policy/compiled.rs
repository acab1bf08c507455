//! The on-disk cache of compiled policies: `<dir>/<sha256>-<engine>.cwasm`, one file per
//! plugin digest and engine fingerprint (wasmtime's version, its compiler settings and the
//! host CPU's features: [`wasmtime::Engine::precompile_compatibility_hash`]).
//!
//! A hit maps the file (`deserialize_file`): no decompression, no copy, no second hash of
//! the plugin (its sha256 is already known), so a later process pays well under a
//! millisecond where compiling a large guest takes seconds. A miss compiles and writes the
//! file atomically (a temp file renamed into place), so a file is never changed once
//! written and a reader never sees half of one. A file wasmtime refuses (another version,
//! corrupt) is compiled again and replaced.

#![allow(unsafe_code)]

use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use wasmtime::Module;
use wasmtime::component::Component;

use crate::config::Sha256;

/// Where compiled policies are kept, for one engine.
#[derive(Debug, Clone)]
pub(super) struct CompiledCache {
    dir: PathBuf,
    engine_key: u64,
}

/// What went wrong writing a cache entry (the policy itself loaded fine).
#[derive(Debug, thiserror::Error)]
#[error("cannot keep the compiled policy in {path}: {reason}")]
pub(super) struct CacheWriteError {
    path: PathBuf,
    reason: String,
}

impl CompiledCache {
    /// A cache in `dir` for code compiled by `engine`.
    pub(super) fn new(dir: PathBuf, engine: &wasmtime::Engine) -> CompiledCache {
        // SipHash with fixed keys: stable within one build of agenthost, which is all a
        // cache key needs (another build may compute other keys and compile once more).
        #[allow(deprecated)]
        let mut hasher = std::hash::SipHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompiledCache {
            dir,
            engine_key: hasher.finish(),
        }
    }

    /// The file for a plugin of this digest, of this kind (`component` or `module`).
    pub(super) fn path(&self, digest: &Sha256, kind: &str) -> PathBuf {
        self.dir
            .join(format!("{digest}-{kind}-{:016x}.cwasm", self.engine_key))
    }

    /// The compiled component from the cache, if a usable one is there.
    pub(super) fn component(
        &self,
        engine: &wasmtime::Engine,
        digest: &Sha256,
    ) -> Option<Component> {
        // No existence check first: a missing file is an error from the open, one system
        // call fewer on every load.
        let path = self.path(digest, "component");
        // SAFETY: the file was written by `store` below: `Component::serialize` output of an
        // engine with the same compatibility hash, renamed into place whole and never
        // modified after, in the user's own cache directory (anyone who can write there can
        // already change the user's files). wasmtime checks the header (version, settings)
        // and refuses a mismatch, which we treat as a miss.
        unsafe { Component::deserialize_file(engine, &path) }.ok()
    }

    /// The compiled core module from the cache, if a usable one is there.
    pub(super) fn module(&self, engine: &wasmtime::Engine, digest: &Sha256) -> Option<Module> {
        let path = self.path(digest, "module");
        // SAFETY: as for `component`: a file `store` wrote whole and never changes.
        unsafe { Module::deserialize_file(engine, &path) }.ok()
    }

    /// Keeps `serialized` (a `serialize()` of the compiled code) for later processes.
    pub(super) fn store(
        &self,
        digest: &Sha256,
        kind: &str,
        serialized: &[u8],
    ) -> Result<(), CacheWriteError> {
        let path = self.path(digest, kind);
        let error = |reason: std::io::Error| CacheWriteError {
            path: path.clone(),
            reason: reason.to_string(),
        };
        create_private_dir(&self.dir).map_err(error)?;
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir).map_err(error)?;
        temp.write_all(serialized).map_err(error)?;
        temp.persist(&path).map_err(|err| error(err.error))?;
        Ok(())
    }
}

/// Creates `dir` (and its parents) readable by the user only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(byte: u8) -> Sha256 {
        Sha256([byte; 32])
    }

    #[test]
    fn a_stored_module_is_served_and_a_corrupt_file_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let engine = wasmtime::Engine::default();
        let cache = CompiledCache::new(dir.path().join("compiled"), &engine);
        assert!(cache.module(&engine, &digest(1)).is_none());

        let module = Module::new(
            &engine,
            wat::parse_str("(module (func (export \"f\")))").unwrap(),
        )
        .unwrap();
        cache
            .store(&digest(1), "module", &module.serialize().unwrap())
            .unwrap();
        let served = cache.module(&engine, &digest(1)).unwrap();
        assert!(served.get_export("f").is_some());

        std::fs::write(cache.path(&digest(2), "module"), b"not compiled code").unwrap();
        assert!(cache.module(&engine, &digest(2)).is_none());
    }

    #[test]
    fn the_key_names_the_digest_and_the_engine() {
        let engine = wasmtime::Engine::default();
        let cache = CompiledCache::new(PathBuf::from("/c"), &engine);
        let name = cache.path(&digest(0xab), "component");
        let name = name.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with(&"ab".repeat(32)), "{name}");
        assert!(name.contains("-component-"), "{name}");

        let mut other = wasmtime::Config::new();
        other.epoch_interruption(true);
        let other = wasmtime::Engine::new(&other).unwrap();
        let other = CompiledCache::new(PathBuf::from("/c"), &other);
        assert_ne!(
            other.path(&digest(0xab), "component"),
            cache.path(&digest(0xab), "component")
        );
    }
}

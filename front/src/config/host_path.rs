//! Paths on the host that a sandbox may grant: absolute, or starting at `~`.

use std::fmt;
use std::path::{Path, PathBuf};

/// A host path from the config, as written: absolute (`/opt/sdk`) or under the home directory
/// (`~`, `~/.claude`). `~` is kept unexpanded until the sandbox is built, so a config means
/// the same thing whoever's home it is loaded in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPath(String);

impl HostPath {
    /// Checks `text`; on failure returns why, as a phrase completing "`x` ...".
    pub fn parse(text: &str) -> Result<HostPath, &'static str> {
        if text == "~" || text.starts_with("~/") || Path::new(text).is_absolute() {
            Ok(HostPath(text.to_string()))
        } else if text.starts_with('~') {
            Err("names another user's home, which is not supported")
        } else if text.is_empty() {
            Err("is empty")
        } else {
            Err("is relative")
        }
    }

    /// The path as written in the config.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path with a leading `~` replaced by `home`.
    pub fn expand(&self, home: &Path) -> PathBuf {
        match self.0.strip_prefix('~') {
            Some(rest) => home.join(rest.trim_start_matches('/')),
            None => PathBuf::from(&self.0),
        }
    }
}

impl fmt::Display for HostPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_home() {
        let home = Path::new("/home/ada");
        let expand = |text: &str| HostPath::parse(text).map(|p| p.expand(home));
        assert_eq!(expand("~"), Ok(PathBuf::from("/home/ada")));
        assert_eq!(expand("~/.claude"), Ok(PathBuf::from("/home/ada/.claude")));
        assert_eq!(expand("/opt/sdk"), Ok(PathBuf::from("/opt/sdk")));
    }

    #[test]
    fn refuses_what_it_cannot_place() {
        assert_eq!(HostPath::parse("cache"), Err("is relative"));
        assert_eq!(HostPath::parse("./cache"), Err("is relative"));
        assert_eq!(HostPath::parse(""), Err("is empty"));
        assert_eq!(
            HostPath::parse("~bob/x"),
            Err("names another user's home, which is not supported")
        );
    }
}

//! Resolved policy settings: which plugin runs, in which mode, with which config table.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::Origin;

/// The policies that ship with agenthost, each an ordinary plugin embedded in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinPolicy {
    /// `spec-quality` (acceptance): is the spec tight enough to run unattended?
    SpecQuality,
    /// `review-bandwidth` (concurrency): may another agent start, given the review queue?
    ReviewBandwidth,
    /// `scope-overlap` (admission): does another task of the repository and base write the
    /// same paths?
    ScopeOverlap,
    /// `scope-guard` (review): did the agent change only what the Scope allows?
    ScopeGuard,
    /// `diff-size` (review): is the diff small enough to review well?
    DiffSize,
    /// `tests` (review): does the test command pass?
    Tests,
}

impl BuiltinPolicy {
    /// Every built-in policy.
    pub const ALL: [BuiltinPolicy; 6] = [
        BuiltinPolicy::SpecQuality,
        BuiltinPolicy::ReviewBandwidth,
        BuiltinPolicy::ScopeOverlap,
        BuiltinPolicy::ScopeGuard,
        BuiltinPolicy::DiffSize,
        BuiltinPolicy::Tests,
    ];

    /// The name the policy has under `[policies]`.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinPolicy::SpecQuality => "spec-quality",
            BuiltinPolicy::ReviewBandwidth => "review-bandwidth",
            BuiltinPolicy::ScopeOverlap => "scope-overlap",
            BuiltinPolicy::ScopeGuard => "scope-guard",
            BuiltinPolicy::DiffSize => "diff-size",
            BuiltinPolicy::Tests => "tests",
        }
    }

    /// The built-in policy called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<BuiltinPolicy> {
        BuiltinPolicy::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for BuiltinPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a policy's verdicts count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyMode {
    /// Verdicts take effect: a rejection refuses the task, a blocking finding blocks accept.
    #[default]
    Enforce,
    /// Verdicts are reported but never refuse or block anything: for trying a policy out.
    Monitor,
}

/// A SHA-256 digest that a policy's `.wasm` file must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// Parses 64 hexadecimal digits, in either case. On failure returns why.
    pub(crate) fn parse(text: &str) -> Result<Sha256, String> {
        let count = text.chars().count();
        if count != 64 {
            return Err(format!("it has {count} characters, not 64"));
        }
        if let Some(bad) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!("`{bad}` is not a hexadecimal digit"));
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|e| e.to_string())?;
        }
        Ok(Sha256(bytes))
    }
}

impl fmt::Display for Sha256 {
    /// Lowercase hex, as `sha256sum` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// Where a policy's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// One of the plugins embedded in agenthost.
    Builtin(BuiltinPolicy),
    /// A user's WebAssembly plugin.
    Plugin {
        /// The `.wasm` file; a relative `path` in the config is resolved against the
        /// directory of the config file that gave it.
        path: PathBuf,
        /// The digest the file must have, when pinned.
        sha256: Option<Sha256>,
    },
}

/// One configured policy, after all layers are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// The plugin to run.
    pub source: PolicySource,
    /// Whether its verdicts take effect.
    pub mode: PolicyMode,
    /// Whether it runs at all.
    pub enabled: bool,
    /// The policy's own settings, passed to it as they are (merged key by key across layers).
    pub config: toml::Table,
    /// The highest-precedence layer that configured this policy.
    pub origin: Origin,
}

impl PolicyConfig {
    /// The policy's settings as JSON, the form policies receive them in. TOML dates and times
    /// become their RFC 3339 strings; NaN and infinite floats, which JSON lacks, become null.
    pub fn config_json(&self) -> serde_json::Value {
        table_to_json(&self.config)
    }
}

fn table_to_json(table: &toml::Table) -> serde_json::Value {
    serde_json::Value::Object(
        table
            .iter()
            .map(|(key, value)| (key.clone(), value_to_json(value)))
            .collect(),
    )
}

fn value_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        toml::Value::Table(table) => table_to_json(table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_round_trips_in_lowercase() {
        let upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        let digest = Sha256::parse(upper).unwrap();
        assert_eq!(digest.to_string(), upper.to_lowercase());
    }

    #[test]
    fn sha256_says_what_is_wrong() {
        assert_eq!(
            Sha256::parse("abc"),
            Err("it has 3 characters, not 64".to_string())
        );
        let with_g = format!("{}g", "0".repeat(63));
        assert_eq!(
            Sha256::parse(&with_g),
            Err("`g` is not a hexadecimal digit".to_string())
        );
        let with_e_acute = format!("{}é", "0".repeat(63));
        assert_eq!(
            Sha256::parse(&with_e_acute),
            Err("`é` is not a hexadecimal digit".to_string())
        );
    }

    #[test]
    fn builtin_names_round_trip() {
        for policy in BuiltinPolicy::ALL {
            assert_eq!(BuiltinPolicy::from_name(policy.name()), Some(policy));
        }
        assert_eq!(BuiltinPolicy::from_name("spec_quality"), None);
    }

    #[test]
    fn config_becomes_json() {
        let config: toml::Table = toml::from_str(
            "max_lines = 400\nratio = 0.5\nname = \"x\"\nwhen = 1979-05-27\nnan = nan\n\
             [nested]\nlist = [1, true]\n",
        )
        .unwrap();
        let policy = PolicyConfig {
            source: PolicySource::Builtin(BuiltinPolicy::DiffSize),
            mode: PolicyMode::Enforce,
            enabled: true,
            config,
            origin: Origin::Builtin,
        };
        assert_eq!(
            policy.config_json(),
            serde_json::json!({
                "max_lines": 400, "ratio": 0.5, "name": "x", "when": "1979-05-27",
                "nan": null, "nested": { "list": [1, true] }
            })
        );
    }
}

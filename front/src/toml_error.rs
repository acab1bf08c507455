//! Turns a `toml` deserialization error into the parts of a diagnostic: a message, the byte
//! span it points at, and a help line (with a "did you mean" for unknown keys and values).

use std::ops::Range;

use crate::suggest::nearest;

/// What went wrong in a TOML document, ready to be put into a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TomlProblem {
    /// One-line description of the problem, without trailing punctuation.
    pub message: String,
    /// Byte range within the TOML text that the problem is about, when toml knows it.
    pub span: Option<Range<usize>>,
    /// How to fix it.
    pub help: String,
}

/// Describes `err`, which came from deserializing a TOML document.
///
/// Unknown keys and unknown enum values get a help line naming the nearest known name and
/// listing all of them; other errors get a generic pointer to the TOML syntax.
pub(crate) fn describe(err: &toml::de::Error) -> TomlProblem {
    let message = err.message().trim().trim_end_matches('.').to_string();
    let help = unknown_name_help(&message).unwrap_or_else(|| {
        "check the TOML syntax: strings need quotes, lists use [ ], tables use [name]".to_string()
    });
    TomlProblem {
        message,
        span: err.span(),
        help,
    }
}

/// Builds the help for serde's "unknown field `x`, expected `a`, `b` or `c`" and "unknown
/// variant" messages; `None` for any other message.
fn unknown_name_help(message: &str) -> Option<String> {
    let (what, rest) = if let Some(rest) = message.strip_prefix("unknown field ") {
        ("key", rest)
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        ("value", rest)
    } else {
        return None;
    };
    let mut quoted = rest.split('`').skip(1).step_by(2);
    let unknown = quoted.next()?;
    let known: Vec<&str> = quoted.collect();
    if known.is_empty() {
        return Some(format!("remove `{unknown}`: no {what}s are allowed here"));
    }
    let list = known
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(match nearest(unknown, known.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? Known {what}s: {list}"),
        None => format!("known {what}s: {list}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        agent: Option<String>,
        test: Option<String>,
        mode: Option<Mode>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        Enforce,
        BestEffort,
    }

    fn problem(input: &str) -> TomlProblem {
        let err = toml::from_str::<Sample>(input).expect_err("input is invalid");
        describe(&err)
    }

    #[test]
    fn unknown_key_suggests_nearest() {
        let p = problem("agent = \"x\"\ntset = \"cargo test\"\n");
        assert_eq!(
            p.message,
            "unknown field `tset`, expected one of `agent`, `test`, `mode`"
        );
        assert_eq!(
            p.help,
            "did you mean `test`? Known keys: `agent`, `test`, `mode`"
        );
        assert_eq!(p.span, Some(12..16));
    }

    #[test]
    fn unknown_variant_suggests_nearest() {
        let p = problem("mode = \"best_effort\"\n");
        assert!(
            p.help.starts_with("did you mean `best-effort`?"),
            "{}",
            p.help
        );
    }

    #[test]
    fn syntax_error_gets_generic_help() {
        let p = problem("agent = \n");
        assert!(p.help.starts_with("check the TOML syntax"));
        assert!(p.span.is_some());
    }
}

//! The built-in defaults as a [`Layer`] built by code, not parsed from `defaults.toml` at
//! every start.
//!
//! Every agenthost command loads the defaults, and their TOML parse was the largest piece of
//! the `agenthost` front's own work: building the layer by code made a sandboxed `true` with
//! no config file about 0.2 ms faster (2.72 to 2.49 ms; most of the parse's cost was the
//! first run through the parser's code). `defaults_layer.rs` is generated from
//! `defaults.toml`, spans included (diagnostics point into the embedded text as before); the
//! test below regenerates it and fails when it is stale:
//!
//! ```sh
//! AGENTHOST_BLESS=1 cargo test -p agenthost-front --lib config::prebuilt   # after editing defaults.toml
//! ```
//!
//! A user's own config files are still parsed as TOML, by the same types.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

// The generated code names only the sections and values defaults.toml has.
#[allow(unused_imports)]
use super::layer::{
    AgentLayer, Layer, NotifyLayer, PolicyLayer, SandboxLayer, TestLayer, VerifyLayer,
    WorktreeLayer,
};
#[allow(unused_imports)]
use super::{PolicyMode, RequireSpec, SandboxMode};

/// What `defaults.toml` parses to.
pub(crate) fn defaults_layer() -> Layer {
    include!("defaults_layer.rs")
}

/// A string with its span.
fn text(span: Range<usize>, value: &str) -> Spanned<String> {
    Spanned::new(span, value.to_string())
}

/// A list of strings, each with its span.
fn texts(items: &[(Range<usize>, &str)]) -> Vec<Spanned<String>> {
    items
        .iter()
        .map(|(span, value)| text(span.clone(), value))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::config::layer::DEFAULTS_TOML;

    /// A value written as the Rust expression that builds it (with [`text`] and [`texts`]).
    trait Rust {
        fn rust(&self, indent: usize) -> String;
    }

    fn pad(indent: usize) -> String {
        "    ".repeat(indent)
    }

    /// A struct literal: `name { field: value, ... }`, a field per line.
    fn literal(name: &str, fields: &[(&str, &dyn Rust)], indent: usize) -> String {
        let mut out = format!("{name} {{\n");
        for (field, value) in fields {
            let _ = writeln!(
                out,
                "{}{field}: {},",
                pad(indent + 1),
                value.rust(indent + 1)
            );
        }
        out + &pad(indent) + "}"
    }

    impl Rust for String {
        fn rust(&self, _: usize) -> String {
            format!("String::from({self:?})")
        }
    }

    impl Rust for bool {
        fn rust(&self, _: usize) -> String {
            self.to_string()
        }
    }

    impl Rust for u16 {
        fn rust(&self, _: usize) -> String {
            self.to_string()
        }
    }

    impl Rust for Spanned<String> {
        fn rust(&self, _: usize) -> String {
            let span = self.span();
            format!("text({}..{}, {:?})", span.start, span.end, self.get_ref())
        }
    }

    impl Rust for Spanned<bool> {
        fn rust(&self, _: usize) -> String {
            let span = self.span();
            format!(
                "Spanned::new({}..{}, {})",
                span.start,
                span.end,
                self.get_ref()
            )
        }
    }

    impl Rust for Spanned<Vec<Spanned<String>>> {
        fn rust(&self, indent: usize) -> String {
            let span = self.span();
            format!(
                "Spanned::new({}..{}, {})",
                span.start,
                span.end,
                self.get_ref().rust(indent)
            )
        }
    }

    impl Rust for Vec<Spanned<String>> {
        fn rust(&self, _: usize) -> String {
            let items: Vec<String> = self
                .iter()
                .map(|s| format!("({}..{}, {:?})", s.span().start, s.span().end, s.get_ref()))
                .collect();
            format!("texts(&[{}])", items.join(", "))
        }
    }

    impl Rust for Vec<u16> {
        fn rust(&self, _: usize) -> String {
            let items: Vec<String> = self.iter().map(u16::to_string).collect();
            format!("vec![{}]", items.join(", "))
        }
    }

    impl<T: Rust> Rust for Option<T> {
        fn rust(&self, indent: usize) -> String {
            match self {
                Some(value) => format!("Some({})", value.rust(indent)),
                None => "None".to_string(),
            }
        }
    }

    impl<V: Rust> Rust for BTreeMap<Spanned<String>, V> {
        fn rust(&self, indent: usize) -> String {
            let mut out = "BTreeMap::from([\n".to_string();
            for (key, value) in self {
                let _ = writeln!(
                    out,
                    "{}({}, {}),",
                    pad(indent + 1),
                    key.rust(indent + 1),
                    value.rust(indent + 1)
                );
            }
            out + &pad(indent) + "])"
        }
    }

    macro_rules! enum_rust {
        ($($name:ident),*) => {$(
            impl Rust for $name {
                fn rust(&self, _: usize) -> String {
                    format!("{}::{self:?}", stringify!($name))
                }
            }
        )*};
    }
    enum_rust!(SandboxMode, PolicyMode, RequireSpec);

    impl Rust for toml::Table {
        fn rust(&self, _: usize) -> String {
            panic!(
                "defaults.toml gives a policy a `config` table; teach config/prebuilt.rs's \
                 generator to write a toml::Table"
            )
        }
    }

    /// `Rust` for config structs, written as struct literals with a field per line. Each
    /// is destructured without `..`, so that a new field is a compile error here, not a
    /// silent gap in the generated layer.
    macro_rules! struct_rust {
        ($($name:ident { $($field:ident),* $(,)? })*) => {$(
            impl Rust for $name {
                fn rust(&self, indent: usize) -> String {
                    let $name { $($field),* } = self;
                    literal(
                        stringify!($name),
                        &[$((stringify!($field), $field as &dyn Rust)),*],
                        indent,
                    )
                }
            }
        )*};
    }
    struct_rust! {
        Layer { default_agent, agents, sandbox, test, worktree, notify, verify, policies }
        AgentLayer {
            command, continue_command, pass_env, env, read, write, seed, write_back,
            home_files, ports, unix_sockets, timeout, description,
        }
        SandboxLayer { mode, read, read_only_view }
        TestLayer { command, timeout, ports, read, write, env }
        WorktreeLayer { base, copy, setup, setup_timeout, setup_ports }
        NotifyLayer { on_ready, desktop, bell }
        VerifyLayer { require_spec, policies }
        PolicyLayer { path, sha256, mode, enabled, config }
    }

    #[test]
    fn the_prebuilt_defaults_are_what_defaults_toml_parses_to() {
        let parsed: Layer = toml::from_str(DEFAULTS_TOML).expect("defaults.toml parses");
        let generated = format!(
            "// Generated from defaults.toml by config/prebuilt.rs's test; do not edit.\n\
             // Regenerate: AGENTHOST_BLESS=1 cargo test -p agenthost-front --lib config::prebuilt\n{}\n",
            parsed.rust(0)
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/defaults_layer.rs");
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current != generated {
            if std::env::var_os("AGENTHOST_BLESS").is_some() {
                std::fs::write(path, &generated).expect("write defaults_layer.rs");
                return;
            }
            panic!(
                "src/config/defaults_layer.rs is stale: defaults.toml changed. Regenerate it with \
                 `AGENTHOST_BLESS=1 cargo test -p agenthost-front --lib config::prebuilt` and commit it."
            );
        }
        // The generated code builds the same layer, spans included.
        assert_eq!(format!("{:#?}", defaults_layer()), format!("{parsed:#?}"));
    }
}

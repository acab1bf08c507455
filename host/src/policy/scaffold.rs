//! `agenthost policy new`: the files of a new policy, ready to build and test.
//!
//! The template of each language is its example in `examples/policies/<lang>/`, embedded
//! by `host/build.rs`: the same `protected-paths` review policy, renamed. The paths that
//! point out of the example are pointed into the new project, at copies this binary carries:
//! `../../../sdk/wit` becomes `wit` (the WIT this agenthost speaks), `../../../sdk/rust`
//! becomes `vendor/agenthost-policy` (the SDK's source, with its WIT in `vendor/wit`), and
//! `../fixtures` becomes `fixtures` (the shared fixtures, renamed too). So a new project
//! matches this agenthost's ABI and passes its own `./test.sh` as the example does.

mod templates {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// The SDK's source files, as this binary was built with them.
const SDK_FILES: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../../../sdk/rust/src/lib.rs")),
    ("src/abi.rs", include_str!("../../../sdk/rust/src/abi.rs")),
    (
        "src/guest.rs",
        include_str!("../../../sdk/rust/src/guest.rs"),
    ),
    (
        "src/types.rs",
        include_str!("../../../sdk/rust/src/types.rs"),
    ),
    (
        "src/schema.rs",
        include_str!("../../../sdk/rust/src/schema.rs"),
    ),
    (
        "src/component.rs",
        include_str!("../../../sdk/rust/src/component.rs"),
    ),
];

/// The WIT the SDK's component exports are generated from (`../wit` from the SDK).
const WIT: &str = include_str!("../../../sdk/wit/policy.wit");

/// Whether `name` can name a policy and its crate: lowercase ASCII letters, digits and `-`,
/// starting with a letter.
pub fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The languages of `examples/policies`, as `agenthost policy new --lang` names them (one
/// list, in `host/build.rs`).
pub use templates::LANGUAGES;

/// The example's name, in the four spellings a template uses.
const EXAMPLE_NAME: &str = "protected-paths";

/// One file of a new project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaffoldFile {
    /// Its path, relative to the project.
    pub path: String,
    /// Its contents.
    pub contents: Vec<u8>,
    /// Whether it is a script to make executable.
    pub executable: bool,
}

/// The files of a new policy called `name` in `lang` (one of [`LANGUAGES`]), or `None` when
/// this binary carries no template for `lang`.
pub fn files(lang: &str, name: &str) -> Option<Vec<ScaffoldFile>> {
    let (_, template) = templates::TEMPLATES.iter().find(|(l, _)| *l == lang)?;
    let renames = Renames::new(name);
    let mut wants_wit = false;
    let mut wants_sdk = false;
    let mut wants_fixtures = false;
    let mut out = Vec::new();
    for (path, contents) in *template {
        let contents = match std::str::from_utf8(contents) {
            Ok(text) => {
                wants_wit |= text.contains(WIT_PATH);
                wants_sdk |= text.contains(SDK_PATH);
                wants_fixtures |= text.contains(FIXTURES_PATH);
                renames.apply(&relocate(text)).into_bytes()
            }
            Err(_) => contents.to_vec(),
        };
        out.push(file(renames.apply(path), contents));
    }
    if wants_wit {
        out.push(file("wit/policy.wit".to_string(), WIT.as_bytes().to_vec()));
    }
    if wants_sdk {
        out.push(file(
            "vendor/agenthost-policy/Cargo.toml".to_string(),
            SDK_CARGO_TOML.as_bytes().to_vec(),
        ));
        for (path, text) in SDK_FILES {
            out.push(file(
                format!("vendor/agenthost-policy/{path}"),
                text.as_bytes().to_vec(),
            ));
        }
        out.push(file(
            "vendor/wit/policy.wit".to_string(),
            WIT.as_bytes().to_vec(),
        ));
    }
    if wants_fixtures {
        for (path, contents) in templates::FIXTURES {
            let contents = String::from_utf8_lossy(contents);
            out.push(file(
                format!("fixtures/{}", renames.apply(path)),
                renames.apply(&contents).into_bytes(),
            ));
        }
    }
    Some(out)
}

/// Where an example points out of its directory, and where a new project has the copy.
const WIT_PATH: &str = "../../../sdk/wit";
const SDK_PATH: &str = "../../../sdk/rust";
const FIXTURES_PATH: &str = "../fixtures";

fn relocate(text: &str) -> String {
    text.replace(WIT_PATH, "wit")
        .replace(SDK_PATH, "vendor/agenthost-policy")
        .replace(FIXTURES_PATH, "fixtures")
}

fn file(path: String, contents: Vec<u8>) -> ScaffoldFile {
    let executable = path.ends_with(".sh");
    ScaffoldFile {
        path,
        contents,
        executable,
    }
}

/// The example's name in each spelling, and the new name in the same spelling.
struct Renames(Vec<(String, String)>);

impl Renames {
    fn new(name: &str) -> Renames {
        let spellings = |name: &str| {
            let words: Vec<&str> = name.split('-').collect();
            let capitalized = |word: &str| {
                let mut chars = word.chars();
                chars.next().map_or(String::new(), |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            };
            let pascal: String = words.iter().map(|w| capitalized(w)).collect();
            let camel = words.first().map_or(String::new(), |first| {
                first.to_string()
                    + &words[1..]
                        .iter()
                        .map(|w| capitalized(w))
                        .collect::<String>()
            });
            [name.to_string(), words.join("_"), pascal, camel]
        };
        let from = spellings(EXAMPLE_NAME);
        let to = spellings(name);
        Renames(from.into_iter().zip(to).collect())
    }

    fn apply(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_string(), |text, (from, to)| text.replace(from, to))
    }
}

const SDK_CARGO_TOML: &str = r#"[package]
name = "agenthost-policy"
description = "Write agenthost policies in Rust (vendored by `agenthost policy new`)"
version = "0.1.0"
edition = "2024"
license = "MIT OR Apache-2.0"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
schemars = { version = "1.2", optional = true }

[features]
schema = ["dep:schemars"]

[target.'cfg(all(target_os = "wasi", target_env = "p2"))'.dependencies]
wit-bindgen = { version = "0.57", default-features = false, features = ["macros", "realloc"] }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_crate_names() {
        assert!(valid_name("no-todo"));
        assert!(valid_name("p2"));
        assert!(!valid_name("No-Todo"));
        assert!(!valid_name("2fast"));
        assert!(!valid_name("a_b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn every_spelling_of_the_name_is_renamed() {
        let renames = Renames::new("no-todo-list");
        assert_eq!(
            renames.apply("protected-paths protected_paths ProtectedPaths protectedPaths"),
            "no-todo-list no_todo_list NoTodoList noTodoList"
        );
    }

    #[test]
    fn the_rust_scaffold_vendors_the_sdk_and_renames_the_policy() {
        let files = files("rust", "no-todo").unwrap();
        let text = |path: &str| {
            let file = files.iter().find(|f| f.path == path).unwrap();
            String::from_utf8(file.contents.clone()).unwrap()
        };
        assert!(text("Cargo.toml").contains("name = \"no-todo\""));
        assert!(text("Cargo.toml").contains("path = \"vendor/agenthost-policy\""));
        assert!(text("src/main.rs").contains("struct NoTodo;"));
        assert!(text("src/main.rs").contains("\"no-todo/changed\""));
        assert!(text("test.sh").contains("--fixtures fixtures"));
        assert!(text("fixtures/02-review-default-severity.json").contains("no-todo/changed"));
        assert!(files.iter().any(|f| f.path == "vendor/wit/policy.wit"));
        assert!(
            files
                .iter()
                .any(|f| f.path == "vendor/agenthost-policy/src/guest.rs")
        );
        assert!(files.iter().any(|f| f.path == "build.sh" && f.executable));
        assert!(!files.iter().any(|f| f.path.starts_with("target/")));
    }

    #[test]
    fn every_language_has_a_template_that_points_nowhere_outside() {
        for (lang, _) in templates::TEMPLATES {
            let files = files(lang, "my-check").unwrap_or_else(|| panic!("no template for {lang}"));
            for name in ["build.sh", "test.sh", "README.md", ".gitignore"] {
                assert!(files.iter().any(|f| f.path == name), "{lang}: no {name}");
            }
            for file in files.iter().filter(|f| !f.path.starts_with("vendor/")) {
                let text = String::from_utf8_lossy(&file.contents);
                // The example's own subdirectories may point up to its root (`../`), never
                // further: a new project has nothing above it.
                assert!(
                    !text.contains("../../") && !text.contains("../fixtures"),
                    "{lang}: {} points outside: {text}",
                    file.path
                );
                for old in [
                    "protected-paths",
                    "protected_paths",
                    "ProtectedPaths",
                    "protectedPaths",
                ] {
                    assert!(
                        !text.contains(old),
                        "{lang}: {} keeps the name {old}",
                        file.path
                    );
                }
            }
        }
    }

    #[test]
    fn every_language_has_its_example_embedded() {
        for lang in LANGUAGES {
            assert!(
                files(lang, "x").is_some(),
                "examples/policies/{lang} is missing"
            );
        }
        assert_eq!(templates::TEMPLATES.len(), LANGUAGES.len());
    }

    #[test]
    fn an_unknown_language_has_no_template() {
        assert!(files("cobol", "x").is_none());
    }
}

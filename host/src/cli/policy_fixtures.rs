//! `agenthost policy test POLICY --fixtures DIR`: run a policy against recorded calls.
//!
//! A fixture is one JSON file: `{"hook": "review", "request": {...}, "expect": {...}}`. Every
//! `*.json` in the directory is called, in name order, and the answer compared with `expect`
//! as the hook's typed answer, so an absent optional field and `null` are the same.

use std::path::{Path, PathBuf};

use agenthost_policy::{AdmissionAnswer, ConfigErrors, Description, Findings, Hook};
use miette::IntoDiagnostic;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::policy_request::{format_duration, with_config};
use super::{Exit, Output};
use crate::policy::{Engine, LoadedPolicy};

/// One recorded call and the answer it must give.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    hook: String,
    request: serde_json::Value,
    expect: serde_json::Value,
}

/// How one fixture went.
enum Outcome {
    Passed,
    Differs {
        expected: serde_json::Value,
        answer: serde_json::Value,
    },
    PolicyFailed(String),
}

/// Runs every fixture in `dir` through `policy`; exit 1 when any answer differs.
pub(super) fn run(
    engine: &Engine,
    policy: &LoadedPolicy,
    config: Option<&serde_json::Value>,
    dir: &Path,
    output: &Output,
) -> miette::Result<Exit> {
    let files = fixture_files(dir)?;
    let width = files
        .iter()
        .map(|f| display_name(f).len())
        .max()
        .unwrap_or(0);
    let mut failed = 0;
    for file in &files {
        let fixture = read_fixture(file)?;
        let hook: Hook = fixture.hook.parse().map_err(|reason: String| {
            miette::miette!(
                code = "policy::fixture",
                help = "`hook` is one of acceptance, admission, review, validate-config, describe",
                "{}: {reason}",
                file.display()
            )
        })?;
        let expected = typed_answer(hook, fixture.expect).map_err(|err| {
            miette::miette!(
                code = "policy::fixture",
                help =
                    "`expect` is the hook's JSON answer (sdk/schema/agenthost-policy.schema.json)",
                "{}: `expect` is not a {hook} answer: {err}",
                file.display()
            )
        })?;
        let request = with_config(fixture.request, hook, config)?;
        let name = display_name(file);
        let (outcome, elapsed) = match engine.call_json(policy, hook, &request) {
            Ok(call) => {
                let outcome = if call.answer == expected {
                    Outcome::Passed
                } else {
                    Outcome::Differs {
                        expected,
                        answer: call.answer,
                    }
                };
                (outcome, Some(call.elapsed))
            }
            Err(err) => (Outcome::PolicyFailed(output.render(&err)), None),
        };
        let time = elapsed.map_or(String::new(), |t| format!(", {}", format_duration(t)));
        match outcome {
            Outcome::Passed => println!("ok    {name:<width$}  ({hook}{time})"),
            Outcome::Differs { expected, answer } => {
                failed += 1;
                println!("FAIL  {name:<width$}  ({hook}{time}): the answer differs");
                println!("      expected {}", compact(&expected));
                println!("      answer   {}", compact(&answer));
            }
            Outcome::PolicyFailed(rendered) => {
                failed += 1;
                println!("FAIL  {name:<width$}  ({hook}): the policy failed");
                for line in rendered.lines() {
                    println!("      {line}");
                }
            }
        }
    }
    println!();
    println!(
        "{} fixtures: {} passed, {failed} failed ({})",
        files.len(),
        files.len() - failed,
        policy.name()
    );
    Ok(if failed == 0 {
        Exit::Success
    } else {
        Exit::Findings
    })
}

/// The `*.json` files in `dir`, in name order; an error when there are none.
fn fixture_files(dir: &Path) -> miette::Result<Vec<PathBuf>> {
    let entries = fs_err::read_dir(dir).map_err(|err| {
        miette::miette!(
            code = "policy::fixtures",
            help = "pass a directory of fixture files (*.json)",
            "{err}"
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.into_diagnostic()?.path();
        if path.extension().is_some_and(|ext| ext == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(miette::miette!(
            code = "policy::fixtures",
            help = "a fixture is a file NAME.json holding {\"hook\": ..., \"request\": ..., \"expect\": ...}",
            "{} holds no fixtures (*.json)",
            dir.display()
        ));
    }
    Ok(files)
}

fn read_fixture(file: &Path) -> miette::Result<Fixture> {
    let text = fs_err::read_to_string(file).into_diagnostic()?;
    serde_json::from_str(&text).map_err(|err| {
        miette::miette!(
            code = "policy::fixture",
            help = "a fixture is {\"hook\": \"review\", \"request\": {...}, \"expect\": {...}}",
            "{}:{}:{}: {err}",
            file.display(),
            err.line(),
            err.column()
        )
    })
}

/// `expect` read as the hook's answer type and written back, as the engine writes answers.
fn typed_answer(hook: Hook, expect: serde_json::Value) -> serde_json::Result<serde_json::Value> {
    fn retyped<T: DeserializeOwned + serde::Serialize>(
        value: serde_json::Value,
    ) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(serde_json::from_value::<T>(value)?)
    }
    match hook {
        Hook::Acceptance | Hook::Review => retyped::<Findings>(expect),
        Hook::Admission => retyped::<AdmissionAnswer>(expect),
        Hook::ValidateConfig => retyped::<ConfigErrors>(expect),
        Hook::Describe => retyped::<Description>(expect),
    }
}

fn display_name(file: &Path) -> String {
    file.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

fn compact(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

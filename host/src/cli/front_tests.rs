//! The `agenthost` front's own parser ([`agenthost_front::cli::front::parse`]) checked
//! against clap's, which only this crate has whole.

use clap::Parser;
use proptest::prelude::*;

use std::ffi::OsString;

use agenthost_front::cli::front::parse;
use agenthost_front::cli::sandbox::SandboxArgs;

use super::{Cli, ColorChoice, Command};

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// What clap makes of the same line, when it is a `sandbox` command.
fn clap_parse(args: &[OsString]) -> Option<(SandboxArgs, ColorChoice)> {
    let cli = Cli::try_parse_from(
        std::iter::once(OsString::from("agenthost")).chain(args.iter().cloned()),
    )
    .ok()?;
    match cli.command {
        Command::Sandbox(args) => Some((args, cli.color)),
        _ => None,
    }
}

#[test]
fn plain_sandbox_lines_take_the_fast_path() {
    for line in [
        &["sandbox", "--spec", "task.md", "--", "true"][..],
        &[
            "sandbox",
            "--spec=task.md",
            "--root",
            "/r",
            "--",
            "sh",
            "-c",
            "x --y",
        ],
        &["--color", "never", "sandbox", "--explain", "--spec", "t.md"],
        &[
            "sandbox",
            "--mode",
            "best-effort",
            "--profile",
            "claude",
            "--spec",
            "t.md",
            "--color=always",
            "--",
            "claude",
            "--",
            "-p",
        ],
        &["sandbox", "--spec", "t.md"],
    ] {
        let args = os(line);
        let fast = parse(&args);
        assert!(fast.is_some(), "{line:?} should take the fast path");
        assert_eq!(fast, clap_parse(&args), "{line:?}");
    }
}

#[test]
fn everything_else_goes_to_the_core() {
    for line in [
        &[][..],
        &["check", "t.md"],
        &["sandbox", "--help"],
        &["sandbox", "-h", "--spec", "t.md"],
        &["--version"],
        &["sandbox", "--spec", "t.md", "--spec", "u.md"],
        &["sandbox", "--spec", "-", "--", "true"],
        &["sandbox", "--spec=", "--", "true"],
        &["sandbox", "--root", "r", "--", "true"],
        &["sandbox", "--spec", "t.md", "true"],
        &["sandbox", "--spec", "t.md", "--mode", "Enforce"],
        &["sandbox", "--spec", "t.md", "--explain=yes"],
        &["sandbox", "--spec", "t.md", "--sp", "x"],
        &["sandbox", "--spec"],
    ] {
        assert_eq!(parse(&os(line)), None, "{line:?}");
    }
}

#[test]
fn paths_need_not_be_utf8_but_profile_names_must() {
    use std::os::unix::ffi::OsStringExt;
    let odd = OsString::from_vec(b"t\xff.md".to_vec());
    let args = vec![
        OsString::from("sandbox"),
        OsString::from("--spec"),
        odd.clone(),
    ];
    let fast = parse(&args);
    assert_eq!(
        fast.as_ref().map(|(a, _)| a.spec.as_os_str()),
        Some(odd.as_os_str())
    );
    assert_eq!(fast, clap_parse(&args));
    let args = vec![
        OsString::from("sandbox"),
        OsString::from("--spec"),
        OsString::from("t.md"),
        OsString::from("--profile"),
        odd,
    ];
    assert_eq!(parse(&args), None, "clap refuses a non-UTF-8 profile name");
    assert_eq!(clap_parse(&args), None);
}

const TOKENS: &[&str] = &[
    "sandbox",
    "--spec",
    "--spec=t.md",
    "t.md",
    "--root",
    "--root=",
    "dir",
    "--profile",
    "p",
    "--mode",
    "--mode=off",
    "enforce",
    "best-effort",
    "off",
    "bogus",
    "--explain",
    "--color",
    "--color=never",
    "never",
    "always",
    "auto",
    "--",
    "-x",
    "-",
    "",
    "--help",
    "-h",
    "true",
    "check",
    "--explain=1",
    "--=",
    "--x",
];

proptest! {
    // 4,000 lines unless `PROPTEST_CASES` says otherwise (CI bounds it).
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(4000)
    ))]

    /// Whatever the front accepts, clap accepts as the same `sandbox` command.
    #[test]
    fn the_front_never_disagrees_with_clap(
        picks in proptest::collection::vec(0..TOKENS.len(), 0..9),
        lead_with_sandbox in any::<bool>(),
    ) {
        let mut line: Vec<&str> = picks.iter().map(|i| TOKENS[*i]).collect();
        if lead_with_sandbox {
            line.insert(0, "sandbox");
        }
        let args = os(&line);
        if let Some(fast) = parse(&args) {
            prop_assert_eq!(Some(fast), clap_parse(&args), "{:?}", line);
        }
    }
}

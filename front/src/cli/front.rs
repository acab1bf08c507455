//! The `agenthost` executable: a small front that runs `agenthost sandbox` itself and hands
//! every other command line to `agenthost-core`, installed beside it.
//!
//! Why two executables: starting the full binary (wasmtime, cranelift, SQLite, libgit2:
//! about 40 MB and 46,000 relocations) costs about 1.2 ms of CPU before `main` runs, more
//! than the whole sandbox set-up may take (docs/sandbox-performance.md). The front links
//! only what `sandbox` needs (spec, configuration, plan, Landlock and seccomp), so a
//! sandboxed command starts at the cost of a small program. Every other verb pays one extra
//! `execve` (well under a millisecond) on its way to the core.
//!
//! The front parses only the command lines it can run exactly as clap would, which
//! [`parse`] describes; anything else (help, version, a usage error, another verb) goes to
//! the core untouched, whose clap parser gives the usual answer. A unit test in the core's
//! `cli` module (which has clap's whole parser) checks the two against each other.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use clap::ValueEnum;

use super::Exit;
use super::output::{ColorChoice, Output};
use super::sandbox::SandboxArgs;

/// The file name of the full binary, looked up in the front's own directory.
pub const CORE_NAME: &str = "agenthost-core";

/// Runs the `agenthost` front with the process's arguments; returns only when it runs the
/// sandbox itself or cannot exec the core.
pub fn main() -> Exit {
    let argv: Vec<OsString> = std::env::args_os().collect();
    match parse(argv.get(1..).unwrap_or_default()) {
        Some((args, color)) => {
            let output = Output::new(color);
            super::conclude(super::sandbox::run(&args, &output), &output)
        }
        None => exec_core(&argv),
    }
}

/// Replaces this process with `agenthost-core` and the same arguments (`argv[0]` kept, so
/// usage lines still say `agenthost`). Returns only when that fails.
fn exec_core(argv: &[OsString]) -> Exit {
    let core = match std::env::current_exe() {
        Ok(front) => front.with_file_name(CORE_NAME),
        Err(error) => {
            eprintln!(
                "agenthost: cannot find where this executable lives (/proc/self/exe): {error}\n  help: run {CORE_NAME} directly, with the same arguments"
            );
            return Exit::Error;
        }
    };
    let arg0 = argv
        .first()
        .map_or(OsStr::new("agenthost"), OsString::as_os_str);
    let error = std::process::Command::new(&core)
        .arg0(arg0)
        .args(argv.get(1..).unwrap_or_default())
        .exec();
    eprintln!(
        "agenthost: cannot run {}: {error}\n  help: agenthost is two executables, `agenthost` and `{CORE_NAME}`, installed side by side; `cargo install --path host` installs both, `cargo build` builds both",
        core.display()
    );
    Exit::Error
}

/// Parses `args` (without `argv[0]`) when they are a plain `sandbox` command line:
/// `[--color WHEN] sandbox` followed by `--spec`, `--root`, `--profile`, `--mode`,
/// `--explain` and `--color` in any order (each at most once, values as the next argument
/// or after `=`), then optionally `--` and the command.
///
/// Returns `None` for everything else, including every line clap would refuse or answer
/// with help: a value that is empty or starts with `-`, a repeated option, an unknown
/// option or value, a missing `--spec`, a `--profile` that is not UTF-8.
pub fn parse(args: &[OsString]) -> Option<(SandboxArgs, ColorChoice)> {
    let mut color = None;
    let mut rest = args.iter();
    // Global options before the verb.
    loop {
        let arg = rest.next()?;
        if arg == "sandbox" {
            break;
        }
        let (name, inline) = split_option(arg)?;
        if name != "--color" || color.is_some() {
            return None;
        }
        color = Some(choice(value(inline, &mut rest)?)?);
    }
    let mut spec = None;
    let mut root = None;
    let mut profile = None;
    let mut mode = None;
    let mut explain = false;
    let mut command = Vec::new();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            command = rest.cloned().collect();
            break;
        }
        let (name, inline) = split_option(arg)?;
        match name {
            "--spec" if spec.is_none() => spec = Some(PathBuf::from(value(inline, &mut rest)?)),
            "--root" if root.is_none() => root = Some(PathBuf::from(value(inline, &mut rest)?)),
            "--profile" if profile.is_none() => {
                profile = Some(value(inline, &mut rest)?.to_str()?.to_string());
            }
            "--mode" if mode.is_none() => mode = Some(choice(value(inline, &mut rest)?)?),
            "--color" if color.is_none() => color = Some(choice(value(inline, &mut rest)?)?),
            "--explain" if !explain && inline.is_none() => explain = true,
            _ => return None,
        }
    }
    let args = SandboxArgs {
        spec: spec?,
        root,
        profile,
        mode,
        explain,
        command,
    };
    Some((args, color.unwrap_or_default()))
}

/// `--name` or `--name=value`, for a UTF-8 option name; `None` for anything that is not a
/// long option.
fn split_option(arg: &OsStr) -> Option<(&str, Option<&OsStr>)> {
    let bytes = arg.as_encoded_bytes();
    if !bytes.starts_with(b"--") || bytes.len() == 2 {
        return None;
    }
    match bytes.iter().position(|b| *b == b'=') {
        Some(at) => {
            // `=` is ASCII, so both halves are whole OS strings.
            let name = std::str::from_utf8(&bytes[..at]).ok()?;
            Some((name, Some(OsStr::from_bytes(&bytes[at + 1..]))))
        }
        None => Some((arg.to_str()?, None)),
    }
}

/// An option's value: after `=`, or the next argument. Values clap would not take as
/// given (empty, or starting with `-`) are `None`.
fn value<'a>(
    inline: Option<&'a OsStr>,
    rest: &mut impl Iterator<Item = &'a OsString>,
) -> Option<&'a OsStr> {
    let value = match inline {
        Some(value) => value,
        None => rest.next()?.as_os_str(),
    };
    let bytes = value.as_encoded_bytes();
    (!bytes.is_empty() && !bytes.starts_with(b"-")).then_some(value)
}

/// A `--color` or `--mode` value, read by the same `ValueEnum` clap uses.
fn choice<T: ValueEnum>(value: &OsStr) -> Option<T> {
    T::from_str(value.to_str()?, false).ok()
}

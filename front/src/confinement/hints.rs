//! Help lines for a sandboxed run that failed: the tools' own words ("Permission denied",
//! npm's "sudo chown", "Could not resolve host") never mention the sandbox, and point the
//! wrong way. From the end of the run's output, this finds the paths the kernel refused and
//! the network the sandbox does not allow, and names the setting that would allow each.

use std::path::{Path, PathBuf};

/// Which run failed: the grants that would help differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// The agent (its Scope, its profile).
    Agent,
    /// `[worktree] setup`.
    Setup,
    /// The test command.
    Test,
}

/// Where the run happened.
#[derive(Debug, Clone, Copy)]
pub struct Places<'a> {
    /// The task's worktree.
    pub worktree: &'a Path,
    /// The user's real home.
    pub home: &'a Path,
}

/// How many help lines one failure gets at most.
const MAX_HINTS: usize = 4;

/// The help lines for `output` (the end of a failed run's output), at most `MAX_HINTS`,
/// each naming what was refused and the setting that allows it.
pub fn hints(output: &str, run: Run, places: Places<'_>) -> Vec<String> {
    let mut hints: Vec<String> = Vec::new();
    let mut push = |hint: String| {
        if !hints.contains(&hint) && hints.len() < MAX_HINTS {
            hints.push(hint);
        }
    };
    for line in output.lines() {
        let lower = line.to_ascii_lowercase();
        if is_denied(&lower) {
            if let Some(endpoint) = endpoint(line) {
                push(network_hint(run, &format!("a connection to {endpoint}")));
                continue;
            }
            let paths = paths_in(line, places.home);
            if paths.is_empty() && is_about_network(&lower) {
                // Python's `<urlopen error [Errno 13] Permission denied>` names no address.
                push(network_hint(run, "a connection"));
            }
            for path in paths {
                push(path_hint(run, &path, places));
            }
        } else if is_lookup_failure(&lower) {
            push(network_hint(run, "a name lookup"));
        } else if is_connection_refused(&lower) {
            push(network_hint(run, "a connection"));
        }
    }
    hints
}

/// Words with which tools report EACCES, EPERM or EROFS.
fn is_denied(lower: &str) -> bool {
    [
        "permission denied",
        "eacces",
        "operation not permitted",
        "eperm",
        "read-only file system",
        "erofs",
        "errno 13",
        "errno 30",
    ]
    .iter()
    .any(|word| lower.contains(word))
}

/// Words that put a refusal on the network side when it names no address.
fn is_about_network(lower: &str) -> bool {
    ["urlopen", "connect", "socket", "connection", "http"]
        .iter()
        .any(|word| lower.contains(word))
}

/// Words with which tools report a failed name lookup (a sandbox without ports has no
/// sockets for DNS at all).
fn is_lookup_failure(lower: &str) -> bool {
    [
        "could not resolve host",
        "temporary failure in name resolution",
        "name or service not known",
        "eai_again",
        "enotfound",
        "dns error",
        "failed to lookup address",
        "nodename nor servname",
    ]
    .iter()
    .any(|word| lower.contains(word))
}

/// Words with which tools report a connection the sandbox stopped.
fn is_connection_refused(lower: &str) -> bool {
    ["econnrefused", "network is unreachable", "enetunreach"]
        .iter()
        .any(|word| lower.contains(word))
}

/// `host:port` or `ip:port` after `connect` (Node's `connect EACCES 1.2.3.4:443`), or
/// curl's `to HOST port N`.
fn endpoint(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if let Some(at) = words.iter().position(|w| w.eq_ignore_ascii_case("connect"))
        && let Some(candidate) = words[at + 1..]
            .iter()
            .map(|w| w.trim_matches(|c: char| c == ',' || c == ')' || c == '('))
            .find(|w| w.contains(':') && w.rsplit(':').next().is_some_and(is_port))
    {
        return Some(candidate.to_string());
    }
    let port_at = words.iter().position(|w| *w == "port")?;
    let port = words.get(port_at + 1)?;
    let host = words.get(port_at.checked_sub(1)?)?;
    is_port(port.trim_end_matches(|c: char| !c.is_ascii_digit())).then(|| {
        format!(
            "{host} port {}",
            port.trim_end_matches(|c: char| !c.is_ascii_digit())
        )
    })
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The absolute paths (and `~/...` ones) a line names, without the quotes and the
/// punctuation around them.
fn paths_in(line: &str, home: &Path) -> Vec<PathBuf> {
    line.split(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`' | ',' | '(' | ')'))
        .map(|word| word.trim_end_matches([':', '.', ';']))
        .filter_map(|word| {
            if let Some(rest) = word.strip_prefix("~/") {
                Some(home.join(rest))
            } else if word.starts_with('/') && word.len() > 1 && !word.starts_with("//") {
                Some(PathBuf::from(word))
            } else {
                None
            }
        })
        .collect()
}

/// The help line for a refused path.
fn path_hint(run: Run, path: &Path, places: Places<'_>) -> String {
    let shown = path.display();
    if let Ok(inside) = path.strip_prefix(places.worktree) {
        let inside = inside.display();
        return match run {
            Run::Agent => format!(
                "the sandbox refused `{inside}` in the worktree: the agent may write only what the spec's Scope names; add `- Modify: `{inside}`` (or `Create:`) to the Scope if it should"
            ),
            Run::Setup | Run::Test => format!(
                "the sandbox refused `{inside}` in the worktree: the worktree's `.git` and the spec's Do NOT modify paths are read-only to the setup and test runs"
            ),
        };
    }
    let in_home = path.starts_with(places.home);
    match run {
        Run::Agent => format!(
            "the sandbox refused {shown}: to let the agent read it, add `read = [\"{}\"]` to [sandbox] in your config (agenthost.local.toml or ~/.config/agenthost/config.toml){}",
            tilde(path, places.home),
            if in_home {
                "; nothing in your home is writable to an agent: it has a private HOME"
            } else {
                ""
            }
        ),
        Run::Setup => format!(
            "the sandbox refused {shown}: the setup may write the worktree, the package caches and its private HOME and TMPDIR; to let it read more, add `read = [\"{}\"]` to [sandbox]",
            tilde(path, places.home)
        ),
        Run::Test => format!(
            "the sandbox refused {shown}: the test run may write the worktree and its private HOME and TMPDIR, and read the package caches; add `read = [\"{p}\"]` or `write = [\"{p}\"]` to [test] in agenthost.toml{}",
            if in_home {
                " (a write into your home only in your own config: agenthost.local.toml)"
            } else {
                ""
            },
            p = tilde(path, places.home)
        ),
    }
}

/// `path` as `~/...` when it is in `home`.
fn tilde(path: &Path, home: &Path) -> String {
    match path.strip_prefix(home) {
        Ok(rest) if !rest.as_os_str().is_empty() => format!("~/{}", rest.display()),
        _ => path.display().to_string(),
    }
}

/// The help line for network the sandbox stopped (`what`: "a name lookup", ...).
fn network_hint(run: Run, what: &str) -> String {
    match run {
        Run::Agent => format!(
            "the sandbox stopped {what}: an agent reaches only its profile's `ports` (and its base URL's); downloads belong in `[worktree] setup`, which reaches the package registries"
        ),
        Run::Setup => format!(
            "the sandbox stopped {what}: the setup reaches TCP ports 443 and 80 only; a registry on another port goes in `setup_ports = [...]` under [worktree]"
        ),
        Run::Test => format!(
            "the sandbox stopped {what}: the test run has no network unless `[test] ports = [...]` names the TCP ports (a database on loopback); downloads belong in `[worktree] setup`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places() -> Places<'static> {
        Places {
            worktree: Path::new("/state/worktrees/t1"),
            home: Path::new("/home/ada"),
        }
    }

    #[test]
    fn the_tools_words_for_a_refused_path_become_the_grant_that_allows_it() {
        let cases = [
            (
                Run::Test,
                "error: could not read settings file: '/home/ada/.rustup/settings.toml': Permission denied (os error 13)",
                "add `read = [\"~/.rustup/settings.toml\"]` or `write = [\"~/.rustup/settings.toml\"]` to [test]",
            ),
            (
                Run::Agent,
                "npm error Error: EACCES: permission denied, open '/home/ada/.npm/_cacache/tmp/1'",
                "nothing in your home is writable to an agent",
            ),
            (
                Run::Agent,
                "PermissionError: [Errno 13] Permission denied: '/state/worktrees/t1/setup.py'",
                "add `- Modify: `setup.py`` (or `Create:`) to the Scope",
            ),
            (
                Run::Setup,
                "OSError: [Errno 30] Read-only file system: '/opt/sdk/lib'",
                "add `read = [\"/opt/sdk/lib\"]` to [sandbox]",
            ),
        ];
        for (run, output, expected) in cases {
            let found = hints(output, run, places());
            assert!(
                found.iter().any(|hint| hint.contains(expected)),
                "{output} gave {found:#?}"
            );
        }
    }

    #[test]
    fn refused_network_names_the_ports_setting_of_the_run() {
        let lookup = hints(
            "curl: (6) Could not resolve host: registry.npmjs.org",
            Run::Test,
            places(),
        );
        assert_eq!(lookup.len(), 1);
        assert!(lookup[0].contains("a name lookup") && lookup[0].contains("[test] ports"));
        let connect = hints("Error: connect EACCES 127.0.0.1:5432", Run::Test, places());
        assert!(
            connect[0].contains("a connection to 127.0.0.1:5432"),
            "{connect:?}"
        );
        let python = hints(
            "urllib.error.URLError: <urlopen error [Errno 13] Permission denied>",
            Run::Setup,
            places(),
        );
        assert!(python[0].contains("stopped a connection"), "{python:?}");
        let curl = hints(
            "curl: (7) Failed to connect to pypi.org port 8443 after 0 ms: Permission denied",
            Run::Setup,
            places(),
        );
        assert!(
            curl[0].contains("pypi.org port 8443") && curl[0].contains("setup_ports"),
            "{curl:?}"
        );
    }

    #[test]
    fn output_without_refusals_gets_no_hint_and_repeats_are_said_once() {
        assert!(
            hints(
                "test result: FAILED. 1 passed; 1 failed",
                Run::Test,
                places()
            )
            .is_empty()
        );
        let repeated = "EACCES: permission denied, open '/x/a'\n".repeat(10);
        assert_eq!(hints(&repeated, Run::Test, places()).len(), 1);
    }
}

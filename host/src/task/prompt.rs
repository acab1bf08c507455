//! What an agent is told: the spec, behind a short preamble that names exactly what it may
//! write (the sandbox enforces the same list, so the agent hears it before it hits a wall).

use crate::spec::{Scope, ScopeKind};

/// The prompt for a task's first attempt: the preamble, then the spec as written.
pub fn first(spec_text: &str, scope: &Scope, test_command: Option<&str>) -> String {
    let mut prompt = preamble(scope, test_command);
    prompt.push_str("\n---\n\n");
    prompt.push_str(spec_text.trim_end());
    prompt.push('\n');
    prompt
}

/// The prompt for a correction. `continuing` says whether the agent resumes its previous
/// session (it remembers the spec) or starts afresh (it needs the spec again).
pub fn correction(
    spec_text: &str,
    scope: &Scope,
    test_command: Option<&str>,
    message: &str,
    continuing: bool,
) -> String {
    let mut prompt = String::new();
    prompt.push_str("The reviewer looked at your work on this task and asks for a correction:\n\n");
    prompt.push_str(message.trim_end());
    prompt.push_str("\n\nYour previous changes are in the working directory.\n\n");
    if continuing {
        prompt.push_str(&preamble(scope, test_command));
    } else {
        prompt.push_str(&first(spec_text, scope, test_command));
    }
    prompt
}

/// The rules of the game, in plain words.
fn preamble(scope: &Scope, test_command: Option<&str>) -> String {
    let mut text = String::from(
        "You are working on one task, described below, in a git worktree that is your \
working directory. agenthost runs you in a sandbox and commits your work when you stop: \
do not commit, and do not run git commands that write.\n\nYou may write only these paths; \
the sandbox refuses writes anywhere else in the repository:\n",
    );
    for entry in scope.modify.iter().chain(&scope.create) {
        let verb = match entry.kind {
            ScopeKind::Create => "create",
            _ => "modify",
        };
        text.push_str(&format!("- {verb}: {}\n", entry.pattern));
    }
    if !scope.do_not_modify.is_empty() {
        text.push_str("\nNever modify:\n");
        for entry in &scope.do_not_modify {
            text.push_str(&format!("- {}\n", entry.pattern));
        }
    }
    if !scope.constraints.is_empty() {
        text.push_str("\nConstraints:\n");
        for constraint in &scope.constraints {
            text.push_str(&format!("- {}\n", constraint.text));
        }
    }
    if let Some(test) = test_command {
        text.push_str(&format!(
            "\nWhen you stop, the host runs `{test}`; a failure blocks acceptance.\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    const SPEC: &str = "# Add export\n\n### Scope\n- Modify: `a.py`\n- Create: `b.py`\n- Do NOT modify `api/`\n- Do NOT add dependencies\n";

    #[test]
    fn names_the_writable_paths_then_the_spec() {
        let spec = parse("t.md", SPEC.as_bytes()).spec.unwrap();
        let prompt = first(SPEC, &spec.scope, Some("pytest"));
        assert!(
            prompt.contains("- modify: a.py\n- create: b.py\n"),
            "{prompt}"
        );
        assert!(prompt.contains("Never modify:\n- api/**\n"), "{prompt}");
        assert!(prompt.contains("- Do NOT add dependencies\n"), "{prompt}");
        assert!(prompt.contains("runs `pytest`"), "{prompt}");
        assert!(prompt.ends_with(SPEC), "{prompt}");
    }

    #[test]
    fn corrections_repeat_the_spec_only_for_a_fresh_session() {
        let spec = parse("t.md", SPEC.as_bytes()).spec.unwrap();
        let resumed = correction(SPEC, &spec.scope, None, "Handle empty input.", true);
        assert!(resumed.starts_with("The reviewer looked at your work"));
        assert!(resumed.contains("Handle empty input.\n"));
        assert!(!resumed.contains("# Add export"));
        let fresh = correction(SPEC, &spec.scope, None, "Handle empty input.", false);
        assert!(fresh.contains("# Add export"));
    }
}

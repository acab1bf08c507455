//! The host's types as the policies see them (the SDK's wire types).

use agenthost_policy as sdk;

use crate::spec;
use crate::task::diff::{ChangeKind, Changes};

/// The largest patch handed to review policies; larger ones are cut (and say so), so a huge
/// diff cannot push a request past the engine's input cap.
const MAX_PATCH: usize = 512 * 1024;

/// A set of changes as review policies receive it: files, line counts and the patch (cut at
/// 512 KiB). The agent's exit and the test outcome are left empty for the caller to fill.
pub fn run(changes: &Changes) -> sdk::RunResult {
    let mut patch = changes.patch.clone();
    if patch.len() > MAX_PATCH {
        let mut cut = MAX_PATCH;
        while !patch.is_char_boundary(cut) {
            cut -= 1;
        }
        patch.truncate(cut);
        patch.push_str("\n[agenthost: patch cut at 512 KiB]\n");
    }
    sdk::RunResult {
        changed_files: changes
            .files
            .iter()
            .map(|f| sdk::ChangedFile {
                path: f.path.clone(),
                old_path: f.old_path.clone(),
                kind: match f.kind {
                    ChangeKind::Added => sdk::ChangeKind::Added,
                    ChangeKind::Deleted => sdk::ChangeKind::Deleted,
                    ChangeKind::Renamed => sdk::ChangeKind::Renamed,
                    ChangeKind::Modified | ChangeKind::TypeChanged => sdk::ChangeKind::Modified,
                },
                added_lines: u32::try_from(f.added).unwrap_or(u32::MAX),
                removed_lines: u32::try_from(f.removed).unwrap_or(u32::MAX),
            })
            .collect(),
        patch,
        ..sdk::RunResult::default()
    }
}

/// A parsed spec as policies receive it.
pub fn spec(spec: &spec::Spec) -> sdk::Spec {
    let fm = &spec.front_matter;
    sdk::Spec {
        id: spec.id.clone(),
        title: spec.title.clone(),
        front_matter: sdk::FrontMatter {
            id: fm.id.clone(),
            title: fm.title.clone(),
            agent: fm.agent.clone(),
            test: fm.test.clone(),
            timeout_secs: fm.timeout.map(|t| t.as_secs()),
            base: fm.base.clone(),
            labels: fm.labels.clone(),
        },
        sections: spec
            .sections
            .iter()
            .map(|s| sdk::Section {
                heading: s.heading.clone(),
                level: s.level,
                line: line(s.line),
                text: s.text.clone(),
            })
            .collect(),
        scope: sdk::Scope {
            line: spec.scope.line.map(line),
            modify: entries(&spec.scope.modify),
            create: entries(&spec.scope.create),
            do_not_modify: entries(&spec.scope.do_not_modify),
            constraints: spec
                .scope
                .constraints
                .iter()
                .map(|c| sdk::Constraint {
                    text: c.text.clone(),
                    line: line(c.line),
                })
                .collect(),
        },
    }
}

fn entries(entries: &[spec::ScopeEntry]) -> Vec<sdk::ScopeEntry> {
    entries
        .iter()
        .map(|e| sdk::ScopeEntry {
            written: e.written.clone(),
            pattern: e.pattern.clone(),
            is_glob: e.is_glob,
            line: line(e.line),
        })
        .collect()
}

fn line(line: usize) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

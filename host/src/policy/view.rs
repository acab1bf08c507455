//! The host's types as the policies see them (the SDK's wire types).

use agenthost_policy as sdk;

use crate::spec;

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

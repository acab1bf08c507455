//! `agenthost sandbox --explain`: every path with its rights and where the rule came from.

use std::fmt::Write;
use std::path::Path;

use agenthost_sandbox::{FsRule, Support, Target};

use super::BuiltPlan;

/// Rules with the same reason and directory collapse into one line past this many.
const COLLAPSE_AFTER: usize = 10;

/// The human explanation of a plan.
pub fn explain(built: &BuiltPlan, root: &Path, header: &str, support: &Support) -> String {
    let plan = &built.plan;
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    let (writes, reads): (Vec<&FsRule>, Vec<&FsRule>) = plan.fs.iter().partition(|r| r.writes());
    let _ = writeln!(out, "\nWrites (everything else is read-only or invisible):");
    section(&mut out, &writes, root);
    let _ = writeln!(out, "\nReads:");
    section(&mut out, &reads, root);

    mount_layer(&mut out, built, root, support);

    let _ = writeln!(out, "\nNetwork:");
    if plan.net.connect_tcp.is_empty() {
        let _ = writeln!(out, "  TCP connect: none");
    }
    for port in &plan.net.connect_tcp {
        let _ = writeln!(
            out,
            "  TCP connect: port {}  ({})",
            port.port, port.provenance
        );
    }
    if plan.net.bind_tcp.is_empty() {
        let _ = writeln!(out, "  TCP bind: none");
    }
    for port in &plan.net.bind_tcp {
        let _ = writeln!(out, "  TCP bind: port {}  ({})", port.port, port.provenance);
    }
    let _ = writeln!(
        out,
        "  IP sockets: {}",
        if plan.net.inet_sockets {
            "allowed (TCP limited to the ports above; UDP is not controlled by Landlock before ABI 10)"
        } else {
            "denied (offline: seccomp refuses AF_INET and AF_INET6)"
        }
    );
    let _ = writeln!(
        out,
        "  unix sockets: {}",
        if plan.net.unix_sockets {
            "allowed"
        } else {
            "socket(AF_UNIX) denied by seccomp; socketpair allowed"
        }
    );
    if plan.scope_signals_and_abstract_sockets {
        let _ = writeln!(
            out,
            "  signals and abstract unix sockets: only within the sandbox"
        );
    }

    let names: Vec<&str> = plan.env.keys().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "\nEnvironment (nothing else is passed): {}",
        names.join(", ")
    );

    let _ = writeln!(out, "\nKernel:");
    if support.landlock_abi > 0 {
        let _ = writeln!(out, "  Landlock ABI {}", support.landlock_abi);
    } else {
        let _ = writeln!(
            out,
            "  no Landlock: {}",
            support.landlock_note.as_deref().unwrap_or("unavailable")
        );
    }
    let missing = support.missing(plan);
    if missing.is_empty() {
        let _ = writeln!(out, "  every restriction above is enforced");
    }
    for guarantee in missing {
        let _ = writeln!(
            out,
            "  NOT enforced: {guarantee} ({}; needs {})",
            guarantee.describe(),
            guarantee.feature()
        );
    }

    if !built.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for note in &built.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    out
}

/// The mount layer: on or off, how, and what it makes read-only on top of the writes.
fn mount_layer(out: &mut String, built: &BuiltPlan, root: &Path, support: &Support) {
    let mounts = &built.plan.mounts;
    let _ = writeln!(
        out,
        "\nMount layer (metadata, and Do NOT modify inside the writes):"
    );
    if !mounts.read_only_view {
        let _ = writeln!(
            out,
            "  off (`[sandbox] read_only_view = false`): chmod, chown, utime and xattr changes are not\n  confined, and Do NOT modify inside a write grant is left to the review"
        );
        return;
    }
    let Some(privilege) = support.mounts.privilege else {
        let _ = writeln!(
            out,
            "  UNAVAILABLE: {}",
            super::mount_layer_unavailable(support)
        );
        return;
    };
    let how = privilege.describe();
    let _ = writeln!(
        out,
        "  on ({how}): every mount is read-only but these, so no write, chmod, chown, utime or\n  xattr change anywhere else (Landlock still decides what may be written inside them):"
    );
    for path in &mounts.writable {
        let shown = match path.strip_prefix(root) {
            Ok(rel) if rel.as_os_str().is_empty() => ". (the worktree)".to_string(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        };
        let _ = writeln!(out, "    {shown}");
    }
    if mounts.protected.is_empty() {
        return;
    }
    let _ = writeln!(out, "  Read-only on top of the writes:");
    for protected in &mounts.protected {
        let shown = match protected.path.strip_prefix(root) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => protected.path.display().to_string(),
        };
        let suffix = if protected.path.is_dir() { "/" } else { "" };
        let _ = writeln!(out, "  {shown}{suffix}\n      {}", protected.provenance);
    }
}

fn section(out: &mut String, rules: &[&FsRule], root: &Path) {
    let mut i = 0;
    while i < rules.len() {
        let rule = rules[i];
        let parent = rule.path.parent();
        let run = rules[i..]
            .iter()
            .take_while(|r| r.provenance == rule.provenance && r.path.parent() == parent)
            .count();
        if run > COLLAPSE_AFTER {
            let _ = writeln!(
                out,
                "  {}/* ({run} entries)\n      {}\n      {}",
                parent.map(|p| p.display().to_string()).unwrap_or_default(),
                rights_text(rule),
                rule.provenance
            );
            i += run;
            continue;
        }
        let shown = match rule.path.strip_prefix(root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => rule.path.display().to_string(),
        };
        let suffix = if rule.target == Target::Tree { "/" } else { "" };
        let _ = writeln!(
            out,
            "  {shown}{suffix}\n      {}\n      {}",
            rights_text(rule),
            rule.provenance
        );
        i += 1;
    }
}

fn rights_text(rule: &FsRule) -> String {
    let kind = match rule.target {
        Target::File => "file",
        Target::Tree => "tree",
    };
    let names: Vec<&str> = rule.rights.iter().map(|r| r.name()).collect();
    format!("{kind}: {}", names.join(" "))
}

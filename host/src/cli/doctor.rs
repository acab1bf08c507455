//! `agenthost doctor`: what this kernel can enforce, proven with a throwaway sandbox.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use agenthost_sandbox::{
    Enforcement, FsRule, Guarantee, MountPlan, NetPlan, ProtectedPath, Provenance, SandboxPlan,
    Support, Target, rights,
};
use clap::Args;
use miette::IntoDiagnostic;

use super::{Exit, Output};
use crate::confinement;

/// Arguments of `agenthost doctor`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agenthost doctor\n  agenthost doctor --repo\n\nExit status: 0 = every guarantee holds, the proof passed and every installed agent starts\nin its sandbox (with --repo: the setup and the test command pass in their sandboxes),\n1 = something is not enforced on this kernel, an installed agent cannot start in its\nsandbox (with --repo: a command failed, with what the sandbox refused), 2 = agenthost\nitself failed."
)]
pub struct DoctorArgs {
    /// Instead: run the repository's `[worktree] setup` and `[test] command` once in a
    /// throwaway task worktree, in the sandboxes a task's get, and say what the sandbox
    /// refused and the setting that allows it (the repository around PATH, default `.`).
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = ".")]
    pub repo: Option<PathBuf>,
}

/// Runs `agenthost doctor`.
pub(super) fn run(args: &DoctorArgs, _output: &Output) -> miette::Result<Exit> {
    let support = Support::probe();
    if let Some(start) = &args.repo {
        let repo = super::doctor_repo::repo_root(start).map_err(|err| {
            miette::miette!(code = "doctor::repo", help = "run it inside the repository, or give its path: `agenthost doctor --repo PATH`", "{err}")
        })?;
        let (report, passed) = super::doctor_repo::check(&repo, &support).map_err(|err| {
            miette::miette!(
                code = "doctor::repo",
                help = "fix the problem named, then run `agenthost doctor --repo` again",
                "{err}"
            )
        })?;
        print!("{report}");
        return Ok(if passed {
            Exit::Success
        } else {
            Exit::Findings
        });
    }
    let mut out = String::new();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(out, "Kernel: Linux {}", release.trim());
    if support.landlock_abi > 0 {
        let _ = writeln!(out, "Landlock: ABI {}", support.landlock_abi);
    } else {
        let _ = writeln!(
            out,
            "Landlock: unavailable ({})",
            support.landlock_note.as_deref().unwrap_or("unknown reason")
        );
    }
    let _ = writeln!(
        out,
        "seccomp: {}",
        if support.seccomp {
            "available"
        } else {
            "unavailable"
        }
    );
    if support.root {
        let _ = writeln!(
            out,
            "Running as root: the sandbox drops every capability; the command keeps uid 0, so\n  root-owned files are writable where Landlock grants write (nowhere else)"
        );
    }
    let _ = writeln!(out, "\nGuarantees:");
    let mut all = true;
    for guarantee in Guarantee::ALL {
        let holds = support.holds(guarantee);
        all &= holds;
        let _ = writeln!(
            out,
            "  {} {guarantee}: {} ({})",
            if holds { "ok     " } else { "MISSING" },
            guarantee.describe(),
            guarantee.feature()
        );
        if guarantee == Guarantee::ReadOnlyView {
            let how = match support.mounts.privilege {
                Some(privilege) => format!("here: each agent gets {}", privilege.describe()),
                None => confinement::mount_layer_unavailable(&support),
            };
            let _ = writeln!(out, "          {how}");
        }
    }

    let _ = writeln!(
        out,
        "\nProof (a throwaway sandbox that may write only in allowed/):"
    );
    let proof = prove(&support).into_diagnostic()?;
    for (ok, line) in &proof {
        all &= *ok;
        let _ = writeln!(out, "  {} {line}", if *ok { "ok     " } else { "FAILED " });
    }
    // The agent profiles of the repository around the current directory (or the user's).
    let repo = super::doctor_profiles::current_repo();
    match crate::config::Config::load(&crate::config::ConfigSources::discover(repo.as_deref())) {
        Ok(config) => {
            let (section, runs) = super::doctor_profiles::section(&config, &support);
            out.push_str(&section);
            all &= runs;
        }
        Err(err) => {
            let _ = writeln!(out, "\nAgent profiles: the configuration is invalid: {err}");
            all = false;
        }
    }
    print!("{out}");
    Ok(if all { Exit::Success } else { Exit::Findings })
}

/// Runs `sh` in a sandbox that may write only `allowed/`, tries a write outside, and looks
/// at the disk.
fn prove(support: &Support) -> std::io::Result<Vec<(bool, String)>> {
    let dir = tempfile::Builder::new()
        .prefix("agenthost-doctor-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()?;
    let root = dir.path().canonicalize()?;
    let allowed = root.join("allowed");
    let tmp = root.join("tmp");
    std::fs::create_dir(&allowed)?;
    std::fs::create_dir(&tmp)?;
    let forbidden = root.join("forbidden");
    let ok = allowed.join("ok");
    // The mount layer's share: a Do NOT modify file inside allowed/, a file outside it.
    let kept = allowed.join("kept");
    let outside = root.join("elsewhere");
    std::fs::write(&kept, "original\n")?;
    std::fs::write(&outside, "original\n")?;
    let mode_of = |path: &Path| {
        std::fs::metadata(path).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
    };
    let outside_mode = mode_of(&outside)?;

    let why = |reason: &str| Provenance::new("doctor", reason);
    let mut fs: Vec<FsRule> = ["/usr", "/bin", "/lib", "/lib64", "/etc"]
        .into_iter()
        .map(|p| FsRule {
            path: PathBuf::from(p),
            target: Target::Tree,
            rights: rights::READ_EXEC.to_vec(),
            provenance: why("system"),
            optional: true,
        })
        .collect();
    fs.push(FsRule {
        path: root.clone(),
        target: Target::Tree,
        rights: rights::READ.to_vec(),
        provenance: why("read the test directory"),
        optional: false,
    });
    // The script sends the refused write's complaint here, as every real plan allows.
    fs.push(FsRule {
        path: PathBuf::from("/dev/null"),
        target: Target::File,
        rights: rights::DEVICE_RW.to_vec(),
        provenance: why("the shell's discarded errors"),
        optional: true,
    });
    fs.push(FsRule {
        path: allowed.clone(),
        target: Target::Tree,
        rights: rights::WRITE_TREE.to_vec(),
        provenance: why("the one writable directory"),
        optional: false,
    });
    let plan = SandboxPlan {
        enforcement: Enforcement::BestEffort,
        fs,
        net: NetPlan::default(),
        scope_signals_and_abstract_sockets: true,
        env: BTreeMap::from([
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("TMPDIR".to_string(), tmp.display().to_string()),
        ]),
        cwd: root.clone(),
        tmpdir: tmp,
        mounts: MountPlan {
            read_only_view: support.mounts.privilege.is_some(),
            writable: vec![allowed.clone()],
            protected: vec![ProtectedPath {
                path: kept.clone(),
                provenance: why("a Do NOT modify file inside the writable directory"),
            }],
        },
    };
    let argv: Vec<OsString> = [
        "/bin/sh",
        "-c",
        "{ echo escaped > \"$1\"; echo changed > \"$3\"; chmod 600 \"$4\"; } 2>/dev/null; echo fine > \"$2\"",
        "sh",
    ]
    .into_iter()
    .map(OsString::from)
    .chain([
        forbidden.clone().into_os_string(),
        ok.clone().into_os_string(),
        kept.clone().into_os_string(),
        outside.clone().into_os_string(),
    ])
    .collect();
    let status = confinement::run(&plan, support, &argv).map_err(std::io::Error::other)?;
    let mut lines = Vec::new();
    lines.push((
        confinement::exit_code(status) == 0 || ok.exists(),
        "the sandboxed shell ran".to_string(),
    ));
    lines.push((
        !forbidden.exists(),
        format!(
            "a write outside allowed/ was refused and {} does not exist",
            shown(&forbidden, &root)
        ),
    ));
    lines.push((
        std::fs::read_to_string(&ok).is_ok_and(|s| s == "fine\n"),
        format!("a write inside allowed/ landed in {}", shown(&ok, &root)),
    ));
    if plan.mounts.read_only_view {
        lines.push((
            std::fs::read_to_string(&kept).is_ok_and(|s| s == "original\n"),
            format!(
                "a write to {}, Do NOT modify inside allowed/, was refused (mount layer)",
                shown(&kept, &root)
            ),
        ));
        lines.push((
            mode_of(&outside)? == outside_mode,
            format!(
                "chmod of {}, outside allowed/, was refused (mount layer)",
                shown(&outside, &root)
            ),
        ));
    } else {
        lines.push((
            false,
            format!(
                "the mount layer could not be tried: {}",
                confinement::mount_layer_unavailable(support)
            ),
        ));
    }
    Ok(lines)
}

fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

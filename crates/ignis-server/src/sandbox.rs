//! Picks the sandbox backend at start and says why.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ignis_sandbox::namespace::base_root::BaseRoot;
use ignis_sandbox::namespace::cgroup;
use ignis_sandbox::namespace::dynmods::{self, DynMods};
use ignis_sandbox::namespace::{NamespaceError, NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use ignis_sandbox::process::ProcessSandbox;
use ignis_sandbox::Sandbox;

use crate::config::SandboxChoice;

/// Empty environment cgroups at least this old are left over (another
/// server's environment being set up is younger).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// The backend `choice` resolves to on this machine, with the reason, as
/// `ignis serve` prints it (`namespace (running as root; cgroup v1; base
/// root …)`). `root` replaces the host's base directories in the namespace
/// sandbox; with `favordynmods`, `namespace` turns on cheap cgroup moves
/// first.
pub async fn choose(
    choice: SandboxChoice,
    root: Option<&Path>,
    favordynmods: bool,
) -> anyhow::Result<(Arc<dyn Sandbox>, String)> {
    let base = match root {
        Some(dir) => BaseRoot::custom(dir).context("check --sandbox-root")?,
        None => BaseRoot::host(),
    };
    match choice {
        SandboxChoice::Process => {
            if let Some(dir) = root {
                anyhow::bail!(
                    "--sandbox-root {} needs the namespace sandbox (--sandbox namespace or auto); \
                     the process backend runs functions on the host's own root",
                    dir.display()
                );
            }
            Ok((
                Arc::new(ProcessSandbox),
                "--sandbox process; environments are not isolated".to_string(),
            ))
        }
        SandboxChoice::Namespace => {
            let s = NamespaceSandbox::probe_with(DEFAULT_UID, DEFAULT_GID, base)
                .await
                .context("start the namespace sandbox")?;
            Ok(namespace_started(
                Arc::new(s),
                "--sandbox namespace".to_string(),
                favordynmods,
            ))
        }
        SandboxChoice::Auto => {
            match NamespaceSandbox::probe_with(DEFAULT_UID, DEFAULT_GID, base).await {
                Ok(s) => Ok(namespace_started(
                    Arc::new(s),
                    "running as root".to_string(),
                    favordynmods,
                )),
                Err(e) => {
                    let unused = root
                        .map(|d| format!("; --sandbox-root {} is not used", d.display()))
                        .unwrap_or_default();
                    Ok((
                        Arc::new(ProcessSandbox),
                        format!("{}{unused}", process_reason(&e)),
                    ))
                }
            }
        }
    }
}

/// A namespace sandbox that passed its self-check: clears what a killed
/// server left, turns on cheap cgroup moves, and says what runs.
fn namespace_started(
    s: Arc<NamespaceSandbox>,
    why: String,
    favordynmods: bool,
) -> (Arc<dyn Sandbox>, String) {
    remove_stale(&s);
    let why = format!(
        "{why}; {}{}; base root {}",
        s.layout().describe(),
        favor(favordynmods),
        s.base_root()
    );
    (s, why)
}

/// Removes environment cgroups a killed server left behind.
fn remove_stale(s: &NamespaceSandbox) {
    let removed = cgroup::remove_stale(&s.layout().parents(), STALE_AFTER);
    if removed > 0 {
        tracing::info!(
            removed,
            "removed the empty cgroups of environments a previous server left behind"
        );
    }
}

/// Turns on cheap cgroup moves (see `dynmods`) and says what it did.
fn favor(enable: bool) -> String {
    if !enable {
        return String::new();
    }
    match dynmods::favor_dynamic_cgroups() {
        Ok(DynMods::AlreadyOn) => format!("; {}", dynmods::OPTION),
        Ok(DynMods::Enabled(at)) => {
            tracing::info!(cgroup2 = %at.display(), "turned on {} for cheap cgroup moves", dynmods::OPTION);
            format!("; {} turned on", dynmods::OPTION)
        }
        Ok(DynMods::NoCgroup2) => {
            tracing::warn!(
                "no cgroup2 hierarchy to turn on {}: each cold start waits for an RCU grace period",
                dynmods::OPTION
            );
            String::new()
        }
        Err(e) => {
            tracing::warn!(error = %e, "failed to turn on {}: each cold start waits for an RCU grace period", dynmods::OPTION);
            String::new()
        }
    }
}

/// Why `auto` fell back to `process`.
fn process_reason(e: &NamespaceError) -> String {
    match e {
        NamespaceError::NotRoot(uid) => {
            format!("not root (uid {uid}); environments are not isolated")
        }
        other => {
            format!("the namespace sandbox is unavailable: {other}; environments are not isolated")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(choice: SandboxChoice, root: &Path) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match rt.block_on(choose(choice, Some(root), false)) {
            Ok((s, why)) => panic!("chose {} ({why})", s.name()),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn a_bad_sandbox_root_stops_the_start_with_the_reason() {
        let d = tempfile::tempdir().unwrap();
        for choice in [SandboxChoice::Namespace, SandboxChoice::Auto] {
            let err = fail(choice, d.path());
            assert!(err.starts_with("check --sandbox-root:"), "{err}");
            assert!(err.contains("has no usr directory"), "{err}");
        }
        let err = fail(SandboxChoice::Namespace, &d.path().join("missing"));
        assert!(err.contains("failed to read the sandbox root"), "{err}");
    }

    #[test]
    fn a_sandbox_root_needs_the_namespace_sandbox() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("usr/bin", d.path().join("bin")).unwrap();
        std::fs::write(d.path().join("usr/bin/sh"), "").unwrap();
        let err = fail(SandboxChoice::Process, d.path());
        assert!(err.contains("needs the namespace sandbox"), "{err}");
    }

    #[test]
    fn the_fallback_says_why() {
        assert_eq!(
            process_reason(&NamespaceError::NotRoot(1000)),
            "not root (uid 1000); environments are not isolated"
        );
        assert!(process_reason(&NamespaceError::NoCgroups).contains("memory, cpu and pids"));
    }
}

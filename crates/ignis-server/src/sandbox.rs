//! Picks the sandbox backend at start and says why.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
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
/// `ignis serve` prints it (`namespace (running as root; cgroup v1)`).
/// With `favordynmods`, `namespace` turns on cheap cgroup moves first.
pub async fn choose(
    choice: SandboxChoice,
    favordynmods: bool,
) -> anyhow::Result<(Arc<dyn Sandbox>, String)> {
    match choice {
        SandboxChoice::Process => Ok((
            Arc::new(ProcessSandbox),
            "--sandbox process; environments are not isolated".to_string(),
        )),
        SandboxChoice::Namespace => {
            let s = NamespaceSandbox::probe(DEFAULT_UID, DEFAULT_GID)
                .await
                .context("start the namespace sandbox")?;
            remove_stale(&s);
            let why = format!(
                "--sandbox namespace; {}{}",
                s.layout().describe(),
                favor(favordynmods)
            );
            Ok((Arc::new(s), why))
        }
        SandboxChoice::Auto => match NamespaceSandbox::probe(DEFAULT_UID, DEFAULT_GID).await {
            Ok(s) => {
                remove_stale(&s);
                let why = format!(
                    "running as root; {}{}",
                    s.layout().describe(),
                    favor(favordynmods)
                );
                Ok((Arc::new(s), why))
            }
            Err(e) => Ok((Arc::new(ProcessSandbox), process_reason(&e))),
        },
    }
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

    #[test]
    fn the_fallback_says_why() {
        assert_eq!(
            process_reason(&NamespaceError::NotRoot(1000)),
            "not root (uid 1000); environments are not isolated"
        );
        assert!(process_reason(&NamespaceError::NoCgroups).contains("memory, cpu and pids"));
    }
}

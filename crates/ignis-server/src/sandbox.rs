//! Picks the sandbox backend at start and says why.

use std::sync::Arc;

use anyhow::Context;
use ignis_sandbox::namespace::{NamespaceError, NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use ignis_sandbox::process::ProcessSandbox;
use ignis_sandbox::Sandbox;

use crate::config::SandboxChoice;

/// The backend `choice` resolves to on this machine, with the reason, as
/// `ignis serve` prints it (`namespace (running as root; cgroup v1)`).
pub async fn choose(choice: SandboxChoice) -> anyhow::Result<(Arc<dyn Sandbox>, String)> {
    match choice {
        SandboxChoice::Process => Ok((
            Arc::new(ProcessSandbox),
            "--sandbox process; environments are not isolated".to_string(),
        )),
        SandboxChoice::Namespace => {
            let s = NamespaceSandbox::probe(DEFAULT_UID, DEFAULT_GID)
                .await
                .context("start the namespace sandbox")?;
            let why = format!("--sandbox namespace; {}", s.layout().describe());
            Ok((Arc::new(s), why))
        }
        SandboxChoice::Auto => match NamespaceSandbox::probe(DEFAULT_UID, DEFAULT_GID).await {
            Ok(s) => {
                let why = format!("running as root; {}", s.layout().describe());
                Ok((Arc::new(s), why))
            }
            Err(e) => Ok((Arc::new(ProcessSandbox), process_reason(&e))),
        },
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

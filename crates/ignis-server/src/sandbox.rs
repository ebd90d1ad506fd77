//! Picks the sandbox backend at start and says why.

use std::sync::Arc;

use anyhow::Context;
use ignis_sandbox::namespace::{NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use ignis_sandbox::process::ProcessSandbox;
use ignis_sandbox::Sandbox;

use crate::config::SandboxChoice;

/// The backend `choice` resolves to on this machine, with the reason.
pub async fn choose(choice: SandboxChoice) -> anyhow::Result<(Arc<dyn Sandbox>, String)> {
    match choice {
        SandboxChoice::Process => Ok((
            Arc::new(ProcessSandbox),
            "--sandbox process (the default for now): environments are plain child \
             processes without isolation; --sandbox namespace or auto isolates them"
                .to_string(),
        )),
        SandboxChoice::Namespace => {
            let s = NamespaceSandbox::probe(DEFAULT_UID, DEFAULT_GID)
                .await
                .context("start the namespace sandbox")?;
            let why = format!("asked for with --sandbox namespace; cgroups {:?}", s.layout());
            Ok((Arc::new(s), why))
        }
        SandboxChoice::Auto => match NamespaceSandbox::probe(DEFAULT_UID, DEFAULT_GID).await {
            Ok(s) => {
                let why = format!("--sandbox auto: running as root and the self-check passed; cgroups {:?}", s.layout());
                Ok((Arc::new(s), why))
            }
            Err(e) => Ok((
                Arc::new(ProcessSandbox),
                format!("--sandbox auto: the namespace sandbox is unavailable ({e}); environments are plain child processes without isolation"),
            )),
        },
    }
}

//! Picks the sandbox backend at start and says why.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use ignis_sandbox::namespace::base_root::BaseRoot;
use ignis_sandbox::namespace::{NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use ignis_sandbox::process::ProcessSandbox;
use ignis_sandbox::Sandbox;

use crate::config::SandboxChoice;

/// The backend `choice` resolves to on this machine, with the reason;
/// `root` replaces the host's base directories in the namespace sandbox.
pub async fn choose(
    choice: SandboxChoice,
    root: Option<&Path>,
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
                "--sandbox process (the default for now): environments are plain child \
                 processes without isolation; --sandbox namespace or auto isolates them"
                    .to_string(),
            ))
        }
        SandboxChoice::Namespace => {
            let s = NamespaceSandbox::probe_with(DEFAULT_UID, DEFAULT_GID, base)
                .await
                .context("start the namespace sandbox")?;
            let why = format!(
                "asked for with --sandbox namespace; cgroups {:?}; base root {}",
                s.layout(),
                s.base_root()
            );
            Ok((Arc::new(s), why))
        }
        SandboxChoice::Auto => {
            match NamespaceSandbox::probe_with(DEFAULT_UID, DEFAULT_GID, base).await {
                Ok(s) => {
                    let why = format!(
                    "--sandbox auto: running as root and the self-check passed; cgroups {:?}; base root {}",
                    s.layout(),
                    s.base_root()
                );
                    Ok((Arc::new(s), why))
                }
                Err(e) => {
                    let unused = root
                        .map(|d| format!("; --sandbox-root {} is not used", d.display()))
                        .unwrap_or_default();
                    Ok((
                    Arc::new(ProcessSandbox),
                    format!("--sandbox auto: the namespace sandbox is unavailable ({e}); environments are plain child processes without isolation{unused}"),
                ))
                }
            }
        }
    }
}

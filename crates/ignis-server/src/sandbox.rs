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

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(choice: SandboxChoice, root: &Path) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match rt.block_on(choose(choice, Some(root))) {
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
}

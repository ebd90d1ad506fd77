//! Picks the sandbox backend and its network mode at start and says why.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ignis_sandbox::namespace::base_root::BaseRoot;
use ignis_sandbox::namespace::cgpool::CgroupPool;
use ignis_sandbox::namespace::cgroup;
use ignis_sandbox::namespace::disk::TmpDisks;
use ignis_sandbox::namespace::dynmods::{self, DynMods};
use ignis_sandbox::namespace::net::{NetMode, Network};
use ignis_sandbox::namespace::prewarm::Prewarming;
use ignis_sandbox::namespace::zygote::Zygote;
use ignis_sandbox::namespace::{NamespaceError, NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use ignis_sandbox::process::ProcessSandbox;
use ignis_sandbox::Sandbox;

use crate::config::{NetworkChoice, SandboxChoice};

/// Empty environment cgroups at least this old are left over (another
/// server's environment being set up is younger).
const STALE_AFTER: Duration = Duration::from_secs(60);
/// Blank environment cgroups kept ready (see `namespace::cgpool`).
const CGROUP_POOL: usize = 4;

/// The backend and network this server runs, with the reasons.
pub struct Chosen {
    /// The backend.
    pub sandbox: Arc<dyn Sandbox>,
    /// Why this backend.
    pub why: String,
    /// The network set up for it, to shut down with the server.
    pub network: Option<Arc<Network>>,
    /// Its blank cgroups, removed when the server stops.
    pub cgroups: Option<Arc<CgroupPool>>,
    /// Its `/tmp` disks, dropped when the server stops.
    pub disks: Option<Arc<TmpDisks>>,
    /// Its held runtimes, ended when the server stops.
    pub prewarm: Option<Arc<Prewarming>>,
    /// The network mode's name.
    pub network_mode: &'static str,
    /// Why this mode, and what it set up.
    pub network_why: String,
}

/// The backend `choice` resolves to on this machine, with the reason;
/// `root` replaces the host's base directories in the namespace sandbox,
/// whose environments are networked as `network` asks with `pool`
/// namespaces kept prepared; with `favordynmods`, `namespace` turns on
/// cheap cgroup moves first; `zygote`, when `main` started one, forks its
/// environments; their `/tmp` disks' images go in `disks_dir`; up to
/// `prewarm` managed runtimes per kind are started ahead of cold starts.
#[allow(clippy::too_many_arguments)]
pub async fn choose(
    choice: SandboxChoice,
    root: Option<&Path>,
    network: NetworkChoice,
    pool: usize,
    favordynmods: bool,
    zygote: Option<Arc<Zygote>>,
    disks_dir: &Path,
    prewarm: usize,
) -> anyhow::Result<Chosen> {
    let base = match root {
        Some(dir) => BaseRoot::custom(dir).context("check --sandbox-root")?,
        None => BaseRoot::host(),
    };
    let (sandbox, mut why) = match choice {
        SandboxChoice::Process => {
            if let Some(dir) = root {
                anyhow::bail!(
                    "--sandbox-root {} needs the namespace sandbox (--sandbox namespace or auto); \
                     the process backend runs functions on the host's own root",
                    dir.display()
                );
            }
            return Ok(process(
                "--sandbox process; environments are not isolated".to_string(),
            ));
        }
        SandboxChoice::Namespace => {
            let s = probe(base, zygote)
                .await
                .context("start the namespace sandbox")?;
            let why = started(&s, "--sandbox namespace", favordynmods);
            (s, why)
        }
        SandboxChoice::Auto => match probe(base, zygote).await {
            Ok(s) => {
                let why = started(&s, "running as root", favordynmods);
                (s, why)
            }
            Err(e) => {
                let unused = root
                    .map(|d| format!("; --sandbox-root {} is not used", d.display()))
                    .unwrap_or_default();
                return Ok(process(format!("{}{unused}", process_reason(&e))));
            }
        },
    };
    let (net, network_why) = tokio::task::spawn_blocking(move || setup_network(network, pool))
        .await
        .context("set up the network")??;
    let net = Arc::new(net);
    let mut sandbox = sandbox
        .with_cgroup_pool(CGROUP_POOL)
        .context("start the cgroup pool")?;
    let dir = disks_dir.to_path_buf();
    let (disks, tmp_why) = tokio::task::spawn_blocking(move || tmp_disks(&dir))
        .await
        .context("start the /tmp disks")?;
    why = format!("{why}; {tmp_why}");
    if let Some(disks) = &disks {
        sandbox = sandbox.with_tmp_disks(disks.clone());
    }
    let cgroups = sandbox.cgroup_pool();
    let sandbox = Arc::new(sandbox.with_network(net.clone()));
    let (sandbox, prewarm): (Arc<dyn Sandbox>, _) = if prewarm > 0 {
        why = format!("{why}; managed runtimes prestarted (up to {prewarm} per kind)");
        let p = Prewarming::start(sandbox, prewarm);
        (p.clone(), Some(p))
    } else {
        why = format!("{why}; managed runtimes started per cold start (--prewarm off)");
        (sandbox, None)
    };
    Ok(Chosen {
        cgroups,
        disks,
        prewarm,
        sandbox,
        why,
        network_mode: net.mode().name(),
        network_why: format!("{network_why}; {}", net.describe()),
        network: Some(net),
    })
}

/// Starts the zygote that forks the namespace sandbox's environments, when
/// `choice` may run that sandbox and this process is root. Call it before
/// the async runtime starts any thread (see `Zygote::start`); `None` when
/// it is not needed or could not start (the server then forks
/// environments itself).
pub fn start_zygote(choice: SandboxChoice) -> Option<Arc<Zygote>> {
    let off = std::env::var("IGNIS_ZYGOTE").is_ok_and(|v| v == "off");
    if off || choice == SandboxChoice::Process || !ignis_sandbox::namespace::running_as_root() {
        return None;
    }
    match Zygote::start() {
        Ok(z) => Some(Arc::new(z)),
        Err(e) => {
            eprintln!("warning: failed to start the zygote, the server forks environments: {e}");
            None
        }
    }
}

/// The namespace sandbox on `base`, forked by `zygote` if there is one,
/// after its self-check.
async fn probe(
    base: BaseRoot,
    zygote: Option<Arc<Zygote>>,
) -> Result<NamespaceSandbox, NamespaceError> {
    let s = NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID)?.with_base_root(base);
    match zygote {
        Some(z) => s.with_zygote(z),
        None => s,
    }
    .checked()
    .await
}

/// A namespace sandbox that passed its self-check: clears what a killed
/// server left, turns on cheap cgroup moves, and says what runs.
fn started(s: &NamespaceSandbox, why: &str, favordynmods: bool) -> String {
    remove_stale(s);
    format!(
        "{why}; {}{}; {}; base root {}",
        s.layout().describe(),
        favor(favordynmods),
        if s.has_zygote() {
            "environments forked by a zygote"
        } else {
            "environments forked by the server"
        },
        s.base_root()
    )
}

fn process(why: String) -> Chosen {
    Chosen {
        sandbox: Arc::new(ProcessSandbox),
        why,
        network: None,
        cgroups: None,
        disks: None,
        prewarm: None,
        network_mode: NetMode::Host.name(),
        network_why: "the process backend shares the host's network".to_string(),
    }
}

/// `auto` tries `bridge`, then `none`; an explicit mode must work.
fn setup_network(choice: NetworkChoice, pool: usize) -> anyhow::Result<(Network, String)> {
    let explicit = |mode: NetMode| {
        Network::setup(mode, pool)
            .with_context(|| format!("set up --network {}", mode.name()))
            .map(|n| (n, format!("asked for with --network {}", mode.name())))
    };
    match choice {
        NetworkChoice::Bridge => explicit(NetMode::Bridge),
        NetworkChoice::None => explicit(NetMode::None),
        NetworkChoice::Host => explicit(NetMode::Host),
        NetworkChoice::Auto => match Network::setup(NetMode::Bridge, pool) {
            Ok(n) => Ok((n, "--network auto: the bridge could be set up".to_string())),
            Err(bridge) => {
                let n = Network::setup(NetMode::None, pool).with_context(|| {
                    format!("set up --network none after bridge failed ({bridge})")
                })?;
                Ok((
                    n,
                    format!("--network auto: the bridge could not be set up ({bridge})"),
                ))
            }
        },
    }
}

/// `/tmp` on disk when this host can make the file systems (`mkfs.ext4`,
/// loop devices, ext4), with what `ignis serve` says about it; else a
/// tmpfs, and the reason.
fn tmp_disks(dir: &Path) -> (Option<Arc<TmpDisks>>, String) {
    match TmpDisks::start(dir) {
        Ok(disks) => {
            let why = disks.describe();
            (Some(Arc::new(disks)), why)
        }
        Err(e) => {
            tracing::warn!(error = %e, "/tmp is a tmpfs, charged to each function's memory");
            (
                None,
                format!("/tmp in memory (tmpfs, charged to the function's memory): {e}"),
            )
        }
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

    fn fail(choice: SandboxChoice, root: &Path) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match rt.block_on(choose(
            choice,
            Some(root),
            NetworkChoice::Auto,
            0,
            false,
            None,
            &root.join("disks"),
            0,
        )) {
            Ok(c) => panic!("chose {} ({})", c.sandbox.name(), c.why),
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
    fn without_disks_tmp_is_a_tmpfs_and_the_start_up_line_says_why() {
        // No directory can be made under a file: the first disk fails (as
        // it does without mkfs.ext4 or loop devices).
        let f = tempfile::NamedTempFile::new().unwrap();
        let (disks, why) = tmp_disks(&f.path().join("disks"));
        assert!(disks.is_none());
        assert!(
            why.starts_with("/tmp in memory (tmpfs, charged to the function's memory): failed to "),
            "{why}"
        );
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

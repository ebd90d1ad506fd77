//! Picks the sandbox backend and its network mode at start and says why.

use std::sync::Arc;

use anyhow::Context;
use ignis_sandbox::namespace::net::{NetMode, Network};
use ignis_sandbox::namespace::{NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use ignis_sandbox::process::ProcessSandbox;
use ignis_sandbox::Sandbox;

use crate::config::{NetworkChoice, SandboxChoice};

/// The backend and network this server runs, with the reasons.
pub struct Chosen {
    /// The backend.
    pub sandbox: Arc<dyn Sandbox>,
    /// Why this backend.
    pub why: String,
    /// The network set up for it, to shut down with the server.
    pub network: Option<Arc<Network>>,
    /// The network mode's name.
    pub network_mode: &'static str,
    /// Why this mode, and what it set up.
    pub network_why: String,
}

/// The backend `choice` resolves to on this machine, networked as `network`
/// asks with `pool` namespaces kept prepared.
pub async fn choose(
    choice: SandboxChoice,
    network: NetworkChoice,
    pool: usize,
) -> anyhow::Result<Chosen> {
    let namespace = match choice {
        SandboxChoice::Process => {
            return Ok(process(
                "--sandbox process (the default for now): environments are plain child \
                 processes without isolation; --sandbox namespace or auto isolates them"
                    .to_string(),
            ))
        }
        SandboxChoice::Namespace => {
            let s = NamespaceSandbox::probe(DEFAULT_UID, DEFAULT_GID)
                .await
                .context("start the namespace sandbox")?;
            let why = format!("asked for with --sandbox namespace; cgroups {:?}", s.layout());
            (s, why)
        }
        SandboxChoice::Auto => match NamespaceSandbox::probe(DEFAULT_UID, DEFAULT_GID).await {
            Ok(s) => {
                let why = format!("--sandbox auto: running as root and the self-check passed; cgroups {:?}", s.layout());
                (s, why)
            }
            Err(e) => return Ok(process(format!("--sandbox auto: the namespace sandbox is unavailable ({e}); environments are plain child processes without isolation"))),
        },
    };
    let (sandbox, why) = namespace;
    let (net, network_why) = tokio::task::spawn_blocking(move || setup_network(network, pool))
        .await
        .context("set up the network")??;
    let net = Arc::new(net);
    Ok(Chosen {
        sandbox: Arc::new(sandbox.with_network(net.clone())),
        why,
        network_mode: net.mode().name(),
        network_why: format!("{network_why}; {}", net.describe()),
        network: Some(net),
    })
}

fn process(why: String) -> Chosen {
    Chosen {
        sandbox: Arc::new(ProcessSandbox),
        why,
        network: None,
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

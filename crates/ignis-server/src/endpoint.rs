//! Where execution environments reach Ignis's APIs (`AWS_ENDPOINT_URL`).
//!
//! - `process` backend, `--network host`: environments share the host's
//!   network, so the main listener's URL (its loopback address when it
//!   listens on all addresses).
//! - `--network bridge`: an environment's loopback is its own and the
//!   host's is out of reach by design (`docs/sandbox.md`), so the server
//!   binds a listener of its own on the bridge's gateway address, on a port
//!   of its own, serving the same service as the main listener.
//! - `--network none`: environments reach nothing; no endpoint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Context;
use ignis_sandbox::namespace::net::{NetMode, Network};
use tokio::net::TcpListener;

/// The endpoint environments get, and the listener serving it when it is
/// not the main one.
pub struct FunctionEndpoint {
    /// `AWS_ENDPOINT_URL`; `None`: environments cannot reach Ignis.
    pub url: Option<String>,
    /// The listener on the bridge's gateway, for the server to serve.
    pub listener: Option<TcpListener>,
}

impl FunctionEndpoint {
    /// Binds what environments on `network` (`None`: the process backend)
    /// need to reach the server whose main listener is at `main`.
    pub async fn bind(network: Option<&Network>, main: SocketAddr) -> anyhow::Result<Self> {
        let mode = network.map_or(NetMode::Host, Network::mode);
        match (mode, network.and_then(Network::gateway)) {
            (NetMode::Host, _) => Ok(Self {
                url: Some(format!("http://{}", reachable(main))),
                listener: None,
            }),
            (NetMode::Bridge, Some(gateway)) => {
                let at = SocketAddr::from((gateway, 0));
                let listener = TcpListener::bind(at)
                    .await
                    .with_context(|| format!("bind the functions' endpoint on {at}"))?;
                let bound = listener
                    .local_addr()
                    .context("read the functions' endpoint address")?;
                Ok(Self {
                    url: Some(format!("http://{bound}")),
                    listener: Some(listener),
                })
            }
            _ => Ok(Self {
                url: None,
                listener: None,
            }),
        }
    }

    /// The start-up line saying where functions reach Ignis.
    pub fn describe(&self) -> String {
        match (&self.url, &self.listener) {
            (Some(url), Some(_)) => format!(
                "functions' endpoint: {url} (AWS_ENDPOINT_URL; on the bridge's gateway, for environments only)"
            ),
            (Some(url), None) => {
                format!("functions' endpoint: {url} (AWS_ENDPOINT_URL; the main listener)")
            }
            (None, _) => "functions' endpoint: none (--network none: environments reach nothing; AWS_ENDPOINT_URL is not set)".to_string(),
        }
    }
}

/// `addr`, with a loopback address in place of an unspecified one
/// (`0.0.0.0` is where one listens, not where one connects).
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_process_backend_reaches_the_main_listener_on_loopback() {
        let any: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        let e = FunctionEndpoint::bind(None, any).await.unwrap();
        assert_eq!(e.url.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(e.listener.is_none());
        let v6: SocketAddr = "[::]:9000".parse().unwrap();
        let e = FunctionEndpoint::bind(None, v6).await.unwrap();
        assert_eq!(e.url.as_deref(), Some("http://[::1]:9000"));
        let local: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let e = FunctionEndpoint::bind(None, local).await.unwrap();
        assert_eq!(e.url.as_deref(), Some("http://127.0.0.1:4321"));
        assert!(
            e.describe().contains("the main listener"),
            "{}",
            e.describe()
        );
    }
}

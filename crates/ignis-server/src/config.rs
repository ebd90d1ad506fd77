//! The server's resolved configuration: defaults filled in from the machine.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything `ignis serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address of the API.
    pub listen: SocketAddr,
    /// Address of a listener serving function URLs only (`--url-listen`).
    pub url_listen: Option<SocketAddr>,
    /// The domain function URLs answer under (`--url-domain`):
    /// `<url-id>.lambda-url.<region>.<domain>`.
    pub url_domain: String,
    /// Where the store, code and scratch space live.
    pub data_dir: PathBuf,
    /// Memory budget for environments, MB.
    pub memory_budget_mb: u64,
    /// Idle environments are ended after this at the latest.
    pub idle_timeout: Duration,
    /// How long idle environments are kept, within `idle_timeout`.
    pub keepalive: KeepAlive,
    /// Region in ARNs and `AWS_REGION`.
    pub region: String,
    /// Time in-flight invocations get at shutdown.
    pub shutdown_grace: Duration,
    /// Log bytes kept per function.
    pub log_max_bytes: usize,
    /// How long execution environments' credentials are valid
    /// (`IGNIS_CREDENTIALS_LIFETIME_SECS`, for tests; default 12 h).
    pub credentials_lifetime: Duration,
    /// How callers are checked (`--auth`); `None`: `open` when the API
    /// listens on loopback, else `enforce`.
    pub auth: Option<ignis_front::AuthMode>,
    /// `--auth open` beyond loopback was asked for knowingly.
    pub insecure_open: bool,
    /// Invocations in flight the node allows; `None`: derived from the
    /// memory budget (`ignis_router::default_concurrency_limit`).
    pub concurrency_limit: Option<u32>,
    /// Held managed-runtime environments kept per kind (0: none; see
    /// `ignis_sandbox::namespace::prewarm`).
    pub prewarm: usize,
    /// Refuse to run a managed runtime on another version of its language.
    pub strict_runtimes: bool,
    /// Interpreters to use before those found by discovery.
    pub runtime_paths: Vec<PathBuf>,
    /// Where discovery looks for the well-known prefixes (`/usr/bin`,
    /// `/opt`, `/usr/lib/jvm`, …): `/`, but a fake root in tests.
    pub discovery_root: PathBuf,
    /// The sandbox backend asked for.
    pub sandbox: SandboxChoice,
    /// The namespace sandbox's base root directory instead of the host's.
    pub sandbox_root: Option<PathBuf>,
    /// Whether the `namespace` backend may turn on the cgroup2 hierarchy's
    /// `favordynmods` option (cheap cgroup moves, host-wide).
    pub favordynmods: bool,
    /// The network mode asked for (`namespace` backend only).
    pub network: NetworkChoice,
    /// Network namespaces kept prepared.
    pub network_pool_size: usize,
    /// The zygote `main` forked before the async runtime started, to fork
    /// the namespace sandbox's environments; `None`: the server forks them.
    pub zygote: Option<std::sync::Arc<ignis_sandbox::namespace::zygote::Zygote>>,
}

pub use ignis_router::keepalive::Mode as KeepAlive;

/// The idle timeout: `secs` when asked for, else the policy's default —
/// Ignis's 5 minutes for the fixed policy, the histogram's range (4 hours)
/// as the hybrid policy's cap.
pub fn idle_timeout(keepalive: KeepAlive, secs: Option<u64>) -> Duration {
    match (secs, keepalive) {
        (Some(secs), _) => Duration::from_secs(secs),
        (None, KeepAlive::Fixed) => ignis_router::keepalive::DEFAULT_FIXED,
        (None, KeepAlive::Hybrid) => ignis_router::keepalive::RANGE,
    }
}

/// How `namespace` environments are networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkChoice {
    /// `bridge` when it can be set up, else `none`.
    Auto,
    /// Own network namespace, veth to a bridge, NAT.
    Bridge,
    /// Own network namespace, loopback only.
    None,
    /// The host's network namespace.
    Host,
}

/// Which sandbox backend runs environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxChoice {
    /// `namespace` when root and its self-check passes, else `process`.
    Auto,
    /// Linux namespaces and cgroups; failing to start it is an error.
    Namespace,
    /// Plain child processes.
    Process,
}

impl ServerConfig {
    /// Resolves optional settings against the machine.
    #[allow(clippy::too_many_arguments)]
    pub fn resolve(
        listen: SocketAddr,
        data_dir: Option<PathBuf>,
        memory_budget_mb: Option<u64>,
        idle_timeout: Duration,
        region: String,
        shutdown_grace: Duration,
        log_max_bytes: usize,
        strict_runtimes: bool,
        runtime_paths: Vec<PathBuf>,
        sandbox: &str,
        sandbox_root: Option<PathBuf>,
        favordynmods: bool,
        network: &str,
        network_pool_size: usize,
    ) -> Self {
        Self {
            listen,
            url_listen: None,
            url_domain: "localhost".into(),
            data_dir: data_dir.unwrap_or_else(default_data_dir),
            memory_budget_mb: memory_budget_mb
                .unwrap_or_else(|| default_budget_mb(Path::new("/proc/meminfo"))),
            idle_timeout,
            keepalive: KeepAlive::Hybrid,
            region,
            shutdown_grace,
            log_max_bytes,
            credentials_lifetime: std::env::var("IGNIS_CREDENTIALS_LIFETIME_SECS")
                .ok()
                .and_then(|s| s.parse().ok())
                .map_or(
                    crate::identity::DEFAULT_CREDENTIALS_LIFETIME,
                    Duration::from_secs,
                ),
            concurrency_limit: None,
            prewarm: 4,
            auth: None,
            insecure_open: false,
            strict_runtimes,
            runtime_paths,
            discovery_root: PathBuf::from("/"),
            sandbox: match sandbox {
                "namespace" => SandboxChoice::Namespace,
                "auto" => SandboxChoice::Auto,
                _ => SandboxChoice::Process,
            },
            sandbox_root,
            favordynmods,
            network: match network {
                "bridge" => NetworkChoice::Bridge,
                "none" => NetworkChoice::None,
                "host" => NetworkChoice::Host,
                _ => NetworkChoice::Auto,
            },
            network_pool_size,
            zygote: None,
        }
    }
}

/// `$XDG_CACHE_HOME/ignis`, else `~/.cache/ignis`, else `<data dir>/cache`:
/// what any server on this machine may rebuild (the compiled Java client).
pub fn cache_dir(data_dir: &Path) -> PathBuf {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(xdg) = from("XDG_CACHE_HOME") {
        return xdg.join("ignis");
    }
    if let Some(home) = from("HOME") {
        return home.join(".cache/ignis");
    }
    data_dir.join("cache")
}

/// `$XDG_DATA_HOME/ignis`, else `~/.local/share/ignis`, else `./ignis-data`.
pub fn default_data_dir() -> PathBuf {
    ignis_model::local::default_data_dir()
}

/// Three quarters of the machine's memory, MB (4 GB if unknown).
fn default_budget_mb(meminfo: &Path) -> u64 {
    std::fs::read_to_string(meminfo)
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(4096, |kb| kb / 1024 * 3 / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_three_quarters_of_memtotal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meminfo");
        std::fs::write(&p, "MemTotal:       8388608 kB\nMemFree: 1 kB\n").unwrap();
        assert_eq!(default_budget_mb(&p), 6144);
        assert_eq!(default_budget_mb(&dir.path().join("missing")), 4096);
    }
}

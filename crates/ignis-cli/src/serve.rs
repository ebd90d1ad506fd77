//! The arguments of `ignis serve`: parsed data only; the server resolves them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// The region used when neither `--region`, `IGNIS_REGION` nor `AWS_REGION`
/// is set.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Arguments of `ignis serve`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "IGNIS_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Also serve function URLs, and nothing else, on this address (port 0
    /// picks a free port); the URLs the API returns then name its port.
    #[arg(long, env = "IGNIS_URL_LISTEN", value_name = "ADDR")]
    pub url_listen: Option<SocketAddr>,
    /// The domain function URLs answer under:
    /// `<url-id>.lambda-url.<region>.<domain>` (`localhost`, the default,
    /// resolves to loopback in browsers and curl).
    #[arg(
        long,
        env = "IGNIS_URL_DOMAIN",
        default_value = "localhost",
        value_name = "DOMAIN"
    )]
    pub url_domain: String,
    /// Where functions and their code are kept [default: the XDG data dir]. Logs are held in memory and start empty after a restart.
    #[arg(long, env = "IGNIS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Memory all execution environments may use together, MB [default: decided by the server].
    #[arg(long, env = "IGNIS_MEMORY_BUDGET_MB", value_name = "MB")]
    pub memory_budget_mb: Option<u64>,
    /// How callers are checked: `enforce` verifies every request's SigV4
    /// signature against the account's keys and authorizes it with IAM
    /// policies; `open` accepts any key (every caller is the root user)
    /// [default: open on loopback, else enforce].
    #[arg(long, env = "IGNIS_AUTH", value_parser = ["open", "enforce"])]
    pub auth: Option<String>,
    /// Allow `--auth open` on a listener beyond loopback (anyone who reaches
    /// it can create and run code).
    #[arg(long, env = "IGNIS_INSECURE_OPEN")]
    pub insecure_open: bool,
    /// Invocations in flight the node allows, the account's
    /// ConcurrentExecutions [default: 1,000, or the memory budget / 128 MB if more].
    #[arg(long, env = "IGNIS_CONCURRENCY_LIMIT", value_name = "N")]
    pub concurrency_limit: Option<u32>,
    /// Seconds an idle execution environment is kept warm at most: the
    /// `fixed` policy's keep-alive, the `hybrid` policy's cap [default: 300
    /// with `--keepalive fixed`, 14400 (4 hours) with `hybrid`].
    #[arg(long, env = "IGNIS_IDLE_TIMEOUT_SECS", value_name = "SECONDS")]
    pub idle_timeout_secs: Option<u64>,
    /// How long idle execution environments are kept warm: `hybrid` learns
    /// a window per function version from the times between its
    /// invocations (the histogram policy of "Serverless in the Wild",
    /// docs/keepalive.md), 5 minutes while it knows too little; `fixed`
    /// keeps every one for the idle timeout.
    #[arg(
        long,
        env = "IGNIS_KEEPALIVE",
        value_parser = parse_keepalive,
        default_value = "hybrid",
        value_name = "fixed|hybrid"
    )]
    pub keepalive: KeepAlive,
    /// Region named in ARNs (falls back to AWS_REGION).
    #[arg(long, env = "IGNIS_REGION", default_value_t = default_region())]
    pub region: String,
    /// Seconds running invocations get to finish on shutdown.
    #[arg(
        long,
        env = "IGNIS_SHUTDOWN_GRACE_SECS",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub shutdown_grace_secs: u64,
    /// Log bytes kept per function; older lines are dropped.
    #[arg(
        long,
        env = "IGNIS_LOG_MAX_BYTES_PER_FUNCTION",
        default_value_t = 1_048_576,
        value_name = "BYTES"
    )]
    pub log_max_bytes_per_function: u64,
    /// Refuse to run a managed runtime whose exact version is not installed
    /// (instead of the nearest installed version of its language).
    #[arg(long, env = "IGNIS_STRICT_RUNTIMES")]
    pub strict_runtimes: bool,
    /// Interpreter to prefer (e.g. /usr/bin/python3.12); repeatable, or
    /// comma-separated in the variable.
    #[arg(
        long = "runtime-path",
        env = "IGNIS_RUNTIME_PATHS",
        value_delimiter = ',',
        value_name = "PATH"
    )]
    pub runtime_paths: Vec<PathBuf>,
    /// Tests only: a directory standing for `/` where interpreter discovery
    /// looks for its well-known prefixes (`/usr/bin`, `/opt/*/bin`,
    /// `/usr/lib/jvm/*`); PATH, pyenv and nvm are read as always.
    #[arg(long, env = "IGNIS_DISCOVERY_ROOT", value_name = "DIR", hide = true)]
    pub discovery_root: Option<PathBuf>,
    /// How execution environments are isolated: `namespace` (Linux
    /// namespaces and cgroups, needs root), `process` (plain child
    /// processes, no isolation), or `auto`, the default (`namespace` when
    /// running as root and its self-check passes, else `process`).
    #[arg(
        long,
        env = "IGNIS_SANDBOX",
        value_parser = ["auto", "namespace", "process"],
        default_value = "auto",
        value_name = "BACKEND"
    )]
    pub sandbox: String,
    /// A directory laid out like a root file system (e.g. a container
    /// image's userland) whose usr, lib, lib64, bin, sbin and etc the
    /// namespace sandbox shows read-only instead of the host's.
    #[arg(long, env = "IGNIS_SANDBOX_ROOT", value_name = "DIR")]
    pub sandbox_root: Option<PathBuf>,
    /// Whether the `namespace` backend turns on the cgroup2 hierarchy's
    /// `favordynmods` option (host-wide, until remounted), which makes each
    /// environment's cgroup move cost microseconds instead of an RCU grace
    /// period (10–30 ms of every cold start).
    #[arg(
        long,
        env = "IGNIS_CGROUP_FAVORDYNMODS",
        value_parser = ["on", "off"],
        default_value = "on",
        value_name = "ON_OFF"
    )]
    pub cgroup_favordynmods: String,
    /// Networking of `namespace` environments: `bridge` (own network
    /// namespace, egress through a veth pair and NAT, the host's loopback
    /// unreachable), `none` (own namespace, loopback only), `host` (the
    /// host's network), or `auto` (`bridge` when it can be set up, else
    /// `none`). The `process` backend always uses the host's network.
    #[arg(
        long,
        env = "IGNIS_NETWORK",
        value_parser = ["auto", "bridge", "none", "host"],
        default_value = "auto",
        value_name = "MODE"
    )]
    pub network: String,
    /// Network namespaces (with their veth in `bridge`) kept prepared ahead
    /// of cold starts; a launch that finds none makes one (≈ 1 ms).
    #[arg(
        long,
        env = "IGNIS_NETWORK_POOL_SIZE",
        default_value_t = 4,
        value_name = "N"
    )]
    pub network_pool_size: usize,
    /// Managed runtimes (Python, Node.js, Ruby) started ahead of cold
    /// starts in `namespace` environments, then given their function: up
    /// to N held per kind of runtime, as many as its cold starts of the
    /// last minute; `off` (or 0) starts every environment from scratch.
    #[arg(
        long,
        env = "IGNIS_PREWARM",
        default_value = "4",
        value_parser = parse_prewarm,
        value_name = "N|off"
    )]
    pub prewarm: usize,
}

/// `off` is 0; else a count.
fn parse_prewarm(s: &str) -> Result<usize, String> {
    match s {
        "off" => Ok(0),
        n => n
            .parse()
            .map_err(|_| format!("expected a number or `off`, not `{n}`")),
    }
}

/// How idle execution environments are kept (`--keepalive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// For the idle timeout.
    Fixed,
    /// For a window learned per function.
    Hybrid,
}

fn parse_keepalive(s: &str) -> Result<KeepAlive, String> {
    match s {
        "fixed" => Ok(KeepAlive::Fixed),
        "hybrid" => Ok(KeepAlive::Hybrid),
        other => Err(format!("expected `fixed` or `hybrid`, not `{other}`")),
    }
}

/// `AWS_REGION` when set and not empty, else [`DEFAULT_REGION`].
fn default_region() -> String {
    std::env::var("AWS_REGION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_REGION.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::KeepAlive;
    use crate::{Cli, Command, ServeArgs};

    fn serve(args: &[&str]) -> ServeArgs {
        let argv = ["ignis", "serve"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let args = serve(&[]);
        assert_eq!(args.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(args.data_dir, None);
        assert_eq!(args.memory_budget_mb, None);
        assert_eq!(args.idle_timeout_secs, None);
        assert_eq!(args.keepalive, KeepAlive::Hybrid);
        assert_eq!(args.shutdown_grace_secs, 30);
        assert_eq!(args.log_max_bytes_per_function, 1_048_576);
        assert!(!args.region.is_empty());
        assert_eq!(args.sandbox, "auto");
        assert_eq!(args.cgroup_favordynmods, "on");
        assert_eq!(args.sandbox_root, None);
        assert_eq!(args.network, "auto");
        assert_eq!(args.network_pool_size, 4);
        assert_eq!(args.discovery_root, None);
        assert_eq!(args.url_listen, None);
        assert_eq!(args.url_domain, "localhost");
    }

    #[test]
    fn every_flag_is_read() {
        let args = serve(&[
            "--listen=127.0.0.1:0",
            "--data-dir=/tmp/ignis",
            "--memory-budget-mb=2048",
            "--idle-timeout-secs=5",
            "--keepalive=fixed",
            "--region=eu-west-1",
            "--shutdown-grace-secs=1",
            "--log-max-bytes-per-function=10",
            "--sandbox=namespace",
            "--sandbox-root=/srv/al2023",
            "--cgroup-favordynmods=off",
            "--network=none",
            "--network-pool-size=16",
            "--discovery-root=/tmp/root",
            "--url-listen=127.0.0.1:0",
            "--url-domain=fn.example.com",
        ]);
        assert_eq!(args.url_listen.map(|a| a.port()), Some(0));
        assert_eq!(args.url_domain, "fn.example.com");
        assert_eq!(args.listen.port(), 0);
        assert_eq!(
            args.data_dir.as_deref(),
            Some(std::path::Path::new("/tmp/ignis"))
        );
        assert_eq!(args.memory_budget_mb, Some(2048));
        assert_eq!(args.idle_timeout_secs, Some(5));
        assert_eq!(args.keepalive, KeepAlive::Fixed);
        assert!(Cli::try_parse_from(["ignis", "serve", "--keepalive", "lru"]).is_err());
        assert_eq!(args.region, "eu-west-1");
        assert_eq!(args.shutdown_grace_secs, 1);
        assert_eq!(args.log_max_bytes_per_function, 10);
        assert_eq!(args.sandbox, "namespace");
        assert_eq!(
            args.sandbox_root.as_deref(),
            Some(std::path::Path::new("/srv/al2023"))
        );
        assert_eq!(args.cgroup_favordynmods, "off");
        assert_eq!(args.network, "none");
        assert_eq!(args.network_pool_size, 16);
        assert_eq!(
            args.discovery_root.as_deref(),
            Some(std::path::Path::new("/tmp/root"))
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Cli::try_parse_from(["ignis", "serve", "--listen", "nowhere"]).is_err());
        assert!(Cli::try_parse_from(["ignis", "serve", "--idle-timeout-secs", "-1"]).is_err());
        assert!(Cli::try_parse_from(["ignis", "serve", "--sandbox", "docker"]).is_err());
        assert!(Cli::try_parse_from(["ignis", "serve", "--network", "macvlan"]).is_err());
    }
}

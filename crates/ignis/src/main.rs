//! The `ignis` binary: parses the command line, sets up logging, and runs
//! either the server or a client command.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ignis_cli::{Cli, Command, ServeArgs};
use ignis_server::ServerConfig;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Resolved before any thread starts: the zygote that forks environments
    // must be forked from a single-threaded process.
    let serve = match &cli.command {
        Command::Serve(args) => {
            let mut config = server_config(args.clone());
            config.zygote = ignis_server::start_zygote(config.sandbox);
            Some(config)
        }
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serve {
        Some(config) => {
            init_tracing();
            match runtime.block_on(ignis_server::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => runtime.block_on(ignis_cli::run(cli)),
    }
}

fn server_config(a: ServeArgs) -> ServerConfig {
    let discovery_root = a.discovery_root.clone();
    let keepalive = match a.keepalive {
        ignis_cli::KeepAlive::Fixed => ignis_server::KeepAlive::Fixed,
        ignis_cli::KeepAlive::Hybrid => ignis_server::KeepAlive::Hybrid,
    };
    let mut config = ServerConfig::resolve(
        a.listen,
        a.data_dir,
        a.memory_budget_mb,
        ignis_server::idle_timeout(keepalive, a.idle_timeout_secs),
        a.region,
        Duration::from_secs(a.shutdown_grace_secs),
        usize::try_from(a.log_max_bytes_per_function).unwrap_or(usize::MAX),
        a.strict_runtimes,
        a.runtime_paths,
        &a.sandbox,
        a.sandbox_root,
        a.cgroup_favordynmods == "on",
        &a.network,
        a.network_pool_size,
    );
    if let Some(root) = discovery_root {
        config.discovery_root = root;
    }
    config.keepalive = keepalive;
    config.concurrency_limit = a.concurrency_limit;
    config.prewarm = a.prewarm;
    config.auth = a.auth.as_deref().map(|m| match m {
        "enforce" => ignis_front::AuthMode::Enforce,
        _ => ignis_front::AuthMode::Open,
    });
    config.insecure_open = a.insecure_open;
    config.url_listen = a.url_listen;
    config.url_domain = a.url_domain;
    config
}

/// Logs to stderr; `IGNIS_LOG` (or `RUST_LOG`) sets the filter, default `info`.
fn init_tracing() {
    let filter = std::env::var("IGNIS_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
}

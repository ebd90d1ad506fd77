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
    let runtime = match runtime_builder(serve.is_some()).build() {
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

/// The async runtime. The server's has half as many worker threads as
/// the machine has CPUs (at least one; `TOKIO_WORKER_THREADS` overrides):
/// a warm invoke costs its function at least as much CPU as the server,
/// and every worker beyond what the load needs costs each invoke wake-ups
/// of the idle one (tokio hands it work to steal). With one worker instead
/// of two on 2 vCPUs the server ran ~3 times per warm invoke instead of
/// ~7-9 (docs/architecture.md, "The invoke path").
fn runtime_builder(serve: bool) -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if serve && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        builder.worker_threads((cpus / 2).max(1));
    }
    builder
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
/// Coloured only on a terminal: a log file or journal gets plain text.
fn init_tracing() {
    use std::io::IsTerminal;
    let filter = std::env::var("IGNIS_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

//! The pieces of the `invoke` benchmark (`benches/invoke.rs`): the real
//! `ignis` binary started on an ephemeral port with the echo function
//! deployed ([`server`]), a minimal loopback HTTP/1.1 server answering the
//! same request as a floor ([`floor`]), one load generator measuring both the
//! same way ([`load`]), several servers measured side by side in
//! alternation ([`warm`]), CPU time per request ([`cpu`]), percentiles
//! ([`stats`]) and the printed table with the targets ([`report`]);
//! and for `benches/runtimes.rs` (cold and warm invokes per managed runtime),
//! the runtimes and their echo functions ([`runtimes`]), interpreter
//! start-up floors ([`startup`]); timed cold starts ([`cold`]),
//! shared with `benches/sandbox.rs` (cold start per sandbox backend);
//! for `benches/report.rs` (the performance report of all of them), an
//! environment's memory ([`memory`]); and for `benches/sqs.rs`, the queue
//! loop and its SQLite floor ([`queues`]).
#![deny(missing_docs)]

pub mod client;
pub mod cold;
pub mod cpu;
pub mod floor;
pub mod load;
pub mod memory;
pub mod perf;
pub mod queues;
pub mod report;
pub mod runtimes;
pub mod server;
pub mod settings;
pub mod sqs_http;
pub mod startup;
pub mod stats;
pub mod warm;

/// The `main` of a bench target named `name`: runs `bench` under
/// `cargo bench` (which passes `--bench`); under `cargo test --benches` it only
/// reports that it was skipped, as criterion does.
pub fn run_bench(name: &str, bench: impl FnOnce() -> anyhow::Result<()>) -> std::process::ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("{name}: skipped outside `cargo bench`");
        return std::process::ExitCode::SUCCESS;
    }
    match bench() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs `run` to completion on a single-threaded runtime (the load
/// generators are single-threaded by design) and says how long it took.
pub fn block_on_timed<F: std::future::Future>(
    run: F,
) -> anyhow::Result<(F::Output, std::time::Duration)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let out = runtime.block_on(run);
    Ok((out, started.elapsed()))
}

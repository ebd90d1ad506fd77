//! Warm invoke of the real `ignis` binary next to a loopback HTTP floor.
//!
//! Cases (each measured against both servers, with the same client, in the
//! same run):
//! - `warm latency, 1 client`: p50/p90/p99 of `IGNIS_BENCH_REQUESTS` (2000)
//!   sequential invokes on one keep-alive connection, after a warm-up, in
//!   blocks of 250 alternating between ignis and the floor;
//! - `throughput, 1/4/16 clients`: correct answers per second of a closed
//!   loop of N keep-alive connections for `IGNIS_BENCH_SECS` (3) seconds per
//!   server, in 3 slices alternating between ignis and the floor;
//! - `errors`: any non-200, `X-Amz-Function-Error`, wrong echo or transport
//!   failure, warm-up included;
//! - `CPU/request` (informational): CPU time per request of the latency run,
//!   split between client, server and (ignis) the function's environments;
//! - `cold first invoke` (ignis only, informational): the first invoke after
//!   the function is `Active`;
//! - `the function's share` (informational): latency and throughput of the
//!   same server serving an echo with a minimal Runtime API client
//!   (`IGNIS_MIN_ECHO_BOOTSTRAP`, default `$CARGO_TARGET_DIR/release/min-echo`
//!   from `fixtures/functions/rust-min-echo`; skipped when not built),
//!   measured in the same alternation: what the `lambda_runtime` client
//!   itself costs per invoke.
//!
//! ignis: the release binary (`IGNIS_BIN`, default
//! `$CARGO_TARGET_DIR/release/ignis`) on `127.0.0.1:0` with a temp data dir,
//! serving the `lambda_runtime` echo function (`IGNIS_ECHO_BOOTSTRAP`, default
//! `$CARGO_TARGET_DIR/release/bootstrap`). floor: a hyper HTTP/1.1 server on
//! its own thread echoing the body of the same POST. The table prints both,
//! their ratio and the targets (warm p50 <= 8x floor, 16-client throughput >=
//! 0.1x floor, no errors) as PASS/MISS; a miss does not fail the bench. The
//! run is appended to `benches/runs/<date>.txt` (`IGNIS_BENCH_SAVE=0` skips).
//! `scripts/bench.sh` builds the binaries and runs this.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ignis_bench::client::{post_once, Target};
use ignis_bench::cpu;
use ignis_bench::floor::Floor;
use ignis_bench::report::{self, Results};
use ignis_bench::server::{workspace_root, IgnisProcess};
use ignis_bench::settings;
use ignis_bench::warm::{self, Subject};

/// The function deployed for the bench.
const FUNCTION: &str = "bench-echo";
/// The same echo with a minimal Runtime API client, when built.
const MIN_FUNCTION: &str = "bench-min-echo";
/// Latency requests sent to one server before switching to the other.
const LATENCY_BLOCK: usize = 250;
/// Slices of each throughput run, alternating between the servers.
const THROUGHPUT_SLICES: u32 = 3;
/// Concurrencies of the throughput runs.
const CLIENTS: [usize; 3] = [1, 4, 16];
/// The echo function's MemorySize: one full vCPU, as Lambda sizes CPU by
/// memory. Under the `namespace` sandbox (the default as root) a 128 MB
/// function gets 7 % of a CPU, and the bench would measure that quota, not
/// what Ignis adds to an invocation.
const MEMORY_MB: u32 = 1769;
/// The budget holds an environment per client at 16 clients for both
/// echoes, with room (admission only: an echo itself uses a few MB).
const MEMORY_BUDGET_MB: u64 = 2 * 16 * MEMORY_MB as u64 + 4096;
/// The event: no `op` key, so the echo function returns it unchanged.
const PAYLOAD: &str =
    r#"{"bench":"invoke","id":"0123456789abcdef","items":[1,2,3,4,5],"nested":{"ok":true}}"#;

/// Knobs from the environment.
struct Settings {
    ignis_bin: PathBuf,
    bootstrap: PathBuf,
    min_bootstrap: Option<PathBuf>,
    requests: usize,
    secs: f64,
    runs_dir: Option<PathBuf>,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            ignis_bin: settings::ignis_bin(),
            bootstrap: settings::echo_bootstrap(),
            min_bootstrap: settings::min_echo_bootstrap()?,
            requests: settings::positive("IGNIS_BENCH_REQUESTS", 2000)?,
            secs: settings::positive("IGNIS_BENCH_SECS", 3.0)?,
            runs_dir: settings::runs_dir(),
        })
    }
}

fn main() -> ExitCode {
    ignis_bench::run_bench("invoke", bench)
}

fn bench() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let workspace = workspace_root();
    let machine = report::machine(&workspace);
    let (results, _) = ignis_bench::block_on_timed(run(&settings))?;
    let results = results?;

    let text = format!("{machine}\n{}", report::table(&results));
    report::print_and_store(&text, settings.runs_dir.as_deref());
    Ok(())
}

async fn run(settings: &Settings) -> anyhow::Result<Results> {
    let duration = Duration::from_secs_f64(settings.secs);

    progress(format_args!("starting {}", settings.ignis_bin.display()));
    let ignis = IgnisProcess::start(&settings.ignis_bin, MEMORY_BUDGET_MB)?;
    progress(format_args!(
        "deploying {} as {FUNCTION}",
        settings.bootstrap.display()
    ));
    if let Err(e) = ignis
        .deploy(FUNCTION, &settings.bootstrap, MEMORY_MB.into())
        .await
    {
        anyhow::bail!("{e:#}\nserver stderr:\n{}", ignis.stderr_tail());
    }
    let ignis_target = Arc::new(Target {
        addr: ignis.addr(),
        path: format!("/2015-03-31/functions/{FUNCTION}/invocations"),
        payload: Bytes::from_static(PAYLOAD.as_bytes()),
    });
    let start = Instant::now();
    if let Err(e) = post_once(&ignis_target).await {
        anyhow::bail!(
            "first invoke failed: {e:#}\nserver stderr:\n{}",
            ignis.stderr_tail()
        );
    }
    let cold_invoke = start.elapsed();
    let min_target = match &settings.min_bootstrap {
        Some(path) => {
            progress(format_args!(
                "deploying {} as {MIN_FUNCTION}",
                path.display()
            ));
            if let Err(e) = ignis.deploy(MIN_FUNCTION, path, MEMORY_MB.into()).await {
                anyhow::bail!("{e:#}\nserver stderr:\n{}", ignis.stderr_tail());
            }
            Some(Arc::new(Target {
                path: format!("/2015-03-31/functions/{MIN_FUNCTION}/invocations"),
                ..(*ignis_target).clone()
            }))
        }
        None => {
            progress(format_args!(
                "no minimal-client echo built (cargo build --release -p ignis-fixture-min-echo): its rows are skipped"
            ));
            None
        }
    };
    let floor = Floor::start()?;
    progress(format_args!(
        "ignis on {}, floor on {}",
        ignis.addr(),
        floor.addr()
    ));

    let ignis_cpu = || {
        cpu::Sample::take(|| {
            let (server, function) = ignis.cpu_ns();
            (server, Some(function))
        })
    };
    let floor_target = Arc::new(Target {
        addr: floor.addr(),
        ..(*ignis_target).clone()
    });
    let mut subjects = vec![
        Subject::new("ignis", ignis_target.clone(), ignis_cpu),
        Subject::new("floor", floor_target, || {
            cpu::Sample::take(|| (floor.cpu_ns(), None))
        }),
    ];
    if let Some(target) = min_target {
        subjects.push(Subject::new("ignis (minimal client)", target, ignis_cpu));
    }

    warm::warm_up(&mut subjects, 16, Duration::from_secs(1), 200, progress).await?;
    warm::latency_alternating(&mut subjects, settings.requests, LATENCY_BLOCK, progress).await?;
    warm::throughput_alternating(
        &mut subjects,
        &CLIENTS,
        duration,
        THROUGHPUT_SLICES,
        progress,
    )
    .await?;
    // After the 16-client runs, the last concurrency.
    let environments = ignis.environments();
    let server_peak_rss_kib = ignis.peak_rss_kib();
    let sandbox = ignis.sandbox().to_string();

    let mut sides = subjects
        .into_iter()
        .map(|s| s.side(settings.requests))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter();
    let (Some(ignis_side), Some(floor_side)) = (sides.next(), sides.next()) else {
        anyhow::bail!("ignis and the floor are always measured");
    };
    let minimal_side = sides.next();
    drop(floor);
    if let Err(e) = ignis.stop() {
        eprintln!("warning: {e:#}");
    }
    Ok(Results {
        ignis: ignis_side,
        floor: floor_side,
        minimal: minimal_side,
        cold_invoke,
        environments,
        server_peak_rss_kib,
        config: format!(
            "requests={} (blocks of {LATENCY_BLOCK}, alternating) secs={} (in {THROUGHPUT_SLICES} alternating slices) clients={CLIENTS:?} payload={}B memory={MEMORY_MB}MB budget={MEMORY_BUDGET_MB}MB client=hyper-1-http1-keepalive-nodelay(current_thread) floor=hyper-1-http1(current_thread,own thread) server=[{sandbox}]",
            settings.requests,
            settings.secs,
            PAYLOAD.len()
        ),
    })
}

fn progress(msg: std::fmt::Arguments<'_>) {
    eprintln!("invoke: {msg}");
}

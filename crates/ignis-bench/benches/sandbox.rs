//! Cold-start cost of the `namespace` sandbox next to `process`, for the
//! same function, measured in one run.
//!
//! Two release `ignis` servers run side by side, one with `--sandbox
//! process`, one with `--sandbox namespace` (root only: without root the
//! bench prints why it skips). Each serves the `lambda_runtime` echo
//! `bootstrap` (`provided.al2023`, `IGNIS_ECHO_BOOTSTRAP`) once per memory
//! size: 128 MB (7 % of a CPU, as on Lambda), 1,769 MB (one vCPU) and
//! 3,538 MB (two). Cases, per memory size and backend:
//! - `cold`: wall time of the first invoke of a fresh environment (forced
//!   by UpdateFunctionConfiguration changing a variable, then `Successful`),
//!   p50/p90 over `IGNIS_BENCH_COLD` (40) cold starts;
//! - `init`: the REPORT line's `Init Duration` of the same invokes.
//!
//! The cold starts alternate between the backends and memory sizes (the
//! order flips every round), so both see the same background load. The
//! table shows p50/p90 of each and the namespace − process difference
//! against the issue's target (≤ 2 ms added at p50; a miss does not fail
//! the bench). The run is appended to `benches/runs/<date>.txt`
//! (`IGNIS_BENCH_SAVE=0` skips).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use ignis_bench::cold::{init_duration, invoke_checked, ms, COLD_VAR};
use ignis_bench::report;
use ignis_bench::server::{workspace_root, zip_bootstrap, IgnisProcess};
use ignis_bench::settings;
use ignis_bench::stats::Percentiles;

/// Memory sizes measured, MB.
const SIZES: [i64; 3] = [128, 1769, 3538];
/// Each server's memory budget: one environment per size, plus room for
/// those being retired.
const MEMORY_BUDGET_MB: u64 = 16_384;
/// Cold starts per case before the measured ones.
const WARMUP: usize = 3;
/// The target: namespace adds at most this much at p50.
const TARGET: Duration = Duration::from_millis(2);
/// The event; the echo function returns it unchanged.
const PAYLOAD: &str = r#"{"bench":"sandbox"}"#;
/// The backends, as `--sandbox` names them.
const BACKENDS: [&str; 2] = ["process", "namespace"];

struct Settings {
    ignis_bin: PathBuf,
    bootstrap: PathBuf,
    cold: usize,
    runs_dir: Option<PathBuf>,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            ignis_bin: settings::ignis_bin(),
            bootstrap: settings::echo_bootstrap(),
            cold: settings::positive("IGNIS_BENCH_COLD", 40)?,
            runs_dir: settings::runs_dir(),
        })
    }
}

/// The samples of one (memory size, backend) case.
#[derive(Default)]
struct Samples {
    cold: Vec<Duration>,
    init: Vec<Duration>,
}

fn main() -> ExitCode {
    ignis_bench::run_bench("sandbox", bench)
}

fn bench() -> anyhow::Result<()> {
    // The effective uid (second field of `Uid:`), read without libc.
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false);
    if !root {
        eprintln!("sandbox: skipped (the namespace backend needs root)");
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let machine = report::machine(&workspace_root());
    let (body, took) = ignis_bench::block_on_timed(run(&settings))?;
    let body = body?;
    let text = format!(
        "bench: sandbox (cold start, namespace vs process, same function, one run)\n{machine}\n{body}run took {:.0} s; config: cold={} (after {WARMUP} warm-up per case, alternating backends and sizes) function=provided.al2023 lambda_runtime echo (release, stripped) cold-start=UpdateFunctionConfiguration({COLD_VAR}) then first invoke (ignis-client, LogType=Tail)\n",
        took.as_secs_f64(),
        settings.cold,
    );
    report::print_and_store(&text, settings.runs_dir.as_deref());
    Ok(())
}

async fn run(settings: &Settings) -> anyhow::Result<String> {
    let scratch = tempfile::Builder::new()
        .prefix("ignis-bench-sandbox-")
        .tempdir()?;
    let zip = zip_bootstrap(&settings.bootstrap, scratch.path())?;
    let mut servers = Vec::new();
    let mut started = String::new();
    for backend in BACKENDS {
        let flag = format!("--sandbox={backend}");
        let server = IgnisProcess::start_with(&settings.ignis_bin, MEMORY_BUDGET_MB, &[&flag])?;
        let _ = writeln!(started, "{backend} server: {}", server.sandbox());
        for mb in SIZES {
            server
                .deploy_zip(&name(mb), &zip, "provided.al2023", "bootstrap", mb)
                .await?;
        }
        servers.push(server);
    }
    let clients = servers
        .iter()
        .map(IgnisProcess::client)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut samples: Vec<Vec<Samples>> = SIZES
        .iter()
        .map(|_| BACKENDS.iter().map(|_| Samples::default()).collect())
        .collect();
    for i in 0..WARMUP + settings.cold {
        for (s, mb) in SIZES.iter().enumerate() {
            for k in 0..BACKENDS.len() {
                // The order flips every round and size.
                let b = (k + i + s) % BACKENDS.len();
                let (server, client) = (&servers[b], &clients[b]);
                let name = name(*mb);
                server.set_env(&name, COLD_VAR, &i.to_string()).await?;
                let start = Instant::now();
                let tail = invoke_checked(client, &name, PAYLOAD)
                    .await
                    .with_context(|| {
                        format!("{} server:\n{}", BACKENDS[b], server.stderr_tail())
                    })?;
                let took = start.elapsed();
                if i >= WARMUP {
                    samples[s][b].cold.push(took);
                    samples[s][b].init.extend(init_duration(&tail));
                }
            }
        }
    }
    for server in servers {
        if let Err(e) = server.stop() {
            eprintln!("warning: {e:#}");
        }
    }
    Ok(format!("{started}{}", table(&samples)))
}

fn name(memory_mb: i64) -> String {
    format!("bench-sandbox-{memory_mb}")
}

/// One block per memory size: both backends' p50/p90 and the difference.
fn table(samples: &[Vec<Samples>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<22} {:>10} {:>10} {:>10} {:>10}",
        "memory", "metric", "process", "namespace", "added", "n"
    );
    let mut verdicts = Vec::new();
    for (mb, by_backend) in SIZES.iter().zip(samples) {
        let [process, namespace] = [&by_backend[0], &by_backend[1]];
        let rows = [
            ("cold start", &process.cold, &namespace.cold),
            ("Init Duration", &process.init, &namespace.init),
        ];
        for (metric, p, n) in rows {
            let (Some(p), Some(n)) = (Percentiles::of(p), Percentiles::of(n)) else {
                continue;
            };
            for (label, a, b) in [("p50", p.p50, n.p50), ("p90", p.p90, n.p90)] {
                let _ = writeln!(
                    out,
                    "{:<8} {:<22} {:>10} {:>10} {:>10} {:>10}",
                    format!("{mb} MB"),
                    format!("{metric} {label}"),
                    ms(a),
                    ms(b),
                    signed_ms(a, b),
                    p.count.min(n.count)
                );
            }
            if metric == "cold start" {
                let added = n.p50.saturating_sub(p.p50);
                let verdict = if added <= TARGET { "PASS" } else { "MISS" };
                verdicts.push(format!(
                    "{mb} MB: namespace adds {} at p50 (target <= {}): {verdict}",
                    signed_ms(p.p50, n.p50),
                    ms(TARGET)
                ));
            }
        }
    }
    for v in verdicts {
        let _ = writeln!(out, "{v}");
    }
    out
}

/// `b - a` with its sign, in ms.
fn signed_ms(a: Duration, b: Duration) -> String {
    let d = (b.as_secs_f64() - a.as_secs_f64()) * 1e3;
    format!("{d:+.2} ms")
}

//! Cold starts and warm invokes per runtime of the real `ignis` binary, next
//! to the start-up of the runtime's interpreter measured in the same run.
//!
//! Cases, for each runtime the node can run (`GET /ignis/v1/runtimes`,
//! `Available: true`), each with a tiny echo handler written at run time:
//! - `provided.al2023`: the release `lambda_runtime` echo `bootstrap`
//!   (`IGNIS_ECHO_BOOTSTRAP`); floor: fork+exec of `/bin/true`;
//! - the newest `python3.x` running on its own version: `handler.py`,
//!   `def main(event, context): return event`; floor: `<interpreter> -S -c
//!   pass` with the interpreter the runtime uses;
//! - `nodejs20.x`: `index.mjs`, `export const handler = async (e) => e`;
//!   floor: `node -e 0`;
//! - the first available `ruby3.x`: `lambda_function.rb`; floor: `ruby -e 0`;
//! - `java17` (waited for, bounded: its client compiles once per machine in
//!   the background at server start): a POJO handler compiled with `javac`
//!   at bench time (skipped with the reason printed when `javac` is
//!   missing); floor: `java -version`.
//!
//! Per runtime: `cold`: wall time of the first invoke of a fresh
//! environment, p50/p90 over `IGNIS_BENCH_COLD` (20) cold starts, each
//! forced by UpdateFunctionConfiguration changing an environment variable
//! (then `LastUpdateStatus: Successful`), with the REPORT line's `Init
//! Duration` from the `X-Amz-Log-Result` tail; `warm`: p50/p90 of
//! `IGNIS_BENCH_WARM` (300) sequential invokes on one keep-alive connection;
//! `floor`: p50/p90 of `IGNIS_BENCH_FLOOR_RUNS` (20) starts of the
//! interpreter doing nothing; `cold/floor`: the ratio of the p50s. The run is
//! appended to `benches/runs/<date>.txt` (`IGNIS_BENCH_SAVE=0` skips).
//! `scripts/bench.sh` builds the binaries and runs this after `invoke`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use ignis_bench::client::Target;
use ignis_bench::cold::{cold_starts, invoke_checked, ms, COLD_VAR};
use ignis_bench::load::latency;
use ignis_bench::report;
use ignis_bench::runtimes::{self, EchoFunction, JAVA_MEMORY_MB, MEMORY_MB};
use ignis_bench::server::{workspace_root, IgnisProcess};
use ignis_bench::settings;
use ignis_bench::startup::time_runs;
use ignis_bench::stats::Percentiles;
use ignis_client::Client;
use ignis_model::runtime::RuntimeInfo;

/// Memory all environments may use: one function at a time, with room for
/// environments still being retired.
const MEMORY_BUDGET_MB: u64 = 4096;
/// Warm invokes before the measured ones.
const WARMUP: usize = 30;
/// The event; every handler returns it unchanged.
const PAYLOAD: &str =
    r#"{"bench":"runtimes","id":"0123456789abcdef","items":["a","b"],"nested":{"ok":true}}"#;

/// Knobs from the environment.
struct Settings {
    ignis_bin: PathBuf,
    bootstrap: PathBuf,
    cold: usize,
    warm: usize,
    floor_runs: usize,
    runs_dir: Option<PathBuf>,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            ignis_bin: settings::ignis_bin(),
            bootstrap: settings::echo_bootstrap(),
            cold: settings::positive("IGNIS_BENCH_COLD", 20)?,
            warm: settings::positive("IGNIS_BENCH_WARM", 300)?,
            floor_runs: settings::positive("IGNIS_BENCH_FLOOR_RUNS", 20)?,
            runs_dir: settings::runs_dir(),
        })
    }
}

/// One runtime to measure.
struct Case {
    /// The echo function.
    function: EchoFunction,
    /// The floor's program and arguments, and how it is shown.
    floor: (PathBuf, Vec<&'static str>),
    floor_label: String,
}

/// What one case measured.
struct Measured {
    cold: Percentiles,
    init: Option<Percentiles>,
    warm: Percentiles,
    warm_errors: u64,
    floor: Percentiles,
}

fn main() -> ExitCode {
    ignis_bench::run_bench("runtimes", bench)
}

fn bench() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let machine = report::machine(&workspace_root());
    let (body, took) = ignis_bench::block_on_timed(run(&settings))?;
    let body = body?;
    let text = format!(
        "bench: runtimes (cold start, warm invoke, interpreter start-up floor)\n{machine}\n{body}run took {:.0} s; config: cold={} warm={} (after {WARMUP} warm-up) floor_runs={} payload={}B budget={MEMORY_BUDGET_MB}MB memory={MEMORY_MB}MB (java {JAVA_MEMORY_MB}MB) cold-start=UpdateFunctionConfiguration({COLD_VAR}) then first invoke (ignis-client, LogType=Tail) warm-client=hyper-1-http1-keepalive-nodelay(current_thread)\n",
        took.as_secs_f64(),
        settings.cold,
        settings.warm,
        settings.floor_runs,
        PAYLOAD.len(),
    );
    report::print_and_store(&text, settings.runs_dir.as_deref());
    Ok(())
}

async fn run(settings: &Settings) -> anyhow::Result<String> {
    progress(format_args!("starting {}", settings.ignis_bin.display()));
    let ignis = IgnisProcess::start(&settings.ignis_bin, MEMORY_BUDGET_MB)?;
    let client = ignis.client()?;
    let scratch = tempfile::Builder::new()
        .prefix("ignis-bench-runtimes-")
        .tempdir()?;

    let true_runs = time_runs(Path::new("/bin/true"), &[], settings.floor_runs)?;
    let fork_exec = Percentiles::of(&true_runs).context("no /bin/true runs")?;
    progress(format_args!(
        "fork+exec /bin/true: p50 {}",
        ms(fork_exec.p50)
    ));

    let mut out = format!("server: {}\n", ignis.sandbox());
    let mut summary = Vec::new();
    let mut skipped = Vec::new();
    let list = client.runtimes().await?.runtimes;
    for label in runtimes::LABELS {
        let info = match runtimes::resolve(&client, &list, label, progress).await {
            Ok(info) => info,
            Err(reason) => {
                skipped.push(format!("{label}: skipped ({reason})"));
                continue;
            }
        };
        let case = match prepare(settings, &info, scratch.path()) {
            Ok(case) => case,
            Err(e) => {
                skipped.push(format!("{label}: skipped ({e:#})"));
                continue;
            }
        };
        progress(format_args!(
            "{}: runs on {}, handler {}",
            case.function.runtime, case.function.runs_on, case.function.handler
        ));
        let measured = match measure(settings, &ignis, &client, &case).await {
            Ok(m) => m,
            Err(e) => bail!(
                "{}: {e:#}\nserver stderr:\n{}",
                case.function.runtime,
                ignis.stderr_tail()
            ),
        };
        out.push_str(&table(&case, &measured));
        out.push('\n');
        summary.push((case.function.runtime.clone(), measured));
    }
    out.push_str(&summary_table(&summary, &fork_exec));
    for s in &skipped {
        let _ = writeln!(out, "{s}");
        progress(format_args!("{s}"));
    }
    if let Err(e) = ignis.stop() {
        eprintln!("warning: {e:#}");
    }
    Ok(out)
}

/// The echo function of a runtime and its floor.
fn prepare(settings: &Settings, info: &RuntimeInfo, scratch: &Path) -> anyhow::Result<Case> {
    let function = runtimes::echo_function(info, &settings.bootstrap, scratch)?;
    let (floor, floor_label) = match function.interpreter_floor()? {
        Some((program, args, label)) => ((program, args), label),
        None => (
            (PathBuf::from("/bin/true"), Vec::new()),
            "fork+exec /bin/true".to_string(),
        ),
    };
    Ok(Case {
        function,
        floor,
        floor_label,
    })
}

/// Cold starts, warm invokes and the floor of one case; the function is
/// deleted afterwards.
async fn measure(
    settings: &Settings,
    ignis: &IgnisProcess,
    client: &Client,
    case: &Case,
) -> anyhow::Result<Measured> {
    let name = format!("bench-{}", case.function.runtime.replace('.', "-"));
    ignis
        .deploy_zip(
            &name,
            &case.function.zip,
            &case.function.runtime,
            &case.function.handler,
            case.function.memory_mb,
        )
        .await?;

    // The first invoke after create is a cold start too, but also the first
    // time this process loads the interpreter's files: untimed.
    invoke_checked(client, &name, PAYLOAD).await?;
    let run = cold_starts(ignis, client, &name, PAYLOAD, settings.cold).await?;
    let cold = Percentiles::of(&run.cold).context("no cold starts")?;
    let init = Percentiles::of(&run.init);
    progress(format_args!(
        "{}: cold p50 {} p90 {}, init p50 {}",
        case.function.runtime,
        ms(cold.p50),
        ms(cold.p90),
        init.map_or_else(|| "-".into(), |p| ms(p.p50))
    ));

    let target = Target {
        addr: ignis.addr(),
        path: format!("/2015-03-31/functions/{name}/invocations"),
        payload: Bytes::from_static(PAYLOAD.as_bytes()),
    };
    let warmup = latency(&target, WARMUP).await?;
    let run = latency(&target, settings.warm).await?;
    let warm = Percentiles::of(&run.samples).context("no warm invoke answered correctly")?;
    progress(format_args!(
        "{}: warm p50 {} p90 {} ({} errors)",
        case.function.runtime,
        ms(warm.p50),
        ms(warm.p90),
        run.errors + warmup.errors
    ));

    let (program, args) = &case.floor;
    let floor = Percentiles::of(&time_runs(program, args, settings.floor_runs)?)
        .context("no floor runs")?;
    progress(format_args!(
        "{}: floor {} p50 {}",
        case.function.runtime,
        case.floor_label,
        ms(floor.p50)
    ));

    if let Err(e) = client.delete_function(&name).await {
        eprintln!("warning: delete {name}: {e}");
    }
    Ok(Measured {
        cold,
        init,
        warm,
        warm_errors: run.errors + warmup.errors,
        floor,
    })
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "-".into()
    } else {
        format!("{:.1}x", a.as_secs_f64() / b.as_secs_f64())
    }
}

/// The table of one runtime.
fn table(case: &Case, m: &Measured) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "runtime {} (runs on {}, handler {}, {} MB)",
        case.function.runtime,
        case.function.runs_on,
        case.function.handler,
        case.function.memory_mb
    );
    let _ = writeln!(
        out,
        "{:<36} {:>10} {:>10} {:>6}",
        "metric", "p50", "p90", "n"
    );
    let mut row = |name: &str, p: &Percentiles| {
        let _ = writeln!(
            out,
            "{name:<36} {:>10} {:>10} {:>6}",
            ms(p.p50),
            ms(p.p90),
            p.count
        );
    };
    row("cold start (first invoke)", &m.cold);
    if let Some(init) = &m.init {
        row("Init Duration (REPORT)", init);
    }
    row("warm invoke", &m.warm);
    row(&format!("floor: {}", case.floor_label), &m.floor);
    let _ = writeln!(
        out,
        "{:<36} {:>10}",
        "cold/floor (p50)",
        ratio(m.cold.p50, m.floor.p50)
    );
    let _ = writeln!(out, "{:<36} {:>10}", "warm errors", m.warm_errors);
    out
}

/// One line per runtime, and the fork+exec floor.
fn summary_table(rows: &[(String, Measured)], fork_exec: &Percentiles) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "summary",
        "cold p50",
        "cold p90",
        "init p50",
        "warm p50",
        "warm p90",
        "floor p50",
        "cold/floor"
    );
    for (runtime, m) in rows {
        let _ = writeln!(
            out,
            "{runtime:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            ms(m.cold.p50),
            ms(m.cold.p90),
            m.init.map_or_else(|| "-".into(), |p| ms(p.p50)),
            ms(m.warm.p50),
            ms(m.warm.p90),
            ms(m.floor.p50),
            ratio(m.cold.p50, m.floor.p50)
        );
    }
    let _ = writeln!(
        out,
        "fork+exec /bin/true: p50 {} p90 {} (n={})",
        ms(fork_exec.p50),
        ms(fork_exec.p90),
        fork_exec.count
    );
    out
}

fn progress(args: std::fmt::Arguments<'_>) {
    eprintln!("runtimes: {args}");
}

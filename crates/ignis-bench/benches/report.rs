//! The performance report: every figure of issue 16 measured in one run,
//! side by side with its floor, and the issue's targets as MET/MISS.
//!
//! Sections (`IGNIS_BENCH_ONLY=floors,warm,cold,burst,memory` runs some;
//! default all):
//! - `floors`: a loopback HTTP exchange with the minimal hyper server
//!   ([`Floor`]) and the same client (p50/p90/p99, throughput at 1/4/16/64
//!   clients, the floor server's CPU per exchange); fork+exec of a static
//!   no-op (built with `rustc -C target-feature=+crt-static`) and of
//!   `/bin/true`; `python3 -S -c pass`, `python3 -c pass`, `node -e 0`,
//!   `ruby -e 0` and `java -version` with the interpreters the runtimes
//!   endpoint names;
//! - `warm`: the `lambda_runtime` echo, the minimal Runtime-API echo and
//!   Python and Node.js echo handlers on Ignis's runtime clients (1,769 MB:
//!   one vCPU), measured in alternation with the HTTP floor: p50/p90/p99 at
//!   one client, throughput at 1/4/16/64 clients, CPU per invoke of the
//!   server, of what runs below it and of the client;
//! - `cold`: `IGNIS_BENCH_COLD` (30) cold starts per runtime (Invoke to
//!   answer, each after UpdateFunctionConfiguration retired the
//!   environments), p50/p90 and the REPORT's `Init Duration`;
//! - `burst`: `IGNIS_BENCH_BURST` (100) distinct Python functions, never
//!   invoked, invoked at once by as many connections: the time until all
//!   answered;
//! - `memory`: USS and PSS of the idle warm environment each runtime's
//!   first invoke left (its processes' `smaps_rollup`), and the warm
//!   server's RSS before and after the load.
//!
//! `cold`, `burst` and `memory` run on a server of their own; with
//! `IGNIS_BENCH_AB=prewarm` twice, once with `IGNIS_PREWARM=off`
//! (`before`) and once with the default (`after`). The table goes to
//! stdout and is appended to `benches/runs/<date>.txt`; the JSON to
//! `benches/runs/report-<date>T<time>Z.json` (`IGNIS_BENCH_SAVE=0` skips
//! both). `docs/performance.md` explains how to read it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use ignis_bench::client::{post_once, Conn, Outcome, Target};
use ignis_bench::cold::{cold_starts_between, invoke_checked};
use ignis_bench::cpu;
use ignis_bench::floor::Floor;
use ignis_bench::memory::{code_id, function_environments, Footprint};
use ignis_bench::perf::{self, ms, round, Section, Variant, Verdict};
use ignis_bench::report::{self, CpuTimes, Machine, Side};
use ignis_bench::runtimes::{self, EchoFunction};
use ignis_bench::server::{workspace_root, zip_files, IgnisProcess, Package};
use ignis_bench::settings;
use ignis_bench::startup::{floor_command, static_noop, time_once, time_runs, PYTHON_WITH_SITE};
use ignis_bench::stats::Percentiles;
use ignis_bench::warm::{self, Subject};
use ignis_client::Client;
use ignis_model::runtime::RuntimeInfo;
use serde_json::{json, Value};

/// The event; every echo returns it unchanged.
const PAYLOAD: &str =
    r#"{"bench":"report","id":"0123456789abcdef","items":[1,2,3,4,5],"nested":{"ok":true}}"#;
/// MemorySize of the warm functions: one full vCPU (Lambda sizes CPU by
/// memory; at 128 MB the `namespace` sandbox gives 7 % of a CPU).
const WARM_MEMORY_MB: i64 = 1769;
/// Concurrencies of the throughput runs.
const CLIENTS: [usize; 4] = [1, 4, 16, 64];
/// Latency requests sent to one subject before switching to the next.
const LATENCY_BLOCK: usize = 250;
/// Slices of each throughput run, alternating between the subjects.
const THROUGHPUT_SLICES: u32 = 2;
/// The warm server's budget: an environment per client at 64 clients for
/// the four functions (admission only; an echo uses a few MB).
const WARM_BUDGET_MB: u64 = 4 * 64 * WARM_MEMORY_MB as u64 + 4096;
/// Room beside the burst's functions in the cold server's budget, MB.
const COLD_BUDGET_ROOM_MB: u64 = 8192;
/// How long the floor run after a cold start waits at most for the server
/// to be idle.
const IDLE_WAIT: Duration = Duration::from_secs(2);
/// How long an environment sits idle after its first invoke before its
/// memory is read.
const IDLE_SETTLE: Duration = Duration::from_millis(500);

/// Knobs from the environment.
struct Settings {
    ignis_bin: PathBuf,
    bootstrap: PathBuf,
    min_bootstrap: Option<PathBuf>,
    sections: Vec<Section>,
    variants: Vec<Variant>,
    requests: usize,
    secs: f64,
    cold: usize,
    floor_runs: usize,
    burst: usize,
    runs_dir: Option<PathBuf>,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok();
        Ok(Self {
            ignis_bin: settings::ignis_bin(),
            bootstrap: settings::echo_bootstrap(),
            min_bootstrap: settings::min_echo_bootstrap()?,
            sections: perf::sections(var("IGNIS_BENCH_ONLY").as_deref())?,
            variants: perf::variants(var("IGNIS_BENCH_AB").as_deref())?,
            requests: settings::positive("IGNIS_BENCH_REQUESTS", 2000)?,
            secs: settings::positive("IGNIS_BENCH_SECS", 2.0)?,
            cold: settings::positive("IGNIS_BENCH_COLD", 30)?,
            floor_runs: settings::positive("IGNIS_BENCH_FLOOR_RUNS", 20)?,
            burst: settings::positive("IGNIS_BENCH_BURST", 100)?,
            runs_dir: settings::runs_dir(),
        })
    }

    fn has(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    fn config(&self) -> Value {
        json!({
            "sections": self.sections.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "variants": self.variants.iter().map(|v| json!({
                "name": v.name,
                "env": v.env.iter().map(|(k, val)| format!("{k}={val}")).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "requests": self.requests,
            "latency_block": LATENCY_BLOCK,
            "secs_per_concurrency": self.secs,
            "throughput_slices": THROUGHPUT_SLICES,
            "clients": CLIENTS,
            "cold_starts": self.cold,
            "floor_runs": self.floor_runs,
            "burst_functions": self.burst,
            "payload_bytes": PAYLOAD.len(),
            "warm_memory_mb": WARM_MEMORY_MB,
            "managed_memory_mb": runtimes::MEMORY_MB,
            "java_memory_mb": runtimes::JAVA_MEMORY_MB,
            "client": "hyper-1-http1-keepalive-nodelay(current_thread)",
            "floor_server": "hyper-1-http1(current_thread, own thread)",
            "cold_start": "UpdateFunctionConfiguration(IGNIS_BENCH_COLD) then first invoke (ignis-client, LogType=Tail)",
        })
    }
}

/// A process start-up floor.
struct ProcFloor {
    /// Its key in the JSON.
    key: &'static str,
    /// The command, as shown.
    label: String,
    program: PathBuf,
    args: Vec<&'static str>,
    runs: Percentiles,
}

/// One warm function's measurements.
struct WarmFunction {
    name: &'static str,
    runtime: String,
    side: Side,
}

/// One runtime's cold starts.
struct ColdRuntime {
    runtime: String,
    language: String,
    cold: Percentiles,
    init: Option<Percentiles>,
    /// The runtime's floor run once after each cold start (same
    /// background load): its key and runs.
    floor: Option<(&'static str, Percentiles)>,
}

/// The idle warm environment one runtime's first invoke left.
struct EnvMemory {
    runtime: String,
    language: String,
    /// Environments of the function found (1 expected).
    found: usize,
    footprint: Footprint,
}

/// Distinct cold functions invoked at once.
struct Burst {
    runtime: String,
    functions: usize,
    /// From the first request sent to the last answer.
    all_answered: Duration,
    /// Each request's time, answered correctly.
    each: Option<Percentiles>,
    /// The requests not answered with the event: what came back.
    failures: Vec<String>,
}

/// What a cold-start server measured.
struct VariantRun {
    variant: Variant,
    sandbox: String,
    cold: Vec<ColdRuntime>,
    memory: Vec<EnvMemory>,
    burst: Option<Burst>,
}

/// The warm server's RSS, KiB.
struct ServerMemory {
    idle: Option<u64>,
    after_load: Option<u64>,
    peak: Option<u64>,
}

/// Everything a run measured.
#[derive(Default)]
struct Measured {
    warm_sandbox: String,
    http: Option<Side>,
    procs: Vec<ProcFloor>,
    static_how: String,
    warm: Vec<WarmFunction>,
    server_memory: Option<ServerMemory>,
    variants: Vec<VariantRun>,
    skipped: Vec<String>,
}

#[path = "report/render.rs"]
mod render;

fn main() -> ExitCode {
    ignis_bench::run_bench("report", bench)
}

fn bench() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let workspace = workspace_root();
    let machine = Machine::now(&workspace);
    let cpu_before = CpuTimes::now();
    let own_before = cpu::process_ns(std::process::id());
    let (measured, took) = ignis_bench::block_on_timed(run(&settings))?;
    let measured = measured?;
    // How busy the machine was during the run, and how much of it was
    // this bench process (its load generator; the floor server's thread
    // is gone by now).
    let busy = cpu_before
        .zip(CpuTimes::now())
        .and_then(|(before, after)| after.busy_percent_since(&before));
    let nproc = machine.nproc.max(1) as f64;
    let own = 100.0 * (cpu::process_ns(std::process::id()).saturating_sub(own_before)) as f64
        / 1e9
        / took.as_secs_f64().max(f64::EPSILON)
        / nproc;

    let render::Out {
        table,
        verdicts,
        mut json,
    } = render::render(&measured);
    let mut machine_json = json!({
        "date": machine.date,
        "revision": machine.revision,
        "uncommitted_changes": machine.dirty,
        "nproc": machine.nproc,
        "cpu": machine.cpu,
        "kernel": machine.kernel,
        "memory_mib": machine.memory_mib,
        "load_average": machine.load,
        "cpu_busy_percent_before": machine.busy_percent.map(|p| round(p, 1)),
        "cpu_busy_percent_during": busy.map(|p| round(p, 1)),
        "cpu_percent_during_bench_process": round(own, 1),
        "warm_server": measured.warm_sandbox,
    });
    for v in &measured.variants {
        machine_json[format!("{}_server", v.variant.name)] = json!(v.sandbox);
    }
    json.insert("machine".into(), machine_json);
    json.insert("config".into(), settings.config());
    json.insert("run_secs".into(), json!(round(took.as_secs_f64(), 1)));
    json.insert(
        "verdicts".into(),
        Value::Array(verdicts.iter().map(Verdict::to_json).collect()),
    );
    json.insert("skipped".into(), json!(measured.skipped));

    let mut text = format!(
        "bench: report (issue 16: floors, warm, cold, burst, memory; one run)\n{}\n",
        machine.header()
    );
    let _ = writeln!(
        text,
        "CPU busy during the run: {} (the bench process itself: {own:.0}%)",
        busy.map_or_else(|| "unknown".into(), |p| format!("{p:.0}%"))
    );
    let _ = writeln!(text, "warm server: {}", measured.warm_sandbox);
    for v in &measured.variants {
        let env = v
            .variant
            .env
            .iter()
            .map(|(k, val)| format!("{k}={val} "))
            .collect::<String>();
        let _ = writeln!(
            text,
            "{} server ({env}ignis serve): {}",
            v.variant.name, v.sandbox
        );
    }
    if !measured.static_how.is_empty() {
        let _ = writeln!(text, "fork+exec static: {}", measured.static_how);
    }
    text.push('\n');
    text.push_str(&table.render(&verdicts));
    for s in &measured.skipped {
        let _ = writeln!(text, "skipped: {s}");
    }
    let stamp = machine.date.replace(':', "");
    if let Some(dir) = &settings.runs_dir {
        match perf::store_json(dir, &stamp, &Value::Object(json)) {
            Ok(path) => {
                let _ = writeln!(text, "json: {}", display_rel(&path, &workspace));
            }
            Err(e) => eprintln!("could not store the JSON in {}: {e}", dir.display()),
        }
    }
    let _ = writeln!(
        text,
        "run took {:.0} s; sections {:?}",
        took.as_secs_f64(),
        settings
            .sections
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
    );
    report::print_and_store(&text, settings.runs_dir.as_deref());
    Ok(())
}

fn display_rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

async fn run(settings: &Settings) -> anyhow::Result<Measured> {
    let scratch = tempfile::Builder::new()
        .prefix("ignis-bench-report-")
        .tempdir()?;
    let mut m = Measured::default();

    progress(format_args!("starting {}", settings.ignis_bin.display()));
    let main = IgnisProcess::start(&settings.ignis_bin, WARM_BUDGET_MB)?;
    m.warm_sandbox = main.sandbox().to_string();
    if !m.warm_sandbox.starts_with("sandbox: namespace") {
        // The targets are stated for the namespace sandbox (root only).
        m.skipped.push(format!(
            "the namespace sandbox: the server runs {:?} (run as root)",
            m.warm_sandbox
        ));
    }
    let client = main.client()?;
    let list = client.runtimes().await?.runtimes;

    if settings.has(Section::Floors) || settings.has(Section::Cold) {
        process_floors(settings, &list, scratch.path(), &mut m)?;
    }
    if settings.has(Section::Floors) || settings.has(Section::Warm) {
        if let Err(e) = warm_section(settings, &main, &client, &list, scratch.path(), &mut m).await
        {
            bail!("warm: {e:#}\nserver stderr:\n{}", main.stderr_tail());
        }
    }
    if let Err(e) = main.stop() {
        eprintln!("warning: {e:#}");
    }

    if settings.has(Section::Cold) || settings.has(Section::Burst) || settings.has(Section::Memory)
    {
        for variant in &settings.variants {
            let run =
                variant_run(settings, variant, scratch.path(), &m.procs, &mut m.skipped).await?;
            m.variants.push(run);
        }
    }
    Ok(m)
}

/// The interpreter the runtimes endpoint names for a label, available or
/// not yet (Java's client may still be compiling).
fn interpreter(list: &[RuntimeInfo], label: &str) -> Option<PathBuf> {
    runtimes::pick(list, label)
        .and_then(|r| r.interpreter)
        .or_else(|| {
            let prefix = label.trim_end_matches(".x");
            list.iter()
                .filter(|r| r.runtime.starts_with(prefix))
                .find_map(|r| r.interpreter.clone())
        })
        .map(PathBuf::from)
}

/// fork+exec and interpreter start-up floors.
fn process_floors(
    settings: &Settings,
    list: &[RuntimeInfo],
    scratch: &Path,
    m: &mut Measured,
) -> anyhow::Result<()> {
    let runs = settings.floor_runs;
    let (noop, how) = static_noop(scratch).context("build the static no-op")?;
    m.static_how = how;
    let mut floors: Vec<(&'static str, PathBuf, Vec<&'static str>)> = vec![
        ("fork_exec_static", noop, Vec::new()),
        ("fork_exec_bin_true", PathBuf::from("/bin/true"), Vec::new()),
    ];
    for (key, label, lang, args) in [
        ("python_S", "python3.x", "python", floor_command("python")),
        ("python", "python3.x", "python", Some(PYTHON_WITH_SITE)),
        ("node", "nodejs20.x", "nodejs", floor_command("nodejs")),
        ("ruby", "ruby3.x", "ruby", floor_command("ruby")),
        ("java", "java17", "java", floor_command("java")),
    ] {
        match (interpreter(list, label), args) {
            (Some(path), Some(args)) => floors.push((key, path, args.to_vec())),
            _ => m
                .skipped
                .push(format!("floor {key}: no {lang} interpreter")),
        }
    }
    for (key, program, args) in floors {
        let label = match key {
            "fork_exec_static" => "fork+exec static no-op".to_string(),
            "fork_exec_bin_true" => "fork+exec /bin/true (dynamic)".to_string(),
            _ => format!("{} {}", program.display(), args.join(" ")),
        };
        match time_runs(&program, &args, runs) {
            Ok(samples) => {
                let p = Percentiles::of(&samples).context("no floor runs")?;
                progress(format_args!("floor {label}: p50 {:.2} ms", ms(p.p50)));
                m.procs.push(ProcFloor {
                    key,
                    label,
                    program,
                    args,
                    runs: p,
                });
            }
            Err(e) => m.skipped.push(format!("floor {label}: {e:#}")),
        }
    }
    Ok(())
}

/// Deploys a warm function and invokes it once.
async fn deploy_warm(
    ignis: &IgnisProcess,
    name: &str,
    function: &EchoFunction,
) -> anyhow::Result<Arc<Target>> {
    ignis
        .deploy_zip(
            name,
            &function.zip,
            &function.runtime,
            &function.handler,
            WARM_MEMORY_MB,
        )
        .await?;
    let target = Arc::new(Target {
        addr: ignis.addr(),
        path: format!("/2015-03-31/functions/{name}/invocations"),
        payload: Bytes::from_static(PAYLOAD.as_bytes()),
    });
    post_once(&target)
        .await
        .with_context(|| format!("first invoke of {name}"))?;
    Ok(target)
}

/// The HTTP floor, and (with `warm`) the four echo functions next to it.
async fn warm_section(
    settings: &Settings,
    ignis: &IgnisProcess,
    client: &Client,
    list: &[RuntimeInfo],
    scratch: &Path,
    m: &mut Measured,
) -> anyhow::Result<()> {
    let mut functions: Vec<(&'static str, String, Arc<Target>)> = Vec::new();
    if settings.has(Section::Warm) {
        let provided = RuntimeInfo {
            runtime: "provided.al2023".into(),
            available: true,
            runs_on: None,
            interpreter: None,
            reason: None,
        };
        let mut wanted: Vec<(&'static str, EchoFunction)> = vec![(
            "rust-echo",
            runtimes::echo_function(&provided, &settings.bootstrap, scratch)?,
        )];
        match &settings.min_bootstrap {
            Some(path) => wanted.push((
                "rust-min-echo",
                runtimes::echo_function(&provided, path, scratch)?,
            )),
            None => m.skipped.push(
                "warm rust-min-echo: not built (cargo build --release -p ignis-fixture-min-echo)"
                    .into(),
            ),
        }
        for (name, label) in [("python-echo", "python3.x"), ("node-echo", "nodejs20.x")] {
            match runtimes::resolve(client, list, label, progress).await {
                Ok(info) => wanted.push((
                    name,
                    runtimes::echo_function(&info, &settings.bootstrap, scratch)?,
                )),
                Err(reason) => m.skipped.push(format!("warm {name}: {reason}")),
            }
        }
        for (name, function) in wanted {
            progress(format_args!("deploying {name} ({})", function.runtime));
            let target = deploy_warm(ignis, name, &function).await?;
            functions.push((name, function.runtime.clone(), target));
        }
    }
    let idle_rss = ignis.rss_kib();

    let floor = Floor::start()?;
    let floor_target = Arc::new(Target {
        addr: floor.addr(),
        path: "/2015-03-31/functions/floor/invocations".into(),
        payload: Bytes::from_static(PAYLOAD.as_bytes()),
    });
    let ignis_cpu = || {
        cpu::Sample::take(|| {
            let (server, below) = ignis.cpu_ns_all();
            (server, Some(below))
        })
    };
    let mut subjects = vec![Subject::new("floor", floor_target, || {
        cpu::Sample::take(|| (floor.cpu_ns(), None))
    })];
    for (name, _, target) in &functions {
        subjects.push(Subject::new(*name, target.clone(), ignis_cpu));
    }
    let max_clients = CLIENTS[CLIENTS.len() - 1];
    warm::warm_up(
        &mut subjects,
        max_clients,
        Duration::from_secs(1),
        200,
        progress,
    )
    .await?;
    warm::latency_alternating(&mut subjects, settings.requests, LATENCY_BLOCK, progress).await?;
    warm::throughput_alternating(
        &mut subjects,
        &CLIENTS,
        Duration::from_secs_f64(settings.secs),
        THROUGHPUT_SLICES,
        progress,
    )
    .await?;
    let mut sides = subjects.into_iter().map(|s| s.side(settings.requests));
    m.http = Some(sides.next().context("the floor is always measured")??);
    for ((name, runtime, _), side) in functions.into_iter().zip(sides) {
        m.warm.push(WarmFunction {
            name,
            runtime,
            side: side?,
        });
    }
    if settings.has(Section::Warm) {
        m.server_memory = Some(ServerMemory {
            idle: idle_rss,
            after_load: ignis.rss_kib(),
            peak: ignis.peak_rss_kib(),
        });
    }
    Ok(())
}

/// Cold starts, idle memory and the burst on a server of `variant`.
async fn variant_run(
    settings: &Settings,
    variant: &Variant,
    scratch: &Path,
    floors: &[ProcFloor],
    skipped: &mut Vec<String>,
) -> anyhow::Result<VariantRun> {
    let budget = settings.burst as u64 * runtimes::MEMORY_MB as u64 + COLD_BUDGET_ROOM_MB;
    progress(format_args!(
        "starting the {} server ({:?})",
        variant.name, variant.env
    ));
    let ignis = IgnisProcess::start_env(&settings.ignis_bin, budget, &[], &variant.env)?;
    let client = ignis.client()?;
    let list = client.runtimes().await?.runtimes;
    let mut run = VariantRun {
        variant: variant.clone(),
        sandbox: ignis.sandbox().to_string(),
        cold: Vec::new(),
        memory: Vec::new(),
        burst: None,
    };
    if settings.has(Section::Cold) || settings.has(Section::Memory) {
        for label in runtimes::LABELS {
            let info = match runtimes::resolve(&client, &list, label, progress).await {
                Ok(info) => info,
                Err(reason) => {
                    skipped.push(format!("{} {label}: {reason}", variant.name));
                    continue;
                }
            };
            // `provided.al2023` twice: with the minimal Runtime API client,
            // whose own start is about a dynamic binary's exec (what remains
            // is Ignis's), and with the `lambda_runtime` echo, whose start
            // (its loader, tokio's threads) is a function's own cost.
            let echo = settings.bootstrap.as_path();
            let subjects: Vec<(Option<&'static str>, &Path)> = match runtimes::language(label) {
                "provided" => {
                    if settings.min_bootstrap.is_none() {
                        skipped.push(format!(
                            "{} {label} (rust-min-echo): not built (cargo build --release -p ignis-fixture-min-echo)",
                            variant.name
                        ));
                    }
                    let min = settings.min_bootstrap.as_deref();
                    min.map(|b| (Some("rust-min-echo"), b))
                        .into_iter()
                        .chain([(Some("rust-echo"), echo)])
                        .collect()
                }
                _ => vec![(None, echo)],
            };
            for (echo, bootstrap) in subjects {
                let function = match runtimes::echo_function(&info, bootstrap, scratch) {
                    Ok(f) => f,
                    Err(e) => {
                        skipped.push(format!("{} {label}: {e:#}", variant.name));
                        continue;
                    }
                };
                let floor = cold_floor(function.language())
                    .and_then(|key| floors.iter().find(|f| f.key == key));
                let subject = ColdSubject {
                    function: &function,
                    echo,
                };
                if let Err(e) =
                    cold_runtime(settings, &ignis, &client, &subject, floor, &mut run).await
                {
                    bail!(
                        "{} {}: {e:#}\nserver stderr:\n{}",
                        variant.name,
                        subject.name(),
                        ignis.stderr_tail()
                    );
                }
            }
        }
    }
    if settings.has(Section::Burst) {
        match runtimes::resolve(&client, &list, "python3.x", progress).await {
            Ok(info) => {
                let burst = burst(&ignis, &info, settings.burst)
                    .await
                    .with_context(|| format!("burst: server stderr:\n{}", ignis.stderr_tail()))?;
                progress(format_args!(
                    "{} burst of {} {}: all answered in {:.0} ms, {} errors",
                    variant.name,
                    burst.functions,
                    burst.runtime,
                    ms(burst.all_answered),
                    burst.failures.len()
                ));
                for failure in &burst.failures {
                    progress(format_args!("{} burst error: {failure}", variant.name));
                }
                run.burst = Some(burst);
            }
            Err(reason) => skipped.push(format!("{} burst: {reason}", variant.name)),
        }
    }
    if let Err(e) = ignis.stop() {
        eprintln!("warning: {e:#}");
    }
    Ok(run)
}

/// A cold start's function: its runtime's echo, named by the echo where a
/// runtime has more than one (`provided.al2023 (rust-min-echo)`).
struct ColdSubject<'a> {
    function: &'a EchoFunction,
    echo: Option<&'static str>,
}

impl ColdSubject<'_> {
    fn name(&self) -> String {
        match self.echo {
            Some(echo) => format!("{} ({echo})", self.function.runtime),
            None => self.function.runtime.clone(),
        }
    }
}

/// One runtime on a cold-start server: the first invoke (untimed), the
/// idle environment it left, then the cold starts.
async fn cold_runtime(
    settings: &Settings,
    ignis: &IgnisProcess,
    client: &Client,
    subject: &ColdSubject<'_>,
    floor: Option<&ProcFloor>,
    run: &mut VariantRun,
) -> anyhow::Result<()> {
    let function = subject.function;
    let name = format!(
        "cold-{}{}",
        function.runtime.replace('.', "-"),
        subject.echo.map(|e| format!("-{e}")).unwrap_or_default()
    );
    ignis
        .deploy_zip(
            &name,
            &function.zip,
            &function.runtime,
            &function.handler,
            function.memory_mb,
        )
        .await?;
    // The first invoke after create is a cold start too, but also the
    // first time the interpreter's files are read: untimed.
    invoke_checked(client, &name, PAYLOAD).await?;
    if settings.has(Section::Memory) {
        tokio::time::sleep(IDLE_SETTLE).await;
        let envs = function_environments(ignis.pid(), &name, &code_id(&function.zip));
        let footprint = envs
            .first()
            .map_or_else(Footprint::default, |pids| Footprint::of_processes(pids));
        progress(format_args!(
            "{} {}: idle environment USS {:.1} MiB PSS {:.1} MiB ({} processes, {} environments found)",
            run.variant.name,
            subject.name(),
            footprint.uss_kib as f64 / 1024.0,
            footprint.pss_kib as f64 / 1024.0,
            footprint.processes,
            envs.len()
        ));
        run.memory.push(EnvMemory {
            runtime: subject.name(),
            language: function.language().into(),
            found: envs.len(),
            footprint,
        });
    }
    if settings.has(Section::Cold) {
        // The floor runs once after each cold start, so both see the same
        // background load; once the server is idle again, so it does not
        // compete with what the cold start left to do (a pool refilling).
        let mut floor_runs = Vec::with_capacity(settings.cold);
        let samples = cold_starts_between(ignis, client, &name, PAYLOAD, settings.cold, || {
            if let Some(f) = floor {
                ignis.wait_idle(IDLE_WAIT);
                floor_runs.push(time_once(&f.program, &f.args)?);
            }
            Ok(())
        })
        .await?;
        let cold = Percentiles::of(&samples.cold).context("no cold starts")?;
        let floor = floor.zip(Percentiles::of(&floor_runs));
        progress(format_args!(
            "{} {}: cold p50 {:.1} ms p90 {:.1} ms; floor alongside p50 {}",
            run.variant.name,
            subject.name(),
            ms(cold.p50),
            ms(cold.p90),
            floor.map_or_else(
                || "-".into(),
                |(f, p)| format!("{:.2} ms ({})", ms(p.p50), f.label)
            ),
        ));
        run.cold.push(ColdRuntime {
            runtime: subject.name(),
            language: function.language().into(),
            cold,
            init: Percentiles::of(&samples.init),
            floor: floor.map(|(f, p)| (f.key, p)),
        });
    }
    if let Err(e) = client.delete_function(&name).await {
        eprintln!("warning: delete {name}: {e}");
    }
    Ok(())
}

/// `n` distinct Python functions, created and `Active` but never invoked,
/// invoked at once on `n` connections opened beforehand.
async fn burst(ignis: &IgnisProcess, info: &RuntimeInfo, n: usize) -> anyhow::Result<Burst> {
    let names: Vec<String> = (0..n).map(|i| format!("burst-{i:03}")).collect();
    for (i, name) in names.iter().enumerate() {
        // Distinct code too: each function has its own package.
        let code = format!("# burst function {i}\ndef main(event, context):\n    return event\n");
        let zip = zip_files(&[("handler.py", code.as_bytes(), 0o644)])?;
        let package = Package {
            zip: &zip,
            runtime: &info.runtime,
            handler: "handler.main",
            memory_mb: runtimes::MEMORY_MB,
        };
        ignis.create(name, &package).await?;
    }
    for name in &names {
        ignis.wait_active(name).await?;
    }
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(Conn::open(ignis.addr()).await?);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(&names)
        .map(|(mut conn, name)| {
            let target = Target {
                addr: ignis.addr(),
                path: format!("/2015-03-31/functions/{name}/invocations"),
                payload: Bytes::from_static(PAYLOAD.as_bytes()),
            };
            tokio::spawn(async move {
                let sent = Instant::now();
                let failure = match conn.send(&target).await {
                    Ok(answer) if answer.outcome(&target) == Outcome::Ok => None,
                    Ok(answer) => Some(format!("{}: {}", target.path, answer.describe())),
                    Err(e) => Some(format!("{}: {e:#}", target.path)),
                };
                (failure, sent.elapsed())
            })
        })
        .collect();
    let mut each = Vec::with_capacity(n);
    let mut failures = Vec::new();
    for task in tasks {
        match task.await? {
            (None, took) => each.push(took),
            (Some(failure), _) => failures.push(failure),
        }
    }
    Ok(Burst {
        runtime: info.runtime.clone(),
        functions: n,
        all_answered: start.elapsed(),
        each: Percentiles::of(&each),
        failures,
    })
}

/// The floor a language's cold start is held against.
fn cold_floor(language: &str) -> Option<&'static str> {
    Some(match language {
        "provided" => "fork_exec_static",
        "python" => "python_S",
        "nodejs" => "node",
        "ruby" => "ruby",
        "java" => "java",
        _ => return None,
    })
}

fn progress(msg: std::fmt::Arguments<'_>) {
    eprintln!("report: {msg}");
}

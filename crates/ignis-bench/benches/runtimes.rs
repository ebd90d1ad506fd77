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
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use ignis_bench::client::Target;
use ignis_bench::cold::{init_duration, invoke_checked, ms};
use ignis_bench::load::latency;
use ignis_bench::report;
use ignis_bench::server::{workspace_root, zip_bootstrap, zip_files, IgnisProcess};
use ignis_bench::settings;
use ignis_bench::startup::{floor_command, time_runs};
use ignis_bench::stats::Percentiles;
use ignis_client::Client;
use ignis_model::runtime::RuntimeInfo;

/// Memory all environments may use: one function at a time, with room for
/// environments still being retired.
const MEMORY_BUDGET_MB: u64 = 4096;
/// Memory of each function (Java's JVM wants more).
const MEMORY_MB: i64 = 256;
const JAVA_MEMORY_MB: i64 = 512;
/// How long to wait for the Java client to be compiled by the server.
const JAVA_WAIT: Duration = Duration::from_secs(150);
/// Warm invokes before the measured ones.
const WARMUP: usize = 30;
/// The event; every handler returns it unchanged.
const PAYLOAD: &str =
    r#"{"bench":"runtimes","id":"0123456789abcdef","items":["a","b"],"nested":{"ok":true}}"#;
/// The variable changed to force a fresh environment.
const COLD_VAR: &str = "IGNIS_BENCH_COLD";

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
    /// The runtime identifier the function is created with.
    runtime: String,
    /// What the runtimes endpoint says runs it.
    runs_on: String,
    /// Handler setting.
    handler: String,
    /// The deployment package.
    zip: Vec<u8>,
    /// Function memory, MB.
    memory_mb: i64,
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
    let runtimes = client.runtimes().await?.runtimes;
    let cases = [
        "provided.al2023",
        "python3.x",
        "nodejs20.x",
        "ruby3.x",
        "java17",
    ];
    for label in cases {
        let mut info = pick(&runtimes, label);
        if label == "java17" && info.is_none() && javac().is_some() {
            info = wait_for_java(&client).await;
        }
        let Some(info) = info else {
            let reason = runtimes
                .iter()
                .find(|r| r.runtime.starts_with(label.trim_end_matches(".x")))
                .and_then(|r| r.reason.clone())
                .unwrap_or_else(|| "not available on this node".into());
            skipped.push(format!("{label}: skipped ({reason})"));
            continue;
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
            case.runtime, case.runs_on, case.handler
        ));
        let measured = match measure(settings, &ignis, &client, &case).await {
            Ok(m) => m,
            Err(e) => bail!(
                "{}: {e:#}\nserver stderr:\n{}",
                case.runtime,
                ignis.stderr_tail()
            ),
        };
        out.push_str(&table(&case, &measured));
        out.push('\n');
        summary.push((case.runtime.clone(), measured));
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

/// The runtime a case label stands for: `python3.x` and `ruby3.x` pick
/// a version, other labels are identifiers.
fn pick(list: &[RuntimeInfo], label: &str) -> Option<RuntimeInfo> {
    match label.strip_suffix("x") {
        Some(prefix @ ("python3." | "ruby3.")) => newest_own(list, prefix),
        _ => exact(list, label),
    }
}

/// The runtime `id` if available.
fn exact(list: &[RuntimeInfo], id: &str) -> Option<RuntimeInfo> {
    list.iter()
        .find(|r| r.runtime == id && r.available)
        .cloned()
}

/// The newest available runtime starting with `prefix` that runs on its
/// own version, else the first available one.
fn newest_own(list: &[RuntimeInfo], prefix: &str) -> Option<RuntimeInfo> {
    let available = || {
        list.iter()
            .filter(|r| r.runtime.starts_with(prefix) && r.available)
    };
    available()
        .filter(|r| r.runs_on.as_deref() == Some(r.runtime.as_str()))
        .max_by_key(|r| minor(&r.runtime))
        .or_else(|| available().next())
        .cloned()
}

/// `python3.13` -> 13.
fn minor(runtime: &str) -> u32 {
    runtime
        .rsplit('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Polls the runtimes endpoint until `java17` is available, at most
/// [`JAVA_WAIT`].
async fn wait_for_java(client: &Client) -> Option<RuntimeInfo> {
    progress(format_args!(
        "waiting up to {JAVA_WAIT:?} for java17 (the server compiles its client)"
    ));
    let start = Instant::now();
    while start.elapsed() < JAVA_WAIT {
        if let Ok(list) = client.runtimes().await {
            if let Some(info) = exact(&list.runtimes, "java17") {
                return Some(info);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// `javac` next to the JVM's `java`, else on `PATH`.
fn javac() -> Option<PathBuf> {
    let works = |p: &Path| {
        Command::new(p)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let beside_java = fs::canonicalize("/usr/bin/java")
        .ok()
        .and_then(|java| java.parent().map(|d| d.join("javac")));
    beside_java
        .into_iter()
        .chain([PathBuf::from("javac")])
        .find(|p| works(p))
}

/// Writes the runtime's echo handler and zips it.
fn prepare(settings: &Settings, info: &RuntimeInfo, scratch: &Path) -> anyhow::Result<Case> {
    let runs_on = info.runs_on.clone().unwrap_or_else(|| info.runtime.clone());
    let language = language(&info.runtime);
    let interpreter = info.interpreter.as_ref().map(PathBuf::from);
    let (handler, zip, memory_mb) = match language {
        "provided" => (
            "bootstrap".to_string(),
            zip_bootstrap(&settings.bootstrap, scratch)?,
            MEMORY_MB,
        ),
        "python" => (
            "handler.main".into(),
            zip_files(&[(
                "handler.py",
                b"def main(event, context):\n    return event\n",
                0o644,
            )])?,
            MEMORY_MB,
        ),
        "nodejs" => (
            "index.handler".into(),
            zip_files(&[(
                "index.mjs",
                b"export const handler = async (e) => e;\n",
                0o644,
            )])?,
            MEMORY_MB,
        ),
        "ruby" => (
            "lambda_function.lambda_handler".into(),
            zip_files(&[(
                "lambda_function.rb",
                b"def lambda_handler(event:, context:)\n  event\nend\n",
                0o644,
            )])?,
            MEMORY_MB,
        ),
        "java" => (
            "bench.Echo::handle".into(),
            java_zip(scratch)?,
            JAVA_MEMORY_MB,
        ),
        other => bail!("no echo handler for {other}"),
    };
    let (floor, floor_label) = match (language, &interpreter) {
        ("provided", _) => (
            (PathBuf::from("/bin/true"), Vec::new()),
            "fork+exec /bin/true".to_string(),
        ),
        (lang, Some(interp)) => {
            let args = floor_command(lang).context("no floor command")?.to_vec();
            let name = interp.file_name().map_or_else(
                || interp.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            let label = format!("{name} {}", args.join(" "));
            ((interp.clone(), args), label)
        }
        (_, None) => bail!("the runtimes endpoint names no interpreter"),
    };
    Ok(Case {
        runtime: info.runtime.clone(),
        runs_on,
        handler,
        zip,
        memory_mb,
        floor,
        floor_label,
    })
}

fn language(runtime: &str) -> &str {
    for lang in ["provided", "python", "nodejs", "ruby", "java"] {
        if runtime.starts_with(lang) {
            return lang;
        }
    }
    runtime
}

/// Compiles the Java echo handler with `javac --release 17` and zips its
/// class.
fn java_zip(scratch: &Path) -> anyhow::Result<Vec<u8>> {
    let javac = javac().context("javac is not installed (a JDK, e.g. default-jdk-headless)")?;
    let src = scratch.join("java-src/bench/Echo.java");
    fs::create_dir_all(src.parent().unwrap_or(scratch))?;
    fs::write(
        &src,
        "package bench;\n\nimport java.util.Map;\n\npublic class Echo {\n    public Map<String, Object> handle(Map<String, Object> event) {\n        return event;\n    }\n}\n",
    )?;
    let classes = scratch.join("java-classes");
    let status = Command::new(&javac)
        .arg("--release")
        .arg("17")
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .status()
        .with_context(|| format!("run {}", javac.display()))?;
    anyhow::ensure!(status.success(), "javac failed: {status}");
    let class = fs::read(classes.join("bench/Echo.class"))?;
    zip_files(&[("bench/Echo.class", &class, 0o644)])
}

/// Cold starts, warm invokes and the floor of one case; the function is
/// deleted afterwards.
async fn measure(
    settings: &Settings,
    ignis: &IgnisProcess,
    client: &Client,
    case: &Case,
) -> anyhow::Result<Measured> {
    let name = format!("bench-{}", case.runtime.replace('.', "-"));
    ignis
        .deploy_zip(
            &name,
            &case.zip,
            &case.runtime,
            &case.handler,
            case.memory_mb,
        )
        .await?;

    // The first invoke after create is a cold start too, but also the first
    // time this process loads the interpreter's files: untimed.
    invoke_checked(client, &name, PAYLOAD).await?;
    let mut cold = Vec::with_capacity(settings.cold);
    let mut init = Vec::with_capacity(settings.cold);
    for i in 0..settings.cold {
        ignis.set_env(&name, COLD_VAR, &i.to_string()).await?;
        let start = Instant::now();
        let tail = invoke_checked(client, &name, PAYLOAD).await?;
        cold.push(start.elapsed());
        if let Some(d) = init_duration(&tail) {
            init.push(d);
        }
    }
    let cold = Percentiles::of(&cold).context("no cold starts")?;
    let init = Percentiles::of(&init);
    progress(format_args!(
        "{}: cold p50 {} p90 {}, init p50 {}",
        case.runtime,
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
        case.runtime,
        ms(warm.p50),
        ms(warm.p90),
        run.errors + warmup.errors
    ));

    let (program, args) = &case.floor;
    let floor = Percentiles::of(&time_runs(program, args, settings.floor_runs)?)
        .context("no floor runs")?;
    progress(format_args!(
        "{}: floor {} p50 {}",
        case.runtime,
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
        case.runtime, case.runs_on, case.handler, case.memory_mb
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

//! The printed result: ignis next to the floor with their ratio, the
//! issue's targets with PASS/MISS, and the machine the numbers come from.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::load::ThroughputRun;
use crate::stats::Percentiles;

/// Target: warm p50 at most this many times the floor's.
pub const P50_TARGET_RATIO: f64 = 8.0;
/// Target: 16-client throughput at least this fraction of the floor's.
pub const THROUGHPUT_TARGET_RATIO: f64 = 0.1;
/// The concurrency the throughput target is checked at.
pub const THROUGHPUT_TARGET_CLIENTS: usize = 16;

/// CPU time one request of the 1-client latency run cost, by party.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuPerRequest {
    /// The load generator's thread.
    pub client: Duration,
    /// The server process (ignis) or thread (floor).
    pub server: Duration,
    /// The function's environments (ignis only).
    pub function: Option<Duration>,
}

/// The measurements of one server.
#[derive(Debug, Clone)]
pub struct Side {
    /// Warm latency at one client.
    pub latency: Percentiles,
    /// Errors during the latency run.
    pub latency_errors: u64,
    /// One run per concurrency, ascending.
    pub throughput: Vec<ThroughputRun>,
    /// Errors during the warm-up (counted against "no errors" too).
    pub warmup_errors: u64,
    /// CPU per request of the latency run.
    pub cpu: CpuPerRequest,
}

impl Side {
    /// Errors over all runs.
    pub fn errors(&self) -> u64 {
        self.warmup_errors
            + self.latency_errors
            + self.throughput.iter().map(|t| t.errors).sum::<u64>()
    }

    fn at(&self, clients: usize) -> Option<&ThroughputRun> {
        self.throughput.iter().find(|t| t.clients == clients)
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Results {
    /// The ignis binary with the echo function.
    pub ignis: Side,
    /// The loopback floor server.
    pub floor: Side,
    /// The same ignis serving an echo with a minimal Runtime API client,
    /// when it was built: the function's own share of an invoke.
    pub minimal: Option<Side>,
    /// The first invoke after `Active` (a cold start), measured once.
    pub cold_invoke: Duration,
    /// `bootstrap` processes below the server after the 16-client runs
    /// (both echoes' environments).
    pub environments: usize,
    /// The server's peak RSS, KiB.
    pub server_peak_rss_kib: Option<u64>,
    /// How the run was configured, one `key=value` list.
    pub config: String,
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::INFINITY
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// The table of ignis, floor and ratio, then the targets.
pub fn table(r: &Results) -> String {
    let mut out = String::new();
    let row = |out: &mut String, metric: &str, ignis: String, floor: String, ratio: f64| {
        let _ = writeln!(out, "{metric:<24} {ignis:>14} {floor:>14} {ratio:>9.2}x");
    };
    let _ = writeln!(
        out,
        "{:<24} {:>14} {:>14} {:>10}",
        "metric", "ignis", "floor", "ignis/floor"
    );
    let (i, f) = (&r.ignis.latency, &r.floor.latency);
    for (name, a, b) in [
        ("warm p50 (1 client)", i.p50, f.p50),
        ("warm p90 (1 client)", i.p90, f.p90),
        ("warm p99 (1 client)", i.p99, f.p99),
        ("warm mean (1 client)", i.mean, f.mean),
        ("warm max (1 client)", i.max, f.max),
    ] {
        row(
            &mut out,
            name,
            us(a),
            us(b),
            ratio(a.as_secs_f64(), b.as_secs_f64()),
        );
    }
    for t in &r.ignis.throughput {
        let floor = r.floor.at(t.clients).map_or(0.0, ThroughputRun::per_second);
        row(
            &mut out,
            &format!(
                "throughput {} client{}",
                t.clients,
                if t.clients == 1 { "" } else { "s" }
            ),
            format!("{:.0} req/s", t.per_second()),
            format!("{floor:.0} req/s"),
            ratio(t.per_second(), floor),
        );
    }
    let _ = writeln!(
        out,
        "{:<24} {:>14} {:>14}",
        "errors",
        r.ignis.errors(),
        r.floor.errors()
    );
    let (ic, fc) = (&r.ignis.cpu, &r.floor.cpu);
    let opt_us = |d: Option<Duration>| d.map_or_else(|| "-".to_string(), us);
    for (name, a, b) in [
        ("CPU/request server", Some(ic.server), Some(fc.server)),
        ("CPU/request function", ic.function, fc.function),
        ("CPU/request client", Some(ic.client), Some(fc.client)),
    ] {
        let _ = writeln!(out, "{name:<24} {:>14} {:>14}", opt_us(a), opt_us(b));
    }

    let p50_ratio = ratio(i.p50.as_secs_f64(), f.p50.as_secs_f64());
    let tp = |s: &Side| {
        s.at(THROUGHPUT_TARGET_CLIENTS)
            .map_or(0.0, ThroughputRun::per_second)
    };
    let tp_ratio = ratio(tp(&r.ignis), tp(&r.floor));
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<40} {:>10}  verdict", "target", "got");
    let _ = writeln!(
        out,
        "{:<40} {:>9.2}x  {}",
        format!("warm p50 <= {P50_TARGET_RATIO}x floor"),
        p50_ratio,
        verdict(p50_ratio <= P50_TARGET_RATIO)
    );
    let _ = writeln!(
        out,
        "{:<40} {:>9.3}x  {}",
        format!(
            "{THROUGHPUT_TARGET_CLIENTS}-client throughput >= {THROUGHPUT_TARGET_RATIO}x floor"
        ),
        tp_ratio,
        verdict(tp_ratio >= THROUGHPUT_TARGET_RATIO)
    );
    let errors = r.ignis.errors();
    let _ = writeln!(
        out,
        "{:<40} {:>10}  {}",
        "no errors",
        errors,
        verdict(errors == 0)
    );

    if let Some(m) = &r.minimal {
        function_share(&mut out, r, m);
    }

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "cold first invoke: {:.1} ms",
        r.cold_invoke.as_secs_f64() * 1e3
    );
    let _ = writeln!(
        out,
        "environments after the {THROUGHPUT_TARGET_CLIENTS}-client runs (all functions): {}",
        r.environments
    );
    if let Some(kib) = r.server_peak_rss_kib {
        let _ = writeln!(out, "ignis server peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    let _ = writeln!(out, "latency samples: ignis {}, floor {}", i.count, f.count);
    let _ = writeln!(out, "config: {}", r.config);
    out
}

/// The same server with a minimal runtime client next to the
/// `lambda_runtime` echo: what the function's own client costs.
fn function_share(out: &mut String, r: &Results, m: &Side) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "the function's share (same server, echo with a minimal Runtime API client):"
    );
    let _ = writeln!(
        out,
        "{:<24} {:>14} {:>14} {:>14}",
        "metric", "minimal", "lambda_runtime", "minimal/floor"
    );
    let (p50, lr, floor) = (m.latency.p50, r.ignis.latency.p50, r.floor.latency.p50);
    let _ = writeln!(
        out,
        "{:<24} {:>14} {:>14} {:>13.2}x",
        "warm p50 (1 client)",
        us(p50),
        us(lr),
        ratio(p50.as_secs_f64(), floor.as_secs_f64())
    );
    let rps = |s: &Side| {
        s.at(THROUGHPUT_TARGET_CLIENTS)
            .map_or(0.0, ThroughputRun::per_second)
    };
    let _ = writeln!(
        out,
        "{:<24} {:>14} {:>14} {:>13.2}x",
        format!("throughput {THROUGHPUT_TARGET_CLIENTS} clients"),
        format!("{:.0} req/s", rps(m)),
        format!("{:.0} req/s", rps(&r.ignis)),
        ratio(rps(m), rps(&r.floor))
    );
    let opt_us = |d: Option<Duration>| d.map_or_else(|| "-".to_string(), us);
    for (name, a, b) in [
        (
            "CPU/request server",
            Some(m.cpu.server),
            Some(r.ignis.cpu.server),
        ),
        ("CPU/request function", m.cpu.function, r.ignis.cpu.function),
    ] {
        let _ = writeln!(out, "{name:<24} {:>14} {:>14}", opt_us(a), opt_us(b));
    }
    let _ = writeln!(out, "errors (minimal)         {:>14}", m.errors());
}

/// Date, revision and machine: the header of a stored run.
pub fn machine(workspace: &Path) -> String {
    Machine::now(workspace).header()
}

/// The machine a run measured, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub date: String,
    /// The git revision of the work tree (12 hex digits), or `unknown`.
    pub revision: String,
    /// Whether the work tree had uncommitted changes to tracked files.
    pub dirty: bool,
    /// CPUs this process may run on.
    pub nproc: usize,
    /// The CPU model (`/proc/cpuinfo`).
    pub cpu: String,
    /// The kernel release.
    pub kernel: String,
    /// Total memory, MiB (`/proc/meminfo`).
    pub memory_mib: Option<u64>,
    /// The 1, 5 and 15 minute load averages before the run.
    pub load: String,
    /// How busy the CPUs were in the second before the run, percent.
    pub busy_percent: Option<f64>,
}

impl Machine {
    /// Reads the machine (takes a second: the CPU busy figure).
    pub fn now(workspace: &Path) -> Self {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let memory_mib = fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kib| kib / 1024)
        });
        let load = fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into());
        let busy_percent = cpu_busy_percent(Duration::from_secs(1));
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("-C")
                .arg(workspace)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
        };
        let revision = git(&["rev-parse", "--short=12", "HEAD"])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|o| !o.stdout.is_empty());
        Self {
            date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            revision,
            dirty,
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            kernel,
            memory_mib,
            load,
            busy_percent,
        }
    }

    /// The header lines of a stored run.
    pub fn header(&self) -> String {
        let busy = self
            .busy_percent
            .map_or_else(|| "unknown".into(), |p| format!("{p:.0}%"));
        format!(
            "date: {}\nrevision: {}{}\nnproc: {}\ncpu: {}\nkernel: {}\nload average before the run: {}; CPU busy in the second before: {busy}\n",
            self.date,
            self.revision,
            if self.dirty { " (uncommitted changes)" } else { "" },
            self.nproc,
            self.cpu,
            self.kernel,
            self.load,
        )
    }
}

/// How busy all CPUs were over `window` (from `/proc/stat`), in percent.
fn cpu_busy_percent(window: Duration) -> Option<f64> {
    let before = CpuTimes::now()?;
    std::thread::sleep(window);
    CpuTimes::now()?.busy_percent_since(&before)
}

/// All CPUs' time so far, from the first line of `/proc/stat`, in jiffies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Not idle (idle and iowait are the idle columns).
    pub busy: u64,
    /// Everything.
    pub total: u64,
}

impl CpuTimes {
    /// The counters now.
    pub fn now() -> Option<Self> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let cols: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let total: u64 = cols.iter().take(8).sum();
        let idle = cols.get(3)? + cols.get(4)?;
        Some(Self {
            busy: total - idle,
            total,
        })
    }

    /// How busy the CPUs were between `earlier` and these counters, in
    /// percent.
    pub fn busy_percent_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|t| *t > 0)?;
        Some(100.0 * self.busy.saturating_sub(earlier.busy) as f64 / total as f64)
    }
}

/// Prints a run's text and appends it to `runs_dir` (when saving).
pub fn print_and_store(text: &str, runs_dir: Option<&Path>) {
    println!("\n{text}");
    if let Some(dir) = runs_dir {
        match append_run(dir, text) {
            Ok(path) => println!("appended to {}", path.display()),
            Err(e) => eprintln!("could not store the run in {}: {e}", dir.display()),
        }
    }
}

/// Appends `text` to `<dir>/<YYYY-MM-DD>.txt` (UTC) and returns the path.
pub fn append_run(dir: &Path, text: &str) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.txt", chrono::Utc::now().format("%Y-%m-%d")));
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    writeln!(file, "{text}")?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(p50_us: u64, rps16: u64, errors: u64) -> Side {
        let d = Duration::from_micros(p50_us);
        Side {
            latency: Percentiles::of(&[d]).unwrap(),
            latency_errors: errors,
            throughput: vec![ThroughputRun {
                clients: 16,
                ok: rps16,
                errors: 0,
                elapsed: Duration::from_secs(1),
            }],
            warmup_errors: 0,
            cpu: CpuPerRequest {
                client: d,
                server: d,
                function: None,
            },
        }
    }

    fn results(ignis: Side) -> Results {
        Results {
            ignis,
            floor: side(50, 10_000, 0),
            minimal: None,
            cold_invoke: Duration::from_millis(20),
            environments: 16,
            server_peak_rss_kib: Some(2048),
            config: "x=1".into(),
        }
    }

    #[test]
    fn targets_pass_and_miss() {
        let good = table(&results(side(400, 1_000, 0)));
        assert!(good.contains("warm p50 <= 8x floor"), "{good}");
        assert_eq!(good.matches("PASS").count(), 3, "{good}");
        let bad = table(&results(side(401, 999, 2)));
        assert_eq!(bad.matches("MISS").count(), 3, "{bad}");
    }

    #[test]
    fn the_function_share_is_shown_when_measured() {
        let mut r = results(side(400, 1_000, 0));
        assert!(!table(&r).contains("the function's share"));
        r.minimal = Some(side(100, 4_000, 0));
        let text = table(&r);
        assert!(text.contains("the function's share"), "{text}");
        assert!(text.contains("4000 req/s"), "{text}");
        assert!(text.contains("0.40x"), "{text}");
        assert_eq!(text.matches("PASS").count(), 3, "{text}");
    }
}

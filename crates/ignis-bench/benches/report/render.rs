//! The report's table, verdicts and JSON from what a run measured.

use std::path::Path;
use std::time::Duration;

use ignis_bench::load::ThroughputRun;
use ignis_bench::perf::{ms, ratio, round, us, Table, Verdict};
use ignis_bench::report::Side;
use ignis_bench::runtimes;
use ignis_bench::stats::Percentiles;
use serde_json::{json, Map, Value};

use super::{cold_floor, ColdRuntime, Measured, CLIENTS};

/// A duration as `812.3 µs` or `4.20 ms`.
fn time(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", us(d))
    } else {
        format!("{:.2} ms", ms(d))
    }
}

fn rate(r: f64) -> String {
    format!("{r:.0} req/s")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn percentiles_json(p: &Percentiles) -> Value {
    json!({
        "n": p.count,
        "p50_ms": round(ms(p.p50), 4),
        "p90_ms": round(ms(p.p90), 4),
        "p99_ms": round(ms(p.p99), 4),
        "mean_ms": round(ms(p.mean), 4),
        "max_ms": round(ms(p.max), 4),
    })
}

fn throughput_of(side: &Side, clients: usize) -> f64 {
    side.throughput
        .iter()
        .find(|t| t.clients == clients)
        .map_or(0.0, ThroughputRun::per_second)
}

/// The table, the verdicts and the JSON's measured sections.
#[derive(Default)]
pub(crate) struct Out {
    pub(crate) table: Table,
    pub(crate) verdicts: Vec<Verdict>,
    pub(crate) json: Map<String, Value>,
}

/// Renders every section that was measured.
pub(crate) fn render(m: &Measured) -> Out {
    let mut out = Out::default();
    for section in [floors, warm, cold, burst, memory] {
        section(m, &mut out);
    }
    out
}

/// The floors: the HTTP exchange and the process start-ups.
fn floors(m: &Measured, out: &mut Out) {
    let (t, json) = (&mut out.table, &mut out.json);
    let mut floors = Map::new();
    if let Some(http) = &m.http {
        let l = &http.latency;
        for (name, d) in [("p50", l.p50), ("p90", l.p90), ("p99", l.p99)] {
            t.row(
                "floors",
                &format!("loopback HTTP exchange {name}"),
                time(d),
                String::new(),
                String::new(),
            );
        }
        for c in CLIENTS {
            t.row(
                "floors",
                &format!("loopback HTTP throughput {c} clients"),
                rate(throughput_of(http, c)),
                String::new(),
                String::new(),
            );
        }
        t.row(
            "floors",
            "floor server CPU per exchange",
            time(http.cpu.server),
            String::new(),
            String::new(),
        );
        t.row(
            "floors",
            "client CPU per exchange",
            time(http.cpu.client),
            String::new(),
            String::new(),
        );
        floors.insert(
            "http".into(),
            json!({
                "latency": percentiles_json(l),
                "throughput": CLIENTS.iter().map(|&c| (c.to_string(), json!(round(throughput_of(http, c), 1)))).collect::<Map<_, _>>(),
                "server_cpu_us_per_exchange": round(us(http.cpu.server), 2),
                "client_cpu_us_per_exchange": round(us(http.cpu.client), 2),
                "errors": http.errors(),
            }),
        );
    }
    for p in &m.procs {
        t.row(
            "floors",
            &short(&p.label),
            format!("{} (p90 {})", time(p.runs.p50), time(p.runs.p90)),
            String::new(),
            String::new(),
        );
        let mut entry = percentiles_json(&p.runs);
        entry["command"] = json!(p.label);
        if p.key == "fork_exec_static" {
            entry["how"] = json!(m.static_how);
        }
        floors.insert(p.key.into(), entry);
    }
    json.insert("floors".into(), Value::Object(floors));
}

/// The warm invokes beside the HTTP floor, and the targets on the server's share.
fn warm(m: &Measured, out: &mut Out) {
    let (t, v, json) = (&mut out.table, &mut out.verdicts, &mut out.json);
    let mut warm = Map::new();
    if let Some(http) = &m.http {
        let f = &http.latency;
        for w in &m.warm {
            let l = &w.side.latency;
            let sec = "warm";
            for (name, d, fd) in [
                ("p50", l.p50, f.p50),
                ("p90", l.p90, f.p90),
                ("p99", l.p99, f.p99),
            ] {
                t.ratio_row(
                    sec,
                    &format!("{} {name} (1 client)", w.name),
                    (us(d), time(d)),
                    Some((us(fd), time(fd))),
                );
            }
            for c in CLIENTS {
                let (a, b) = (throughput_of(&w.side, c), throughput_of(http, c));
                t.ratio_row(
                    sec,
                    &format!("{} throughput {c} clients", w.name),
                    (a, rate(a)),
                    Some((b, rate(b))),
                );
            }
            let cpu = &w.side.cpu;
            t.ratio_row(
                sec,
                &format!("{} CPU/invoke server", w.name),
                (us(cpu.server), time(cpu.server)),
                Some((us(http.cpu.server), time(http.cpu.server))),
            );
            if let Some(func) = cpu.function {
                t.row(
                    sec,
                    &format!("{} CPU/invoke function", w.name),
                    time(func),
                    String::new(),
                    String::new(),
                );
            }
            t.ratio_row(
                sec,
                &format!("{} CPU/invoke client", w.name),
                (us(cpu.client), time(cpu.client)),
                Some((us(http.cpu.client), time(http.cpu.client))),
            );
            warm.insert(
                w.name.into(),
                json!({
                    "runtime": w.runtime,
                    "latency": percentiles_json(l),
                    "p50_x_floor": round(ratio(us(l.p50), us(f.p50)), 3),
                    "p99_x_floor": round(ratio(us(l.p99), us(f.p99)), 3),
                    "throughput": CLIENTS.iter().map(|&c| (c.to_string(), json!({
                        "per_second": round(throughput_of(&w.side, c), 1),
                        "x_floor": round(ratio(throughput_of(&w.side, c), throughput_of(http, c)), 4),
                    }))).collect::<Map<_, _>>(),
                    "cpu_us_per_invoke": {
                        "server": round(us(cpu.server), 2),
                        "function": cpu.function.map(|d| round(us(d), 2)),
                        "client": round(us(cpu.client), 2),
                    },
                    "server_cpu_x_floor": round(ratio(us(cpu.server), us(http.cpu.server)), 3),
                    "errors": w.side.errors(),
                }),
            );
        }
        // The targets on Ignis's own share: the minimal echo when built.
        let reference = m
            .warm
            .iter()
            .find(|w| w.name == "rust-min-echo")
            .or_else(|| m.warm.iter().find(|w| w.name == "rust-echo"));
        if let Some(w) = reference {
            let (c, fc) = (w.side.cpu.server, http.cpu.server);
            v.push(Verdict::at_most(
                format!(
                    "server CPU per warm invoke ({}) <= 3x floor server's per exchange",
                    w.name
                ),
                ratio(us(c), us(fc)),
                3.0,
                format!("{} vs {}", time(c), time(fc)),
            ));
            let (l, fl) = (&w.side.latency, &http.latency);
            v.push(Verdict::at_most(
                format!("warm p50 ({}) <= 3.5x floor p50", w.name),
                ratio(us(l.p50), us(fl.p50)),
                3.5,
                format!("{} vs {}", time(l.p50), time(fl.p50)),
            ));
            v.push(Verdict::at_most(
                format!("warm p99 ({}) <= 5x floor p99", w.name),
                ratio(us(l.p99), us(fl.p99)),
                5.0,
                format!("{} vs {}", time(l.p99), time(fl.p99)),
            ));
            let (a, b) = (throughput_of(&w.side, 1), throughput_of(http, 1));
            v.push(Verdict::at_least(
                format!("1-client throughput ({}) >= 0.2x floor's", w.name),
                ratio(a, b),
                0.2,
                format!("{} vs {}", rate(a), rate(b)),
            ));
        }
        for (name, limit) in [("rust-min-echo", 0.3), ("rust-echo", 0.1)] {
            if let Some(w) = m.warm.iter().find(|w| w.name == name) {
                let (a, b) = (throughput_of(&w.side, 16), throughput_of(http, 16));
                v.push(Verdict::at_least(
                    format!("16-client throughput ({name}) >= {limit}x floor's"),
                    ratio(a, b),
                    limit,
                    format!("{} vs {}", rate(a), rate(b)),
                ));
            }
        }
    }
    json.insert("warm".into(), Value::Object(warm));
}

/// Cold starts per variant; the targets on the last (the default, or `after`).
fn cold(m: &Measured, out: &mut Out) {
    let (t, v, json) = (&mut out.table, &mut out.verdicts, &mut out.json);
    // The floor a cold start is held against: the one run alongside its
    // cold starts, else the floors section's. (label, p50, which)
    let floor_of = |c: &ColdRuntime| -> Option<(String, Duration, &'static str)> {
        let key = cold_floor(&c.language)?;
        let f = m.procs.iter().find(|p| p.key == key)?;
        Some(match &c.floor {
            Some((_, p)) => (f.label.clone(), p.p50, "alongside the cold starts"),
            None => (f.label.clone(), f.runs.p50, "floors section"),
        })
    };
    let ab = m.variants.len() > 1;
    let mut cold = Map::new();
    for run in &m.variants {
        let mut by_runtime = Map::new();
        let sec = format!("cold {}", run.variant.name);
        for c in &run.cold {
            let floor = floor_of(c);
            let shown_floor = floor
                .as_ref()
                .map(|(label, p50, _)| (ms(*p50), format!("{} ({})", time(*p50), short(label))));
            t.ratio_row(
                &sec,
                &format!("{} p50", c.runtime),
                (ms(c.cold.p50), time(c.cold.p50)),
                shown_floor,
            );
            t.row(
                &sec,
                &format!("{} p90", c.runtime),
                time(c.cold.p90),
                String::new(),
                String::new(),
            );
            if let Some(init) = &c.init {
                t.row(
                    &sec,
                    &format!("{} Init Duration p50", c.runtime),
                    time(init.p50),
                    String::new(),
                    String::new(),
                );
            }
            let mut entry = percentiles_json(&c.cold);
            entry["init_p50_ms"] = json!(c.init.map(|i| round(ms(i.p50), 4)));
            if let Some((label, p50, which)) = &floor {
                entry["floor"] = json!(label);
                entry["floor_p50_ms"] = json!(round(ms(*p50), 4));
                entry["floor_measured"] = json!(which);
                entry["x_floor"] = json!(round(ratio(ms(c.cold.p50), ms(*p50)), 3));
            }
            by_runtime.insert(c.runtime.clone(), entry);
        }
        cold.insert(run.variant.name.into(), Value::Object(by_runtime));
    }
    if let Some(last) = m.variants.last() {
        let tag = if ab {
            format!(" [{}]", last.variant.name)
        } else {
            String::new()
        };
        for c in &last.cold {
            let Some((label, fp, which)) = floor_of(c) else {
                continue;
            };
            let cp = c.cold.p50;
            let detail = format!(
                "{} vs {} for {}, {which}",
                time(cp),
                time(fp),
                short(&label)
            );
            match c.language.as_str() {
                "provided" => v.push(Verdict::at_most(
                    format!(
                        "cold p50 {} - fork+exec static p50 <= 1.5 ms{tag}",
                        c.runtime
                    ),
                    ms(cp) - ms(fp),
                    1.5,
                    detail,
                )),
                lang => {
                    let limit = if lang == "java" { 1.0 } else { 0.5 };
                    v.push(Verdict::at_most(
                        format!("cold p50 {} <= {limit}x {}{tag}", c.runtime, short(&label)),
                        ratio(ms(cp), ms(fp)),
                        limit,
                        detail,
                    ));
                }
            }
        }
        if let Some(b) = &last.burst {
            let mut verdict = Verdict::at_most(
                format!(
                    "burst of {} distinct cold {} functions <= 1.5 s{tag}",
                    b.functions, b.runtime
                ),
                b.all_answered.as_secs_f64(),
                1.5,
                format!(
                    "{} until all answered, {} answered wrongly",
                    time(b.all_answered),
                    b.failures.len()
                ),
            );
            // All must be answered with the event.
            verdict.met &= b.failures.is_empty();
            v.push(verdict);
        }
        for e in &last.memory {
            let limit = match e.language.as_str() {
                "python" => 4.0,
                "nodejs" => 10.0,
                _ => continue,
            };
            v.push(Verdict::at_most(
                format!(
                    "idle warm {} environment USS <= {limit} MiB{tag}",
                    e.runtime
                ),
                e.footprint.uss_kib as f64 / 1024.0,
                limit,
                format!(
                    "PSS {}, private dirty {}, {} processes",
                    mib(e.footprint.pss_kib),
                    mib(e.footprint.private_dirty_kib),
                    e.footprint.processes
                ),
            ));
        }
    }
    json.insert("cold".into(), Value::Object(cold));
}

/// The bursts per variant.
fn burst(m: &Measured, out: &mut Out) {
    let (t, json) = (&mut out.table, &mut out.json);
    let mut bursts = Map::new();
    for run in &m.variants {
        if let Some(b) = &run.burst {
            t.row(
                &format!("burst {}", run.variant.name),
                &format!(
                    "{} distinct cold {} at once, all answered",
                    b.functions, b.runtime
                ),
                time(b.all_answered),
                String::new(),
                String::new(),
            );
            if let Some(each) = &b.each {
                t.row(
                    &format!("burst {}", run.variant.name),
                    "each request p50 / max",
                    format!("{} / {}", time(each.p50), time(each.max)),
                    String::new(),
                    String::new(),
                );
            }
            bursts.insert(
                run.variant.name.into(),
                json!({
                    "runtime": b.runtime,
                    "functions": b.functions,
                    "all_answered_ms": round(ms(b.all_answered), 3),
                    "each": b.each.as_ref().map(percentiles_json),
                    "errors": b.failures.len(),
                    "failures": b.failures,
                }),
            );
        }
    }
    json.insert("burst".into(), Value::Object(bursts));
}

/// Idle environments per variant, and the warm server's RSS.
fn memory(m: &Measured, out: &mut Out) {
    let (t, json) = (&mut out.table, &mut out.json);
    let mut envs = Map::new();
    for run in &m.variants {
        let mut by_runtime = Map::new();
        for e in &run.memory {
            t.row(
                &format!("memory {}", run.variant.name),
                &format!("idle warm {} env USS / PSS / private dirty", e.runtime),
                format!(
                    "{} / {} / {}",
                    mib(e.footprint.uss_kib),
                    mib(e.footprint.pss_kib),
                    mib(e.footprint.private_dirty_kib)
                ),
                String::new(),
                String::new(),
            );
            by_runtime.insert(
                e.runtime.clone(),
                json!({
                    "uss_kib": e.footprint.uss_kib,
                    "pss_kib": e.footprint.pss_kib,
                    "rss_kib": e.footprint.rss_kib,
                    "private_dirty_kib": e.footprint.private_dirty_kib,
                    "processes": e.footprint.processes,
                    "environments_found": e.found,
                }),
            );
        }
        if !by_runtime.is_empty() {
            envs.insert(run.variant.name.into(), Value::Object(by_runtime));
        }
    }
    let mut memory = Map::new();
    memory.insert("environments".into(), Value::Object(envs));
    if let Some(s) = &m.server_memory {
        let show = |k: Option<u64>| k.map_or_else(|| "-".into(), mib);
        t.row(
            "memory",
            "warm server RSS idle (functions deployed)",
            show(s.idle),
            String::new(),
            String::new(),
        );
        t.row(
            "memory",
            "warm server RSS after the load",
            show(s.after_load),
            String::new(),
            String::new(),
        );
        t.row(
            "memory",
            "warm server peak RSS",
            show(s.peak),
            String::new(),
            String::new(),
        );
        memory.insert(
            "server".into(),
            json!({ "rss_idle_kib": s.idle, "rss_after_load_kib": s.after_load, "peak_rss_kib": s.peak }),
        );
    }
    json.insert("memory".into(), Value::Object(memory));
}

/// A command without its directory: `python3.12 -S -c pass`.
fn short(label: &str) -> String {
    match label.split_once(' ') {
        Some((program, args)) if program.starts_with('/') => {
            format!("{} {args}", runtimes::file_name(Path::new(program)))
        }
        _ => label.to_string(),
    }
}

//! Replays a synthetic week of invocations shaped like the Azure Functions
//! 2019 trace against keep-alive policies, and prints a table of their
//! warm-hit ratios, the cold-start share of the functions' distribution and
//! the memory-time environments spent idle.
//!
//! ```text
//! cargo run --release -p ignis-router --example keepalive_replay [-- FUNCTIONS DAYS SEED]
//! ```
//!
//! The trace (deterministic for a seed) follows the published shape
//! (Shahrad et al., ATC '20, §3): about 45% of functions invoked at most
//! once an hour on average and 81% at most once a minute; a mix of
//! timer-periodic, Poisson and bursty heavy-tailed arrivals. Each function
//! has one environment; an invocation's run time is left out (idle time =
//! inter-arrival time), as is concurrency. Memory-time counts the seconds
//! an environment is alive and idle, all functions weighing the same.
//! `docs/keepalive.md` explains the choices and records a run.

use std::time::{Duration, Instant};

use ignis_router::keepalive::{History, Mode, Policy, RANGE};

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

/// How a function is triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// A timer: a fixed period, fired a second or two late.
    Timer,
    /// Independent arrivals (HTTP, queue messages at a steady rate).
    Poisson,
    /// Bursts of a few invocations, separated by heavy-tailed gaps.
    Bursty,
}

struct Function {
    pattern: Pattern,
    /// Arrival times, seconds from the trace's start, ascending.
    arrivals: Vec<f64>,
}

/// A log-uniform draw in `[lo, hi]`.
fn log_uniform(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.f64() * (hi.ln() - lo.ln())).exp()
}

fn exponential(rng: &mut fastrand::Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.f64()).ln()
}

/// A Pareto draw with shape 1.5 and the given mean (heavy tail, finite
/// mean, infinite variance).
fn pareto(rng: &mut fastrand::Rng, mean: f64) -> f64 {
    const SHAPE: f64 = 1.5;
    let scale = mean * (SHAPE - 1.0) / SHAPE;
    scale / (1.0 - rng.f64()).powf(1.0 / SHAPE)
}

/// Periods timers are set to, seconds.
const TIMER_PERIODS: [f64; 16] = [
    10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0, 7200.0, 10800.0,
    21600.0, 43200.0, 86400.0,
];

fn generate(functions: usize, span: f64, seed: u64) -> Vec<Function> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..functions)
        .map(|_| {
            // Mean inter-arrival time: 45% at most hourly, 36% more than
            // hourly but at most once a minute, 19% more often (every 10 to
            // 50 s: busier functions are warm under any policy).
            let class = rng.f64();
            let mean = if class < 0.45 {
                log_uniform(&mut rng, HOUR, 3.0 * DAY)
            } else if class < 0.81 {
                log_uniform(&mut rng, MINUTE, HOUR)
            } else {
                log_uniform(&mut rng, 10.0, 50.0)
            };
            let pattern = match rng.f64() {
                p if p < 0.3 => Pattern::Timer,
                p if p < 0.7 => Pattern::Poisson,
                _ => Pattern::Bursty,
            };
            let arrivals = arrivals(&mut rng, pattern, mean, span);
            Function { pattern, arrivals }
        })
        .collect()
}

fn arrivals(rng: &mut fastrand::Rng, pattern: Pattern, mean: f64, span: f64) -> Vec<f64> {
    let mut out = Vec::new();
    match pattern {
        Pattern::Timer => {
            let period = TIMER_PERIODS
                .iter()
                .copied()
                .min_by(|a, b| {
                    (a.ln() - mean.ln())
                        .abs()
                        .total_cmp(&(b.ln() - mean.ln()).abs())
                })
                .unwrap_or(mean);
            let mut t = rng.f64() * period;
            while t < span {
                out.push(t + rng.f64() * 2.0);
                t += period;
            }
        }
        Pattern::Poisson => {
            let mut t = exponential(rng, mean);
            while t < span {
                out.push(t);
                t += exponential(rng, mean);
            }
        }
        Pattern::Bursty => {
            // Bursts of 1 + geometric(mean 3) invocations a few seconds
            // apart; the gaps between bursts keep the function's mean rate.
            let per_burst = 4.0;
            let mut t = pareto(rng, mean * per_burst);
            while t < span {
                let mut at = t;
                loop {
                    out.push(at);
                    if rng.f64() < 1.0 / per_burst {
                        break;
                    }
                    at += exponential(rng, 2.0);
                }
                t = at + pareto(rng, mean * per_burst);
            }
        }
    }
    out.retain(|&t| t < span);
    out
}

/// A policy the replay compares.
#[derive(Clone, Copy)]
enum Replayed {
    /// A fixed idle timeout, seconds.
    Fixed(f64),
    /// The hybrid histogram policy; `prewarm`: environments are ended after
    /// each invocation and started again when the pre-warm window closes
    /// (as the paper; Ignis needs a pre-started pool for that), else kept
    /// from the invocation to the end of the keep-alive window (Ignis's
    /// router today).
    Hybrid { fixed: f64, prewarm: bool },
}

impl Replayed {
    fn name(&self) -> String {
        match self {
            Self::Fixed(t) => format!("fixed {}", duration(*t)),
            Self::Hybrid { fixed, prewarm } => format!(
                "hybrid{} (fallback {})",
                if *prewarm {
                    " + pre-warm"
                } else {
                    ", keep only"
                },
                duration(*fixed)
            ),
        }
    }
}

fn duration(secs: f64) -> String {
    if secs >= HOUR {
        format!("{} h", secs / HOUR)
    } else {
        format!("{} min", secs / MINUTE)
    }
}

#[derive(Default)]
struct Outcome {
    invocations: u64,
    warm: u64,
    /// Per function with at least two invocations: its cold-start share.
    cold_shares: Vec<f64>,
    /// Seconds environments were alive and idle.
    idle_seconds: f64,
}

fn replay(functions: &[Function], policy: Replayed, span: f64) -> Outcome {
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut out = Outcome::default();
    for f in functions {
        let Some(&first) = f.arrivals.first() else {
            continue;
        };
        let mut history = History::default();
        let (mut warm, mut prev) = (0u64, first);
        history.started(at(first));
        history.finished(at(first));
        for &t in &f.arrivals[1..] {
            let gap = t - prev;
            // The windows decided when the previous invocation ended.
            let (prewarm, horizon) = windows(policy, &history);
            let (hit, idle) = match policy {
                Replayed::Hybrid { prewarm: true, .. } => (
                    gap >= prewarm && gap <= horizon,
                    (gap.min(horizon) - prewarm).max(0.0),
                ),
                _ => (gap <= horizon, gap.min(horizon)),
            };
            warm += u64::from(hit);
            out.idle_seconds += idle;
            history.started(at(t));
            history.finished(at(t));
            prev = t;
        }
        // After the last invocation, until the trace ends.
        let (prewarm, horizon) = windows(policy, &history);
        let tail = span - prev;
        out.idle_seconds += match policy {
            Replayed::Hybrid { prewarm: true, .. } => (tail.min(horizon) - prewarm).max(0.0),
            _ => tail.min(horizon),
        };
        let n = f.arrivals.len() as u64;
        out.invocations += n;
        out.warm += warm;
        if n >= 2 {
            out.cold_shares.push((n - warm) as f64 / n as f64);
        }
    }
    out
}

/// (pre-warm window, end of the keep-alive window), seconds.
fn windows(policy: Replayed, history: &History) -> (f64, f64) {
    match policy {
        Replayed::Fixed(t) => (0.0, t),
        Replayed::Hybrid { fixed, .. } => {
            let w = Policy {
                mode: Mode::Hybrid,
                fixed: Duration::from_secs_f64(fixed),
                cap: RANGE,
            }
            .windows(history.histogram());
            (w.prewarm.as_secs_f64(), w.horizon().as_secs_f64())
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (count, days, seed) = (arg(0, 2000), arg(1, 7), arg(2, 2019));
    let span = days as f64 * DAY;
    let began = Instant::now();
    let functions = generate(count as usize, span, seed);

    let total: usize = functions.iter().map(|f| f.arrivals.len()).sum();
    let rate_share = |per: f64| {
        let n = functions
            .iter()
            .filter(|f| f.arrivals.len() as f64 <= span / per)
            .count();
        100.0 * n as f64 / functions.len() as f64
    };
    let patterns = [Pattern::Timer, Pattern::Poisson, Pattern::Bursty]
        .map(|p| functions.iter().filter(|f| f.pattern == p).count());
    println!(
        "trace: {count} functions, {days} days, seed {seed}, {total} invocations; \
         at most hourly {:.0}%, at most once a minute {:.0}%; \
         timer {} / Poisson {} / bursty {}",
        rate_share(HOUR),
        rate_share(MINUTE),
        patterns[0],
        patterns[1],
        patterns[2],
    );

    let policies = [
        Replayed::Fixed(5.0 * MINUTE),
        Replayed::Fixed(10.0 * MINUTE),
        Replayed::Fixed(20.0 * MINUTE),
        Replayed::Fixed(HOUR),
        Replayed::Fixed(4.0 * HOUR),
        Replayed::Hybrid {
            fixed: 5.0 * MINUTE,
            prewarm: false,
        },
        Replayed::Hybrid {
            fixed: 5.0 * MINUTE,
            prewarm: true,
        },
        Replayed::Hybrid {
            fixed: HOUR,
            prewarm: true,
        },
    ];
    let outcomes: Vec<_> = policies
        .iter()
        .map(|&p| (p, replay(&functions, p, span)))
        .collect();
    let baseline = outcomes
        .iter()
        .find(|(p, _)| matches!(p, Replayed::Fixed(t) if *t == 10.0 * MINUTE))
        .map_or(1.0, |(_, o)| o.idle_seconds);
    println!();
    println!(
        "| policy | warm hits | cold % p50 / p75 / p90 of functions | idle memory-time (env-hours) | vs fixed 10 min |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (policy, mut o) in outcomes {
        o.cold_shares.sort_by(f64::total_cmp);
        println!(
            "| {} | {:.2}% | {:.0} / {:.0} / {:.0} | {:.0} | {:.2} |",
            policy.name(),
            100.0 * o.warm as f64 / o.invocations as f64,
            100.0 * percentile(&o.cold_shares, 0.5),
            100.0 * percentile(&o.cold_shares, 0.75),
            100.0 * percentile(&o.cold_shares, 0.9),
            o.idle_seconds / HOUR,
            o.idle_seconds / baseline,
        );
    }
    println!();
    println!("replayed in {:.1} s", began.elapsed().as_secs_f64());
}

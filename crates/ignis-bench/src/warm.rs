//! Warm requests to several servers side by side with one client: each
//! [`Subject`] is warmed up, then measured in blocks (latency) and slices
//! (throughput) alternating between the subjects, so all see the same
//! background load; the CPU each party used during the latency blocks is
//! summed by [`cpu::Sample`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::client::{Conn, Target};
use crate::cpu;
use crate::load::{latency, latency_into, throughput, LatencyRun, ThroughputRun};
use crate::report::{CpuPerRequest, Side};
use crate::stats::Percentiles;

/// One server (and function) under measurement.
pub struct Subject<'a> {
    /// How it is shown.
    pub name: String,
    /// Where its requests go.
    pub target: Arc<Target>,
    /// The CPU its parties have used so far.
    pub cpu_now: Box<dyn Fn() -> cpu::Sample + 'a>,
    /// What has been measured of it so far.
    pub measured: Measured,
}

/// What has been measured of one subject so far.
#[derive(Debug, Default)]
pub struct Measured {
    /// Errors during the warm-up.
    pub warmup_errors: u64,
    /// The 1-client latency run.
    pub latency: LatencyRun,
    /// CPU used during the latency blocks.
    pub cpu: cpu::Sample,
    /// One run per concurrency, in the order measured.
    pub throughput: Vec<ThroughputRun>,
}

impl<'a> Subject<'a> {
    /// A subject with nothing measured yet.
    pub fn new(
        name: impl Into<String>,
        target: Arc<Target>,
        cpu_now: impl Fn() -> cpu::Sample + 'a,
    ) -> Self {
        Self {
            name: name.into(),
            target,
            cpu_now: Box::new(cpu_now),
            measured: Measured::default(),
        }
    }

    /// Percentiles of the latency run so far.
    pub fn percentiles(&self) -> anyhow::Result<Percentiles> {
        Percentiles::of(&self.measured.latency.samples)
            .with_context(|| format!("no request of the {} latency run succeeded", self.name))
    }

    /// The measurements, with CPU per request over `requests` latency
    /// requests.
    pub fn side(self, requests: usize) -> anyhow::Result<Side> {
        let latency = self.percentiles()?;
        let m = self.measured;
        let per = |ns: u64| Duration::from_nanos(ns / requests.max(1) as u64);
        Ok(Side {
            latency,
            latency_errors: m.latency.errors,
            throughput: m.throughput,
            warmup_errors: m.warmup_errors,
            cpu: CpuPerRequest {
                client: per(m.cpu.client),
                server: per(m.cpu.server),
                function: m.cpu.function.map(per),
            },
        })
    }
}

/// Warms each subject up: `clients` clients for `duration` (every
/// environment the server will want then exists), then `requests`
/// sequential requests. `progress` hears of each.
pub async fn warm_up(
    subjects: &mut [Subject<'_>],
    clients: usize,
    duration: Duration,
    requests: usize,
    progress: impl Fn(std::fmt::Arguments<'_>),
) -> anyhow::Result<()> {
    for s in subjects {
        let warm = throughput(&s.target, clients, duration).await?;
        let warm_lat = latency(&s.target, requests).await?;
        s.measured.warmup_errors = warm.errors + warm_lat.errors;
        progress(format_args!(
            "{} warm-up: {:.0} req/s at {clients} clients, {} errors",
            s.name,
            warm.per_second(),
            s.measured.warmup_errors
        ));
    }
    Ok(())
}

/// `requests` sequential requests per subject on one connection each, in
/// blocks of `block` alternating between the subjects, with the CPU used
/// during each block.
pub async fn latency_alternating(
    subjects: &mut [Subject<'_>],
    requests: usize,
    block: usize,
    progress: impl Fn(std::fmt::Arguments<'_>),
) -> anyhow::Result<()> {
    let mut conns = Vec::new();
    for s in subjects.iter() {
        conns.push(Conn::open(s.target.addr).await?);
    }
    let mut left = requests;
    while left > 0 {
        let step = left.min(block);
        for (s, conn) in subjects.iter_mut().zip(&mut conns) {
            let before = (s.cpu_now)();
            latency_into(conn, &s.target, step, &mut s.measured.latency).await?;
            s.measured.cpu.add(&before, &(s.cpu_now)());
        }
        left -= step;
    }
    for s in subjects.iter() {
        let p = s.percentiles()?;
        progress(format_args!(
            "{} latency: p50 {:?} p90 {:?} p99 {:?} ({} errors)",
            s.name, p.p50, p.p90, p.p99, s.measured.latency.errors
        ));
    }
    Ok(())
}

/// A closed loop of each concurrency in `clients` for `duration` per
/// subject, in `slices` slices alternating between the subjects.
pub async fn throughput_alternating(
    subjects: &mut [Subject<'_>],
    clients: &[usize],
    duration: Duration,
    slices: u32,
    progress: impl Fn(std::fmt::Arguments<'_>),
) -> anyhow::Result<()> {
    let slice = duration / slices.max(1);
    for &n in clients {
        let mut runs: Vec<_> = subjects.iter().map(|_| ThroughputRun::empty(n)).collect();
        for _ in 0..slices.max(1) {
            for (s, run) in subjects.iter().zip(&mut runs) {
                run.add(&throughput(&s.target, n, slice).await?);
            }
        }
        for (s, run) in subjects.iter_mut().zip(runs) {
            progress(format_args!(
                "{} {n:>2} clients: {:.0} req/s ({} errors)",
                s.name,
                run.per_second(),
                run.errors
            ));
            s.measured.throughput.push(run);
        }
    }
    Ok(())
}

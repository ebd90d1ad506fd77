//! The load generator: a closed loop of [`Conn`]s, each sending its next
//! request as soon as the previous answer is read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Conn, Outcome, Target};

/// A latency run: one client, requests one after another.
#[derive(Debug, Clone, Default)]
pub struct LatencyRun {
    /// Duration of every correctly answered request, in the order sent.
    pub samples: Vec<Duration>,
    /// Requests answered wrongly or not at all.
    pub errors: u64,
}

/// A throughput run: `clients` connections in parallel for a fixed time.
#[derive(Debug, Clone, Copy)]
pub struct ThroughputRun {
    /// Concurrent clients.
    pub clients: usize,
    /// Correctly answered requests.
    pub ok: u64,
    /// Requests answered wrongly or not at all.
    pub errors: u64,
    /// From the start until the last client finished its last request.
    pub elapsed: Duration,
}

impl ThroughputRun {
    /// Nothing measured yet, at `clients`.
    pub fn empty(clients: usize) -> Self {
        Self {
            clients,
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
        }
    }

    /// Adds another run at the same concurrency (a slice of this one).
    pub fn add(&mut self, other: &ThroughputRun) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
    }

    /// Correct answers per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Sends `requests` requests on one connection, one at a time, and times
/// each. A broken connection counts as an error and is opened again.
pub async fn latency(target: &Target, requests: usize) -> anyhow::Result<LatencyRun> {
    let mut conn = Conn::open(target.addr).await?;
    let mut run = LatencyRun {
        samples: Vec::with_capacity(requests),
        errors: 0,
    };
    latency_into(&mut conn, target, requests, &mut run).await?;
    Ok(run)
}

/// [`latency`] on a connection the caller keeps, adding to `run`: lets two
/// targets be measured in alternating blocks.
pub async fn latency_into(
    conn: &mut Conn,
    target: &Target,
    requests: usize,
    run: &mut LatencyRun,
) -> anyhow::Result<()> {
    for _ in 0..requests {
        let start = Instant::now();
        match conn.post(target).await {
            Ok(Outcome::Ok) => run.samples.push(start.elapsed()),
            Ok(Outcome::Bad) => run.errors += 1,
            Err(_) => {
                run.errors += 1;
                *conn = Conn::open(target.addr).await?;
            }
        }
    }
    Ok(())
}

/// Runs `clients` connections in a closed loop for `duration` (every client
/// finishes the request it is in when time is up).
pub async fn throughput(
    target: &Arc<Target>,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<ThroughputRun> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::open(target.addr).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|conn| tokio::spawn(client_loop(conn, Arc::clone(target), deadline)))
        .collect();
    let mut run = ThroughputRun::empty(clients);
    for task in tasks {
        let (ok, errors) = task.await?;
        run.ok += ok;
        run.errors += errors;
    }
    run.elapsed = start.elapsed();
    Ok(run)
}

/// One client of a throughput run: (correct answers, errors). A client whose
/// connection breaks and can not be opened again stops early.
async fn client_loop(mut conn: Conn, target: Arc<Target>, deadline: Instant) -> (u64, u64) {
    let (mut ok, mut errors) = (0, 0);
    while Instant::now() < deadline {
        match conn.post(&target).await {
            Ok(Outcome::Ok) => ok += 1,
            Ok(Outcome::Bad) => errors += 1,
            Err(_) => {
                errors += 1;
                match Conn::open(target.addr).await {
                    Ok(fresh) => conn = fresh,
                    Err(_) => break,
                }
            }
        }
    }
    (ok, errors)
}

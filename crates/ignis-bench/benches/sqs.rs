//! Queue throughput: SQS's send-batch / receive / delete-batch loop with
//! 10-message batches, next to the floor of SQLite doing the same writes.
//!
//! Cases (same run, same machine, each for `IGNIS_BENCH_SECS` (3) seconds):
//! - `floor: SQLite insert+delete`: one connection with the store's
//!   durability settings (WAL, `synchronous = NORMAL`) inserting 10
//!   messages of a 256-byte body in one transaction and deleting them in a
//!   second (`ignis_bench::queues::sqlite_floor`): what any durable queue on
//!   this store must at least pay per message;
//! - `store: send+claim+delete`: the `SqsStore` of `SqliteStore` called
//!   directly, one loop (three transactions per batch, as the engine makes);
//! - `engine, N loops`: the engine in-process (`Sqs::send` of 10 messages
//!   with validation and MD5s, `Sqs::receive` of up to 10 with a 1 s long
//!   poll, `Sqs::delete` of the handles), N = 1 and 4 concurrent loops on
//!   one standard queue, on a 2-worker runtime.
//!
//! Messages/s counts messages sent, received and deleted. The table shows
//! each rate, its ratio to the floor and the target (engine ≥ 5,000
//! messages/s; a miss does not fail the bench). The end-to-end HTTP loop
//! plugs into the same `closed_loop` with a client step. The run is
//! appended to `benches/runs/<date>.txt` (`IGNIS_BENCH_SAVE=0` skips).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ignis_bench::queues::{closed_loop, sqlite_floor, LoopRun, BATCH};
use ignis_bench::report;
use ignis_bench::server::workspace_root;
use ignis_bench::settings;
use ignis_sqs::{Outgoing, Receive, Sqs};
use ignis_store::sqs::{ClaimSpec, DeleteOutcome, NewMessage, SqsQueueRecord, SqsStore};
use ignis_store::SqliteStore;

/// The target for the engine's loop, messages per second.
const TARGET: f64 = 5_000.0;
/// Concurrent loops of the engine cases.
const LOOPS: [usize; 2] = [1, 4];
/// Message body size, bytes.
const BODY_BYTES: usize = 256;

fn main() -> ExitCode {
    ignis_bench::run_bench("sqs", bench)
}

fn bench() -> anyhow::Result<()> {
    let secs: u64 = settings::positive("IGNIS_BENCH_SECS", 3)?;
    let duration = Duration::from_secs(secs);
    let machine = report::machine(&workspace_root());
    let body = "x".repeat(BODY_BYTES);
    let scratch = tempfile::Builder::new()
        .prefix("ignis-bench-sqs-")
        .tempdir()?;
    let floor = sqlite_floor(scratch.path(), &body, duration)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let store_run = runtime.block_on(store_loop(scratch.path(), &body, duration))?;
    let mut engine_runs = Vec::new();
    for loops in LOOPS {
        let dir = scratch.path().join(format!("engine-{loops}"));
        engine_runs.push((
            loops,
            runtime.block_on(engine_loop(&dir, &body, loops, duration))?,
        ));
    }
    let mut text = format!(
        "bench: sqs (send batch + receive + delete batch, {BATCH}-message batches of {BODY_BYTES} bytes)\n{machine}\n"
    );
    let _ = writeln!(
        text,
        "{:<34} {:>12} {:>10} {:>8}",
        "case", "messages/s", "x floor", "errors"
    );
    let mut line = |name: &str, run: &LoopRun| {
        let _ = writeln!(
            text,
            "{name:<34} {:>12.0} {:>10.2} {:>8}",
            run.rate(),
            run.rate() / floor.rate(),
            run.errors
        );
    };
    line("floor: SQLite insert+delete", &floor);
    line("store: send+claim+delete, 1 loop", &store_run);
    for (loops, run) in &engine_runs {
        line(&format!("engine, {loops} loop(s)"), run);
    }
    let best = engine_runs
        .iter()
        .map(|(_, r)| r.rate())
        .fold(0.0, f64::max);
    let _ = writeln!(
        text,
        "engine best {best:.0} messages/s (target >= {TARGET:.0}): {}",
        if best >= TARGET { "PASS" } else { "MISS" }
    );
    let _ = writeln!(
        text,
        "config: {secs} s per case, data on {}",
        scratch.path().display()
    );
    report::print_and_store(&text, settings::runs_dir().as_deref());
    Ok(())
}

/// The store alone: one loop of send, claim and delete of 10 messages.
async fn store_loop(
    dir: &std::path::Path,
    body: &str,
    duration: Duration,
) -> anyhow::Result<LoopRun> {
    let store = Arc::new(SqliteStore::open_in(&dir.join("store"))?);
    store
        .create_queue(&SqsQueueRecord {
            name: "q".into(),
            attributes: Default::default(),
            tags: Default::default(),
            created_s: 0,
            modified_s: 0,
        })
        .await?;
    let body = body.to_string();
    Ok(closed_loop(1, duration, move |_| {
        let (store, body) = (Arc::clone(&store), body.clone());
        async move {
            let now = chrono::Utc::now().timestamp_millis();
            let batch: Vec<NewMessage> = (0..BATCH)
                .map(|i| NewMessage {
                    message_id: format!("{now}-{i}"),
                    body: body.clone(),
                    md5_body: "0".repeat(32),
                    sender_id: "000000000000".into(),
                    sent_ms: now,
                    visible_at_ms: now,
                    ..NewMessage::default()
                })
                .collect();
            store.send("q", &batch, now).await?;
            let claimed = store
                .claim(
                    "q",
                    &ClaimSpec {
                        now_ms: now,
                        limit: BATCH,
                        visible_until_ms: now + 30_000,
                        token: format!("t{now}"),
                        expired_before_ms: 0,
                        fifo: false,
                        redrive: None,
                        source_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
                    },
                )
                .await?;
            let handles: Vec<_> = claimed
                .delivered
                .iter()
                .map(|m| (m.id, m.receipt.clone()))
                .collect();
            let deleted = store.delete_messages("q", &handles, now, false).await?;
            Ok(deleted
                .iter()
                .filter(|d| **d == DeleteOutcome::Deleted)
                .count() as u64)
        }
    })
    .await)
}

/// The engine in-process: `loops` concurrent send/receive/delete loops.
async fn engine_loop(
    dir: &std::path::Path,
    body: &str,
    loops: usize,
    duration: Duration,
) -> anyhow::Result<LoopRun> {
    let store = SqliteStore::open_in(dir)?;
    let sqs = Sqs::new(Arc::new(store), "us-east-1");
    sqs.create_queue("bench", Default::default(), Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = body.to_string();
    Ok(closed_loop(loops, duration, move |_| {
        let (sqs, body) = (sqs.clone(), body.clone());
        async move { engine_step(&sqs, &body).await }
    })
    .await)
}

/// One step: a batch in, whatever a receive gets out and deleted.
async fn engine_step(sqs: &Sqs, body: &str) -> anyhow::Result<u64> {
    let batch = (0..BATCH)
        .map(|_| Outgoing {
            body: body.to_string(),
            sender_id: "000000000000".into(),
            ..Outgoing::default()
        })
        .collect();
    let sent = sqs
        .send("bench", batch)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        sent.iter().all(Result::is_ok),
        "a send entry failed: {sent:?}"
    );
    let got = sqs
        .receive(
            "bench",
            Receive {
                max_messages: BATCH as u32,
                visibility_timeout: None,
                wait_seconds: Some(1),
                attempt_id: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let handles: Vec<String> = got.into_iter().map(|d| d.receipt_handle).collect();
    let deleted = sqs
        .delete("bench", &handles)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(deleted.iter().all(Result::is_ok), "a delete entry failed");
    Ok(handles.len() as u64)
}

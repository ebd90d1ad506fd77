//! Queue throughput end to end: the real `ignis serve` (release build,
//! `IGNIS_BIN`, default `$CARGO_TARGET_DIR/release/ignis`) driven over HTTP
//! with SQS's JSON protocol — `SendMessageBatch` of 10, `ReceiveMessage` of
//! up to 10, `DeleteMessageBatch` of what came — by N concurrent loops, each
//! on its own keep-alive connection (`ignis_bench::sqs_http`), next to the
//! floor measured in the same run: SQLite inserting and deleting the same
//! batches with the store's durability settings
//! (`ignis_bench::queues::sqlite_floor`; what any durable queue on this
//! store pays per message, without HTTP, parsing or the engine).
//!
//! Messages/s counts messages sent, received and deleted; each case runs
//! `IGNIS_BENCH_SECS` (3) seconds on a fresh queue. The target is
//! ≥ 5,000 messages/s end to end; a miss is reported, not failed. The run is
//! appended to `benches/runs/<date>.txt` (`IGNIS_BENCH_SAVE=0` skips).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use ignis_bench::queues::{sqlite_floor, BATCH};
use ignis_bench::report;
use ignis_bench::server::{workspace_root, IgnisProcess};
use ignis_bench::settings;
use ignis_bench::sqs_http::{create_queue, http_loop};

/// The target, messages per second.
const TARGET: f64 = 5_000.0;
/// Concurrent loops of the cases.
const LOOPS: [usize; 3] = [1, 4, 8];
/// Message body size, bytes.
const BODY_BYTES: usize = 256;
/// The server's memory budget (no functions run).
const MEMORY_BUDGET_MB: u64 = 512;

fn main() -> ExitCode {
    ignis_bench::run_bench("sqs_http", bench)
}

fn bench() -> anyhow::Result<()> {
    let secs: u64 = settings::positive("IGNIS_BENCH_SECS", 3)?;
    let duration = Duration::from_secs(secs);
    let machine = report::machine(&workspace_root());
    let body = "x".repeat(BODY_BYTES);
    let scratch = tempfile::Builder::new()
        .prefix("ignis-bench-sqs-http-")
        .tempdir()?;
    let floor = sqlite_floor(scratch.path(), &body, duration)?;
    let bin = settings::ignis_bin();
    let ignis = IgnisProcess::start(&bin, MEMORY_BUDGET_MB)?;
    let addr = ignis.addr();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut runs = Vec::new();
    for loops in LOOPS {
        let run = runtime.block_on(async {
            let url = create_queue(addr, &format!("bench-{loops}")).await?;
            http_loop(addr, &url, &body, loops, duration).await
        })?;
        runs.push((loops, run));
    }
    let tail = ignis.stderr_tail();
    ignis.stop()?;
    let mut text = format!(
        "bench: sqs_http (ignis serve over HTTP, JSON protocol: send batch + receive + delete batch, {BATCH}-message batches of {BODY_BYTES} bytes)\n{machine}\nignis: {}\n",
        bin.display()
    );
    let _ = writeln!(
        text,
        "{:<34} {:>12} {:>10} {:>8}",
        "case", "messages/s", "x floor", "errors"
    );
    let _ = writeln!(
        text,
        "{:<34} {:>12.0} {:>10.2} {:>8}",
        "floor: SQLite insert+delete",
        floor.rate(),
        1.0,
        floor.errors
    );
    for (loops, run) in &runs {
        let _ = writeln!(
            text,
            "{:<34} {:>12.0} {:>10.2} {:>8}",
            format!("http, {loops} loop(s)"),
            run.rate(),
            run.rate() / floor.rate(),
            run.errors
        );
    }
    let best = runs.iter().map(|(_, r)| r.rate()).fold(0.0, f64::max);
    let _ = writeln!(
        text,
        "end to end best {best:.0} messages/s (target >= {TARGET:.0}): {}",
        if best >= TARGET { "PASS" } else { "MISS" }
    );
    let _ = writeln!(text, "config: {secs} s per case");
    if runs.iter().any(|(_, r)| r.errors > 0) {
        let _ = writeln!(text, "server stderr (tail):\n{tail}");
    }
    report::print_and_store(&text, settings::runs_dir().as_deref());
    Ok(())
}

//! The pieces of the queue benchmark (`benches/sqs.rs`): a closed loop of
//! concurrent "send a 10-message batch, receive, delete what came" steps
//! over any client ([`closed_loop`], the step an async closure, so the
//! same loop drives the engine in-process, the store, or the HTTP API),
//! and the floor: SQLite itself inserting and deleting the same batches
//! with the store's durability settings ([`sqlite_floor`]).

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

/// Messages per batch (SQS's batch limit).
pub const BATCH: usize = 10;

/// What a loop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoopRun {
    /// Messages sent, received and deleted.
    pub messages: u64,
    /// Steps that failed.
    pub errors: u64,
    /// How long it ran.
    pub elapsed: Duration,
}

impl LoopRun {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `loops` concurrent copies of `step` back to back for `duration`;
/// each call returns the messages it completed (sent, received and
/// deleted). `step` gets its loop's index (e.g. to pick a connection).
pub async fn closed_loop<F, Fut>(loops: usize, duration: Duration, step: F) -> LoopRun
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<u64>> + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..loops {
        let step = step.clone();
        set.spawn(async move {
            let mut run = LoopRun::default();
            while Instant::now() < deadline {
                match step(i).await {
                    Ok(n) => run.messages += n,
                    Err(e) => {
                        if run.errors == 0 {
                            eprintln!("loop {i}: {e:#}");
                        }
                        run.errors += 1;
                    }
                }
            }
            run
        });
    }
    let mut total = LoopRun::default();
    while let Some(done) = set.join_next().await {
        let run = done.unwrap_or_else(|e| {
            eprintln!("a loop panicked: {e}");
            LoopRun {
                errors: 1,
                ..LoopRun::default()
            }
        });
        total.messages += run.messages;
        total.errors += run.errors;
    }
    total.elapsed = started.elapsed();
    total
}

/// The floor: one SQLite connection in `dir` with the store's settings
/// (WAL, `synchronous = NORMAL`), a table shaped like the store's messages
/// with its index, inserting [`BATCH`] messages of `body` in one
/// transaction and deleting them in another, for `duration`.
pub fn sqlite_floor(dir: &Path, body: &str, duration: Duration) -> anyhow::Result<LoopRun> {
    let mut conn = Connection::open(dir.join("floor.db"))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE messages (
             id INTEGER PRIMARY KEY, queue TEXT NOT NULL, message_id TEXT NOT NULL,
             body TEXT NOT NULL, md5_body TEXT NOT NULL, sent_ms INTEGER NOT NULL,
             visible_at_ms INTEGER NOT NULL);
         CREATE INDEX messages_visible ON messages (queue, visible_at_ms, id);",
    )?;
    let started = Instant::now();
    let mut run = LoopRun::default();
    let mut n: i64 = 0;
    while started.elapsed() < duration {
        let tx = conn.transaction()?;
        let mut ids = Vec::with_capacity(BATCH);
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (queue, message_id, body, md5_body, sent_ms, visible_at_ms)
                 VALUES ('q', ?1, ?2, 'd41d8cd98f00b204e9800998ecf8427e', ?3, ?3)",
            )?;
            for _ in 0..BATCH {
                n += 1;
                insert.execute(params![format!("m{n}"), body, n])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        let tx = conn.transaction()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
            for id in ids {
                delete.execute([id])?;
            }
        }
        tx.commit()?;
        run.messages += BATCH as u64;
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

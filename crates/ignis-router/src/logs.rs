//! Function logs: every line an environment writes, plus Lambda's START, END
//! and REPORT lines, kept per function in a ring of bounded size and readable
//! from a sequence number on (which `ignis logs --follow` polls).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ignis_model::logs::{LogEvent, LogPage};
use tokio::sync::Notify;

/// Log lines of one function.
#[derive(Debug)]
pub struct FunctionLogs {
    ring: Mutex<Ring>,
    appended: Notify,
    /// Set when the server stops: reads no longer wait for lines.
    closed: AtomicBool,
}

#[derive(Debug)]
struct Ring {
    events: VecDeque<Entry>,
    bytes: usize,
    max_bytes: usize,
    next_seq: u64,
}

/// A kept line. The stream name is shared by every line of an environment,
/// not copied per line; [`LogEvent`]s are made only when a page is read.
#[derive(Debug)]
struct Entry {
    seq: u64,
    timestamp: i64,
    stream: Arc<str>,
    message: String,
}

impl Entry {
    fn size(&self) -> usize {
        self.message.len() + self.stream.len()
    }

    fn to_event(&self) -> LogEvent {
        LogEvent {
            seq: self.seq,
            timestamp: self.timestamp,
            stream: self.stream.to_string(),
            message: self.message.clone(),
        }
    }
}

/// The first sequence number of this server's log lines: microseconds
/// since the epoch when it started. Logs are kept in memory, so a restarted
/// server numbers its lines after every line of the one before (unless that
/// one wrote more than a line per microsecond), and a client following with
/// `after=<last seen>` sees the new server's lines instead of waiting for
/// its count to catch up. Below 2^53: exact as a JSON number anywhere.
fn seq_base() -> u64 {
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as u64)
            .max(1)
    })
}

impl FunctionLogs {
    fn new(max_bytes: usize) -> Self {
        Self {
            ring: Mutex::new(Ring {
                events: VecDeque::new(),
                bytes: 0,
                max_bytes,
                next_seq: seq_base(),
            }),
            appended: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// Ends every wait for new lines, now and later (the server is
    /// stopping: a long poll must not hold its shutdown up).
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.appended.notify_waiters();
    }

    /// Appends one line from `stream`.
    pub fn append(&self, stream: &Arc<str>, message: String) {
        let timestamp = chrono::Utc::now().timestamp_millis();
        let mut ring = self.ring.lock().expect("log lock poisoned");
        let entry = Entry {
            seq: ring.next_seq,
            timestamp,
            stream: stream.clone(),
            message,
        };
        ring.next_seq += 1;
        ring.bytes += entry.size();
        ring.events.push_back(entry);
        while ring.bytes > ring.max_bytes && ring.events.len() > 1 {
            if let Some(old) = ring.events.pop_front() {
                ring.bytes -= old.size();
            }
        }
        drop(ring);
        self.appended.notify_waiters();
    }

    /// Lines after `after` and at or after `since_ms`, at most `limit`;
    /// waits up to `wait` for the first one if there is none yet.
    pub async fn read(&self, after: u64, since_ms: i64, limit: usize, wait: Duration) -> LogPage {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.appended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let page = self.page(after, since_ms, limit);
            if !page.events.is_empty()
                || tokio::time::Instant::now() >= deadline
                || self.closed.load(Ordering::Acquire)
            {
                return page;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.page(after, since_ms, limit);
            }
        }
    }

    fn page(&self, after: u64, since_ms: i64, limit: usize) -> LogPage {
        let ring = self.ring.lock().expect("log lock poisoned");
        let events: Vec<LogEvent> = ring
            .events
            .iter()
            .filter(|e| e.seq > after && e.timestamp >= since_ms)
            .take(limit)
            .map(Entry::to_event)
            .collect();
        let next_seq = events
            .last()
            .map_or(after.max(ring.next_seq - 1), |e| e.seq);
        LogPage { events, next_seq }
    }
}

/// Logs of every function on this node.
#[derive(Debug)]
pub struct LogRegistry {
    max_bytes: usize,
    functions: Mutex<HashMap<String, Arc<FunctionLogs>>>,
    closed: AtomicBool,
}

impl LogRegistry {
    /// A registry keeping at most `max_bytes` per function.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            functions: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// The server is stopping: every read answers at once with what it
    /// has, so `ignis logs --follow` does not hold the shutdown for its
    /// long poll (it reconnects to the next server).
    pub fn close(&self) {
        let map = self.functions.lock().expect("log registry lock poisoned");
        self.closed.store(true, Ordering::Release);
        map.values().for_each(|logs| logs.close());
    }

    /// The logs of `function`, created on first use.
    pub fn function(&self, function: &str) -> Arc<FunctionLogs> {
        let mut map = self.functions.lock().expect("log registry lock poisoned");
        map.entry(function.to_string())
            .or_insert_with(|| {
                let logs = FunctionLogs::new(self.max_bytes);
                if self.closed.load(Ordering::Acquire) {
                    logs.close();
                }
                Arc::new(logs)
            })
            .clone()
    }

    /// Forgets the logs of a deleted function.
    pub fn remove(&self, function: &str) {
        self.functions
            .lock()
            .expect("log registry lock poisoned")
            .remove(function);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closing_ends_every_wait() {
        let registry = Arc::new(LogRegistry::new(1 << 20));
        let logs = registry.function("f");
        let waiting =
            tokio::spawn(async move { logs.read(0, 0, 10, Duration::from_secs(3600)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        registry.close();
        let page = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the long poll ended at the close")
            .unwrap();
        assert!(page.events.is_empty());
        let later = registry.function("g");
        let page = tokio::time::timeout(
            Duration::from_secs(10),
            later.read(0, 0, 10, Duration::from_secs(3600)),
        )
        .await
        .expect("a read after the close does not wait");
        assert!(page.events.is_empty());
    }

    #[tokio::test]
    async fn ring_is_bounded_and_paged_by_sequence() {
        let logs = FunctionLogs::new(100);
        for i in 0..20 {
            logs.append(&"s".into(), format!("line {i:02}"));
        }
        let page = logs.read(0, 0, 1000, Duration::ZERO).await;
        assert!(page.events.len() < 20);
        assert_eq!(page.events.last().unwrap().message, "line 19");
        let next = logs.read(page.next_seq, 0, 10, Duration::ZERO).await;
        assert!(next.events.is_empty());
        assert_eq!(next.next_seq, page.next_seq);
    }

    #[tokio::test]
    async fn read_waits_for_new_lines() {
        let logs = Arc::new(FunctionLogs::new(1000));
        let reader = {
            let logs = logs.clone();
            tokio::spawn(async move { logs.read(0, 0, 10, Duration::from_secs(30)).await })
        };
        tokio::task::yield_now().await;
        logs.append(&"s".into(), "hello".into());
        let page = reader.await.unwrap();
        assert_eq!(page.events[0].message, "hello");
    }
}

//! Copies an environment's output (stdout and stderr share one pipe, as on
//! Lambda, so lines keep their order), line by line, into its function's log and into the capture of the running invocation (for
//! `LogType: Tail`). A flush drains what the runtime has written so far, so
//! the lines it printed before answering are in the invocation's log.

use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;

use crate::logs::FunctionLogs;

/// Bytes the pump task reads before it lets other tasks run (one read of
/// its buffer): a runtime that floods its output must not hold a worker
/// thread, nor the lock a flush needs. With two functions running `yes`
/// after answering (process backend), another function's invocations took
/// p50 3.6 ms but up to 3.7 s without a slice; 44/84 ms (p50/max) with
/// 256 KB slices, 12/24 ms with 32 KB, 8–10/15–18 ms with 16 KB.
const SLICE: usize = 16 * 1024;

/// Longest line kept whole; longer ones are split.
const MAX_LINE: usize = 256 * 1024;
/// Bytes of an invocation's log kept for its tail.
const CAPTURE_MAX: usize = 64 * 1024;

/// Where an environment's lines go.
#[derive(Debug)]
pub struct LogSink {
    stream: Arc<str>,
    logs: Arc<FunctionLogs>,
    capture: Mutex<Option<Vec<u8>>>,
}

impl LogSink {
    /// A sink writing to `logs` as log stream `stream`.
    pub fn new(stream: String, logs: Arc<FunctionLogs>) -> Self {
        Self {
            stream: stream.into(),
            logs,
            capture: Mutex::new(None),
        }
    }

    /// Writes one line.
    pub fn line(&self, line: String) {
        if let Some(buf) = self.capture.lock().expect("capture lock poisoned").as_mut() {
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            if buf.len() > CAPTURE_MAX {
                let cut = buf.len() - CAPTURE_MAX;
                buf.drain(..cut);
            }
        }
        self.logs.append(&self.stream, line);
    }

    /// Writes a platform line, if the log format has one.
    pub fn platform(&self, line: Option<String>) {
        if let Some(line) = line {
            self.line(line);
        }
    }

    /// Starts capturing lines for an invocation.
    pub fn start_capture(&self) {
        *self.capture.lock().expect("capture lock poisoned") = Some(Vec::with_capacity(1024));
    }

    /// Captures nothing: an invocation whose caller takes no log tail
    /// (most of them) costs no copy of its lines.
    pub fn stop_capture(&self) {
        *self.capture.lock().expect("capture lock poisoned") = None;
    }

    /// Stops capturing and returns what was captured.
    pub fn take_capture(&self) -> Vec<u8> {
        self.capture
            .lock()
            .expect("capture lock poisoned")
            .take()
            .unwrap_or_default()
    }
}

/// The reading side of an environment's output, shared by the pump task and
/// the invocation that flushes it. Every read of the pipes happens under the
/// lock, so a flush sees every byte the runtime wrote before it, in order.
pub struct Pump {
    sink: Arc<LogSink>,
    state: Mutex<PumpState>,
}

struct PumpState {
    output: Stream,
    buf: Vec<u8>,
}

/// The pipe: a duplicate of its descriptor for non-blocking reads (whatever
/// tokio's readiness cache believes) and its partial line.
struct Stream {
    file: Option<std::fs::File>,
    lines: Lines,
    open: bool,
}

impl Stream {
    fn new(p: &pipe::Receiver) -> Self {
        let file = p.as_fd().try_clone_to_owned().ok().map(std::fs::File::from);
        Self {
            open: file.is_some(),
            file,
            lines: Lines::default(),
        }
    }

    /// Reads what is in the pipe now with `read`, about `budget` bytes at
    /// most (at least one read); marks it closed at end of file. Returns
    /// whether it stopped at the budget with the pipe maybe not empty.
    fn drain_with(
        &mut self,
        buf: &mut [u8],
        sink: &LogSink,
        budget: usize,
        mut read: impl FnMut(&mut [u8]) -> std::io::Result<usize>,
    ) -> bool {
        let mut total = 0usize;
        while self.open {
            if total > 0 && total >= budget {
                return true;
            }
            match read(buf) {
                Ok(0) => {
                    self.open = false;
                    self.lines.finish(sink);
                }
                Ok(n) => {
                    total += n;
                    self.lines.feed(&buf[..n], sink);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(_) => self.open = false,
            }
        }
        false
    }

    /// Reads what is in the pipe at this moment through the duplicate
    /// descriptor: what a runtime writes meanwhile is left to the pump, so
    /// a runtime that never stops writing cannot hold the flush.
    fn drain(&mut self, buf: &mut [u8], sink: &LogSink) {
        let Some(file) = self.file.take() else { return };
        let budget = ignis_sandbox::bytes_ready(file.as_fd()).unwrap_or(usize::MAX);
        self.drain_with(buf, sink, budget, |b| (&file).read(b));
        self.file = Some(file);
    }
}

impl Pump {
    /// Starts copying `output` into `sink` until it closes.
    pub fn start(output: pipe::Receiver, sink: Arc<LogSink>) -> Arc<Pump> {
        let pump = Arc::new(Pump {
            sink,
            state: Mutex::new(PumpState {
                output: Stream::new(&output),
                buf: vec![0u8; 16 * 1024],
            }),
        });
        tokio::spawn(pump.clone().run(output));
        pump
    }

    async fn run(self: Arc<Self>, output: pipe::Receiver) {
        loop {
            if !self.state.lock().expect("pump lock poisoned").output.open {
                return;
            }
            if output.readable().await.is_err() {
                self.state.lock().expect("pump lock poisoned").output.open = false;
                return;
            }
            // Read through tokio's receiver, under the lock: a WouldBlock
            // clears its readiness, and a concurrent flush cannot interleave.
            let more = {
                let mut guard = self.state.lock().expect("pump lock poisoned");
                let st = &mut *guard;
                st.output
                    .drain_with(&mut st.buf, &self.sink, SLICE, |b| output.try_read(b))
            };
            if more {
                tokio::task::yield_now().await;
            }
        }
    }

    /// Writes everything the runtime has printed so far to the log,
    /// including a last line without its newline.
    pub fn flush(&self) {
        let mut guard = self.state.lock().expect("pump lock poisoned");
        let st = &mut *guard;
        // One poll says whether the pipe has anything; most invocations
        // print nothing, and a read just to hear "would block" costs more.
        let ready = match &st.output.file {
            Some(f) if st.output.open => ignis_sandbox::readable_now([f.as_fd()])[0],
            _ => true,
        };
        if ready {
            st.output.drain(&mut st.buf, &self.sink);
        }
        st.output.lines.finish(&self.sink);
    }
}

/// Splits bytes into lines.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn feed(&mut self, mut bytes: &[u8], sink: &LogSink) {
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..pos]);
            self.emit(sink);
            bytes = &bytes[pos + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() > MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            self.emit(sink);
            self.partial = rest;
        }
    }

    fn finish(&mut self, sink: &LogSink) {
        if !self.partial.is_empty() {
            self.emit(sink);
        }
    }

    fn emit(&mut self, sink: &LogSink) {
        let mut line = std::mem::take(&mut self.partial);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        sink.line(String::from_utf8_lossy(&line).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogRegistry;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn lines_written_before_a_flush_are_captured_in_order() {
        let registry = LogRegistry::new(1 << 20);
        let sink = Arc::new(LogSink::new("s".into(), registry.function("f")));
        let (mut tx, rx) = pipe::pipe().unwrap();
        let pump = Pump::start(rx, sink.clone());
        sink.start_capture();
        tx.write_all(b"one\ntwo\npartial").await.unwrap();
        pump.flush();
        let captured = String::from_utf8(sink.take_capture()).unwrap();
        assert_eq!(captured, "one\ntwo\npartial\n");
        tx.write_all(b"later\n").await.unwrap();
        drop(tx);
        let logs = registry.function("f");
        let page = loop {
            let page = logs.read(0, 0, 100, Duration::from_secs(5)).await;
            if page.events.len() >= 4 {
                break page;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let lines: Vec<_> = page.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(lines, ["one", "two", "partial", "later"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_runtime_that_never_stops_writing_holds_neither_flush_nor_worker() {
        use std::io::Write;
        use std::sync::atomic::{AtomicBool, Ordering};
        let registry = LogRegistry::new(1 << 20);
        let sink = Arc::new(LogSink::new("s".into(), registry.function("f")));
        let (tx, rx) = pipe::pipe().unwrap();
        let pump = Pump::start(rx, sink.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            let mut out = std::fs::File::from(tx.into_blocking_fd().unwrap());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if out
                        .write_all(&[b'y'; 4095])
                        .and_then(|()| out.write_all(b"\n"))
                        .is_err()
                    {
                        return;
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Each flush reads what is in the pipe when it starts, and returns.
        for _ in 0..20 {
            let pump = pump.clone();
            tokio::time::timeout(
                Duration::from_secs(10),
                tokio::task::spawn_blocking(move || pump.flush()),
            )
            .await
            .expect("a flush returned")
            .unwrap();
        }
        // Other tasks still run on the runtime meanwhile.
        tokio::time::timeout(Duration::from_secs(10), tokio::task::yield_now())
            .await
            .expect("the runtime is not held");
        stop.store(true, Ordering::Relaxed);
        drop(pump);
        writer.join().unwrap();
    }
}

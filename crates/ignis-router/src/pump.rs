//! Copies an environment's stdout and stderr, line by line, into its
//! function's log and into the capture of the running invocation (for
//! `LogType: Tail`). A flush drains what the runtime has written so far, so
//! the lines it printed before answering are in the invocation's log.

use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;

use crate::logs::FunctionLogs;

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

    /// Starts capturing lines for an invocation.
    pub fn start_capture(&self) {
        *self.capture.lock().expect("capture lock poisoned") = Some(Vec::new());
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
    out: Stream,
    err: Stream,
    buf: Vec<u8>,
}

/// One pipe: a duplicate of its descriptor for non-blocking reads (whatever
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

    /// Reads what is in the pipe now with `read`; marks it closed at end
    /// of file.
    fn drain_with(
        &mut self,
        buf: &mut [u8],
        sink: &LogSink,
        mut read: impl FnMut(&mut [u8]) -> std::io::Result<usize>,
    ) {
        if !self.open {
            return;
        }
        loop {
            match read(buf) {
                Ok(0) => {
                    self.open = false;
                    self.lines.finish(sink);
                    return;
                }
                Ok(n) => self.lines.feed(&buf[..n], sink),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.open = false;
                    return;
                }
            }
        }
    }

    /// Reads what is in the pipe now through the duplicate descriptor.
    fn drain(&mut self, buf: &mut [u8], sink: &LogSink) {
        let Some(file) = self.file.take() else { return };
        self.drain_with(buf, sink, |b| (&file).read(b));
        self.file = Some(file);
    }
}

impl Pump {
    /// Starts copying `stdout` and `stderr` into `sink` until both close.
    pub fn start(stdout: pipe::Receiver, stderr: pipe::Receiver, sink: Arc<LogSink>) -> Arc<Pump> {
        let pump = Arc::new(Pump {
            sink,
            state: Mutex::new(PumpState {
                out: Stream::new(&stdout),
                err: Stream::new(&stderr),
                buf: vec![0u8; 16 * 1024],
            }),
        });
        tokio::spawn(pump.clone().run(stdout, stderr));
        pump
    }

    async fn run(self: Arc<Self>, stdout: pipe::Receiver, stderr: pipe::Receiver) {
        loop {
            let (out_open, err_open) = {
                let st = self.state.lock().expect("pump lock poisoned");
                (st.out.open, st.err.open)
            };
            if !out_open && !err_open {
                return;
            }
            tokio::select! {
                r = stdout.readable(), if out_open => if r.is_err() { self.close(true) },
                r = stderr.readable(), if err_open => if r.is_err() { self.close(false) },
            }
            // Read through tokio's receivers, under the lock: a WouldBlock
            // clears their readiness, and a concurrent flush cannot interleave.
            let mut guard = self.state.lock().expect("pump lock poisoned");
            let st = &mut *guard;
            st.out
                .drain_with(&mut st.buf, &self.sink, |b| stdout.try_read(b));
            st.err
                .drain_with(&mut st.buf, &self.sink, |b| stderr.try_read(b));
        }
    }

    fn close(&self, out: bool) {
        let mut st = self.state.lock().expect("pump lock poisoned");
        if out {
            st.out.open = false
        } else {
            st.err.open = false
        }
    }

    /// Writes everything the runtime has printed so far to the log,
    /// including a last line without its newline.
    pub fn flush(&self) {
        let mut guard = self.state.lock().expect("pump lock poisoned");
        let st = &mut *guard;
        // One poll says which pipes have anything; most invocations print
        // nothing, and reading both just to hear "would block" cost a
        // system call each.
        let (out, err) = match (&st.out.file, &st.err.file) {
            (Some(o), Some(e)) if st.out.open && st.err.open => {
                let [o, e] = ignis_sandbox::readable_now([o.as_fd(), e.as_fd()]);
                (o, e)
            }
            _ => (true, true),
        };
        if out {
            st.out.drain(&mut st.buf, &self.sink);
        }
        if err {
            st.err.drain(&mut st.buf, &self.sink);
        }
        st.out.lines.finish(&self.sink);
        st.err.lines.finish(&self.sink);
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
    async fn lines_written_before_a_flush_are_captured() {
        let registry = LogRegistry::new(1 << 20);
        let sink = Arc::new(LogSink::new("s".into(), registry.function("f")));
        let (mut out_tx, out_rx) = pipe::pipe().unwrap();
        let (mut err_tx, err_rx) = pipe::pipe().unwrap();
        let pump = Pump::start(out_rx, err_rx, sink.clone());
        sink.start_capture();
        out_tx.write_all(b"one\ntwo\npartial").await.unwrap();
        err_tx.write_all(b"oops\n").await.unwrap();
        pump.flush();
        let captured = String::from_utf8(sink.take_capture()).unwrap();
        for l in ["one\n", "two\n", "partial\n", "oops\n"] {
            assert!(captured.contains(l), "{captured:?}");
        }
        out_tx.write_all(b"later\n").await.unwrap();
        drop((out_tx, err_tx));
        let logs = registry.function("f");
        let page = loop {
            let page = logs.read(0, 0, 100, Duration::from_secs(5)).await;
            if page.events.len() >= 5 {
                break page;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // Order holds within a stream; stderr may interleave anywhere.
        let stdout: Vec<_> = page
            .events
            .iter()
            .map(|e| e.message.as_str())
            .filter(|m| *m != "oops")
            .collect();
        assert_eq!(stdout, ["one", "two", "partial", "later"]);
        assert_eq!(page.events.len(), 5);
    }
}

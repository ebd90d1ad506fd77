//! Copies an environment's stdout and stderr, line by line, into its
//! function's log and into the capture of the running invocation (for
//! `LogType: Tail`). A flush drains what the runtime has written so far, so
//! the lines it printed before answering are in the invocation's log.

use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use crate::logs::FunctionLogs;

/// Longest line kept whole; longer ones are split.
const MAX_LINE: usize = 256 * 1024;
/// Bytes of an invocation's log kept for its tail.
const CAPTURE_MAX: usize = 64 * 1024;

/// Where an environment's lines go.
#[derive(Debug)]
pub struct LogSink {
    stream: String,
    logs: Arc<FunctionLogs>,
    capture: Mutex<Option<Vec<u8>>>,
}

impl LogSink {
    /// A sink writing to `logs` as log stream `stream`.
    pub fn new(stream: String, logs: Arc<FunctionLogs>) -> Self {
        Self {
            stream,
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

/// Asks the pump to drain; answers when done.
pub type FlushRequest = oneshot::Sender<()>;

/// Copies `stdout` and `stderr` into `sink` until both close.
pub async fn run(
    mut stdout: pipe::Receiver,
    mut stderr: pipe::Receiver,
    sink: Arc<LogSink>,
    mut flushes: mpsc::Receiver<FlushRequest>,
) {
    // Duplicates of the pipes for flushes: a raw non-blocking read sees what
    // is in the pipe now, whatever tokio's readiness cache believes.
    let out_dup = dup(&stdout);
    let err_dup = dup(&stderr);
    let (mut out, mut err) = (Lines::default(), Lines::default());
    let (mut out_buf, mut err_buf) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let (mut out_open, mut err_open) = (true, true);
    loop {
        tokio::select! {
            r = stdout.read(&mut out_buf), if out_open => match r {
                Ok(n) if n > 0 => out.feed(&out_buf[..n], &sink),
                _ => { out_open = false; out.finish(&sink); }
            },
            r = stderr.read(&mut err_buf), if err_open => match r {
                Ok(n) if n > 0 => err.feed(&err_buf[..n], &sink),
                _ => { err_open = false; err.finish(&sink); }
            },
            req = flushes.recv() => match req {
                Some(ack) => {
                    drain(out_dup.as_ref(), &mut out, &mut out_buf, &sink, out_open);
                    drain(err_dup.as_ref(), &mut err, &mut err_buf, &sink, err_open);
                    out.finish(&sink);
                    err.finish(&sink);
                    let _ = ack.send(());
                }
                None if !out_open && !err_open => return,
                None => {}
            },
        }
    }
}

fn dup(p: &pipe::Receiver) -> Option<std::fs::File> {
    p.as_fd().try_clone_to_owned().ok().map(std::fs::File::from)
}

fn drain(p: Option<&std::fs::File>, lines: &mut Lines, buf: &mut [u8], sink: &LogSink, open: bool) {
    let Some(mut p) = p.filter(|_| open) else {
        return;
    };
    loop {
        match p.read(buf) {
            Ok(0) => return,
            Ok(n) => lines.feed(&buf[..n], sink),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
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
        let (out_tx, out_rx) = pipe::pipe().unwrap();
        let (err_tx, err_rx) = pipe::pipe().unwrap();
        let (flush_tx, flush_rx) = mpsc::channel(1);
        let pump = tokio::spawn(run(out_rx, err_rx, sink.clone(), flush_rx));
        sink.start_capture();
        let (mut out_tx, mut err_tx) = (out_tx, err_tx);
        out_tx.write_all(b"one\ntwo\npartial").await.unwrap();
        err_tx.write_all(b"oops\n").await.unwrap();
        let (ack, done) = oneshot::channel();
        flush_tx.send(ack).await.unwrap();
        done.await.unwrap();
        let captured = String::from_utf8(sink.take_capture()).unwrap();
        for l in ["one\n", "two\n", "partial\n", "oops\n"] {
            assert!(captured.contains(l), "{captured:?}");
        }
        drop((out_tx, err_tx, flush_tx));
        pump.await.unwrap();
        let page = registry.function("f").read(0, 0, 100, Duration::ZERO).await;
        assert_eq!(page.events.len(), 4);
    }
}

//! The shape of Ignis's logs endpoint (`GET /ignis/v1/functions/{name}/logs`),
//! which `ignis logs` reads. Lambda sends logs to CloudWatch Logs, a separate
//! service; Ignis keeps them per function and serves them here.

use serde::{Deserialize, Serialize};

/// One log line of a function.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEvent {
    /// Position in the function's log; increases by one per line.
    pub seq: u64,
    /// When the line was captured, ms since the Unix epoch.
    pub timestamp: i64,
    /// The log stream (one per execution environment).
    pub stream: String,
    /// The line, without its newline.
    pub message: String,
}

/// A page of log lines.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogPage {
    /// Lines in order.
    pub events: Vec<LogEvent>,
    /// Pass as `after` to get the lines that follow.
    pub next_seq: u64,
}

//! Ignis's logs endpoint: `GET /ignis/v1/functions/{name}/logs`.

use ignis_model::logs::LogPage;

use crate::{Client, ClientError};

/// Which lines to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Only lines after this sequence number (a page's `next_seq`).
    pub after: Option<u64>,
    /// Only lines captured at or after this time, ms since the Unix epoch.
    pub since_ms: Option<i64>,
    /// At most this many lines.
    pub limit: Option<u32>,
    /// Long-poll: wait up to this many seconds when there are no lines yet.
    pub wait_secs: Option<u32>,
}

impl Client {
    /// Reads a page of the function's log lines.
    pub async fn logs(&self, name: &str, query: &LogQuery) -> Result<LogPage, ClientError> {
        let mut url = self.url(&["ignis", "v1", "functions", name, "logs"]);
        let pairs = [
            ("after", query.after.map(|v| v.to_string())),
            ("since", query.since_ms.map(|v| v.to_string())),
            ("limit", query.limit.map(|v| v.to_string())),
            ("wait", query.wait_secs.map(|v| v.to_string())),
        ];
        let set: Vec<_> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)))
            .collect();
        if !set.is_empty() {
            url.query_pairs_mut().extend_pairs(set);
        }
        self.json("GetLogs", self.http.get(url)).await
    }
}

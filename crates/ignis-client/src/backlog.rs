//! Ignis's view of a function's asynchronous queue:
//! `GET /ignis/v1/functions/{name}/async`.

use serde::Deserialize;

use crate::{Client, ClientError};

/// A function's asynchronous backlog.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsyncBacklog {
    /// The function's name.
    pub function_name: String,
    /// Events queued or running.
    pub queued: u64,
    /// Of them, claimed by the dispatcher (running, or waiting for memory
    /// or concurrency).
    pub claimed: u64,
    /// Age of the oldest, seconds.
    pub oldest_age_seconds: Option<f64>,
}

impl Client {
    /// The function's asynchronous backlog.
    pub async fn async_backlog(&self, name: &str) -> Result<AsyncBacklog, ClientError> {
        let url = self.url(&["ignis", "v1", "functions", name, "async"]);
        self.json("GetAsyncBacklog", self.http.get(url)).await
    }
}

//! `GET /ignis/v1/functions/{name}/logs`: a function's log lines after a
//! sequence number, long-polling up to `wait` seconds when there are none.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::Json;
use ignis_model::logs::LogPage;
use serde::Deserialize;

use crate::error::ApiError;
use crate::AppState;

/// Longest long-poll, seconds.
const WAIT_MAX: u64 = 30;

/// Query of the logs endpoint.
#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    since: i64,
    limit: Option<usize>,
    #[serde(default)]
    wait: u64,
}

/// Reads a function's logs.
pub async fn read(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Result<Json<LogPage>, ApiError> {
    let record = s.functions.resolve(&name, None).await?;
    let logs = s.functions.router().logs().function(&record.name);
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let wait = Duration::from_secs(q.wait.min(WAIT_MAX));
    Ok(Json(logs.read(q.after, q.since, limit, wait).await))
}

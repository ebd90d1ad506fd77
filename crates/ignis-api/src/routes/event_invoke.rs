//! Asynchronous invocation: `/2019-09-25/functions/{name}/event-invoke-config`
//! (PUT Put, GET Get, POST Update, DELETE Delete; `?Qualifier=`) and
//! `…/event-invoke-config/list`; and Ignis's view of a function's queue,
//! `GET /ignis/v1/functions/{name}/async`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use ignis_model::{ErrorKind, LambdaError};
use serde::Serialize;

use crate::body;
use crate::error::ApiError;
use crate::functions::event_invoke::{EventInvokeConfigRequest, FunctionEventInvokeConfig};
use crate::routes::management::OpQuery;
use crate::AppState;

const PATH: &str = "/2019-09-25/functions/{name}/event-invoke-config";

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(PATH, get(get_config).put(put).post(update).delete(delete))
        .route(&format!("{PATH}/list"), get(list))
        .route("/ignis/v1/functions/{name}/async", get(backlog))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListResponse {
    function_event_invoke_configs: Vec<FunctionEventInvokeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// PutFunctionEventInvokeConfig.
async fn put(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
    b: Body,
) -> Result<Json<FunctionEventInvokeConfig>, ApiError> {
    let req: EventInvokeConfigRequest = body::read_json(b, "PutFunctionEventInvokeConfig").await?;
    let config = s
        .functions
        .put_event_invoke_config(&name, q.qualifier(), req)
        .await?;
    Ok(Json(config))
}

/// UpdateFunctionEventInvokeConfig.
async fn update(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
    b: Body,
) -> Result<Json<FunctionEventInvokeConfig>, ApiError> {
    let req: EventInvokeConfigRequest =
        body::read_json(b, "UpdateFunctionEventInvokeConfig").await?;
    let config = s
        .functions
        .update_event_invoke_config(&name, q.qualifier(), req)
        .await?;
    Ok(Json(config))
}

/// GetFunctionEventInvokeConfig.
async fn get_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<Json<FunctionEventInvokeConfig>, ApiError> {
    let config = s
        .functions
        .get_event_invoke_config(&name, q.qualifier())
        .await?;
    Ok(Json(config))
}

/// DeleteFunctionEventInvokeConfig (204).
async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<StatusCode, ApiError> {
    s.functions
        .delete_event_invoke_config(&name, q.qualifier())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// ListFunctionEventInvokeConfigs.
async fn list(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<Response, ApiError> {
    let max = page_size(q.max_items.as_deref())?;
    let marker = q.marker.as_deref().filter(|m| !m.is_empty());
    let (configs, next_marker) = s
        .functions
        .list_event_invoke_configs(&name, marker, max)
        .await?;
    Ok(Json(ListResponse {
        function_event_invoke_configs: configs,
        next_marker,
    })
    .into_response())
}

/// `MaxItems`: 1–50 (the model's `MaxFunctionEventInvokeConfigListItems`).
fn page_size(given: Option<&str>) -> Result<usize, ApiError> {
    let Some(m) = given else {
        return Ok(50);
    };
    match m.parse::<usize>() {
        Ok(n @ 1..=50) => Ok(n),
        _ => Err(LambdaError::new(
            ErrorKind::Validation,
            format!("1 validation error detected: Value '{m}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 50"),
        )
        .into()),
    }
}

/// A function's asynchronous backlog (Ignis's own endpoint).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Backlog {
    function_name: String,
    /// Events queued or running.
    queued: u64,
    /// Of them, claimed by the dispatcher (running, or waiting for memory
    /// or concurrency).
    claimed: u64,
    /// Age of the oldest, seconds; `null` when none is queued.
    oldest_age_seconds: Option<f64>,
}

/// `GET /ignis/v1/functions/{name}/async`.
async fn backlog(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Backlog>, ApiError> {
    let name = s.functions.existing_function(&name).await?;
    let (stats, age) = s.events.stats(&name).await?;
    Ok(Json(Backlog {
        function_name: name,
        queued: stats.depth,
        claimed: stats.claimed,
        oldest_age_seconds: age.map(|a| a.as_secs_f64()),
    }))
}

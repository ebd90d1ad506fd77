//! Event source mappings: `/2015-03-31/event-source-mappings` (POST
//! Create, GET List) and `…/{UUID}` (GET, PUT Update, DELETE). The edge
//! resolves the function (name, ARN or partial ARN, optionally qualified)
//! and hands the rest to [`ignis_sources::Mappings`].

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use ignis_model::{ErrorKind, LambdaError};
use ignis_sources::{FunctionFilter, FunctionTarget};
use serde::Deserialize;

use crate::body;
use crate::error::ApiError;
use crate::routes::management::max_items;
use crate::AppState;

const PATH: &str = "/2015-03-31/event-source-mappings";

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(PATH, get(list).post(create))
        .route(&format!("{PATH}/"), get(list).post(create))
        .route(
            &format!("{PATH}/{{uuid}}"),
            get(get_mapping).put(update).delete(delete),
        )
}

/// ListEventSourceMappings' query.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(rename = "EventSourceArn")]
    event_source_arn: Option<String>,
    #[serde(rename = "FunctionName")]
    function_name: Option<String>,
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<String>,
}

/// The function a mapping names (it must exist, its version or alias too)
/// and its timeout, seconds.
async fn target(s: &AppState, reference: &str) -> Result<(FunctionTarget, u32), ApiError> {
    let (name, qualifier) = s.functions.qualified(reference, None)?;
    let (record, _) = s.functions.resolve_version(reference, None).await?;
    let unqualified = s.functions.arn(&name);
    let qualifier = qualifier.map(|q| q.as_string());
    let arn = match &qualifier {
        Some(q) => format!("{unqualified}:{q}"),
        None => unqualified,
    };
    let target = FunctionTarget {
        name,
        qualifier,
        arn,
    };
    Ok((target, record.timeout))
}

fn accepted(config: ignis_sources::wire::MappingConfiguration) -> Response {
    (StatusCode::ACCEPTED, Json(config)).into_response()
}

/// CreateEventSourceMapping (202).
async fn create(State(s): State<AppState>, b: Body) -> Result<Response, ApiError> {
    let req: ignis_sources::wire::CreateRequest =
        body::read_json(b, "CreateEventSourceMapping").await?;
    let Some(reference) = req.function_name.clone() else {
        return Err(LambdaError::new(
            ErrorKind::Validation,
            "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null",
        )
        .into());
    };
    let (function, timeout) = target(&s, &reference).await?;
    Ok(accepted(s.sources.create(function, timeout, req).await?))
}

/// GetEventSourceMapping.
async fn get_mapping(
    State(s): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.sources.get(&uuid).await?).into_response())
}

/// UpdateEventSourceMapping (202).
async fn update(
    State(s): State<AppState>,
    Path(uuid): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: ignis_sources::wire::UpdateRequest =
        body::read_json(b, "UpdateEventSourceMapping").await?;
    // The mapping first: a missing one is the answer even with a bad function.
    s.sources.load(&uuid).await?;
    let function = match req.function_name.as_deref() {
        Some(reference) => Some(target(&s, reference).await?),
        None => None,
    };
    Ok(accepted(s.sources.update(&uuid, function, req).await?))
}

/// DeleteEventSourceMapping (202, the mapping `Deleting`).
async fn delete(State(s): State<AppState>, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    Ok(accepted(s.sources.delete(&uuid).await?))
}

/// ListEventSourceMappings.
async fn list(State(s): State<AppState>, Query(q): Query<ListQuery>) -> Result<Response, ApiError> {
    let max = match q.max_items.as_deref() {
        None => 100,
        given => max_items(given, 10_000)?,
    };
    let function = match q.function_name.as_deref().filter(|f| !f.is_empty()) {
        Some(reference) => {
            let (name, qualifier) = s.functions.qualified(reference, None)?;
            let arn = qualifier.map(|q| format!("{}:{}", s.functions.arn(&name), q.as_string()));
            Some(FunctionFilter { name, arn })
        }
        None => None,
    };
    let source = q.event_source_arn.as_deref().filter(|a| !a.is_empty());
    let marker = q.marker.as_deref().filter(|m| !m.is_empty());
    let page = s
        .sources
        .list(source, function.as_ref(), marker, max)
        .await?;
    Ok(Json(page).into_response())
}

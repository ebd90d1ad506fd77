//! Lambda's layer operations on `/2018-10-31/layers`, with botocore's
//! paths, status codes and shapes. GetLayerVersionByArn shares ListLayers'
//! path and is told apart by `?find=LayerVersion`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ignis_model::layer::{LayerVersionRecord, PublishLayerVersionRequest};
use ignis_model::{ErrorKind, LambdaError};
use serde::Deserialize;

use crate::body;
use crate::error::ApiError;
use crate::functions::layers::LayerListing;
use crate::AppState;

/// The query string of the listing operations and of GetLayerVersionByArn.
#[derive(Debug, Deserialize)]
pub struct LayersQuery {
    #[serde(rename = "find")]
    find: Option<String>,
    #[serde(rename = "Arn")]
    arn: Option<String>,
    #[serde(rename = "CompatibleRuntime")]
    runtime: Option<String>,
    #[serde(rename = "CompatibleArchitecture")]
    architecture: Option<String>,
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<String>,
}

impl LayersQuery {
    fn listing(&self) -> Result<LayerListing<'_>, ApiError> {
        Ok(LayerListing {
            runtime: self.runtime.as_deref().filter(|r| !r.is_empty()),
            architecture: self.architecture.as_deref().filter(|a| !a.is_empty()),
            marker: self.marker.as_deref().filter(|m| !m.is_empty()),
            max_items: max_items(self.max_items.as_deref())?,
        })
    }
}

/// `MaxItems` of the layer listings: 1–50, 50 by default.
fn max_items(given: Option<&str>) -> Result<usize, ApiError> {
    match given {
        None => Ok(50),
        Some(m) => match m.parse::<i64>() {
            Ok(n) if (1..=50).contains(&n) => Ok(n as usize),
            _ => Err(LambdaError::new(
                ErrorKind::Validation,
                format!("1 validation error detected: Value '{m}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 50"),
            )
            .into()),
        },
    }
}

/// The URL of a layer's zip, served by `/ignis/v1/code/{sha}.zip`.
fn location(headers: &HeaderMap, v: &LayerVersionRecord) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}/ignis/v1/code/{}.zip", v.code.sha256_hex)
}

fn answer(s: &AppState, headers: &HeaderMap, v: &LayerVersionRecord) -> Response {
    Json(v.response(s.functions.region(), location(headers, v))).into_response()
}

/// PublishLayerVersion: `POST /2018-10-31/layers/{LayerName}/versions`.
pub async fn publish(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    b: Body,
) -> Result<Response, ApiError> {
    let req: PublishLayerVersionRequest = body::read_json(b, "PublishLayerVersion").await?;
    let v = s.functions.publish_layer_version(&name, req).await?;
    Ok((StatusCode::CREATED, answer(&s, &headers, &v)).into_response())
}

/// GetLayerVersion: `GET /2018-10-31/layers/{LayerName}/versions/{VersionNumber}`.
pub async fn get(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let v = s.functions.get_layer_version(&name, &version).await?;
    Ok(answer(&s, &headers, &v))
}

/// DeleteLayerVersion: `DELETE /2018-10-31/layers/{LayerName}/versions/{VersionNumber}`.
pub async fn delete(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.functions.delete_layer_version(&name, &version).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// ListLayerVersions: `GET /2018-10-31/layers/{LayerName}/versions`.
pub async fn list_versions(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<LayersQuery>,
) -> Result<Response, ApiError> {
    let page = s.functions.list_layer_versions(&name, q.listing()?).await?;
    Ok(Json(page).into_response())
}

/// ListLayers: `GET /2018-10-31/layers`; GetLayerVersionByArn:
/// `GET /2018-10-31/layers?find=LayerVersion&Arn=...`.
pub async fn list_or_find(
    State(s): State<AppState>,
    Query(q): Query<LayersQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if q.find.as_deref() == Some("LayerVersion") {
        let arn = q.arn.as_deref().unwrap_or_default();
        let v = s.functions.get_layer_version_by_arn(arn).await?;
        return Ok(answer(&s, &headers, &v));
    }
    let page = s.functions.list_layers(q.listing()?).await?;
    Ok(Json(page).into_response())
}

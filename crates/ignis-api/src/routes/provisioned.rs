//! Provisioned concurrency: `/2019-09-30/functions/{name}/provisioned-concurrency`
//! (`?Qualifier=` for one configuration, `?List=ALL` for all).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde::Serialize;

use crate::body;
use crate::error::ApiError;
use crate::functions::provisioned::{ProvisionedConfig, PutProvisionedRequest};
use crate::routes::management::OpQuery;
use crate::AppState;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/2019-09-30/functions/{name}/provisioned-concurrency",
        get(get_or_list).put(put).delete(delete),
    )
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListResponse {
    provisioned_concurrency_configs: Vec<ProvisionedConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// PutProvisionedConcurrencyConfig (202).
async fn put(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: PutProvisionedRequest = body::read_json(b, "PutProvisionedConcurrencyConfig").await?;
    let config = s
        .functions
        .put_provisioned(&name, q.qualifier(), req)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(config)).into_response())
}

/// GetProvisionedConcurrencyConfig, or ListProvisionedConcurrencyConfigs
/// with `List=ALL`.
async fn get_or_list(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<Response, ApiError> {
    if q.list.as_deref() == Some("ALL") {
        let (marker, max) = q.page()?;
        let (configs, next_marker) = s.functions.list_provisioned(&name, marker, max).await?;
        return Ok(Json(ListResponse {
            provisioned_concurrency_configs: configs,
            next_marker,
        })
        .into_response());
    }
    let config = s.functions.get_provisioned(&name, q.qualifier()).await?;
    Ok(Json(config).into_response())
}

/// DeleteProvisionedConcurrencyConfig.
async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<StatusCode, ApiError> {
    s.functions.delete_provisioned(&name, q.qualifier()).await?;
    Ok(StatusCode::NO_CONTENT)
}

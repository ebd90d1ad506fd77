//! Function URL configurations: `/2021-10-31/functions/{name}/url` (POST
//! create, GET, PUT update, DELETE; `?Qualifier=` names an alias) and
//! `/2021-10-31/functions/{name}/urls` (list).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::Serialize;

use crate::body;
use crate::error::ApiError;
use crate::functions::urls::{FunctionUrlConfig, UrlConfigRequest};
use crate::routes::management::OpQuery;
use crate::AppState;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/2021-10-31/functions/{name}/url",
            post(create).get(get_one).put(update).delete(delete),
        )
        .route("/2021-10-31/functions/{name}/urls", get(list))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListResponse {
    function_url_configs: Vec<FunctionUrlConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// CreateFunctionUrlConfig (201).
async fn create(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: UrlConfigRequest = body::read_json(b, "CreateFunctionUrlConfig").await?;
    let config = s.functions.create_url(&name, q.qualifier(), req).await?;
    Ok((StatusCode::CREATED, Json(config)).into_response())
}

/// GetFunctionUrlConfig.
async fn get_one(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<Json<FunctionUrlConfig>, ApiError> {
    Ok(Json(s.functions.get_url(&name, q.qualifier()).await?))
}

/// UpdateFunctionUrlConfig.
async fn update(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
    b: Body,
) -> Result<Json<FunctionUrlConfig>, ApiError> {
    let req: UrlConfigRequest = body::read_json(b, "UpdateFunctionUrlConfig").await?;
    Ok(Json(
        s.functions.update_url(&name, q.qualifier(), req).await?,
    ))
}

/// DeleteFunctionUrlConfig (204).
async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<StatusCode, ApiError> {
    s.functions.delete_url(&name, q.qualifier()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// ListFunctionUrlConfigs.
async fn list(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<Json<ListResponse>, ApiError> {
    let (marker, max) = q.page()?;
    let (configs, next_marker) = s.functions.list_urls(&name, marker, max).await?;
    Ok(Json(ListResponse {
        function_url_configs: configs,
        next_marker,
    }))
}

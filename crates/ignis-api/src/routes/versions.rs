//! Versions and aliases: `/2015-03-31/functions/{name}/versions` and
//! `/2015-03-31/functions/{name}/aliases[/{alias}]`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use ignis_model::alias::{CreateAliasRequest, ListAliasesResponse, UpdateAliasRequest};
use ignis_model::wire::FunctionConfiguration;
use serde::Serialize;

use crate::body;
use crate::error::ApiError;
use crate::functions::versions::PublishVersionRequest;
use crate::routes::management::OpQuery;
use crate::AppState;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    const F: &str = "/2015-03-31/functions/{name}";
    axum::Router::new()
        .route(&format!("{F}/versions"), get(list_versions).post(publish))
        .route(
            &format!("{F}/aliases"),
            get(list_aliases).post(create_alias),
        )
        .route(
            &format!("{F}/aliases/{{alias}}"),
            get(get_alias).put(update_alias).delete(delete_alias),
        )
}

/// ListVersionsByFunction answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListVersionsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    versions: Vec<FunctionConfiguration>,
}

/// PublishVersion: `POST …/versions`.
async fn publish(
    State(s): State<AppState>,
    Path(name): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: PublishVersionRequest = body::read_json(b, "PublishVersion").await?;
    let config = s.functions.publish_version(&name, req).await?;
    Ok((StatusCode::CREATED, Json(config)).into_response())
}

/// ListVersionsByFunction: `GET …/versions`.
async fn list_versions(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<Response, ApiError> {
    let (marker, max) = q.page()?;
    let (versions, next_marker) = s.functions.list_versions(&name, marker, max).await?;
    Ok(Json(ListVersionsResponse {
        next_marker,
        versions,
    })
    .into_response())
}

/// CreateAlias: `POST …/aliases`.
async fn create_alias(
    State(s): State<AppState>,
    Path(name): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: CreateAliasRequest = body::read_json(b, "CreateAlias").await?;
    let alias = s.functions.create_alias(&name, req).await?;
    Ok((StatusCode::CREATED, Json(alias)).into_response())
}

/// ListAliases: `GET …/aliases`.
async fn list_aliases(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<OpQuery>,
) -> Result<Response, ApiError> {
    let (marker, max) = q.page()?;
    let (aliases, next_marker) = s
        .functions
        .list_aliases(&name, q.function_version.as_deref(), marker, max)
        .await?;
    Ok(Json(ListAliasesResponse {
        next_marker,
        aliases,
    })
    .into_response())
}

/// GetAlias: `GET …/aliases/{alias}`.
async fn get_alias(
    State(s): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(s.functions.get_alias(&name, &alias).await?).into_response())
}

/// UpdateAlias: `PUT …/aliases/{alias}`.
async fn update_alias(
    State(s): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: UpdateAliasRequest = body::read_json(b, "UpdateAlias").await?;
    Ok(Json(s.functions.update_alias(&name, &alias, req).await?).into_response())
}

/// DeleteAlias: `DELETE …/aliases/{alias}`.
async fn delete_alias(
    State(s): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.functions.delete_alias(&name, &alias).await?;
    Ok(StatusCode::NO_CONTENT)
}

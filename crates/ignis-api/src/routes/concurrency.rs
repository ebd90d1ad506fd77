//! Reserved concurrency: `/2017-10-31/functions/{name}/concurrency` (put,
//! delete) and `/2019-09-30/functions/{name}/concurrency` (get).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Json;

use crate::body;
use crate::error::ApiError;
use crate::functions::concurrency::Reservation;
use crate::AppState;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            put(put_concurrency).delete(delete_concurrency),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(get_concurrency),
        )
}

/// PutFunctionConcurrency.
async fn put_concurrency(
    State(s): State<AppState>,
    Path(name): Path<String>,
    b: Body,
) -> Result<Json<Reservation>, ApiError> {
    let req: Reservation = body::read_json(b, "PutFunctionConcurrency").await?;
    Ok(Json(s.functions.put_concurrency(&name, req).await?))
}

/// GetFunctionConcurrency.
async fn get_concurrency(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Reservation>, ApiError> {
    Ok(Json(s.functions.get_concurrency(&name).await?))
}

/// DeleteFunctionConcurrency.
async fn delete_concurrency(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.functions.delete_concurrency(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

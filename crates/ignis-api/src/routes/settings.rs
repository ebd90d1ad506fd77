//! The per-function configurations deploy tools read on every plan, with
//! botocore's paths, status codes and shapes:
//! GetFunctionCodeSigningConfig, Get/PutRuntimeManagementConfig,
//! Get/PutFunctionRecursionConfig and Get/PutFunctionScalingConfig.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Json;
use ignis_model::settings::{
    PutFunctionScalingConfigRequest, PutRuntimeManagementConfigRequest, RecursionConfig,
    RuntimeManagementConfig,
};

use crate::body;
use crate::error::ApiError;
use crate::functions::settings::FunctionCodeSigningConfig;
use crate::routes::management::QualifierQuery;
use crate::AppState;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/2020-06-30/functions/{name}/code-signing-config",
            get(get_code_signing),
        )
        .route(
            "/2021-07-20/functions/{name}/runtime-management-config",
            get(get_runtime).put(put_runtime),
        )
        .route(
            "/2024-08-31/functions/{name}/recursion-config",
            get(get_recursion).put(put_recursion),
        )
        .route(
            "/2025-11-30/functions/{name}/function-scaling-config",
            get(get_scaling).put(put_scaling),
        )
}

/// GetFunctionCodeSigningConfig.
async fn get_code_signing(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<FunctionCodeSigningConfig>, ApiError> {
    Ok(Json(
        s.functions.get_function_code_signing_config(&name).await?,
    ))
}

/// GetRuntimeManagementConfig.
async fn get_runtime(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> Result<Json<RuntimeManagementConfig>, ApiError> {
    let c = s
        .functions
        .get_runtime_management_config(&name, q.qualifier.as_deref())
        .await?;
    Ok(Json(c))
}

/// PutRuntimeManagementConfig.
async fn put_runtime(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
    b: Body,
) -> Result<Json<RuntimeManagementConfig>, ApiError> {
    let req: PutRuntimeManagementConfigRequest =
        body::read_json(b, "PutRuntimeManagementConfig").await?;
    let c = s
        .functions
        .put_runtime_management_config(&name, q.qualifier.as_deref(), req)
        .await?;
    Ok(Json(c))
}

/// GetFunctionRecursionConfig.
async fn get_recursion(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RecursionConfig>, ApiError> {
    Ok(Json(s.functions.get_recursion_config(&name).await?))
}

/// PutFunctionRecursionConfig.
async fn put_recursion(
    State(s): State<AppState>,
    Path(name): Path<String>,
    b: Body,
) -> Result<Json<RecursionConfig>, ApiError> {
    let req: RecursionConfig = body::read_json(b, "PutFunctionRecursionConfig").await?;
    Ok(Json(s.functions.put_recursion_config(&name, req).await?))
}

/// GetFunctionScalingConfig: refused as the model declares (see
/// [`crate::functions::Functions::function_scaling_config`]).
async fn get_scaling(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> ApiError {
    let Err(e) = s
        .functions
        .function_scaling_config(&name, q.qualifier.as_deref(), None)
        .await;
    e
}

/// PutFunctionScalingConfig: refused as the model declares.
async fn put_scaling(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
    b: Body,
) -> ApiError {
    let req: PutFunctionScalingConfigRequest =
        match body::read_json(b, "PutFunctionScalingConfig").await {
            Ok(req) => req,
            Err(e) => return e,
        };
    let Err(e) = s
        .functions
        .function_scaling_config(
            &name,
            q.qualifier.as_deref(),
            req.function_scaling_config.as_ref(),
        )
        .await;
    e
}

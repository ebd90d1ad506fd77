//! Resource-based policy operations with botocore's paths, status codes
//! and shapes: AddPermission / GetPolicy / RemovePermission on
//! `/2015-03-31/functions/{name}/policy`, Get/Put/DeleteResourcePolicy on
//! `/2026-07-09/resource-policy/{ResourceArn}`, and the layer version
//! permissions on `/2018-10-31/layers/{name}/versions/{n}/policy`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Json;
use ignis_model::policy::{
    AddLayerVersionPermissionRequest, AddPermissionRequest, PutResourcePolicyRequest,
};
use serde::Deserialize;
use serde_json::json;

use crate::body;
use crate::error::ApiError;
use crate::functions::policy::PolicyView;
use crate::AppState;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    const F: &str = "/2015-03-31/functions/{name}/policy";
    const L: &str = "/2018-10-31/layers/{name}/versions/{version}/policy";
    const R: &str = "/2026-07-09/resource-policy/{arn}";
    axum::Router::new()
        .route(F, get(get_policy).post(add_permission))
        .route(&format!("{F}/{{sid}}"), delete(remove_permission))
        .route(
            R,
            get(get_resource).put(put_resource).delete(delete_resource),
        )
        .route(L, get(get_layer_policy).post(add_layer_permission))
        .route(&format!("{L}/{{sid}}"), delete(remove_layer_permission))
}

/// `?Qualifier=&RevisionId=`.
#[derive(Debug, Deserialize)]
pub struct PolicyQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
    #[serde(rename = "RevisionId")]
    revision_id: Option<String>,
}

fn policy_answer(v: PolicyView) -> Response {
    Json(json!({"Policy": v.policy, "RevisionId": v.revision_id})).into_response()
}

/// AddPermission: `POST /2015-03-31/functions/{name}/policy`.
async fn add_permission(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<PolicyQuery>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: AddPermissionRequest = body::read_json(b, "AddPermission").await?;
    let statement = s
        .functions
        .add_permission(&name, q.qualifier.as_deref(), req)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"Statement": statement}))).into_response())
}

/// GetPolicy: `GET /2015-03-31/functions/{name}/policy`.
async fn get_policy(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<PolicyQuery>,
) -> Result<Response, ApiError> {
    let v = s
        .functions
        .get_policy(&name, q.qualifier.as_deref())
        .await?;
    Ok(policy_answer(v))
}

/// RemovePermission: `DELETE /2015-03-31/functions/{name}/policy/{sid}`.
async fn remove_permission(
    State(s): State<AppState>,
    Path((name, sid)): Path<(String, String)>,
    Query(q): Query<PolicyQuery>,
) -> Result<StatusCode, ApiError> {
    s.functions
        .remove_permission(
            &name,
            q.qualifier.as_deref(),
            &sid,
            q.revision_id.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GetResourcePolicy: `GET /2026-07-09/resource-policy/{ResourceArn}`.
async fn get_resource(
    State(s): State<AppState>,
    Path(arn): Path<String>,
) -> Result<Response, ApiError> {
    Ok(policy_answer(s.functions.get_resource_policy(&arn).await?))
}

/// PutResourcePolicy: `PUT /2026-07-09/resource-policy/{ResourceArn}`.
async fn put_resource(
    State(s): State<AppState>,
    Path(arn): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: PutResourcePolicyRequest = body::read_json(b, "PutResourcePolicy").await?;
    let v = s
        .functions
        .put_resource_policy(&arn, req.policy, req.revision_id)
        .await?;
    Ok(policy_answer(v))
}

/// DeleteResourcePolicy: `DELETE /2026-07-09/resource-policy/{ResourceArn}`.
async fn delete_resource(
    State(s): State<AppState>,
    Path(arn): Path<String>,
    Query(q): Query<PolicyQuery>,
) -> Result<StatusCode, ApiError> {
    s.functions
        .delete_resource_policy(&arn, q.revision_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// AddLayerVersionPermission: `POST …/layers/{name}/versions/{n}/policy`.
async fn add_layer_permission(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    Query(q): Query<PolicyQuery>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: AddLayerVersionPermissionRequest =
        body::read_json(b, "AddLayerVersionPermission").await?;
    let (statement, revision_id) = s
        .functions
        .add_layer_version_permission(&name, &version, req, q.revision_id)
        .await?;
    let answer = json!({"Statement": statement, "RevisionId": revision_id});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// GetLayerVersionPolicy: `GET …/layers/{name}/versions/{n}/policy`.
async fn get_layer_policy(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = s
        .functions
        .get_layer_version_policy(&name, &version)
        .await?;
    Ok(policy_answer(v))
}

/// RemoveLayerVersionPermission: `DELETE …/versions/{n}/policy/{sid}`.
async fn remove_layer_permission(
    State(s): State<AppState>,
    Path((name, version, sid)): Path<(String, String, String)>,
    Query(q): Query<PolicyQuery>,
) -> Result<StatusCode, ApiError> {
    s.functions
        .remove_layer_version_permission(&name, &version, &sid, q.revision_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

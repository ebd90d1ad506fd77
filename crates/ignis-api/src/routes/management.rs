//! Lambda's management operations on `/2015-03-31/functions`, account
//! settings and tags, with botocore's paths, status codes and shapes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ignis_model::wire::{
    CreateFunctionRequest, FunctionCodeLocation, GetFunctionResponse, ListFunctionsResponse, Tags,
    UpdateFunctionCodeRequest, UpdateFunctionConfigurationRequest,
};
use ignis_model::{ErrorKind, LambdaError};
use serde::Deserialize;

use crate::body;
use crate::error::ApiError;
use crate::AppState;

/// `?Qualifier=`.
#[derive(Debug, Deserialize)]
pub struct QualifierQuery {
    /// The version or alias.
    #[serde(rename = "Qualifier")]
    pub qualifier: Option<String>,
}

/// CreateFunction: `POST /2015-03-31/functions`.
pub async fn create(State(s): State<AppState>, b: Body) -> Result<Response, ApiError> {
    let req: CreateFunctionRequest = body::read_json(b, "CreateFunction").await?;
    let config = s.functions.create(req).await?;
    Ok((StatusCode::CREATED, Json(config)).into_response())
}

/// GetFunction: `GET /2015-03-31/functions/{name}`.
pub async fn get(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
    headers: HeaderMap,
) -> Result<Json<GetFunctionResponse>, ApiError> {
    let (record, arn) = s
        .functions
        .resolve_version(&name, q.qualifier.as_deref())
        .await?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut configuration = record.configuration(s.functions.region());
    configuration.function_arn = arn;
    Ok(Json(GetFunctionResponse {
        configuration,
        code: FunctionCodeLocation {
            repository_type: "S3".into(),
            location: format!("http://{host}/ignis/v1/code/{}.zip", record.code.sha256_hex),
        },
        tags: (!record.tags.is_empty()).then(|| record.tags.clone()),
        concurrency: Some(s.functions.reservation(&record.name).await?)
            .filter(|r| r.reserved_concurrent_executions.is_some()),
    }))
}

/// GetFunctionConfiguration: `GET /2015-03-31/functions/{name}/configuration`.
pub async fn get_configuration(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> Result<Response, ApiError> {
    let (record, arn) = s
        .functions
        .resolve_version(&name, q.qualifier.as_deref())
        .await?;
    let mut configuration = record.configuration(s.functions.region());
    configuration.function_arn = arn;
    Ok(Json(configuration).into_response())
}

/// `?Marker=&MaxItems=` of ListFunctions.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<String>,
}

/// The query string of the operations on a function's sub-resources
/// (versions, aliases, URLs, provisioned concurrency, event invoke
/// configurations): `Qualifier`, and a list's `Marker`, `MaxItems`,
/// `FunctionVersion` and `List`.
#[derive(Debug, Default, Deserialize)]
pub struct OpQuery {
    /// The version or alias.
    #[serde(rename = "Qualifier")]
    pub qualifier: Option<String>,
    /// Where a list page starts.
    #[serde(rename = "Marker")]
    pub marker: Option<String>,
    /// A list page's size, as sent.
    #[serde(rename = "MaxItems")]
    pub max_items: Option<String>,
    /// ListAliases' version filter.
    #[serde(rename = "FunctionVersion")]
    pub function_version: Option<String>,
    /// `ALL` for ListProvisionedConcurrencyConfigs.
    #[serde(rename = "List")]
    pub list: Option<String>,
}

impl OpQuery {
    /// The qualifier, an empty one being none.
    pub fn qualifier(&self) -> Option<&str> {
        self.qualifier.as_deref().filter(|q| !q.is_empty())
    }

    /// A list's marker (an empty one being none) and page size (at most 50).
    pub fn page(&self) -> Result<(Option<&str>, usize), ApiError> {
        let marker = self.marker.as_deref().filter(|m| !m.is_empty());
        Ok((marker, max_items(self.max_items.as_deref(), 50)?))
    }
}

/// A list operation's page size: `MaxItems` (1–10,000), at most `cap`.
pub(crate) fn max_items(given: Option<&str>, cap: usize) -> Result<usize, ApiError> {
    match given {
        None => Ok(cap),
        Some(m) => match m.parse::<i64>() {
            Ok(n) if (1..=10_000).contains(&n) => Ok((n as usize).min(cap)),
            _ => Err(LambdaError::new(
                ErrorKind::Validation,
                format!("1 validation error detected: Value '{m}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"),
            )
            .into()),
        },
    }
}

/// ListFunctions: `GET /2015-03-31/functions/`.
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<ListFunctionsResponse>, ApiError> {
    let max = max_items(q.max_items.as_deref(), 50)?;
    let (functions, next_marker) = s
        .functions
        .list(q.marker.as_deref().filter(|m| !m.is_empty()), max)
        .await?;
    Ok(Json(ListFunctionsResponse {
        functions,
        next_marker,
    }))
}

/// UpdateFunctionCode: `PUT /2015-03-31/functions/{name}/code`.
pub async fn update_code(
    State(s): State<AppState>,
    Path(name): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: UpdateFunctionCodeRequest = body::read_json(b, "UpdateFunctionCode").await?;
    Ok(Json(s.functions.update_code(&name, req).await?).into_response())
}

/// UpdateFunctionConfiguration: `PUT /2015-03-31/functions/{name}/configuration`.
pub async fn update_configuration(
    State(s): State<AppState>,
    Path(name): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    let req: UpdateFunctionConfigurationRequest =
        body::read_json(b, "UpdateFunctionConfiguration").await?;
    Ok(Json(s.functions.update_configuration(&name, req).await?).into_response())
}

/// DeleteFunction: `DELETE /2015-03-31/functions/{name}`.
pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> Result<StatusCode, ApiError> {
    s.functions.delete(&name, q.qualifier.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GetAccountSettings: `GET /2016-08-19/account-settings/`.
pub async fn account_settings(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.functions.account_settings().await?).into_response())
}

/// ListTags: `GET /2017-03-31/tags/{arn}`.
pub async fn list_tags(
    State(s): State<AppState>,
    Path(arn): Path<String>,
) -> Result<Json<Tags>, ApiError> {
    if let Some(uuid) = ignis_sources::service::mapping_uuid(&arn) {
        let tags = s.sources.tags(uuid).await?;
        return Ok(Json(Tags { tags }));
    }
    let record = s.functions.resolve(&arn, None).await?;
    Ok(Json(Tags { tags: record.tags }))
}

/// TagResource: `POST /2017-03-31/tags/{arn}`.
pub async fn tag(
    State(s): State<AppState>,
    Path(arn): Path<String>,
    b: Body,
) -> Result<StatusCode, ApiError> {
    let req: Tags = body::read_json(b, "TagResource").await?;
    if let Some(uuid) = ignis_sources::service::mapping_uuid(&arn) {
        s.sources
            .edit_tags(uuid, |tags| tags.extend(req.tags.clone()))
            .await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    s.functions
        .set_tags(&arn, |tags| tags.extend(req.tags.clone()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// UntagResource: `DELETE /2017-03-31/tags/{arn}?tagKeys=a&tagKeys=b`.
pub async fn untag(
    State(s): State<AppState>,
    Path(arn): Path<String>,
    uri: axum::http::Uri,
) -> Result<StatusCode, ApiError> {
    let keys: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "tagKeys")
        .map(|(_, v)| percent_decode(v))
        .collect();
    if keys.is_empty() {
        // TagKeys is required (botocore's UntagResourceRequest).
        return Err(ignis_model::LambdaError::new(
            ignis_model::ErrorKind::Validation,
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
        )
        .into());
    }
    if let Some(uuid) = ignis_sources::service::mapping_uuid(&arn) {
        s.sources
            .edit_tags(uuid, |tags| keys.iter().for_each(|k| drop(tags.remove(k))))
            .await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    s.functions
        .set_tags(&arn, |tags| {
            keys.iter().for_each(|k| {
                tags.remove(k);
            })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn percent_decode(s: &str) -> String {
    let q: HashMap<String, String> = serde_urlencoded_pair(s);
    q.get("v").cloned().unwrap_or_else(|| s.to_string())
}

fn serde_urlencoded_pair(v: &str) -> HashMap<String, String> {
    axum::extract::Query::<HashMap<String, String>>::try_from_uri(
        &format!("/?v={v}").parse().unwrap_or_default(),
    )
    .map(|q| q.0)
    .unwrap_or_default()
}

/// Serves a function's zip (GetFunction's `Code.Location`).
pub async fn code_zip(
    State(s): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError(LambdaError::new(
            ErrorKind::ResourceNotFound,
            "No such code",
        ))
    };
    let hex = file.strip_suffix(".zip").ok_or_else(not_found)?.to_string();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let code = s.functions.code().clone();
    let zip = tokio::task::spawn_blocking(move || code.read_zip(&hex))
        .await
        .map_err(|e| ApiError::internal("read code", &e))?
        .map_err(|_| not_found())?;
    Ok(([(header::CONTENT_TYPE, "application/zip")], zip).into_response())
}

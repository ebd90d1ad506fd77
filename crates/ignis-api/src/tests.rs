//! In-process tests of the routes (`oneshot`, no socket): wire format of
//! errors and of the management operations.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use ignis_events::{AsyncConfig, AsyncInvoker};
use ignis_router::{Router, RouterConfig};
use ignis_sandbox::process::ProcessSandbox;
use ignis_store::{CodeStore, SqliteStore};
use tower::ServiceExt;

use crate::functions::Functions;
use crate::{app, AppState};

mod event_invoke;
mod event_sources;
mod layers;
mod policy;
mod settings;
mod urls;

fn state(dir: &std::path::Path) -> AppState {
    state_with_store(dir).0
}

/// The state, and its store for tests that set up what no API makes yet.
fn state_with_store(dir: &std::path::Path) -> (AppState, Arc<SqliteStore>) {
    let router = Router::new(
        RouterConfig {
            region: "us-east-1".into(),
            envs_dir: dir.join("envs"),
            memory_budget_mb: 1024,
            idle_timeout: Duration::from_secs(60),
            keepalive: ignis_router::keepalive::Mode::Fixed,
            init_timeout: Duration::from_secs(10),
            log_max_bytes: 1 << 20,
            concurrency_limit: None,
        },
        Arc::new(ProcessSandbox),
        Arc::new(ignis_runtimes::Catalog::with_interpreters(
            dir,
            false,
            Vec::new(),
        )),
    );
    let store = Arc::new(SqliteStore::open_in(dir).unwrap());
    let code = CodeStore::open(dir).unwrap();
    let functions = Functions::new(store.clone(), code, router.clone(), "us-east-1".into());
    let state = AppState {
        functions,
        events: AsyncInvoker::start(router, store.clone(), AsyncConfig::default()),
        sources: ignis_sources::Mappings::new(
            store.clone(),
            Arc::new(event_sources::KnownQueues),
            "us-east-1",
        ),
    };
    (state, store)
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, String, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let kind = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        kind,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn zip_with_bootstrap() -> String {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    w.start_file("bootstrap", opts).unwrap();
    w.write_all(b"#!/bin/sh\nexit 0\n").unwrap();
    w.finish().unwrap();
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

const F: &str = "/2015-03-31/functions";

#[tokio::test]
async fn malformed_and_unknown_fields_are_invalid_request_content() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let (status, kind, body) = call(&s, "POST", F, "{not json").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "InvalidRequestContentException")
    );
    assert_eq!(body["Type"], "User");
    let (_, kind, body) = call(
        &s,
        "POST",
        F,
        r#"{"FunctionName":"a","Role":"r","Code":{},"Nope":1}"#,
    )
    .await;
    assert_eq!(kind, "InvalidRequestContentException");
    assert!(body["message"].as_str().unwrap().contains("Nope"));
}

#[tokio::test]
async fn a_missing_required_member_is_a_validation_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let (status, kind, body) = call(&s, "POST", F, r#"{"FunctionName":"a","Code":{}}"#).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "ValidationException")
    );
    assert_eq!(
        body["message"],
        "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"
    );
}

#[tokio::test]
async fn create_get_list_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let create = serde_json::json!({
        "FunctionName": "f", "Runtime": "provided.al2023", "Handler": "bootstrap",
        "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": zip_with_bootstrap()},
        "Timeout": 7, "Environment": {"Variables": {"GREETING": "hi"}}, "Tags": {"team": "a"}
    });
    let (status, _, body) = call(&s, "POST", F, &create.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["State"], "Pending");
    assert_eq!(body["Timeout"], 7);
    let (status, kind, _) = call(&s, "POST", F, &create.to_string()).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::CONFLICT, "ResourceConflictException")
    );
    let (_, _, got) = call(&s, "GET", &format!("{F}/f"), "").await;
    assert_eq!(
        got["Configuration"]["Environment"]["Variables"]["GREETING"],
        "hi"
    );
    assert_eq!(got["Tags"]["team"], "a");
    let (_, _, list) = call(&s, "GET", &format!("{F}/?MaxItems=1"), "").await;
    assert_eq!(list["Functions"].as_array().unwrap().len(), 1);
    let (status, _, _) = call(&s, "DELETE", &format!("{F}/f"), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, kind, body) = call(&s, "GET", &format!("{F}/f"), "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    assert!(body["message"].as_str().unwrap().contains("function:f"));
}

#[tokio::test]
async fn limits_are_refused_with_lambda_types() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let base = |extra: serde_json::Value| {
        let mut v = serde_json::json!({
            "FunctionName": "f", "Runtime": "provided.al2023", "Handler": "bootstrap",
            "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": zip_with_bootstrap()}
        });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v.to_string()
    };
    let cases = [
        (
            serde_json::json!({"Timeout": 901}),
            "InvalidParameterValueException",
        ),
        (serde_json::json!({"MemorySize": 64}), "ValidationException"),
        (
            serde_json::json!({"Runtime": "cobol"}),
            "InvalidParameterValueException",
        ),
        (
            serde_json::json!({"Code": {"ZipFile": "bm90IGEgemlw"}}),
            "InvalidParameterValueException",
        ),
        (
            serde_json::json!({"FunctionName": "bad name"}),
            "ValidationException",
        ),
    ];
    for (extra, expected) in cases {
        let (_, kind, body) = call(&s, "POST", F, &base(extra.clone())).await;
        assert_eq!(kind, expected, "{extra} -> {body}");
    }
    let (status, kind, _) = call(&s, "GET", &format!("{F}/f"), "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
}

#[tokio::test]
async fn unknown_paths_are_lambda_shaped() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    // No such operation: its own type, never "the function does not exist".
    for (method, uri) in [
        ("GET", "/nope".to_string()),
        ("GET", "/2020-04-22/code-signing-configs/".to_string()),
        ("PATCH", format!("{F}/f")),
        ("POST", format!("{F}/f")),
    ] {
        let (status, kind, body) = call(&s, method, &uri, "").await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::NOT_FOUND, "UnknownOperationException"),
            "{method} {uri}: {body}"
        );
    }
    // What axum's extractors refuse comes back in Lambda's shape too.
    for uri in [format!("{F}/?MaxItems=1&MaxItems=2"), format!("{F}/%ff%fe")] {
        let (status, kind, body) = call(&s, "GET", &uri, "").await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::BAD_REQUEST, "ValidationException"),
            "{uri}: {body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    let (status, kind, _) = call(&s, "POST", &format!("{F}/missing/invocations"), "{}").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
}

fn create_body(name: &str, extra: serde_json::Value) -> String {
    let mut v = serde_json::json!({
        "FunctionName": name, "Runtime": "provided.al2023", "Handler": "bootstrap",
        "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": zip_with_bootstrap()}
    });
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v.to_string()
}

#[tokio::test]
async fn deleting_latest_by_qualifier_is_refused_and_keeps_the_function() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let (status, _, _) = call(&s, "POST", F, &create_body("f", serde_json::json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
    for uri in [format!("{F}/f?Qualifier=$LATEST"), format!("{F}/f:$LATEST")] {
        let (status, kind, body) = call(&s, "DELETE", &uri, "").await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::BAD_REQUEST, "InvalidParameterValueException"),
            "{uri}: {body}"
        );
    }
    let (status, _, _) = call(&s, "GET", &format!("{F}/f"), "").await;
    assert_eq!(status, StatusCode::OK, "the function is still there");
}

#[tokio::test]
async fn tags_are_checked_on_create_and_on_tag_resource() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let (_, kind, _) = call(
        &s,
        "POST",
        F,
        &create_body("f", serde_json::json!({"Tags": {"": "v"}})),
    )
    .await;
    assert_eq!(kind, "ValidationException");
    let (status, _, body) = call(
        &s,
        "POST",
        F,
        &create_body("f", serde_json::json!({"Tags": {"team": "a"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let arn = body["FunctionArn"].as_str().unwrap().to_string();
    let tags = format!("/2017-03-31/tags/{arn}");
    let long = "k".repeat(129);
    for (tags_json, expected) in [
        (
            serde_json::json!({ long.as_str(): "v" }),
            "ValidationException",
        ),
        (
            serde_json::json!({"k": "v".repeat(257)}),
            "ValidationException",
        ),
        (
            serde_json::json!({"aws:x": "v"}),
            "InvalidParameterValueException",
        ),
        (
            serde_json::Value::Object(
                (0..50)
                    .map(|i| (format!("k{i}"), serde_json::json!("")))
                    .collect(),
            ),
            "InvalidParameterValueException",
        ),
    ] {
        let req = serde_json::json!({ "Tags": tags_json }).to_string();
        let (_, kind, body) = call(&s, "POST", &tags, &req).await;
        assert_eq!(kind, expected, "{body}");
    }
    let (_, kind, _) = call(&s, "DELETE", &tags, "").await;
    assert_eq!(kind, "ValidationException", "UntagResource needs TagKeys");
    let (_, _, got) = call(&s, "GET", &tags, "").await;
    assert_eq!(
        got["Tags"],
        serde_json::json!({"team": "a"}),
        "refused edits left no trace"
    );
}

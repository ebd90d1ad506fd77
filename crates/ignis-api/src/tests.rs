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

mod layers;

fn state(dir: &std::path::Path) -> AppState {
    let router = Router::new(
        RouterConfig {
            region: "us-east-1".into(),
            envs_dir: dir.join("envs"),
            memory_budget_mb: 1024,
            idle_timeout: Duration::from_secs(60),
            init_timeout: Duration::from_secs(10),
            log_max_bytes: 1 << 20,
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
    let functions = Functions::new(store, code, router.clone(), "us-east-1".into());
    AppState {
        functions,
        events: AsyncInvoker::start(router, AsyncConfig::default()),
    }
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
    let (status, kind, _) = call(&s, "GET", "/nope", "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    let (status, kind, _) = call(&s, "POST", &format!("{F}/missing/invocations"), "{}").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
}

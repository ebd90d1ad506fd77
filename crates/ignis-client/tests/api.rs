//! The client against a tiny in-process server on `127.0.0.1:0` that answers
//! the way Ignis (and Lambda) does.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ignis_client::{Client, ClientError, InvocationType, InvokeRequest, LogQuery};
use serde_json::{json, Value};

const NOT_FOUND: &str = "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope";

async fn serve(app: Router) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Client::new(&format!("http://{addr}")).unwrap()
}

async fn not_found(Path(_name): Path<String>) -> Response {
    let body = json!({"Type": "User", "message": NOT_FOUND});
    (
        StatusCode::NOT_FOUND,
        [("X-Amzn-ErrorType", "ResourceNotFoundException")],
        Json(body),
    )
        .into_response()
}

fn config(name: &str) -> Value {
    json!({
        "FunctionName": name, "FunctionArn": format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        "Runtime": "provided.al2023", "Role": "arn:aws:iam::000000000000:role/ignis", "Handler": "bootstrap",
        "CodeSize": 10, "Description": "", "Timeout": 3, "MemorySize": 128,
        "LastModified": "2024-05-01T12:00:00.000+0000", "CodeSha256": "abc=", "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"}, "RevisionId": "r1", "State": "Active",
        "LastUpdateStatus": "Successful", "PackageType": "Zip", "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512}, "LoggingConfig": {"LogFormat": "Text"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"}
    })
}

async fn list(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    match q.get("Marker").map(String::as_str) {
        None => Json(json!({"Functions": [config("a"), config("b")], "NextMarker": "m1"})),
        Some("m1") => Json(json!({"Functions": [config("c")]})),
        Some(other) => panic!("unexpected marker {other}"),
    }
}

async fn invoke(headers: HeaderMap, body: String) -> Response {
    let kind = headers["x-amz-invocation-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(headers["x-amz-log-type"], "Tail");
    let head = [
        ("X-Amz-Function-Error", "Unhandled".to_string()),
        ("X-Amz-Log-Result", "aGVsbG8K".to_string()),
        ("X-Amz-Executed-Version", "$LATEST".to_string()),
    ];
    (head, format!("{kind}:{body}")).into_response()
}

async fn logs(Path(name): Path<String>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let after: u64 = q["after"].parse().unwrap();
    assert_eq!(q["wait"], "20");
    assert!(!q.contains_key("since"));
    let event = json!({"seq": after + 1, "timestamp": 0, "stream": "s", "message": name});
    Json(json!({"events": [event], "next_seq": after + 1}))
}

#[tokio::test]
async fn lambda_error_becomes_one_line() {
    let client = serve(Router::new().route("/2015-03-31/functions/{name}", get(not_found))).await;
    let err = client.get_function("nope").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("ResourceNotFoundException: {NOT_FOUND}")
    );
    match err {
        ClientError::Api { kind, status, .. } => {
            assert_eq!(kind, "ResourceNotFoundException");
            assert_eq!(status, 404);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn unknown_route_without_lambda_shape_is_still_one_line() {
    let client = serve(Router::new()).await;
    let err = client.delete_function("x").await.unwrap_err();
    assert!(err.to_string().starts_with("HTTP 404"), "{err}");
}

#[tokio::test]
async fn list_all_follows_next_marker() {
    let client = serve(Router::new().route("/2015-03-31/functions/", get(list))).await;
    let names: Vec<_> = client
        .list_all_functions()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.function_name)
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[tokio::test]
async fn invoke_sends_and_reads_the_headers() {
    let app = Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke));
    let client = serve(app).await;
    let req = InvokeRequest {
        invocation_type: InvocationType::RequestResponse,
        tail: true,
        payload: b"{}".to_vec(),
    };
    let out = client.invoke("f", req).await.unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.payload, b"RequestResponse:{}");
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(out.log_tail.as_deref(), Some("hello\n"));
    assert_eq!(out.executed_version.as_deref(), Some("$LATEST"));
}

#[tokio::test]
async fn logs_passes_only_the_set_parameters() {
    let client = serve(Router::new().route("/ignis/v1/functions/{name}/logs", get(logs))).await;
    let query = LogQuery {
        after: Some(4),
        wait_secs: Some(20),
        ..Default::default()
    };
    let page = client.logs("fn", &query).await.unwrap();
    assert_eq!(page.next_seq, 5);
    assert_eq!(page.events[0].message, "fn");
}

#[tokio::test]
async fn refused_connection_says_how_to_start_the_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let err = client.list_all_functions().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("the Ignis server at http://{addr} is not reachable; start it with `ignis serve`")
    );
}

//! The commands end to end against a small in-process fake of the Ignis API
//! on `127.0.0.1:0`: the calls they make and the exit codes they return.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use clap::Parser;
use ignis_cli::Cli;
use serde_json::{json, Value};

/// What the fake has seen and holds.
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    exists: bool,
    /// GetFunction answers Pending this many more times.
    pending: u32,
    last_config: Option<Value>,
}

type Shared = Arc<Mutex<Fake>>;

fn config(name: &str, state: &str) -> Value {
    json!({
        "FunctionName": name, "FunctionArn": format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        "Runtime": "provided.al2023", "Role": "arn:aws:iam::000000000000:role/ignis", "Handler": "bootstrap",
        "CodeSize": 10, "Description": "", "Timeout": 3, "MemorySize": 128,
        "LastModified": "2024-05-01T12:00:00.000+0000", "CodeSha256": "abc=", "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"}, "RevisionId": "r1", "State": state,
        "LastUpdateStatus": "Successful", "PackageType": "Zip", "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512}, "LoggingConfig": {"LogFormat": "Text"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"}
    })
}

fn lambda_error(status: StatusCode, kind: &'static str, message: &str) -> Response {
    let body = json!({"Type": "User", "message": message});
    (status, [("X-Amzn-ErrorType", kind)], Json(body)).into_response()
}

async fn create(State(fake): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut fake = fake.lock().unwrap();
    fake.calls.push("create".into());
    assert!(body["Code"]["ZipFile"]
        .as_str()
        .is_some_and(|z| !z.is_empty()));
    if fake.exists {
        return lambda_error(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            "Function already exist: hello",
        );
    }
    fake.exists = true;
    fake.pending = 2;
    (StatusCode::CREATED, Json(config("hello", "Pending"))).into_response()
}

async fn get_function(State(fake): State<Shared>, Path(name): Path<String>) -> Response {
    let mut fake = fake.lock().unwrap();
    fake.calls.push("get".into());
    if !fake.exists {
        return lambda_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {name}"),
        );
    }
    let state = if fake.pending > 0 {
        "Pending"
    } else {
        "Active"
    };
    fake.pending = fake.pending.saturating_sub(1);
    let code = json!({"RepositoryType": "S3", "Location": "http://x"});
    Json(json!({"Configuration": config(&name, state), "Code": code})).into_response()
}

async fn update_code(State(fake): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let mut fake = fake.lock().unwrap();
    fake.calls.push("code".into());
    assert!(body["ZipFile"].is_string());
    Json(config("hello", "Active"))
}

async fn update_config(State(fake): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let mut fake = fake.lock().unwrap();
    fake.calls.push("config".into());
    fake.last_config = Some(body);
    Json(config("hello", "Active"))
}

async fn invoke() -> Response {
    let head = [("X-Amz-Function-Error", "Unhandled")];
    (head, r#"{"errorMessage":"boom","errorType":"Error"}"#).into_response()
}

async fn start() -> (String, Shared) {
    let fake = Shared::default();
    let app = Router::new()
        .route("/2015-03-31/functions", post(create))
        .route("/2015-03-31/functions/{name}", get(get_function))
        .route("/2015-03-31/functions/{name}/code", put(update_code))
        .route(
            "/2015-03-31/functions/{name}/configuration",
            put(update_config),
        )
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

async fn ignis(endpoint: &str, args: &[&str]) -> ExitCode {
    let argv = ["ignis", "--endpoint", endpoint]
        .into_iter()
        .chain(args.iter().copied());
    ignis_cli::run(Cli::try_parse_from(argv).unwrap()).await
}

fn function_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bootstrap"), "#!/bin/sh\n").unwrap();
    dir
}

#[tokio::test]
async fn deploy_creates_then_updates_and_waits_for_active() {
    let (endpoint, fake) = start().await;
    let dir = function_dir();
    let path = dir.path().to_str().unwrap();
    assert_eq!(
        ignis(&endpoint, &["deploy", path, "--name", "hello"]).await,
        ExitCode::SUCCESS
    );
    assert_eq!(fake.lock().unwrap().calls, ["create", "get", "get", "get"]);

    fake.lock().unwrap().calls.clear();
    let args = [
        "deploy", path, "--name", "hello", "--memory", "256", "--env", "A=1",
    ];
    assert_eq!(ignis(&endpoint, &args).await, ExitCode::SUCCESS);
    let fake = fake.lock().unwrap();
    assert_eq!(fake.calls, ["create", "code", "get", "config", "get"]);
    let sent = fake.last_config.as_ref().unwrap();
    assert_eq!(sent["MemorySize"], 256);
    assert_eq!(sent["Environment"]["Variables"]["A"], "1");
    assert!(sent.get("Timeout").is_none());
}

#[tokio::test]
async fn failures_exit_with_one() {
    let (endpoint, _fake) = start().await;
    assert_eq!(
        ignis(&endpoint, &["functions", "get", "nope"]).await,
        ExitCode::FAILURE
    );
    assert_eq!(
        ignis(&endpoint, &["invoke", "hello"]).await,
        ExitCode::FAILURE
    );
    assert_eq!(
        ignis(&endpoint, &["deploy", "/nonexistent", "--name", "x"]).await,
        ExitCode::FAILURE
    );
    assert_eq!(
        ignis("http://127.0.0.1:1", &["functions", "list"]).await,
        ExitCode::FAILURE
    );
    assert_eq!(
        ignis("not a url", &["functions", "list"]).await,
        ExitCode::FAILURE
    );
}

//! In-process tests of the configurations deploy tools read on every plan.

use axum::http::StatusCode;
use ignis_store::Store;
use serde_json::json;

use super::{call, state, state_with_store, zip_with_bootstrap, F};

const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";

async fn create(s: &crate::AppState, name: &str) {
    let body = json!({
        "FunctionName": name, "Runtime": "provided.al2023", "Handler": "bootstrap",
        "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": zip_with_bootstrap()}
    });
    let (status, _, v) = call(s, "POST", F, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn code_signing_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let uri = "/2020-06-30/functions/f/code-signing-config";
    let (status, _, _) = call(&s, "GET", uri, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    create(&s, "f").await;
    let (status, _, v) = call(&s, "GET", uri, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({"CodeSigningConfigArn": "", "FunctionName": "f"}));
    let (_, _, v) = call(
        &s,
        "GET",
        &format!("/2020-06-30/functions/{ARN}:f/code-signing-config"),
        "",
    )
    .await;
    assert_eq!(v["FunctionName"], "f");
}

#[tokio::test]
async fn runtime_management_defaults_then_stores_what_is_put() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store) = state_with_store(dir.path());
    create(&s, "f").await;
    let uri = "/2021-07-20/functions/f/runtime-management-config";
    let (status, _, v) = call(&s, "GET", uri, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!({"UpdateRuntimeOn": "Auto", "FunctionArn": format!("{ARN}:f")})
    );
    let runtime = "arn:aws:lambda:us-east-1::runtime:abc123abc123abc123";
    let body = json!({"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": runtime});
    let (status, _, put) = call(&s, "PUT", uri, &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(
        put,
        json!({"UpdateRuntimeOn": "Manual", "FunctionArn": format!("{ARN}:f"), "RuntimeVersionArn": runtime})
    );
    let (_, _, got) = call(&s, "GET", uri, "").await;
    assert_eq!(got, put);
    // $LATEST is the function's own; a version has its own, once it exists.
    let (_, _, latest) = call(&s, "GET", &format!("{uri}?Qualifier=$LATEST"), "").await;
    assert_eq!(latest["UpdateRuntimeOn"], "Manual");
    assert_eq!(latest["FunctionArn"], format!("{ARN}:f:$LATEST"));
    let (status, _, _) = call(&s, "GET", &format!("{uri}?Qualifier=1"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let record = store.get_function("f").await.unwrap().unwrap();
    store
        .publish_version(&record, &record.revision_id)
        .await
        .unwrap();
    let (_, _, v1) = call(&s, "GET", &format!("{uri}?Qualifier=1"), "").await;
    assert_eq!(
        v1,
        json!({"UpdateRuntimeOn": "Auto", "FunctionArn": format!("{ARN}:f:1")})
    );
    let body = json!({"UpdateRuntimeOn": "FunctionUpdate"});
    let (status, _, _) = call(&s, "PUT", &format!("{uri}?Qualifier=1"), &body.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, v1) = call(&s, "GET", &format!("{uri}?Qualifier=1"), "").await;
    assert_eq!(v1["UpdateRuntimeOn"], "FunctionUpdate");
    // Refusals.
    for (body, kind) in [
        (
            json!({"UpdateRuntimeOn": "Manual"}),
            "InvalidParameterValueException",
        ),
        (
            json!({"UpdateRuntimeOn": "Auto", "RuntimeVersionArn": runtime}),
            "InvalidParameterValueException",
        ),
        (json!({"UpdateRuntimeOn": "Never"}), "ValidationException"),
        (json!({}), "ValidationException"),
        (
            json!({"UpdateRuntimeOn": "Auto", "Extra": 1}),
            "InvalidRequestContentException",
        ),
    ] {
        let (_, got, v) = call(&s, "PUT", uri, &body.to_string()).await;
        assert_eq!(got, kind, "{body}: {v}");
    }
    let (status, _, _) = call(
        &s,
        "PUT",
        "/2021-07-20/functions/nope/runtime-management-config",
        &json!({"UpdateRuntimeOn": "Auto"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn recursion_defaults_to_terminate_and_stores_allow() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    create(&s, "f").await;
    let uri = "/2024-08-31/functions/f/recursion-config";
    let (_, _, v) = call(&s, "GET", uri, "").await;
    assert_eq!(v, json!({"RecursiveLoop": "Terminate"}));
    let (status, _, v) = call(&s, "PUT", uri, r#"{"RecursiveLoop":"Allow"}"#).await;
    assert_eq!(
        (status, v),
        (StatusCode::OK, json!({"RecursiveLoop": "Allow"}))
    );
    let (_, _, v) = call(&s, "GET", uri, "").await;
    assert_eq!(v, json!({"RecursiveLoop": "Allow"}));
    let (_, kind, _) = call(&s, "PUT", uri, r#"{"RecursiveLoop":"Sometimes"}"#).await;
    assert_eq!(kind, "ValidationException");
    let (_, kind, _) = call(&s, "GET", "/2024-08-31/functions/f:1/recursion-config", "").await;
    assert_eq!(kind, "ValidationException");
    let (status, _, _) = call(&s, "GET", "/2024-08-31/functions/g/recursion-config", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Settings go with their function.
    call(&s, "DELETE", &format!("{F}/f"), "").await;
    create(&s, "f").await;
    let (_, _, v) = call(&s, "GET", uri, "").await;
    assert_eq!(v, json!({"RecursiveLoop": "Terminate"}));
}

#[tokio::test]
async fn scaling_is_refused_as_the_model_declares() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store) = state_with_store(dir.path());
    create(&s, "f").await;
    let uri = "/2025-11-30/functions/f/function-scaling-config";
    let (_, kind, v) = call(&s, "GET", uri, "").await;
    assert_eq!(kind, "ValidationException", "{v}");
    let (_, kind, _) = call(&s, "GET", &format!("{uri}?Qualifier=live"), "").await;
    assert_eq!(kind, "ValidationException");
    let (status, _, _) = call(&s, "GET", &format!("{uri}?Qualifier=1"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let record = store.get_function("f").await.unwrap().unwrap();
    store
        .publish_version(&record, &record.revision_id)
        .await
        .unwrap();
    let (status, kind, v) = call(&s, "GET", &format!("{uri}?Qualifier=1"), "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
    );
    assert!(
        v["message"].as_str().unwrap().contains("capacity provider"),
        "{v}"
    );
    let body = json!({"FunctionScalingConfig": {"MinExecutionEnvironments": 1}});
    let (_, kind, _) = call(&s, "PUT", &format!("{uri}?Qualifier=1"), &body.to_string()).await;
    assert_eq!(kind, "InvalidParameterValueException");
    let body = json!({"FunctionScalingConfig": {"MaxExecutionEnvironments": 20000}});
    let (_, kind, _) = call(&s, "PUT", &format!("{uri}?Qualifier=1"), &body.to_string()).await;
    assert_eq!(kind, "ValidationException");
    let (status, _, _) = call(&s, "GET", &format!("{uri}?Qualifier=$LATEST.PUBLISHED"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

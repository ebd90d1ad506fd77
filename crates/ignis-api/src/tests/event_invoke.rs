//! In-process tests of the EventInvokeConfig operations' wire format and
//! of the async backlog endpoint.

use axum::http::StatusCode;
use ignis_store::{QueuedEvent, Store};
use serde_json::json;

use super::{call, state_with_store, zip_with_bootstrap, F};

const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";
const PATH: &str = "/2019-09-25/functions";

async fn create(s: &crate::AppState, name: &str) {
    let body = json!({
        "FunctionName": name, "Runtime": "provided.al2023", "Handler": "bootstrap",
        "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": zip_with_bootstrap()}
    });
    let (status, _, v) = call(s, "POST", F, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn put_get_update_list_delete_in_lambdas_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = state_with_store(dir.path());
    create(&s, "f").await;
    create(&s, "dest").await;
    let uri = format!("{PATH}/f/event-invoke-config");
    let body = json!({"MaximumRetryAttempts": 1,
                      "DestinationConfig": {"OnFailure": {"Destination": format!("{ARN}:dest")}}});
    let (status, _, put) = call(&s, "PUT", &uri, &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert!(put["LastModified"].as_f64().unwrap() > 1.7e9, "{put}");
    let mut shown = put.clone();
    shown.as_object_mut().unwrap().remove("LastModified");
    assert_eq!(
        shown,
        json!({"FunctionArn": format!("{ARN}:f:$LATEST"), "MaximumRetryAttempts": 1,
               "DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": format!("{ARN}:dest")}}})
    );
    let (_, _, got) = call(&s, "GET", &uri, "").await;
    assert_eq!(got, put);

    let (status, _, upd) = call(&s, "POST", &uri, r#"{"MaximumEventAgeInSeconds":3600}"#).await;
    assert_eq!(status, StatusCode::OK, "{upd}");
    assert_eq!(
        (
            upd["MaximumRetryAttempts"].as_u64(),
            upd["MaximumEventAgeInSeconds"].as_u64()
        ),
        (Some(1), Some(3600))
    );
    assert_eq!(upd["DestinationConfig"], put["DestinationConfig"]);

    let (status, _, list) = call(&s, "GET", &format!("{uri}/list"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["FunctionEventInvokeConfigs"].as_array().unwrap().len(),
        1
    );
    assert!(list.get("NextMarker").is_none());

    let (status, _, _) = call(&s, "DELETE", &uri, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for method in ["GET", "DELETE"] {
        let (status, kind, v) = call(&s, method, &uri, "").await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            "{v}"
        );
        assert_eq!(
            v["message"],
            format!("The function {ARN}:f:$LATEST doesn't have an EventInvokeConfig")
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = state_with_store(dir.path());
    create(&s, "f").await;
    let uri = format!("{PATH}/f/event-invoke-config");
    for (body, kind, message) in [
        (r#"{"MaximumRetryAttempts":3}"#, "ValidationException", "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"),
        (r#"{"MaximumEventAgeInSeconds":59}"#, "ValidationException", "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"),
        (r#"{"Nope":1}"#, "InvalidRequestContentException", ""),
        (r#"{"DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:lambda:us-east-1:000000000000:function:gone"}}}"#,
         "InvalidParameterValueException", "The destination ARN arn:aws:lambda:us-east-1:000000000000:function:gone is invalid."),
    ] {
        let (status, got, v) = call(&s, "PUT", &uri, body).await;
        assert_eq!(got, kind, "{body}: {v}");
        assert_eq!(status.as_u16() / 100, 4);
        assert!(v["message"].as_str().unwrap().contains(message), "{v}");
    }
    let (status, _, _) = call(&s, "GET", &uri, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
    let (status, kind, _) = call(&s, "PUT", &format!("{uri}?Qualifier=9"), "{}").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    let (status, kind, _) = call(&s, "POST", &uri, r#"{"MaximumRetryAttempts":0}"#).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
        "Update creates nothing"
    );
    let (status, kind, _) = call(&s, "GET", &format!("{uri}/list?MaxItems=51"), "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "ValidationException")
    );
}

#[tokio::test]
async fn the_backlog_endpoint_counts_queued_events() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store) = state_with_store(dir.path());
    let (status, kind, _) = call(&s, "GET", "/ignis/v1/functions/f/async", "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    create(&s, "f").await;
    let (_, _, v) = call(&s, "GET", "/ignis/v1/functions/f/async", "").await;
    assert_eq!(
        v,
        json!({"FunctionName": "f", "Queued": 0, "Claimed": 0, "OldestAgeSeconds": null})
    );
    // Not due for an hour, so the dispatcher leaves it be.
    let later = chrono::Utc::now().timestamp_millis() + 3_600_000;
    let event = QueuedEvent {
        id: 0,
        function: "f".into(),
        qualifier: None,
        request_id: "r".into(),
        invoked_arn: format!("{ARN}:f"),
        payload: b"{}".to_vec(),
        client_context: None,
        trace_id: None,
        attempts: 0,
        enqueued_ms: chrono::Utc::now().timestamp_millis() - 5_000,
        not_before_ms: later,
    };
    store.enqueue_event(&event).await.unwrap();
    let (_, _, v) = call(&s, "GET", "/ignis/v1/functions/f/async", "").await;
    assert_eq!(
        (v["Queued"].as_u64(), v["Claimed"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    assert!(v["OldestAgeSeconds"].as_f64().unwrap() >= 4.0, "{v}");
}

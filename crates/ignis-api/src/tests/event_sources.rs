//! In-process tests of the event source mapping operations: Lambda's
//! shapes, status codes and refusals (nothing stored by a refused call).

use axum::http::StatusCode;
use ignis_sources::{Catalog, QueueFacts};
use serde_json::json;

use super::{call, state_with_store, zip_with_bootstrap, F};

const PATH: &str = "/2015-03-31/event-source-mappings";
const Q: &str = "arn:aws:sqs:us-east-1:000000000000:jobs";
const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function";

/// Queues `jobs`, `jobs.fifo` and `short` (a 1 s visibility timeout) exist.
pub(super) struct KnownQueues;

#[async_trait::async_trait]
impl Catalog for KnownQueues {
    async fn queue(&self, arn: &str) -> Result<Option<QueueFacts>, String> {
        let name = arn.rsplit(':').next().unwrap_or_default();
        Ok(
            matches!(name, "jobs" | "jobs.fifo" | "short").then(|| QueueFacts {
                name: name.to_owned(),
                fifo: name.ends_with(".fifo"),
                visibility_timeout: if name == "short" { 1 } else { 30 },
            }),
        )
    }
}

async fn create_function(s: &crate::AppState, name: &str) {
    let body = json!({
        "FunctionName": name, "Runtime": "provided.al2023", "Handler": "bootstrap",
        "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": zip_with_bootstrap()}
    });
    let (status, _, v) = call(s, "POST", F, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn create_get_update_list_delete_in_lambdas_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = state_with_store(dir.path());
    create_function(&s, "f").await;
    let body = json!({"EventSourceArn": Q, "FunctionName": format!("{FN}:f"), "BatchSize": 5,
                      "FunctionResponseTypes": ["ReportBatchItemFailures"],
                      "FilterCriteria": {"Filters": [{"Pattern": "{\"body\":{\"k\":[\"v\"]}}"}]}});
    let (status, _, made) = call(&s, "POST", PATH, &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{made}");
    let uuid = made["UUID"].as_str().unwrap().to_owned();
    assert_eq!(made["State"], "Creating");
    assert_eq!(made["StateTransitionReason"], "USER_INITIATED");
    assert_eq!(made["LastProcessingResult"], "No records processed");
    assert_eq!(made["FunctionArn"], format!("{FN}:f"));
    assert_eq!(made["EventSourceArn"], Q);
    assert_eq!(made["BatchSize"], 5);
    assert_eq!(made["MaximumBatchingWindowInSeconds"], 0);
    assert_eq!(
        made["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        made["EventSourceMappingArn"],
        format!("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}")
    );
    assert!(made["LastModified"].as_f64().unwrap() > 1.7e9, "{made}");

    let (status, _, got) = call(&s, "GET", &format!("{PATH}/{uuid}"), "").await;
    assert_eq!((status, &got), (StatusCode::OK, &made));

    // Creating: an update waits (nothing settles it in this test).
    let (status, kind, _) = call(&s, "PUT", &format!("{PATH}/{uuid}"), r#"{"BatchSize":2}"#).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "ResourceInUseException")
    );

    // A second mapping of the queue to the function.
    let (status, kind, v) = call(&s, "POST", PATH, &body.to_string()).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::CONFLICT, "ResourceConflictException")
    );
    let message = v["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("An event source mapping with SQS arn (\" {Q} \") and function (\" f \") already exists.")), "{v}");
    assert!(message.ends_with(&format!("with UUID {uuid}")), "{v}");

    // A qualified function is another function.
    let q = json!({"EventSourceArn": Q, "FunctionName": "f:$LATEST"});
    let (status, _, other) = call(&s, "POST", PATH, &q.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{other}");
    assert_eq!(other["FunctionArn"], format!("{FN}:f:$LATEST"));
    assert_eq!(other["BatchSize"], 10);

    let (_, _, all) = call(&s, "GET", &format!("{PATH}?FunctionName=f"), "").await;
    assert_eq!(all["EventSourceMappings"].as_array().unwrap().len(), 2);
    let (_, _, page) = call(
        &s,
        "GET",
        &format!("{PATH}?EventSourceArn={Q}&MaxItems=1"),
        "",
    )
    .await;
    assert_eq!(page["EventSourceMappings"].as_array().unwrap().len(), 1);
    let marker = page["NextMarker"].as_str().unwrap();
    let (_, _, rest) = call(
        &s,
        "GET",
        &format!("{PATH}?EventSourceArn={Q}&Marker={marker}"),
        "",
    )
    .await;
    assert_eq!(rest["EventSourceMappings"].as_array().unwrap().len(), 1);
    assert!(rest.get("NextMarker").is_none(), "{rest}");
    let (_, _, none) = call(&s, "GET", &format!("{PATH}?FunctionName=g"), "").await;
    assert_eq!(none["EventSourceMappings"], json!([]));

    // Creating: a delete waits too.
    let (status, _, del) = call(
        &s,
        "DELETE",
        &format!("{PATH}/{}", other["UUID"].as_str().unwrap()),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{del}");
    assert_eq!(del["Type"], "User");
}

#[tokio::test]
async fn refusals_are_lambdas_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = state_with_store(dir.path());
    create_function(&s, "f").await;
    let cases = [
        (
            json!({"EventSourceArn": Q, "FunctionName": "nope"}),
            "ResourceNotFoundException",
        ),
        (
            json!({"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:missing", "FunctionName": "f"}),
            "InvalidParameterValueException",
        ),
        (
            json!({"EventSourceArn": Q, "FunctionName": "f", "BatchSize": 11}),
            "InvalidParameterValueException",
        ),
        (
            json!({"EventSourceArn": Q, "FunctionName": "f", "BatchSize": 10001}),
            "ValidationException",
        ),
        (
            json!({"EventSourceArn": Q, "FunctionName": "f", "StartingPosition": "LATEST"}),
            "InvalidParameterValueException",
        ),
        (
            json!({"EventSourceArn": Q, "FunctionName": "f",
                "FilterCriteria": {"Filters": [{"Pattern": "{oops"}]}}),
            "InvalidParameterValueException",
        ),
        (
            json!({"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:jobs.fifo", "FunctionName": "f",
                "BatchSize": 20, "MaximumBatchingWindowInSeconds": 1}),
            "InvalidParameterValueException",
        ),
        (json!({"EventSourceArn": Q}), "ValidationException"),
        (
            json!({"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:short", "FunctionName": "f"}),
            "InvalidParameterValueException",
        ),
        (
            json!({"EventSourceArn": Q, "FunctionName": "f", "Bogus": 1}),
            "InvalidRequestContentException",
        ),
    ];
    for (body, want) in cases {
        let (status, kind, v) = call(&s, "POST", PATH, &body.to_string()).await;
        assert_eq!(kind, want, "{body}: {status} {v}");
    }
    let (_, _, all) = call(&s, "GET", PATH, "").await;
    assert_eq!(all["EventSourceMappings"], json!([]));
    let (status, kind, _) = call(
        &s,
        "GET",
        &format!("{PATH}/00000000-0000-0000-0000-000000000000"),
        "",
    )
    .await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    let (_, kind, _) = call(&s, "GET", &format!("{PATH}?MaxItems=0"), "").await;
    assert_eq!(kind, "ValidationException");
}

#[tokio::test]
async fn tags_of_a_mapping_by_its_arn() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = state_with_store(dir.path());
    create_function(&s, "f").await;
    let body = json!({"EventSourceArn": Q, "FunctionName": "f", "Tags": {"team": "a"}});
    let (_, _, made) = call(&s, "POST", PATH, &body.to_string()).await;
    let arn = made["EventSourceMappingArn"].as_str().unwrap().to_owned();
    let uri = format!("/2017-03-31/tags/{arn}");
    let (status, _, tags) = call(&s, "GET", &uri, "").await;
    assert_eq!(
        (status, tags),
        (StatusCode::OK, json!({"Tags": {"team": "a"}}))
    );
    let (status, _, _) = call(&s, "POST", &uri, r#"{"Tags":{"env":"dev"}}"#).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&s, "DELETE", &format!("{uri}?tagKeys=team"), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, tags) = call(&s, "GET", &uri, "").await;
    assert_eq!(tags, json!({"Tags": {"env": "dev"}}));
    // Not in the configuration.
    let (_, _, got) = call(
        &s,
        "GET",
        &format!("{PATH}/{}", made["UUID"].as_str().unwrap()),
        "",
    )
    .await;
    assert!(got.get("Tags").is_none(), "{got}");
    let missing = "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:00000000-0000-0000-0000-000000000000";
    let (_, kind, _) = call(&s, "GET", &format!("/2017-03-31/tags/{missing}"), "").await;
    assert_eq!(kind, "ResourceNotFoundException");
}

#[tokio::test]
async fn updates_once_settled_and_a_new_function() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = state_with_store(dir.path());
    create_function(&s, "f").await;
    create_function(&s, "g").await;
    let body = json!({"EventSourceArn": Q, "FunctionName": "f"});
    let (_, _, made) = call(&s, "POST", PATH, &body.to_string()).await;
    let uri = format!("{PATH}/{}", made["UUID"].as_str().unwrap());
    // The supervisor (no runners here) settles Creating.
    let mut sup = ignis_sources::Supervisor::new(s.sources.clone(), Vec::new());
    sup.reconcile().await;
    let (_, _, got) = call(&s, "GET", &uri, "").await;
    assert_eq!(got["State"], "Enabled");

    let (status, kind, _) = call(&s, "PUT", &uri, r#"{"FunctionName":"missing"}"#).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    let (status, _, up) = call(&s, "PUT", &uri, r#"{"FunctionName":"g","BatchSize":7}"#).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{up}");
    assert_eq!(up["State"], "Updating");
    assert_eq!(up["FunctionArn"], format!("{FN}:g"));
    assert_eq!(up["BatchSize"], 7);
    sup.reconcile().await;
    let (_, _, off) = call(&s, "PUT", &uri, r#"{"Enabled":false}"#).await;
    assert_eq!(off["State"], "Disabling");
    sup.reconcile().await;
    let (_, _, got) = call(&s, "GET", &uri, "").await;
    assert_eq!(got["State"], "Disabled");
    // The function by name or ARN; a qualifier it does not name lists none.
    for (filter, want) in [
        ("g", 1),
        (&format!("{FN}:g") as &str, 1),
        ("f", 0),
        ("g:live", 0),
    ] {
        let (_, _, listed) = call(&s, "GET", &format!("{PATH}?FunctionName={filter}"), "").await;
        let n = listed["EventSourceMappings"].as_array().unwrap().len();
        assert_eq!(n, want, "{filter}: {listed}");
    }

    let (status, _, del) = call(&s, "DELETE", &uri, "").await;
    assert_eq!(
        (status, del["State"].as_str()),
        (StatusCode::ACCEPTED, Some("Deleting"))
    );
    let (_, kind, _) = call(&s, "DELETE", &uri, "").await;
    assert_eq!(kind, "ResourceInUseException");
    sup.reconcile().await;
    let (_, kind, _) = call(&s, "GET", &uri, "").await;
    assert_eq!(kind, "ResourceNotFoundException");
}

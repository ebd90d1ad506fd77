//! In-process tests of the resource-based policy operations: functions,
//! versions and aliases (AddPermission, GetPolicy, RemovePermission and the
//! ResourcePolicy operations) and layer versions.

use axum::http::StatusCode;
use ignis_model::alias::AliasRecord;
use ignis_model::Version;
use ignis_store::Store;
use serde_json::{json, Value};

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

async fn add(s: &crate::AppState, uri: &str, body: Value) -> (StatusCode, String, Value) {
    call(s, "POST", uri, &body.to_string()).await
}

fn grant(sid: &str, principal: &str) -> Value {
    json!({"StatementId": sid, "Action": "lambda:InvokeFunction", "Principal": principal})
}

fn policy_of(v: &Value) -> Value {
    serde_json::from_str(v["Policy"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn add_get_remove_on_the_function() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    create(&s, "f").await;
    let uri = format!("{F}/f/policy");
    // No policy yet.
    let (status, kind, v) = call(&s, "GET", &uri, "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    assert_eq!(v["message"], "The resource you requested does not exist.");

    let mut body = grant("s3", "s3.amazonaws.com");
    body["SourceArn"] = json!("arn:aws:s3:::bucket");
    body["SourceAccount"] = json!("123456789012");
    let (status, _, v) = add(&s, &uri, body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        v["Statement"],
        r#"{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f","Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}"#
    );
    let (_, _, got) = call(&s, "GET", &uri, "").await;
    let doc = policy_of(&got);
    assert_eq!(doc["Version"], "2012-10-17");
    assert_eq!(doc["Id"], "default");
    assert_eq!(doc["Statement"][0]["Sid"], "s3");
    let first_revision = got["RevisionId"].as_str().unwrap().to_string();

    // A duplicate id conflicts and changes nothing.
    let (status, kind, v) = add(&s, &uri, grant("s3", "*")).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::CONFLICT, "ResourceConflictException")
    );
    assert_eq!(v["message"], "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.");

    // A stale revision is refused; the current one is accepted.
    let mut stale = grant("acct", "223456789012");
    stale["RevisionId"] = json!("00000000-0000-0000-0000-000000000000");
    let (status, kind, _) = add(&s, &uri, stale).await;
    assert_eq!(
        (status, kind.as_str()),
        (
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailedException"
        )
    );
    let mut fresh = grant("acct", "223456789012");
    fresh["RevisionId"] = json!(first_revision);
    let (status, _, _) = add(&s, &uri, fresh).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, got) = call(&s, "GET", &uri, "").await;
    assert_ne!(got["RevisionId"], first_revision);
    assert_eq!(policy_of(&got)["Statement"].as_array().unwrap().len(), 2);

    // Removing: an unknown id, a stale revision, then both statements.
    let (status, _, v) = call(&s, "DELETE", &format!("{uri}/nope"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        v["message"],
        "Statement nope is not found in resource policy."
    );
    let (status, _, _) = call(
        &s,
        "DELETE",
        &format!("{uri}/s3?RevisionId={first_revision}"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    for sid in ["s3", "acct"] {
        let (status, _, v) = call(&s, "DELETE", &format!("{uri}/{sid}"), "").await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    }
    // The last statement took the policy with it.
    let (status, _, _) = call(&s, "GET", &uri, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, v) = call(&s, "DELETE", &format!("{uri}/s3"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        v["message"],
        "No policy is associated with the given resource."
    );
}

#[tokio::test]
async fn malformed_requests_and_missing_functions() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let (status, kind, v) = add(&s, &format!("{F}/nope/policy"), grant("a", "*")).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    assert_eq!(v["message"], format!("Function not found: {ARN}:nope"));
    create(&s, "f").await;
    let uri = format!("{F}/f/policy");
    for (body, kind) in [
        (
            json!({"StatementId": "a", "Action": "lambda:InvokeFunction"}),
            "ValidationException",
        ),
        (
            json!({"StatementId": "a b", "Action": "lambda:InvokeFunction", "Principal": "*"}),
            "ValidationException",
        ),
        (
            json!({"StatementId": "a", "Action": "s3:GetObject", "Principal": "*"}),
            "ValidationException",
        ),
        (
            json!({"StatementId": "a", "Action": "lambda:*", "Principal": "nobody"}),
            "InvalidParameterValueException",
        ),
        (
            json!({"StatementId": "a", "Action": "lambda:*", "Principal": "*", "Extra": 1}),
            "InvalidRequestContentException",
        ),
    ] {
        let (status, got, v) = add(&s, &uri, body.clone()).await;
        assert_eq!(got, kind, "{body}: {v}");
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (_, kind, v) = call(&s, "POST", &uri, "{not json").await;
    assert_eq!(kind, "InvalidRequestContentException", "{v}");
    // $LATEST takes no policy of its own, as on Lambda.
    let (status, kind, v) = add(&s, &format!("{uri}?Qualifier=$LATEST"), grant("a", "*")).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
    );
    assert_eq!(
        v["message"],
        "We currently do not support adding policies for $LATEST."
    );
    let (_, kind, _) = add(&s, &format!("{uri}?Qualifier=a%20b"), grant("a", "*")).await;
    assert_eq!(kind, "ValidationException");
    let (_, kind, _) = add(&s, &format!("{F}/f:1/policy?Qualifier=2"), grant("a", "*")).await;
    assert_eq!(kind, "InvalidParameterValueException");
}

#[tokio::test]
async fn versions_and_aliases_have_policies_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store) = state_with_store(dir.path());
    create(&s, "f").await;
    let uri = format!("{F}/f/policy");
    for q in ["1", "live"] {
        let (status, _, v) = add(&s, &format!("{uri}?Qualifier={q}"), grant("a", "*")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{q}");
        assert_eq!(v["message"], format!("Function not found: {ARN}:f:{q}"));
    }
    let record = store.get_function("f").await.unwrap().unwrap();
    store
        .publish_version(&record, &record.revision_id)
        .await
        .unwrap();
    store
        .create_alias(&AliasRecord {
            function: "f".into(),
            name: "live".into(),
            version: Version::Published(1),
            description: String::new(),
            additional: None,
            revision_id: "r".into(),
        })
        .await
        .unwrap();
    let (status, _, v) = add(&s, &format!("{uri}?Qualifier=1"), grant("v", "*")).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert!(v["Statement"]
        .as_str()
        .unwrap()
        .contains(&format!("\"Resource\":\"{ARN}:f:1\"")));
    // The qualifier in the name works the same way.
    let (status, _, v) = add(&s, &format!("{F}/f:live/policy"), grant("a", "*")).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    // Each has its own document; the function still has none.
    let (_, _, v) = call(&s, "GET", &format!("{uri}?Qualifier=live"), "").await;
    assert_eq!(
        policy_of(&v)["Statement"][0]["Resource"],
        format!("{ARN}:f:live")
    );
    let (status, _, _) = call(&s, "GET", &uri, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The same id may be used on another qualifier.
    let (status, _, _) = add(&s, &format!("{uri}?Qualifier=1"), grant("a", "*")).await;
    assert_eq!(status, StatusCode::CREATED);
    // The alias's policy goes with the alias.
    store.delete_alias("f", "live").await.unwrap();
    let (status, _, _) = call(&s, "GET", &format!("{uri}?Qualifier=live"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(&s, "DELETE", &format!("{uri}/v?Qualifier=1"), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_policy_past_20_kb_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    create(&s, "f").await;
    let uri = format!("{F}/f/policy");
    let mut refused = None;
    for i in 0..200 {
        let mut body = grant(&format!("statement-{i:03}"), "s3.amazonaws.com");
        body["SourceArn"] = json!(format!("arn:aws:s3:::{}", "b".repeat(60)));
        let (status, kind, v) = add(&s, &uri, body).await;
        if status != StatusCode::CREATED {
            refused = Some((i, kind, v));
            break;
        }
    }
    let (i, kind, v) = refused.expect("20 KB is reached within 200 statements");
    assert_eq!(kind, "PolicyLengthExceededException");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .ends_with("is bigger than the limit (20480)."),
        "{v}"
    );
    let (_, _, got) = call(&s, "GET", &uri, "").await;
    assert_eq!(policy_of(&got)["Statement"].as_array().unwrap().len(), i);
    assert!(got["Policy"].as_str().unwrap().len() <= 20_480);
}

#[tokio::test]
async fn resource_policy_operations_share_the_function_policy() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    create(&s, "f").await;
    let r = format!("/2026-07-09/resource-policy/{ARN}:f");
    let (status, _, _) = call(&s, "GET", &r, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Stored and returned exactly, whitespace and all.
    let doc = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Sid\": \"x\", \"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"arn:aws:iam::223456789012:root\"}, \"Action\": \"lambda:InvokeFunction\", \"Resource\": \"*\"}]\n}";
    let (status, _, put) = call(&s, "PUT", &r, &json!({"Policy": doc}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["Policy"], doc);
    let (_, _, got) = call(&s, "GET", &format!("{F}/f/policy"), "").await;
    assert_eq!(
        (&got["Policy"], &got["RevisionId"]),
        (&put["Policy"], &put["RevisionId"])
    );
    // AddPermission adds to it; the id is taken already.
    let (status, _, _) = add(&s, &format!("{F}/f/policy"), grant("x", "*")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = add(&s, &format!("{F}/f/policy"), grant("y", "*")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, got) = call(&s, "GET", &r, "").await;
    assert_eq!(policy_of(&got)["Statement"].as_array().unwrap().len(), 2);
    // Preconditions, bad documents, other resources.
    let stale = json!({"Policy": doc, "RevisionId": put["RevisionId"]});
    let (status, _, _) = call(&s, "PUT", &r, &stale.to_string()).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    for bad in ["not json", "{\"Statement\": []}"] {
        let (_, kind, _) = call(&s, "PUT", &r, &json!({"Policy": bad}).to_string()).await;
        assert_eq!(kind, "InvalidParameterValueException", "{bad}");
    }
    let (_, kind, _) = call(
        &s,
        "GET",
        "/2026-07-09/resource-policy/arn:aws:lambda:us-east-1:000000000000:runtime%2Fx",
        "",
    )
    .await;
    assert_eq!(kind, "InvalidParameterValueException");
    let (status, _, _) = call(
        &s,
        "GET",
        &format!("/2026-07-09/resource-policy/{ARN}:g"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, kind, _) = call(&s, "GET", "/2026-07-09/resource-policy/f", "").await;
    assert_eq!(kind, "ValidationException");
    let (status, _, _) = call(
        &s,
        "DELETE",
        &format!("{r}?RevisionId={}", put["RevisionId"].as_str().unwrap()),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, _) = call(&s, "DELETE", &r, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, v) = call(&s, "DELETE", &r, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn layer_version_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let content = json!({"Content": {"ZipFile": zip_with_bootstrap()}}).to_string();
    let (status, _, _) = call(&s, "POST", "/2018-10-31/layers/deps/versions", &content).await;
    assert_eq!(status, StatusCode::CREATED);
    let uri = "/2018-10-31/layers/deps/versions/1/policy";
    let (status, _, v) = call(&s, "GET", uri, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let body = json!({"StatementId": "xaccount", "Action": "lambda:GetLayerVersion", "Principal": "223456789012"});
    let (status, _, added) = call(&s, "POST", uri, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(
        added["Statement"],
        r#"{"Sid":"xaccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::223456789012:root"},"Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:000000000000:layer:deps:1"}"#
    );
    let (_, _, got) = call(&s, "GET", uri, "").await;
    assert_eq!(got["RevisionId"], added["RevisionId"]);
    assert_eq!(policy_of(&got)["Statement"][0]["Sid"], "xaccount");
    let (status, _, _) = call(&s, "POST", uri, &body.to_string()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let stale = format!("{uri}?RevisionId=00000000-0000-0000-0000-000000000000");
    let org = json!({"StatementId": "org", "Action": "lambda:GetLayerVersion", "Principal": "*", "OrganizationId": "o-abcdefghij"});
    let (status, _, _) = call(&s, "POST", &stale, &org.to_string()).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, _) = call(&s, "POST", uri, &org.to_string()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, kind, _) = call(
        &s,
        "POST",
        uri,
        &json!({"StatementId": "b", "Action": "lambda:InvokeFunction", "Principal": "*"})
            .to_string(),
    )
    .await;
    assert_eq!(kind, "ValidationException");
    // Missing versions.
    let (status, _, v) = call(
        &s,
        "POST",
        "/2018-10-31/layers/deps/versions/9/policy",
        &body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (_, kind, _) = call(&s, "GET", "/2018-10-31/layers/deps/versions/x/policy", "").await;
    assert_eq!(kind, "ValidationException");
    // Removing.
    let (status, _, _) = call(&s, "DELETE", &format!("{uri}/nope"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for sid in ["xaccount", "org"] {
        let (status, _, _) = call(&s, "DELETE", &format!("{uri}/{sid}"), "").await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _, _) = call(&s, "GET", uri, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The policy goes with its version.
    call(&s, "POST", uri, &body.to_string()).await;
    let (status, _, _) = call(&s, "DELETE", "/2018-10-31/layers/deps/versions/1", "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, v) = call(&s, "GET", uri, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        v["message"],
        "Layer version arn:aws:lambda:us-east-1:000000000000:layer:deps:1 does not exist."
    );
}

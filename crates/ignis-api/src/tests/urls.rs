//! In-process tests of the function URL configuration operations and the
//! URL table they keep in step.

use axum::http::StatusCode;
use serde_json::json;

use super::{call, state, zip_with_bootstrap, F};

const URL: &str = "/2021-10-31/functions/f/url";

async fn create_function(s: &crate::AppState) {
    let body = json!({
        "FunctionName": "f", "Runtime": "provided.al2023", "Handler": "bootstrap",
        "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": zip_with_bootstrap()}
    });
    let (status, _, v) = call(s, "POST", F, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

fn url_id(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (id, host) = rest.split_once('.').unwrap();
    assert!(host.starts_with("lambda-url.us-east-1.localhost:"), "{url}");
    assert_eq!(id.len(), 32, "{url}");
    id.to_string()
}

#[tokio::test]
async fn configurations_round_trip_and_keep_the_table_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    s.functions.urls().set_base("localhost", 9000);
    let (status, kind, _) = call(&s, "GET", URL, "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    create_function(&s).await;
    let body =
        json!({"AuthType": "NONE", "Cors": {"AllowOrigins": ["https://a.example"], "MaxAge": 10}});
    let (status, _, created) = call(&s, "POST", URL, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["AuthType"], "NONE");
    assert_eq!(created["InvokeMode"], "BUFFERED");
    assert_eq!(
        created["Cors"],
        json!({"AllowOrigins": ["https://a.example"], "MaxAge": 10})
    );
    assert!(created.get("LastModifiedTime").is_none());
    let id = url_id(created["FunctionUrl"].as_str().unwrap());
    let entry = s.functions.urls().get(&id).expect("in the table");
    assert_eq!(
        (entry.function.as_str(), entry.qualifier.as_deref()),
        ("f", None)
    );

    let (status, kind, _) = call(&s, "POST", URL, &body.to_string()).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::CONFLICT, "ResourceConflictException")
    );

    let (status, _, updated) = call(&s, "PUT", URL, r#"{"AuthType":"AWS_IAM"}"#).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["FunctionUrl"], created["FunctionUrl"]);
    assert_eq!(
        updated["Cors"], created["Cors"],
        "what the update does not name stays"
    );
    assert_eq!(
        s.functions.urls().get(&id).unwrap().auth_type,
        crate::functions::urls::AuthType::AwsIam
    );
    let (_, _, listed) = call(&s, "GET", "/2021-10-31/functions/f/urls", "").await;
    assert_eq!(listed["FunctionUrlConfigs"].as_array().unwrap().len(), 1);

    // A restarted server finds it again.
    let again = state(dir.path());
    assert_eq!(again.functions.load_urls().await.unwrap(), 1);
    assert!(again.functions.urls().get(&id).is_some());

    let (status, _, _) = call(&s, "DELETE", URL, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(s.functions.urls().get(&id).is_none());
    let (status, _, _) = call(&s, "DELETE", URL, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_get_lambdas_errors_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    create_function(&s).await;
    for (uri, body, expected) in [
        (URL, r#"{}"#, "ValidationException"),
        (URL, r#"{"AuthType":"OPEN"}"#, "ValidationException"),
        (
            URL,
            r#"{"AuthType":"NONE","InvokeMode":"LATER"}"#,
            "ValidationException",
        ),
        (
            URL,
            r#"{"AuthType":"NONE","Cors":{"MaxAge":86401}}"#,
            "ValidationException",
        ),
        (
            URL,
            r#"{"AuthType":"NONE","Cors":"all"}"#,
            "InvalidRequestContentException",
        ),
        (
            URL,
            r#"{"AuthType":"NONE","Cors":{"AllowOrigin":["*"]}}"#,
            "InvalidRequestContentException",
        ),
        (
            URL,
            r#"{"AuthType":"NONE","Cors":{"AllowMethods":["TRACE"]}}"#,
            "InvalidParameterValueException",
        ),
        (
            &format!("{URL}?Qualifier=1"),
            r#"{"AuthType":"NONE"}"#,
            "ValidationException",
        ),
        (
            &format!("{URL}?Qualifier=nosuch"),
            r#"{"AuthType":"NONE"}"#,
            "ResourceNotFoundException",
        ),
        (
            "/2021-10-31/functions/g/url",
            r#"{"AuthType":"NONE"}"#,
            "ResourceNotFoundException",
        ),
    ] {
        let (_, kind, v) = call(&s, "POST", uri, body).await;
        assert_eq!(kind, expected, "{uri} {body}: {v}");
    }
    let (_, _, listed) = call(&s, "GET", "/2021-10-31/functions/f/urls", "").await;
    assert_eq!(listed, json!({"FunctionUrlConfigs": []}));
}

#[tokio::test]
async fn deleting_the_function_forgets_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    create_function(&s).await;
    let (_, _, created) = call(&s, "POST", URL, r#"{"AuthType":"NONE"}"#).await;
    let id = url_id(created["FunctionUrl"].as_str().unwrap());
    assert!(s.functions.urls().get(&id).is_some());
    let (status, _, _) = call(&s, "DELETE", &format!("{F}/f"), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(s.functions.urls().get(&id).is_none());
}

//! In-process tests of the layer operations and of functions referencing
//! layers.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::json;

use super::{call, state, zip_with_bootstrap, F};

const L: &str = "/2018-10-31/layers";
const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:layer";

fn zip_of(name: &str, data: &[u8]) -> String {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap();
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

async fn publish(s: &crate::AppState, name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({"Content": {"ZipFile": zip_of("python/x.py", name.as_bytes())}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, _, v) = call(
        s,
        "POST",
        &format!("{L}/{name}/versions"),
        &body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v
}

#[tokio::test]
async fn publish_get_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let v1 = publish(
        &s,
        "deps",
        json!({"Description": "d", "CompatibleRuntimes": ["python3.12"], "LicenseInfo": "MIT"}),
    )
    .await;
    assert_eq!(v1["Version"], 1);
    assert_eq!(v1["LayerArn"], format!("{ARN}:deps"));
    assert_eq!(v1["LayerVersionArn"], format!("{ARN}:deps:1"));
    assert_eq!(v1["Description"], "d");
    assert_eq!(v1["LicenseInfo"], "MIT");
    assert!(v1["Content"]["Location"]
        .as_str()
        .unwrap()
        .contains("/ignis/v1/code/"));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(v1["Content"]["CodeSha256"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let v2 = publish(&s, "deps", json!({"CompatibleRuntimes": ["nodejs22.x"]})).await;
    assert_eq!(v2["Version"], 2);
    publish(&s, "other", json!({})).await;

    let (status, _, got) = call(&s, "GET", &format!("{L}/deps/versions/1"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, v1);
    let by_arn = format!("{L}?find=LayerVersion&Arn={ARN}:deps:2");
    let (_, _, got) = call(&s, "GET", &by_arn, "").await;
    assert_eq!(got, v2);

    let (_, _, list) = call(&s, "GET", &format!("{L}/deps/versions"), "").await;
    let versions: Vec<_> = list["LayerVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    let (_, _, page) = call(&s, "GET", &format!("{L}/deps/versions?MaxItems=1"), "").await;
    assert_eq!(page["NextMarker"], "2");
    let (_, _, page) = call(
        &s,
        "GET",
        &format!("{L}/deps/versions?MaxItems=1&Marker=2"),
        "",
    )
    .await;
    assert_eq!(page["LayerVersions"][0]["Version"], 1);
    assert!(page.get("NextMarker").is_none());

    let (_, _, layers) = call(&s, "GET", L, "").await;
    let names: Vec<_> = layers["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["LayerName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["deps", "other"]);
    assert_eq!(layers["Layers"][0]["LatestMatchingVersion"]["Version"], 2);
    let (_, _, filtered) = call(&s, "GET", &format!("{L}?CompatibleRuntime=python3.12"), "").await;
    assert_eq!(filtered["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["Layers"][0]["LatestMatchingVersion"]["Version"], 1);
    let (_, _, page) = call(&s, "GET", &format!("{L}?MaxItems=1"), "").await;
    assert_eq!(page["NextMarker"], "deps");
    let (_, _, page) = call(&s, "GET", &format!("{L}?Marker=deps"), "").await;
    assert_eq!(page["Layers"][0]["LayerName"], "other");

    let (status, _, _) = call(&s, "DELETE", &format!("{L}/deps/versions/2"), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&s, "DELETE", &format!("{L}/deps/versions/2"), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "delete is idempotent");
    let (status, kind, _) = call(&s, "GET", &format!("{L}/deps/versions/2"), "").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    let v3 = publish(&s, "deps", json!({})).await;
    assert_eq!(v3["Version"], 3, "numbers are never reused");
}

#[tokio::test]
async fn bad_layer_requests() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let zip = zip_of("a", b"a");
    let cases = [
        (
            "bad name",
            json!({"Content": {"ZipFile": zip}}),
            "ValidationException",
        ),
        (
            "ok",
            json!({"Content": {}}),
            "InvalidParameterValueException",
        ),
        (
            "ok",
            json!({"Content": {"S3Bucket": "b", "S3Key": "k"}}),
            "InvalidParameterValueException",
        ),
        (
            "ok",
            json!({"Content": {"ZipFile": "bm90IGEgemlw"}}),
            "InvalidParameterValueException",
        ),
        (
            "ok",
            json!({"Content": {"ZipFile": zip}, "CompatibleRuntimes": ["cobol"]}),
            "ValidationException",
        ),
        (
            "ok",
            json!({"Content": {"ZipFile": zip}, "CompatibleArchitectures": ["mips"]}),
            "ValidationException",
        ),
        (
            "ok",
            json!({"Content": {"ZipFile": zip}, "Nope": 1}),
            "InvalidRequestContentException",
        ),
    ];
    for (name, body, expected) in cases {
        let uri = format!("{L}/{}/versions", name.replace(' ', "%20"));
        let (_, kind, got) = call(&s, "POST", &uri, &body.to_string()).await;
        assert_eq!(kind, expected, "{name} {body} -> {got}");
    }
    let (_, kind, _) = call(&s, "GET", &format!("{L}?find=LayerVersion&Arn=nope"), "").await;
    assert_eq!(kind, "ValidationException");
    let (_, kind, _) = call(
        &s,
        "GET",
        &format!("{L}?find=LayerVersion&Arn={ARN}:x:1"),
        "",
    )
    .await;
    assert_eq!(kind, "ResourceNotFoundException");
    let (_, kind, _) = call(&s, "GET", &format!("{L}?MaxItems=51"), "").await;
    assert_eq!(kind, "ValidationException");
}

#[tokio::test]
async fn functions_reference_layers() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    for name in ["a", "b", "c", "d", "e", "f"] {
        publish(&s, name, json!({})).await;
    }
    let create = |name: &str, layers: serde_json::Value| {
        json!({
            "FunctionName": name, "Runtime": "provided.al2023", "Handler": "bootstrap",
            "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": zip_with_bootstrap()},
            "Layers": layers,
        })
        .to_string()
    };
    let arn = |n: &str, v: u32| format!("{ARN}:{n}:{v}");
    let cases = [
        (json!(["a", "b"]), "ValidationException"),
        (json!([format!("{ARN}:a")]), "ValidationException"),
        (
            json!([
                arn("a", 1),
                arn("b", 1),
                arn("c", 1),
                arn("d", 1),
                arn("e", 1),
                arn("f", 1)
            ]),
            "InvalidParameterValueException",
        ),
        (json!([arn("a", 9)]), "InvalidParameterValueException"),
        (
            json!([arn("a", 1), arn("a", 1)]),
            "InvalidParameterValueException",
        ),
        (
            json!(["arn:aws:lambda:eu-west-1:000000000000:layer:a:1"]),
            "InvalidParameterValueException",
        ),
    ];
    for (layers, expected) in cases {
        let (_, kind, body) = call(&s, "POST", F, &create("bad", layers.clone())).await;
        assert_eq!(kind, expected, "{layers} -> {body}");
    }
    let (_, _, body) = call(&s, "POST", F, &create("bad", json!([arn("a", 9)]))).await;
    assert_eq!(
        body["message"],
        format!("Layer version {} does not exist.", arn("a", 9))
    );

    let (status, _, body) = call(
        &s,
        "POST",
        F,
        &create("fn", json!([arn("a", 1), arn("b", 1)])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Layers"][0]["Arn"], arn("a", 1));
    assert_eq!(body["Layers"][1]["Arn"], arn("b", 1));
    assert!(body["Layers"][0]["CodeSize"].as_u64().unwrap() > 0);
    wait_active(&s, "fn").await;

    // Deleting a version in use is allowed; the function keeps it.
    call(&s, "DELETE", &format!("{L}/a/versions/1"), "").await;
    let (_, _, got) = call(&s, "GET", &format!("{F}/fn/configuration"), "").await;
    assert_eq!(got["Layers"].as_array().unwrap().len(), 2);
    let (_, kind, _) = call(
        &s,
        "PUT",
        &format!("{F}/fn/configuration"),
        &json!({"Layers": [arn("a", 1)]}).to_string(),
    )
    .await;
    assert_eq!(kind, "InvalidParameterValueException");

    let (status, _, got) = call(
        &s,
        "PUT",
        &format!("{F}/fn/configuration"),
        &json!({"Layers": [arn("c", 1)]}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["Layers"][0]["Arn"], arn("c", 1));
    wait_active(&s, "fn").await;
    let (_, _, got) = call(
        &s,
        "PUT",
        &format!("{F}/fn/configuration"),
        &json!({"Layers": []}).to_string(),
    )
    .await;
    assert!(got.get("Layers").is_none(), "{got}");
}

async fn wait_active(s: &crate::AppState, name: &str) {
    for _ in 0..100 {
        let (_, _, got) = call(s, "GET", &format!("{F}/{name}/configuration"), "").await;
        if got["LastUpdateStatus"] == "Successful" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{name} never became Successful");
}

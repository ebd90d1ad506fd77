//! Signatures made by botocore's own signers (`fixtures/gen_sigv4.py`
//! writes `fixtures/sigv4.json`), and tampered copies of them, verified by
//! `ignis_identity::sigv4`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use ignis_identity::sigv4::{Authorization, Payload, RequestParts, SigV4Error, SigV4ErrorKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    access_key_id: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body_b64: Option<String>,
    service: String,
    secret: String,
    now: String,
    expect: String,
    stage: String,
}

fn fixtures() -> Fixtures {
    let text = include_str!("fixtures/sigv4.json");
    serde_json::from_str(text).expect("sigv4.json parses")
}

fn kind_name(kind: SigV4ErrorKind) -> &'static str {
    match kind {
        SigV4ErrorKind::MissingAuthenticationToken => "MissingAuthenticationToken",
        SigV4ErrorKind::IncompleteSignature => "IncompleteSignature",
        SigV4ErrorKind::SignatureDoesNotMatch => "SignatureDoesNotMatch",
        SigV4ErrorKind::RequestTimeTooSkewed => "RequestTimeTooSkewed",
        SigV4ErrorKind::RequestExpired => "RequestExpired",
        SigV4ErrorKind::ContentSha256Mismatch => "ContentSha256Mismatch",
    }
}

/// Parses then verifies; the error says at which stage it failed.
fn run(case: &Case, access_key_id: &str) -> Result<Authorization, (&'static str, SigV4Error)> {
    let mut headers = HeaderMap::new();
    for (name, value) in &case.headers {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let req = RequestParts {
        method: &case.method,
        path: &case.path,
        query: &case.query,
        headers: &headers,
    };
    let auth = Authorization::parse(&req).map_err(|e| ("parse", e))?;
    assert_eq!(
        auth.credential.access_key_id, access_key_id,
        "{}",
        case.name
    );
    assert_eq!(auth.credential.service, case.service, "{}", case.name);
    let body = case.body_b64.as_ref().map(|b| STANDARD.decode(b).unwrap());
    let payload = match &body {
        Some(bytes) => Payload::Bytes(bytes),
        None => Payload::Unread,
    };
    let now: DateTime<Utc> = case.now.parse().unwrap();
    auth.verify(&req, &case.secret, payload, now)
        .map_err(|e| ("verify", e))?;
    Ok(auth)
}

#[test]
fn botocore_signatures_verify_and_tampered_ones_fail_as_aws() {
    let fixtures = fixtures();
    assert!(fixtures.cases.len() >= 30);
    let mut failures = Vec::new();
    for case in &fixtures.cases {
        let outcome = run(case, &fixtures.access_key_id);
        let got = match &outcome {
            Ok(_) => "ok".to_string(),
            Err((stage, e)) => format!("{stage}: {} ({e})", kind_name(e.kind())),
        };
        let ok = match &outcome {
            Ok(_) => case.expect == "ok",
            Err((stage, e)) => *stage == case.stage && kind_name(e.kind()) == case.expect,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {} at {}, got {got}",
                case.name, case.expect, case.stage
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn case<'a>(fixtures: &'a Fixtures, name: &str) -> &'a Case {
    fixtures.cases.iter().find(|c| c.name == name).unwrap()
}

#[test]
fn session_tokens_are_read_from_the_header_and_the_presigned_query() {
    let fixtures = fixtures();
    let token = "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/=session";
    for name in [
        "session token (temporary credentials)",
        "presigned S3 URL with a session token",
    ] {
        let auth = run(case(&fixtures, name), &fixtures.access_key_id).unwrap();
        assert_eq!(auth.session_token.as_deref(), Some(token), "{name}");
    }
}

#[test]
fn missing_parts_are_named_in_aws_words() {
    let fixtures = fixtures();
    let err = |name| {
        run(case(&fixtures, name), &fixtures.access_key_id)
            .unwrap_err()
            .1
            .to_string()
    };
    let credential = err("header without Credential");
    assert!(
        credential.starts_with(
            "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 "
        ),
        "{credential}"
    );
    assert!(err("header without Signature")
        .starts_with("Authorization header requires 'Signature' parameter."));
    assert!(err("header without SignedHeaders")
        .starts_with("Authorization header requires 'SignedHeaders' parameter."));
    assert!(err("header without X-Amz-Date").starts_with(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    ));
    assert_eq!(
        err("not SigV4 at all"),
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Basic dXNlcjpwYXNz"
    );
    assert_eq!(err("no signature anywhere"), "Missing Authentication Token");
    assert_eq!(
        err("presigned URL without X-Amz-Signature"),
        "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters."
    );
    assert_eq!(
        err("skewed clock: signed 16 minutes ago"),
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120100Z (20240501T121600Z - 15 min.)"
    );
    assert_eq!(
        err("skewed clock: signed 16 minutes ahead"),
        "Signature not yet current: 20240501T120000Z is still later than 20240501T115900Z (20240501T114400Z + 15 min.)"
    );
    assert!(err("credential with four parts")
        .starts_with("Credential must have exactly 5 slash-delimited elements"));
}

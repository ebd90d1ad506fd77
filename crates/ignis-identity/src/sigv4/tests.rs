use chrono::{Duration, TimeZone, Utc};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use sha2::Digest;

use super::*;

fn signer(token: Option<&str>) -> Signer {
    Signer {
        credentials: SigningCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: token.map(str::to_string),
        },
        region: "us-east-1".into(),
        service: "lambda".into(),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

fn signed(path: &str, query: &str, body: &[u8], token: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:9000"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    signer(token)
        .sign("POST", path, query, &mut headers, body, now())
        .unwrap();
    headers
}

fn check(
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Authorization, SigV4Error> {
    let req = RequestParts {
        method: "POST",
        path,
        query,
        headers,
    };
    let auth = Authorization::parse(&req)?;
    auth.verify(
        &req,
        "secret",
        Payload::Bytes(body),
        now() + Duration::seconds(30),
    )?;
    Ok(auth)
}

#[test]
fn the_signer_signs_what_the_verifier_accepts() {
    let headers = signed(
        "/2015-03-31/functions/f/invocations",
        "Qualifier=1",
        b"{}",
        Some("tok"),
    );
    let auth = check(
        "/2015-03-31/functions/f/invocations",
        "Qualifier=1",
        &headers,
        b"{}",
    )
    .unwrap();
    assert_eq!(auth.form, SignatureForm::Header);
    assert_eq!(auth.credential.access_key_id, "AKIDEXAMPLE");
    assert_eq!(
        auth.credential.scope(),
        "20240501/us-east-1/lambda/aws4_request"
    );
    assert_eq!(auth.session_token.as_deref(), Some("tok"));
    assert_eq!(auth.amz_date(), "20240501T120000Z");
    assert!(auth.check_service("lambda").is_ok());
    assert_eq!(
        auth.check_service("sts").unwrap_err().to_string(),
        "Credential should be scoped to correct service: 'sts'. "
    );
    let err = check(
        "/2015-03-31/functions/f/invocations",
        "Qualifier=2",
        &headers,
        b"{}",
    )
    .unwrap_err();
    assert_eq!(err, SigV4Error::SignatureDoesNotMatch);
    assert!(err
        .to_string()
        .starts_with("The request signature we calculated does not match"));
}

#[test]
fn the_payload_can_be_given_as_its_hash() {
    let headers = signed("/", "", b"body", None);
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
    };
    let auth = Authorization::parse(&req).unwrap();
    let digest: [u8; 32] = sha2::Sha256::digest(b"body").into();
    assert!(auth
        .verify(&req, "secret", Payload::Sha256(digest), now())
        .is_ok());
    let other: [u8; 32] = sha2::Sha256::digest(b"other").into();
    assert!(auth
        .verify(&req, "secret", Payload::Sha256(other), now())
        .is_err());
    assert_eq!(
        auth.verify(&req, "secret", Payload::Unread, now())
            .unwrap_err()
            .kind(),
        SigV4ErrorKind::IncompleteSignature
    );
}

#[test]
fn host_must_be_signed() {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-date", HeaderValue::from_static("20240501T120000Z"));
    headers.insert(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AK/20240501/us-east-1/lambda/aws4_request, SignedHeaders=x-amz-date, Signature=00"),
    );
    let req = RequestParts {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
    };
    assert_eq!(
        Authorization::parse(&req).unwrap_err().to_string(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
}

#[test]
fn malformed_parts_are_refused_with_aws_messages() {
    let parse = |auth: &'static str, date: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-date", HeaderValue::from_static(date));
        headers.insert("authorization", HeaderValue::from_static(auth));
        let req = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
        };
        Authorization::parse(&req).unwrap_err().to_string()
    };
    assert_eq!(
        parse("AWS4-HMAC-SHA256 Credential=AK/20240501/us-east-1/lambda/aws5_request, SignedHeaders=host, Signature=00", "20240501T120000Z"),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    );
    assert_eq!(
        parse("AWS4-HMAC-SHA256 Credential=AK/20240501/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00", "2024-05-01"),
        "Date must be in ISO-8601 'basic format'. Got '2024-05-01'. See http://en.wikipedia.org/wiki/ISO_8601"
    );
}

#[test]
fn the_scope_date_must_be_the_request_date() {
    let mut headers = signed("/", "", b"", None);
    headers.insert("x-amz-date", HeaderValue::from_static("20240502T000100Z"));
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
    };
    let auth = Authorization::parse(&req).unwrap();
    let at = Utc.with_ymd_and_hms(2024, 5, 2, 0, 1, 0).unwrap();
    assert_eq!(
        auth.verify(&req, "secret", Payload::Bytes(b""), at).unwrap_err().to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240501' != '20240502', from '20240502T000100Z'."
    );
}

#[test]
fn a_presigned_url_lasts_at_most_a_week() {
    let headers = HeaderMap::new();
    let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240501%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240501T120000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    let req = RequestParts {
        method: "GET",
        path: "/b/k",
        query,
        headers: &headers,
    };
    assert!(is_signed(&req));
    assert_eq!(
        Authorization::parse(&req).unwrap_err().to_string(),
        "X-Amz-Expires must be less than a week (in seconds) that is 604800"
    );
}

proptest! {
    /// Whatever the path segments and query values (encoded as SDKs send
    /// them), what the signer signs verifies, and a changed value does not.
    #[test]
    fn any_path_and_query_round_trip(
        segments in proptest::collection::vec("[ -~\u{e9}\u{2713}]{1,12}", 1..4),
        values in proptest::collection::vec(("[a-zA-Z0-9_.-]{1,8}", "[ -~\u{e9}]{0,12}"), 0..4),
    ) {
        let path: String = segments
            .iter()
            .map(|s| format!("/{}", canonical::uri_encode(s, true)))
            .collect();
        let query = values
            .iter()
            .map(|(k, v)| format!("{}={}", canonical::uri_encode(k, true), canonical::uri_encode(v, true)))
            .collect::<Vec<_>>()
            .join("&");
        let headers = signed(&path, &query, b"x", None);
        prop_assert!(check(&path, &query, &headers, b"x").is_ok());
        let tampered = format!("{query}&extra=1");
        prop_assert!(check(&path, &tampered, &headers, b"x").is_err());
    }
}

//! A function's answer as a function URL's HTTP response (payload format
//! 2.0): an object with `statusCode` gives the status, `headers`,
//! `cookies` (one `Set-Cookie` each), `body` and `isBase64Encoded`; any
//! other JSON value is a 200 `application/json` answer with the value as
//! its body; a function error or an answer that cannot be read is Lambda's
//! 502.

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value};

/// Lambda's body for a refused or failed URL request, `{"Message":…}`.
pub fn message(status: StatusCode, text: &str) -> Response {
    let body = serde_json::json!({ "Message": text }).to_string();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Lambda's answer when the function failed or answered something the URL
/// cannot send.
pub fn internal_error() -> Response {
    message(StatusCode::BAD_GATEWAY, "Internal Server Error")
}

/// The response for the function's `payload`.
pub fn response(payload: &[u8], function_error: bool) -> Response {
    if function_error {
        return internal_error();
    }
    let Ok(value) = serde_json::from_slice::<Value>(payload) else {
        tracing::debug!("function URL: the function's answer is not JSON");
        return internal_error();
    };
    match value {
        Value::Object(map) if map.contains_key("statusCode") => {
            structured(&map).unwrap_or_else(|why| {
                tracing::debug!(why, "function URL: the function's answer is malformed");
                internal_error()
            })
        }
        _ => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            payload.to_vec(),
        )
            .into_response(),
    }
}

/// A header value from JSON: strings as they are, numbers and booleans
/// written out.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn structured(map: &Map<String, Value>) -> Result<Response, &'static str> {
    let encoded = map
        .get("isBase64Encoded")
        .is_some_and(|b| b.as_bool() == Some(true));
    let body = match map.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if encoded => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| "body is not base64")?,
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(other) => other.to_string().into_bytes(),
    };
    with_head(map, Body::from(body))
}

/// The answer of a streamed function's HTTP-integration prelude: the head
/// (`statusCode`, 200 when absent; `headers`; `cookies`) and `body`.
pub fn streamed(head: &[u8], body: Body) -> Response {
    let mut map = match serde_json::from_slice::<Value>(head) {
        Ok(Value::Object(map)) => map,
        _ => return internal_error(),
    };
    map.entry("statusCode").or_insert(Value::from(200));
    with_head(&map, body).unwrap_or_else(|_| internal_error())
}

/// `body` with the status, headers and cookies `map` names.
fn with_head(map: &Map<String, Value>, body: Body) -> Result<Response, &'static str> {
    let status = map
        .get("statusCode")
        .and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok()))
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or("statusCode is not an HTTP status")?;
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Some(Value::Object(headers)) = map.get("headers") {
        for (name, value) in headers {
            let (Ok(name), Some(value)) = (HeaderName::from_bytes(name.as_bytes()), scalar(value))
            else {
                continue;
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                h.append(name, value);
            }
        }
    }
    if let Some(Value::Array(cookies)) = map.get("cookies") {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            if let Ok(v) = HeaderValue::from_str(cookie) {
                h.append(header::SET_COOKIE, v);
            }
        }
    }
    if !h.contains_key(header::CONTENT_TYPE) {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn parts(resp: Response) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let (p, b) = resp.into_parts();
        (
            p.status,
            p.headers,
            b.collect().await.unwrap().to_bytes().to_vec(),
        )
    }

    #[tokio::test]
    async fn a_structured_answer_sets_status_headers_cookies_and_body() {
        let payload = br#"{"statusCode":201,"headers":{"Content-Type":"text/plain","x-n":3},
            "cookies":["a=1; Path=/","b=2"],"body":"created","isBase64Encoded":false}"#;
        let (status, h, body) = parts(response(payload, false)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(h["content-type"], "text/plain");
        assert_eq!(h["x-n"], "3");
        let cookies: Vec<_> = h.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2"]);
        assert_eq!(body, b"created");
    }

    #[tokio::test]
    async fn a_base64_body_is_decoded() {
        let payload = br#"{"statusCode":200,"headers":{"content-type":"image/png"},"body":"AJ+Slg==","isBase64Encoded":true}"#;
        let (_, h, body) = parts(response(payload, false)).await;
        assert_eq!(h["content-type"], "image/png");
        assert_eq!(body, [0, 159, 146, 150]);
    }

    #[tokio::test]
    async fn any_other_value_is_a_json_200() {
        for payload in [
            &br#"{"message":"hi"}"#[..],
            b"\"hello\"",
            b"[1,2]",
            b"42",
            b"null",
        ] {
            let (status, h, body) = parts(response(payload, false)).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(h["content-type"], "application/json");
            assert_eq!(body, payload);
        }
    }

    #[tokio::test]
    async fn a_stream_prelude_gives_the_head() {
        let head = br#"{"headers":{"content-type":"text/plain"},"cookies":["s=1","t=2"]}"#;
        let (status, h, body) = parts(streamed(head, Body::from("streamed"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h["content-type"], "text/plain");
        assert_eq!(h.get_all("set-cookie").iter().count(), 2);
        assert_eq!(body, b"streamed");
        let (status, _, _) = parts(streamed(br#"{"statusCode":404}"#, Body::empty())).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for bad in [&b"not json"[..], b"[1]", br#"{"statusCode":"x"}"#] {
            let (status, _, _) = parts(streamed(bad, Body::empty())).await;
            assert_eq!(status, StatusCode::BAD_GATEWAY);
        }
    }

    #[tokio::test]
    async fn failures_are_502_internal_server_error() {
        for (payload, error) in [
            (&br#"{"errorMessage":"boom","errorType":"Error"}"#[..], true),
            (b"not json", false),
            (br#"{"statusCode":"teapot"}"#, false),
            (br#"{"statusCode":99999}"#, false),
            (
                br#"{"statusCode":200,"body":"%%%","isBase64Encoded":true}"#,
                false,
            ),
        ] {
            let (status, h, body) = parts(response(payload, error)).await;
            assert_eq!(status, StatusCode::BAD_GATEWAY);
            assert_eq!(h["content-type"], "application/json");
            assert_eq!(body, br#"{"Message":"Internal Server Error"}"#);
        }
    }
}

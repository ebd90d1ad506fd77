//! The request event of a function URL: payload format 2.0, as Lambda maps
//! an HTTP request (the shape of `aws_lambda_events`'
//! `LambdaFunctionUrlRequest`).

use std::collections::BTreeMap;

use axum::http::{header, request::Parts};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The signed caller of an `AWS_IAM` URL (`requestContext.authorizer.iam`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IamCaller {
    /// The access key the request was signed with.
    pub access_key: String,
    /// The caller's account.
    pub account_id: String,
    /// The caller's id (`AIDA…`, `AROA…:session`, the account for root).
    pub caller_id: String,
    /// Always null: Ignis has no Cognito identities.
    pub cognito_identity: Option<()>,
    /// Always null: Ignis has no organizations.
    pub principal_org_id: Option<()>,
    /// The caller's ARN.
    pub user_arn: String,
    /// The caller's id, as `callerId`.
    pub user_id: String,
}

/// What the event is made from besides the request.
pub struct EventContext<'a> {
    /// The URL's id.
    pub url_id: &'a str,
    /// `requestContext.accountId`: `anonymous` for `NONE` URLs.
    pub account_id: &'a str,
    /// The request id the invocation runs under.
    pub request_id: &'a str,
    /// The client's address.
    pub source_ip: &'a str,
    /// The port the request came in on (`x-forwarded-port`).
    pub port: u16,
    /// When the request came in.
    pub now: DateTime<Utc>,
    /// The signed caller of an `AWS_IAM` URL.
    pub iam: Option<&'a IamCaller>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    version: &'static str,
    route_key: &'static str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Vec<&'a str>>,
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string_parameters: Option<BTreeMap<String, String>>,
    request_context: RequestContext<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    account_id: &'a str,
    api_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<Authorizer<'a>>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: Http<'a>,
    request_id: &'a str,
    route_key: &'static str,
    stage: &'static str,
    time: String,
    time_epoch: i64,
}

#[derive(Serialize)]
struct Authorizer<'a> {
    iam: &'a IamCaller,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Http<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    source_ip: &'a str,
    user_agent: &'a str,
}

/// The event for `parts` with body `body`, as JSON.
pub fn build(parts: &Parts, body: &[u8], ctx: &EventContext<'_>) -> Vec<u8> {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("");
    let domain = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (body, is_base64_encoded) = encode_body(parts, body);
    let event = Event {
        version: "2.0",
        route_key: "$default",
        raw_path: path,
        raw_query_string: query,
        cookies: cookies(parts),
        headers: headers(parts, ctx),
        query_string_parameters: query_parameters(query),
        request_context: RequestContext {
            account_id: ctx.account_id,
            api_id: ctx.url_id,
            authorizer: ctx.iam.map(|iam| Authorizer { iam }),
            domain_name: domain,
            domain_prefix: ctx.url_id,
            http: Http {
                method: parts.method.as_str(),
                path,
                protocol: protocol(parts),
                source_ip: ctx.source_ip,
                user_agent,
            },
            request_id: ctx.request_id,
            route_key: "$default",
            stage: "$default",
            time: ctx.now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            time_epoch: ctx.now.timestamp_millis(),
        },
        body,
        is_base64_encoded,
    };
    serde_json::to_vec(&event).expect("an event of strings serializes")
}

fn protocol(parts: &Parts) -> &'static str {
    match parts.version {
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        axum::http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// The cookies of every `Cookie` header, one per `name=value`.
fn cookies(parts: &Parts) -> Option<Vec<&str>> {
    let all: Vec<&str> = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    (!all.is_empty()).then_some(all)
}

/// Headers by lower-case name, a repeated one's values joined with `,`,
/// without `Cookie` (in `cookies`), with the `x-forwarded-*` headers
/// Lambda's front adds.
fn headers(parts: &Parts, ctx: &EventContext<'_>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        if name == header::COOKIE {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out.entry("x-forwarded-for".into())
        .and_modify(|v| {
            v.push_str(", ");
            v.push_str(ctx.source_ip);
        })
        .or_insert_with(|| ctx.source_ip.to_owned());
    out.insert("x-forwarded-proto".into(), "http".into());
    out.insert("x-forwarded-port".into(), ctx.port.to_string());
    out
}

/// The query's parameters, decoded, a repeated one's values joined with `,`.
fn query_parameters(query: &str) -> Option<BTreeMap<String, String>> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        out.entry(percent_decode(key))
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    (!out.is_empty()).then_some(out)
}

/// `%XX` escapes decoded (a malformed one kept as it is); invalid UTF-8
/// replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a content type's body is text (sent as it is), else it is sent
/// in base64.
fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/graphql"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

/// The body as the event carries it: text for text content types (valid
/// UTF-8), base64 otherwise; none when empty.
fn encode_body(parts: &Parts, body: &[u8]) -> (Option<String>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    let text = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_text);
    match std::str::from_utf8(body) {
        Ok(s) if text => (Some(s.to_owned()), false),
        _ => (
            Some(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn ctx<'a>(iam: Option<&'a IamCaller>) -> EventContext<'a> {
        EventContext {
            url_id: "abc123",
            account_id: "anonymous",
            request_id: "req-1",
            source_ip: "127.0.0.1",
            port: 9000,
            now: DateTime::from_timestamp_millis(1_583_348_638_390).unwrap(),
            iam,
        }
    }

    #[test]
    fn a_request_maps_to_payload_format_2_0() {
        let p = parts(
            "POST",
            "/my/path?parameter1=value1&parameter1=value2&parameter2=a%20b",
            &[
                ("host", "abc123.lambda-url.us-east-1.localhost:9000"),
                ("cookie", "cookie1=a; cookie2=b"),
                ("header2", "value1"),
                ("header2", "value2"),
                ("Content-Type", "text/plain"),
                ("user-agent", "agent"),
            ],
        );
        let event: Value =
            serde_json::from_slice(&build(&p, b"Hello from client!", &ctx(None))).unwrap();
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "$default");
        assert_eq!(event["rawPath"], "/my/path");
        assert_eq!(
            event["rawQueryString"],
            "parameter1=value1&parameter1=value2&parameter2=a%20b"
        );
        assert_eq!(event["cookies"], json!(["cookie1=a", "cookie2=b"]));
        assert_eq!(event["headers"]["header2"], "value1,value2");
        assert_eq!(event["headers"]["content-type"], "text/plain");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(
            event["queryStringParameters"],
            json!({"parameter1": "value1,value2", "parameter2": "a b"})
        );
        let rc = &event["requestContext"];
        assert_eq!(rc["accountId"], "anonymous");
        assert_eq!(rc["apiId"], "abc123");
        assert_eq!(rc["domainName"], "abc123.lambda-url.us-east-1.localhost");
        assert_eq!(rc["domainPrefix"], "abc123");
        assert_eq!(
            rc["http"],
            json!({"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "agent"})
        );
        assert_eq!(rc["requestId"], "req-1");
        assert_eq!(rc["routeKey"], "$default");
        assert_eq!(rc["stage"], "$default");
        assert_eq!(rc["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(rc["timeEpoch"], 1_583_348_638_390_i64);
        assert!(rc.get("authorizer").is_none());
        assert_eq!(event["body"], "Hello from client!");
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn binary_bodies_are_base64_and_empty_ones_absent() {
        let p = parts("PUT", "/", &[("content-type", "application/octet-stream")]);
        let event: Value =
            serde_json::from_slice(&build(&p, &[0, 159, 146, 150], &ctx(None))).unwrap();
        assert_eq!(event["body"], "AJ+Slg==");
        assert_eq!(event["isBase64Encoded"], true);
        assert!(event.get("cookies").is_none());
        assert!(event.get("queryStringParameters").is_none());
        let p = parts("GET", "/", &[]);
        let event: Value = serde_json::from_slice(&build(&p, b"", &ctx(None))).unwrap();
        assert!(event.get("body").is_none());
        assert_eq!(event["isBase64Encoded"], false);
        // Text that is not UTF-8 goes in base64 too.
        let p = parts(
            "POST",
            "/",
            &[("content-type", "application/json; charset=latin1")],
        );
        let event: Value = serde_json::from_slice(&build(&p, &[0xff, 0xfe], &ctx(None))).unwrap();
        assert_eq!(event["isBase64Encoded"], true);
    }

    #[test]
    fn signed_callers_are_in_the_authorizer() {
        let iam = IamCaller {
            access_key: "AKIAX".into(),
            account_id: "000000000000".into(),
            caller_id: "AIDAX".into(),
            cognito_identity: None,
            principal_org_id: None,
            user_arn: "arn:aws:iam::000000000000:user/alice".into(),
            user_id: "AIDAX".into(),
        };
        let p = parts("GET", "/", &[]);
        let event: Value = serde_json::from_slice(&build(&p, b"", &ctx(Some(&iam)))).unwrap();
        assert_eq!(
            event["requestContext"]["authorizer"]["iam"],
            json!({"accessKey": "AKIAX", "accountId": "000000000000", "callerId": "AIDAX",
                   "cognitoIdentity": null, "principalOrgId": null,
                   "userArn": "arn:aws:iam::000000000000:user/alice", "userId": "AIDAX"})
        );
    }

    #[test]
    fn percent_decoding_keeps_what_it_cannot_decode() {
        assert_eq!(percent_decode("a%20b%2Bc+d"), "a b+c+d");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }
}

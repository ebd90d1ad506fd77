//! Invoke: `POST /2015-03-31/functions/{name}/invocations`. The payload's
//! bytes go to the runtime untouched and the runtime's bytes come back
//! untouched.

use axum::extract::{Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ignis_model::limits::{ASYNC_PAYLOAD_MAX, SYNC_PAYLOAD_MAX};
use ignis_model::{ErrorKind, LambdaError, Version};
use ignis_router::{InvokeError, InvokeInput};

use crate::body;
use crate::error::{invoke_error, ApiError};
use crate::headers as h;
use crate::routes::management::QualifierQuery;
use crate::AppState;

/// Bytes of log returned in `X-Amz-Log-Result`.
pub(crate) const LOG_TAIL_MAX: usize = 4096;
/// Longest decoded client context Lambda accepts.
const CLIENT_CONTEXT_MAX: usize = 3583;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// Invoke.
pub async fn invoke(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    // Taken apart rather than extracted: the HeaderMap extractor clones.
    let (parts, b) = req.into_parts();
    let headers = parts.headers;
    let kind = invocation_type(&headers)?;
    let max = if kind == InvocationType::Event {
        ASYNC_PAYLOAD_MAX
    } else {
        SYNC_PAYLOAD_MAX
    };
    let mut call = read_call(
        &s,
        &name,
        q.qualifier.as_deref(),
        &headers,
        b,
        max,
        "InvokeFunction",
    )
    .await?;
    // Only a synchronous invocation's answer carries its log tail.
    call.input.tail &= kind == InvocationType::RequestResponse;
    let tail = call.input.tail;
    let (function, routed) = (call.input.function.clone(), call.input.qualifier.clone());
    let router = s.functions.router();
    let input = call.input;
    let refused = |e: InvokeError| refusal(&s, &function, routed.as_deref(), &call.arn, e);
    match kind {
        InvocationType::DryRun => {
            if let Err(e) = router.check(&function, routed.as_deref()) {
                return Err(refused(e).await);
            }
            Ok(with_version(StatusCode::NO_CONTENT.into_response(), None))
        }
        InvocationType::Event => {
            if let Err(e) = router.check(&function, routed.as_deref()) {
                return Err(refused(e).await);
            }
            // The 202 names the request id every attempt runs under (its
            // START/END/REPORT lines), as Lambda's does.
            let request_id = s
                .events
                .enqueue(input)
                .await
                .map_err(|e| ApiError::internal("queue the event", &e))?;
            let mut resp = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert(h::REQUEST_ID, v);
            }
            Ok(with_version(resp, None))
        }
        InvocationType::RequestResponse => {
            let done = match router.invoke(input).await {
                Ok(done) => done,
                Err(e) => return Err(refused(e).await),
            };
            let mut resp = (StatusCode::OK, done.payload).into_response();
            let hs = resp.headers_mut();
            hs.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&done.request_id) {
                hs.insert(h::REQUEST_ID, v);
            }
            if done.function_error {
                hs.insert(h::FUNCTION_ERROR, HeaderValue::from_static("Unhandled"));
            }
            if tail {
                let start = done.log.len().saturating_sub(LOG_TAIL_MAX);
                let encoded = base64::engine::general_purpose::STANDARD.encode(&done.log[start..]);
                if let Ok(v) = HeaderValue::from_str(&encoded) {
                    hs.insert(h::LOG_RESULT, v);
                }
            }
            Ok(with_version(resp, Some(done.version)))
        }
    }
}

/// What every form of Invoke reads from its request before running: the
/// payload (UTF-8 JSON within `max`, untouched), the log type, client
/// context and trace header, and the function and qualifier it names.
pub(crate) struct Call {
    /// The function's unqualified ARN (for refusals).
    pub arn: String,
    /// The invocation, `qualifier` `None` for `$LATEST`.
    pub input: InvokeInput,
}

/// Reads a [`Call`] from the parts of an Invoke-like request.
pub(crate) async fn read_call(
    s: &AppState,
    name: &str,
    qualifier: Option<&str>,
    headers: &HeaderMap,
    body: axum::body::Body,
    max: usize,
    operation: &str,
) -> Result<Call, ApiError> {
    let tail = match header(headers, h::LOG_TYPE) {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(LambdaError::invalid(format!(
                "Invalid LogType: {other}; expected None or Tail"
            ))
            .into())
        }
    };
    let client_context = client_context(headers)?;
    let payload = body::read(body, max, operation).await?;
    // UTF-8 first: skipping a string, serde does not check its bytes.
    let is_json = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
    };
    if !payload.is_empty() && !is_json(&payload) {
        return Err(LambdaError::new(
            ErrorKind::InvalidRequestContent,
            "Could not parse request body into json: Could not parse payload into json",
        )
        .into());
    }
    // The router's in-memory table answers; the store is read only to explain
    // a function the router does not run (absent, Pending or Failed).
    let (function, qualifier) = s.functions.qualified(name, qualifier)?;
    let qualifier = qualifier.map(|q| q.as_string());
    let arn = s.functions.arn(&function);
    // The runtime's context shows the qualifier the caller named, as Lambda's.
    let invoked_arn = match &qualifier {
        Some(q) => format!("{arn}:{q}"),
        None => arn.clone(),
    };
    // The router runs `$LATEST` when no qualifier (or `$LATEST`) is named.
    let routed = qualifier.filter(|q| q != ignis_model::version::LATEST);
    Ok(Call {
        arn,
        input: InvokeInput {
            function,
            qualifier: routed,
            payload,
            client_context,
            invoked_arn,
            request_id: None,
            tail,
            trace_id: trace_id(headers),
        },
    })
}

/// Lambda's answer to a router refusal: a function the router does not run
/// is explained from the store (absent, Pending, Failed).
pub(crate) async fn refusal(
    s: &AppState,
    function: &str,
    routed: Option<&str>,
    arn: &str,
    e: InvokeError,
) -> ApiError {
    match e {
        InvokeError::NotFound(_) => s.functions.not_runnable(function, routed).await,
        e => {
            let admission = s.functions.router().admission();
            invoke_error(e, arn, (admission.used_mb(), admission.budget_mb()))
        }
    }
}

/// InvokeAsync (`POST /2014-11-13/functions/{name}/invoke-async`, Lambda's
/// deprecated form of an Event invocation): queued as one, answered 202.
pub async fn invoke_async(
    state: State<AppState>,
    name: Path<String>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers_mut();
    headers.insert(h::INVOCATION_TYPE, HeaderValue::from_static("Event"));
    headers.remove(h::LOG_TYPE);
    invoke(state, name, Query(QualifierQuery { qualifier: None }), req).await
}

/// `X-Amz-Executed-Version`: the version that ran; for an invocation not
/// run yet (Event, DryRun), `$LATEST`, as Lambda answers those.
pub(crate) fn with_version(mut resp: Response, version: Option<Version>) -> Response {
    let value = match version {
        None | Some(Version::Latest) => HeaderValue::from_static("$LATEST"),
        Some(v) => {
            HeaderValue::from_str(&v.to_string()).unwrap_or(HeaderValue::from_static("$LATEST"))
        }
    };
    resp.headers_mut().insert(h::EXECUTED_VERSION, value);
    resp
}

pub(crate) fn header(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Longest caller trace header passed on.
const TRACE_ID_MAX: usize = 1024;

/// The caller's X-Ray trace header, when it is one (`Root=1-…`): the
/// runtime gets it as `Lambda-Runtime-Trace-Id`.
pub(crate) fn trace_id(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, h::TRACE_ID)?;
    let fits = value.len() <= TRACE_ID_MAX
        && value
            .split(';')
            .any(|part| part.trim().starts_with("Root=1-"));
    fits.then(|| value.to_owned())
}

fn invocation_type(headers: &HeaderMap) -> Result<InvocationType, ApiError> {
    match header(headers, h::INVOCATION_TYPE) {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(LambdaError::invalid(format!(
            "Invalid InvocationType: {other}; expected RequestResponse, Event or DryRun"
        ))
        .into()),
    }
}

pub(crate) fn client_context(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(b64) = header(headers, h::CLIENT_CONTEXT) else {
        return Ok(None);
    };
    // Lambda's limit is on the header as sent: "up to 3,583 bytes of
    // base64-encoded data".
    if b64.len() > CLIENT_CONTEXT_MAX {
        return Err(LambdaError::invalid(format!(
            "Client context must be at most {CLIENT_CONTEXT_MAX} bytes of Base64-encoded data"
        ))
        .into());
    }
    // A runtime client parses it as a JSON object (lambda_runtime's
    // context fails, and the runtime exits, on anything else).
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|text| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).is_ok()
        })
        .map(|text| Some(header_safe_json(&text)))
        .ok_or_else(|| {
            LambdaError::invalid("Client context must be a valid Base64-encoded JSON object.")
                .into()
        })
}

/// The same JSON document as one line of ASCII, fit for an HTTP header:
/// whitespace between tokens dropped, non-ASCII characters in strings
/// escaped as `\uXXXX`. Keys, their order and numbers stay as sent.
fn header_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if !in_string {
            if !matches!(c, ' ' | '\t' | '\n' | '\r') {
                out.push(c);
            }
            in_string = c == '"';
            continue;
        }
        // DEL is valid in a JSON string but not in a header value.
        if c.is_ascii() && c != '\x7f' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_string = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::header_safe_json;

    #[test]
    fn client_context_becomes_one_ascii_line_with_the_same_document() {
        let sent = "{\n  \"custom\": {\"city\": \"Zürich 🚀\", \"q\": \"a \\\" b\\\\\", \"d\": \"\x7f\"},\n  \"b\": [1, 2.50]\n}";
        let line = header_safe_json(sent);
        assert!(line.is_ascii() && !line.contains('\n'), "{line}");
        assert_eq!(
            line,
            r#"{"custom":{"city":"Z\u00fcrich \ud83d\ude80","q":"a \" b\\","d":"\u007f"},"b":[1,2.50]}"#
        );
        let a: serde_json::Value = serde_json::from_str(sent).unwrap();
        let b: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(a, b);
        assert!(axum::http::HeaderValue::from_str(&line).is_ok());
    }
}

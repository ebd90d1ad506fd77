//! Routes of the Runtime API and their answers, per `runtime-api.yaml`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::HeaderMap;
use hyper::{Method, Request, Response, StatusCode};
use ignis_model::headers as h;
use ignis_model::limits::RESPONSE_PAYLOAD_MAX;

use crate::body::{read_limited, read_with_trailers, BodyError};
use crate::slot::{AnswerError, Slot};
use crate::stream::{Forwarded, STREAM_RESPONSE_MAX};
use crate::{Invocation, Outcome};

pub(crate) const PREFIX: &str = "/2018-06-01/runtime/";
/// Bytes of an oversized response read (and dropped) so the runtime gets
/// the 413 instead of a reset connection.
const DRAIN_MAX: usize = 64 * 1024 * 1024;

type Reply = Response<Full<Bytes>>;

// Header names built at compile time: `HeaderName::from_static` at run time
// parses the name on every call, on every `/next`.
const REQUEST_ID: HeaderName = HeaderName::from_static(h::RUNTIME_REQUEST_ID);
const DEADLINE_MS: HeaderName = HeaderName::from_static(h::RUNTIME_DEADLINE_MS);
const INVOKED_FUNCTION_ARN: HeaderName = HeaderName::from_static(h::RUNTIME_INVOKED_FUNCTION_ARN);
const TRACE_ID: HeaderName = HeaderName::from_static(h::RUNTIME_TRACE_ID);
const CLIENT_CONTEXT: HeaderName = HeaderName::from_static(h::RUNTIME_CLIENT_CONTEXT);
const COGNITO_IDENTITY: HeaderName = HeaderName::from_static(h::RUNTIME_COGNITO_IDENTITY);
const FUNCTION_ERROR_TYPE: HeaderName = HeaderName::from_static(h::RUNTIME_FUNCTION_ERROR_TYPE);
const FUNCTION_ERROR_BODY: HeaderName = HeaderName::from_static(h::RUNTIME_FUNCTION_ERROR_BODY);
/// `streaming` on a `/response` that streams its body.
const RESPONSE_MODE: HeaderName = HeaderName::from_static("lambda-runtime-function-response-mode");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

pub(crate) async fn route(slot: &Slot, req: Request<Incoming>) -> Reply {
    let rest = req.uri().path().strip_prefix(PREFIX);
    match (req.method(), rest.map(route_of)) {
        (&Method::GET, Some(Route::Next)) => next(slot).await,
        (&Method::POST, Some(Route::Response(range))) => {
            let id = request_id_at(&req, range);
            response(slot, &id, req).await
        }
        (&Method::POST, Some(Route::Error(range))) => {
            let id = request_id_at(&req, range);
            match error_parts(req).await {
                Ok((error_type, body)) => {
                    answer(slot.answer(&id, Outcome::FunctionError { error_type, body }))
                }
                Err(too_large) => {
                    let _ = slot.answer(
                        &id,
                        Outcome::ResponseTooLarge {
                            len: too_large.read,
                        },
                    );
                    too_large.reply()
                }
            }
        }
        (&Method::POST, Some(Route::InitError)) => match error_parts(req).await {
            Ok((error_type, body)) => answer(slot.init_error(error_type, body)),
            Err(too_large) => {
                let _ = slot.init_error(too_large.error_type.clone(), Bytes::new());
                too_large.reply()
            }
        },
        (_, Some(Route::Unknown)) | (_, None) => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "unknown Runtime API path",
        ),
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "method not allowed on this Runtime API path",
        ),
    }
}

/// A Runtime API path below [`PREFIX`]; a request id is kept as its byte
/// range in that rest, so routing allocates nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Next,
    Response(std::ops::Range<usize>),
    Error(std::ops::Range<usize>),
    InitError,
    Unknown,
}

pub(crate) fn route_of(rest: &str) -> Route {
    match rest {
        "invocation/next" => return Route::Next,
        "init/error" => return Route::InitError,
        _ => {}
    }
    let Some(tail) = rest.strip_prefix("invocation/") else {
        return Route::Unknown;
    };
    let Some((id, action)) = tail.split_once('/') else {
        return Route::Unknown;
    };
    if id.is_empty() {
        return Route::Unknown;
    }
    let start = "invocation/".len();
    let range = start..start + id.len();
    match action {
        "response" => Route::Response(range),
        "error" => Route::Error(range),
        _ => Route::Unknown,
    }
}

/// The request id at `range` of the path below [`PREFIX`].
fn request_id_at(req: &Request<Incoming>, range: std::ops::Range<usize>) -> String {
    req.uri().path()[PREFIX.len()..][range].to_owned()
}

async fn next(slot: &Slot) -> Reply {
    let inv = slot.next().await;
    next_response(&inv, SystemTime::now())
}

/// `Lambda-Runtime-Deadline-Ms` of `inv` delivered at `now`.
pub(crate) fn deadline_ms(inv: &Invocation, now: SystemTime) -> u64 {
    let deadline = match inv.deadline {
        Some(at) => now + at.saturating_duration_since(Instant::now()),
        None => now + inv.timeout,
    };
    deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

fn next_response(inv: &Invocation, now: SystemTime) -> Reply {
    let deadline_ms = deadline_ms(inv, now);
    let mut resp = Response::new(Full::new(inv.payload.clone()));
    let headers = resp.headers_mut();
    headers.reserve(8);
    headers.insert(CONTENT_TYPE, APPLICATION_JSON);
    let mut put = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put(REQUEST_ID, &inv.request_id);
    put(INVOKED_FUNCTION_ARN, &inv.invoked_arn);
    put(TRACE_ID, &inv.trace_id);
    if let Some(cc) = &inv.client_context {
        put(CLIENT_CONTEXT, cc);
    }
    if let Some(ci) = &inv.cognito_identity {
        put(COGNITO_IDENTITY, ci);
    }
    headers.insert(DEADLINE_MS, HeaderValue::from(deadline_ms));
    resp
}

async fn response(slot: &Slot, id: &str, req: Request<Incoming>) -> Reply {
    let streaming = req
        .headers()
        .get(RESPONSE_MODE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
    if streaming && slot.wants_stream(id) {
        return stream_response(slot, id, req).await;
    }
    match read_with_trailers(req.into_body(), RESPONSE_PAYLOAD_MAX, DRAIN_MAX).await {
        Ok((body, trailers)) => {
            let outcome = match trailers.as_ref().and_then(stream_error) {
                // An error met mid-stream, reported in the trailers.
                Some((error_type, error_body)) => Outcome::FunctionError {
                    error_type: Some(error_type),
                    body: error_body,
                },
                None => Outcome::Response(body),
            };
            answer(slot.answer(id, outcome))
        }
        Err(BodyError::TooLarge { read, drained }) => {
            let _ = slot.answer(id, Outcome::ResponseTooLarge { len: read });
            TooLarge {
                read,
                drained,
                error_type: None,
                limit: RESPONSE_PAYLOAD_MAX,
            }
            .reply()
        }
        Err(BodyError::Read(e)) => error(StatusCode::BAD_REQUEST, "InvalidRequest", &e),
    }
}

/// A streamed response to an invocation that takes it as it arrives: the
/// stream is handed over at once, then the body's chunks follow it.
async fn stream_response(slot: &Slot, id: &str, req: Request<Incoming>) -> Reply {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (stream, feed) = crate::stream::channel(content_type);
    if let Err(e) = slot.answer(id, Outcome::Streamed(stream)) {
        return answer(Err(e));
    }
    match feed
        .forward(req.into_body(), STREAM_RESPONSE_MAX, DRAIN_MAX)
        .await
    {
        Forwarded::Done => answer(Ok(())),
        Forwarded::TooLarge { read, drained } => TooLarge {
            read,
            drained,
            error_type: None,
            limit: STREAM_RESPONSE_MAX,
        }
        .reply(),
        Forwarded::Failed(e) => error(StatusCode::BAD_REQUEST, "InvalidRequest", &e),
    }
}

/// The error type and document of a streaming response's error trailers
/// (the document base64, as the runtimes send it; kept as sent if not).
pub(crate) fn stream_error(trailers: &HeaderMap) -> Option<(String, Bytes)> {
    let error_type = trailers.get(FUNCTION_ERROR_TYPE)?.to_str().ok()?.to_owned();
    let body = trailers
        .get(FUNCTION_ERROR_BODY)
        .map(|v| {
            let raw = v.as_bytes();
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_or_else(|_| Bytes::copy_from_slice(raw), Bytes::from)
        })
        .unwrap_or_default();
    Some((error_type, body))
}

/// A body over its limit, answered with 413.
struct TooLarge {
    read: usize,
    drained: bool,
    /// The error type the request's header named, if any.
    error_type: Option<String>,
    /// The limit it is over: [`RESPONSE_PAYLOAD_MAX`], or
    /// [`STREAM_RESPONSE_MAX`] for a streamed response.
    limit: usize,
}

impl TooLarge {
    fn reply(&self) -> Reply {
        let mut reply = error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!(
                "Exceeded maximum allowed payload size ({} bytes).",
                self.limit
            ),
        );
        if !self.drained {
            // The rest of the body is still coming: this connection is done.
            reply
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        reply
    }
}

/// The error type header and the error document of `/error` and
/// `/init/error`.
async fn error_parts(req: Request<Incoming>) -> Result<(Option<String>, Bytes), TooLarge> {
    let error_type = req
        .headers()
        .get(FUNCTION_ERROR_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match read_limited(req.into_body(), RESPONSE_PAYLOAD_MAX, DRAIN_MAX).await {
        Ok(body) => Ok((error_type, body)),
        Err(BodyError::TooLarge { read, drained }) => Err(TooLarge {
            read,
            drained,
            error_type,
            limit: RESPONSE_PAYLOAD_MAX,
        }),
        // A body that could not be read is no document: the type stands.
        Err(BodyError::Read(_)) => Ok((error_type, Bytes::new())),
    }
}

fn answer(result: Result<(), AnswerError>) -> Reply {
    let (status, body) = answer_parts(result);
    json(status, body)
}

/// The status and JSON document answering an `/response` or `/error`.
pub(crate) fn answer_parts(result: Result<(), AnswerError>) -> (StatusCode, Bytes) {
    let (status, error_type, message) = match result {
        Ok(()) => {
            return (
                StatusCode::ACCEPTED,
                Bytes::from_static(br#"{"status":"OK"}"#),
            )
        }
        Err(AnswerError::UnknownRequest) => (
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        ),
        Err(AnswerError::AlreadyAnswered) => (
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "The invocation was answered already",
        ),
        Err(AnswerError::NoInvocation) => (
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "No invocation is in progress",
        ),
        Err(AnswerError::NotInitializing) => (
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "Init errors can only be reported before the first /next",
        ),
    };
    (status, error_document(error_type, message))
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Reply {
    json(status, error_document(error_type, message))
}

/// The Runtime API's error document.
fn error_document(error_type: &str, message: &str) -> Bytes {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    Bytes::from(body.to_string())
}

fn json(status: StatusCode, body: Bytes) -> Reply {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, APPLICATION_JSON);
    resp
}

#[cfg(test)]
mod route_tests {
    use super::{route_of, Route};

    #[test]
    fn paths_route_without_allocating() {
        assert_eq!(route_of("invocation/next"), Route::Next);
        assert_eq!(route_of("init/error"), Route::InitError);
        let rest = "invocation/abc-123/response";
        let Route::Response(range) = route_of(rest) else {
            panic!("not a response route");
        };
        assert_eq!(&rest[range], "abc-123");
        let rest = "invocation/x/error";
        let Route::Error(range) = route_of(rest) else {
            panic!("not an error route");
        };
        assert_eq!(&rest[range], "x");
        for unknown in [
            "",
            "invocation",
            "invocation/",
            "invocation//response",
            "invocation/x/other",
            "invocation/x/response/more",
            "init",
            "next",
        ] {
            assert_eq!(route_of(unknown), Route::Unknown, "{unknown:?}");
        }
    }
}

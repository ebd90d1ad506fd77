//! Routes of the Runtime API and their answers, per `runtime-api.yaml`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use ignis_model::headers as h;
use ignis_model::limits::SYNC_PAYLOAD_MAX;

use crate::body::{read_limited, BodyError};
use crate::slot::{AnswerError, Slot};
use crate::{Invocation, Outcome};

const PREFIX: &str = "/2018-06-01/runtime/";
/// Bytes of an oversized response read (and dropped) so the runtime gets
/// the 413 instead of a reset connection.
const DRAIN_MAX: usize = 64 * 1024 * 1024;

type Reply = Response<Full<Bytes>>;

pub(crate) async fn route(slot: &Slot, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "unknown Runtime API path",
        );
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(slot).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            let id = id.to_string();
            response(slot, &id, req).await
        }
        (&Method::POST, ["invocation", id, "error"]) => {
            let id = id.to_string();
            let (error_type, body) = error_parts(req).await;
            answer(slot.answer(&id, Outcome::FunctionError { error_type, body }))
        }
        (&Method::POST, ["init", "error"]) => {
            let (error_type, body) = error_parts(req).await;
            answer(slot.init_error(Outcome::InitError { error_type, body }))
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "unknown Runtime API path",
        ),
    }
}

async fn next(slot: &Slot) -> Reply {
    let inv = slot.next().await;
    next_response(&inv, SystemTime::now())
}

fn next_response(inv: &Invocation, now: SystemTime) -> Reply {
    let deadline = now + inv.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    let mut resp = Response::new(Full::new(inv.payload.clone()));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put(h::RUNTIME_REQUEST_ID, &inv.request_id);
    put(h::RUNTIME_DEADLINE_MS, &deadline_ms.to_string());
    put(h::RUNTIME_INVOKED_FUNCTION_ARN, &inv.invoked_arn);
    put(h::RUNTIME_TRACE_ID, &inv.trace_id);
    if let Some(cc) = &inv.client_context {
        put(h::RUNTIME_CLIENT_CONTEXT, cc);
    }
    if let Some(ci) = &inv.cognito_identity {
        put(h::RUNTIME_COGNITO_IDENTITY, ci);
    }
    resp
}

async fn response(slot: &Slot, id: &str, req: Request<Incoming>) -> Reply {
    match read_limited(req.into_body(), SYNC_PAYLOAD_MAX, DRAIN_MAX).await {
        Ok(body) => answer(slot.answer(id, Outcome::Response(body))),
        Err(BodyError::TooLarge { read, drained }) => {
            let _ = slot.answer(id, Outcome::ResponseTooLarge { len: read });
            let mut reply = error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({SYNC_PAYLOAD_MAX} bytes)."),
            );
            if !drained {
                reply
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            reply
        }
        Err(BodyError::Read(e)) => error(StatusCode::BAD_REQUEST, "InvalidRequest", &e),
    }
}

async fn error_parts(req: Request<Incoming>) -> (Option<String>, Bytes) {
    let error_type = req
        .headers()
        .get(h::RUNTIME_FUNCTION_ERROR_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_limited(req.into_body(), SYNC_PAYLOAD_MAX, DRAIN_MAX)
        .await
        .unwrap_or_default();
    (error_type, body)
}

fn answer(result: Result<(), AnswerError>) -> Reply {
    match result {
        Ok(()) => json(
            StatusCode::ACCEPTED,
            Bytes::from_static(br#"{"status":"OK"}"#),
        ),
        Err(AnswerError::UnknownRequest) => error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        ),
        Err(AnswerError::AlreadyAnswered) => error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "The invocation was answered already",
        ),
        Err(AnswerError::NotInitializing) => error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "Init errors can only be reported before the first /next",
        ),
    }
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    json(status, Bytes::from(body.to_string()))
}

fn json(status: StatusCode, body: Bytes) -> Reply {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

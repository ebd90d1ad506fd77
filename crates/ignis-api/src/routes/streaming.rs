//! InvokeWithResponseStream:
//! `POST /2021-11-15/functions/{name}/response-streaming-invocations`. The
//! answer is an event stream (`ignis_protocol::eventstream`): a
//! `PayloadChunk` event per chunk the function wrote, sent as it arrives,
//! then one `InvokeComplete` event with `ErrorCode` / `ErrorDetails` (an
//! error mid-stream, or one before it) and `LogResult` (`LogType: Tail`).
//!
//! `Content-Type` is the function's stream's (botocore's
//! `ResponseStreamContentType`); a function that answers whole gives one
//! chunk, as `application/json`. `ErrorCode` is the error's type
//! (`Runtime.ExitError`, `Sandbox.Timedout`, the function's own),
//! `ErrorDetails` its message.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use bytes::Bytes;
use http_body::Frame;
use ignis_model::limits::SYNC_PAYLOAD_MAX;
use ignis_model::LambdaError;
use ignis_protocol::eventstream;
use ignis_router::{InvokeError, Piece, StreamBody, StreamOutcome};

use crate::error::ApiError;
use crate::headers as h;
use crate::routes::invoke::{header, read_call, refusal, with_version, LOG_TAIL_MAX};
use crate::routes::management::QualifierQuery;
use crate::AppState;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/2021-11-15/functions/{name}/response-streaming-invocations",
        post(invoke_with_response_stream),
    )
}

/// A payload chunk's content type inside the event stream.
const CHUNK_CONTENT_TYPE: &str = "application/octet-stream";

/// InvokeWithResponseStream.
pub async fn invoke_with_response_stream(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, b) = req.into_parts();
    let headers = parts.headers;
    let dry_run = match header(&headers, h::INVOCATION_TYPE) {
        None | Some("RequestResponse") => false,
        Some("DryRun") => true,
        Some(other) => {
            return Err(LambdaError::invalid(format!(
                "Invalid InvocationType: {other}; expected RequestResponse or DryRun"
            ))
            .into())
        }
    };
    let call = read_call(
        &s,
        &name,
        q.qualifier.as_deref(),
        &headers,
        b,
        SYNC_PAYLOAD_MAX,
        "InvokeWithResponseStream",
    )
    .await?;
    let (function, routed) = (call.input.function.clone(), call.input.qualifier.clone());
    let tail = call.input.tail;
    let router = s.functions.router();
    let refused = |e: InvokeError| refusal(&s, &function, routed.as_deref(), &call.arn, e);
    if dry_run {
        if let Err(e) = router.check(&function, routed.as_deref()) {
            return Err(refused(e).await);
        }
        return Ok(with_version(StatusCode::NO_CONTENT.into_response(), None));
    }
    let input = call.input;
    let started = match router.invoke_streaming(input).await {
        Ok(started) => started,
        Err(e) => return Err(refused(e).await),
    };
    let content_type = started
        .content_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static(
            if started.content_type.is_some() {
                CHUNK_CONTENT_TYPE
            } else {
                "application/json"
            },
        ));
    let body = Body::new(EventStream {
        body: started.body,
        tail,
        rest: [None, None],
    });
    let mut resp = (StatusCode::OK, body).into_response();
    let hs = resp.headers_mut();
    hs.insert(CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(&started.request_id) {
        hs.insert(h::REQUEST_ID, v);
    }
    Ok(with_version(resp, Some(started.version)))
}

/// A streamed invocation's body as event-stream messages. A chunk's bytes
/// are not copied: its event goes out as three frames, the prelude and
/// headers, the chunk itself, and the message CRC.
struct EventStream {
    body: StreamBody,
    tail: bool,
    /// The rest of the event being written: its chunk, then its CRC.
    rest: [Option<Bytes>; 2],
}

impl http_body::Body for EventStream {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(next) = this.rest.iter_mut().find_map(Option::take) {
            return Poll::Ready(Some(Ok(Frame::data(next))));
        }
        match this.body.poll_piece(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Piece::Chunk(chunk))) => {
                let [head, chunk, crc] =
                    eventstream::event_parts("PayloadChunk", CHUNK_CONTENT_TYPE, chunk);
                this.rest = [Some(chunk), Some(crc)];
                Poll::Ready(Some(Ok(Frame::data(head))))
            }
            Poll::Ready(Some(Piece::End(outcome))) => {
                let payload = complete_event(&outcome, this.tail);
                let event = eventstream::event("InvokeComplete", "application/json", &payload);
                Poll::Ready(Some(Ok(Frame::data(event))))
            }
        }
    }
}

/// The `InvokeComplete` event's payload.
fn complete_event(outcome: &StreamOutcome, tail: bool) -> Vec<u8> {
    let mut doc = serde_json::Map::new();
    if let Some(error) = &outcome.error {
        doc.insert("ErrorCode".into(), error.error_type.clone().into());
        doc.insert("ErrorDetails".into(), error.message().into());
    }
    if tail {
        let start = outcome.log.len().saturating_sub(LOG_TAIL_MAX);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&outcome.log[start..]);
        doc.insert("LogResult".into(), encoded.into());
    }
    serde_json::Value::Object(doc).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_router::StreamError;

    #[test]
    fn the_complete_event_names_the_error_and_carries_the_tail() {
        let outcome = StreamOutcome {
            error: Some(StreamError::from_document(Bytes::from_static(
                br#"{"errorType":"Error","errorMessage":"mid-stream failure"}"#,
            ))),
            log: b"START\nEND\n".to_vec(),
        };
        let doc: serde_json::Value =
            serde_json::from_slice(&complete_event(&outcome, true)).unwrap();
        assert_eq!(doc["ErrorCode"], "Error");
        assert_eq!(doc["ErrorDetails"], "mid-stream failure");
        assert_eq!(doc["LogResult"], "U1RBUlQKRU5ECg==");
        let done = complete_event(&StreamOutcome::default(), false);
        assert_eq!(done, b"{}");
    }
}

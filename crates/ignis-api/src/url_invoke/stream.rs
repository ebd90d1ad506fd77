//! A function URL with `InvokeMode: RESPONSE_STREAM`: the invocation
//! through `Router::invoke_streaming`, the answer's body sent as the
//! function writes it. A stream that begins with the HTTP-integration
//! prelude (`awslambda.HttpResponseStream.from`) gives the status, headers
//! and cookies of its head; any other stream is a 200 with the stream's
//! content type; a function that answered whole is mapped as a buffered
//! URL's answer. An error after the first byte can only end the body: the
//! connection is cut, so the client sees an incomplete answer.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body::Frame;
use ignis_router::http_prelude::{PreludeRead, PreludeReader, HTTP_INTEGRATION_CONTENT_TYPE};
use ignis_router::{InvokeError, InvokeInput, Piece, Router, StreamBody};

use super::answer;

/// Invokes with the answer streamed; refusals are the router's.
pub async fn respond(router: &Arc<Router>, input: InvokeInput) -> Result<Response, InvokeError> {
    let done = router.invoke_streaming(input).await?;
    if done.function_error {
        return Ok(answer::internal_error());
    }
    let mut body = done.body;
    match done.content_type.as_deref() {
        None => Ok(whole(body).await),
        Some(HTTP_INTEGRATION_CONTENT_TYPE) => {
            let mut reader = PreludeReader::new();
            loop {
                match body.next().await {
                    Some(Piece::Chunk(chunk)) => {
                        if let PreludeRead::Head { head, body: first } = reader.push(chunk) {
                            let stream = UrlStream {
                                first: Some(first),
                                rest: body,
                            };
                            return Ok(answer::streamed(&head, Body::new(stream)));
                        }
                    }
                    // Ended (or failed) before its head did.
                    Some(Piece::End(_)) | None => return Ok(answer::internal_error()),
                }
            }
        }
        Some(content_type) => {
            let mut resp = Response::new(Body::new(UrlStream {
                first: None,
                rest: body,
            }));
            if let Ok(v) = HeaderValue::from_str(content_type) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            *resp.status_mut() = StatusCode::OK;
            Ok(resp)
        }
    }
}

/// An answer in one piece, mapped as a buffered URL's.
async fn whole(mut body: StreamBody) -> Response {
    let mut all = BytesMut::new();
    while let Some(piece) = body.next().await {
        match piece {
            Piece::Chunk(chunk) => all.extend_from_slice(&chunk),
            Piece::End(outcome) => return answer::response(&all, outcome.error.is_some()),
        }
    }
    answer::internal_error()
}

/// The body of a streamed answer: what followed the prelude, then every
/// later chunk as it comes.
struct UrlStream {
    first: Option<Bytes>,
    rest: StreamBody,
}

impl http_body::Body for UrlStream {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(first) = self.first.take().filter(|b| !b.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        match self.rest.poll_piece(cx) {
            Poll::Ready(Some(Piece::Chunk(chunk))) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Poll::Ready(Some(Piece::End(outcome))) => match outcome.error {
                None => Poll::Ready(None),
                Some(e) => {
                    tracing::debug!(error = %e.message(), "function URL: the stream ended with an error");
                    Poll::Ready(Some(Err(std::io::Error::other(e.message()))))
                }
            },
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

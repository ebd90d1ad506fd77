//! Streamed responses: a runtime's `POST /runtime/invocation/{id}/response`
//! with `Lambda-Runtime-Function-Response-Mode: streaming` (chunked), passed
//! on chunk by chunk as it arrives, for an invocation that asked for a
//! stream ([`crate::Invocation::stream`]).
//!
//! The runtime's bytes go to a bounded channel as the body's frames come
//! in, untouched (one `Bytes` per frame, no copy); a full channel holds the
//! runtime's upload back, as a slow client holds a Lambda function's stream
//! back. The stream ends with a [`StreamEnd`]: complete, an error the
//! runtime reported in its trailers, the size limit, or a broken upload.
//!
//! **Past the limit** ([`STREAM_RESPONSE_MAX`], Lambda's 20 MB soft limit
//! for streamed responses): the bytes up to the limit are passed on, the
//! rest is read and dropped (up to the drain bound, else the connection is
//! closed), the stream ends with `Function.ResponseSizeTooLarge`, and the
//! runtime's POST is answered 413 as for a buffered response over 6 MB.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::HeaderMap;
use tokio::sync::{mpsc, oneshot};

/// Lambda's limit for a streamed response: 20 MB (20 × 1024 × 1024 bytes).
pub const STREAM_RESPONSE_MAX: usize = 20 * 1024 * 1024;

/// Frames buffered between the runtime's upload and the consumer.
const CHANNEL_FRAMES: usize = 16;

/// A streamed response as it arrives: its content type, its chunks, and how
/// it ended (sent after the last chunk).
#[derive(Debug)]
pub struct ResponseStream {
    /// The `Content-Type` the runtime's POST named, if any.
    pub content_type: Option<String>,
    /// The body's bytes in the frames they arrived in; closed after the
    /// last one.
    pub chunks: mpsc::Receiver<Bytes>,
    /// How the stream ended; sent once every chunk is in `chunks`.
    pub end: oneshot::Receiver<StreamEnd>,
}

/// Streams are equal only to themselves (an [`crate::Outcome`] compares).
impl PartialEq for ResponseStream {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for ResponseStream {}

/// How a streamed response ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// The body ended without error trailers.
    Complete {
        /// Bytes streamed.
        len: usize,
    },
    /// `Lambda-Runtime-Function-Error-Type` / `-Body` trailers: an error
    /// met mid-stream.
    Error {
        /// The error type.
        error_type: String,
        /// The error document (base64-decoded).
        body: Bytes,
    },
    /// Over [`STREAM_RESPONSE_MAX`]: the bytes beyond it were dropped.
    TooLarge {
        /// Bytes the runtime sent (at least the limit + 1).
        len: usize,
    },
    /// The upload broke off (the runtime exited or its connection failed).
    Broken(String),
}

/// The runtime's side of a stream: where its body's frames go.
pub(crate) struct Feed {
    chunks: mpsc::Sender<Bytes>,
    end: oneshot::Sender<StreamEnd>,
}

/// A stream and the feed that fills it.
pub(crate) fn channel(content_type: Option<String>) -> (ResponseStream, Feed) {
    let (chunks_tx, chunks) = mpsc::channel(CHANNEL_FRAMES);
    let (end_tx, end) = oneshot::channel();
    let stream = ResponseStream {
        content_type,
        chunks,
        end,
    };
    let feed = Feed {
        chunks: chunks_tx,
        end: end_tx,
    };
    (stream, feed)
}

/// What reading the runtime's body came to, for its reply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Forwarded {
    /// Read to its end within the limit.
    Done,
    /// Over the limit; `drained`: read to its end (the connection can be
    /// reused).
    TooLarge { read: usize, drained: bool },
    /// The transport failed.
    Failed(String),
}

impl Feed {
    /// Passes `body`'s bytes on as they arrive, at most `max` of them; a
    /// longer body is read and dropped up to `drain_max` bytes in all. A
    /// consumer that went away does not stop the reading: the runtime's
    /// upload is taken to its end and answered.
    pub(crate) async fn forward<B>(self, mut body: B, max: usize, drain_max: usize) -> Forwarded
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let Feed { chunks, end } = self;
        let mut chunks = Some(chunks);
        let mut total = 0usize;
        let mut trailers: Option<HeaderMap> = None;
        let mut over = false;
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(frame) => frame,
                Err(e) => {
                    let message = e.to_string();
                    // Over the limit the stream has its end already.
                    if !over {
                        let _ = end.send(StreamEnd::Broken(message.clone()));
                    }
                    return Forwarded::Failed(message);
                }
            };
            let data = match frame.into_data() {
                Ok(data) => data,
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers.get_or_insert_with(HeaderMap::new).extend(t);
                    }
                    continue;
                }
            };
            let before = total;
            total += data.len();
            if total > drain_max {
                let _ = end.send(StreamEnd::TooLarge { len: total });
                return Forwarded::TooLarge {
                    read: total,
                    drained: false,
                };
            }
            if over {
                continue;
            }
            let data = if total > max {
                over = true;
                data.slice(..max - before)
            } else {
                data
            };
            if let Some(tx) = &chunks {
                if !data.is_empty() && tx.send(data).await.is_err() {
                    // Nobody reads any more: drain the rest.
                    chunks = None;
                }
            }
            if over {
                chunks = None;
            }
        }
        drop(chunks);
        if over {
            let _ = end.send(StreamEnd::TooLarge { len: total });
            return Forwarded::TooLarge {
                read: total,
                drained: true,
            };
        }
        let ended = match trailers.as_ref().and_then(crate::handlers::stream_error) {
            Some((error_type, body)) => StreamEnd::Error { error_type, body },
            None => StreamEnd::Complete { len: total },
        };
        let _ = end.send(ended);
        Forwarded::Done
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::Frame;
    use hyper::header::HeaderValue;

    use super::*;

    /// A body of frames, possibly ending in trailers or a failure.
    struct Frames(Vec<Result<Frame<Bytes>, &'static str>>);

    impl hyper::body::Body for Frames {
        type Data = Bytes;
        type Error = &'static str;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready((!self.0.is_empty()).then(|| self.0.remove(0)))
        }
    }

    fn data(b: &'static [u8]) -> Result<Frame<Bytes>, &'static str> {
        Ok(Frame::data(Bytes::from_static(b)))
    }

    async fn drain(mut s: ResponseStream) -> (Vec<Bytes>, StreamEnd) {
        let mut got = Vec::new();
        while let Some(c) = s.chunks.recv().await {
            got.push(c);
        }
        (got, s.end.await.unwrap())
    }

    #[tokio::test]
    async fn chunks_pass_in_their_frames_and_the_end_follows() {
        let (stream, feed) = channel(Some("text/plain".into()));
        let body = Frames(vec![data(b"ab"), data(b""), data(b"cde")]);
        let (fwd, (chunks, end)) = tokio::join!(feed.forward(body, 100, 200), drain(stream));
        assert_eq!(fwd, Forwarded::Done);
        assert_eq!(
            chunks,
            vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cde")]
        );
        assert_eq!(end, StreamEnd::Complete { len: 5 });
    }

    #[tokio::test]
    async fn each_chunk_is_readable_before_the_next_arrives() {
        let (mut stream, feed) = channel(None);
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, &'static str>>(1);
        struct Live(mpsc::Receiver<Result<Frame<Bytes>, &'static str>>);
        impl hyper::body::Body for Live {
            type Data = Bytes;
            type Error = &'static str;
            fn poll_frame(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
                self.0.poll_recv(cx)
            }
        }
        let forwarding = tokio::spawn(feed.forward(Live(rx), 100, 200));
        tx.send(data(b"first")).await.unwrap();
        // The second frame is not sent until the first is read.
        assert_eq!(stream.chunks.recv().await.unwrap(), "first");
        tx.send(data(b"second")).await.unwrap();
        assert_eq!(stream.chunks.recv().await.unwrap(), "second");
        drop(tx);
        assert_eq!(forwarding.await.unwrap(), Forwarded::Done);
        assert!(stream.chunks.recv().await.is_none());
        assert_eq!(stream.end.await.unwrap(), StreamEnd::Complete { len: 11 });
    }

    #[tokio::test]
    async fn error_trailers_end_the_stream_with_the_error() {
        let (stream, feed) = channel(None);
        let mut t = HeaderMap::new();
        t.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("Error"),
        );
        // base64 of {"errorMessage":"boom"}
        t.insert(
            "lambda-runtime-function-error-body",
            HeaderValue::from_static("eyJlcnJvck1lc3NhZ2UiOiJib29tIn0="),
        );
        let body = Frames(vec![data(b"partial"), Ok(Frame::trailers(t))]);
        let (fwd, (chunks, end)) = tokio::join!(feed.forward(body, 100, 200), drain(stream));
        assert_eq!(fwd, Forwarded::Done);
        assert_eq!(chunks, vec![Bytes::from_static(b"partial")]);
        assert_eq!(
            end,
            StreamEnd::Error {
                error_type: "Error".into(),
                body: Bytes::from_static(br#"{"errorMessage":"boom"}"#),
            }
        );
    }

    #[tokio::test]
    async fn past_the_limit_bytes_stop_at_it_and_the_rest_is_drained() {
        let (stream, feed) = channel(None);
        let body = Frames(vec![data(b"abcd"), data(b"efgh"), data(b"ijkl")]);
        let (fwd, (chunks, end)) = tokio::join!(feed.forward(body, 6, 100), drain(stream));
        assert_eq!(
            fwd,
            Forwarded::TooLarge {
                read: 12,
                drained: true
            }
        );
        assert_eq!(
            chunks,
            vec![Bytes::from_static(b"abcd"), Bytes::from_static(b"ef")]
        );
        assert_eq!(end, StreamEnd::TooLarge { len: 12 });
        let (stream, feed) = channel(None);
        let body = Frames(vec![data(b"abcd"), data(b"efgh"), data(b"ijkl")]);
        let (fwd, (_, end)) = tokio::join!(feed.forward(body, 6, 10), drain(stream));
        assert_eq!(
            fwd,
            Forwarded::TooLarge {
                read: 12,
                drained: false
            }
        );
        assert_eq!(end, StreamEnd::TooLarge { len: 12 });
    }

    #[tokio::test]
    async fn a_broken_upload_and_a_departed_consumer() {
        let (stream, feed) = channel(None);
        let body = Frames(vec![data(b"ab"), Err("connection reset")]);
        let (fwd, (chunks, end)) = tokio::join!(feed.forward(body, 100, 200), drain(stream));
        assert_eq!(fwd, Forwarded::Failed("connection reset".into()));
        assert_eq!(chunks.len(), 1);
        assert_eq!(end, StreamEnd::Broken("connection reset".into()));
        // Nobody reads: the upload is still taken to its end.
        let (stream, feed) = channel(None);
        drop(stream);
        let frames = (0..100).map(|_| data(b"x")).collect();
        assert_eq!(
            feed.forward(Frames(frames), 1000, 2000).await,
            Forwarded::Done
        );
    }
}

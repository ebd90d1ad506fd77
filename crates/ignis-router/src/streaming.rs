//! Response streaming: [`Router::invoke_streaming`] runs an invocation whose
//! caller takes the answer as the function writes it
//! (InvokeWithResponseStream, a URL with `InvokeMode: RESPONSE_STREAM`).
//!
//! The head ([`StreamedCompleted`]) returns as soon as the runtime starts
//! its streamed `/response` (or answers whole, or fails); the body
//! ([`StreamBody`]) then gives the runtime's chunks as they arrive, each
//! `Bytes` as the Runtime API read it, and last the outcome
//! ([`StreamOutcome`]: complete, or an error with its type and document;
//! the log with `LogType: Tail`). The environment and the concurrency slot
//! are held until the stream has ended: a task per streamed invocation waits
//! for its end (or the runtime's exit, or its deadline, which ends the
//! environment as any overrun does), then releases them as
//! [`Router::invoke`] does. A runtime that answers whole gives one chunk.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ignis_runtime_api::{StreamEnd, STREAM_RESPONSE_MAX};
use tokio::sync::{mpsc, oneshot};

use crate::env::{Answer, Completed, Env, Undelivered};
use crate::{concurrency, report, InvokeError, InvokeInput, Pool, Router};

/// How long a stream's end is awaited once its environment has ended (the
/// runtime's connection closes with it).
const END_AFTER_EXIT: Duration = Duration::from_secs(1);

/// The head of a streamed invocation, known when the answer starts.
#[derive(Debug)]
pub struct StreamedCompleted {
    /// The invocation's request id.
    pub request_id: String,
    /// The version that ran (`X-Amz-Executed-Version`).
    pub version: ignis_model::Version,
    /// The `Content-Type` of the runtime's stream; `None` when it answered
    /// whole (a function not written for streaming), or failed before.
    pub content_type: Option<String>,
    /// The function failed before any byte of an answer (an `/error`, a
    /// crash, a timeout, an init error): the body has no chunk and its
    /// outcome carries the error. An error met mid-stream is known only at
    /// the end, in [`StreamOutcome::error`].
    pub function_error: bool,
    /// The chunks, then the outcome.
    pub body: StreamBody,
}

/// What the body of a streamed invocation gives, in order: chunks, then
/// one end.
#[derive(Debug)]
pub enum Piece {
    /// Bytes as the function wrote them (as the Runtime API read them).
    Chunk(Bytes),
    /// The stream has ended.
    End(StreamOutcome),
}

/// How a streamed invocation ended.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    /// `None`: complete. Otherwise the error that ended it.
    pub error: Option<StreamError>,
    /// The invocation's log, START to REPORT, when the caller asked for it
    /// ([`InvokeInput::tail`]); empty otherwise.
    pub log: Vec<u8>,
}

/// An error that ended (or stood in for) a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// Its type (`Runtime.ExitError`, `Sandbox.Timedout`, the function's
    /// own, `Function.ResponseSizeTooLarge`).
    pub error_type: String,
    /// The error document, as the runtime sent it or Lambda's.
    pub document: Bytes,
}

impl StreamError {
    /// An error from its document, typed by its `errorType` (else
    /// `Unhandled`).
    pub fn from_document(document: Bytes) -> Self {
        let error_type = serde_json::from_slice::<serde_json::Value>(&document)
            .ok()
            .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "Unhandled".to_string());
        Self {
            error_type,
            document,
        }
    }

    /// Its message: the document's `errorMessage`, else the document.
    pub fn message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.document)
            .ok()
            .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.document).into_owned())
    }
}

/// The body of a streamed invocation: [`Piece`]s, as they come.
#[derive(Debug)]
pub struct StreamBody {
    /// A whole answer's one chunk.
    first: Option<Bytes>,
    /// A stream's chunks (closed after the last).
    chunks: Option<mpsc::Receiver<Bytes>>,
    end: End,
}

#[derive(Debug)]
enum End {
    Ready(Option<StreamOutcome>),
    Pending(oneshot::Receiver<StreamOutcome>),
}

impl StreamBody {
    /// The next piece; `None` after the end.
    pub fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Piece>> {
        if let Some(first) = self.first.take().filter(|b| !b.is_empty()) {
            return Poll::Ready(Some(Piece::Chunk(first)));
        }
        if let Some(chunks) = self.chunks.as_mut() {
            match chunks.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => return Poll::Ready(Some(Piece::Chunk(chunk))),
                Poll::Ready(None) => self.chunks = None,
                Poll::Pending => return Poll::Pending,
            }
        }
        match &mut self.end {
            End::Ready(outcome) => Poll::Ready(outcome.take().map(Piece::End)),
            End::Pending(rx) => match Pin::new(rx).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(outcome) => {
                    // The task that ends a stream always answers; a
                    // runtime shut down under it is an unknown error.
                    let outcome = outcome.unwrap_or_else(|_| StreamOutcome {
                        error: Some(StreamError::from_document(report::error_document(
                            "Runtime.Unknown",
                            "the node stopped during the invocation",
                        ))),
                        log: Vec::new(),
                    });
                    self.end = End::Ready(None);
                    Poll::Ready(Some(Piece::End(outcome)))
                }
            },
        }
    }

    /// The next piece; `None` after the end.
    pub async fn next(&mut self) -> Option<Piece> {
        std::future::poll_fn(|cx| self.poll_piece(cx)).await
    }
}

impl StreamedCompleted {
    /// An answer in one piece as a stream: its payload one chunk, or, for a
    /// function error, no chunk and the error.
    fn whole(c: Completed) -> Self {
        let (first, error) = if c.function_error {
            (None, Some(StreamError::from_document(c.payload)))
        } else {
            (Some(c.payload), None)
        };
        Self {
            request_id: c.request_id,
            version: c.version,
            content_type: None,
            function_error: error.is_some(),
            body: StreamBody {
                first,
                chunks: None,
                end: End::Ready(Some(StreamOutcome { error, log: c.log })),
            },
        }
    }
}

impl Router {
    /// Runs one invocation whose answer the caller takes as it is written
    /// (see the module's documentation). Refusals are [`Router::invoke`]'s.
    pub async fn invoke_streaming(
        self: &Arc<Self>,
        input: InvokeInput,
    ) -> Result<StreamedCompleted, InvokeError> {
        let (pool, spec, resolved) = self.runnable(&input.function, input.qualifier.as_deref())?;
        // Held until the stream has ended.
        let slot = self
            .concurrency
            .enter(&pool.limit)
            .map_err(InvokeError::Throttled)?;
        let in_use = crate::InUse::new(&pool);
        let request_id = input
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let tail = input.tail;
        let mut invocation = self.invocation(input, &spec, &request_id);
        invocation.stream = true;
        // As in `invoke`: an invocation a warm runtime never took runs on
        // another environment.
        for _ in 0..3 {
            let began = Instant::now();
            let env = match self.acquire(&pool, &spec, &resolved, &request_id).await? {
                Ok(env) => env,
                Err(failure) => {
                    let c =
                        self.launch_failed(&spec, &resolved, &request_id, failure, began.elapsed());
                    return Ok(StreamedCompleted::whole(c));
                }
            };
            match env.answer(invocation.clone(), tail).await {
                Ok(Answer::Streamed {
                    request_id,
                    stream,
                    deadline,
                }) => {
                    let (done, end) = oneshot::channel();
                    let head = StreamedCompleted {
                        request_id: request_id.clone(),
                        version: spec.record.version,
                        content_type: stream.content_type,
                        function_error: false,
                        body: StreamBody {
                            first: None,
                            chunks: Some(stream.chunks),
                            end: End::Pending(end),
                        },
                    };
                    let ending = Ending {
                        router: self.clone(),
                        pool,
                        env,
                        slot,
                        _in_use: in_use,
                        request_id,
                        deadline,
                        tail,
                    };
                    tokio::spawn(ending.run(stream.end, done));
                    return Ok(head);
                }
                Ok(Answer::Whole(completed)) => {
                    self.after_whole(&pool, env);
                    return Ok(StreamedCompleted::whole(completed));
                }
                Err(Undelivered) => {
                    self.after_whole(&pool, env);
                    tracing::info!(
                        function = %spec.record.name,
                        request_id = %request_id,
                        "warm environment exited before taking the invocation; retrying"
                    );
                }
            }
        }
        Err(InvokeError::NoCapacity)
    }

    /// An environment whose invocation was answered whole: back to its
    /// pool (its END and REPORT come with the runtime's next `/next`, see
    /// `Env::watch_phases`).
    fn after_whole(&self, pool: &Pool, env: Arc<Env>) {
        self.release(pool, env);
    }
}

/// What a streamed invocation holds until its stream has ended.
struct Ending {
    router: Arc<Router>,
    pool: Arc<Pool>,
    env: Arc<Env>,
    /// The invocation's concurrency slot, given back when the stream ends.
    slot: concurrency::Slot,
    /// The invocation as the keep-alive history counts it, until then.
    _in_use: crate::InUse,
    request_id: String,
    deadline: Instant,
    tail: bool,
}

impl Ending {
    /// Waits for the stream's end — or the end of its invoke phase without
    /// it (the runtime exited, or overran its deadline and was ended) —
    /// then gives the environment back and tells the caller how it ended.
    async fn run(
        self,
        mut end: oneshot::Receiver<StreamEnd>,
        done: oneshot::Sender<StreamOutcome>,
    ) {
        let ended = tokio::select! {
            biased;
            e = &mut end => e.ok(),
            _ = self.env.settle() => None,
        };
        let ended = match ended {
            Some(e) => Some(e),
            None => tokio::time::timeout(END_AFTER_EXIT, end)
                .await
                .ok()
                .and_then(Result::ok),
        };
        if matches!(ended, None | Some(StreamEnd::Broken(_))) {
            // A runtime's exit is seen just after its connection breaks:
            // its phase ends with it.
            let _ = tokio::time::timeout(END_AFTER_EXIT, self.env.settle()).await;
        }
        let error = match ended {
            Some(StreamEnd::Complete { .. }) => None,
            Some(StreamEnd::Error { error_type, body }) => Some(StreamError {
                document: report::function_error_body(Some(error_type.as_str()), body),
                error_type,
            }),
            Some(StreamEnd::TooLarge { .. }) => Some(StreamError {
                error_type: report::RESPONSE_TOO_LARGE.to_string(),
                document: report::error_document(
                    report::RESPONSE_TOO_LARGE,
                    &format!(
                        "Response payload size exceeded maximum allowed payload size ({STREAM_RESPONSE_MAX} bytes)."
                    ),
                ),
            }),
            Some(StreamEnd::Broken(reason)) => {
                Some(self.broken(&reason))
            }
            None => Some(self.broken("the runtime's connection closed")),
        };
        let log = if self.tail {
            // The tail ends with REPORT: the phase ends with the runtime's
            // next `/next`, right after its streamed `/response`.
            self.env.settle().await;
            self.env.take_log()
        } else {
            Vec::new()
        };
        let Ending {
            router,
            pool,
            env,
            slot,
            _in_use: in_use,
            ..
        } = self;
        router.after_whole(&pool, env);
        drop((slot, in_use));
        let _ = done.send(StreamOutcome { error, log });
    }

    /// The error of a stream that broke off: the runtime's exit or
    /// timeout, else the broken upload itself.
    fn broken(&self, reason: &str) -> StreamError {
        match self.env.stream_failure(&self.request_id, self.deadline) {
            Some((error_type, document)) => StreamError {
                error_type,
                document,
            },
            None => StreamError {
                error_type: "Runtime.Unknown".to_string(),
                document: report::error_document(
                    "Runtime.Unknown",
                    &format!("The response stream broke off: {reason}"),
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests;

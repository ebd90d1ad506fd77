//! The Lambda Runtime API (`/2018-06-01/runtime/...`) for one execution
//! environment, served by the host on a listener of its own.
//!
//! The environment's owner [`RuntimeApi::submit`]s an [`Invocation`]; the
//! runtime's long-polling `/next` receives it with every `Lambda-Runtime-*`
//! header; `/response`, `/error` and `/init/error` answer it as an
//! [`Outcome`]. Payload bytes pass through untouched in both directions.
//! An invocation that asks for a stream gets a runtime's streamed response
//! (`Lambda-Runtime-Function-Response-Mode: streaming`) chunk by chunk as
//! [`Outcome::Streamed`] ([`stream`]).
#![deny(missing_docs)]

pub mod body;
mod handlers;
mod lean;
mod slot;
pub mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

pub use slot::{DeliveryHook, NextCalls, NextHook, Slot};
pub use stream::{ResponseStream, StreamEnd, STREAM_RESPONSE_MAX};

/// An invocation handed to the runtime.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id` (shared: the invocation's owner
    /// keeps it for its log lines and answer without copying it).
    pub request_id: Arc<str>,
    /// The event, exactly as the caller sent it.
    pub payload: Bytes,
    /// The function's timeout; the deadline is set when the runtime takes it.
    pub timeout: Duration,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_arn: Arc<str>,
    /// `Lambda-Runtime-Client-Context` (decoded JSON), if any.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`, if any.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: Arc<str>,
    /// A deadline fixed before delivery (set with
    /// [`RuntimeApi::set_pending_deadline`]); `None`: delivery + `timeout`.
    pub deadline: Option<Instant>,
    /// The caller takes a streamed response as it arrives
    /// ([`Outcome::Streamed`]); otherwise a streamed response is read whole
    /// into [`Outcome::Response`], within the 6 MB limit.
    pub stream: bool,
}

/// How the runtime answered an invocation.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `/response`: the function's result.
    Response(Bytes),
    /// `/error`: a function error, with the runtime's error type header.
    FunctionError {
        /// `Lambda-Runtime-Function-Error-Type`, if sent.
        error_type: Option<String>,
        /// The error document.
        body: Bytes,
    },
    /// `/init/error`: initialization failed.
    InitError {
        /// `Lambda-Runtime-Function-Error-Type`, if sent.
        error_type: Option<String>,
        /// The error document.
        body: Bytes,
    },
    /// `/response` with a body over the 6 MB limit.
    ResponseTooLarge {
        /// Bytes the runtime tried to send (at least the limit + 1).
        len: usize,
    },
    /// `/response` in streaming mode, to an invocation that asked for a
    /// stream: its bytes follow as they arrive.
    Streamed(ResponseStream),
}

/// When and by which `/next` call the runtime took an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// When.
    pub at: Instant,
    /// The number of that `/next` call ([`NextCalls::count`]): the
    /// invocation's invoke phase ends with the call after it.
    pub next_call: u64,
}

/// The caller's side of a submitted invocation.
#[derive(Debug)]
pub struct Submitted {
    /// Fires when the runtime takes the invocation with `/next`.
    pub delivered: oneshot::Receiver<Delivery>,
    /// Fires with the runtime's answer.
    pub outcome: oneshot::Receiver<Outcome>,
}

/// A running Runtime API listener for one environment. Dropping it stops the
/// listener and closes every connection.
pub struct RuntimeApi {
    addr: SocketAddr,
    slot: Arc<Slot>,
    _tasks: JoinSet<()>,
}

impl RuntimeApi {
    /// Binds `127.0.0.1:0` and serves the Runtime API there.
    pub async fn bind_loopback() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener)
    }

    /// Serves the Runtime API on `listener` (e.g. one created inside a
    /// network namespace).
    pub fn serve(listener: TcpListener) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let slot = Arc::new(Slot::default());
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(listener, slot.clone()));
        Ok(Self {
            addr,
            slot,
            _tasks: tasks,
        })
    }

    /// The address to put in `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Hands an invocation to the runtime's next `/next`.
    pub fn submit(&self, invocation: Invocation) -> Submitted {
        self.slot.submit(invocation, None)
    }

    /// Like [`RuntimeApi::submit`], running `on_delivery` the moment the
    /// runtime takes the invocation, before the runtime can see it (e.g. to
    /// log START ahead of anything the function prints).
    pub fn submit_with(&self, invocation: Invocation, on_delivery: DeliveryHook) -> Submitted {
        self.slot.submit(invocation, Some(on_delivery))
    }

    /// Fixes the deadline of the invocation waiting for delivery, if one
    /// is: an init that ran past its phase shares the function's timeout
    /// with the invocation, and the runtime's `Lambda-Runtime-Deadline-Ms`
    /// must say so.
    pub fn set_pending_deadline(&self, at: Instant) {
        self.slot.set_pending_deadline(at);
    }

    /// When the runtime first called `/next` (the end of its init phase).
    pub fn ready_at(&self) -> Option<Instant> {
        self.slot.ready_at()
    }

    /// The runtime's calls of `/next`: how many, and when the last came.
    pub fn next_calls(&self) -> tokio::sync::watch::Receiver<NextCalls> {
        self.slot.next_calls()
    }

    /// The runtime's calls of `/next` so far.
    pub fn calls(&self) -> NextCalls {
        self.slot.calls()
    }

    /// Runs `hook` on every later `/next` call, on that call's task, as it
    /// comes (e.g. to end the last invocation's invoke phase there, without
    /// a task of its own waiting for it). Set once: `false` if a hook is
    /// set already.
    pub fn on_next(&self, hook: NextHook) -> bool {
        self.slot.set_on_next(hook)
    }

    /// Whether [`RuntimeApi::on_next`] has set a hook.
    pub fn has_next_hook(&self) -> bool {
        self.slot.has_on_next()
    }
}

async fn accept_loop(listener: TcpListener, slot: Arc<Slot>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "runtime API accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // A runtime client that writes headers and body separately would
        // otherwise wait on Nagle plus delayed ACK for every call.
        let _ = stream.set_nodelay(true);
        let slot = slot.clone();
        connections.spawn(async move {
            // The hot requests on the lean loop; the connection goes to
            // hyper, with what was read of it, at the first other one.
            let Some((stream, read)) = lean::serve(stream, &slot).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let slot = slot.clone();
                async move { Ok::<_, std::convert::Infallible>(handlers::route(&slot, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(lean::Rewind::new(stream, read)), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

#[cfg(test)]
mod tests;

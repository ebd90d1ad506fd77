//! The one HTTP client both targets are measured with: hyper 1's HTTP/1.1
//! connection API over a tokio `TcpStream` with `TCP_NODELAY`, one persistent
//! keep-alive connection per client task, no pool in between.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the load generator sends: the same POST to whichever server.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The request path, e.g. `/2015-03-31/functions/echo/invocations`.
    pub path: String,
    /// The JSON event; the answer must be the same bytes.
    pub payload: Bytes,
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200, no `X-Amz-Function-Error`, the payload echoed back.
    Ok,
    /// Any other answer: status, function error or a different body.
    Bad,
}

/// One persistent HTTP/1.1 connection.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    /// Connects to `addr` with `TCP_NODELAY`; the connection is driven by a
    /// task on the current runtime.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))?;
        tcp.set_nodelay(true)?;
        let (send, conn) = http1::handshake(TokioIo::new(tcp))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            send,
            host: addr.to_string(),
        })
    }

    /// Sends the target's POST and reads the whole answer. `Err` is a
    /// transport failure or a timeout (the connection is then unusable).
    pub async fn post(&mut self, target: &Target) -> anyhow::Result<Outcome> {
        Ok(self.send(target).await?.outcome(target))
    }

    /// [`post`](Self::post), keeping the answer.
    pub async fn send(&mut self, target: &Target) -> anyhow::Result<Answer> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(target))
            .await
            .context("request timed out")?
    }

    async fn exchange(&mut self, target: &Target) -> anyhow::Result<Answer> {
        self.send.ready().await.context("connection closed")?;
        let req = Request::builder()
            .method(Method::POST)
            .uri(target.path.as_str())
            .header(header::HOST, self.host.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(target.payload.clone()))?;
        let resp = self.send.send_request(req).await.context("send request")?;
        let status = resp.status();
        let function_error = resp
            .headers()
            .get("x-amz-function-error")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = resp.into_body().collect().await.context("read body")?;
        Ok(Answer {
            status,
            function_error,
            body: body.to_bytes(),
        })
    }
}

/// One answer as read.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: hyper::StatusCode,
    /// `X-Amz-Function-Error`, when set.
    pub function_error: Option<String>,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// [`Outcome::Ok`] for a 200 without a function error whose body is
    /// the target's payload.
    pub fn outcome(&self, target: &Target) -> Outcome {
        if self.status != hyper::StatusCode::OK
            || self.function_error.is_some()
            || !same_json(&self.body, &target.payload)
        {
            return Outcome::Bad;
        }
        Outcome::Ok
    }

    /// Status, function error and body, for an error message.
    pub fn describe(&self) -> String {
        format!(
            "{} {}{}",
            self.status,
            self.function_error
                .as_deref()
                .map_or_else(String::new, |e| format!("({e}) ")),
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// Byte equality, or failing that equal JSON values (a runtime may re-encode).
fn same_json(got: &[u8], want: &[u8]) -> bool {
    if got == want {
        return true;
    }
    match (
        serde_json::from_slice::<serde_json::Value>(got),
        serde_json::from_slice::<serde_json::Value>(want),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Sends one request on a fresh connection and fails unless it is answered
/// correctly; for setup steps and the cold first invoke.
pub async fn post_once(target: &Target) -> anyhow::Result<()> {
    let mut conn = Conn::open(target.addr).await?;
    match conn.post(target).await? {
        Outcome::Ok => Ok(()),
        Outcome::Bad => bail!("{} answered {} wrongly", target.addr, target.path),
    }
}

#[cfg(test)]
mod tests {
    use super::same_json;

    #[test]
    fn echo_may_be_reencoded() {
        assert!(same_json(br#"{"a":1}"#, br#"{"a":1}"#));
        assert!(same_json(br#"{ "a": 1 }"#, br#"{"a":1}"#));
        assert!(!same_json(br#"{"a":2}"#, br#"{"a":1}"#));
        assert!(!same_json(b"", br#"{"a":1}"#));
    }
}

//! The end-to-end queue loop (`benches/sqs_http.rs`): SQS's JSON protocol
//! over HTTP/1.1 keep-alive connections to the real `ignis serve`, each
//! loop on its own connection doing `SendMessageBatch` of 10,
//! `ReceiveMessage` of up to 10 (1 s long poll) and `DeleteMessageBatch`
//! of what came — as an SDK would, with an `Authorization` header naming
//! the `sqs` scope (in `open` mode the front identifies the key; nothing
//! is verified).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::client::REQUEST_TIMEOUT;
use crate::queues::{LoopRun, BATCH};

/// A SigV4-shaped `Authorization` of the `sqs` scope (open mode reads the
/// key, verifies nothing).
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// One keep-alive connection speaking SQS's JSON protocol.
pub struct SqsConn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

impl SqsConn {
    /// Connects to `addr` with `TCP_NODELAY`.
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

    /// Calls `operation` with `input`; the answer's JSON, or an error for
    /// any status but 200.
    pub async fn call(&mut self, operation: &str, input: &Value) -> anyhow::Result<Value> {
        tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(20), async {
            self.send.ready().await.context("connection closed")?;
            let req = Request::builder()
                .method(Method::POST)
                .uri("/")
                .header(header::HOST, self.host.as_str())
                .header(header::CONTENT_TYPE, "application/x-amz-json-1.0")
                .header("x-amz-target", format!("AmazonSQS.{operation}"))
                .header("x-amz-date", "20260101T000000Z")
                .header(header::AUTHORIZATION, AUTHORIZATION)
                .body(Full::new(Bytes::from(input.to_string())))?;
            let resp = self.send.send_request(req).await.context("send request")?;
            let status = resp.status();
            let body = resp.into_body().collect().await.context("read body")?;
            let body = body.to_bytes();
            if status != hyper::StatusCode::OK {
                bail!("{operation}: {status}: {}", String::from_utf8_lossy(&body));
            }
            Ok(serde_json::from_slice(&body)?)
        })
        .await
        .context("request timed out")?
    }
}

/// Creates the queue `name`; its URL.
pub async fn create_queue(addr: SocketAddr, name: &str) -> anyhow::Result<String> {
    let mut conn = SqsConn::open(addr).await?;
    let out = conn
        .call("CreateQueue", &json!({ "QueueName": name }))
        .await?;
    out["QueueUrl"]
        .as_str()
        .map(str::to_string)
        .context("CreateQueue answered no QueueUrl")
}

/// One step: a batch sent, up to a batch received, those deleted; the
/// messages deleted.
pub async fn step(conn: &mut SqsConn, queue_url: &str, body: &str) -> anyhow::Result<u64> {
    let entries: Vec<Value> = (0..BATCH)
        .map(|i| json!({ "Id": format!("m{i}"), "MessageBody": body }))
        .collect();
    let sent = conn
        .call(
            "SendMessageBatch",
            &json!({ "QueueUrl": queue_url, "Entries": entries }),
        )
        .await?;
    ensure!(
        sent["Failed"].as_array().is_none_or(Vec::is_empty),
        "send entries failed: {sent}"
    );
    let got = conn
        .call(
            "ReceiveMessage",
            &json!({ "QueueUrl": queue_url, "MaxNumberOfMessages": BATCH, "WaitTimeSeconds": 1 }),
        )
        .await?;
    let handles: Vec<Value> = got["Messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .enumerate()
                .map(|(i, m)| json!({ "Id": format!("d{i}"), "ReceiptHandle": m["ReceiptHandle"] }))
                .collect()
        })
        .unwrap_or_default();
    if handles.is_empty() {
        return Ok(0);
    }
    let deleted = conn
        .call(
            "DeleteMessageBatch",
            &json!({ "QueueUrl": queue_url, "Entries": handles }),
        )
        .await?;
    ensure!(
        deleted["Failed"].as_array().is_none_or(Vec::is_empty),
        "delete entries failed: {deleted}"
    );
    Ok(deleted["Successful"].as_array().map_or(0, Vec::len) as u64)
}

/// `loops` concurrent loops, each on its own connection, for `duration`.
pub async fn http_loop(
    addr: SocketAddr,
    queue_url: &str,
    body: &str,
    loops: usize,
    duration: Duration,
) -> anyhow::Result<LoopRun> {
    let mut conns = Vec::with_capacity(loops);
    for _ in 0..loops {
        conns.push(SqsConn::open(addr).await?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut set = tokio::task::JoinSet::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let (url, body) = (queue_url.to_string(), body.to_string());
        set.spawn(async move {
            let mut run = LoopRun::default();
            while Instant::now() < deadline {
                match step(&mut conn, &url, &body).await {
                    Ok(n) => run.messages += n,
                    Err(e) => {
                        if run.errors == 0 {
                            eprintln!("http loop {i}: {e:#}");
                        }
                        run.errors += 1;
                        // A failed exchange may leave the connection unusable.
                        match SqsConn::open(addr).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
            }
            run
        });
    }
    let mut total = LoopRun::default();
    while let Some(done) = set.join_next().await {
        let run = done.context("a loop panicked")?;
        total.messages += run.messages;
        total.errors += run.errors;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

//! The streaming entry point: whole answers as streams, and a bash runtime
//! that streams over /dev/tcp (process sandbox) — chunk by chunk, error
//! trailers, an exit and a timeout mid-stream, the slot held to the end.

use std::path::Path;
use std::sync::Arc;

use ignis_sandbox::process::ProcessSandbox;
use ignis_test_support::function;

use super::*;

/// A bash runtime answering every invocation with a streamed response:
/// `first`, then (per the event) a wait for a file, an exit or a hang, then
/// `second` or error trailers. An event with `whole` is answered plainly.
const STREAMING_RUNTIME: &str = r#"#!/bin/bash
set -u
host=${AWS_LAMBDA_RUNTIME_API%:*}; port=${AWS_LAMBDA_RUNTIME_API#*:}
while true; do
  exec 3<>/dev/tcp/$host/$port
  printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  resp=$(cat <&3); exec 3>&-
  id=$(printf '%s' "$resp" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  body=${resp##*$'\r\n\r\n'}
  exec 4<>/dev/tcp/$host/$port
  case "$body" in
    *whole*)
      printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nwhole' "$id" >&4
      cat <&4 >/dev/null; exec 4>&-; continue ;;
  esac
  printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' "$id" >&4
  printf '5\r\nfirst\r\n' >&4
  case "$body" in
    *wait*) signal=${body#*\"wait\":\"}; signal=${signal%%\"*}
            while [ ! -e "$signal" ]; do sleep 0.01; done ;;
    *exit*) exit 9 ;;
    *hang*) sleep 30 ;;
  esac
  case "$body" in
    *fail*)
      doc=$(printf '{"errorType":"Custom.Err","errorMessage":"cut"}' | base64 -w0)
      printf '0\r\nLambda-Runtime-Function-Error-Type: Custom.Err\r\nLambda-Runtime-Function-Error-Body: %s\r\n\r\n' "$doc" >&4 ;;
    *) printf '6\r\nsecond\r\n0\r\n\r\n' >&4 ;;
  esac
  cat <&4 >/dev/null; exec 4>&-
  echo "streamed $id"
done
"#;

fn router(dir: &Path) -> Arc<Router> {
    crate::testing::script_router(
        dir,
        STREAMING_RUNTIME,
        1024,
        Arc::new(ProcessSandbox),
        function("f").timeout(2).build(),
    )
}

fn input(payload: String, tail: bool) -> InvokeInput {
    InvokeInput {
        function: "f".into(),
        qualifier: None,
        payload: Bytes::from(payload),
        client_context: None,
        invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        request_id: None,
        tail,
        trace_id: None,
    }
}

fn in_flight(router: &Router) -> u32 {
    let functions = router.functions.read().unwrap();
    functions["f"].limit.in_flight()
}

async fn chunk(body: &mut StreamBody) -> Bytes {
    match body.next().await {
        Some(Piece::Chunk(b)) => b,
        other => panic!("expected a chunk, got {other:?}"),
    }
}

async fn end(body: &mut StreamBody) -> StreamOutcome {
    match body.next().await {
        Some(Piece::End(outcome)) => outcome,
        other => panic!("expected the end, got {other:?}"),
    }
}

#[tokio::test]
async fn chunks_arrive_as_written_and_the_slot_is_held_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let signal = dir.path().join("signal");
    let payload = format!(r#"{{"wait":"{}"}}"#, signal.display());
    let mut head = router.invoke_streaming(input(payload, true)).await.unwrap();
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert!(!head.function_error);
    // The runtime waits for the signal: the first chunk is here before it.
    assert_eq!(chunk(&mut head.body).await, "first");
    assert_eq!(in_flight(&router), 1);
    std::fs::write(&signal, b"go").unwrap();
    assert_eq!(chunk(&mut head.body).await, "second");
    let outcome = end(&mut head.body).await;
    assert!(outcome.error.is_none(), "{outcome:?}");
    let log = String::from_utf8_lossy(&outcome.log).to_string();
    assert!(
        log.contains("START RequestId") && log.contains("streamed"),
        "{log}"
    );
    assert!(log.contains("REPORT RequestId"), "{log}");
    assert!(head.body.next().await.is_none());
    assert_eq!(in_flight(&router), 0);
    // The environment serves again, warm.
    let mut again = router
        .invoke_streaming(input(r#"{"go":1}"#.into(), false))
        .await
        .unwrap();
    assert_eq!(chunk(&mut again.body).await, "first");
    assert_eq!(chunk(&mut again.body).await, "second");
    assert!(end(&mut again.body).await.error.is_none());
    assert_eq!(router.live_environments(), 1);
}

#[tokio::test]
async fn error_trailers_end_the_stream_with_the_functions_error() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let mut head = router
        .invoke_streaming(input(r#"{"fail":1}"#.into(), false))
        .await
        .unwrap();
    assert_eq!(chunk(&mut head.body).await, "first");
    let error = end(&mut head.body).await.error.unwrap();
    assert_eq!(error.error_type, "Custom.Err");
    assert_eq!(error.message(), "cut");
}

#[tokio::test]
async fn an_exit_or_a_timeout_mid_stream_ends_it_with_lambdas_error() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let mut head = router
        .invoke_streaming(input(r#"{"exit":1}"#.into(), false))
        .await
        .unwrap();
    assert_eq!(chunk(&mut head.body).await, "first");
    let error = end(&mut head.body).await.error.unwrap();
    assert_eq!(error.error_type, "Runtime.ExitError", "{error:?}");
    let mut head = router
        .invoke_streaming(input(r#"{"hang":1}"#.into(), true))
        .await
        .unwrap();
    assert_eq!(chunk(&mut head.body).await, "first");
    let outcome = end(&mut head.body).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.error_type, "Sandbox.Timedout", "{error:?}");
    let log = String::from_utf8_lossy(&outcome.log).to_string();
    assert!(log.contains("Task timed out after 2.00 seconds"), "{log}");
    assert_eq!(in_flight(&router), 0);
}

#[tokio::test]
async fn a_whole_answer_is_one_chunk_and_a_plain_invoke_reads_a_stream_whole() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let mut head = router
        .invoke_streaming(input(r#"{"whole":1}"#.into(), false))
        .await
        .unwrap();
    assert_eq!(head.content_type, None);
    assert_eq!(chunk(&mut head.body).await, "whole");
    assert!(end(&mut head.body).await.error.is_none());
    let done = router
        .invoke(input(r#"{"go":1}"#.into(), false))
        .await
        .unwrap();
    assert!(!done.function_error);
    assert_eq!(done.payload, "firstsecond");
}

#[tokio::test]
async fn a_whole_answer_is_one_chunk_then_the_end() {
    let c = Completed {
        request_id: "r".into(),
        payload: Bytes::from_static(b"{\"a\":1}"),
        function_error: false,
        log: b"START".to_vec(),
        version: ignis_model::Version::Latest,
    };
    let mut s = StreamedCompleted::whole(c);
    assert!(!s.function_error);
    let Some(Piece::Chunk(b)) = s.body.next().await else {
        panic!("no chunk");
    };
    assert_eq!(b, "{\"a\":1}");
    let Some(Piece::End(outcome)) = s.body.next().await else {
        panic!("no end");
    };
    assert!(outcome.error.is_none());
    assert_eq!(outcome.log, b"START");
    assert!(s.body.next().await.is_none());
}

#[tokio::test]
async fn a_whole_error_is_no_chunk_and_the_typed_error() {
    let c = Completed {
        request_id: "r".into(),
        payload: report::error_document("Runtime.ExitError", "gone"),
        function_error: true,
        log: Vec::new(),
        version: ignis_model::Version::Latest,
    };
    let mut s = StreamedCompleted::whole(c);
    assert!(s.function_error);
    let Some(Piece::End(outcome)) = s.body.next().await else {
        panic!("no end");
    };
    let error = outcome.error.unwrap();
    assert_eq!(error.error_type, "Runtime.ExitError");
    assert_eq!(error.message(), "gone");
    let odd = StreamError::from_document(Bytes::from_static(b"not json"));
    assert_eq!(
        (odd.error_type.as_str(), odd.message().as_str()),
        ("Unhandled", "not json")
    );
}

//! Tests over a real listener with a plain HTTP/1.1 client on a TCP socket.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Invocation, Outcome, RuntimeApi, StreamEnd};

fn invocation(id: &str) -> Invocation {
    Invocation {
        request_id: id.into(),
        payload: Bytes::from_static(br#"{"a": 1 }"#),
        timeout: Duration::from_secs(3),
        invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        client_context: Some("{\"custom\":{}}".into()),
        cognito_identity: None,
        trace_id: "Root=1-0-0".into(),
        deadline: None,
        stream: false,
    }
}

/// Sends one request on a fresh connection and returns (status, head, body).
async fn call(
    api: &RuntimeApi,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String, String) {
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

#[tokio::test]
async fn next_delivers_payload_and_headers_untouched() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let sub = api.submit(invocation("r1"));
    let (status, head, body) = call(&api, "GET", NEXT, "", b"").await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"a": 1 }"#);
    assert!(head.contains("lambda-runtime-aws-request-id: r1"));
    assert!(head.contains("lambda-runtime-deadline-ms: "));
    assert!(head.contains("lambda-runtime-invoked-function-arn: arn:aws:lambda"));
    assert!(head.contains("lambda-runtime-client-context: {\"custom\":{}}"));
    // The request said `Connection: close`.
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert!(sub.delivered.await.is_ok());
    assert!(api.ready_at().is_some());
    let (status, _, _) = call(
        &api,
        "POST",
        "/2018-06-01/runtime/invocation/r1/response",
        "",
        b"[1,2]",
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        sub.outcome.await.unwrap(),
        Outcome::Response(Bytes::from_static(b"[1,2]"))
    );
}

#[tokio::test]
async fn next_long_polls_until_an_invocation_arrives() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let addr_api = &api;
    let poll = call(addr_api, "GET", NEXT, "", b"");
    let submit = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        api.submit(invocation("late"))
    };
    let ((status, head, _), _sub) = tokio::join!(poll, submit);
    assert_eq!(status, 200);
    assert!(head.contains("lambda-runtime-aws-request-id: late"));
}

#[tokio::test]
async fn wrong_and_repeated_request_ids_are_refused() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let _sub = api.submit(invocation("r1"));
    call(&api, "GET", NEXT, "", b"").await;
    let (status, _, body) = call(
        &api,
        "POST",
        "/2018-06-01/runtime/invocation/zzz/response",
        "",
        b"{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidRequestID"));
    let (status, _, _) = call(
        &api,
        "POST",
        "/2018-06-01/runtime/invocation/r1/response",
        "",
        b"{}",
    )
    .await;
    assert_eq!(status, 202);
    let (status, _, _) = call(
        &api,
        "POST",
        "/2018-06-01/runtime/invocation/r1/response",
        "",
        b"{}",
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn errors_carry_the_error_type_header() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let sub = api.submit(invocation("r1"));
    call(&api, "GET", NEXT, "", b"").await;
    let hdr = "Lambda-Runtime-Function-Error-Type: Runtime.Boom\r\n";
    let (status, _, _) = call(
        &api,
        "POST",
        "/2018-06-01/runtime/invocation/r1/error",
        hdr,
        b"{\"errorMessage\":\"x\"}",
    )
    .await;
    assert_eq!(status, 202);
    match sub.outcome.await.unwrap() {
        Outcome::FunctionError { error_type, body } => {
            assert_eq!(error_type.as_deref(), Some("Runtime.Boom"));
            assert_eq!(&body[..], b"{\"errorMessage\":\"x\"}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn init_error_reaches_the_waiting_invocation_and_later_ones() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let sub = api.submit(invocation("r1"));
    let hdr = "Lambda-Runtime-Function-Error-Type: Runtime.ConfigError\r\n";
    let (status, _, _) = call(&api, "POST", "/2018-06-01/runtime/init/error", hdr, b"{}").await;
    assert_eq!(status, 202);
    assert!(matches!(
        sub.outcome.await.unwrap(),
        Outcome::InitError { .. }
    ));
    let again = api.submit(invocation("r2"));
    assert!(matches!(
        again.outcome.await.unwrap(),
        Outcome::InitError { .. }
    ));
}

#[tokio::test]
async fn responses_up_to_lambdas_limit_pass_and_one_byte_more_is_413() {
    use ignis_model::limits::RESPONSE_PAYLOAD_MAX;
    for (len, path) in [
        (RESPONSE_PAYLOAD_MAX, "response"),
        (RESPONSE_PAYLOAD_MAX + 1, "response"),
        (RESPONSE_PAYLOAD_MAX + 1, "error"),
    ] {
        let api = RuntimeApi::bind_loopback().await.unwrap();
        let sub = api.submit(invocation("r1"));
        call(&api, "GET", NEXT, "", b"").await;
        let body = vec![b'x'; len];
        let uri = format!("/2018-06-01/runtime/invocation/r1/{path}");
        let (status, _, text) = call(&api, "POST", &uri, "", &body).await;
        let outcome = sub.outcome.await.unwrap();
        if len == RESPONSE_PAYLOAD_MAX {
            assert_eq!(status, 202);
            assert!(matches!(outcome, Outcome::Response(b) if b.len() == len));
        } else {
            assert_eq!(status, 413, "{path}");
            assert!(text.contains("(6291556 bytes)"), "{text}");
            assert!(
                matches!(outcome, Outcome::ResponseTooLarge { .. }),
                "{path}: {outcome:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_error_in_a_streamed_responses_trailers_is_a_function_error() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let sub = api.submit(invocation("r1"));
    call(&api, "GET", NEXT, "", b"").await;
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    let request = concat!(
        "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\n",
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n",
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n",
        "5\r\nhello\r\n0\r\n",
        "Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n",
        // base64 of {"errorMessage":"cut"}
        "Lambda-Runtime-Function-Error-Body: eyJlcnJvck1lc3NhZ2UiOiJjdXQifQ==\r\n\r\n",
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 202"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    match sub.outcome.await.unwrap() {
        Outcome::FunctionError { error_type, body } => {
            assert_eq!(error_type.as_deref(), Some("Runtime.StreamError"));
            assert_eq!(&body[..], br#"{"errorMessage":"cut"}"#);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let (status, _, _) = call(&api, "GET", "/2018-06-01/runtime/nope", "", b"").await;
    assert_eq!(status, 404);
    for (method, path) in [
        ("POST", NEXT),
        ("GET", "/2018-06-01/runtime/init/error"),
        ("GET", "/2018-06-01/runtime/invocation/r1/response"),
    ] {
        let (status, _, _) = call(&api, method, path, "", b"").await;
        assert_eq!(status, 405, "{method} {path}");
    }
}

#[tokio::test]
async fn a_response_with_no_invocation_in_progress_is_403() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let (status, _, body) = call(
        &api,
        "POST",
        "/2018-06-01/runtime/invocation/r1/response",
        "",
        b"{}",
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("InvalidStateTransition"), "{body}");
}

/// The head of a streamed `/response` for `id`.
fn streaming_head(id: &str) -> String {
    format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
         Lambda-Runtime-Function-Response-Mode: streaming\r\nContent-Type: text/plain\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn a_streamed_response_is_passed_on_chunk_by_chunk_as_it_arrives() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let sub = api.submit(Invocation {
        stream: true,
        ..invocation("r1")
    });
    call(&api, "GET", NEXT, "", b"").await;
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    s.write_all(streaming_head("r1").as_bytes()).await.unwrap();
    s.write_all(b"5\r\nfirst\r\n").await.unwrap();
    // The outcome and the first chunk are there while the upload goes on.
    let Outcome::Streamed(mut stream) = sub.outcome.await.unwrap() else {
        panic!("not streamed");
    };
    assert_eq!(stream.content_type.as_deref(), Some("text/plain"));
    assert_eq!(stream.chunks.recv().await.unwrap(), "first");
    s.write_all(b"6\r\nsecond\r\n0\r\n\r\n").await.unwrap();
    assert_eq!(stream.chunks.recv().await.unwrap(), "second");
    assert!(stream.chunks.recv().await.is_none());
    assert_eq!(stream.end.await.unwrap(), StreamEnd::Complete { len: 11 });
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 202"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[tokio::test]
async fn a_streamed_response_to_an_invocation_that_wants_it_whole_is_read_whole() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let sub = api.submit(invocation("r1"));
    call(&api, "GET", NEXT, "", b"").await;
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    s.write_all(streaming_head("r1").as_bytes()).await.unwrap();
    s.write_all(b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        sub.outcome.await.unwrap(),
        Outcome::Response(bytes::Bytes::from_static(b"abcde"))
    );
}

#[tokio::test]
async fn a_streamed_response_past_20_mb_is_cut_there_and_answered_413() {
    use crate::STREAM_RESPONSE_MAX;
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let sub = api.submit(Invocation {
        stream: true,
        ..invocation("r1")
    });
    call(&api, "GET", NEXT, "", b"").await;
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    let upload = async move {
        s.write_all(streaming_head("r1").as_bytes()).await.unwrap();
        let chunk = vec![b'x'; 1024 * 1024];
        let head = format!("{:x}\r\n", chunk.len());
        // 21 MB in 1 MB chunks.
        for _ in 0..21 {
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(&chunk).await.unwrap();
            s.write_all(b"\r\n").await.unwrap();
        }
        s.write_all(b"0\r\n\r\n").await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).to_string()
    };
    let read = async {
        let Outcome::Streamed(mut stream) = sub.outcome.await.unwrap() else {
            panic!("not streamed");
        };
        let mut total = 0;
        while let Some(c) = stream.chunks.recv().await {
            total += c.len();
        }
        (total, stream.end.await.unwrap())
    };
    let (reply, (total, end)) = tokio::join!(upload, read);
    assert_eq!(total, STREAM_RESPONSE_MAX);
    assert_eq!(
        end,
        StreamEnd::TooLarge {
            len: 21 * 1024 * 1024
        }
    );
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("(20971520 bytes)"), "{reply}");
}

#[tokio::test]
async fn a_streamed_responses_error_trailers_end_its_stream() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let sub = api.submit(Invocation {
        stream: true,
        ..invocation("r1")
    });
    call(&api, "GET", NEXT, "", b"").await;
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    s.write_all(streaming_head("r1").as_bytes()).await.unwrap();
    s.write_all(
        concat!(
            "5\r\nhello\r\n0\r\n",
            "Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n",
            "Lambda-Runtime-Function-Error-Body: eyJlcnJvck1lc3NhZ2UiOiJjdXQifQ==\r\n\r\n",
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let Outcome::Streamed(mut stream) = sub.outcome.await.unwrap() else {
        panic!("not streamed");
    };
    assert_eq!(stream.chunks.recv().await.unwrap(), "hello");
    assert!(stream.chunks.recv().await.is_none());
    assert_eq!(
        stream.end.await.unwrap(),
        StreamEnd::Error {
            error_type: "Runtime.StreamError".into(),
            body: bytes::Bytes::from_static(br#"{"errorMessage":"cut"}"#),
        }
    );
}

/// Reads one answer with a `Content-Length` body from `s`.
async fn read_answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("content-length")
                .trim()
                .parse()
                .unwrap();
            while buf.len() < end + 4 + len {
                let mut more = [0u8; 4096];
                let n = s.read(&mut more).await.unwrap();
                assert!(n > 0, "closed mid-body");
                buf.extend_from_slice(&more[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return (head[9..12].parse().unwrap(), head, body);
        }
        let mut more = [0u8; 4096];
        let n = s.read(&mut more).await.unwrap();
        assert!(n > 0, "closed before an answer");
        buf.extend_from_slice(&more[..n]);
    }
}

#[tokio::test]
async fn one_keep_alive_connection_serves_invocation_after_invocation() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    let mut buf = Vec::new();
    let next = format!("GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(next.as_bytes()).await.unwrap();
    for i in 0..3 {
        let id = format!("r{i}");
        let sub = api.submit(invocation(&id));
        let (status, head, body) = read_answer(&mut s, &mut buf).await;
        assert_eq!(status, 200);
        assert!(head.contains(&format!("lambda-runtime-aws-request-id: {id}\r\n")));
        assert!(head.contains("\r\ndate: "), "{head}");
        assert_eq!(body, br#"{"a": 1 }"#);
        // The answer and the next /next in one write (pipelined).
        let answer = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
             Content-Length: 5\r\n\r\n[{i},2]{next}"
        );
        s.write_all(answer.as_bytes()).await.unwrap();
        let (status, _, body) = read_answer(&mut s, &mut buf).await;
        assert_eq!(status, 202);
        assert_eq!(body, br#"{"status":"OK"}"#);
        assert_eq!(
            sub.outcome.await.unwrap(),
            Outcome::Response(Bytes::from(format!("[{i},2]")))
        );
    }
    assert_eq!(api.calls().count, 4);
}

#[tokio::test]
async fn a_next_whose_runtime_hung_up_does_not_take_the_invocation() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    s.write_all(format!("GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut calls = api.next_calls();
    calls.wait_for(|c| c.count == 1).await.unwrap();
    drop(s);
    // Give the server a moment to see the close before the submit.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sub = api.submit(invocation("r1"));
    let (status, head, _) = call(&api, "GET", NEXT, "", b"").await;
    assert_eq!(status, 200);
    assert!(head.contains("lambda-runtime-aws-request-id: r1"));
    assert!(sub.delivered.await.is_ok());
}

#[tokio::test]
async fn a_connection_goes_on_after_a_request_the_lean_loop_leaves_to_hyper() {
    let api = RuntimeApi::bind_loopback().await.unwrap();
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    let mut buf = Vec::new();
    let sub = api.submit(invocation("r1"));
    s.write_all(format!("GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (status, _, _) = read_answer(&mut s, &mut buf).await;
    assert_eq!(status, 200);
    // A chunked answer goes to hyper, followed on the same connection by a
    // /next in the same write.
    s.write_all(
        format!(
            "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\n\
             Transfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n\
             GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (status, _, _) = read_answer(&mut s, &mut buf).await;
    assert_eq!(status, 202);
    assert_eq!(
        sub.outcome.await.unwrap(),
        Outcome::Response(Bytes::from_static(b"[1,2]"))
    );
    let _sub = api.submit(invocation("r2"));
    let (status, head, _) = read_answer(&mut s, &mut buf).await;
    assert_eq!(status, 200);
    assert!(head.contains("lambda-runtime-aws-request-id: r2"));
}

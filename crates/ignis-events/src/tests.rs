//! The retry policy against a recording fake under paused time (delays in
//! virtual time, exact and instant), then against the real router with a
//! bash runtime: the request id in every attempt's log lines, and an Event
//! invocation that waits for memory.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use ignis_sandbox::process::ProcessSandbox;
use ignis_test_support::function;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Success,
    FunctionError,
    NoCapacity,
}

#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    request_id: Option<String>,
    answer: Answer,
}

/// Answers from a script (then success), and refuses with `NoCapacity`
/// while `full`; records every call.
#[derive(Default)]
struct Fake {
    script: Mutex<VecDeque<Answer>>,
    full: AtomicBool,
    freed: Notify,
    calls: Mutex<Vec<Call>>,
}

impl Fake {
    fn answering(script: &[Answer]) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.iter().copied().collect()),
            ..Self::default()
        })
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn free(&self) {
        self.full.store(false, Ordering::SeqCst);
        self.freed.notify_waiters();
    }
}

impl Target for Fake {
    fn invoke(
        &self,
        input: InvokeInput,
    ) -> impl Future<Output = Result<Completed, InvokeError>> + Send {
        let answer = if self.full.load(Ordering::SeqCst) {
            Answer::NoCapacity
        } else {
            let next = self.script.lock().unwrap().pop_front();
            next.unwrap_or(Answer::Success)
        };
        self.calls.lock().unwrap().push(Call {
            at: Instant::now(),
            request_id: input.request_id.clone(),
            answer,
        });
        let result = match answer {
            Answer::NoCapacity => Err(InvokeError::NoCapacity),
            _ => Ok(Completed {
                request_id: input.request_id.unwrap_or_default(),
                payload: Bytes::from_static(b"{}"),
                function_error: answer == Answer::FunctionError,
                log: Vec::new(),
                version: Default::default(),
            }),
        };
        std::future::ready(result)
    }

    fn capacity_freed(&self) -> impl Future<Output = ()> + Send {
        self.freed.notified()
    }
}

fn event(function: &str, payload: &'static str) -> InvokeInput {
    InvokeInput {
        function: function.into(),
        qualifier: None,
        payload: Bytes::from_static(payload.as_bytes()),
        client_context: None,
        invoked_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
        request_id: None,
        tail: false,
        trace_id: None,
    }
}

fn answers(calls: &[Call]) -> Vec<Answer> {
    calls.iter().map(|c| c.answer).collect()
}

fn gaps(calls: &[Call]) -> Vec<Duration> {
    calls.windows(2).map(|w| w[1].at - w[0].at).collect()
}

/// Lets every timer of the next `d` of virtual time fire.
async fn advance(d: Duration) {
    tokio::time::sleep(d).await;
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(start_paused = true)]
async fn a_function_error_is_retried_twice_after_one_then_two_minutes() {
    use Answer::FunctionError as E;
    let fake = Fake::answering(&[E, E, E, E, E]);
    let queue = AsyncInvoker::start(fake.clone(), AsyncConfig::default());
    let started = Instant::now();
    let id = queue.enqueue(event("f", "{}")).unwrap();
    advance(HOUR).await;
    let calls = fake.calls();
    assert_eq!(answers(&calls), [E, E, E], "three attempts, then no more");
    assert_eq!(calls[0].at, started, "the first attempt runs at once");
    // Virtual time: each retry fires exactly when its delay has passed.
    assert_eq!(
        gaps(&calls),
        [Duration::from_secs(60), Duration::from_secs(120)]
    );
    for call in &calls {
        assert_eq!(call.request_id.as_deref(), Some(id.as_str()));
    }
}

#[tokio::test(start_paused = true)]
async fn configured_delays_are_taken_in_order_and_their_count_is_the_retries() {
    use Answer::FunctionError as E;
    let fake = Fake::answering(&[E; 10]);
    let delays = [30, 5, 1].map(Duration::from_secs);
    let config = AsyncConfig {
        retry_delays: delays.to_vec(),
        ..AsyncConfig::default()
    };
    let queue = AsyncInvoker::start(fake.clone(), config);
    queue.enqueue(event("f", "{}")).unwrap();
    advance(HOUR).await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(gaps(&calls), delays);
}

#[tokio::test(start_paused = true)]
async fn a_success_stops_the_retries() {
    use Answer::{FunctionError as E, Success as S};
    let fake = Fake::answering(&[E]);
    let queue = AsyncInvoker::start(fake.clone(), AsyncConfig::default());
    queue.enqueue(event("f", "{}")).unwrap();
    advance(HOUR).await;
    let calls = fake.calls();
    assert_eq!(answers(&calls), [E, S]);
    assert_eq!(gaps(&calls), [Duration::from_secs(60)]);

    // A first success is the only attempt.
    let fake = Fake::answering(&[]);
    let queue = AsyncInvoker::start(fake.clone(), AsyncConfig::default());
    queue.enqueue(event("f", "{}")).unwrap();
    advance(HOUR).await;
    assert_eq!(answers(&fake.calls()), [S]);
}

#[tokio::test(start_paused = true)]
async fn an_invocation_without_memory_waits_in_the_queue_and_runs_once_freed() {
    let fake = Fake::answering(&[]);
    fake.full.store(true, Ordering::SeqCst);
    let queue = AsyncInvoker::start(fake.clone(), AsyncConfig::default());
    let id = queue.enqueue(event("f", "{}")).unwrap();
    // Far longer than every retry delay together: still waiting, not
    // dropped, and no attempt has run the function.
    advance(HOUR).await;
    let waiting = fake.calls();
    assert!(waiting.len() > 1, "it kept asking for memory");
    assert!(waiting.iter().all(|c| c.answer == Answer::NoCapacity));

    let freed_at = Instant::now();
    fake.free();
    advance(HOUR).await;
    let ran: Vec<Call> = fake.calls().split_off(waiting.len());
    assert_eq!(answers(&ran), [Answer::Success], "one run, no retries");
    // Woken by the release, not by a retry delay.
    assert!(ran[0].at - freed_at <= AsyncConfig::default().capacity_recheck);
    assert_eq!(ran[0].request_id.as_deref(), Some(id.as_str()));
}

#[tokio::test(start_paused = true)]
async fn an_invocation_that_cannot_run_at_all_is_dropped_not_retried() {
    #[derive(Default)]
    struct Gone(std::sync::atomic::AtomicUsize);
    impl Target for Gone {
        fn invoke(
            &self,
            input: InvokeInput,
        ) -> impl Future<Output = Result<Completed, InvokeError>> + Send {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Err(InvokeError::NotFound(input.function)))
        }
        fn capacity_freed(&self) -> impl Future<Output = ()> + Send {
            std::future::ready(())
        }
    }
    let gone = Arc::new(Gone::default());
    let queue = AsyncInvoker::start(gone.clone(), AsyncConfig::default());
    queue.enqueue(event("f", "{}")).unwrap();
    advance(HOUR).await;
    assert_eq!(gone.0.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_request_id_given_with_the_input_is_kept() {
    let fake = Fake::answering(&[]);
    let queue = AsyncInvoker::start(fake.clone(), AsyncConfig::default());
    let mut input = event("f", "{}");
    input.request_id = Some("given".into());
    assert_eq!(queue.enqueue(input).unwrap(), "given");
    let other = queue.enqueue(event("f", "{}")).unwrap();
    assert_ne!(other, "given");
    advance(HOUR).await;
    let mut ids: Vec<_> = fake
        .calls()
        .into_iter()
        .filter_map(|c| c.request_id)
        .collect();
    ids.sort();
    let mut want = vec!["given".to_string(), other];
    want.sort();
    assert_eq!(ids, want);
}

/// A bash runtime speaking the Runtime API through /dev/tcp: fails when
/// the event says `fail`, outlives its 2 s timeout on `sleep`, else
/// answers.
const RUNTIME: &str = r#"#!/bin/bash
set -u
host=${AWS_LAMBDA_RUNTIME_API%:*}; port=${AWS_LAMBDA_RUNTIME_API#*:}
req() {
  exec 3<>/dev/tcp/$host/$port
  printf '%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$1" "$2" "${#3}" "$3" >&3
  cat <&3; exec 3>&-
}
while true; do
  resp=$(req GET /2018-06-01/runtime/invocation/next "")
  id=$(printf '%s' "$resp" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  body=${resp##*$'\r\n\r\n'}
  echo "attempt of $id"
  case "$body" in
    *fail*) req POST /2018-06-01/runtime/invocation/$id/error '{"errorMessage":"boom","errorType":"Boom"}' >/dev/null; continue ;;
    *sleep*) sleep 10 ;;
  esac
  req POST /2018-06-01/runtime/invocation/$id/response '{"ok":true}' >/dev/null
done
"#;

/// A router with one 128 MB function `f` (2 s timeout) and a node budget of
/// 128 MB: one environment at a time.
fn router(dir: &Path) -> Arc<Router> {
    ignis_router::testing::script_router(
        dir,
        RUNTIME,
        128,
        Arc::new(ProcessSandbox),
        function("f").timeout(2).memory(128).build(),
    )
}

/// The function's log lines once `done` holds for them (bounded, so a
/// broken queue fails the test instead of hanging it).
async fn log_until(router: &Router, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let logs = router.logs().function("f");
    let mut lines = Vec::new();
    let mut after = 0;
    for _ in 0..120 {
        let page = logs.read(after, 0, 1000, Duration::from_millis(500)).await;
        after = page.next_seq;
        lines.extend(page.events.into_iter().map(|e| e.message));
        if done(&lines) {
            return lines;
        }
    }
    panic!("gave up waiting; log so far:\n{}", lines.join("\n"));
}

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

#[tokio::test]
async fn every_attempt_logs_under_the_same_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let config = AsyncConfig {
        retry_delays: vec![Duration::ZERO, Duration::ZERO],
        ..AsyncConfig::default()
    };
    let queue = AsyncInvoker::start(router.clone(), config);
    let id = queue.enqueue(event("f", r#"{"fail":true}"#)).unwrap();
    let lines = log_until(&router, |l| count(l, "REPORT RequestId:") == 3).await;
    // Nothing more comes: retries are exhausted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = router
        .logs()
        .function("f")
        .read(0, 0, 1000, Duration::ZERO)
        .await;
    assert_eq!(later.events.len(), lines.len(), "{}", lines.join("\n"));
    for prefix in ["START RequestId:", "END RequestId:", "REPORT RequestId:"] {
        let with_id = format!("{prefix} {id}");
        assert_eq!(count(&lines, prefix), 3, "{}", lines.join("\n"));
        assert_eq!(count(&lines, &with_id), 3, "{}", lines.join("\n"));
    }
    assert_eq!(count(&lines, &format!("attempt of {id}")), 3);
    router.shutdown();
}

#[tokio::test]
async fn an_event_waits_for_memory_held_by_a_busy_environment() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let queue = AsyncInvoker::start(router.clone(), AsyncConfig::default());
    // A synchronous invocation holds the whole budget until its timeout.
    let busy = tokio::spawn({
        let router = router.clone();
        async move { router.invoke(event("f", r#"{"sleep":true}"#)).await }
    });
    log_until(&router, |l| count(l, "attempt of") == 1).await;
    assert!(matches!(
        router.invoke(event("f", "{}")).await,
        Err(InvokeError::NoCapacity)
    ));
    let id = queue.enqueue(event("f", "{}")).unwrap();
    let lines = log_until(&router, |l| count(l, "REPORT RequestId:") == 2).await;
    let timed_out = busy.await.unwrap().unwrap();
    assert!(timed_out.function_error);
    let event_report = format!("REPORT RequestId: {id}");
    let report = lines
        .iter()
        .find(|l| l.starts_with(&event_report))
        .unwrap_or_else(|| panic!("{}", lines.join("\n")));
    assert!(!report.contains("Status: error"), "{report}");
    assert_eq!(count(&lines, &format!("START RequestId: {id}")), 1);
    router.shutdown();
}

/// Holds every attempt until released; counts the attempts started.
#[derive(Default)]
struct Held {
    started: std::sync::atomic::AtomicUsize,
    began: Notify,
    release: Notify,
}

impl Target for Held {
    fn invoke(
        &self,
        input: InvokeInput,
    ) -> impl Future<Output = Result<Completed, InvokeError>> + Send {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.began.notify_one();
        let release = self.release.notified();
        async move {
            release.await;
            Ok(Completed {
                request_id: input.request_id.unwrap_or_default(),
                payload: Bytes::from_static(b"{}"),
                function_error: false,
                log: Vec::new(),
                version: Default::default(),
            })
        }
    }

    fn capacity_freed(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

#[tokio::test]
async fn drain_waits_for_running_attempts_and_starts_no_more() {
    let target = Arc::new(Held::default());
    let queue = AsyncInvoker::start(target.clone(), AsyncConfig::default());
    queue.enqueue(event("f", "{}")).unwrap();
    target.began.notified().await;
    let draining = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.drain().await })
    };
    // The running attempt holds the drain; one queued now never starts.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !draining.is_finished(),
        "drain returned with an attempt running"
    );
    let _ = queue.enqueue(event("f", "{}"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    target.release.notify_waiters();
    tokio::time::timeout(Duration::from_secs(5), draining)
        .await
        .expect("drain ends once the attempt has")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(target.started.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn drain_does_not_wait_for_invocations_waiting_for_memory() {
    let target = Fake::answering(&[]);
    target.full.store(true, Ordering::SeqCst);
    let queue = AsyncInvoker::start(target.clone(), AsyncConfig::default());
    queue.enqueue(event("f", "{}")).unwrap();
    for _ in 0..100 {
        if !target.calls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!target.calls().is_empty(), "the attempt found no capacity");
    tokio::time::timeout(Duration::from_secs(5), queue.drain())
        .await
        .expect("a queued invocation that never started does not hold the drain");
    assert!(target
        .calls()
        .iter()
        .all(|c| c.answer == Answer::NoCapacity));
}

//! The dispatcher's policy against a recording fake under paused time
//! (delays in virtual time, exact and instant) over a real SQLite queue,
//! then against the real router with a bash runtime: the request id in
//! every attempt's log lines, and an Event invocation that waits for
//! memory.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use ignis_sandbox::process::ProcessSandbox;
use ignis_store::SqliteStore;
use ignis_test_support::function;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::*;
use crate::config::EVENT_INVOKE_CONFIG;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Success,
    FunctionError,
    NoCapacity,
}

#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    function: String,
    request_id: Option<String>,
    payload: Bytes,
    answer: Answer,
}

/// Answers function `f` from a script (then success), anything else with
/// success, and refuses with `NoCapacity` while `full`; records every call.
#[derive(Default)]
struct Fake {
    script: Mutex<VecDeque<Answer>>,
    full: AtomicBool,
    /// Functions refused with `NoCapacity` (their concurrency is taken).
    blocked: Mutex<Vec<String>>,
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

    /// The calls of function `name`.
    fn calls_of(&self, name: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.function == name)
            .collect()
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
        let blocked = self.blocked.lock().unwrap().contains(&input.function);
        let answer = if blocked || self.full.load(Ordering::SeqCst) {
            Answer::NoCapacity
        } else if input.function == "f" {
            let next = self.script.lock().unwrap().pop_front();
            next.unwrap_or(Answer::Success)
        } else {
            Answer::Success
        };
        self.calls.lock().unwrap().push(Call {
            at: Instant::now(),
            function: input.function.clone(),
            request_id: input.request_id.clone(),
            payload: input.payload.clone(),
            answer,
        });
        let result = match answer {
            Answer::NoCapacity => Err(InvokeError::NoCapacity),
            Answer::FunctionError => Ok(completed(
                &input,
                br#"{"errorMessage":"boom","errorType":"Boom"}"#,
                true,
            )),
            Answer::Success => Ok(completed(&input, br#"{"ok":true}"#, false)),
        };
        std::future::ready(result)
    }

    fn capacity_freed(&self) -> impl Future<Output = ()> + Send {
        self.freed.notified()
    }
}

fn completed(input: &InvokeInput, payload: &'static [u8], function_error: bool) -> Completed {
    Completed {
        request_id: input.request_id.clone().unwrap_or_default(),
        payload: Bytes::from_static(payload),
        function_error,
        log: Vec::new(),
        version: Default::default(),
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
const DEST: &str = "arn:aws:lambda:us-east-1:000000000000:function:dest";

/// A store in a temporary directory with functions `f` and `dest`.
async fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in(dir.path()).unwrap());
    for name in ["f", "dest"] {
        store
            .create_function(&function(name).build())
            .await
            .unwrap();
    }
    (dir, store)
}

/// Stores `f`'s event invoke configuration.
async fn configure(store: &SqliteStore, json: &str) {
    let doc = json.to_owned();
    store
        .edit_setting(
            "f",
            "",
            EVENT_INVOKE_CONFIG,
            Box::new(move |_| Ok(Some(doc))),
        )
        .await
        .unwrap();
}

fn start(fake: &Arc<Fake>, store: &Arc<SqliteStore>, config: AsyncConfig) -> AsyncInvoker {
    AsyncInvoker::start(fake.clone(), store.clone(), config)
}

/// The records delivered to `dest` (the attempts that ran), parsed.
fn records(fake: &Fake) -> Vec<serde_json::Value> {
    fake.calls_of("dest")
        .iter()
        .filter(|c| c.answer == Answer::Success)
        .map(|c| serde_json::from_slice(&c.payload).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_function_error_is_retried_twice_after_one_then_two_minutes() {
    use Answer::FunctionError as E;
    let (_dir, store) = store().await;
    let fake = Fake::answering(&[E, E, E, E, E]);
    let queue = start(&fake, &store, AsyncConfig::default());
    let started = Instant::now();
    let id = queue.enqueue(event("f", "{}")).await.unwrap();
    advance(HOUR).await;
    let calls = fake.calls();
    assert_eq!(answers(&calls), [E, E, E], "three attempts, then no more");
    assert!(
        calls[0].at - started < Duration::from_millis(10),
        "the first attempt runs at once"
    );
    // Virtual time: each retry fires exactly when its delay has passed.
    assert_eq!(
        gaps(&calls),
        [Duration::from_secs(60), Duration::from_secs(120)]
    );
    for call in &calls {
        assert_eq!(call.request_id.as_deref(), Some(id.as_str()));
    }
    assert_eq!(
        store.event_queue_stats("f").await.unwrap().depth,
        0,
        "done: gone from the queue"
    );
}

#[tokio::test(start_paused = true)]
async fn maximum_retry_attempts_and_configured_delays_are_obeyed() {
    use Answer::FunctionError as E;
    let (_dir, store) = store().await;
    configure(&store, r#"{"MaximumRetryAttempts":1,"LastModified":0}"#).await;
    let fake = Fake::answering(&[E; 10]);
    let config = AsyncConfig {
        retry_delays: vec![Duration::from_millis(100), Duration::from_millis(200)],
        ..AsyncConfig::default()
    };
    let queue = start(&fake, &store, config);
    queue.enqueue(event("f", "{}")).await.unwrap();
    advance(HOUR).await;
    let calls = fake.calls();
    assert_eq!(answers(&calls), [E, E], "one retry");
    assert_eq!(gaps(&calls), [Duration::from_millis(100)]);

    // None at all.
    configure(&store, r#"{"MaximumRetryAttempts":0,"LastModified":0}"#).await;
    queue.enqueue(event("f", "{}")).await.unwrap();
    advance(HOUR).await;
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_success_stops_the_retries_and_goes_to_on_success() {
    use Answer::{FunctionError as E, Success as S};
    let (_dir, store) = store().await;
    configure(
        &store,
        &format!(r#"{{"DestinationConfig":{{"OnSuccess":{{"Destination":"{DEST}"}},"OnFailure":{{}}}},"LastModified":0}}"#),
    )
    .await;
    let fake = Fake::answering(&[E]);
    let queue = start(&fake, &store, AsyncConfig::default());
    let id = queue.enqueue(event("f", r#"{"n": 7}"#)).await.unwrap();
    advance(HOUR).await;
    let calls = fake.calls_of("f");
    assert_eq!(answers(&calls), [E, S]);
    assert_eq!(gaps(&calls), [Duration::from_secs(60)]);
    let records = records(&fake);
    assert_eq!(records.len(), 1, "one record");
    let r = &records[0];
    assert_eq!(r["version"], "1.0");
    assert_eq!(r["requestContext"]["requestId"], id.as_str());
    assert_eq!(r["requestContext"]["condition"], "Success");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(
        r["requestContext"]["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
    );
    assert_eq!(r["requestPayload"], serde_json::json!({"n": 7}));
    assert_eq!(r["responseContext"]["statusCode"], 200);
    assert_eq!(r["responsePayload"], serde_json::json!({"ok": true}));
    assert!(fake.calls_of("dest")[0].request_id.as_deref() != Some(id.as_str()));
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_go_to_on_failure_with_the_last_error() {
    use Answer::FunctionError as E;
    let (_dir, store) = store().await;
    configure(
        &store,
        &format!(r#"{{"DestinationConfig":{{"OnSuccess":{{"Destination":"{DEST}"}},"OnFailure":{{"Destination":"{DEST}:live"}}}},"LastModified":0}}"#),
    )
    .await;
    let fake = Fake::answering(&[E; 3]);
    let queue = start(&fake, &store, AsyncConfig::default());
    queue.enqueue(event("f", "[1]")).await.unwrap();
    advance(HOUR).await;
    assert_eq!(fake.calls_of("f").len(), 3);
    let records = records(&fake);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(r["responseContext"]["functionError"], "Unhandled");
    assert_eq!(r["responsePayload"]["errorType"], "Boom");
    assert_eq!(r["requestPayload"], serde_json::json!([1]));
}

#[tokio::test(start_paused = true)]
async fn an_event_too_old_to_run_goes_to_on_failure_unrun() {
    let (_dir, store) = store().await;
    configure(
        &store,
        &format!(r#"{{"MaximumEventAgeInSeconds":60,"DestinationConfig":{{"OnFailure":{{"Destination":"{DEST}"}}}},"LastModified":0}}"#),
    )
    .await;
    let fake = Fake::answering(&[]);
    fake.full.store(true, Ordering::SeqCst);
    let queue = start(&fake, &store, AsyncConfig::default());
    queue.enqueue(event("f", "{}")).await.unwrap();
    advance(Duration::from_secs(61)).await;
    fake.free();
    advance(HOUR).await;
    let calls = fake.calls_of("f");
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c.answer == Answer::NoCapacity),
        "never ran"
    );
    let records = records(&fake);
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]["requestContext"]["condition"],
        "EventAgeExceeded"
    );
    assert_eq!(records[0]["requestContext"]["approximateInvokeCount"], 0);
    assert!(records[0].get("responsePayload").is_none());
}

#[tokio::test(start_paused = true)]
async fn without_a_sink_a_queue_destination_is_not_delivered_and_the_event_is_done() {
    let (_dir, store) = store().await;
    configure(
        &store,
        r#"{"DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q"}},"LastModified":0}"#,
    )
    .await;
    let fake = Fake::answering(&[]);
    let queue = start(&fake, &store, AsyncConfig::default());
    queue.enqueue(event("f", "{}")).await.unwrap();
    advance(HOUR).await;
    assert_eq!(fake.calls().len(), 1);
    assert_eq!(store.event_queue_stats("f").await.unwrap().depth, 0);
}

/// Records what it is given; refuses ARNs of topics.
#[derive(Default)]
struct RecordingSink {
    got: Mutex<Vec<(String, SinkMessage)>>,
}

impl Sink for RecordingSink {
    fn deliver<'a>(&'a self, arn: &'a str, message: SinkMessage) -> Delivery<'a> {
        Box::pin(async move {
            if arn.contains(":sns:") {
                return Err(SinkError::Missing(arn.to_owned()));
            }
            self.got.lock().unwrap().push((arn.to_owned(), message));
            Ok(())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_queue_destination_gets_the_invocation_record_through_the_sink() {
    let (_dir, store) = store().await;
    configure(
        &store,
        r#"{"MaximumRetryAttempts":0,"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q"}},"LastModified":0}"#,
    )
    .await;
    let fake = Fake::answering(&[Answer::FunctionError]);
    let queue = start(&fake, &store, AsyncConfig::default());
    let sink = Arc::new(RecordingSink::default());
    queue.set_sink(sink.clone());
    let id = queue.enqueue(event("f", r#"{"n":1}"#)).await.unwrap();
    advance(HOUR).await;
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "arn:aws:sqs:us-east-1:000000000000:q");
    let record: serde_json::Value = serde_json::from_str(&got[0].1.body).unwrap();
    assert_eq!(record["requestContext"]["requestId"], id.as_str());
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestPayload"]["n"], 1);
    assert_eq!(record["responsePayload"]["errorMessage"], "boom");
    assert_eq!(store.event_queue_stats("f").await.unwrap().depth, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_event_goes_to_the_dead_letter_queue_with_lambdas_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in(dir.path()).unwrap());
    let mut f = function("f").build();
    f.dead_letter_target_arn = Some("arn:aws:sqs:us-east-1:000000000000:dlq".into());
    store.create_function(&f).await.unwrap();
    configure(&store, r#"{"MaximumRetryAttempts":0,"LastModified":0}"#).await;
    let fake = Fake::answering(&[Answer::FunctionError]);
    let queue = start(&fake, &store, AsyncConfig::default());
    let sink = Arc::new(RecordingSink::default());
    queue.set_sink(sink.clone());
    let id = queue.enqueue(event("f", r#"{"n":2}"#)).await.unwrap();
    advance(HOUR).await;
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (arn, message) = &got[0];
    assert_eq!(arn, "arn:aws:sqs:us-east-1:000000000000:dlq");
    assert_eq!(message.body, r#"{"n":2}"#, "the event itself");
    assert_eq!(
        message.attributes,
        vec![
            ("RequestID".to_owned(), "String", id),
            ("ErrorCode".to_owned(), "Number", "200".to_owned()),
            ("ErrorMessage".to_owned(), "String", "boom".to_owned()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_delivery_is_dropped_and_the_event_is_done() {
    let (_dir, store) = store().await;
    configure(
        &store,
        r#"{"DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:sns:us-east-1:000000000000:gone"}},"LastModified":0}"#,
    )
    .await;
    let fake = Fake::answering(&[]);
    let queue = start(&fake, &store, AsyncConfig::default());
    let sink = Arc::new(RecordingSink::default());
    queue.set_sink(sink.clone());
    queue.enqueue(event("f", "{}")).await.unwrap();
    advance(HOUR).await;
    assert_eq!(fake.calls().len(), 1);
    assert!(sink.got.lock().unwrap().is_empty());
    assert_eq!(store.event_queue_stats("f").await.unwrap().depth, 0);
}

#[tokio::test(start_paused = true)]
async fn an_invocation_without_memory_waits_in_the_queue_and_runs_once_freed() {
    let (_dir, store) = store().await;
    let fake = Fake::answering(&[]);
    fake.full.store(true, Ordering::SeqCst);
    let queue = start(&fake, &store, AsyncConfig::default());
    let id = queue.enqueue(event("f", "{}")).await.unwrap();
    // Far longer than every retry delay together: still waiting, not
    // dropped, and no attempt has run the function.
    advance(HOUR).await;
    let (stats, age) = queue.stats("f").await.unwrap();
    assert_eq!((stats.depth, stats.claimed), (1, 1));
    assert!(age.unwrap() >= HOUR);
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
async fn a_throttled_backlog_does_not_hold_up_other_functions() {
    let (_dir, store) = store().await;
    store.create_function(&function("g").build()).await.unwrap();
    let fake = Fake::answering(&[]);
    fake.blocked.lock().unwrap().push("f".into());
    let config = AsyncConfig {
        concurrency: 4,
        ..AsyncConfig::default()
    };
    let queue = start(&fake, &store, config.clone());
    for _ in 0..50 {
        queue.enqueue(event("f", "{}")).await.unwrap();
    }
    advance(Duration::from_secs(2)).await;
    let g = queue.enqueue(event("g", "{}")).await.unwrap();
    advance(Duration::from_secs(10)).await;
    let ran: Vec<_> = fake.calls_of("g");
    assert_eq!(
        answers(&ran),
        [Answer::Success],
        "g ran despite f's backlog"
    );
    assert_eq!(ran[0].request_id.as_deref(), Some(g.as_str()));
    // At most `max_waiting_per_function` of f's hold a claim; the rest
    // wait in the queue, and none has run.
    let stats = store.event_queue_stats("f").await.unwrap();
    assert_eq!(stats.depth, 50);
    assert!(
        stats.claimed <= config.max_waiting_per_function as u64 + 4,
        "{stats:?}"
    );
    assert!(fake
        .calls_of("f")
        .iter()
        .all(|c| c.answer == Answer::NoCapacity));

    // Once f may run, every one of its events does, once.
    fake.blocked.lock().unwrap().clear();
    fake.freed.notify_waiters();
    advance(Duration::from_secs(60)).await;
    let succeeded = fake
        .calls_of("f")
        .iter()
        .filter(|c| c.answer == Answer::Success)
        .count();
    assert_eq!(succeeded, 50);
    assert_eq!(store.event_queue_stats("f").await.unwrap().depth, 0);
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
    let (_dir, store) = store().await;
    let gone = Arc::new(Gone::default());
    let queue = AsyncInvoker::start(gone.clone(), store.clone(), AsyncConfig::default());
    queue.enqueue(event("f", "{}")).await.unwrap();
    advance(HOUR).await;
    assert_eq!(gone.0.load(Ordering::SeqCst), 1);
    assert_eq!(store.event_queue_stats("f").await.unwrap().depth, 0);
}

#[tokio::test(start_paused = true)]
async fn a_request_id_given_with_the_input_is_kept() {
    let (_dir, store) = store().await;
    let fake = Fake::answering(&[]);
    let queue = start(&fake, &store, AsyncConfig::default());
    let mut input = event("f", "{}");
    input.request_id = Some("given".into());
    assert_eq!(queue.enqueue(input).await.unwrap(), "given");
    let other = queue.enqueue(event("f", "{}")).await.unwrap();
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

#[tokio::test(start_paused = true)]
async fn events_left_claimed_by_a_killed_process_run_again_at_start_up() {
    let (_dir, store) = store().await;
    // A process that claimed two events (one with a retry counted) and died.
    for (id, attempts) in [("a", 0), ("b", 1)] {
        let e = ignis_store::QueuedEvent {
            id: 0,
            function: "f".into(),
            qualifier: None,
            request_id: id.into(),
            invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            payload: b"{}".to_vec(),
            client_context: None,
            trace_id: None,
            attempts,
            enqueued_ms: Clock::new().now_ms(),
            not_before_ms: 0,
        };
        store.enqueue_event(&e).await.unwrap();
    }
    assert_eq!(
        store
            .claim_events("dead", 0, i64::MAX, 10, usize::MAX, &[])
            .await
            .unwrap()
            .len(),
        2
    );
    configure(
        &store,
        &format!(
            r#"{{"DestinationConfig":{{"OnSuccess":{{"Destination":"{DEST}"}}}},"LastModified":0}}"#
        ),
    )
    .await;
    let fake = Fake::answering(&[]);
    let _queue = start(&fake, &store, AsyncConfig::default());
    advance(Duration::from_secs(1)).await;
    let mut ran: Vec<_> = fake
        .calls_of("f")
        .into_iter()
        .filter_map(|c| c.request_id)
        .collect();
    ran.sort();
    assert_eq!(ran, ["a", "b"]);
    let mut counts: Vec<_> = records(&fake)
        .iter()
        .map(|r| {
            r["requestContext"]["approximateInvokeCount"]
                .as_u64()
                .unwrap()
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [1, 2],
        "the attempt counted before the kill is kept"
    );
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
    let (_store_dir, store) = store().await;
    let queue = AsyncInvoker::start(router.clone(), store, config);
    let id = queue.enqueue(event("f", r#"{"fail":true}"#)).await.unwrap();
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
    let (_store_dir, store) = store().await;
    let queue = AsyncInvoker::start(router.clone(), store, AsyncConfig::default());
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
    let id = queue.enqueue(event("f", "{}")).await.unwrap();
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
async fn drain_waits_for_running_attempts_and_leaves_the_rest_queued() {
    let (_dir, store) = store().await;
    let target = Arc::new(Held::default());
    let config = AsyncConfig {
        concurrency: 1,
        ..AsyncConfig::default()
    };
    let queue = AsyncInvoker::start(target.clone(), store.clone(), config);
    queue.enqueue(event("f", "{}")).await.unwrap();
    target.began.notified().await;
    // One slot, taken: this one waits in the store.
    queue.enqueue(event("f", "{}")).await.unwrap();
    let draining = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.drain().await })
    };
    // The running attempt holds the drain.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !draining.is_finished(),
        "drain returned with an attempt running"
    );
    assert!(matches!(
        queue.enqueue(event("f", "{}")).await,
        Err(EnqueueError::Closed)
    ));
    target.release.notify_waiters();
    tokio::time::timeout(Duration::from_secs(5), draining)
        .await
        .expect("drain ends once the attempt has")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(target.started.load(Ordering::SeqCst), 1);
    let stats = store.event_queue_stats("f").await.unwrap();
    assert_eq!(
        (stats.depth, stats.claimed),
        (1, 0),
        "kept for the next start"
    );
}

#[tokio::test]
async fn drain_does_not_wait_for_invocations_waiting_for_memory_and_releases_them() {
    let (_dir, store) = store().await;
    let target = Fake::answering(&[]);
    target.full.store(true, Ordering::SeqCst);
    let queue = AsyncInvoker::start(target.clone(), store.clone(), AsyncConfig::default());
    queue.enqueue(event("f", "{}")).await.unwrap();
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
    let stats = store.event_queue_stats("f").await.unwrap();
    assert_eq!(
        (stats.depth, stats.claimed),
        (1, 0),
        "back in the queue, unclaimed"
    );
}

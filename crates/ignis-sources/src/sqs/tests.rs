//! The poller against a recording in-memory queue and function.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ignis_router::{Completed, InvokeError, InvokeInput};
use ignis_sqs::{Delivered, EntryError, Receive, SqsError};
use tokio_util::sync::CancellationToken;

use super::poller::{run, Context, PollerConfig};
use super::{BoxFuture, Invoker, Queues};
use crate::mapping::{FunctionTarget, Mapping, NO_RECORDS, USER_INITIATED};
use crate::source::Source;
use crate::state::State;
use crate::wire::{Filter, FilterCriteria};

/// id, body, group, in flight.
type Stored = (String, String, Option<String>, bool);

#[derive(Default)]
struct Queue {
    messages: Mutex<Vec<Stored>>,
    deleted: Mutex<Vec<String>>,
}

impl Queue {
    fn with(bodies: &[(&str, Option<&str>)]) -> Arc<Self> {
        let q = Self::default();
        *q.messages.lock().unwrap() = bodies
            .iter()
            .enumerate()
            .map(|(i, (b, g))| {
                (
                    format!("m{i}"),
                    (*b).to_owned(),
                    g.map(str::to_owned),
                    false,
                )
            })
            .collect();
        Arc::new(q)
    }

    fn deleted(&self) -> Vec<String> {
        let mut d = self.deleted.lock().unwrap().clone();
        d.sort();
        d
    }
}

impl Queues for Queue {
    fn receive<'a>(
        &'a self,
        _: &'a str,
        r: Receive,
    ) -> BoxFuture<'a, Result<Vec<Delivered>, SqsError>> {
        Box::pin(async move {
            let got: Vec<Delivered> = {
                let mut all = self.messages.lock().unwrap();
                all.iter_mut()
                    .filter(|m| !m.3)
                    .take(r.max_messages as usize)
                    .map(|m| {
                        m.3 = true;
                        let mut attributes = BTreeMap::from([(
                            "ApproximateReceiveCount".to_owned(),
                            "1".to_owned(),
                        )]);
                        if let Some(g) = &m.2 {
                            attributes.insert("MessageGroupId".into(), g.clone());
                        }
                        Delivered {
                            message_id: m.0.clone(),
                            receipt_handle: format!("rh-{}", m.0),
                            body: m.1.clone(),
                            md5_of_body: "md5".into(),
                            md5_of_message_attributes: None,
                            message_attributes: BTreeMap::new(),
                            attributes,
                        }
                    })
                    .collect()
            };
            if got.is_empty() {
                // A long poll that finds nothing (dropped when cancelled).
                tokio::time::sleep(Duration::from_secs(r.wait_seconds.unwrap_or(0).into())).await;
            }
            Ok(got)
        })
    }

    fn delete<'a>(
        &'a self,
        _: &'a str,
        handles: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Result<(), EntryError>>, SqsError>> {
        Box::pin(async move {
            let mut all = self.messages.lock().unwrap();
            for h in handles {
                let id = h.trim_start_matches("rh-");
                all.retain(|m| m.0 != id);
                self.deleted.lock().unwrap().push(id.to_owned());
            }
            Ok(handles.iter().map(|_| Ok(())).collect())
        })
    }

    fn release<'a>(
        &'a self,
        _: &'a str,
        _: &'a [String],
        _: u32,
    ) -> BoxFuture<'a, Result<(), SqsError>> {
        Box::pin(async { Ok(()) })
    }
}

type Answer = dyn Fn(&serde_json::Value) -> (bool, String) + Send + Sync;

struct Function {
    events: Mutex<Vec<serde_json::Value>>,
    answer: Box<Answer>,
    /// How long each invocation runs.
    delay: Duration,
    active: AtomicUsize,
    peak: AtomicUsize,
    /// Refuse every invocation as the router does at a concurrency limit.
    throttled: bool,
}

impl Function {
    fn new(
        answer: impl Fn(&serde_json::Value) -> (bool, String) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            events: Mutex::default(),
            answer: Box::new(answer),
            delay: Duration::ZERO,
            active: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            throttled: false,
        })
    }

    fn ids(&self) -> Vec<Vec<String>> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                e["Records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["messageId"].as_str().unwrap().to_owned())
                    .collect()
            })
            .collect()
    }
}

impl Invoker for Function {
    fn invoke(&self, input: InvokeInput) -> BoxFuture<'_, Result<Completed, InvokeError>> {
        Box::pin(async move {
            if self.throttled {
                self.events.lock().unwrap().push(serde_json::Value::Null);
                return Err(InvokeError::Throttled(
                    "ReservedFunctionConcurrentInvocationLimitExceeded",
                ));
            }
            let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.active.fetch_sub(1, Ordering::SeqCst);
            let event: serde_json::Value = serde_json::from_slice(&input.payload).unwrap();
            let (function_error, payload) = (self.answer)(&event);
            self.events.lock().unwrap().push(event);
            Ok(Completed {
                request_id: input.request_id.unwrap_or_default(),
                payload: Bytes::from(payload),
                function_error,
                log: Vec::new(),
                version: ignis_model::Version::Latest,
            })
        })
    }

    fn capacity_freed(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }
}

fn mapping(fifo: bool) -> Mapping {
    Mapping {
        uuid: "u".into(),
        function: FunctionTarget {
            name: "f".into(),
            qualifier: None,
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        },
        event_source_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
        source: Source::Sqs {
            queue: "q".into(),
            fifo,
        },
        batch_size: 10,
        batching_window: 0,
        filter_criteria: None,
        report_batch_item_failures: false,
        scaling: None,
        destination: None,
        queues: None,
        source_access: None,
        kms_key_arn: None,
        metrics: None,
        tags: BTreeMap::new(),
        enabled: true,
        state: State::Enabled,
        state_reason: USER_INITIATED.into(),
        last_processing_result: NO_RECORDS.into(),
        last_modified_ms: 0,
        revision: 1,
    }
}

/// Runs the mapping until the queue holds nothing visible and `done`
/// says so, then cancels; the results reported.
async fn drive(
    queue: Arc<Queue>,
    function: Arc<Function>,
    m: Mapping,
    done: impl Fn(&Queue, &Function) -> bool,
) -> Vec<String> {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let ctx = Arc::new(Context {
        queues: queue.clone(),
        invoker: function.clone(),
        region: "us-east-1".into(),
        config: PollerConfig {
            initial: 1,
            long_poll: 20,
            throttle_patience: Duration::from_millis(100),
            error_backoff: Duration::from_millis(50),
            ..PollerConfig::default()
        },
        report: Arc::new(move |_: &Mapping, s: &str| {
            let mut r = r.lock().unwrap();
            if r.last().is_none_or(|l| l != s) {
                r.push(s.to_owned());
            }
        }),
    });
    let token = CancellationToken::new();
    let task = tokio::spawn(run(ctx, m, token.clone()));
    for _ in 0..500 {
        if done(&queue, &function) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Cancelling drops the 20-second long poll at once.
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the pollers stop when cancelled")
        .unwrap();
    let out = reports.lock().unwrap().clone();
    out
}

#[tokio::test]
async fn a_successful_batch_is_deleted() {
    let q = Queue::with(&[("a", None), ("b", None)]);
    let f = Function::new(|_| (false, "null".into()));
    let reports = drive(q.clone(), f.clone(), mapping(false), |q, _| {
        q.deleted().len() == 2
    })
    .await;
    assert_eq!(q.deleted(), ["m0", "m1"]);
    assert_eq!(f.ids(), [["m0", "m1"]]);
    assert_eq!(reports, ["OK"]);
}

#[tokio::test]
async fn a_failed_batch_stays_on_the_queue() {
    let q = Queue::with(&[("a", None), ("b", None)]);
    let f = Function::new(|_| (true, r#"{"errorMessage":"no"}"#.into()));
    let reports = drive(q.clone(), f.clone(), mapping(false), |_, f| {
        !f.ids().is_empty()
    })
    .await;
    assert!(q.deleted().is_empty());
    assert_eq!(reports, ["PROBLEM: Function call failed"]);
}

#[tokio::test]
async fn reported_item_failures_stay_and_the_rest_go() {
    let q = Queue::with(&[("a", None), ("b", None), ("c", None)]);
    let f = Function::new(|_| {
        (
            false,
            r#"{"batchItemFailures":[{"itemIdentifier":"m1"}]}"#.into(),
        )
    });
    let mut m = mapping(false);
    m.report_batch_item_failures = true;
    drive(q.clone(), f.clone(), m.clone(), |q, _| {
        q.deleted().len() == 2
    })
    .await;
    assert_eq!(q.deleted(), ["m0", "m2"]);

    // Without ReportBatchItemFailures the same answer is a success.
    let q = Queue::with(&[("a", None), ("b", None), ("c", None)]);
    drive(q.clone(), f.clone(), mapping(false), |q, _| {
        q.deleted().len() == 3
    })
    .await;
    assert_eq!(q.deleted(), ["m0", "m1", "m2"]);

    // A malformed answer fails the whole batch.
    let q = Queue::with(&[("a", None), ("b", None)]);
    let bad = Function::new(|_| {
        (
            false,
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#.into(),
        )
    });
    drive(q.clone(), bad.clone(), m, |_, f| !f.ids().is_empty()).await;
    assert!(q.deleted().is_empty());
}

#[tokio::test]
async fn fifo_failures_keep_the_rest_of_their_group() {
    let q = Queue::with(&[("a", Some("g")), ("b", Some("h")), ("c", Some("g"))]);
    let f = Function::new(|_| {
        (
            false,
            r#"{"batchItemFailures":[{"itemIdentifier":"m0"}]}"#.into(),
        )
    });
    let mut m = mapping(true);
    m.report_batch_item_failures = true;
    drive(q.clone(), f.clone(), m, |q, _| !q.deleted().is_empty()).await;
    assert_eq!(q.deleted(), ["m1"]);
}

#[tokio::test]
async fn messages_the_filters_refuse_are_deleted_without_an_invocation() {
    let q = Queue::with(&[
        (r#"{"kind":"keep"}"#, None),
        (r#"{"kind":"drop"}"#, None),
        ("plain", None),
    ]);
    let f = Function::new(|_| (false, "null".into()));
    let mut m = mapping(false);
    m.filter_criteria = Some(FilterCriteria {
        filters: Some(vec![Filter {
            pattern: Some(r#"{"body":{"kind":["keep"]}}"#.into()),
        }]),
    });
    drive(q.clone(), f.clone(), m, |q, _| q.deleted().len() == 3).await;
    assert_eq!(f.ids(), [["m0"]]);
    assert_eq!(q.deleted(), ["m0", "m1", "m2"]);
}

#[tokio::test]
async fn batches_gather_within_the_window_up_to_the_batch_size() {
    let bodies: Vec<(&str, Option<&str>)> = (0..25).map(|_| ("x", None)).collect();
    let q = Queue::with(&bodies);
    let f = Function::new(|_| (false, "null".into()));
    let mut m = mapping(false);
    m.batch_size = 20;
    m.batching_window = 1;
    drive(q.clone(), f.clone(), m, |q, _| q.deleted().len() == 25).await;
    let sizes: Vec<usize> = f.ids().iter().map(Vec::len).collect();
    assert_eq!(sizes, [20, 5]);
}

#[tokio::test]
async fn pollers_grow_with_the_backlog_up_to_maximum_concurrency() {
    let bodies: Vec<(&str, Option<&str>)> = (0..60).map(|_| ("x", None)).collect();
    let q = Queue::with(&bodies);
    let mut f = Function::new(|_| (false, "null".into()));
    Arc::get_mut(&mut f).unwrap().delay = Duration::from_millis(20);
    let mut m = mapping(false);
    m.batch_size = 1;
    m.scaling = Some(crate::wire::ScalingConfig {
        maximum_concurrency: Some(3),
    });
    drive(q.clone(), f.clone(), m, |q, _| q.deleted().len() == 60).await;
    assert_eq!(q.deleted().len(), 60);
    // Full receives added pollers, never past MaximumConcurrency.
    let peak = f.peak.load(Ordering::SeqCst);
    assert!((2..=3).contains(&peak), "peak concurrency {peak}");
}

#[tokio::test]
async fn a_throttled_batch_is_left_on_the_queue() {
    let q = Queue::with(&[("a", None), ("b", None)]);
    let mut f = Function::new(|_| (false, "null".into()));
    Arc::get_mut(&mut f).unwrap().throttled = true;
    let reports = drive(q.clone(), f.clone(), mapping(false), |_, f| {
        f.events.lock().unwrap().len() >= 2
    })
    .await;
    // Tried again while capacity might come back, then left.
    assert!(q.deleted().is_empty());
    assert_eq!(reports, ["PROBLEM: Function throttled"]);
}

//! The service and its engine over a real SQLite store, with time driven by
//! a manual clock: rates, a cron across a daylight-saving change, a restart
//! after a missed window, two engines on one store, one-time schedules,
//! retries and dead letters, and the API's refusals.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use ignis_scheduler::{
    Deliver, DeliveryError, ManualClock, Outgoing, Scheduler, SchedulerError, SchedulerOp,
};
use ignis_store::SqliteStore;
use serde_json::{json, Value};

const FUNCTION: &str = "arn:aws:lambda:us-east-1:000000000000:function:tick";
const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:q";
const DLQ: &str = "arn:aws:sqs:us-east-1:000000000000:dlq";
const ROLE: &str = "arn:aws:iam::000000000000:role/scheduler";

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Records what was delivered; fails functions whose name ends in `-missing`.
#[derive(Default)]
struct Recorder {
    invoked: Mutex<Vec<(String, String)>>,
    sent: Mutex<Vec<(String, Outgoing)>>,
}

#[async_trait::async_trait]
impl Deliver for Recorder {
    async fn invoke(&self, arn: &str, payload: String) -> Result<(), DeliveryError> {
        if arn.ends_with("-missing") {
            return Err(DeliveryError {
                code: "ResourceNotFoundException".into(),
                message: format!("Function not found: {arn}"),
                retryable: false,
            });
        }
        self.invoked.lock().unwrap().push((arn.into(), payload));
        Ok(())
    }

    async fn send(&self, arn: &str, message: Outgoing) -> Result<(), DeliveryError> {
        self.sent.lock().unwrap().push((arn.into(), message));
        Ok(())
    }
}

impl Recorder {
    fn invocations(&self) -> usize {
        self.invoked.lock().unwrap().len()
    }
}

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    scheduler: Scheduler,
    recorder: Arc<Recorder>,
    deliver: Arc<dyn Deliver>,
}

fn env(now: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in(dir.path()).unwrap());
    let clock = Arc::new(ManualClock::new(utc(now)));
    let scheduler = Scheduler::new(store.clone(), clock.clone(), "us-east-1", "000000000000");
    let recorder = Arc::new(Recorder::default());
    let deliver: Arc<dyn Deliver> = recorder.clone();
    Env {
        _dir: dir,
        store,
        clock,
        scheduler,
        recorder,
        deliver,
    }
}

fn body(expression: &str, extra: Value) -> Value {
    let mut body = json!({
        "ScheduleExpression": expression,
        "Target": {"Arn": FUNCTION, "RoleArn": ROLE, "Input": "{\"hello\":1}"},
        "FlexibleTimeWindow": {"Mode": "OFF"},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn create(s: &Scheduler, name: &str, body: Value) -> Result<Value, SchedulerError> {
    s.execute(SchedulerOp::CreateSchedule {
        name: name.into(),
        body,
    })
    .await
}

#[tokio::test]
async fn a_rate_of_one_minute_fires_once_a_minute() {
    let e = env("2026-01-01T10:00:00Z");
    create(
        &e.scheduler,
        "every-minute",
        body("rate(1 minute)", json!({})),
    )
    .await
    .unwrap();
    // Without a start date a rate runs at once.
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 1);
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 0);
    for _ in 0..10 {
        e.clock.advance(TimeDelta::seconds(30));
        e.scheduler.run_due(&e.deliver).await.unwrap();
        e.clock.advance(TimeDelta::seconds(30));
        e.scheduler.run_due(&e.deliver).await.unwrap();
    }
    assert_eq!(e.recorder.invocations(), 11);
    let invoked = e.recorder.invoked.lock().unwrap().clone();
    assert!(invoked
        .iter()
        .all(|(arn, payload)| arn == FUNCTION && payload == "{\"hello\":1}"));
}

#[tokio::test]
async fn a_cron_across_new_yorks_spring_forward_fires_at_the_documented_times() {
    // 02:30 every day in New York; 2026-03-08 has no 02:30.
    let e = env("2026-03-06T12:00:00Z");
    create(
        &e.scheduler,
        "half-past-two",
        body(
            "cron(30 2 * * ? *)",
            json!({"ScheduleExpressionTimezone": "America/New_York"}),
        ),
    )
    .await
    .unwrap();
    let mut fired_at = Vec::new();
    while e.clock.now_for_test() < utc("2026-03-11T00:00:00Z") {
        e.clock.advance(TimeDelta::minutes(1));
        let before = e.recorder.invocations();
        e.scheduler.run_due(&e.deliver).await.unwrap();
        if e.recorder.invocations() > before {
            fired_at.push(e.clock.now_for_test().to_rfc3339());
        }
    }
    assert_eq!(
        fired_at,
        [
            "2026-03-07T07:30:00+00:00", // 02:30 EST
            "2026-03-09T06:30:00+00:00", // 02:30 EDT; the 8th is skipped
            "2026-03-10T06:30:00+00:00",
        ]
    );
}

trait NowForTest {
    fn now_for_test(&self) -> DateTime<Utc>;
}

impl NowForTest for ManualClock {
    fn now_for_test(&self) -> DateTime<Utc> {
        ignis_scheduler::Clock::now(self)
    }
}

#[tokio::test]
async fn a_cron_in_the_repeated_hour_of_fall_back_fires_once() {
    let e = env("2026-10-31T12:00:00Z");
    create(
        &e.scheduler,
        "half-past-one",
        body(
            "cron(30 1 * * ? *)",
            json!({"ScheduleExpressionTimezone": "America/New_York"}),
        ),
    )
    .await
    .unwrap();
    e.clock.set(utc("2026-11-01T05:30:00Z")); // 01:30 EDT
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 1);
    e.clock.set(utc("2026-11-01T06:30:00Z")); // 01:30 EST: the same wall time
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 0);
    e.clock.set(utc("2026-11-02T06:30:00Z"));
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 1);
}

#[tokio::test]
async fn a_restart_after_a_missed_window_fires_once() {
    let e = env("2026-01-01T10:00:00Z");
    create(
        &e.scheduler,
        "every-minute",
        body("rate(1 minute)", json!({})),
    )
    .await
    .unwrap();
    e.scheduler.run_due(&e.deliver).await.unwrap();
    // The server is down for an hour; a new process on the same store.
    e.clock.advance(TimeDelta::hours(1));
    let restarted = Scheduler::new(
        e.store.clone(),
        e.clock.clone(),
        "us-east-1",
        "000000000000",
    );
    assert_eq!(restarted.run_due(&e.deliver).await.unwrap(), 1);
    assert_eq!(restarted.run_due(&e.deliver).await.unwrap(), 0);
    assert_eq!(e.recorder.invocations(), 2);
    // And on from there, once a minute.
    e.clock.advance(TimeDelta::minutes(1));
    assert_eq!(restarted.run_due(&e.deliver).await.unwrap(), 1);
}

#[tokio::test]
async fn a_tick_won_by_a_killed_process_is_delivered_once_at_the_next_start() {
    use ignis_store::schedules::Firing;
    use ignis_store::ScheduleStore;
    let e = env("2026-01-01T10:00:00Z");
    create(&e.scheduler, "killed", body("rate(1 minute)", json!({})))
        .await
        .unwrap();
    // A process wins the tick, then dies before delivering it.
    let row = e
        .store
        .schedule("default", "killed")
        .await
        .unwrap()
        .unwrap();
    let tick = row.next_tick_ms.unwrap();
    let arn = e.scheduler.schedule_arn("default", "killed");
    let firing = Firing {
        schedule_arn: arn.clone(),
        tick_ms: tick,
        definition: row.definition.clone(),
    };
    assert!(e
        .store
        .claim_tick(
            "default",
            "killed",
            tick,
            Some(tick + 60_000),
            false,
            &firing
        )
        .await
        .unwrap());
    assert_eq!(e.recorder.invocations(), 0);
    // The tick is won: no engine fires it again as due.
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 0);
    // The next start delivers it, once, and it is no longer pending.
    let restarted = Scheduler::new(
        e.store.clone(),
        e.clock.clone(),
        "us-east-1",
        "000000000000",
    );
    assert_eq!(restarted.resume_pending(&e.deliver).await.unwrap(), 1);
    assert_eq!(e.recorder.invocations(), 1);
    assert_eq!(restarted.resume_pending(&e.deliver).await.unwrap(), 0);
    assert_eq!(e.recorder.invocations(), 1);
    // A delivered tick leaves nothing pending either.
    e.clock.advance(TimeDelta::minutes(1));
    assert_eq!(restarted.run_due(&e.deliver).await.unwrap(), 1);
    assert!(e.store.pending_firings().await.unwrap().is_empty());
}

#[tokio::test]
async fn two_engines_on_one_store_fire_each_tick_once() {
    let e = env("2026-01-01T10:00:00Z");
    let other = Scheduler::new(
        e.store.clone(),
        e.clock.clone(),
        "us-east-1",
        "000000000000",
    );
    for i in 0..5 {
        create(
            &e.scheduler,
            &format!("s{i}"),
            body("rate(1 minute)", json!({})),
        )
        .await
        .unwrap();
    }
    for _ in 0..10 {
        let (a, b) = tokio::join!(e.scheduler.run_due(&e.deliver), other.run_due(&e.deliver));
        assert_eq!(a.unwrap() + b.unwrap(), 5);
        e.clock.advance(TimeDelta::minutes(1));
    }
    assert_eq!(e.recorder.invocations(), 50);
}

#[tokio::test]
async fn a_one_time_schedule_fires_once_and_deletes_itself() {
    let e = env("2026-01-01T10:00:00Z");
    create(
        &e.scheduler,
        "once",
        body(
            "at(2026-01-01T10:05:00)",
            json!({"ActionAfterCompletion": "DELETE", "Target": {"Arn": QUEUE, "RoleArn": ROLE, "Input": "hi", "SqsParameters": {"MessageGroupId": "g1"}}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 0);
    e.clock.set(utc("2026-01-01T10:05:00Z"));
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 1);
    let sent = e.recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, QUEUE);
    assert_eq!(sent[0].1.body, "hi");
    assert_eq!(sent[0].1.group_id.as_deref(), Some("g1"));
    let err = e
        .scheduler
        .execute(SchedulerOp::GetSchedule {
            name: "once".into(),
            group: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ResourceNotFoundException");
}

#[tokio::test]
async fn a_failed_delivery_goes_to_the_dead_letter_queue() {
    let e = env("2026-01-01T10:00:00Z");
    create(
        &e.scheduler,
        "to-nowhere",
        body(
            "at(2026-01-01T10:01:00)",
            json!({"Target": {"Arn": format!("{FUNCTION}-missing"), "RoleArn": ROLE,
                   "DeadLetterConfig": {"Arn": DLQ}}}),
        ),
    )
    .await
    .unwrap();
    e.clock.set(utc("2026-01-01T10:01:00Z"));
    e.scheduler.run_due(&e.deliver).await.unwrap();
    let sent = e.recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, DLQ);
    let attrs: std::collections::HashMap<_, _> = sent[0].1.attributes.iter().cloned().collect();
    assert_eq!(attrs["ERROR_CODE"], "ResourceNotFoundException");
    assert!(attrs["SCHEDULE_ARN"].ends_with(":schedule/default/to-nowhere"));
    // With ActionAfterCompletion NONE the spent schedule stays.
    let got = e
        .scheduler
        .execute(SchedulerOp::GetSchedule {
            name: "to-nowhere".into(),
            group: None,
        })
        .await
        .unwrap();
    assert_eq!(got["ActionAfterCompletion"], "NONE");
}

#[tokio::test]
async fn disabled_and_flexible_schedules() {
    let e = env("2026-01-01T10:00:00Z");
    create(
        &e.scheduler,
        "off",
        body("rate(1 minute)", json!({"State": "DISABLED"})),
    )
    .await
    .unwrap();
    create(
        &e.scheduler,
        "flex",
        body(
            "cron(0 11 * * ? *)",
            json!({"FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}}),
        ),
    )
    .await
    .unwrap();
    let mut fired_at = None;
    e.clock.set(utc("2026-01-01T10:59:00Z"));
    for _ in 0..20 {
        e.clock.advance(TimeDelta::minutes(1));
        if e.scheduler.run_due(&e.deliver).await.unwrap() > 0 {
            fired_at.get_or_insert(e.clock.now_for_test());
        }
    }
    let fired_at = fired_at.expect("the flexible schedule fired");
    assert!(fired_at >= utc("2026-01-01T11:00:00Z") && fired_at <= utc("2026-01-01T11:15:00Z"));
    assert_eq!(
        e.recorder.invocations(),
        1,
        "the disabled schedule did not fire"
    );
}

#[tokio::test]
async fn refusals() {
    let e = env("2026-01-01T10:00:00Z");
    let s = &e.scheduler;
    let err = create(s, "bad", body("cron(0 12 * * * *)", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ValidationException");
    assert_eq!(
        err.message(),
        "Invalid Schedule Expression cron(0 12 * * * *)."
    );
    let err = create(
        s,
        "bad",
        body(
            "rate(1 hour)",
            json!({"ScheduleExpressionTimezone": "Mars/Base"}),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "ValidationException");
    assert_eq!(
        err.message(),
        "Invalid ScheduleExpressionTimezone Mars/Base."
    );
    let err = create(s, "bad", body("rate(1 hour)", json!({"GroupName": "nope"})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ResourceNotFoundException");
    create(s, "dup", body("rate(1 hour)", json!({})))
        .await
        .unwrap();
    let err = create(s, "dup", body("rate(1 hour)", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ConflictException");
    let err = s
        .execute(SchedulerOp::DeleteScheduleGroup {
            name: "default".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ValidationException");
    // Nothing stored changed.
    let list = s
        .execute(SchedulerOp::ListSchedules {
            group: None,
            name_prefix: None,
            state: None,
            next_token: None,
            max_results: None,
        })
        .await
        .unwrap();
    assert_eq!(list["Schedules"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn groups_tags_and_listing() {
    let e = env("2026-01-01T10:00:00Z");
    let s = &e.scheduler;
    let arn = s
        .execute(SchedulerOp::CreateScheduleGroup {
            name: "team".into(),
            body: json!({"Tags": [{"Key": "k", "Value": "v"}]}),
        })
        .await
        .unwrap()["ScheduleGroupArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        arn,
        "arn:aws:scheduler:us-east-1:000000000000:schedule-group/team"
    );
    for name in ["a1", "a2", "b1"] {
        create(
            s,
            name,
            body("rate(5 minutes)", json!({"GroupName": "team"})),
        )
        .await
        .unwrap();
    }
    let page = s
        .execute(SchedulerOp::ListSchedules {
            group: Some("team".into()),
            name_prefix: Some("a".into()),
            state: None,
            next_token: None,
            max_results: Some("1".into()),
        })
        .await
        .unwrap();
    assert_eq!(page["Schedules"][0]["Name"], "a1");
    let token = page["NextToken"].as_str().unwrap().to_owned();
    let page = s
        .execute(SchedulerOp::ListSchedules {
            group: Some("team".into()),
            name_prefix: Some("a".into()),
            state: None,
            next_token: Some(token),
            max_results: Some("1".into()),
        })
        .await
        .unwrap();
    assert_eq!(page["Schedules"][0]["Name"], "a2");
    assert!(page.get("NextToken").is_none());
    s.execute(SchedulerOp::TagResource {
        arn: arn.clone(),
        body: json!({"Tags": [{"Key": "k2", "Value": "v2"}]}),
    })
    .await
    .unwrap();
    s.execute(SchedulerOp::UntagResource {
        arn: arn.clone(),
        keys: vec!["k".into()],
    })
    .await
    .unwrap();
    let tags = s
        .execute(SchedulerOp::ListTagsForResource { arn: arn.clone() })
        .await
        .unwrap();
    assert_eq!(tags, json!({"Tags": [{"Key": "k2", "Value": "v2"}]}));
    s.execute(SchedulerOp::DeleteScheduleGroup {
        name: "team".into(),
    })
    .await
    .unwrap();
    let err = s
        .execute(SchedulerOp::GetSchedule {
            name: "a1".into(),
            group: Some("team".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ResourceNotFoundException");
    let groups = s
        .execute(SchedulerOp::ListScheduleGroups {
            name_prefix: None,
            next_token: None,
            max_results: None,
        })
        .await
        .unwrap();
    assert_eq!(groups["ScheduleGroups"].as_array().unwrap().len(), 1);
    assert_eq!(groups["ScheduleGroups"][0]["Name"], "default");
}

/// Fails its first `failures` deliveries (retryably), then takes them.
struct Flaky {
    failures: Mutex<u32>,
    delivered: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Deliver for Flaky {
    async fn invoke(&self, arn: &str, _payload: String) -> Result<(), DeliveryError> {
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(DeliveryError {
                code: "ServiceUnavailable".into(),
                message: "try later".into(),
                retryable: true,
            });
        }
        self.delivered.lock().unwrap().push(arn.into());
        Ok(())
    }

    async fn send(&self, arn: &str, _message: Outgoing) -> Result<(), DeliveryError> {
        self.delivered.lock().unwrap().push(arn.into());
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn retries_within_the_policy_then_the_dead_letter_queue() {
    let e = env("2026-01-01T10:00:00Z");
    let flaky = Arc::new(Flaky {
        failures: Mutex::new(2),
        delivered: Mutex::new(Vec::new()),
    });
    let deliver: Arc<dyn Deliver> = flaky.clone();
    let target = json!({"Arn": FUNCTION, "RoleArn": ROLE, "DeadLetterConfig": {"Arn": DLQ},
                        "RetryPolicy": {"MaximumRetryAttempts": 2}});
    create(
        &e.scheduler,
        "flaky",
        body("at(2026-01-01T10:01:00)", json!({"Target": target})),
    )
    .await
    .unwrap();
    e.clock.set(utc("2026-01-01T10:01:00Z"));
    e.scheduler.run_due(&deliver).await.unwrap();
    // Two failures, then the second retry succeeds: delivered, no dead letter.
    let delivered = || flaky.delivered.lock().unwrap().clone();
    for _ in 0..100 {
        if !delivered().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert_eq!(delivered(), [FUNCTION]);

    // With more failures than retries the tick ends in the dead-letter queue.
    *flaky.failures.lock().unwrap() = 10;
    flaky.delivered.lock().unwrap().clear();
    let target = json!({"Arn": FUNCTION, "RoleArn": ROLE, "DeadLetterConfig": {"Arn": DLQ},
                        "RetryPolicy": {"MaximumRetryAttempts": 1}});
    create(
        &e.scheduler,
        "flakier",
        body("at(2026-01-01T10:02:00)", json!({"Target": target})),
    )
    .await
    .unwrap();
    e.clock.set(utc("2026-01-01T10:02:00Z"));
    e.scheduler.run_due(&deliver).await.unwrap();
    for _ in 0..100 {
        if !delivered().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert_eq!(delivered(), [DLQ]);
    assert_eq!(
        *flaky.failures.lock().unwrap(),
        8,
        "one attempt and one retry"
    );
}

#[tokio::test]
async fn start_and_end_dates_bound_the_ticks_and_delete_after_the_last() {
    let e = env("2026-01-01T10:00:00Z");
    // Every hour on the hour, from 12:00 to 14:00 inclusive; then deleted.
    let start = utc("2026-01-01T11:30:00Z").timestamp() as f64;
    let end = utc("2026-01-01T14:00:00Z").timestamp() as f64;
    create(
        &e.scheduler,
        "bounded",
        body(
            "cron(0 * * * ? *)",
            json!({"StartDate": start, "EndDate": end, "ActionAfterCompletion": "DELETE"}),
        ),
    )
    .await
    .unwrap();
    let got = e
        .scheduler
        .execute(SchedulerOp::GetSchedule {
            name: "bounded".into(),
            group: None,
        })
        .await
        .unwrap();
    assert_eq!(got["StartDate"], json!(start));
    let mut fired_at = Vec::new();
    while e.clock.now_for_test() < utc("2026-01-01T17:00:00Z") {
        e.clock.advance(TimeDelta::minutes(10));
        if e.scheduler.run_due(&e.deliver).await.unwrap() > 0 {
            fired_at.push(e.clock.now_for_test().format("%H:%M").to_string());
        }
    }
    assert_eq!(fired_at, ["12:00", "13:00", "14:00"]);
    let err = e
        .scheduler
        .execute(SchedulerOp::GetSchedule {
            name: "bounded".into(),
            group: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ResourceNotFoundException");
    // A rate with a future start date runs first at the start date.
    let start = utc("2026-01-02T00:00:00Z");
    create(
        &e.scheduler,
        "later",
        body("rate(1 day)", json!({"StartDate": start.to_rfc3339()})),
    )
    .await
    .unwrap();
    e.clock.set(start - TimeDelta::seconds(1));
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 0);
    e.clock.set(start);
    assert_eq!(e.scheduler.run_due(&e.deliver).await.unwrap(), 1);
}

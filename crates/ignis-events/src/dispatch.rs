//! The dispatcher: claims due events, runs each on the [`Target`] with the
//! function's retry policy, and finishes it in the store.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ignis_router::{Completed, InvokeError, InvokeInput};
use ignis_store::QueuedEvent;
use tokio::sync::OwnedSemaphorePermit;

use crate::config::{Destination, EventInvokeConfig, Policy, EVENT_INVOKE_CONFIG};
use crate::record::{invocation_record, qualified_arn, Condition, LastResponse, RecordInput};
use crate::{Shared, SinkError, SinkMessage, Target};

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The claim loop: runs until the node stops.
pub(crate) async fn run<T: Target>(target: Arc<T>, shared: Arc<Shared>) {
    match shared.store.release_event_claims(None).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            events = n,
            "asynchronous invocations left claimed by a previous run are queued again"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "could not release the queue's old claims; they are taken again when their leases pass")
        }
    }
    tokio::spawn(renew_leases(shared.clone()));
    let mut stop = shared.stopping.subscribe();
    loop {
        let first = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            p = shared.permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let limit = 1 + shared.permits.available_permits();
        let now = shared.clock.now_ms();
        let lease_until = now.saturating_add(millis(shared.config.lease));
        let per_function = shared.config.max_waiting_per_function.max(1);
        let idle = match shared
            .store
            .claim_events(
                &shared.owner,
                now,
                lease_until,
                limit,
                per_function,
                &saturated(&shared),
            )
            .await
        {
            Ok(events) if !events.is_empty() => {
                let mut first = Some(first);
                for event in events {
                    let permit = match first.take() {
                        Some(p) => p,
                        None => match shared.permits.clone().try_acquire_owned() {
                            Ok(p) => p,
                            Err(_) => match shared.permits.clone().acquire_owned().await {
                                Ok(p) => p,
                                Err(_) => return,
                            },
                        },
                    };
                    tokio::spawn(attempt(target.clone(), shared.clone(), event, permit));
                }
                continue;
            }
            Ok(_) => match shared.store.next_event_due().await {
                Ok(Some(due)) => Duration::from_millis(u64::try_from(due - now).unwrap_or(0))
                    .min(shared.config.idle_poll),
                Ok(None) => shared.config.idle_poll,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the queue");
                    shared.config.idle_poll
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not claim queued events");
                shared.config.idle_poll
            }
        };
        drop(first);
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(idle.max(Duration::from_millis(1))) => {}
        }
    }
}

/// The functions with events waiting for capacity: claims leave their
/// other events in the queue until those have run (the last one to leave
/// its wait wakes the dispatcher), so a throttled backlog is neither
/// claimed nor rescheduled over and over.
fn saturated(shared: &Shared) -> Vec<String> {
    let waiting = shared
        .waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    waiting.keys().cloned().collect()
}

/// Keeps this process's claims leased while it runs.
async fn renew_leases(shared: Arc<Shared>) {
    let every = (shared.config.lease / 3).max(Duration::from_millis(10));
    let mut stop = shared.stopping.subscribe();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(every) => {}
        }
        let until = shared
            .clock
            .now_ms()
            .saturating_add(millis(shared.config.lease));
        if let Err(e) = shared.store.renew_event_leases(&shared.owner, until).await {
            tracing::warn!(error = %e, "could not renew the queue's leases");
        }
    }
}

/// The configuration of the qualifier the event was invoked with (Lambda's
/// defaults without one).
async fn policy(shared: &Shared, event: &QueuedEvent) -> Policy {
    let qualifier = match event.qualifier.as_deref() {
        None | Some(ignis_model::version::LATEST) => "",
        Some(q) => q,
    };
    match shared
        .store
        .get_setting(&event.function, qualifier, EVENT_INVOKE_CONFIG)
        .await
    {
        Ok(Some(doc)) => serde_json::from_str::<EventInvokeConfig>(&doc)
            .map(|c| Policy::from(&c))
            .unwrap_or_default(),
        Ok(None) => Policy::default(),
        Err(e) => {
            tracing::warn!(function = %event.function, error = %e, "could not read the event invoke configuration; using Lambda's defaults");
            Policy::default()
        }
    }
}

fn input(event: &QueuedEvent) -> InvokeInput {
    InvokeInput {
        function: event.function.clone(),
        qualifier: event.qualifier.clone(),
        payload: Bytes::from(event.payload.clone()),
        client_context: event.client_context.clone(),
        invoked_arn: event.invoked_arn.clone(),
        request_id: Some(event.request_id.clone()),
        tail: false,
        trace_id: event.trace_id.clone(),
    }
}

/// How one claimed event ended here.
enum Outcome {
    /// Done: a record for a destination, maybe.
    Done(Condition, Option<Completed>),
    /// Run again after this delay (its attempt counted).
    Retry(Duration),
    /// Not run (the node stops): back to the queue as it was.
    Release,
    /// Throttled while enough of its function's events already wait:
    /// back to the queue, due again after [`crate::AsyncConfig::throttle_backoff`].
    Backoff,
    /// Cannot run at all (function deleted, runtime unavailable).
    Drop,
}

/// Runs a claimed event until it succeeds, fails for good, or has to wait
/// for a retry; then finishes it in the store.
async fn attempt<T: Target>(
    target: Arc<T>,
    shared: Arc<Shared>,
    mut event: QueuedEvent,
    permit: OwnedSemaphorePermit,
) {
    let policy = policy(&shared, &event).await;
    let mut permit = Some(permit);
    let outcome = run_event(target.as_ref(), &shared, &mut event, &policy, &mut permit).await;
    finish(&shared, &event, &policy, outcome).await;
    drop(permit);
}

/// Counts an event of `function` waiting for capacity while it lives.
struct Waiting<'a> {
    shared: &'a Shared,
    function: &'a str,
}

impl<'a> Waiting<'a> {
    /// `None` when `function` has as many waiting as allowed.
    fn start(shared: &'a Shared, function: &'a str) -> Option<Self> {
        let mut waiting = shared
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = waiting.entry(function.to_owned()).or_insert(0);
        if *n >= shared.config.max_waiting_per_function {
            return None;
        }
        *n += 1;
        Some(Self { shared, function })
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self
            .shared
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = waiting.get_mut(self.function) {
            *n -= 1;
            if *n == 0 {
                waiting.remove(self.function);
            }
        }
        drop(waiting);
        // Room for another of the function's events: claim again.
        self.shared.wake.notify_one();
    }
}

async fn run_event<T: Target>(
    target: &T,
    shared: &Shared,
    event: &mut QueuedEvent,
    policy: &Policy,
    permit: &mut Option<OwnedSemaphorePermit>,
) -> Outcome {
    let mut stop = shared.stopping.subscribe();
    let function = event.function.clone();
    let mut waiting: Option<Waiting<'_>> = None;
    loop {
        let age = shared.clock.now_ms().saturating_sub(event.enqueued_ms);
        if age > millis(policy.max_age) {
            return Outcome::Done(Condition::EventAgeExceeded, None);
        }
        if *stop.borrow() {
            return Outcome::Release;
        }
        match target.invoke(input(event)).await {
            Ok(done) => {
                event.attempts += 1;
                if !done.function_error {
                    return Outcome::Done(Condition::Success, Some(done));
                }
                if event.attempts > policy.max_retries {
                    return Outcome::Done(Condition::RetriesExhausted, Some(done));
                }
                let delays = &shared.config.retry_delays;
                let index = (event.attempts as usize - 1).min(delays.len().saturating_sub(1));
                return Outcome::Retry(delays.get(index).copied().unwrap_or_default());
            }
            // Throttled events wait (holding their claim); a wait is not
            // an attempt. A function being updated is waited for too. A
            // waiting event gives its dispatcher slot back, so other
            // functions' events are claimed meanwhile; a function has at
            // most `max_waiting_per_function` waiting, the rest go back to
            // the queue for a while.
            Err(InvokeError::NoCapacity | InvokeError::Throttled(_) | InvokeError::NotReady(_)) => {
                if waiting.is_none() {
                    waiting = Waiting::start(shared, &function);
                    if waiting.is_none() {
                        return Outcome::Backoff;
                    }
                }
                *permit = None;
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => return Outcome::Release,
                    _ = tokio::time::timeout(shared.config.capacity_recheck, target.capacity_freed()) => {}
                }
                // A slot again before the next try (drain waits for it).
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => return Outcome::Release,
                    p = shared.permits.clone().acquire_owned() => match p {
                        Ok(p) => *permit = Some(p),
                        Err(_) => return Outcome::Release,
                    },
                }
            }
            Err(InvokeError::ShuttingDown) => return Outcome::Release,
            Err(e) => {
                tracing::warn!(function = %event.function, request_id = %event.request_id, error = %e, "dropping asynchronous invocation");
                return Outcome::Drop;
            }
        }
    }
}

async fn finish(shared: &Shared, event: &QueuedEvent, policy: &Policy, outcome: Outcome) {
    let (function, request_id) = (&event.function, &event.request_id);
    let written = match outcome {
        Outcome::Retry(delay) => {
            tracing::info!(%function, %request_id, attempt = event.attempts, ?delay, "asynchronous invocation failed; retrying");
            let due = shared.clock.now_ms().saturating_add(millis(delay));
            let r = shared
                .store
                .reschedule_event(event.id, &shared.owner, event.attempts, due)
                .await;
            shared.wake.notify_one();
            r
        }
        Outcome::Release => {
            let now = shared.clock.now_ms();
            shared
                .store
                .reschedule_event(event.id, &shared.owner, event.attempts, now)
                .await
        }
        Outcome::Backoff => {
            let due = shared
                .clock
                .now_ms()
                .saturating_add(millis(shared.config.throttle_backoff));
            shared
                .store
                .reschedule_event(event.id, &shared.owner, event.attempts, due)
                .await
        }
        Outcome::Drop => {
            shared
                .store
                .complete_event(event.id, &shared.owner, None)
                .await
        }
        Outcome::Done(condition, done) => {
            if condition.is_failure() {
                tracing::warn!(%function, %request_id, attempts = event.attempts, ?condition, "asynchronous invocation failed for good");
                dead_letter(shared, event, done.as_ref()).await;
            }
            let then = destination_event(shared, event, policy, condition, done.as_ref()).await;
            let r = shared
                .store
                .complete_event(event.id, &shared.owner, then.as_ref())
                .await;
            if then.is_some() {
                shared.wake.notify_one();
            }
            r
        }
    };
    match written {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(%function, %request_id, "the event is no longer this dispatcher's: its function was deleted, or its lease passed and another dispatcher has it")
        }
        Err(e) => {
            tracing::warn!(%function, %request_id, error = %e, "could not update the queued event; it runs again when its lease passes")
        }
    }
}

/// The destination's delivery for a finished event: for a function, an
/// event of its own (written with the event's deletion); for a queue or
/// topic, handed to the sink now (before the deletion: at least once).
async fn destination_event(
    shared: &Shared,
    event: &QueuedEvent,
    policy: &Policy,
    condition: Condition,
    done: Option<&Completed>,
) -> Option<QueuedEvent> {
    let arn = if condition.is_failure() {
        policy.on_failure.as_deref()
    } else {
        policy.on_success.as_deref()
    }?;
    let function_arn = qualified_arn(&event.invoked_arn);
    let version = done.map(|d| d.version.to_string());
    let record = invocation_record(&RecordInput {
        request_id: &event.request_id,
        function_arn: &function_arn,
        condition,
        approximate_invoke_count: event.attempts,
        request_payload: &event.payload,
        response: done.zip(version.as_ref()).map(|(d, v)| LastResponse {
            executed_version: v.clone(),
            function_error: d.function_error,
            payload: &d.payload,
        }),
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    match Destination::parse(arn) {
        Some(Destination::Function { name, qualifier }) => {
            // The router runs `$LATEST` when no qualifier is named.
            let qualifier = qualifier.filter(|q| q != ignis_model::version::LATEST);
            let now = shared.clock.now_ms();
            Some(QueuedEvent {
                id: 0,
                function: name,
                qualifier,
                request_id: uuid::Uuid::new_v4().to_string(),
                invoked_arn: arn.to_owned(),
                payload: record,
                client_context: None,
                trace_id: None,
                attempts: 0,
                enqueued_ms: now,
                not_before_ms: now,
            })
        }
        _ => {
            let message = SinkMessage {
                body: String::from_utf8_lossy(&record).into_owned(),
                attributes: Vec::new(),
            };
            send_to_sink(shared, event, arn, message, "destination").await;
            None
        }
    }
}

/// Hands `message` to the sink for `arn`; a refusal is logged with the
/// message, which is kept nowhere else (as Lambda drops an undeliverable
/// record).
async fn send_to_sink(
    shared: &Shared,
    event: &QueuedEvent,
    arn: &str,
    message: SinkMessage,
    what: &'static str,
) {
    let delivered = match shared.sink.get() {
        Some(sink) => sink.deliver(arn, message.clone()).await,
        None => Err(SinkError::NotServed(service_of(arn).to_owned())),
    };
    match delivered {
        Ok(()) => {
            tracing::debug!(function = %event.function, request_id = %event.request_id, %arn, "{what} delivered")
        }
        Err(e) => tracing::warn!(
            function = %event.function, request_id = %event.request_id, %arn, error = %e,
            body = %message.body,
            "{what} not deliverable; the message is logged here and kept nowhere else"
        ),
    }
}

/// The service an ARN names (`sqs` in `arn:aws:sqs:…`).
fn service_of(arn: &str) -> &str {
    arn.split(':').nth(2).unwrap_or("unknown")
}

/// A failed event goes to its function's `DeadLetterConfig` queue or
/// topic, as Lambda sends it: the event itself, with the request id and
/// the error as message attributes.
async fn dead_letter(shared: &Shared, event: &QueuedEvent, done: Option<&Completed>) {
    let Ok(Some(record)) = shared.store.get_function(&event.function).await else {
        return;
    };
    let Some(dlq) = record.dead_letter_target_arn.filter(|a| !a.is_empty()) else {
        return;
    };
    let error_message = done
        .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d.payload).ok())
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "The function failed".to_owned());
    let error_message: String = error_message.chars().take(1024).collect();
    let message = SinkMessage {
        body: String::from_utf8_lossy(&event.payload).into_owned(),
        attributes: vec![
            ("RequestID".to_owned(), "String", event.request_id.clone()),
            ("ErrorCode".to_owned(), "Number", "200".to_owned()),
            ("ErrorMessage".to_owned(), "String", error_message),
        ],
    };
    send_to_sink(shared, event, &dlq, message, "dead letter").await;
}

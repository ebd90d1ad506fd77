//! The hand-off point between an environment's owner and its runtime: at most
//! one invocation waiting for `/next`, at most one being processed.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::{oneshot, watch, Notify};

use crate::{Delivery, Invocation, Outcome, Submitted};

/// Invocation state of one environment.
pub struct Slot {
    state: Mutex<State>,
    next_ready: Notify,
    /// How many times the runtime has asked for an event, and when last.
    next_calls: watch::Sender<NextCalls>,
    /// Told of every `/next` call as it comes, on the call's own task.
    on_next: OnceLock<NextHook>,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            next_ready: Notify::new(),
            next_calls: watch::channel(NextCalls::default()).0,
            on_next: OnceLock::new(),
        }
    }
}

/// The runtime's calls of `/next` so far: on Lambda an invocation's invoke
/// phase ends when the runtime asks for the next event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NextCalls {
    /// Calls so far.
    pub count: u64,
    /// When the last one came.
    pub last: Option<Instant>,
}

#[derive(Default)]
struct State {
    pending: Option<Pending>,
    current: Option<Current>,
    last_answered: Option<Arc<str>>,
    ready_at: Option<Instant>,
    /// An `/init/error`'s type and document, answered to every invocation.
    init_error: Option<(Option<String>, bytes::Bytes)>,
}

/// Runs when the runtime takes the invocation, before it sees it.
pub type DeliveryHook = Box<dyn FnOnce() + Send>;

/// Runs on every `/next` call, with the calls so far (this one counted),
/// before the call waits for an invocation; no lock of the slot is held.
pub type NextHook = Box<dyn Fn(NextCalls) + Send + Sync>;

struct Pending {
    invocation: Invocation,
    on_delivery: Option<DeliveryHook>,
    delivered: oneshot::Sender<Delivery>,
    outcome: oneshot::Sender<Outcome>,
}

struct Current {
    request_id: Arc<str>,
    /// The invocation takes a streamed response as it arrives.
    stream: bool,
    outcome: oneshot::Sender<Outcome>,
}

/// Why an answer from the runtime was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AnswerError {
    /// The request id is not the one being processed.
    UnknownRequest,
    /// The invocation was answered already.
    AlreadyAnswered,
    /// No invocation is in progress (none was taken with `/next`, or it was
    /// answered).
    NoInvocation,
    /// `/init/error` after init.
    NotInitializing,
}

impl Slot {
    pub(crate) fn submit(
        &self,
        invocation: Invocation,
        on_delivery: Option<DeliveryHook>,
    ) -> Submitted {
        let (delivered_tx, delivered) = oneshot::channel();
        let (outcome_tx, outcome) = oneshot::channel();
        let mut state = self.state.lock().expect("slot lock poisoned");
        if let Some((error_type, body)) = state.init_error.clone() {
            let _ = outcome_tx.send(Outcome::InitError { error_type, body });
            return Submitted { delivered, outcome };
        }
        state.pending = Some(Pending {
            invocation,
            on_delivery,
            delivered: delivered_tx,
            outcome: outcome_tx,
        });
        drop(state);
        self.next_ready.notify_one();
        Submitted { delivered, outcome }
    }

    pub(crate) fn ready_at(&self) -> Option<Instant> {
        self.state.lock().expect("slot lock poisoned").ready_at
    }

    /// The runtime's `/next` calls, to wait on.
    pub(crate) fn next_calls(&self) -> watch::Receiver<NextCalls> {
        self.next_calls.subscribe()
    }

    /// The runtime's `/next` calls so far.
    pub(crate) fn calls(&self) -> NextCalls {
        *self.next_calls.borrow()
    }

    /// Sets the hook told of every `/next` call; `false` if one is set.
    pub(crate) fn set_on_next(&self, hook: NextHook) -> bool {
        self.on_next.set(hook).is_ok()
    }

    /// Whether a `/next` hook is set.
    pub(crate) fn has_on_next(&self) -> bool {
        self.on_next.get().is_some()
    }

    /// Waits for the next invocation (the `/next` long poll).
    pub(crate) async fn next(&self) -> Invocation {
        let mut now = NextCalls::default();
        self.next_calls.send_modify(|calls| {
            calls.count += 1;
            calls.last = Some(Instant::now());
            now = *calls;
        });
        if let Some(hook) = self.on_next.get() {
            hook(now);
        }
        loop {
            let notified = self.next_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(invocation) = self.take_pending() {
                return invocation;
            }
            notified.await;
        }
    }

    fn take_pending(&self) -> Option<Invocation> {
        let now = Instant::now();
        let mut state = self.state.lock().expect("slot lock poisoned");
        state.ready_at.get_or_insert(now);
        let pending = state.pending.take()?;
        let delivery = Delivery {
            at: now,
            next_call: self.next_calls.borrow().count,
        };
        if pending.delivered.send(delivery).is_err() {
            // The caller gave up (timed out or was cancelled) before the
            // runtime asked: nobody waits for this one any more.
            return None;
        }
        if let Some(hook) = pending.on_delivery {
            hook();
        }
        state.current = Some(Current {
            request_id: pending.invocation.request_id.clone(),
            stream: pending.invocation.stream,
            outcome: pending.outcome,
        });
        Some(pending.invocation)
    }

    /// Sets the deadline of the invocation waiting for delivery, if any.
    pub(crate) fn set_pending_deadline(&self, at: Instant) {
        let mut state = self.state.lock().expect("slot lock poisoned");
        if let Some(p) = state.pending.as_mut() {
            p.invocation.deadline = Some(at);
        }
    }

    /// Answers the invocation `request_id` with `outcome`.
    pub(crate) fn answer(&self, request_id: &str, outcome: Outcome) -> Result<(), AnswerError> {
        let mut state = self.state.lock().expect("slot lock poisoned");
        match state.current.take() {
            Some(current) if &*current.request_id == request_id => {
                state.last_answered = Some(current.request_id);
                let _ = current.outcome.send(outcome);
                Ok(())
            }
            other => {
                let in_progress = other.is_some();
                state.current = other;
                if state.last_answered.as_deref() == Some(request_id) {
                    Err(AnswerError::AlreadyAnswered)
                } else if in_progress {
                    Err(AnswerError::UnknownRequest)
                } else {
                    Err(AnswerError::NoInvocation)
                }
            }
        }
    }

    /// Whether `request_id` is the invocation in progress and takes a
    /// streamed response as it arrives.
    pub(crate) fn wants_stream(&self, request_id: &str) -> bool {
        let state = self.state.lock().expect("slot lock poisoned");
        state
            .current
            .as_ref()
            .is_some_and(|c| c.stream && &*c.request_id == request_id)
    }

    /// Reports an init failure (its error type and document) to the
    /// invocation waiting for init, or keeps it for the next one submitted.
    pub(crate) fn init_error(
        &self,
        error_type: Option<String>,
        body: bytes::Bytes,
    ) -> Result<(), AnswerError> {
        let mut state = self.state.lock().expect("slot lock poisoned");
        if state.ready_at.is_some() {
            return Err(AnswerError::NotInitializing);
        }
        if let Some(p) = state.pending.take() {
            let outcome = Outcome::InitError {
                error_type: error_type.clone(),
                body: body.clone(),
            };
            let _ = p.outcome.send(outcome);
        }
        state.init_error = Some((error_type, body));
        Ok(())
    }
}

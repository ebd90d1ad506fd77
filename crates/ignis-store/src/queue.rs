//! The durable queue of asynchronous invocations: its rows and the claim
//! protocol every backend keeps (see [`crate::Store::claim_events`]).
//!
//! # Claim protocol
//!
//! - **Enqueue**: an accepted event is one row, written (committed) before
//!   the caller gets its 202.
//! - **Claim**: a dispatcher (`owner`: one id per process) takes up to
//!   `limit` rows that are due (`not_before_ms <= now`) and not under a
//!   live lease (`lease_until_ms` unset or passed), in due order, at most
//!   `per_function` of each function and none of the functions it names
//!   as saturated (their claimed events already wait for capacity), and sets
//!   `claimed_by = owner, lease_until_ms = now + lease` in the same
//!   statement. SQLite has one writer, so the statement is atomic; a
//!   PostgreSQL backend selects the rows with `FOR UPDATE SKIP LOCKED` in
//!   the `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING
//!   …` (the per-function window in an inner select, as PostgreSQL refuses
//!   `FOR UPDATE` beside a window), so nodes claiming at once never take
//!   the same row.
//! - **Renew**: while it holds claims the owner pushes their leases forward
//!   ([`crate::Store::renew_event_leases`]), so a long invocation keeps its
//!   row; a process that dies stops renewing, its leases pass and the rows
//!   are claimed again — at least once, never lost.
//! - **Finish**: the owner deletes the row (optionally writing a follow-up
//!   row, a destination's delivery, in the same transaction) or
//!   reschedules it (attempts, next due time, claim cleared). Both only
//!   act while the row is still claimed by that owner: a row whose lease
//!   passed and was claimed again belongs to its new owner.
//! - **Start-up**: a single-node store has no other owner, so everything
//!   still claimed was claimed by a process that is gone; the server
//!   releases it at once ([`crate::Store::release_event_claims`]) instead
//!   of waiting for the leases. A cluster backend waits for the leases.

/// One queued asynchronous invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The row's id (ignored when enqueued; given by the store).
    pub id: i64,
    /// The function's name.
    pub function: String,
    /// The version or alias invoked; `None`: the unqualified function.
    pub qualifier: Option<String>,
    /// The request id every attempt runs under.
    pub request_id: String,
    /// The ARN the caller invoked.
    pub invoked_arn: String,
    /// The event (at most 1 MB, checked by the API).
    pub payload: Vec<u8>,
    /// The decoded client context, if any.
    pub client_context: Option<String>,
    /// The caller's trace header, if any.
    pub trace_id: Option<String>,
    /// Attempts run so far (throttled tries are not attempts).
    pub attempts: u32,
    /// When it was accepted, Unix epoch milliseconds.
    pub enqueued_ms: i64,
    /// Not to run before this, Unix epoch milliseconds.
    pub not_before_ms: i64,
}

/// A function's backlog (see [`crate::Store::event_queue_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Events queued or running.
    pub depth: u64,
    /// Of them, claimed by a dispatcher (running, or waiting for capacity).
    pub claimed: u64,
    /// When the oldest was accepted, Unix epoch milliseconds.
    pub oldest_enqueued_ms: Option<i64>,
}

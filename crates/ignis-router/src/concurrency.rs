//! Concurrency limits, as Lambda counts them: invocations in flight. A
//! function with reserved concurrency runs at most that many at once, from
//! a share no other function can use; the others share the account's
//! (here: the node's) limit less every reservation. Each admitted
//! invocation holds a [`Slot`] until its environment is released.
//!
//! Lock-free: an admission is a compare-and-swap on one counter, so the
//! warm path pays two atomic operations for it.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Lambda's `Reason` when a function's reservation is used up.
pub const RESERVED_LIMIT: &str = "ReservedFunctionConcurrentInvocationLimitExceeded";
/// Lambda's `Reason` when the account's unreserved concurrency is used up.
pub const ACCOUNT_LIMIT: &str = "ConcurrentInvocationLimitExceeded";

/// The node's concurrency: its limit and the invocations in flight outside
/// any reservation.
#[derive(Debug)]
pub struct Concurrency {
    limit: u32,
    /// Sum of the reservations.
    reserved_total: AtomicU32,
    unreserved_in_flight: AtomicU32,
    freed: Notify,
}

/// One function's reservation (shared by its versions) and its invocations
/// in flight.
#[derive(Debug)]
pub struct FunctionLimit {
    /// The reservation; negative: none.
    reserved: AtomicI64,
    in_flight: AtomicU32,
}

impl Default for FunctionLimit {
    fn default() -> Self {
        Self {
            reserved: AtomicI64::new(-1),
            in_flight: AtomicU32::new(0),
        }
    }
}

impl FunctionLimit {
    /// The reservation, if any.
    pub fn reserved(&self) -> Option<u32> {
        u32::try_from(self.reserved.load(Ordering::Acquire)).ok()
    }

    /// Invocations of the function in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// Which counter an admitted invocation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Share {
    Reserved,
    Unreserved,
}

/// An admitted invocation; gives its place back when dropped.
#[derive(Debug)]
pub struct Slot {
    node: Arc<Concurrency>,
    function: Arc<FunctionLimit>,
    share: Share,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.function.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.share == Share::Unreserved {
            self.node
                .unreserved_in_flight
                .fetch_sub(1, Ordering::AcqRel);
        }
        self.node.freed.notify_waiters();
    }
}

/// Adds one to `counter` if it stays at or below `max`.
fn take(counter: &AtomicU32, max: u32) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .is_ok()
}

impl Concurrency {
    /// A node allowing `limit` invocations in flight.
    pub fn new(limit: u32) -> Arc<Self> {
        Arc::new(Self {
            limit,
            reserved_total: AtomicU32::new(0),
            unreserved_in_flight: AtomicU32::new(0),
            freed: Notify::new(),
        })
    }

    /// The node's limit (`ConcurrentExecutions`).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The sum of the reservations.
    pub fn reserved_total(&self) -> u32 {
        self.reserved_total.load(Ordering::Acquire)
    }

    /// What functions without a reservation share
    /// (`UnreservedConcurrentExecutions`).
    pub fn unreserved(&self) -> u32 {
        self.limit
            .saturating_sub(self.reserved_total.load(Ordering::Acquire))
    }

    /// Admits one invocation of `function`, or names Lambda's reason for
    /// throttling it.
    pub fn enter(self: &Arc<Self>, function: &Arc<FunctionLimit>) -> Result<Slot, &'static str> {
        let share = match function.reserved() {
            Some(reserved) => {
                if !take(&function.in_flight, reserved) {
                    return Err(RESERVED_LIMIT);
                }
                Share::Reserved
            }
            None => {
                if !take(&self.unreserved_in_flight, self.unreserved()) {
                    return Err(ACCOUNT_LIMIT);
                }
                function.in_flight.fetch_add(1, Ordering::AcqRel);
                Share::Unreserved
            }
        };
        Ok(Slot {
            node: self.clone(),
            function: function.clone(),
            share,
        })
    }

    /// Sets (or, with `None`, removes) `function`'s reservation.
    pub fn reserve(&self, function: &FunctionLimit, reserved: Option<u32>) {
        let new = reserved.map_or(-1, i64::from);
        let old = function.reserved.swap(new, Ordering::AcqRel);
        let old = u32::try_from(old).unwrap_or(0);
        let new = reserved.unwrap_or(0);
        let _ = self
            .reserved_total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_sub(old).saturating_add(new))
            });
        self.freed.notify_waiters();
    }

    /// Waits until an invocation gives its place back.
    pub async fn freed(&self) {
        self.freed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_caps_its_function_and_is_taken_from_the_rest() {
        let node = Concurrency::new(10);
        let a = Arc::new(FunctionLimit::default());
        let b = Arc::new(FunctionLimit::default());
        node.reserve(&a, Some(2));
        assert_eq!(node.unreserved(), 8);
        let a1 = node.enter(&a).unwrap();
        let _a2 = node.enter(&a).unwrap();
        assert_eq!(node.enter(&a).unwrap_err(), RESERVED_LIMIT);
        drop(a1);
        let _a3 = node.enter(&a).unwrap();
        let bs: Vec<_> = (0..8).map(|_| node.enter(&b).unwrap()).collect();
        assert_eq!(node.enter(&b).unwrap_err(), ACCOUNT_LIMIT);
        assert_eq!(b.in_flight(), 8);
        drop(bs);
        assert_eq!(b.in_flight(), 0);
        node.reserve(&a, None);
        assert_eq!(node.unreserved(), 10);
    }

    #[test]
    fn zero_throttles_everything() {
        let node = Concurrency::new(10);
        let a = Arc::new(FunctionLimit::default());
        node.reserve(&a, Some(0));
        assert_eq!(node.enter(&a).unwrap_err(), RESERVED_LIMIT);
    }

    #[test]
    fn a_slot_gives_back_the_counter_it_took() {
        let node = Concurrency::new(10);
        let a = Arc::new(FunctionLimit::default());
        let unreserved = node.enter(&a).unwrap();
        node.reserve(&a, Some(1));
        let reserved = node.enter(&a).unwrap_err();
        assert_eq!(reserved, RESERVED_LIMIT, "the unreserved one still counts");
        drop(unreserved);
        assert_eq!(node.unreserved_in_flight.load(Ordering::Acquire), 0);
        let _r = node.enter(&a).unwrap();
    }
}

//! What the background pools share — prepared network namespaces
//! (`net`) and prepared cgroups (`cgpool`): a queue of items made ahead of
//! cold starts by a low-priority thread, which refills only once cold
//! starts have stopped taking for a moment.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long after the last take a pool waits before it refills: a refill
/// started by a cold start's take ran on the other core beside that cold
/// start (traced: a network namespace's `unshare` 0.5 ms), delayed its
/// forked children's first run (≈ 0.2 ms) and competed with the runtime's
/// start-up, nice level or not.
pub const REFILL_QUIET: Duration = Duration::from_millis(25);

/// Prepared items and the refill thread's signals.
#[derive(Debug)]
pub struct Stock<T> {
    ready: Mutex<VecDeque<T>>,
    wake: Condvar,
    target: usize,
    stop: AtomicBool,
    /// Items taken so far: the refill waits until this stops moving.
    takes: AtomicU64,
}

impl<T> Stock<T> {
    /// An empty stock kept at `target` items.
    pub fn new(target: usize) -> Self {
        Self {
            ready: Mutex::new(VecDeque::new()),
            wake: Condvar::new(),
            target,
            stop: AtomicBool::new(false),
            takes: AtomicU64::new(0),
        }
    }

    /// How many items it keeps.
    pub fn target(&self) -> usize {
        self.target
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many items are ready.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no item is ready.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A prepared item, if there is one; tells the refill thread.
    pub fn take(&self) -> Option<T> {
        let item = self.lock().pop_front();
        self.takes.fetch_add(1, Ordering::Release);
        self.wake.notify_one();
        item
    }

    /// Adds a prepared item.
    pub fn put(&self, item: T) {
        self.lock().push_back(item);
    }

    /// Stops the refill thread (see [`Stock::wait_for_need`]) and returns
    /// what was left.
    pub fn stop(&self) -> Vec<T> {
        // Set under the lock, so a refill thread between its check and its
        // wait cannot miss the wake-up.
        let mut ready = self.lock();
        self.stop.store(true, Ordering::Release);
        self.wake.notify_all();
        ready.drain(..).collect()
    }

    /// Whether [`Stock::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// For the refill thread: waits until the stock is below its target
    /// and nothing was taken for [`REFILL_QUIET`]; false once stopped.
    pub fn wait_for_need(&self) -> bool {
        {
            let mut ready = self.lock();
            while !self.stopped() && ready.len() >= self.target {
                ready = self
                    .wake
                    .wait(ready)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        let (mut seen, mut since) = (self.takes.load(Ordering::Acquire), Instant::now());
        loop {
            if self.stopped() {
                return false;
            }
            let left = REFILL_QUIET.saturating_sub(since.elapsed());
            if left.is_zero() {
                return true;
            }
            let ready = self.lock();
            let (ready, _) = self
                .wake
                .wait_timeout(ready, left)
                .unwrap_or_else(PoisonError::into_inner);
            drop(ready);
            let now = self.takes.load(Ordering::Acquire);
            if now != seen {
                (seen, since) = (now, Instant::now());
            }
        }
    }
}

/// Lowers the calling thread to the weakest nice level: preparing and
/// deleting namespaces, veths and cgroups is background work that must
/// yield to launches. Threads it spawns inherit the level.
#[allow(unsafe_code)]
pub fn background_priority() {
    // SAFETY: setpriority on the calling thread (who = 0 is the caller on
    // Linux, where nice values are per thread); no memory is involved.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    if r != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower a background thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_refill_waits_for_a_need_and_for_quiet_and_stops() {
        let stock = Arc::new(Stock::new(1));
        stock.put(1);
        let s = stock.clone();
        let refill = std::thread::spawn(move || {
            let mut made = Vec::new();
            while s.wait_for_need() {
                made.push(Instant::now());
                s.put(2);
            }
            made
        });
        let taken = Instant::now();
        assert_eq!(stock.take(), Some(1));
        // The refill comes, but only after a quiet period.
        let deadline = Instant::now() + Duration::from_secs(10);
        while stock.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(stock.stop(), vec![2]);
        let made = refill.join().unwrap();
        assert_eq!(made.len(), 1);
        assert!(made[0] >= taken + REFILL_QUIET);
        assert!(stock.stopped());
    }
}

//! The node's memory budget: a cold start reserves its function's MemorySize
//! and gives it back when the environment ends.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Memory available to execution environments on this node.
#[derive(Debug)]
pub struct Admission {
    budget_mb: u64,
    used_mb: Mutex<u64>,
    freed: Notify,
}

/// Memory held by one environment; released when dropped.
#[derive(Debug)]
pub struct Reservation {
    admission: Arc<Admission>,
    mb: u64,
}

impl Admission {
    /// A budget of `budget_mb`.
    pub fn new(budget_mb: u64) -> Arc<Self> {
        Arc::new(Self {
            budget_mb,
            used_mb: Mutex::new(0),
            freed: Notify::new(),
        })
    }

    /// The budget, MB.
    pub fn budget_mb(&self) -> u64 {
        self.budget_mb
    }

    /// Memory reserved now, MB.
    pub fn used_mb(&self) -> u64 {
        *self.used_mb.lock().expect("admission lock poisoned")
    }

    /// Reserves `mb` if it fits.
    pub fn try_reserve(self: &Arc<Self>, mb: u64) -> Option<Reservation> {
        let mut used = self.used_mb.lock().expect("admission lock poisoned");
        if *used + mb > self.budget_mb {
            return None;
        }
        *used += mb;
        Some(Reservation {
            admission: self.clone(),
            mb,
        })
    }

    /// Waits until some memory is released.
    pub async fn freed(&self) {
        self.freed.notified().await;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut used = self
            .admission
            .used_mb
            .lock()
            .expect("admission lock poisoned");
        *used = used.saturating_sub(self.mb);
        drop(used);
        self.admission.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves_within_budget_and_releases_on_drop() {
        let a = Admission::new(256);
        let r1 = a.try_reserve(128).unwrap();
        let _r2 = a.try_reserve(128).unwrap();
        assert!(a.try_reserve(1).is_none());
        drop(r1);
        assert_eq!(a.used_mb(), 128);
        assert!(a.try_reserve(128).is_some());
    }
}

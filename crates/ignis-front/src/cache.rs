//! Reads of IAM state kept until IAM changes.
//!
//! Every entry carries the IAM generation it was read at; every IAM change
//! bumps the generation ([`IamGeneration::changed`]), so an entry of an
//! older generation is read again. The generation is read *before* the
//! store, so a change racing a read leaves the entry stale at once, never
//! wrong. Warm requests read no IAM rows: the key of a signed request, its
//! session's role and the caller's policies all come from here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Entries a cache keeps at the most; past it the cache starts again.
const MAX_ENTRIES: usize = 10_000;

/// The IAM generation: bumped by every IAM change.
#[derive(Debug, Default)]
pub struct IamGeneration(AtomicU64);

impl IamGeneration {
    /// The generation now (read it before reading the store).
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// IAM changed: every cached entry is stale.
    pub fn changed(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Values by key, each valid for the generation it was read at.
#[derive(Debug)]
pub struct GenCache<V> {
    entries: Mutex<HashMap<String, (u64, V)>>,
}

impl<V> Default for GenCache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> GenCache<V> {
    /// The value of `key` read at `generation`, if cached.
    pub fn get(&self, key: &str, generation: u64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((g, v)) if *g == generation => Some(v.clone()),
            _ => None,
        }
    }

    /// Keeps `value` for `key`, read at `generation`.
    pub fn put(&self, key: String, generation: u64, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (generation, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_holds_until_iam_changes() {
        let generation = IamGeneration::default();
        let cache = GenCache::default();
        let g = generation.now();
        cache.put("k".into(), g, 7);
        assert_eq!(cache.get("k", generation.now()), Some(7));
        generation.changed();
        assert_eq!(cache.get("k", generation.now()), None);
        assert_eq!(cache.get("other", g), None);
    }

    #[test]
    fn a_full_cache_starts_again() {
        let cache = GenCache::default();
        for i in 0..MAX_ENTRIES {
            cache.put(i.to_string(), 0, i);
        }
        cache.put("last".into(), 0, 0);
        assert_eq!(cache.get("0", 0), None);
        assert_eq!(cache.get("last", 0), Some(0));
    }
}

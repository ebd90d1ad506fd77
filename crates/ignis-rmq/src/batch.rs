//! A batch of records on its way to one invocation: it closes at
//! `BatchSize` records or when one more record would take the event past
//! Lambda's 6 MB synchronous payload; the batching window is the
//! consumer's clock ([`crate::consumer`]).

use std::time::Duration;

/// Lambda's synchronous invocation payload limit, the largest event.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// When a batch closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// `BatchSize`: records at most.
    pub max_records: usize,
    /// Bytes of the whole event at most.
    pub max_bytes: usize,
    /// `MaximumBatchingWindowInSeconds`: how long the first record waits
    /// for others.
    pub window: Duration,
}

/// What [`Batch::push`] did with a record.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Taken; the batch has room for more.
    Added,
    /// Taken; the batch is full: invoke now.
    Full,
    /// Not taken: the batch would outgrow its bytes. Invoke with the batch,
    /// then push the record again.
    WouldOverflow(Vec<u8>),
    /// Not taken: the record alone makes an event too large.
    TooLarge,
}

/// Records gathered for one event, with the delivery tag of the last.
#[derive(Debug)]
pub struct Batch {
    limits: BatchLimits,
    overhead: usize,
    records: Vec<Vec<u8>>,
    bytes: usize,
    last_tag: u64,
}

impl Batch {
    /// An empty batch for events whose frame takes `overhead` bytes.
    pub fn new(limits: BatchLimits, overhead: usize) -> Self {
        Self {
            limits,
            overhead,
            records: Vec::new(),
            bytes: overhead,
            last_tag: 0,
        }
    }

    /// Adds `record` (delivery `tag`) if it fits.
    pub fn push(&mut self, record: Vec<u8>, tag: u64) -> Pushed {
        let separator = usize::from(!self.records.is_empty());
        let bytes = self.bytes + separator + record.len();
        if bytes > self.limits.max_bytes {
            return if self.records.is_empty() {
                Pushed::TooLarge
            } else {
                Pushed::WouldOverflow(record)
            };
        }
        self.bytes = bytes;
        self.records.push(record);
        self.last_tag = tag;
        if self.records.len() >= self.limits.max_records || bytes == self.limits.max_bytes {
            Pushed::Full
        } else {
            Pushed::Added
        }
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The event's size with the records held.
    pub fn event_bytes(&self) -> usize {
        self.bytes
    }

    /// The delivery tag of the last record (acknowledging it with
    /// `multiple` settles the whole batch).
    pub fn last_tag(&self) -> u64 {
        self.last_tag
    }

    /// Takes the records out, leaving the batch empty.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        self.bytes = self.overhead;
        std::mem::take(&mut self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_records: usize, max_bytes: usize) -> BatchLimits {
        BatchLimits {
            max_records,
            max_bytes,
            window: Duration::ZERO,
        }
    }

    #[test]
    fn a_batch_is_full_at_batch_size() {
        let mut batch = Batch::new(limits(3, MAX_EVENT_BYTES), 10);
        assert_eq!(batch.push(vec![b'a'; 5], 1), Pushed::Added);
        assert_eq!(batch.push(vec![b'b'; 5], 2), Pushed::Added);
        assert_eq!(batch.push(vec![b'c'; 5], 3), Pushed::Full);
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.last_tag(), 3);
        assert_eq!(batch.event_bytes(), 10 + 5 * 3 + 2);
        assert_eq!(batch.take().len(), 3);
        assert!(batch.is_empty());
        assert_eq!(batch.event_bytes(), 10);
    }

    #[test]
    fn bytes_close_a_batch_before_it_outgrows_the_event() {
        // overhead 10; records of 40: 10 + 40 + 1 + 40 = 91 fits in 100, a third does not.
        let mut batch = Batch::new(limits(100, 100), 10);
        assert_eq!(batch.push(vec![0; 40], 1), Pushed::Added);
        assert_eq!(batch.push(vec![0; 40], 2), Pushed::Added);
        assert_eq!(
            batch.push(vec![7; 40], 3),
            Pushed::WouldOverflow(vec![7; 40])
        );
        assert_eq!(
            batch.last_tag(),
            2,
            "the record left out is not settled with the batch"
        );
        batch.take();
        assert_eq!(batch.push(vec![7; 40], 3), Pushed::Added);
        // Exactly at the limit: full.
        let mut exact = Batch::new(limits(100, 50), 10);
        assert_eq!(exact.push(vec![0; 40], 1), Pushed::Full);
    }

    #[test]
    fn a_record_too_large_for_any_event_is_refused() {
        let mut batch = Batch::new(limits(10, 100), 10);
        assert_eq!(batch.push(vec![0; 91], 1), Pushed::TooLarge);
        assert!(batch.is_empty());
        // The event built from a batch is exactly the size it counted.
        let frame = crate::event::EventFrame::new("arn:aws:mq:r:a:broker:b:i", "q", "/");
        let mut batch = Batch::new(limits(10, MAX_EVENT_BYTES), frame.overhead());
        for tag in 1..=4 {
            let record = crate::event::encode_record(&Default::default(), false, &[tag as u8; 33]);
            assert_eq!(batch.push(record, tag), Pushed::Added);
        }
        let expected = batch.event_bytes();
        assert_eq!(frame.event(&batch.take()).len(), expected);
    }
}

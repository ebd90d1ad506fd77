//! Gathering a batch: long-poll receives until `BatchSize`, the batching
//! window's end or 6 MB, and trimming the event to Lambda's payload limit.

use std::time::Duration;

use ignis_sqs::{Delivered, Receive};
use tokio::time::Instant;

use super::Run;
use crate::sqs::event::{self, MAX_PAYLOAD};

impl Run {
    /// Receives until the batch is full, the window ends, or 6 MB.
    pub(super) async fn gather(&self) -> Result<Vec<Delivered>, ignis_sqs::SqsError> {
        let want = self.mapping.batch_size as usize;
        let mut batch: Vec<Delivered> = Vec::new();
        let mut bytes = 0usize;
        let mut deadline: Option<Instant> = None;
        loop {
            let wait = match deadline {
                None => self.ctx.config.long_poll,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    (left.as_secs_f64().ceil() as u32).min(self.ctx.config.long_poll)
                }
            };
            let receive = Receive {
                max_messages: (want - batch.len()).min(10) as u32,
                visibility_timeout: None,
                wait_seconds: Some(wait),
                attempt_id: None,
            };
            let got = self.ctx.queues.receive(&self.queue, receive).await?;
            if got.is_empty() && deadline.is_none() {
                return Ok(batch);
            }
            bytes += got.iter().map(|m| m.body.len() + 1024).sum::<usize>();
            batch.extend(got);
            if deadline.is_none() {
                if self.mapping.batching_window == 0 {
                    break;
                }
                deadline =
                    Some(Instant::now() + Duration::from_secs(self.mapping.batching_window.into()));
            }
            if batch.len() >= want || bytes >= MAX_PAYLOAD {
                break;
            }
        }
        Ok(batch)
    }

    /// The event, after releasing the messages past 6 MB.
    pub(super) async fn fit(&self, batch: &mut Vec<Delivered>) -> Vec<u8> {
        let arn = &self.mapping.event_source_arn;
        let mut payload = event::event(batch, arn, &self.ctx.region);
        let mut over = Vec::new();
        while payload.len() > MAX_PAYLOAD && batch.len() > 1 {
            over.push(batch.pop().expect("more than one message").receipt_handle);
            payload = event::event(batch, arn, &self.ctx.region);
        }
        if !over.is_empty() {
            if let Err(e) = self.ctx.queues.release(&self.queue, &over, 0).await {
                tracing::warn!(error = %e, "failed to release messages past the payload limit");
            }
        }
        payload
    }
}

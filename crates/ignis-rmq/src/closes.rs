//! Why the broker closed a channel: the client reports a channel the
//! broker closed only as "channel closed", so a channel callback keeps the
//! broker's reply (`404 NOT_FOUND - no queue 'x' in vhost 'y'`) for the
//! consumer to classify.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amqprs::callbacks::ChannelCallback;
use amqprs::channel::Channel;
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};

/// The last close the broker sent on a channel.
#[derive(Clone, Default)]
pub(crate) struct CloseReason(Arc<Mutex<Option<String>>>);

impl CloseReason {
    /// The broker's reply, waiting a little for it to arrive (the error
    /// that made us ask can come first).
    pub(crate) async fn get(&self) -> Option<String> {
        for _ in 0..20 {
            if let Some(reason) = self.0.lock().expect("close reason lock").clone() {
                return Some(reason);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }
}

#[async_trait::async_trait]
impl ChannelCallback for CloseReason {
    async fn close(
        &mut self,
        _channel: &Channel,
        close: CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        let reason = format!("{} {}", close.reply_code(), close.reply_text());
        *self.0.lock().expect("close reason lock") = Some(reason);
        Ok(())
    }

    async fn cancel(
        &mut self,
        _channel: &Channel,
        _cancel: Cancel,
    ) -> Result<(), amqprs::error::Error> {
        Ok(())
    }

    async fn flow(
        &mut self,
        _channel: &Channel,
        active: bool,
    ) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }

    async fn publish_ack(&mut self, _channel: &Channel, _ack: Ack) {}

    async fn publish_nack(&mut self, _channel: &Channel, _nack: Nack) {}

    async fn publish_return(
        &mut self,
        _channel: &Channel,
        _ret: Return,
        _basic_properties: BasicProperties,
        _content: Vec<u8>,
    ) {
    }
}

//! Where EventBridge Scheduler's ticks go on this node:
//! [`ignis_scheduler::Deliver`] over the durable asynchronous invocation
//! queue (functions, which must exist), the queue engine and the topic
//! service.

use std::sync::Arc;

use ignis_api::functions::Functions;
use ignis_events::AsyncInvoker;
use ignis_scheduler::{Deliver, DeliveryError, Outgoing};
use ignis_sqs::Sqs;

use crate::node::{self, QueueSend, Refused};

/// Functions, queues and topics of this node.
pub(crate) struct ScheduleTargets {
    pub(crate) events: AsyncInvoker,
    pub(crate) functions: Arc<Functions>,
    pub(crate) sqs: Sqs,
    pub(crate) sns: ignis_sns::Sns,
}

/// Scheduler's error for a refusal: a missing or refusing target is not
/// retried, a failing service is.
fn delivery_error(r: Refused) -> DeliveryError {
    match r {
        Refused::Missing { message, .. } => DeliveryError {
            code: "ResourceNotFoundException".into(),
            message,
            retryable: false,
        },
        Refused::Client { code, message } => DeliveryError {
            code,
            message,
            retryable: false,
        },
        Refused::Server(message) => DeliveryError {
            code: "InternalServerException".into(),
            message,
            retryable: true,
        },
    }
}

#[async_trait::async_trait]
impl Deliver for ScheduleTargets {
    async fn invoke(&self, function_arn: &str, payload: String) -> Result<(), DeliveryError> {
        node::invoke_async(&self.events, &self.functions, function_arn, payload.into())
            .await
            .map_err(delivery_error)
    }

    async fn send(&self, arn: &str, message: Outgoing) -> Result<(), DeliveryError> {
        let attributes = message
            .attributes
            .into_iter()
            .map(|(k, v)| (k, "String".to_owned(), v));
        let sent = if arn.split(':').nth(2) == Some("sns") {
            node::publish(&self.sns, arn, message.body, attributes.collect()).await
        } else {
            let send = QueueSend {
                body: message.body,
                attributes: node::string_attributes(attributes),
                group_id: message.group_id,
                dedup_id: message.dedup_id,
            };
            node::send_to_queue(&self.sqs, arn, send).await
        };
        sent.map_err(delivery_error)
    }
}

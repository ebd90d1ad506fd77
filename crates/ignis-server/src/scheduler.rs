//! Where EventBridge Scheduler's ticks go on this node:
//! [`ignis_scheduler::Deliver`] over the durable asynchronous invocation
//! queue (functions, which must exist), the queue engine and the topic
//! service.

use std::sync::Arc;

use bytes::Bytes;
use ignis_api::functions::Functions;
use ignis_events::AsyncInvoker;
use ignis_router::InvokeInput;
use ignis_scheduler::{Deliver, DeliveryError, Outgoing};
use ignis_sqs::{AttributeValue, Sqs};

/// Functions, queues and topics of this node.
pub(crate) struct ScheduleTargets {
    pub(crate) events: AsyncInvoker,
    pub(crate) functions: Arc<Functions>,
    pub(crate) sqs: Sqs,
    pub(crate) sns: ignis_sns::Sns,
}

fn refused(code: &str, message: String) -> DeliveryError {
    DeliveryError {
        code: code.to_owned(),
        message,
        retryable: false,
    }
}

fn failed(message: String) -> DeliveryError {
    DeliveryError {
        code: "InternalServerException".into(),
        message,
        retryable: true,
    }
}

#[async_trait::async_trait]
impl Deliver for ScheduleTargets {
    async fn invoke(&self, function_arn: &str, payload: String) -> Result<(), DeliveryError> {
        let Some(rest) = function_arn.splitn(7, ':').nth(6) else {
            return Err(refused(
                "ValidationException",
                format!("{function_arn} is not a function ARN"),
            ));
        };
        let (name, qualifier) = match rest.split_once(':') {
            Some((name, q)) => (name.to_owned(), Some(q.to_owned())),
            None => (rest.to_owned(), None),
        };
        self.functions
            .resolve(&name, qualifier.as_deref())
            .await
            .map_err(|e| refused("ResourceNotFoundException", e.0.to_string()))?;
        self.events
            .enqueue(InvokeInput {
                function: name,
                qualifier,
                payload: Bytes::from(payload),
                client_context: None,
                invoked_arn: function_arn.to_owned(),
                request_id: None,
                tail: false,
                trace_id: None,
            })
            .await
            .map(|_| ())
            .map_err(|e| failed(e.to_string()))
    }

    async fn send(&self, arn: &str, message: Outgoing) -> Result<(), DeliveryError> {
        if arn.split(':').nth(2) == Some("sns") {
            let attributes = message
                .attributes
                .into_iter()
                .map(|(k, v)| (k, "String".to_owned(), v))
                .collect();
            return match self
                .sns
                .publish_message(arn, message.body, attributes)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.sender_fault => Err(refused(&e.code, e.message)),
                Err(e) => Err(failed(format!("{}: {}", e.code, e.message))),
            };
        }
        let queue = self.sqs.queue_by_arn(arn).await.map_err(|e| {
            if e.sender_fault {
                refused("ResourceNotFoundException", e.to_string())
            } else {
                failed(e.to_string())
            }
        })?;
        let fifo = queue.is_fifo();
        let outgoing = ignis_sqs::Outgoing {
            body: message.body,
            attributes: message
                .attributes
                .into_iter()
                .map(|(k, v)| {
                    let value = AttributeValue {
                        data_type: "String".into(),
                        string_value: Some(v),
                        binary_value: None,
                    };
                    (k, value)
                })
                .collect(),
            group_id: if fifo { message.group_id } else { None },
            deduplication_id: if fifo { message.dedup_id } else { None },
            sender_id: ignis_model::arn::ACCOUNT_ID.to_owned(),
            ..ignis_sqs::Outgoing::default()
        };
        let results = self
            .sqs
            .send(&queue.name, vec![outgoing])
            .await
            .map_err(|e| failed(e.to_string()))?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) if e.sender_fault => Err(refused(&e.code, e.message)),
            Some(Err(e)) => Err(failed(format!("{}: {}", e.code, e.message))),
            None => Err(failed("the queue answered nothing".into())),
        }
    }
}

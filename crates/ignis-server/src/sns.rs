//! What topics deliver to, on this node: [`ignis_sns::Targets`] over the
//! durable asynchronous invocation queue, the functions' resource policies
//! and the queue engine.

use std::sync::Arc;

use base64::Engine;
use ignis_api::functions::Functions;
use ignis_events::AsyncInvoker;
use ignis_sns::{QueueMessage, TargetError, Targets};
use ignis_sqs::{AttributeValue, Sqs};

use crate::node::{self, QueueSend, Refused};

/// Functions and queues of this node.
pub(crate) struct NodeTargets {
    pub(crate) events: AsyncInvoker,
    pub(crate) functions: Arc<Functions>,
    pub(crate) sqs: Sqs,
}

/// SNS's error for a refusal: the caller's fault or the service's.
fn target_error(r: Refused) -> TargetError {
    match r {
        Refused::Server(m) => TargetError::Server(m),
        r => TargetError::Client(r.text()),
    }
}

#[async_trait::async_trait]
impl Targets for NodeTargets {
    async fn invoke(&self, function_arn: &str, payload: Vec<u8>) -> Result<(), TargetError> {
        node::invoke_async(&self.events, &self.functions, function_arn, payload.into())
            .await
            .map_err(target_error)
    }

    async fn function_policy(&self, function_arn: &str) -> Result<Option<String>, TargetError> {
        node::function_policy(&self.functions, function_arn)
            .await
            .map_err(target_error)
    }

    async fn queue_policy(&self, queue_arn: &str) -> Result<Option<String>, TargetError> {
        node::queue_policy(&self.sqs, queue_arn)
            .await
            .map_err(target_error)
    }

    async fn send(&self, queue_arn: &str, message: QueueMessage) -> Result<(), TargetError> {
        let mut attributes = ignis_sqs::MessageAttributes::new();
        for (name, a) in message.attributes {
            let value = if a.base_type() == "Binary" {
                AttributeValue {
                    data_type: a.data_type.clone(),
                    string_value: None,
                    binary_value: Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(a.value())
                            .unwrap_or_default(),
                    ),
                }
            } else {
                AttributeValue {
                    // SQS has no String.Array: it arrives as a String.
                    data_type: if a.data_type == "String.Array" {
                        "String".into()
                    } else {
                        a.data_type.clone()
                    },
                    string_value: a.string_value.clone(),
                    binary_value: None,
                }
            };
            attributes.insert(name, value);
        }
        let send = QueueSend {
            body: message.body,
            attributes,
            group_id: message.group_id,
            dedup_id: message.dedup_id,
        };
        node::send_to_queue(&self.sqs, queue_arn, send)
            .await
            .map_err(target_error)
    }
}

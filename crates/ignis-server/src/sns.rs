//! What topics deliver to, on this node: [`ignis_sns::Targets`] over the
//! durable asynchronous invocation queue, the functions' resource policies
//! and the queue engine.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use ignis_api::functions::Functions;
use ignis_events::AsyncInvoker;
use ignis_router::InvokeInput;
use ignis_sns::{QueueMessage, TargetError, Targets};
use ignis_sqs::{AttributeValue, Outgoing, Sqs};

/// Functions and queues of this node.
pub(crate) struct NodeTargets {
    pub(crate) events: AsyncInvoker,
    pub(crate) functions: Arc<Functions>,
    pub(crate) sqs: Sqs,
}

/// A function ARN's name and qualifier.
fn function_of(arn: &str) -> Result<(String, Option<String>), TargetError> {
    let rest = arn
        .splitn(7, ':')
        .nth(6)
        .ok_or_else(|| TargetError::Client(format!("{arn} is not a function ARN")))?;
    Ok(match rest.split_once(':') {
        Some((name, q)) => (name.to_string(), Some(q.to_string())),
        None => (rest.to_string(), None),
    })
}

fn sqs_error(e: ignis_sqs::SqsError) -> TargetError {
    if e.sender_fault {
        TargetError::Client(e.to_string())
    } else {
        TargetError::Server(e.to_string())
    }
}

#[async_trait::async_trait]
impl Targets for NodeTargets {
    async fn invoke(&self, function_arn: &str, payload: Vec<u8>) -> Result<(), TargetError> {
        let (name, qualifier) = function_of(function_arn)?;
        self.functions
            .resolve(&name, qualifier.as_deref())
            .await
            .map_err(|e| TargetError::Client(e.0.to_string()))?;
        self.events
            .enqueue(InvokeInput {
                function: name,
                qualifier,
                payload: Bytes::from(payload),
                client_context: None,
                invoked_arn: function_arn.to_string(),
                request_id: None,
                tail: false,
                trace_id: None,
            })
            .await
            .map(|_| ())
            .map_err(|e| TargetError::Server(e.to_string()))
    }

    async fn function_policy(&self, function_arn: &str) -> Result<Option<String>, TargetError> {
        let (name, qualifier) = function_of(function_arn)?;
        Ok(self
            .functions
            .get_policy(&name, qualifier.as_deref())
            .await
            .ok()
            .map(|p| p.policy))
    }

    async fn queue_policy(&self, queue_arn: &str) -> Result<Option<String>, TargetError> {
        let queue = self.sqs.queue_by_arn(queue_arn).await.map_err(sqs_error)?;
        Ok(queue
            .attributes
            .get("Policy")
            .filter(|p| !p.is_empty())
            .cloned())
    }

    async fn send(&self, queue_arn: &str, message: QueueMessage) -> Result<(), TargetError> {
        let queue = self.sqs.queue_by_arn(queue_arn).await.map_err(sqs_error)?;
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
        let fifo = queue.is_fifo();
        let outgoing = Outgoing {
            body: message.body,
            attributes,
            group_id: if fifo { message.group_id } else { None },
            deduplication_id: if fifo { message.dedup_id } else { None },
            sender_id: ignis_model::arn::ACCOUNT_ID.to_string(),
            ..Outgoing::default()
        };
        let results = self
            .sqs
            .send(&queue.name, vec![outgoing])
            .await
            .map_err(sqs_error)?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) if e.sender_fault => {
                Err(TargetError::Client(format!("{}: {}", e.code, e.message)))
            }
            Some(Err(e)) => Err(TargetError::Server(format!("{}: {}", e.code, e.message))),
            None => Err(TargetError::Server("the queue answered nothing".into())),
        }
    }
}

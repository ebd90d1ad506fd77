//! What rules deliver to, on this node: [`ignis_eventbridge::Targets`]
//! over the durable asynchronous invocation queue (functions, which must
//! exist), the queue engine and the topic service, with their resource
//! policies for `enforce` mode.

use std::sync::Arc;

use bytes::Bytes;
use ignis_api::functions::Functions;
use ignis_eventbridge::{Message, TargetError, Targets};
use ignis_events::AsyncInvoker;
use ignis_router::InvokeInput;
use ignis_sqs::{AttributeValue, Outgoing, Sqs};

/// Functions, queues and topics of this node.
pub(crate) struct RuleTargets {
    pub(crate) events: AsyncInvoker,
    pub(crate) functions: Arc<Functions>,
    pub(crate) sqs: Sqs,
    pub(crate) sns: ignis_sns::Sns,
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
impl Targets for RuleTargets {
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

    async fn policy(&self, arn: &str) -> Result<Option<String>, TargetError> {
        match arn.split(':').nth(2) {
            Some("lambda") => {
                let (name, qualifier) = function_of(arn)?;
                self.functions
                    .resolve(&name, qualifier.as_deref())
                    .await
                    .map_err(|e| TargetError::Client(e.0.to_string()))?;
                Ok(self
                    .functions
                    .get_policy(&name, qualifier.as_deref())
                    .await
                    .ok()
                    .map(|p| p.policy))
            }
            Some("sqs") => {
                let queue = self.sqs.queue_by_arn(arn).await.map_err(sqs_error)?;
                Ok(queue
                    .attributes
                    .get("Policy")
                    .filter(|p| !p.is_empty())
                    .cloned())
            }
            Some("sns") => Ok(self.sns.topic_policy(arn).await),
            _ => Ok(None),
        }
    }

    async fn send(&self, arn: &str, message: Message) -> Result<(), TargetError> {
        let attributes = message.attributes.into_iter();
        if arn.split(':').nth(2) == Some("sns") {
            let attributes = attributes
                .map(|(k, v)| (k, "String".to_string(), v))
                .collect();
            return match self
                .sns
                .publish_message(arn, message.body, attributes)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.sender_fault => {
                    Err(TargetError::Client(format!("{}: {}", e.code, e.message)))
                }
                Err(e) => Err(TargetError::Server(format!("{}: {}", e.code, e.message))),
            };
        }
        let queue = self.sqs.queue_by_arn(arn).await.map_err(sqs_error)?;
        let fifo = queue.is_fifo();
        let outgoing = Outgoing {
            body: message.body,
            attributes: attributes
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

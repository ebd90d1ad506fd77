//! What rules deliver to, on this node: [`ignis_eventbridge::Targets`]
//! over the durable asynchronous invocation queue (functions, which must
//! exist), the queue engine and the topic service, with their resource
//! policies for `enforce` mode.

use std::sync::Arc;

use ignis_api::functions::Functions;
use ignis_eventbridge::{Message, TargetError, Targets};
use ignis_events::AsyncInvoker;
use ignis_sqs::Sqs;

use crate::node::{self, QueueSend, Refused};

/// Functions, queues and topics of this node.
pub(crate) struct RuleTargets {
    pub(crate) events: AsyncInvoker,
    pub(crate) functions: Arc<Functions>,
    pub(crate) sqs: Sqs,
    pub(crate) sns: ignis_sns::Sns,
}

/// EventBridge's error for a refusal: the caller's fault or the service's.
fn target_error(r: Refused) -> TargetError {
    match r {
        Refused::Server(m) => TargetError::Server(m),
        r => TargetError::Client(r.text()),
    }
}

#[async_trait::async_trait]
impl Targets for RuleTargets {
    async fn invoke(&self, function_arn: &str, payload: Vec<u8>) -> Result<(), TargetError> {
        node::invoke_async(&self.events, &self.functions, function_arn, payload.into())
            .await
            .map_err(target_error)
    }

    async fn policy(&self, arn: &str) -> Result<Option<String>, TargetError> {
        let policy = match arn.split(':').nth(2) {
            Some("lambda") => node::function_policy(&self.functions, arn).await,
            Some("sqs") => node::queue_policy(&self.sqs, arn).await,
            Some("sns") => Ok(self.sns.topic_policy(arn).await),
            _ => Ok(None),
        };
        policy.map_err(target_error)
    }

    async fn send(&self, arn: &str, message: Message) -> Result<(), TargetError> {
        let sent = if arn.split(':').nth(2) == Some("sns") {
            let attributes = message
                .attributes
                .into_iter()
                .map(|(k, v)| (k, "String".to_string(), v))
                .collect();
            node::publish(&self.sns, arn, message.body, attributes).await
        } else {
            let send = QueueSend {
                body: message.body,
                attributes: node::string_attributes(
                    message
                        .attributes
                        .into_iter()
                        .map(|(k, v)| (k, "String".to_string(), v)),
                ),
                group_id: message.group_id,
                dedup_id: message.dedup_id,
            };
            node::send_to_queue(&self.sqs, arn, send).await
        };
        sent.map_err(target_error)
    }
}

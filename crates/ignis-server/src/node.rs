//! What every sender of events on this node shares — topics, rules,
//! schedules, buckets and async destinations all deliver to the same three
//! kinds of target: a function (an asynchronous invocation, queued
//! durably), a queue (a message, committed), a topic (a publish, committed
//! to its subscriptions' outbox). Each service declares its own delivery
//! trait; its adapter in this crate maps [`Refused`] to that trait's error
//! and nothing else.

use bytes::Bytes;
use ignis_api::functions::Functions;
use ignis_events::AsyncInvoker;
use ignis_router::InvokeInput;
use ignis_sqs::{AttributeValue, MessageAttributes, Outgoing, Sqs};

/// Why a target did not take a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The function, queue or topic is not there (`code` is its service's).
    Missing { code: String, message: String },
    /// The target's service refused it (the sender's fault, no retry helps).
    Client { code: String, message: String },
    /// The service failed; a retry may succeed.
    Server(String),
}

impl Refused {
    /// `code: message` for the services whose errors are one string.
    pub(crate) fn text(&self) -> String {
        match self {
            Refused::Missing { code, message } | Refused::Client { code, message } => {
                format!("{code}: {message}")
            }
            Refused::Server(message) => message.clone(),
        }
    }

    fn sqs(e: ignis_sqs::SqsError) -> Self {
        match e {
            e if e.code == "QueueDoesNotExist" => Refused::Missing {
                code: e.code.to_owned(),
                message: e.message,
            },
            e if e.sender_fault => Refused::Client {
                code: e.code.to_owned(),
                message: e.message,
            },
            e => Refused::Server(e.to_string()),
        }
    }
}

/// The name and qualifier a function ARN names.
pub(crate) fn function_of(arn: &str) -> Option<(String, Option<String>)> {
    let rest = arn.splitn(7, ':').nth(6)?;
    Some(match rest.split_once(':') {
        Some((name, q)) => (name.to_owned(), Some(q.to_owned())),
        None => (rest.to_owned(), None),
    })
}

/// Queues `payload` as an asynchronous invocation of the function
/// `function_arn` names, which must exist.
pub(crate) async fn invoke_async(
    events: &AsyncInvoker,
    functions: &Functions,
    function_arn: &str,
    payload: Bytes,
) -> Result<(), Refused> {
    let (function, qualifier) = function_of(function_arn).ok_or_else(|| Refused::Client {
        code: "ValidationException".into(),
        message: format!("{function_arn} is not a function ARN"),
    })?;
    functions
        .resolve(&function, qualifier.as_deref())
        .await
        .map_err(|e| Refused::Missing {
            code: "ResourceNotFoundException".into(),
            message: e.0.to_string(),
        })?;
    events
        .enqueue(InvokeInput {
            function,
            qualifier,
            payload,
            client_context: None,
            invoked_arn: function_arn.to_owned(),
            request_id: None,
            tail: false,
            trace_id: None,
        })
        .await
        .map(|_| ())
        .map_err(|e| Refused::Server(e.to_string()))
}

/// A message for a queue.
#[derive(Debug, Default)]
pub(crate) struct QueueSend {
    pub(crate) body: String,
    pub(crate) attributes: MessageAttributes,
    /// Used on a FIFO queue only.
    pub(crate) group_id: Option<String>,
    /// Used on a FIFO queue only.
    pub(crate) dedup_id: Option<String>,
}

/// Message attributes of string values: `(name, data type, value)`.
pub(crate) fn string_attributes(
    attributes: impl IntoIterator<Item = (String, String, String)>,
) -> MessageAttributes {
    attributes
        .into_iter()
        .map(|(name, data_type, value)| {
            let value = AttributeValue {
                data_type,
                string_value: Some(value),
                binary_value: None,
            };
            (name, value)
        })
        .collect()
}

/// Sends one message to the queue `queue_arn` names (committed when this
/// returns).
pub(crate) async fn send_to_queue(
    sqs: &Sqs,
    queue_arn: &str,
    message: QueueSend,
) -> Result<(), Refused> {
    let queue = sqs.queue_by_arn(queue_arn).await.map_err(Refused::sqs)?;
    let fifo = queue.is_fifo();
    let outgoing = Outgoing {
        body: message.body,
        attributes: message.attributes,
        group_id: message.group_id.filter(|_| fifo),
        deduplication_id: message.dedup_id.filter(|_| fifo),
        sender_id: ignis_model::arn::ACCOUNT_ID.to_owned(),
        ..Outgoing::default()
    };
    let sent = sqs
        .send(&queue.name, vec![outgoing])
        .await
        .map_err(Refused::sqs)?;
    match sent.into_iter().next() {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) if e.sender_fault => Err(Refused::Client {
            code: e.code,
            message: e.message,
        }),
        Some(Err(e)) => Err(Refused::Server(format!("{}: {}", e.code, e.message))),
        None => Err(Refused::Server("the queue answered nothing".into())),
    }
}

/// Publishes to the topic `topic_arn` names, as a Publish would (committed
/// to its subscriptions' deliveries when this returns); attributes are
/// `(name, data type, value)`.
pub(crate) async fn publish(
    sns: &ignis_sns::Sns,
    topic_arn: &str,
    body: String,
    attributes: Vec<(String, String, String)>,
) -> Result<(), Refused> {
    match sns.publish_message(topic_arn, body, attributes).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == "NotFound" => Err(Refused::Missing {
            code: e.code.to_string(),
            message: e.message,
        }),
        Err(e) if e.sender_fault => Err(Refused::Client {
            code: e.code.to_string(),
            message: e.message,
        }),
        Err(e) => Err(Refused::Server(format!("{}: {}", e.code, e.message))),
    }
}

/// The resource policy of a function or queue (`None`: none set); a
/// missing target is [`Refused::Missing`].
pub(crate) async fn function_policy(
    functions: &Functions,
    function_arn: &str,
) -> Result<Option<String>, Refused> {
    let (name, qualifier) = function_of(function_arn).ok_or_else(|| Refused::Client {
        code: "ValidationException".into(),
        message: format!("{function_arn} is not a function ARN"),
    })?;
    functions
        .resolve(&name, qualifier.as_deref())
        .await
        .map_err(|e| Refused::Missing {
            code: "ResourceNotFoundException".into(),
            message: e.0.to_string(),
        })?;
    Ok(functions
        .get_policy(&name, qualifier.as_deref())
        .await
        .ok()
        .map(|p| p.policy))
}

/// The `Policy` attribute of the queue `queue_arn` names, if set.
pub(crate) async fn queue_policy(sqs: &Sqs, queue_arn: &str) -> Result<Option<String>, Refused> {
    let queue = sqs.queue_by_arn(queue_arn).await.map_err(Refused::sqs)?;
    Ok(queue
        .attributes
        .get("Policy")
        .filter(|p| !p.is_empty())
        .cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_arn_names_its_function_and_qualifier() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
        assert_eq!(function_of(arn), Some(("f".into(), None)));
        assert_eq!(
            function_of(&format!("{arn}:live")),
            Some(("f".into(), Some("live".into())))
        );
        assert_eq!(function_of("arn:aws:lambda:us-east-1"), None);
    }

    #[test]
    fn string_attributes_keep_their_types() {
        let a = string_attributes([("n".into(), "Number".into(), "7".into())]);
        assert_eq!(a["n"].data_type, "Number");
        assert_eq!(a["n"].string_value.as_deref(), Some("7"));
    }
}

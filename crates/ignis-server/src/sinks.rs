//! The server's [`Sink`]: messages for queue, topic and event-bus ARNs,
//! handed to the services that own them on this node. A message for an
//! event bus is an asynchronous invocation's record (a destination): it
//! goes on the bus as Lambda sends it to EventBridge (source `lambda`,
//! detail type `Lambda Function Invocation Result - Success` or
//! `- Failure`, the record as the detail).

use ignis_events::{Delivery, Sink, SinkError, SinkMessage};
use ignis_sqs::{AttributeValue, Outgoing, Sqs};

/// Queues and topics by ARN.
pub struct Services {
    /// The queue service.
    pub sqs: Sqs,
    /// The topic service.
    pub sns: ignis_sns::Sns,
    /// The event-rules service.
    pub events: ignis_eventbridge::EventBridge,
}

impl Sink for Services {
    fn deliver<'a>(&'a self, arn: &'a str, message: SinkMessage) -> Delivery<'a> {
        Box::pin(async move {
            match arn.split(':').nth(2) {
                Some("sqs") => self.to_queue(arn, message).await,
                Some("sns") => self.to_topic(arn, message).await,
                Some("events") => self.to_bus(arn, message).await,
                Some(service) => Err(SinkError::NotServed(service.to_owned())),
                None => Err(SinkError::Refused(format!("{arn} is not an ARN"))),
            }
        })
    }
}

impl Services {
    /// Puts an invocation record on an event bus (committed to its
    /// matching rules' deliveries when this returns).
    async fn to_bus(&self, arn: &str, message: SinkMessage) -> Result<(), SinkError> {
        if !arn.contains(":event-bus/") {
            return Err(SinkError::Refused(format!("{arn} is not an event bus")));
        }
        let record: serde_json::Value = serde_json::from_str(&message.body)
            .map_err(|e| SinkError::Refused(format!("the record is not JSON: {e}")))?;
        let context = &record["requestContext"];
        let detail_type = if context["condition"] == "Success" {
            "Lambda Function Invocation Result - Success"
        } else {
            "Lambda Function Invocation Result - Failure"
        };
        let resources = context["functionArn"]
            .as_str()
            .map(|f| vec![f.to_string()])
            .unwrap_or_default();
        match self
            .events
            .put_event(arn, "lambda", detail_type, resources, record)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == "ResourceNotFoundException" => {
                Err(SinkError::Missing(arn.to_owned()))
            }
            Err(e) => Err(SinkError::Refused(format!("{}: {}", e.code, e.message))),
        }
    }

    /// Publishes to a topic, as a Publish would (committed to its
    /// subscriptions' deliveries when this returns).
    async fn to_topic(&self, arn: &str, message: SinkMessage) -> Result<(), SinkError> {
        let attributes = message
            .attributes
            .into_iter()
            .map(|(name, data_type, value)| (name, data_type.to_owned(), value))
            .collect();
        match self
            .sns
            .publish_message(arn, message.body, attributes)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == "NotFound" => Err(SinkError::Missing(arn.to_owned())),
            Err(e) => Err(SinkError::Refused(format!("{}: {}", e.code, e.message))),
        }
    }

    async fn to_queue(&self, arn: &str, message: SinkMessage) -> Result<(), SinkError> {
        let name = self
            .sqs
            .name_of_arn(arn)
            .ok_or_else(|| SinkError::Missing(arn.to_owned()))?;
        let outgoing = Outgoing {
            body: message.body,
            attributes: message
                .attributes
                .into_iter()
                .map(|(name, data_type, value)| {
                    let value = AttributeValue {
                        data_type: data_type.to_owned(),
                        string_value: Some(value),
                        binary_value: None,
                    };
                    (name, value)
                })
                .collect(),
            sender_id: ignis_model::arn::ACCOUNT_ID.to_owned(),
            ..Outgoing::default()
        };
        let sent = self.sqs.send(name, vec![outgoing]).await.map_err(|e| {
            if e.code == "QueueDoesNotExist" {
                SinkError::Missing(arn.to_owned())
            } else {
                SinkError::Refused(e.to_string())
            }
        })?;
        match sent.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(SinkError::Refused(format!("{}: {}", e.code, e.message))),
            None => Err(SinkError::Refused("the queue answered nothing".into())),
        }
    }
}

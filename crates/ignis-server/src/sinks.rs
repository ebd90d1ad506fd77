//! The server's [`Sink`]: messages for queue, topic and event-bus ARNs,
//! handed to the services that own them on this node. A message for an
//! event bus is an asynchronous invocation's record (a destination): it
//! goes on the bus as Lambda sends it to EventBridge (source `lambda`,
//! detail type `Lambda Function Invocation Result - Success` or
//! `- Failure`, the record as the detail).

use ignis_events::{Delivery, Sink, SinkError, SinkMessage};
use ignis_sqs::Sqs;

use crate::node::{self, QueueSend, Refused};

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
        node::publish(&self.sns, arn, message.body, attributes)
            .await
            .map_err(|r| sink_error(arn, r))
    }

    async fn to_queue(&self, arn: &str, message: SinkMessage) -> Result<(), SinkError> {
        let attributes = message
            .attributes
            .into_iter()
            .map(|(name, data_type, value)| (name, data_type.to_owned(), value));
        let send = QueueSend {
            body: message.body,
            attributes: node::string_attributes(attributes),
            ..QueueSend::default()
        };
        node::send_to_queue(&self.sqs, arn, send)
            .await
            .map_err(|r| sink_error(arn, r))
    }
}

/// The sink's error for a refusal.
fn sink_error(arn: &str, r: Refused) -> SinkError {
    match r {
        Refused::Missing { .. } => SinkError::Missing(arn.to_owned()),
        r => SinkError::Refused(r.text()),
    }
}

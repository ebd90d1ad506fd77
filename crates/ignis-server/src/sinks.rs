//! The server's [`Sink`]: messages for queue and topic ARNs, handed to the
//! services that own them on this node.

use ignis_events::{Delivery, Sink, SinkError, SinkMessage};
use ignis_sqs::{AttributeValue, Outgoing, Sqs};

/// Queues and topics by ARN.
pub struct Services {
    /// The queue service.
    pub sqs: Sqs,
    /// The topic service.
    pub sns: ignis_sns::Sns,
}

impl Sink for Services {
    fn deliver<'a>(&'a self, arn: &'a str, message: SinkMessage) -> Delivery<'a> {
        Box::pin(async move {
            match arn.split(':').nth(2) {
                Some("sqs") => self.to_queue(arn, message).await,
                Some("sns") => self.to_topic(arn, message).await,
                Some(service) => Err(SinkError::NotServed(service.to_owned())),
                None => Err(SinkError::Refused(format!("{arn} is not an ARN"))),
            }
        })
    }
}

impl Services {
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

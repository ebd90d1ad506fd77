//! The server's [`Sink`]: messages for queue and topic ARNs, handed to the
//! services that own them on this node.

use ignis_events::{Delivery, Sink, SinkError, SinkMessage};
use ignis_sqs::{AttributeValue, Outgoing, Sqs};

/// Queues (and, once served, topics) by ARN.
pub struct Services {
    /// The queue service.
    pub sqs: Sqs,
}

impl Sink for Services {
    fn deliver<'a>(&'a self, arn: &'a str, message: SinkMessage) -> Delivery<'a> {
        Box::pin(async move {
            match arn.split(':').nth(2) {
                Some("sqs") => self.to_queue(arn, message).await,
                Some(service) => Err(SinkError::NotServed(service.to_owned())),
                None => Err(SinkError::Refused(format!("{arn} is not an ARN"))),
            }
        })
    }
}

impl Services {
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

//! What an `EventSourceArn` names: an Ignis queue or an Amazon MQ
//! (RabbitMQ) broker; and the [`Catalog`] that says whether it exists.

use serde::{Deserialize, Serialize};

/// A mapping's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// An Ignis queue (`arn:aws:sqs:…:name`).
    Sqs {
        /// The queue's name.
        queue: String,
        /// Whether it is a FIFO queue.
        fifo: bool,
    },
    /// A RabbitMQ broker named as Amazon MQ names one
    /// (`arn:aws:mq:…:broker:name:id`).
    Mq {
        /// The broker's name (the ARN's sixth field).
        broker: String,
    },
}

/// The kind of source an ARN names, before looking it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceArn<'a> {
    /// `arn:aws:sqs:region:account:name`.
    Sqs,
    /// `arn:aws:mq:region:account:broker:name:id`: the broker's name.
    Mq(&'a str),
    /// A service Lambda reads (Kinesis, DynamoDB, Kafka, DocumentDB) but
    /// Ignis does not serve.
    Unserved(&'a str),
    /// Anything else.
    Unknown,
}

impl<'a> SourceArn<'a> {
    /// Classifies `arn`.
    pub fn parse(arn: &'a str) -> Self {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", _, "sqs", _, _, name] if !name.is_empty() && !name.contains(':') => Self::Sqs,
            ["arn", _, "mq", _, _, rest] => match rest.split(':').collect::<Vec<_>>().as_slice() {
                ["broker", name, id] if !name.is_empty() && !id.is_empty() => Self::Mq(name),
                _ => Self::Unknown,
            },
            ["arn", _, service @ ("kinesis" | "dynamodb" | "kafka" | "rds"), ..] => {
                Self::Unserved(service)
            }
            _ => Self::Unknown,
        }
    }
}

/// Facts about an Ignis queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFacts {
    /// The queue's name.
    pub name: String,
    /// Whether it is a FIFO queue.
    pub fifo: bool,
    /// Its `VisibilityTimeout`, seconds.
    pub visibility_timeout: u32,
}

/// Where mappings look their sources up (the queue service).
#[async_trait::async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// The queue an ARN names; `None` if there is none.
    async fn queue(&self, arn: &str) -> Result<Option<QueueFacts>, String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_arns() {
        assert_eq!(
            SourceArn::parse("arn:aws:sqs:us-east-1:000000000000:jobs"),
            SourceArn::Sqs
        );
        assert_eq!(
            SourceArn::parse("arn:aws:mq:us-east-1:000000000000:broker:main:b-1234"),
            SourceArn::Mq("main")
        );
        assert_eq!(
            SourceArn::parse("arn:aws:kinesis:us-east-1:000000000000:stream/s"),
            SourceArn::Unserved("kinesis")
        );
        assert_eq!(
            SourceArn::parse("arn:aws:sqs:us-east-1:000000000000:"),
            SourceArn::Unknown
        );
        assert_eq!(
            SourceArn::parse("arn:aws:mq:us-east-1:0:broker:x"),
            SourceArn::Unknown
        );
        assert_eq!(SourceArn::parse("jobs"), SourceArn::Unknown);
    }
}

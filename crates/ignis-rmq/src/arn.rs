//! The two ARNs a RabbitMQ mapping names: the broker
//! (`arn:aws:mq:<region>:<account>:broker:<name>:<id>`, the mapping's
//! `EventSourceArn`) and the credentials' secret
//! (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`, the `URI` of
//! its `BASIC_AUTH` source access configuration).

/// A broker ARN, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerArn {
    /// The region named.
    pub region: String,
    /// The account named.
    pub account: String,
    /// The broker's name: the key of Ignis's brokers registry.
    pub name: String,
    /// The broker's id (`b-…` on Amazon MQ); any non-empty text here.
    pub id: String,
}

/// Why an ARN is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// Not `arn:aws:mq:<region>:<account>:broker:<name>:<id>`.
    #[error(
        "{0} is not an Amazon MQ broker ARN (arn:aws:mq:<region>:<account>:broker:<name>:<id>)"
    )]
    NotBroker(String),
    /// Not `arn:aws:secretsmanager:<region>:<account>:secret:<name>`.
    #[error("{0} is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)")]
    NotSecret(String),
}

impl BrokerArn {
    /// Parses `arn:<partition>:mq:<region>:<account>:broker:<name>:<id>`.
    pub fn parse(arn: &str) -> Result<Self, ArnError> {
        let bad = || ArnError::NotBroker(arn.to_string());
        let parts: Vec<&str> = arn.splitn(8, ':').collect();
        match parts.as_slice() {
            ["arn", partition, "mq", region, account, "broker", name, id]
                if !partition.is_empty()
                    && !region.is_empty()
                    && !account.is_empty()
                    && !name.is_empty()
                    && !id.is_empty()
                    && !id.contains(':') =>
            {
                Ok(Self {
                    region: region.to_string(),
                    account: account.to_string(),
                    name: name.to_string(),
                    id: id.to_string(),
                })
            }
            _ => Err(bad()),
        }
    }

    /// Whether `arn` looks like a broker ARN (`arn:*:mq:…`): the test a
    /// dispatcher uses to send a mapping to this event source.
    pub fn is_broker_arn(arn: &str) -> bool {
        let mut parts = arn.split(':');
        parts.next() == Some("arn") && parts.nth(1) == Some("mq")
    }
}

/// The secret's name in a secret ARN: what follows `:secret:`.
pub fn secret_name(arn: &str) -> Result<&str, ArnError> {
    let bad = || ArnError::NotSecret(arn.to_string());
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "secretsmanager", region, account, "secret", name]
            if !partition.is_empty()
                && !region.is_empty()
                && !account.is_empty()
                && !name.is_empty() =>
        {
            Ok(name)
        }
        _ => Err(bad()),
    }
}

/// The ARN Ignis gives the secret `name`.
pub fn secret_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}")
}

/// The ARN Ignis gives the registered broker `name` with id `id`.
pub fn broker_arn(region: &str, account: &str, name: &str, id: &str) -> String {
    format!("arn:aws:mq:{region}:{account}:broker:{name}:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_arns_parse_into_their_parts() {
        let arn = BrokerArn::parse("arn:aws:mq:us-east-1:000000000000:broker:main:b-1234").unwrap();
        assert_eq!(arn.name, "main");
        assert_eq!(arn.id, "b-1234");
        assert_eq!(arn.region, "us-east-1");
        assert_eq!(arn.account, "000000000000");
        for bad in [
            "arn:aws:mq:us-east-1:000000000000:broker:main",
            "arn:aws:mq:us-east-1:000000000000:configuration:main:b-1",
            "arn:aws:sqs:us-east-1:000000000000:q",
            "arn:aws:mq:us-east-1:000000000000:broker::b-1",
            "arn:aws:mq:us-east-1:000000000000:broker:main:b-1:extra",
            "",
        ] {
            assert!(BrokerArn::parse(bad).is_err(), "{bad}");
        }
        assert!(BrokerArn::is_broker_arn("arn:aws:mq:r:a:broker:n:i"));
        assert!(!BrokerArn::is_broker_arn("arn:aws:sqs:r:a:q"));
        assert!(!BrokerArn::is_broker_arn("mq"));
    }

    #[test]
    fn secret_arns_name_their_secret() {
        let arn = secret_arn("us-east-1", "000000000000", "rabbit");
        assert_eq!(secret_name(&arn).unwrap(), "rabbit");
        assert!(secret_name("arn:aws:secretsmanager:us-east-1:0:secret:").is_err());
        assert!(secret_name("arn:aws:s3:::bucket").is_err());
        assert_eq!(
            broker_arn("r", "a", "main", "b-1"),
            "arn:aws:mq:r:a:broker:main:b-1"
        );
    }
}

//! From a mapping to a broker connection: the broker ARN's name looked up
//! in the brokers registry, the `BASIC_AUTH` secret ARN's name in the
//! secret store, both in the node's data directory. Done again at every
//! connection attempt, so `ignis brokers add` or `ignis secrets put` fixes
//! a mapping without touching it.

use std::path::{Path, PathBuf};

use crate::arn::{secret_name, BrokerArn};
use crate::brokers::{AmqpAddress, BrokerRegistry};
use crate::secrets::{BasicAuth, SecretStore, SecretsError};
use crate::status::Problem;

/// A broker's address and the credentials to log in with.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Where the broker listens.
    pub address: AmqpAddress,
    /// Who to log in as.
    pub credentials: BasicAuth,
}

/// Finds brokers and secrets in a data directory.
#[derive(Debug, Clone)]
pub struct Locator {
    data_dir: PathBuf,
}

impl Locator {
    /// The locator of `data_dir` (the server's `--data-dir`).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// The endpoint of the broker `event_source_arn`, logged in with the
    /// secret `secret_arn`.
    pub fn locate(
        &self,
        event_source_arn: &str,
        secret_arn: Option<&str>,
    ) -> Result<Endpoint, Problem> {
        let config = |e: &dyn std::fmt::Display| Problem::Config(e.to_string());
        let arn = BrokerArn::parse(event_source_arn).map_err(|e| config(&e))?;
        let address = BrokerRegistry::new(&self.data_dir)
            .resolve(&arn.name)
            .map_err(|e| config(&e))?;
        let secret_arn = secret_arn.ok_or_else(|| {
            Problem::Config("The mapping has no BASIC_AUTH source access configuration.".into())
        })?;
        let name = secret_name(secret_arn).map_err(|e| config(&e))?;
        let store = SecretStore::open(&self.data_dir).map_err(|e| config(&e))?;
        let credentials = match (store.get(name), aws_suffix(name)) {
            // `name-AbCdEf`, as Secrets Manager's ARNs end, names `name`
            // when there is no secret of the whole name.
            (Err(e @ SecretsError::NotFound(_)), Some(base)) => store.get(base).map_err(|_| e),
            (found, _) => found,
        }
        .map_err(|e| config(&e))?;
        Ok(Endpoint {
            address,
            credentials,
        })
    }
}

/// `name` without the `-XXXXXX` Secrets Manager appends to ARNs.
fn aws_suffix(name: &str) -> Option<&str> {
    let (base, suffix) = name.rsplit_once('-')?;
    (suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) && !base.is_empty())
        .then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROKER: &str = "arn:aws:mq:us-east-1:000000000000:broker:main:b-1";
    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:rabbit";

    #[test]
    fn a_mapping_is_located_through_the_registry_and_the_secret_store() {
        let dir = tempfile::tempdir().unwrap();
        let locator = Locator::new(dir.path());
        let problem = locator.locate(BROKER, Some(SECRET)).unwrap_err();
        assert!(
            matches!(&problem, Problem::Config(m) if m.contains("no broker named \"main\"")),
            "{problem:?}"
        );
        BrokerRegistry::new(dir.path())
            .add("main", "amqp://127.0.0.1:5999", None)
            .unwrap();
        let problem = locator.locate(BROKER, Some(SECRET)).unwrap_err();
        assert!(
            matches!(&problem, Problem::Config(m) if m.contains("no secret named \"rabbit\"")),
            "{problem:?}"
        );
        assert!(matches!(
            locator.locate(BROKER, None),
            Err(Problem::Config(_))
        ));
        let auth = BasicAuth {
            username: "u".into(),
            password: "p".into(),
        };
        SecretStore::open(dir.path())
            .unwrap()
            .put("rabbit", &auth)
            .unwrap();
        let endpoint = locator.locate(BROKER, Some(SECRET)).unwrap();
        assert_eq!(endpoint.address.port, 5999);
        assert_eq!(endpoint.credentials, auth);
        let suffixed = format!("{SECRET}-AbC123");
        assert_eq!(
            locator.locate(BROKER, Some(&suffixed)).unwrap().credentials,
            auth
        );
        let missing = format!("{SECRET}x-secret");
        let problem = locator.locate(BROKER, Some(&missing)).unwrap_err();
        assert!(
            matches!(&problem, Problem::Config(m) if m.contains("no secret named \"rabbitx-secret\"")),
            "the whole name is reported: {problem:?}"
        );
        assert!(matches!(
            locator.locate("arn:aws:sqs:us-east-1:0:q", Some(SECRET)),
            Err(Problem::Config(_))
        ));
    }
}

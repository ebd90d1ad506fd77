//! Ignis's registry of RabbitMQ brokers: an Amazon MQ broker ARN names a
//! broker, not a host, so each broker a mapping may name is registered
//! once (`ignis brokers add NAME amqp://host:port`, or `amqps://` with the
//! CA certificates that sign the broker's, else the public ones) in
//! `<data dir>/brokers.json`, and the ARN's broker name is looked up here
//! when a mapping connects. The file holds no credentials (they are
//! secrets: [`crate::secrets`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::{read_optional, write_private};

/// The registry's file name in the data directory.
pub const BROKERS_FILE: &str = "brokers.json";

/// The AMQP port when an `amqp://` URL names none.
pub const DEFAULT_AMQP_PORT: u16 = 5672;
/// The AMQP over TLS port when an `amqps://` URL names none.
pub const DEFAULT_AMQPS_PORT: u16 = 5671;

/// Where a broker listens: `amqp://host[:port]` or `amqps://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpAddress {
    /// Host name or address (the name the broker's certificate must carry
    /// over TLS).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether to speak TLS (`amqps`).
    pub tls: bool,
    /// PEM CA certificates to trust over TLS instead of the public roots.
    pub ca_file: Option<PathBuf>,
}

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Broker {
    /// `amqp://host:port` or `amqps://host:port`.
    pub url: String,
    /// The id its ARN ends with, `b-` and a UUID.
    pub id: String,
    /// PEM CA certificates an `amqps` broker's certificate is checked
    /// against; none: the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    brokers: BTreeMap<String, Broker>,
}

/// Why the registry could not answer or change.
#[derive(Debug, thiserror::Error)]
pub enum BrokersError {
    /// The URL is not `amqp[s]://host[:port]`, or a CA file is not usable.
    #[error("{0}")]
    BadUrl(String),
    /// The name is not 1-50 letters, digits, `-` or `_` (Amazon MQ's rule).
    #[error("broker name {0:?} must be 1-50 letters, digits, hyphens or underscores")]
    BadName(String),
    /// No broker of that name is registered.
    #[error("no broker named {0:?} is registered (ignis brokers add {0} amqp://host:port)")]
    NotFound(String),
    /// The file could not be read, parsed or written.
    #[error("failed to {action} {path}: {reason}")]
    File {
        /// `read`, `parse`, `write`.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        reason: String,
    },
}

impl AmqpAddress {
    /// Parses `amqp://host[:port]` or `amqps://host[:port]` (no
    /// credentials, no path: those come from the mapping's secret and
    /// `VIRTUAL_HOST`).
    pub fn parse(url: &str) -> Result<Self, BrokersError> {
        let bad = |why: &str| BrokersError::BadUrl(format!("broker URL {url:?} {why}"));
        let (rest, tls, default_port) = if let Some(rest) = url.strip_prefix("amqp://") {
            (rest, false, DEFAULT_AMQP_PORT)
        } else if let Some(rest) = url.strip_prefix("amqps://") {
            (rest, true, DEFAULT_AMQPS_PORT)
        } else {
            return Err(bad("must be amqp://host[:port] or amqps://host[:port]"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('@') {
            return Err(bad("must not hold credentials: put them in a secret"));
        }
        if rest.contains('/') || rest.contains('?') {
            return Err(bad(
                "must not name a virtual host: the mapping's VIRTUAL_HOST does",
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("has a bad port"))?;
                (host, port)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("names no host"));
        }
        Ok(Self {
            host: host.to_string(),
            port,
            tls,
            ca_file: None,
        })
    }
}

/// The registry in a data directory.
#[derive(Debug, Clone)]
pub struct BrokerRegistry {
    path: PathBuf,
}

impl BrokerRegistry {
    /// The registry of `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(BROKERS_FILE),
        }
    }

    fn load(&self) -> Result<RegistryFile, BrokersError> {
        let shown = || self.path.display().to_string();
        let Some(text) = read_optional(&self.path).map_err(|e| BrokersError::File {
            action: "read",
            path: shown(),
            reason: e.to_string(),
        })?
        else {
            return Ok(RegistryFile::default());
        };
        serde_json::from_slice(&text).map_err(|e| BrokersError::File {
            action: "parse",
            path: shown(),
            reason: e.to_string(),
        })
    }

    fn save(&self, file: &RegistryFile) -> Result<(), BrokersError> {
        let bytes = serde_json::to_vec_pretty(file).expect("the registry serializes");
        write_private(&self.path, &bytes).map_err(|e| BrokersError::File {
            action: "write",
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Registers (or re-points, keeping its id) the broker `name` at
    /// `url`, an `amqps` one trusting the CA certificates in `ca_file`
    /// (PEM) if given.
    pub fn add(
        &self,
        name: &str,
        url: &str,
        ca_file: Option<&Path>,
    ) -> Result<Broker, BrokersError> {
        check_name(name)?;
        let address = AmqpAddress::parse(url)?;
        let ca_file = match ca_file {
            None => None,
            Some(_) if !address.tls => {
                return Err(BrokersError::BadUrl(format!(
                    "a CA file is for amqps:// brokers, not {url:?}"
                )))
            }
            Some(path) => Some(check_ca_file(path)?),
        };
        let mut file = self.load()?;
        let id = file
            .brokers
            .get(name)
            .map(|b| b.id.clone())
            .unwrap_or_else(|| format!("b-{}", uuid::Uuid::new_v4()));
        let broker = Broker {
            url: url.to_string(),
            id,
            ca_file,
        };
        file.brokers.insert(name.to_string(), broker.clone());
        self.save(&file)?;
        Ok(broker)
    }

    /// Forgets the broker `name`.
    pub fn remove(&self, name: &str) -> Result<(), BrokersError> {
        let mut file = self.load()?;
        if file.brokers.remove(name).is_none() {
            return Err(BrokersError::NotFound(name.to_string()));
        }
        self.save(&file)
    }

    /// Every registered broker by name.
    pub fn list(&self) -> Result<BTreeMap<String, Broker>, BrokersError> {
        Ok(self.load()?.brokers)
    }

    /// Where the broker `name` listens.
    pub fn resolve(&self, name: &str) -> Result<AmqpAddress, BrokersError> {
        let file = self.load()?;
        let broker = file
            .brokers
            .get(name)
            .ok_or_else(|| BrokersError::NotFound(name.to_string()))?;
        let mut address = AmqpAddress::parse(&broker.url)?;
        address.ca_file = broker.ca_file.as_ref().map(PathBuf::from);
        Ok(address)
    }
}

/// The CA file's absolute path, once it reads as PEM certificates.
fn check_ca_file(path: &Path) -> Result<String, BrokersError> {
    let bad = |why: String| BrokersError::BadUrl(format!("CA file {}: {why}", path.display()));
    let absolute = std::fs::canonicalize(path).map_err(|e| bad(e.to_string()))?;
    let text = std::fs::read_to_string(&absolute).map_err(|e| bad(e.to_string()))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(absolute.display().to_string())
}

fn check_name(name: &str) -> Result<(), BrokersError> {
    let ok = (1..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(BrokersError::BadName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_amqp_host_and_port_only() {
        let a = AmqpAddress::parse("amqp://127.0.0.1:5673").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 5673));
        let a = AmqpAddress::parse("amqp://rabbit.internal/").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("rabbit.internal", 5672));
        let a = AmqpAddress::parse("amqp://[::1]:5674").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 5674));
        let a = AmqpAddress::parse("amqps://b-1.mq.example.com").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.tls),
            ("b-1.mq.example.com", 5671, true)
        );
        assert!(!AmqpAddress::parse("amqp://h").unwrap().tls);
        for bad in [
            "amqpx://h:5671",
            "http://h",
            "amqp://u:p@h",
            "amqp://h/vhost",
            "amqp://h:0",
            "amqp://h:x",
            "amqp://",
        ] {
            assert!(AmqpAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn brokers_are_added_resolved_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let reg = BrokerRegistry::new(dir.path());
        assert!(matches!(
            reg.resolve("main"),
            Err(BrokersError::NotFound(_))
        ));
        let first = reg.add("main", "amqp://127.0.0.1:5673", None).unwrap();
        assert!(first.id.starts_with("b-"));
        assert_eq!(reg.resolve("main").unwrap().port, 5673);
        let again = reg.add("main", "amqp://127.0.0.1:5674", None).unwrap();
        assert_eq!(again.id, first.id, "re-pointing keeps the id");
        assert_eq!(
            BrokerRegistry::new(dir.path())
                .resolve("main")
                .unwrap()
                .port,
            5674
        );
        assert_eq!(reg.list().unwrap().len(), 1);
        assert!(reg.add("bad name", "amqp://h", None).is_err());
        assert!(reg.add("other", "amqp://u:p@h", None).is_err());
        // A CA file: amqps only, PEM certificates only, kept by absolute path.
        let ca = dir.path().join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(reg.add("tls", "amqp://h", Some(&ca)).is_err());
        assert!(reg
            .add("tls", "amqps://h", Some(&dir.path().join("none.pem")))
            .is_err());
        std::fs::write(dir.path().join("junk.pem"), "junk").unwrap();
        assert!(reg
            .add("tls", "amqps://h", Some(&dir.path().join("junk.pem")))
            .is_err());
        reg.add("tls", "amqps://h", Some(&ca)).unwrap();
        let tls = reg.resolve("tls").unwrap();
        assert!(tls.tls);
        assert_eq!(tls.ca_file, Some(std::fs::canonicalize(&ca).unwrap()));
        reg.remove("tls").unwrap();
        reg.remove("main").unwrap();
        assert!(matches!(reg.remove("main"), Err(BrokersError::NotFound(_))));
        assert!(reg.list().unwrap().is_empty());
    }
}

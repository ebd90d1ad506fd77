//! A function's (or qualifier's) asynchronous invocation configuration:
//! the `event-invoke` setting PutFunctionEventInvokeConfig stores and the
//! dispatcher obeys, and the destinations it names.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The settings kind of an event invoke configuration (qualifier `""`: the
/// unqualified function, `$LATEST`).
pub const EVENT_INVOKE_CONFIG: &str = "event-invoke";

/// Lambda's default and largest `MaximumRetryAttempts`.
pub const MAX_RETRY_ATTEMPTS: u32 = 2;
/// Lambda's smallest `MaximumEventAgeInSeconds`.
pub const MIN_EVENT_AGE_S: u32 = 60;
/// Lambda's default and largest `MaximumEventAgeInSeconds` (six hours).
pub const MAX_EVENT_AGE_S: u32 = 21_600;

/// The stored document, in Lambda's field names (it is answered as it is,
/// with the function's ARN added).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfig {
    /// Retries of a function error (0–2); `None`: 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    /// Oldest event still run, seconds (60–21,600); `None`: 21,600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    /// Where records of finished events go.
    #[serde(default)]
    pub destination_config: DestinationConfig,
    /// When it was last put or updated, seconds since the Unix epoch.
    pub last_modified: f64,
}

/// `DestinationConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    /// After a success.
    #[serde(default)]
    pub on_success: OnDestination,
    /// After retries are exhausted or the event got too old.
    #[serde(default)]
    pub on_failure: OnDestination,
}

/// `OnSuccess` / `OnFailure`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnDestination {
    /// The destination's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

impl OnDestination {
    /// The ARN, when one is set (an empty string is none, as on Lambda).
    pub fn arn(&self) -> Option<&str> {
        self.destination.as_deref().filter(|a| !a.is_empty())
    }
}

/// What the dispatcher does with a function's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Retries of a function error.
    pub max_retries: u32,
    /// Events older than this are not run again.
    pub max_age: Duration,
    /// Destination after a success.
    pub on_success: Option<String>,
    /// Destination after a failure.
    pub on_failure: Option<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_retries: MAX_RETRY_ATTEMPTS,
            max_age: Duration::from_secs(u64::from(MAX_EVENT_AGE_S)),
            on_success: None,
            on_failure: None,
        }
    }
}

impl From<&EventInvokeConfig> for Policy {
    fn from(c: &EventInvokeConfig) -> Self {
        let d = &c.destination_config;
        Self {
            max_retries: c
                .maximum_retry_attempts
                .unwrap_or(MAX_RETRY_ATTEMPTS)
                .min(MAX_RETRY_ATTEMPTS),
            max_age: Duration::from_secs(u64::from(
                c.maximum_event_age_in_seconds
                    .unwrap_or(MAX_EVENT_AGE_S)
                    .clamp(MIN_EVENT_AGE_S, MAX_EVENT_AGE_S),
            )),
            on_success: d.on_success.arn().map(str::to_owned),
            on_failure: d.on_failure.arn().map(str::to_owned),
        }
    }
}

/// Where a destination ARN delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An Ignis function (an asynchronous invocation of it).
    Function {
        /// Its name.
        name: String,
        /// The version or alias the ARN names.
        qualifier: Option<String>,
    },
    /// A queue, topic, event bus or bucket, named by the ARN's service
    /// (`sqs`, `sns`, `events`, `s3`): delivered through the
    /// [`crate::Sink`].
    Service(String),
}

impl Destination {
    /// Reads a destination ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`
    /// for a function); `None` when it is no ARN at all.
    pub fn parse(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() < 6 || parts[0] != "arn" || parts[2].is_empty() {
            return None;
        }
        if parts[2] != "lambda" {
            return Some(Self::Service(parts[2].to_owned()));
        }
        match parts[5..] {
            ["function", name] if !name.is_empty() => Some(Self::Function {
                name: name.to_owned(),
                qualifier: None,
            }),
            ["function", name, qualifier] if !name.is_empty() && !qualifier.is_empty() => {
                Some(Self::Function {
                    name: name.to_owned(),
                    qualifier: Some(qualifier.to_owned()),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_read_from_their_arns() {
        let f = "arn:aws:lambda:us-east-1:000000000000:function:dest";
        assert_eq!(
            Destination::parse(f),
            Some(Destination::Function {
                name: "dest".into(),
                qualifier: None
            })
        );
        assert_eq!(
            Destination::parse(&format!("{f}:live")),
            Some(Destination::Function {
                name: "dest".into(),
                qualifier: Some("live".into())
            })
        );
        assert_eq!(
            Destination::parse("arn:aws:sqs:us-east-1:000000000000:q"),
            Some(Destination::Service("sqs".into()))
        );
        for bad in [
            "dest",
            "arn:aws:lambda:us-east-1:0:layer:x",
            "arn:aws:lambda:r:0:function:",
        ] {
            assert_eq!(Destination::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_policy_takes_lambdas_defaults_and_bounds() {
        assert_eq!(
            Policy::from(&EventInvokeConfig::default()),
            Policy::default()
        );
        let c: EventInvokeConfig = serde_json::from_str(
            r#"{"MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":60,
                "DestinationConfig":{"OnSuccess":{},"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q"}},
                "LastModified":1.5}"#,
        )
        .unwrap();
        let p = Policy::from(&c);
        assert_eq!(p.max_retries, 0);
        assert_eq!(p.max_age, Duration::from_secs(60));
        assert_eq!(p.on_success, None);
        assert_eq!(
            p.on_failure.as_deref(),
            Some("arn:aws:sqs:us-east-1:000000000000:q")
        );
    }
}

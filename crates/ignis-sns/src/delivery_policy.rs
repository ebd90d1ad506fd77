//! HTTP/S delivery retries: SNS's `healthyRetryPolicy` (immediate retries,
//! then retries at the minimum delay, a backoff from the minimum to the
//! maximum delay, then retries at the maximum) read from a subscription's
//! or topic's `DeliveryPolicy`.
//!
//! Ignis's default is test-friendly: 3 retries, the first immediate, then
//! after 1 s and then 2 s (linear backoff from 1 s to 2 s).

use std::time::Duration;

use serde_json::{json, Value};

/// The retry policy of HTTP/S deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0–100).
    pub num_retries: u32,
    /// Of them, immediate.
    pub num_no_delay_retries: u32,
    /// Of them, at the minimum delay before the backoff.
    pub num_min_delay_retries: u32,
    /// Of them, at the maximum delay after the backoff.
    pub num_max_delay_retries: u32,
    /// The minimum delay, seconds.
    pub min_delay_target: u32,
    /// The maximum delay, seconds.
    pub max_delay_target: u32,
    /// `linear`, `arithmetic`, `geometric` or `exponential`.
    pub backoff: Backoff,
}

/// How delays grow during the backoff phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Evenly from min to max.
    Linear,
    /// Arithmetic growth (as linear here).
    Arithmetic,
    /// Doubling from min, capped at max.
    Geometric,
    /// Doubling from min, capped at max.
    Exponential,
}

impl Backoff {
    fn as_str(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Arithmetic => "arithmetic",
            Self::Geometric => "geometric",
            Self::Exponential => "exponential",
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            num_retries: 3,
            num_no_delay_retries: 1,
            num_min_delay_retries: 0,
            num_max_delay_retries: 0,
            min_delay_target: 1,
            max_delay_target: 2,
            backoff: Backoff::Linear,
        }
    }
}

impl RetryPolicy {
    /// Reads a `DeliveryPolicy`: a subscription's
    /// `{"healthyRetryPolicy": {…}}` or a topic's
    /// `{"http": {"defaultHealthyRetryPolicy": {…}}}`; missing fields take
    /// the defaults.
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let obj = doc.as_object().ok_or("must be a JSON object")?;
        let retry = obj.get("healthyRetryPolicy").or_else(|| {
            obj.get("http")
                .and_then(|h| h.get("defaultHealthyRetryPolicy"))
        });
        let mut p = Self::default();
        let Some(retry) = retry else {
            return Ok(p);
        };
        let num = |name: &str, max: u64| -> Result<Option<u32>, String> {
            match retry.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .filter(|n| *n <= max)
                    .map(|n| Some(n as u32))
                    .ok_or_else(|| format!("{name} must be a number from 0 to {max}")),
            }
        };
        if let Some(n) = num("numRetries", 100)? {
            p.num_retries = n;
        }
        if let Some(n) = num("numNoDelayRetries", 100)? {
            p.num_no_delay_retries = n;
        }
        if let Some(n) = num("numMinDelayRetries", 100)? {
            p.num_min_delay_retries = n;
        }
        if let Some(n) = num("numMaxDelayRetries", 100)? {
            p.num_max_delay_retries = n;
        }
        if let Some(n) = num("minDelayTarget", 3600)? {
            p.min_delay_target = n;
        }
        if let Some(n) = num("maxDelayTarget", 3600)? {
            p.max_delay_target = n;
        }
        if let Some(b) = retry.get("backoffFunction") {
            p.backoff = match b.as_str() {
                Some("linear") => Backoff::Linear,
                Some("arithmetic") => Backoff::Arithmetic,
                Some("geometric") => Backoff::Geometric,
                Some("exponential") => Backoff::Exponential,
                _ => {
                    return Err(
                        "backoffFunction must be linear, arithmetic, geometric or exponential"
                            .into(),
                    )
                }
            };
        }
        if p.min_delay_target > p.max_delay_target {
            return Err("minDelayTarget must be at most maxDelayTarget".into());
        }
        if p.num_no_delay_retries + p.num_min_delay_retries + p.num_max_delay_retries
            > p.num_retries
        {
            return Err("the phases' retries exceed numRetries".into());
        }
        Ok(p)
    }

    /// The delay before retry `n` (1-based); `None` past the last.
    pub fn delay(&self, n: u32) -> Option<Duration> {
        if n == 0 || n > self.num_retries {
            return None;
        }
        let min = u64::from(self.min_delay_target);
        let max = u64::from(self.max_delay_target);
        let mut i = n;
        if i <= self.num_no_delay_retries {
            return Some(Duration::ZERO);
        }
        i -= self.num_no_delay_retries;
        if i <= self.num_min_delay_retries {
            return Some(Duration::from_secs(min));
        }
        i -= self.num_min_delay_retries;
        let backoff = self.num_retries
            - self.num_no_delay_retries
            - self.num_min_delay_retries
            - self.num_max_delay_retries;
        if i <= backoff {
            let secs = match self.backoff {
                Backoff::Linear | Backoff::Arithmetic => {
                    if backoff <= 1 {
                        min
                    } else {
                        min + (max - min) * u64::from(i - 1) / u64::from(backoff - 1)
                    }
                }
                Backoff::Geometric | Backoff::Exponential => {
                    (min.max(1) << (i - 1).min(20)).min(max)
                }
            };
            return Some(Duration::from_secs(secs));
        }
        Some(Duration::from_secs(max))
    }

    /// The policy as `EffectiveDeliveryPolicy` shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "minDelayTarget": self.min_delay_target,
            "maxDelayTarget": self.max_delay_target,
            "numRetries": self.num_retries,
            "numMaxDelayRetries": self.num_max_delay_retries,
            "numNoDelayRetries": self.num_no_delay_retries,
            "numMinDelayRetries": self.num_min_delay_retries,
            "backoffFunction": self.backoff.as_str(),
        })
    }
}

/// A topic's `EffectiveDeliveryPolicy`.
pub fn effective_topic_policy(policy: &RetryPolicy) -> String {
    json!({
        "http": {
            "defaultHealthyRetryPolicy": policy.to_json(),
            "disableSubscriptionOverrides": false,
            "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}
        }
    })
    .to_string()
}

/// A subscription's `EffectiveDeliveryPolicy`.
pub fn effective_subscription_policy(policy: &RetryPolicy) -> String {
    json!({"healthyRetryPolicy": policy.to_json()}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_give_their_delays() {
        let d = RetryPolicy::default();
        assert_eq!(d.delay(1), Some(Duration::ZERO));
        assert_eq!(d.delay(2), Some(Duration::from_secs(1)));
        assert_eq!(d.delay(3), Some(Duration::from_secs(2)));
        assert_eq!(d.delay(4), None);
        let p = RetryPolicy::parse(
            r#"{"healthyRetryPolicy":{"numRetries":6,"numNoDelayRetries":1,"numMinDelayRetries":1,"numMaxDelayRetries":1,"minDelayTarget":2,"maxDelayTarget":8,"backoffFunction":"exponential"}}"#,
        )
        .unwrap();
        let delays: Vec<u64> = (1..=6).map(|n| p.delay(n).unwrap().as_secs()).collect();
        assert_eq!(delays, vec![0, 2, 2, 4, 8, 8]);
        assert!(RetryPolicy::parse("[]").is_err());
        assert!(RetryPolicy::parse(r#"{"healthyRetryPolicy":{"numRetries":-1}}"#).is_err());
        assert!(RetryPolicy::parse(
            r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":9,"maxDelayTarget":2}}}"#
        )
        .is_err());
    }
}

//! Execution roles: each environment gets temporary credentials for its
//! function's role (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, as Lambda sets them) from a [`CredentialIssuer`]
//! the server provides, and `AWS_ENDPOINT_URL` pointing at Ignis when the
//! environment can reach it. The values go only into the environment's
//! process environment: never into the function's configuration, a log
//! line or the store.
//!
//! Credentials expire. An environment is not handed an invocation once
//! less than [`renewal_margin`] is left of them (its timeout and some
//! slack), so an invocation never runs on expired credentials: an idle one
//! is retired by the reaper or by the next invocation that finds it, a
//! busy one when it is released, a provisioned one is replaced by its
//! provisioner; their successors start with new credentials.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Variables of the environment that carry the credentials.
pub const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// See [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// See [`ACCESS_KEY_ID`].
pub const SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// The SDKs' standard variable for the endpoint of every service.
pub const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Slack beyond the function's timeout left on the credentials when an
/// environment takes its last invocation; a quarter of their lifetime if
/// that is less (short lifetimes in tests).
const SLACK: Duration = Duration::from_secs(60);

/// Temporary credentials for a role session.
#[derive(Clone)]
pub struct IssuedCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// When they stop working.
    pub expiration: DateTime<Utc>,
}

impl std::fmt::Debug for IssuedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key id names the session, not a secret; the rest stays out
        // of any log line.
        f.debug_struct("IssuedCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Issues an execution environment's credentials for its function's role.
pub trait CredentialIssuer: Send + Sync {
    /// Credentials for `role_arn`'s session `session_name` (the function's
    /// name, as Lambda names it); `Err` says why none could be issued.
    fn issue(&self, role_arn: &str, session_name: &str) -> Result<IssuedCredentials, String>;
}

/// How long before its credentials expire an environment stops taking
/// invocations: the function's `timeout` (an invocation taken just before
/// runs on valid credentials to its end) and [`SLACK`], or a quarter of
/// `lifetime` when that is less.
pub fn renewal_margin(timeout: Duration, lifetime: Duration) -> Duration {
    timeout + SLACK.min(lifetime / 4)
}

/// How long an environment launched at `now` with credentials expiring
/// at `expiration` takes invocations.
pub(crate) fn usable_for(
    expiration: DateTime<Utc>,
    now: DateTime<Utc>,
    timeout: Duration,
) -> Duration {
    let lifetime = (expiration - now).to_std().unwrap_or(Duration::ZERO);
    lifetime.saturating_sub(renewal_margin(timeout, lifetime))
}

/// The variables an environment gets: the credentials, then the endpoint
/// unless the function's own configuration sets one (Lambda lets a
/// function set `AWS_ENDPOINT_URL`; the credentials' names are reserved).
pub(crate) fn variables(
    creds: Option<&IssuedCredentials>,
    endpoint_url: Option<&str>,
    configured: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    if let Some(c) = creds {
        vars.push((ACCESS_KEY_ID.to_string(), c.access_key_id.clone()));
        vars.push((SECRET_ACCESS_KEY.to_string(), c.secret_access_key.clone()));
        vars.push((SESSION_TOKEN.to_string(), c.session_token.clone()));
    }
    if let Some(url) = endpoint_url.filter(|_| !configured.contains_key(ENDPOINT_URL)) {
        vars.push((ENDPOINT_URL.to_string(), url.to_string()));
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_covers_the_timeout_and_a_minute_or_a_quarter_of_a_short_lifetime() {
        let h12 = Duration::from_secs(12 * 3600);
        assert_eq!(
            renewal_margin(Duration::from_secs(900), h12),
            Duration::from_secs(960)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(3), Duration::from_secs(20)),
            Duration::from_secs(8)
        );
    }

    #[test]
    fn an_environment_renews_before_expiry_minus_its_timeout() {
        let now = Utc::now();
        let t3 = Duration::from_secs(3);
        let in_secs = |s| now + chrono::Duration::seconds(s);
        assert_eq!(usable_for(in_secs(20), now, t3), Duration::from_secs(12));
        assert_eq!(
            usable_for(in_secs(12 * 3600), now, Duration::from_secs(900)),
            Duration::from_secs(12 * 3600 - 960)
        );
        // Credentials that expire within the margin are of no use after
        // the first invocation; expired ones neither.
        assert_eq!(usable_for(in_secs(2), now, t3), Duration::ZERO);
        assert_eq!(usable_for(in_secs(-5), now, t3), Duration::ZERO);
    }

    #[test]
    fn the_debug_form_shows_no_secret() {
        let c = IssuedCredentials {
            access_key_id: "ASIAAAAAAAAAAAAAAAAA".into(),
            secret_access_key: "s3cr3t".into(),
            session_token: "t0k3n".into(),
            expiration: Utc::now(),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("t0k3n"),
            "{shown}"
        );
    }

    #[test]
    fn a_configured_endpoint_wins_and_credentials_come_first() {
        let c = IssuedCredentials {
            access_key_id: "ASIAAAAAAAAAAAAAAAAA".into(),
            secret_access_key: "s".into(),
            session_token: "t".into(),
            expiration: Utc::now(),
        };
        let none = std::collections::BTreeMap::new();
        let vars = variables(Some(&c), Some("http://10.0.0.1:1"), &none);
        let names: Vec<_> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                SESSION_TOKEN,
                ENDPOINT_URL
            ]
        );
        let own = [(ENDPOINT_URL.to_string(), "http://mine".to_string())].into();
        let vars = variables(None, Some("http://10.0.0.1:1"), &own);
        assert!(vars.is_empty(), "{vars:?}");
    }
}

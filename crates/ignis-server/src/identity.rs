//! The node's identity material for `ignis serve`: the master key every
//! temporary credential is derived from and verified with
//! (`docs/identity.md`, "Temporary credentials"), and the execution
//! environments' credentials issued with it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ignis_identity::credentials::MasterKey;
use ignis_router::{CredentialIssuer, IssuedCredentials};

/// How long an execution environment's credentials are valid: 12 hours, a
/// role session's longest on AWS. An environment is retired before they
/// expire (`ignis_router::credentials`). `IGNIS_CREDENTIALS_LIFETIME_SECS`
/// sets another (tests).
pub const DEFAULT_CREDENTIALS_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The master key file's name in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Loads `<data_dir>/master.key`, or creates it (32 random bytes as hex,
/// mode 0600) on first start. The front verifies `ASIA…` credentials with
/// it; the router issues each execution environment's with it.
pub fn master_key(data_dir: &Path) -> anyhow::Result<Arc<MasterKey>> {
    let path = data_dir.join(MASTER_KEY_FILE);
    let key = MasterKey::load_or_create(&path)
        .with_context(|| format!("load or create the master key {}", path.display()))?;
    Ok(Arc::new(key))
}

/// Issues execution environments' credentials from the master key: the
/// front verifies them statelessly with the same key, as any role
/// session's (nothing is stored).
pub struct ExecutionCredentials {
    key: Arc<MasterKey>,
    lifetime: chrono::Duration,
}

impl ExecutionCredentials {
    /// Credentials from `key`, each valid for `lifetime`.
    pub fn new(key: Arc<MasterKey>, lifetime: Duration) -> anyhow::Result<Self> {
        let lifetime = chrono::Duration::from_std(lifetime)
            .context("the credentials' lifetime is out of range")?;
        Ok(Self { key, lifetime })
    }
}

impl CredentialIssuer for ExecutionCredentials {
    fn issue(&self, role_arn: &str, session_name: &str) -> Result<IssuedCredentials, String> {
        let c = self
            .key
            .issue(role_arn, session_name, self.lifetime, chrono::Utc::now())
            .map_err(|e| e.to_string())?;
        Ok(IssuedCredentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration: c.expiration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_key_is_created_once_with_mode_0600_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = master_key(dir.path()).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = master_key(dir.path()).unwrap();
        let id = "ASIAEXAMPLEEXAMPLE00";
        assert_eq!(first.secret_for(id), again.secret_for(id));
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MASTER_KEY_FILE), "not hex\n").unwrap();
        let err = master_key(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("master.key"), "{err:#}");
    }

    #[test]
    fn execution_credentials_authenticate_as_a_session_of_the_function_s_role() {
        let dir = tempfile::tempdir().unwrap();
        let key = master_key(dir.path()).unwrap();
        let issuer = ExecutionCredentials::new(key.clone(), Duration::from_secs(600)).unwrap();
        let role = "arn:aws:iam::000000000000:role/fn-role";
        let c = issuer.issue(role, "my-function").unwrap();
        assert!(c.access_key_id.starts_with("ASIA"), "{}", c.access_key_id);
        let now = chrono::Utc::now();
        let (claims, secret) = key
            .authenticate(&c.access_key_id, &c.session_token, now)
            .unwrap();
        assert_eq!(secret, c.secret_access_key);
        assert_eq!(
            (claims.role_arn.as_str(), claims.session_name.as_str()),
            (role, "my-function")
        );
        assert!(c.expiration <= now + chrono::Duration::seconds(600));
        assert!(key
            .authenticate(
                &c.access_key_id,
                &c.session_token,
                now + chrono::Duration::seconds(601)
            )
            .is_err());
    }
}

//! Temporary credentials for roles (STS AssumeRole, and each execution
//! environment's credentials for its function's role), derived from a
//! node master key so that no secret is ever stored in clear:
//!
//! - the access key id is `ASIA` and 16 random base32 characters;
//! - its secret is HMAC-SHA256(master key, "ignis-secret-v1" ‖ key id),
//!   base64, 40 characters ([`MasterKey::secret_for`]; long-term `AKIA`
//!   keys may be derived the same way, so the store keeps only the id);
//! - the session token is base64 of a JSON claim set (key id, role ARN,
//!   session name, issue and expiry times) followed by its
//!   HMAC-SHA256 under the master key: [`MasterKey::open`] needs nothing
//!   but the key. The claims are authenticated, not encrypted: they name
//!   nothing secret.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Prefix of temporary access key ids, as AWS.
pub const TEMPORARY_KEY_PREFIX: &str = "ASIA";
/// Prefix of long-term access key ids, as AWS.
pub const LONG_TERM_KEY_PREFIX: &str = "AKIA";
/// Length of a master key, bytes.
pub const MASTER_KEY_LEN: usize = 32;

const SECRET_CONTEXT: &[u8] = b"ignis-secret-v1\0";
const TOKEN_CONTEXT: &[u8] = b"ignis-session-token-v1\0";
const DERIVED_KEY_CONTEXT: &[u8] = b"ignis-derived-key-v1\0";
const MAC_LEN: usize = 32;

/// Why credentials could not be issued, opened or a key loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The session token's expiry has passed (AWS `ExpiredToken`).
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The session token is not one this master key issued, or not for
    /// this access key (AWS `InvalidClientTokenId`).
    #[error("The security token included in the request is invalid.")]
    InvalidToken,
    /// The operating system refused randomness.
    #[error("failed to draw random bytes: {0}")]
    Random(String),
    /// The master key file could not be read or written.
    #[error("failed to {action} master key file {path}")]
    KeyFile {
        /// `read`, `create`.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The master key file holds something else than 64 hex digits.
    #[error("master key file {0} does not hold 64 hex digits")]
    KeyFileContent(String),
}

/// Temporary credentials, as STS returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// 40 characters.
    pub secret_access_key: String,
    /// The opaque token the client sends as `X-Amz-Security-Token`.
    pub session_token: String,
    /// When they stop working.
    pub expiration: DateTime<Utc>,
}

/// What a session token says, once its MAC checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// The temporary access key id the token belongs to.
    pub access_key_id: String,
    /// The role assumed, `arn:aws:iam::<account>:role/<name>`.
    pub role_arn: String,
    /// The role session name.
    pub session_name: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expiration: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct RawClaims {
    v: u8,
    akid: String,
    role: String,
    session: String,
    iat: i64,
    exp: i64,
}

/// The node's master key: 32 random bytes, the root of every derived
/// secret and session token.
#[derive(Clone)]
pub struct MasterKey([u8; MASTER_KEY_LEN]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

fn random<const N: usize>() -> Result<[u8; N], CredentialsError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| CredentialsError::Random(e.to_string()))?;
    Ok(bytes)
}

impl MasterKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A new random key.
    pub fn generate() -> Result<Self, CredentialsError> {
        random().map(Self)
    }

    /// Reads the key from `path` (64 hex digits), or creates the file with
    /// a new random key, mode 0600, if there is none.
    pub fn load_or_create(path: &Path) -> Result<Self, CredentialsError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; MASTER_KEY_LEN]>::try_from(b).ok())
                    .ok_or_else(|| CredentialsError::KeyFileContent(shown.clone()))?;
                Ok(Self(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                write_key_file(path, &key).map_err(|source| CredentialsError::KeyFile {
                    action: "create",
                    path: shown,
                    source,
                })?;
                Ok(key)
            }
            Err(source) => Err(CredentialsError::KeyFile {
                action: "read",
                path: shown,
                source,
            }),
        }
    }

    fn mac(&self, context: &[u8], data: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(context);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// A 32-byte key for `purpose` (e.g. encrypting the secrets Ignis
    /// stores), derived as HMAC-SHA256(master key, "ignis-derived-key-v1" ‖
    /// purpose): the master key itself never leaves this type.
    pub fn derive_key(&self, purpose: &str) -> [u8; MASTER_KEY_LEN] {
        self.mac(DERIVED_KEY_CONTEXT, purpose.as_bytes())
    }

    /// The secret access key of `access_key_id`: 40 base64 characters.
    pub fn secret_for(&self, access_key_id: &str) -> String {
        let encoded = STANDARD.encode(self.mac(SECRET_CONTEXT, access_key_id.as_bytes()));
        encoded[..40].to_string()
    }

    /// Issues credentials for `role_arn`, valid from `now` for `duration`.
    pub fn issue(
        &self,
        role_arn: &str,
        session_name: &str,
        duration: Duration,
        now: DateTime<Utc>,
    ) -> Result<Credentials, CredentialsError> {
        let access_key_id = new_access_key_id(TEMPORARY_KEY_PREFIX)?;
        let expiration = now + duration;
        let claims = RawClaims {
            v: 1,
            akid: access_key_id.clone(),
            role: role_arn.to_string(),
            session: session_name.to_string(),
            iat: now.timestamp(),
            exp: expiration.timestamp(),
        };
        let mut blob = serde_json::to_vec(&claims).expect("claims serialize");
        let mac = self.mac(TOKEN_CONTEXT, &blob);
        blob.extend_from_slice(&mac);
        Ok(Credentials {
            secret_access_key: self.secret_for(&access_key_id),
            access_key_id,
            session_token: STANDARD.encode(blob),
            expiration: Utc
                .timestamp_opt(claims.exp, 0)
                .single()
                .unwrap_or(expiration),
        })
    }

    /// Checks a session token's MAC and expiry and returns its claims.
    pub fn open(
        &self,
        session_token: &str,
        now: DateTime<Utc>,
    ) -> Result<SessionClaims, CredentialsError> {
        let blob = STANDARD
            .decode(session_token.trim())
            .map_err(|_| CredentialsError::InvalidToken)?;
        if blob.len() <= MAC_LEN {
            return Err(CredentialsError::InvalidToken);
        }
        let (body, mac) = blob.split_at(blob.len() - MAC_LEN);
        if !bool::from(self.mac(TOKEN_CONTEXT, body).ct_eq(mac)) {
            return Err(CredentialsError::InvalidToken);
        }
        let raw: RawClaims =
            serde_json::from_slice(body).map_err(|_| CredentialsError::InvalidToken)?;
        let time = |secs| Utc.timestamp_opt(secs, 0).single();
        let (Some(issued_at), Some(expiration), 1) = (time(raw.iat), time(raw.exp), raw.v) else {
            return Err(CredentialsError::InvalidToken);
        };
        if now >= expiration {
            return Err(CredentialsError::ExpiredToken);
        }
        Ok(SessionClaims {
            access_key_id: raw.akid,
            role_arn: raw.role,
            session_name: raw.session,
            issued_at,
            expiration,
        })
    }

    /// What the front needs for a temporary key: opens the token, checks
    /// it belongs to `access_key_id`, and returns its claims and secret.
    pub fn authenticate(
        &self,
        access_key_id: &str,
        session_token: &str,
        now: DateTime<Utc>,
    ) -> Result<(SessionClaims, String), CredentialsError> {
        let claims = self.open(session_token, now)?;
        if claims.access_key_id != access_key_id {
            return Err(CredentialsError::InvalidToken);
        }
        Ok((claims, self.secret_for(access_key_id)))
    }
}

/// A new access key id: `prefix` (`AKIA`, `ASIA`) and 16 random base32
/// characters (`A-Z2-7`), 20 in all as AWS's.
pub fn new_access_key_id(prefix: &str) -> Result<String, CredentialsError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes: [u8; 16] = random()?;
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b % 32)] as char)
        .collect();
    Ok(format!("{prefix}{tail}"))
}

/// Whether an access key id is a temporary one (`ASIA…`).
pub fn is_temporary(access_key_id: &str) -> bool {
    access_key_id.starts_with(TEMPORARY_KEY_PREFIX)
}

fn write_key_file(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{}", hex::encode(key.0))?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes([byte; MASTER_KEY_LEN])
    }

    const ROLE: &str = "arn:aws:iam::000000000000:role/fn-role";

    #[test]
    fn issued_credentials_open_back_to_their_claims() {
        let creds = key(1)
            .issue(ROLE, "fn-session", Duration::hours(1), now())
            .unwrap();
        assert!(creds.access_key_id.starts_with("ASIA"));
        assert_eq!(creds.access_key_id.len(), 20);
        assert_eq!(creds.secret_access_key.len(), 40);
        assert_eq!(creds.expiration, now() + Duration::hours(1));
        let claims = key(1)
            .open(&creds.session_token, now() + Duration::minutes(59))
            .unwrap();
        assert_eq!(claims.access_key_id, creds.access_key_id);
        assert_eq!(claims.role_arn, ROLE);
        assert_eq!(claims.session_name, "fn-session");
        assert_eq!(claims.issued_at, now());
        assert_eq!(
            key(1).secret_for(&creds.access_key_id),
            creds.secret_access_key
        );
        let (_, secret) = key(1)
            .authenticate(&creds.access_key_id, &creds.session_token, now())
            .unwrap();
        assert_eq!(secret, creds.secret_access_key);
    }

    #[test]
    fn two_issues_differ() {
        let a = key(1).issue(ROLE, "s", Duration::hours(1), now()).unwrap();
        let b = key(1).issue(ROLE, "s", Duration::hours(1), now()).unwrap();
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.secret_access_key, b.secret_access_key);
    }

    #[test]
    fn a_tampered_token_is_invalid() {
        let creds = key(1).issue(ROLE, "s", Duration::hours(1), now()).unwrap();
        let mut blob = STANDARD.decode(&creds.session_token).unwrap();
        let at = blob.windows(7).position(|w| w == b"fn-role").unwrap();
        blob[at..at + 7].copy_from_slice(b"admin-x");
        let tampered = STANDARD.encode(&blob);
        assert_ne!(tampered, creds.session_token);
        assert!(matches!(
            key(1).open(&tampered, now()),
            Err(CredentialsError::InvalidToken)
        ));
        assert!(matches!(
            key(1).open("not base64 !", now()),
            Err(CredentialsError::InvalidToken)
        ));
        assert!(matches!(
            key(1).open(&STANDARD.encode([0u8; 8]), now()),
            Err(CredentialsError::InvalidToken)
        ));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let creds = key(1)
            .issue(ROLE, "s", Duration::minutes(15), now())
            .unwrap();
        assert!(matches!(
            key(1).open(&creds.session_token, now() + Duration::minutes(15)),
            Err(CredentialsError::ExpiredToken)
        ));
    }

    #[test]
    fn another_master_key_opens_nothing() {
        let creds = key(1).issue(ROLE, "s", Duration::hours(1), now()).unwrap();
        assert!(matches!(
            key(2).open(&creds.session_token, now()),
            Err(CredentialsError::InvalidToken)
        ));
        assert_ne!(
            key(2).secret_for(&creds.access_key_id),
            creds.secret_access_key
        );
    }

    #[test]
    fn a_token_for_another_key_id_is_invalid() {
        let a = key(1).issue(ROLE, "s", Duration::hours(1), now()).unwrap();
        let b = key(1).issue(ROLE, "s", Duration::hours(1), now()).unwrap();
        assert!(matches!(
            key(1).authenticate(&a.access_key_id, &b.session_token, now()),
            Err(CredentialsError::InvalidToken)
        ));
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(matches!(
            MasterKey::load_or_create(&path),
            Err(CredentialsError::KeyFileContent(_))
        ));
    }
}

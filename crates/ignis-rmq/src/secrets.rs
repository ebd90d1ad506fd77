//! The secrets Ignis keeps for event sources, in place of AWS Secrets
//! Manager: a mapping's `BASIC_AUTH` configuration names
//! `arn:aws:secretsmanager:<region>:<account>:secret:<name>`, and the
//! secret `<name>` is `<data dir>/secrets/<name>.json`, written by
//! `ignis secrets put`. Its content, Secrets Manager's
//! `{"username":…,"password":…}`, is sealed with ChaCha20-Poly1305 under a
//! key derived from the node's master key (`master.key` in the same data
//! directory) with the secret's name as associated data, so the file alone
//! reveals nothing and cannot be passed off under another name.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ignis_identity::credentials::MasterKey;
use serde::{Deserialize, Serialize};

use crate::files::{read_optional, write_private};

/// The secrets' folder in the data directory.
pub const SECRETS_DIR: &str = "secrets";
/// The master key's file in the data directory (as `ignis serve`'s).
pub const MASTER_KEY_FILE: &str = "master.key";
const KEY_PURPOSE: &str = "ignis-secrets-v1";
const NONCE_LEN: usize = 12;

/// A user name and password for a broker. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicAuth {
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"..")
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedFile {
    v: u8,
    nonce: String,
    ciphertext: String,
}

/// Why a secret could not be stored or read. No variant carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The name is not 1-256 of `A-Za-z0-9_+=.@-`, or starts with a dot.
    #[error("secret name {0:?} must be 1-256 letters, digits or _+=.@- and not start with a dot")]
    BadName(String),
    /// No secret of that name is stored.
    #[error("no secret named {0:?} is stored (ignis secrets put {0} --username U --password P)")]
    NotFound(String),
    /// The file did not open under this node's master key, or is not a
    /// sealed secret.
    #[error("secret {0:?} cannot be opened with this node's master key")]
    Unreadable(String),
    /// The secret's JSON has no string `username` and `password`.
    #[error("secret {0:?} does not hold a username and password")]
    NotBasicAuth(String),
    /// The master key or a file could not be read or written.
    #[error("failed to {action} {path}: {reason}")]
    File {
        /// `read`, `write`, `delete`, `load the master key from`.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        reason: String,
    },
}

/// The secrets of a data directory.
pub struct SecretStore {
    dir: PathBuf,
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("dir", &self.dir)
            .finish()
    }
}

impl SecretStore {
    /// The store of `data_dir`, sealed under `key`.
    pub fn new(data_dir: &Path, key: &MasterKey) -> Self {
        let derived = key.derive_key(KEY_PURPOSE);
        Self {
            dir: data_dir.join(SECRETS_DIR),
            cipher: ChaCha20Poly1305::new(Key::from_slice(&derived)),
        }
    }

    /// The store of `data_dir`, under the master key in it (created, as
    /// `ignis serve` would, if the directory has none yet).
    pub fn open(data_dir: &Path) -> Result<Self, SecretsError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        std::fs::create_dir_all(data_dir).map_err(|e| SecretsError::File {
            action: "create",
            path: data_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let key = MasterKey::load_or_create(&path).map_err(|e| SecretsError::File {
            action: "load the master key from",
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self::new(data_dir, &key))
    }

    fn path(&self, name: &str) -> Result<PathBuf, SecretsError> {
        let ok = (1..=256).contains(&name.len())
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=.@-".contains(c));
        if !ok {
            return Err(SecretsError::BadName(name.to_string()));
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Stores (or replaces) the secret `name`.
    pub fn put(&self, name: &str, auth: &BasicAuth) -> Result<(), SecretsError> {
        let path = self.path(name)?;
        let plain = serde_json::to_vec(auth).expect("credentials serialize");
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: name.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 seals any message under 256 GB");
        let file = SealedFile {
            v: 1,
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(sealed),
        };
        let bytes = serde_json::to_vec(&file).expect("the sealed file serializes");
        write_private(&path, &bytes).map_err(|e| SecretsError::File {
            action: "write",
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// The secret `name`.
    pub fn get(&self, name: &str) -> Result<BasicAuth, SecretsError> {
        let path = self.path(name)?;
        let bytes = read_optional(&path)
            .map_err(|e| SecretsError::File {
                action: "read",
                path: path.display().to_string(),
                reason: e.to_string(),
            })?
            .ok_or_else(|| SecretsError::NotFound(name.to_string()))?;
        let unreadable = || SecretsError::Unreadable(name.to_string());
        let file: SealedFile = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
        let nonce = STANDARD.decode(&file.nonce).map_err(|_| unreadable())?;
        let sealed = STANDARD
            .decode(&file.ciphertext)
            .map_err(|_| unreadable())?;
        if file.v != 1 || nonce.len() != NONCE_LEN {
            return Err(unreadable());
        }
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| unreadable())?;
        serde_json::from_slice(&plain).map_err(|_| SecretsError::NotBasicAuth(name.to_string()))
    }

    /// Deletes the secret `name`.
    pub fn delete(&self, name: &str) -> Result<(), SecretsError> {
        let path = self.path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(SecretsError::NotFound(name.to_string()))
            }
            Err(e) => Err(SecretsError::File {
                action: "delete",
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// The names of the stored secrets, sorted.
    pub fn list(&self) -> Result<Vec<String>, SecretsError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(SecretsError::File {
                    action: "read",
                    path: self.dir.display().to_string(),
                    reason: e.to_string(),
                })
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let name = name.strip_suffix(".json")?.to_string();
                (!name.starts_with('.')).then_some(name)
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        BasicAuth {
            username: "lambda".into(),
            password: "s3cr3t-p4ss".into(),
        }
    }

    #[test]
    fn secrets_round_trip_sealed_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(dir.path()).unwrap();
        store.put("rabbit", &auth()).unwrap();
        let file = dir.path().join("secrets/rabbit.json");
        let raw = std::fs::read_to_string(&file).unwrap();
        assert!(
            !raw.contains("s3cr3t"),
            "the password is not in clear: {raw}"
        );
        assert!(!raw.contains("lambda"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A new store over the same data dir (a restart) opens it.
        assert_eq!(
            SecretStore::open(dir.path())
                .unwrap()
                .get("rabbit")
                .unwrap(),
            auth()
        );
        assert_eq!(store.list().unwrap(), vec!["rabbit".to_string()]);
        assert!(!format!("{:?}", auth()).contains("s3cr3t"));
    }

    #[test]
    fn another_key_or_name_does_not_open_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(dir.path()).unwrap();
        store.put("rabbit", &auth()).unwrap();
        let other = SecretStore::new(dir.path(), &MasterKey::from_bytes([7; 32]));
        assert!(matches!(
            other.get("rabbit"),
            Err(SecretsError::Unreadable(_))
        ));
        std::fs::copy(
            dir.path().join("secrets/rabbit.json"),
            dir.path().join("secrets/other.json"),
        )
        .unwrap();
        assert!(matches!(
            store.get("other"),
            Err(SecretsError::Unreadable(_))
        ));
    }

    #[test]
    fn names_are_checked_and_missing_secrets_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(dir.path()).unwrap();
        for bad in ["", "../x", "a/b", ".hidden", "sp ace"] {
            assert!(
                matches!(store.put(bad, &auth()), Err(SecretsError::BadName(_))),
                "{bad}"
            );
        }
        assert!(matches!(store.get("nope"), Err(SecretsError::NotFound(_))));
        assert!(matches!(
            store.delete("nope"),
            Err(SecretsError::NotFound(_))
        ));
        store.put("a.b-c@d", &auth()).unwrap();
        store.delete("a.b-c@d").unwrap();
        assert!(store.list().unwrap().is_empty());
    }
}

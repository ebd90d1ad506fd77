//! The account's root access key: made on a server's first start, kept in
//! the data directory (mode 0600), read by `ignis credentials` and the CLI.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ignis_identity::credentials::new_access_key_id;

pub use ignis_model::local::{RootKey, ROOT_KEY_FILE};

/// Why the root key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    /// The file could not be read or written.
    #[error("failed to {action} the root access key file {path}")]
    File {
        /// `read`, `create`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file holds something else.
    #[error("the root access key file {0} is not a key Ignis wrote")]
    Content(PathBuf),
    /// No randomness.
    #[error("failed to make a key: {0}")]
    Random(String),
}

/// Reads and makes the root key file.
pub trait RootKeyFile: Sized {
    /// Reads the key of `data_dir`.
    fn load(data_dir: &Path) -> Result<Self, RootKeyError>;
    /// Reads the key of `data_dir`, making it first if there is none;
    /// `true` when it was made now.
    fn load_or_create(data_dir: &Path) -> Result<(Self, bool), RootKeyError>;
}

impl RootKeyFile for RootKey {
    fn load(data_dir: &Path) -> Result<Self, RootKeyError> {
        let path = Self::path(data_dir);
        let text = std::fs::read_to_string(&path).map_err(|source| RootKeyError::File {
            action: "read",
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|_| RootKeyError::Content(path))
    }

    fn load_or_create(data_dir: &Path) -> Result<(Self, bool), RootKeyError> {
        match Self::load(data_dir) {
            Ok(key) => return Ok((key, false)),
            Err(RootKeyError::File { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let random =
            |e: ignis_identity::credentials::CredentialsError| RootKeyError::Random(e.to_string());
        let key = Self {
            access_key_id: new_access_key_id("AKIA").map_err(random)?,
            // 40 characters, as AWS's secrets.
            secret_access_key: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
        };
        let path = Self::path(data_dir);
        let created = |source| RootKeyError::File {
            action: "create",
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(created)?;
        let text = serde_json::to_string_pretty(&key).expect("a key encodes");
        file.write_all(text.as_bytes()).map_err(created)?;
        file.sync_all().map_err(created)?;
        Ok((key, true))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (key, made) = RootKey::load_or_create(dir.path()).unwrap();
        assert!(made);
        assert!(key.access_key_id.starts_with("AKIA") && key.access_key_id.len() == 20);
        assert_eq!(key.secret_access_key.len(), 40);
        let mode = std::fs::metadata(RootKey::path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, made) = RootKey::load_or_create(dir.path()).unwrap();
        assert!(!made);
        assert_eq!(again, key);
        std::fs::write(RootKey::path(dir.path()), "junk").unwrap();
        assert!(matches!(
            RootKey::load(dir.path()),
            Err(RootKeyError::Content(_))
        ));
    }
}

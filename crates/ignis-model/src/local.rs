//! What a node keeps in its data directory that its command line reads too:
//! the directory's default location and the root access key file (the
//! server writes it on first start; `ignis credentials` and the client
//! commands read it).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The root key file's name in the data directory.
pub const ROOT_KEY_FILE: &str = "root-access-key.json";

/// `$XDG_DATA_HOME/ignis`, else `~/.local/share/ignis`, else `./ignis-data`.
pub fn default_data_dir() -> PathBuf {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(xdg) = from("XDG_DATA_HOME") {
        return xdg.join("ignis");
    }
    if let Some(home) = from("HOME") {
        return home.join(".local/share/ignis");
    }
    PathBuf::from("ignis-data")
}

/// The account's root access key, as its file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootKey {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
}

impl RootKey {
    /// The key file of `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(ROOT_KEY_FILE)
    }
}

//! How a bucket configuration (CORS, lifecycle, website, notification) is
//! kept: as JSON in the bucket's setting, read back leniently — a stored
//! setting that no longer reads is the empty configuration.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A bucket configuration stored as a bucket setting.
pub(crate) trait StoredConfig: Serialize + DeserializeOwned + Default {
    /// Encodes for the bucket's setting.
    fn encode(&self) -> String {
        serde_json::to_string(self).expect("plain fields")
    }

    /// A stored setting (the default if unreadable).
    fn decode(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }
}

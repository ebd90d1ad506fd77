//! The [`Store`] trait: where function records live, whatever the backend.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use ignis_model::layer::LayerVersionRecord;
use ignis_model::FunctionRecord;

/// A backend's own error, kept as the cause of a [`StoreError`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a [`Store`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A function with this name already exists.
    #[error("function {0} already exists")]
    AlreadyExists(String),
    /// No function has this name.
    #[error("function {0} not found")]
    NotFound(String),
    /// The function changed since the caller read it (compare-and-swap lost).
    #[error(
        "function {name} was changed concurrently; its revision is no longer the one expected"
    )]
    RevisionMismatch {
        /// The function's name.
        name: String,
    },
    /// The database could not be opened or prepared.
    #[error("failed to open the store at {path}")]
    Open {
        /// The database's location.
        path: PathBuf,
        /// What the backend reported.
        #[source]
        source: BackendError,
    },
    /// A schema migration failed.
    #[error("failed to migrate the store's schema to version {version}")]
    Migrate {
        /// The schema version being applied.
        version: u32,
        /// What the backend reported.
        #[source]
        source: BackendError,
    },
    /// The database was written by a newer Ignis.
    #[error("the store's schema version {found} is newer than the newest this build knows ({known}); upgrade Ignis")]
    SchemaTooNew {
        /// Version found in the database.
        found: u32,
        /// Newest version this build knows.
        known: u32,
    },
    /// A query failed.
    #[error("failed to {op}")]
    Query {
        /// What was being done, e.g. `list functions`.
        op: &'static str,
        /// What the backend reported.
        #[source]
        source: BackendError,
    },
    /// A stored record could not be decoded.
    #[error("failed to decode the stored record of {name}; the database holds corrupt data")]
    CorruptRecord {
        /// What the record is, e.g. `function hello` or `layer deps:2`.
        name: String,
        /// The decoding failure.
        #[source]
        source: serde_json::Error,
    },
    /// A record could not be encoded for storage.
    #[error("failed to encode the record of {name}")]
    Encode {
        /// What the record is, e.g. `function hello` or `layer deps:2`.
        name: String,
        /// The encoding failure.
        #[source]
        source: serde_json::Error,
    },
    /// The blocking task running the query did not finish (it panicked or
    /// the runtime is shutting down).
    #[error("failed to run the store task for {op}")]
    Task {
        /// What was being done.
        op: &'static str,
        /// Why the task did not finish.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// How much the stored functions take up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Number of functions.
    pub function_count: u64,
    /// Sum of the functions' zip sizes (`CodeSize`), bytes.
    pub total_code_size: u64,
}

/// Persistent function records. Every method is atomic on its own.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new function; `Err(StoreError::AlreadyExists)` if the name is taken.
    async fn create_function(&self, f: &FunctionRecord) -> Result<(), StoreError>;

    /// The function named `name`, if any.
    async fn get_function(&self, name: &str) -> Result<Option<FunctionRecord>, StoreError>;

    /// Functions ordered by name, names strictly greater than `after`, at most `limit`.
    async fn list_functions(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FunctionRecord>, StoreError>;

    /// Replaces the function named `f.name` only if its current revision is
    /// `expected_revision` (compare-and-swap): `Err(NotFound)` if it is
    /// missing, `Err(RevisionMismatch)` if it changed meanwhile. The stored
    /// tags stay as they are (`f.tags` is ignored): tags change only through
    /// [`Store::replace_tags`], so tagging never races an update.
    async fn update_function(
        &self,
        f: &FunctionRecord,
        expected_revision: &str,
    ) -> Result<(), StoreError>;

    /// Sets the tags of function `name` to `tags` only if they are still
    /// `expected` (compare-and-swap on the tags alone; the revision does not
    /// change, as on Lambda): `Err(NotFound)` if it is missing,
    /// `Err(RevisionMismatch)` if its tags changed meanwhile.
    async fn replace_tags(
        &self,
        name: &str,
        expected: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), StoreError>;

    /// Deletes the function and returns its record; `Ok(None)` if missing.
    async fn delete_function(&self, name: &str) -> Result<Option<FunctionRecord>, StoreError>;

    /// Number of functions and the sum of their code sizes.
    async fn usage(&self) -> Result<Usage, StoreError>;

    /// Every code SHA-256 (lowercase hex) still referenced by a function
    /// (its code or its layers) or a layer version, for garbage collection
    /// of code blobs.
    async fn referenced_code(&self) -> Result<HashSet<String>, StoreError>;

    /// Stores a new version of layer `v.name`, numbered one past the last
    /// version ever published under that name (from 1); returns it numbered.
    /// `v.version` is ignored.
    async fn publish_layer_version(
        &self,
        v: &LayerVersionRecord,
    ) -> Result<LayerVersionRecord, StoreError>;

    /// Version `version` of layer `name`, if it exists.
    async fn get_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersionRecord>, StoreError>;

    /// Every version of layer `name`, newest first.
    async fn list_layer_versions(&self, name: &str) -> Result<Vec<LayerVersionRecord>, StoreError>;

    /// Every version of every layer, by name, newest first within a name.
    async fn list_all_layer_versions(&self) -> Result<Vec<LayerVersionRecord>, StoreError>;

    /// Deletes a layer version and returns it; `Ok(None)` if missing. Its
    /// number is not given out again.
    async fn delete_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersionRecord>, StoreError>;
}

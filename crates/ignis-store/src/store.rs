//! The [`Store`] trait: where function records live, whatever the backend.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use ignis_model::alias::AliasRecord;
use ignis_model::layer::LayerVersionRecord;
use ignis_model::{FunctionRecord, LambdaError};

use crate::queue::{QueueStats, QueuedEvent};

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
    /// A published version that does not exist (an alias pointing at it).
    #[error("version {version} of function {name} not found")]
    VersionNotFound {
        /// The function's name.
        name: String,
        /// The version.
        version: u64,
    },
    /// The change conflicts with what is stored (a version an alias still
    /// points at); the message says what.
    #[error("{0}")]
    Conflict(String),
    /// A setting's edit refused the stored document (see [`SettingEdit`]).
    #[error("{0}")]
    Refused(LambdaError),
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

/// An edit of a function's setting, run inside the store's transaction: it
/// gets the stored document (if any) and returns the new one (`None`
/// deletes it), or refuses.
pub type SettingEdit = Box<dyn FnOnce(Option<&str>) -> Result<Option<String>, LambdaError> + Send>;

/// One stored setting (see [`Store::edit_setting`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The function's name.
    pub function: String,
    /// The qualifier (`""` for the function itself).
    pub qualifier: String,
    /// The document.
    pub document: String,
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

    /// Edits the resource-based policy of layer version `name:version` in
    /// one transaction (`edit` as for [`Store::edit_setting`]; `None`
    /// deletes it). `Ok(None)` if the version does not exist, else
    /// `Ok(Some(policy now stored))`; `Err(Refused)` when the edit refuses.
    async fn edit_layer_version_policy(
        &self,
        name: &str,
        version: u64,
        edit: SettingEdit,
    ) -> Result<Option<Option<String>>, StoreError>;

    /// The resource-based policy of layer version `name:version`: `Ok(None)`
    /// if the version does not exist, `Ok(Some(None))` if it has no policy.
    async fn get_layer_version_policy(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<Option<String>>, StoreError>;

    /// Publishes `candidate` (the function's `$LATEST` as read at
    /// `latest_revision`, made a version) as the next version number, one
    /// past the last ever published; `(version, true)`. When its
    /// [`FunctionRecord::publish_fingerprint`] equals the newest version's,
    /// nothing is published and that version is returned, `(version,
    /// false)`. `Err(RevisionMismatch)` if `$LATEST` changed meanwhile,
    /// `Err(NotFound)` if the function is gone.
    async fn publish_version(
        &self,
        candidate: &FunctionRecord,
        latest_revision: &str,
    ) -> Result<(FunctionRecord, bool), StoreError>;

    /// Published version `version` of function `name`.
    async fn get_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<FunctionRecord>, StoreError>;

    /// Published versions of `name` numbered above `after`, ascending, at most `limit`.
    async fn list_versions(
        &self,
        name: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<FunctionRecord>, StoreError>;

    /// Deletes a published version; `Ok(None)` if missing,
    /// `Err(Conflict)` while an alias points at it.
    async fn delete_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<FunctionRecord>, StoreError>;

    /// Stores a new alias: `Err(AlreadyExists)` if the name is taken,
    /// `Err(NotFound)` without the function, `Err(VersionNotFound)` if a
    /// version it points at is not published.
    async fn create_alias(&self, alias: &AliasRecord) -> Result<(), StoreError>;

    /// Replaces an alias if its revision is still `expected_revision`
    /// (`Err(RevisionMismatch)` otherwise; `Err(NotFound)` if missing;
    /// `Err(VersionNotFound)` as for [`Store::create_alias`]).
    async fn update_alias(
        &self,
        alias: &AliasRecord,
        expected_revision: &str,
    ) -> Result<(), StoreError>;

    /// Alias `alias` of function `name`.
    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<AliasRecord>, StoreError>;

    /// The aliases of function `name`, by alias name.
    async fn list_aliases(&self, name: &str) -> Result<Vec<AliasRecord>, StoreError>;

    /// Deletes an alias; `Ok(None)` if missing.
    async fn delete_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<AliasRecord>, StoreError>;

    /// Edits setting `kind` of function `name` (or of its `qualifier`) in
    /// one transaction; returns the document now stored. `Err(NotFound)`
    /// without the function, `Err(Refused)` when the edit refuses.
    async fn edit_setting(
        &self,
        name: &str,
        qualifier: &str,
        kind: &'static str,
        edit: SettingEdit,
    ) -> Result<Option<String>, StoreError>;

    /// Setting `kind` of function `name` (or of its `qualifier`).
    async fn get_setting(
        &self,
        name: &str,
        qualifier: &str,
        kind: &'static str,
    ) -> Result<Option<String>, StoreError>;

    /// Every stored setting of `kind` (start-up: reserved and provisioned
    /// concurrency).
    async fn list_settings(&self, kind: &'static str) -> Result<Vec<Setting>, StoreError>;

    // The asynchronous invocation queue; the claim protocol is described
    // in [`crate::queue`].

    /// Writes an event (its `id` is ignored); returns the row's id.
    async fn enqueue_event(&self, event: &QueuedEvent) -> Result<i64, StoreError>;

    /// Claims for `owner` up to `limit` events due at `now_ms` and not
    /// under a live lease, earliest due first, leased until `lease_until_ms`:
    /// at most `per_function` of each function, none of the functions in
    /// `skip` (those whose claimed events already wait for capacity).
    async fn claim_events(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
        per_function: usize,
        skip: &[String],
    ) -> Result<Vec<QueuedEvent>, StoreError>;

    /// Moves the lease of every event `owner` holds to `lease_until_ms`;
    /// returns how many it holds.
    async fn renew_event_leases(&self, owner: &str, lease_until_ms: i64)
        -> Result<u64, StoreError>;

    /// Deletes event `id` if `owner` still holds it, and writes `then` (a
    /// destination's delivery) in the same transaction. `false` if the
    /// event is no longer `owner`'s (nothing written).
    async fn complete_event(
        &self,
        id: i64,
        owner: &str,
        then: Option<&QueuedEvent>,
    ) -> Result<bool, StoreError>;

    /// Releases event `id` if `owner` still holds it, with `attempts` and
    /// due again at `not_before_ms`; `false` if it is no longer `owner`'s.
    async fn reschedule_event(
        &self,
        id: i64,
        owner: &str,
        attempts: u32,
        not_before_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Releases every claim (`owner: None`: start-up of a single node,
    /// where no other process can hold one) or those of `owner`; returns
    /// how many.
    async fn release_event_claims(&self, owner: Option<&str>) -> Result<u64, StoreError>;

    /// When the next event becomes claimable (its due time, or its lease's
    /// end when claimed); `None` when the queue is empty.
    async fn next_event_due(&self) -> Result<Option<i64>, StoreError>;

    /// The backlog of `function`.
    async fn event_queue_stats(&self, function: &str) -> Result<QueueStats, StoreError>;
}

//! [`MappingStore`]: Lambda's event source mappings, durable.
//!
//! The store keeps each mapping as an opaque JSON record (its shape belongs
//! to `ignis-sources`) beside the columns it must index or hold unique: the
//! event source's ARN and the function's ARN (one mapping of a source to a
//! function), and a revision every write bumps, so a writer that read an
//! older revision loses (compare-and-swap) instead of overwriting.

use crate::store::StoreError;

/// One stored mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    /// The mapping's UUID.
    pub uuid: String,
    /// The event source's ARN (a queue, a broker).
    pub event_source_arn: String,
    /// The function's ARN, qualified when the mapping names a version or
    /// alias.
    pub function_arn: String,
    /// The function's name (for listing a function's mappings).
    pub function_name: String,
    /// Bumped by every write; given by the store.
    pub revision: i64,
    /// The mapping itself, JSON.
    pub record: String,
}

/// What an insert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored, at revision 1.
    Stored,
    /// Refused: a mapping of this source to this function exists (its UUID).
    Duplicate(String),
}

/// Event source mappings' state.
#[async_trait::async_trait]
pub trait MappingStore: Send + Sync + 'static {
    /// Stores a new mapping, unless one maps the same source to the same
    /// function (checked in the same transaction).
    async fn insert_mapping(&self, row: &MappingRow) -> Result<Inserted, StoreError>;

    /// The mapping `uuid`.
    async fn get_mapping(&self, uuid: &str) -> Result<Option<MappingRow>, StoreError>;

    /// Every mapping, in UUID order.
    async fn list_mappings(&self) -> Result<Vec<MappingRow>, StoreError>;

    /// Replaces the mapping's record (and its function) if its revision is
    /// still `row.revision`; the new revision, or `None` when it moved or
    /// the mapping is gone.
    async fn update_mapping(&self, row: &MappingRow) -> Result<Option<i64>, StoreError>;

    /// Deletes the mapping if its revision is still `revision`; whether it
    /// did.
    async fn delete_mapping(&self, uuid: &str, revision: i64) -> Result<bool, StoreError>;
}

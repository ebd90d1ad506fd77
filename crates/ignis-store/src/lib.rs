//! Ignis's persistent state on one node.
//!
//! - [`Store`]: function records (`$LATEST` configuration), with a SQLite
//!   backend, [`SqliteStore`], keeping everything in `<data_dir>/ignis.db`.
//! - The durable queue of asynchronous invocations, on [`Store`]; its
//!   claim protocol is described in [`queue`].
//! - [`IamStore`]: IAM's users, access keys, roles and policies, in the
//!   same database.
//! - [`CodeStore`]: function code, content-addressed by the zip's SHA-256:
//!   the zip itself under `<data_dir>/blobs/` and its unpacked tree under
//!   `<data_dir>/code/`. Unpacking is safe against hostile zips (path
//!   traversal, escaping symlinks, zip bombs); see [`CodeError`] for every
//!   rejection. Layers are stored the same way; a function's layers are
//!   merged into one `/opt` tree per distinct ordered list
//!   ([`CodeStore::ensure_opt`]).
//! - [`ObjectStore`]: the object store's buckets, objects' metadata,
//!   multipart uploads and notification outbox (the bytes are files).
#![deny(missing_docs)]

pub mod code;
pub mod events_bus;
pub mod iam;
pub mod mappings;
mod migrations;
pub mod objects;
mod opt;
pub mod queue;
pub mod schedules;
pub mod sns;
pub mod sqlite;
pub mod sqs;
pub mod store;
mod unzip;
mod zip_path;

#[cfg(test)]
mod testzip;

pub use code::{CodeError, CodeStore, UnzipLimits};
pub use events_bus::EventBusStore;
pub use iam::{IamStore, IamStoreError};
pub use mappings::{Inserted, MappingRow, MappingStore};
pub use objects::ObjectStore;
pub use queue::{QueueStats, QueuedEvent};
pub use schedules::ScheduleStore;
pub use sns::SnsStore;
pub use sqlite::SqliteStore;
pub use sqs::SqsStore;
pub use store::{Setting, SettingEdit, Store, StoreError, Usage};

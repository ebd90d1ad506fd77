//! [`ObjectStore`]: the object store's durable state (`ignis-s3`) —
//! buckets and their settings, objects' metadata, multipart uploads and
//! their parts, and the outbox of event notifications.
//!
//! The bytes are files the service writes under `<data dir>/s3/`; a row
//! names its file. A row is written only after its file is complete,
//! fsynced and renamed into place, so a committed row always has its bytes
//! and a crash leaves at most an unnamed file behind (the service removes
//! files no row names, [`ObjectStore::bucket_files`]). An object change and
//! the notifications it causes are one transaction: an acknowledged upload
//! always has its events in the outbox, which follows the claim protocol
//! of [`crate::queue`] (claimed under a lease by one owner, deleted or
//! rescheduled only by that owner, released at start-up).

use crate::store::StoreError;

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRow {
    /// The name.
    pub name: String,
    /// Its region (`LocationConstraint`).
    pub region: String,
    /// Creation time, Unix epoch milliseconds.
    pub created_ms: i64,
}

/// An object's metadata; its bytes are the file `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The file holding the bytes (a name inside the bucket's directory).
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag, quoted.
    pub etag: String,
    /// Last modified, Unix epoch milliseconds.
    pub modified_ms: i64,
    /// Everything else (content type, user metadata, checksums, tags),
    /// encoded by the service (opaque here).
    pub meta: String,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// The upload id.
    pub upload_id: String,
    /// The bucket.
    pub bucket: String,
    /// The key the object will have.
    pub key: String,
    /// The object's metadata-to-be, encoded by the service.
    pub meta: String,
    /// When it was initiated, Unix epoch milliseconds.
    pub initiated_ms: i64,
}

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    /// The upload it belongs to.
    pub upload_id: String,
    /// Its number (1–10,000).
    pub part_number: u32,
    /// The file holding its bytes.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// Its ETag, quoted.
    pub etag: String,
    /// When it was uploaded, Unix epoch milliseconds.
    pub modified_ms: i64,
    /// Checksums, encoded by the service.
    pub meta: String,
}

/// A notification to write in the outbox with an object change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObjectEvent {
    /// Where it goes (a function, queue or topic ARN).
    pub target: String,
    /// The event, encoded by the service.
    pub payload: String,
}

/// A claimed notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// The row's id.
    pub id: i64,
    /// Where it goes.
    pub target: String,
    /// The event.
    pub payload: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// The outcome of writing an object row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written; the file of the object it replaced, if any (now unnamed).
    Done {
        /// The replaced object's file.
        replaced: Option<String>,
    },
    /// The bucket does not exist (the row is not written).
    NoSuchBucket,
}

/// The outcome of deleting a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketDeleted {
    /// Deleted.
    Deleted,
    /// No such bucket.
    NoSuchBucket,
    /// It still holds objects or uploads.
    NotEmpty,
}

/// The outcome of completing a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// The object is written and the upload gone; the files now unnamed
    /// (the replaced object's and the parts' not kept by the object).
    Done {
        /// Files no row names any more.
        unnamed: Vec<String>,
    },
    /// No such upload (completed or aborted meanwhile).
    NoSuchUpload,
}

/// The object store's records (see the module documentation).
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Creates a bucket; `false` if the name is taken.
    async fn create_bucket(&self, bucket: BucketRow) -> Result<bool, StoreError>;
    /// A bucket by name.
    async fn bucket(&self, name: &str) -> Result<Option<BucketRow>, StoreError>;
    /// Every bucket, by name.
    async fn buckets(&self) -> Result<Vec<BucketRow>, StoreError>;
    /// Deletes an empty bucket (and its settings).
    async fn delete_bucket(&self, name: &str) -> Result<BucketDeleted, StoreError>;
    /// A bucket's setting (`notification`, `policy`, `tags`, …).
    async fn bucket_setting(&self, bucket: &str, name: &str) -> Result<Option<String>, StoreError>;
    /// Sets (`Some`) or removes (`None`) a bucket's setting; `false` if
    /// there is no such bucket.
    async fn set_bucket_setting(
        &self,
        bucket: &str,
        name: &str,
        value: Option<String>,
    ) -> Result<bool, StoreError>;
    /// Writes (creates or replaces) an object's row and its notifications,
    /// in one transaction.
    async fn put_object(
        &self,
        row: ObjectRow,
        events: Vec<NewObjectEvent>,
    ) -> Result<Written, StoreError>;
    /// An object's row.
    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRow>, StoreError>;
    /// Replaces an object's `meta` (tags); `false` if there is no such object.
    async fn set_object_meta(
        &self,
        bucket: &str,
        key: &str,
        meta: String,
    ) -> Result<bool, StoreError>;
    /// Deletes an object's row, writing `events` if it existed; the row
    /// deleted (its file is now unnamed).
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: Vec<NewObjectEvent>,
    ) -> Result<Option<ObjectRow>, StoreError>;
    /// Deletes an object's row only if it still names `file` (the object
    /// as read, not one written since), writing `events` with it; the row
    /// deleted.
    async fn delete_object_named(
        &self,
        bucket: &str,
        key: &str,
        file: &str,
        events: Vec<NewObjectEvent>,
    ) -> Result<Option<ObjectRow>, StoreError>;
    /// Up to `limit` objects whose keys start with `prefix` and sort after
    /// `after`, in key order (UTF-8 bytes).
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectRow>, StoreError>;
    /// Starts a multipart upload; `false` if the bucket does not exist.
    async fn create_upload(&self, upload: UploadRow) -> Result<bool, StoreError>;
    /// An upload by id.
    async fn upload(&self, upload_id: &str) -> Result<Option<UploadRow>, StoreError>;
    /// A bucket's uploads, by key then initiation.
    async fn uploads(&self, bucket: &str) -> Result<Vec<UploadRow>, StoreError>;
    /// Writes a part; `None` if the upload is gone, else the file of the
    /// part it replaced.
    async fn put_part(&self, part: PartRow) -> Result<Option<Option<String>>, StoreError>;
    /// An upload's parts, by number.
    async fn parts(&self, upload_id: &str) -> Result<Vec<PartRow>, StoreError>;
    /// Completes an upload: the object row written (its `file` the
    /// assembled file), the upload and its parts deleted, `events` written.
    async fn complete_upload(
        &self,
        upload_id: &str,
        row: ObjectRow,
        events: Vec<NewObjectEvent>,
    ) -> Result<Completed, StoreError>;
    /// Aborts an upload; its parts' files (now unnamed), `None` if it is gone.
    async fn abort_upload(&self, upload_id: &str) -> Result<Option<Vec<String>>, StoreError>;
    /// Every file a row of `bucket` names (objects and parts).
    async fn bucket_files(&self, bucket: &str) -> Result<Vec<String>, StoreError>;
    /// Writes notifications for an object kept elsewhere (an S3-compatible
    /// store's webhook), in one transaction; `false` if the bucket does not
    /// exist.
    async fn add_object_events(
        &self,
        bucket: &str,
        events: Vec<NewObjectEvent>,
    ) -> Result<bool, StoreError>;
    /// Claims up to `limit` due notifications for `owner` for `lease_ms`.
    async fn claim_object_events(
        &self,
        owner: &str,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<ObjectEvent>, StoreError>;
    /// Deletes a delivered notification still claimed by `owner`.
    async fn finish_object_event(&self, id: i64, owner: &str) -> Result<bool, StoreError>;
    /// Reschedules a notification still claimed by `owner`.
    async fn retry_object_event(
        &self,
        id: i64,
        owner: &str,
        not_before_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Releases every claim (start-up of a single node).
    async fn release_object_event_claims(&self) -> Result<u64, StoreError>;
    /// Notifications not yet delivered.
    async fn pending_object_events(&self) -> Result<u64, StoreError>;
}

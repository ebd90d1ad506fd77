//! [`S3`]: the operations, each run against the metadata store and the
//! disk; the bucket operations live here, objects in `objects`, listings
//! in `list`, multipart uploads in `multipart`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use http::StatusCode;
use ignis_identity::sigv4::ChunkSigner;
use ignis_store::objects::{BucketDeleted, BucketRow};
use ignis_store::ObjectStore;

use crate::body::{ByteStream, RequestBody};
use crate::cors::CorsConfig;
use crate::encryption::DefaultEncryption;
use crate::error::S3Error;
use crate::files::Disk;
use crate::lifecycle::LifecycleConfig;
use crate::meta::{iso8601, now_ms};
use crate::notify::{Destinations, NotificationConfig};
use crate::op::{BucketDoc, Query, S3Op, S3Request};
use crate::setting::StoredConfig;
use crate::website::WebsiteConfig;
use crate::xml::{self, XmlWriter};
use crate::{names, S3Response};

/// The largest XML or JSON document a request may carry.
pub(crate) const DOC_MAX: usize = 1 << 20;

/// What the object store is built from.
pub struct S3Config {
    /// The data directory (objects go under `<data_dir>/s3`).
    pub data_dir: PathBuf,
    /// Metadata, uploads and the notification outbox.
    pub store: Arc<dyn ObjectStore>,
    /// The region buckets are in.
    pub region: String,
    /// Where notifications go (functions, queues, topics).
    pub destinations: Arc<dyn Destinations>,
}

/// The object store.
#[derive(Clone)]
pub struct S3 {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) disk: Disk,
    pub(crate) region: String,
    pub(crate) destinations: Arc<dyn Destinations>,
}

/// The canonical user id S3 shows as every object's owner.
pub(crate) const OWNER_ID: &str =
    "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
/// Its display name.
pub(crate) const OWNER_NAME: &str = "ignis";

/// The owner's `ID` and `DisplayName`, inside an element already open
/// (an `Owner`, an `Initiator`, an ACL's `Grantee`).
pub(crate) fn write_owner_fields(w: &mut XmlWriter) {
    w.leaf("ID", OWNER_ID);
    w.leaf("DisplayName", OWNER_NAME);
}

/// The owner as the element `name` (`Owner`, `Initiator`).
pub(crate) fn write_owner(w: &mut XmlWriter, name: &str) {
    w.open(name);
    write_owner_fields(w);
    w.close(name);
}

impl S3 {
    /// The store over `config`.
    pub fn new(config: S3Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: config.store,
                disk: Disk::new(config.data_dir.join("s3")),
                region: config.region,
                destinations: config.destinations,
            }),
        }
    }

    /// Start-up: removes files a crash left that no row names (temporary
    /// files, data files renamed into place whose row was never written).
    pub async fn recover(&self) -> Result<u64, S3Error> {
        let mut removed = 0;
        for bucket in self.inner.disk.bucket_dirs().await? {
            if self.inner.store.bucket(&bucket).await?.is_none() {
                continue;
            }
            let rows = self.inner.store.bucket_files(&bucket).await?;
            let named: HashSet<String> = rows
                .iter()
                .flat_map(|f| crate::files::names(f))
                .map(str::to_string)
                .collect();
            removed += self.inner.disk.sweep(&bucket, &named).await?;
        }
        Ok(removed)
    }

    /// The policy document of `bucket`, if it has one.
    pub async fn bucket_policy(&self, bucket: &str) -> Option<String> {
        self.inner
            .store
            .bucket_setting(bucket, BucketDoc::Policy.setting())
            .await
            .ok()
            .flatten()
    }

    /// Runs `op` (read from `req`) with its body; `signer` checks a
    /// signed chunked body's chunk signatures.
    pub async fn execute(
        &self,
        op: S3Op,
        req: &S3Request<'_>,
        body: ByteStream,
        signer: Option<ChunkSigner>,
    ) -> Result<S3Response, S3Error> {
        let mut body = RequestBody::new(body, req.headers, signer)?;
        match &op {
            S3Op::CreateBucket { .. } => crate::acl::check_create_bucket(req.headers)?,
            S3Op::PutObject { .. }
            | S3Op::CopyObject { .. }
            | S3Op::CreateMultipartUpload { .. } => {
                crate::encryption::check_request(req.headers)?;
                crate::acl::check_object_write(req.headers)?;
            }
            _ => {}
        }
        let encrypted = op.key().is_some()
            && matches!(
                op,
                S3Op::PutObject { .. }
                    | S3Op::CopyObject { .. }
                    | S3Op::GetObject { .. }
                    | S3Op::HeadObject { .. }
                    | S3Op::CreateMultipartUpload { .. }
                    | S3Op::UploadPart { .. }
                    | S3Op::CompleteMultipartUpload { .. }
            );
        let resp = self.dispatch(op, req, &mut body).await?;
        // Every object is SSE-S3's, as on S3 (see `encryption`).
        Ok(if encrypted && resp.status.is_success() {
            resp.with(crate::encryption::SSE_HEADER, crate::encryption::AES256)
        } else {
            resp
        })
    }

    async fn dispatch(
        &self,
        op: S3Op,
        req: &S3Request<'_>,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        let q = Query::parse(req.query);
        let this = &*self.inner;
        match op {
            S3Op::ListBuckets => this.list_buckets().await,
            S3Op::CreateBucket { bucket } => this.create_bucket(&bucket, body).await,
            S3Op::HeadBucket { bucket } => {
                this.existing(&bucket).await?;
                Ok(S3Response::empty(StatusCode::OK).with("x-amz-bucket-region", &this.region))
            }
            S3Op::DeleteBucket { bucket } => match this.store.delete_bucket(&bucket).await? {
                BucketDeleted::Deleted => {
                    this.disk.remove_bucket(&bucket).await;
                    Ok(S3Response::empty(StatusCode::NO_CONTENT))
                }
                BucketDeleted::NoSuchBucket => Err(S3Error::no_such_bucket(&bucket)),
                BucketDeleted::NotEmpty => Err(S3Error::new(
                    StatusCode::CONFLICT,
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty",
                )
                .with("BucketName", bucket)),
            },
            S3Op::GetBucketLocation { bucket } => {
                let b = this.existing(&bucket).await?;
                let mut w = XmlWriter::new();
                let region = if b.region == "us-east-1" {
                    ""
                } else {
                    &b.region
                };
                w.out_raw(&format!(
                    "<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
                    xml::NS,
                    region
                ));
                Ok(S3Response::xml(w.finish()))
            }
            S3Op::GetBucketVersioning { bucket } => this.get_versioning(&bucket).await,
            S3Op::PutBucketVersioning { bucket } => this.put_versioning(&bucket, body).await,
            S3Op::GetBucketUnset { bucket, which } => {
                this.existing(&bucket).await?;
                which.answer(&bucket)
            }
            S3Op::PutBucketDoc { bucket, doc } => {
                this.existing(&bucket).await?;
                let text = body.read_doc().await?;
                let mut tested = Vec::new();
                let value = match doc {
                    BucketDoc::Notification => {
                        let config = NotificationConfig::parse(&text)?;
                        config.validate(&*this.destinations).await?;
                        tested = config.test_targets();
                        if config.is_empty() {
                            None
                        } else {
                            Some(config.encode())
                        }
                    }
                    BucketDoc::Policy => Some(check_policy(&text)?),
                    BucketDoc::Tagging => Some(crate::objects::encode_tags(
                        &crate::objects::parse_tagging(&text)?,
                    )),
                    BucketDoc::Encryption => Some(DefaultEncryption::parse(&text)?.encode()),
                    BucketDoc::Cors => Some(CorsConfig::parse(&text)?.encode()),
                    BucketDoc::Lifecycle => Some(LifecycleConfig::parse(&text)?.encode()),
                    BucketDoc::Website => Some(WebsiteConfig::parse(&text)?.encode()),
                };
                this.set_setting(&bucket, doc.setting(), value).await?;
                crate::notify::send_test_events(this.destinations.clone(), &bucket, tested);
                Ok(S3Response::empty(if doc == BucketDoc::Policy {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::OK
                }))
            }
            S3Op::GetBucketDoc { bucket, doc } => {
                this.existing(&bucket).await?;
                let value = this.store.bucket_setting(&bucket, doc.setting()).await?;
                match (doc, value) {
                    (BucketDoc::Notification, v) => {
                        let config = v
                            .map(|v| NotificationConfig::decode(&v))
                            .unwrap_or_default();
                        Ok(S3Response::xml(config.to_xml()))
                    }
                    (BucketDoc::Policy, Some(p)) => Ok(S3Response {
                        status: StatusCode::OK,
                        headers: Vec::new(),
                        body: crate::ResponseBody::Text(p, "application/json"),
                    }),
                    (BucketDoc::Policy, None) => Err(S3Error::not_configured(
                        "NoSuchBucketPolicy",
                        "The bucket policy does not exist",
                        &bucket,
                    )),
                    (BucketDoc::Tagging, Some(t)) => Ok(S3Response::xml(
                        crate::objects::tagging_xml(&crate::objects::decode_tags(&t)),
                    )),
                    (BucketDoc::Tagging, None) => Err(S3Error::not_configured(
                        "NoSuchTagSet",
                        "The TagSet does not exist",
                        &bucket,
                    )),
                    (BucketDoc::Encryption, v) => Ok(S3Response::xml(
                        DefaultEncryption::decode(v.as_deref()).to_xml(),
                    )),
                    (BucketDoc::Cors, Some(c)) => {
                        Ok(S3Response::xml(CorsConfig::decode(&c).to_xml()))
                    }
                    (BucketDoc::Cors, None) => Err(S3Error::not_configured(
                        "NoSuchCORSConfiguration",
                        "The CORS configuration does not exist",
                        &bucket,
                    )),
                    (BucketDoc::Lifecycle, Some(l)) => {
                        Ok(S3Response::xml(LifecycleConfig::decode(&l).to_xml()))
                    }
                    (BucketDoc::Lifecycle, None) => Err(S3Error::not_configured(
                        "NoSuchLifecycleConfiguration",
                        "The lifecycle configuration does not exist",
                        &bucket,
                    )),
                    (BucketDoc::Website, Some(c)) => {
                        Ok(S3Response::xml(WebsiteConfig::decode(&c).to_xml()))
                    }
                    (BucketDoc::Website, None) => Err(crate::website::no_website(&bucket)),
                }
            }
            S3Op::DeleteBucketDoc { bucket, doc } => {
                this.set_setting(&bucket, doc.setting(), None).await?;
                Ok(S3Response::empty(StatusCode::NO_CONTENT))
            }
            S3Op::ListObjects { bucket, version } => this.list_objects(&bucket, version, &q).await,
            S3Op::ListObjectVersions { bucket } => this.list_versions(&bucket, &q).await,
            S3Op::GetBucketAcl { bucket } => this.get_acl(&bucket, None).await,
            S3Op::PutBucketAcl { bucket } => this.put_acl(&bucket, None, req.headers, body).await,
            S3Op::GetObjectAcl { bucket, key } => this.get_acl(&bucket, Some(&key)).await,
            S3Op::PutObjectAcl { bucket, key } => {
                this.put_acl(&bucket, Some(&key), req.headers, body).await
            }
            S3Op::GetBucketOwnershipControls { bucket } => this.get_ownership(&bucket).await,
            S3Op::PutBucketOwnershipControls { bucket } => this.put_ownership(&bucket, body).await,
            S3Op::ListMultipartUploads { bucket } => this.list_uploads(&bucket).await,
            S3Op::DeleteObjects { bucket } => this.delete_objects(&bucket, body).await,
            S3Op::PutObject { bucket, key } => this.put_object(&bucket, &key, req, body).await,
            S3Op::CopyObject {
                bucket,
                key,
                source_bucket,
                source_key,
            } => {
                this.copy_object(&bucket, &key, &source_bucket, &source_key, req)
                    .await
            }
            S3Op::GetObject { bucket, key } => this.get_object(&bucket, &key, req, &q, false).await,
            S3Op::HeadObject { bucket, key } => this.get_object(&bucket, &key, req, &q, true).await,
            S3Op::DeleteObject { bucket, key } => this.delete_object(&bucket, &key).await,
            S3Op::PutObjectTagging { bucket, key } => {
                this.put_object_tagging(&bucket, &key, body).await
            }
            S3Op::GetObjectTagging { bucket, key } => this.get_object_tagging(&bucket, &key).await,
            S3Op::DeleteObjectTagging { bucket, key } => {
                this.delete_object_tagging(&bucket, &key).await
            }
            S3Op::CreateMultipartUpload { bucket, key } => {
                this.create_upload(&bucket, &key, req).await
            }
            S3Op::UploadPart {
                bucket,
                key,
                upload_id,
                part_number,
                copy_source: None,
            } => {
                this.upload_part(&bucket, &key, &upload_id, part_number, body)
                    .await
            }
            S3Op::UploadPart {
                bucket,
                key,
                upload_id,
                part_number,
                copy_source: Some((source_bucket, source_key)),
            } => {
                this.upload_part_copy(
                    &bucket,
                    &key,
                    &upload_id,
                    part_number,
                    (&source_bucket, &source_key),
                    req,
                )
                .await
            }
            S3Op::CompleteMultipartUpload {
                bucket,
                key,
                upload_id,
            } => this.complete_upload(&bucket, &key, &upload_id, body).await,
            S3Op::AbortMultipartUpload {
                bucket,
                key,
                upload_id,
            } => this.abort_upload(&bucket, &key, &upload_id).await,
            S3Op::ListParts {
                bucket,
                key,
                upload_id,
            } => this.list_parts(&bucket, &key, &upload_id).await,
        }
    }
}

impl Inner {
    /// The bucket, or `NoSuchBucket`.
    pub(crate) async fn existing(&self, bucket: &str) -> Result<BucketRow, S3Error> {
        self.store
            .bucket(bucket)
            .await?
            .ok_or_else(|| S3Error::no_such_bucket(bucket))
    }

    /// Sets (`None`: removes) the bucket setting `name`; a bucket gone
    /// meanwhile is `NoSuchBucket`.
    pub(crate) async fn set_setting(
        &self,
        bucket: &str,
        name: &str,
        value: Option<String>,
    ) -> Result<(), S3Error> {
        if self.store.set_bucket_setting(bucket, name, value).await? {
            Ok(())
        } else {
            Err(S3Error::no_such_bucket(bucket))
        }
    }

    async fn list_buckets(&self) -> Result<S3Response, S3Error> {
        let buckets = self.store.buckets().await?;
        let mut w = XmlWriter::new();
        w.root("ListAllMyBucketsResult");
        write_owner(&mut w, "Owner");
        w.open("Buckets");
        for b in buckets {
            w.open("Bucket");
            w.leaf("Name", &b.name);
            w.leaf("CreationDate", &iso8601(b.created_ms));
            w.leaf("BucketRegion", &b.region);
            w.close("Bucket");
        }
        w.close("Buckets");
        w.close("ListAllMyBucketsResult");
        Ok(S3Response::xml(w.finish()))
    }

    async fn create_bucket(
        &self,
        bucket: &str,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        names::check_bucket_name(bucket)?;
        let doc = body.read_all(DOC_MAX).await?;
        let mut region = self.region.clone();
        if !doc.iter().all(u8::is_ascii_whitespace) {
            let root = xml::parse(xml::doc_text(&doc)?).ok_or_else(S3Error::malformed_xml)?;
            if let Some(loc) = root.text_of("LocationConstraint") {
                if !loc.is_empty() {
                    region = loc.to_string();
                }
            }
        }
        if region != self.region {
            return Err(S3Error::new(
                StatusCode::BAD_REQUEST,
                "IllegalLocationConstraintException",
                format!(
                    "The {region} location constraint is incompatible for the region specific endpoint this request was sent to."
                ),
            ));
        }
        self.disk.create_bucket(bucket).await?;
        let created = self
            .store
            .create_bucket(BucketRow {
                name: bucket.to_string(),
                region,
                created_ms: now_ms(),
            })
            .await?;
        if !created {
            return Err(S3Error::new(
                StatusCode::CONFLICT,
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
            )
            .with("BucketName", bucket));
        }
        Ok(S3Response::empty(StatusCode::OK).with("location", format!("/{bucket}")))
    }
}

/// A bucket policy must be a JSON object with a `Statement`.
fn check_policy(text: &str) -> Result<String, S3Error> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        S3Error::new(
            StatusCode::BAD_REQUEST,
            "MalformedPolicy",
            "Policies must be valid JSON and the first byte must be '{'",
        )
    })?;
    if value.get("Statement").is_none() {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "MalformedPolicy",
            "Missing required field Statement",
        ));
    }
    Ok(text.to_string())
}

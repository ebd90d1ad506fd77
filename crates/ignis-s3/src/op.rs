//! A request, given as plain values (method, path, query, headers), read
//! into one typed [`S3Op`]: the bucket from the host (virtual-host style,
//! `<bucket>.s3.<domain>` or `<bucket>.localhost`) or the path's first
//! segment (path style), the key from the rest of the path, the operation
//! from the method, the sub-resource in the query and a few headers.

use std::collections::BTreeMap;

use http::{HeaderMap, StatusCode};
use percent_encoding::percent_decode_str;

use crate::error::S3Error;
use crate::names;
use crate::unset::Unset;

/// A request as the front sees it.
#[derive(Debug, Clone, Copy)]
pub struct S3Request<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The path, percent-encoded as sent.
    pub path: &'a str,
    /// The query string, as sent.
    pub query: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
}

/// The query string, decoded (a name without `=` has an empty value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(pub BTreeMap<String, String>);

impl Query {
    /// Parses `query`.
    pub fn parse(query: &str) -> Self {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_decode_str(&s).decode_utf8_lossy().into_owned()
        };
        Self(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether the parameter is present.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// Which listing of a bucket's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListVersion {
    /// `ListObjects` (`marker`).
    V1,
    /// `ListObjectsV2` (`continuation-token`, `start-after`).
    V2,
}

/// A bucket sub-resource with a document of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketDoc {
    /// `?notification`.
    Notification,
    /// `?policy`.
    Policy,
    /// `?tagging`.
    Tagging,
    /// `?encryption` (default encryption; SSE-S3 when none is set).
    Encryption,
    /// `?cors`.
    Cors,
    /// `?lifecycle`.
    Lifecycle,
    /// `?website`.
    Website,
}

impl BucketDoc {
    /// The name of its bucket setting in the store.
    pub fn setting(self) -> &'static str {
        match self {
            Self::Notification => "notification",
            Self::Policy => "policy",
            Self::Tagging => "tagging",
            Self::Encryption => "encryption",
            Self::Cors => "cors",
            Self::Lifecycle => "lifecycle",
            Self::Website => "website",
        }
    }

    /// The document a query names (`?policy`, …).
    fn in_query(q: &Query) -> Option<Self> {
        [
            ("notification", Self::Notification),
            ("policy", Self::Policy),
            ("tagging", Self::Tagging),
            ("encryption", Self::Encryption),
            ("cors", Self::Cors),
            ("lifecycle", Self::Lifecycle),
            ("website", Self::Website),
        ]
        .into_iter()
        .find_map(|(name, doc)| q.has(name).then_some(doc))
    }
}

/// Bucket sub-resources S3 has and Ignis does not serve: a request naming
/// one is `NotImplemented`, never taken for the plain bucket operation
/// (a `DELETE /bucket?replication` must not delete the bucket).
const UNSERVED_BUCKET: [&str; 6] = [
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
    "policyStatus",
    "metadataTable",
];

/// The version id of every object: versioning is never enabled.
pub const NULL_VERSION: &str = "null";

/// Object sub-resources S3 has and Ignis does not serve.
const UNSERVED_OBJECT: [&str; 6] = [
    "retention",
    "legal-hold",
    "restore",
    "select",
    "attributes",
    "torrent",
];

/// One S3 operation, with the bucket and key it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Op {
    /// `GET /`.
    ListBuckets,
    /// `PUT /bucket`.
    CreateBucket {
        /// The bucket.
        bucket: String,
    },
    /// `HEAD /bucket`.
    HeadBucket {
        /// The bucket.
        bucket: String,
    },
    /// `DELETE /bucket`.
    DeleteBucket {
        /// The bucket.
        bucket: String,
    },
    /// `GET /bucket?location`.
    GetBucketLocation {
        /// The bucket.
        bucket: String,
    },
    /// `GET /bucket?versioning` (never enabled here).
    GetBucketVersioning {
        /// The bucket.
        bucket: String,
    },
    /// `PUT /bucket?versioning`: `Suspended` only (what a never-versioned
    /// bucket already does); `Enabled` is not served.
    PutBucketVersioning {
        /// The bucket.
        bucket: String,
    },
    /// `GET /bucket?accelerate|requestPayment|logging|replication|object-lock|publicAccessBlock`:
    /// a setting Ignis has no way to set, as S3 reads it never set.
    GetBucketUnset {
        /// The bucket.
        bucket: String,
        /// Which.
        which: Unset,
    },
    /// `GET /bucket?versions`: every object once, its version `null`.
    ListObjectVersions {
        /// The bucket.
        bucket: String,
    },
    /// `GET /bucket?acl`.
    GetBucketAcl {
        /// The bucket.
        bucket: String,
    },
    /// `PUT /bucket?acl`.
    PutBucketAcl {
        /// The bucket.
        bucket: String,
    },
    /// `GET /bucket?ownershipControls` (always `BucketOwnerEnforced`).
    GetBucketOwnershipControls {
        /// The bucket.
        bucket: String,
    },
    /// `PUT /bucket?ownershipControls` (only `BucketOwnerEnforced`).
    PutBucketOwnershipControls {
        /// The bucket.
        bucket: String,
    },
    /// `GET /bucket/key?acl`.
    GetObjectAcl {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `PUT /bucket/key?acl`.
    PutObjectAcl {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `PUT /bucket?notification|policy|tagging|encryption|cors|lifecycle|website`.
    PutBucketDoc {
        /// The bucket.
        bucket: String,
        /// Which.
        doc: BucketDoc,
    },
    /// `GET /bucket?notification|policy|tagging|encryption|cors|lifecycle|website`.
    GetBucketDoc {
        /// The bucket.
        bucket: String,
        /// Which.
        doc: BucketDoc,
    },
    /// `DELETE /bucket?policy|tagging|encryption|cors|lifecycle|website`.
    DeleteBucketDoc {
        /// The bucket.
        bucket: String,
        /// Which.
        doc: BucketDoc,
    },
    /// `GET /bucket` (`list-type=2`: V2).
    ListObjects {
        /// The bucket.
        bucket: String,
        /// Which listing.
        version: ListVersion,
    },
    /// `GET /bucket?uploads`.
    ListMultipartUploads {
        /// The bucket.
        bucket: String,
    },
    /// `POST /bucket?delete`.
    DeleteObjects {
        /// The bucket.
        bucket: String,
    },
    /// `PUT /bucket/key`.
    PutObject {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `PUT /bucket/key` with `x-amz-copy-source`.
    CopyObject {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The source bucket.
        source_bucket: String,
        /// The source key.
        source_key: String,
    },
    /// `GET /bucket/key`.
    GetObject {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `HEAD /bucket/key`.
    HeadObject {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `DELETE /bucket/key`.
    DeleteObject {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `PUT /bucket/key?tagging`.
    PutObjectTagging {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `GET /bucket/key?tagging`.
    GetObjectTagging {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `DELETE /bucket/key?tagging`.
    DeleteObjectTagging {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `POST /bucket/key?uploads`.
    CreateMultipartUpload {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `PUT /bucket/key?partNumber=N&uploadId=U`; with
    /// `x-amz-copy-source`, UploadPartCopy.
    UploadPart {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The upload.
        upload_id: String,
        /// The part's number.
        part_number: u32,
        /// UploadPartCopy's source object: bucket and key.
        copy_source: Option<(String, String)>,
    },
    /// `POST /bucket/key?uploadId=U`.
    CompleteMultipartUpload {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The upload.
        upload_id: String,
    },
    /// `DELETE /bucket/key?uploadId=U`.
    AbortMultipartUpload {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The upload.
        upload_id: String,
    },
    /// `GET /bucket/key?uploadId=U`.
    ListParts {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The upload.
        upload_id: String,
    },
}

impl S3Op {
    /// The operation's name as botocore spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ListBuckets => "ListBuckets",
            Self::CreateBucket { .. } => "CreateBucket",
            Self::HeadBucket { .. } => "HeadBucket",
            Self::DeleteBucket { .. } => "DeleteBucket",
            Self::GetBucketLocation { .. } => "GetBucketLocation",
            Self::GetBucketVersioning { .. } => "GetBucketVersioning",
            Self::PutBucketVersioning { .. } => "PutBucketVersioning",
            Self::GetBucketUnset { which, .. } => which.operation(),
            Self::ListObjectVersions { .. } => "ListObjectVersions",
            Self::GetBucketAcl { .. } => "GetBucketAcl",
            Self::PutBucketAcl { .. } => "PutBucketAcl",
            Self::GetBucketOwnershipControls { .. } => "GetBucketOwnershipControls",
            Self::PutBucketOwnershipControls { .. } => "PutBucketOwnershipControls",
            Self::GetObjectAcl { .. } => "GetObjectAcl",
            Self::PutObjectAcl { .. } => "PutObjectAcl",
            Self::PutBucketDoc { doc, .. } => match doc {
                BucketDoc::Notification => "PutBucketNotificationConfiguration",
                BucketDoc::Policy => "PutBucketPolicy",
                BucketDoc::Tagging => "PutBucketTagging",
                BucketDoc::Encryption => "PutBucketEncryption",
                BucketDoc::Cors => "PutBucketCors",
                BucketDoc::Lifecycle => "PutBucketLifecycleConfiguration",
                BucketDoc::Website => "PutBucketWebsite",
            },
            Self::GetBucketDoc { doc, .. } => match doc {
                BucketDoc::Notification => "GetBucketNotificationConfiguration",
                BucketDoc::Policy => "GetBucketPolicy",
                BucketDoc::Tagging => "GetBucketTagging",
                BucketDoc::Encryption => "GetBucketEncryption",
                BucketDoc::Cors => "GetBucketCors",
                BucketDoc::Lifecycle => "GetBucketLifecycleConfiguration",
                BucketDoc::Website => "GetBucketWebsite",
            },
            Self::DeleteBucketDoc { doc, .. } => match doc {
                BucketDoc::Notification => "PutBucketNotificationConfiguration",
                BucketDoc::Policy => "DeleteBucketPolicy",
                BucketDoc::Tagging => "DeleteBucketTagging",
                BucketDoc::Encryption => "DeleteBucketEncryption",
                BucketDoc::Cors => "DeleteBucketCors",
                BucketDoc::Lifecycle => "DeleteBucketLifecycle",
                BucketDoc::Website => "DeleteBucketWebsite",
            },
            Self::ListObjects { version, .. } => match version {
                ListVersion::V1 => "ListObjects",
                ListVersion::V2 => "ListObjectsV2",
            },
            Self::ListMultipartUploads { .. } => "ListMultipartUploads",
            Self::DeleteObjects { .. } => "DeleteObjects",
            Self::PutObject { .. } => "PutObject",
            Self::CopyObject { .. } => "CopyObject",
            Self::GetObject { .. } => "GetObject",
            Self::HeadObject { .. } => "HeadObject",
            Self::DeleteObject { .. } => "DeleteObject",
            Self::PutObjectTagging { .. } => "PutObjectTagging",
            Self::GetObjectTagging { .. } => "GetObjectTagging",
            Self::DeleteObjectTagging { .. } => "DeleteObjectTagging",
            Self::CreateMultipartUpload { .. } => "CreateMultipartUpload",
            Self::UploadPart {
                copy_source: Some(_),
                ..
            } => "UploadPartCopy",
            Self::UploadPart { .. } => "UploadPart",
            Self::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            Self::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            Self::ListParts { .. } => "ListParts",
        }
    }

    /// The bucket it names.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Self::ListBuckets => None,
            Self::CreateBucket { bucket }
            | Self::HeadBucket { bucket }
            | Self::DeleteBucket { bucket }
            | Self::GetBucketLocation { bucket }
            | Self::GetBucketVersioning { bucket }
            | Self::PutBucketVersioning { bucket }
            | Self::GetBucketUnset { bucket, .. }
            | Self::ListObjectVersions { bucket }
            | Self::GetBucketAcl { bucket }
            | Self::PutBucketAcl { bucket }
            | Self::GetBucketOwnershipControls { bucket }
            | Self::PutBucketOwnershipControls { bucket }
            | Self::GetObjectAcl { bucket, .. }
            | Self::PutObjectAcl { bucket, .. }
            | Self::PutBucketDoc { bucket, .. }
            | Self::GetBucketDoc { bucket, .. }
            | Self::DeleteBucketDoc { bucket, .. }
            | Self::ListObjects { bucket, .. }
            | Self::ListMultipartUploads { bucket }
            | Self::DeleteObjects { bucket }
            | Self::PutObject { bucket, .. }
            | Self::CopyObject { bucket, .. }
            | Self::GetObject { bucket, .. }
            | Self::HeadObject { bucket, .. }
            | Self::DeleteObject { bucket, .. }
            | Self::PutObjectTagging { bucket, .. }
            | Self::GetObjectTagging { bucket, .. }
            | Self::DeleteObjectTagging { bucket, .. }
            | Self::CreateMultipartUpload { bucket, .. }
            | Self::UploadPart { bucket, .. }
            | Self::CompleteMultipartUpload { bucket, .. }
            | Self::AbortMultipartUpload { bucket, .. }
            | Self::ListParts { bucket, .. } => Some(bucket),
        }
    }

    /// The key it names.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::PutObject { key, .. }
            | Self::CopyObject { key, .. }
            | Self::GetObject { key, .. }
            | Self::HeadObject { key, .. }
            | Self::DeleteObject { key, .. }
            | Self::PutObjectTagging { key, .. }
            | Self::GetObjectTagging { key, .. }
            | Self::DeleteObjectTagging { key, .. }
            | Self::GetObjectAcl { key, .. }
            | Self::PutObjectAcl { key, .. }
            | Self::CreateMultipartUpload { key, .. }
            | Self::UploadPart { key, .. }
            | Self::CompleteMultipartUpload { key, .. }
            | Self::AbortMultipartUpload { key, .. }
            | Self::ListParts { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The object a copy reads (CopyObject, UploadPartCopy): bucket and key.
    pub fn copy_source(&self) -> Option<(&str, &str)> {
        match self {
            Self::CopyObject {
                source_bucket,
                source_key,
                ..
            }
            | Self::UploadPart {
                copy_source: Some((source_bucket, source_key)),
                ..
            } => Some((source_bucket, source_key)),
            _ => None,
        }
    }

    /// The IAM action that authorizes it (`s3:GetObject`); S3's own
    /// action names, which are not always the operation's.
    pub fn action(&self) -> &'static str {
        match self {
            Self::ListBuckets => "s3:ListAllMyBuckets",
            Self::HeadBucket { .. } | Self::ListObjects { .. } => "s3:ListBucket",
            Self::GetBucketLocation { .. } => "s3:GetBucketLocation",
            Self::GetBucketVersioning { .. } => "s3:GetBucketVersioning",
            Self::PutBucketVersioning { .. } => "s3:PutBucketVersioning",
            Self::GetBucketUnset { which, .. } => which.action(),
            Self::ListObjectVersions { .. } => "s3:ListBucketVersions",
            Self::GetBucketAcl { .. } => "s3:GetBucketAcl",
            Self::PutBucketAcl { .. } => "s3:PutBucketAcl",
            Self::GetBucketOwnershipControls { .. } => "s3:GetBucketOwnershipControls",
            Self::PutBucketOwnershipControls { .. } => "s3:PutBucketOwnershipControls",
            Self::GetObjectAcl { .. } => "s3:GetObjectAcl",
            Self::PutObjectAcl { .. } => "s3:PutObjectAcl",
            Self::PutBucketDoc { doc, .. } | Self::DeleteBucketDoc { doc, .. } => match doc {
                BucketDoc::Notification => "s3:PutBucketNotification",
                BucketDoc::Policy if matches!(self, Self::DeleteBucketDoc { .. }) => {
                    "s3:DeleteBucketPolicy"
                }
                BucketDoc::Policy => "s3:PutBucketPolicy",
                BucketDoc::Tagging => "s3:PutBucketTagging",
                BucketDoc::Encryption => "s3:PutEncryptionConfiguration",
                BucketDoc::Cors => "s3:PutBucketCORS",
                BucketDoc::Lifecycle => "s3:PutLifecycleConfiguration",
                BucketDoc::Website if matches!(self, Self::DeleteBucketDoc { .. }) => {
                    "s3:DeleteBucketWebsite"
                }
                BucketDoc::Website => "s3:PutBucketWebsite",
            },
            Self::GetBucketDoc { doc, .. } => match doc {
                BucketDoc::Notification => "s3:GetBucketNotification",
                BucketDoc::Policy => "s3:GetBucketPolicy",
                BucketDoc::Tagging => "s3:GetBucketTagging",
                BucketDoc::Encryption => "s3:GetEncryptionConfiguration",
                BucketDoc::Cors => "s3:GetBucketCORS",
                BucketDoc::Lifecycle => "s3:GetLifecycleConfiguration",
                BucketDoc::Website => "s3:GetBucketWebsite",
            },
            Self::ListMultipartUploads { .. } => "s3:ListBucketMultipartUploads",
            Self::DeleteObjects { .. } | Self::DeleteObject { .. } => "s3:DeleteObject",
            Self::PutObject { .. }
            | Self::CopyObject { .. }
            | Self::CreateMultipartUpload { .. }
            | Self::UploadPart { .. }
            | Self::CompleteMultipartUpload { .. } => "s3:PutObject",
            Self::GetObject { .. } | Self::HeadObject { .. } => "s3:GetObject",
            Self::PutObjectTagging { .. } => "s3:PutObjectTagging",
            Self::GetObjectTagging { .. } => "s3:GetObjectTagging",
            Self::DeleteObjectTagging { .. } => "s3:DeleteObjectTagging",
            Self::AbortMultipartUpload { .. } => "s3:AbortMultipartUpload",
            Self::ListParts { .. } => "s3:ListMultipartUploadParts",
            Self::CreateBucket { .. } => "s3:CreateBucket",
            Self::DeleteBucket { .. } => "s3:DeleteBucket",
        }
    }

    /// The ARN it is authorized on (`arn:aws:s3:::bucket[/key]`, `*`).
    pub fn resource(&self) -> String {
        match (self.bucket(), self.key()) {
            (Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
            (Some(b), None) => format!("arn:aws:s3:::{b}"),
            _ => "*".into(),
        }
    }
}

/// The bucket a virtual-host-style `host` names: the labels before an
/// `s3` label (`photos.s3.localhost`, `a.b.s3.us-east-1.amazonaws.com`)
/// or before `localhost` (`photos.localhost`).
pub fn host_bucket(host: &str) -> Option<String> {
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels
        .iter()
        .position(|l| *l == "s3" || l.starts_with("s3-"))
        .or_else(|| (labels.last() == Some(&"localhost")).then(|| labels.len() - 1))?;
    (at > 0).then(|| labels[..at].join("."))
}

/// The bucket and key a request names.
pub(crate) fn address(req: &S3Request<'_>) -> Result<(Option<String>, Option<String>), S3Error> {
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| S3Error::invalid_request("The path is not valid UTF-8"))
    };
    let path = req.path.strip_prefix('/').unwrap_or(req.path);
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_bucket);
    let (bucket, key) = match host {
        Some(bucket) => (Some(bucket), (!path.is_empty()).then(|| path.to_string())),
        None => match path.split_once('/') {
            Some((b, k)) => (Some(decode(b)?), (!k.is_empty()).then(|| k.to_string())),
            None if path.is_empty() => (None, None),
            None => (Some(decode(path)?), None),
        },
    };
    let key = key.map(|k| decode(&k)).transpose()?;
    Ok((bucket, key))
}

/// S3's `NotImplemented` (501) naming what is not served.
pub(crate) fn not_implemented(what: &str) -> S3Error {
    S3Error::new(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        format!(
            "A header or query you provided implies functionality that is not implemented ({what})"
        ),
    )
}

/// Reads a request into its operation.
pub fn parse(req: &S3Request<'_>) -> Result<S3Op, S3Error> {
    let q = Query::parse(req.query);
    let (bucket, key) = address(req)?;
    let method = req.method.to_ascii_uppercase();
    let Some(bucket) = bucket else {
        return match method.as_str() {
            "GET" => Ok(S3Op::ListBuckets),
            _ => Err(method_not_allowed()),
        };
    };
    let doc = BucketDoc::in_query(&q);
    let Some(key) = key else {
        return bucket_op(&method, bucket, doc, &q);
    };
    names::check_key(&key)?;
    if let Some(sub) = UNSERVED_OBJECT.into_iter().find(|s| q.has(s)) {
        return Err(not_implemented(sub));
    }
    // Versioning is never enabled: every object's one version is `null`.
    if let Some(v) = q.get("versionId").filter(|v| *v != NULL_VERSION) {
        return Err(S3Error::invalid_argument(
            "Invalid version id specified",
            "versionId",
            v,
        ));
    }
    let upload_id = q.get("uploadId").map(str::to_string);
    let tagging = q.has("tagging");
    let acl = q.has("acl");
    match (method.as_str(), upload_id) {
        ("PUT", None) if acl => Ok(S3Op::PutObjectAcl { bucket, key }),
        ("GET", None) if acl => Ok(S3Op::GetObjectAcl { bucket, key }),
        ("PUT", Some(upload_id)) => {
            let copy_source = req
                .headers
                .get("x-amz-copy-source")
                .map(|v| copy_source(v.to_str().unwrap_or("")))
                .transpose()?;
            let part_number = q
                .get("partNumber")
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    S3Error::invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive",
                        "partNumber",
                        q.get("partNumber").unwrap_or(""),
                    )
                })?;
            Ok(S3Op::UploadPart {
                bucket,
                key,
                upload_id,
                part_number,
                copy_source,
            })
        }
        ("PUT", None) if tagging => Ok(S3Op::PutObjectTagging { bucket, key }),
        ("PUT", None) => match req
            .headers
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
        {
            Some(source) => {
                let (source_bucket, source_key) = copy_source(source)?;
                Ok(S3Op::CopyObject {
                    bucket,
                    key,
                    source_bucket,
                    source_key,
                })
            }
            None => Ok(S3Op::PutObject { bucket, key }),
        },
        ("GET", Some(upload_id)) => Ok(S3Op::ListParts {
            bucket,
            key,
            upload_id,
        }),
        ("GET", None) if tagging => Ok(S3Op::GetObjectTagging { bucket, key }),
        ("GET", None) => Ok(S3Op::GetObject { bucket, key }),
        ("HEAD", _) => Ok(S3Op::HeadObject { bucket, key }),
        ("DELETE", Some(upload_id)) => Ok(S3Op::AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        }),
        ("DELETE", None) if tagging => Ok(S3Op::DeleteObjectTagging { bucket, key }),
        ("DELETE", None) => Ok(S3Op::DeleteObject { bucket, key }),
        ("POST", None) if q.has("uploads") => Ok(S3Op::CreateMultipartUpload { bucket, key }),
        ("POST", Some(upload_id)) => Ok(S3Op::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        }),
        _ => Err(method_not_allowed()),
    }
}

/// A request naming a bucket and no key.
fn bucket_op(
    method: &str,
    bucket: String,
    doc: Option<BucketDoc>,
    q: &Query,
) -> Result<S3Op, S3Error> {
    if let Some(sub) = UNSERVED_BUCKET.into_iter().find(|s| q.has(s)) {
        return Err(not_implemented(sub));
    }
    // Settings that cannot be set: read as never set, written not at all.
    if let Some(which) = Unset::in_query(q) {
        return match method {
            "GET" => Ok(S3Op::GetBucketUnset { bucket, which }),
            _ => Err(not_implemented(which.query_name())),
        };
    }
    match (method, doc) {
        ("PUT", Some(doc)) => Ok(S3Op::PutBucketDoc { bucket, doc }),
        ("GET", Some(doc)) => Ok(S3Op::GetBucketDoc { bucket, doc }),
        ("DELETE", Some(doc)) => Ok(S3Op::DeleteBucketDoc { bucket, doc }),
        // Versioning is never enabled (see `versions`).
        (_, None) if q.has("versioning") => match method {
            "GET" => Ok(S3Op::GetBucketVersioning { bucket }),
            "PUT" => Ok(S3Op::PutBucketVersioning { bucket }),
            _ => Err(method_not_allowed()),
        },
        (_, None) if q.has("acl") => match method {
            "GET" => Ok(S3Op::GetBucketAcl { bucket }),
            "PUT" => Ok(S3Op::PutBucketAcl { bucket }),
            _ => Err(method_not_allowed()),
        },
        (_, None) if q.has("ownershipControls") => match method {
            "GET" => Ok(S3Op::GetBucketOwnershipControls { bucket }),
            "PUT" => Ok(S3Op::PutBucketOwnershipControls { bucket }),
            _ => Err(not_implemented("ownershipControls")),
        },
        ("GET", None) if q.has("versions") => Ok(S3Op::ListObjectVersions { bucket }),
        ("GET", None) if q.has("location") => Ok(S3Op::GetBucketLocation { bucket }),
        ("GET", None) if q.has("uploads") => Ok(S3Op::ListMultipartUploads { bucket }),
        ("POST", None) if q.has("delete") => Ok(S3Op::DeleteObjects { bucket }),
        ("PUT", None) => Ok(S3Op::CreateBucket { bucket }),
        ("GET", None) => {
            let version = if q.get("list-type") == Some("2") {
                ListVersion::V2
            } else {
                ListVersion::V1
            };
            Ok(S3Op::ListObjects { bucket, version })
        }
        ("HEAD", None) => Ok(S3Op::HeadBucket { bucket }),
        ("DELETE", None) => Ok(S3Op::DeleteBucket { bucket }),
        _ => Err(method_not_allowed()),
    }
}

/// S3's `MethodNotAllowed`.
pub(crate) fn method_not_allowed() -> S3Error {
    S3Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    )
}

/// `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, with
/// an optional `?versionId=`.
fn copy_source(value: &str) -> Result<(String, String), S3Error> {
    let value = value.split_once("?versionId=").map_or(value, |(v, _)| v);
    let decoded = percent_decode_str(value).decode_utf8().map_err(|_| {
        S3Error::invalid_argument("Invalid copy source encoding", "x-amz-copy-source", value)
    })?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    match decoded.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_string(), k.to_string())),
        _ => Err(S3Error::invalid_argument(
            "Invalid copy source object key",
            "x-amz-copy-source",
            value,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<S3Op, S3Error> {
        let mut h = HeaderMap::new();
        h.insert("host", host.parse().unwrap());
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        parse(&S3Request {
            method,
            path,
            query,
            headers: &h,
        })
    }

    #[test]
    fn path_and_virtual_host_style_name_the_same_object() {
        let want = S3Op::GetObject {
            bucket: "photos".into(),
            key: "a b/c+d.png".into(),
        };
        assert_eq!(
            op("GET", "127.0.0.1:9000", "/photos/a%20b/c%2Bd.png", "", &[]).unwrap(),
            want
        );
        assert_eq!(
            op(
                "GET",
                "photos.s3.localhost:9000",
                "/a%20b/c%2Bd.png",
                "",
                &[]
            )
            .unwrap(),
            want
        );
        assert_eq!(
            op("GET", "photos.localhost", "/a%20b/c%2Bd.png", "", &[]).unwrap(),
            want
        );
        assert_eq!(
            op("GET", "s3.localhost", "/", "", &[]).unwrap(),
            S3Op::ListBuckets
        );
        assert_eq!(
            op("GET", "localhost:1", "/", "", &[]).unwrap(),
            S3Op::ListBuckets
        );
        assert_eq!(
            host_bucket("my.bucket.s3.us-east-1.amazonaws.com").as_deref(),
            Some("my.bucket")
        );
    }

    #[test]
    fn sub_resources_pick_the_operation() {
        let h = "localhost";
        assert_eq!(
            op("GET", h, "/b", "list-type=2&prefix=a", &[])
                .unwrap()
                .name(),
            "ListObjectsV2"
        );
        assert_eq!(
            op("GET", h, "/b", "prefix=a", &[]).unwrap().name(),
            "ListObjects"
        );
        assert_eq!(
            op("POST", h, "/b", "delete", &[]).unwrap().name(),
            "DeleteObjects"
        );
        assert_eq!(
            op("PUT", h, "/b/k", "partNumber=2&uploadId=u", &[])
                .unwrap()
                .name(),
            "UploadPart"
        );
        assert_eq!(
            op("POST", h, "/b/k", "uploads", &[]).unwrap().name(),
            "CreateMultipartUpload"
        );
        assert_eq!(
            op("POST", h, "/b/k", "uploadId=u", &[]).unwrap().name(),
            "CompleteMultipartUpload"
        );
        assert_eq!(
            op("PUT", h, "/b", "notification", &[]).unwrap().name(),
            "PutBucketNotificationConfiguration"
        );
        assert_eq!(
            op("PUT", h, "/b/k", "", &[("x-amz-copy-source", "/src/a%20b")]).unwrap(),
            S3Op::CopyObject {
                bucket: "b".into(),
                key: "k".into(),
                source_bucket: "src".into(),
                source_key: "a b".into()
            }
        );
        assert_eq!(
            op(
                "PUT",
                h,
                "/b/k",
                "partNumber=3&uploadId=u",
                &[("x-amz-copy-source", "src/big")]
            )
            .unwrap()
            .name(),
            "UploadPartCopy"
        );
        assert_eq!(
            op("PUT", h, "/b/k", "partNumber=0&uploadId=u", &[])
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
    }

    #[test]
    fn the_only_version_id_is_null() {
        assert_eq!(
            op("GET", "localhost", "/b/k", "versionId=null", &[])
                .unwrap()
                .name(),
            "GetObject"
        );
        assert_eq!(
            op("DELETE", "localhost", "/b/k", "versionId=3HL4kqtJl", &[])
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
    }

    #[test]
    fn a_key_over_1024_bytes_is_refused() {
        let path = format!("/b/{}", "k".repeat(1025));
        assert_eq!(
            op("PUT", "localhost", &path, "", &[]).unwrap_err().code,
            "KeyTooLongError"
        );
    }
}

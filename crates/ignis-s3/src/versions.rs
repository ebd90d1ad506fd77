//! ListObjectVersions for buckets whose versioning was never enabled (the
//! only kind Ignis has): as on S3, every object is listed once, its
//! version id `null`, the latest; there are no delete markers. Paging is
//! a listing's — `prefix`, `delimiter` (common prefixes counting once),
//! `max-keys`, `key-marker` (with `version-id-marker` `null`, the only
//! version there is) and `encoding-type=url`.
//!
//! The bucket's versioning state is never `Enabled` (PutBucketVersioning
//! with `Enabled` is `NotImplemented`: it would need versions kept beside
//! the current object, docs/objects.md). `Suspended` is served: a
//! suspended bucket writes every object as its `null` version, replacing
//! the one before — exactly what an unversioned Ignis bucket does — so
//! setting it only changes what GetBucketVersioning answers, as on S3.

use http::StatusCode;

use crate::body::RequestBody;
use crate::error::S3Error;
use crate::list::{Entry, ListQuery};
use crate::meta::iso8601;
use crate::op::{not_implemented, Query, NULL_VERSION};
use crate::service::{write_owner, Inner};
use crate::xml::{self, XmlWriter};
use crate::S3Response;

/// The `key-marker` a listing starts after: `version-id-marker` needs one
/// and can only be `null`.
fn key_marker(q: &Query) -> Result<Option<String>, S3Error> {
    let key = q.get("key-marker").filter(|k| !k.is_empty());
    match (key, q.get("version-id-marker").filter(|v| !v.is_empty())) {
        (None, Some(v)) => Err(S3Error::invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
            "version-id-marker",
            v,
        )),
        (_, Some(v)) if v != NULL_VERSION => Err(S3Error::invalid_argument(
            "Invalid version id specified",
            "version-id-marker",
            v,
        )),
        (key, _) => Ok(key.map(str::to_string)),
    }
}

/// The bucket setting holding a versioning state (only `Suspended`).
const SETTING: &str = "versioning";
const SUSPENDED: &str = "Suspended";

/// What a `VersioningConfiguration` asks: `Some(true)` suspend, `None`
/// leave the state as it is.
fn parse_versioning(text: &str) -> Result<Option<bool>, S3Error> {
    let root = xml::parse_root(text, "VersioningConfiguration")?;
    match root.text_of("MfaDelete").map(str::trim) {
        None | Some("Disabled") => {}
        Some("Enabled") => return Err(not_implemented("MFA delete")),
        Some(_) => return Err(S3Error::malformed_xml()),
    }
    match root.text_of("Status").map(str::trim) {
        None => Ok(None),
        Some(SUSPENDED) => Ok(Some(true)),
        Some("Enabled") => Err(not_implemented(
            "versioning Enabled: Ignis keeps one version of an object (docs/objects.md)",
        )),
        Some(_) => Err(S3Error::malformed_xml()),
    }
}

impl Inner {
    /// GetBucketVersioning: empty (never versioned) or `Suspended`.
    pub(crate) async fn get_versioning(&self, bucket: &str) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let state = self.store.bucket_setting(bucket, SETTING).await?;
        let mut w = XmlWriter::new();
        w.root("VersioningConfiguration");
        if state.as_deref() == Some(SUSPENDED) {
            w.leaf("Status", SUSPENDED);
        }
        w.close("VersioningConfiguration");
        Ok(S3Response::xml(w.finish()))
    }

    /// PutBucketVersioning: `Suspended` is recorded; `Enabled` refused.
    pub(crate) async fn put_versioning(
        &self,
        bucket: &str,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        if parse_versioning(&body.read_doc().await?)? == Some(true) {
            self.set_setting(bucket, SETTING, Some(SUSPENDED.to_string()))
                .await?;
        }
        Ok(S3Response::empty(StatusCode::OK))
    }

    pub(crate) async fn list_versions(
        &self,
        bucket: &str,
        q: &Query,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let lq = ListQuery::parse(q)?;
        let marker = key_marker(q)?;
        let page = self
            .list_page(bucket, lq.prefix, lq.delimiter, marker.clone(), lq.max)
            .await?;
        let enc = |s: &str| lq.enc(s);
        let mut w = XmlWriter::new();
        w.root("ListVersionsResult");
        w.leaf("Name", bucket);
        w.leaf("Prefix", &enc(lq.prefix));
        w.leaf("KeyMarker", &enc(marker.as_deref().unwrap_or("")));
        w.leaf("VersionIdMarker", q.get("version-id-marker").unwrap_or(""));
        if page.truncated {
            if let Some(last) = &page.last {
                w.leaf("NextKeyMarker", &enc(last));
                if matches!(page.entries.last(), Some(Entry::Object(_))) {
                    w.leaf("NextVersionIdMarker", NULL_VERSION);
                }
            }
        }
        lq.write_limits(&mut w, page.truncated);
        for entry in &page.entries {
            if let Entry::Object(o) = entry {
                w.open("Version");
                w.leaf("Key", &enc(&o.key));
                w.leaf("VersionId", NULL_VERSION);
                w.leaf("IsLatest", "true");
                w.leaf("LastModified", &iso8601(o.modified_ms));
                w.leaf("ETag", &o.etag);
                w.leaf("Size", &o.size.to_string());
                write_owner(&mut w, "Owner");
                w.leaf("StorageClass", "STANDARD");
                w.close("Version");
            }
        }
        lq.write_common_prefixes(&mut w, &page);
        w.close("ListVersionsResult");
        Ok(S3Response::xml(w.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioning_may_be_suspended_not_enabled() {
        let doc = |status: &str| {
            format!(
                "<VersioningConfiguration xmlns=\"{}\">{status}</VersioningConfiguration>",
                xml::NS
            )
        };
        assert_eq!(
            parse_versioning(&doc("<Status>Suspended</Status>")).unwrap(),
            Some(true)
        );
        assert_eq!(parse_versioning(&doc("")).unwrap(), None);
        assert_eq!(
            parse_versioning(&doc("<Status>Enabled</Status>"))
                .unwrap_err()
                .code,
            "NotImplemented"
        );
        assert_eq!(
            parse_versioning(&doc("<Status>On</Status>"))
                .unwrap_err()
                .code,
            "MalformedXML"
        );
        assert_eq!(
            parse_versioning(&doc(
                "<Status>Suspended</Status><MfaDelete>Enabled</MfaDelete>"
            ))
            .unwrap_err()
            .code,
            "NotImplemented"
        );
    }

    #[test]
    fn a_version_marker_needs_a_key_marker_and_is_null() {
        let q = |s: &str| Query::parse(s);
        assert_eq!(key_marker(&q("")).unwrap(), None);
        assert_eq!(
            key_marker(&q("key-marker=a")).unwrap().as_deref(),
            Some("a")
        );
        assert_eq!(
            key_marker(&q("key-marker=a&version-id-marker=null"))
                .unwrap()
                .as_deref(),
            Some("a")
        );
        assert_eq!(
            key_marker(&q("version-id-marker=null")).unwrap_err().code,
            "InvalidArgument"
        );
        assert_eq!(
            key_marker(&q("key-marker=a&version-id-marker=3HL4kqtJ"))
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
    }
}

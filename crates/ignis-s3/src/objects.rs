//! The object operations: put, copy, get and head (conditions, ranges,
//! checksums), delete (one, or many from an XML list) and tags.

use http::StatusCode;
use ignis_store::objects::{ObjectRow, Written};

use crate::body::RequestBody;
use crate::conditional::{self, Verdict};
use crate::error::S3Error;
use crate::meta::{http_date, iso8601, now_ms, ObjectMeta};
use crate::notify::EventName;
use crate::op::{Query, S3Request, NULL_VERSION};
use crate::service::Inner;
use crate::xml::{self, XmlWriter};
use crate::{names, ResponseBody, S3Response};

/// The most keys one DeleteObjects may name.
const DELETE_MAX: usize = 1000;

impl Inner {
    /// Writes `row` with its notifications; removes the file it replaced.
    pub(crate) async fn commit_object(
        &self,
        row: ObjectRow,
        event: EventName,
    ) -> Result<(), S3Error> {
        let events = self.events_for(&row.bucket, event, &row).await?;
        let (bucket, file) = (row.bucket.clone(), row.file.clone());
        match self.store.put_object(row, events).await {
            Ok(Written::Done { replaced }) => {
                if let Some(old) = replaced {
                    self.disk.remove(&bucket, &old).await;
                }
                Ok(())
            }
            Ok(Written::NoSuchBucket) => {
                self.disk.remove(&bucket, &file).await;
                Err(S3Error::no_such_bucket(&bucket))
            }
            Err(e) => {
                self.disk.remove(&bucket, &file).await;
                Err(e.into())
            }
        }
    }

    pub(crate) async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        req: &S3Request<'_>,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let mut meta = ObjectMeta::from_headers(req.headers)?;
        tracing::debug!(bucket, key, "PutObject: body streaming to disk");
        let stored = self.disk.write(bucket, body).await?;
        tracing::debug!(bucket, key, "PutObject: durable; writing the row");
        meta.set_checksum(stored.checksum.clone());
        let etag = stored.digests.etag();
        let row = ObjectRow {
            bucket: bucket.to_string(),
            key: key.to_string(),
            file: stored.file,
            size: stored.digests.len,
            etag: etag.clone(),
            modified_ms: now_ms(),
            meta: meta.encode(),
        };
        self.commit_object(row, EventName::Put).await?;
        let mut resp = S3Response::empty(StatusCode::OK).with("etag", etag);
        if let Some((alg, value)) = stored.checksum {
            resp = resp.with(alg.header(), value);
        }
        Ok(resp)
    }

    pub(crate) async fn copy_object(
        &self,
        bucket: &str,
        key: &str,
        source_bucket: &str,
        source_key: &str,
        req: &S3Request<'_>,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let source = self.existing_object(source_bucket, source_key).await?;
        let replace = req
            .headers
            .get("x-amz-metadata-directive")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
        if bucket == source_bucket && key == source_key && !replace {
            return Err(S3Error::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let source_meta = ObjectMeta::decode(&source.meta);
        let mut meta = if replace {
            ObjectMeta::from_headers(req.headers)?
        } else {
            ObjectMeta {
                tags: Vec::new(),
                ..source_meta.clone()
            }
        };
        let tagging_replace = req
            .headers
            .get("x-amz-tagging-directive")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
        if !tagging_replace {
            meta.tags = source_meta.tags.clone();
        }
        let stored = self
            .disk
            .concat(bucket, &[(source_bucket.to_string(), source.file.clone())])
            .await?;
        // The copy is a single-part object: its own MD5 ETag.
        meta.parts = None;
        meta.checksum_algorithm = None;
        if meta.checksum.is_none() {
            meta.checksum = source_meta
                .checksum
                .clone()
                .filter(|_| source_meta.parts.is_none());
        }
        let etag = stored.digests.etag();
        let modified = now_ms();
        let row = ObjectRow {
            bucket: bucket.to_string(),
            key: key.to_string(),
            file: stored.file,
            size: stored.digests.len,
            etag: etag.clone(),
            modified_ms: modified,
            meta: meta.encode(),
        };
        self.commit_object(row, EventName::Copy).await?;
        let mut w = XmlWriter::new();
        w.root("CopyObjectResult");
        w.leaf("LastModified", &iso8601(modified));
        w.leaf("ETag", &etag);
        w.close("CopyObjectResult");
        Ok(S3Response::xml(w.finish()))
    }

    pub(crate) async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        req: &S3Request<'_>,
        q: &Query,
        head: bool,
    ) -> Result<S3Response, S3Error> {
        let row = self.existing_object(bucket, key).await?;
        let meta = ObjectMeta::decode(&row.meta);
        let mut headers = vec![
            ("etag".to_string(), row.etag.clone()),
            ("last-modified".to_string(), http_date(row.modified_ms)),
            ("accept-ranges".to_string(), "bytes".to_string()),
        ];
        if conditional::evaluate(req.headers, &row.etag, row.modified_ms)? == Verdict::NotModified {
            return Ok(S3Response {
                status: StatusCode::NOT_MODIFIED,
                headers,
                body: ResponseBody::Empty,
            });
        }
        meta.response_headers(&mut headers);
        for (param, header) in [
            ("response-content-type", "content-type"),
            ("response-content-disposition", "content-disposition"),
            ("response-content-encoding", "content-encoding"),
            ("response-content-language", "content-language"),
            ("response-cache-control", "cache-control"),
            ("response-expires", "expires"),
        ] {
            if let Some(v) = q.get(param) {
                headers.retain(|(n, _)| n != header);
                headers.push((header.to_string(), v.to_string()));
            }
        }
        let range = conditional::range(req.headers, row.size)?;
        let checksum_mode = req
            .headers
            .get("x-amz-checksum-mode")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
        if checksum_mode && range.is_none() {
            if let Some((alg, value)) = &meta.checksum {
                if let Some(alg) = crate::digest::ChecksumAlgorithm::parse(alg) {
                    headers.push((alg.header().to_string(), value.clone()));
                    headers.push(("x-amz-checksum-type".into(), "FULL_OBJECT".into()));
                }
            }
        }
        let (status, start, len) = match range {
            Some((start, end)) => {
                headers.push((
                    "content-range".into(),
                    format!("bytes {start}-{end}/{}", row.size),
                ));
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            None => (StatusCode::OK, 0, row.size),
        };
        headers.push(("content-length".into(), len.to_string()));
        if head {
            return Ok(S3Response {
                status,
                headers,
                body: ResponseBody::Empty,
            });
        }
        let files = self.disk.open(bucket, &row.file, start, len).await?;
        Ok(S3Response {
            status,
            headers,
            body: ResponseBody::Files(files),
        })
    }

    /// Deletes one object (nothing if there is none); `true` if it existed.
    async fn remove_object(&self, bucket: &str, key: &str) -> Result<bool, S3Error> {
        let Some(current) = self.store.object(bucket, key).await? else {
            return Ok(false);
        };
        let events = self.events_for(bucket, EventName::Delete, &current).await?;
        match self.store.delete_object(bucket, key, events).await? {
            Some(row) => {
                self.disk.remove(bucket, &row.file).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Deletes the object `row` read, with the notifications of `event`,
    /// unless it was replaced since (a new write names another file);
    /// `true` if it was deleted.
    pub(crate) async fn remove_object_as_read(
        &self,
        row: &ObjectRow,
        event: EventName,
    ) -> Result<bool, S3Error> {
        let events = self.events_for(&row.bucket, event, row).await?;
        match self
            .store
            .delete_object_named(&row.bucket, &row.key, &row.file, events)
            .await?
        {
            Some(gone) => {
                self.disk.remove(&row.bucket, &gone.file).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub(crate) async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        self.remove_object(bucket, key).await?;
        Ok(S3Response::empty(StatusCode::NO_CONTENT))
    }

    pub(crate) async fn delete_objects(
        &self,
        bucket: &str,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let text = body.read_doc().await?;
        let root = xml::parse_root(&text, "Delete")?;
        let quiet = root.text_of("Quiet").is_some_and(|q| q.trim() == "true");
        let keys: Vec<(String, Option<String>)> = root
            .all("Object")
            .map(|o| {
                let version = o.text_of("VersionId").map(|v| v.trim().to_string());
                o.text_of("Key").map(|k| (k.to_string(), version))
            })
            .collect::<Option<_>>()
            .ok_or_else(S3Error::malformed_xml)?;
        if keys.is_empty() || keys.len() > DELETE_MAX {
            return Err(S3Error::malformed_xml());
        }
        let mut w = XmlWriter::new();
        w.root("DeleteResult");
        for (key, version) in keys {
            let outcome = match names::check_key(&key) {
                // Every object's one version is `null` (no versioning).
                Ok(()) if version.as_deref().is_some_and(|v| v != NULL_VERSION) => {
                    Err(S3Error::new(
                        StatusCode::NOT_FOUND,
                        "NoSuchVersion",
                        "The specified version does not exist.",
                    ))
                }
                Ok(()) => self.remove_object(bucket, &key).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) if quiet => {}
                Ok(()) => {
                    w.open("Deleted");
                    w.leaf("Key", &key);
                    if let Some(v) = &version {
                        w.leaf("VersionId", v);
                    }
                    w.close("Deleted");
                }
                Err(e) => {
                    w.open("Error");
                    w.leaf("Key", &key);
                    if let Some(v) = &version {
                        w.leaf("VersionId", v);
                    }
                    w.leaf("Code", e.code);
                    w.leaf("Message", &e.message);
                    w.close("Error");
                }
            }
        }
        w.close("DeleteResult");
        Ok(S3Response::xml(w.finish()))
    }

    /// The object `key` of an existing bucket: `NoSuchBucket`, else
    /// `NoSuchKey`.
    pub(crate) async fn existing_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectRow, S3Error> {
        self.existing(bucket).await?;
        self.store
            .object(bucket, key)
            .await?
            .ok_or_else(|| S3Error::no_such_key(key))
    }

    pub(crate) async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        let row = self.existing_object(bucket, key).await?;
        let tags = parse_tagging(&body.read_doc().await?)?;
        let mut meta = ObjectMeta::decode(&row.meta);
        meta.tags = tags;
        if !self
            .store
            .set_object_meta(bucket, key, meta.encode())
            .await?
        {
            return Err(S3Error::no_such_key(key));
        }
        Ok(S3Response::empty(StatusCode::OK))
    }

    pub(crate) async fn get_object_tagging(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<S3Response, S3Error> {
        let row = self.existing_object(bucket, key).await?;
        Ok(S3Response::xml(tagging_xml(
            &ObjectMeta::decode(&row.meta).tags,
        )))
    }

    pub(crate) async fn delete_object_tagging(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<S3Response, S3Error> {
        let row = self.existing_object(bucket, key).await?;
        let mut meta = ObjectMeta::decode(&row.meta);
        meta.tags.clear();
        self.store
            .set_object_meta(bucket, key, meta.encode())
            .await?;
        Ok(S3Response::empty(StatusCode::NO_CONTENT))
    }
}

/// A `<Tagging><TagSet><Tag><Key/><Value/></Tag>…` document's tags.
pub(crate) fn parse_tagging(text: &str) -> Result<Vec<(String, String)>, S3Error> {
    let root = xml::parse_root(text, "Tagging")?;
    let set = root.child("TagSet").ok_or_else(S3Error::malformed_xml)?;
    let tags: Vec<(String, String)> = set
        .all("Tag")
        .map(|t| {
            Some((
                t.text_of("Key")?.to_string(),
                t.text_of("Value")?.to_string(),
            ))
        })
        .collect::<Option<_>>()
        .ok_or_else(S3Error::malformed_xml)?;
    crate::meta::check_tags(&tags)?;
    Ok(tags)
}

/// The tagging document of `tags`.
pub(crate) fn tagging_xml(tags: &[(String, String)]) -> String {
    let mut w = XmlWriter::new();
    w.root("Tagging");
    w.open("TagSet");
    for (k, v) in tags {
        w.open("Tag");
        w.leaf("Key", k);
        w.leaf("Value", v);
        w.close("Tag");
    }
    w.close("TagSet");
    w.close("Tagging");
    w.finish()
}

/// Tags as a bucket setting.
pub(crate) fn encode_tags(tags: &[(String, String)]) -> String {
    serde_json::to_string(tags).expect("strings")
}

/// A bucket setting's tags.
pub(crate) fn decode_tags(text: &str) -> Vec<(String, String)> {
    serde_json::from_str(text).unwrap_or_default()
}

//! Multipart uploads: create, upload part (each part a data file of its
//! own, durable when acknowledged), complete (the listed parts, in
//! ascending order and with their ETags, become the object without a copy:
//! its row names their files in order; the ETag
//! `"<md5 of the parts' md5s>-N"`), abort, list parts, list uploads.

use http::StatusCode;
use ignis_store::objects::{Completed, ObjectRow, PartRow, UploadRow};

use crate::body::RequestBody;
use crate::digest::multipart_etag;
use crate::error::S3Error;
use crate::meta::{iso8601, now_ms, ObjectMeta};
use crate::notify::EventName;
use crate::op::S3Request;
use crate::service::{write_owner, Inner};
use crate::xml::{self, XmlWriter};
use crate::S3Response;

/// The smallest part but the last, bytes.
const PART_MIN: u64 = 5 * 1024 * 1024;

/// A part's checksum, kept in its row's `meta`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct PartMeta {
    checksum: Option<(String, String)>,
}

fn invalid_part() -> S3Error {
    S3Error::new(
        StatusCode::BAD_REQUEST,
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
}

impl Inner {
    /// The upload, checked to be for this bucket and key.
    async fn existing_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRow, S3Error> {
        self.existing(bucket).await?;
        self.store
            .upload(upload_id)
            .await?
            .filter(|u| u.bucket == bucket && u.key == key)
            .ok_or_else(|| S3Error::no_such_upload(upload_id))
    }

    pub(crate) async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        req: &S3Request<'_>,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let mut meta = ObjectMeta::from_headers(req.headers)?;
        let algorithm = req
            .headers
            .get("x-amz-checksum-algorithm")
            .and_then(|v| v.to_str().ok())
            .map(|a| {
                crate::digest::ChecksumAlgorithm::parse(a).ok_or_else(|| {
                    S3Error::invalid_argument(
                        "Checksum algorithm provided is unsupported.",
                        "x-amz-checksum-algorithm",
                        a,
                    )
                })
            })
            .transpose()?;
        meta.checksum_algorithm = algorithm.map(|a| a.xml_name().to_string());
        let upload_id = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let created = self
            .store
            .create_upload(UploadRow {
                upload_id: upload_id.clone(),
                bucket: bucket.to_string(),
                key: key.to_string(),
                meta: meta.encode(),
                initiated_ms: now_ms(),
            })
            .await?;
        if !created {
            return Err(S3Error::no_such_bucket(bucket));
        }
        let mut w = XmlWriter::new();
        w.root("InitiateMultipartUploadResult");
        w.leaf("Bucket", bucket);
        w.leaf("Key", key);
        w.leaf("UploadId", &upload_id);
        w.close("InitiateMultipartUploadResult");
        let mut resp = S3Response::xml(w.finish());
        if let Some(a) = algorithm {
            resp = resp.with("x-amz-checksum-algorithm", a.xml_name());
        }
        Ok(resp)
    }

    pub(crate) async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        self.existing_upload(bucket, key, upload_id).await?;
        let stored = self.disk.write(bucket, body).await?;
        let etag = stored.digests.etag();
        let part = PartRow {
            upload_id: upload_id.to_string(),
            part_number,
            file: stored.file.clone(),
            size: stored.digests.len,
            etag: etag.clone(),
            modified_ms: now_ms(),
            meta: serde_json::to_string(&PartMeta {
                checksum: stored
                    .checksum
                    .as_ref()
                    .map(|(a, v)| (a.xml_name().to_string(), v.clone())),
            })
            .expect("strings"),
        };
        match self.store.put_part(part).await {
            Ok(Some(replaced)) => {
                if let Some(old) = replaced {
                    self.disk.remove(bucket, &old).await;
                }
            }
            Ok(None) => {
                self.disk.remove(bucket, &stored.file).await;
                return Err(S3Error::no_such_upload(upload_id));
            }
            Err(e) => {
                self.disk.remove(bucket, &stored.file).await;
                return Err(e.into());
            }
        }
        let mut resp = S3Response::empty(StatusCode::OK).with("etag", etag);
        if let Some((alg, value)) = stored.checksum {
            resp = resp.with(alg.header(), value);
        }
        Ok(resp)
    }

    /// UploadPartCopy: a part made of a source object's bytes (all, or
    /// `x-amz-copy-source-range: bytes=first-last`).
    pub(crate) async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        (source_bucket, source_key): (&str, &str),
        req: &S3Request<'_>,
    ) -> Result<S3Response, S3Error> {
        self.existing_upload(bucket, key, upload_id).await?;
        self.existing(source_bucket).await?;
        let source = self
            .store
            .object(source_bucket, source_key)
            .await?
            .ok_or_else(|| S3Error::no_such_key(source_key))?;
        let (start, len) = match req
            .headers
            .get("x-amz-copy-source-range")
            .and_then(|v| v.to_str().ok())
        {
            None => (0, source.size),
            Some(range) => {
                let bad = || {
                    S3Error::invalid_argument(
                        "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                        "x-amz-copy-source-range",
                        range,
                    )
                };
                let (first, last) = range
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|r| r.split_once('-'))
                    .ok_or_else(bad)?;
                let first: u64 = first.trim().parse().map_err(|_| bad())?;
                let last: u64 = last.trim().parse().map_err(|_| bad())?;
                if first > last {
                    return Err(bad());
                }
                if last >= source.size {
                    return Err(S3Error::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "InvalidRange",
                        "The requested range is not satisfiable",
                    )
                    .with("RangeRequested", range)
                    .with("ActualObjectSize", source.size.to_string()));
                }
                (first, last - first + 1)
            }
        };
        let stored = self
            .disk
            .copy_range(bucket, source_bucket, &source.file, start, len)
            .await?;
        let etag = stored.digests.etag();
        let modified = now_ms();
        let part = PartRow {
            upload_id: upload_id.to_string(),
            part_number,
            file: stored.file.clone(),
            size: stored.digests.len,
            etag: etag.clone(),
            modified_ms: modified,
            meta: serde_json::to_string(&PartMeta::default()).expect("strings"),
        };
        match self.store.put_part(part).await {
            Ok(Some(replaced)) => {
                if let Some(old) = replaced {
                    self.disk.remove(bucket, &old).await;
                }
            }
            Ok(None) => {
                self.disk.remove(bucket, &stored.file).await;
                return Err(S3Error::no_such_upload(upload_id));
            }
            Err(e) => {
                self.disk.remove(bucket, &stored.file).await;
                return Err(e.into());
            }
        }
        let mut w = XmlWriter::new();
        w.root("CopyPartResult");
        w.leaf("LastModified", &iso8601(modified));
        w.leaf("ETag", &etag);
        w.close("CopyPartResult");
        Ok(S3Response::xml(w.finish()))
    }

    pub(crate) async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        let upload = self.existing_upload(bucket, key, upload_id).await?;
        let text = body.read_doc().await?;
        let root = xml::parse_root(&text, "CompleteMultipartUpload")?;
        let listed: Vec<(u32, String)> = root
            .all("Part")
            .map(|p| {
                let n = p.text_of("PartNumber")?.trim().parse::<u32>().ok()?;
                let etag = p.text_of("ETag")?.trim().trim_matches('"').to_string();
                Some((n, etag))
            })
            .collect::<Option<_>>()
            .ok_or_else(S3Error::malformed_xml)?;
        if listed.is_empty() {
            return Err(S3Error::malformed_xml());
        }
        if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(S3Error::new(
                StatusCode::BAD_REQUEST,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
            ));
        }
        let parts = self.store.parts(upload_id).await?;
        let mut chosen = Vec::with_capacity(listed.len());
        for (n, etag) in &listed {
            let part = parts
                .iter()
                .find(|p| p.part_number == *n)
                .filter(|p| p.etag.trim_matches('"') == etag)
                .ok_or_else(|| {
                    invalid_part()
                        .with("PartNumber", n.to_string())
                        .with("ETag", etag.clone())
                })?;
            chosen.push(part);
        }
        for (i, part) in chosen.iter().enumerate() {
            if i + 1 < chosen.len() && part.size < PART_MIN {
                return Err(S3Error::new(
                    StatusCode::BAD_REQUEST,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                )
                .with("ProposedSize", part.size.to_string())
                .with("MinSizeAllowed", PART_MIN.to_string())
                .with("PartNumber", part.part_number.to_string())
                .with("ETag", part.etag.clone()));
            }
        }
        let md5s: Vec<[u8; 16]> = chosen
            .iter()
            .map(|p| {
                hex::decode(p.etag.trim_matches('"'))
                    .ok()
                    .and_then(|b| <[u8; 16]>::try_from(b).ok())
                    .ok_or_else(invalid_part)
            })
            .collect::<Result<_, _>>()?;
        // The object is its parts' files, in order: nothing is copied.
        let files: Vec<String> = chosen.iter().map(|p| p.file.clone()).collect();
        let file = crate::files::composite(&files);
        let etag = multipart_etag(&md5s);
        let mut meta = ObjectMeta::decode(&upload.meta);
        meta.parts = Some(chosen.len() as u32);
        let row = ObjectRow {
            bucket: bucket.to_string(),
            key: key.to_string(),
            file,
            size: chosen.iter().map(|p| p.size).sum(),
            etag: etag.clone(),
            modified_ms: now_ms(),
            meta: meta.encode(),
        };
        let events = self
            .events_for(bucket, EventName::CompleteMultipartUpload, &row)
            .await?;
        match self.store.complete_upload(upload_id, row, events).await? {
            Completed::Done { unnamed } => {
                // Parts uploaded but not listed, and the object replaced.
                for f in unnamed.iter().filter(|f| !files.contains(f)) {
                    self.disk.remove(bucket, f).await;
                }
            }
            Completed::NoSuchUpload => return Err(S3Error::no_such_upload(upload_id)),
        }
        let mut w = XmlWriter::new();
        w.root("CompleteMultipartUploadResult");
        w.leaf("Location", &format!("/{bucket}/{key}"));
        w.leaf("Bucket", bucket);
        w.leaf("Key", key);
        w.leaf("ETag", &etag);
        w.close("CompleteMultipartUploadResult");
        Ok(S3Response::xml(w.finish()))
    }

    pub(crate) async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<S3Response, S3Error> {
        self.existing_upload(bucket, key, upload_id).await?;
        let files = self
            .store
            .abort_upload(upload_id)
            .await?
            .ok_or_else(|| S3Error::no_such_upload(upload_id))?;
        for f in files {
            self.disk.remove(bucket, &f).await;
        }
        Ok(S3Response::empty(StatusCode::NO_CONTENT))
    }

    pub(crate) async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<S3Response, S3Error> {
        let upload = self.existing_upload(bucket, key, upload_id).await?;
        let parts = self.store.parts(upload_id).await?;
        let meta = ObjectMeta::decode(&upload.meta);
        let mut w = XmlWriter::new();
        w.root("ListPartsResult");
        w.leaf("Bucket", bucket);
        w.leaf("Key", key);
        w.leaf("UploadId", upload_id);
        w.leaf("PartNumberMarker", "0");
        if let Some(last) = parts.last() {
            w.leaf("NextPartNumberMarker", &last.part_number.to_string());
        }
        w.leaf("MaxParts", "1000");
        w.leaf("IsTruncated", "false");
        for p in &parts {
            w.open("Part");
            w.leaf("PartNumber", &p.part_number.to_string());
            w.leaf("LastModified", &iso8601(p.modified_ms));
            w.leaf("ETag", &p.etag);
            w.leaf("Size", &p.size.to_string());
            let pm: PartMeta = serde_json::from_str(&p.meta).unwrap_or_default();
            if let Some((alg, v)) = pm.checksum {
                w.leaf(&format!("Checksum{alg}"), &v);
            }
            w.close("Part");
        }
        write_owner(&mut w, "Initiator");
        write_owner(&mut w, "Owner");
        w.leaf("StorageClass", "STANDARD");
        if let Some(a) = &meta.checksum_algorithm {
            w.leaf("ChecksumAlgorithm", a);
        }
        w.close("ListPartsResult");
        Ok(S3Response::xml(w.finish()))
    }

    pub(crate) async fn list_uploads(&self, bucket: &str) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let uploads = self.store.uploads(bucket).await?;
        let mut w = XmlWriter::new();
        w.root("ListMultipartUploadsResult");
        w.leaf("Bucket", bucket);
        w.leaf("KeyMarker", "");
        w.leaf("UploadIdMarker", "");
        w.leaf("MaxUploads", "1000");
        w.leaf("IsTruncated", "false");
        for u in &uploads {
            w.open("Upload");
            w.leaf("Key", &u.key);
            w.leaf("UploadId", &u.upload_id);
            write_owner(&mut w, "Initiator");
            write_owner(&mut w, "Owner");
            w.leaf("StorageClass", "STANDARD");
            w.leaf("Initiated", &iso8601(u.initiated_ms));
            w.close("Upload");
        }
        w.close("ListMultipartUploadsResult");
        Ok(S3Response::xml(w.finish()))
    }
}

//! What an object keeps beside its bytes (the `meta` of its row): the
//! standard headers a client set (`Content-Type`, …), user metadata
//! (`x-amz-meta-*`), the checksum it was uploaded with, and its tags; read
//! from a request's headers and given back as a response's headers.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::digest::ChecksumAlgorithm;
use crate::error::S3Error;

/// The standard headers an object keeps, as S3 names them.
pub const STANDARD_HEADERS: [&str; 6] = [
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];

/// The type of an object uploaded without one.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// An object's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Standard headers, lower-case names.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// User metadata, names without `x-amz-meta-`, lower case.
    #[serde(default)]
    pub user: BTreeMap<String, String>,
    /// The checksum it was uploaded with: algorithm (`CRC32`) and value.
    #[serde(default)]
    pub checksum: Option<(String, String)>,
    /// A multipart upload's checksum algorithm (no whole-object value).
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    /// Tags, in order.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Parts of a multipart object.
    #[serde(default)]
    pub parts: Option<u32>,
}

impl ObjectMeta {
    /// The metadata a PutObject (or CreateMultipartUpload, or a REPLACE
    /// copy) sets with its headers.
    pub fn from_headers(h: &HeaderMap) -> Result<Self, S3Error> {
        let mut meta = Self::default();
        for (name, value) in h {
            let name = name.as_str();
            let Ok(value) = value.to_str() else { continue };
            if STANDARD_HEADERS.contains(&name) {
                meta.headers.insert(name.to_string(), value.to_string());
            } else if let Some(user) = name.strip_prefix("x-amz-meta-") {
                meta.user.insert(user.to_string(), value.to_string());
            }
        }
        if let Some(aws_chunked) = meta.headers.get("content-encoding") {
            // `aws-chunked` is the transfer's, not the object's.
            let rest: Vec<&str> = aws_chunked
                .split(',')
                .map(str::trim)
                .filter(|e| *e != "aws-chunked" && !e.is_empty())
                .collect();
            if rest.is_empty() {
                meta.headers.remove("content-encoding");
            } else {
                meta.headers
                    .insert("content-encoding".into(), rest.join(","));
            }
        }
        if let Some(t) = h.get("x-amz-tagging").and_then(|v| v.to_str().ok()) {
            meta.tags = parse_tagging_header(t)?;
        }
        Ok(meta)
    }

    /// Decodes a row's `meta`.
    pub fn decode(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// Encodes for a row.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("metadata is plain strings")
    }

    /// The content type (S3's default when none was given).
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .map_or(DEFAULT_CONTENT_TYPE, String::as_str)
    }

    /// Response headers: standard ones and `x-amz-meta-*`.
    pub fn response_headers(&self, out: &mut Vec<(String, String)>) {
        out.push(("content-type".into(), self.content_type().to_string()));
        for (k, v) in &self.headers {
            if k != "content-type" {
                out.push((k.clone(), v.clone()));
            }
        }
        for (k, v) in &self.user {
            out.push((format!("x-amz-meta-{k}"), v.clone()));
        }
        if !self.tags.is_empty() {
            out.push(("x-amz-tagging-count".into(), self.tags.len().to_string()));
        }
        if let Some(n) = self.parts {
            out.push(("x-amz-mp-parts-count".into(), n.to_string()));
        }
    }

    /// Records a verified checksum.
    pub fn set_checksum(&mut self, checksum: Option<(ChecksumAlgorithm, String)>) {
        self.checksum = checksum.map(|(a, v)| (a.xml_name().to_string(), v));
    }
}

/// `x-amz-tagging: k1=v1&k2=v2` (URL query encoded).
pub fn parse_tagging_header(value: &str) -> Result<Vec<(String, String)>, S3Error> {
    let q = crate::op::Query::parse(value);
    let tags: Vec<(String, String)> = q.0.into_iter().collect();
    check_tags(&tags)?;
    Ok(tags)
}

/// S3's limits on an object's tags: at most 10, keys up to 128
/// characters, values up to 256, keys unique.
pub fn check_tags(tags: &[(String, String)]) -> Result<(), S3Error> {
    if tags.len() > 10 {
        return Err(S3Error::new(
            http::StatusCode::BAD_REQUEST,
            "BadRequest",
            "Object tags cannot be greater than 10",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(S3Error::new(
                http::StatusCode::BAD_REQUEST,
                "InvalidTag",
                "The TagKey you have provided is invalid",
            ));
        }
        if !seen.insert(k) {
            return Err(S3Error::new(
                http::StatusCode::BAD_REQUEST,
                "InvalidTag",
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// A time as S3's XML writes it (`2026-12-06T23:30:26.000Z`).
pub fn iso8601(ms: i64) -> String {
    utc(ms).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A time as an HTTP header writes it (`Sun, 06 Dec 2026 23:30:26 GMT`).
pub fn http_date(ms: i64) -> String {
    utc(ms).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Now, Unix epoch milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_become_metadata_and_back() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "image/png".parse().unwrap());
        h.insert("content-encoding", "aws-chunked".parse().unwrap());
        h.insert("x-amz-meta-owner", "ann".parse().unwrap());
        h.insert("x-amz-tagging", "a=1&b=two%20words".parse().unwrap());
        let meta = ObjectMeta::from_headers(&h).unwrap();
        assert_eq!(meta.headers.get("content-encoding"), None);
        assert_eq!(
            meta.tags,
            [("a".into(), "1".into()), ("b".into(), "two words".into())]
        );
        let back = ObjectMeta::decode(&meta.encode());
        let mut out = Vec::new();
        back.response_headers(&mut out);
        assert!(out.contains(&("content-type".into(), "image/png".into())));
        assert!(out.contains(&("x-amz-meta-owner".into(), "ann".into())));
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}

//! ListObjects (v1, `marker`) and ListObjectsV2 (`continuation-token`,
//! `start-after`): keys in UTF-8 byte order under `prefix`, those with
//! `delimiter` after the prefix rolled up into `CommonPrefixes` (each
//! counting once against `max-keys`), and `encoding-type=url` applied to
//! every key and prefix in the answer.

use base64::Engine;
use http::StatusCode;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::S3Error;
use crate::meta::{iso8601, ObjectMeta};
use crate::op::{ListVersion, Query};
use crate::service::{write_owner, Inner};
use crate::xml::XmlWriter;
use crate::S3Response;

/// The most keys one page lists.
const MAX_KEYS: usize = 1000;
/// Rows read from the store at a time.
const PAGE: usize = 1000;

/// What `encoding-type=url` leaves as is: unreserved characters and `/`.
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// An object.
    Object(ignis_store::objects::ObjectRow),
    /// A common prefix.
    Prefix(String),
}

/// A page of a listing.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) entries: Vec<Entry>,
    pub(crate) truncated: bool,
    /// The last key or prefix listed (where the next page starts after).
    pub(crate) last: Option<String>,
}

/// What every listing (ListObjects, ListObjectsV2, ListObjectVersions)
/// reads from its query, and the parts of the answer it shapes.
pub(crate) struct ListQuery<'q> {
    /// `prefix` (empty: every key).
    pub(crate) prefix: &'q str,
    /// `delimiter` (empty: none).
    pub(crate) delimiter: &'q str,
    /// `max-keys`.
    pub(crate) max: usize,
    /// `encoding-type=url`.
    pub(crate) url: bool,
}

impl<'q> ListQuery<'q> {
    /// Reads `prefix`, `delimiter`, `max-keys` and `encoding-type`.
    pub(crate) fn parse(q: &'q Query) -> Result<Self, S3Error> {
        Ok(Self {
            prefix: q.get("prefix").unwrap_or(""),
            delimiter: q.get("delimiter").unwrap_or(""),
            max: max_keys(q)?,
            url: url_encoding(q)?,
        })
    }

    /// A key or prefix as the answer writes it.
    pub(crate) fn enc(&self, s: &str) -> String {
        encode_key(s, self.url)
    }

    /// `MaxKeys`, `Delimiter` (if any), `EncodingType` (if `url`) and
    /// `IsTruncated`.
    pub(crate) fn write_limits(&self, w: &mut XmlWriter, truncated: bool) {
        w.leaf("MaxKeys", &self.max.to_string());
        if !self.delimiter.is_empty() {
            w.leaf("Delimiter", &self.enc(self.delimiter));
        }
        if self.url {
            w.leaf("EncodingType", "url");
        }
        w.leaf("IsTruncated", if truncated { "true" } else { "false" });
    }

    /// The page's common prefixes, each a `CommonPrefixes` element.
    pub(crate) fn write_common_prefixes(&self, w: &mut XmlWriter, page: &Page) {
        for entry in &page.entries {
            if let Entry::Prefix(p) = entry {
                w.open("CommonPrefixes");
                w.leaf("Prefix", &self.enc(p));
                w.close("CommonPrefixes");
            }
        }
    }
}

impl Inner {
    /// Up to `max` entries under `prefix` after `after`.
    pub(crate) async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        after: Option<String>,
        max: usize,
    ) -> Result<Page, S3Error> {
        let mut page = Page::default();
        let marker = after.clone();
        let mut cursor = after;
        'pages: loop {
            let rows = self
                .store
                .list_objects(bucket, prefix, cursor.as_deref(), PAGE)
                .await?;
            if rows.is_empty() {
                break;
            }
            let full = rows.len() == PAGE;
            for row in rows {
                cursor = Some(row.key.clone());
                let rolled = (!delimiter.is_empty())
                    .then(|| {
                        row.key[prefix.len()..]
                            .find(delimiter)
                            .map(|i| row.key[..prefix.len() + i + delimiter.len()].to_string())
                    })
                    .flatten();
                let entry = match rolled {
                    Some(p) if page.last.as_deref() == Some(p.as_str()) => continue,
                    // A marker that is a common prefix (the last entry of
                    // the previous page): its keys were listed in it.
                    Some(p) if marker.as_deref().is_some_and(|m| p.as_str() <= m) => {
                        cursor = Some(format!("{p}\u{10FFFF}"));
                        continue 'pages;
                    }
                    Some(p) => Entry::Prefix(p),
                    None => Entry::Object(row),
                };
                if page.entries.len() == max {
                    page.truncated = true;
                    break 'pages;
                }
                let name = match &entry {
                    Entry::Object(o) => o.key.clone(),
                    Entry::Prefix(p) => p.clone(),
                };
                page.last = Some(name.clone());
                page.entries.push(entry);
                if matches!(page.entries.last(), Some(Entry::Prefix(_))) {
                    // Skip the rest of this prefix's keys in one seek.
                    cursor = Some(format!("{name}\u{10FFFF}"));
                    continue 'pages;
                }
            }
            if !full {
                break;
            }
        }
        Ok(page)
    }

    pub(crate) async fn list_objects(
        &self,
        bucket: &str,
        version: ListVersion,
        q: &Query,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let lq = ListQuery::parse(q)?;
        let token = q.get("continuation-token");
        let after = match version {
            ListVersion::V1 => q.get("marker").map(str::to_string),
            ListVersion::V2 => match token {
                Some(t) => Some(decode_token(t)?),
                None => q.get("start-after").map(str::to_string),
            },
        };
        let page = self
            .list_page(
                bucket,
                lq.prefix,
                lq.delimiter,
                after.filter(|a| !a.is_empty()),
                lq.max,
            )
            .await?;
        let enc = |s: &str| lq.enc(s);
        let mut w = XmlWriter::new();
        w.root("ListBucketResult");
        w.leaf("Name", bucket);
        w.leaf("Prefix", &enc(lq.prefix));
        match version {
            ListVersion::V1 => {
                w.leaf("Marker", &enc(q.get("marker").unwrap_or("")));
                if page.truncated && !lq.delimiter.is_empty() {
                    if let Some(last) = &page.last {
                        w.leaf("NextMarker", &enc(last));
                    }
                }
            }
            ListVersion::V2 => {
                w.leaf("KeyCount", &page.entries.len().to_string());
                if let Some(t) = token {
                    w.leaf("ContinuationToken", t);
                }
                if page.truncated {
                    if let Some(last) = &page.last {
                        w.leaf("NextContinuationToken", &encode_token(last));
                    }
                }
                if let Some(s) = q.get("start-after") {
                    w.leaf("StartAfter", &enc(s));
                }
            }
        }
        lq.write_limits(&mut w, page.truncated);
        let owner = version == ListVersion::V1 || q.get("fetch-owner") == Some("true");
        for entry in &page.entries {
            if let Entry::Object(o) = entry {
                let meta = ObjectMeta::decode(&o.meta);
                w.open("Contents");
                w.leaf("Key", &enc(&o.key));
                w.leaf("LastModified", &iso8601(o.modified_ms));
                w.leaf("ETag", &o.etag);
                if let Some(alg) = meta
                    .checksum
                    .as_ref()
                    .map(|(a, _)| a.as_str())
                    .or(meta.checksum_algorithm.as_deref())
                {
                    w.leaf("ChecksumAlgorithm", alg);
                }
                w.leaf("Size", &o.size.to_string());
                if owner {
                    write_owner(&mut w, "Owner");
                }
                w.leaf("StorageClass", "STANDARD");
                w.close("Contents");
            }
        }
        lq.write_common_prefixes(&mut w, &page);
        w.close("ListBucketResult");
        Ok(S3Response::xml(w.finish()))
    }
}

/// `max-keys` (at most [`MAX_KEYS`]; the default).
fn max_keys(q: &Query) -> Result<usize, S3Error> {
    Ok(match q.get("max-keys") {
        Some(m) => m
            .parse::<i64>()
            .ok()
            .filter(|m| *m >= 0)
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                    "max-keys",
                    m,
                )
            })?
            .min(MAX_KEYS as i64) as usize,
        None => MAX_KEYS,
    })
}

/// Whether `encoding-type=url` asks keys to be percent-encoded.
fn url_encoding(q: &Query) -> Result<bool, S3Error> {
    match q.get("encoding-type") {
        None => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("url") => Ok(true),
        Some(e) => Err(S3Error::invalid_argument(
            "Invalid Encoding Method specified in Request",
            "encoding-type",
            e,
        )),
    }
}

/// A key or prefix as an answer writes it (`url`: percent-encoded).
fn encode_key(s: &str, url: bool) -> String {
    if url {
        utf8_percent_encode(s, URL_KEEP).to_string()
    } else {
        s.to_string()
    }
}

fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::new(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "The continuation token provided is incorrect",
            )
            .with("ArgumentName", "continuation-token")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let t = encode_token("photos/é/");
        assert_eq!(decode_token(&t).unwrap(), "photos/é/");
        assert_eq!(decode_token("!!").unwrap_err().code, "InvalidArgument");
    }
}

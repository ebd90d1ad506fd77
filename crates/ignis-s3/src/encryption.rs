//! Server-side encryption, as S3 has it since January 2023: every bucket
//! applies SSE-S3 (`AES256`) by default, so a bucket's encryption
//! configuration is that default unless one was put, and every object
//! answers `x-amz-server-side-encryption: AES256`.
//!
//! Ignis has no key management service: SSE-KMS (`aws:kms`,
//! `aws:kms:dsse`) and customer keys (SSE-C) are refused with S3's
//! `NotImplemented`, on a bucket's configuration and on an object request
//! alike, never accepted and ignored. The bytes are stored as sent; what
//! protects them at rest is the disk's own encryption (docs/objects.md).

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::S3Error;
use crate::op::not_implemented;
use crate::xml::{self, XmlWriter};

/// The response header naming an object's encryption.
pub const SSE_HEADER: &str = "x-amz-server-side-encryption";
/// The only algorithm Ignis applies: SSE-S3.
pub const AES256: &str = "AES256";

/// A bucket's default encryption as stored (its one rule; the algorithm
/// is always SSE-S3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DefaultEncryption {
    /// `BucketKeyEnabled` as put (meaningless for SSE-S3, kept as S3
    /// keeps it).
    #[serde(default)]
    bucket_key_enabled: bool,
}

impl DefaultEncryption {
    /// Reads a `ServerSideEncryptionConfiguration` document.
    pub(crate) fn parse(text: &str) -> Result<Self, S3Error> {
        let root = xml::parse_root(text, "ServerSideEncryptionConfiguration")?;
        let rules: Vec<_> = root.all("Rule").collect();
        let [rule] = rules.as_slice() else {
            return Err(S3Error::malformed_xml());
        };
        let by_default = rule
            .child("ApplyServerSideEncryptionByDefault")
            .ok_or_else(S3Error::malformed_xml)?;
        let algorithm = by_default
            .text_of("SSEAlgorithm")
            .map(str::trim)
            .ok_or_else(S3Error::malformed_xml)?;
        let bucket_key_enabled = match rule.text_of("BucketKeyEnabled").map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(S3Error::malformed_xml()),
        };
        match algorithm {
            AES256 => {}
            "aws:kms" | "aws:kms:dsse" => return Err(no_kms()),
            _ => return Err(S3Error::malformed_xml()),
        }
        if by_default.child("KMSMasterKeyID").is_some() {
            return Err(S3Error::invalid_argument(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                "ApplyServerSideEncryptionByDefault",
                "",
            ));
        }
        Ok(Self { bucket_key_enabled })
    }

    /// Encodes for the bucket's setting.
    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).expect("plain fields")
    }

    /// The stored setting, or S3's default (SSE-S3) when there is none.
    pub(crate) fn decode(stored: Option<&str>) -> Self {
        stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    /// GetBucketEncryption's document.
    pub(crate) fn to_xml(self) -> String {
        let mut w = XmlWriter::new();
        w.root("ServerSideEncryptionConfiguration");
        w.open("Rule");
        w.open("ApplyServerSideEncryptionByDefault");
        w.leaf("SSEAlgorithm", AES256);
        w.close("ApplyServerSideEncryptionByDefault");
        w.leaf(
            "BucketKeyEnabled",
            if self.bucket_key_enabled {
                "true"
            } else {
                "false"
            },
        );
        w.close("Rule");
        w.close("ServerSideEncryptionConfiguration");
        w.finish()
    }
}

fn no_kms() -> S3Error {
    not_implemented("SSE-KMS: Ignis has no key management service; SSE-S3 (AES256) applies")
}

/// The encryption headers of a request that writes an object (PutObject,
/// CopyObject, CreateMultipartUpload): none or `AES256` is SSE-S3, what
/// every object gets; KMS and customer keys are refused.
pub(crate) fn check_request(headers: &HeaderMap) -> Result<(), S3Error> {
    let value = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    if headers.keys().any(|n| {
        n.as_str()
            .starts_with("x-amz-server-side-encryption-customer-")
    }) {
        return Err(not_implemented(
            "SSE-C: Ignis does not encrypt with customer-provided keys",
        ));
    }
    match value(SSE_HEADER) {
        None | Some(AES256) => {}
        Some("aws:kms" | "aws:kms:dsse") => return Err(no_kms()),
        Some(other) => {
            return Err(S3Error::invalid_argument(
                "The encryption method specified is not supported",
                SSE_HEADER,
                other,
            ))
        }
    }
    if value("x-amz-server-side-encryption-aws-kms-key-id").is_some()
        || value("x-amz-server-side-encryption-context").is_some()
    {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rule: &str) -> String {
        format!("<ServerSideEncryptionConfiguration xmlns=\"{}\">{rule}</ServerSideEncryptionConfiguration>", xml::NS)
    }

    #[test]
    fn sse_s3_is_stored_kms_refused_and_bad_documents_malformed() {
        let aes = config("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>");
        let got = DefaultEncryption::parse(&aes).unwrap();
        assert!(DefaultEncryption::decode(Some(&got.encode()))
            .to_xml()
            .contains("<BucketKeyEnabled>true</BucketKeyEnabled>"));
        let kms = config("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule>");
        let e = DefaultEncryption::parse(&kms).unwrap_err();
        assert_eq!(
            (e.code, e.status),
            ("NotImplemented", StatusCode::NOT_IMPLEMENTED)
        );
        for bad in [
            config(""),
            config("<Rule></Rule>"),
            config("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>ROT13</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"),
            "<Other/>".to_string(),
        ] {
            assert_eq!(DefaultEncryption::parse(&bad).unwrap_err().code, "MalformedXML", "{bad}");
        }
        let key_with_aes = config("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule>");
        assert_eq!(
            DefaultEncryption::parse(&key_with_aes).unwrap_err().code,
            "InvalidArgument"
        );
    }

    #[test]
    fn a_fresh_bucket_answers_the_sse_s3_default() {
        let doc = DefaultEncryption::decode(None).to_xml();
        assert!(doc.contains("<SSEAlgorithm>AES256</SSEAlgorithm>"), "{doc}");
        assert!(
            doc.contains("<BucketKeyEnabled>false</BucketKeyEnabled>"),
            "{doc}"
        );
    }

    #[test]
    fn object_requests_may_ask_for_sse_s3_only() {
        let mut h = HeaderMap::new();
        assert!(check_request(&h).is_ok());
        h.insert(SSE_HEADER, "AES256".parse().unwrap());
        assert!(check_request(&h).is_ok());
        h.insert(SSE_HEADER, "aws:kms".parse().unwrap());
        assert_eq!(check_request(&h).unwrap_err().code, "NotImplemented");
        h.insert(SSE_HEADER, "AES128".parse().unwrap());
        assert_eq!(check_request(&h).unwrap_err().code, "InvalidArgument");
        let mut c = HeaderMap::new();
        c.insert(
            "x-amz-server-side-encryption-customer-algorithm",
            "AES256".parse().unwrap(),
        );
        assert_eq!(check_request(&c).unwrap_err().code, "NotImplemented");
        let mut k = HeaderMap::new();
        k.insert(
            "x-amz-server-side-encryption-aws-kms-key-id",
            "key".parse().unwrap(),
        );
        assert_eq!(check_request(&k).unwrap_err().code, "InvalidArgument");
    }
}

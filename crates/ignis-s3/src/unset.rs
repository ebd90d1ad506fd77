//! Bucket settings Ignis has no way to set — transfer acceleration,
//! requester pays, server access logging, replication, object lock, a
//! public access block — read as S3 reads them on a bucket where they were
//! never set. Setting them stays `NotImplemented`, so what these reads
//! answer is always true. Tools that read every setting of a bucket
//! (Terraform's `aws_s3_bucket`) get S3's answers, not refusals.

use crate::error::S3Error;
use crate::xml::XmlWriter;
use crate::S3Response;

/// A setting that is never set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// `?accelerate`: no status.
    Accelerate,
    /// `?requestPayment`: the bucket owner pays.
    RequestPayment,
    /// `?logging`: not logging.
    Logging,
    /// `?replication`: no configuration.
    Replication,
    /// `?object-lock`: no configuration.
    ObjectLock,
    /// `?publicAccessBlock`: no configuration.
    PublicAccessBlock,
}

impl Unset {
    /// The sub-resource a query names, if one of these.
    pub(crate) fn in_query(q: &crate::op::Query) -> Option<Self> {
        [
            ("accelerate", Self::Accelerate),
            ("requestPayment", Self::RequestPayment),
            ("logging", Self::Logging),
            ("replication", Self::Replication),
            ("object-lock", Self::ObjectLock),
            ("publicAccessBlock", Self::PublicAccessBlock),
        ]
        .into_iter()
        .find_map(|(name, which)| q.has(name).then_some(which))
    }

    /// Its query name (what a write's `NotImplemented` names).
    pub(crate) fn query_name(self) -> &'static str {
        match self {
            Self::Accelerate => "accelerate",
            Self::RequestPayment => "requestPayment",
            Self::Logging => "logging",
            Self::Replication => "replication",
            Self::ObjectLock => "object-lock",
            Self::PublicAccessBlock => "publicAccessBlock",
        }
    }

    /// The read's operation name.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Accelerate => "GetBucketAccelerateConfiguration",
            Self::RequestPayment => "GetBucketRequestPayment",
            Self::Logging => "GetBucketLogging",
            Self::Replication => "GetBucketReplication",
            Self::ObjectLock => "GetObjectLockConfiguration",
            Self::PublicAccessBlock => "GetPublicAccessBlock",
        }
    }

    /// The read's IAM action.
    pub fn action(self) -> &'static str {
        match self {
            Self::Accelerate => "s3:GetAccelerateConfiguration",
            Self::RequestPayment => "s3:GetBucketRequestPayment",
            Self::Logging => "s3:GetBucketLogging",
            Self::Replication => "s3:GetReplicationConfiguration",
            Self::ObjectLock => "s3:GetBucketObjectLockConfiguration",
            Self::PublicAccessBlock => "s3:GetBucketPublicAccessBlock",
        }
    }

    /// S3's answer for `bucket` where it was never set.
    pub(crate) fn answer(self, bucket: &str) -> Result<S3Response, S3Error> {
        let not_found =
            |code: &'static str, message: &str| Err(S3Error::not_configured(code, message, bucket));
        let empty = |root: &str, leaf: Option<(&str, &str)>| {
            let mut w = XmlWriter::new();
            w.root(root);
            if let Some((name, value)) = leaf {
                w.leaf(name, value);
            }
            w.close(root);
            Ok(S3Response::xml(w.finish()))
        };
        match self {
            Self::Accelerate => empty("AccelerateConfiguration", None),
            Self::RequestPayment => empty(
                "RequestPaymentConfiguration",
                Some(("Payer", "BucketOwner")),
            ),
            Self::Logging => empty("BucketLoggingStatus", None),
            Self::Replication => not_found(
                "ReplicationConfigurationNotFoundError",
                "The replication configuration was not found",
            ),
            Self::ObjectLock => not_found(
                "ObjectLockConfigurationNotFoundError",
                "Object Lock configuration does not exist for this bucket",
            ),
            Self::PublicAccessBlock => not_found(
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    #[test]
    fn unset_settings_read_as_s3_reads_them() {
        let q = crate::op::Query::parse("requestPayment");
        let which = Unset::in_query(&q).unwrap();
        assert_eq!(which.operation(), "GetBucketRequestPayment");
        let crate::ResponseBody::Text(doc, _) = which.answer("b").unwrap().body else {
            panic!("not a document")
        };
        assert!(doc.contains("<Payer>BucketOwner</Payer>"), "{doc}");
        let e = Unset::Replication.answer("b").unwrap_err();
        assert_eq!(
            (e.code, e.status),
            (
                "ReplicationConfigurationNotFoundError",
                StatusCode::NOT_FOUND
            )
        );
        assert_eq!(
            Unset::PublicAccessBlock.answer("b").unwrap_err().code,
            "NoSuchPublicAccessBlockConfiguration"
        );
    }
}

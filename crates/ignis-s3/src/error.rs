//! S3's errors: each a code, a message, an HTTP status and the resource
//! fields S3 adds (`<Key>`, `<BucketName>`, …), rendered once as REST-XML
//! (`<Error><Code>…</Code><Message>…</Message>…<RequestId>…</RequestId></Error>`).

use http::StatusCode;

use crate::xml::XmlWriter;

/// An S3 error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3Error {
    /// S3's code (`NoSuchKey`).
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// The status.
    pub status: StatusCode,
    /// Extra fields, in order (`Key`, `BucketName`, `UploadId`, …).
    pub fields: Vec<(&'static str, String)>,
}

impl S3Error {
    /// An error with no extra fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status,
            fields: Vec::new(),
        }
    }

    /// Adds a field.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }

    /// 404 `code`: `bucket` has no such configuration (a policy, CORS, a
    /// lifecycle, …); `BucketName` names it.
    pub(crate) fn not_configured(code: &'static str, message: &str, bucket: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message).with("BucketName", bucket)
    }

    /// `NoSuchBucket`.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        )
        .with("BucketName", bucket)
    }

    /// `NoSuchKey`.
    pub fn no_such_key(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .with("Key", key)
    }

    /// `NoSuchUpload`.
    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", upload_id)
    }

    /// `InvalidArgument` about `name`.
    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }

    /// `InvalidRequest`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    /// `MalformedXML`.
    pub fn malformed_xml() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    /// `InternalError` (the cause is logged, not told).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "object store failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// The XML body (HEAD requests answer with none).
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut w = XmlWriter::new();
        w.open("Error");
        w.leaf("Code", self.code);
        w.leaf("Message", &self.message);
        for (name, value) in &self.fields {
            w.leaf(name, value);
        }
        w.leaf("RequestId", request_id);
        w.leaf("HostId", request_id);
        w.close("Error");
        w.finish()
    }
}

impl From<ignis_store::StoreError> for S3Error {
    fn from(e: ignis_store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<std::io::Error> for S3Error {
    fn from(e: std::io::Error) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_s3_shape() {
        let xml = S3Error::no_such_key("a&b").to_xml("rid");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key><RequestId>rid</RequestId>"), "{xml}");
    }
}

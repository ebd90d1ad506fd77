//! AWS Signature Version 4: reading who signed a request (the
//! `Authorization` header or a presigned URL's query), checking the
//! signature with that key's secret, and signing requests the same way.
//!
//! Authentication is two steps so the caller can look the key up between
//! them: [`Authorization::parse`] needs only the method, path, query and
//! headers (not the body) and names the access key, its scope and session
//! token; [`Authorization::verify`] takes the secret, the payload (its bytes,
//! its SHA-256, or nothing when `x-amz-content-sha256` stands for it) and the
//! current time, which is always passed in, never read here.

mod canonical;
mod chunks;
mod sign;
mod verify;

use chrono::{DateTime, NaiveDateTime, Utc};
use http::HeaderMap;

pub use chunks::ChunkSigner;
pub use sign::{Signer, SigningCredentials};

/// The one algorithm SigV4 names.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// `x-amz-date`.
pub const X_AMZ_DATE: &str = "x-amz-date";
/// `x-amz-security-token`.
pub const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
/// `x-amz-content-sha256`.
pub const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";
/// The payload hash that says the payload is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far a request's time may be from the server's, as AWS allows.
pub const MAX_SKEW_MINUTES: i64 = 15;
/// The longest a presigned URL may last (a week), seconds.
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// What the request looks like on the wire: the path and query exactly as
/// received (still percent-encoded), without the leading `?`.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The raw path, e.g. `/2015-03-31/functions/my%20fn/invocations`.
    pub path: &'a str,
    /// The raw query string, `""` when there is none.
    pub query: &'a str,
    /// The request's headers.
    pub headers: &'a HeaderMap,
}

/// Where the signature came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureForm {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…`.
    Header,
    /// `?X-Amz-Algorithm=…&X-Amz-Signature=…` (a presigned URL).
    Presigned,
}

/// The `Credential` of a signature: the key and the scope it signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id (`AKIA…`, `ASIA…`).
    pub access_key_id: String,
    /// The scope's date, `YYYYMMDD`.
    pub date: String,
    /// The scope's region, e.g. `us-east-1`.
    pub region: String,
    /// The scope's service signing name, e.g. `lambda`, `s3`, `iam`.
    pub service: String,
}

impl Credential {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// A request's signature, parsed; nothing verified yet but its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Header or presigned URL.
    pub form: SignatureForm,
    /// Key and scope.
    pub credential: Credential,
    /// The headers the client signed, lower case, in its order.
    pub signed_headers: Vec<String>,
    /// The hex signature the client sent.
    pub signature: String,
    /// When the client signed (`X-Amz-Date`, else the `Date` header).
    pub signed_at: DateTime<Utc>,
    /// A presigned URL's lifetime (`X-Amz-Expires`), seconds.
    pub expires_secs: Option<u64>,
    /// `X-Amz-Security-Token`, for temporary credentials.
    pub session_token: Option<String>,
}

/// The body, as far as the caller has it.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body.
    Bytes(&'a [u8]),
    /// The body's SHA-256, computed while it streamed.
    Sha256([u8; 32]),
    /// The body is not read: only valid when `x-amz-content-sha256` carries
    /// the hash (or `UNSIGNED-PAYLOAD` / `STREAMING-…`); a hex hash is then
    /// the caller's to check against the body it reads.
    Unread,
}

/// What AWS calls each failure; the front picks the calling service's code
/// for it (e.g. Lambda's `InvalidSignatureException`, IAM's
/// `SignatureDoesNotMatch`, S3's `SignatureDoesNotMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigV4ErrorKind {
    /// No signature at all (`MissingAuthenticationToken`).
    MissingAuthenticationToken,
    /// A signature with missing or malformed parts (`IncompleteSignature`).
    IncompleteSignature,
    /// The signature (or its scope) is not the one expected (`SignatureDoesNotMatch`).
    SignatureDoesNotMatch,
    /// The request's time is more than 15 minutes from the server's (`RequestTimeTooSkewed`).
    RequestTimeTooSkewed,
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires` (S3's `AccessDenied`).
    RequestExpired,
    /// The body does not hash to `x-amz-content-sha256` (`XAmzContentSHA256Mismatch`).
    ContentSha256Mismatch,
}

/// Why a request's signature was refused; the message is AWS's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header and no presigned query.
    #[error("Missing Authentication Token")]
    Missing,
    /// Parts of the signature are missing or malformed.
    #[error("{0}")]
    Incomplete(String),
    /// The credential's scope disagrees with the request.
    #[error("{0}")]
    ScopeMismatch(String),
    /// The signature is not the one the secret gives.
    #[error("{SIGNATURE_MISMATCH}")]
    SignatureDoesNotMatch,
    /// The request's time is too far from now.
    #[error("{0}")]
    TooSkewed(String),
    /// The presigned URL has expired.
    #[error("Request has expired")]
    Expired,
    /// The body does not match `x-amz-content-sha256`.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
}

impl SigV4Error {
    /// The kind of failure, for the front to name in its service's terms.
    pub fn kind(&self) -> SigV4ErrorKind {
        match self {
            Self::Missing => SigV4ErrorKind::MissingAuthenticationToken,
            Self::Incomplete(_) => SigV4ErrorKind::IncompleteSignature,
            Self::ScopeMismatch(_) | Self::SignatureDoesNotMatch => {
                SigV4ErrorKind::SignatureDoesNotMatch
            }
            Self::TooSkewed(_) => SigV4ErrorKind::RequestTimeTooSkewed,
            Self::Expired => SigV4ErrorKind::RequestExpired,
            Self::ContentSha256Mismatch => SigV4ErrorKind::ContentSha256Mismatch,
        }
    }
}

/// Whether the request carries any SigV4 signature (header or query);
/// without one it is anonymous.
pub fn is_signed(req: &RequestParts<'_>) -> bool {
    req.headers.contains_key(http::header::AUTHORIZATION) || presigned_params(req.query).is_some()
}

fn presigned_params(query: &str) -> Option<Vec<(String, String)>> {
    let pairs = canonical::query_pairs(query);
    pairs
        .iter()
        .any(|(k, _)| k == "X-Amz-Algorithm" || k == "X-Amz-Signature" || k == "X-Amz-Credential")
        .then_some(pairs)
}

impl Authorization {
    /// Reads the signature of a request: the `Authorization` header if
    /// there is one, else the presigned query. Checks the shape only.
    pub fn parse(req: &RequestParts<'_>) -> Result<Self, SigV4Error> {
        if let Some(value) = req.headers.get(http::header::AUTHORIZATION) {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            return parse_header(&value, req.headers);
        }
        match presigned_params(req.query) {
            Some(pairs) => parse_presigned(&pairs),
            None => Err(SigV4Error::Missing),
        }
    }

    /// Checks the signature with the access key's secret: the scope's date,
    /// the time (15 minutes either way; a presigned URL until it expires),
    /// the payload hash, then the signature itself in constant time.
    pub fn verify(
        &self,
        req: &RequestParts<'_>,
        secret: &str,
        payload: Payload<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), SigV4Error> {
        verify::verify(self, req, secret, payload, now)
    }

    /// Refuses a credential scoped to another service than `signing_name`
    /// (AWS: "Credential should be scoped to correct service: 'lambda'. ").
    pub fn check_service(&self, signing_name: &str) -> Result<(), SigV4Error> {
        if self.credential.service == signing_name {
            return Ok(());
        }
        Err(SigV4Error::ScopeMismatch(format!(
            "Credential should be scoped to correct service: '{signing_name}'. "
        )))
    }

    /// `X-Amz-Date` as it was signed (`YYYYMMDDTHHMMSSZ`).
    pub fn amz_date(&self) -> String {
        format_amz_date(self.signed_at)
    }
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

fn parse_amz_date(value: &str) -> Result<DateTime<Utc>, SigV4Error> {
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
        .map(|t| t.and_utc())
        .map_err(|_| {
            SigV4Error::Incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ))
        })
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
}

fn parse_header(value: &str, headers: &HeaderMap) -> Result<Authorization, SigV4Error> {
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    if algorithm == ALGORITHM {
        for part in rest.split(',') {
            match part.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v.trim().to_string()),
                Some(("SignedHeaders", v)) => signed_headers = Some(v.trim().to_string()),
                Some(("Signature", v)) => signature = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let date = header_str(headers, X_AMZ_DATE);
    let http_date = header_str(headers, http::header::DATE.as_str());
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if date.is_none() && http_date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    let (Some(credential), Some(signed_headers), Some(signature), true) =
        (credential, signed_headers, signature, missing.is_empty())
    else {
        return Err(SigV4Error::Incomplete(format!(
            "{} Authorization={value}",
            missing.join(" ")
        )));
    };
    let signed_at = match (date, http_date) {
        (Some(date), _) => parse_amz_date(&date)?,
        (None, Some(http_date)) => DateTime::parse_from_rfc2822(&http_date)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                SigV4Error::Incomplete(format!(
                    "Date must be in ISO-8601 'basic format'. Got '{http_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
                ))
            })?,
        (None, None) => unreachable!("checked above"),
    };
    let signed_headers = parse_signed_headers(&signed_headers)?;
    if !signed_headers
        .iter()
        .any(|h| h == "host" || h == ":authority")
    {
        return Err(SigV4Error::ScopeMismatch(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    Ok(Authorization {
        form: SignatureForm::Header,
        credential: parse_credential(&credential)?,
        signed_headers,
        signature,
        signed_at,
        expires_secs: None,
        session_token: header_str(headers, X_AMZ_SECURITY_TOKEN),
    })
}

fn parse_presigned(pairs: &[(String, String)]) -> Result<Authorization, SigV4Error> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let required = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ];
    let missing: Vec<String> = required
        .iter()
        .filter(|name| get(name).is_none())
        .map(|name| format!("AWS query-string parameters must include '{name}'."))
        .collect();
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "{} Re-examine the query-string parameters.",
            missing.join(" ")
        )));
    }
    let field = |name: &str| get(name).expect("checked above");
    let algorithm = field("X-Amz-Algorithm");
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\", not \"{algorithm}\"."
        )));
    }
    let expires_secs = match get("X-Amz-Expires") {
        None => None,
        Some(v) => {
            let secs: u64 = v
                .parse()
                .map_err(|_| SigV4Error::Incomplete("X-Amz-Expires should be a number".into()))?;
            if secs > MAX_PRESIGNED_EXPIRES_SECS {
                return Err(SigV4Error::Incomplete(format!(
                    "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES_SECS}"
                )));
            }
            Some(secs)
        }
    };
    Ok(Authorization {
        form: SignatureForm::Presigned,
        credential: parse_credential(&field("X-Amz-Credential"))?,
        signed_headers: parse_signed_headers(&field("X-Amz-SignedHeaders"))?,
        signature: field("X-Amz-Signature"),
        signed_at: parse_amz_date(&field("X-Amz-Date"))?,
        expires_secs,
        session_token: get("X-Amz-Security-Token"),
    })
}

fn parse_signed_headers(value: &str) -> Result<Vec<String>, SigV4Error> {
    let headers: Vec<String> = value
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if headers.is_empty() {
        return Err(SigV4Error::Incomplete(
            "Authorization header requires 'SignedHeaders' parameter.".into(),
        ));
    }
    Ok(headers)
}

fn parse_credential(value: &str) -> Result<Credential, SigV4Error> {
    let parts: Vec<&str> = value.split('/').collect();
    let [key, date, region, service, terminator] = parts.as_slice() else {
        return Err(SigV4Error::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{value}'"
        )));
    };
    if *terminator != "aws4_request" {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )));
    }
    if key.is_empty() || region.is_empty() || service.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should have a key id, a region and a service, got '{value}'"
        )));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
        )));
    }
    Ok(Credential {
        access_key_id: key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    })
}

#[cfg(test)]
mod tests;

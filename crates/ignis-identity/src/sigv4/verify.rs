//! Checking a parsed [`Authorization`] against the request and a secret.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical::{self, CanonicalRequest};
use super::{
    format_amz_date, Authorization, Payload, RequestParts, SigV4Error, SignatureForm,
    MAX_SKEW_MINUTES, UNSIGNED_PAYLOAD, X_AMZ_CONTENT_SHA256,
};

pub(super) fn verify(
    auth: &Authorization,
    req: &RequestParts<'_>,
    secret: &str,
    payload: Payload<'_>,
    now: DateTime<Utc>,
) -> Result<(), SigV4Error> {
    let amz_date = format_amz_date(auth.signed_at);
    if auth.credential.date != amz_date[..8] {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.credential.date,
            &amz_date[..8],
        )));
    }
    check_time(auth, now)?;
    let s3 = auth.credential.service == "s3";
    let payload_hash = payload_hash(req, auth.form, s3, payload)?;
    let canonical_request = CanonicalRequest {
        req,
        s3,
        presigned: auth.form == SignatureForm::Presigned,
        signed_headers: &auth.signed_headers,
        payload_hash: &payload_hash,
    }
    .render();
    let string_to_sign =
        canonical::string_to_sign(&amz_date, &auth.credential.scope(), &canonical_request);
    let key = canonical::signing_key(
        secret,
        &auth.credential.date,
        &auth.credential.region,
        &auth.credential.service,
    );
    let expected = hex::encode(canonical::hmac(&key, string_to_sign.as_bytes()));
    let given = auth.signature.to_ascii_lowercase();
    if expected.as_bytes().ct_eq(given.as_bytes()).into() {
        Ok(())
    } else {
        Err(SigV4Error::SignatureDoesNotMatch)
    }
}

/// 15 minutes either way for a signed header; a presigned URL from 15
/// minutes before its date until its date plus `X-Amz-Expires`.
fn check_time(auth: &Authorization, now: DateTime<Utc>) -> Result<(), SigV4Error> {
    let skew = Duration::minutes(MAX_SKEW_MINUTES);
    let at = auth.signed_at;
    if at - now > skew {
        return Err(SigV4Error::TooSkewed(format!(
            "Signature not yet current: {} is still later than {} ({} + {MAX_SKEW_MINUTES} min.)",
            format_amz_date(at),
            format_amz_date(now + skew),
            format_amz_date(now),
        )));
    }
    match (auth.form, auth.expires_secs) {
        (SignatureForm::Presigned, Some(secs)) => {
            let secs = i64::try_from(secs).expect("X-Amz-Expires is at most a week");
            if now > at + Duration::seconds(secs) {
                return Err(SigV4Error::Expired);
            }
        }
        _ => {
            if now - at > skew {
                return Err(SigV4Error::TooSkewed(format!(
                    "Signature expired: {} is now earlier than {} ({} - {MAX_SKEW_MINUTES} min.)",
                    format_amz_date(at),
                    format_amz_date(now - skew),
                    format_amz_date(now),
                )));
            }
        }
    }
    Ok(())
}

/// The hash the canonical request ends with: `x-amz-content-sha256` when
/// sent (checked against the body when the caller has it), else
/// `UNSIGNED-PAYLOAD` for an S3 presigned URL, else the body's SHA-256.
fn payload_hash(
    req: &RequestParts<'_>,
    form: SignatureForm,
    s3: bool,
    payload: Payload<'_>,
) -> Result<String, SigV4Error> {
    if let Some(value) = req.headers.get(X_AMZ_CONTENT_SHA256) {
        let value = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
        if value == UNSIGNED_PAYLOAD || value.starts_with("STREAMING-") {
            return Ok(value);
        }
        if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SigV4Error::Incomplete(
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.".into(),
            ));
        }
        let computed = match payload {
            Payload::Bytes(body) => Some(hex::encode(Sha256::digest(body))),
            Payload::Sha256(digest) => Some(hex::encode(digest)),
            Payload::Unread => None,
        };
        if computed.is_some_and(|c| !c.eq_ignore_ascii_case(&value)) {
            return Err(SigV4Error::ContentSha256Mismatch);
        }
        return Ok(value);
    }
    if s3 && form == SignatureForm::Presigned {
        return Ok(UNSIGNED_PAYLOAD.to_string());
    }
    match payload {
        Payload::Bytes(body) => Ok(hex::encode(Sha256::digest(body))),
        Payload::Sha256(digest) => Ok(hex::encode(digest)),
        Payload::Unread => Err(SigV4Error::Incomplete(
            "Missing required header for this request: x-amz-content-sha256".into(),
        )),
    }
}

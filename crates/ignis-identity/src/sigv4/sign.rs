//! Signing a request (what Ignis's own clients send with the account's
//! key): the `Authorization` header form, every header present signed.

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::canonical::{self, CanonicalRequest};
use super::{
    format_amz_date, Credential, RequestParts, ALGORITHM, X_AMZ_DATE, X_AMZ_SECURITY_TOKEN,
};

/// The key a request is signed with.
#[derive(Debug, Clone)]
pub struct SigningCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

/// A key and the scope it signs for.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The key.
    pub credentials: SigningCredentials,
    /// The region signed for, e.g. `us-east-1`.
    pub region: String,
    /// The service's signing name, e.g. `lambda`.
    pub service: String,
}

impl Signer {
    /// Signs a request in place: adds `x-amz-date` (and
    /// `x-amz-security-token` for temporary credentials), then the
    /// `Authorization` header over every header present (which must
    /// include `host`) and the body's SHA-256 (or `x-amz-content-sha256`
    /// if set). `path` and `query` are as they will be sent (encoded).
    ///
    /// Fails only when the session token is not a valid header value.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &mut HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), http::header::InvalidHeaderValue> {
        let (credentials, region, service) = (&self.credentials, &self.region, &self.service);
        let amz_date = format_amz_date(now);
        headers.remove(http::header::AUTHORIZATION);
        headers.insert(X_AMZ_DATE, HeaderValue::from_str(&amz_date)?);
        if let Some(token) = &credentials.session_token {
            headers.insert(X_AMZ_SECURITY_TOKEN, HeaderValue::from_str(token)?);
        }
        let mut signed: Vec<String> = headers.keys().map(HeaderName::to_string).collect();
        signed.sort();
        signed.dedup();
        let payload_hash = match headers.get(super::X_AMZ_CONTENT_SHA256) {
            Some(v) => String::from_utf8_lossy(v.as_bytes()).trim().to_string(),
            None => hex::encode(Sha256::digest(body)),
        };
        let credential = Credential {
            access_key_id: credentials.access_key_id.clone(),
            date: amz_date[..8].to_string(),
            region: region.to_string(),
            service: service.to_string(),
        };
        let req = RequestParts {
            method,
            path,
            query,
            headers,
        };
        let canonical_request = CanonicalRequest {
            req: &req,
            s3: service.as_str() == "s3",
            presigned: false,
            signed_headers: &signed,
            payload_hash: &payload_hash,
        }
        .render();
        let string_to_sign =
            canonical::string_to_sign(&amz_date, &credential.scope(), &canonical_request);
        let key = canonical::signing_key(
            &credentials.secret_access_key,
            &credential.date,
            region,
            service,
        );
        let signature = hex::encode(canonical::hmac(&key, string_to_sign.as_bytes()));
        let value = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
            credential.access_key_id,
            credential.scope(),
            signed.join(";"),
        );
        headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&value)?);
        Ok(())
    }
}

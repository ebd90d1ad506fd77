//! The chunk signatures of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body
//! (S3's signed `aws-chunked` uploads): each chunk's signature is the
//! HMAC, under the request's signing key, of
//! `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous signature>\n<SHA-256 of "">\n<SHA-256 of the chunk>`,
//! the first chunk's previous signature being the request's own (the
//! seed); the trailer (`…-TRAILER` payloads) is signed as
//! `AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<previous signature>\n<SHA-256 of the trailer lines>`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical;
use super::Authorization;

/// Checks a signed body's chunks in order.
#[derive(Debug, Clone)]
pub struct ChunkSigner {
    key: Vec<u8>,
    amz_date: String,
    scope: String,
    previous: String,
}

impl ChunkSigner {
    /// The signer of a request signed by `auth` (already verified) with
    /// `secret`.
    pub fn new(auth: &Authorization, secret: &str) -> Self {
        Self {
            key: canonical::signing_key(
                secret,
                &auth.credential.date,
                &auth.credential.region,
                &auth.credential.service,
            ),
            amz_date: auth.amz_date(),
            scope: auth.credential.scope(),
            previous: auth.signature.to_ascii_lowercase(),
        }
    }

    fn check(&mut self, string_to_sign: String, given: &str) -> bool {
        let expected = hex::encode(canonical::hmac(&self.key, string_to_sign.as_bytes()));
        let ok: bool = expected
            .as_bytes()
            .ct_eq(given.to_ascii_lowercase().as_bytes())
            .into();
        self.previous = expected;
        ok
    }

    /// Whether `given` is the signature of the next chunk, whose data's
    /// SHA-256 is `chunk_sha256`.
    pub fn chunk(&mut self, chunk_sha256: &[u8], given: &str) -> bool {
        let empty = hex::encode(Sha256::digest(b""));
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{empty}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex::encode(chunk_sha256)
        );
        self.check(sts, given)
    }

    /// Whether `given` is the signature of the trailer whose lines
    /// (`name:value\n` each) hash to `trailer_sha256`.
    pub fn trailer(&mut self, trailer_sha256: &[u8], given: &str) -> bool {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex::encode(trailer_sha256)
        );
        self.check(sts, given)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::{Credential, SignatureForm};

    /// AWS's published example of a signed chunked upload ("Signature
    /// Calculations for the Authorization Header: Transferring Payload in
    /// Multiple Chunks"): 64 KB of 'a', then 1 KB of 'a', then the empty
    /// chunk, with their documented signatures.
    #[test]
    fn aws_example_chunks_verify() {
        let auth = Authorization {
            form: SignatureForm::Header,
            credential: Credential {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                date: "20130524".into(),
                region: "us-east-1".into(),
                service: "s3".into(),
            },
            signed_headers: vec![],
            signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
            signed_at: chrono::DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            expires_secs: None,
            session_token: None,
        };
        let mut s = ChunkSigner::new(&auth, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert!(s.chunk(
            &Sha256::digest(vec![b'a'; 65536]),
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        ));
        assert!(s.chunk(
            &Sha256::digest(vec![b'a'; 1024]),
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        ));
        assert!(!s.clone().chunk(&Sha256::digest(b""), "00"));
        assert!(s.chunk(
            &Sha256::digest(b""),
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        ));
    }
}

//! Message signatures: SNS's canonical strings of a notification and of a
//! (un)subscribe confirmation, signed with SignatureVersion 1
//! (SHA1withRSA) or 2 (SHA256withRSA) by an RSA key Ignis makes once and
//! keeps in the data directory (`sns-signing-key.pem`, PKCS#8, mode 0600).
//!
//! The `SigningCertURL` serves a self-signed X.509 certificate of that key
//! (`sns-signing-cert.pem` beside it: subject `CN=sns.ignis.local`,
//! SHA256withRSA, ten years from when it was made), so a verifier that
//! reads the public key from the certificate checks signatures as it does
//! AWS's. The key and certificate are made on first use, on the blocking
//! pool, so a server that never signs never makes them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer as _};
use rsa::RsaPrivateKey;
use tokio::sync::OnceCell;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "sns-signing-key.pem";
/// The certificate file's name in the data directory.
pub const CERT_FILE: &str = "sns-signing-cert.pem";

/// The fields a signature covers, in SNS's canonical order.
#[derive(Debug, Clone, Default)]
pub struct Signed<'a> {
    /// `Message`.
    pub message: &'a str,
    /// `MessageId`.
    pub message_id: &'a str,
    /// `Subject` (notifications only, when present).
    pub subject: Option<&'a str>,
    /// `SubscribeURL` (confirmations only).
    pub subscribe_url: Option<&'a str>,
    /// `Timestamp`.
    pub timestamp: &'a str,
    /// `Token` (confirmations only).
    pub token: Option<&'a str>,
    /// `TopicArn`.
    pub topic_arn: &'a str,
    /// `Type`.
    pub kind: &'a str,
}

impl Signed<'_> {
    /// SNS's string to sign: each present field's name and value, each on
    /// its own line, in name order.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        let mut add = |k: &str, v: &str| {
            out.push_str(k);
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        };
        add("Message", self.message);
        add("MessageId", self.message_id);
        if let Some(s) = self.subject {
            add("Subject", s);
        }
        if let Some(u) = self.subscribe_url {
            add("SubscribeURL", u);
        }
        add("Timestamp", self.timestamp);
        if let Some(t) = self.token {
            add("Token", t);
        }
        add("TopicArn", self.topic_arn);
        add("Type", self.kind);
        out
    }
}

/// The signing key, made or read on first use.
#[derive(Clone)]
pub struct Signer {
    path: PathBuf,
    key: Arc<OnceCell<Arc<RsaPrivateKey>>>,
}

impl Signer {
    /// A signer keeping its key at `<data_dir>/sns-signing-key.pem`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(KEY_FILE),
            key: Arc::new(OnceCell::new()),
        }
    }

    async fn key(&self) -> Result<Arc<RsaPrivateKey>, String> {
        self.key
            .get_or_try_init(|| {
                let path = self.path.clone();
                async move {
                    tokio::task::spawn_blocking(move || load_or_make(&path))
                        .await
                        .map_err(|e| e.to_string())?
                        .map(Arc::new)
                }
            })
            .await
            .cloned()
    }

    /// The base64 signature of `fields` (`version` "2": SHA256withRSA;
    /// otherwise SHA1withRSA).
    pub async fn sign(&self, version: &str, fields: &Signed<'_>) -> Result<String, String> {
        let key = self.key().await?;
        let text = fields.canonical();
        let bytes = if version == "2" {
            SigningKey::<sha2::Sha256>::new((*key).clone())
                .sign(text.as_bytes())
                .to_vec()
        } else {
            SigningKey::<sha1::Sha1>::new((*key).clone())
                .sign(text.as_bytes())
                .to_vec()
        };
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub async fn public_pem(&self) -> Result<String, String> {
        let key = self.key().await?;
        key.to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| e.to_string())
    }

    /// The self-signed certificate of the key, PEM (`-----BEGIN
    /// CERTIFICATE-----`), made once and kept beside the key.
    pub async fn certificate_pem(&self) -> Result<String, String> {
        let key = self.key().await?;
        let path = self.path.with_file_name(CERT_FILE);
        tokio::task::spawn_blocking(move || {
            if let Ok(pem) = std::fs::read_to_string(&path) {
                return Ok(pem);
            }
            let pem = self_signed(&key)?;
            write_private(&path, &pem)?;
            Ok(pem)
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

fn load_or_make(path: &Path) -> Result<RsaPrivateKey, String> {
    if let Ok(pem) = std::fs::read_to_string(path) {
        return RsaPrivateKey::from_pkcs8_pem(&pem)
            .map_err(|e| format!("read {}: {e}", path.display()));
    }
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| format!("make an RSA key: {e}"))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("encode the key: {e}"))?;
    write_private(path, &pem)?;
    Ok(key)
}

/// A self-signed X.509 certificate of `key` (SHA256withRSA), PEM.
fn self_signed(key: &RsaPrivateKey) -> Result<String, String> {
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::EncodePem;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    let err = |what: &str, e: &dyn std::fmt::Display| format!("make the certificate ({what}): {e}");
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key())
        .map_err(|e| err("public key", &e))?;
    let subject = Name::from_str("CN=sns.ignis.local").map_err(|e| err("name", &e))?;
    let validity = Validity::from_now(std::time::Duration::from_secs(10 * 365 * 86_400))
        .map_err(|e| err("validity", &e))?;
    let serial = SerialNumber::from(
        u32::from_be_bytes(
            uuid::Uuid::new_v4().as_bytes()[..4]
                .try_into()
                .unwrap_or([0, 0, 0, 1]),
        ) | 1,
    );
    let signer = SigningKey::<sha2::Sha256>::new(key.clone());
    let builder = CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
        .map_err(|e| err("builder", &e))?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| err("signature", &e))?;
    cert.to_pem(LineEnding::LF).map_err(|e| err("PEM", &e))
}

/// Writes `text` to `path` (mode 0600) through a temporary file.
fn write_private(path: &Path, pem: &str) -> Result<(), String> {
    let tmp = path.with_extension("pem.tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("write {}: {e}", tmp.display()))?;
        f.write_all(pem.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("write {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| format!("write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    #[test]
    fn canonical_strings_follow_sns() {
        let n = Signed {
            message: "hi",
            message_id: "m",
            subject: Some("s"),
            timestamp: "t",
            topic_arn: "arn",
            kind: "Notification",
            ..Signed::default()
        };
        assert_eq!(
            n.canonical(),
            "Message\nhi\nMessageId\nm\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
        );
        let c = Signed {
            message: "x",
            message_id: "m",
            subscribe_url: Some("u"),
            timestamp: "t",
            token: Some("k"),
            topic_arn: "arn",
            kind: "SubscriptionConfirmation",
            subject: None,
        };
        assert_eq!(
            c.canonical(),
            "Message\nx\nMessageId\nm\nSubscribeURL\nu\nTimestamp\nt\nToken\nk\nTopicArn\narn\nType\nSubscriptionConfirmation\n"
        );
    }

    #[tokio::test]
    async fn signatures_verify_and_the_key_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::new(dir.path());
        let fields = Signed {
            message: "hello",
            message_id: "1",
            timestamp: "2026-01-01T00:00:00.000Z",
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t",
            kind: "Notification",
            ..Signed::default()
        };
        let b64 = signer.sign("1", &fields).await.unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let key = signer.key().await.unwrap().to_public_key();
        VerifyingKey::<sha1::Sha1>::new(key.clone())
            .verify(
                fields.canonical().as_bytes(),
                &Signature::try_from(sig.as_slice()).unwrap(),
            )
            .unwrap();
        let b64 = signer.sign("2", &fields).await.unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        VerifyingKey::<sha2::Sha256>::new(key)
            .verify(
                fields.canonical().as_bytes(),
                &Signature::try_from(sig.as_slice()).unwrap(),
            )
            .unwrap();
        let pem = signer.public_pem().await.unwrap();
        // A second signer on the directory reads the same key.
        assert_eq!(Signer::new(dir.path()).public_pem().await.unwrap(), pem);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let cert = signer.certificate_pem().await.unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        // Kept: the same certificate again, from another signer too.
        assert_eq!(
            Signer::new(dir.path()).certificate_pem().await.unwrap(),
            cert
        );
        // The certificate carries the key that verifies.
        use x509_cert::der::{DecodePem, Encode};
        let parsed = x509_cert::Certificate::from_pem(cert.as_bytes()).unwrap();
        let spki = parsed
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap();
        let from_cert = rsa::RsaPublicKey::try_from(
            rsa::pkcs8::SubjectPublicKeyInfoRef::try_from(spki.as_slice()).unwrap(),
        )
        .unwrap();
        assert_eq!(from_cert, signer.key().await.unwrap().to_public_key());
    }
}

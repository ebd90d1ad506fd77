//! Message signatures: SNS's canonical strings of a notification and of a
//! (un)subscribe confirmation, signed with SignatureVersion 1
//! (SHA1withRSA) or 2 (SHA256withRSA) by an RSA key Ignis makes once and
//! keeps in the data directory (`sns-signing-key.pem`, PKCS#8, mode 0600).
//!
//! The `SigningCertURL` serves the public half as a PEM `PUBLIC KEY`
//! (SubjectPublicKeyInfo), not an X.509 certificate: a verifier that reads
//! the key from it checks signatures as AWS's do (see docs/queues.md).
//! The key is made on first use, on the blocking pool (making a 2048-bit
//! key is slow in a debug build), so a server that never signs never
//! makes one.

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
    std::fs::rename(&tmp, path).map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(key)
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
    }
}

//! Authentication: a request's SigV4 signature, verified once, names its
//! caller — the root user (the account's root key), an IAM user (its access
//! key), or a role session (temporary credentials, checked against the
//! node's master key without any stored secret).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::StatusCode;
use ignis_iam::{Iam, Principal};
use ignis_identity::credentials::{is_temporary, CredentialsError, MasterKey};
use ignis_identity::sigv4::{
    Authorization, ChunkSigner, Payload, RequestParts, SigV4Error, SigV4ErrorKind,
    X_AMZ_CONTENT_SHA256,
};
use ignis_protocol::AwsError;
use ignis_store::SqliteStore;

use crate::cache::{GenCache, IamGeneration};
use crate::root_key::RootKey;

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The signature is missing, malformed, stale or wrong.
    #[error(transparent)]
    Signature(#[from] SigV4Error),
    /// No such access key (or an inactive one, or a token this node did not issue).
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// The session token has expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The keys could not be read.
    #[error("Ignis failed to read the access keys")]
    Internal,
}

impl AuthError {
    /// The error as AWS names it, in any service's shape.
    pub fn aws(&self) -> AwsError {
        let forbidden =
            |code: &str| AwsError::sender(StatusCode::FORBIDDEN, code, self.to_string());
        match self {
            Self::Signature(e) => match e.kind() {
                SigV4ErrorKind::MissingAuthenticationToken => {
                    forbidden("MissingAuthenticationToken")
                }
                SigV4ErrorKind::IncompleteSignature => forbidden("IncompleteSignature"),
                SigV4ErrorKind::SignatureDoesNotMatch => forbidden("SignatureDoesNotMatch"),
                SigV4ErrorKind::RequestTimeTooSkewed => forbidden("RequestTimeTooSkewed"),
                SigV4ErrorKind::RequestExpired => forbidden("AccessDenied"),
                SigV4ErrorKind::ContentSha256Mismatch => AwsError::sender(
                    StatusCode::BAD_REQUEST,
                    "XAmzContentSHA256Mismatch",
                    self.to_string(),
                ),
            },
            Self::UnknownKey => forbidden("InvalidClientTokenId"),
            Self::ExpiredToken => forbidden("ExpiredToken"),
            Self::Internal => AwsError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "ServiceFailure".into(),
                message: self.to_string(),
                sender_fault: false,
            },
        }
    }
}

/// Verifies signatures against the account's keys.
pub struct Authenticator {
    root: RootKey,
    master: Arc<MasterKey>,
    iam: Arc<Iam<SqliteStore>>,
    /// Bumped by every IAM change (see [`crate::cache`]).
    generation: IamGeneration,
    /// IAM users' keys: who holds each and its secret (`None`: no such
    /// active key).
    keys: GenCache<Option<(Principal, String)>>,
    /// Sessions' roles by ARN (`None`: no such role).
    roles: GenCache<Option<(String, String)>>,
}

impl Authenticator {
    /// Checks keys: the root key, IAM users' keys in `iam`, temporary
    /// credentials issued with `master`.
    pub fn new(root: RootKey, master: Arc<MasterKey>, iam: Arc<Iam<SqliteStore>>) -> Self {
        Self {
            root,
            master,
            iam,
            generation: IamGeneration::default(),
            keys: GenCache::default(),
            roles: GenCache::default(),
        }
    }

    /// The IAM generation the front's caches are read at.
    pub fn generation(&self) -> &IamGeneration {
        &self.generation
    }

    /// The caller of a request whose whole body is `body`.
    pub async fn authenticate(
        &self,
        parts: &RequestParts<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let auth = Authorization::parse(parts)?;
        let (principal, secret) = self.holder(&auth, now).await?;
        auth.verify(parts, &secret, Payload::Bytes(body), now)?;
        Ok(principal)
    }

    /// The caller of a request whose body is not read here (S3 streams
    /// it): the signature covers `x-amz-content-sha256` as sent; a hex hash
    /// there is the body reader's to check as the body streams, and so are
    /// the chunk signatures of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body
    /// (with the signer returned).
    pub async fn authenticate_unread(
        &self,
        parts: &RequestParts<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Principal, Option<ChunkSigner>), AuthError> {
        let auth = Authorization::parse(parts)?;
        let (principal, secret) = self.holder(&auth, now).await?;
        auth.verify(parts, &secret, Payload::Unread, now)?;
        let signed_chunks = parts.headers.get(X_AMZ_CONTENT_SHA256).is_some_and(|v| {
            v.as_bytes()
                .starts_with(b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        });
        Ok((
            principal,
            signed_chunks.then(|| ChunkSigner::new(&auth, &secret)),
        ))
    }

    /// `open` mode's caller: whoever holds the key the request names (a
    /// known user's key, a valid session), unverified, else the root user.
    /// Nothing is authorized in `open` mode; this only lets
    /// GetCallerIdentity and IAM answer for the caller the client thinks
    /// it is.
    pub async fn identify(&self, parts: &RequestParts<'_>, now: DateTime<Utc>) -> Principal {
        match Authorization::parse(parts) {
            Ok(auth) => self
                .holder(&auth, now)
                .await
                .map_or(Principal::Root, |(p, _)| p),
            Err(_) => Principal::Root,
        }
    }

    /// Who holds the access key the request was signed with, and its secret.
    async fn holder(
        &self,
        auth: &Authorization,
        now: DateTime<Utc>,
    ) -> Result<(Principal, String), AuthError> {
        let key = auth.credential.access_key_id.as_str();
        if is_temporary(key) {
            let token = auth.session_token.as_deref().ok_or(AuthError::UnknownKey)?;
            let (claims, secret) =
                self.master
                    .authenticate(key, token, now)
                    .map_err(|e| match e {
                        CredentialsError::ExpiredToken => AuthError::ExpiredToken,
                        _ => AuthError::UnknownKey,
                    })?;
            // A session of a role deleted since is no longer valid.
            let (role_name, role_id) = self
                .role(&claims.role_arn)
                .await?
                .ok_or(AuthError::UnknownKey)?;
            let principal = Principal::AssumedRole {
                role_name,
                role_id,
                session_name: claims.session_name,
            };
            return Ok((principal, secret));
        }
        if key == self.root.access_key_id {
            return Ok((Principal::Root, self.root.secret_access_key.clone()));
        }
        self.user_key(key).await?.ok_or(AuthError::UnknownKey)
    }

    /// Who holds the access key `key_id` whose secret is `secret` (a
    /// webhook that cannot sign sends the pair itself, e.g. as
    /// `Authorization: Bearer KEY:SECRET`); temporary keys are not taken.
    pub async fn by_secret(&self, key_id: &str, secret: &str) -> Result<Principal, AuthError> {
        let (principal, expected) = if key_id == self.root.access_key_id {
            (Principal::Root, self.root.secret_access_key.clone())
        } else {
            self.user_key(key_id).await?.ok_or(AuthError::UnknownKey)?
        };
        if bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            secret.as_bytes(),
        )) {
            Ok(principal)
        } else {
            Err(AuthError::UnknownKey)
        }
    }

    /// Who holds the IAM user key `id` and its secret, if it is active:
    /// from the cache while IAM is unchanged, else from the store.
    async fn user_key(&self, id: &str) -> Result<Option<(Principal, String)>, AuthError> {
        let generation = self.generation.now();
        if let Some(hit) = self.keys.get(id, generation) {
            return Ok(hit);
        }
        let found = match self
            .iam
            .access_key(id)
            .await
            .map_err(|_| AuthError::Internal)?
        {
            // Keys made by this node keep no secret in the store: it is
            // derived from the master key.
            Some((principal, k)) if k.status == "Active" && k.secret.is_empty() => {
                Some((principal, self.master.secret_for(&k.id)))
            }
            Some((principal, k)) if k.status == "Active" => Some((principal, k.secret)),
            _ => None,
        };
        self.keys.put(id.to_owned(), generation, found.clone());
        Ok(found)
    }

    /// The name and id of the role `arn` names, cached like keys.
    async fn role(&self, arn: &str) -> Result<Option<(String, String)>, AuthError> {
        let generation = self.generation.now();
        if let Some(hit) = self.roles.get(arn, generation) {
            return Ok(hit);
        }
        let found = self
            .iam
            .role_by_arn(arn)
            .await
            .map_err(|_| AuthError::Internal)?
            .map(|role| (role.name, role.id));
        self.roles.put(arn.to_owned(), generation, found.clone());
        Ok(found)
    }
}

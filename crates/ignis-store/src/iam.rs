//! [`IamStore`]: IAM's durable state — users and their access keys, roles
//! with their trust policies, inline policies, customer managed policies
//! with their versions, and which managed policies are attached where.
//!
//! The store keeps records and the invariants one transaction must hold
//! (names unique without regard to case, nothing deleted while something
//! depends on it, quotas counted against what is stored); IAM's validation
//! and messages belong to `ignis-iam`. Every method is atomic: a refused
//! call changes nothing.

use std::collections::BTreeMap;
use std::fmt;

use crate::store::StoreError;

/// A tag: key and value.
pub type Tag = (String, String);

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    /// The name, as created.
    pub name: String,
    /// The unique id (`AIDA…`).
    pub id: String,
    /// The path (`/` or `/a/b/`).
    pub path: String,
    /// Creation time, seconds since the Unix epoch.
    pub create_date: i64,
    /// Tags, in the order given.
    pub tags: Vec<Tag>,
}

/// A user's access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id (`AKIA…`).
    pub id: String,
    /// The user it belongs to.
    pub user_name: String,
    /// The secret access key (needed to verify signatures).
    pub secret: String,
    /// `Active` or `Inactive`.
    pub status: String,
    /// Creation time, seconds since the Unix epoch.
    pub create_date: i64,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamRole {
    /// The name, as created.
    pub name: String,
    /// The unique id (`AROA…`).
    pub id: String,
    /// The path (`/` or `/a/b/`).
    pub path: String,
    /// The trust policy (`AssumeRolePolicyDocument`), as given.
    pub trust_policy: String,
    /// The description, if any.
    pub description: Option<String>,
    /// The longest session `AssumeRole` may grant, seconds.
    pub max_session_duration: u32,
    /// Creation time, seconds since the Unix epoch.
    pub create_date: i64,
    /// Tags, in the order given.
    pub tags: Vec<Tag>,
}

/// Who holds inline policies and attachments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// A user, by name.
    User(String),
    /// A role, by name.
    Role(String),
}

impl Owner {
    fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Role(_) => "role",
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::User(n) | Self::Role(n) => n,
        }
    }

    /// The entity this owner is.
    pub fn entity(&self) -> Entity {
        match self {
            Self::User(n) => Entity::User(n.clone()),
            Self::Role(n) => Entity::Role(n.clone()),
        }
    }
}

/// A customer managed policy (the default version's document is read with
/// [`IamStore::get_policy_version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// The ARN (`arn:aws:iam::000000000000:policy/<path><name>`).
    pub arn: String,
    /// The name, as created.
    pub name: String,
    /// The unique id (`ANPA…`).
    pub id: String,
    /// The path.
    pub path: String,
    /// The description, if any.
    pub description: Option<String>,
    /// The default version's number (`v1` is 1).
    pub default_version: u32,
    /// Creation time, seconds since the Unix epoch.
    pub create_date: i64,
    /// Last change, seconds since the Unix epoch.
    pub update_date: i64,
    /// Tags, in the order given.
    pub tags: Vec<Tag>,
}

/// One version of a customer managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// The policy's ARN.
    pub arn: String,
    /// The version's number (`v1` is 1).
    pub version: u32,
    /// The document, as given.
    pub document: String,
    /// Creation time, seconds since the Unix epoch.
    pub create_date: i64,
}

/// What an [`IamStoreError`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// A user, by name.
    User(String),
    /// A role, by name.
    Role(String),
    /// A managed policy, by ARN (or by name when a name is taken).
    Policy(String),
    /// An access key, by id.
    AccessKey(String),
    /// An inline policy of a user or role.
    InlinePolicy(Owner, String),
    /// A managed policy attached to a user or role.
    Attachment(Owner, String),
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(n) => write!(f, "user {n}"),
            Self::Role(n) => write!(f, "role {n}"),
            Self::Policy(p) => write!(f, "policy {p}"),
            Self::AccessKey(k) => write!(f, "access key {k}"),
            Self::InlinePolicy(o, n) => write!(f, "policy {n} of {} {}", o.kind(), o.name()),
            Self::Attachment(o, p) => write!(f, "policy {p} attached to {} {}", o.kind(), o.name()),
        }
    }
}

/// What a user or role still has that keeps it from being deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependents {
    /// Access keys (users).
    AccessKeys,
    /// Inline policies.
    InlinePolicies,
    /// Attached managed policies.
    AttachedPolicies,
    /// Users or roles it is attached to (managed policies).
    Attachments,
}

/// Why an [`IamStore`] call refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum IamStoreError {
    /// The entity does not exist.
    #[error("{0} not found")]
    NotFound(Entity),
    /// An entity of this name exists already (names are case-insensitive).
    #[error("{0} already exists")]
    AlreadyExists(Entity),
    /// The entity still has dependents.
    #[error("{0} cannot be deleted: it still has {1:?}")]
    DeleteConflict(Entity, Dependents),
    /// A quota would be exceeded.
    #[error("quota {quota} of {limit} exceeded")]
    LimitExceeded {
        /// IAM's name of the quota (`AccessKeysPerUser`).
        quota: &'static str,
        /// The quota.
        limit: u64,
    },
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// IAM's durable state. Every method is one transaction.
#[async_trait::async_trait]
pub trait IamStore: Send + Sync + 'static {
    /// Stores a new user; `AlreadyExists` if the name is taken.
    async fn create_user(&self, user: &IamUser) -> Result<(), IamStoreError>;
    /// The user of this name (any case).
    async fn get_user(&self, name: &str) -> Result<Option<IamUser>, IamStoreError>;
    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<IamUser>, IamStoreError>;
    /// Deletes a user: `NotFound`, or `DeleteConflict` while it has access
    /// keys, inline policies or attached policies.
    async fn delete_user(&self, name: &str) -> Result<(), IamStoreError>;

    /// Stores a new access key of `key.user_name`: `NotFound` without the
    /// user, `LimitExceeded` when it has `max_per_user` keys already.
    async fn create_access_key(
        &self,
        key: &AccessKey,
        max_per_user: u64,
    ) -> Result<(), IamStoreError>;
    /// The access keys of a user, oldest first; `NotFound` without the user.
    async fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKey>, IamStoreError>;
    /// The access key of this id, whoever holds it (signature verification).
    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKey>, IamStoreError>;
    /// Deletes access key `id` of `user`: `NotFound` for either.
    async fn delete_access_key(&self, user: &str, id: &str) -> Result<(), IamStoreError>;

    /// Stores a new role; `AlreadyExists` if the name is taken.
    async fn create_role(&self, role: &IamRole) -> Result<(), IamStoreError>;
    /// The role of this name (any case).
    async fn get_role(&self, name: &str) -> Result<Option<IamRole>, IamStoreError>;
    /// Every role, by name.
    async fn list_roles(&self) -> Result<Vec<IamRole>, IamStoreError>;
    /// Deletes a role: `NotFound`, or `DeleteConflict` while it has inline
    /// or attached policies.
    async fn delete_role(&self, name: &str) -> Result<(), IamStoreError>;
    /// Replaces a role's trust policy; `NotFound` without the role.
    async fn update_trust_policy(&self, role: &str, document: &str) -> Result<(), IamStoreError>;

    /// Creates or replaces inline policy `name` of `owner`. `size` counts
    /// against the owner's aggregate `max_total` (with the policy's
    /// previous size no longer counted): `LimitExceeded` beyond it.
    /// `NotFound` without the owner.
    async fn put_inline_policy(
        &self,
        owner: &Owner,
        name: &str,
        document: &str,
        size: u64,
        max_total: u64,
    ) -> Result<(), IamStoreError>;
    /// Inline policy `name` of `owner` as `(name as stored, document)`;
    /// `NotFound` for either.
    async fn get_inline_policy(
        &self,
        owner: &Owner,
        name: &str,
    ) -> Result<(String, String), IamStoreError>;
    /// The names of `owner`'s inline policies, sorted; `NotFound` without it.
    async fn list_inline_policies(&self, owner: &Owner) -> Result<Vec<String>, IamStoreError>;
    /// Deletes inline policy `name` of `owner`; `NotFound` for either.
    async fn delete_inline_policy(&self, owner: &Owner, name: &str) -> Result<(), IamStoreError>;

    /// Stores a new customer managed policy with its first version
    /// (`policy.default_version`); `AlreadyExists` if its name is taken.
    async fn create_policy(
        &self,
        policy: &ManagedPolicy,
        document: &str,
    ) -> Result<(), IamStoreError>;
    /// The customer managed policy of this ARN.
    async fn get_policy(&self, arn: &str) -> Result<Option<ManagedPolicy>, IamStoreError>;
    /// Version `version` of customer managed policy `arn`.
    async fn get_policy_version(
        &self,
        arn: &str,
        version: u32,
    ) -> Result<Option<PolicyVersion>, IamStoreError>;
    /// Every customer managed policy, by name.
    async fn list_policies(&self) -> Result<Vec<ManagedPolicy>, IamStoreError>;
    /// Deletes a customer managed policy with its versions: `NotFound`, or
    /// `DeleteConflict` while it is attached.
    async fn delete_policy(&self, arn: &str) -> Result<(), IamStoreError>;

    /// Attaches managed policy `arn` to `owner` (again: nothing changes).
    /// A customer policy (`customer`) must exist in the store; an AWS
    /// managed one is the caller's to check. `NotFound` without the owner
    /// or customer policy, `LimitExceeded` beyond `max_attached`.
    async fn attach_policy(
        &self,
        owner: &Owner,
        arn: &str,
        customer: bool,
        max_attached: u64,
    ) -> Result<(), IamStoreError>;
    /// Detaches managed policy `arn` from `owner`; `NotFound` without the
    /// owner or the attachment.
    async fn detach_policy(&self, owner: &Owner, arn: &str) -> Result<(), IamStoreError>;
    /// The ARNs of the managed policies attached to `owner`, sorted;
    /// `NotFound` without it.
    async fn attached_policies(&self, owner: &Owner) -> Result<Vec<String>, IamStoreError>;
    /// How many users and roles each attached managed policy is attached to.
    async fn attachment_counts(&self) -> Result<BTreeMap<String, u64>, IamStoreError>;
}

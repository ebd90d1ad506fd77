//! [`Iam`]: IAM's operations executed against the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use ignis_protocol::{AwsError, Members, QueryRequest, QueryResponse, XmlValue};
use ignis_store::iam::{AccessKey, IamRole, IamUser, ManagedPolicy, Owner};
use ignis_store::{IamStore, IamStoreError};

use crate::document::{size, PolicyKind};
use crate::error::{
    self, access_denied, from_store, limit_exceeded, malformed_policy, no_such_entity,
};
use crate::op::{IamOp, Scope};
use crate::params::Page;
use crate::principal::{policy_arn, role_arn};
use crate::{ids, managed, render, Identity, Principal};

/// IAM's XML namespace (the model's `xmlNamespace`).
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// Access keys a user may have (IAM's default quota).
pub const MAX_ACCESS_KEYS_PER_USER: u64 = 2;
/// Managed policies attached to one user or role (IAM's default quota).
pub const MAX_ATTACHED_POLICIES: u64 = 10;
/// Aggregate size of a user's inline policies (characters, no white space).
pub const MAX_USER_INLINE_SIZE: u64 = 2_048;
/// Aggregate size of a role's inline policies.
pub const MAX_ROLE_INLINE_SIZE: u64 = 10_240;
/// Size of a managed policy.
pub const MAX_MANAGED_POLICY_SIZE: u64 = 6_144;
/// Size of a role's trust policy.
pub const MAX_TRUST_POLICY_SIZE: u64 = 2_048;

/// The IAM service: parse, execute, answer.
pub struct Iam<S> {
    store: Arc<S>,
    identity: Arc<dyn Identity>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn store_err(err: IamStoreError) -> AwsError {
    if let IamStoreError::Store(source) = &err {
        tracing::error!(error = %source, cause = ?std::error::Error::source(source), "IAM store call failed");
    }
    from_store(err)
}

/// The path part of a policy ARN (`/service-role/`).
fn path_of_policy_arn(arn: &str) -> &str {
    let tail = arn.split_once(":policy").map_or("/", |(_, t)| t);
    tail.rfind('/').map_or("/", |i| &tail[..=i])
}

fn name_of_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn by_lowercase<T>(mut items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    items.sort_by_cached_key(|i| key(i).to_lowercase());
    items
}

fn ok(op: &IamOp, result: Members) -> QueryResponse {
    QueryResponse::new(op.name(), IAM_NAMESPACE, result)
}

fn done(op: &IamOp) -> QueryResponse {
    QueryResponse::empty(op.name(), IAM_NAMESPACE)
}

impl<S: IamStore> Iam<S> {
    /// IAM on `store`, with `identity` for policy validation and keys.
    pub fn new(store: Arc<S>, identity: Arc<dyn Identity>) -> Self {
        Self { store, identity }
    }

    /// Parses a request for `caller` (the front authorizes the result's
    /// [`IamOp::action`] on [`IamOp::resource`] before [`Iam::execute`]).
    pub fn parse(caller: &Principal, req: &QueryRequest) -> Result<IamOp, AwsError> {
        IamOp::parse(req, caller)
    }

    /// Parses and executes, for a caller already authorized (or when
    /// authorization is off).
    pub async fn handle(
        &self,
        caller: &Principal,
        req: QueryRequest,
    ) -> Result<QueryResponse, AwsError> {
        let op = Self::parse(caller, &req)?;
        self.execute(caller, op).await
    }

    fn check_document(&self, doc: &str, kind: PolicyKind) -> Result<(), AwsError> {
        self.identity
            .validate_policy(doc, kind)
            .map_err(malformed_policy)
    }

    fn check_trust(&self, doc: &str) -> Result<(), AwsError> {
        self.check_document(doc, PolicyKind::Trust)?;
        if size(doc) > MAX_TRUST_POLICY_SIZE {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY_SIZE}"
            )));
        }
        Ok(())
    }

    /// Executes a parsed operation.
    pub async fn execute(&self, caller: &Principal, op: IamOp) -> Result<QueryResponse, AwsError> {
        let s = &*self.store;
        match &op {
            IamOp::CreateUser {
                user_name,
                path,
                tags,
            } => {
                let user = IamUser {
                    name: user_name.clone(),
                    id: ids::unique_id("AIDA")?,
                    path: path.clone(),
                    create_date: now(),
                    tags: tags.clone(),
                };
                s.create_user(&user).await.map_err(store_err)?;
                Ok(ok(
                    &op,
                    Members::new().nested("User", render::user(&user, true)),
                ))
            }
            IamOp::GetUser { user_name: None } => {
                let root = Members::new()
                    .text("UserId", caller.user_id())
                    .text("Arn", caller.arn())
                    .text("CreateDate", render::date(0));
                Ok(ok(&op, Members::new().nested("User", root)))
            }
            IamOp::GetUser {
                user_name: Some(name),
            } => {
                let user = self.user(name).await?;
                Ok(ok(
                    &op,
                    Members::new().nested("User", render::user(&user, true)),
                ))
            }
            IamOp::DeleteUser { user_name } => {
                s.delete_user(user_name).await.map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::ListUsers { path_prefix, page } => {
                let users = s.list_users().await.map_err(store_err)?;
                let users = users
                    .into_iter()
                    .filter(|u| u.path.starts_with(path_prefix.as_str()))
                    .collect();
                let (users, next) =
                    page.take(by_lowercase(users, |u| &u.name), |u| u.name.to_lowercase());
                let list = users
                    .iter()
                    .map(|u| XmlValue::Struct(render::user(u, false)))
                    .collect();
                Ok(ok(
                    &op,
                    render::truncation(Members::new().list("Users", list), next),
                ))
            }
            IamOp::CreateAccessKey { user_name } => {
                let (id, secret) = self.identity.new_access_key()?;
                let user = self.user(user_name).await?;
                let key = AccessKey {
                    id,
                    user_name: user.name,
                    secret,
                    status: "Active".to_string(),
                    create_date: now(),
                };
                // A derived secret is answered once, here, and never stored.
                let stored = AccessKey {
                    secret: if self.identity.stores_secrets() {
                        key.secret.clone()
                    } else {
                        String::new()
                    },
                    ..key.clone()
                };
                s.create_access_key(&stored, MAX_ACCESS_KEYS_PER_USER)
                    .await
                    .map_err(store_err)?;
                Ok(ok(
                    &op,
                    Members::new().nested("AccessKey", render::access_key(&key)),
                ))
            }
            IamOp::ListAccessKeys { user_name, page } => {
                let keys = s.list_access_keys(user_name).await.map_err(store_err)?;
                let (keys, next) = page.take(keys, |k| k.id.clone());
                let list = keys
                    .iter()
                    .map(|k| XmlValue::Struct(render::access_key_metadata(k)))
                    .collect();
                Ok(ok(
                    &op,
                    render::truncation(Members::new().list("AccessKeyMetadata", list), next),
                ))
            }
            IamOp::DeleteAccessKey {
                user_name,
                access_key_id,
            } => {
                s.delete_access_key(user_name, access_key_id)
                    .await
                    .map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::CreateRole {
                role_name,
                path,
                assume_role_policy_document,
                description,
                max_session_duration,
                tags,
            } => {
                self.check_trust(assume_role_policy_document)?;
                let role = IamRole {
                    name: role_name.clone(),
                    id: ids::unique_id("AROA")?,
                    path: path.clone(),
                    trust_policy: assume_role_policy_document.clone(),
                    description: description.clone(),
                    max_session_duration: *max_session_duration,
                    create_date: now(),
                    tags: tags.clone(),
                };
                s.create_role(&role).await.map_err(store_err)?;
                Ok(ok(
                    &op,
                    Members::new().nested("Role", render::role(&role, true)),
                ))
            }
            IamOp::GetRole { role_name } => {
                let role = self.role(role_name).await?;
                Ok(ok(
                    &op,
                    Members::new().nested("Role", render::role(&role, true)),
                ))
            }
            IamOp::DeleteRole { role_name } => {
                s.delete_role(role_name).await.map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::ListRoles { path_prefix, page } => {
                let roles = s.list_roles().await.map_err(store_err)?;
                let roles = roles
                    .into_iter()
                    .filter(|r| r.path.starts_with(path_prefix.as_str()))
                    .collect();
                let (roles, next) =
                    page.take(by_lowercase(roles, |r| &r.name), |r| r.name.to_lowercase());
                let list = roles
                    .iter()
                    .map(|r| XmlValue::Struct(render::role(r, false)))
                    .collect();
                Ok(ok(
                    &op,
                    render::truncation(Members::new().list("Roles", list), next),
                ))
            }
            IamOp::UpdateAssumeRolePolicy {
                role_name,
                policy_document,
            } => {
                self.check_trust(policy_document)?;
                s.update_trust_policy(role_name, policy_document)
                    .await
                    .map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::PutRolePolicy {
                role_name,
                policy_name,
                policy_document,
            } => {
                let owner = Owner::Role(role_name.clone());
                self.put_inline(&owner, policy_name, policy_document, MAX_ROLE_INLINE_SIZE)
                    .await?;
                Ok(done(&op))
            }
            IamOp::PutUserPolicy {
                user_name,
                policy_name,
                policy_document,
            } => {
                let owner = Owner::User(user_name.clone());
                self.put_inline(&owner, policy_name, policy_document, MAX_USER_INLINE_SIZE)
                    .await?;
                Ok(done(&op))
            }
            IamOp::GetRolePolicy {
                role_name,
                policy_name,
            } => {
                let role = self.role(role_name).await?;
                let (name, doc) = s
                    .get_inline_policy(&Owner::Role(role.name.clone()), policy_name)
                    .await
                    .map_err(store_err)?;
                Ok(ok(
                    &op,
                    Members::new()
                        .text("RoleName", role.name)
                        .text("PolicyName", name)
                        .text("PolicyDocument", crate::document::encode(&doc)),
                ))
            }
            IamOp::GetUserPolicy {
                user_name,
                policy_name,
            } => {
                let user = self.user(user_name).await?;
                let (name, doc) = s
                    .get_inline_policy(&Owner::User(user.name.clone()), policy_name)
                    .await
                    .map_err(store_err)?;
                Ok(ok(
                    &op,
                    Members::new()
                        .text("UserName", user.name)
                        .text("PolicyName", name)
                        .text("PolicyDocument", crate::document::encode(&doc)),
                ))
            }
            IamOp::DeleteRolePolicy {
                role_name,
                policy_name,
            } => {
                s.delete_inline_policy(&Owner::Role(role_name.clone()), policy_name)
                    .await
                    .map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::DeleteUserPolicy {
                user_name,
                policy_name,
            } => {
                s.delete_inline_policy(&Owner::User(user_name.clone()), policy_name)
                    .await
                    .map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::ListRolePolicies { role_name, page } => {
                let names = s
                    .list_inline_policies(&Owner::Role(role_name.clone()))
                    .await
                    .map_err(store_err)?;
                let (names, next) = page.take(by_lowercase(names, |n| n), |n| n.to_lowercase());
                Ok(ok(
                    &op,
                    render::truncation(
                        Members::new().with("PolicyNames", XmlValue::texts(names)),
                        next,
                    ),
                ))
            }
            IamOp::CreatePolicy {
                policy_name,
                path,
                policy_document,
                description,
                tags,
            } => {
                self.check_document(policy_document, PolicyKind::Identity)?;
                if size(policy_document) > MAX_MANAGED_POLICY_SIZE {
                    return Err(limit_exceeded(format!(
                        "Cannot exceed quota for PolicySize: {MAX_MANAGED_POLICY_SIZE}"
                    )));
                }
                let created = now();
                let policy = ManagedPolicy {
                    arn: policy_arn(path, policy_name),
                    name: policy_name.clone(),
                    id: ids::unique_id("ANPA")?,
                    path: path.clone(),
                    description: description.clone(),
                    default_version: 1,
                    create_date: created,
                    update_date: created,
                    tags: tags.clone(),
                };
                s.create_policy(&policy, policy_document)
                    .await
                    .map_err(store_err)?;
                Ok(ok(
                    &op,
                    Members::new().nested("Policy", render::policy(&policy, 0, false)),
                ))
            }
            IamOp::GetPolicy { policy_arn } => {
                let counts = s.attachment_counts().await.map_err(store_err)?;
                let count = counts.get(policy_arn).copied().unwrap_or(0);
                let policy = match managed::by_arn(policy_arn) {
                    Some(p) => render::aws_policy(p, count),
                    None => render::policy(&self.customer_policy(policy_arn).await?, count, true),
                };
                Ok(ok(&op, Members::new().nested("Policy", policy)))
            }
            IamOp::GetPolicyVersion {
                policy_arn,
                version_id,
            } => {
                let absent = || {
                    no_such_entity(format!("Policy {policy_arn} version {version_id} does not exist or is not attachable."))
                };
                let version = match managed::by_arn(policy_arn) {
                    Some(p) if &p.default_version_id == version_id => {
                        render::policy_version(&p.document, version_id, true, &p.create_date)
                    }
                    Some(_) => return Err(absent()),
                    None => {
                        let policy = self.customer_policy(policy_arn).await?;
                        let number = version_id[1..].parse::<u32>().map_err(|_| absent())?;
                        let v = s
                            .get_policy_version(policy_arn, number)
                            .await
                            .map_err(store_err)?
                            .ok_or_else(absent)?;
                        render::policy_version(
                            &v.document,
                            version_id,
                            policy.default_version == number,
                            &render::date(v.create_date),
                        )
                    }
                };
                Ok(ok(&op, Members::new().nested("PolicyVersion", version)))
            }
            IamOp::DeletePolicy { policy_arn } => {
                if managed::is_aws_arn(policy_arn) {
                    return Err(access_denied(format!(
                        "User: {} is not authorized to perform: iam:DeletePolicy on resource: policy {policy_arn}",
                        caller.arn()
                    )));
                }
                s.delete_policy(policy_arn).await.map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::ListPolicies {
                scope,
                only_attached,
                path_prefix,
                page,
            } => {
                let list = self
                    .list_policies(*scope, *only_attached, path_prefix, page)
                    .await?;
                Ok(ok(&op, list))
            }
            IamOp::AttachRolePolicy {
                role_name,
                policy_arn,
            } => {
                self.attach(Owner::Role(role_name.clone()), policy_arn)
                    .await?;
                Ok(done(&op))
            }
            IamOp::AttachUserPolicy {
                user_name,
                policy_arn,
            } => {
                self.attach(Owner::User(user_name.clone()), policy_arn)
                    .await?;
                Ok(done(&op))
            }
            IamOp::DetachRolePolicy {
                role_name,
                policy_arn,
            } => {
                s.detach_policy(&Owner::Role(role_name.clone()), policy_arn)
                    .await
                    .map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::DetachUserPolicy {
                user_name,
                policy_arn,
            } => {
                s.detach_policy(&Owner::User(user_name.clone()), policy_arn)
                    .await
                    .map_err(store_err)?;
                Ok(done(&op))
            }
            IamOp::ListAttachedRolePolicies {
                role_name,
                path_prefix,
                page,
            } => {
                let owner = Owner::Role(role_name.clone());
                Ok(ok(
                    &op,
                    self.list_attached(&owner, path_prefix, page).await?,
                ))
            }
            IamOp::ListAttachedUserPolicies {
                user_name,
                path_prefix,
                page,
            } => {
                let owner = Owner::User(user_name.clone());
                Ok(ok(
                    &op,
                    self.list_attached(&owner, path_prefix, page).await?,
                ))
            }
        }
    }

    async fn user(&self, name: &str) -> Result<IamUser, AwsError> {
        self.store
            .get_user(name)
            .await
            .map_err(store_err)?
            .ok_or_else(|| error::missing(&ignis_store::iam::Entity::User(name.to_string())))
    }

    async fn role(&self, name: &str) -> Result<IamRole, AwsError> {
        self.store
            .get_role(name)
            .await
            .map_err(store_err)?
            .ok_or_else(|| error::missing(&ignis_store::iam::Entity::Role(name.to_string())))
    }

    async fn customer_policy(&self, arn: &str) -> Result<ManagedPolicy, AwsError> {
        self.store
            .get_policy(arn)
            .await
            .map_err(store_err)?
            .ok_or_else(|| no_such_entity(format!("Policy {arn} was not found.")))
    }

    async fn put_inline(
        &self,
        owner: &Owner,
        name: &str,
        doc: &str,
        max: u64,
    ) -> Result<(), AwsError> {
        self.check_document(doc, PolicyKind::Identity)?;
        match self
            .store
            .put_inline_policy(owner, name, doc, size(doc), max)
            .await
        {
            Err(IamStoreError::LimitExceeded { limit, .. }) => {
                let (kind, owner) = match owner {
                    Owner::User(n) => ("user", n),
                    Owner::Role(n) => ("role", n),
                };
                Err(limit_exceeded(format!(
                    "Maximum policy size of {limit} bytes exceeded for {kind} {owner}"
                )))
            }
            other => other.map_err(store_err),
        }
    }

    async fn attach(&self, owner: Owner, arn: &str) -> Result<(), AwsError> {
        let customer = arn.starts_with(&policy_arn("/", ""));
        if !customer && managed::by_arn(arn).is_none() {
            return Err(error::missing(&ignis_store::iam::Entity::Policy(
                arn.to_string(),
            )));
        }
        self.store
            .attach_policy(&owner, arn, customer, MAX_ATTACHED_POLICIES)
            .await
            .map_err(store_err)
    }

    async fn list_attached(
        &self,
        owner: &Owner,
        prefix: &str,
        page: &Page,
    ) -> Result<Members, AwsError> {
        let arns = self
            .store
            .attached_policies(owner)
            .await
            .map_err(store_err)?;
        let arns = arns
            .into_iter()
            .filter(|a| path_of_policy_arn(a).starts_with(prefix))
            .collect();
        let (arns, next) = page.take(by_lowercase(arns, |a| name_of_arn(a)), |a| {
            name_of_arn(a).to_lowercase()
        });
        let list = arns
            .iter()
            .map(|a| {
                XmlValue::Struct(
                    Members::new()
                        .text("PolicyName", name_of_arn(a))
                        .text("PolicyArn", a),
                )
            })
            .collect();
        Ok(render::truncation(
            Members::new().list("AttachedPolicies", list),
            next,
        ))
    }

    async fn list_policies(
        &self,
        scope: Scope,
        only_attached: bool,
        prefix: &str,
        page: &Page,
    ) -> Result<Members, AwsError> {
        let counts: BTreeMap<String, u64> =
            self.store.attachment_counts().await.map_err(store_err)?;
        let count = |arn: &str| counts.get(arn).copied().unwrap_or(0);
        let mut all: Vec<(String, Members)> = Vec::new();
        if scope != Scope::Local {
            for p in managed::all() {
                all.push((p.policy_name.clone(), render::aws_policy(p, count(&p.arn))));
            }
        }
        if scope != Scope::Aws {
            for p in self.store.list_policies().await.map_err(store_err)? {
                all.push((p.name.clone(), render::policy(&p, count(&p.arn), false)));
            }
        }
        let all: Vec<(String, Members)> = all
            .into_iter()
            .filter(|(_, m)| {
                let arn =
                    m.entries()
                        .iter()
                        .find(|(k, _)| *k == "Arn")
                        .and_then(|(_, v)| match v {
                            XmlValue::Text(t) => Some(t.as_str()),
                            _ => None,
                        });
                arn.is_some_and(|a| {
                    path_of_policy_arn(a).starts_with(prefix) && (!only_attached || count(a) > 0)
                })
            })
            .collect();
        let (items, next) = page.take(by_lowercase(all, |(n, _)| n), |(n, _)| n.to_lowercase());
        let list = items
            .into_iter()
            .map(|(_, m)| XmlValue::Struct(m))
            .collect();
        Ok(render::truncation(
            Members::new().list("Policies", list),
            next,
        ))
    }

    /// The caller behind a long-term access key (SigV4 verification): the
    /// user it belongs to and the key (its secret and status).
    pub async fn access_key(&self, id: &str) -> Result<Option<(Principal, AccessKey)>, AwsError> {
        let Some(key) = self.store.get_access_key(id).await.map_err(store_err)? else {
            return Ok(None);
        };
        let Some(user) = self
            .store
            .get_user(&key.user_name)
            .await
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        let principal = Principal::User {
            name: user.name,
            id: user.id,
            path: user.path,
        };
        Ok(Some((principal, key)))
    }

    /// The role of this ARN (`arn:aws:iam::<account>:role/<path><name>`),
    /// if it exists with that path.
    pub async fn role_by_arn(&self, arn: &str) -> Result<Option<IamRole>, AwsError> {
        let Some(name) = arn.rsplit('/').next().filter(|_| arn.contains(":role/")) else {
            return Ok(None);
        };
        let role = self.store.get_role(name).await.map_err(store_err)?;
        Ok(role.filter(|r| role_arn(&r.path, &r.name) == arn))
    }

    /// Every identity policy document that applies to `principal`, for the
    /// evaluator: its inline policies and the default versions of its
    /// attached managed policies (none for the root user, who may do
    /// everything).
    pub async fn identity_policies(&self, principal: &Principal) -> Result<Vec<String>, AwsError> {
        let owner = match principal {
            Principal::Root => return Ok(Vec::new()),
            Principal::User { name, .. } => Owner::User(name.clone()),
            Principal::AssumedRole { role_name, .. } => Owner::Role(role_name.clone()),
        };
        let mut docs = Vec::new();
        for name in self
            .store
            .list_inline_policies(&owner)
            .await
            .map_err(store_err)?
        {
            docs.push(
                self.store
                    .get_inline_policy(&owner, &name)
                    .await
                    .map_err(store_err)?
                    .1,
            );
        }
        for arn in self
            .store
            .attached_policies(&owner)
            .await
            .map_err(store_err)?
        {
            if let Some(p) = managed::by_arn(&arn) {
                docs.push(p.document.clone());
            } else if let Some(p) = self.store.get_policy(&arn).await.map_err(store_err)? {
                if let Some(v) = self
                    .store
                    .get_policy_version(&arn, p.default_version)
                    .await
                    .map_err(store_err)?
                {
                    docs.push(v.document);
                }
            }
        }
        Ok(docs)
    }
}

#[cfg(test)]
#[path = "iam_tests.rs"]
pub(crate) mod tests;

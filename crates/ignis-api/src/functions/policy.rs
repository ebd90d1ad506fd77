//! Resource-based policies of functions, versions and aliases (AddPermission,
//! RemovePermission, GetPolicy, and Get/Put/DeleteResourcePolicy on function
//! ARNs) and of layer versions (Add/RemoveLayerVersionPermission,
//! GetLayerVersionPolicy).
//!
//! A function's policy is its `policy` setting for the qualifier it names
//! (`""` for the function itself), a [`StoredPolicy`]: the document's text
//! and a revision of its own, new on every change. Each change is one
//! store transaction, so two AddPermission calls never lose a statement. A
//! layer version's policy is kept with the version's row.

use ignis_model::arn::{self, ACCOUNT_ID};
use ignis_model::layer;
use ignis_model::policy::{
    self, AddLayerVersionPermissionRequest, AddPermissionRequest, PolicyDocument, StoredPolicy,
};
use ignis_model::settings::POLICY;
use ignis_model::{ErrorKind, LambdaError};
use ignis_store::StoreError;

use super::Functions;
use crate::error::ApiError;

/// What a policy belongs to: a function, or one of its published versions
/// or aliases, checked to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTarget {
    /// The function's name.
    pub name: String,
    /// The version or alias; `""` for the function itself.
    pub qualifier: String,
    /// The ARN statements name as their resource.
    pub arn: String,
}

/// A policy as GetPolicy, GetResourcePolicy and GetLayerVersionPolicy
/// answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    /// The document's text.
    pub policy: String,
    /// Its revision.
    pub revision_id: String,
}

impl From<StoredPolicy> for PolicyView {
    fn from(s: StoredPolicy) -> Self {
        Self {
            policy: s.policy,
            revision_id: s.revision_id,
        }
    }
}

/// Lambda's answer when there is no policy to read.
fn no_policy() -> ApiError {
    ApiError(LambdaError::new(
        ErrorKind::ResourceNotFound,
        "The resource you requested does not exist.",
    ))
}

/// Lambda's answer when there is no policy to remove a statement from.
fn no_policy_to_edit() -> ApiError {
    ApiError(LambdaError::new(
        ErrorKind::ResourceNotFound,
        "No policy is associated with the given resource.",
    ))
}

/// A stored setting this module did not write: the store is corrupt.
fn unreadable(what: &str) -> LambdaError {
    LambdaError::new(
        ErrorKind::Service,
        format!("the stored policy of {what} could not be read"),
    )
}

/// Decodes a stored policy inside an edit.
fn decode(stored: Option<&str>, what: &str) -> Result<Option<StoredPolicy>, LambdaError> {
    stored
        .map(|s| StoredPolicy::decode(s).ok_or_else(|| unreadable(what)))
        .transpose()
}

/// A new revision id.
fn revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The edit AddPermission / AddLayerVersionPermission make: the statement
/// appended to the document (a new one if there is none), within the size
/// limit, if the revision precondition holds.
fn adding(
    current: Option<&str>,
    statement: policy::Statement,
    expected_revision: Option<&str>,
    what: &str,
) -> Result<Option<String>, LambdaError> {
    let stored = decode(current, what)?;
    policy::check_revision(
        expected_revision,
        stored.as_ref().map(|s| s.revision_id.as_str()),
    )?;
    let mut doc = match &stored {
        Some(s) => s.document()?,
        None => PolicyDocument::new(),
    };
    doc.add(statement)?;
    let text = doc.render();
    policy::check_size(&text)?;
    Ok(Some(
        StoredPolicy {
            revision_id: revision(),
            policy: text,
        }
        .encode(),
    ))
}

/// The edit RemovePermission / RemoveLayerVersionPermission make; the
/// policy goes when its last statement does.
fn removing(
    current: Option<&str>,
    sid: &str,
    expected_revision: Option<&str>,
    what: &str,
) -> Result<Option<String>, LambdaError> {
    let Some(stored) = decode(current, what)? else {
        return Err(no_policy_to_edit().0);
    };
    let mut doc = stored.document()?;
    doc.remove(sid)?;
    policy::check_revision(expected_revision, Some(&stored.revision_id))?;
    if doc.statements.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        StoredPolicy {
            revision_id: revision(),
            policy: doc.render(),
        }
        .encode(),
    ))
}

/// A store error of a policy edit: the edit's own refusal as it is.
fn edit_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Refused(e) => ApiError(e),
        other => other.into(),
    }
}

impl Functions {
    /// Resolves a function reference and `Qualifier` to a policy's target:
    /// the function (no qualifier, or `$LATEST`), a published version or an
    /// alias, each of which must exist.
    pub async fn policy_target(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<PolicyTarget, ApiError> {
        if let Some(q) = qualifier {
            check_qualifier(q)?;
        }
        let r = arn::parse_function_ref(reference)?;
        let named = match (qualifier, r.qualifier.as_deref()) {
            (Some(a), Some(b)) if a != b => {
                return Err(LambdaError::invalid(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                )
                .into())
            }
            (a, b) => a.or(b),
        };
        let function_arn = self.arn(&r.name);
        if self.store.get_function(&r.name).await?.is_none() {
            return Err(ApiError(LambdaError::function_not_found(&function_arn)));
        }
        let q = match named {
            None | Some("$LATEST") => {
                return Ok(PolicyTarget {
                    name: r.name,
                    qualifier: String::new(),
                    arn: function_arn,
                })
            }
            Some(q) => q,
        };
        let arn = format!("{function_arn}:{q}");
        let exists = if q.bytes().all(|b| b.is_ascii_digit()) {
            match q.parse::<u64>() {
                Ok(n) => self.store.get_version(&r.name, n).await?.is_some(),
                Err(_) => false,
            }
        } else {
            self.store.get_alias(&r.name, q).await?.is_some()
        };
        if !exists {
            return Err(ApiError(LambdaError::function_not_found(&arn)));
        }
        Ok(PolicyTarget {
            name: r.name,
            qualifier: q.to_string(),
            arn,
        })
    }

    /// AddPermission: the statement Lambda builds from `req`, added to the
    /// target's policy; returns the statement's text.
    pub async fn add_permission(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        req: AddPermissionRequest,
    ) -> Result<String, ApiError> {
        let target = self.policy_target(reference, qualifier).await?;
        let named_latest = qualifier == Some("$LATEST")
            || arn::parse_function_ref(reference)?.qualifier.as_deref() == Some("$LATEST");
        if named_latest {
            return Err(LambdaError::invalid(
                "We currently do not support adding policies for $LATEST.",
            )
            .into());
        }
        let statement = policy::function_statement(&req, &target.arn)?;
        let text = serde_json::to_string(&statement).expect("a statement always serializes");
        let what = target.arn.clone();
        let expected = req.revision_id.clone();
        self.store
            .edit_setting(
                &target.name,
                &target.qualifier,
                POLICY,
                Box::new(move |current| adding(current, statement, expected.as_deref(), &what)),
            )
            .await
            .map_err(edit_error)?;
        tracing::info!(resource = %target.arn, sid = %req.statement_id, "permission added");
        Ok(text)
    }

    /// RemovePermission.
    pub async fn remove_permission(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), ApiError> {
        check_namespaced_sid(sid)?;
        let target = self.policy_target(reference, qualifier).await?;
        let (sid_owned, expected, what) = (
            sid.to_string(),
            revision_id.map(str::to_owned),
            target.arn.clone(),
        );
        self.store
            .edit_setting(
                &target.name,
                &target.qualifier,
                POLICY,
                Box::new(move |current| removing(current, &sid_owned, expected.as_deref(), &what)),
            )
            .await
            .map_err(edit_error)?;
        tracing::info!(resource = %target.arn, %sid, "permission removed");
        Ok(())
    }

    /// GetPolicy (and GetResourcePolicy): the target's policy.
    pub async fn get_policy(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<PolicyView, ApiError> {
        let target = self.policy_target(reference, qualifier).await?;
        let stored = self
            .store
            .get_setting(&target.name, &target.qualifier, POLICY)
            .await?;
        decode(stored.as_deref(), &target.arn)?
            .map(PolicyView::from)
            .ok_or_else(no_policy)
    }

    /// PutResourcePolicy on a function ARN: the document replaces the
    /// target's policy, stored exactly as given.
    pub async fn put_resource_policy(
        &self,
        resource_arn: &str,
        document: String,
        revision_id: Option<String>,
    ) -> Result<PolicyView, ApiError> {
        let target = self.resource_policy_target(resource_arn).await?;
        if document.is_empty() {
            return Err(validation(
                "Value '' at 'policy' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        PolicyDocument::parse(&document)?;
        policy::check_size(&document)?;
        let what = target.arn.clone();
        let written = self
            .store
            .edit_setting(
                &target.name,
                &target.qualifier,
                POLICY,
                Box::new(move |current| {
                    let stored = decode(current, &what)?;
                    policy::check_revision(
                        revision_id.as_deref(),
                        stored.as_ref().map(|s| s.revision_id.as_str()),
                    )?;
                    Ok(Some(
                        StoredPolicy {
                            revision_id: revision(),
                            policy: document,
                        }
                        .encode(),
                    ))
                }),
            )
            .await
            .map_err(edit_error)?;
        tracing::info!(resource = %target.arn, "resource policy put");
        let stored = decode(written.as_deref(), &target.arn)?.ok_or_else(no_policy)?;
        Ok(stored.into())
    }

    /// GetResourcePolicy on a function ARN.
    pub async fn get_resource_policy(&self, resource_arn: &str) -> Result<PolicyView, ApiError> {
        let target = self.resource_policy_target(resource_arn).await?;
        self.get_policy(&target.arn, None).await
    }

    /// DeleteResourcePolicy on a function ARN.
    pub async fn delete_resource_policy(
        &self,
        resource_arn: &str,
        revision_id: Option<String>,
    ) -> Result<(), ApiError> {
        let target = self.resource_policy_target(resource_arn).await?;
        let what = target.arn.clone();
        self.store
            .edit_setting(
                &target.name,
                &target.qualifier,
                POLICY,
                Box::new(move |current| {
                    let Some(stored) = decode(current, &what)? else {
                        return Err(no_policy_to_edit().0);
                    };
                    policy::check_revision(revision_id.as_deref(), Some(&stored.revision_id))?;
                    Ok(None)
                }),
            )
            .await
            .map_err(edit_error)?;
        tracing::info!(resource = %target.arn, "resource policy deleted");
        Ok(())
    }

    /// The target of a `/resource-policy/{ResourceArn}` request: a full
    /// function ARN (qualified or not) of this region and account. Runtime
    /// ARNs, which the model also allows, name nothing Ignis has.
    async fn resource_policy_target(&self, resource_arn: &str) -> Result<PolicyTarget, ApiError> {
        let parts: Vec<&str> = resource_arn.splitn(6, ':').collect();
        let [arn_, partition, "lambda", region, account, resource] = parts.as_slice() else {
            return Err(bad_resource_arn(resource_arn));
        };
        if *arn_ != "arn"
            || !partition.starts_with("aws")
            || region.is_empty()
            || account.len() != 12
            || !account.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad_resource_arn(resource_arn));
        }
        if resource.starts_with("runtime/") {
            return Err(LambdaError::invalid(format!(
                "Ignis keeps resource-based policies of functions, versions and aliases only, not of {resource_arn}"
            ))
            .into());
        }
        if !resource.starts_with("function:") {
            return Err(bad_resource_arn(resource_arn));
        }
        if *region != self.region() || *account != ACCOUNT_ID {
            return Err(ApiError(LambdaError::function_not_found(resource_arn)));
        }
        self.policy_target(resource_arn, None).await
    }

    /// AddLayerVersionPermission: returns the statement's text and the
    /// policy's new revision.
    pub async fn add_layer_version_permission(
        &self,
        layer_name: &str,
        version: &str,
        req: AddLayerVersionPermissionRequest,
        revision_id: Option<String>,
    ) -> Result<(String, String), ApiError> {
        let (name, version) = parse_layer_version(layer_name, version)?;
        let arn = format!("{}:{version}", layer::layer_arn(self.region(), &name));
        let statement = policy::layer_statement(&req, &arn)?;
        let text = serde_json::to_string(&statement).expect("a statement always serializes");
        let what = arn.clone();
        let written = self
            .store
            .edit_layer_version_policy(
                &name,
                version,
                Box::new(move |current| adding(current, statement, revision_id.as_deref(), &what)),
            )
            .await
            .map_err(edit_error)?
            .ok_or_else(|| layer_version_not_found(&arn))?;
        let stored = decode(written.as_deref(), &arn)?.ok_or_else(no_policy)?;
        tracing::info!(layer = %arn, sid = %req.statement_id, "layer version permission added");
        Ok((text, stored.revision_id))
    }

    /// RemoveLayerVersionPermission.
    pub async fn remove_layer_version_permission(
        &self,
        layer_name: &str,
        version: &str,
        sid: &str,
        revision_id: Option<String>,
    ) -> Result<(), ApiError> {
        let (name, version) = parse_layer_version(layer_name, version)?;
        policy::check_statement_id(sid, "statementId")?;
        let arn = format!("{}:{version}", layer::layer_arn(self.region(), &name));
        let (sid_owned, what) = (sid.to_string(), arn.clone());
        self.store
            .edit_layer_version_policy(
                &name,
                version,
                Box::new(move |current| {
                    removing(current, &sid_owned, revision_id.as_deref(), &what)
                }),
            )
            .await
            .map_err(edit_error)?
            .ok_or_else(|| layer_version_not_found(&arn))?;
        tracing::info!(layer = %arn, %sid, "layer version permission removed");
        Ok(())
    }

    /// GetLayerVersionPolicy.
    pub async fn get_layer_version_policy(
        &self,
        layer_name: &str,
        version: &str,
    ) -> Result<PolicyView, ApiError> {
        let (name, version) = parse_layer_version(layer_name, version)?;
        let arn = format!("{}:{version}", layer::layer_arn(self.region(), &name));
        let stored = self
            .store
            .get_layer_version_policy(&name, version)
            .await?
            .ok_or_else(|| layer_version_not_found(&arn))?;
        decode(stored.as_deref(), &arn)?
            .map(PolicyView::from)
            .ok_or_else(no_policy)
    }
}

/// The layer name (or ARN) and version number of a layer policy path.
fn parse_layer_version(layer_name: &str, version: &str) -> Result<(String, u64), ApiError> {
    let name = layer::parse_layer_name(layer_name)?;
    let version = version.parse::<u64>().map_err(|_| {
        validation(&format!(
            "Value '{version}' at 'versionNumber' failed to satisfy constraint: Member must be a number"
        ))
    })?;
    Ok((name, version))
}

fn layer_version_not_found(arn: &str) -> ApiError {
    ApiError(LambdaError::new(
        ErrorKind::ResourceNotFound,
        format!("Layer version {arn} does not exist."),
    ))
}

fn bad_resource_arn(arn: &str) -> ApiError {
    validation(&format!(
        "Value '{arn}' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_])+)?|runtime/[a-zA-Z0-9-_./]+)"
    ))
}

/// The model's `NumericLatestPublishedOrAliasQualifier`.
fn check_qualifier(q: &str) -> Result<(), ApiError> {
    let ok = !q.is_empty()
        && q.len() <= 128
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$'));
    if ok || q == "$LATEST.PUBLISHED" {
        return Ok(());
    }
    Err(validation(&format!(
        "Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
    )))
}

/// RemovePermission's `NamespacedStatementId`: 1–100 of `[a-zA-Z0-9-_.]`.
fn check_namespaced_sid(sid: &str) -> Result<(), ApiError> {
    let ok = !sid.is_empty()
        && sid.chars().count() <= 100
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        return Ok(());
    }
    Err(validation(&format!(
        "Value '{sid}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)"
    )))
}

fn validation(detail: &str) -> ApiError {
    ApiError(LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: {detail}"),
    ))
}

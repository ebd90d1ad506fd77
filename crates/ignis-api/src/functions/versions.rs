//! Versions and aliases: PublishVersion, ListVersionsByFunction, the
//! qualifier of GetFunction / GetFunctionConfiguration / DeleteFunction,
//! and CreateAlias / GetAlias / UpdateAlias / DeleteAlias / ListAliases.
//! A published version is a frozen copy of `$LATEST` with its own
//! environments in the router; an alias names a version and, with a
//! routing configuration, sends a weighted share of invocations to a
//! second one (the router draws per invocation).

use std::sync::Arc;

use ignis_model::alias::{
    AliasConfiguration, AliasRecord, AliasRoutingConfiguration, CreateAliasRequest,
    UpdateAliasRequest,
};
use ignis_model::arn::parse_function_ref;
use ignis_model::version::{is_valid_alias_name, Qualifier};
use ignis_model::wire::FunctionConfiguration;
use ignis_model::{
    ErrorKind, FunctionRecord, FunctionState, LambdaError, LastUpdateStatus, Version,
};
use ignis_store::StoreError;
use serde::Deserialize;

use super::{new_revision, now, Functions};
use crate::error::ApiError;

/// The body of PublishVersion.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PublishVersionRequest {
    /// Publish only if `$LATEST`'s code has this SHA-256 (base64).
    pub code_sha256: Option<String>,
    /// The version's description (else the function's).
    pub description: Option<String>,
    /// Publish only if `$LATEST` is at this revision.
    pub revision_id: Option<String>,
    /// `LATEST_PUBLISHED` (Lambda's managed-instances form of publishing).
    pub publish_to: Option<String>,
}

/// How many times a publish is retried when `$LATEST` changes under it.
const PUBLISH_ATTEMPTS: usize = 4;

impl Functions {
    /// The function's name and the qualifier the caller named, in the
    /// reference (`f:3`, an ARN) or the `Qualifier` parameter.
    pub fn qualified(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, Option<Qualifier>), ApiError> {
        let r = parse_function_ref(reference)?;
        let named = match (qualifier, r.qualifier.as_deref()) {
            (Some(a), Some(b)) if a != b => {
                return Err(LambdaError::invalid(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                )
                .into())
            }
            (a, b) => a.or(b),
        };
        if let Some(q) = named {
            check_qualifier_syntax(q)?;
        }
        Ok((r.name, named.map(Qualifier::parse)))
    }

    /// The record a qualified reference names: `$LATEST`, a published
    /// version, or the version an alias points at (its ARN then the
    /// alias's, as the caller named it).
    pub async fn resolve_version(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(FunctionRecord, String), ApiError> {
        let (name, q) = self.qualified(reference, qualifier)?;
        let latest = || async {
            let record = self.store.get_function(&name).await?;
            record.ok_or_else(|| ApiError(LambdaError::function_not_found(&self.arn(&name))))
        };
        match q {
            None | Some(Qualifier::Version(Version::Latest)) => {
                let record = latest().await?;
                let arn = record.version_arn(&self.region);
                Ok((record, arn))
            }
            Some(Qualifier::Version(Version::Published(n))) => {
                let record = self.published(&name, n).await?;
                let arn = record.version_arn(&self.region);
                Ok((record, arn))
            }
            Some(Qualifier::Alias(alias)) => {
                let a = self.alias_record(&name, &alias).await?;
                let record = match a.version {
                    Version::Latest => latest().await?,
                    Version::Published(n) => self.published(&name, n).await?,
                };
                Ok((record, a.arn(&self.region)))
            }
        }
    }

    /// Published version `n` of `name`, or Lambda's not-found naming it.
    async fn published(&self, name: &str, n: u64) -> Result<FunctionRecord, ApiError> {
        match self.store.get_version(name, n).await? {
            Some(record) => Ok(record),
            None => Err(self.not_found(name, &n.to_string()).await),
        }
    }

    /// Lambda's ResourceNotFoundException for a missing qualifier: the
    /// function's own message when the function itself is missing.
    async fn not_found(&self, name: &str, qualifier: &str) -> ApiError {
        let arn = match self.store.get_function(name).await {
            Ok(Some(_)) => format!("{}:{qualifier}", self.arn(name)),
            _ => self.arn(name),
        };
        ApiError(LambdaError::function_not_found(&arn))
    }

    async fn alias_record(&self, name: &str, alias: &str) -> Result<AliasRecord, ApiError> {
        match self.store.get_alias(name, alias).await? {
            Some(a) => Ok(a),
            None => Err(ApiError(LambdaError::new(
                ErrorKind::ResourceNotFound,
                format!("Alias not found: {}:{alias}", self.arn(name)),
            ))),
        }
    }

    /// PublishVersion: freezes `$LATEST` as the next version number, or
    /// returns the newest version when nothing changed since it.
    pub async fn publish_version(
        self: &Arc<Self>,
        reference: &str,
        req: PublishVersionRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let (name, q) = self.qualified(reference, None)?;
        if q.is_some() {
            return Err(
                LambdaError::invalid("PublishVersion takes an unqualified function name").into(),
            );
        }
        if let Some(p) = req
            .publish_to
            .as_deref()
            .filter(|p| *p != "LATEST_PUBLISHED")
        {
            return Err(LambdaError::new(
                ErrorKind::Validation,
                format!("1 validation error detected: Value '{p}' at 'publishTo' failed to satisfy constraint: Member must satisfy enum value set: [LATEST_PUBLISHED]"),
            )
            .into());
        }
        if let Some(d) = &req.description {
            ignis_model::limits::check_description(d)?;
        }
        for _ in 0..PUBLISH_ATTEMPTS {
            let latest = self
                .store
                .get_function(&name)
                .await?
                .ok_or_else(|| ApiError(LambdaError::function_not_found(&self.arn(&name))))?;
            check_preconditions(&latest, &req)?;
            self.check_not_updating(&latest)?;
            let mut candidate = latest.clone();
            candidate.description = req
                .description
                .clone()
                .unwrap_or(latest.description.clone());
            candidate.last_modified = now();
            candidate.revision_id = new_revision();
            candidate.state = FunctionState::Active;
            candidate.last_update_status = LastUpdateStatus::Successful;
            candidate.last_update_status_reason = None;
            candidate.last_update_status_reason_code = None;
            match self
                .store
                .publish_version(&candidate, &latest.revision_id)
                .await
            {
                Ok((version, new)) => {
                    if new {
                        tracing::info!(function = %name, version = %version.version, "version published");
                        self.router.upsert(self.spec(version.clone())?);
                    }
                    return Ok(version.configuration(&self.region));
                }
                Err(StoreError::RevisionMismatch { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(LambdaError::new(
            ErrorKind::ResourceConflict,
            format!(
                "The function {} kept changing while its version was published; retry",
                self.arn(&name)
            ),
        )
        .into())
    }

    /// Publishes `$LATEST` once its create or update has taken effect
    /// (CreateFunction / UpdateFunctionCode with `Publish`).
    pub(super) async fn publish_when_active(
        self: &Arc<Self>,
        record: FunctionRecord,
    ) -> Result<FunctionConfiguration, ApiError> {
        let name = record.name.clone();
        self.activate(record).await?;
        self.publish_version(&name, PublishVersionRequest::default())
            .await
    }

    /// ListVersionsByFunction: `$LATEST` first, then the published
    /// versions in order; the marker is the last version listed.
    pub async fn list_versions(
        &self,
        reference: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<FunctionConfiguration>, Option<String>), ApiError> {
        let (name, q) = self.qualified(reference, None)?;
        if q.is_some() {
            return Err(LambdaError::invalid(
                "ListVersionsByFunction takes an unqualified function name",
            )
            .into());
        }
        let latest = self
            .store
            .get_function(&name)
            .await?
            .ok_or_else(|| ApiError(LambdaError::function_not_found(&self.arn(&name))))?;
        let after = match marker {
            None => None,
            Some(m) => Some(match Version::from_qualifier(m) {
                Some(Version::Latest) => 0,
                Some(Version::Published(n)) => n,
                None => return Err(LambdaError::invalid(format!("Invalid Marker: {m}")).into()),
            }),
        };
        let mut page = Vec::with_capacity(max + 1);
        if after.is_none() {
            page.push(latest);
        }
        let rest = max + 1 - page.len();
        page.extend(self.store.list_versions(&name, after, rest).await?);
        let next = (page.len() > max).then(|| {
            page.truncate(max);
            page.last().map(|r| r.version.to_string())
        });
        let configs = page.iter().map(|r| r.configuration(&self.region)).collect();
        Ok((configs, next.flatten()))
    }

    /// DeleteFunction with a version qualifier: that version only, unless
    /// an alias points at it.
    pub(super) async fn delete_version(&self, name: &str, q: Qualifier) -> Result<(), ApiError> {
        let n = match q {
            Qualifier::Version(Version::Published(n)) => n,
            Qualifier::Version(Version::Latest) => {
                return Err(LambdaError::invalid(
                    "$LATEST version cannot be deleted without deleting the function.",
                )
                .into())
            }
            Qualifier::Alias(a) => {
                return Err(LambdaError::invalid(format!(
                    "Deletion of aliases is not supported by DeleteFunction: {a} is an alias; use DeleteAlias"
                ))
                .into())
            }
        };
        match self.store.delete_version(name, n).await {
            Ok(Some(_)) => {
                self.unprovision(name, &Qualifier::Version(Version::Published(n)));
                self.router.remove_version(name, Version::Published(n));
                tracing::info!(function = %name, version = n, "version deleted");
                Ok(())
            }
            Ok(None) => Err(self.not_found(name, &n.to_string()).await),
            Err(StoreError::Conflict(message)) => {
                Err(LambdaError::new(ErrorKind::ResourceConflict, message).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// CreateAlias.
    pub async fn create_alias(
        &self,
        reference: &str,
        req: CreateAliasRequest,
    ) -> Result<AliasConfiguration, ApiError> {
        let name = self.unqualified(reference)?;
        if !is_valid_alias_name(&req.name) {
            return Err(pattern_error("name", &req.name).into());
        }
        let description = req.description.unwrap_or_default();
        ignis_model::limits::check_description(&description)?;
        let version = target_version(&req.function_version)?;
        let alias = AliasRecord {
            function: name.clone(),
            name: req.name,
            version,
            description,
            additional: routing(version, req.routing_config.as_ref())?,
            revision_id: new_revision(),
        };
        match self.store.create_alias(&alias).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => {
                return Err(LambdaError::new(
                    ErrorKind::ResourceConflict,
                    format!("Alias already exists: {}", alias.arn(&self.region)),
                )
                .into())
            }
            Err(e) => return Err(self.alias_store_error(&name, e).await),
        }
        self.router.set_alias(alias.clone());
        tracing::info!(function = %name, alias = %alias.name, version = %alias.version, "alias created");
        Ok(alias.configuration(&self.region))
    }

    /// UpdateAlias.
    pub async fn update_alias(
        &self,
        reference: &str,
        alias_name: &str,
        req: UpdateAliasRequest,
    ) -> Result<AliasConfiguration, ApiError> {
        let name = self.unqualified(reference)?;
        let current = self.alias_record(&name, alias_name).await?;
        if req
            .revision_id
            .as_deref()
            .is_some_and(|r| r != current.revision_id)
        {
            return Err(LambdaError::new(
                ErrorKind::PreconditionFailed,
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
            )
            .into());
        }
        let mut alias = current.clone();
        if let Some(v) = &req.function_version {
            alias.version = target_version(v)?;
        }
        if let Some(d) = req.description {
            ignis_model::limits::check_description(&d)?;
            alias.description = d;
        }
        alias.additional = match &req.routing_config {
            Some(r) => routing(alias.version, Some(r))?,
            // A new version without a new routing keeps the old split
            // only while it still makes sense.
            None => match current.additional {
                Some((extra, _)) if Version::Published(extra) == alias.version => None,
                other => other,
            },
        };
        if alias.additional.is_some() && alias.version == Version::Latest {
            return Err(LambdaError::invalid(
                "Alias with routing configuration cannot point to $LATEST; point it at a published version",
            )
            .into());
        }
        alias.revision_id = new_revision();
        match self.store.update_alias(&alias, &current.revision_id).await {
            Ok(()) => {}
            Err(StoreError::RevisionMismatch { .. }) => {
                return Err(LambdaError::new(
                    ErrorKind::PreconditionFailed,
                    "The alias was changed by another request at the same time; retry",
                )
                .into())
            }
            Err(e) => return Err(self.alias_store_error(&name, e).await),
        }
        self.router.set_alias(alias.clone());
        self.reprovision_alias(&name, &alias.name, alias.version)
            .await?;
        Ok(alias.configuration(&self.region))
    }

    /// GetAlias.
    pub async fn get_alias(
        &self,
        reference: &str,
        alias: &str,
    ) -> Result<AliasConfiguration, ApiError> {
        let name = self.unqualified(reference)?;
        Ok(self
            .alias_record(&name, alias)
            .await?
            .configuration(&self.region))
    }

    /// DeleteAlias.
    pub async fn delete_alias(&self, reference: &str, alias: &str) -> Result<(), ApiError> {
        let name = self.unqualified(reference)?;
        if self.store.get_function(&name).await?.is_none() {
            return Err(ApiError(LambdaError::function_not_found(&self.arn(&name))));
        }
        match self.store.delete_alias(&name, alias).await? {
            Some(_) => {
                self.router.remove_alias(&name, alias);
                self.unprovision(&name, &Qualifier::Alias(alias.to_string()));
                self.urls.forget(&name, Some(alias));
                tracing::info!(function = %name, alias, "alias deleted");
                Ok(())
            }
            None => Err(self
                .alias_record(&name, alias)
                .await
                .err()
                .unwrap_or_else(|| {
                    ApiError(LambdaError::new(
                        ErrorKind::ResourceNotFound,
                        "Alias not found",
                    ))
                })),
        }
    }

    /// ListAliases, optionally only those pointing at `version`; the
    /// marker is the last alias listed.
    pub async fn list_aliases(
        &self,
        reference: &str,
        version: Option<&str>,
        marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<AliasConfiguration>, Option<String>), ApiError> {
        let name = self.unqualified(reference)?;
        if self.store.get_function(&name).await?.is_none() {
            return Err(ApiError(LambdaError::function_not_found(&self.arn(&name))));
        }
        let wanted = version.map(target_version).transpose()?;
        let mut page: Vec<AliasRecord> = self
            .store
            .list_aliases(&name)
            .await?
            .into_iter()
            .filter(|a| wanted.is_none_or(|v| a.version == v))
            .filter(|a| marker.is_none_or(|m| a.name.as_str() > m))
            .take(max + 1)
            .collect();
        let next = (page.len() > max).then(|| {
            page.truncate(max);
            page.last().map(|a| a.name.clone())
        });
        let configs = page.iter().map(|a| a.configuration(&self.region)).collect();
        Ok((configs, next.flatten()))
    }

    fn unqualified(&self, reference: &str) -> Result<String, ApiError> {
        let r = parse_function_ref(reference)?;
        if r.qualifier.is_some() {
            return Err(LambdaError::invalid(
                "Qualifier is not allowed in the function name of an alias operation",
            )
            .into());
        }
        Ok(r.name)
    }

    async fn alias_store_error(&self, name: &str, e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(_) => ApiError(LambdaError::function_not_found(&self.arn(name))),
            StoreError::VersionNotFound { version, .. } => ApiError(
                LambdaError::function_not_found(&format!("{}:{version}", self.arn(name))),
            ),
            e => e.into(),
        }
    }

    /// Registers the published versions and aliases of `name` with the
    /// router (start-up).
    pub(super) async fn load_versions(&self, name: &str) -> Result<(), ApiError> {
        let mut after = None;
        loop {
            let page = self.store.list_versions(name, after, 200).await?;
            let Some(last) = page.last() else { break };
            after = last.version.number();
            for version in page {
                match self.spec(version.clone()) {
                    Ok(spec) => self.router.upsert(spec),
                    Err(e) => {
                        tracing::error!(function = %name, version = %version.version, error = ?e.0, "version code unavailable")
                    }
                }
            }
        }
        for alias in self.store.list_aliases(name).await? {
            self.router.set_alias(alias);
        }
        Ok(())
    }
}

/// A qualifier's syntax, as Lambda's model checks it.
fn check_qualifier_syntax(q: &str) -> Result<(), ApiError> {
    let ok = q == ignis_model::version::LATEST
        || (!q.is_empty()
            && q.len() <= 128
            && q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(pattern_error("qualifier", q).into())
    }
}

fn pattern_error(member: &str, value: &str) -> LambdaError {
    LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"),
    )
}

/// The version an alias may point at: `$LATEST` or a number.
fn target_version(v: &str) -> Result<Version, ApiError> {
    Version::from_qualifier(v).ok_or_else(|| {
        ApiError(LambdaError::new(
            ErrorKind::Validation,
            format!("1 validation error detected: Value '{v}' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)"),
        ))
    })
}

/// An alias's routing configuration: at most one extra version, published,
/// not the alias's own, with a weight in [0.0, 1.0].
fn routing(
    version: Version,
    config: Option<&AliasRoutingConfiguration>,
) -> Result<Option<(u64, f64)>, ApiError> {
    let Some(config) = config else {
        return Ok(None);
    };
    let mut weights = config.additional_version_weights.iter();
    let Some((extra, weight)) = weights.next() else {
        return Ok(None);
    };
    if weights.next().is_some() {
        return Err(
            LambdaError::invalid("Number of additional version weights must be at most 1").into(),
        );
    }
    if !(0.0..=1.0).contains(weight) || weight.is_nan() {
        return Err(LambdaError::new(
            ErrorKind::Validation,
            format!("1 validation error detected: Value '{{{extra}={weight}}}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]"),
        )
        .into());
    }
    let Some(Version::Published(n)) = Version::from_qualifier(extra) else {
        return Err(LambdaError::invalid(format!(
            "Invalid version in the routing configuration: {extra}; it must be a published version"
        ))
        .into());
    };
    if version == Version::Latest {
        return Err(LambdaError::invalid(
            "Alias with routing configuration cannot point to $LATEST; point it at a published version",
        )
        .into());
    }
    if version == Version::Published(n) {
        return Err(LambdaError::invalid(format!(
            "Invalid routing configuration: the additional version {n} is the alias's own version"
        ))
        .into());
    }
    Ok(Some((n, *weight)))
}

fn check_preconditions(
    latest: &FunctionRecord,
    req: &PublishVersionRequest,
) -> Result<(), ApiError> {
    if req
        .revision_id
        .as_deref()
        .is_some_and(|r| r != latest.revision_id)
    {
        return Err(LambdaError::new(
            ErrorKind::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
        .into());
    }
    if req
        .code_sha256
        .as_deref()
        .is_some_and(|c| c != latest.code.sha256_b64)
    {
        return Err(LambdaError::new(
            ErrorKind::PreconditionFailed,
            format!(
                "CodeSHA256 ({}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                req.code_sha256.as_deref().unwrap_or_default(),
                latest.code.sha256_b64
            ),
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(pairs: &[(&str, f64)]) -> AliasRoutingConfiguration {
        AliasRoutingConfiguration {
            additional_version_weights: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn routing_takes_one_published_version_with_a_weight_in_range() {
        let v1 = Version::Published(1);
        assert_eq!(
            routing(v1, Some(&weights(&[("2", 0.2)]))).unwrap(),
            Some((2, 0.2))
        );
        assert_eq!(routing(v1, Some(&weights(&[]))).unwrap(), None);
        assert_eq!(routing(v1, None).unwrap(), None);
        for bad in [
            weights(&[("2", 1.5)]),
            weights(&[("2", -0.1)]),
            weights(&[("2", 0.1), ("3", 0.1)]),
            weights(&[("$LATEST", 0.1)]),
            weights(&[("1", 0.1)]),
        ] {
            assert!(routing(v1, Some(&bad)).is_err(), "{bad:?}");
        }
        assert!(routing(Version::Latest, Some(&weights(&[("2", 0.5)]))).is_err());
    }
}

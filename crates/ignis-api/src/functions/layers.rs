//! The layer operations (PublishLayerVersion, GetLayerVersion[ByArn],
//! ListLayers, ListLayerVersions, DeleteLayerVersion) and the resolution of
//! a function's `Layers` to stored layer versions, with Lambda's checks.
//!
//! A layer's zip goes into the same content-addressed code store as
//! function code. A function keeps the content of the layer versions it
//! references (the store counts them as referenced), so deleting a version
//! does not break functions that use it, as on Lambda.

use std::collections::HashSet;

use ignis_model::arn::ACCOUNT_ID;
use ignis_model::function::CodeRef;
use ignis_model::layer::{
    self, FunctionLayer, LayerVersionRecord, LayersListItem, ListLayerVersionsResponse,
    ListLayersResponse, PublishLayerVersionRequest,
};
use ignis_model::limits::{self, UNZIPPED_MAX};
use ignis_model::{ErrorKind, LambdaError};

use super::{code_bytes, now, Functions};
use crate::error::ApiError;

/// ListLayers' and ListLayerVersions' query: filters and the page.
#[derive(Debug, Default)]
pub struct LayerListing<'a> {
    /// Only versions compatible with this runtime.
    pub runtime: Option<&'a str>,
    /// Only versions compatible with this architecture.
    pub architecture: Option<&'a str>,
    /// Where the previous page ended.
    pub marker: Option<&'a str>,
    /// Page size (1–50).
    pub max_items: usize,
}

impl Functions {
    /// PublishLayerVersion.
    pub async fn publish_layer_version(
        &self,
        layer_name: &str,
        req: PublishLayerVersionRequest,
    ) -> Result<LayerVersionRecord, ApiError> {
        let name = layer::parse_layer_name(layer_name)?;
        let description = req.description.unwrap_or_default();
        limits::check_description(&description)?;
        let compatible_runtimes = req.compatible_runtimes.unwrap_or_default();
        check_runtimes(&compatible_runtimes)?;
        let compatible_architectures = req.compatible_architectures.unwrap_or_default();
        check_architectures(&compatible_architectures)?;
        if let Some(license) = &req.license_info {
            if license.chars().count() > layer::LICENSE_MAX {
                return Err(validation(format!(
                    "Value at 'licenseInfo' failed to satisfy constraint: Member must have length less than or equal to {}",
                    layer::LICENSE_MAX
                ))
                .into());
            }
        }
        let c = &req.content;
        let zip = code_bytes(c.zip_file.as_deref(), c.s3_bucket.is_some())?;
        let code = self.put_code(zip).await?;
        let draft = LayerVersionRecord {
            name,
            version: 0,
            description,
            compatible_runtimes,
            compatible_architectures,
            license_info: req.license_info,
            code,
            created_date: now(),
        };
        let published = self.store.publish_layer_version(&draft).await?;
        tracing::info!(layer = %published.name, version = published.version, code = %published.code.sha256_hex, "layer version published");
        Ok(published)
    }

    /// GetLayerVersion.
    pub async fn get_layer_version(
        &self,
        layer_name: &str,
        version: &str,
    ) -> Result<LayerVersionRecord, ApiError> {
        let name = layer::parse_layer_name(layer_name)?;
        let version = parse_version(version)?;
        self.store
            .get_layer_version(&name, version)
            .await?
            .ok_or_else(not_found)
    }

    /// GetLayerVersionByArn.
    pub async fn get_layer_version_by_arn(
        &self,
        arn: &str,
    ) -> Result<LayerVersionRecord, ApiError> {
        let r = layer::parse_layer_version_arn(arn)
            .ok_or_else(|| layer::invalid_layer_version_arn(arn))?;
        if r.region != self.region || r.account != ACCOUNT_ID {
            return Err(not_found());
        }
        self.store
            .get_layer_version(&r.name, r.version)
            .await?
            .ok_or_else(not_found)
    }

    /// DeleteLayerVersion: idempotent, as on Lambda. Functions using the
    /// version keep its content.
    pub async fn delete_layer_version(
        &self,
        layer_name: &str,
        version: &str,
    ) -> Result<(), ApiError> {
        let name = layer::parse_layer_name(layer_name)?;
        let version = parse_version(version)?;
        if self
            .store
            .delete_layer_version(&name, version)
            .await?
            .is_some()
        {
            tracing::info!(layer = %name, version, "layer version deleted");
        }
        Ok(())
    }

    /// ListLayerVersions: newest first; the marker is the last version
    /// number of the previous page.
    pub async fn list_layer_versions(
        &self,
        layer_name: &str,
        q: LayerListing<'_>,
    ) -> Result<ListLayerVersionsResponse, ApiError> {
        let name = layer::parse_layer_name(layer_name)?;
        check_filters(&q)?;
        let before = match q.marker {
            Some(m) => Some(m.parse::<u64>().map_err(|_| bad_marker(m))?),
            None => None,
        };
        let mut page: Vec<LayerVersionRecord> = self
            .store
            .list_layer_versions(&name)
            .await?
            .into_iter()
            .filter(|v| before.is_none_or(|b| v.version < b))
            .filter(|v| v.matches(q.runtime, q.architecture))
            .take(q.max_items + 1)
            .collect();
        let next_marker = (page.len() > q.max_items).then(|| {
            page.truncate(q.max_items);
            page.last().map(|v| v.version.to_string())
        });
        Ok(ListLayerVersionsResponse {
            layer_versions: page.iter().map(|v| v.list_item(&self.region)).collect(),
            next_marker: next_marker.flatten(),
        })
    }

    /// ListLayers: one item per layer with a version matching the filters,
    /// by name; the marker is the last name of the previous page.
    pub async fn list_layers(&self, q: LayerListing<'_>) -> Result<ListLayersResponse, ApiError> {
        check_filters(&q)?;
        let mut seen = HashSet::new();
        let mut page: Vec<LayersListItem> = self
            .store
            .list_all_layer_versions()
            .await?
            .into_iter()
            .filter(|v| q.marker.is_none_or(|m| v.name.as_str() > m))
            .filter(|v| v.matches(q.runtime, q.architecture))
            // Newest first within a name: the first seen is the latest match.
            .filter(|v| seen.insert(v.name.clone()))
            .take(q.max_items + 1)
            .map(|v| LayersListItem {
                layer_name: v.name.clone(),
                layer_arn: v.layer_arn(&self.region),
                latest_matching_version: v.list_item(&self.region),
            })
            .collect();
        let next_marker = (page.len() > q.max_items).then(|| {
            page.truncate(q.max_items);
            page.last().map(|l| l.layer_name.clone())
        });
        Ok(ListLayersResponse {
            layers: page,
            next_marker: next_marker.flatten(),
        })
    }

    /// Resolves a function's `Layers` to stored versions, in order, with
    /// Lambda's checks: the ARN pattern, at most 5 layers, one version per
    /// layer, every version existing.
    pub(super) async fn resolve_layers(
        &self,
        arns: &[String],
    ) -> Result<Vec<FunctionLayer>, ApiError> {
        let parsed = arns
            .iter()
            .map(|a| layer::parse_layer_version_arn(a))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| layer::invalid_layers_member(arns))?;
        if arns.len() > layer::MAX_LAYERS_PER_FUNCTION {
            return Err(LambdaError::invalid(format!(
                "Cannot reference more than {} layers.",
                layer::MAX_LAYERS_PER_FUNCTION
            ))
            .into());
        }
        let mut names = HashSet::new();
        let mut resolved = Vec::with_capacity(arns.len());
        for (arn, r) in arns.iter().zip(parsed) {
            if !names.insert(r.name.clone()) {
                return Err(LambdaError::invalid(format!(
                    "Two different versions of the same layer are not allowed to be referenced in the same function. {arn}"
                ))
                .into());
            }
            let missing = || LambdaError::invalid(format!("Layer version {arn} does not exist."));
            if r.region != self.region || r.account != ACCOUNT_ID {
                return Err(missing().into());
            }
            let v = self
                .store
                .get_layer_version(&r.name, r.version)
                .await?
                .ok_or_else(missing)?;
            resolved.push(FunctionLayer {
                arn: arn.clone(),
                code: v.code,
            });
        }
        Ok(resolved)
    }
}

/// Checks the 250 MB unpacked limit over the function's code and layers.
pub(super) fn check_combined_size(
    code: &CodeRef,
    layers: &[FunctionLayer],
) -> Result<(), ApiError> {
    let total = layers.iter().fold(code.unzipped_size, |sum, l| {
        sum.saturating_add(l.code.unzipped_size)
    });
    if total > UNZIPPED_MAX {
        return Err(LambdaError::invalid(format!(
            "Function code combined with layers exceeds the maximum allowed size of {UNZIPPED_MAX} bytes. The actual size is {total} bytes."
        ))
        .into());
    }
    Ok(())
}

fn not_found() -> ApiError {
    ApiError(LambdaError::new(
        ErrorKind::ResourceNotFound,
        "The resource you requested does not exist.",
    ))
}

fn validation(detail: String) -> LambdaError {
    LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: {detail}"),
    )
}

fn parse_version(v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>().map_err(|_| {
        validation(format!(
            "Value '{v}' at 'versionNumber' failed to satisfy constraint: Member must be a number"
        ))
        .into()
    })
}

fn bad_marker(m: &str) -> ApiError {
    LambdaError::invalid(format!("Invalid marker: {m}")).into()
}

fn check_runtimes(runtimes: &[String]) -> Result<(), ApiError> {
    if runtimes.len() > layer::COMPATIBLE_RUNTIMES_MAX {
        return Err(validation(format!(
            "Value at 'compatibleRuntimes' failed to satisfy constraint: Member must have length less than or equal to {}",
            layer::COMPATIBLE_RUNTIMES_MAX
        ))
        .into());
    }
    runtimes.iter().try_for_each(|r| check_runtime(r))
}

fn check_runtime(runtime: &str) -> Result<(), ApiError> {
    if ignis_model::runtime::KNOWN_RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(validation(format!(
        "Value '{runtime}' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        ignis_model::runtime::KNOWN_RUNTIMES.join(", ")
    ))
    .into())
}

fn check_architectures(archs: &[String]) -> Result<(), ApiError> {
    if archs.len() > layer::COMPATIBLE_ARCHITECTURES_MAX {
        return Err(validation(format!(
            "Value at 'compatibleArchitectures' failed to satisfy constraint: Member must have length less than or equal to {}",
            layer::COMPATIBLE_ARCHITECTURES_MAX
        ))
        .into());
    }
    archs.iter().try_for_each(|a| check_architecture(a))
}

fn check_architecture(arch: &str) -> Result<(), ApiError> {
    if matches!(arch, "x86_64" | "arm64") {
        return Ok(());
    }
    Err(validation(format!(
        "Value '{arch}' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]"
    ))
    .into())
}

fn check_filters(q: &LayerListing<'_>) -> Result<(), ApiError> {
    if let Some(r) = q.runtime {
        check_runtime(r)?;
    }
    if let Some(a) = q.architecture {
        check_architecture(a)?;
    }
    Ok(())
}

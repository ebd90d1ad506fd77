//! Layer versions: their stored form, their ARNs, the checks Lambda makes on
//! names and references, and the wire shapes of the layer operations, field
//! for field as botocore's `service-2.json` names them.

use serde::{Deserialize, Serialize};

use crate::arn::ACCOUNT_ID;
use crate::error::{ErrorKind, LambdaError};
use crate::function::CodeRef;

/// Most layers a function may reference.
pub const MAX_LAYERS_PER_FUNCTION: usize = 5;
/// Longest layer name.
pub const LAYER_NAME_MAX: usize = 140;
/// Longest LicenseInfo.
pub const LICENSE_MAX: usize = 512;
/// Most CompatibleRuntimes.
pub const COMPATIBLE_RUNTIMES_MAX: usize = 15;
/// Most CompatibleArchitectures.
pub const COMPATIBLE_ARCHITECTURES_MAX: usize = 2;

const LAYER_VERSION_ARN_PATTERN: &str = "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)";

/// One published layer version as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerVersionRecord {
    /// Bare layer name.
    pub name: String,
    /// Version number, from 1, never reused for the name.
    pub version: u64,
    /// Description.
    pub description: String,
    /// Runtimes the layer declares itself compatible with.
    pub compatible_runtimes: Vec<String>,
    /// Architectures the layer declares itself compatible with.
    pub compatible_architectures: Vec<String>,
    /// License, as given.
    pub license_info: Option<String>,
    /// The layer's zip, content-addressed.
    pub code: CodeRef,
    /// Lambda's `CreatedDate`, e.g. `2024-05-01T12:00:00.000+0000`.
    pub created_date: String,
}

/// A layer a function references: the version ARN and the content it had
/// when referenced (the function keeps it even if the version is deleted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FunctionLayer {
    /// The layer version ARN.
    pub arn: String,
    /// Its content.
    pub code: CodeRef,
}

/// The ARN of layer `name` (no version).
pub fn layer_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{name}")
}

impl LayerVersionRecord {
    /// `LayerArn`.
    pub fn layer_arn(&self, region: &str) -> String {
        layer_arn(region, &self.name)
    }

    /// `LayerVersionArn`.
    pub fn version_arn(&self, region: &str) -> String {
        format!("{}:{}", self.layer_arn(region), self.version)
    }

    /// Whether the version matches ListLayers' / ListLayerVersions' filters.
    pub fn matches(&self, runtime: Option<&str>, architecture: Option<&str>) -> bool {
        runtime.is_none_or(|r| self.compatible_runtimes.iter().any(|c| c == r))
            && architecture.is_none_or(|a| self.compatible_architectures.iter().any(|c| c == a))
    }

    /// `LayerVersionsListItem`.
    pub fn list_item(&self, region: &str) -> LayerVersionsListItem {
        LayerVersionsListItem {
            layer_version_arn: self.version_arn(region),
            version: self.version,
            description: self.description.clone(),
            created_date: self.created_date.clone(),
            compatible_runtimes: self.compatible_runtimes.clone(),
            compatible_architectures: self.compatible_architectures.clone(),
            license_info: self.license_info.clone(),
        }
    }

    /// `GetLayerVersionResponse` (also PublishLayerVersion's answer), the
    /// zip served at `location`.
    pub fn response(&self, region: &str, location: String) -> LayerVersionResponse {
        LayerVersionResponse {
            content: LayerVersionContentOutput {
                location,
                code_sha256: self.code.sha256_b64.clone(),
                code_size: self.code.size,
            },
            layer_arn: self.layer_arn(region),
            layer_version_arn: self.version_arn(region),
            description: self.description.clone(),
            created_date: self.created_date.clone(),
            version: self.version,
            compatible_runtimes: self.compatible_runtimes.clone(),
            compatible_architectures: self.compatible_architectures.clone(),
            license_info: self.license_info.clone(),
        }
    }
}

/// Whether `name` is a bare layer name (1–140 of `[a-zA-Z0-9-_]`).
pub fn is_valid_layer_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= LAYER_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses the `LayerName` path parameter: a bare name or a layer ARN.
pub fn parse_layer_name(input: &str) -> Result<String, LambdaError> {
    let name = match input.split(':').collect::<Vec<_>>().as_slice() {
        [name] => *name,
        ["arn", partition, "lambda", region, account, "layer", name]
            if partition.starts_with("aws") && !region.is_empty() && is_account(account) =>
        {
            name
        }
        _ => "",
    };
    if is_valid_layer_name(name) {
        Ok(name.to_string())
    } else {
        Err(LambdaError::new(
            ErrorKind::Validation,
            format!(
                "1 validation error detected: Value '{input}' at 'layerName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: \
                 (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
            ),
        ))
    }
}

/// A layer version ARN, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersionRef {
    /// Region in the ARN.
    pub region: String,
    /// Account in the ARN.
    pub account: String,
    /// Layer name.
    pub name: String,
    /// Version number.
    pub version: u64,
}

/// Parses `arn:aws:lambda:<region>:<account>:layer:<name>:<version>`;
/// `None` if it does not have that form.
pub fn parse_layer_version_arn(arn: &str) -> Option<LayerVersionRef> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "lambda", region, account, "layer", name, version]
            if partition.starts_with("aws")
                && !region.is_empty()
                && is_account(account)
                && is_valid_layer_name(name)
                && !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(LayerVersionRef {
                region: region.to_string(),
                account: account.to_string(),
                name: name.to_string(),
                version: version.parse().ok()?,
            })
        }
        _ => None,
    }
}

/// The `ValidationException` for a malformed ARN in a function's `Layers`.
pub fn invalid_layers_member(layers: &[String]) -> LambdaError {
    LambdaError::new(
        ErrorKind::Validation,
        format!(
            "1 validation error detected: Value '[{}]' at 'layers' failed to satisfy constraint: \
             Member must satisfy constraint: [Member must have length less than or equal to 2048, \
             Member must have length greater than or equal to 1, \
             Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}]",
            layers.join(", ")
        ),
    )
}

/// The `ValidationException` for a malformed `Arn` of GetLayerVersionByArn.
pub fn invalid_layer_version_arn(arn: &str) -> LambdaError {
    LambdaError::new(
        ErrorKind::Validation,
        format!(
            "1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}"
        ),
    )
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `LayerVersionContentInput`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LayerVersionContentInput {
    /// Base64 of the zip.
    pub zip_file: Option<String>,
    /// S3 bucket (not supported by Ignis).
    pub s3_bucket: Option<String>,
    /// S3 key (not supported by Ignis).
    pub s3_key: Option<String>,
    /// S3 object version (not supported by Ignis).
    pub s3_object_version: Option<String>,
    /// S3 storage mode (not supported by Ignis).
    pub s3_object_storage_mode: Option<String>,
}

/// The request body of PublishLayerVersion.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PublishLayerVersionRequest {
    /// Description.
    pub description: Option<String>,
    /// The zip.
    pub content: LayerVersionContentInput,
    /// Compatible runtimes.
    pub compatible_runtimes: Option<Vec<String>>,
    /// Compatible architectures.
    pub compatible_architectures: Option<Vec<String>>,
    /// License.
    pub license_info: Option<String>,
}

/// `LayerVersionContentOutput`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionContentOutput {
    /// URL from which the zip can be downloaded.
    pub location: String,
    /// Base64 SHA-256 of the zip.
    pub code_sha256: String,
    /// Zip size, bytes.
    pub code_size: u64,
}

/// `PublishLayerVersionResponse` / `GetLayerVersionResponse`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionResponse {
    /// The zip.
    pub content: LayerVersionContentOutput,
    /// The layer's ARN.
    pub layer_arn: String,
    /// The version's ARN.
    pub layer_version_arn: String,
    /// Description.
    pub description: String,
    /// When published.
    pub created_date: String,
    /// Version number.
    pub version: u64,
    /// Compatible runtimes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatible_runtimes: Vec<String>,
    /// Compatible architectures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatible_architectures: Vec<String>,
    /// License.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
}

/// `LayerVersionsListItem`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionsListItem {
    /// The version's ARN.
    pub layer_version_arn: String,
    /// Version number.
    pub version: u64,
    /// Description.
    pub description: String,
    /// When published.
    pub created_date: String,
    /// Compatible runtimes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatible_runtimes: Vec<String>,
    /// Compatible architectures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatible_architectures: Vec<String>,
    /// License.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
}

/// `LayersListItem`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct LayersListItem {
    /// Layer name.
    pub layer_name: String,
    /// The layer's ARN.
    pub layer_arn: String,
    /// The newest version matching the filters.
    pub latest_matching_version: LayerVersionsListItem,
}

/// The answer of ListLayers.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayersResponse {
    /// This page.
    pub layers: Vec<LayersListItem>,
    /// Marker for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// The answer of ListLayerVersions.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayerVersionsResponse {
    /// This page, newest first.
    pub layer_versions: Vec<LayerVersionsListItem>,
    /// Marker for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert_eq!(parse_layer_name("deps").unwrap(), "deps");
        assert_eq!(
            parse_layer_name("arn:aws:lambda:us-east-1:000000000000:layer:deps").unwrap(),
            "deps"
        );
        for bad in ["", "a b", "x:y", &"a".repeat(141)] {
            let e = parse_layer_name(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Validation, "{bad}");
        }
        let r =
            parse_layer_version_arn("arn:aws:lambda:us-east-1:000000000000:layer:deps:3").unwrap();
        assert_eq!((r.name.as_str(), r.version), ("deps", 3));
        for bad in [
            "arn:aws:lambda:us-east-1:000000000000:layer:deps",
            "arn:aws:lambda:us-east-1:000000000000:layer:deps:x",
            "arn:aws:lambda:us-east-1:0:layer:deps:1",
            "deps:1",
        ] {
            assert!(parse_layer_version_arn(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn filters() {
        let v = LayerVersionRecord {
            name: "l".into(),
            version: 2,
            description: String::new(),
            compatible_runtimes: vec!["python3.12".into()],
            compatible_architectures: vec![],
            license_info: None,
            code: CodeRef {
                sha256_hex: "aa".into(),
                sha256_b64: "qg==".into(),
                size: 1,
                unzipped_size: 1,
            },
            created_date: "2024-05-01T12:00:00.000+0000".into(),
        };
        assert!(v.matches(None, None));
        assert!(v.matches(Some("python3.12"), None));
        assert!(!v.matches(Some("nodejs22.x"), None));
        assert!(!v.matches(None, Some("x86_64")));
        assert_eq!(
            v.version_arn("us-east-1"),
            "arn:aws:lambda:us-east-1:000000000000:layer:l:2"
        );
        let json = serde_json::to_value(v.response("eu-west-1", "http://h/x.zip".into())).unwrap();
        assert_eq!(json["Content"]["CodeSha256"], "qg==");
        assert_eq!(json["Version"], 2);
        assert!(json.get("LicenseInfo").is_none());
        assert_eq!(json["CompatibleRuntimes"][0], "python3.12");
    }
}

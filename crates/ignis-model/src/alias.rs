//! Aliases: a name for a published version (or `$LATEST`), optionally
//! sending a weighted share of invocations to a second version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::arn;
use crate::version::Version;

/// An alias as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AliasRecord {
    /// The function's bare name.
    pub function: String,
    /// The alias name.
    pub name: String,
    /// The version it points at.
    pub version: Version,
    /// The description.
    pub description: String,
    /// A second version and the share of invocations it gets (0.0–1.0).
    pub additional: Option<(u64, f64)>,
    /// Changes on every update.
    pub revision_id: String,
}

impl AliasRecord {
    /// The alias's ARN.
    pub fn arn(&self, region: &str) -> String {
        format!(
            "{}:{}",
            arn::function_arn(region, &self.function),
            self.name
        )
    }

    /// Lambda's `AliasConfiguration`.
    pub fn configuration(&self, region: &str) -> AliasConfiguration {
        AliasConfiguration {
            alias_arn: self.arn(region),
            name: self.name.clone(),
            function_version: self.version.to_string(),
            description: self.description.clone(),
            routing_config: self.additional.map(|(v, w)| AliasRoutingConfiguration {
                additional_version_weights: BTreeMap::from([(v.to_string(), w)]),
            }),
            revision_id: self.revision_id.clone(),
        }
    }

    /// The version an invocation runs, given a uniform draw in [0, 1).
    pub fn pick(&self, draw: f64) -> Version {
        match self.additional {
            Some((v, weight)) if draw < weight => Version::Published(v),
            _ => self.version,
        }
    }
}

/// `AliasRoutingConfiguration`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AliasRoutingConfiguration {
    /// Version → weight.
    #[serde(default)]
    pub additional_version_weights: BTreeMap<String, f64>,
}

/// `AliasConfiguration`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfiguration {
    /// ARN.
    pub alias_arn: String,
    /// Name.
    pub name: String,
    /// The version.
    pub function_version: String,
    /// Description.
    pub description: String,
    /// Weighted routing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<AliasRoutingConfiguration>,
    /// Revision.
    pub revision_id: String,
}

/// `CreateAlias` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateAliasRequest {
    /// Name.
    pub name: String,
    /// Version.
    pub function_version: String,
    /// Description.
    pub description: Option<String>,
    /// Weighted routing.
    pub routing_config: Option<AliasRoutingConfiguration>,
}

/// `UpdateAlias` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateAliasRequest {
    /// Version.
    pub function_version: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Weighted routing.
    pub routing_config: Option<AliasRoutingConfiguration>,
    /// Precondition.
    pub revision_id: Option<String>,
}

/// `ListAliases` answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// Next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// The aliases.
    pub aliases: Vec<AliasConfiguration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_split_by_the_draw() {
        let a = AliasRecord {
            function: "f".into(),
            name: "live".into(),
            version: Version::Published(1),
            description: String::new(),
            additional: Some((2, 0.2)),
            revision_id: "r".into(),
        };
        assert_eq!(a.pick(0.1), Version::Published(2));
        assert_eq!(a.pick(0.2), Version::Published(1));
        assert_eq!(a.pick(0.9), Version::Published(1));
        let json = serde_json::to_value(a.configuration("us-east-1")).unwrap();
        assert_eq!(
            json["AliasArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:f:live"
        );
        assert_eq!(json["RoutingConfig"]["AdditionalVersionWeights"]["2"], 0.2);
    }
}

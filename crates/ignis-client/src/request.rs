//! Serializable request bodies of the management operations. The model's
//! request types are the server's (deserialize-only, strict); these are the
//! client's, leaving out every member that is not set.

use base64::Engine;
use ignis_model::wire::Environment;
use serde::Serialize;

/// `FunctionCode` carrying an inline zip, and the body of UpdateFunctionCode.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ZipCode {
    /// Base64 of the zip.
    pub zip_file: String,
}

impl ZipCode {
    /// Encodes the bytes of a zip archive.
    pub fn from_zip(zip: &[u8]) -> Self {
        Self {
            zip_file: base64::engine::general_purpose::STANDARD.encode(zip),
        }
    }
}

/// The body of CreateFunction.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunction {
    /// Name of the new function.
    pub function_name: String,
    /// Execution role ARN.
    pub role: String,
    /// The code.
    pub code: ZipCode,
    /// Runtime identifier, e.g. `provided.al2023`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Handler, e.g. `bootstrap`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Timeout, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Memory, MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<i64>,
    /// Environment variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

impl CreateFunction {
    /// A request creating `name` with `role` from the bytes of a zip; every
    /// other member is left for the server to default.
    pub fn new(name: impl Into<String>, role: impl Into<String>, zip: &[u8]) -> Self {
        Self {
            function_name: name.into(),
            role: role.into(),
            code: ZipCode::from_zip(zip),
            runtime: None,
            handler: None,
            description: None,
            timeout: None,
            memory_size: None,
            environment: None,
        }
    }
}

/// The body of UpdateFunctionConfiguration: only the members that are set
/// change.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionConfiguration {
    /// Execution role ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Runtime identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Handler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Timeout, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Memory, MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<i64>,
    /// Environment variables (replaces all of them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_is_pascal_case_without_unset_members() {
        let mut req = CreateFunction::new("hello", "arn:role", b"PK");
        req.runtime = Some("provided.al2023".into());
        req.environment = Some(Environment {
            variables: [("A".into(), "b".into())].into(),
        });
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(
            json,
            r#"{"FunctionName":"hello","Role":"arn:role","Code":{"ZipFile":"UEs="},"Runtime":"provided.al2023","Environment":{"Variables":{"A":"b"}}}"#
        );
    }

    #[test]
    fn create_body_parses_as_the_servers_request() {
        let mut req = CreateFunction::new("hello", "arn:role", b"PK");
        req.timeout = Some(5);
        let json = serde_json::to_string(&req).unwrap();
        let parsed: ignis_model::wire::CreateFunctionRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.timeout, Some(5));
        assert_eq!(parsed.code.zip_file.as_deref(), Some("UEs="));
    }

    #[test]
    fn update_body_parses_as_the_servers_request() {
        let req = UpdateFunctionConfiguration {
            memory_size: Some(256),
            ..Default::default()
        };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(json, r#"{"MemorySize":256}"#);
        let parsed: ignis_model::wire::UpdateFunctionConfigurationRequest =
            serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.memory_size, Some(256));
        let code = serde_json::to_string(&ZipCode::from_zip(b"PK")).unwrap();
        let parsed: ignis_model::wire::UpdateFunctionCodeRequest =
            serde_json::from_str(&code).unwrap();
        assert_eq!(parsed.zip_file.as_deref(), Some("UEs="));
    }
}

//! Runtime identifiers: which ones Lambda accepts today, and which of them are
//! custom runtimes (a `bootstrap` in the code) rather than managed ones.

use crate::error::LambdaError;

/// Runtime identifiers Lambda accepts for new functions.
pub const KNOWN_RUNTIMES: &[&str] = &[
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet8",
    "dotnet10",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// How a runtime starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// `bootstrap` from the code's root.
    Custom,
    /// A language runtime Lambda manages (Python, Node.js, ...).
    Managed,
}

/// Checks `runtime` is a known identifier and says how it starts.
pub fn classify(runtime: &str) -> Result<RuntimeKind, LambdaError> {
    if !KNOWN_RUNTIMES.contains(&runtime) {
        return Err(LambdaError::invalid(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            KNOWN_RUNTIMES.join(", ")
        )));
    }
    Ok(if runtime.starts_with("provided") {
        RuntimeKind::Custom
    } else {
        RuntimeKind::Managed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify("provided.al2023"), Ok(RuntimeKind::Custom));
        assert_eq!(classify("python3.13"), Ok(RuntimeKind::Managed));
        let e = classify("cobol85").unwrap_err();
        assert!(e.message.contains("python3.13"));
    }
}

/// One runtime as `GET /ignis/v1/runtimes` reports it (`ignis runtimes`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeInfo {
    /// The runtime identifier.
    pub runtime: String,
    /// Whether functions of this runtime can run on this node.
    pub available: bool,
    /// The runtime that really runs (a substitute when the exact version is
    /// missing; `bootstrap` for custom runtimes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_on: Option<String>,
    /// The interpreter's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    /// Why it cannot run, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer of `GET /ignis/v1/runtimes`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeList {
    /// Every runtime identifier Lambda accepts.
    pub runtimes: Vec<RuntimeInfo>,
}

//! Shapes the unit tests share.

use ignis_model::wire::FunctionConfiguration;

/// An Active, Successful configuration of `name`.
pub fn config(name: &str) -> FunctionConfiguration {
    serde_json::from_value(serde_json::json!({
        "FunctionName": name,
        "FunctionArn": format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        "Runtime": "provided.al2023", "Role": "arn:aws:iam::000000000000:role/ignis",
        "Handler": "bootstrap", "CodeSize": 2048, "Description": "", "Timeout": 3,
        "MemorySize": 128, "LastModified": "2024-05-01T12:00:00.000+0000", "CodeSha256": "abc=",
        "Version": "$LATEST", "Environment": {"Variables": {"A": "1"}},
        "TracingConfig": {"Mode": "PassThrough"}, "RevisionId": "r1", "State": "Active",
        "LastUpdateStatus": "Successful", "PackageType": "Zip", "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512}, "LoggingConfig": {"LogFormat": "Text"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"}
    }))
    .expect("fixture matches FunctionConfiguration")
}

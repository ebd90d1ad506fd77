//! The configurations deploy tools read on every plan, answered as Lambda
//! answers for a function that has none configured, and stored as put:
//! GetFunctionCodeSigningConfig (Ignis verifies no signatures, so a
//! function never has one), Get/PutRuntimeManagementConfig (the
//! `runtime-management` setting, per `$LATEST` or published version),
//! Get/PutFunctionRecursionConfig (the `recursion` setting of the
//! function), and Get/PutFunctionScalingConfig, which Lambda defines for
//! functions on capacity providers only and so refuses for every function
//! Ignis has.

use ignis_model::arn;
use ignis_model::settings::{
    FunctionScalingConfig, PutRuntimeManagementConfigRequest, RecursionConfig,
    RuntimeManagementConfig, RECURSION, RUNTIME_MANAGEMENT,
};
use ignis_model::{ErrorKind, LambdaError};
use ignis_store::StoreError;
use serde::Serialize;

use super::policy::PolicyTarget;
use super::Functions;
use crate::error::ApiError;

/// GetFunctionCodeSigningConfig's answer.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionCodeSigningConfig {
    /// Always empty: Ignis has no code signing configurations.
    #[serde(rename = "CodeSigningConfigArn")]
    pub code_signing_config_arn: String,
    /// The function's name.
    #[serde(rename = "FunctionName")]
    pub function_name: String,
}

impl Functions {
    /// GetFunctionCodeSigningConfig: none, for an existing function.
    pub async fn get_function_code_signing_config(
        &self,
        reference: &str,
    ) -> Result<FunctionCodeSigningConfig, ApiError> {
        let target = self.policy_target(reference, None).await?;
        Ok(FunctionCodeSigningConfig {
            code_signing_config_arn: String::new(),
            function_name: target.name,
        })
    }

    /// GetRuntimeManagementConfig: what was put for the function or
    /// version, else Lambda's default (`Auto`).
    pub async fn get_runtime_management_config(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<RuntimeManagementConfig, ApiError> {
        let (target, shown_arn) = self.runtime_target(reference, qualifier).await?;
        let stored = self
            .store
            .get_setting(&target.name, &target.qualifier, RUNTIME_MANAGEMENT)
            .await?;
        let mut config = match stored {
            Some(doc) => serde_json::from_str(&doc)
                .map_err(|e| ApiError::internal("read a runtime management configuration", &e))?,
            None => RuntimeManagementConfig::default_for(String::new()),
        };
        config.function_arn = shown_arn;
        Ok(config)
    }

    /// PutRuntimeManagementConfig.
    pub async fn put_runtime_management_config(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        req: PutRuntimeManagementConfigRequest,
    ) -> Result<RuntimeManagementConfig, ApiError> {
        let (target, shown_arn) = self.runtime_target(reference, qualifier).await?;
        let config = RuntimeManagementConfig::from_request(req)?;
        let doc = serde_json::to_string(&config).expect("a configuration always serializes");
        self.store
            .edit_setting(
                &target.name,
                &target.qualifier,
                RUNTIME_MANAGEMENT,
                Box::new(move |_| Ok(Some(doc))),
            )
            .await
            .map_err(refused)?;
        tracing::info!(resource = %target.arn, mode = %config.update_runtime_on, "runtime management configuration put");
        Ok(RuntimeManagementConfig {
            function_arn: shown_arn,
            ..config
        })
    }

    /// The function or published version a runtime management request
    /// names (`$LATEST` or a version number; not an alias), and the ARN its
    /// answer shows: qualified when the request named a qualifier.
    async fn runtime_target(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(PolicyTarget, String), ApiError> {
        let named = qualifier
            .map(str::to_owned)
            .or(arn::parse_function_ref(reference)?.qualifier);
        if let Some(q) = named.as_deref() {
            let version = q == "$LATEST" || q.bytes().all(|b| b.is_ascii_digit());
            if !version {
                // Checked for existence first, so a missing alias is
                // reported as missing.
                self.policy_target(reference, qualifier).await?;
                return Err(LambdaError::invalid(format!(
                    "The runtime management configuration applies to $LATEST or a published version, not to the alias {q}."
                ))
                .into());
            }
        }
        let target = self.policy_target(reference, qualifier).await?;
        let shown = match named {
            Some(q) => format!("{}:{q}", self.arn(&target.name)),
            None => self.arn(&target.name),
        };
        Ok((target, shown))
    }

    /// GetFunctionRecursionConfig: what was put, else `Terminate`.
    pub async fn get_recursion_config(&self, reference: &str) -> Result<RecursionConfig, ApiError> {
        let name = self.unqualified_function(reference).await?;
        match self.store.get_setting(&name, "", RECURSION).await? {
            Some(doc) => serde_json::from_str(&doc)
                .map_err(|e| ApiError::internal("read a recursion configuration", &e)),
            None => Ok(RecursionConfig::default_config()),
        }
    }

    /// PutFunctionRecursionConfig.
    pub async fn put_recursion_config(
        &self,
        reference: &str,
        config: RecursionConfig,
    ) -> Result<RecursionConfig, ApiError> {
        let name = self.unqualified_function(reference).await?;
        config.check()?;
        let doc = serde_json::to_string(&config).expect("a configuration always serializes");
        self.store
            .edit_setting(&name, "", RECURSION, Box::new(move |_| Ok(Some(doc))))
            .await
            .map_err(refused)?;
        tracing::info!(function = %name, recursive_loop = %config.recursive_loop, "recursion configuration put");
        Ok(config)
    }

    /// Get/PutFunctionScalingConfig: the function and the version must
    /// exist; then the model's `InvalidParameterValueException`, since
    /// scaling configurations belong to functions on capacity providers
    /// (Lambda Managed Instances), which Ignis does not run.
    pub async fn function_scaling_config(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        config: Option<&FunctionScalingConfig>,
    ) -> Result<std::convert::Infallible, ApiError> {
        let Some(q) = qualifier else {
            return Err(validation(
                "Value null at 'qualifier' failed to satisfy constraint: Member must not be null",
            ));
        };
        let published = !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit());
        if !published && q != "$LATEST.PUBLISHED" {
            return Err(validation(&format!(
                "Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST\\.PUBLISHED|[0-9]+)"
            )));
        }
        if let Some(c) = config {
            c.check()?;
        }
        let name = self.unqualified_function(reference).await?;
        let arn = format!("{}:{q}", self.arn(&name));
        if !published {
            return Err(ApiError(LambdaError::function_not_found(&arn)));
        }
        self.policy_target(&name, Some(q)).await?;
        Err(LambdaError::invalid(format!(
            "{arn} is not a Lambda Managed Instances function: scaling configurations apply only to functions on a capacity provider, which Ignis does not run."
        ))
        .into())
    }

    /// The name of an existing function named without a qualifier (the
    /// model's `UnqualifiedFunctionName`).
    async fn unqualified_function(&self, reference: &str) -> Result<String, ApiError> {
        let r = arn::parse_function_ref(reference)?;
        if r.qualifier.is_some() {
            return Err(validation(&format!(
                "Value '{reference}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)"
            )));
        }
        Ok(self.policy_target(&r.name, None).await?.name)
    }
}

fn refused(e: StoreError) -> ApiError {
    match e {
        StoreError::Refused(e) => ApiError(e),
        other => other.into(),
    }
}

fn validation(detail: &str) -> ApiError {
    ApiError(LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: {detail}"),
    ))
}

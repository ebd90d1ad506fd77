//! The management operations on functions: validation, code storage, the
//! store and the router kept in step, and the Pending → Active lifecycle.
//!
//! A create or update stores the function as `Pending` / `InProgress`, then a
//! background step makes sure the code is unpacked on this node and marks it
//! `Active` / `Successful`, as Lambda's waiters expect. Layer operations
//! live in [`layers`].

pub mod concurrency;
pub mod event_invoke;
pub mod layers;
pub mod policy;
pub mod provisioned;
pub mod settings;
pub mod urls;
pub mod versions;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use ignis_model::arn::{self, parse_function_ref};
use ignis_model::function::{lambda_timestamp, CodeRef};
use ignis_model::layer::FunctionLayer;
use ignis_model::limits::{self, ZIP_MAX};
use ignis_model::wire::{
    AccountLimit, AccountSettings, AccountUsage, CreateFunctionRequest, FunctionConfiguration,
    UpdateFunctionCodeRequest, UpdateFunctionConfigurationRequest,
};
use ignis_model::{
    runtime, ErrorKind, FunctionRecord, FunctionState, LambdaError, LastUpdateStatus,
};
use ignis_router::{FunctionSpec, Router};
use ignis_store::{CodeStore, Store};

use crate::error::ApiError;

/// Times an activation (or a tag edit) follows a record that keeps
/// changing under it.
const ACTIVATE_ATTEMPTS: usize = 8;

/// Management of functions over the store, the code store and the router.
pub struct Functions {
    store: Arc<dyn Store>,
    code: CodeStore,
    router: Arc<Router>,
    region: String,
    /// The function URLs the front serves.
    urls: urls::UrlTable,
}

impl Functions {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn Store>,
        code: CodeStore,
        router: Arc<Router>,
        region: String,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            code,
            router,
            region,
            urls: urls::UrlTable::default(),
        })
    }

    /// The region in ARNs.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The router.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// The code store.
    pub fn code(&self) -> &CodeStore {
        &self.code
    }

    /// The function ARN for `name`.
    pub fn arn(&self, name: &str) -> String {
        arn::function_arn(&self.region, name)
    }

    /// Resolves a path parameter (name or ARN, and qualifier) to the name of
    /// a `$LATEST` function, without reading the store: a version or alias
    /// qualifier names no `$LATEST` function (the operations that take one
    /// resolve it with [`Functions::qualified`]).
    pub fn resolve_name(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<String, ApiError> {
        match self.qualified(reference, qualifier)? {
            (
                name,
                None | Some(ignis_model::version::Qualifier::Version(ignis_model::Version::Latest)),
            ) => Ok(name),
            (name, Some(q)) => Err(ApiError(LambdaError::function_not_found(&format!(
                "{}:{}",
                self.arn(&name),
                q.as_string()
            )))),
        }
    }

    /// Resolves a path parameter to a stored `$LATEST` function.
    pub async fn resolve(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionRecord, ApiError> {
        let name = self.resolve_name(reference, qualifier)?;
        self.store
            .get_function(&name)
            .await?
            .ok_or_else(|| ApiError(LambdaError::function_not_found(&self.arn(&name))))
    }

    /// Why the router does not run `name` (at `qualifier`): still Pending
    /// or Failed, or absent.
    pub async fn not_runnable(&self, name: &str, qualifier: Option<&str>) -> ApiError {
        if let Some(q) = qualifier {
            return match self.resolve_version(name, Some(q)).await {
                Err(e) => e,
                Ok(_) => ApiError(LambdaError::function_not_found(&format!(
                    "{}:{q}",
                    self.arn(name)
                ))),
            };
        }
        match self.store.get_function(name).await {
            Ok(Some(record)) => crate::error::invoke_error(
                ignis_router::InvokeError::NotReady(record.state),
                &self.arn(name),
                (0, 0),
            ),
            Ok(None) => ApiError(LambdaError::function_not_found(&self.arn(name))),
            Err(e) => e.into(),
        }
    }

    /// CreateFunction.
    pub async fn create(
        self: &Arc<Self>,
        req: CreateFunctionRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let r = parse_function_ref(&req.function_name)?;
        if r.qualifier.is_some() {
            return Err(LambdaError::invalid(
                "FunctionName must not carry a qualifier when creating a function",
            )
            .into());
        }
        refuse_unsupported(req.first_unsupported())?;
        let publish = req.publish == Some(true);
        if req.package_type.as_deref().is_some_and(|p| p != "Zip") {
            return Err(LambdaError::invalid(
                "PackageType Image is not supported by Ignis yet; deploy a zip",
            )
            .into());
        }
        let (Some(rt), Some(handler)) = (req.runtime.as_deref(), req.handler.as_deref()) else {
            return Err(LambdaError::invalid(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            )
            .into());
        };
        runtime::classify(rt)?;
        limits::check_handler(handler)?;
        limits::check_role(&req.role)?;
        let timeout =
            limits::check_timeout(req.timeout.unwrap_or(limits::TIMEOUT_DEFAULT_S as i64))?;
        let memory =
            limits::check_memory(req.memory_size.unwrap_or(limits::MEMORY_DEFAULT_MB as i64))?;
        let ephemeral = limits::check_ephemeral(req.ephemeral_storage.map_or(512, |e| e.size))?;
        let environment = req.environment.map(|e| e.variables).unwrap_or_default();
        limits::check_environment(&environment)?;
        let tags = req.tags.unwrap_or_default();
        limits::check_tags(&tags)?;
        let description = req.description.unwrap_or_default();
        limits::check_description(&description)?;
        let architectures = req
            .architectures
            .unwrap_or_else(|| vec!["x86_64".to_string()]);
        limits::check_architectures(&architectures)?;
        let zip = code_bytes(
            req.code.zip_file.as_deref(),
            req.code.s3_bucket.is_some() || req.code.image_uri.is_some(),
        )?;
        if self.store.get_function(&r.name).await?.is_some() {
            return Err(LambdaError::new(
                ErrorKind::ResourceConflict,
                format!("Function already exist: {}", r.name),
            )
            .into());
        }
        let layers = self
            .resolve_layers(req.layers.as_deref().unwrap_or_default())
            .await?;
        let code = self.put_code(zip).await?;
        layers::check_combined_size(&code, &layers)?;
        let mut record = FunctionRecord {
            name: r.name.clone(),
            runtime: Some(rt.to_string()),
            role: req.role,
            handler: Some(handler.to_string()),
            description,
            timeout,
            memory_size: memory,
            environment,
            ephemeral_storage: ephemeral,
            architectures,
            tags,
            code,
            last_modified: now(),
            revision_id: new_revision(),
            state: FunctionState::Pending,
            state_reason: Some("The function is being created.".into()),
            state_reason_code: Some("Creating".into()),
            last_update_status: LastUpdateStatus::InProgress,
            last_update_status_reason: Some("The function is being created.".into()),
            last_update_status_reason_code: Some("Creating".into()),
            logging: logging(req.logging_config, None, &r.name)?,
            tracing_mode: req
                .tracing_config
                .and_then(|t| t.mode)
                .unwrap_or_else(|| "PassThrough".into()),
            dead_letter_target_arn: req.dead_letter_config.and_then(|d| d.target_arn),
            kms_key_arn: req.kms_key_arn,
            layers,
            version: ignis_model::Version::Latest,
        };
        // What it will run on shows in CreateFunction's answer already.
        if let (Some(note), Some(code)) = self.runtime_note(&record) {
            if code == "RuntimeSubstituted" {
                record.state_reason = Some(format!("The function is being created. {note}"));
            }
        }
        self.store.create_function(&record).await?;
        tracing::info!(function = %record.name, code = %record.code.sha256_hex, "function created");
        if publish {
            return self.publish_when_active(record).await;
        }
        self.activate_later(record.clone());
        Ok(record.configuration(&self.region))
    }

    /// UpdateFunctionCode.
    pub async fn update_code(
        self: &Arc<Self>,
        reference: &str,
        req: UpdateFunctionCodeRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let mut record = self.resolve(reference, None).await?;
        let publish = req.publish == Some(true)
            || req
                .publish_to
                .as_ref()
                .is_some_and(ignis_model::wire::is_set);
        check_revision(&record, req.revision_id.as_deref())?;
        self.check_not_updating(&record)?;
        if let Some(archs) = &req.architectures {
            limits::check_architectures(archs)?;
        }
        let zip = code_bytes(
            req.zip_file.as_deref(),
            req.s3_bucket.is_some() || req.image_uri.is_some(),
        )?;
        let code = self.put_code(zip).await?;
        layers::check_combined_size(&code, &record.layers)?;
        let expected = record.revision_id.clone();
        record.code = code;
        if let Some(archs) = req.architectures {
            record.architectures = archs;
        }
        if req.dry_run == Some(true) {
            return Ok(record.configuration(&self.region));
        }
        if publish {
            let updated = self.commit(record, &expected).await?;
            return self.publish_when_active(updated).await;
        }
        self.commit_update(record, &expected).await
    }

    /// UpdateFunctionConfiguration.
    pub async fn update_configuration(
        self: &Arc<Self>,
        reference: &str,
        req: UpdateFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let mut record = self.resolve(reference, None).await?;
        refuse_unsupported(req.first_unsupported())?;
        check_revision(&record, req.revision_id.as_deref())?;
        self.check_not_updating(&record)?;
        let expected = record.revision_id.clone();
        if let Some(role) = req.role {
            limits::check_role(&role)?;
            record.role = role;
        }
        if let Some(h) = req.handler {
            limits::check_handler(&h)?;
            record.handler = Some(h);
        }
        if let Some(d) = req.description {
            limits::check_description(&d)?;
            record.description = d;
        }
        if let Some(t) = req.timeout {
            record.timeout = limits::check_timeout(t)?;
        }
        if let Some(m) = req.memory_size {
            record.memory_size = limits::check_memory(m)?;
        }
        if let Some(env) = req.environment {
            limits::check_environment(&env.variables)?;
            record.environment = env.variables;
        }
        if let Some(rt) = req.runtime {
            runtime::classify(&rt)?;
            record.runtime = Some(rt);
        }
        if let Some(e) = req.ephemeral_storage {
            record.ephemeral_storage = limits::check_ephemeral(e.size)?;
        }
        if let Some(d) = req.dead_letter_config {
            record.dead_letter_target_arn = d.target_arn.filter(|a| !a.is_empty());
        }
        if let Some(k) = req.kms_key_arn {
            record.kms_key_arn = Some(k).filter(|k| !k.is_empty());
        }
        if let Some(t) = req.tracing_config.and_then(|t| t.mode) {
            record.tracing_mode = t;
        }
        if req.logging_config.is_some() {
            record.logging = logging(req.logging_config, Some(&record.logging), &record.name)?;
        }
        if let Some(arns) = req.layers {
            record.layers = self.resolve_layers(&arns).await?;
            layers::check_combined_size(&record.code, &record.layers)?;
        }
        self.commit_update(record, &expected).await
    }

    /// DeleteFunction.
    pub async fn delete(&self, reference: &str, qualifier: Option<&str>) -> Result<(), ApiError> {
        // As on Lambda: a qualifier names a version to delete, and $LATEST
        // is not one (a version-pruning script must not wipe the function).
        let (name, q) = self.qualified(reference, qualifier)?;
        if let Some(q) = q {
            return self.delete_version(&name, q).await;
        }
        let record = self.resolve(reference, qualifier).await?;
        self.store.delete_function(&record.name).await?;
        self.router.remove(&record.name);
        self.urls.forget_function(&record.name);
        tracing::info!(function = %record.name, "function deleted");
        Ok(())
    }

    /// ListFunctions page.
    pub async fn list(
        &self,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<(Vec<FunctionConfiguration>, Option<String>), ApiError> {
        let mut page = self.store.list_functions(marker, max_items + 1).await?;
        let next = (page.len() > max_items).then(|| {
            page.truncate(max_items);
            page.last().map(|r| r.name.clone())
        });
        let configs = page.iter().map(|r| r.configuration(&self.region)).collect();
        Ok((configs, next.flatten()))
    }

    /// GetAccountSettings.
    pub async fn account_settings(&self) -> Result<AccountSettings, ApiError> {
        let usage = self.store.usage().await?;
        Ok(AccountSettings {
            account_limit: AccountLimit {
                total_code_size: 80_530_636_800,
                code_size_unzipped: limits::UNZIPPED_MAX,
                code_size_zipped: ZIP_MAX as u64,
                concurrent_executions: self.router.concurrency().limit(),
                unreserved_concurrent_executions: self.router.concurrency().unreserved(),
            },
            account_usage: AccountUsage {
                total_code_size: usage.total_code_size,
                function_count: usage.function_count,
            },
        })
    }

    /// Replaces the tags of a function (TagResource / UntagResource). As on
    /// Lambda, tags are not configuration: the revision stays, an update in
    /// progress goes on, running environments stay. The result is checked
    /// against Lambda's tag rules; tags another request changed meanwhile
    /// are read again and edited anew.
    pub async fn set_tags(
        &self,
        name: &str,
        edit: impl Fn(&mut BTreeMap<String, String>),
    ) -> Result<(), ApiError> {
        let mut attempts = 0;
        loop {
            let record = self.resolve(name, None).await?;
            let mut tags = record.tags.clone();
            edit(&mut tags);
            limits::check_tags(&tags)?;
            match self
                .store
                .replace_tags(&record.name, &record.tags, &tags)
                .await
            {
                Ok(()) => return Ok(()),
                Err(ignis_store::StoreError::RevisionMismatch { .. })
                    if attempts < ACTIVATE_ATTEMPTS =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn commit_update(
        self: &Arc<Self>,
        record: FunctionRecord,
        expected: &str,
    ) -> Result<FunctionConfiguration, ApiError> {
        let record = self.commit(record, expected).await?;
        self.activate_later(record.clone());
        Ok(record.configuration(&self.region))
    }

    /// Stores an update of `$LATEST` as in progress (its activation follows).
    async fn commit(
        &self,
        mut record: FunctionRecord,
        expected: &str,
    ) -> Result<FunctionRecord, ApiError> {
        record.last_modified = now();
        record.revision_id = new_revision();
        record.last_update_status = LastUpdateStatus::InProgress;
        record.last_update_status_reason = Some("The function is being created.".into());
        record.last_update_status_reason_code = Some("Creating".into());
        self.store.update_function(&record, expected).await?;
        tracing::info!(function = %record.name, "function updated");
        Ok(record)
    }

    fn check_not_updating(&self, record: &FunctionRecord) -> Result<(), ApiError> {
        if record.last_update_status == LastUpdateStatus::InProgress
            || record.state == FunctionState::Pending
        {
            return Err(LambdaError::new(
                ErrorKind::ResourceConflict,
                format!(
                    "The operation cannot be performed at this time. An update is in progress for resource: {}",
                    self.arn(&record.name)
                ),
            )
            .into());
        }
        Ok(())
    }

    async fn put_code(&self, zip: Vec<u8>) -> Result<CodeRef, ApiError> {
        let code = self.code.clone();
        tokio::task::spawn_blocking(move || code.put_zip(&zip))
            .await
            .map_err(|e| ApiError::internal("unpack the code", &e))?
            .map_err(ApiError::from)
    }

    fn spec(&self, record: FunctionRecord) -> Result<FunctionSpec, ApiError> {
        let (code_dir, opt_dir) = prepare(&self.code, &record.code, &record.layers)?;
        Ok(FunctionSpec {
            record,
            code_dir,
            opt_dir,
        })
    }

    /// Finishes a create or update in the background: the code is made ready
    /// on this node, then the function becomes Active / Successful.
    fn activate_later(self: &Arc<Self>, record: FunctionRecord) {
        let this = self.clone();
        tokio::spawn(async move {
            let name = record.name.clone();
            if let Err(e) = this.activate(record).await {
                tracing::error!(function = %name, error = ?e.0, "failed to activate function");
            }
        });
    }

    /// Makes a Pending or InProgress function Active and Successful (also
    /// used at start-up for functions a stopped node left half-done). A
    /// record changed meanwhile by something that leaves the update in
    /// progress (TagResource, UntagResource) is activated in its new
    /// revision: nothing else would finish the update.
    pub async fn activate(&self, mut record: FunctionRecord) -> Result<(), ApiError> {
        for _ in 0..ACTIVATE_ATTEMPTS {
            match self.activate_revision(record).await? {
                Some(current) => record = current,
                None => return Ok(()),
            }
        }
        Err(ApiError::internal(
            "activate the function",
            &"its record kept changing",
        ))
    }

    /// One attempt of [`Self::activate`]: `Some(current)` when the record
    /// changed meanwhile and its update is still to finish.
    async fn activate_revision(
        &self,
        mut record: FunctionRecord,
    ) -> Result<Option<FunctionRecord>, ApiError> {
        let expected = record.revision_id.clone();
        let code = self.code.clone();
        let code_ref = record.code.clone();
        let layers = record.layers.clone();
        let unpacked = tokio::task::spawn_blocking(move || prepare(&code, &code_ref, &layers))
            .await
            .map_err(|e| ApiError::internal("unpack the code", &e))?;
        match unpacked {
            Ok((code_dir, opt_dir)) => {
                record.state = FunctionState::Active;
                (record.state_reason, record.state_reason_code) = self.runtime_note(&record);
                record.last_update_status = LastUpdateStatus::Successful;
                record.last_update_status_reason = None;
                record.last_update_status_reason_code = None;
                // The router learns first, so a caller that sees Active in
                // the store can invoke at once.
                let name = record.name.clone();
                self.router.upsert(FunctionSpec {
                    record: record.clone(),
                    code_dir,
                    opt_dir,
                });
                match self.store.update_function(&record, &expected).await {
                    Ok(()) => Ok(None),
                    Err(ignis_store::StoreError::NotFound(_)) => {
                        self.router.remove(&name);
                        Ok(None)
                    }
                    // Changed meanwhile: converge on what the store holds now.
                    Err(ignis_store::StoreError::RevisionMismatch { .. }) => {
                        match self.store.get_function(&name).await? {
                            Some(current)
                                if current.state == FunctionState::Active
                                    && current.last_update_status
                                        == LastUpdateStatus::Successful =>
                            {
                                self.router.upsert(self.spec(current)?);
                                Ok(None)
                            }
                            // Failed stays failed; anything else is still
                            // to finish, in its new revision.
                            Some(current) if current.state == FunctionState::Failed => Ok(None),
                            Some(current) => Ok(Some(current)),
                            None => {
                                self.router.remove(&name);
                                Ok(None)
                            }
                        }
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => {
                record.state = FunctionState::Failed;
                record.state_reason =
                    Some(format!("The function's code could not be prepared: {e}"));
                record.state_reason_code = Some("InternalError".into());
                record.last_update_status = LastUpdateStatus::Failed;
                self.store.update_function(&record, &expected).await?;
                Err(ApiError::internal("prepare the function's code", &e))
            }
        }
    }

    /// A state reason when the function's runtime runs on another version
    /// or cannot run on this node.
    fn runtime_note(&self, record: &FunctionRecord) -> (Option<String>, Option<String>) {
        let runtime = record.runtime.as_deref().unwrap_or_default();
        match self
            .router
            .catalog()
            .resolve(runtime, std::path::Path::new("/opt"), None)
        {
            Ok(ignis_runtimes::Resolved::Managed(l)) => match &l.substitute {
                Some(actual) => (
                    Some(format!(
                        "{runtime} is not installed on this node; the function runs on {actual} ({})",
                        l.interpreter_name()
                    )),
                    Some("RuntimeSubstituted".into()),
                ),
                None => (None, None),
            },
            Ok(ignis_runtimes::Resolved::Custom) => (None, None),
            Err(e) => (
                Some(format!("The function cannot run on this node: {e}")),
                Some("InvalidRuntime".into()),
            ),
        }
    }

    /// Registers every stored function with the router (start-up).
    pub async fn load_all(&self) -> Result<usize, ApiError> {
        self.load_reservations().await?;
        let mut marker: Option<String> = None;
        let mut count = 0;
        loop {
            let page = self.store.list_functions(marker.as_deref(), 500).await?;
            let Some(last) = page.last() else { break };
            marker = Some(last.name.clone());
            for record in page {
                count += 1;
                self.load_versions(&record.name).await?;
                if record.state == FunctionState::Active
                    && record.last_update_status != LastUpdateStatus::InProgress
                {
                    match self.spec(record.clone()) {
                        Ok(spec) => self.router.upsert(spec),
                        Err(e) => {
                            tracing::error!(function = %record.name, error = ?e.0, "function code unavailable")
                        }
                    }
                } else if record.state != FunctionState::Failed {
                    self.activate(record).await?;
                }
            }
        }
        self.load_provisioned().await?;
        Ok(count)
    }

    /// Deletes code no function refers to (start-up only: a create in flight
    /// holds code not yet referenced).
    pub async fn collect_garbage(&self) -> Result<usize, ApiError> {
        let keep = self.store.referenced_code().await?;
        let code = self.code.clone();
        tokio::task::spawn_blocking(move || code.collect_garbage(&keep))
            .await
            .map_err(|e| ApiError::internal("collect unused code", &e))?
            .map_err(ApiError::from)
    }
}

fn refuse_unsupported(name: Option<&'static str>) -> Result<(), ApiError> {
    match name {
        Some(n) => Err(LambdaError::invalid(format!(
            "{n} is not supported by Ignis yet; remove it from the request"
        ))
        .into()),
        None => Ok(()),
    }
}

/// Makes the function's code and the union of its layers ready on this
/// node (blocking): the code directory and, with layers, the `/opt` one.
fn prepare(
    code: &CodeStore,
    code_ref: &CodeRef,
    layers: &[FunctionLayer],
) -> Result<(std::path::PathBuf, Option<std::path::PathBuf>), ignis_store::CodeError> {
    let code_dir = code.ensure_unpacked(code_ref)?;
    let opt_dir = if layers.is_empty() {
        None
    } else {
        let refs: Vec<CodeRef> = layers.iter().map(|l| l.code.clone()).collect();
        Some(code.ensure_opt(&refs)?)
    };
    Ok((code_dir, opt_dir))
}

fn check_revision(record: &FunctionRecord, expected: Option<&str>) -> Result<(), ApiError> {
    match expected {
        Some(r) if r != record.revision_id => Err(LambdaError::new(
            ErrorKind::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
        .into()),
        _ => Ok(()),
    }
}

/// Decodes `ZipFile` and checks the 50 MB limit.
fn code_bytes(zip_b64: Option<&str>, other_source: bool) -> Result<Vec<u8>, ApiError> {
    let Some(b64) = zip_b64 else {
        let msg = if other_source {
            "Ignis takes code as ZipFile only: S3 and image code locations are not supported"
        } else {
            "Please provide a source for function code."
        };
        return Err(LambdaError::invalid(msg).into());
    };
    let zip = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| LambdaError::invalid(format!("ZipFile is not valid base64: {e}")))?;
    if zip.len() > ZIP_MAX {
        return Err(LambdaError::new(
            ErrorKind::RequestTooLarge,
            format!(
                "Zipped code must be at most {ZIP_MAX} bytes (50 MB); got {} bytes",
                zip.len()
            ),
        )
        .into());
    }
    Ok(zip)
}

fn logging(
    given: Option<ignis_model::wire::LoggingConfig>,
    current: Option<&ignis_model::wire::LoggingConfig>,
    name: &str,
) -> Result<ignis_model::wire::LoggingConfig, LambdaError> {
    let mut l = current.cloned().unwrap_or_default();
    if let Some(g) = given {
        ignis_model::limits::check_logging(&g)?;
        l.log_format = g.log_format.or(l.log_format);
        l.application_log_level = g.application_log_level.or(l.application_log_level);
        l.system_log_level = g.system_log_level.or(l.system_log_level);
        l.log_group = g.log_group.or(l.log_group);
    }
    l.log_format.get_or_insert_with(|| "Text".to_string());
    l.log_group
        .get_or_insert_with(|| format!("/aws/lambda/{name}"));
    Ok(l)
}

fn now() -> String {
    lambda_timestamp(chrono::Utc::now())
}

fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

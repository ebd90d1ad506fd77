//! Function URLs' configurations: Create/Get/Update/Delete/ListFunctionUrlConfig(s)
//! on `$LATEST` or an alias (never a version, as on Lambda), each the `url`
//! setting of its qualifier (`""` for `$LATEST`), with a url-id fixed for
//! the configuration's life. The front serves URLs from [`UrlTable`], the
//! in-memory copy these operations keep in step (loaded at start-up by
//! [`Functions::load_urls`]), so a URL request reads nothing from the store
//! to find its function.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ignis_model::arn;
use ignis_model::{ErrorKind, LambdaError};
use ignis_store::StoreError;
use serde::{Deserialize, Serialize};

use super::Functions;
use crate::error::ApiError;

pub use crate::url_invoke::cors::Cors;

/// The settings kind of a function URL's configuration.
pub const URL: &str = "url";

/// How callers of a URL are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthType {
    /// Anyone the resource policy lets call it (`lambda:InvokeFunctionUrl`
    /// for `*` with `lambda:FunctionUrlAuthType: NONE`).
    #[serde(rename = "NONE")]
    None,
    /// SigV4-signed callers the identity and resource policies allow.
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

/// How a URL's answer is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvokeMode {
    /// The whole answer at once (Invoke).
    #[serde(rename = "BUFFERED")]
    Buffered,
    /// Streamed as the function writes it (InvokeWithResponseStream).
    #[serde(rename = "RESPONSE_STREAM")]
    ResponseStream,
}

/// Create/UpdateFunctionUrlConfig's body (`Qualifier` is in the query).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UrlConfigRequest {
    /// `NONE` or `AWS_IAM` (required on create).
    pub auth_type: Option<String>,
    /// The CORS settings.
    pub cors: Option<Cors>,
    /// `BUFFERED` (the default) or `RESPONSE_STREAM`.
    pub invoke_mode: Option<String>,
}

/// What is stored per qualifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    url_id: String,
    auth_type: AuthType,
    cors: Option<Cors>,
    invoke_mode: InvokeMode,
    creation_time: String,
    last_modified_time: String,
}

/// A URL configuration as the operations answer it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlConfig {
    /// The URL, as it works.
    pub function_url: String,
    /// The function's ARN, qualified for an alias.
    pub function_arn: String,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: AuthType,
    /// The CORS settings, when any were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// When it was created.
    pub creation_time: String,
    /// When it was last changed (not in CreateFunctionUrlConfig's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// `BUFFERED` or `RESPONSE_STREAM`.
    pub invoke_mode: InvokeMode,
}

/// A URL as the front serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlEntry {
    /// Its id, the first label of its host name.
    pub url_id: String,
    /// The function.
    pub function: String,
    /// The alias; `None`: `$LATEST`.
    pub qualifier: Option<String>,
    /// How callers are checked.
    pub auth_type: AuthType,
    /// The CORS settings.
    pub cors: Option<Cors>,
    /// How answers are sent.
    pub invoke_mode: InvokeMode,
}

/// Where URLs answer: `http://<url-id>.lambda-url.<region>.<domain>:<port>/`.
#[derive(Debug, Clone)]
struct UrlBase {
    domain: String,
    port: u16,
}

/// Every URL by its id, and where they answer.
pub struct UrlTable {
    by_id: RwLock<HashMap<String, Arc<UrlEntry>>>,
    base: RwLock<UrlBase>,
}

impl Default for UrlTable {
    fn default() -> Self {
        Self {
            by_id: RwLock::default(),
            base: RwLock::new(UrlBase {
                domain: "localhost".into(),
                port: 80,
            }),
        }
    }
}

impl UrlTable {
    /// The URL with id `url_id`.
    pub fn get(&self, url_id: &str) -> Option<Arc<UrlEntry>> {
        self.by_id
            .read()
            .expect("URL table lock poisoned")
            .get(url_id)
            .cloned()
    }

    /// URLs answer on `<url-id>.lambda-url.<region>.<domain>` at `port`.
    pub fn set_base(&self, domain: &str, port: u16) {
        *self.base.write().expect("URL table lock poisoned") = UrlBase {
            domain: domain.to_string(),
            port,
        };
    }

    /// The URL of `url_id`, as it works.
    pub fn url(&self, url_id: &str, region: &str) -> String {
        let base = self.base.read().expect("URL table lock poisoned");
        format!(
            "http://{url_id}.lambda-url.{region}.{}:{}/",
            base.domain, base.port
        )
    }

    fn put(&self, entry: UrlEntry) {
        let mut map = self.by_id.write().expect("URL table lock poisoned");
        // A qualifier has one URL: an old entry of it goes.
        map.retain(|_, e| !(e.function == entry.function && e.qualifier == entry.qualifier));
        map.insert(entry.url_id.clone(), Arc::new(entry));
    }

    /// Forgets the URL of `function` at `qualifier` (`None`: `$LATEST`).
    pub fn forget(&self, function: &str, qualifier: Option<&str>) {
        self.by_id
            .write()
            .expect("URL table lock poisoned")
            .retain(|_, e| !(e.function == function && e.qualifier.as_deref() == qualifier));
    }

    /// Forgets every URL of `function` (it was deleted).
    pub fn forget_function(&self, function: &str) {
        self.by_id
            .write()
            .expect("URL table lock poisoned")
            .retain(|_, e| e.function != function);
    }
}

/// Where a URL configuration belongs.
struct UrlTarget {
    name: String,
    /// `""` for `$LATEST`, else the alias.
    qualifier: String,
    arn: String,
}

/// A new url-id: 32 lower-case letters and digits, as Lambda's.
fn new_url_id() -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    a.as_bytes()
        .iter()
        .chain(b.as_bytes())
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect()
}

/// Lambda's timestamps of URL configurations (ISO 8601, microseconds).
fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn no_url() -> ApiError {
    ApiError(LambdaError::new(
        ErrorKind::ResourceNotFound,
        "The resource you requested does not exist.",
    ))
}

fn enum_error(member: &str, value: &str, set: &str) -> LambdaError {
    LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{set}]"),
    )
}

fn parse_auth_type(value: &str) -> Result<AuthType, LambdaError> {
    match value {
        "NONE" => Ok(AuthType::None),
        "AWS_IAM" => Ok(AuthType::AwsIam),
        other => Err(enum_error("authType", other, "AWS_IAM, NONE")),
    }
}

fn parse_invoke_mode(value: &str) -> Result<InvokeMode, LambdaError> {
    match value {
        "BUFFERED" => Ok(InvokeMode::Buffered),
        "RESPONSE_STREAM" => Ok(InvokeMode::ResponseStream),
        other => Err(enum_error("invokeMode", other, "BUFFERED, RESPONSE_STREAM")),
    }
}

/// The `Qualifier` of a URL: an alias name (`$LATEST` stands for none); a
/// version number fails the model's pattern, as on Lambda.
fn check_url_qualifier(q: &str) -> Result<(), LambdaError> {
    let fits = !q.is_empty()
        && q.len() <= 128
        && !q.bytes().all(|b| b.is_ascii_digit())
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        return Ok(());
    }
    Err(LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"),
    ))
}

/// A store error of a URL edit: the edit's own refusal as it is.
fn edit_error(e: StoreError, arn: &str) -> ApiError {
    match e {
        StoreError::Refused(e) => ApiError(e),
        StoreError::NotFound(_) => ApiError(LambdaError::function_not_found(arn)),
        other => other.into(),
    }
}

fn decode(document: &str) -> Result<Stored, LambdaError> {
    serde_json::from_str(document).map_err(|_| {
        LambdaError::new(
            ErrorKind::Service,
            "the stored function URL configuration could not be read",
        )
    })
}

impl Functions {
    /// The function and alias a URL operation names, both checked to exist.
    async fn url_target(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<UrlTarget, ApiError> {
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
        let named = named.filter(|q| *q != ignis_model::version::LATEST);
        if let Some(q) = named {
            check_url_qualifier(q)?;
        }
        let function_arn = self.arn(&r.name);
        if self.store.get_function(&r.name).await?.is_none() {
            return Err(ApiError(LambdaError::function_not_found(&function_arn)));
        }
        let Some(q) = named else {
            return Ok(UrlTarget {
                name: r.name,
                qualifier: String::new(),
                arn: function_arn,
            });
        };
        let arn = format!("{function_arn}:{q}");
        if self.store.get_alias(&r.name, q).await?.is_none() {
            return Err(ApiError(LambdaError::function_not_found(&arn)));
        }
        Ok(UrlTarget {
            name: r.name,
            qualifier: q.to_string(),
            arn,
        })
    }

    /// CreateFunctionUrlConfig.
    pub async fn create_url(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        req: UrlConfigRequest,
    ) -> Result<FunctionUrlConfig, ApiError> {
        let target = self.url_target(reference, qualifier).await?;
        let auth_type = match req.auth_type.as_deref() {
            Some(a) => parse_auth_type(a)?,
            None => {
                return Err(LambdaError::new(
                    ErrorKind::Validation,
                    "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null",
                )
                .into())
            }
        };
        let invoke_mode = match req.invoke_mode.as_deref() {
            Some(m) => parse_invoke_mode(m)?,
            None => InvokeMode::Buffered,
        };
        if let Some(cors) = &req.cors {
            cors.validate()?;
        }
        let created = now();
        let stored = Stored {
            url_id: new_url_id(),
            auth_type,
            cors: req.cors,
            invoke_mode,
            creation_time: created.clone(),
            last_modified_time: created,
        };
        let document = serde_json::to_string(&stored)
            .map_err(|e| ApiError::internal("encode the configuration", &e))?;
        let arn = target.arn.clone();
        self.store
            .edit_setting(
                &target.name,
                &target.qualifier,
                URL,
                Box::new(move |current| match current {
                    Some(_) => Err(LambdaError::new(
                        ErrorKind::ResourceConflict,
                        format!("Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"),
                    )),
                    None => Ok(Some(document)),
                }),
            )
            .await
            .map_err(|e| edit_error(e, &target.arn))?;
        self.urls.put(entry_of(&target, &stored));
        tracing::info!(function = %target.name, qualifier = %target.qualifier, url_id = %stored.url_id, "function URL created");
        let mut config = self.url_config(&target, stored);
        config.last_modified_time = None;
        Ok(config)
    }

    /// GetFunctionUrlConfig.
    pub async fn get_url(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionUrlConfig, ApiError> {
        let target = self.url_target(reference, qualifier).await?;
        let document = self
            .store
            .get_setting(&target.name, &target.qualifier, URL)
            .await?
            .ok_or_else(no_url)?;
        Ok(self.url_config(&target, decode(&document)?))
    }

    /// UpdateFunctionUrlConfig: what the request names changes (a `Cors`
    /// replaces the whole CORS configuration); the url-id stays.
    pub async fn update_url(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        req: UrlConfigRequest,
    ) -> Result<FunctionUrlConfig, ApiError> {
        let target = self.url_target(reference, qualifier).await?;
        let auth_type = req.auth_type.as_deref().map(parse_auth_type).transpose()?;
        let invoke_mode = req
            .invoke_mode
            .as_deref()
            .map(parse_invoke_mode)
            .transpose()?;
        if let Some(cors) = &req.cors {
            cors.validate()?;
        }
        let cors = req.cors;
        let written = self
            .store
            .edit_setting(
                &target.name,
                &target.qualifier,
                URL,
                Box::new(move |current| {
                    let Some(current) = current else {
                        return Err(no_url().0);
                    };
                    let mut stored = decode(current)?;
                    stored.auth_type = auth_type.unwrap_or(stored.auth_type);
                    stored.invoke_mode = invoke_mode.unwrap_or(stored.invoke_mode);
                    if cors.is_some() {
                        stored.cors = cors;
                    }
                    stored.last_modified_time = now();
                    serde_json::to_string(&stored)
                        .map(Some)
                        .map_err(|e| LambdaError::new(ErrorKind::Service, e.to_string()))
                }),
            )
            .await
            .map_err(|e| edit_error(e, &target.arn))?;
        let stored = decode(written.as_deref().ok_or_else(no_url)?)?;
        self.urls.put(entry_of(&target, &stored));
        tracing::info!(function = %target.name, qualifier = %target.qualifier, "function URL updated");
        Ok(self.url_config(&target, stored))
    }

    /// DeleteFunctionUrlConfig.
    pub async fn delete_url(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(), ApiError> {
        let target = self.url_target(reference, qualifier).await?;
        self.store
            .edit_setting(
                &target.name,
                &target.qualifier,
                URL,
                Box::new(|current| match current {
                    Some(_) => Ok(None),
                    None => Err(no_url().0),
                }),
            )
            .await
            .map_err(|e| edit_error(e, &target.arn))?;
        let q = (!target.qualifier.is_empty()).then_some(target.qualifier.as_str());
        self.urls.forget(&target.name, q);
        tracing::info!(function = %target.name, qualifier = %target.qualifier, "function URL deleted");
        Ok(())
    }

    /// ListFunctionUrlConfigs, ordered by ARN (the marker is the last ARN
    /// listed).
    pub async fn list_urls(
        &self,
        reference: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<FunctionUrlConfig>, Option<String>), ApiError> {
        let target = self.url_target(reference, None).await?;
        let mut configs: Vec<FunctionUrlConfig> = Vec::new();
        for s in self.store.list_settings(URL).await? {
            if s.function != target.name {
                continue;
            }
            let Ok(stored) = decode(&s.document) else {
                continue;
            };
            let arn = match s.qualifier.as_str() {
                "" => target.arn.clone(),
                q => format!("{}:{q}", target.arn),
            };
            let t = UrlTarget {
                name: s.function,
                qualifier: s.qualifier,
                arn,
            };
            configs.push(self.url_config(&t, stored));
        }
        configs.sort_by(|a, b| a.function_arn.cmp(&b.function_arn));
        configs.retain(|c| marker.is_none_or(|m| c.function_arn.as_str() > m));
        let next = (configs.len() > max).then(|| configs[max - 1].function_arn.clone());
        configs.truncate(max);
        Ok((configs, next))
    }

    /// Fills the URL table from the store (start-up); where URLs answer
    /// is set before ([`UrlTable::set_base`]).
    pub async fn load_urls(&self) -> Result<usize, ApiError> {
        let mut count = 0;
        for s in self.store.list_settings(URL).await? {
            let Ok(stored) = decode(&s.document) else {
                tracing::warn!(function = %s.function, qualifier = %s.qualifier, "unreadable function URL configuration");
                continue;
            };
            let target = UrlTarget {
                arn: String::new(),
                name: s.function,
                qualifier: s.qualifier,
            };
            self.urls.put(entry_of(&target, &stored));
            count += 1;
        }
        Ok(count)
    }

    /// The URLs this server answers.
    pub fn urls(&self) -> &UrlTable {
        &self.urls
    }

    fn url_config(&self, target: &UrlTarget, stored: Stored) -> FunctionUrlConfig {
        FunctionUrlConfig {
            function_url: self.urls.url(&stored.url_id, &self.region),
            function_arn: target.arn.clone(),
            auth_type: stored.auth_type,
            cors: stored.cors,
            creation_time: stored.creation_time,
            last_modified_time: Some(stored.last_modified_time),
            invoke_mode: stored.invoke_mode,
        }
    }
}

fn entry_of(target: &UrlTarget, stored: &Stored) -> UrlEntry {
    UrlEntry {
        url_id: stored.url_id.clone(),
        function: target.name.clone(),
        qualifier: (!target.qualifier.is_empty()).then(|| target.qualifier.clone()),
        auth_type: stored.auth_type,
        cors: stored.cors.clone(),
        invoke_mode: stored.invoke_mode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_ids_are_32_lower_case_alphanumerics_and_differ() {
        let a = new_url_id();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_ne!(a, new_url_id());
    }

    #[test]
    fn qualifiers_are_aliases_never_versions() {
        assert!(check_url_qualifier("live").is_ok());
        assert!(check_url_qualifier("v1_2-b").is_ok());
        for bad in ["1", "42", "", "a:b", "$LATEST", &"a".repeat(129)] {
            let e = check_url_qualifier(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Validation, "{bad}");
        }
    }

    #[test]
    fn enums_are_lambdas() {
        assert_eq!(parse_auth_type("NONE").unwrap(), AuthType::None);
        assert_eq!(parse_auth_type("AWS_IAM").unwrap(), AuthType::AwsIam);
        assert!(parse_auth_type("none").is_err());
        assert_eq!(
            parse_invoke_mode("RESPONSE_STREAM").unwrap(),
            InvokeMode::ResponseStream
        );
        let e = parse_invoke_mode("STREAMING").unwrap_err();
        assert!(
            e.message.contains("[BUFFERED, RESPONSE_STREAM]"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_table_keeps_one_url_per_qualifier_and_forgets() {
        let t = UrlTable::default();
        t.set_base("example.test", 8080);
        let entry = |id: &str, q: Option<&str>| UrlEntry {
            url_id: id.into(),
            function: "f".into(),
            qualifier: q.map(str::to_owned),
            auth_type: AuthType::None,
            cors: None,
            invoke_mode: InvokeMode::Buffered,
        };
        t.put(entry("a", None));
        t.put(entry("b", Some("live")));
        t.put(entry("c", None));
        assert!(t.get("a").is_none());
        assert_eq!(t.get("c").unwrap().qualifier, None);
        t.forget("f", Some("live"));
        assert!(t.get("b").is_none());
        t.forget_function("f");
        assert!(t.get("c").is_none());
        assert_eq!(
            t.url("abc", "eu-west-1"),
            "http://abc.lambda-url.eu-west-1.example.test:8080/"
        );
    }
}

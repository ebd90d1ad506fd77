//! [`Client`]: the connection settings and the management operations
//! (`/2015-03-31/functions`).

use std::time::Duration;

use ignis_model::wire::{FunctionConfiguration, GetFunctionResponse, ListFunctionsResponse};
use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use crate::error::{api_error, error_type};
use crate::request::{CreateFunction, UpdateFunctionConfiguration, ZipCode};
use crate::ClientError;

/// The API version path segment of the management and Invoke API.
const API_VERSION: &str = "2015-03-31";
/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of one Ignis server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    base: Url,
    endpoint: String,
    /// Signs every request (SigV4, service `lambda`), when set.
    signer: Option<ignis_identity::sigv4::Signer>,
}

/// The key a client signs its requests with.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
    /// The region signed for.
    pub region: String,
}

impl Client {
    /// A client of the server at `endpoint`, e.g. `http://127.0.0.1:9000`;
    /// `http://` is assumed when no scheme is given.
    pub fn new(endpoint: &str) -> Result<Self, ClientError> {
        let invalid = || ClientError::InvalidEndpoint {
            endpoint: endpoint.to_string(),
        };
        let given = endpoint.trim();
        let full = if given.contains("://") {
            given.to_string()
        } else {
            format!("http://{given}")
        };
        let base = Url::parse(&full).map_err(|_| invalid())?;
        if base.scheme() != "http" || base.cannot_be_a_base() || base.host().is_none() {
            return Err(invalid());
        }
        let full = base.as_str().trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|source| ClientError::Send {
                operation: "client setup",
                source,
            })?;
        Ok(Self {
            http,
            base,
            endpoint: full,
            signer: None,
        })
    }

    /// The same client, signing every request with `credentials` (SigV4,
    /// as the AWS SDKs sign Lambda's API), which a server in `--auth
    /// enforce` mode requires.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.signer = Some(ignis_identity::sigv4::Signer {
            credentials: ignis_identity::sigv4::SigningCredentials {
                access_key_id: credentials.access_key_id,
                secret_access_key: credentials.secret_access_key,
                session_token: credentials.session_token,
            },
            region: credentials.region,
            service: "lambda".to_string(),
        });
        self
    }

    /// Builds `req`, signed when the client has credentials.
    fn prepare(
        &self,
        operation: &'static str,
        req: RequestBuilder,
    ) -> Result<reqwest::Request, ClientError> {
        let mut request = req
            .build()
            .map_err(|source| ClientError::Send { operation, source })?;
        let Some(signer) = &self.signer else {
            return Ok(request);
        };
        let url = request.url().clone();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        if let Ok(value) = reqwest::header::HeaderValue::from_str(&host) {
            request.headers_mut().insert(reqwest::header::HOST, value);
        }
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let method = request.method().as_str().to_string();
        let (path, query) = (
            url.path().to_string(),
            url.query().unwrap_or("").to_string(),
        );
        // A session token that is no header value cannot be sent: the
        // request goes unsigned and the server says why.
        let _ = signer.sign(
            &method,
            &path,
            &query,
            request.headers_mut(),
            &body,
            chrono::Utc::now(),
        );
        Ok(request)
    }

    /// The endpoint as the client uses it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// CreateFunction: `POST /2015-03-31/functions`.
    pub async fn create_function(
        &self,
        request: &CreateFunction,
    ) -> Result<FunctionConfiguration, ClientError> {
        let req = self
            .http
            .post(self.url(&[API_VERSION, "functions"]))
            .json(request);
        self.json("CreateFunction", req).await
    }

    /// GetFunction: `GET /2015-03-31/functions/{name}`.
    pub async fn get_function(&self, name: &str) -> Result<GetFunctionResponse, ClientError> {
        let req = self.http.get(self.function_url(name, &[]));
        self.json("GetFunction", req).await
    }

    /// GetFunctionConfiguration: `GET /2015-03-31/functions/{name}/configuration`.
    pub async fn get_function_configuration(
        &self,
        name: &str,
    ) -> Result<FunctionConfiguration, ClientError> {
        let req = self.http.get(self.function_url(name, &["configuration"]));
        self.json("GetFunctionConfiguration", req).await
    }

    /// ListFunctions: one page, starting after `marker`.
    pub async fn list_functions(
        &self,
        marker: Option<&str>,
        max_items: Option<u32>,
    ) -> Result<ListFunctionsResponse, ClientError> {
        let mut url = self.url(&[API_VERSION, "functions", ""]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(marker) = marker {
                query.append_pair("Marker", marker);
            }
            if let Some(max) = max_items {
                query.append_pair("MaxItems", &max.to_string());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        self.json("ListFunctions", self.http.get(url)).await
    }

    /// ListFunctions, following `NextMarker` until the last page.
    pub async fn list_all_functions(&self) -> Result<Vec<FunctionConfiguration>, ClientError> {
        let mut functions = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self.list_functions(marker.as_deref(), None).await?;
            functions.extend(page.functions);
            match page.next_marker {
                Some(next) if !next.is_empty() && marker.as_ref() != Some(&next) => {
                    marker = Some(next)
                }
                _ => return Ok(functions),
            }
        }
    }

    /// UpdateFunctionCode with the bytes of a zip.
    pub async fn update_function_code(
        &self,
        name: &str,
        zip: &[u8],
    ) -> Result<FunctionConfiguration, ClientError> {
        let body = ZipCode::from_zip(zip);
        let req = self
            .http
            .put(self.function_url(name, &["code"]))
            .json(&body);
        self.json("UpdateFunctionCode", req).await
    }

    /// UpdateFunctionConfiguration.
    pub async fn update_function_configuration(
        &self,
        name: &str,
        request: &UpdateFunctionConfiguration,
    ) -> Result<FunctionConfiguration, ClientError> {
        let req = self
            .http
            .put(self.function_url(name, &["configuration"]))
            .json(request);
        self.json("UpdateFunctionConfiguration", req).await
    }

    /// DeleteFunction.
    pub async fn delete_function(&self, name: &str) -> Result<(), ClientError> {
        let req = self.http.delete(self.function_url(name, &[]));
        self.send("DeleteFunction", req).await.map(drop)
    }

    /// The URL of `segments` below the endpoint, each percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("Client::new accepts only URLs that can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// The URL of `/2015-03-31/functions/{name}/{rest}`.
    pub(crate) fn function_url(&self, name: &str, rest: &[&str]) -> Url {
        let mut segments = vec![API_VERSION, "functions", name];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// Sends `req`; a non-2xx answer becomes [`ClientError::Api`].
    pub(crate) async fn send(
        &self,
        operation: &'static str,
        req: RequestBuilder,
    ) -> Result<Response, ClientError> {
        let request = self.prepare(operation, req)?;
        let resp = self
            .http
            .execute(request)
            .await
            .map_err(|source| self.transport_error(operation, source))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let kind = error_type(resp.headers()).map(str::to_string);
        let body = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Read { operation, source })?;
        Err(api_error(status, kind.as_deref(), &body))
    }

    /// Sends `req` and decodes the JSON it answers with.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        req: RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = self.send(operation, req).await?;
        let body = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Read { operation, source })?;
        serde_json::from_slice(&body).map_err(|source| ClientError::Decode { operation, source })
    }

    fn transport_error(&self, operation: &'static str, source: reqwest::Error) -> ClientError {
        if source.is_connect() {
            ClientError::Unreachable {
                endpoint: self.endpoint.clone(),
            }
        } else {
            ClientError::Send { operation, source }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_gets_a_scheme_and_loses_its_slash() {
        let c = Client::new("127.0.0.1:9000/").unwrap();
        assert_eq!(c.endpoint(), "http://127.0.0.1:9000");
        assert_eq!(c.url(&["a", ""]).as_str(), "http://127.0.0.1:9000/a/");
    }

    #[test]
    fn bad_endpoints_are_refused() {
        for bad in ["https://x", "http://", "::::", "ftp://x"] {
            let err = Client::new(bad).unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidEndpoint { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn names_are_one_path_segment() {
        let c = Client::new("http://h:1/prefix").unwrap();
        let url = c.function_url("a/b?c", &["code"]);
        assert_eq!(
            url.as_str(),
            "http://h:1/prefix/2015-03-31/functions/a%2Fb%3Fc/code"
        );
    }
}

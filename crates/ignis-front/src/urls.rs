//! Function URLs at the front: a request whose host is
//! `<url-id>.lambda-url.<region>.<domain>[:port]` is a URL invocation,
//! whatever the server's `--auth` mode (a URL's `AuthType` is its own).
//! The URL is found in the API's in-memory table; a CORS preflight is
//! answered from its configuration; then the caller is let in — `NONE`:
//! the resource policy must allow anyone `lambda:InvokeFunctionUrl` with
//! `lambda:FunctionUrlAuthType` `NONE`; `AWS_IAM`: a SigV4 signature
//! (service `lambda`) and the identity and resource policies, with
//! `lambda:FunctionUrlAuthType` `AWS_IAM` — and `ignis_api::url_invoke`
//! runs the function. Refusals are Lambda's 403 `{"Message":"Forbidden"}`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http::{header, request::Parts, HeaderValue, StatusCode};
use ignis_api::functions::urls::{AuthType, UrlEntry};
use ignis_api::url_invoke::{self, answer, cors, IamCaller, UrlCall, URL_PAYLOAD_MAX};
use ignis_identity::policy::{PolicyDocument, PolicyKind};
use ignis_identity::sigv4::{Authorization, RequestParts};
use ignis_model::arn::ACCOUNT_ID;
use ignis_protocol::AwsError;

use crate::{FrontFuture, Inner};

/// The action a URL invocation is authorized as.
const ACTION: &str = "lambda:InvokeFunctionUrl";
/// The condition key naming the URL's auth type.
const AUTH_TYPE_KEY: &str = "lambda:FunctionUrlAuthType";

/// The url-id of a request addressed to a function URL's host name: a
/// header lookup and a substring search, so other requests pay nothing.
pub(crate) fn url_id(req: &Request) -> Option<String> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())?;
    let (id, _) = host.split_once(".lambda-url.")?;
    let fits = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    fits.then(|| id.to_owned())
}

/// Lambda's refusal of a URL request.
fn forbidden() -> Response {
    answer::message(StatusCode::FORBIDDEN, "Forbidden")
}

/// The service of the `--url-listen` listener: function URLs only.
#[derive(Clone)]
pub struct UrlsOnly {
    pub(crate) inner: Arc<Inner>,
}

impl tower::Service<Request> for UrlsOnly {
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            Ok(match url_id(&req) {
                Some(id) => inner.serve_url(&id, req).await,
                None => answer::message(StatusCode::NOT_FOUND, "Not Found"),
            })
        })
    }
}

impl Inner {
    /// Serves a request to the URL `url_id`.
    pub(crate) async fn serve_url(&self, url_id: &str, req: Request) -> Response {
        let Some(entry) = self.functions.urls().get(url_id) else {
            return answer::message(StatusCode::NOT_FOUND, "Not Found");
        };
        let source_ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "127.0.0.1".to_string(), |c| c.0.ip().to_string());
        let (parts, body) = req.into_parts();
        if let Some(resp) = cors::preflight(entry.cors.as_ref(), &parts.method, &parts.headers) {
            return resp;
        }
        let Ok(body) = axum::body::to_bytes(body, URL_PAYLOAD_MAX).await else {
            // The rest of the body is not read: the connection cannot be
            // reused, and the client is told so.
            let mut resp = url_invoke::too_large();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return resp;
        };
        let iam = match entry.auth_type {
            AuthType::None => self.allow_public(&entry).await.map(|()| None),
            AuthType::AwsIam => self.allow_signed(&entry, &parts, &body).await.map(Some),
        };
        let Ok(iam) = iam else {
            return forbidden();
        };
        let call = UrlCall {
            entry: &entry,
            parts: &parts,
            body: &body,
            source_ip: &source_ip,
            iam: iam.as_ref(),
        };
        url_invoke::invoke(&self.functions, call).await
    }

    /// The resource policy of the URL's function or alias, and its ARN.
    async fn url_policy(&self, entry: &UrlEntry) -> (Option<PolicyDocument>, String) {
        let arn = ignis_model::arn::function_arn(&self.region, &entry.function);
        let arn = match &entry.qualifier {
            Some(q) => format!("{arn}:{q}"),
            None => arn,
        };
        let policy = self
            .functions
            .get_policy(&entry.function, entry.qualifier.as_deref())
            .await
            .ok()
            .and_then(|p| PolicyDocument::parse(&p.policy, PolicyKind::Resource).ok());
        (policy, arn)
    }

    /// `NONE`: the resource policy must let anyone invoke the URL.
    async fn allow_public(&self, entry: &UrlEntry) -> Result<(), ()> {
        let (policy, arn) = self.url_policy(entry).await;
        self.decide_in(
            None,
            &[(AUTH_TYPE_KEY, "NONE")],
            ACTION,
            &arn,
            policy.as_ref(),
            deny,
        )
        .await
        .map_err(
            |e| tracing::debug!(url = %entry.url_id, error = %e.message, "function URL refused"),
        )
    }

    /// `AWS_IAM`: a valid SigV4 signature for `lambda`, and the caller's
    /// and the function's policies allow it.
    async fn allow_signed(
        &self,
        entry: &UrlEntry,
        parts: &Parts,
        body: &[u8],
    ) -> Result<IamCaller, ()> {
        let refuse = |why: &dyn std::fmt::Display| {
            tracing::debug!(url = %entry.url_id, error = %why, "function URL refused");
        };
        let rp = RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
        };
        let auth = Authorization::parse(&rp).map_err(|e| refuse(&e))?;
        auth.check_service("lambda").map_err(|e| refuse(&e))?;
        let caller = self
            .auth
            .authenticate(&rp, body, chrono::Utc::now())
            .await
            .map_err(|e| refuse(&e))?;
        let (policy, arn) = self.url_policy(entry).await;
        self.decide_in(
            Some(&caller),
            &[(AUTH_TYPE_KEY, "AWS_IAM")],
            ACTION,
            &arn,
            policy.as_ref(),
            deny,
        )
        .await
        .map_err(|e| refuse(&e.message))?;
        Ok(IamCaller {
            access_key: auth.credential.access_key_id,
            account_id: ACCOUNT_ID.to_string(),
            caller_id: caller.user_id(),
            cognito_identity: None,
            principal_org_id: None,
            user_arn: caller.arn(),
            user_id: caller.user_id(),
        })
    }
}

fn deny(message: String) -> AwsError {
    AwsError::sender(StatusCode::FORBIDDEN, "AccessDeniedException", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn id_of(host: &str) -> Option<String> {
        let req = Request::builder()
            .uri("/")
            .header("host", host)
            .body(Body::empty())
            .unwrap();
        url_id(&req)
    }

    #[test]
    fn url_hosts_name_their_url() {
        assert_eq!(
            id_of("abc123.lambda-url.us-east-1.localhost:9000").as_deref(),
            Some("abc123")
        );
        assert_eq!(
            id_of("abc123.lambda-url.eu-west-1.example.com").as_deref(),
            Some("abc123")
        );
        for other in [
            "127.0.0.1:9000",
            "localhost",
            ".lambda-url.x",
            "ABC.lambda-url.x",
            "a.b.lambda-url.x",
        ] {
            assert_eq!(id_of(other), None, "{other}");
        }
    }
}

//! Ignis's HTTP API: Lambda's management and Invoke operations in Lambda's
//! exact REST-JSON wire format, and Ignis's own endpoints under `/ignis/v1`.
//! Handlers parse, call [`functions::Functions`] or the router, and map the
//! typed error once in [`error::ApiError`].
#![deny(missing_docs)]

pub mod body;
pub mod error;
pub mod functions;
mod headers;
pub mod routes;
pub mod url_invoke;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ignis_events::AsyncInvoker;
use ignis_model::{ErrorKind, LambdaError};

use error::ApiError;
use functions::Functions;
use routes::{invoke, layers, logs, management as m, runtimes};

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// Function management.
    pub functions: Arc<Functions>,
    /// The async invocation queue.
    pub events: AsyncInvoker,
    /// Event source mappings.
    pub sources: ignis_sources::Mappings,
}

/// The API: Invoke requests go straight to their handler
/// ([`invoke_target`]), everything else through the router of [`routes`].
pub fn app(state: AppState) -> Api {
    Api {
        router: router(state.clone()),
        state,
    }
}

/// The API as a service (see [`app`]).
#[derive(Clone)]
pub struct Api {
    router: axum::Router,
    state: AppState,
}

/// An answer of [`Api`].
type ApiFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl tower::Service<Request> for Api {
    type Response = Response;
    type Error = Infallible;
    type Future = ApiFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match invoke_target(&req) {
            Some(name) => {
                let name = name.to_owned();
                let state = self.state.clone();
                Box::pin(async move {
                    let no_qualifier = Query(m::QualifierQuery { qualifier: None });
                    let resp = invoke::invoke(State(state), Path(name), no_qualifier, req)
                        .await
                        .into_response();
                    Ok(with_request_id(resp))
                })
            }
            None => Box::pin(tower::Service::call(&mut self.router, req)),
        }
    }
}

/// The function name of `POST /2015-03-31/functions/{name}/invocations`
/// when the request needs nothing of the router: no query string and a name
/// that percent-decoding leaves as it is. Invoke is the hot path, and
/// routing, extracting and mapping through axum cost about as many
/// instructions as the handler itself (callgrind, warm invoke); any other
/// shape of the request goes through the router, which answers it the same
/// way.
fn invoke_target(req: &Request) -> Option<&str> {
    if req.method() != Method::POST || req.uri().query().is_some() {
        return None;
    }
    let name = req
        .uri()
        .path()
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.' | b'$');
    (!name.is_empty() && name.bytes().all(plain)).then_some(name)
}

/// The routes of every operation.
fn router(state: AppState) -> axum::Router {
    const F: &str = "/2015-03-31/functions";
    const L: &str = "/2018-10-31/layers";
    axum::Router::new()
        .route(F, post(m::create).get(m::list))
        .route(&format!("{F}/"), post(m::create).get(m::list))
        .route(&format!("{F}/{{name}}"), get(m::get).delete(m::delete))
        .route(
            &format!("{F}/{{name}}/configuration"),
            get(m::get_configuration).put(m::update_configuration),
        )
        .route(
            &format!("{F}/{{name}}/code"),
            axum::routing::put(m::update_code),
        )
        .route(&format!("{F}/{{name}}/invocations"), post(invoke::invoke))
        .route(
            "/2014-11-13/functions/{name}/invoke-async",
            post(invoke::invoke_async),
        )
        .route(
            "/2014-11-13/functions/{name}/invoke-async/",
            post(invoke::invoke_async),
        )
        .route(L, get(layers::list_or_find))
        .route(&format!("{L}/"), get(layers::list_or_find))
        .route(
            &format!("{L}/{{name}}/versions"),
            post(layers::publish).get(layers::list_versions),
        )
        .route(
            &format!("{L}/{{name}}/versions/{{version}}"),
            get(layers::get).delete(layers::delete),
        )
        .route("/2016-08-19/account-settings", get(m::account_settings))
        .route("/2016-08-19/account-settings/", get(m::account_settings))
        .route(
            "/2017-03-31/tags/{arn}",
            get(m::list_tags).post(m::tag).delete(m::untag),
        )
        .route("/ignis/v1/functions/{name}/logs", get(logs::read))
        .route("/ignis/v1/code/{file}", get(m::code_zip))
        .route("/ignis/v1/runtimes", get(runtimes::list))
        .merge(routes::versions::routes())
        .merge(routes::concurrency::routes())
        .merge(routes::provisioned::routes())
        .merge(routes::event_invoke::routes())
        .merge(routes::policy::routes())
        .merge(routes::settings::routes())
        .merge(routes::streaming::routes())
        .merge(routes::urls::routes())
        .merge(routes::event_sources::routes())
        .fallback(unknown_operation)
        .method_not_allowed_fallback(unknown_operation)
        .layer(DefaultBodyLimit::disable())
        .layer(tower::util::MapResponseLayer::new(
            lambda_shaped as fn(Response) -> Response,
        ))
        .with_state(state)
}

/// A request that fits no route Ignis serves. A request for another AWS
/// service (told by its signature's scope, `X-Amz-Target`, `Action` or an
/// S3 host) is answered in that service's own error shape, naming the
/// service and operation (`SQS SendMessage is not served by Ignis`), so its
/// SDK reports it plainly; anything else is a Lambda
/// `UnknownOperationException` naming the Lambda operation its method and
/// path fit, if any, so that a tool does not read an operation Ignis lacks
/// as "the function does not exist".
async fn unknown_operation(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let form = form_body(&parts.headers, body).await;
    let view = ignis_protocol::RequestView {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        form: form.as_deref(),
    };
    let what = ignis_protocol::recognize(&view);
    let lambda = what.service.is_some_and(|s| s.signing_name == "lambda");
    if !lambda {
        let mut buf = uuid::Uuid::encode_buffer();
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
        let resp = ignis_protocol::AwsError::not_served(&what).render(what.service, id);
        tracing::debug!(service = %what.describe(), "request for a service Ignis does not serve");
        let mut resp = resp.map(axum::body::Body::from);
        resp.extensions_mut().insert(Shaped);
        return resp;
    }
    let message = match &what.operation {
        Some(op) => format!(
            "Lambda {op} is not served by Ignis ({} {})",
            parts.method,
            parts.uri.path()
        ),
        None => format!(
            "Unknown operation: {} {} (not an operation of the Lambda API that Ignis implements)",
            parts.method,
            parts.uri.path()
        ),
    };
    ApiError(LambdaError::new(ErrorKind::UnknownOperation, message)).into_response()
}

/// Marks an answer already in its service's error shape.
#[derive(Clone, Copy)]
struct Shaped;

/// The body of a form-encoded request (the query protocol's `Action`
/// travels there), up to 64 KB; `None` for any other body.
async fn form_body(headers: &axum::http::HeaderMap, body: axum::body::Body) -> Option<Vec<u8>> {
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return None;
    }
    axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .map(|b| b.to_vec())
}

/// Every answer of the router in Lambda's shape, with an `x-amzn-RequestId`.
fn lambda_shaped(resp: Response) -> Response {
    with_request_id(error_shape(resp))
}

/// An error answer without `X-Amzn-ErrorType` comes from axum itself (an
/// extractor's rejection: a query string it cannot parse, a path that is
/// not UTF-8), as plain text; it becomes a Lambda error that botocore
/// reads, with axum's text as the message.
fn error_shape(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || resp
            .headers()
            .contains_key(ignis_model::headers::ERROR_TYPE)
        || resp.extensions().get::<Shaped>().is_some()
    {
        return resp;
    }
    // The nearest Lambda type, keeping the status class.
    let kind = match status.as_u16() {
        404 | 405 => ErrorKind::UnknownOperation,
        413 => ErrorKind::RequestTooLarge,
        415 => ErrorKind::UnsupportedMediaType,
        s if s >= 500 => ErrorKind::Service,
        _ => ErrorKind::Validation,
    };
    let message = first_frame_text(resp.into_body());
    let message = if message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("invalid request")
            .to_string()
    } else {
        message
    };
    ApiError(LambdaError::new(kind, message)).into_response()
}

/// The text of a body that is ready at once (axum's rejections are one
/// in-memory chunk); empty for anything else.
fn first_frame_text(mut body: axum::body::Body) -> String {
    use axum::body::HttpBody;
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match Pin::new(&mut body).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame
            .into_data()
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(1024)]).into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Gives every response an `x-amzn-RequestId` (an invocation's is its own).
/// A plain function mapped over the response: no boxed future per request,
/// unlike `middleware::from_fn`.
fn with_request_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key(headers::REQUEST_ID) {
        let mut buf = uuid::Uuid::encode_buffer();
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
        if let Ok(v) = HeaderValue::from_str(id) {
            resp.headers_mut().insert(headers::REQUEST_ID, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod invoke_target_tests {
    use super::*;

    fn target(method: Method, uri: &str) -> Option<String> {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        invoke_target(&req).map(str::to_owned)
    }

    #[test]
    fn only_plain_invokes_skip_the_router() {
        let p = "/2015-03-31/functions";
        assert_eq!(
            target(Method::POST, &format!("{p}/echo/invocations")).as_deref(),
            Some("echo")
        );
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:my-fn_2";
        assert_eq!(
            target(Method::POST, &format!("{p}/{arn}/invocations")).as_deref(),
            Some(arn)
        );
        for (method, uri) in [
            (Method::GET, format!("{p}/echo/invocations")),
            (Method::POST, format!("{p}/echo/invocations?Qualifier=1")),
            (Method::POST, format!("{p}/ec%68o/invocations")),
            (Method::POST, format!("{p}//invocations")),
            (Method::POST, format!("{p}/a/b/invocations")),
            (Method::POST, format!("{p}/echo/invocations/")),
            (Method::POST, format!("{p}/echo")),
            (
                Method::POST,
                "/2015-03-31/functions/invocations".to_string(),
            ),
        ] {
            assert_eq!(target(method.clone(), &uri), None, "{method} {uri}");
        }
    }
}

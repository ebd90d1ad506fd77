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

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::response::Response;
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
}

/// The API's routes.
pub fn app(state: AppState) -> axum::Router {
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
        .fallback(unknown_operation)
        .layer(DefaultBodyLimit::disable())
        .layer(tower::util::MapResponseLayer::new(
            with_request_id as fn(Response) -> Response,
        ))
        .with_state(state)
}

async fn unknown_operation(req: Request) -> ApiError {
    ApiError(LambdaError::new(
        ErrorKind::ResourceNotFound,
        format!("Unknown operation: {} {}", req.method(), req.uri().path()),
    ))
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

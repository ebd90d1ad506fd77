//! Serving a function URL once the front has found it and let the caller
//! in: the request as a payload format 2.0 event ([`event`]), the
//! invocation through the router (the function's timeout, Lambda's 6 MB
//! each way), the answer as HTTP ([`answer`]; streamed as the function
//! writes it for `InvokeMode: RESPONSE_STREAM`, `stream`) with the URL's
//! CORS headers ([`cors`]).

pub mod answer;
pub mod cors;
pub mod event;
mod stream;

use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::Response;
use ignis_model::limits::SYNC_PAYLOAD_MAX;
use ignis_router::{InvokeError, InvokeInput};

use crate::functions::urls::{AuthType, InvokeMode, UrlEntry};
use crate::functions::Functions;
use crate::headers::REQUEST_ID;
pub use event::IamCaller;

/// Largest request body (and event) a URL takes: Invoke's 6 MB.
pub const URL_PAYLOAD_MAX: usize = SYNC_PAYLOAD_MAX;

/// Lambda's answer to a request over [`URL_PAYLOAD_MAX`].
pub fn too_large() -> Response {
    answer::message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
}

/// A URL request, authorized.
pub struct UrlCall<'a> {
    /// The URL.
    pub entry: &'a UrlEntry,
    /// The request's head.
    pub parts: &'a Parts,
    /// Its whole body (at most [`URL_PAYLOAD_MAX`]).
    pub body: &'a [u8],
    /// The client's address.
    pub source_ip: &'a str,
    /// The signed caller, for an `AWS_IAM` URL.
    pub iam: Option<&'a IamCaller>,
}

/// Invokes the URL's function with the request and answers as Lambda's
/// function URLs do.
pub async fn invoke(functions: &Functions, call: UrlCall<'_>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let entry = call.entry;
    let account_id = match entry.auth_type {
        AuthType::None => "anonymous".to_string(),
        AuthType::AwsIam => ignis_model::arn::ACCOUNT_ID.to_string(),
    };
    let ctx = event::EventContext {
        url_id: &entry.url_id,
        account_id: &account_id,
        request_id: &request_id,
        source_ip: call.source_ip,
        port: host_port(call.parts),
        now: chrono::Utc::now(),
        iam: call.iam,
    };
    let payload = event::build(call.parts, call.body, &ctx);
    if payload.len() > URL_PAYLOAD_MAX {
        return too_large();
    }
    let arn = functions.arn(&entry.function);
    let input = InvokeInput {
        function: entry.function.clone(),
        qualifier: entry.qualifier.clone(),
        payload: payload.into(),
        client_context: None,
        invoked_arn: match &entry.qualifier {
            Some(q) => format!("{arn}:{q}"),
            None => arn,
        },
        request_id: Some(request_id.clone()),
        tail: false,
        trace_id: None,
    };
    let router = functions.router();
    let mut resp = match entry.invoke_mode {
        InvokeMode::Buffered => match router.invoke(input).await {
            Ok(done) => answer::response(&done.payload, done.function_error),
            Err(e) => refused(&e),
        },
        InvokeMode::ResponseStream => stream::respond(router, input)
            .await
            .unwrap_or_else(|e| refused(&e)),
    };
    cors::decorate(entry.cors.as_ref(), &call.parts.headers, &mut resp);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The router's refusal as a URL answers it.
fn refused(e: &InvokeError) -> Response {
    tracing::debug!(error = %e, "function URL: invocation refused");
    match e {
        InvokeError::Throttled(_) | InvokeError::NoCapacity => {
            answer::message(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded.")
        }
        _ => answer::internal_error(),
    }
}

/// The port the client addressed (`Host`), 80 when it names none.
fn host_port(parts: &Parts) -> u16 {
    parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(80)
}

//! Lambda's HTTP header names as [`HeaderName`]s made at compile time, so a
//! lookup or insert on the invoke path does not parse the name again.

use axum::http::HeaderName;
use ignis_model::headers as h;

pub const INVOCATION_TYPE: HeaderName = HeaderName::from_static(h::INVOCATION_TYPE);
pub const LOG_TYPE: HeaderName = HeaderName::from_static(h::LOG_TYPE);
pub const CLIENT_CONTEXT: HeaderName = HeaderName::from_static(h::CLIENT_CONTEXT);
pub const TRACE_ID: HeaderName = HeaderName::from_static(h::TRACE_ID);
pub const FUNCTION_ERROR: HeaderName = HeaderName::from_static(h::FUNCTION_ERROR);
pub const LOG_RESULT: HeaderName = HeaderName::from_static(h::LOG_RESULT);
pub const EXECUTED_VERSION: HeaderName = HeaderName::from_static(h::EXECUTED_VERSION);
pub const REQUEST_ID: HeaderName = HeaderName::from_static(h::REQUEST_ID);

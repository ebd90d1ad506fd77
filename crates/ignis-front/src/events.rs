//! The EventBridge arm of the front (JSON protocol, `X-Amz-Target:
//! AWSEvents.<Operation>`): a request is read into an
//! [`ignis_eventbridge::EventsOp`], authorized in `enforce` mode as
//! `events:<Operation>` on the rule's or bus's ARN, executed, and answered
//! in the JSON protocol. An operation of the model Ignis does not serve
//! (archives, replays, connections, API destinations, endpoints, partner
//! sources) is left to the API's fallback, which answers it as not served.

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};
use ignis_eventbridge::EventsOp;
use ignis_iam::Principal;
use ignis_protocol::{AwsError, Service};

use crate::{AuthMode, Inner};

fn service() -> &'static Service {
    Service::by_signing_name("events").expect("the catalog has EventBridge")
}

/// The operation an `X-Amz-Target` names.
fn operation(headers: &http::HeaderMap) -> Option<&str> {
    let target = headers.get("x-amz-target")?.to_str().ok()?;
    let (prefix, op) = target.split_once('.')?;
    (prefix == "AWSEvents").then_some(op)
}

/// Whether the request is an EventBridge operation Ignis serves.
pub(crate) fn served(headers: &http::HeaderMap) -> bool {
    operation(headers).is_some_and(|op| ignis_eventbridge::SERVED.contains(&op))
}

impl Inner {
    /// An EventBridge request: parsed, authorized, executed, rendered.
    pub(crate) async fn events_service(
        &self,
        parts: &http::request::Parts,
        caller: &Principal,
        body: &[u8],
        request_id: &str,
    ) -> Response {
        let answer = async {
            let name = operation(&parts.headers).unwrap_or_default();
            let op = EventsOp::parse(name, body)?.ok_or_else(|| {
                AwsError::sender(
                    StatusCode::BAD_REQUEST,
                    "UnknownOperationException",
                    format!("{name} is not served by Ignis"),
                )
            })?;
            if self.mode == AuthMode::Enforce && *caller != Principal::Root {
                let resource = op.resource(self.events.region(), self.events.account());
                self.decide(caller, &op.action(), &resource, None, |m| {
                    AwsError::sender(StatusCode::BAD_REQUEST, "AccessDeniedException", m)
                })
                .await?;
            }
            self.events.execute(op).await
        };
        match answer.await {
            Ok(output) => {
                let mut resp = Response::new(Body::from(output.to_string()));
                let headers = resp.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-amz-json-1.1"),
                );
                if let Ok(id) = HeaderValue::from_str(request_id) {
                    headers.insert("x-amzn-requestid", id);
                }
                resp
            }
            Err(e) => e.render(Some(service()), request_id).map(Body::from),
        }
    }
}

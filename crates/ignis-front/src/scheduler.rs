//! The EventBridge Scheduler arm of the front (rest-json): a request's
//! method, path, query and body are read into an
//! [`ignis_scheduler::SchedulerOp`], authorized in `enforce` mode as
//! `scheduler:<Operation>` on the schedule's (or group's) ARN, executed and
//! answered as JSON; refusals in rest-json's error shape.

use axum::body::Body;
use axum::response::Response;
use http::{header, StatusCode};
use ignis_iam::Principal;
use ignis_model::arn::ACCOUNT_ID;
use ignis_protocol::{AwsError, Service};
use ignis_scheduler::{SchedulerError, SchedulerOp};

use crate::{AuthMode, Inner};

fn service() -> &'static Service {
    Service::by_signing_name("scheduler").expect("the catalog has Scheduler")
}

fn aws(e: &SchedulerError) -> AwsError {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut err = AwsError::sender(status, e.code(), e.message());
    err.sender_fault = e.status() < 500;
    err
}

impl Inner {
    /// A Scheduler request: parsed, authorized, executed, rendered.
    pub(crate) async fn scheduler_service(
        &self,
        parts: &http::request::Parts,
        caller: &Principal,
        body: &[u8],
        request_id: &str,
    ) -> Response {
        let answer = async {
            let op = SchedulerOp::parse(
                parts.method.as_str(),
                parts.uri.path(),
                parts.uri.query().unwrap_or(""),
                body,
            )
            .map_err(|e| aws(&e))?
            .ok_or_else(|| {
                AwsError::sender(
                    StatusCode::NOT_FOUND,
                    "UnknownOperationException",
                    format!(
                        "{} {} is not an operation of Scheduler",
                        parts.method,
                        parts.uri.path()
                    ),
                )
            })?;
            if self.mode == AuthMode::Enforce && *caller != Principal::Root {
                let action = format!("scheduler:{}", op.name());
                let resource = op.resource(&self.region, ACCOUNT_ID);
                self.decide(caller, &action, &resource, None, |m| {
                    AwsError::sender(StatusCode::FORBIDDEN, "AccessDeniedException", m)
                })
                .await?;
            }
            self.scheduler.execute(op).await.map_err(|e| aws(&e))
        };
        match answer.await {
            Ok(value) => {
                let mut resp = Response::new(Body::from(value.to_string()));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                if let Ok(id) = http::HeaderValue::from_str(request_id) {
                    resp.headers_mut().insert("x-amzn-requestid", id);
                }
                resp
            }
            Err(e) => e.render(Some(service()), request_id).map(Body::from),
        }
    }
}

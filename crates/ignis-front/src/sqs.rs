//! The SQS arm of the front: a request in either of SQS's protocols (the
//! JSON protocol's `X-Amz-Target: AmazonSQS.*`, or the query protocol's
//! form, posted to `/` or to the queue's URL) is read into an
//! [`ignis_sqs::SqsOp`], authorized in `enforce` mode as `sqs:<Operation>`
//! on the queue's ARN with the queue's `Policy` as the resource policy,
//! run on the engine, and answered in the protocol it came in.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use ignis_iam::Principal;
use ignis_identity::policy::{PolicyDocument, PolicyKind};
use ignis_model::arn::ACCOUNT_ID;
use ignis_protocol::{AwsError, Recognized};
use ignis_sqs::wire::{self, WireProtocol, WireRequest};
use ignis_sqs::{Origin, SqsError, SqsOp};

use crate::{AuthMode, Inner};

impl Inner {
    /// An SQS request: parsed, authorized, executed, rendered.
    pub(crate) async fn sqs_service(
        &self,
        parts: &http::request::Parts,
        caller: &Principal,
        body: &[u8],
        request_id: &str,
    ) -> Response {
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok());
        let protocol = match target {
            Some(_) => WireProtocol::Json,
            None => WireProtocol::Query,
        };
        let request = WireRequest {
            protocol,
            target_operation: target.map(|t| t.rsplit_once('.').map_or(t, |(_, op)| op)),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            body,
        };
        let mut operation = "";
        let answer = async {
            let op = wire::parse(&request)?;
            operation = op.name();
            if self.mode == AuthMode::Enforce && *caller != Principal::Root {
                self.authorize_sqs(&op, caller).await?;
            }
            let origin = Origin {
                sender_id: sender_id(caller),
                host: parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost")
                    .to_string(),
            };
            self.sqs.execute(op, &origin).await
        };
        match answer.await {
            Ok(output) => wire::render(protocol, operation, &output, request_id).map(Body::from),
            Err(e) => wire::render_error(protocol, &e, request_id).map(Body::from),
        }
    }

    /// IAM's decision on `op` for `caller`: `sqs:<Operation>` on the
    /// queue's ARN (`*` for `ListQueues` and `CancelMessageMoveTask`),
    /// with the queue's policy as the resource policy.
    async fn authorize_sqs(&self, op: &SqsOp, caller: &Principal) -> Result<(), SqsError> {
        let name = match (op.queue(), op.queue_arn()) {
            (Some(name), _) => Some(name.to_string()),
            (None, Some(arn)) => self.sqs.name_of_arn(arn).map(str::to_string),
            (None, None) => None,
        };
        let resource = match &name {
            Some(name) => self.sqs.queue_arn(name),
            None => "*".to_string(),
        };
        let policy = match &name {
            Some(name) if !matches!(op, SqsOp::CreateQueue { .. }) => self
                .sqs
                .queue(name)
                .await
                .ok()
                .and_then(|q| q.attributes.get("Policy").cloned())
                .filter(|p| !p.is_empty())
                .and_then(|p| PolicyDocument::parse(&p, PolicyKind::Resource).ok()),
            _ => None,
        };
        self.decide(caller, op.action(), &resource, policy.as_ref(), |m| {
            AwsError::sender(StatusCode::FORBIDDEN, "AccessDenied", m)
        })
        .await
        .map_err(|e| SqsError {
            code: if e.sender_fault {
                "AccessDenied"
            } else {
                "InternalError"
            },
            message: e.message,
            status: e.status,
            sender_fault: e.sender_fault,
        })
    }
}

/// Whether a request is SQS's in its query protocol (no JSON target).
pub(crate) fn speaks_query(what: &Recognized, headers: &http::HeaderMap) -> bool {
    what.service.is_some_and(|s| s.signing_name == "sqs") && !headers.contains_key("x-amz-target")
}

/// The `SenderId` of `caller`'s messages: the account for the root user,
/// the user's unique id, or a role session's `role-id:session`.
fn sender_id(caller: &Principal) -> String {
    match caller {
        Principal::Root => ACCOUNT_ID.to_string(),
        Principal::User { id, .. } => id.clone(),
        Principal::AssumedRole {
            role_id,
            session_name,
            ..
        } => format!("{role_id}:{session_name}"),
    }
}

//! The SNS arm of the front (query protocol, like IAM): a request is read
//! into an [`ignis_sns::SnsOp`], authorized in `enforce` mode as
//! `sns:<Operation>` on the topic's ARN with the topic's `Policy` (when
//! one was set or made by AddPermission) as the resource policy, executed
//! and answered in SNS's XML.
//!
//! Three requests are answered unsigned, in either mode, as AWS answers
//! them: the `SubscribeURL` a confirmation carries (`GET
//! /?Action=ConfirmSubscription&TopicArn=…&Token=…`: the token is the
//! credential), the `UnsubscribeURL` of a notification (`GET
//! /?Action=Unsubscribe&SubscriptionArn=…`), and the `SigningCertURL`
//! (`GET /ignis/v1/sns/signing-cert.pem`, the self-signed certificate of
//! the signing key).

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{header, StatusCode};
use ignis_iam::Principal;
use ignis_identity::policy::{PolicyDocument, PolicyKind};
use ignis_model::arn::ACCOUNT_ID;
use ignis_protocol::{AwsError, QueryRequest, Service};
use ignis_sns::SnsOp;

use crate::{AuthMode, Inner};

/// Where the signing certificate (the public key) is served.
pub const CERT_PATH: &str = "/ignis/v1/sns/signing-cert.pem";

fn service() -> &'static Service {
    Service::by_signing_name("sns").expect("the catalog has SNS")
}

/// Whether `req` is one of the unsigned SNS requests.
pub(crate) fn is_public(req: &Request) -> bool {
    if req.method() != http::Method::GET {
        return false;
    }
    if req.uri().path() == CERT_PATH {
        return true;
    }
    let query = req.uri().query().unwrap_or("");
    req.uri().path() == "/"
        && !req.headers().contains_key(header::AUTHORIZATION)
        && !query.contains("X-Amz-Credential=")
        && query
            .split('&')
            .any(|p| matches!(p, "Action=ConfirmSubscription" | "Action=Unsubscribe"))
}

impl Inner {
    /// An SNS request: parsed, authorized, executed, rendered.
    pub(crate) async fn sns_service(
        &self,
        caller: &Principal,
        query: &str,
        body: &[u8],
        request_id: &str,
    ) -> Response {
        let answer = async {
            let req = QueryRequest::parse(query, body)?;
            let op = SnsOp::parse(&req)?;
            if self.mode == AuthMode::Enforce && *caller != Principal::Root {
                let policy = match op.topic() {
                    Some(topic) => self
                        .sns
                        .topic_policy(topic)
                        .await
                        .and_then(|p| PolicyDocument::parse(&p, PolicyKind::Resource).ok()),
                    None => None,
                };
                let resource = op.resource(&self.region, ACCOUNT_ID);
                self.decide(caller, &op.action(), &resource, policy.as_ref(), |m| {
                    AwsError::sender(StatusCode::FORBIDDEN, "AuthorizationError", m)
                })
                .await?;
            }
            self.sns.execute(op, ACCOUNT_ID).await
        };
        match answer.await {
            Ok(response) => response.render(request_id).map(Body::from),
            Err(e) => e.render(Some(service()), request_id).map(Body::from),
        }
    }

    /// The unsigned requests ([`is_public`]).
    pub(crate) async fn sns_public(&self, req: Request) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        if req.uri().path() == CERT_PATH {
            return match self.sns.signing_cert().await {
                Ok(pem) => Response::builder()
                    .header(header::CONTENT_TYPE, "application/x-pem-file")
                    .body(Body::from(pem))
                    .unwrap_or_default(),
                Err(e) => {
                    tracing::error!(error = %e, "the SNS signing key is not available");
                    let mut r = Response::new(Body::from("the signing key is not available"));
                    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    r
                }
            };
        }
        let query = req.uri().query().unwrap_or("").to_string();
        let answer = async {
            let req = QueryRequest::parse(&query, b"")?;
            let op = SnsOp::parse(&req)?;
            self.sns.execute_unsigned(op).await
        };
        match answer.await {
            Ok(response) => response.render(&request_id).map(Body::from),
            Err(e) => e.render(Some(service()), &request_id).map(Body::from),
        }
    }
}

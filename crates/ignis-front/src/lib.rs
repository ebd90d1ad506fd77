//! The front of Ignis's one endpoint ("One endpoint, many services" in
//! DESIGN.md): every request is classified by wire protocol and service
//! ([`ignis_protocol::recognize`]), authenticated once (SigV4, [`auth`]),
//! authorized with IAM's policy evaluation (`ignis-identity`), and handed to
//! its service: Lambda's REST API (`ignis-api`), IAM and STS
//! (`ignis-iam`, query protocol), SQS (`ignis-sqs`, JSON and query
//! protocols; [`sqs`]), S3 (`ignis-s3`, its bodies streamed; [`s3`]). A request for a service Ignis does not
//! serve goes to the Lambda API's fallback, which answers in that service's
//! shape. Adding a service is adding its crate and one arm in
//! [`Front::dispatch`].
//!
//! Two modes ([`AuthMode`]): `open` accepts any key as LocalStack does
//! (every caller is the root user) — the default when every listener is on
//! loopback — and `enforce` verifies every request. In `open` mode a Lambda
//! request goes straight to the Lambda API: the invoke path pays nothing.
#![deny(missing_docs)]

pub mod auth;
pub mod cache;
pub mod events;
pub mod identity;
pub mod lambda;
pub mod roles;
pub mod root_key;
pub mod s3;
pub mod scheduler;
pub mod sns;
pub mod sqs;
pub mod urls;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{header, StatusCode};
use ignis_api::functions::Functions;
use ignis_api::Api;
use ignis_iam::{Iam, Principal, Sts};
use ignis_identity::policy::{
    access_denied_message, authorize, Decision, PolicyDocument, PolicyKind, RequestContext,
};
use ignis_identity::sigv4::RequestParts;
use ignis_model::arn::ACCOUNT_ID;
use ignis_protocol::{AwsError, Protocol, QueryRequest, Recognized, RequestView, Service};
use ignis_store::SqliteStore;

use auth::Authenticator;
use cache::GenCache;
use identity::policy_principal;

/// Largest request the front reads to verify its signature: Lambda's
/// largest management request (a 50 MB zip in base64 JSON).
pub const BODY_MAX: usize = ignis_api::body::MANAGEMENT_BODY_MAX;

/// How callers are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Any key is accepted and every caller is the root user.
    Open,
    /// Every request's SigV4 signature is verified and every operation
    /// authorized with IAM's policy evaluation.
    Enforce,
}

/// The front: a tower service over the Lambda API and the IAM/STS services.
#[derive(Clone)]
pub struct Front {
    api: Api,
    inner: Arc<Inner>,
}

struct Inner {
    mode: AuthMode,
    region: String,
    auth: Authenticator,
    iam: Arc<Iam<SqliteStore>>,
    sts: Sts<SqliteStore>,
    functions: Arc<Functions>,
    /// The topic service.
    sns: ignis_sns::Sns,
    /// The queue service.
    sqs: ignis_sqs::Sqs,
    /// The object store.
    s3: ignis_s3::S3,
    /// EventBridge Scheduler.
    scheduler: ignis_scheduler::Scheduler,
    /// The event-rules service (EventBridge).
    events: ignis_eventbridge::EventBridge,
    /// Callers' identity policies, parsed, by principal ARN, each with the
    /// IAM generation it was read at (see [`Inner::identity_policies`];
    /// the generation is the authenticator's).
    policies: GenCache<Arc<[PolicyDocument]>>,
}

/// What the front is built from.
pub struct FrontParts {
    /// The Lambda API.
    pub api: Api,
    /// Function management (resource policies).
    pub functions: Arc<Functions>,
    /// IAM.
    pub iam: Arc<Iam<SqliteStore>>,
    /// STS.
    pub sts: Sts<SqliteStore>,
    /// Who holds which key.
    pub auth: Authenticator,
    /// The mode.
    pub mode: AuthMode,
    /// The region in ARNs.
    pub region: String,
    /// The queue service (SQS's API in both its protocols).
    pub sqs: ignis_sqs::Sqs,
    /// The topic service (SNS's API).
    pub sns: ignis_sns::Sns,
    /// The object store (S3's API).
    pub s3: ignis_s3::S3,
    /// EventBridge Scheduler's API.
    pub scheduler: ignis_scheduler::Scheduler,
    /// The event-rules service (EventBridge's API).
    pub events: ignis_eventbridge::EventBridge,
}

impl Front {
    /// The front over these services.
    pub fn new(parts: FrontParts) -> Self {
        Self {
            api: parts.api,
            inner: Arc::new(Inner {
                mode: parts.mode,
                region: parts.region,
                auth: parts.auth,
                iam: parts.iam,
                sts: parts.sts,
                policies: GenCache::default(),
                functions: parts.functions,
                sqs: parts.sqs,
                sns: parts.sns,
                s3: parts.s3,
                scheduler: parts.scheduler,
                events: parts.events,
            }),
        }
    }

    /// The queue service the front serves (a clone shares its state).
    pub fn sqs(&self) -> &ignis_sqs::Sqs {
        &self.inner.sqs
    }

    /// The service of a listener that serves function URLs only.
    pub fn urls_only(&self) -> urls::UrlsOnly {
        urls::UrlsOnly {
            inner: self.inner.clone(),
        }
    }
}

type FrontFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl tower::Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // A function URL's host: the URL's own auth, whatever the mode.
        if let Some(id) = urls::url_id(&req) {
            let inner = self.inner.clone();
            return Box::pin(async move { Ok(inner.serve_url(&id, req).await) });
        }
        // SNS's SubscribeURL, UnsubscribeURL and SigningCertURL: unsigned.
        if sns::is_public(&req) {
            let inner = self.inner.clone();
            return Box::pin(async move { Ok(inner.sns_public(req).await) });
        }
        // A bucket's website endpoint (by its host): unsigned reads.
        if let Some(bucket) = s3::website_host(&req) {
            let inner = self.inner.clone();
            return Box::pin(async move { Ok(inner.s3_website(bucket, req).await) });
        }
        // A browser's CORS preflight for S3: unsigned, routed by its host
        // or its path-style bucket.
        if s3::is_preflight(&req) {
            let inner = self.inner.clone();
            return Box::pin(async move {
                let (parts, body) = req.into_parts();
                let request_id = uuid::Uuid::new_v4().to_string();
                Ok(inner.s3_service(parts, body, &request_id).await)
            });
        }
        if self.inner.mode == AuthMode::Open && plainly_lambda(&req) {
            return tower::Service::call(&mut self.api, req);
        }
        let (inner, api) = (self.inner.clone(), self.api.clone());
        Box::pin(async move { Ok(inner.handle(req, api).await) })
    }
}

/// A request with no sign of another service (no JSON target, no other
/// signing name, no form body) and no role to check: Lambda's, in `open`
/// mode nothing to do.
fn plainly_lambda(req: &Request) -> bool {
    let h = req.headers();
    // CreateFunction and UpdateFunctionConfiguration name a role the front
    // checks (or, in `open` mode, makes).
    let path = req.uri().path();
    let names_role = (req.method() == http::Method::POST
        && matches!(path, "/2015-03-31/functions" | "/2015-03-31/functions/"))
        || (req.method() == http::Method::PUT && path.ends_with("/configuration"));
    if names_role {
        return false;
    }
    if h.contains_key("x-amz-target") || path.starts_with(s3::WEBHOOK_PREFIX) {
        return false;
    }
    if h.get(header::CONTENT_TYPE).is_some_and(|t| {
        t.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    }) {
        return false;
    }
    if req.uri().query().is_some_and(|q| q.contains("Action=")) {
        return false;
    }
    match h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(auth) => auth.contains("/lambda/aws4_request"),
        None => !req
            .uri()
            .query()
            .is_some_and(|q| q.contains("X-Amz-Credential=")),
    }
}

impl Inner {
    async fn handle(&self, req: Request, mut api: Api) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (parts, body) = req.into_parts();
        // Ignis's own content-addressed code downloads (GetFunction's
        // `Code.Location`) are fetched unsigned, as a presigned URL would be.
        if parts.uri.path().starts_with("/ignis/v1/code/") {
            return call(&mut api, Request::from_parts(parts, body)).await;
        }
        // An S3-compatible store's webhook: its records for a bucket's
        // notification configuration.
        if let Some(bucket) = s3::webhook_bucket(&parts) {
            return self.s3_webhook(bucket, parts, body, &request_id).await;
        }
        // S3 streams its bodies: routed before the body is read.
        let early = ignis_protocol::recognize(&RequestView {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            form: None,
        });
        if s3::is_s3(&early) {
            return self.s3_service(parts, body, &request_id).await;
        }
        let body = match axum::body::to_bytes(body, BODY_MAX).await {
            Ok(b) => b,
            Err(_) => {
                let e = AwsError::sender(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestTooLargeException",
                    format!("Request must be smaller than {BODY_MAX} bytes"),
                );
                // The rest of the body is not read: the connection cannot
                // be reused, and the client is told so.
                let mut resp = e
                    .render(Some(lambda::service()), &request_id)
                    .map(Body::from);
                resp.headers_mut()
                    .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
                return resp;
            }
        };
        let query = parts.uri.query().unwrap_or("");
        let form = is_form(&parts.headers).then_some(&body[..]);
        let what = ignis_protocol::recognize(&RequestView {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query,
            headers: &parts.headers,
            form,
        });
        let rp = RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query,
            headers: &parts.headers,
        };
        let caller = match self.mode {
            AuthMode::Open => self.auth.identify(&rp, chrono::Utc::now()).await,
            AuthMode::Enforce => {
                match self.auth.authenticate(&rp, &body, chrono::Utc::now()).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::debug!(error = %e, "request refused: not authenticated");
                        let service = what.service.or(Some(lambda::service()));
                        // SQS's older clients read refusals in the query protocol.
                        let resp = if sqs::speaks_query(&what, &parts.headers) {
                            e.aws().render_as(Protocol::Query, service, &request_id)
                        } else {
                            e.aws().render(service, &request_id)
                        };
                        return resp.map(Body::from);
                    }
                }
            }
        };
        match what.service.map(|s| s.signing_name) {
            Some("iam") | Some("sts") => {
                let service = what.service.expect("matched above");
                self.query_service(service, &caller, query, &body, &request_id)
                    .await
            }
            Some("sns") => self.sns_service(&caller, query, &body, &request_id).await,
            Some("sqs") => self.sqs_service(&parts, &caller, &body, &request_id).await,
            Some("scheduler") => {
                self.scheduler_service(&parts, &caller, &body, &request_id)
                    .await
            }
            Some("events") if events::served(&parts.headers) => {
                self.events_service(&parts, &caller, &body, &request_id)
                    .await
            }
            Some("lambda") => {
                if let Err(e) = self.authorize_lambda(&what, &caller, &parts).await {
                    return e.render(what.service, &request_id).map(Body::from);
                }
                if let Err(e) = self.check_role(&what, &body).await {
                    return e.render(what.service, &request_id).map(Body::from);
                }
                let mut req = Request::from_parts(parts, Body::from(body));
                req.extensions_mut().insert(caller);
                call(&mut api, req).await
            }
            // Not served: the API's fallback names the service and operation.
            _ => call(&mut api, Request::from_parts(parts, Body::from(body))).await,
        }
    }

    /// Whether `caller` may make this Lambda request; `enforce` mode only.
    async fn authorize_lambda(
        &self,
        what: &Recognized,
        caller: &Principal,
        parts: &http::request::Parts,
    ) -> Result<(), AwsError> {
        if self.mode == AuthMode::Open || *caller == Principal::Root {
            return Ok(());
        }
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or("");
        let target = match own_api_target(path, &self.region) {
            Some(t) => t,
            None => {
                let has = |h: &str| parts.headers.contains_key(h);
                let op = what.service.and_then(|s| {
                    ignis_protocol::match_rest(s, parts.method.as_str(), path, query, &has)
                });
                match op {
                    Some(op) => lambda::target(op, path, query, &self.region),
                    // No such operation: the API answers it, for anyone signed.
                    None => return Ok(()),
                }
            }
        };
        let resource_policy = match &target.function {
            Some((name, qualifier)) => self
                .functions
                .get_policy(name, qualifier.as_deref())
                .await
                .ok()
                .and_then(|p| PolicyDocument::parse(&p.policy, PolicyKind::Resource).ok()),
            None => None,
        };
        self.decide(
            caller,
            &target.action,
            &target.resource,
            resource_policy.as_ref(),
            |m| AwsError::sender(StatusCode::FORBIDDEN, "AccessDeniedException", m),
        )
        .await
    }

    /// The execution role of a CreateFunction / UpdateFunctionConfiguration.
    async fn check_role(&self, what: &Recognized, body: &[u8]) -> Result<(), AwsError> {
        let op = what.operation.as_deref();
        if !matches!(op, Some("CreateFunction" | "UpdateFunctionConfiguration")) {
            return Ok(());
        }
        match roles::role_of(body) {
            Some(role) => {
                let checked = roles::check(&self.iam, self.mode, &role).await;
                if self.mode == AuthMode::Open {
                    // It may have made the role: cached reads are stale.
                    self.auth.generation().changed();
                }
                checked
            }
            // A body without one is the API's to refuse.
            None => Ok(()),
        }
    }

    /// IAM's evaluation of `action` on `resource` for `caller`; `deny`
    /// makes the service's refusal from AWS's message.
    async fn decide(
        &self,
        caller: &Principal,
        action: &str,
        resource: &str,
        resource_policy: Option<&PolicyDocument>,
        deny: impl FnOnce(String) -> AwsError,
    ) -> Result<(), AwsError> {
        self.decide_in(Some(caller), &[], action, resource, resource_policy, deny)
            .await
    }

    /// [`Inner::decide`] for `caller` (`None`: an unsigned caller, who has
    /// no identity policies) with the request's condition keys `keys`.
    async fn decide_in(
        &self,
        caller: Option<&Principal>,
        keys: &[(&str, &str)],
        action: &str,
        resource: &str,
        resource_policy: Option<&PolicyDocument>,
        deny: impl FnOnce(String) -> AwsError,
    ) -> Result<(), AwsError> {
        let identity = match caller {
            Some(caller) => self.identity_policies(caller).await?,
            None => Arc::from(Vec::new()),
        };
        let principal = caller.map_or_else(
            ignis_identity::policy::Principal::anonymous,
            policy_principal,
        );
        let mut ctx = RequestContext::new(principal, action, resource);
        for (key, value) in keys {
            ctx = ctx.with_key(key, *value);
        }
        match authorize(&ctx, &identity, resource_policy) {
            Decision::Allow => Ok(()),
            decision => {
                let message = access_denied_message(&ctx, &decision).unwrap_or_else(|| {
                    format!(
                        "{} is not authorized to perform: {action} on resource: {resource}",
                        caller.map_or_else(|| "anonymous".to_string(), Principal::arn)
                    )
                });
                Err(deny(message))
            }
        }
    }

    /// `caller`'s identity policies, parsed: from the cache while no IAM
    /// change happened since they were read (the generation is read before
    /// the store, so a change racing the read makes the entry stale at
    /// once), else from the store.
    async fn identity_policies(
        &self,
        caller: &Principal,
    ) -> Result<Arc<[PolicyDocument]>, AwsError> {
        let key = caller.arn();
        let generation = self.auth.generation().now();
        if let Some(docs) = self.policies.get(&key, generation) {
            return Ok(docs);
        }
        let texts = self.iam.identity_policies(caller).await?;
        let docs: Arc<[PolicyDocument]> = texts
            .iter()
            .filter_map(|t| PolicyDocument::parse(t, PolicyKind::Identity).ok())
            .collect();
        self.policies.put(key, generation, docs.clone());
        Ok(docs)
    }

    /// IAM and STS: the query protocol's request, authorized, executed.
    async fn query_service(
        &self,
        service: &'static Service,
        caller: &Principal,
        query: &str,
        body: &[u8],
        request_id: &str,
    ) -> Response {
        let answer = async {
            let req = QueryRequest::parse(query, body)?;
            let deny = |m| AwsError::sender(StatusCode::FORBIDDEN, "AccessDenied", m);
            let enforce = self.mode == AuthMode::Enforce;
            if service.signing_name == "iam" {
                let op = Iam::<SqliteStore>::parse(caller, &req)?;
                if enforce {
                    self.decide(caller, op.action(), &op.resource(ACCOUNT_ID), None, deny)
                        .await?;
                }
                let reads_only =
                    op.action().starts_with("iam:Get") || op.action().starts_with("iam:List");
                let answer = self.iam.execute(caller, op).await;
                if !reads_only {
                    // Whatever changed, cached policies are read again.
                    self.auth.generation().changed();
                }
                answer
            } else {
                let op = ignis_iam::StsOp::parse(&req)?;
                if enforce && op.requires_authorization() {
                    self.decide(caller, op.action(), &op.resource(ACCOUNT_ID), None, deny)
                        .await?;
                }
                self.sts.execute(caller, op).await
            }
        };
        match answer.await {
            Ok(response) => response.render(request_id).map(Body::from),
            Err(e) => e.render(Some(service), request_id).map(Body::from),
        }
    }
}

/// Ignis's own endpoints under `/ignis/v1`, in IAM's terms: a function's
/// logs are read with `lambda:GetFunction`, the runtimes listed with
/// `lambda:ListFunctions`.
fn own_api_target(path: &str, region: &str) -> Option<lambda::LambdaTarget> {
    let rest = path.strip_prefix("/ignis/v1/")?;
    if let Some(name) = rest
        .strip_prefix("functions/")
        .and_then(|r| r.split('/').next())
    {
        return Some(lambda::LambdaTarget {
            action: "lambda:GetFunction".into(),
            resource: ignis_model::arn::function_arn(region, name),
            function: Some((name.to_string(), None)),
        });
    }
    Some(lambda::LambdaTarget {
        action: "lambda:ListFunctions".into(),
        resource: "*".into(),
        function: None,
    })
}

fn is_form(headers: &http::HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|t| {
        t.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    })
}

async fn call(api: &mut Api, req: Request) -> Response {
    match tower::Service::call(api, req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

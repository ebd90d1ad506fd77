//! The S3 arm of the front: an S3 request (SigV4 scope `s3`, an
//! `s3.`/`<bucket>.s3.` host, or a presigned URL for `s3`) is routed
//! before its body is read — an object's bytes stream from the connection
//! to the disk and back, never whole in memory. The signature is verified
//! over `x-amz-content-sha256` as sent (`UNSIGNED-PAYLOAD`, a
//! `STREAMING-…` payload, or a hex hash the object store checks while the
//! body streams, refusing the upload on a mismatch before it is visible).
//! In `enforce` mode the operation is authorized as S3's own action
//! (`s3:GetObject`, …) on `arn:aws:s3:::bucket[/key]`, with the bucket's
//! policy as the resource policy.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderValue, Method, StatusCode};
use ignis_iam::Principal;
use ignis_identity::policy::{PolicyDocument, PolicyKind};
use ignis_identity::sigv4::RequestParts;
use ignis_protocol::{AwsError, Recognized};
use ignis_s3::website::WebsiteAnswer;
use ignis_s3::xml::XmlWriter;
use ignis_s3::{ResponseBody, S3Error, S3Op, S3Request, S3Response};
use tokio::io::AsyncReadExt;

use crate::{AuthMode, Inner};

/// A webhook refused by S3 or by authentication / authorization.
enum Refusal {
    S3(S3Error),
    Aws(AwsError),
}

impl From<S3Error> for Refusal {
    fn from(e: S3Error) -> Self {
        Refusal::S3(e)
    }
}

/// The largest piece of a file sent at once.
const READ_CHUNK: usize = 256 * 1024;

/// Where an S3-compatible store's webhook posts: `<prefix><bucket>/events`.
pub(crate) const WEBHOOK_PREFIX: &str = "/ignis/v1/buckets/";

/// The bucket a webhook request names (`POST /ignis/v1/buckets/{b}/events`).
pub(crate) fn webhook_bucket(parts: &http::request::Parts) -> Option<String> {
    if parts.method != Method::POST {
        return None;
    }
    let rest = parts.uri.path().strip_prefix(WEBHOOK_PREFIX)?;
    let bucket = rest.strip_suffix("/events")?;
    (!bucket.is_empty() && !bucket.contains('/')).then(|| bucket.to_string())
}

/// The key id and secret a webhook sends in place of a signature:
/// `Authorization: Bearer KEY:SECRET` or HTTP Basic with the same pair.
fn webhook_key(headers: &http::HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let pair = if let Some(token) = value.strip_prefix("Bearer ") {
        token.trim().to_string()
    } else {
        let encoded = value.strip_prefix("Basic ")?;
        let raw =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.trim())
                .ok()?;
        String::from_utf8(raw).ok()?
    };
    let (key, secret) = pair.split_once(':')?;
    Some((key.to_string(), secret.to_string()))
}

/// Whether a request is a browser's CORS preflight for S3, unsigned as
/// browsers send it: any `OPTIONS` to an S3 host, or one with `Origin` or
/// `Access-Control-Request-Method` to a path-style bucket — nothing else
/// names S3 in an unsigned request (S3 itself answers a preflight missing
/// either header with 400). A first path segment shaped like an API version
/// (`/2015-03-31/…`) or Ignis's own (`/ignis/…`) is not a bucket.
pub(crate) fn is_preflight(parts: &axum::extract::Request) -> bool {
    let h = parts.headers();
    if parts.method() != Method::OPTIONS {
        return false;
    }
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let host_name = host.rsplit_once(':').map_or(host, |(n, _)| n);
    if host_name.split('.').any(|l| l == "s3") || ignis_s3::op::host_bucket(host).is_some() {
        return true;
    }
    if !h.contains_key(header::ORIGIN) && !h.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        return false;
    }
    let first = parts
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let api_version = first.len() == 10
        && first.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    !api_version && first != "ignis" && ignis_s3::names::check_bucket_name(first).is_ok()
}

/// The bucket whose website endpoint a request's host names
/// (`<bucket>.s3-website-<region>.…`, `<bucket>.s3-website.…`).
pub(crate) fn website_host(req: &axum::extract::Request) -> Option<String> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    ignis_s3::website::website_bucket(host)
}

/// Whether a request, recognized without its body, is S3's.
pub(crate) fn is_s3(what: &Recognized) -> bool {
    what.service.is_some_and(|s| s.signing_name == "s3")
}

impl Inner {
    /// An S3 request: authenticated, parsed, authorized, executed with its
    /// body streaming, answered (a file streaming back).
    pub(crate) async fn s3_service(
        &self,
        parts: http::request::Parts,
        body: Body,
        request_id: &str,
    ) -> Response {
        let body_sent = has_body(&parts.headers);
        let expects_continue = parts
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        tracing::debug!(method = %parts.method, path = parts.uri.path(), request_id, "S3 request");
        let mut resp = self.s3_answer(parts, body, request_id).await;
        tracing::debug!(status = %resp.status(), request_id, "S3 answer");
        let failed = resp.status().is_client_error() || resp.status().is_server_error();
        // A failed request's body may be left unread: the connection cannot
        // be reused. And an empty body sent with `Expect: 100-continue` is
        // answered without a `100 Continue` (there is nothing to continue);
        // botocore (1.x) then keeps that final answer's status line on the
        // connection and misreads the next `Expect` request's answer on it
        // (a read timeout in `aws s3 sync` with an empty file), so the
        // connection is not reused either.
        if (body_sent && failed) || (expects_continue && !body_sent) {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }

    async fn s3_answer(
        &self,
        parts: http::request::Parts,
        body: Body,
        request_id: &str,
    ) -> Response {
        let head = parts.method == Method::HEAD;
        let query = parts.uri.query().unwrap_or("");
        // A browser's CORS preflight is unsigned: S3 answers it from the
        // bucket's CORS configuration alone.
        if parts.method == Method::OPTIONS {
            let req = S3Request {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query,
                headers: &parts.headers,
            };
            return match self.s3.preflight(&req).await {
                Ok(resp) => render(resp, false, request_id),
                Err(e) => s3_error(&e, false, request_id),
            };
        }
        let rp = RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query,
            headers: &parts.headers,
        };
        let now = chrono::Utc::now();
        let (caller, signer) = match self.mode {
            AuthMode::Open => (self.auth.identify(&rp, now).await, None),
            AuthMode::Enforce => match self.auth.authenticate_unread(&rp, now).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::debug!(error = %e, "S3 request refused: not authenticated");
                    return aws_error(&e.aws(), head, request_id);
                }
            },
        };
        let req = S3Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query,
            headers: &parts.headers,
        };
        let op = match ignis_s3::parse(&req) {
            Ok(op) => op,
            Err(e) => return s3_error(&e, head, request_id),
        };
        if self.mode == AuthMode::Enforce && caller != Principal::Root {
            if let Err(e) = self.authorize_s3(&op, &caller).await {
                return aws_error(&e, head, request_id);
            }
        }
        let stream = body
            .into_data_stream()
            .map(|r| r.map_err(std::io::Error::other));
        let mut resp = match self.s3.execute(op, &req, Box::pin(stream), signer).await {
            Ok(resp) => render(resp, head, request_id),
            Err(e) => s3_error(&e, head, request_id),
        };
        // A browser's actual cross-origin request: the matching rule's
        // headers, on success and refusal alike.
        for (name, value) in self.s3.cors_headers(&req).await {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                resp.headers_mut().insert(n, v);
            }
        }
        resp
    }

    /// An S3-compatible store's webhook (see `ignis_s3::ingest`): in
    /// `enforce` mode the caller (a SigV4 signature, or the key pair in
    /// place of one) needs `s3:PutObject` on the bucket's objects, as if it
    /// had written them here.
    pub(crate) async fn s3_webhook(
        &self,
        bucket: String,
        parts: http::request::Parts,
        body: Body,
        request_id: &str,
    ) -> Response {
        let answer = async {
            let body = axum::body::to_bytes(body, ignis_s3::ingest::MAX_BODY)
                .await
                .map_err(|_| {
                    S3Error::invalid_request(format!(
                        "The body must be at most {} bytes",
                        ignis_s3::ingest::MAX_BODY
                    ))
                })?;
            if self.mode == AuthMode::Enforce {
                let caller = match webhook_key(&parts.headers) {
                    Some((key, secret)) => self.auth.by_secret(&key, &secret).await,
                    None => {
                        let rp = RequestParts {
                            method: parts.method.as_str(),
                            path: parts.uri.path(),
                            query: parts.uri.query().unwrap_or(""),
                            headers: &parts.headers,
                        };
                        self.auth.authenticate(&rp, &body, chrono::Utc::now()).await
                    }
                };
                let caller = caller.map_err(|e| Refusal::Aws(e.aws()))?;
                if caller != Principal::Root {
                    let resource = format!("arn:aws:s3:::{bucket}/*");
                    let policy = self.bucket_policy_doc(&bucket).await;
                    let deny = |m| AwsError::sender(StatusCode::FORBIDDEN, "AccessDenied", m);
                    self.decide(&caller, "s3:PutObject", &resource, policy.as_ref(), deny)
                        .await
                        .map_err(Refusal::Aws)?;
                }
            }
            let n = self.s3.ingest(&bucket, &body).await?;
            Ok::<usize, Refusal>(n)
        };
        match answer.await {
            Ok(n) => {
                let mut resp = Response::new(Body::from(format!("{{\"Notifications\":{n}}}")));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                with_ids(resp, request_id)
            }
            Err(Refusal::S3(e)) => s3_error(&e, false, request_id),
            Err(Refusal::Aws(e)) => aws_error(&e, false, request_id),
        }
    }

    /// A bucket's website endpoint: an unsigned `GET`/`HEAD` answered with
    /// the object, the index or error document, or a redirect, as
    /// `ignis_s3::website` picks; errors are HTML pages. In `enforce` mode
    /// the object is served only if the bucket policy lets anyone read it
    /// (`s3:GetObject` for an anonymous caller), as S3's website endpoint
    /// serves public objects only.
    pub(crate) async fn s3_website(&self, bucket: String, req: axum::extract::Request) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (parts, _body) = req.into_parts();
        let head = parts.method == Method::HEAD;
        if parts.method != Method::GET && !head {
            let e = S3Error::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            );
            return website_error(&e, head, &request_id);
        }
        let answer = match self
            .s3
            .website_route(&bucket, parts.uri.path(), &parts.headers)
            .await
        {
            Ok(a) => a,
            Err(e) => return website_error(&e, head, &request_id),
        };
        let (key, status) = match answer {
            WebsiteAnswer::Redirect { status, location } => {
                let mut resp = Response::new(Body::empty());
                *resp.status_mut() = status;
                if let Ok(v) = HeaderValue::from_str(&location) {
                    resp.headers_mut().insert(header::LOCATION, v);
                }
                return with_ids(resp, &request_id);
            }
            WebsiteAnswer::Object { key, status } => (key, status),
        };
        if self.mode == AuthMode::Enforce {
            let policy = self.bucket_policy_doc(&bucket).await;
            let resource = format!("arn:aws:s3:::{bucket}/{key}");
            let deny = |m| AwsError::sender(StatusCode::FORBIDDEN, "AccessDenied", m);
            if self
                .decide_in(None, &[], "s3:GetObject", &resource, policy.as_ref(), deny)
                .await
                .is_err()
            {
                let e = S3Error::new(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
                return website_error(&e, head, &request_id);
            }
        }
        match self
            .s3
            .website_object(&bucket, &key, status, &parts.headers, head)
            .await
        {
            Ok(resp) => render(resp, head, &request_id),
            Err(e) => website_error(&e, head, &request_id),
        }
    }

    /// IAM's decision on `op` for `caller`, the bucket's policy as the
    /// resource policy; a copy also needs `s3:GetObject` on its source
    /// (under the source bucket's policy).
    async fn authorize_s3(&self, op: &S3Op, caller: &Principal) -> Result<(), AwsError> {
        let deny = |m| AwsError::sender(StatusCode::FORBIDDEN, "AccessDenied", m);
        let policy = match op.bucket() {
            Some(bucket) => self.bucket_policy_doc(bucket).await,
            None => None,
        };
        self.decide(caller, op.action(), &op.resource(), policy.as_ref(), deny)
            .await?;
        if let Some((bucket, key)) = op.copy_source() {
            let policy = self.bucket_policy_doc(bucket).await;
            let source = format!("arn:aws:s3:::{bucket}/{key}");
            self.decide(caller, "s3:GetObject", &source, policy.as_ref(), deny)
                .await?;
        }
        Ok(())
    }

    /// A bucket's policy, parsed.
    async fn bucket_policy_doc(&self, bucket: &str) -> Option<PolicyDocument> {
        self.s3
            .bucket_policy(bucket)
            .await
            .and_then(|p| PolicyDocument::parse(&p, PolicyKind::Resource).ok())
    }
}

/// Whether a request carries a body.
fn has_body(headers: &http::HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

fn with_ids(mut resp: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v.clone());
        resp.headers_mut().insert("x-amz-id-2", v);
    }
    resp
}

fn xml_response(status: StatusCode, xml: String, head: bool, request_id: &str) -> Response {
    let mut resp = Response::new(if head { Body::empty() } else { Body::from(xml) });
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    with_ids(resp, request_id)
}

/// An error of the website endpoint: an HTML page (no body for HEAD).
fn website_error(e: &S3Error, head: bool, request_id: &str) -> Response {
    let page = ignis_s3::website::error_html(e, request_id);
    let mut resp = Response::new(if head {
        Body::empty()
    } else {
        Body::from(page)
    });
    *resp.status_mut() = e.status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    with_ids(resp, request_id)
}

/// An S3 error in REST-XML (no body for HEAD).
fn s3_error(e: &S3Error, head: bool, request_id: &str) -> Response {
    xml_response(e.status, e.to_xml(request_id), head, request_id)
}

/// A refusal from authentication or authorization, in S3's shape.
fn aws_error(e: &AwsError, head: bool, request_id: &str) -> Response {
    let code = match e.code.as_str() {
        "InvalidClientTokenId" => "InvalidAccessKeyId",
        "MissingAuthenticationToken" => "AccessDenied",
        c => c,
    };
    let mut w = XmlWriter::new();
    w.open("Error");
    w.leaf("Code", code);
    w.leaf("Message", &e.message);
    w.leaf("RequestId", request_id);
    w.leaf("HostId", request_id);
    w.close("Error");
    xml_response(e.status, w.finish(), head, request_id)
}

/// The bytes of open files, each from its position for its length, in
/// pieces of at most [`READ_CHUNK`].
fn stream_files(
    files: Vec<(tokio::fs::File, u64)>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(
        (files.into_iter(), None::<(tokio::fs::File, u64)>),
        |(mut rest, mut current)| async move {
            loop {
                let (mut file, left) = match current.take() {
                    Some(c) => c,
                    None => rest.next()?,
                };
                if left == 0 {
                    continue;
                }
                let mut buf =
                    vec![0u8; usize::try_from(left).unwrap_or(READ_CHUNK).min(READ_CHUNK)];
                return match file.read(&mut buf).await {
                    Ok(0) => Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the object's file ended early",
                        )),
                        (Vec::new().into_iter(), None),
                    )),
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), (rest, Some((file, left - n as u64)))))
                    }
                    Err(e) => Some((Err(e), (Vec::new().into_iter(), None))),
                };
            }
        },
    )
}

/// An operation's answer: its headers, and its body (a file streamed in
/// pieces; none for HEAD).
fn render(resp: S3Response, head: bool, request_id: &str) -> Response {
    let content_type = match &resp.body {
        ResponseBody::Text(_, ct) => Some(*ct),
        _ => None,
    };
    let body = match resp.body {
        ResponseBody::Empty => Body::empty(),
        ResponseBody::Text(_, _) if head => Body::empty(),
        ResponseBody::Text(text, _) => Body::from(text),
        ResponseBody::Files(_) if head => Body::empty(),
        ResponseBody::Files(files) => Body::from_stream(stream_files(files)),
    };
    let mut out = Response::new(body);
    *out.status_mut() = resp.status;
    if let Some(ct) = content_type {
        out.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    for (name, value) in resp.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            out.headers_mut().insert(n, v);
        }
    }
    with_ids(out, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: &str, path: &str, headers: &[(&str, &str)]) -> axum::extract::Request {
        let mut b = http::Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .header("host", host);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn a_preflight_names_s3_by_host_or_path_style_bucket() {
        let cors = [
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PUT"),
        ];
        assert!(is_preflight(&request(
            "127.0.0.1:9000",
            "/photos/a.png",
            &cors
        )));
        assert!(is_preflight(&request(
            "photos.s3.localhost:9000",
            "/a.png",
            &cors
        )));
        assert!(is_preflight(&request("photos.localhost", "/", &cors)));
        // Lambda's API and Ignis's own paths, no preflight headers.
        assert!(!is_preflight(&request(
            "127.0.0.1:9000",
            "/2015-03-31/functions",
            &cors
        )));
        assert!(!is_preflight(&request(
            "127.0.0.1:9000",
            "/ignis/v1/code/x",
            &cors
        )));
        assert!(is_preflight(&request(
            "127.0.0.1:9000",
            "/photos/a.png",
            &cors[..1]
        )));
        assert!(!is_preflight(&request(
            "127.0.0.1:9000",
            "/photos/a.png",
            &[]
        )));
        assert!(is_preflight(&request("s3.localhost", "/photos/a.png", &[])));
        assert!(!is_preflight(&request(
            "127.0.0.1:9000",
            "/Not_A_Bucket/a",
            &cors
        )));
    }
}

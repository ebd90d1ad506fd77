//! Which service and operation a request names, from what each wire
//! protocol puts on the wire: the JSON protocol's `X-Amz-Target`, the
//! SigV4 credential scope's service (header or presigned query), an S3
//! host name, the query protocol's `Action`, and a REST binding's method
//! and path.

use http::HeaderMap;

use crate::{match_rest, Protocol, Service};

/// The parts of a request that name its service and operation.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path, as sent (percent-encoded).
    pub path: &'a str,
    /// The query string, as sent (empty if none).
    pub query: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// A form-encoded body (`application/x-www-form-urlencoded`), if read.
    pub form: Option<&'a [u8]>,
}

/// What [`recognize`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognized {
    /// The service, when the catalog knows it.
    pub service: Option<&'static Service>,
    /// The signing name of a signed request to a service the catalog does
    /// not know.
    pub unknown_service: Option<String>,
    /// The operation as the request names it (a target's or `Action`'s
    /// name, or the REST binding that fits).
    pub operation: Option<String>,
}

impl Recognized {
    /// How a person names it: `SQS SendMessage`, `S3`, `the service "foo"`.
    pub fn describe(&self) -> String {
        let service = match (self.service, &self.unknown_service) {
            (Some(s), _) => s.id.to_string(),
            (None, Some(name)) => format!("the service \"{name}\""),
            (None, None) => "this service".to_string(),
        };
        match &self.operation {
            Some(op) => format!("{service} {op}"),
            None => service,
        }
    }

    /// Whether the operation is one of the service's model.
    pub fn is_known_operation(&self) -> bool {
        match (self.service, &self.operation) {
            (Some(s), Some(op)) => s.operation(op).is_some(),
            _ => false,
        }
    }
}

/// Names the service and operation of a request. A request with no sign of
/// another service is Lambda's (the API every client of Ignis started
/// with): its operation is the Lambda binding its method and path fit.
pub fn recognize(req: &RequestView<'_>) -> Recognized {
    let target = header(req.headers, "x-amz-target");
    let by_target = target
        .and_then(|t| t.rsplit_once('.'))
        .and_then(|(prefix, _)| Service::by_target_prefix(prefix));
    let signing = signing_name(req);
    let service = by_target
        .or_else(|| signing.as_deref().and_then(Service::by_signing_name))
        .or_else(|| {
            s3_host(req.headers)
                .then(|| Service::by_signing_name("s3"))
                .flatten()
        })
        .or_else(|| match signing {
            Some(_) => None,
            // An unsigned query-protocol form posted to a queue URL
            // (`/123456789012/jobs`, `Action=SendMessage`) is SQS's.
            None if sqs_queue_path(req.path) && action(req).is_some() => {
                Service::by_signing_name("sqs")
            }
            None => Service::by_signing_name("lambda"),
        });
    let unknown_service = match service {
        Some(_) => None,
        None => signing,
    };
    let operation = target
        .map(|t| t.rsplit_once('.').map_or(t, |(_, op)| op).to_string())
        .or_else(|| action(req))
        .or_else(|| rest_operation(service?, req));
    Recognized {
        service,
        unknown_service,
        operation,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The service part of the SigV4 credential scope
/// (`Credential=AKID/20261206/us-east-1/sqs/aws4_request`), from the
/// `Authorization` header or a presigned URL's `X-Amz-Credential`.
fn signing_name(req: &RequestView<'_>) -> Option<String> {
    let scope = match header(req.headers, "authorization") {
        Some(auth) => auth
            .split([' ', ','])
            .find_map(|part| part.trim().strip_prefix("Credential="))?
            .to_string(),
        None => query_value(req.query.as_bytes(), "X-Amz-Credential")?,
    };
    let mut parts = scope.rsplit('/');
    let _terminator = parts.next()?;
    parts.next().filter(|s| !s.is_empty()).map(str::to_string)
}

/// An S3 virtual-host name: a `s3` label (`bucket.s3.localhost`,
/// `s3.us-east-1.amazonaws.com`).
fn s3_host(headers: &HeaderMap) -> bool {
    header(headers, "host").is_some_and(|host| {
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        host.split('.').any(|label| label == "s3")
    })
}

/// An SQS queue URL's path: `/<12-digit account>/<name>`.
fn sqs_queue_path(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(account), Some(name), None) => {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        }
        _ => false,
    }
}

/// The query protocol's `Action`, from the query string or a form body.
fn action(req: &RequestView<'_>) -> Option<String> {
    query_value(req.query.as_bytes(), "Action").or_else(|| query_value(req.form?, "Action"))
}

fn rest_operation(service: &'static Service, req: &RequestView<'_>) -> Option<String> {
    if !matches!(service.protocol, Protocol::RestJson | Protocol::RestXml) {
        return None;
    }
    let has = |name: &str| req.headers.contains_key(name);
    let op = match_rest(service, req.method, req.path, req.query, &has)?;
    Some(op.name.to_string())
}

/// The decoded value of `key` in a form-encoded string.
fn query_value(form: &[u8], key: &str) -> Option<String> {
    form.split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[..0]),
        };
        (decode(k) == key).then(|| decode(v))
    })
}

/// Percent- and plus-decoding of a form value (invalid escapes kept as is).
fn decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                match std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn view<'a>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a HeaderMap,
        form: Option<&'a [u8]>,
    ) -> RequestView<'a> {
        RequestView {
            method,
            path,
            query,
            headers,
            form,
        }
    }

    fn signed(service: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
        );
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        h
    }

    #[test]
    fn json_targets_name_service_and_operation() {
        let mut h = signed("sqs");
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonSQS.SendMessage"),
        );
        let r = recognize(&view("POST", "/", "", &h, None));
        assert_eq!(r.describe(), "SQS SendMessage");
        assert!(r.is_known_operation());
        let mut h = signed("logs");
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("Logs_20140328.DescribeLogGroups"),
        );
        assert_eq!(
            recognize(&view("POST", "/", "", &h, None)).describe(),
            "CloudWatch Logs DescribeLogGroups"
        );
    }

    #[test]
    fn query_actions_come_from_the_form_or_the_query_string() {
        let h = signed("sns");
        let r = recognize(&view(
            "POST",
            "/",
            "",
            &h,
            Some(b"Action=Publish&Version=2010-03-31&Message=a%20b"),
        ));
        assert_eq!(r.describe(), "SNS Publish");
        let h = signed("sts");
        let r = recognize(&view(
            "GET",
            "/",
            "Action=GetCallerIdentity&Version=2011-06-15",
            &h,
            None,
        ));
        assert_eq!(r.describe(), "STS GetCallerIdentity");
        // SQS's older query protocol: the signing name says SQS, Action the operation.
        let h = signed("sqs");
        let r = recognize(&view("POST", "/", "", &h, Some(b"Action=ReceiveMessage")));
        assert_eq!(r.describe(), "SQS ReceiveMessage");
    }

    #[test]
    fn unsigned_forms_posted_to_a_queue_url_are_sqs() {
        let h = HeaderMap::new();
        let r = recognize(&view(
            "POST",
            "/000000000000/jobs",
            "",
            &h,
            Some(b"Action=SendMessage&MessageBody=x"),
        ));
        assert_eq!(r.describe(), "SQS SendMessage");
        let r = recognize(&view("GET", "/000000000000/jobs", "", &h, None));
        assert_eq!(r.service.unwrap().id, "Lambda");
        let r = recognize(&view(
            "POST",
            "/2015-03-31/functions",
            "",
            &h,
            Some(b"Action=x"),
        ));
        assert_eq!(r.service.unwrap().id, "Lambda");
    }

    #[test]
    fn s3_by_scope_host_or_presigned_credential() {
        let h = signed("s3");
        assert_eq!(
            recognize(&view("GET", "/", "", &h, None)).describe(),
            "S3 ListBuckets"
        );
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("photos.s3.localhost:9000"));
        assert_eq!(
            recognize(&view("PUT", "/", "", &h, None))
                .service
                .unwrap()
                .id,
            "S3"
        );
        let h = HeaderMap::new();
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261206%2Fus-east-1%2Fs3%2Faws4_request";
        assert_eq!(
            recognize(&view("GET", "/b/k", q, &h, None)).describe(),
            "S3 GetObject"
        );
    }

    #[test]
    fn unsigned_requests_are_lambda_and_unknown_services_keep_their_name() {
        let h = HeaderMap::new();
        let r = recognize(&view(
            "GET",
            "/2015-03-31/functions/f/aliases",
            "",
            &h,
            None,
        ));
        assert_eq!(r.describe(), "Lambda ListAliases");
        let r = recognize(&view("GET", "/nowhere", "", &h, None));
        assert_eq!(r.describe(), "Lambda");
        let h = signed("quantumledger");
        let r = recognize(&view("POST", "/", "", &h, None));
        assert_eq!(r.service, None);
        assert_eq!(r.describe(), "the service \"quantumledger\"");
    }

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(
            query_value(b"a=1&Action=Send%4Dessage+x", "Action").as_deref(),
            Some("SendMessage x")
        );
        assert_eq!(
            query_value(b"Action=%zz%4", "Action").as_deref(),
            Some("%zz%4")
        );
        assert_eq!(query_value(b"Action", "Action").as_deref(), Some(""));
        assert_eq!(query_value(b"", "Action"), None);
    }
}

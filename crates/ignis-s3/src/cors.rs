//! Cross-origin resource sharing: a bucket's `CORSConfiguration` (rules of
//! allowed origins, methods and headers), checked as S3 checks it when
//! put, and applied as S3 applies it — a browser's preflight (`OPTIONS`
//! with `Origin` and `Access-Control-Request-Method`, unsigned) is
//! answered from the first rule that allows the origin, the method and
//! every requested header, or refused with 403 `CORSResponse`; an actual
//! request carrying `Origin` gets the matching rule's headers.

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::S3Error;
use crate::op::S3Request;
use crate::setting::StoredConfig;
use crate::xml::{self, Element, XmlWriter};
use crate::{S3Response, S3};

/// The most rules a configuration holds.
const MAX_RULES: usize = 100;
/// The methods a rule may allow.
const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

/// One rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CorsRule {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    allowed_headers: Vec<String>,
    allowed_methods: Vec<String>,
    allowed_origins: Vec<String>,
    #[serde(default)]
    expose_headers: Vec<String>,
    #[serde(default)]
    max_age_seconds: Option<i64>,
}

/// A bucket's CORS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CorsConfig {
    rules: Vec<CorsRule>,
}

fn texts(el: &Element, name: &str) -> Vec<String> {
    el.all(name).map(|c| c.text.trim().to_string()).collect()
}

fn one_wildcard(kind: &str, values: &[String]) -> Result<(), S3Error> {
    match values.iter().find(|v| v.matches('*').count() > 1) {
        Some(v) => Err(S3Error::invalid_request(format!(
            "{kind} \"{v}\" can not have more than one wildcard."
        ))),
        None => Ok(()),
    }
}

impl CorsRule {
    fn parse(el: &Element) -> Result<Self, S3Error> {
        let rule = Self {
            id: el.text_of("ID").map(|s| s.trim().to_string()),
            allowed_headers: texts(el, "AllowedHeader"),
            allowed_methods: texts(el, "AllowedMethod"),
            allowed_origins: texts(el, "AllowedOrigin"),
            expose_headers: texts(el, "ExposeHeader"),
            max_age_seconds: el
                .text_of("MaxAgeSeconds")
                .map(|s| {
                    s.trim()
                        .parse::<i64>()
                        .map_err(|_| S3Error::malformed_xml())
                })
                .transpose()?,
        };
        if rule.allowed_methods.is_empty()
            || rule.allowed_origins.is_empty()
            || rule.id.as_ref().is_some_and(|id| id.chars().count() > 255)
        {
            return Err(S3Error::malformed_xml());
        }
        if let Some(m) = rule
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(S3Error::invalid_request(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        one_wildcard("AllowedOrigin", &rule.allowed_origins)?;
        one_wildcard("AllowedHeader", &rule.allowed_headers)?;
        Ok(rule)
    }

    /// Whether it allows `origin` and `method`.
    fn allows(&self, origin: &str, method: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| wildcard(o, origin, false))
            && self.allowed_methods.iter().any(|m| m == method)
    }

    /// Whether it allows every one of `headers` (lower case).
    fn allows_headers(&self, headers: &[String]) -> bool {
        headers.iter().all(|h| {
            self.allowed_headers
                .iter()
                .any(|pattern| wildcard(pattern, h, true))
        })
    }

    /// The headers an answer carries for `origin`.
    fn answer(&self, origin: &str, requested: &[String]) -> Vec<(String, String)> {
        let any = self.allowed_origins.iter().any(|o| o == "*");
        let mut out = vec![
            (
                "access-control-allow-origin".to_string(),
                if any {
                    "*".to_string()
                } else {
                    origin.to_string()
                },
            ),
            (
                "access-control-allow-methods".to_string(),
                self.allowed_methods.join(", "),
            ),
        ];
        if !requested.is_empty() {
            out.push((
                "access-control-allow-headers".to_string(),
                requested.join(", "),
            ));
        }
        if !self.expose_headers.is_empty() {
            out.push((
                "access-control-expose-headers".to_string(),
                self.expose_headers.join(", "),
            ));
        }
        if let Some(age) = self.max_age_seconds {
            out.push(("access-control-max-age".to_string(), age.to_string()));
        }
        if !any {
            out.push((
                "access-control-allow-credentials".to_string(),
                "true".to_string(),
            ));
        }
        out.push((
            "vary".to_string(),
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_string(),
        ));
        out
    }
}

/// `value` against `pattern` holding at most one `*` (any run of
/// characters).
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (pattern, value) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
    }
}

impl StoredConfig for CorsConfig {}

impl CorsConfig {
    /// Reads a `CORSConfiguration` document.
    pub(crate) fn parse(text: &str) -> Result<Self, S3Error> {
        let root = xml::parse_root(text, "CORSConfiguration")?;
        let rules = xml::one_to_max(&root, "CORSRule", MAX_RULES, CorsRule::parse)?;
        Ok(Self { rules })
    }

    /// GetBucketCors's document.
    pub(crate) fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.root("CORSConfiguration");
        for r in &self.rules {
            w.open("CORSRule");
            if let Some(id) = &r.id {
                w.leaf("ID", id);
            }
            for (name, values) in [
                ("AllowedHeader", &r.allowed_headers),
                ("AllowedMethod", &r.allowed_methods),
                ("AllowedOrigin", &r.allowed_origins),
                ("ExposeHeader", &r.expose_headers),
            ] {
                for v in values {
                    w.leaf(name, v);
                }
            }
            if let Some(age) = r.max_age_seconds {
                w.leaf("MaxAgeSeconds", &age.to_string());
            }
            w.close("CORSRule");
        }
        w.close("CORSConfiguration");
        w.finish()
    }

    /// The first rule allowing `origin`, `method` and `headers`.
    fn find(&self, origin: &str, method: &str, headers: &[String]) -> Option<&CorsRule> {
        self.rules
            .iter()
            .find(|r| r.allows(origin, method) && r.allows_headers(headers))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Access-Control-Request-Headers`, lower case, in order.
fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("access-control-request-headers")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn bad_request(message: String) -> S3Error {
    S3Error::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

impl S3 {
    /// The stored CORS configuration of `bucket`.
    async fn cors_of(&self, bucket: &str) -> Result<Option<CorsConfig>, S3Error> {
        Ok(self
            .inner
            .store
            .bucket_setting(bucket, crate::op::BucketDoc::Cors.setting())
            .await?
            .map(|c| CorsConfig::decode(&c)))
    }

    /// A browser's preflight (`OPTIONS`, unsigned, as S3 answers it
    /// without authentication): 200 with the matching rule's headers, or
    /// S3's refusal.
    pub async fn preflight(&self, req: &S3Request<'_>) -> Result<S3Response, S3Error> {
        let (bucket, key) = crate::op::address(req)?;
        let Some(bucket) = bucket else {
            return Err(crate::op::method_not_allowed());
        };
        let origin = header(req.headers, "origin").ok_or_else(|| {
            bad_request("Insufficient information. Origin request header needed.".into())
        })?;
        let method = header(req.headers, "access-control-request-method")
            .ok_or_else(|| bad_request("Invalid Access-Control-Request-Method: null".into()))?;
        self.inner.existing(&bucket).await?;
        let resource = if key.is_some() { "OBJECT" } else { "BUCKET" };
        let forbidden = |message: &str| {
            S3Error::new(StatusCode::FORBIDDEN, "CORSResponse", message)
                .with("Method", method)
                .with("ResourceType", resource)
        };
        let config = self
            .cors_of(&bucket)
            .await?
            .ok_or_else(|| forbidden("CORS is not enabled for this bucket."))?;
        let requested = requested_headers(req.headers);
        match config.find(origin, method, &requested) {
            Some(rule) => {
                let mut resp = S3Response::empty(StatusCode::OK);
                resp.headers = rule.answer(origin, &requested);
                Ok(resp)
            }
            None => Err(forbidden(
                "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            )),
        }
    }

    /// The CORS headers an actual request with `Origin` gets (none
    /// without `Origin`, without a configuration or a matching rule).
    pub async fn cors_headers(&self, req: &S3Request<'_>) -> Vec<(String, String)> {
        let Some(origin) = header(req.headers, "origin") else {
            return Vec::new();
        };
        let Ok((Some(bucket), _)) = crate::op::address(req) else {
            return Vec::new();
        };
        let Ok(Some(config)) = self.cors_of(&bucket).await else {
            return Vec::new();
        };
        let method = req.method.to_ascii_uppercase();
        config
            .find(origin, &method, &[])
            .map(|rule| rule.answer(origin, &[]))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<CORSRule><ID>site</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>Content-Type</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule>
<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
</CORSConfiguration>"#;

    #[test]
    fn rules_round_trip_and_bad_ones_are_refused() {
        let config = CorsConfig::parse(DOC).unwrap();
        assert_eq!(CorsConfig::parse(&config.to_xml()).unwrap(), config);
        assert_eq!(CorsConfig::decode(&config.encode()), config);
        let rule = |body: &str| {
            format!("<CORSConfiguration><CORSRule>{body}</CORSRule></CORSConfiguration>")
        };
        for (bad, code) in [
            ("<CORSConfiguration></CORSConfiguration>".to_string(), "MalformedXML"),
            (rule("<AllowedOrigin>*</AllowedOrigin>"), "MalformedXML"),
            (rule("<AllowedMethod>GET</AllowedMethod>"), "MalformedXML"),
            (rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>"), "InvalidRequest"),
            (rule("<AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"), "InvalidRequest"),
            (rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>soon</MaxAgeSeconds>"), "MalformedXML"),
            ("<CORSConfiguration><CORSRule>".to_string(), "MalformedXML"),
        ] {
            assert_eq!(CorsConfig::parse(&bad).unwrap_err().code, code, "{bad}");
        }
    }

    #[test]
    fn the_first_rule_allowing_origin_method_and_headers_answers() {
        let config = CorsConfig::parse(DOC).unwrap();
        let hs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let site = config
            .find(
                "https://app.example.com",
                "PUT",
                &hs(&["x-amz-date", "content-type"]),
            )
            .unwrap();
        assert_eq!(site.id.as_deref(), Some("site"));
        let answer = site.answer("https://app.example.com", &hs(&["content-type"]));
        assert!(answer.contains(&(
            "access-control-allow-origin".into(),
            "https://app.example.com".into()
        )));
        assert!(answer.contains(&("access-control-allow-methods".into(), "PUT, GET".into())));
        assert!(answer.contains(&("access-control-expose-headers".into(), "ETag".into())));
        assert!(answer.contains(&("access-control-max-age".into(), "300".into())));
        // A header the first rule does not allow; the second allows GET only.
        assert!(config
            .find("https://app.example.com", "PUT", &hs(&["authorization"]))
            .is_none());
        let any = config.find("https://other.org", "GET", &[]).unwrap();
        assert!(any
            .answer("https://other.org", &[])
            .contains(&("access-control-allow-origin".into(), "*".into())));
        assert!(config.find("https://other.org", "DELETE", &[]).is_none());
        assert!(!wildcard(
            "https://*.example.com",
            "https://example.com",
            false
        ));
    }
}

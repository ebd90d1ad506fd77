//! Static website hosting: a bucket's `WebsiteConfiguration` (an index
//! document, an error document, routing rules, or a redirect of every
//! request), checked as S3 checks it when put, and the website endpoint's
//! answer to an unsigned `GET`/`HEAD` — the index document for a folder,
//! a `302` to the folder for a key that is one, the error document (or an
//! HTML error) with 404, and the redirects the rules ask for.
//!
//! The front finds the bucket in the host (`<bucket>.s3-website-<region>.…`,
//! `<bucket>.s3-website.…`) and decides, in `enforce` mode, whether the
//! anonymous caller may read the key this module picks (the bucket policy
//! must allow it, as S3's website endpoint serves only public objects).

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::S3Error;
use crate::setting::StoredConfig;
use crate::xml::{self, Element, XmlWriter};
use crate::S3;

/// Where every request is sent (`RedirectAllRequestsTo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RedirectAll {
    host: String,
    protocol: Option<String>,
}

/// A rule's redirect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Redirect {
    host: Option<String>,
    code: Option<u16>,
    protocol: Option<String>,
    replace_prefix: Option<String>,
    replace_key: Option<String>,
}

/// A routing rule: a condition and a redirect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RoutingRule {
    prefix: Option<String>,
    error_code: Option<u16>,
    redirect: Redirect,
}

/// A bucket's website configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WebsiteConfig {
    redirect_all: Option<RedirectAll>,
    index_suffix: Option<String>,
    error_key: Option<String>,
    rules: Vec<RoutingRule>,
}

fn invalid(message: impl Into<String>) -> S3Error {
    S3Error::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
}

fn protocol(el: &Element) -> Result<Option<String>, S3Error> {
    match el.text_of("Protocol").map(str::trim) {
        None => Ok(None),
        Some(p @ ("http" | "https")) => Ok(Some(p.to_string())),
        Some(_) => Err(invalid(
            "Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically.",
        )),
    }
}

fn code(
    text: Option<&str>,
    valid: impl Fn(u16) -> bool,
    what: &str,
) -> Result<Option<u16>, S3Error> {
    text.map(|t| {
        t.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| valid(*c))
            .ok_or_else(|| {
                invalid(format!(
                    "The provided HTTP {what} ({}) is not valid.",
                    t.trim()
                ))
            })
    })
    .transpose()
}

impl RoutingRule {
    fn parse(el: &Element) -> Result<Self, S3Error> {
        let (prefix, error_code) = match el.child("Condition") {
            Some(c) => {
                let prefix = c.text_of("KeyPrefixEquals").map(str::to_string);
                let error_code = code(
                    c.text_of("HttpErrorCodeReturnedEquals"),
                    |c| (400..600).contains(&c),
                    "error code",
                )?;
                if prefix.is_none() && error_code.is_none() {
                    return Err(invalid(
                        "Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present.",
                    ));
                }
                (prefix, error_code)
            }
            None => (None, None),
        };
        let r = el.child("Redirect").ok_or_else(S3Error::malformed_xml)?;
        let redirect = Redirect {
            host: r.text_of("HostName").map(|h| h.trim().to_string()),
            code: code(
                r.text_of("HttpRedirectCode"),
                |c| (301..400).contains(&c),
                "redirect code",
            )?,
            protocol: protocol(r)?,
            replace_prefix: r.text_of("ReplaceKeyPrefixWith").map(str::to_string),
            replace_key: r.text_of("ReplaceKeyWith").map(str::to_string),
        };
        if redirect.replace_prefix.is_some() && redirect.replace_key.is_some() {
            return Err(invalid(
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
            ));
        }
        Ok(Self {
            prefix,
            error_code,
            redirect,
        })
    }

    /// The `Location` it sends `key` to, asked of `host`.
    fn location(&self, key: &str, host: &str) -> String {
        let r = &self.redirect;
        let key = match (&r.replace_key, &r.replace_prefix) {
            (Some(k), _) => k.clone(),
            (None, Some(p)) => {
                let rest = key
                    .strip_prefix(self.prefix.as_deref().unwrap_or(""))
                    .unwrap_or(key);
                format!("{p}{rest}")
            }
            (None, None) => key.to_string(),
        };
        format!(
            "{}://{}/{key}",
            r.protocol.as_deref().unwrap_or("http"),
            r.host.as_deref().unwrap_or(host)
        )
    }

    fn applies(&self, key: &str, error: Option<u16>) -> bool {
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p)) && self.error_code == error
    }
}

impl StoredConfig for WebsiteConfig {}

impl WebsiteConfig {
    /// Reads a `WebsiteConfiguration` document.
    pub(crate) fn parse(text: &str) -> Result<Self, S3Error> {
        let root = xml::parse_root(text, "WebsiteConfiguration")?;
        let redirect_all = match root.child("RedirectAllRequestsTo") {
            Some(r) => Some(RedirectAll {
                host: r
                    .text_of("HostName")
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .ok_or_else(S3Error::malformed_xml)?,
                protocol: protocol(r)?,
            }),
            None => None,
        };
        let index_suffix = match root.child("IndexDocument") {
            Some(i) => {
                let suffix = i.text_of("Suffix").unwrap_or("");
                if suffix.is_empty() || suffix.contains('/') {
                    return Err(invalid("The IndexDocument Suffix is not well formed"));
                }
                Some(suffix.to_string())
            }
            None => None,
        };
        let error_key = match root.child("ErrorDocument") {
            Some(e) => Some(
                e.text_of("Key")
                    .filter(|k| !k.is_empty())
                    .ok_or_else(S3Error::malformed_xml)?
                    .to_string(),
            ),
            None => None,
        };
        let rules = match root.child("RoutingRules") {
            Some(r) => r
                .all("RoutingRule")
                .map(RoutingRule::parse)
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let config = Self {
            redirect_all,
            index_suffix,
            error_key,
            rules,
        };
        match (&config.redirect_all, &config.index_suffix) {
            (Some(_), None) if config.error_key.is_none() && config.rules.is_empty() => Ok(config),
            (Some(_), _) => Err(invalid(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
            )),
            (None, Some(_)) => Ok(config),
            (None, None) => Err(invalid(
                "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
            )),
        }
    }

    /// GetBucketWebsite's document.
    pub(crate) fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.root("WebsiteConfiguration");
        if let Some(r) = &self.redirect_all {
            w.open("RedirectAllRequestsTo");
            w.leaf("HostName", &r.host);
            if let Some(p) = &r.protocol {
                w.leaf("Protocol", p);
            }
            w.close("RedirectAllRequestsTo");
        }
        if let Some(s) = &self.index_suffix {
            w.open("IndexDocument");
            w.leaf("Suffix", s);
            w.close("IndexDocument");
        }
        if let Some(k) = &self.error_key {
            w.open("ErrorDocument");
            w.leaf("Key", k);
            w.close("ErrorDocument");
        }
        if !self.rules.is_empty() {
            w.open("RoutingRules");
            for rule in &self.rules {
                write_rule(&mut w, rule);
            }
            w.close("RoutingRules");
        }
        w.close("WebsiteConfiguration");
        w.finish()
    }
}

fn write_rule(w: &mut XmlWriter, rule: &RoutingRule) {
    w.open("RoutingRule");
    if rule.prefix.is_some() || rule.error_code.is_some() {
        w.open("Condition");
        if let Some(c) = rule.error_code {
            w.leaf("HttpErrorCodeReturnedEquals", &c.to_string());
        }
        if let Some(p) = &rule.prefix {
            w.leaf("KeyPrefixEquals", p);
        }
        w.close("Condition");
    }
    let r = &rule.redirect;
    w.open("Redirect");
    for (name, value) in [
        ("HostName", r.host.clone()),
        ("HttpRedirectCode", r.code.map(|c| c.to_string())),
        ("Protocol", r.protocol.clone()),
        ("ReplaceKeyPrefixWith", r.replace_prefix.clone()),
        ("ReplaceKeyWith", r.replace_key.clone()),
    ] {
        if let Some(v) = value {
            w.leaf(name, &v);
        }
    }
    w.close("Redirect");
    w.close("RoutingRule");
}

/// The bucket a website endpoint's host names: the labels before one
/// starting `s3-website` (`site.s3-website-us-east-1.amazonaws.com`,
/// `site.s3-website.localhost:9000`).
pub fn website_bucket(host: &str) -> Option<String> {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels.iter().position(|l| l.starts_with("s3-website"))?;
    (at > 0).then(|| labels[..at].join("."))
}

/// What the website endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebsiteAnswer {
    /// A redirect to `location`.
    Redirect {
        /// 301, 302, …
        status: StatusCode,
        /// Where to.
        location: String,
    },
    /// The object `key`, with `status` (200, or 404 for the error
    /// document).
    Object {
        /// The key.
        key: String,
        /// The status.
        status: StatusCode,
    },
}

impl S3 {
    /// What the website endpoint of `bucket` answers for `path` (as sent)
    /// asked of `host`; the caller reads an [`WebsiteAnswer::Object`] with
    /// [`S3::website_object`] once it may.
    pub async fn website_route(
        &self,
        bucket: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<WebsiteAnswer, S3Error> {
        let this = &self.inner;
        this.existing(bucket).await?;
        let config = this
            .store
            .bucket_setting(bucket, crate::op::BucketDoc::Website.setting())
            .await?
            .map(|c| WebsiteConfig::decode(&c))
            .ok_or_else(|| no_website(bucket))?;
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        if let Some(all) = &config.redirect_all {
            return Ok(WebsiteAnswer::Redirect {
                status: StatusCode::MOVED_PERMANENTLY,
                location: format!(
                    "{}://{}{path}",
                    all.protocol.as_deref().unwrap_or("http"),
                    all.host
                ),
            });
        }
        let key = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
            .decode_utf8()
            .map_err(|_| S3Error::invalid_request("The path is not valid UTF-8"))?
            .into_owned();
        if let Some(rule) = config.rules.iter().find(|r| r.applies(&key, None)) {
            return Ok(redirect(rule, &key, host));
        }
        let suffix = config.index_suffix.as_deref().unwrap_or("index.html");
        let wanted = if key.is_empty() || key.ends_with('/') {
            format!("{key}{suffix}")
        } else {
            key.clone()
        };
        if this.store.object(bucket, &wanted).await?.is_some() {
            return Ok(WebsiteAnswer::Object {
                key: wanted,
                status: StatusCode::OK,
            });
        }
        if wanted == key
            && this
                .store
                .object(bucket, &format!("{key}/{suffix}"))
                .await?
                .is_some()
        {
            return Ok(WebsiteAnswer::Redirect {
                status: StatusCode::FOUND,
                location: format!("/{key}/"),
            });
        }
        if let Some(rule) = config.rules.iter().find(|r| r.applies(&key, Some(404))) {
            return Ok(redirect(rule, &key, host));
        }
        match &config.error_key {
            Some(e) if this.store.object(bucket, e).await?.is_some() => Ok(WebsiteAnswer::Object {
                key: e.clone(),
                status: StatusCode::NOT_FOUND,
            }),
            _ => Err(S3Error::no_such_key(&wanted)),
        }
    }

    /// The object a website answer names, with its status; `head`: no
    /// body.
    pub async fn website_object(
        &self,
        bucket: &str,
        key: &str,
        status: StatusCode,
        headers: &HeaderMap,
        head: bool,
    ) -> Result<crate::S3Response, S3Error> {
        let req = crate::S3Request {
            method: if head { "HEAD" } else { "GET" },
            path: "",
            query: "",
            headers,
        };
        let mut resp = self
            .inner
            .get_object(bucket, key, &req, &crate::op::Query::default(), head)
            .await?;
        if status != StatusCode::OK && resp.status == StatusCode::OK {
            resp.status = status;
        }
        Ok(resp)
    }
}

fn redirect(rule: &RoutingRule, key: &str, host: &str) -> WebsiteAnswer {
    WebsiteAnswer::Redirect {
        status: rule
            .redirect
            .code
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::MOVED_PERMANENTLY),
        location: rule.location(key, host),
    }
}

/// `NoSuchWebsiteConfiguration`.
pub(crate) fn no_website(bucket: &str) -> S3Error {
    S3Error::not_configured(
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
        bucket,
    )
}

/// An error as the website endpoint shows it: an HTML page.
pub fn error_html(e: &S3Error, request_id: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let title = format!(
        "{} {}",
        e.status.as_u16(),
        e.status.canonical_reason().unwrap_or("Error")
    );
    let mut items = format!(
        "<li>Code: {}</li>\n<li>Message: {}</li>\n",
        esc(e.code),
        esc(&e.message)
    );
    for (name, value) in &e.fields {
        items.push_str(&format!("<li>{name}: {}</li>\n", esc(value)));
    }
    items.push_str(&format!(
        "<li>RequestId: {0}</li>\n<li>HostId: {0}</li>\n",
        esc(request_id)
    ));
    format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n{items}</ul>\n<hr/>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_round_trip_and_bad_ones_are_refused() {
        let doc = r#"<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>404.html</Key></ErrorDocument><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule><RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>example.com</HostName><Protocol>https</Protocol></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>"#;
        let config = WebsiteConfig::parse(doc).unwrap();
        assert_eq!(WebsiteConfig::parse(&config.to_xml()).unwrap(), config);
        assert_eq!(WebsiteConfig::decode(&config.encode()), config);
        let all = "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>example.com</HostName></RedirectAllRequestsTo></WebsiteConfiguration>";
        assert!(WebsiteConfig::parse(all).is_ok());
        for bad in [
            "<WebsiteConfiguration></WebsiteConfiguration>",
            "<WebsiteConfiguration><IndexDocument><Suffix>a/b</Suffix></IndexDocument></WebsiteConfiguration>",
            "<WebsiteConfiguration><IndexDocument><Suffix>i</Suffix></IndexDocument><RedirectAllRequestsTo><HostName>h</HostName></RedirectAllRequestsTo></WebsiteConfiguration>",
            "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>h</HostName><Protocol>ftp</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>",
            "<WebsiteConfiguration><IndexDocument><Suffix>i</Suffix></IndexDocument><RoutingRules><RoutingRule><Redirect><HttpRedirectCode>200</HttpRedirectCode></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>",
            "<WebsiteConfiguration><IndexDocument><Suffix>i</Suffix></IndexDocument><RoutingRules><RoutingRule><Redirect><ReplaceKeyWith>a</ReplaceKeyWith><ReplaceKeyPrefixWith>b</ReplaceKeyPrefixWith></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>",
        ] {
            assert_eq!(WebsiteConfig::parse(bad).unwrap_err().code, "InvalidArgument", "{bad}");
        }
        assert_eq!(
            WebsiteConfig::parse("<Other/>").unwrap_err().code,
            "MalformedXML"
        );
    }

    #[test]
    fn rules_rewrite_keys_and_hosts_name_buckets() {
        let rule = RoutingRule {
            prefix: Some("docs/".into()),
            error_code: None,
            redirect: Redirect {
                replace_prefix: Some("documents/".into()),
                ..Redirect::default()
            },
        };
        assert_eq!(
            rule.location("docs/a.html", "site.s3-website.localhost:9000"),
            "http://site.s3-website.localhost:9000/documents/a.html"
        );
        assert!(
            rule.applies("docs/a", None)
                && !rule.applies("docs/a", Some(404))
                && !rule.applies("x", None)
        );
        assert_eq!(
            website_bucket("my.site.s3-website-us-east-1.amazonaws.com").as_deref(),
            Some("my.site")
        );
        assert_eq!(
            website_bucket("site.s3-website.localhost:9000").as_deref(),
            Some("site")
        );
        assert_eq!(website_bucket("site.s3.localhost"), None);
        let html = error_html(&S3Error::no_such_key("a<b"), "rid");
        assert!(
            html.contains("<h1>404 Not Found</h1>") && html.contains("<li>Key: a&lt;b</li>"),
            "{html}"
        );
    }
}

//! The query protocol's request and answer, without knowledge of any service:
//! a form body or query string (`Action=CreateUser&UserName=x&Tags.member.1.Key=k`)
//! becomes a [`QueryRequest`]; a service's result becomes
//! `<{Action}Response xmlns="…"><{Action}Result>…</{Action}Result><ResponseMetadata>…`
//! through [`QueryResponse`]. Errors keep their own shape ([`crate::AwsError::render`]).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::error::xml_escape;
use crate::AwsError;

/// One query-protocol request: its `Action`, `Version` and every other
/// parameter, decoded, by name (`Tags.member.1.Key`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryRequest {
    /// The operation (`CreateUser`).
    pub action: String,
    /// The API version the client speaks (`2010-05-08`), if sent.
    pub version: Option<String>,
    /// The other parameters, percent-decoded.
    pub params: BTreeMap<String, String>,
}

impl QueryRequest {
    /// Reads the parameters of the query string and of a form body
    /// (`application/x-www-form-urlencoded`; pass `b""` when there is none).
    /// A parameter in both takes the body's value. Refuses a request without
    /// `Action` (`MissingAction`) and text that does not decode to UTF-8
    /// (`MalformedQueryString`).
    pub fn parse(query_string: &str, form_body: &[u8]) -> Result<Self, AwsError> {
        let body =
            std::str::from_utf8(form_body).map_err(|_| malformed("the body is not UTF-8"))?;
        let mut params = BTreeMap::new();
        for text in [query_string, body] {
            for pair in text.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                params.insert(decode(key)?, decode(value)?);
            }
        }
        Self::from_params(params)
    }

    /// A request of already decoded parameters (`Action` and `Version`
    /// among them).
    pub fn from_params(mut params: BTreeMap<String, String>) -> Result<Self, AwsError> {
        let action = params
            .remove("Action")
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                AwsError::sender(
                    StatusCode::BAD_REQUEST,
                    "MissingAction",
                    "The request must contain the parameter Action.",
                )
            })?;
        let version = params.remove("Version");
        Ok(Self {
            action,
            version,
            params,
        })
    }

    /// The parameter `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Whether a list parameter was sent at all: botocore sends an empty
    /// list as `Name=` and a non-empty one as `Name.member.N…`.
    pub fn has_list(&self, name: &str) -> bool {
        self.params.contains_key(name) || !self.members(name).is_empty()
    }

    /// A list of scalars, `Name.member.1`, `Name.member.2`, … in index order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.members(name)
            .into_iter()
            .filter_map(|(_, fields)| fields.get("").copied())
            .collect()
    }

    /// A list of structures, `Name.member.N.Field`, in index order; each
    /// member's fields by name (`Key`, `Value`; `arn` for botocore's
    /// `PolicyArns.member.1.arn`).
    pub fn structs(&self, name: &str) -> Vec<BTreeMap<&str, &str>> {
        self.members(name)
            .into_iter()
            .map(|(_, mut fields)| {
                fields.remove("");
                fields
            })
            .collect()
    }

    /// `Name.member.N[.Field]` grouped by `N` (numeric order); a scalar
    /// member is field `""`.
    fn members(&self, name: &str) -> Vec<(u32, BTreeMap<&str, &str>)> {
        let prefix = format!("{name}.member.");
        let mut by_index: BTreeMap<u32, BTreeMap<&str, &str>> = BTreeMap::new();
        for (key, value) in self.params.range(prefix.clone()..) {
            let Some(rest) = key.strip_prefix(&prefix) else {
                break;
            };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            if let Ok(index) = index.parse::<u32>() {
                by_index
                    .entry(index)
                    .or_default()
                    .insert(field, value.as_str());
            }
        }
        by_index.into_iter().collect()
    }

    /// The request as a form body again (`Action`, `Version`, then the
    /// parameters by name), percent-encoded as botocore encodes it.
    pub fn to_form(&self) -> String {
        let mut out = format!("Action={}", encode(&self.action));
        if let Some(v) = &self.version {
            out.push_str(&format!("&Version={}", encode(v)));
        }
        for (k, v) in &self.params {
            out.push_str(&format!("&{}={}", encode(k), encode(v)));
        }
        out
    }
}

fn malformed(why: &str) -> AwsError {
    AwsError::sender(
        StatusCode::BAD_REQUEST,
        "MalformedQueryString",
        format!("The query string is malformed: {why}"),
    )
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; the bytes must be UTF-8.
fn decode(text: &str) -> Result<String, AwsError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| malformed("a % is not followed by two hex digits"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| malformed("a parameter does not decode to UTF-8"))
}

/// Percent-encoding of everything but RFC 3986's unreserved characters,
/// a space as `+`, as botocore's query serializer does
/// (`urlencode(..., safe='-_.~')`).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A value of a query-protocol answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlValue {
    /// A scalar (strings, numbers, booleans and timestamps as text).
    Text(String),
    /// A structure: members in order.
    Struct(Members),
    /// A list: each item a `<member>` element.
    List(Vec<XmlValue>),
}

impl XmlValue {
    /// A scalar.
    pub fn text(value: impl Into<String>) -> Self {
        Self::Text(value.into())
    }

    /// A list of scalars.
    pub fn texts<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        Self::List(items.into_iter().map(Self::text).collect())
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Text(t) => out.push_str(&xml_escape(t)),
            Self::Struct(m) => m.write(out),
            Self::List(items) => {
                for item in items {
                    out.push_str("<member>");
                    item.write(out);
                    out.push_str("</member>");
                }
            }
        }
    }
}

/// The members of a structure, in the order written (the model's order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Members(Vec<(&'static str, XmlValue)>);

impl Members {
    /// No members yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds member `name`.
    pub fn with(mut self, name: &'static str, value: XmlValue) -> Self {
        self.0.push((name, value));
        self
    }

    /// Adds scalar member `name`.
    pub fn text(self, name: &'static str, value: impl Into<String>) -> Self {
        self.with(name, XmlValue::text(value))
    }

    /// Adds scalar member `name` when there is a value (an absent member is
    /// left out, as AWS leaves it out).
    pub fn opt(self, name: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.text(name, v),
            None => self,
        }
    }

    /// Adds a boolean member (`true`/`false`).
    pub fn bool(self, name: &'static str, value: bool) -> Self {
        self.text(name, if value { "true" } else { "false" })
    }

    /// Adds a structure member.
    pub fn nested(self, name: &'static str, value: Members) -> Self {
        self.with(name, XmlValue::Struct(value))
    }

    /// Adds a list member.
    pub fn list(self, name: &'static str, items: Vec<XmlValue>) -> Self {
        self.with(name, XmlValue::List(items))
    }

    /// The members, in order.
    pub fn entries(&self) -> &[(&'static str, XmlValue)] {
        &self.0
    }

    fn write(&self, out: &mut String) {
        for (name, value) in &self.0 {
            out.push('<');
            out.push_str(name);
            out.push('>');
            value.write(out);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

/// A successful query-protocol answer: the operation, the service's XML
/// namespace and the result's members (`None` for operations without
/// output, which answer only their `ResponseMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResponse {
    /// The operation (`CreateUser`).
    pub action: String,
    /// The service's `xmlNamespace` (`https://iam.amazonaws.com/doc/2010-05-08/`).
    pub namespace: &'static str,
    /// The `{Action}Result` members, if the operation has output.
    pub result: Option<Members>,
}

impl QueryResponse {
    /// An answer with a result.
    pub fn new(action: impl Into<String>, namespace: &'static str, result: Members) -> Self {
        Self {
            action: action.into(),
            namespace,
            result: Some(result),
        }
    }

    /// An answer without output (`DeleteUser`).
    pub fn empty(action: impl Into<String>, namespace: &'static str) -> Self {
        Self {
            action: action.into(),
            namespace,
            result: None,
        }
    }

    /// The XML document, `request_id` in its `ResponseMetadata`.
    pub fn to_xml(&self, request_id: &str) -> String {
        let action = &self.action;
        let mut out = format!(
            "<{action}Response xmlns=\"{}\">",
            xml_escape(self.namespace)
        );
        if let Some(result) = &self.result {
            out.push_str(&format!("<{action}Result>"));
            result.write(&mut out);
            out.push_str(&format!("</{action}Result>"));
        }
        out.push_str("<ResponseMetadata><RequestId>");
        out.push_str(&xml_escape(request_id));
        out.push_str(&format!(
            "</RequestId></ResponseMetadata></{action}Response>"
        ));
        out
    }

    /// The HTTP answer: 200, `text/xml`, `x-amzn-RequestId`.
    pub fn render(&self, request_id: &str) -> Response<Bytes> {
        let mut resp = Response::new(Bytes::from(self.to_xml(request_id)));
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-requestid", id);
        }
        resp
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;

//! A function URL's CORS configuration, as Lambda checks and applies it:
//! the model's constraints on Create/UpdateFunctionUrlConfig, preflight
//! `OPTIONS` requests answered from the configuration without invoking the
//! function, and the `Access-Control-*` headers put on the function's
//! answers for allowed origins (Lambda's replace the function's own).

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ignis_model::{ErrorKind, LambdaError};
use serde::{Deserialize, Serialize};

/// The `Cors` member of a URL configuration, as the model names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Cors {
    /// Whether cookies and credentials may be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    /// Request headers origins may send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    /// Methods origins may use (`*` for any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    /// Origins that may call (`*` for any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    /// Response headers shown to origins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    /// Seconds a browser may cache a preflight answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// Methods `AllowMethods` may name.
const METHODS: [&str; 7] = ["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"];

/// A list member's constraints: at most `max` items of `min..=len` characters.
fn check_list(
    errors: &mut Vec<String>,
    member: &str,
    list: Option<&Vec<String>>,
    (max, min, len): (usize, usize, usize),
) {
    let Some(list) = list else { return };
    let shown = || format!("[{}]", list.join(", "));
    if list.len() > max {
        errors.push(format!("Value '{}' at 'cors.{member}' failed to satisfy constraint: Member must have length less than or equal to {max}", shown()));
    }
    if list.iter().any(|v| v.chars().count() > len) {
        errors.push(format!("Value '{}' at 'cors.{member}' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to {len}]", shown()));
    }
    if list.iter().any(|v| v.chars().count() < min) {
        errors.push(format!("Value '{}' at 'cors.{member}' failed to satisfy constraint: Member must satisfy constraint: [Member must have length greater than or equal to {min}]", shown()));
    }
}

impl Cors {
    /// The model's constraints (`ValidationException`, every failure
    /// named), then the methods (`InvalidParameterValueException`).
    pub fn validate(&self) -> Result<(), LambdaError> {
        let mut errors = Vec::new();
        check_list(
            &mut errors,
            "allowHeaders",
            self.allow_headers.as_ref(),
            (100, 0, 1024),
        );
        check_list(
            &mut errors,
            "allowMethods",
            self.allow_methods.as_ref(),
            (6, 0, 6),
        );
        check_list(
            &mut errors,
            "allowOrigins",
            self.allow_origins.as_ref(),
            (100, 1, 253),
        );
        check_list(
            &mut errors,
            "exposeHeaders",
            self.expose_headers.as_ref(),
            (100, 0, 1024),
        );
        match self.max_age {
            Some(n) if n > 86_400 => errors.push(format!("Value '{n}' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400")),
            Some(n) if n < 0 => errors.push(format!("Value '{n}' at 'cors.maxAge' failed to satisfy constraint: Member must have value greater than or equal to 0")),
            _ => {}
        }
        if !errors.is_empty() {
            let n = errors.len();
            let noun = if n == 1 { "error" } else { "errors" };
            return Err(LambdaError::new(
                ErrorKind::Validation,
                format!("{n} validation {noun} detected: {}", errors.join("; ")),
            ));
        }
        let mut methods = self.allow_methods.iter().flatten();
        if let Some(bad) = methods.find(|m| !METHODS.contains(&m.as_str())) {
            return Err(LambdaError::invalid(format!(
                "Invalid method in AllowMethods: {bad}. Allowed values are GET, PUT, HEAD, POST, PATCH, DELETE and *"
            )));
        }
        Ok(())
    }

    /// Whether `origin` may call.
    fn allows_origin(&self, origin: &str) -> bool {
        self.allow_origins
            .iter()
            .flatten()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allow_methods
            .iter()
            .flatten()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(method))
    }

    fn allows_headers(&self, requested: &str) -> bool {
        let allowed: Vec<&String> = self.allow_headers.iter().flatten().collect();
        requested
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| {
                allowed
                    .iter()
                    .any(|a| *a == "*" || a.eq_ignore_ascii_case(h))
            })
    }

    /// `Access-Control-Allow-Origin`'s value for an allowed `origin`: `*`
    /// when any origin may call without credentials, else the origin.
    fn allow_origin_value(&self, origin: &str) -> String {
        let any = self.allow_origins.iter().flatten().any(|o| o == "*");
        if any && self.allow_credentials != Some(true) {
            "*".into()
        } else {
            origin.into()
        }
    }
}

/// The `Origin` of a request, when it has one.
fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Lambda's answer to a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`), from the configuration alone; `None`
/// for any other request, which goes to the function.
pub fn preflight(cors: Option<&Cors>, method: &Method, headers: &HeaderMap) -> Option<Response> {
    let cors = cors?;
    if method != Method::OPTIONS {
        return None;
    }
    let origin = origin(headers)?;
    let wanted = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
        .to_str()
        .unwrap_or("");
    let wanted_headers = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut resp = StatusCode::OK.into_response();
    let allowed = cors.allows_origin(origin)
        && cors.allows_method(wanted)
        && cors.allows_headers(wanted_headers);
    if !allowed {
        // Refused: no CORS headers, so the browser stops there.
        return Some(resp);
    }
    let h = resp.headers_mut();
    insert(
        h,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        &cors.allow_origin_value(origin),
    );
    if let Some(methods) = cors.allow_methods.as_ref().filter(|m| !m.is_empty()) {
        insert(h, header::ACCESS_CONTROL_ALLOW_METHODS, &methods.join(","));
    }
    if let Some(allowed) = cors.allow_headers.as_ref().filter(|a| !a.is_empty()) {
        insert(h, header::ACCESS_CONTROL_ALLOW_HEADERS, &allowed.join(","));
    }
    if let Some(age) = cors.max_age {
        insert(h, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    if cors.allow_credentials == Some(true) {
        insert(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    Some(resp)
}

/// Puts the CORS headers on the function's answer to a request from an
/// allowed origin; with CORS configured, the function's own
/// `Access-Control-*` headers give way to the configuration's.
pub fn decorate(cors: Option<&Cors>, request: &HeaderMap, resp: &mut Response) {
    let Some(cors) = cors else { return };
    let h = resp.headers_mut();
    let own: Vec<HeaderName> = h
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in own {
        h.remove(name);
    }
    let Some(origin) = origin(request).filter(|o| cors.allows_origin(o)) else {
        return;
    };
    insert(
        h,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        &cors.allow_origin_value(origin),
    );
    if cors.allow_credentials == Some(true) {
        insert(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    if let Some(exposed) = cors.expose_headers.as_ref().filter(|e| !e.is_empty()) {
        insert(h, header::ACCESS_CONTROL_EXPOSE_HEADERS, &exposed.join(","));
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors {
            allow_credentials: Some(true),
            allow_headers: Some(vec!["content-type".into(), "X-Custom".into()]),
            allow_methods: Some(vec!["GET".into(), "POST".into()]),
            allow_origins: Some(vec!["https://yourdomain.com".into()]),
            expose_headers: Some(vec!["x-answer".into()]),
            max_age: Some(600),
        }
    }

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn constraints_are_the_models() {
        assert!(cors().validate().is_ok());
        let too_old = Cors {
            max_age: Some(86_401),
            ..cors()
        };
        let e = too_old.validate().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        assert!(e.message.contains("'cors.maxAge'"), "{}", e.message);
        let many = Cors {
            allow_methods: Some(vec!["GET".into(); 7]),
            allow_origins: Some(vec![String::new()]),
            ..cors()
        };
        let e = many.validate().unwrap_err();
        assert!(
            e.message.starts_with("2 validation errors detected"),
            "{}",
            e.message
        );
        let odd = Cors {
            allow_methods: Some(vec!["TRACE".into()]),
            ..cors()
        };
        assert_eq!(
            odd.validate().unwrap_err().kind,
            ErrorKind::InvalidParameterValue
        );
    }

    #[test]
    fn an_allowed_preflight_is_answered_from_the_configuration() {
        let h = request(&[
            ("origin", "https://yourdomain.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "Content-Type, x-custom"),
        ]);
        let resp = preflight(Some(&cors()), &Method::OPTIONS, &h).unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let got = |n: &str| resp.headers().get(n).unwrap().to_str().unwrap().to_string();
        assert_eq!(got("access-control-allow-origin"), "https://yourdomain.com");
        assert_eq!(got("access-control-allow-methods"), "GET,POST");
        assert_eq!(got("access-control-allow-headers"), "content-type,X-Custom");
        assert_eq!(got("access-control-max-age"), "600");
        assert_eq!(got("access-control-allow-credentials"), "true");
        assert_eq!(got("vary"), "Origin");
    }

    #[test]
    fn a_refused_preflight_gets_no_cors_headers() {
        for h in [
            request(&[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ]),
            request(&[
                ("origin", "https://yourdomain.com"),
                ("access-control-request-method", "DELETE"),
            ]),
            request(&[
                ("origin", "https://yourdomain.com"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-other"),
            ]),
        ] {
            let resp = preflight(Some(&cors()), &Method::OPTIONS, &h).unwrap();
            assert!(
                !resp
                    .headers()
                    .keys()
                    .any(|k| k.as_str().starts_with("access-control-")),
                "{:?}",
                resp.headers()
            );
        }
        // Not a preflight, or no CORS configured: the function answers.
        let h = request(&[("origin", "https://yourdomain.com")]);
        assert!(preflight(Some(&cors()), &Method::OPTIONS, &h).is_none());
        let h = request(&[
            ("origin", "https://a.b"),
            ("access-control-request-method", "GET"),
        ]);
        assert!(preflight(None, &Method::OPTIONS, &h).is_none());
        assert!(preflight(Some(&cors()), &Method::GET, &h).is_none());
    }

    #[test]
    fn answers_get_the_configurations_headers_for_allowed_origins_only() {
        let own = || {
            let mut r = StatusCode::OK.into_response();
            r.headers_mut()
                .insert("access-control-allow-origin", HeaderValue::from_static("*"));
            r
        };
        let mut resp = own();
        decorate(
            Some(&cors()),
            &request(&[("origin", "https://yourdomain.com")]),
            &mut resp,
        );
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], "https://yourdomain.com");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-expose-headers"], "x-answer");
        assert_eq!(h["vary"], "Origin");
        let mut resp = own();
        decorate(
            Some(&cors()),
            &request(&[("origin", "https://evil.example")]),
            &mut resp,
        );
        assert!(resp.headers().get("access-control-allow-origin").is_none());
        let mut resp = own();
        decorate(
            None,
            &request(&[("origin", "https://evil.example")]),
            &mut resp,
        );
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let any = Cors {
            allow_origins: Some(vec!["*".into()]),
            allow_credentials: None,
            ..cors()
        };
        let mut resp = own();
        decorate(
            Some(&any),
            &request(&[("origin", "https://x.example")]),
            &mut resp,
        );
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    }
}

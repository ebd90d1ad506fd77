//! Each protocol's error shape, as the SDKs parse it: REST-JSON's
//! `X-Amzn-ErrorType` header, the JSON protocol's `__type` (and SQS's
//! `x-amzn-query-error`), the query protocol's `<ErrorResponse>` and
//! REST-XML's `<Error>`.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::{Protocol, Recognized, Service};

/// An error of an AWS service, before it has a protocol's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error code (`UnknownOperationException`, `InvalidAction`, …).
    pub code: String,
    /// The message.
    pub message: String,
    /// The caller's fault (`Sender`), not the service's (`Receiver`).
    pub sender_fault: bool,
}

impl AwsError {
    /// A caller's error.
    pub fn sender(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            sender_fault: true,
        }
    }

    /// The answer to a request for a service or operation Ignis does not
    /// serve, with the code each protocol's services use for it.
    pub fn not_served(what: &Recognized) -> Self {
        let message = match (what.service, &what.operation) {
            (Some(service), Some(op)) if !what.is_known_operation() => {
                format!("{op} is not an operation of {}", service.id)
            }
            _ => format!("{} is not served by Ignis", what.describe()),
        };
        match what.service.map(|s| s.protocol) {
            Some(Protocol::Query) => {
                Self::sender(StatusCode::BAD_REQUEST, "InvalidAction", message)
            }
            Some(Protocol::RestXml) => {
                Self::sender(StatusCode::NOT_IMPLEMENTED, "NotImplemented", message)
            }
            _ => Self::sender(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                message,
            ),
        }
    }

    /// The error in the shape of `service`'s protocol (REST-JSON for a
    /// service the catalog does not know).
    pub fn render(&self, service: Option<&Service>, request_id: &str) -> Response<Bytes> {
        let protocol = service.map_or(Protocol::RestJson, |s| s.protocol);
        self.render_as(protocol, service, request_id)
    }

    /// The error in the shape of `protocol` for `service` — for a service
    /// that speaks more than its model's protocol (SQS answers its older
    /// query protocol too).
    pub fn render_as(
        &self,
        protocol: Protocol,
        service: Option<&Service>,
        request_id: &str,
    ) -> Response<Bytes> {
        let (content_type, body) = match protocol {
            Protocol::RestJson => ("application/json", self.json_body("Type")),
            Protocol::Json(version) => (json_content_type(version), self.json_body("__type")),
            Protocol::Query => ("text/xml", self.query_body(request_id)),
            Protocol::RestXml => ("application/xml", self.rest_xml_body(request_id)),
        };
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = self.status;
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(code) = HeaderValue::from_str(&self.code) {
            match protocol {
                Protocol::RestJson => {
                    headers.insert("x-amzn-errortype", code);
                }
                Protocol::Json(_) if service.is_some_and(|s| s.query_compatible) => {
                    let fault = if self.sender_fault {
                        "Sender"
                    } else {
                        "Receiver"
                    };
                    if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", self.code)) {
                        headers.insert("x-amzn-query-error", v);
                    }
                }
                _ => {}
            }
        }
        if let Ok(id) = HeaderValue::from_str(request_id) {
            let name = if protocol == Protocol::RestXml {
                "x-amz-request-id"
            } else {
                "x-amzn-requestid"
            };
            headers.insert(name, id);
        }
        resp
    }

    /// REST-JSON: `{"Type":"User","message":…}` (the type in the header);
    /// JSON: `{"__type":"Code","message":…}`.
    fn json_body(&self, type_key: &str) -> String {
        let type_value = match type_key {
            "__type" => self.code.clone(),
            _ if self.sender_fault => "User".to_string(),
            _ => "Service".to_string(),
        };
        serde_json::json!({ type_key: type_value, "message": self.message }).to_string()
    }

    fn query_body(&self, request_id: &str) -> String {
        let fault = if self.sender_fault {
            "Sender"
        } else {
            "Receiver"
        };
        format!(
            "<ErrorResponse><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            xml_escape(&self.code),
            xml_escape(&self.message),
            xml_escape(request_id)
        )
    }

    fn rest_xml_body(&self, request_id: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
            xml_escape(&self.code),
            xml_escape(&self.message),
            xml_escape(request_id)
        )
    }
}

fn json_content_type(version: &str) -> &'static str {
    match version {
        "1.0" => "application/x-amz-json-1.0",
        _ => "application/x-amz-json-1.1",
    }
}

/// Text made safe for an XML element.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A raw carriage return would be read back as a line feed
            // (XML's end-of-line handling); SQS message bodies keep theirs.
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recognized(service: &str, op: &str) -> Recognized {
        Recognized {
            service: Service::by_signing_name(service),
            unknown_service: None,
            operation: Some(op.to_string()),
        }
    }

    fn text(resp: &Response<Bytes>) -> String {
        String::from_utf8(resp.body().to_vec()).unwrap()
    }

    #[test]
    fn json_services_answer_with_type_and_query_compatible_header() {
        let what = recognized("sqs", "SendMessage");
        let e = AwsError::not_served(&what);
        let resp = e.render(what.service, "rid");
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["content-type"], "application/x-amz-json-1.0");
        assert_eq!(
            resp.headers()["x-amzn-query-error"],
            "UnknownOperationException;Sender"
        );
        let body: serde_json::Value = serde_json::from_str(&text(&resp)).unwrap();
        assert_eq!(body["__type"], "UnknownOperationException");
        assert_eq!(body["message"], "SQS SendMessage is not served by Ignis");
    }

    #[test]
    fn query_services_answer_with_an_error_response() {
        let what = recognized("sns", "Publish");
        let resp = AwsError::not_served(&what).render(what.service, "r<1>");
        assert_eq!(resp.status(), 400);
        assert_eq!(
            text(&resp),
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>SNS Publish is not served by Ignis</Message></Error><RequestId>r&lt;1&gt;</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn s3_answers_not_implemented_in_rest_xml() {
        let what = recognized("s3", "PutObject");
        let resp = AwsError::not_served(&what).render(what.service, "rid");
        assert_eq!(resp.status(), 501);
        assert!(text(&resp).contains("<Error><Code>NotImplemented</Code><Message>S3 PutObject is not served by Ignis</Message>"));
        assert_eq!(resp.headers()["x-amz-request-id"], "rid");
    }

    #[test]
    fn an_operation_outside_the_model_is_named_as_such() {
        let what = recognized("logs", "Fly");
        let e = AwsError::not_served(&what);
        assert_eq!(e.message, "Fly is not an operation of CloudWatch Logs");
        let resp = e.render(what.service, "rid");
        assert_eq!(resp.headers()["content-type"], "application/x-amz-json-1.1");
        assert!(resp.headers().get("x-amzn-query-error").is_none());
    }
}

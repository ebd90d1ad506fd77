//! Lambda's invocation record: what a destination receives about a
//! finished asynchronous invocation.

use serde::Serialize;
use serde_json::value::RawValue;

/// Why the record was written (`requestContext.condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Condition {
    /// The function answered without an error.
    Success,
    /// Every attempt failed.
    RetriesExhausted,
    /// The event got older than `MaximumEventAgeInSeconds` before it could
    /// run (again).
    EventAgeExceeded,
}

impl Condition {
    /// Whether the record goes to the failure destination.
    pub fn is_failure(self) -> bool {
        self != Self::Success
    }
}

/// What the record says of the last attempt, if one ran.
#[derive(Debug, Clone)]
pub struct LastResponse<'a> {
    /// The version that ran.
    pub executed_version: String,
    /// Whether it failed (`Unhandled`).
    pub function_error: bool,
    /// Its response or error document.
    pub payload: &'a [u8],
}

/// The fields of a record.
#[derive(Debug, Clone)]
pub struct RecordInput<'a> {
    /// The invocation's request id.
    pub request_id: &'a str,
    /// The function's qualified ARN (`…:$LATEST` when invoked unqualified).
    pub function_arn: &'a str,
    /// Why.
    pub condition: Condition,
    /// Attempts run.
    pub approximate_invoke_count: u32,
    /// The event.
    pub request_payload: &'a [u8],
    /// The last attempt's answer, if any ran.
    pub response: Option<LastResponse<'a>>,
    /// `timestamp`, RFC 3339 with milliseconds.
    pub timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    version: &'static str,
    timestamp: &'a str,
    request_context: RequestContext<'a>,
    request_payload: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_context: Option<ResponseContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_payload: Option<Box<RawValue>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    request_id: &'a str,
    function_arn: &'a str,
    condition: Condition,
    approximate_invoke_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseContext<'a> {
    status_code: u16,
    executed_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_error: Option<&'static str>,
}

/// A document embedded as it is when it is JSON (no re-encoding of its
/// numbers or key order), as a JSON string when it is not, `null` when
/// empty.
fn embedded(bytes: &[u8]) -> Box<RawValue> {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return RawValue::from_string("null".into()).expect("null is JSON");
    }
    RawValue::from_string(trimmed.to_owned()).unwrap_or_else(|_| {
        let quoted = serde_json::to_string(trimmed).expect("a string encodes");
        RawValue::from_string(quoted).expect("an encoded string is JSON")
    })
}

/// The record as JSON bytes.
pub fn invocation_record(r: &RecordInput<'_>) -> Vec<u8> {
    let record = Record {
        version: "1.0",
        timestamp: &r.timestamp,
        request_context: RequestContext {
            request_id: r.request_id,
            function_arn: r.function_arn,
            condition: r.condition,
            approximate_invoke_count: r.approximate_invoke_count,
        },
        request_payload: embedded(r.request_payload),
        response_context: r.response.as_ref().map(|resp| ResponseContext {
            status_code: 200,
            executed_version: &resp.executed_version,
            function_error: resp.function_error.then_some("Unhandled"),
        }),
        response_payload: r.response.as_ref().map(|resp| embedded(resp.payload)),
    };
    serde_json::to_vec(&record).expect("a record of JSON values encodes")
}

/// The ARN a record names: the invoked ARN with `:$LATEST` when the caller
/// named no qualifier, as Lambda's records do.
pub fn qualified_arn(invoked_arn: &str) -> String {
    // arn:aws:lambda:region:account:function:name[:qualifier]
    if invoked_arn.split(':').count() >= 8 {
        invoked_arn.to_owned()
    } else {
        format!("{invoked_arn}:$LATEST")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_record_has_lambdas_shape() {
        let arn = qualified_arn("arn:aws:lambda:us-east-1:000000000000:function:f");
        assert_eq!(
            arn,
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
        );
        let bytes = invocation_record(&RecordInput {
            request_id: "r-1",
            function_arn: &arn,
            condition: Condition::RetriesExhausted,
            approximate_invoke_count: 3,
            request_payload: br#"{"n": 1.50}"#,
            response: Some(LastResponse {
                executed_version: "$LATEST".into(),
                function_error: true,
                payload: br#"{"errorMessage":"boom","errorType":"Boom"}"#,
            }),
            timestamp: "2026-12-06T21:00:00.000Z".into(),
        });
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(r#""requestPayload":{"n": 1.50}"#), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "version": "1.0",
                "timestamp": "2026-12-06T21:00:00.000Z",
                "requestContext": {
                    "requestId": "r-1",
                    "functionArn": arn,
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 3
                },
                "requestPayload": {"n": 1.5},
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": {"errorMessage": "boom", "errorType": "Boom"}
            })
        );
    }

    #[test]
    fn success_age_and_odd_payloads() {
        let arn = qualified_arn("arn:aws:lambda:us-east-1:000000000000:function:f:live");
        assert!(arn.ends_with(":f:live"));
        let v: serde_json::Value = serde_json::from_slice(&invocation_record(&RecordInput {
            request_id: "r",
            function_arn: &arn,
            condition: Condition::Success,
            approximate_invoke_count: 1,
            request_payload: b"",
            response: Some(LastResponse {
                executed_version: "3".into(),
                function_error: false,
                payload: b"not json",
            }),
            timestamp: "t".into(),
        }))
        .unwrap();
        assert_eq!(v["requestPayload"], serde_json::Value::Null);
        assert_eq!(v["responsePayload"], "not json");
        assert_eq!(v["responseContext"]["executedVersion"], "3");
        assert!(v["responseContext"].get("functionError").is_none());

        let v: serde_json::Value = serde_json::from_slice(&invocation_record(&RecordInput {
            request_id: "r",
            function_arn: &arn,
            condition: Condition::EventAgeExceeded,
            approximate_invoke_count: 0,
            request_payload: b"[1]",
            response: None,
            timestamp: "t".into(),
        }))
        .unwrap();
        assert_eq!(v["requestContext"]["condition"], "EventAgeExceeded");
        assert!(v.get("responseContext").is_none() && v.get("responsePayload").is_none());
    }
}

//! Lambda event filtering: the SQS body rules from "Filtering with Amazon
//! SQS", the MQ `data` field, OR'ed filters and Lambda's refusals.

use serde_json::{json, Value};

use crate::lambda::{FilterError, Filters};

fn sqs(body: &str) -> Value {
    json!({
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:my-queue",
        "awsRegion": "us-west-2"
    })
}

fn filters(patterns: &[&str]) -> Filters {
    let owned: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
    Filters::parse(&owned).expect("filters parse")
}

const JSON_BODY: &str =
    r#"{"RecordNumber": 1234, "TimeStamp": "yyyy-mm-ddThh:mm:ss", "RequestCode": "BBBB"}"#;

/// `(patterns, body, expected)`.
const SQS_CASES: &[(&[&str], &str, bool)] = &[
    (&[r#"{"body": {"RequestCode": ["BBBB"]}}"#], JSON_BODY, true),
    (
        &[r#"{"body": {"RequestCode": ["AAAA"]}}"#],
        JSON_BODY,
        false,
    ),
    (
        &[r#"{"body": {"RecordNumber": [{"numeric": [">", 9999]}]}}"#],
        JSON_BODY,
        false,
    ),
    (
        &[r#"{"body": {"RecordNumber": [{"numeric": [">", 1000]}]}}"#],
        JSON_BODY,
        true,
    ),
    // Plain-string body and plain-string pattern: filtered on the string.
    (&[r#"{"body": ["hello"]}"#], "hello", true),
    (&[r#"{"body": [{"prefix": "hel"}]}"#], "hello", true),
    (&[r#"{"body": ["bye"]}"#], "hello", false),
    // Plain-string body, JSON pattern: dropped.
    (
        &[r#"{"body": {"RequestCode": ["BBBB"]}}"#],
        "RequestCode=BBBB",
        false,
    ),
    // JSON body, plain-string pattern: dropped.
    (&[r#"{"body": [{"prefix": "{"}]}"#], JSON_BODY, false),
    // No pattern on body: the metadata decides.
    (&[r#"{"awsRegion": ["us-west-2"]}"#], "anything", true),
    (
        &[r#"{"attributes": {"ApproximateReceiveCount": ["2"]}}"#],
        JSON_BODY,
        false,
    ),
    // Filters are OR'ed.
    (
        &[
            r#"{"body": {"RequestCode": ["AAAA"]}}"#,
            r#"{"body": {"RequestCode": ["BBBB"]}}"#,
        ],
        JSON_BODY,
        true,
    ),
    (
        &[
            r#"{"body": {"RequestCode": ["AAAA"]}}"#,
            r#"{"body": ["BBBB"]}"#,
        ],
        JSON_BODY,
        false,
    ),
    // Exact numbers compare as text in Lambda.
    (&[r#"{"body": {"RecordNumber": [1234]}}"#], JSON_BODY, true),
    (
        &[r#"{"body": {"RecordNumber": [1234.0]}}"#],
        JSON_BODY,
        false,
    ),
    // Null, empty, ignore case, exists.
    (
        &[r#"{"body": {"UserID": [null]}}"#],
        r#"{"UserID": null}"#,
        true,
    ),
    (
        &[r#"{"body": {"LastName": [""]}}"#],
        r#"{"LastName": ""}"#,
        true,
    ),
    (
        &[r#"{"body": {"Name": [{"equals-ignore-case": "alice"}]}}"#],
        r#"{"Name": "Alice"}"#,
        true,
    ),
    (
        &[r#"{"body": {"ProductName": [{"exists": false}]}}"#],
        r#"{"Price": 1}"#,
        true,
    ),
    (
        &[r#"{"body": {"Weather": [{"anything-but": ["Raining"]}]}}"#],
        r#"{"Weather": "Sunny"}"#,
        true,
    ),
    (
        &[r#"{"body": {"Weather": [{"anything-but": ["Raining"]}]}}"#],
        r#"{"Weather": "Raining"}"#,
        false,
    ),
    (
        &[r#"{"body": {"Region": [{"prefix": "us-"}]}}"#],
        r#"{"Region": "us-east-1"}"#,
        true,
    ),
    (
        &[r#"{"body": {"$or": [{"a": ["1"]}, {"b": ["2"]}]}}"#],
        r#"{"b": "2"}"#,
        true,
    ),
];

#[test]
fn sqs_records_filter_as_lambda_documents() {
    let mut failures = Vec::new();
    for (i, (patterns, body, expected)) in SQS_CASES.iter().enumerate() {
        if filters(patterns).matches_sqs(&sqs(body)) != *expected {
            failures.push(format!(
                "case {i}: {patterns:?} on {body:?}: expected {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_filters_pass_everything() {
    let f = Filters::parse(&[]).unwrap();
    assert!(f.is_empty());
    assert!(f.matches_sqs(&sqs("x")));
}

#[test]
fn mq_data_is_decoded_from_base64() {
    let plain = json!({"messageID": "ID:1", "data": "QUJDOkFBQUE="});
    assert!(filters(&[r#"{"data": [{"prefix": "ABC"}]}"#]).matches_record(&plain, "data"));
    assert!(!filters(&[r#"{"data": [{"prefix": "XYZ"}]}"#]).matches_record(&plain, "data"));
    // {"a":1} in base64.
    let json_data = json!({"messageID": "ID:2", "data": "eyJhIjoxfQ=="});
    assert!(filters(&[r#"{"data": {"a": [1]}}"#]).matches_record(&json_data, "data"));
    assert!(!filters(&[r#"{"data": {"a": [2]}}"#]).matches_record(&json_data, "data"));
    let dynamo = json!({"eventName": "INSERT", "dynamodb": {"Keys": {"Id": {"N": "101"}}}});
    assert!(
        filters(&[r#"{"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}"#])
            .matches_record(&dynamo, "dynamodb")
    );
}

#[test]
fn malformed_filters_are_lambdas_errors() {
    let bad = |p: &str| Filters::parse(&[p.to_string()]).unwrap_err();
    for p in [
        r#"{"body": "x"}"#,
        r#"[{"eventName": ["INSERT"]}]"#,
        "null",
        r#"{"a": [{"wildcard": "x*"}]}"#,
        r#"{"a": [{"anything-but": {"prefix": "x"}}]}"#,
        r#"{"a": []}"#,
    ] {
        let e = bad(p);
        assert!(
            matches!(e, FilterError::InvalidPattern { index: 0, .. }),
            "{p}: {e:?}"
        );
        assert_eq!(e.to_string(), "Invalid filter pattern definition.");
    }
    let six: Vec<String> = (0..6).map(|i| format!(r#"{{"a": ["{i}"]}}"#)).collect();
    assert!(matches!(
        Filters::parse(&six),
        Err(FilterError::TooManyFilters { count: 6, max: 5 })
    ));
    let second_bad = [r#"{"a": ["x"]}"#.to_string(), "{".to_string()];
    assert!(matches!(
        Filters::parse(&second_bad),
        Err(FilterError::InvalidPattern { index: 1, .. })
    ));
}

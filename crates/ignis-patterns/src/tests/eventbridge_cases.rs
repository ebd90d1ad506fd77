//! EventBridge event patterns on a table of cases drawn from AWS's
//! documentation ("Amazon EventBridge event patterns", "Content filtering in
//! Amazon EventBridge event patterns", "Comparison operators", "Matching
//! null values and empty strings", "Arrays in event patterns"): pattern,
//! event, expected result; then invalid patterns with EventBridge's reasons.

use serde_json::Value;

use crate::{EventPattern, PatternError};

/// The EC2 state-change event the documentation's examples run against;
/// `@ec2` in a case's event column stands for it.
const EC2: &str = r#"{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}"#;

/// `(name, pattern, event, expected)`.
const CASES: &[(&str, &str, &str, bool)] = &[
    // Exact values and structure.
    ("source equals", r#"{"source": ["aws.ec2"]}"#, "@ec2", true),
    ("source differs", r#"{"source": ["aws.s3"]}"#, "@ec2", false),
    (
        "one of several values",
        r#"{"source": ["aws.s3", "aws.ec2"]}"#,
        "@ec2",
        true,
    ),
    (
        "fields are ANDed",
        r#"{"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}"#,
        "@ec2",
        true,
    ),
    (
        "one field of two fails",
        r#"{"source": ["aws.ec2"], "detail-type": ["Other"]}"#,
        "@ec2",
        false,
    ),
    (
        "nested field",
        r#"{"detail": {"state": ["running"]}}"#,
        "@ec2",
        true,
    ),
    (
        "nested field alternatives",
        r#"{"detail": {"state": ["initializing", "running"]}}"#,
        "@ec2",
        true,
    ),
    (
        "nested field mismatch",
        r#"{"detail": {"state": ["stopped"]}}"#,
        "@ec2",
        false,
    ),
    (
        "field missing from event",
        r#"{"detail": {"owner": ["me"]}}"#,
        "@ec2",
        false,
    ),
    (
        "matching is case sensitive",
        r#"{"source": ["AWS.EC2"]}"#,
        "@ec2",
        false,
    ),
    (
        "simple-matching example",
        r#"{"detail-type": ["EC2 Instance State-change Notification"], "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"], "detail": {"state": ["initializing", "running"]}}"#,
        "@ec2",
        true,
    ),
    (
        "number equals numerically",
        r#"{"detail": {"x-limit": [301.8]}}"#,
        "@ec2",
        true,
    ),
    (
        "number in exponent form",
        r#"{"detail": {"x-limit": [3.018e2]}}"#,
        "@ec2",
        true,
    ),
    (
        "integer matches float spelling",
        r#"{"n": [300]}"#,
        r#"{"n": 300.0}"#,
        true,
    ),
    (
        "number does not match its string",
        r#"{"n": [300]}"#,
        r#"{"n": "300"}"#,
        false,
    ),
    (
        "string does not match number",
        r#"{"n": ["300"]}"#,
        r#"{"n": 300}"#,
        false,
    ),
    (
        "boolean true",
        r#"{"detail": {"on": [true]}}"#,
        r#"{"detail": {"on": true}}"#,
        true,
    ),
    (
        "boolean false vs true",
        r#"{"detail": {"on": [false]}}"#,
        r#"{"detail": {"on": true}}"#,
        false,
    ),
    (
        "boolean vs string",
        r#"{"detail": {"on": [true]}}"#,
        r#"{"detail": {"on": "true"}}"#,
        false,
    ),
    // Null values and empty strings.
    (
        "null matches null",
        r#"{"detail": {"responseElements": [null]}}"#,
        r#"{"detail": {"eventVersion": "", "responseElements": null}}"#,
        true,
    ),
    (
        "empty string matches empty",
        r#"{"detail": {"eventVersion": [""]}}"#,
        r#"{"detail": {"eventVersion": "", "responseElements": null}}"#,
        true,
    ),
    (
        "null does not match empty string",
        r#"{"detail": {"eventVersion": [null]}}"#,
        r#"{"detail": {"eventVersion": "", "responseElements": null}}"#,
        false,
    ),
    (
        "empty string does not match null",
        r#"{"detail": {"responseElements": [""]}}"#,
        r#"{"detail": {"eventVersion": "", "responseElements": null}}"#,
        false,
    ),
    (
        "null does not match missing",
        r#"{"detail": {"other": [null]}}"#,
        r#"{"detail": {"eventVersion": ""}}"#,
        false,
    ),
    // Arrays.
    (
        "array field, one element matches",
        r#"{"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f", "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}"#,
        r#"{"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:555555555555:instance/i-b188560f"]}"#,
        true,
    ),
    (
        "array field, no element matches",
        r#"{"resources": ["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}"#,
        r#"{"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:555555555555:instance/i-b188560f"]}"#,
        false,
    ),
    (
        "array of objects, element matches",
        r#"{"detail": {"items": {"name": ["b"]}}}"#,
        r#"{"detail": {"items": [{"name": "a"}, {"name": "b"}]}}"#,
        true,
    ),
    (
        "array of objects, fields from one element",
        r#"{"detail": {"items": {"name": ["a"], "size": [2]}}}"#,
        r#"{"detail": {"items": [{"name": "a", "size": 1}, {"name": "b", "size": 2}]}}"#,
        false,
    ),
    (
        "array of objects, both fields in one element",
        r#"{"detail": {"items": {"name": ["b"], "size": [2]}}}"#,
        r#"{"detail": {"items": [{"name": "a", "size": 1}, {"name": "b", "size": 2}]}}"#,
        true,
    ),
    (
        "empty array matches nothing",
        r#"{"tags": ["a"]}"#,
        r#"{"tags": []}"#,
        false,
    ),
    (
        "leaf pattern on object value",
        r#"{"detail": ["running"]}"#,
        "@ec2",
        false,
    ),
    (
        "nested pattern on string value",
        r#"{"source": {"x": ["aws.ec2"]}}"#,
        "@ec2",
        false,
    ),
    // Prefix and suffix.
    (
        "prefix on time",
        r#"{"time": [{"prefix": "2017-10-02"}]}"#,
        "@ec2",
        true,
    ),
    (
        "prefix mismatch",
        r#"{"time": [{"prefix": "2018"}]}"#,
        "@ec2",
        false,
    ),
    (
        "prefix only on strings",
        r#"{"detail": {"c-count": [{"prefix": "5"}]}}"#,
        "@ec2",
        false,
    ),
    (
        "prefix ignore case",
        r#"{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}"#,
        r#"{"detail": {"service": "eventbridge"}}"#,
        true,
    ),
    (
        "prefix ignore case upper",
        r#"{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}"#,
        r#"{"detail": {"service": "EVENTBRIDGE"}}"#,
        true,
    ),
    (
        "prefix ignore case mismatch",
        r#"{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}"#,
        r#"{"detail": {"service": "lambda"}}"#,
        false,
    ),
    (
        "suffix png",
        r#"{"FileName": [{"suffix": ".png"}]}"#,
        r#"{"FileName": "image.png"}"#,
        true,
    ),
    (
        "suffix png case sensitive",
        r#"{"FileName": [{"suffix": ".png"}]}"#,
        r#"{"FileName": "image.PNG"}"#,
        false,
    ),
    (
        "suffix ignore case",
        r#"{"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}"#,
        r#"{"detail": {"FileName": "image.PNG"}}"#,
        true,
    ),
    (
        "suffix ignore case mismatch",
        r#"{"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}"#,
        r#"{"detail": {"FileName": "image.jpg"}}"#,
        false,
    ),
    (
        "suffix on source",
        r#"{"source": [{"suffix": "ec2"}]}"#,
        "@ec2",
        true,
    ),
    // Equals-ignore-case.
    (
        "equals ignore case",
        r#"{"detail": {"name": [{"equals-ignore-case": "alice"}]}}"#,
        r#"{"detail": {"name": "ALICE"}}"#,
        true,
    ),
    (
        "equals ignore case mixed",
        r#"{"source": [{"equals-ignore-case": "EC2"}]}"#,
        r#"{"source": "ec2"}"#,
        true,
    ),
    (
        "equals ignore case is whole string",
        r#"{"detail": {"name": [{"equals-ignore-case": "alice"}]}}"#,
        r#"{"detail": {"name": "alice2"}}"#,
        false,
    ),
    // Wildcard.
    (
        "wildcard middle",
        r#"{"source": [{"wildcard": "Simple*Service"}]}"#,
        r#"{"source": "SimpleQueueService"}"#,
        true,
    ),
    (
        "wildcard event bus arn",
        r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
        r#"{"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}"#,
        true,
    ),
    (
        "wildcard region mismatch",
        r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
        r#"{"EventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/default"}"#,
        false,
    ),
    (
        "wildcard path",
        r#"{"FilePath": [{"wildcard": "*/lib/*"}]}"#,
        r#"{"FilePath": "/usr/lib/libc.so"}"#,
        true,
    ),
    (
        "wildcard escaped star",
        r#"{"name": [{"wildcard": "a\\*b"}]}"#,
        r#"{"name": "a*b"}"#,
        true,
    ),
    (
        "wildcard escaped star is literal",
        r#"{"name": [{"wildcard": "a\\*b"}]}"#,
        r#"{"name": "axxb"}"#,
        false,
    ),
    (
        "wildcard only on strings",
        r#"{"n": [{"wildcard": "1*"}]}"#,
        r#"{"n": 12}"#,
        false,
    ),
    // Anything-but.
    (
        "anything-but string",
        r#"{"detail": {"state": [{"anything-but": "initializing"}]}}"#,
        "@ec2",
        true,
    ),
    (
        "anything-but string excluded",
        r#"{"detail": {"state": [{"anything-but": "running"}]}}"#,
        "@ec2",
        false,
    ),
    (
        "anything-but number",
        r#"{"detail": {"x-limit": [{"anything-but": 123}]}}"#,
        "@ec2",
        true,
    ),
    (
        "anything-but number excluded",
        r#"{"detail": {"x-limit": [{"anything-but": 301.8}]}}"#,
        "@ec2",
        false,
    ),
    (
        "anything-but string list",
        r#"{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}"#,
        "@ec2",
        true,
    ),
    (
        "anything-but string list excluded",
        r#"{"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}"#,
        "@ec2",
        false,
    ),
    (
        "anything-but number list",
        r#"{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}"#,
        "@ec2",
        true,
    ),
    (
        "anything-but number list excluded",
        r#"{"detail": {"c-count": [{"anything-but": [4, 5, 6]}]}}"#,
        "@ec2",
        false,
    ),
    (
        "anything-but prefix",
        r#"{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}"#,
        "@ec2",
        true,
    ),
    (
        "anything-but prefix excluded",
        r#"{"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}"#,
        "@ec2",
        false,
    ),
    (
        "anything-but region prefix",
        r#"{"Region": [{"anything-but": {"prefix": "us-"}}]}"#,
        r#"{"Region": "eu-west-1"}"#,
        true,
    ),
    (
        "anything-but suffix",
        r#"{"FileName": [{"anything-but": {"suffix": ".png"}}]}"#,
        r#"{"FileName": "a.txt"}"#,
        true,
    ),
    (
        "anything-but suffix excluded",
        r#"{"FileName": [{"anything-but": {"suffix": ".png"}}]}"#,
        r#"{"FileName": "a.png"}"#,
        false,
    ),
    (
        "anything-but ignore case",
        r#"{"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}"#,
        r#"{"state": "INITIALIZING"}"#,
        false,
    ),
    (
        "anything-but ignore case other",
        r#"{"state": [{"anything-but": {"equals-ignore-case": ["initializing", "stopped"]}}]}"#,
        r#"{"state": "running"}"#,
        true,
    ),
    (
        "anything-but wildcard",
        r#"{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#,
        r#"{"FilePath": "/usr/bin/ls"}"#,
        true,
    ),
    (
        "anything-but wildcard excluded",
        r#"{"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]}"#,
        r#"{"FilePath": "/usr/bin/ls"}"#,
        false,
    ),
    (
        "anything-but needs the field",
        r#"{"detail": {"owner": [{"anything-but": "me"}]}}"#,
        "@ec2",
        false,
    ),
    (
        "anything-but on array, one element passes",
        r#"{"tags": [{"anything-but": "a"}]}"#,
        r#"{"tags": ["a", "b"]}"#,
        true,
    ),
    (
        "anything-but on array, all excluded",
        r#"{"tags": [{"anything-but": ["a", "b"]}]}"#,
        r#"{"tags": ["a", "b"]}"#,
        false,
    ),
    (
        "anything-but string vs number value",
        r#"{"n": [{"anything-but": "x"}]}"#,
        r#"{"n": 1}"#,
        true,
    ),
    (
        "anything-but number vs string value",
        r#"{"n": [{"anything-but": [1, 2]}]}"#,
        r#"{"n": "1"}"#,
        true,
    ),
    (
        "anything-but prefix vs null",
        r#"{"n": [{"anything-but": {"prefix": "a"}}]}"#,
        r#"{"n": null}"#,
        true,
    ),
    // Numeric.
    (
        "numeric range",
        r#"{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}"#,
        "@ec2",
        true,
    ),
    (
        "numeric less than",
        r#"{"detail": {"d-count": [{"numeric": ["<", 10]}]}}"#,
        "@ec2",
        true,
    ),
    (
        "numeric equals",
        r#"{"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}"#,
        "@ec2",
        true,
    ),
    (
        "numeric range upper open",
        r#"{"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}}"#,
        "@ec2",
        false,
    ),
    (
        "numeric lower closed",
        r#"{"detail": {"c-count": [{"numeric": [">=", 5]}]}}"#,
        "@ec2",
        true,
    ),
    (
        "numeric lower open",
        r#"{"detail": {"c-count": [{"numeric": [">", 5]}]}}"#,
        "@ec2",
        false,
    ),
    (
        "numeric negative",
        r#"{"v": [{"numeric": ["<", 0]}]}"#,
        r#"{"v": -0.5}"#,
        true,
    ),
    (
        "numeric not on strings",
        r#"{"v": [{"numeric": ["<", 10]}]}"#,
        r#"{"v": "5"}"#,
        false,
    ),
    (
        "numeric any element of array",
        r#"{"v": [{"numeric": [">", 10]}]}"#,
        r#"{"v": [1, 20]}"#,
        true,
    ),
    (
        "numeric two ranges",
        r#"{"v": [{"numeric": ["<", 0]}, {"numeric": [">", 100]}]}"#,
        r#"{"v": 50}"#,
        false,
    ),
    // IP addresses.
    (
        "cidr v4",
        r#"{"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}"#,
        "@ec2",
        true,
    ),
    (
        "cidr v4 outside",
        r#"{"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}"#,
        "@ec2",
        false,
    ),
    (
        "cidr v4 /8",
        r#"{"sourceIPAddress": [{"cidr": "10.0.0.0/8"}]}"#,
        r#"{"sourceIPAddress": "10.255.1.2"}"#,
        true,
    ),
    (
        "cidr v6",
        r#"{"sourceIPAddress": [{"cidr": "2001:db8::/32"}]}"#,
        r#"{"sourceIPAddress": "2001:db8:85a3::8a2e:370:7334"}"#,
        true,
    ),
    (
        "cidr v6 outside",
        r#"{"sourceIPAddress": [{"cidr": "2001:db8::/32"}]}"#,
        r#"{"sourceIPAddress": "2001:db9::1"}"#,
        false,
    ),
    (
        "cidr not an ip",
        r#"{"sourceIPAddress": [{"cidr": "10.0.0.0/8"}]}"#,
        r#"{"sourceIPAddress": "localhost"}"#,
        false,
    ),
    (
        "exact ip other spelling",
        r#"{"ip": ["2001:db8::1"]}"#,
        r#"{"ip": "2001:0db8:0000:0000:0000:0000:0000:0001"}"#,
        true,
    ),
    // Exists.
    (
        "exists true",
        r#"{"detail": {"c-count": [{"exists": true}]}}"#,
        "@ec2",
        true,
    ),
    (
        "exists true missing",
        r#"{"detail": {"e-count": [{"exists": true}]}}"#,
        "@ec2",
        false,
    ),
    (
        "exists false missing",
        r#"{"detail": {"e-count": [{"exists": false}]}}"#,
        "@ec2",
        true,
    ),
    (
        "exists false present",
        r#"{"detail": {"c-count": [{"exists": false}]}}"#,
        "@ec2",
        false,
    ),
    (
        "exists false on non-leaf",
        r#"{"detail": {"c-count": [{"exists": false}]}}"#,
        r#"{"detail": {"state": "x", "c-count": {"c1": 100}}}"#,
        true,
    ),
    (
        "exists true on non-leaf",
        r#"{"detail": {"c-count": [{"exists": true}]}}"#,
        r#"{"detail": {"c-count": {"c1": 100}}}"#,
        false,
    ),
    (
        "exists false when parent missing",
        r#"{"detail": {"c-count": [{"exists": false}]}}"#,
        r#"{"source": "x"}"#,
        true,
    ),
    (
        "exists true on null",
        r#"{"v": [{"exists": true}]}"#,
        r#"{"v": null}"#,
        true,
    ),
    (
        "exists false on empty array",
        r#"{"v": [{"exists": false}]}"#,
        r#"{"v": []}"#,
        true,
    ),
    (
        "exists false or value",
        r#"{"v": [{"exists": false}, "a"]}"#,
        r#"{"v": "a"}"#,
        true,
    ),
    // Complex example from the README of the matching rules.
    (
        "complex example",
        r#"{"time": [{"prefix": "2017-10-02"}], "detail": {"state": [{"anything-but": "initializing"}], "c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"anything-but": [100, 200, 300]}], "source-ip": [{"cidr": "10.0.0.0/8"}]}}"#,
        "@ec2",
        true,
    ),
    // $or.
    (
        "$or second branch",
        r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}]}"#,
        r#"{"source": "aws.cloudwatch", "namespace": "AWS/EC2"}"#,
        true,
    ),
    (
        "$or no branch",
        r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}]}"#,
        r#"{"source": "aws.cloudwatch", "namespace": "AWS/S3"}"#,
        false,
    ),
    (
        "$or AND outside fails",
        r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
        r#"{"source": "aws.ec2", "namespace": "AWS/EC2"}"#,
        false,
    ),
    (
        "$or with AND inside",
        r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}, {"scope": ["Service"]}]}"#,
        r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"}"#,
        true,
    ),
    (
        "$or AND inside incomplete",
        r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}, {"scope": ["Service"]}]}"#,
        r#"{"source": "aws.cloudwatch", "metricType": "MetricType"}"#,
        false,
    ),
    (
        "parallel $or in detail",
        r#"{"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}], "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["CloudWatch Alarm State Change"]}]}}"#,
        r#"{"namespace": "AWS/EC2", "detail": {"detail-type": "CloudWatch Alarm State Change"}}"#,
        true,
    ),
    (
        "parallel $or one side fails",
        r#"{"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}], "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["CloudWatch Alarm State Change"]}]}}"#,
        r#"{"namespace": "AWS/EC2", "detail": {"source": "aws.ec2"}}"#,
        false,
    ),
    (
        "nested $or",
        r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}"#,
        r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "spaceId": 1000}"#,
        true,
    ),
    (
        "nested $or inner fails",
        r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}"#,
        r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "spaceId": 1}"#,
        false,
    ),
    (
        "$or of numeric ranges",
        r#"{"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, {"d-count": [{"numeric": ["<", 10]}]}, {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}}"#,
        "@ec2",
        true,
    ),
    // A realistic S3 event.
    (
        "s3 object created under prefix",
        r#"{"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": ["my-bucket"]}, "object": {"key": [{"prefix": "uploads/"}]}}}"#,
        r#"{"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "my-bucket"}, "object": {"key": "uploads/a.png", "size": 5}}}"#,
        true,
    ),
    (
        "s3 object created other bucket",
        r#"{"source": ["aws.s3"], "detail": {"bucket": {"name": ["my-bucket"]}}}"#,
        r#"{"source": "aws.s3", "detail": {"bucket": {"name": "other"}}}"#,
        false,
    ),
];

/// `(name, pattern, expected reason)`.
const INVALID: &[(&str, &str, &str)] = &[
    ("not json", r#"{"source": ["a""#, ""),
    ("not an object", r#"["aws.ec2"]"#, "Filter is not an object"),
    ("scalar field", r#"{"source": "aws.ec2"}"#, r#""source" must be an object or an array"#),
    ("nested scalar field", r#"{"detail": {"pipeline": {"slug": "some-pipeline"}}}"#, r#""slug" must be an object or an array"#),
    ("empty object", r#"{"source": ["aws.health"], "detail": {}}"#, "Empty objects are not allowed"),
    ("empty top", r#"{}"#, "Empty objects are not allowed"),
    ("empty array", r#"{"source": []}"#, "Empty arrays are not allowed"),
    ("array in values", r#"{"source": [["a"]]}"#, "Match value must be String, number, true, false, or null"),
    ("empty match expression", r#"{"source": [{}]}"#, "Match expression name not found"),
    ("two keys in expression", r#"{"source": [{"prefix": "a", "suffix": "b"}]}"#, "Only one key allowed in match expression"),
    ("unknown operator", r#"{"source": [{"regex": "a.*"}]}"#, "Unrecognized match type regex"),
    ("prefix not string", r#"{"source": [{"prefix": 5}]}"#, "prefix match pattern must be a string"),
    ("suffix not string", r#"{"source": [{"suffix": ["a"]}]}"#, "suffix match pattern must be a string"),
    ("equals-ignore-case not string", r#"{"source": [{"equals-ignore-case": 1}]}"#, "equals-ignore-case match pattern must be a string"),
    ("wildcard not string", r#"{"source": [{"wildcard": 1}]}"#, "wildcard match pattern must be a string"),
    ("consecutive wildcards", r#"{"source": [{"wildcard": "a**b"}]}"#, "Consecutive wildcard characters at pos 2"),
    ("bad escape", r#"{"source": [{"wildcard": "a\\b"}]}"#, "Invalid escape character at pos 1"),
    ("anything-but bool", r#"{"source": [{"anything-but": true}]}"#, "Value of anything-but must be an array or single string/number value."),
    ("anything-but null in list", r#"{"source": [{"anything-but": ["a", null]}]}"#, "Inside anything but list, start|null|boolean is not supported."),
    ("anything-but mixed list", r#"{"source": [{"anything-but": ["a", 1]}]}"#, "Inside anything but list, either all values are number or string, mixed type is not supported"),
    ("anything-but unknown operator", r#"{"source": [{"anything-but": {"numeric": [">", 1]}}]}"#, "Unsupported anything-but pattern: numeric"),
    ("anything-but empty prefix", r#"{"source": [{"anything-but": {"prefix": ""}}]}"#, "Null prefix/suffix not allowed"),
    ("anything-but ignore case number", r#"{"source": [{"anything-but": {"equals-ignore-case": [1]}}]}"#, "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."),
    ("numeric not array", r#"{"v": [{"numeric": 5}]}"#, "Value of numeric must be an array."),
    ("numeric unknown operator", r#"{"v": [{"numeric": ["!=", 5]}]}"#, "Unrecognized numeric range operator: !="),
    ("numeric value not number", r#"{"v": [{"numeric": [">", "5"]}]}"#, "Value of > must be numeric"),
    ("numeric equals not number", r#"{"v": [{"numeric": ["=", "5"]}]}"#, "Value of equals must be numeric"),
    ("numeric bottom above top", r#"{"v": [{"numeric": [">", 10, "<", 5]}]}"#, "Bottom must be less than top"),
    ("numeric bad second operator", r#"{"v": [{"numeric": [">", 1, ">", 5]}]}"#, "Bad numeric range operator: >"),
    ("numeric too many", r#"{"v": [{"numeric": ["<", 1, ">", 0]}]}"#, "Too many elements in numeric expression"),
    ("numeric starts with number", r#"{"v": [{"numeric": [5, "<"]}]}"#, "Invalid member in numeric match: 5"),
    ("numeric out of range", r#"{"v": [{"numeric": [">", 1e10]}]}"#, "Value of > must be between"),
    ("exists not boolean", r#"{"v": [{"exists": "true"}]}"#, "exists match pattern must be either true or false."),
    ("cidr malformed", r#"{"ip": [{"cidr": "10.0.0.0/33"}]}"#, "Nonstandard IP address: 10.0.0.0/33"),
    ("$or not array", r#"{"$or": {"a": ["b"]}}"#, "It must be an Array followed with $or."),
    ("$or one branch", r#"{"$or": [{"a": ["b"]}]}"#, "There must have at least 2 Objects in $or relationship."),
    ("$or non-object", r#"{"$or": [{"a": ["b"]}, "c"]}"#, "Only JSON object is allowed in array of $or relationship."),
    ("$or reserved field", r#"{"$or": [{"numeric": [123]}, {"prefix": ["abc"]}]}"#, "numeric is Ruler reserved fieldName which cannot be used inside $or."),
];

fn event(text: &str) -> Value {
    serde_json::from_str(if text == "@ec2" { EC2 } else { text }).expect("case event is JSON")
}

#[test]
fn the_documentation_table_matches_as_eventbridge_does() {
    assert!(CASES.len() >= 80, "at least 80 cases, have {}", CASES.len());
    let mut failures = Vec::new();
    for (name, pattern, ev, expected) in CASES {
        match EventPattern::parse(pattern) {
            Ok(p) if p.matches(&event(ev)) == *expected => {}
            Ok(_) => failures.push(format!("{name}: expected {expected}")),
            Err(e) => failures.push(format!("{name}: refused: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn invalid_patterns_give_eventbridges_reasons() {
    let mut failures = Vec::new();
    for (name, pattern, reason) in INVALID {
        match EventPattern::parse(pattern) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(e) if e.to_string().starts_with(reason) => {}
            Err(e) => failures.push(format!("{name}: reason {e:?}, expected {reason:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_exception_message_wraps_the_reason() {
    let err = EventPattern::parse(r#"{"detail": {}}"#).unwrap_err();
    assert_eq!(err, PatternError::EmptyObject);
    assert_eq!(
        err.eventbridge_message(),
        "Event pattern is not valid. Reason: Empty objects are not allowed"
    );
}

#[test]
fn oversized_and_deep_patterns_are_refused() {
    let long = format!(
        r#"{{"source": ["{}"]}}"#,
        "a".repeat(EventPattern::MAX_LENGTH)
    );
    assert!(matches!(
        EventPattern::parse(&long),
        Err(PatternError::TooLarge { .. })
    ));
    let deep = format!("{}[\"x\"]{}", r#"{"a":"#.repeat(70), "}".repeat(70));
    assert!(matches!(
        EventPattern::parse(&deep),
        Err(PatternError::TooDeep { .. })
    ));
}

#[test]
fn a_non_object_event_matches_only_absence() {
    let absent = EventPattern::parse(r#"{"a": [{"exists": false}]}"#).unwrap();
    let present = EventPattern::parse(r#"{"a": ["x"]}"#).unwrap();
    assert!(absent.matches(&Value::String("x".into())));
    assert!(!present.matches(&Value::Null));
}

#[test]
fn events_can_be_given_as_text() {
    let p: EventPattern = r#"{"source": ["aws.ec2"]}"#.parse().unwrap();
    assert!(p.matches_json(EC2).unwrap());
    assert!(p.matches_json("{").is_err());
}

#[test]
fn every_truncation_of_every_pattern_is_refused_or_parsed_without_panicking() {
    for (_, pattern, _, _) in CASES {
        for end in (0..pattern.len()).filter(|i| pattern.is_char_boundary(*i)) {
            assert!(
                EventPattern::parse(&pattern[..end]).is_err(),
                "{}",
                &pattern[..end]
            );
        }
    }
}

#[test]
fn every_pattern_runs_against_every_event() {
    let patterns: Vec<EventPattern> = CASES
        .iter()
        .map(|(_, p, _, _)| EventPattern::parse(p).unwrap())
        .collect();
    let events: Vec<Value> = CASES.iter().map(|(_, _, e, _)| event(e)).collect();
    let matched: usize = patterns
        .iter()
        .map(|p| events.iter().filter(|e| p.matches(e)).count())
        .sum();
    // Some, but not all, pairs match: the table is not trivially true or false.
    assert!(matched > CASES.len() / 2 && matched < patterns.len() * events.len());
}

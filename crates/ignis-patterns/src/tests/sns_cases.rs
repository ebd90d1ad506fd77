//! SNS filter policies on a table drawn from "Amazon SNS message filtering"
//! (the example transaction message, string and numeric matching, key
//! matching, AND/OR logic), in both scopes, and SNS's refusals.

use serde_json::Value;

use crate::sns::{FilterPolicy, FilterPolicyScope, MessageAttributes};
use crate::PatternError;

/// The documentation's example message attributes.
fn example_attributes() -> MessageAttributes {
    [
        (
            "customer_interests",
            "String.Array",
            r#"["soccer", "rugby", "hockey"]"#,
        ),
        ("store", "String", "example_corp"),
        ("event", "String", "order_placed"),
        ("price_usd", "Number", "210.75"),
        ("source_ip", "String", "10.0.0.33"),
        ("thumbnail", "Binary", "aGVsbG8="),
    ]
    .into_iter()
    .collect()
}

/// The same message as a body, for the `MessageBody` scope.
const BODY: &str = r#"{
  "customer_interests": ["soccer", "rugby", "hockey"],
  "store": "example_corp",
  "event": "order_placed",
  "price_usd": 210.75,
  "source_ip": "10.0.0.33",
  "order": {"items": [{"sku": "A1", "qty": 2}], "currency": "USD"}
}"#;

/// `(name, policy, expected)` against the attributes and, when the policy
/// is flat, the body too.
const ATTRIBUTE_CASES: &[(&str, &str, bool)] = &[
    (
        "accepting policy",
        r#"{"store": ["example_corp"], "event": [{"anything-but": "order_cancelled"}], "customer_interests": ["rugby", "football", "baseball"], "price_usd": [{"numeric": [">=", 100]}]}"#,
        true,
    ),
    (
        "rejecting policy",
        r#"{"store": ["example_corp"], "event": ["order_cancelled"], "encrypted": [false], "customer_interests": ["basketball", "baseball"]}"#,
        false,
    ),
    ("exact string", r#"{"store": ["example_corp"]}"#, true),
    ("exact string other", r#"{"store": ["other_corp"]}"#, false),
    (
        "exact is case sensitive",
        r#"{"store": ["Example_Corp"]}"#,
        false,
    ),
    (
        "array element exact",
        r#"{"customer_interests": ["rugby", "tennis"]}"#,
        true,
    ),
    (
        "array no element",
        r#"{"customer_interests": ["baseball"]}"#,
        false,
    ),
    (
        "anything-but value",
        r#"{"event": [{"anything-but": ["order_cancelled", "order_failed"]}]}"#,
        true,
    ),
    (
        "anything-but excluded",
        r#"{"event": [{"anything-but": "order_placed"}]}"#,
        false,
    ),
    (
        "anything-but prefix",
        r#"{"event": [{"anything-but": {"prefix": "order-"}}]}"#,
        true,
    ),
    (
        "anything-but prefix excluded",
        r#"{"event": [{"anything-but": {"prefix": "order_"}}]}"#,
        false,
    ),
    (
        "anything-but suffix",
        r#"{"event": [{"anything-but": {"suffix": "_placed"}}]}"#,
        false,
    ),
    (
        "anything-but or absent",
        r#"{"missing": [{"anything-but": "x"}, {"exists": false}]}"#,
        true,
    ),
    ("prefix", r#"{"store": [{"prefix": "example"}]}"#, true),
    (
        "prefix on array element",
        r#"{"customer_interests": [{"prefix": "hock"}]}"#,
        true,
    ),
    ("suffix", r#"{"store": [{"suffix": "_corp"}]}"#, true),
    (
        "equals-ignore-case",
        r#"{"store": [{"equals-ignore-case": "EXAMPLE_CORP"}]}"#,
        true,
    ),
    (
        "numeric equals",
        r#"{"price_usd": [{"numeric": ["=", 210.75]}]}"#,
        true,
    ),
    ("numeric exact value", r#"{"price_usd": [210.75]}"#, true),
    (
        "numeric range inside",
        r#"{"price_usd": [{"numeric": [">", 0, "<=", 300]}]}"#,
        true,
    ),
    (
        "numeric range outside",
        r#"{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}"#,
        false,
    ),
    (
        "numeric negative only",
        r#"{"price_usd": [{"numeric": ["<", 0]}]}"#,
        false,
    ),
    (
        "numeric not on strings",
        r#"{"store": [{"numeric": [">", 0]}]}"#,
        false,
    ),
    (
        "numeric anything-but",
        r#"{"price_usd": [{"anything-but": [100, 500]}]}"#,
        true,
    ),
    ("cidr", r#"{"source_ip": [{"cidr": "10.0.0.0/24"}]}"#, true),
    (
        "cidr outside",
        r#"{"source_ip": [{"cidr": "192.168.0.0/16"}]}"#,
        false,
    ),
    ("exists true", r#"{"store": [{"exists": true}]}"#, true),
    (
        "exists true missing",
        r#"{"encrypted": [{"exists": true}]}"#,
        false,
    ),
    (
        "exists false missing",
        r#"{"encrypted": [{"exists": false}]}"#,
        true,
    ),
    (
        "exists false present",
        r#"{"store": [{"exists": false}]}"#,
        false,
    ),
    (
        "and of keys",
        r#"{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}"#,
        true,
    ),
    (
        "and one fails",
        r#"{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 300]}]}"#,
        false,
    ),
    (
        "$or",
        r#"{"source": ["aws.cloudwatch"], "$or": [{"store": ["x"]}, {"event": ["order_placed"]}]}"#,
        false,
    ),
    (
        "$or branch matches",
        r#"{"$or": [{"store": ["x"]}, {"event": ["order_placed"]}]}"#,
        true,
    ),
];

#[test]
fn attribute_policies_match_as_sns_documents() {
    let attributes = example_attributes();
    let body: Value = serde_json::from_str(BODY).unwrap();
    let mut failures = Vec::new();
    for (name, policy, expected) in ATTRIBUTE_CASES {
        match FilterPolicy::parse(policy, FilterPolicyScope::MessageAttributes) {
            Ok(p) if p.matches_attributes(&attributes) == *expected => {}
            Ok(_) => failures.push(format!("{name} (attributes): expected {expected}")),
            Err(e) => failures.push(format!("{name}: refused: {e}")),
        }
        let p = FilterPolicy::parse(policy, FilterPolicyScope::MessageBody).unwrap();
        if p.matches_body(&body) != *expected {
            failures.push(format!("{name} (body): expected {expected}"));
        }
    }
    assert!(ATTRIBUTE_CASES.len() >= 30);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn string_array_anything_but_needs_every_element_to_pass() {
    let policy = FilterPolicy::parse(
        r#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#,
        FilterPolicyScope::MessageAttributes,
    )
    .unwrap();
    let attrs = |t: &str, v: &str| {
        [("customer_interests", t, v)]
            .into_iter()
            .collect::<MessageAttributes>()
    };
    assert!(policy.matches_attributes(&attrs("String", "baseball")));
    assert!(!policy.matches_attributes(&attrs("String", "rugby")));
    assert!(policy.matches_attributes(&attrs("String.Array", r#"["baseball", "football"]"#)));
    assert!(!policy.matches_attributes(&attrs("String.Array", r#"["rugby", "baseball"]"#)));
}

#[test]
fn binary_attributes_are_ignored_and_numbers_compare_by_value() {
    let exists = FilterPolicy::parse(
        r#"{"thumbnail": [{"exists": true}]}"#,
        FilterPolicyScope::MessageAttributes,
    )
    .unwrap();
    assert!(!exists.matches_attributes(&example_attributes()));
    let number =
        FilterPolicy::parse(r#"{"price": [100]}"#, FilterPolicyScope::MessageAttributes).unwrap();
    let attrs = |t: &str, v: &str| [("price", t, v)].into_iter().collect::<MessageAttributes>();
    assert!(number.matches_attributes(&attrs("Number", "100.0")));
    assert!(number.matches_attributes(&attrs("Number.float", "1e2")));
    assert!(!number.matches_attributes(&attrs("String", "100")));
}

#[test]
fn body_policies_nest() {
    let body: Value = serde_json::from_str(BODY).unwrap();
    let yes = FilterPolicy::parse(
        r#"{"order": {"currency": ["USD"], "items": {"sku": [{"prefix": "A"}]}}}"#,
        FilterPolicyScope::MessageBody,
    )
    .unwrap();
    let no = FilterPolicy::parse(
        r#"{"order": {"items": {"qty": [{"numeric": [">", 5]}]}}}"#,
        FilterPolicyScope::MessageBody,
    )
    .unwrap();
    assert!(yes.matches_body(&body));
    assert!(!no.matches_body(&body));
    assert!(yes.matches_message(&MessageAttributes::new(), BODY));
    assert!(!yes.matches_message(&MessageAttributes::new(), "not json"));
    let err = FilterPolicy::parse(
        r#"{"order": {"currency": ["USD"]}}"#,
        FilterPolicyScope::MessageAttributes,
    )
    .unwrap_err();
    assert_eq!(err, PatternError::NestedNotAllowed);
    assert_eq!(err.sns_message(), "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy");
}

#[test]
fn limits_and_refusals_are_sns_errors() {
    let scope = FilterPolicyScope::MessageAttributes;
    let six = r#"{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}"#;
    let err = FilterPolicy::parse(six, scope).unwrap_err();
    assert_eq!(
        err.sns_message(),
        "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"
    );
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("\"v{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let complex = format!(
        r#"{{"a": [{}], "b": [{}], "c": [{}]}}"#,
        list(6),
        list(5),
        list(6)
    );
    assert_eq!(
        FilterPolicy::parse(&complex, scope),
        Err(PatternError::TooComplex)
    );
    let fine = format!(
        r#"{{"a": [{}], "b": [{}], "c": [{}]}}"#,
        list(6),
        list(5),
        list(5)
    );
    assert!(FilterPolicy::parse(&fine, scope).is_ok());
    // Five keys per $or branch, not in total.
    let branches =
        r#"{"a": ["1"], "$or": [{"b": ["1"], "c": ["1"]}, {"d": ["1"], "e": ["1"], "f": ["1"]}]}"#;
    assert!(FilterPolicy::parse(branches, scope).is_ok());
    for (policy, reason) in [
        (
            r#"{"a": [{"wildcard": "x*"}]}"#,
            "Unrecognized match type wildcard",
        ),
        (
            r#"{"a": [{"anything-but": {"equals-ignore-case": "x"}}]}"#,
            "Unsupported anything-but pattern: equals-ignore-case",
        ),
        (
            r#"{"a": [{"prefix": {"equals-ignore-case": "x"}}]}"#,
            "prefix match pattern must be a string",
        ),
        (
            r#"{"a": [{"numeric": [">", 2e9]}]}"#,
            "Value of > must be between",
        ),
        (r#"{"a": "x"}"#, r#""a" must be an object or an array"#),
        (
            r#"{"a": [{"exists": 1}]}"#,
            "exists match pattern must be either true or false.",
        ),
    ] {
        let err = FilterPolicy::parse(policy, scope).unwrap_err();
        assert!(err.to_string().starts_with(reason), "{policy}: {err}");
        assert!(err
            .sns_message()
            .starts_with("Invalid parameter: FilterPolicy: "));
    }
    let all = FilterPolicy::parse("{}", scope).unwrap();
    assert!(all.matches_attributes(&MessageAttributes::new()));
    assert_eq!(
        FilterPolicyScope::parse("MessageBody"),
        Some(FilterPolicyScope::MessageBody)
    );
    assert_eq!(FilterPolicyScope::parse("Body"), None);
}

#[test]
fn an_unrecognized_or_is_an_ordinary_attribute_name() {
    let scope = FilterPolicyScope::MessageBody;
    let legacy = FilterPolicy::parse(r#"{"$or": ["x"]}"#, scope).unwrap();
    assert!(legacy.matches_body(&serde_json::json!({"$or": "x"})));
    assert!(!legacy.matches_body(&serde_json::json!({"a": "x"})));
    let nested = FilterPolicy::parse(r#"{"$or": {"a": ["1"]}}"#, scope).unwrap();
    assert!(nested.matches_body(&serde_json::json!({"$or": {"a": "1"}})));
    let reserved = FilterPolicy::parse(r#"{"$or": [{"numeric": 123}, {"prefix": "abc"}]}"#, scope);
    assert_eq!(reserved, Err(PatternError::NumericNotArray));
    let real = FilterPolicy::parse(r#"{"$or": [{"a": ["1"]}, {"b": ["2"]}]}"#, scope).unwrap();
    assert!(real.matches_body(&serde_json::json!({"b": "2"})));
}

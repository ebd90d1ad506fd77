//! Query requests as botocore 1.43 serializes them (fixtures in
//! `tests/fixtures/query/`, captured from its query serializer with the
//! IAM and STS models) and answers as the SDKs parse them.

use super::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/query/{name}.form",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn sorted_pairs(form: &str) -> Vec<&str> {
    let mut pairs: Vec<&str> = form.split('&').collect();
    pairs.sort_unstable();
    pairs
}

#[test]
fn botocore_create_user_decodes_with_its_tags() {
    let req = QueryRequest::parse("", fixture("iam-CreateUser").as_bytes()).unwrap();
    assert_eq!(req.action, "CreateUser");
    assert_eq!(req.version.as_deref(), Some("2010-05-08"));
    assert_eq!(req.get("UserName"), Some("alice"));
    assert_eq!(req.get("Path"), Some("/team/"));
    let tags = req.structs("Tags");
    assert_eq!(tags.len(), 2);
    assert_eq!((tags[0]["Key"], tags[0]["Value"]), ("env", "dev"));
    assert_eq!((tags[1]["Key"], tags[1]["Value"]), ("owner", "a b+c/d=é"));
    assert!(req.has_list("Tags"));
}

#[test]
fn botocore_policy_documents_decode_exactly() {
    let req = QueryRequest::parse("", fixture("iam-CreateRole").as_bytes()).unwrap();
    let doc = req.get("AssumeRolePolicyDocument").unwrap();
    assert_eq!(
        doc,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#
    );
    assert_eq!(req.get("Description"), Some("Lambda & co <role>"));
    assert_eq!(req.get("MaxSessionDuration"), Some("7200"));
}

#[test]
fn an_empty_list_is_sent_as_a_bare_name() {
    let req = QueryRequest::parse("", fixture("iam-CreatePolicy").as_bytes()).unwrap();
    assert!(req.has_list("Tags"));
    assert!(req.structs("Tags").is_empty());
    assert!(!req.has_list("Other"));
}

#[test]
fn sts_policy_arns_and_scalar_lists_decode_in_order() {
    let req = QueryRequest::parse("", fixture("sts-AssumeRole").as_bytes()).unwrap();
    let arns: Vec<&str> = req.structs("PolicyArns").iter().map(|m| m["arn"]).collect();
    assert_eq!(
        arns,
        [
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::aws:policy/AWSLambdaRole"
        ]
    );
    assert_eq!(req.list("TransitiveTagKeys"), ["k1", "k2"]);
    assert_eq!(
        req.get("RoleArn"),
        Some("arn:aws:iam::000000000000:role/fn-role")
    );
}

#[test]
fn list_members_follow_numeric_not_textual_order() {
    let mut body = String::from("Action=X");
    for i in 1..=11 {
        body.push_str(&format!("&Names.member.{i}=n{i}"));
    }
    let req = QueryRequest::parse("", body.as_bytes()).unwrap();
    let names = req.list("Names");
    assert_eq!(names.len(), 11);
    assert_eq!((names[1], names[9], names[10]), ("n2", "n10", "n11"));
}

#[test]
fn every_fixture_round_trips_to_botocores_bytes() {
    for name in [
        "iam-CreateUser",
        "iam-CreateRole",
        "iam-ListUsers",
        "iam-CreatePolicy",
        "sts-AssumeRole",
        "sts-GetCallerIdentity",
    ] {
        let body = fixture(name);
        let req = QueryRequest::parse("", body.as_bytes()).unwrap();
        let again = req.to_form();
        assert_eq!(sorted_pairs(&again), sorted_pairs(&body), "{name}");
        assert_eq!(QueryRequest::parse("", again.as_bytes()).unwrap(), req);
    }
}

#[test]
fn the_query_string_counts_and_the_body_wins() {
    let req = QueryRequest::parse(
        "Action=GetUser&Version=2010-05-08&UserName=q",
        b"UserName=b",
    )
    .unwrap();
    assert_eq!(req.action, "GetUser");
    assert_eq!(req.get("UserName"), Some("b"));
}

#[test]
fn bad_requests_are_refused_with_the_query_codes() {
    let err = QueryRequest::parse("", b"UserName=x").unwrap_err();
    assert_eq!(
        (err.status.as_u16(), err.code.as_str()),
        (400, "MissingAction")
    );
    let err = QueryRequest::parse("", b"Action=X&A=%zz").unwrap_err();
    assert_eq!(err.code, "MalformedQueryString");
    let err = QueryRequest::parse("", b"Action=X&A=%C3").unwrap_err();
    assert_eq!(err.code, "MalformedQueryString");
    let err = QueryRequest::parse("", b"Action=X&A=%4").unwrap_err();
    assert_eq!(err.code, "MalformedQueryString");
    assert!(QueryRequest::parse("", &[b'A', 0xff]).is_err());
}

const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

#[test]
fn a_result_is_wrapped_in_response_and_result_elements() {
    let user = Members::new()
        .text("Path", "/")
        .text("UserName", "a<b>&\"c'")
        .opt("PasswordLastUsed", None::<String>)
        .list(
            "Tags",
            vec![XmlValue::Struct(
                Members::new().text("Key", "k").text("Value", "v"),
            )],
        );
    let resp = QueryResponse::new("CreateUser", IAM_NS, Members::new().nested("User", user));
    assert_eq!(
        resp.to_xml("rid-1"),
        "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <CreateUserResult><User><Path>/</Path><UserName>a&lt;b&gt;&amp;&quot;c&apos;</UserName>\
         <Tags><member><Key>k</Key><Value>v</Value></member></Tags></User></CreateUserResult>\
         <ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></CreateUserResponse>"
    );
}

#[test]
fn scalar_lists_and_booleans_render_as_members() {
    let result = Members::new()
        .with("PolicyNames", XmlValue::texts(["a", "b"]))
        .bool("IsTruncated", false)
        .list("Empty", vec![]);
    let xml = QueryResponse::new("ListRolePolicies", IAM_NS, result).to_xml("r");
    assert!(xml.contains(
        "<ListRolePoliciesResult><PolicyNames><member>a</member><member>b</member></PolicyNames>\
         <IsTruncated>false</IsTruncated><Empty></Empty></ListRolePoliciesResult>"
    ));
}

#[test]
fn an_operation_without_output_answers_only_its_metadata() {
    let resp = QueryResponse::empty("DeleteUser", IAM_NS).render("r&1");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/xml");
    assert_eq!(resp.headers()["x-amzn-requestid"], "r&1");
    assert_eq!(
        std::str::from_utf8(resp.body()).unwrap(),
        "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <ResponseMetadata><RequestId>r&amp;1</RequestId></ResponseMetadata></DeleteUserResponse>"
    );
}

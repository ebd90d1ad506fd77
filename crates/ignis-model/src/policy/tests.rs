use super::*;

const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

fn grant(sid: &str, principal: &str) -> AddPermissionRequest {
    AddPermissionRequest {
        statement_id: sid.into(),
        action: "lambda:InvokeFunction".into(),
        principal: principal.into(),
        source_arn: None,
        source_account: None,
        event_source_token: None,
        revision_id: None,
        principal_org_id: None,
        function_url_auth_type: None,
        invoked_via_function_url: None,
    }
}

fn render(s: &Statement) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn a_service_grant_renders_as_lambda_writes_it() {
    let mut req = grant("s3", "s3.amazonaws.com");
    req.source_account = Some("123456789012".into());
    req.source_arn = Some("arn:aws:s3:::my-bucket".into());
    let s = function_statement(&req, FN).unwrap();
    assert_eq!(
        render(&s),
        r#"{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f","Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::my-bucket"}}}"#
    );
}

#[test]
fn principals_become_accounts_arns_services_or_everyone() {
    let p = |principal: &str| render(&function_statement(&grant("x", principal), FN).unwrap());
    assert!(p("223456789012").contains(r#""Principal":{"AWS":"arn:aws:iam::223456789012:root"}"#));
    assert!(p("arn:aws:iam::223456789012:role/r")
        .contains(r#""Principal":{"AWS":"arn:aws:iam::223456789012:role/r"}"#));
    assert!(p("events.amazonaws.com").contains(r#""Principal":{"Service":"events.amazonaws.com"}"#));
    assert!(p("*").contains(r#""Principal":"*","#));
    let e = function_statement(&grant("x", "nobody"), FN).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    let e = function_statement(&grant("x", "a b"), FN).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
}

#[test]
fn every_condition_lambda_adds() {
    let mut req = grant("url", "*");
    req.action = "lambda:InvokeFunctionUrl".into();
    req.principal_org_id = Some("o-abcdefghij".into());
    req.function_url_auth_type = Some("NONE".into());
    req.event_source_token = Some("tok.1".into());
    req.invoked_via_function_url = Some(true);
    let s = function_statement(&req, &format!("{FN}:live")).unwrap();
    assert_eq!(
        serde_json::to_string(&s.condition).unwrap(),
        r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij","lambda:EventSourceToken":"tok.1","lambda:FunctionUrlAuthType":"NONE"},"Bool":{"lambda:InvokedViaFunctionUrl":"true"}}"#
    );
    assert_eq!(s.resource, OneOrMany::one(format!("{FN}:live")));
}

#[test]
fn members_are_checked_against_the_model() {
    let bad = |f: &dyn Fn(&mut AddPermissionRequest)| {
        let mut req = grant("ok", "s3.amazonaws.com");
        f(&mut req);
        function_statement(&req, FN).unwrap_err()
    };
    for e in [
        bad(&|r| r.statement_id = "has space".into()),
        bad(&|r| r.statement_id = String::new()),
        bad(&|r| r.statement_id = "a".repeat(101)),
        bad(&|r| r.action = "s3:GetObject".into()),
        bad(&|r| r.action = "lambda:Invoke1".into()),
        bad(&|r| r.source_account = Some("1234".into())),
        bad(&|r| r.principal_org_id = Some("org".into())),
        bad(&|r| r.function_url_auth_type = Some("OPEN".into())),
        bad(&|r| r.source_arn = Some("not-an-arn".into())),
        bad(&|r| r.event_source_token = Some("no spaces".into())),
    ] {
        assert_eq!(e.kind, ErrorKind::Validation, "{e}");
        assert!(
            e.message
                .starts_with("1 validation error detected: Value '"),
            "{e}"
        );
    }
    for action in ["lambda:*", "*", "lambda:GetFunction"] {
        let mut req = grant("ok", "s3.amazonaws.com");
        req.action = action.into();
        function_statement(&req, FN).unwrap();
    }
}

#[test]
fn documents_refuse_duplicate_ids_and_report_unknown_ones() {
    let mut doc = PolicyDocument::new();
    doc.add(function_statement(&grant("a", "*"), FN).unwrap())
        .unwrap();
    let e = doc
        .add(function_statement(&grant("a", "s3.amazonaws.com"), FN).unwrap())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ResourceConflict);
    assert_eq!(e.message, "The statement id (a) provided already exists. Please provide a new statement id, or remove the existing statement.");
    let e = doc.remove("b").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::ResourceNotFound,
            "Statement b is not found in resource policy."
        )
    );
    doc.remove("a").unwrap();
    assert!(doc.statements.is_empty());
}

#[test]
fn a_document_round_trips_in_lambda_order() {
    let mut doc = PolicyDocument::new();
    doc.add(function_statement(&grant("x", "223456789012"), FN).unwrap())
        .unwrap();
    let text = doc.render();
    assert_eq!(
        text,
        r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::223456789012:root"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f"}]}"#
    );
    assert_eq!(PolicyDocument::parse(&text).unwrap(), doc);
}

#[test]
fn put_documents_are_parsed_with_the_policy_language_s_shapes() {
    let doc = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::1:root","arn:aws:iam::2:root"]},"Action":["lambda:InvokeFunction","lambda:GetFunction"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}}"#,
    )
    .unwrap();
    let s = &doc.statements[0];
    assert_eq!(s.effect, Effect::Deny);
    assert_eq!(s.action.0.len(), 2);
    assert!(
        render(s).contains(r#""Principal":{"AWS":["arn:aws:iam::1:root","arn:aws:iam::2:root"]}"#)
    );
    assert!(render(s).contains(r#""Condition":{"Bool":{"aws:SecureTransport":false}}"#));
    for bad in [
        "not json",
        "{}",
        r#"{"Statement":[]}"#,
        r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"*","Resource":"*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"me","Action":"*","Resource":"*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","NotAction":"x"}]}"#,
        r#"{"Statement":[{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
    ] {
        let e = PolicyDocument::parse(bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue, "{bad}: {e}");
    }
}

#[test]
fn layer_statements() {
    let req = |principal: &str, org: Option<&str>| AddLayerVersionPermissionRequest {
        statement_id: "xaccount".into(),
        action: "lambda:GetLayerVersion".into(),
        principal: principal.into(),
        organization_id: org.map(str::to_owned),
    };
    let arn = "arn:aws:lambda:us-east-1:000000000000:layer:deps:1";
    assert_eq!(
        render(&layer_statement(&req("223456789012", None), arn).unwrap()),
        r#"{"Sid":"xaccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::223456789012:root"},"Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:000000000000:layer:deps:1"}"#
    );
    assert!(render(&layer_statement(&req("*", Some("o-abcdefghij")), arn).unwrap())
        .ends_with(r#""Principal":"*","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:000000000000:layer:deps:1","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij"}}}"#));
    layer_statement(&req("arn:aws:iam::223456789012:root", None), arn).unwrap();
    for (p, org, kind) in [
        ("s3.amazonaws.com", None, ErrorKind::Validation),
        (
            "arn:aws:iam::223456789012:role/r",
            None,
            ErrorKind::Validation,
        ),
        (
            "223456789012",
            Some("o-abcdefghij"),
            ErrorKind::InvalidParameterValue,
        ),
        ("*", Some("bad"), ErrorKind::Validation),
    ] {
        assert_eq!(
            layer_statement(&req(p, org), arn).unwrap_err().kind,
            kind,
            "{p}"
        );
    }
    let mut wrong = req("*", None);
    wrong.action = "lambda:InvokeFunction".into();
    assert_eq!(
        layer_statement(&wrong, arn).unwrap_err().kind,
        ErrorKind::Validation
    );
}

#[test]
fn size_and_revision_checks() {
    check_size(&"x".repeat(POLICY_MAX_BYTES)).unwrap();
    let e = check_size(&"x".repeat(POLICY_MAX_BYTES + 1)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::PolicyLengthExceeded);
    assert_eq!(
        e.message,
        "The final policy size (20481) is bigger than the limit (20480)."
    );
    check_revision(None, None).unwrap();
    check_revision(Some("r1"), Some("r1")).unwrap();
    assert_eq!(
        check_revision(Some("r1"), Some("r2")).unwrap_err().kind,
        ErrorKind::PreconditionFailed
    );
    assert_eq!(
        check_revision(Some("r1"), None).unwrap_err().kind,
        ErrorKind::PreconditionFailed
    );
    let stored = StoredPolicy {
        revision_id: "r".into(),
        policy: PolicyDocument::new().render(),
    };
    assert_eq!(StoredPolicy::decode(&stored.encode()), Some(stored));
}

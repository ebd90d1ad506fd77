use super::*;

fn parse_as(caller: &Principal, body: &str) -> Result<IamOp, AwsError> {
    let req = QueryRequest::parse("", format!("Version=2010-05-08&{body}").as_bytes())?;
    IamOp::parse(&req, caller)
}

fn parse(body: &str) -> IamOp {
    parse_as(&Principal::Root, body).unwrap_or_else(|e| panic!("{body}: {e:?}"))
}

fn alice() -> Principal {
    Principal::User {
        name: "alice".into(),
        id: "AIDAALICE".into(),
        path: "/".into(),
    }
}

const DOC: &str = "%7B%22Statement%22%3A%5B%5D%7D";
const ARN_S3: &str = "arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonS3ReadOnlyAccess";

#[test]
fn every_operation_parses_from_its_query_parameters() {
    let s = |v: &str| v.to_string();
    let page = |m: Option<&str>, n| Page {
        marker: m.map(s),
        max_items: n,
    };
    let s3 = s("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess");
    let doc = s("{\"Statement\":[]}");
    let cases: Vec<(String, IamOp)> = vec![
        (s("Action=CreateUser&UserName=u&Path=%2Fa%2F&Tags.member.1.Key=k&Tags.member.1.Value=v"),
         IamOp::CreateUser { user_name: s("u"), path: s("/a/"), tags: vec![(s("k"), s("v"))] }),
        (s("Action=CreateUser&UserName=u"), IamOp::CreateUser { user_name: s("u"), path: s("/"), tags: vec![] }),
        (s("Action=GetUser&UserName=u"), IamOp::GetUser { user_name: Some(s("u")) }),
        (s("Action=GetUser"), IamOp::GetUser { user_name: None }),
        (s("Action=DeleteUser&UserName=u"), IamOp::DeleteUser { user_name: s("u") }),
        (s("Action=ListUsers&PathPrefix=%2Fa&Marker=m&MaxItems=5"), IamOp::ListUsers { path_prefix: s("/a"), page: page(Some("m"), 5) }),
        (s("Action=CreateAccessKey&UserName=u"), IamOp::CreateAccessKey { user_name: s("u") }),
        (s("Action=ListAccessKeys&UserName=u"), IamOp::ListAccessKeys { user_name: s("u"), page: page(None, 100) }),
        (s("Action=DeleteAccessKey&UserName=u&AccessKeyId=AKIAAAAAAAAAAAAAAAAA"),
         IamOp::DeleteAccessKey { user_name: s("u"), access_key_id: s("AKIAAAAAAAAAAAAAAAAA") }),
        (format!("Action=CreateRole&RoleName=r&AssumeRolePolicyDocument={DOC}&Description=d&MaxSessionDuration=7200"),
         IamOp::CreateRole { role_name: s("r"), path: s("/"), assume_role_policy_document: doc.clone(), description: Some(s("d")), max_session_duration: 7200, tags: vec![] }),
        (s("Action=GetRole&RoleName=r"), IamOp::GetRole { role_name: s("r") }),
        (s("Action=DeleteRole&RoleName=r"), IamOp::DeleteRole { role_name: s("r") }),
        (s("Action=ListRoles"), IamOp::ListRoles { path_prefix: s("/"), page: page(None, 100) }),
        (format!("Action=UpdateAssumeRolePolicy&RoleName=r&PolicyDocument={DOC}"), IamOp::UpdateAssumeRolePolicy { role_name: s("r"), policy_document: doc.clone() }),
        (format!("Action=PutRolePolicy&RoleName=r&PolicyName=p&PolicyDocument={DOC}"), IamOp::PutRolePolicy { role_name: s("r"), policy_name: s("p"), policy_document: doc.clone() }),
        (format!("Action=PutUserPolicy&UserName=u&PolicyName=p&PolicyDocument={DOC}"), IamOp::PutUserPolicy { user_name: s("u"), policy_name: s("p"), policy_document: doc.clone() }),
        (s("Action=GetRolePolicy&RoleName=r&PolicyName=p"), IamOp::GetRolePolicy { role_name: s("r"), policy_name: s("p") }),
        (s("Action=GetUserPolicy&UserName=u&PolicyName=p"), IamOp::GetUserPolicy { user_name: s("u"), policy_name: s("p") }),
        (s("Action=DeleteRolePolicy&RoleName=r&PolicyName=p"), IamOp::DeleteRolePolicy { role_name: s("r"), policy_name: s("p") }),
        (s("Action=DeleteUserPolicy&UserName=u&PolicyName=p"), IamOp::DeleteUserPolicy { user_name: s("u"), policy_name: s("p") }),
        (s("Action=ListRolePolicies&RoleName=r&MaxItems=1"), IamOp::ListRolePolicies { role_name: s("r"), page: page(None, 1) }),
        (format!("Action=CreatePolicy&PolicyName=p&Path=%2Fx%2F&PolicyDocument={DOC}&Description=d&Tags="),
         IamOp::CreatePolicy { policy_name: s("p"), path: s("/x/"), policy_document: doc.clone(), description: Some(s("d")), tags: vec![] }),
        (format!("Action=GetPolicy&PolicyArn={ARN_S3}"), IamOp::GetPolicy { policy_arn: s3.clone() }),
        (format!("Action=GetPolicyVersion&PolicyArn={ARN_S3}&VersionId=v3"), IamOp::GetPolicyVersion { policy_arn: s3.clone(), version_id: s("v3") }),
        (format!("Action=DeletePolicy&PolicyArn={ARN_S3}"), IamOp::DeletePolicy { policy_arn: s3.clone() }),
        (s("Action=ListPolicies&Scope=Local&OnlyAttached=true&PathPrefix=%2Fx%2F"),
         IamOp::ListPolicies { scope: Scope::Local, only_attached: true, path_prefix: s("/x/"), page: page(None, 100) }),
        (s("Action=ListPolicies"), IamOp::ListPolicies { scope: Scope::All, only_attached: false, path_prefix: s("/"), page: page(None, 100) }),
        (format!("Action=AttachRolePolicy&RoleName=r&PolicyArn={ARN_S3}"), IamOp::AttachRolePolicy { role_name: s("r"), policy_arn: s3.clone() }),
        (format!("Action=AttachUserPolicy&UserName=u&PolicyArn={ARN_S3}"), IamOp::AttachUserPolicy { user_name: s("u"), policy_arn: s3.clone() }),
        (format!("Action=DetachRolePolicy&RoleName=r&PolicyArn={ARN_S3}"), IamOp::DetachRolePolicy { role_name: s("r"), policy_arn: s3.clone() }),
        (format!("Action=DetachUserPolicy&UserName=u&PolicyArn={ARN_S3}"), IamOp::DetachUserPolicy { user_name: s("u"), policy_arn: s3.clone() }),
        (s("Action=ListAttachedRolePolicies&RoleName=r"), IamOp::ListAttachedRolePolicies { role_name: s("r"), path_prefix: s("/"), page: page(None, 100) }),
        (s("Action=ListAttachedUserPolicies&UserName=u&PathPrefix=%2Fservice-role%2F"),
         IamOp::ListAttachedUserPolicies { user_name: s("u"), path_prefix: s("/service-role/"), page: page(None, 100) }),
    ];
    let mut names = std::collections::BTreeSet::new();
    for (body, want) in cases {
        let op = parse(&body);
        assert_eq!(op, want, "{body}");
        assert_eq!(
            format!("Action={}", op.name()),
            body.split('&').next().unwrap()
        );
        assert_eq!(op.action(), format!("iam:{}", op.name()));
        names.insert(op.name());
    }
    assert_eq!(names.len(), 30, "every operation of the list");
}

#[test]
fn an_omitted_user_name_is_the_calling_users() {
    assert_eq!(
        parse_as(&alice(), "Action=CreateAccessKey").unwrap(),
        IamOp::CreateAccessKey {
            user_name: "alice".into()
        }
    );
    assert_eq!(
        parse_as(&alice(), "Action=GetUser").unwrap(),
        IamOp::GetUser {
            user_name: Some("alice".into())
        }
    );
    let role = Principal::AssumedRole {
        role_name: "r".into(),
        role_id: "AROA".into(),
        session_name: "s".into(),
    };
    let e = parse_as(&role, "Action=ListAccessKeys").unwrap_err();
    assert_eq!(e.code, "ValidationError");
    let e = parse_as(&Principal::Root, "Action=CreateAccessKey").unwrap_err();
    assert_eq!(
        e.message,
        "Must specify userName when calling with non-User credentials"
    );
}

#[test]
fn bad_parameters_are_refused_with_iams_codes() {
    for (body, code) in [
        ("Action=CreateUser", "ValidationError"),
        ("Action=CreateUser&UserName=a%20b", "ValidationError"),
        ("Action=CreateUser&UserName=u&Path=nopath", "ValidationError"),
        ("Action=CreateRole&RoleName=r", "ValidationError"),
        ("Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=x&MaxSessionDuration=3599", "ValidationError"),
        ("Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=x&MaxSessionDuration=43201", "ValidationError"),
        ("Action=ListUsers&MaxItems=1001", "ValidationError"),
        ("Action=GetPolicy&PolicyArn=arn%3Aaws%3As3%3A%3A%3Abucket%2Fkey1", "InvalidInput"),
        ("Action=GetPolicyVersion&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX&VersionId=1", "ValidationError"),
        ("Action=ListPolicies&Scope=Mine", "ValidationError"),
        ("Action=CreateUser&UserName=u&Tags.member.1.Key=k", "ValidationError"),
        ("Action=CreateUser&UserName=u&Tags.member.1.Key=k&Tags.member.1.Value=a&Tags.member.2.Key=K&Tags.member.2.Value=b", "InvalidInput"),
        ("Action=CreateGroup&GroupName=g", "InvalidAction"),
    ] {
        let e = parse_as(&Principal::Root, body).unwrap_err();
        assert_eq!(e.code, code, "{body}: {}", e.message);
        assert_eq!(e.status.as_u16(), 400, "{body}");
    }
    let long = "a".repeat(65);
    assert_eq!(
        parse_as(
            &Principal::Root,
            &format!("Action=CreateUser&UserName={long}")
        )
        .unwrap_err()
        .code,
        "ValidationError"
    );
}

#[test]
fn resources_are_the_entities_named() {
    let acct = "000000000000";
    assert_eq!(
        parse("Action=CreateUser&UserName=u&Path=%2Fa%2F").resource(acct),
        "arn:aws:iam::000000000000:user/a/u"
    );
    assert_eq!(
        parse("Action=DeleteUser&UserName=u").resource(acct),
        "arn:aws:iam::000000000000:user/u"
    );
    assert_eq!(
        parse("Action=GetUser").resource(acct),
        "arn:aws:iam::000000000000:root"
    );
    assert_eq!(
        parse("Action=PutRolePolicy&RoleName=r&PolicyName=p&PolicyDocument=x").resource(acct),
        "arn:aws:iam::000000000000:role/r"
    );
    assert_eq!(
        parse(&format!(
            "Action=AttachRolePolicy&RoleName=r&PolicyArn={ARN_S3}"
        ))
        .resource(acct),
        "arn:aws:iam::000000000000:role/r"
    );
    assert_eq!(
        parse("Action=CreatePolicy&PolicyName=p&Path=%2Fx%2F&PolicyDocument=x").resource(acct),
        "arn:aws:iam::000000000000:policy/x/p"
    );
    assert_eq!(
        parse(&format!("Action=GetPolicy&PolicyArn={ARN_S3}")).resource(acct),
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    );
    assert_eq!(parse("Action=ListRoles").resource(acct), "*");
    assert_eq!(
        parse("Action=DeleteUser&UserName=u").resource("111122223333"),
        "arn:aws:iam::111122223333:user/u"
    );
}

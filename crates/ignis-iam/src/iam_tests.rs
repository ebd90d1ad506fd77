//! IAM end to end below HTTP: query requests in, XML out, on a real
//! SqliteStore. The identity seam is a recording fake (trust and
//! credentials belong to ignis-identity).

use ignis_store::SqliteStore;

use super::*;
use crate::SessionCredentials;

pub(crate) struct FakeIdentity {
    pub(crate) trust: bool,
}

impl Identity for FakeIdentity {
    fn trust_allows(
        &self,
        trust_policy: &str,
        _role_arn: &str,
        caller: &Principal,
    ) -> Result<bool, AwsError> {
        Ok(self.trust && trust_policy.contains(&caller.arn()))
    }

    fn issue_session(
        &self,
        role_arn: &str,
        session: &str,
        secs: u32,
    ) -> Result<SessionCredentials, AwsError> {
        Ok(SessionCredentials {
            access_key_id: "ASIATESTTESTTESTTEST".into(),
            secret_access_key: format!("secret-for-{role_arn}"),
            session_token: format!("token-{session}-{secs}"),
            expiration: chrono::DateTime::from_timestamp(1_800_000_000 + i64::from(secs), 0)
                .unwrap(),
        })
    }
}

pub(crate) fn service(dir: &tempfile::TempDir) -> Arc<Iam<SqliteStore>> {
    let store = Arc::new(SqliteStore::open_in(dir.path()).unwrap());
    Arc::new(Iam::new(store, Arc::new(FakeIdentity { trust: true })))
}

pub(crate) async fn call(iam: &Iam<SqliteStore>, body: &str) -> Result<String, AwsError> {
    let req = QueryRequest::parse("", body.as_bytes())?;
    iam.handle(&Principal::Root, req)
        .await
        .map(|r| r.to_xml("rid"))
}

async fn err(iam: &Iam<SqliteStore>, body: &str) -> AwsError {
    call(iam, body).await.expect_err(body)
}

fn between<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {tag} in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    &xml[start..end]
}

pub(crate) const TRUST: &str = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22lambda.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
const ALLOW_LOGS: &str = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22logs%3A*%22%2C%22Resource%22%3A%22*%22%7D%7D";

#[tokio::test]
async fn users_and_access_keys() {
    let dir = tempfile::tempdir().unwrap();
    let iam = service(&dir);
    let xml = call(&iam, "Action=CreateUser&UserName=alice&Path=%2Fteam%2F&Tags.member.1.Key=k&Tags.member.1.Value=v").await.unwrap();
    assert!(xml.starts_with("<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateUserResult><User><Path>/team/</Path><UserName>alice</UserName><UserId>AIDA"), "{xml}");
    assert!(xml.contains("<Arn>arn:aws:iam::000000000000:user/team/alice</Arn>"));
    assert!(xml.contains("<Tags><member><Key>k</Key><Value>v</Value></member></Tags>"));
    let e = err(&iam, "Action=CreateUser&UserName=ALICE").await;
    assert_eq!(
        (e.status.as_u16(), e.code.as_str(), e.message.as_str()),
        (
            409,
            "EntityAlreadyExists",
            "User with name ALICE already exists."
        )
    );

    let got = call(&iam, "Action=GetUser&UserName=alice").await.unwrap();
    assert_eq!(between(&got, "UserId"), between(&xml, "UserId"));
    let e = err(&iam, "Action=GetUser&UserName=bob").await;
    assert_eq!(
        (e.status.as_u16(), e.code.as_str(), e.message.as_str()),
        (
            404,
            "NoSuchEntity",
            "The user with name bob cannot be found."
        )
    );
    let root = call(&iam, "Action=GetUser").await.unwrap();
    assert!(
        root.contains("<Arn>arn:aws:iam::000000000000:root</Arn>"),
        "{root}"
    );

    let key = call(&iam, "Action=CreateAccessKey&UserName=alice")
        .await
        .unwrap();
    let id = between(&key, "AccessKeyId").to_string();
    assert!(id.starts_with("AKIA") && id.len() == 20, "{id}");
    assert_eq!(between(&key, "SecretAccessKey").len(), 40);
    assert_eq!(between(&key, "Status"), "Active");
    let (principal, stored) = iam.access_key(&id).await.unwrap().unwrap();
    assert_eq!(principal.arn(), "arn:aws:iam::000000000000:user/team/alice");
    assert_eq!(stored.secret, between(&key, "SecretAccessKey"));
    call(&iam, "Action=CreateAccessKey&UserName=alice")
        .await
        .unwrap();
    let e = err(&iam, "Action=CreateAccessKey&UserName=alice").await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "LimitExceeded",
            "Cannot exceed quota for AccessKeysPerUser: 2."
        )
    );
    let list = call(&iam, "Action=ListAccessKeys&UserName=alice")
        .await
        .unwrap();
    assert_eq!(list.matches("<member>").count(), 2);
    assert!(!list.contains("SecretAccessKey"));

    let e = err(&iam, "Action=DeleteUser&UserName=alice").await;
    assert_eq!(
        (e.status.as_u16(), e.code.as_str()),
        (409, "DeleteConflict")
    );
    let e = err(
        &iam,
        "Action=DeleteAccessKey&UserName=alice&AccessKeyId=AKIANOSUCHKEY0000000",
    )
    .await;
    assert_eq!(
        e.message,
        "The Access Key with id AKIANOSUCHKEY0000000 cannot be found."
    );
    for k in list.split("<AccessKeyId>").skip(1) {
        let k = &k[..k.find('<').unwrap()];
        call(
            &iam,
            &format!("Action=DeleteAccessKey&UserName=alice&AccessKeyId={k}"),
        )
        .await
        .unwrap();
    }
    let deleted = call(&iam, "Action=DeleteUser&UserName=alice")
        .await
        .unwrap();
    assert_eq!(deleted, "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteUserResponse>");
    assert!(iam.access_key(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn list_users_pages_and_filters_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let iam = service(&dir);
    for (n, p) in [("b", "/"), ("A", "/x/"), ("c", "/x/")] {
        call(
            &iam,
            &format!(
                "Action=CreateUser&UserName={n}&Path={}",
                p.replace('/', "%2F")
            ),
        )
        .await
        .unwrap();
    }
    let first = call(&iam, "Action=ListUsers&MaxItems=2").await.unwrap();
    assert!(
        first.contains("<UserName>A</UserName>") && first.contains("<UserName>b</UserName>"),
        "{first}"
    );
    assert!(first.contains("<IsTruncated>true</IsTruncated>"));
    let marker = between(&first, "Marker").to_string();
    let rest = call(
        &iam,
        &format!("Action=ListUsers&MaxItems=2&Marker={marker}"),
    )
    .await
    .unwrap();
    assert!(
        rest.contains("<UserName>c</UserName>")
            && rest.contains("<IsTruncated>false</IsTruncated>"),
        "{rest}"
    );
    let x = call(&iam, "Action=ListUsers&PathPrefix=%2Fx")
        .await
        .unwrap();
    assert_eq!(x.matches("<member>").count(), 2);
    assert!(!x.contains("<Tags>"));
}

#[tokio::test]
async fn roles_with_trust_policies_and_inline_policies() {
    let dir = tempfile::tempdir().unwrap();
    let iam = service(&dir);
    let xml = call(&iam, &format!("Action=CreateRole&RoleName=fn&Path=%2Fservice-role%2F&AssumeRolePolicyDocument={TRUST}&MaxSessionDuration=7200&Description=a%26b")).await.unwrap();
    assert!(between(&xml, "RoleId").starts_with("AROA"));
    assert_eq!(
        between(&xml, "Arn"),
        "arn:aws:iam::000000000000:role/service-role/fn"
    );
    assert_eq!(
        between(&xml, "AssumeRolePolicyDocument"),
        TRUST.replace('*', "%2A")
    );
    assert_eq!(between(&xml, "Description"), "a&amp;b");
    assert_eq!(between(&xml, "MaxSessionDuration"), "7200");

    // Malformed, misplaced and oversized documents change nothing.
    let e = err(
        &iam,
        "Action=CreateRole&RoleName=bad&AssumeRolePolicyDocument=%7Bnot",
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "MalformedPolicyDocument",
            "This policy contains invalid Json"
        )
    );
    let e = err(
        &iam,
        &format!("Action=CreateRole&RoleName=bad&AssumeRolePolicyDocument={ALLOW_LOGS}"),
    )
    .await;
    assert_eq!(e.code, "MalformedPolicyDocument");
    let e = err(&iam, "Action=GetRole&RoleName=bad").await;
    assert_eq!(e.code, "NoSuchEntity");
    let e = err(
        &iam,
        &format!("Action=UpdateAssumeRolePolicy&RoleName=fn&PolicyDocument={ALLOW_LOGS}"),
    )
    .await;
    assert_eq!(e.code, "MalformedPolicyDocument");
    let padded = TRUST.replace(
        "sts%3AAssumeRole",
        &format!("sts%3AAssumeRole{}", "x".repeat(2100)),
    );
    let e = err(
        &iam,
        &format!("Action=UpdateAssumeRolePolicy&RoleName=fn&PolicyDocument={padded}"),
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "LimitExceeded",
            "Cannot exceed quota for ACLSizePerRole: 2048"
        )
    );
    let role = call(&iam, "Action=GetRole&RoleName=FN").await.unwrap();
    assert_eq!(
        between(&role, "AssumeRolePolicyDocument"),
        between(&xml, "AssumeRolePolicyDocument")
    );

    call(
        &iam,
        &format!("Action=PutRolePolicy&RoleName=fn&PolicyName=logs&PolicyDocument={ALLOW_LOGS}"),
    )
    .await
    .unwrap();
    let got = call(&iam, "Action=GetRolePolicy&RoleName=fn&PolicyName=logs")
        .await
        .unwrap();
    assert_eq!(
        between(&got, "PolicyDocument"),
        ALLOW_LOGS.replace('*', "%2A")
    );
    let e = err(
        &iam,
        &format!("Action=PutRolePolicy&RoleName=fn&PolicyName=p&PolicyDocument={TRUST}"),
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "MalformedPolicyDocument",
            "Policy document should not specify a principal."
        )
    );
    let big = ALLOW_LOGS.replace("logs%3A*", &format!("logs%3A{}", "x".repeat(10_300)));
    let e = err(
        &iam,
        &format!("Action=PutRolePolicy&RoleName=fn&PolicyName=big&PolicyDocument={big}"),
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "LimitExceeded",
            "Maximum policy size of 10240 bytes exceeded for role fn"
        )
    );
    let names = call(&iam, "Action=ListRolePolicies&RoleName=fn")
        .await
        .unwrap();
    assert!(
        names.contains("<PolicyNames><member>logs</member></PolicyNames>"),
        "{names}"
    );
    assert_eq!(
        iam.identity_policies(&Principal::AssumedRole {
            role_name: "fn".into(),
            role_id: "x".into(),
            session_name: "s".into()
        })
        .await
        .unwrap()
        .len(),
        1
    );

    let e = err(&iam, "Action=DeleteRole&RoleName=fn").await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "DeleteConflict",
            "Cannot delete entity, must delete policies first."
        )
    );
    let e = err(&iam, "Action=GetRolePolicy&RoleName=fn&PolicyName=nope").await;
    assert_eq!(e.message, "The role policy with name nope cannot be found.");
    call(&iam, "Action=DeleteRolePolicy&RoleName=fn&PolicyName=logs")
        .await
        .unwrap();
    call(&iam, "Action=DeleteRole&RoleName=fn").await.unwrap();
    assert!(call(&iam, "Action=ListRoles")
        .await
        .unwrap()
        .contains("<Roles></Roles>"));
}

#[tokio::test]
async fn user_inline_policies_have_their_own_quota() {
    let dir = tempfile::tempdir().unwrap();
    let iam = service(&dir);
    call(&iam, "Action=CreateUser&UserName=u").await.unwrap();
    call(
        &iam,
        &format!("Action=PutUserPolicy&UserName=u&PolicyName=p&PolicyDocument={ALLOW_LOGS}"),
    )
    .await
    .unwrap();
    let got = call(&iam, "Action=GetUserPolicy&UserName=U&PolicyName=P")
        .await
        .unwrap();
    assert!(
        got.contains("<UserName>u</UserName><PolicyName>p</PolicyName>"),
        "{got}"
    );
    let big = ALLOW_LOGS.replace("logs%3A*", &format!("logs%3A{}", "x".repeat(2_000)));
    let e = err(
        &iam,
        &format!("Action=PutUserPolicy&UserName=u&PolicyName=q&PolicyDocument={big}"),
    )
    .await;
    assert_eq!(
        e.message,
        "Maximum policy size of 2048 bytes exceeded for user u"
    );
    let e = err(
        &iam,
        &format!("Action=PutUserPolicy&UserName=nobody&PolicyName=q&PolicyDocument={ALLOW_LOGS}"),
    )
    .await;
    assert_eq!(e.code, "NoSuchEntity");
    call(&iam, "Action=DeleteUserPolicy&UserName=u&PolicyName=p")
        .await
        .unwrap();
    let e = err(&iam, "Action=DeleteUserPolicy&UserName=u&PolicyName=p").await;
    assert_eq!(e.message, "The user policy with name p cannot be found.");
}

#[tokio::test]
async fn managed_policies_customer_and_aws() {
    let dir = tempfile::tempdir().unwrap();
    let iam = service(&dir);
    let xml = call(&iam, &format!("Action=CreatePolicy&PolicyName=mine&Path=%2Fapp%2F&PolicyDocument={ALLOW_LOGS}&Description=d")).await.unwrap();
    let arn = "arn:aws:iam::000000000000:policy/app/mine";
    assert_eq!(between(&xml, "Arn"), arn);
    assert_eq!(between(&xml, "DefaultVersionId"), "v1");
    assert!(between(&xml, "PolicyId").starts_with("ANPA"));
    let e = err(
        &iam,
        &format!("Action=CreatePolicy&PolicyName=MINE&PolicyDocument={ALLOW_LOGS}"),
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "EntityAlreadyExists",
            "A policy called MINE already exists. Duplicate names are not allowed."
        )
    );
    let big = ALLOW_LOGS.replace("logs%3A*", &format!("logs%3A{}", "x".repeat(6_200)));
    let e = err(
        &iam,
        &format!("Action=CreatePolicy&PolicyName=big&PolicyDocument={big}"),
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144")
    );
    let e = err(
        &iam,
        "Action=CreatePolicy&PolicyName=bad&PolicyDocument=%7B%22Statement%22%3A%5B%5D%7D",
    )
    .await;
    assert_eq!(e.code, "MalformedPolicyDocument");

    let enc = |a: &str| a.replace(':', "%3A").replace('/', "%2F");
    let got = call(&iam, &format!("Action=GetPolicy&PolicyArn={}", enc(arn)))
        .await
        .unwrap();
    assert_eq!(between(&got, "Description"), "d");
    let v = call(
        &iam,
        &format!(
            "Action=GetPolicyVersion&PolicyArn={}&VersionId=v1",
            enc(arn)
        ),
    )
    .await
    .unwrap();
    assert_eq!(between(&v, "Document"), ALLOW_LOGS.replace('*', "%2A"));
    assert_eq!(between(&v, "IsDefaultVersion"), "true");
    let e = err(
        &iam,
        &format!(
            "Action=GetPolicyVersion&PolicyArn={}&VersionId=v2",
            enc(arn)
        ),
    )
    .await;
    assert_eq!(e.code, "NoSuchEntity");

    let basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    let aws = call(&iam, &format!("Action=GetPolicy&PolicyArn={}", enc(basic)))
        .await
        .unwrap();
    assert_eq!(between(&aws, "Path"), "/service-role/");
    let doc = call(
        &iam,
        &format!(
            "Action=GetPolicyVersion&PolicyArn={}&VersionId=v1",
            enc(basic)
        ),
    )
    .await
    .unwrap();
    assert!(between(&doc, "Document").contains("logs%3APutLogEvents"));
    let e = err(
        &iam,
        &format!(
            "Action=GetPolicy&PolicyArn={}",
            enc("arn:aws:iam::aws:policy/NoSuch")
        ),
    )
    .await;
    assert_eq!(e.code, "NoSuchEntity");

    call(
        &iam,
        &format!("Action=CreateRole&RoleName=r&AssumeRolePolicyDocument={TRUST}"),
    )
    .await
    .unwrap();
    call(&iam, "Action=CreateUser&UserName=u").await.unwrap();
    call(
        &iam,
        &format!(
            "Action=AttachRolePolicy&RoleName=r&PolicyArn={}",
            enc(basic)
        ),
    )
    .await
    .unwrap();
    call(
        &iam,
        &format!("Action=AttachRolePolicy&RoleName=r&PolicyArn={}", enc(arn)),
    )
    .await
    .unwrap();
    call(
        &iam,
        &format!("Action=AttachUserPolicy&UserName=u&PolicyArn={}", enc(arn)),
    )
    .await
    .unwrap();
    let e = err(
        &iam,
        &format!(
            "Action=AttachRolePolicy&RoleName=r&PolicyArn={}",
            enc("arn:aws:iam::aws:policy/NoSuch")
        ),
    )
    .await;
    assert_eq!(e.code, "NoSuchEntity");
    let e = err(
        &iam,
        &format!(
            "Action=AttachRolePolicy&RoleName=r&PolicyArn={}",
            enc("arn:aws:iam::000000000000:policy/none")
        ),
    )
    .await;
    assert_eq!(e.code, "NoSuchEntity");
    let attached = call(&iam, "Action=ListAttachedRolePolicies&RoleName=r")
        .await
        .unwrap();
    assert!(attached.contains("<member><PolicyName>AWSLambdaBasicExecutionRole</PolicyName><PolicyArn>arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole</PolicyArn></member><member><PolicyName>mine</PolicyName>"), "{attached}");
    let filtered = call(
        &iam,
        "Action=ListAttachedRolePolicies&RoleName=r&PathPrefix=%2Fapp%2F",
    )
    .await
    .unwrap();
    assert_eq!(filtered.matches("<member>").count(), 1);
    let users = call(&iam, "Action=ListAttachedUserPolicies&UserName=u")
        .await
        .unwrap();
    assert!(users.contains("<PolicyName>mine</PolicyName>"));
    let got = call(&iam, &format!("Action=GetPolicy&PolicyArn={}", enc(arn)))
        .await
        .unwrap();
    assert_eq!(between(&got, "AttachmentCount"), "2");
    assert_eq!(
        iam.identity_policies(&Principal::AssumedRole {
            role_name: "r".into(),
            role_id: "x".into(),
            session_name: "s".into()
        })
        .await
        .unwrap()
        .len(),
        2
    );

    let local = call(&iam, "Action=ListPolicies&Scope=Local").await.unwrap();
    assert_eq!(local.matches("<member>").count(), 1);
    let attached_only = call(&iam, "Action=ListPolicies&OnlyAttached=true")
        .await
        .unwrap();
    assert_eq!(
        attached_only.matches("<member>").count(),
        2,
        "{attached_only}"
    );
    let aws_all = call(&iam, "Action=ListPolicies&Scope=AWS&MaxItems=1000")
        .await
        .unwrap();
    assert_eq!(aws_all.matches("<member>").count(), managed::all().len());

    let e = err(&iam, &format!("Action=DeletePolicy&PolicyArn={}", enc(arn))).await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "DeleteConflict",
            "Cannot delete a policy attached to entities."
        )
    );
    let e = err(
        &iam,
        &format!("Action=DeletePolicy&PolicyArn={}", enc(basic)),
    )
    .await;
    assert_eq!((e.status.as_u16(), e.code.as_str()), (403, "AccessDenied"));
    let e = err(&iam, "Action=DeleteRole&RoleName=r").await;
    assert_eq!(
        e.message,
        "Cannot delete entity, must detach all policies first."
    );
    call(
        &iam,
        &format!("Action=DetachRolePolicy&RoleName=r&PolicyArn={}", enc(arn)),
    )
    .await
    .unwrap();
    call(
        &iam,
        &format!("Action=DetachUserPolicy&UserName=u&PolicyArn={}", enc(arn)),
    )
    .await
    .unwrap();
    let e = err(
        &iam,
        &format!("Action=DetachUserPolicy&UserName=u&PolicyArn={}", enc(arn)),
    )
    .await;
    assert_eq!(e.code, "NoSuchEntity");
    call(&iam, &format!("Action=DeletePolicy&PolicyArn={}", enc(arn)))
        .await
        .unwrap();
    let e = err(&iam, &format!("Action=GetPolicy&PolicyArn={}", enc(arn))).await;
    assert_eq!(e.message, format!("Policy {arn} was not found."));
}

#[tokio::test]
async fn role_by_arn_needs_the_right_path() {
    let dir = tempfile::tempdir().unwrap();
    let iam = service(&dir);
    call(
        &iam,
        &format!("Action=CreateRole&RoleName=r&Path=%2Fa%2F&AssumeRolePolicyDocument={TRUST}"),
    )
    .await
    .unwrap();
    assert!(iam
        .role_by_arn("arn:aws:iam::000000000000:role/a/r")
        .await
        .unwrap()
        .is_some());
    assert!(iam
        .role_by_arn("arn:aws:iam::000000000000:role/r")
        .await
        .unwrap()
        .is_none());
    assert!(iam
        .role_by_arn("arn:aws:iam::000000000000:user/a/r")
        .await
        .unwrap()
        .is_none());
}

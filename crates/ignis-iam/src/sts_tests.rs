use ignis_store::SqliteStore;

use super::*;
use crate::iam::tests::{call, service, FakeIdentity, TRUST};

fn sts(iam: Arc<Iam<SqliteStore>>, trust: bool) -> Sts<SqliteStore> {
    Sts::new(iam, Arc::new(FakeIdentity { trust }))
}

async fn ask(sts: &Sts<SqliteStore>, caller: &Principal, body: &str) -> Result<String, AwsError> {
    let req = QueryRequest::parse("", body.as_bytes())?;
    sts.handle(caller, req).await.map(|r| r.to_xml("rid"))
}

fn alice() -> Principal {
    Principal::User {
        name: "alice".into(),
        id: "AIDAALICE".into(),
        path: "/".into(),
    }
}

#[tokio::test]
async fn get_caller_identity_names_root_users_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let sts = sts(service(&dir), true);
    let root = ask(
        &sts,
        &Principal::Root,
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await
    .unwrap();
    assert_eq!(root, "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><UserId>000000000000</UserId><Account>000000000000</Account><Arn>arn:aws:iam::000000000000:root</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>");
    let user = ask(&sts, &alice(), "Action=GetCallerIdentity")
        .await
        .unwrap();
    assert!(user.contains("<UserId>AIDAALICE</UserId><Account>000000000000</Account><Arn>arn:aws:iam::000000000000:user/alice</Arn>"));
    let session = Principal::AssumedRole {
        role_name: "r".into(),
        role_id: "AROAR".into(),
        session_name: "s".into(),
    };
    let s = ask(&sts, &session, "Action=GetCallerIdentity")
        .await
        .unwrap();
    assert!(s.contains("<UserId>AROAR:s</UserId><Account>000000000000</Account><Arn>arn:aws:sts::000000000000:assumed-role/r/s</Arn>"));
    let op = StsOp::parse(&QueryRequest::parse("", b"Action=GetCallerIdentity").unwrap()).unwrap();
    assert!(!op.requires_authorization());
    assert_eq!(
        (op.action(), op.resource("000000000000").as_str()),
        ("sts:GetCallerIdentity", "*")
    );
}

#[tokio::test]
async fn assume_role_checks_trust_and_duration_then_issues_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let iam = service(&dir);
    // A trust policy naming alice (the fake trusts callers whose ARN it contains).
    let trust = TRUST.replace(
        "%7B%22Service%22%3A%22lambda.amazonaws.com%22%7D",
        "%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A000000000000%3Auser%2Falice%22%7D",
    );
    call(
        &iam,
        &format!(
            "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument={trust}&MaxSessionDuration=7200"
        ),
    )
    .await
    .unwrap();
    let role_id = iam
        .role_by_arn("arn:aws:iam::000000000000:role/r")
        .await
        .unwrap()
        .unwrap()
        .id;
    let sts_ok = sts(Arc::clone(&iam), true);
    let arn = "RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr";

    let xml = ask(
        &sts_ok,
        &alice(),
        &format!("Action=AssumeRole&{arn}&RoleSessionName=s1&DurationSeconds=7200"),
    )
    .await
    .unwrap();
    assert!(xml.contains("<Credentials><AccessKeyId>ASIATESTTESTTESTTEST</AccessKeyId><SecretAccessKey>secret-for-arn:aws:iam::000000000000:role/r</SecretAccessKey><SessionToken>token-s1-7200</SessionToken><Expiration>2027-01-15T10:00:00Z</Expiration></Credentials>"), "{xml}");
    assert!(xml.contains(&format!("<AssumedRoleUser><AssumedRoleId>{role_id}:s1</AssumedRoleId><Arn>arn:aws:sts::000000000000:assumed-role/r/s1</Arn></AssumedRoleUser>")), "{xml}");

    let e = ask(
        &sts_ok,
        &alice(),
        &format!("Action=AssumeRole&{arn}&RoleSessionName=s1&DurationSeconds=7201"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "ValidationError");
    assert!(e.message.starts_with(
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    ));
    let e = ask(
        &sts_ok,
        &alice(),
        &format!("Action=AssumeRole&{arn}&RoleSessionName=s1&DurationSeconds=899"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "ValidationError");
    let e = ask(
        &sts_ok,
        &alice(),
        &format!("Action=AssumeRole&{arn}&RoleSessionName=s"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.code, "ValidationError",
        "session names are 2-64 characters"
    );
    let e = ask(
        &sts_ok,
        &alice(),
        &format!("Action=AssumeRole&{arn}&RoleSessionName=s1&Policy=%7Bnot"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "MalformedPolicyDocument");

    let bob = Principal::User {
        name: "bob".into(),
        id: "AIDABOB".into(),
        path: "/".into(),
    };
    let e = ask(
        &sts_ok,
        &bob,
        &format!("Action=AssumeRole&{arn}&RoleSessionName=s1"),
    )
    .await
    .unwrap_err();
    assert_eq!((e.status.as_u16(), e.code.as_str(), e.message.as_str()), (403, "AccessDenied", "User: arn:aws:iam::000000000000:user/bob is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/r"));
    let sts_no = sts(Arc::clone(&iam), false);
    let e = ask(
        &sts_no,
        &alice(),
        &format!("Action=AssumeRole&{arn}&RoleSessionName=s1"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "AccessDenied");
    let e = ask(&sts_ok, &alice(), "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fnone&RoleSessionName=s1").await.unwrap_err();
    assert_eq!(
        e.code, "AccessDenied",
        "a missing role is refused as AWS refuses it"
    );

    let op = StsOp::parse(&QueryRequest::parse("", format!("Action=AssumeRole&{arn}&RoleSessionName=s1&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonS3ReadOnlyAccess").as_bytes()).unwrap()).unwrap();
    assert_eq!(
        op.resource("000000000000"),
        "arn:aws:iam::000000000000:role/r"
    );
    assert!(matches!(op, StsOp::AssumeRole { ref policy_arns, .. } if policy_arns.len() == 1));
}

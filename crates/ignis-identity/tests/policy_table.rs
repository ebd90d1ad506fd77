//! The policy evaluator on a table of cases drawn from AWS's documented
//! examples (each group names the IAM User Guide or Lambda page it follows),
//! plus malformed documents and IAM's size limits.

use ignis_identity::policy::{
    access_denied_message, authorize, Decision, PolicyDocument, PolicyError, PolicyKind,
    PolicySize, PolicyType, Principal, RequestContext,
};

const ACCT: &str = "000000000000";
const FN_B: &str = "arn:aws:lambda:us-east-1:000000000000:function:b";
const FN_C: &str = "arn:aws:lambda:us-east-1:000000000000:function:c";

#[derive(Debug, Clone, PartialEq)]
enum Want {
    Allow,
    Deny(Option<&'static str>),
    Implicit,
}

struct Case {
    name: &'static str,
    identity: Vec<&'static str>,
    resource: Option<&'static str>,
    principal: Principal,
    action: &'static str,
    arn: &'static str,
    keys: Vec<(&'static str, Vec<&'static str>)>,
    want: Want,
}

fn alice() -> Principal {
    Principal::user(ACCT, "alice", Some("AIDAALICE"))
}

fn role_session() -> Principal {
    Principal::assumed_role(ACCT, "fn-role", "sess", Some("AROAFNROLE"))
}

fn stmt(effect: &str, action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}"}}}}"#
    )
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// An identity policy with one statement and a condition block.
fn cond(effect: &str, action: &str, resource: &str, condition: &str) -> &'static str {
    leak(format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}","Condition":{condition}}}}}"#
    ))
}

fn case(
    name: &'static str,
    identity: Vec<&'static str>,
    principal: Principal,
    action: &'static str,
    arn: &'static str,
    want: Want,
) -> Case {
    Case {
        name,
        identity,
        resource: None,
        principal,
        action,
        arn,
        keys: vec![],
        want,
    }
}

impl Case {
    fn keys(mut self, keys: Vec<(&'static str, Vec<&'static str>)>) -> Self {
        self.keys = keys;
        self
    }
    fn resource_policy(mut self, policy: &'static str) -> Self {
        self.resource = Some(policy);
        self
    }
}

fn cases() -> Vec<Case> {
    let allow_invoke_b = leak(stmt("Allow", "lambda:InvokeFunction", FN_B));
    let mut v = vec![
        // "Policy evaluation logic" / "Determining whether a request is allowed or denied within an account"
        case("root may do everything", vec![], Principal::root(ACCT), "lambda:DeleteFunction", FN_B, Want::Allow),
        case("a user with no policy can do nothing", vec![], alice(), "lambda:InvokeFunction", FN_B, Want::Implicit),
        case("identity allow on the resource", vec![allow_invoke_b], alice(), "lambda:InvokeFunction", FN_B, Want::Allow),
        case("identity allow on another resource", vec![allow_invoke_b], alice(), "lambda:InvokeFunction", FN_C, Want::Implicit),
        case("identity allow, other action", vec![allow_invoke_b], alice(), "lambda:DeleteFunction", FN_B, Want::Implicit),
        case(
            "explicit deny beats allow across policies",
            vec![leak(stmt("Allow", "lambda:*", "*")), leak(stmt("Deny", "lambda:DeleteFunction", FN_B))],
            alice(), "lambda:DeleteFunction", FN_B, Want::Deny(None),
        ),
        case(
            "deny of another action leaves the allow",
            vec![leak(stmt("Allow", "lambda:*", "*")), leak(stmt("Deny", "lambda:DeleteFunction", FN_B))],
            alice(), "lambda:InvokeFunction", FN_B, Want::Allow,
        ),
        case("a deny alone is an explicit deny", vec![leak(stmt("Deny", "*", "*"))], alice(), "lambda:GetFunction", FN_B, Want::Deny(None)),
        // "The difference between explicit and implicit denies" (AllowGetList / DenyReports)
        {
            let p = leak(r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"AllowGetList","Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"},
                {"Sid":"DenyReports","Effect":"Deny","Action":"iam:*Report","Resource":"*"}]}"#.to_string());
            case("AllowGetList allows iam:GetUser", vec![p], alice(), "iam:GetUser", "arn:aws:iam::000000000000:user/bob", Want::Allow)
        },
        {
            let p = leak(r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"AllowGetList","Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"},
                {"Sid":"DenyReports","Effect":"Deny","Action":"iam:*Report","Resource":"*"}]}"#.to_string());
            case("DenyReports denies iam:GetOrganizationsAccessReport", vec![p], alice(), "iam:GetOrganizationsAccessReport", "*", Want::Deny(Some("DenyReports")))
        },
        {
            let p = leak(r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"AllowGetList","Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"},
                {"Sid":"DenyReports","Effect":"Deny","Action":"iam:*Report","Resource":"*"}]}"#.to_string());
            case("iam:CreatePolicy is implicitly denied", vec![p], alice(), "iam:CreatePolicy", "*", Want::Implicit)
        },
        // "IAM JSON policy elements: Action" — action names are case-insensitive
        case("action case-insensitive", vec![leak(stmt("Allow", "LAMBDA:invokefunction", FN_B))], alice(), "lambda:InvokeFunction", FN_B, Want::Allow),
        case("action wildcard ?", vec![leak(stmt("Allow", "lambda:Get?olicy", "*"))], alice(), "lambda:GetPolicy", FN_B, Want::Allow),
        case("action wildcard * prefix", vec![leak(stmt("Allow", "lambda:List*", "*"))], alice(), "lambda:ListFunctions", "*", Want::Allow),
        case("service wildcard does not cross services", vec![leak(stmt("Allow", "lambda:*", "*"))], alice(), "iam:ListUsers", "*", Want::Implicit),
        case("bare * allows every action", vec![leak(stmt("Allow", "*", "*"))], alice(), "sts:GetCallerIdentity", "*", Want::Allow),
        // "IAM JSON policy elements: Resource" — resources are case-sensitive, wildcards per ARN part
        case("resource case-sensitive", vec![leak(stmt("Allow", "lambda:*", "arn:aws:lambda:us-east-1:000000000000:function:B"))], alice(), "lambda:GetFunction", FN_B, Want::Implicit),
        case("resource wildcard in region", vec![leak(stmt("Allow", "lambda:*", "arn:aws:lambda:*:000000000000:function:b"))], alice(), "lambda:GetFunction", FN_B, Want::Allow),
        case("resource wildcard for all functions", vec![leak(stmt("Allow", "lambda:*", "arn:aws:lambda:us-east-1:000000000000:function:*"))], alice(), "lambda:GetFunction", FN_C, Want::Allow),
        case("resource wildcard other account", vec![leak(stmt("Allow", "lambda:*", "arn:aws:lambda:*:111122223333:function:*"))], alice(), "lambda:GetFunction", FN_C, Want::Implicit),
        case("function name wildcard covers qualified ARN", vec![leak(stmt("Allow", "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:b:*"))], alice(), "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:b:prod", Want::Allow),
        case("unqualified ARN does not cover an alias", vec![allow_invoke_b], alice(), "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:b:prod", Want::Implicit),
        // "IAM JSON policy elements: NotAction"
        {
            let p = leak(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#.to_string());
            case("NotAction allow covers other services", vec![p], alice(), "lambda:InvokeFunction", FN_B, Want::Allow)
        },
        {
            let p = leak(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#.to_string());
            case("NotAction allow excludes the listed", vec![p], alice(), "iam:CreateUser", "*", Want::Implicit)
        },
        {
            let p = leak(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"DenyAllButIam","Effect":"Deny","NotAction":"iam:*","Resource":"*"}]}"#.to_string());
            case("NotAction deny denies the rest", vec![p], alice(), "lambda:InvokeFunction", FN_B, Want::Deny(Some("DenyAllButIam")))
        },
        // "IAM JSON policy elements: NotResource"
        {
            let p = leak(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"lambda:*","Resource":"*"}},{{"Sid":"OnlyB","Effect":"Deny","Action":"lambda:*","NotResource":"{FN_B}"}}]}}"#));
            case("NotResource deny spares the listed", vec![p], alice(), "lambda:InvokeFunction", FN_B, Want::Allow)
        },
        {
            let p = leak(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"lambda:*","Resource":"*"}},{{"Sid":"OnlyB","Effect":"Deny","Action":"lambda:*","NotResource":"{FN_B}"}}]}}"#));
            case("NotResource deny hits the others", vec![p], alice(), "lambda:InvokeFunction", FN_C, Want::Deny(Some("OnlyB")))
        },
        // "IAM JSON policy elements: Condition operators" — String
        case("StringEquals match", vec![cond("Allow", "lambda:*", "*", r#"{"StringEquals":{"aws:PrincipalTag/team":"x"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:PrincipalTag/team", vec!["x"])]),
        case("StringEquals is case-sensitive", vec![cond("Allow", "lambda:*", "*", r#"{"StringEquals":{"aws:PrincipalTag/team":"x"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit)
            .keys(vec![("aws:PrincipalTag/team", vec!["X"])]),
        case("StringEquals key missing", vec![cond("Allow", "lambda:*", "*", r#"{"StringEquals":{"aws:PrincipalTag/team":"x"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit),
        case("condition key names are case-insensitive", vec![cond("Allow", "lambda:*", "*", r#"{"StringEquals":{"AWS:PRINCIPALTAG/team":"x"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:PrincipalTag/team", vec!["x"])]),
        case("StringEqualsIgnoreCase", vec![cond("Allow", "lambda:*", "*", r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"X"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:PrincipalTag/team", vec!["x"])]),
        case("StringNotEquals with key present and equal", vec![cond("Allow", "lambda:*", "*", r#"{"StringNotEquals":{"aws:PrincipalTag/team":"x"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit)
            .keys(vec![("aws:PrincipalTag/team", vec!["x"])]),
        case("StringNotEquals with key absent holds", vec![cond("Allow", "lambda:*", "*", r#"{"StringNotEquals":{"aws:PrincipalTag/team":"x"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow),
        case("StringNotEqualsIgnoreCase", vec![cond("Allow", "lambda:*", "*", r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"X"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit)
            .keys(vec![("aws:PrincipalTag/team", vec!["x"])]),
        case("StringLike wildcard", vec![cond("Allow", "s3:GetObject", "*", r#"{"StringLike":{"s3:prefix":["home/*","public/?"]}}"#)], alice(), "s3:GetObject", "arn:aws:s3:::b/k", Want::Allow)
            .keys(vec![("s3:prefix", vec!["home/alice/x"])]),
        case("StringLike no match", vec![cond("Allow", "s3:GetObject", "*", r#"{"StringLike":{"s3:prefix":["home/*","public/?"]}}"#)], alice(), "s3:GetObject", "arn:aws:s3:::b/k", Want::Implicit)
            .keys(vec![("s3:prefix", vec!["public/xy"])]),
        case("StringNotLike key absent holds", vec![cond("Allow", "s3:GetObject", "*", r#"{"StringNotLike":{"s3:prefix":"secret/*"}}"#)], alice(), "s3:GetObject", "arn:aws:s3:::b/k", Want::Allow),
        case("multiple values in one key are OR'ed", vec![cond("Allow", "lambda:*", "*", r#"{"StringEquals":{"aws:RequestedRegion":["eu-west-1","us-east-1"]}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:RequestedRegion", vec!["us-east-1"])]),
        case("multiple keys are AND'ed", vec![cond("Allow", "lambda:*", "*", r#"{"StringEquals":{"aws:RequestedRegion":"us-east-1","aws:PrincipalTag/team":"x"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit)
            .keys(vec![("aws:RequestedRegion", vec!["us-east-1"])]),
        case("multiple operators are AND'ed", vec![cond("Allow", "lambda:*", "*", r#"{"StringEquals":{"aws:RequestedRegion":"us-east-1"},"Bool":{"aws:SecureTransport":"true"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:RequestedRegion", vec!["us-east-1"]), ("aws:SecureTransport", vec!["true"])]),
        // Condition operators — Numeric, Date, Bool, IP, ARN, Null, …IfExists
        case("NumericLessThanEquals", vec![cond("Allow", "s3:ListBucket", "*", r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#)], alice(), "s3:ListBucket", "arn:aws:s3:::b", Want::Allow)
            .keys(vec![("s3:max-keys", vec!["10"])]),
        case("NumericLessThan fails above", vec![cond("Allow", "s3:ListBucket", "*", r#"{"NumericLessThan":{"s3:max-keys":10}}"#)], alice(), "s3:ListBucket", "arn:aws:s3:::b", Want::Implicit)
            .keys(vec![("s3:max-keys", vec!["11"])]),
        case("NumericGreaterThan / NumericNotEquals", vec![cond("Allow", "s3:ListBucket", "*", r#"{"NumericGreaterThan":{"s3:max-keys":"1"},"NumericNotEquals":{"s3:max-keys":"5"}}"#)], alice(), "s3:ListBucket", "arn:aws:s3:::b", Want::Allow)
            .keys(vec![("s3:max-keys", vec!["6"])]),
        // "AWS: Allows access based on date and time"
        case("DateGreaterThan/DateLessThan window inside", vec![cond("Allow", "lambda:*", "*", r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2024-12-31T23:59:59Z"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:CurrentTime", vec!["2024-05-01T12:00:00Z"])]),
        case("Date window outside", vec![cond("Allow", "lambda:*", "*", r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2024-12-31T23:59:59Z"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit)
            .keys(vec![("aws:CurrentTime", vec!["2025-01-02T00:00:00Z"])]),
        case("DateEquals epoch vs ISO", vec![cond("Allow", "lambda:*", "*", r#"{"DateEquals":{"aws:EpochTime":"2024-05-01T00:00:00Z"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:EpochTime", vec!["1714521600"])]),
        // "AWS: Denies access to AWS based on the source IP"
        {
            let p = cond("Deny", "*", "*", r#"{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]},"Bool":{"aws:ViaAWSService":"false"}}"#);
            case("NotIpAddress deny outside the ranges", vec![leak(stmt("Allow", "*", "*")), p], alice(), "lambda:InvokeFunction", FN_B, Want::Deny(None))
                .keys(vec![("aws:SourceIp", vec!["198.51.100.7"]), ("aws:ViaAWSService", vec!["false"])])
        },
        {
            let p = cond("Deny", "*", "*", r#"{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]},"Bool":{"aws:ViaAWSService":"false"}}"#);
            case("NotIpAddress deny spares the ranges", vec![leak(stmt("Allow", "*", "*")), p], alice(), "lambda:InvokeFunction", FN_B, Want::Allow)
                .keys(vec![("aws:SourceIp", vec!["203.0.113.9"]), ("aws:ViaAWSService", vec!["false"])])
        },
        case("IpAddress IPv6", vec![cond("Allow", "*", "*", r#"{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:SourceIp", vec!["2001:db8:1234:5678::9"])]),
        case("Bool SecureTransport false denies", vec![leak(stmt("Allow", "*", "*")), cond("Deny", "*", "*", r#"{"Bool":{"aws:SecureTransport":false}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Deny(None))
            .keys(vec![("aws:SecureTransport", vec!["false"])]),
        case("ArnLike on PrincipalArn", vec![cond("Allow", "lambda:*", "*", r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/al*"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow),
        case("ArnNotEquals on PrincipalArn", vec![cond("Allow", "lambda:*", "*", r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/alice"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit),
        case("Null true: key absent", vec![cond("Allow", "lambda:*", "*", r#"{"Null":{"aws:TokenIssueTime":"true"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow),
        case("Null false: key must be present", vec![cond("Allow", "lambda:*", "*", r#"{"Null":{"aws:TokenIssueTime":"false"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit),
        case("StringEqualsIfExists key absent holds", vec![cond("Allow", "lambda:*", "*", r#"{"StringEqualsIfExists":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow),
        case("StringEqualsIfExists key present and different", vec![cond("Allow", "lambda:*", "*", r#"{"StringEqualsIfExists":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Implicit)
            .keys(vec![("lambda:FunctionUrlAuthType", vec!["NONE"])]),
        // "Set operators for multivalued context keys"
        case("ForAllValues: every value listed", vec![cond("Allow", "*", "*", r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#)], alice(), "lambda:TagResource", FN_B, Want::Allow)
            .keys(vec![("aws:TagKeys", vec!["env"])]),
        case("ForAllValues: one value not listed", vec![cond("Allow", "*", "*", r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#)], alice(), "lambda:TagResource", FN_B, Want::Implicit)
            .keys(vec![("aws:TagKeys", vec!["env", "cost"])]),
        case("ForAllValues: key absent holds", vec![cond("Allow", "*", "*", r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#)], alice(), "lambda:TagResource", FN_B, Want::Allow),
        case("ForAnyValue: one value listed", vec![cond("Allow", "*", "*", r#"{"ForAnyValue:StringLike":{"aws:TagKeys":"cost*"}}"#)], alice(), "lambda:TagResource", FN_B, Want::Allow)
            .keys(vec![("aws:TagKeys", vec!["env", "costcenter"])]),
        case("ForAnyValue: key absent fails", vec![cond("Allow", "*", "*", r#"{"ForAnyValue:StringLike":{"aws:TagKeys":"cost*"}}"#)], alice(), "lambda:TagResource", FN_B, Want::Implicit),
        // "IAM policy elements: Variables and tags"
        case("${aws:username} in a resource", vec![leak(stmt("Allow", "s3:*", "arn:aws:s3:::home/${aws:username}/*"))], alice(), "s3:GetObject", "arn:aws:s3:::home/alice/notes.txt", Want::Allow),
        case("${aws:username} for another user's folder", vec![leak(stmt("Allow", "s3:*", "arn:aws:s3:::home/${aws:username}/*"))], alice(), "s3:GetObject", "arn:aws:s3:::home/bob/notes.txt", Want::Implicit),
        case("variables are literal in Version 2008-10-17", vec![leak(r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}}"#.to_string())], alice(), "s3:GetObject", "arn:aws:s3:::home/alice/notes.txt", Want::Implicit),
        case("${aws:userid} in a condition", vec![cond("Allow", "*", "*", r#"{"StringEquals":{"aws:PrincipalTag/owner":"${aws:userid}"}}"#)], alice(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("aws:PrincipalTag/owner", vec!["AIDAALICE"])]),
        case("${aws:PrincipalArn} with a role session", vec![cond("Allow", "*", "*", r#"{"StringEquals":{"lambda:FunctionArn":"${aws:PrincipalArn}"}}"#)], role_session(), "lambda:GetFunction", FN_B, Want::Allow)
            .keys(vec![("lambda:FunctionArn", vec!["arn:aws:iam::000000000000:role/fn-role"])]),
        // An assumed role carries its role's identity policies.
        case("role session allowed by its role's policy", vec![allow_invoke_b], role_session(), "lambda:InvokeFunction", FN_B, Want::Allow),
        case("role session, least privilege: other function", vec![allow_invoke_b], role_session(), "lambda:InvokeFunction", FN_C, Want::Implicit),
    ];
    // "Using resource-based policies in Lambda" — documents as Lambda stores them.
    let s3_permission = leak(format!(
        r#"{{"Version":"2012-10-17","Id":"default","Statement":[{{"Sid":"s3","Effect":"Allow","Principal":{{"Service":"s3.amazonaws.com"}},"Action":"lambda:InvokeFunction","Resource":"{FN_B}","Condition":{{"StringEquals":{{"AWS:SourceAccount":"000000000000"}},"ArnLike":{{"AWS:SourceArn":"arn:aws:s3:::my-bucket"}}}}}}]}}"#
    ));
    v.extend([
        case("service principal with matching source", vec![], Principal::service("s3.amazonaws.com"), "lambda:InvokeFunction", FN_B, Want::Allow)
            .resource_policy(s3_permission)
            .keys(vec![("aws:SourceArn", vec!["arn:aws:s3:::my-bucket"]), ("aws:SourceAccount", vec!["000000000000"])]),
        case("service principal, other bucket", vec![], Principal::service("s3.amazonaws.com"), "lambda:InvokeFunction", FN_B, Want::Implicit)
            .resource_policy(s3_permission)
            .keys(vec![("aws:SourceArn", vec!["arn:aws:s3:::other"]), ("aws:SourceAccount", vec!["000000000000"])]),
        case("other service principal", vec![], Principal::service("sns.amazonaws.com"), "lambda:InvokeFunction", FN_B, Want::Implicit)
            .resource_policy(s3_permission)
            .keys(vec![("aws:SourceArn", vec!["arn:aws:s3:::my-bucket"]), ("aws:SourceAccount", vec!["000000000000"])]),
        case("resource policy naming a user allows without identity policy", vec![], alice(), "lambda:InvokeFunction", FN_B, Want::Allow)
            .resource_policy(leak(format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/alice"}},"Action":"lambda:InvokeFunction","Resource":"{FN_B}"}}}}"#))),
        case("resource policy naming the role covers its sessions", vec![], role_session(), "lambda:InvokeFunction", FN_B, Want::Allow)
            .resource_policy(leak(format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::000000000000:role/fn-role"]}},"Action":"lambda:InvokeFunction","Resource":"{FN_B}"}}}}"#))),
        case("resource policy naming the account delegates to identity policies", vec![], alice(), "lambda:InvokeFunction", FN_B, Want::Implicit)
            .resource_policy(leak(format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:root"}},"Action":"lambda:InvokeFunction","Resource":"{FN_B}"}}}}"#))),
        case("Principal * with a function URL auth type", vec![], Principal::anonymous(), "lambda:InvokeFunctionUrl", FN_B, Want::Allow)
            .resource_policy(leak(format!(r#"{{"Version":"2012-10-17","Statement":{{"Sid":"FunctionURLAllowPublicAccess","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"{FN_B}","Condition":{{"StringEquals":{{"lambda:FunctionUrlAuthType":"NONE"}}}}}}}}"#)))
            .keys(vec![("lambda:FunctionUrlAuthType", vec!["NONE"])]),
        case("Principal * but the auth type differs", vec![], Principal::anonymous(), "lambda:InvokeFunctionUrl", FN_B, Want::Implicit)
            .resource_policy(leak(format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"{FN_B}","Condition":{{"StringEquals":{{"lambda:FunctionUrlAuthType":"NONE"}}}}}}}}"#)))
            .keys(vec![("lambda:FunctionUrlAuthType", vec!["AWS_IAM"])]),
        case("resource policy deny on the account beats identity allow", vec![leak(stmt("Allow", "lambda:*", "*"))], alice(), "lambda:InvokeFunction", FN_B, Want::Deny(Some("NoInvoke")))
            .resource_policy(leak(format!(r#"{{"Version":"2012-10-17","Statement":{{"Sid":"NoInvoke","Effect":"Deny","Principal":{{"AWS":"000000000000"}},"Action":"lambda:InvokeFunction","Resource":"{FN_B}"}}}}"#))),
        // "IAM JSON policy elements: NotPrincipal"
        case("NotPrincipal deny spares the named", vec![leak(stmt("Allow", "lambda:*", "*"))], alice(), "lambda:InvokeFunction", FN_B, Want::Allow)
            .resource_policy(leak(format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:iam::000000000000:user/alice"}},"Action":"lambda:*","Resource":"{FN_B}"}}}}"#))),
        case("NotPrincipal deny hits the others", vec![leak(stmt("Allow", "lambda:*", "*"))], Principal::user(ACCT, "bob", None), "lambda:InvokeFunction", FN_B, Want::Deny(None))
            .resource_policy(leak(format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:iam::000000000000:user/alice"}},"Action":"lambda:*","Resource":"{FN_B}"}}}}"#))),
    ]);
    v
}

#[test]
fn the_evaluator_decides_as_iam_documents() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let identity: Vec<PolicyDocument> = c
            .identity
            .iter()
            .map(|t| {
                PolicyDocument::parse(t, PolicyKind::Identity)
                    .unwrap_or_else(|e| panic!("{}: {e}", c.name))
            })
            .collect();
        let resource = c.resource.map(|t| {
            PolicyDocument::parse(t, PolicyKind::Resource)
                .unwrap_or_else(|e| panic!("{}: {e}", c.name))
        });
        let mut ctx = RequestContext::new(c.principal.clone(), c.action, c.arn);
        for (k, vals) in &c.keys {
            ctx = ctx.with_keys(k, vals);
        }
        let got = match authorize(&ctx, &identity, resource.as_ref()) {
            Decision::Allow => Want::Allow,
            Decision::ExplicitDeny { sid, .. } => Want::Deny(sid.map(leak)),
            Decision::ImplicitDeny => Want::Implicit,
        };
        if got != c.want {
            failures.push(format!("{}: want {:?}, got {got:?}", c.name, c.want));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// "Troubleshoot access denied error messages"
#[test]
fn access_denied_messages_use_aws_wording() {
    let ctx = RequestContext::new(alice(), "lambda:InvokeFunction", FN_B);
    assert_eq!(
        access_denied_message(&ctx, &Decision::ImplicitDeny).unwrap(),
        "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:b because no identity-based policy allows the lambda:InvokeFunction action"
    );
    let deny = Decision::ExplicitDeny {
        sid: None,
        policy_type: PolicyType::Identity,
    };
    assert_eq!(
        access_denied_message(&ctx, &deny).unwrap(),
        "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:b with an explicit deny in an identity-based policy"
    );
    let deny = Decision::ExplicitDeny {
        sid: None,
        policy_type: PolicyType::Resource,
    };
    assert!(access_denied_message(&ctx, &deny)
        .unwrap()
        .ends_with("with an explicit deny in a resource-based policy"));
    assert_eq!(access_denied_message(&ctx, &Decision::Allow), None);
}

fn malformed(text: &str, kind: PolicyKind) -> String {
    match PolicyDocument::parse(text, kind) {
        Err(PolicyError::Malformed(m)) => m,
        other => panic!("{text}: expected MalformedPolicyDocument, got {other:?}"),
    }
}

// "IAM JSON policy element reference" / "Grammar of the IAM JSON policy language"
#[test]
fn malformed_documents_get_iam_messages() {
    use PolicyKind::*;
    assert_eq!(malformed("{not json", Identity), "Syntax errors in policy.");
    assert_eq!(
        malformed(r#"["Statement"]"#, Identity),
        "Syntax errors in policy."
    );
    assert_eq!(
        malformed(r#"{"Version":"2012-10-17"}"#, Identity),
        "Missing required field Statement"
    );
    assert_eq!(
        malformed(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
            Identity
        ),
        "Policy document should not specify a principal."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}}"#,
            Resource
        ),
        "Missing required field Principal"
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}}"#,
            Trust
        ),
        "Has prohibited field Resource"
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
            Identity
        ),
        "Policy statement must contain actions."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*"}}"#,
            Identity
        ),
        "Policy statement must contain resources."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Permit","Action":"s3:*","Resource":"*"}}"#,
            Identity
        ),
        "Invalid effect: Permit"
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Action":"s3:*","Resource":"*"}}"#,
            Identity
        ),
        "Missing required field Effect"
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:x":"y"}}}}"#,
            Identity
        ),
        "Invalid Condition type : StringEqualz"
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"InvokeFunction","Resource":"*"}}"#,
            Identity
        ),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"lambda:a:b","Resource":"*"}}"#,
            Identity
        ),
        "Actions/Condition can contain only one colon."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"my-bucket"}}"#,
            Identity
        ),
        "Resource my-bucket must be in ARN format or \"*\"."
    );
    assert_eq!(
        malformed(
            r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
            Identity
        ),
        "The policy failed legacy parsing"
    );
    assert_eq!(
        malformed(
            r#"{"Statement":[{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
            Identity
        ),
        "Statement IDs (SID) in a single policy must be unique."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Extra":1}}"#,
            Identity
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}}"#,
            Identity
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
            Identity
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        malformed(
            r#"{"Statement":{"Effect":"Allow","Principal":{"Person":"x"},"Action":"sts:AssumeRole"}}"#,
            Trust
        ),
        "Invalid principal in policy"
    );
}

#[test]
fn lambda_trust_policies_parse() {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
    let doc = PolicyDocument::parse(trust, PolicyKind::Trust).unwrap();
    let ctx = RequestContext::new(
        Principal::service("lambda.amazonaws.com"),
        "sts:AssumeRole",
        "arn:aws:iam::000000000000:role/fn-role",
    );
    assert!(authorize(&ctx, &[], Some(&doc)).is_allowed());
    let other = RequestContext::new(
        alice(),
        "sts:AssumeRole",
        "arn:aws:iam::000000000000:role/fn-role",
    );
    assert_eq!(authorize(&other, &[], Some(&doc)), Decision::ImplicitDeny);
}

// "IAM and AWS STS quotas" — character limits, white space not counted
#[test]
fn size_limits_count_characters_without_white_space() {
    let filler = |n: usize| {
        format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{}"}}}}"#,
            "x".repeat(n)
        )
    };
    let base = ignis_identity::policy::policy_size(&filler(0));
    let exactly = filler(2_048 - base);
    assert_eq!(ignis_identity::policy::policy_size(&exactly), 2_048);
    assert!(PolicySize::UserInline.check("alice", &[&exactly]).is_ok());
    let spaced = exactly.replace(':', ": \n\t");
    assert!(PolicySize::UserInline.check("alice", &[&spaced]).is_ok());
    let over = filler(2_049 - base);
    assert_eq!(
        PolicySize::UserInline
            .check("alice", &[&over])
            .unwrap_err()
            .to_string(),
        "Maximum policy size of 2048 bytes exceeded for user alice"
    );
    // Inline limits are aggregate.
    let half = filler(1_100 - base);
    assert!(PolicySize::RoleInline.check("r", &[&half, &half]).is_ok());
    assert!(PolicySize::UserInline
        .check("alice", &[&half, &half])
        .is_err());
    let big = filler(10_241 - base);
    assert_eq!(
        PolicySize::RoleInline
            .check("fn-role", &[&big])
            .unwrap_err()
            .to_string(),
        "Maximum policy size of 10240 bytes exceeded for role fn-role"
    );
    assert_eq!(
        PolicySize::Managed
            .check("p", &[&filler(6_145 - base)])
            .unwrap_err()
            .to_string(),
        "Cannot exceed quota for PolicySize: 6144"
    );
    assert!(PolicySize::Managed
        .check("p", &[&filler(6_144 - base)])
        .is_ok());
    assert!(PolicySize::Trust
        .check("r", &[&filler(2_049 - base)])
        .is_err());
    assert_eq!(PolicySize::GroupInline.limit(), 5_120);
}

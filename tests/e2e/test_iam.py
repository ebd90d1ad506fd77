"""IAM and STS on Ignis's endpoint (issue 12), driven by boto3's `iam` and
`sts` clients and the AWS CLI: every operation of the issue's list, with the
error codes and statuses of IAM's model, and bad input that changes nothing.

The front that routes query-protocol IAM/STS requests to `ignis-iam` lands
separately; until it does the server answers `InvalidAction ... is not
served by Ignis`, and this module is skipped with that reason (probed once).
The caller is whoever the server's auth mode makes the throwaway key: the
account's root user in `--auth open`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from support import aws_client, error_code, error_message

ACCOUNT = "000000000000"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
ACCOUNT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    ],
}
ALLOW_LOGS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture(scope="module")
def iam(url):
    # Without botocore's own checks: the bad-input tests send what IAM refuses.
    return aws_client(url, "iam", parameter_validation=False)


@pytest.fixture(scope="module")
def sts(url, iam):
    return aws_client(url, "sts")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


def status(e: ClientError) -> int:
    return e.response["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------- users


def test_users_create_get_list_delete(iam):
    name = unique("user")
    created = iam.create_user(UserName=name, Path="/team/", Tags=[{"Key": "env", "Value": "dev"}])["User"]
    assert created["UserName"] == name
    assert created["Path"] == "/team/"
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{name}"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 20
    assert created["Tags"] == [{"Key": "env", "Value": "dev"}]
    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == created["UserId"]
    assert got["CreateDate"] == created["CreateDate"]
    listed = [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]]
    assert name in listed

    e = refused(lambda: iam.create_user(UserName=name.upper()))
    assert (error_code(e), status(e)) == ("EntityAlreadyExists", 409)
    iam.delete_user(UserName=name)
    e = refused(lambda: iam.get_user(UserName=name))
    assert (error_code(e), status(e)) == ("NoSuchEntity", 404)
    assert error_message(e) == f"The user with name {name} cannot be found."
    e = refused(lambda: iam.delete_user(UserName=name))
    assert error_code(e) == "NoSuchEntity"


def test_get_user_without_a_name_is_the_caller(iam, sts):
    me = sts.get_caller_identity()
    got = iam.get_user()["User"]
    assert got["Arn"] == me["Arn"]


def test_list_users_paginates(iam):
    prefix = f"/{unique('page')}/"
    names = sorted(unique("u") for _ in range(3))
    for n in names:
        iam.create_user(UserName=n, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] is True
    rest = iam.list_users(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert rest["IsTruncated"] is False
    assert [u["UserName"] for u in first["Users"] + rest["Users"]] == names
    paged = [u["UserName"] for page in iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 1}) for u in page["Users"]]
    assert paged == names
    for n in names:
        iam.delete_user(UserName=n)


def test_bad_user_names_are_validation_errors(iam):
    for bad in ["has space", "x" * 65, "slash/name"]:
        e = refused(lambda bad=bad: iam.create_user(UserName=bad))
        assert (error_code(e), status(e)) == ("ValidationError", 400), bad
    e = refused(lambda: iam.create_user(UserName=unique("p"), Path="no-slashes"))
    assert error_code(e) == "ValidationError"


# ---------------------------------------------------------------- access keys


def test_access_keys(iam):
    name = unique("keys")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active"
    assert key["UserName"] == name
    second = iam.create_access_key(UserName=name)["AccessKey"]
    e = refused(lambda: iam.create_access_key(UserName=name))
    assert (error_code(e), status(e)) == ("LimitExceeded", 409)
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([key["AccessKeyId"], second["AccessKeyId"]])
    assert all("SecretAccessKey" not in k for k in listed)

    e = refused(lambda: iam.delete_user(UserName=name))
    assert (error_code(e), status(e)) == ("DeleteConflict", 409)
    e = refused(lambda: iam.delete_access_key(UserName=name, AccessKeyId="AKIANOSUCHKEY0000000"))
    assert error_code(e) == "NoSuchEntity"
    for k in (key, second):
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    iam.delete_user(UserName=name)
    e = refused(lambda: iam.create_access_key(UserName=name))
    assert error_code(e) == "NoSuchEntity"


# ---------------------------------------------------------------- roles


def test_roles_with_trust_policies(iam):
    name = unique("role")
    role = iam.create_role(
        RoleName=name,
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
        Description="for functions",
        MaxSessionDuration=7200,
    )["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service-role/{name}"
    assert role["RoleId"].startswith("AROA")
    assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST  # botocore decodes the document
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["MaxSessionDuration"], got["Description"]) == (7200, "for functions")
    assert got["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/service-role/")["Roles"]]

    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(ACCOUNT_TRUST))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == ACCOUNT_TRUST

    e = refused(lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)))
    assert (error_code(e), status(e)) == ("EntityAlreadyExists", 409)
    iam.delete_role(RoleName=name)
    e = refused(lambda: iam.get_role(RoleName=name))
    assert (error_code(e), status(e)) == ("NoSuchEntity", 404)


def test_bad_trust_policies_change_nothing(iam):
    name = unique("badtrust")
    for doc, code in [
        ("{not json", "MalformedPolicyDocument"),
        (json.dumps(ALLOW_LOGS), "MalformedPolicyDocument"),  # a Resource, no Principal
    ]:
        e = refused(lambda doc=doc: iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc))
        assert (error_code(e), status(e)) == (code, 400)
    assert error_code(refused(lambda: iam.get_role(RoleName=name))) == "NoSuchEntity"

    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    e = refused(lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument='{"Statement": 5}'))
    assert error_code(e) == "MalformedPolicyDocument"
    big = json.loads(json.dumps(LAMBDA_TRUST))
    big["Statement"][0]["Sid"] = "x" * 2100
    e = refused(lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(big)))
    assert (error_code(e), status(e)) == ("LimitExceeded", 409)
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    e = refused(lambda: iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST), MaxSessionDuration=100))
    assert error_code(e) == "ValidationError"
    iam.delete_role(RoleName=name)


# ---------------------------------------------------------------- inline policies


def test_role_inline_policies(iam):
    role = unique("inline")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.put_role_policy(RoleName=role, PolicyName="logs", PolicyDocument=json.dumps(ALLOW_LOGS))
    got = iam.get_role_policy(RoleName=role, PolicyName="logs")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == (role, "logs", ALLOW_LOGS)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["logs"]

    e = refused(lambda: iam.put_role_policy(RoleName=role, PolicyName="bad", PolicyDocument="{"))
    assert (error_code(e), status(e)) == ("MalformedPolicyDocument", 400)
    unknown_operator = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                                                "Condition": {"StringSortOf": {"aws:SourceIp": "x"}}}]}
    e = refused(lambda: iam.put_role_policy(RoleName=role, PolicyName="op", PolicyDocument=json.dumps(unknown_operator)))
    assert (error_code(e), status(e)) == ("MalformedPolicyDocument", 400)
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::bucket-{i:04}/*" for i in range(400)]}]}
    e = refused(lambda: iam.put_role_policy(RoleName=role, PolicyName="big", PolicyDocument=json.dumps(big)))
    assert (error_code(e), status(e)) == ("LimitExceeded", 409)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["logs"]

    e = refused(lambda: iam.delete_role(RoleName=role))
    assert (error_code(e), status(e)) == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName=role, PolicyName="logs")
    e = refused(lambda: iam.get_role_policy(RoleName=role, PolicyName="logs"))
    assert (error_code(e), status(e)) == ("NoSuchEntity", 404)
    e = refused(lambda: iam.delete_role_policy(RoleName=role, PolicyName="logs"))
    assert error_code(e) == "NoSuchEntity"
    iam.delete_role(RoleName=role)


def test_user_inline_policies(iam):
    user = unique("uinline")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="logs", PolicyDocument=json.dumps(ALLOW_LOGS))
    assert iam.get_user_policy(UserName=user, PolicyName="logs")["PolicyDocument"] == ALLOW_LOGS
    over = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::b{i:03}/*" for i in range(150)]}]}
    e = refused(lambda: iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=json.dumps(over)))
    assert error_code(e) == "LimitExceeded"
    e = refused(lambda: iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(LAMBDA_TRUST)))
    assert error_code(e) == "MalformedPolicyDocument"
    iam.delete_user_policy(UserName=user, PolicyName="logs")
    e = refused(lambda: iam.get_user_policy(UserName=user, PolicyName="logs"))
    assert error_code(e) == "NoSuchEntity"
    iam.delete_user(UserName=user)


# ---------------------------------------------------------------- managed policies


def test_customer_managed_policies(iam):
    name = unique("pol")
    policy = iam.create_policy(PolicyName=name, Path="/app/", PolicyDocument=json.dumps(ALLOW_LOGS), Description="logs")["Policy"]
    arn = f"arn:aws:iam::{ACCOUNT}:policy/app/{name}"
    assert (policy["Arn"], policy["DefaultVersionId"], policy["AttachmentCount"]) == (arn, "v1", 0)
    assert policy["PolicyId"].startswith("ANPA")
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "logs"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert (version["Document"], version["IsDefaultVersion"]) == (ALLOW_LOGS, True)
    e = refused(lambda: iam.get_policy_version(PolicyArn=arn, VersionId="v2"))
    assert error_code(e) == "NoSuchEntity"
    assert arn in [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]]

    e = refused(lambda: iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(ALLOW_LOGS)))
    assert (error_code(e), status(e)) == ("EntityAlreadyExists", 409)
    huge = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::bucket-{i:04}/*" for i in range(300)]}]}
    e = refused(lambda: iam.create_policy(PolicyName=unique("huge"), PolicyDocument=json.dumps(huge)))
    assert (error_code(e), status(e)) == ("LimitExceeded", 409)
    e = refused(lambda: iam.create_policy(PolicyName=unique("bad"), PolicyDocument="not json"))
    assert error_code(e) == "MalformedPolicyDocument"

    iam.delete_policy(PolicyArn=arn)
    e = refused(lambda: iam.get_policy(PolicyArn=arn))
    assert (error_code(e), status(e)) == ("NoSuchEntity", 404)
    e = refused(lambda: iam.get_policy(PolicyArn="not-an-arn-but-long-enough"))
    assert error_code(e) == "InvalidInput"


@pytest.mark.parametrize(
    "arn",
    [
        BASIC,
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
        "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
        "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonS3FullAccess",
        "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
    ],
)
def test_aws_managed_policies_exist_by_arn(iam, arn):
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["Arn"] == arn
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert version["IsDefaultVersion"] is True
    assert version["Document"]["Statement"]


def test_basic_execution_role_document_is_awss(iam):
    doc = iam.get_policy_version(PolicyArn=BASIC, VersionId="v1")["PolicyVersion"]["Document"]
    actions = doc["Statement"][0]["Action"]
    assert set(actions) == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    e = refused(lambda: iam.delete_policy(PolicyArn=BASIC))
    assert status(e) == 403
    e = refused(lambda: iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchManagedPolicy"))
    assert error_code(e) == "NoSuchEntity"


def test_attach_and_detach(iam):
    role, user = unique("att"), unique("attu")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.create_user(UserName=user)
    mine = iam.create_policy(PolicyName=unique("attp"), PolicyDocument=json.dumps(ALLOW_LOGS))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=BASIC)
    iam.attach_role_policy(RoleName=role, PolicyArn=mine)
    iam.attach_user_policy(UserName=user, PolicyArn=mine)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert {p["PolicyArn"] for p in attached} == {BASIC, mine}
    assert {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC} in attached
    only_service_role = iam.list_attached_role_policies(RoleName=role, PathPrefix="/service-role/")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in only_service_role] == [BASIC]
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]] == [mine]
    assert iam.get_policy(PolicyArn=mine)["Policy"]["AttachmentCount"] == 2
    assert mine in [p["Arn"] for p in iam.list_policies(OnlyAttached=True, Scope="Local")["Policies"]]

    e = refused(lambda: iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/NoSuchManagedPolicy"))
    assert (error_code(e), status(e)) == ("NoSuchEntity", 404)
    e = refused(lambda: iam.attach_role_policy(RoleName=unique("none"), PolicyArn=BASIC))
    assert error_code(e) == "NoSuchEntity"
    e = refused(lambda: iam.delete_policy(PolicyArn=mine))
    assert (error_code(e), status(e)) == ("DeleteConflict", 409)
    e = refused(lambda: iam.delete_role(RoleName=role))
    assert error_code(e) == "DeleteConflict"

    iam.detach_role_policy(RoleName=role, PolicyArn=BASIC)
    iam.detach_role_policy(RoleName=role, PolicyArn=mine)
    iam.detach_user_policy(UserName=user, PolicyArn=mine)
    e = refused(lambda: iam.detach_user_policy(UserName=user, PolicyArn=mine))
    assert error_code(e) == "NoSuchEntity"
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    iam.delete_policy(PolicyArn=mine)
    iam.delete_role(RoleName=role)
    iam.delete_user(UserName=user)


# ---------------------------------------------------------------- STS


def test_get_caller_identity(sts):
    me = sts.get_caller_identity()
    assert me["Account"] == ACCOUNT
    assert me["Arn"].startswith("arn:aws:")
    assert me["UserId"]


def test_assume_role(iam, sts, url):
    role = unique("assume")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(ACCOUNT_TRUST), MaxSessionDuration=7200)
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    out = sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=3600)
    creds, user = out["Credentials"], out["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SecretAccessKey"] and creds["SessionToken"]
    assert user["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1"
    assert user["AssumedRoleId"].startswith("AROA") and user["AssumedRoleId"].endswith(":s1")

    session = boto3.client(
        "sts",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert session.get_caller_identity()["Arn"] == user["Arn"]

    e = refused(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7201))
    assert (error_code(e), status(e)) == ("ValidationError", 400)
    e = refused(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="s1", Policy="{bad"))
    assert error_code(e) == "MalformedPolicyDocument"

    lambda_only = unique("lambdaonly")
    iam.create_role(RoleName=lambda_only, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    e = refused(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{lambda_only}", RoleSessionName="s1"))
    assert (error_code(e), status(e)) == ("AccessDenied", 403)
    e = refused(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{unique('none')}", RoleSessionName="s1"))
    assert error_code(e) == "AccessDenied"
    iam.delete_role(RoleName=role)
    iam.delete_role(RoleName=lambda_only)


# ---------------------------------------------------------------- AWS CLI


def aws_bin() -> str:
    beside_python = Path(sys.executable).parent / "aws"
    found = str(beside_python) if beside_python.exists() else shutil.which("aws")
    if not found:
        pytest.fail("the AWS CLI is not installed (scripts/test.sh installs it into the venv)")
    return found


@pytest.fixture(scope="module")
def cli(url, iam, tmp_path_factory):
    home = tmp_path_factory.mktemp("aws-home-iam")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
    }
    binary = aws_bin()

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary, "--endpoint-url", url, "--output", "json", *args], env=env, capture_output=True, text=True, timeout=120)
        if ok and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def run_json(*args: str) -> dict:
        out = run(*args).stdout
        return json.loads(out) if out.strip() else {}

    run.json = run_json
    return run


def test_cli_walks_the_operations(cli, tmp_path):
    user, role, pname = unique("cliu"), unique("clir"), unique("clip")
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(LAMBDA_TRUST))
    logs = tmp_path / "logs.json"
    logs.write_text(json.dumps(ALLOW_LOGS))

    assert cli.json("iam", "create-user", "--user-name", user)["User"]["UserName"] == user
    assert cli.json("iam", "get-user", "--user-name", user)["User"]["UserName"] == user
    assert user in [u["UserName"] for u in cli.json("iam", "list-users")["Users"]]
    key = cli.json("iam", "create-access-key", "--user-name", user)["AccessKey"]
    assert [k["AccessKeyId"] for k in cli.json("iam", "list-access-keys", "--user-name", user)["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    cli("iam", "put-user-policy", "--user-name", user, "--policy-name", "logs", "--policy-document", f"file://{logs}")
    assert cli.json("iam", "get-user-policy", "--user-name", user, "--policy-name", "logs")["PolicyDocument"] == ALLOW_LOGS
    cli("iam", "attach-user-policy", "--user-name", user, "--policy-arn", BASIC)
    assert cli.json("iam", "list-attached-user-policies", "--user-name", user)["AttachedPolicies"][0]["PolicyArn"] == BASIC
    cli("iam", "detach-user-policy", "--user-name", user, "--policy-arn", BASIC)
    cli("iam", "delete-user-policy", "--user-name", user, "--policy-name", "logs")
    cli("iam", "delete-access-key", "--user-name", user, "--access-key-id", key["AccessKeyId"])
    cli("iam", "delete-user", "--user-name", user)

    created = cli.json("iam", "create-role", "--role-name", role, "--assume-role-policy-document", f"file://{trust}")["Role"]
    assert created["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert cli.json("iam", "get-role", "--role-name", role)["Role"]["RoleId"] == created["RoleId"]
    assert role in [r["RoleName"] for r in cli.json("iam", "list-roles")["Roles"]]
    cli("iam", "update-assume-role-policy", "--role-name", role, "--policy-document", f"file://{trust}")
    cli("iam", "put-role-policy", "--role-name", role, "--policy-name", "logs", "--policy-document", f"file://{logs}")
    assert cli.json("iam", "list-role-policies", "--role-name", role)["PolicyNames"] == ["logs"]
    assert cli.json("iam", "get-role-policy", "--role-name", role, "--policy-name", "logs")["PolicyDocument"] == ALLOW_LOGS
    arn = cli.json("iam", "create-policy", "--policy-name", pname, "--policy-document", f"file://{logs}")["Policy"]["Arn"]
    assert cli.json("iam", "get-policy", "--policy-arn", arn)["Policy"]["PolicyName"] == pname
    assert cli.json("iam", "get-policy-version", "--policy-arn", arn, "--version-id", "v1")["PolicyVersion"]["Document"] == ALLOW_LOGS
    assert arn in [p["Arn"] for p in cli.json("iam", "list-policies", "--scope", "Local")["Policies"]]
    cli("iam", "attach-role-policy", "--role-name", role, "--policy-arn", arn)
    assert [p["PolicyArn"] for p in cli.json("iam", "list-attached-role-policies", "--role-name", role)["AttachedPolicies"]] == [arn]
    failed = cli("iam", "delete-role", "--role-name", role, ok=False)
    assert failed.returncode != 0 and "DeleteConflict" in failed.stderr
    cli("iam", "detach-role-policy", "--role-name", role, "--policy-arn", arn)
    cli("iam", "delete-role-policy", "--role-name", role, "--policy-name", "logs")
    cli("iam", "delete-policy", "--policy-arn", arn)
    cli("iam", "delete-role", "--role-name", role)
    missing = cli("iam", "get-role", "--role-name", role, ok=False)
    assert missing.returncode != 0 and "NoSuchEntity" in missing.stderr

    me = cli.json("sts", "get-caller-identity")
    assert me["Account"] == ACCOUNT
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    malformed = cli("iam", "create-policy", "--policy-name", unique("bad"), "--policy-document", f"file://{bad}", ok=False)
    assert malformed.returncode != 0 and "MalformedPolicyDocument" in malformed.stderr

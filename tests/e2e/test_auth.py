"""Callers are authenticated (issue 12): `--auth enforce` verifies every
request's SigV4 signature (botocore's own signer: valid, tampered body,
tampered header, wrong secret, unknown key, expired session, skewed clock,
presigned URL) and authorizes it with IAM policies; `open` is the loopback
default, and `open` beyond loopback needs `--insecure-open`. The root key,
`ignis credentials` and the CLI's own signing."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import unittest.mock
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest
import requests
from botocore.exceptions import ClientError

from support import IGNIS_BIN, REGION, ROLE, Server, build_zip, error_code, error_message, invoke

ACCOUNT = "000000000000"


def client(url: str, service: str, key: dict, **extra):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=key.get("SessionToken"),
        config=botocore.config.Config(retries={"max_attempts": 0}, **extra),
    )


def root_key(srv: Server) -> dict:
    return json.loads((srv.data_dir / "root-access-key.json").read_text())


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


@pytest.fixture
def enforced(own_server, tmp_path):
    return own_server(tmp_path / "data", "--auth", "enforce")


LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture
def echo(enforced, echo_zip):
    """Functions fn-b and fn-c; their role must exist and trust Lambda."""
    key = root_key(enforced)
    client(enforced.url, "iam", key).create_role(RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    lam = client(enforced.url, "lambda", key)
    for name in ("fn-b", "fn-c"):
        lam.create_function(FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Role=ROLE, Code={"ZipFile": echo_zip})
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return lam


def signed(url: str, key: dict, method: str, path: str, body: bytes = b"", headers=None, when=None, service="lambda"):
    """A request signed by botocore's SigV4Auth (at `when`, default now)."""
    req = botocore.awsrequest.AWSRequest(method=method, url=url + path, data=body, headers=headers or {})
    creds = botocore.credentials.Credentials(key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken"))
    signer = botocore.auth.SigV4Auth(creds, service, REGION)
    if when is None:
        signer.add_auth(req)
    else:
        # botocore's signer reads the time through this function.
        with unittest.mock.patch("botocore.auth.get_current_datetime", lambda: when.replace(tzinfo=None)):
            signer.add_auth(req)
    return req


def send(req, **overrides) -> requests.Response:
    headers = dict(req.headers)
    headers.update(overrides.pop("headers", {}))
    return requests.request(req.method, req.url, data=overrides.pop("body", req.body), headers=headers, timeout=30)


def test_start_up_says_which_mode(own_server, tmp_path):
    open_srv = own_server(tmp_path / "open")
    out = open_srv.stdout_path.read_text()
    assert "auth: open (listening on loopback only" in out, out
    assert f"root access key: {open_srv.data_dir / 'root-access-key.json'}" in out
    assert oct((open_srv.data_dir / "root-access-key.json").stat().st_mode & 0o777) == "0o600"
    enforced = own_server(tmp_path / "enf", "--auth", "enforce")
    assert "auth: enforce (" in enforced.stdout_path.read_text()


def test_open_beyond_loopback_needs_insecure_open(tmp_path):
    cmd = [str(IGNIS_BIN), "serve", "--listen", "0.0.0.0:0", "--data-dir", str(tmp_path / "d"), "--auth", "open"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "--insecure-open" in out.stderr, out.stderr


def test_signatures_are_verified(enforced, echo):
    url, key = enforced.url, root_key(enforced)
    path = "/2015-03-31/functions/fn-b/invocations"
    ok = send(signed(url, key, "POST", path, b'{"a":1}'))
    assert ok.status_code == 200, ok.text

    def code(resp):
        return resp.headers.get("x-amzn-errortype", "").split(":")[0]

    tampered_body = send(signed(url, key, "POST", path, b'{"a":1}'), body=b'{"a":2}')
    assert (tampered_body.status_code, code(tampered_body)) == (403, "SignatureDoesNotMatch")
    tampered_header = send(signed(url, key, "POST", path, b"{}", headers={"X-Amz-Log-Type": "None"}), headers={"X-Amz-Log-Type": "Tail"})
    assert code(tampered_header) == "SignatureDoesNotMatch"
    wrong_secret = send(signed(url, {**key, "SecretAccessKey": "x" * 40}, "POST", path, b"{}"))
    assert code(wrong_secret) == "SignatureDoesNotMatch"
    unknown = send(signed(url, {"AccessKeyId": "AKIAUNKNOWNUNKNOWN00", "SecretAccessKey": "x"}, "POST", path, b"{}"))
    assert (unknown.status_code, code(unknown)) == (403, "InvalidClientTokenId")
    skewed = send(signed(url, key, "POST", path, b"{}", when=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)))
    assert code(skewed) == "RequestTimeTooSkewed", skewed.text
    unsigned = requests.post(url + path, data=b"{}", timeout=30)
    assert (unsigned.status_code, code(unsigned)) == (403, "MissingAuthenticationToken")
    incomplete = requests.post(url + path, data=b"{}", headers={"Authorization": "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc"}, timeout=30)
    assert code(incomplete) == "IncompleteSignature", incomplete.text


def test_presigned_urls_and_expired_sessions(enforced, echo):
    url, key = enforced.url, root_key(enforced)
    creds = botocore.credentials.Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    req = botocore.awsrequest.AWSRequest(method="GET", url=url + "/2015-03-31/functions/fn-b")
    botocore.auth.SigV4QueryAuth(creds, "lambda", REGION, expires=60).add_auth(req)
    assert requests.get(req.url, timeout=30).status_code == 200
    assert requests.get(req.url.replace("fn-b", "fn-c"), timeout=30).status_code == 403

    iam = client(url, "iam", key)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/u1"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="reader", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}]}))
    iam.create_user(UserName="u1")
    iam.put_user_policy(UserName="u1", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    user_key = iam.create_access_key(UserName="u1")["AccessKey"]
    session = client(url, "sts", user_key).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/reader", RoleSessionName="s1")["Credentials"]
    as_role = client(url, "lambda", session)
    assert as_role.get_function(FunctionName="fn-b")["Configuration"]["FunctionName"] == "fn-b"
    e = refused(lambda: as_role.invoke(FunctionName="fn-b", Payload=b"{}"))
    assert error_code(e) == "AccessDeniedException"
    assert "assumed-role/reader/s1 is not authorized to perform: lambda:InvokeFunction" in error_message(e)
    # A token whose expiry passed, or that was altered, is refused.
    tampered = {**session, "SessionToken": session["SessionToken"][:-4] + "AAAA"}
    assert error_code(refused(lambda: client(url, "lambda", tampered).get_function(FunctionName="fn-b"))) in ("InvalidClientTokenId", "ExpiredToken")


def test_a_user_limited_to_invoking_one_function(enforced, echo):
    url, key = enforced.url, root_key(enforced)
    iam = client(url, "iam", key)
    iam.create_user(UserName="caller")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                       "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn-b"}]}
    iam.put_user_policy(UserName="caller", PolicyName="invoke-b", PolicyDocument=json.dumps(policy))
    user = client(url, "lambda", iam.create_access_key(UserName="caller")["AccessKey"])
    assert invoke(user, "fn-b", {"op": "echo"})[0]["StatusCode"] == 200
    for call in (
        lambda: user.invoke(FunctionName="fn-c", Payload=b"{}"),
        lambda: user.get_function(FunctionName="fn-b"),
        lambda: user.list_functions(),
        lambda: user.delete_function(FunctionName="fn-b"),
    ):
        e = refused(call)
        assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDeniedException", 403), e
        assert "user/caller is not authorized to perform: lambda:" in error_message(e)
    e = refused(lambda: client(url, "iam", iam.create_access_key(UserName="caller")["AccessKey"]).list_users())
    assert error_code(e) == "AccessDenied"
    # Nothing was changed by the refusals.
    assert client(url, "lambda", key).get_function(FunctionName="fn-b")["Configuration"]["State"] == "Active"
    # A change of the user's policies takes effect at once (the front's
    # cache of parsed policies is dropped by every IAM change).
    iam.delete_user_policy(UserName="caller", PolicyName="invoke-b")
    assert error_code(refused(lambda: user.invoke(FunctionName="fn-b", Payload=b"{}"))) == "AccessDeniedException"
    iam.put_user_policy(UserName="caller", PolicyName="invoke-b", PolicyDocument=json.dumps(policy))
    assert invoke(user, "fn-b", {"op": "echo"})[0]["StatusCode"] == 200
    # No secret is kept in the store: it is derived from the node's master key.
    import sqlite3

    with sqlite3.connect(enforced.data_dir / "ignis.db") as db:
        secrets = [row[0] for row in db.execute("SELECT secret FROM iam_access_keys")]
    assert secrets and all(s == "" for s in secrets), secrets
    # A user with no policy can do nothing, the root user everything.
    iam.create_user(UserName="nobody")
    nobody = client(url, "lambda", iam.create_access_key(UserName="nobody")["AccessKey"])
    assert error_code(refused(lambda: nobody.invoke(FunctionName="fn-b", Payload=b"{}"))) == "AccessDeniedException"
    assert client(url, "sts", key).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_credentials_profile_and_cli_sign_with_the_root_key(enforced, echo, tmp_path):
    env = dict(os.environ, HOME=str(tmp_path / "home"), IGNIS_DATA_DIR=str(enforced.data_dir), IGNIS_ENDPOINT=enforced.url)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(k, None)
    out = subprocess.run([str(IGNIS_BIN), "credentials"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    creds = (tmp_path / "home/.aws/credentials").read_text()
    assert "[ignis]" in creds and root_key(enforced)["AccessKeyId"] in creds
    config = (tmp_path / "home/.aws/config").read_text()
    assert "[profile ignis]" in config and f"endpoint_url = {enforced.url}" in config
    aws = subprocess.run(["aws", "--profile", "ignis", "lambda", "list-functions"], env=env, capture_output=True, text=True, timeout=60)
    assert aws.returncode == 0, aws.stderr
    assert {f["FunctionName"] for f in json.loads(aws.stdout)["Functions"]} == {"fn-b", "fn-c"}
    # The CLI's own commands sign with the data directory's root key.
    listed = subprocess.run([str(IGNIS_BIN), "functions", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "fn-b" in listed.stdout, listed.stderr
    env.pop("IGNIS_DATA_DIR")
    env["XDG_DATA_HOME"] = str(tmp_path / "elsewhere")
    refused_cli = subprocess.run([str(IGNIS_BIN), "functions", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert refused_cli.returncode != 0 and "MissingAuthenticationToken" in refused_cli.stderr, refused_cli.stderr


def test_execution_roles_are_checked_when_enforced(enforced, echo_zip):
    url, key = enforced.url, root_key(enforced)
    lam, iam = client(url, "lambda", key), client(url, "iam", key)
    params = dict(Runtime="provided.al2023", Handler="bootstrap", Code={"ZipFile": echo_zip})
    e = refused(lambda: lam.create_function(FunctionName="no-role", Role=f"arn:aws:iam::{ACCOUNT}:role/missing", **params))
    assert error_code(e) == "InvalidParameterValueException"
    assert error_message(e) == "The role defined for the function cannot be assumed by Lambda."
    untrusting = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="ec2-only", AssumeRolePolicyDocument=json.dumps(untrusting))
    e = refused(lambda: lam.create_function(FunctionName="no-role", Role=f"arn:aws:iam::{ACCOUNT}:role/ec2-only", **params))
    assert error_code(e) == "InvalidParameterValueException"
    assert "no-role" not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    lam.create_function(FunctionName="with-role", Role=f"arn:aws:iam::{ACCOUNT}:role/fn-role", **params)
    e = refused(lambda: lam.update_function_configuration(FunctionName="with-role", Role=f"arn:aws:iam::{ACCOUNT}:role/ec2-only"))
    assert error_code(e) == "InvalidParameterValueException"


def test_open_mode_creates_an_unknown_role(url, lam, deploy, echo_zip, fname):
    role = f"arn:aws:iam::{ACCOUNT}:role/made-up-{fname[-6:]}"
    deploy(echo_zip, Role=role)
    iam = boto3.client("iam", endpoint_url=url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    got = iam.get_role(RoleName=f"made-up-{fname[-6:]}")["Role"]
    assert got["Arn"] == role
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


CREDS_ONLY = '''
import os
def main(event, context):
    return {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
'''


def test_an_expired_session_is_refused(own_server, tmp_path, monkeypatch):
    """A function's role credentials work until they expire, then are
    refused with ExpiredToken (a 5 s lifetime, for the test)."""
    monkeypatch.setenv("IGNIS_CREDENTIALS_LIFETIME_SECS", "5")
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    key = root_key(srv)
    iam, lam = client(srv.url, "iam", key), client(srv.url, "lambda", key)
    iam.create_role(RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    import requests as http

    runtimes = http.get(f"{srv.url}/ignis/v1/runtimes", timeout=30, auth=None)
    assert runtimes.status_code == 403, "Ignis's own endpoints are signed too"
    lam.create_function(FunctionName="creds", Runtime="python3.11", Handler="handler.main", Role=ROLE,
                        Code={"ZipFile": build_zip([("handler.py", CREDS_ONLY)])}, Timeout=3)
    lam.get_waiter("function_active_v2").wait(FunctionName="creds", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    env = invoke(lam, "creds", {})[2]
    session = {"AccessKeyId": env["AWS_ACCESS_KEY_ID"], "SecretAccessKey": env["AWS_SECRET_ACCESS_KEY"], "SessionToken": env["AWS_SESSION_TOKEN"]}
    sts = client(srv.url, "sts", session)
    assert sts.get_caller_identity()["Arn"].endswith(":assumed-role/ignis-e2e/creds")
    import time

    time.sleep(6)  # past the credentials' expiry
    e = refused(lambda: sts.get_caller_identity())
    assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == ("ExpiredToken", 403), e

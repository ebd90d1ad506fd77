"""Function URLs (issue 13, part 1): the configuration operations with boto3
and the AWS CLI (Lambda's shapes and errors), and the URLs themselves with
curl and `requests`: payload format 2.0 field by field (a Python function
echoes the event it got), the response mapping, binary bodies both ways,
the 6 MB limit, CORS (preflight answered from the configuration, headers on
answers), `NONE` URLs gated by the resource policy, `AWS_IAM` URLs by
botocore-signed requests and IAM policies, the seed's `fnUrl` scenario
(Node.js, `AWS_IAM`, CORS for https://yourdomain.com), `--url-listen`,
URLs that survive a restart, and `RESPONSE_STREAM` URLs."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest
import requests
from botocore.exceptions import ClientError

from support import REGION, ROLE, all_log_lines, build_zip, error_code, error_message, wait_for
from test_aws_cli import aws  # noqa: F401 - the AWS CLI fixture
from test_managed_runtimes import available

URL_RE = re.compile(r"^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$")

ECHO = '''\
import base64, json

def main(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode", "")
    if mode == "fail":
        raise RuntimeError("boom")
    if mode == "binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    if mode == "shaped":
        return {"statusCode": 201, "headers": {"content-type": "text/plain", "x-custom": "yes"},
                "cookies": ["a=1; Path=/", "b=2; HttpOnly"], "body": "created"}
    if mode == "string":
        return "just a string"
    if mode == "cors":
        return {"statusCode": 200, "headers": {"access-control-allow-origin": "*", "x-answer": "42"}, "body": "ok"}
    return event
'''

NODE = '''\
export const handler = async (event) => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ method: event.requestContext.http.method, body: event.body ?? null,
                         caller: event.requestContext.authorizer?.iam?.userArn ?? null }),
});
'''


@pytest.fixture(scope="module", autouse=True)
def localhost_names_resolve():
    """`*.localhost` is loopback (RFC 6761), as curl and browsers resolve
    it; glibc does not, so `requests` gets the same answer here."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = resolve
    yield
    socket.getaddrinfo = real


def public(lam, name: str, qualifier: str | None = None) -> None:
    """The statement `create-function-url-config` tooling adds for NONE."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    lam.add_permission(
        FunctionName=name, StatementId="FunctionURLAllowPublicAccess", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE", **extra,
    )  # fmt: skip


@pytest.fixture
def py_fn(url, deploy, fname):
    deploy(build_zip([("handler.py", ECHO)]), Runtime=available(url, "python3"), Handler="handler.main", Timeout=30)
    return fname


@pytest.fixture
def echo_url(lam, py_fn) -> str:
    """A public (NONE) URL of the Python echo function."""
    url = lam.create_function_url_config(FunctionName=py_fn, AuthType="NONE")["FunctionUrl"]
    public(lam, py_fn)
    return url


def root_key(server) -> dict:
    return json.loads((server.data_dir / "root-access-key.json").read_text())


def signed(url: str, key: dict, method: str = "GET", body: bytes = b"", headers=None, service="lambda"):
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers or {})
    creds = botocore.credentials.Credentials(key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken"))
    botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
    return req


def send(req, body=None) -> requests.Response:
    return requests.request(req.method, req.url, data=req.body if body is None else body, headers=dict(req.headers), timeout=60)


def curl(*args: str) -> subprocess.CompletedProcess:
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    return subprocess.run(["curl", "-sS", "--max-time", "60", *args], capture_output=True, timeout=90)


# ------------------------------------------------------------ configuration


def test_config_operations_with_boto3(lam, py_fn):
    created = lam.create_function_url_config(FunctionName=py_fn, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    match = URL_RE.match(created["FunctionUrl"])
    assert match, created["FunctionUrl"]
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{py_fn}"
    assert created["AuthType"] == "NONE" and created["InvokeMode"] == "BUFFERED"
    assert "Cors" not in created and "LastModifiedTime" not in created
    got = lam.get_function_url_config(FunctionName=py_fn)
    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert got["CreationTime"] == created["CreationTime"] and got["LastModifiedTime"]

    cors = {"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-h"],
            "ExposeHeaders": ["x-e"], "MaxAge": 300, "AllowCredentials": True}  # fmt: skip
    updated = lam.update_function_url_config(FunctionName=py_fn, AuthType="AWS_IAM", Cors=cors, InvokeMode="RESPONSE_STREAM")
    assert updated["FunctionUrl"] == created["FunctionUrl"], "the url-id lasts as long as the configuration"
    assert updated["AuthType"] == "AWS_IAM" and updated["Cors"] == cors and updated["InvokeMode"] == "RESPONSE_STREAM"
    assert updated["LastModifiedTime"] >= got["LastModifiedTime"]
    # What an update does not name stays.
    again = lam.update_function_url_config(FunctionName=py_fn, InvokeMode="BUFFERED")
    assert again["AuthType"] == "AWS_IAM" and again["Cors"] == cors and again["InvokeMode"] == "BUFFERED"

    lam.publish_version(FunctionName=py_fn)
    lam.create_alias(FunctionName=py_fn, Name="live", FunctionVersion="1")
    on_alias = lam.create_function_url_config(FunctionName=py_fn, Qualifier="live", AuthType="NONE")
    assert on_alias["FunctionArn"].endswith(f"function:{py_fn}:live")
    assert on_alias["FunctionUrl"] != created["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName=py_fn)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"], on_alias["FunctionUrl"]]
    page = lam.list_function_url_configs(FunctionName=py_fn, MaxItems=1)
    assert len(page["FunctionUrlConfigs"]) == 1 and page["NextMarker"]
    rest = lam.list_function_url_configs(FunctionName=py_fn, Marker=page["NextMarker"])
    assert [c["FunctionUrl"] for c in rest["FunctionUrlConfigs"]] == [on_alias["FunctionUrl"]]
    assert "NextMarker" not in rest

    lam.delete_function_url_config(FunctionName=py_fn)
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName=py_fn)
    assert error_code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.delete_function_url_config(FunctionName=py_fn)
    assert error_code(e.value) == "ResourceNotFoundException"
    # A new configuration is a new URL.
    fresh = lam.create_function_url_config(FunctionName=py_fn, AuthType="NONE")
    assert fresh["FunctionUrl"] != created["FunctionUrl"]
    # Deleting the alias takes its URL with it.
    lam.delete_alias(FunctionName=py_fn, Name="live")
    assert [c["FunctionUrl"] for c in lam.list_function_url_configs(FunctionName=py_fn)["FunctionUrlConfigs"]] == [fresh["FunctionUrl"]]
    assert requests.get(on_alias["FunctionUrl"], timeout=30).status_code == 404


def test_config_errors_are_lambdas(url, lam, lam_raw, py_fn):
    lam.create_function_url_config(FunctionName=py_fn, AuthType="NONE")
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName=py_fn, AuthType="AWS_IAM")
    assert error_code(e.value) == "ResourceConflictException"
    assert "FunctionUrlConfig exists" in error_message(e.value)
    assert lam.get_function_url_config(FunctionName=py_fn)["AuthType"] == "NONE", "the refused create changed nothing"

    def refused(**params) -> ClientError:
        with pytest.raises(ClientError) as e:
            lam_raw.create_function_url_config(FunctionName=py_fn, **params)
        return e.value

    lam.publish_version(FunctionName=py_fn)
    version = refused(Qualifier="1", AuthType="NONE")
    assert error_code(version) == "ValidationException" and "'qualifier'" in error_message(version)
    missing = refused(Qualifier="nosuch", AuthType="NONE")
    assert error_code(missing) == "ResourceNotFoundException"
    assert f"function:{py_fn}:nosuch" in error_message(missing)
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName=py_fn + "-missing", AuthType="NONE")
    assert error_code(e.value) == "ResourceNotFoundException"
    mode = refused(Qualifier="x", AuthType="NONE", InvokeMode="STREAMING")
    assert error_code(mode) in ("ValidationException", "ResourceNotFoundException")
    lam.create_alias(FunctionName=py_fn, Name="x", FunctionVersion="1")
    mode = refused(Qualifier="x", AuthType="NONE", InvokeMode="STREAMING")
    assert error_code(mode) == "ValidationException" and "BUFFERED, RESPONSE_STREAM" in error_message(mode)
    auth = refused(Qualifier="x", AuthType="OPEN")
    assert error_code(auth) == "ValidationException" and "AWS_IAM, NONE" in error_message(auth)
    for cors, needle in [
        ({"MaxAge": 86401}, "cors.maxAge"),
        ({"AllowMethods": ["GET"] * 7}, "cors.allowMethods"),
        ({"AllowOrigins": ["https://" + "a" * 250]}, "cors.allowOrigins"),
    ]:
        bad = refused(Qualifier="x", AuthType="NONE", Cors=cors)
        assert error_code(bad) == "ValidationException" and needle in error_message(bad), (cors, error_message(bad))
    bad = refused(Qualifier="x", AuthType="NONE", Cors={"AllowMethods": ["TRACE"]})
    assert error_code(bad) == "InvalidParameterValueException"
    # A Cors that is not an object, or has members the model lacks.
    for cors in ["everything", {"AllowOrigin": ["*"]}, {"AllowOrigins": "*"}]:
        r = requests.post(f"{url}/2021-10-31/functions/{py_fn}/url?Qualifier=x", json={"AuthType": "NONE", "Cors": cors}, timeout=30)
        assert r.status_code == 400, (cors, r.text)
        assert r.headers["x-amzn-errortype"].split(":")[0] in ("InvalidRequestContentException", "ValidationException")
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName=py_fn, Qualifier="x")
    assert error_code(e.value) == "ResourceNotFoundException", "nothing refused was stored"
    with pytest.raises(ClientError) as e:
        lam.update_function_url_config(FunctionName=py_fn, Qualifier="x", AuthType="NONE")
    assert error_code(e.value) == "ResourceNotFoundException"


def test_config_operations_with_the_aws_cli(aws, lam, py_fn):  # noqa: F811 - the fixture
    created = aws.json("create-function-url-config", "--function-name", py_fn, "--auth-type", "NONE",
                       "--cors", "AllowOrigins=https://b.example,AllowMethods=GET,MaxAge=60")  # fmt: skip
    assert URL_RE.match(created["FunctionUrl"]) and created["Cors"]["MaxAge"] == 60
    aws("add-permission", "--function-name", py_fn, "--statement-id", "FunctionURLAllowPublicAccess",
        "--action", "lambda:InvokeFunctionUrl", "--principal", "*", "--function-url-auth-type", "NONE")  # fmt: skip
    got = aws.json("get-function-url-config", "--function-name", py_fn)
    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert requests.get(created["FunctionUrl"], timeout=60).status_code == 200
    updated = aws.json("update-function-url-config", "--function-name", py_fn, "--auth-type", "AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["FunctionUrl"] == created["FunctionUrl"]
    listed = aws.json("list-function-url-configs", "--function-name", py_fn)
    assert [c["AuthType"] for c in listed["FunctionUrlConfigs"]] == ["AWS_IAM"]
    dup = aws("create-function-url-config", "--function-name", py_fn, "--auth-type", "NONE", check=False)
    assert dup.returncode != 0 and "ResourceConflictException" in dup.stderr
    bad = aws("update-function-url-config", "--function-name", py_fn, "--invoke-mode", "SOMETIMES", check=False)
    assert bad.returncode != 0 and "ValidationException" in bad.stderr
    aws("delete-function-url-config", "--function-name", py_fn)
    gone = aws("get-function-url-config", "--function-name", py_fn, check=False)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr
    assert requests.get(created["FunctionUrl"], timeout=30).status_code == 404


# ------------------------------------------------------------ payload format 2.0


def test_curl_request_maps_to_payload_2_0(echo_url):
    out = curl(
        "-X", "POST", f"{echo_url}some/path?b=2&a=1&a=x%20y&flag",
        "-H", "X-Rep: one", "-H", "X-Rep: two", "-H", "Content-Type: application/json",
        "-H", "User-Agent: url-test/1", "-b", "c1=v1; c2=v2", "--data-binary", '{"k": "v"}',
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    event = json.loads(out.stdout)
    host = echo_url.removeprefix("http://").rstrip("/")
    url_id = host.split(".")[0]
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path"
    assert event["rawQueryString"] == "b=2&a=1&a=x%20y&flag"
    assert event["queryStringParameters"] == {"a": "1,x y", "b": "2", "flag": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    headers = event["headers"]
    assert headers["x-rep"] == "one,two"
    assert headers["host"] == host and headers["content-type"] == "application/json"
    assert "cookie" not in headers and all(k == k.lower() for k in headers)
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    rc = event["requestContext"]
    assert rc["accountId"] == "anonymous" and rc["apiId"] == url_id
    assert rc["domainName"] == host.rsplit(":", 1)[0] and rc["domainPrefix"] == url_id
    assert rc["http"] == {"method": "POST", "path": "/some/path", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "url-test/1"}
    assert rc["routeKey"] == "$default" and rc["stage"] == "$default"
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", rc["time"]), rc["time"]
    assert isinstance(rc["timeEpoch"], int) and rc["timeEpoch"] > 1_600_000_000_000
    assert re.fullmatch(r"[0-9a-f-]{36}", rc["requestId"])
    assert "authorizer" not in rc


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_methods_reach_the_function(echo_url, method):
    r = requests.request(method, echo_url + "m", timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json()["requestContext"]["http"]["method"] == method
    assert r.headers["x-amzn-requestid"] == r.json()["requestContext"]["requestId"]


def test_no_query_no_cookies_no_body(echo_url):
    event = requests.get(echo_url, timeout=60).json()
    assert event["rawPath"] == "/" and event["rawQueryString"] == ""
    for absent in ("queryStringParameters", "cookies", "body"):
        assert absent not in event, absent
    assert event["isBase64Encoded"] is False


def test_binary_bodies_both_ways(echo_url):
    data = bytes(range(256)) * 4
    event = requests.post(echo_url, data=data, headers={"Content-Type": "application/octet-stream"}, timeout=60).json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data
    r = requests.get(echo_url + "?mode=binary", timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.content == bytes(range(256))
    out = curl("-o", "-", echo_url + "?mode=binary")
    assert out.stdout == bytes(range(256))


def test_response_mapping(echo_url):
    r = requests.get(echo_url + "?mode=shaped", timeout=60)
    assert r.status_code == 201 and r.text == "created"
    assert r.headers["content-type"] == "text/plain" and r.headers["x-custom"] == "yes"
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    r = requests.get(echo_url + "?mode=string", timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == "just a string"
    r = requests.get(echo_url + "?mode=fail", timeout=60)
    assert r.status_code == 502
    assert r.json() == {"Message": "Internal Server Error"}


def test_a_body_over_6_mb_is_refused(echo_url, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (6 * 1024 * 1024 + 1))
    out = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: text/plain", "--data-binary", f"@{big}", echo_url)
    assert out.stdout == b"413", (out.stdout, out.stderr)
    # The URL still answers afterwards.
    assert requests.get(echo_url, timeout=60).status_code == 200


# ------------------------------------------------------------ CORS


def test_cors_preflight_and_answers(lam, py_fn, echo_url):
    lam.update_function_url_config(
        FunctionName=py_fn,
        Cors={"AllowOrigins": ["https://ok.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-custom"],
              "ExposeHeaders": ["x-answer"], "MaxAge": 120, "AllowCredentials": True},
    )  # fmt: skip
    pre = requests.options(echo_url, headers={"Origin": "https://ok.example", "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "X-Custom"}, timeout=60)  # fmt: skip
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://ok.example"
    assert set(pre.headers["access-control-allow-methods"].split(",")) == {"GET", "POST"}
    assert pre.headers["access-control-allow-headers"] == "x-custom"
    assert pre.headers["access-control-max-age"] == "120"
    assert pre.headers["access-control-allow-credentials"] == "true"
    assert pre.text == "", "a preflight is answered without invoking the function"
    refused = requests.options(echo_url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, timeout=60)
    assert not [h for h in refused.headers if h.lower().startswith("access-control-")], refused.headers
    assert refused.text == ""
    # Answers carry the configuration's headers, not the function's own.
    r = requests.get(echo_url + "?mode=cors", headers={"Origin": "https://ok.example"}, timeout=60)
    assert r.headers["access-control-allow-origin"] == "https://ok.example"
    assert r.headers["access-control-expose-headers"] == "x-answer"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in r.headers["vary"]
    r = requests.get(echo_url + "?mode=cors", headers={"Origin": "https://evil.example"}, timeout=60)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


# ------------------------------------------------------------ auth


def test_none_needs_the_resource_policy_statement(lam, py_fn):
    url = lam.create_function_url_config(FunctionName=py_fn, AuthType="NONE")["FunctionUrl"]
    r = requests.get(url, timeout=60)
    assert r.status_code == 403 and r.json() == {"Message": "Forbidden"}
    # A statement for InvokeFunction, or for the other auth type, is not it.
    lam.add_permission(FunctionName=py_fn, StatementId="not-it", Action="lambda:InvokeFunction", Principal="*")
    lam.add_permission(FunctionName=py_fn, StatementId="not-it-either", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="AWS_IAM")  # fmt: skip
    assert requests.get(url, timeout=60).status_code == 403
    public(lam, py_fn)
    assert requests.get(url, timeout=60).status_code == 200
    lam.remove_permission(FunctionName=py_fn, StatementId="FunctionURLAllowPublicAccess")
    assert requests.get(url, timeout=60).status_code == 403


def test_aws_iam_needs_a_signature_and_a_policy(server, lam, py_fn):
    url = lam.create_function_url_config(FunctionName=py_fn, AuthType="AWS_IAM")["FunctionUrl"]
    unsigned = requests.get(url, timeout=60)
    assert unsigned.status_code == 403 and unsigned.json() == {"Message": "Forbidden"}
    key = root_key(server)
    ok = send(signed(url + "p?q=1", key, "POST", b'{"x":1}', {"Content-Type": "application/json"}))
    assert ok.status_code == 200, ok.text
    event = ok.json()
    assert event["body"] == '{"x":1}'
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == key["AccessKeyId"] and iam["userArn"] == "arn:aws:iam::000000000000:root"
    assert iam["accountId"] == "000000000000" and iam["callerId"] == iam["userId"] == "000000000000"
    assert event["requestContext"]["accountId"] == "000000000000"
    # Tampered body, wrong secret, another service's scope: refused.
    assert send(signed(url, key, "POST", b'{"x":1}'), body=b'{"x":2}').status_code == 403
    assert send(signed(url, {**key, "SecretAccessKey": "wrong"})).status_code == 403
    assert send(signed(url, key, service="s3")).status_code == 403
    # An IAM user needs an identity policy allowing lambda:InvokeFunctionUrl.
    iam_client = boto3.client("iam", endpoint_url=server.url, region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"], config=botocore.config.Config(retries={"max_attempts": 0}))  # fmt: skip
    user = f"url-{py_fn}"[:60]
    iam_client.create_user(UserName=user)
    try:
        made = iam_client.create_access_key(UserName=user)["AccessKey"]
        alice = {"AccessKeyId": made["AccessKeyId"], "SecretAccessKey": made["SecretAccessKey"]}
        assert send(signed(url, alice)).status_code == 403
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl",
                  "Resource": f"arn:aws:lambda:us-east-1:000000000000:function:{py_fn}",
                  "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}}]}  # fmt: skip
        iam_client.put_user_policy(UserName=user, PolicyName="url", PolicyDocument=json.dumps(policy))
        r = send(signed(url, alice))
        assert r.status_code == 200, r.text
        assert r.json()["requestContext"]["authorizer"]["iam"]["userArn"].endswith(f":user/{user}")
    finally:
        for k in iam_client.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam_client.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
        try:
            iam_client.delete_user_policy(UserName=user, PolicyName="url")
        except ClientError:
            pass  # not put: the test failed before
        iam_client.delete_user(UserName=user)


def test_seed_fn_url_scenario(url, server, lam, deploy, fname):
    """A Node.js function behind a URL with AWS_IAM and CORS for
    https://yourdomain.com, called with GET and POST."""
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    deploy(build_zip([("index.mjs", NODE)]), Runtime=available(url, "nodejs"), Handler="index.handler", Timeout=30)
    fn_url = lam.create_function_url_config(
        FunctionName=fname, AuthType="AWS_IAM", Cors={"AllowOrigins": ["https://yourdomain.com"], "AllowMethods": ["GET", "POST"]}
    )["FunctionUrl"]
    key = root_key(server)
    origin = {"Origin": "https://yourdomain.com"}
    got = send(signed(fn_url, key, "GET", headers=origin))
    assert got.status_code == 200, got.text
    assert got.json() == {"method": "GET", "body": None, "caller": "arn:aws:iam::000000000000:root"}
    assert got.headers["access-control-allow-origin"] == "https://yourdomain.com"
    posted = send(signed(fn_url, key, "POST", b"hello", {**origin, "Content-Type": "text/plain"}))
    assert posted.status_code == 200 and posted.json()["body"] == "hello"
    pre = requests.options(fn_url, headers={**origin, "Access-Control-Request-Method": "POST"}, timeout=60)
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://yourdomain.com"
    assert requests.get(fn_url, headers=origin, timeout=60).status_code == 403


# ------------------------------------------------------------ listeners and restarts


def test_url_listener_and_restart(own_server, tmp_path, echo_zip):
    srv = own_server(tmp_path / "data", "--url-listen", "127.0.0.1:0")
    pattern = r"function URLs: .*function URL listener (http://127\.0\.0\.1:(\d+))"
    note = wait_for(lambda: re.search(pattern, srv.stdout_path.read_text()), what="the function URL listener's line")
    url_port = note.group(2)
    lam = boto3.client("lambda", endpoint_url=srv.url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x",
                       config=botocore.config.Config(retries={"max_attempts": 0}))  # fmt: skip
    lam.create_function(FunctionName="u", Runtime="provided.al2023", Handler="bootstrap", Role=ROLE, Code={"ZipFile": echo_zip})
    lam.get_waiter("function_active_v2").wait(FunctionName="u", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    fn_url = lam.create_function_url_config(FunctionName="u", AuthType="NONE")["FunctionUrl"]
    public(lam, "u")
    assert URL_RE.match(fn_url).group(2) == url_port, "the URL names the URL listener's port"
    r = requests.post(fn_url, json={"hi": 1}, timeout=60)
    assert r.status_code == 200, r.text
    # The URL listener serves URLs only; the main listener serves them too.
    assert requests.get(f"http://127.0.0.1:{url_port}/2015-03-31/functions/", timeout=30).status_code == 404
    main_port = srv.url.rsplit(":", 1)[1]
    assert requests.get(fn_url.replace(f":{url_port}/", f":{main_port}/"), timeout=60).status_code == 200
    srv.stop()
    again = own_server(tmp_path / "data")
    wait_for(lambda: "function URLs: " in again.stdout_path.read_text(), what="the function URLs line")
    assert "(1 configured" in again.stdout_path.read_text()
    moved = fn_url.replace(f":{url_port}/", f":{again.url.rsplit(':', 1)[1]}/")
    assert requests.get(moved, timeout=60).status_code == 200, "a URL outlives a restart, with its url-id"


# ------------------------------------------------------------ RESPONSE_STREAM

STREAMING_NODE = '''\
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const out = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201, headers: { "content-type": "text/plain", "x-streamed": "yes" }, cookies: ["s=1"],
  });
  out.write("first;");
  await new Promise((r) => setTimeout(r, 3000));
  out.write("second");
  out.end();
});
'''


def test_a_streaming_url_sends_the_body_as_it_is_written(url, lam, deploy, fname):
    """The first chunk reaches the client while the function still runs:
    when it arrives, the invocation's END line is not written yet."""
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    deploy(build_zip([("index.mjs", STREAMING_NODE)]), Runtime=available(url, "nodejs"), Handler="index.handler", Timeout=30)
    created = lam.create_function_url_config(FunctionName=fname, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    assert created["InvokeMode"] == "RESPONSE_STREAM"
    public(lam, fname)
    with requests.get(created["FunctionUrl"], stream=True, timeout=60) as r:
        assert r.status_code == 201
        assert r.headers["content-type"] == "text/plain" and r.headers["x-streamed"] == "yes"
        assert r.headers["set-cookie"] == "s=1"
        request_id = r.headers["x-amzn-requestid"]
        chunks = r.iter_content(chunk_size=None)
        first = next(chunks)
        assert first == b"first;"
        ended = [line for line in all_log_lines(url, fname) if line.startswith(f"END RequestId: {request_id}")]
        assert not ended, "the first chunk came only after the function had finished"
        assert b"".join(chunks) == b"second"
    wait_for(lambda: any(line.startswith(f"END RequestId: {request_id}") for line in all_log_lines(url, fname)), what="END")


def test_a_streaming_url_of_a_function_answering_whole(lam, py_fn):
    created = lam.create_function_url_config(FunctionName=py_fn, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    public(lam, py_fn)
    r = requests.get(created["FunctionUrl"] + "?mode=shaped", timeout=60)
    assert (r.status_code, r.text, r.headers["x-custom"]) == (201, "created", "yes")
    event = requests.get(created["FunctionUrl"] + "x?q=1", timeout=60).json()
    assert event["rawPath"] == "/x" and event["queryStringParameters"] == {"q": "1"}
    assert requests.get(created["FunctionUrl"] + "?mode=fail", timeout=60).status_code == 502


def test_urls_keep_their_own_auth_under_auth_enforce(own_server, tmp_path, echo_zip):
    """`--auth enforce` signs the management API, not the URLs: a NONE URL
    answers unsigned callers, an AWS_IAM URL still needs a signature; a
    deleted function's URL answers no more."""
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    key = root_key(srv)

    def client(service: str):
        return boto3.client(service, endpoint_url=srv.url, region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"], config=botocore.config.Config(retries={"max_attempts": 0}))  # fmt: skip

    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    client("iam").create_role(RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(trust))
    lam = client("lambda")
    lam.create_function(FunctionName="e", Runtime="provided.al2023", Handler="bootstrap", Role=ROLE, Code={"ZipFile": echo_zip})
    lam.get_waiter("function_active_v2").wait(FunctionName="e", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    lam.publish_version(FunctionName="e")
    lam.create_alias(FunctionName="e", Name="signed", FunctionVersion="1")
    open_url = lam.create_function_url_config(FunctionName="e", AuthType="NONE")["FunctionUrl"]
    public(lam, "e")
    iam_url = lam.create_function_url_config(FunctionName="e", Qualifier="signed", AuthType="AWS_IAM")["FunctionUrl"]
    unsigned_api = requests.get(f"{srv.url}/2015-03-31/functions/", timeout=30)
    assert unsigned_api.status_code == 403, "the management API stays signed"
    assert requests.post(open_url, json={"a": 1}, timeout=60).status_code == 200
    assert requests.post(iam_url, json={"a": 1}, timeout=60).status_code == 403
    ok = send(signed(iam_url, key, "POST", b'{"a":1}', {"Content-Type": "application/json"}))
    assert ok.status_code == 200, ok.text
    lam.delete_function(FunctionName="e")
    assert requests.post(open_url, json={"a": 1}, timeout=60).status_code == 404
    assert send(signed(iam_url, key)).status_code == 404

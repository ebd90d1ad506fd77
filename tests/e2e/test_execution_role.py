"""Execution roles (issue 12): each environment gets temporary credentials
for its function's role and `AWS_ENDPOINT_URL` pointing at Ignis, so a
function's SDK calls Ignis unmodified with no credentials in its code or
configuration; the credentials never show in GetFunctionConfiguration, a
log or the store, and an environment is replaced before they expire.

The functions are Python; Ignis's Python runtime ships no boto3 (as
docs/runtimes.md says), so the caller's zip bundles boto3 and botocore
from this test's venv, botocore's models trimmed to Lambda's."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
import requests

from support import IGNIS_BIN, ROLE, lambda_client

ACCOUNT = "000000000000"

CALLER = '''
import json, os
import boto3
from botocore.exceptions import ClientError

def main(event, context):
    seen = {k: os.environ.get(k) for k in
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")}
    if "target" not in event:
        return {"env": seen, "pid": os.getpid()}
    # No endpoint, region or key here: the SDK reads the environment.
    lam = boto3.client("lambda")
    try:
        r = lam.invoke(FunctionName=event["target"], Payload=json.dumps({"from": context.function_name}))
        return {"env": seen, "status": r["StatusCode"], "answer": json.loads(r["Payload"].read())}
    except ClientError as e:
        return {"env": seen, "error": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}
'''

CALLEE = '''
def main(event, context):
    return {"answer": "from " + context.function_name, "event": event}
'''

ENV_ONLY = '''
import os
def main(event, context):
    return {"key": os.environ.get("AWS_ACCESS_KEY_ID"), "endpoint": os.environ.get("AWS_ENDPOINT_URL"), "pid": os.getpid()}
'''

ENDPOINT_LINE = re.compile(r"functions' endpoint: (\S+)")


def python_runtime(url: str) -> str:
    """This venv's Python version (the bundled SDK's packages were
    installed for it), else the newest this node runs."""
    r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    available = [i["Runtime"] for i in r.json()["Runtimes"] if i["Runtime"].startswith("python3") and i["Available"]]
    if not available:
        pytest.skip("no python3 interpreter on this machine")
    mine = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return mine if mine in available else max(available, key=lambda r: int(r.split(".")[1]))


def sdk_zip(handler: str) -> bytes:
    """`handler.py` with boto3, botocore (Lambda's and STS's models only)
    and their pure-Python dependencies from this venv."""
    import boto3
    import botocore
    import dateutil
    import jmespath
    import s3transfer
    import six
    import urllib3

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("handler.py", handler)
        z.write(six.__file__, "six.py")
        for mod in (boto3, botocore, dateutil, jmespath, s3transfer, urllib3):
            root = Path(mod.__file__).parent
            for path in root.rglob("*"):
                rel = path.relative_to(root.parent)
                parts = rel.parts
                if path.is_dir() or "__pycache__" in parts or path.suffix == ".pyc":
                    continue
                if parts[:2] == ("boto3", "data") or parts[:2] == ("boto3", "examples"):
                    continue
                if parts[:2] == ("botocore", "data") and len(parts) > 3 and parts[2] not in ("lambda", "sts"):
                    continue
                z.write(path, str(rel))
    return buf.getvalue()


def plain_zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", source)
    return buf.getvalue()


def create(client, name: str, code: bytes, runtime: str, role: str = ROLE, **config) -> None:
    client.create_function(
        FunctionName=name, Runtime=runtime, Handler="handler.main", Role=role,
        Code={"ZipFile": code}, Timeout=config.pop("Timeout", 30), MemorySize=config.pop("MemorySize", 512), **config,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def call(client, name: str, event: dict, tail: bool = False) -> tuple[dict, str]:
    extra = {"LogType": "Tail"} if tail else {}
    r = client.invoke(FunctionName=name, Payload=json.dumps(event), **extra)
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    import base64

    return body, base64.b64decode(r.get("LogResult", "")).decode(errors="replace")


def endpoint_of(srv) -> str | None:
    text = srv.stdout_path.read_text(errors="replace")
    m = ENDPOINT_LINE.search(text)
    assert m, text
    return None if m.group(1) == "none" else m.group(1)


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found += [f"{path}: {n[:8]!r}…" for n in needles if n in data]
    return found


def test_a_function_calls_another_with_its_role_s_credentials_and_none_in_its_code(server, lam):
    runtime = python_runtime(server.url)
    a, b = f"role-a-{uuid.uuid4().hex[:6]}", f"role-b-{uuid.uuid4().hex[:6]}"
    create(lam, b, plain_zip(CALLEE), runtime)
    create(lam, a, sdk_zip(CALLER), runtime, Environment={"Variables": {"MINE": "1"}}, MemorySize=1769, Timeout=120)  # boto3 needs CPU (a loaded CI machine)
    try:
        out, log = call(lam, a, {"target": b}, tail=True)
        assert out.get("status") == 200, out
        assert out["answer"] == {"answer": f"from {b}", "event": {"from": a}}, out
        env = out["env"]
        assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(env["AWS_ACCESS_KEY_ID"]) == 20, env
        assert len(env["AWS_SECRET_ACCESS_KEY"]) == 40 and env["AWS_SESSION_TOKEN"], env
        assert env["AWS_ENDPOINT_URL"] == endpoint_of(server), env

        # Not part of the function's configuration, its logs, the server's
        # logs or the store.
        conf = lam.get_function_configuration(FunctionName=a)
        assert conf["Environment"]["Variables"] == {"MINE": "1"}, conf["Environment"]
        assert conf["Role"] == ROLE
        secrets = [env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]]
        blob = json.dumps(lam.get_function(FunctionName=a), default=str)
        assert not any(s in blob for s in secrets)
        assert not any(s in log for s in secrets), log
        logs = subprocess.run([str(IGNIS_BIN), "logs", a, "--endpoint", server.url],
                              capture_output=True, text=True, timeout=60)
        assert not any(s in logs.stdout + logs.stderr for s in secrets)
        assert not any(s in server.stderr() for s in secrets)
        assert not any(s in server.stdout_path.read_text(errors="replace") for s in secrets)
        stored = files_containing(server.data_dir, [s.encode() for s in secrets])
        assert not stored, stored
    finally:
        for name in (a, b):
            lam.delete_function(FunctionName=name)


def test_an_environment_is_replaced_before_its_credentials_expire(own_server, monkeypatch):
    # 12 s, a 3 s timeout: usable for 12 - (3 + 3) = 6 s (docs/sandbox.md,
    # "Execution roles").
    monkeypatch.setenv("IGNIS_CREDENTIALS_LIFETIME_SECS", "12")
    srv = own_server()
    client = lambda_client(srv.url)
    name = f"renew-{uuid.uuid4().hex[:6]}"
    create(client, name, plain_zip(ENV_ONLY), python_runtime(srv.url), Timeout=3)
    first, _ = call(client, name, {})
    assert first["key"].startswith("ASIA"), first
    import time

    time.sleep(7)  # past the first environment's renewal
    second, log = call(client, name, {}, tail=True)
    assert second["key"].startswith("ASIA") and second["key"] != first["key"], (first, second)
    assert second["pid"] != first["pid"] or "Init Duration" in log, (first, second, log)
    assert "Init Duration" in log, log
    third, log = call(client, name, {}, tail=True)
    assert third["key"] == second["key"] and "Init Duration" not in log, (second, third)


def test_network_none_sets_no_endpoint(own_server):
    if os.geteuid() != 0:
        pytest.skip("the namespace sandbox needs root")
    srv = own_server(None, "--sandbox", "namespace", "--network", "none")
    assert endpoint_of(srv) is None
    client = lambda_client(srv.url)
    name = f"none-{uuid.uuid4().hex[:6]}"
    create(client, name, plain_zip(ENV_ONLY), python_runtime(srv.url))
    out, _ = call(client, name, {})
    assert out["endpoint"] is None and out["key"].startswith("ASIA"), out


def has_auth_flag() -> bool:
    help_text = subprocess.run([str(IGNIS_BIN), "serve", "--help"], capture_output=True, text=True).stdout
    return "--auth" in help_text


@pytest.mark.skipif(not has_auth_flag(), reason="`ignis serve` has no --auth flag yet (the front of issue 12)")
def test_least_privilege_a_role_allowed_to_invoke_b_only(own_server, tmp_path):
    import boto3

    srv = own_server(None, "--auth", "enforce")
    key = json.loads((srv.data_dir / "root-access-key.json").read_text())
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"],
             "region_name": "us-east-1", "endpoint_url": srv.url}
    lam = boto3.client("lambda", **creds)
    iam = boto3.client("iam", **creds)
    # The node's runtime list needs a signature here: this venv's version.
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    suffix = uuid.uuid4().hex[:6]
    a, b, c = f"lp-a-{suffix}", f"lp-b-{suffix}", f"lp-c-{suffix}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"caller-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    allow_b = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                       "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{b}"}]}
    iam.put_role_policy(RoleName=f"caller-{suffix}", PolicyName="invoke-b", PolicyDocument=json.dumps(allow_b))
    for name in (b, c):
        create(lam, name, plain_zip(CALLEE), runtime, role=role)
    create(lam, a, sdk_zip(CALLER), runtime, role=role, MemorySize=1769, Timeout=120)  # boto3 needs CPU (a loaded CI machine)

    out, _ = call(lam, a, {"target": b})
    assert out.get("status") == 200 and out["answer"]["answer"] == f"from {b}", out
    out, _ = call(lam, a, {"target": c})
    assert out.get("error") == "AccessDeniedException", out
    assert f"assumed-role/caller-{suffix}/{a}" in out["message"] and "lambda:InvokeFunction" in out["message"], out
    # The credentials are the function's alone: nothing in its configuration.
    assert "Environment" not in lam.get_function_configuration(FunctionName=a) or \
        not lam.get_function_configuration(FunctionName=a)["Environment"].get("Variables")

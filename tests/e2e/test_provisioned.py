"""Provisioned concurrency (issue 11): environments started and initialized
ahead of any invocation on a version or alias, counted on this host before
the first invoke, whose first invocation is warm (no Init Duration in its
REPORT); a crashed one is replaced; a budget that cannot hold them is
FAILED with a reason; a restarted server provisions them again."""

from __future__ import annotations

import json
import os

import pytest
from botocore.exceptions import ClientError

from support import ROLE, all_log_lines, build_zip, error_code, invoke, lambda_client, python_runtime, tail_log, wait_for

HANDLER = '''\
import os

def main(event, context):
    if event.get("exit"):
        os._exit(3)
    return {
        "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "stream": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
        "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
    }
'''


def provisioned_envs(function: str) -> set[str]:
    """Log stream names of live provisioned environments of `function`,
    read from the processes' environments on this host."""
    streams = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            with open(f"{entry.path}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if env.get(b"AWS_LAMBDA_FUNCTION_NAME") == function.encode() and env.get(b"AWS_LAMBDA_INITIALIZATION_TYPE") == b"provisioned-concurrency":
            streams.add(env[b"AWS_LAMBDA_LOG_STREAM_NAME"].decode())
    return streams


def python(client) -> str:
    runtime = python_runtime(client.meta.endpoint_url)
    if runtime is None:
        pytest.skip("no Python interpreter on this machine")
    return runtime


def create(client, name: str, **config) -> None:
    client.create_function(
        FunctionName=name, Runtime=python(client), Handler="handler.main", Role=ROLE,
        Code={"ZipFile": build_zip([("handler.py", HANDLER)])}, Timeout=30, **config,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def ready(client, name: str, qualifier: str) -> dict:
    def check():
        c = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        return c if c["Status"] == "READY" else None
    return wait_for(check, 60, what=f"provisioned concurrency of {name}:{qualifier} to be READY")


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


@pytest.fixture
def fn(lam, fname):
    create(lam, fname)
    yield fname
    try:
        lam.delete_function(FunctionName=fname)
    except ClientError:
        pass


def test_provisioned_environments_are_ready_before_the_first_invoke(url, lam, fn):
    assert lam.publish_version(FunctionName=fn)["Version"] == "1"
    put = lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    config = ready(lam, fn, "1")
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    assert config["AvailableProvisionedConcurrentExecutions"] == 2
    # Two environments exist, initialized, before anything invoked them.
    envs = wait_for(lambda: (e := provisioned_envs(fn)) and len(e) == 2 and e, 30, what="two provisioned environments")
    assert all("/[1]" in s for s in envs), envs
    inits = [l for l in all_log_lines(url, fn) if l.startswith("INIT_REPORT")]
    assert len(inits) == 2 and all("Status: success" in l for l in inits), inits

    resp, _, out = invoke(lam, fn, {}, Qualifier="1", LogType="Tail")
    assert out["init"] == "provisioned-concurrency" and out["version"] == "1", out
    assert out["stream"] in envs
    report = [l for l in tail_log(resp).splitlines() if l.startswith("REPORT")]
    assert report and "Init Duration" not in report[0], report
    # $LATEST is not provisioned: its first invoke is a cold, on-demand one.
    resp, _, out = invoke(lam, fn, {}, LogType="Tail")
    assert out["init"] == "on-demand"
    assert "Init Duration" in tail_log(resp)

    listed = lam.list_provisioned_concurrency_configs(FunctionName=fn)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["1"]
    lam.delete_provisioned_concurrency_config(FunctionName=fn, Qualifier="1")
    e = refused(lambda: lam.get_provisioned_concurrency_config(FunctionName=fn, Qualifier="1"))
    assert error_code(e) == "ProvisionedConcurrencyConfigNotFoundException"


def test_a_crashed_provisioned_environment_is_replaced(lam, fn):
    lam.publish_version(FunctionName=fn)
    lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="1", ProvisionedConcurrentExecutions=1)
    ready(lam, fn, "1")
    first = wait_for(lambda: provisioned_envs(fn), 30, what="the provisioned environment")
    resp, _, _ = invoke(lam, fn, {"exit": True}, Qualifier="1")
    assert resp.get("FunctionError") == "Unhandled"
    replaced = wait_for(lambda: (e := provisioned_envs(fn)) and e != first and e, 60, what="a replacement environment")
    assert len(replaced) == 1
    ready(lam, fn, "1")


def test_aliases_and_errors(lam, lam_raw, fn):
    e = refused(lambda: lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1))
    assert error_code(e) == "InvalidParameterValueException"
    e = refused(lambda: lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="9", ProvisionedConcurrentExecutions=1))
    assert error_code(e) == "ResourceNotFoundException"
    e = refused(lambda: lam_raw.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="1", ProvisionedConcurrentExecutions=0))
    assert error_code(e) in ("ValidationException", "ResourceNotFoundException")
    lam.publish_version(FunctionName=fn)
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
    e = refused(lambda: lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="live", ProvisionedConcurrentExecutions=2))
    assert error_code(e) == "InvalidParameterValueException"
    lam.delete_function_concurrency(FunctionName=fn)
    lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="live", ProvisionedConcurrentExecutions=1)
    ready(lam, fn, "live")
    out = invoke(lam, fn, {}, Qualifier="live")[2]
    assert out["init"] == "provisioned-concurrency"
    e = refused(lambda: lam.get_provisioned_concurrency_config(FunctionName=fn, Qualifier="1"))
    assert error_code(e) == "ProvisionedConcurrencyConfigNotFoundException"


def test_a_budget_that_cannot_hold_them_fails_with_a_reason(own_server, tmp_path):
    srv = own_server(tmp_path / "data", "--memory-budget-mb", "256")
    client = lambda_client(srv.url)
    create(client, "pc-budget")
    client.publish_version(FunctionName="pc-budget")
    client.put_provisioned_concurrency_config(FunctionName="pc-budget", Qualifier="1", ProvisionedConcurrentExecutions=3)

    def failed():
        c = client.get_provisioned_concurrency_config(FunctionName="pc-budget", Qualifier="1")
        return c if c["Status"] == "FAILED" else None

    config = wait_for(failed, 60, what="FAILED")
    assert "memory budget" in config["StatusReason"], config
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2


def test_restart_keeps_versions_aliases_policies_and_concurrency_and_reprovisions(own_server, tmp_path):
    first = own_server(tmp_path / "data")
    client = lambda_client(first.url)
    create(client, "kept-pc")
    client.publish_version(FunctionName="kept-pc")
    client.create_alias(FunctionName="kept-pc", Name="live", FunctionVersion="1")
    client.add_permission(FunctionName="kept-pc", StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    client.put_function_concurrency(FunctionName="kept-pc", ReservedConcurrentExecutions=5)
    client.put_provisioned_concurrency_config(FunctionName="kept-pc", Qualifier="live", ProvisionedConcurrentExecutions=1)
    ready(client, "kept-pc", "live")
    assert first.stop() == 0
    wait_for(lambda: not provisioned_envs("kept-pc"), 15, what="environments to end with the server")

    second = own_server(tmp_path / "data")
    client = lambda_client(second.url)
    # Provisioned again at start-up, before any invoke.
    wait_for(lambda: len(provisioned_envs("kept-pc")) == 1, 60, what="the environment provisioned again")
    assert ready(client, "kept-pc", "live")["AllocatedProvisionedConcurrentExecutions"] == 1
    assert [v["Version"] for v in client.list_versions_by_function(FunctionName="kept-pc")["Versions"]] == ["$LATEST", "1"]
    assert client.get_alias(FunctionName="kept-pc", Name="live")["FunctionVersion"] == "1"
    assert "s3.amazonaws.com" in json.loads(client.get_policy(FunctionName="kept-pc")["Policy"])["Statement"][0]["Principal"]["Service"]
    assert client.get_function_concurrency(FunctionName="kept-pc")["ReservedConcurrentExecutions"] == 5
    out = invoke(client, "kept-pc", {}, Qualifier="live")[2]
    assert out["init"] == "provisioned-concurrency"


def test_aws_cli_provisioned_concurrency(url, lam, fn, tmp_path):
    import subprocess

    from support import REGION

    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_MAX_ATTEMPTS="1")

    def aws(*args):
        out = subprocess.run(["aws", "--endpoint-url", url, "lambda", *args], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    lam.publish_version(FunctionName=fn)
    put = aws("put-provisioned-concurrency-config", "--function-name", fn, "--qualifier", "1", "--provisioned-concurrent-executions", "1")
    assert put["RequestedProvisionedConcurrentExecutions"] == 1
    ready(lam, fn, "1")
    got = aws("get-provisioned-concurrency-config", "--function-name", fn, "--qualifier", "1")
    assert (got["Status"], got["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 1)
    listed = aws("list-provisioned-concurrency-configs", "--function-name", fn)["ProvisionedConcurrencyConfigs"]
    assert len(listed) == 1 and listed[0]["FunctionArn"].endswith(f"{fn}:1")
    aws("delete-provisioned-concurrency-config", "--function-name", fn, "--qualifier", "1")
    assert aws("list-provisioned-concurrency-configs", "--function-name", fn)["ProvisionedConcurrencyConfigs"] == []

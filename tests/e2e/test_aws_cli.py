"""The AWS CLI (`aws --endpoint-url ... lambda ...`) driving every operation,
its waiters and its error output, unmodified."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROLE, code_sha256


def aws_bin() -> str:
    beside_python = Path(sys.executable).parent / "aws"
    found = str(beside_python) if beside_python.exists() else shutil.which("aws")
    if not found:
        pytest.fail("the AWS CLI is not installed (scripts/test.sh installs it into the venv)")
    return found


def raw_payload_args(binary: str) -> list[str]:
    """AWS CLI v2 base64-decodes --payload unless told otherwise; v1 (what
    PyPI ships) sends it as it is and has no such option."""
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    text = version.stdout + version.stderr
    return [] if text.startswith("aws-cli/1.") else ["--cli-binary-format", "raw-in-base64-out"]


@pytest.fixture(scope="module")
def aws(url, tmp_path_factory):
    home = tmp_path_factory.mktemp("aws-home")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }
    binary = aws_bin()

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [binary, "--endpoint-url", url, "--output", "json", "lambda", *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def run_json(*args: str) -> dict:
        out = run(*args).stdout
        return json.loads(out) if out.strip() else {}

    run.json = run_json
    run.raw = raw_payload_args(binary)
    return run


@pytest.fixture
def cli_function(aws, fname, tmp_path, echo_zip, lam):
    path = tmp_path / "fn.zip"
    path.write_bytes(echo_zip)
    created = aws.json(
        "create-function",
        "--function-name", fname,
        "--runtime", "provided.al2023",
        "--handler", "bootstrap",
        "--role", ROLE,
        "--timeout", "30",
        "--environment", "Variables={GREETING=hello}",
        "--tags", "team=cli",
        "--zip-file", f"fileb://{path}",
    )  # fmt: skip
    yield created
    try:
        lam.delete_function(FunctionName=fname)
    except Exception:  # noqa: BLE001 - the test may have deleted it
        pass


def test_create_get_and_wait(aws, cli_function, fname, echo_zip):
    assert cli_function["FunctionName"] == fname
    assert cli_function["CodeSha256"] == code_sha256(echo_zip)
    aws("wait", "function-active-v2", "--function-name", fname)
    got = aws.json("get-function", "--function-name", fname)
    assert got["Configuration"]["State"] == "Active"
    assert got["Tags"] == {"team": "cli"}
    conf = aws.json("get-function-configuration", "--function-name", fname)
    assert conf["Environment"]["Variables"] == {"GREETING": "hello"}
    assert conf["Timeout"] == 30


def test_update_configuration_and_code(aws, cli_function, fname, tmp_path, shell_zip):
    aws("wait", "function-active-v2", "--function-name", fname)
    updated = aws.json(
        "update-function-configuration",
        "--function-name", fname,
        "--description", "from the cli",
        "--memory-size", "256",
        "--timeout", "12",
        "--environment", "Variables={GREETING=bye,OTHER=1}",
        "--ephemeral-storage", "Size=1024",
    )  # fmt: skip
    assert updated["FunctionName"] == fname
    aws("wait", "function-updated-v2", "--function-name", fname)
    conf = aws.json("get-function-configuration", "--function-name", fname)
    assert conf["Description"] == "from the cli"
    assert conf["MemorySize"] == 256
    assert conf["Timeout"] == 12
    assert conf["Environment"]["Variables"] == {"GREETING": "bye", "OTHER": "1"}
    assert conf["EphemeralStorage"] == {"Size": 1024}

    path = tmp_path / "shell.zip"
    path.write_bytes(shell_zip("shell-echo"))
    code = aws.json("update-function-code", "--function-name", fname, "--zip-file", f"fileb://{path}")
    assert code["CodeSha256"] == code_sha256(path.read_bytes())
    aws("wait", "function-updated-v2", "--function-name", fname)
    aws.json("update-function-configuration", "--function-name", fname, "--handler", "function.handler")
    aws("wait", "function-updated-v2", "--function-name", fname)
    out = tmp_path / "out.json"
    aws("invoke", "--function-name", fname, *aws.raw, "--payload", '{"a":1}', str(out))
    assert json.loads(out.read_text())["event"] == {"a": 1}


def test_invoke_with_tail(aws, cli_function, fname, tmp_path):
    aws("wait", "function-active-v2", "--function-name", fname)
    out = tmp_path / "out.json"
    meta = aws.json(
        "invoke",
        "--function-name", fname,
        *aws.raw,
        "--payload", '{"name":"x"}',
        "--log-type", "Tail",
        str(out),
    )  # fmt: skip
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert out.read_bytes() == b'{"name":"x"}'
    log = base64.b64decode(meta["LogResult"]).decode()
    assert re.search(r"^REPORT RequestId: \S+\tDuration: ", log, re.M), log


def test_invoke_function_error(aws, cli_function, fname, tmp_path):
    aws("wait", "function-active-v2", "--function-name", fname)
    out = tmp_path / "out.json"
    meta = aws.json(
        "invoke", "--function-name", fname, *aws.raw, "--payload", '{"op":"error"}', str(out)
    )
    assert meta["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorMessage"] == "boom"


def test_invoke_event_and_dry_run(aws, cli_function, fname, tmp_path):
    aws("wait", "function-active-v2", "--function-name", fname)
    out = tmp_path / "out.json"
    event = aws.json("invoke", "--function-name", fname, "--invocation-type", "Event", *aws.raw, "--payload", "{}", str(out))
    assert event["StatusCode"] == 202
    dry = aws.json("invoke", "--function-name", fname, "--invocation-type", "DryRun", str(out))
    assert dry["StatusCode"] == 204


def test_list_with_pagination(aws, lam, deploy, echo_zip, fname):
    names = {deploy(echo_zip, name=f"{fname}-{i}", wait=False)["FunctionName"] for i in range(3)}
    everything = aws.json("list-functions")
    assert names <= {f["FunctionName"] for f in everything["Functions"]}
    # --max-items pages client-side over Marker/NextMarker; walk every page.
    seen, token = [], None
    for _ in range(500):
        args = ["list-functions", "--max-items", "2"]
        if token:
            args += ["--starting-token", token]
        page = aws.json(*args)
        seen += [f["FunctionName"] for f in page["Functions"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen))
    assert names <= set(seen)
    # --page-size sends MaxItems=1 and follows every NextMarker.
    small_pages = aws.json("list-functions", "--page-size", "1")
    small_names = [f["FunctionName"] for f in small_pages["Functions"]]
    assert len(small_names) == len(set(small_names))
    assert names <= set(small_names)


def test_delete_and_missing(aws, cli_function, fname):
    aws("delete-function", "--function-name", fname)
    proc = aws("get-function", "--function-name", fname, check=False)
    assert proc.returncode != 0
    assert "ResourceNotFoundException" in proc.stderr
    proc = aws("delete-function", "--function-name", fname, check=False)
    assert "ResourceNotFoundException" in proc.stderr


def test_create_errors(aws, fname, tmp_path, echo_zip):
    path = tmp_path / "fn.zip"
    path.write_bytes(echo_zip)
    base = ["create-function", "--function-name", fname, "--runtime", "provided.al2023", "--handler", "bootstrap", "--role", ROLE, "--zip-file", f"fileb://{path}"]
    proc = aws(*base, "--timeout", "901", check=False)
    assert "InvalidParameterValueException" in proc.stderr, proc.stderr
    proc = aws(*base[:4], "cobol85", *base[5:], check=False)
    assert "InvalidParameterValueException" in proc.stderr, proc.stderr
    proc = aws(*base, "--memory-size", "10241", check=False)
    assert "InvalidParameterValueException" in proc.stderr, proc.stderr


def test_account_settings(aws):
    settings = aws.json("get-account-settings")
    assert settings["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert "FunctionCount" in settings["AccountUsage"]

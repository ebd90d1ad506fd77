"""Issue 10, "Say what runs": a runtime run on a substitute interpreter is
visible where a person looks (CreateFunction's answer and the AWS CLI,
`ignis deploy`, `ignis serve`'s start-up summary, each cold start's
INIT_START line); JDKs under /usr/lib/jvm are found by their `release`
file; `ignis deploy` without `--handler` picks one only when the package
says it, and otherwise refuses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from support import IGNIS_BIN, ROLE, Server, all_log_lines, build_zip, error_code, invoke, wait_for
from test_aws_cli import aws_bin
from test_managed_runtimes import PY_HANDLER, runtimes

ARN = r"arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}"


def substituted(url: str) -> tuple[str, dict]:
    """A managed runtime this node runs on another version of its language."""
    for name, info in runtimes(url).items():
        if name.startswith("python") and info["Available"] and info["RunsOn"] != name:
            return name, info
    pytest.skip("every Python runtime is installed here: nothing is substituted")


def ignis(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(IGNIS_BIN), "--endpoint", url, *args], capture_output=True, text=True, timeout=180)


def init_starts(url: str, name: str) -> list[str]:
    return [line for line in all_log_lines(url, name) if line.startswith("INIT_START ")]


def test_each_cold_start_logs_init_start_as_lambda_does(url, lam, echo_fn):
    for n in range(3):
        _, body, _ = invoke(lam, echo_fn, {"n": n})
        assert b"errorType" not in body, body
    lines = all_log_lines(url, echo_fn)
    starts = [line for line in lines if line.startswith("INIT_START ")]
    # One environment ran the three invocations: one init, before the first START.
    assert len(starts) == 1, lines
    assert re.fullmatch(rf"INIT_START Runtime Version: provided:al2023\.\S+\tRuntime Version ARN: {ARN}", starts[0]), starts
    assert lines.index(starts[0]) < next(i for i, line in enumerate(lines) if line.startswith("START ")), lines


def test_json_log_format_writes_platform_init_start(url, lam, deploy, echo_zip, fname):
    deploy(echo_zip, Timeout=30, LoggingConfig={"LogFormat": "JSON"})
    invoke(lam, fname, {})
    records = [json.loads(line) for line in all_log_lines(url, fname) if line.startswith("{")]
    init = [r for r in records if r["type"] == "platform.initStart"]
    assert len(init) == 1, records
    record = init[0]["record"]
    assert record["runtimeVersion"].startswith("provided:al2023."), record
    assert re.fullmatch(ARN, record["runtimeVersionArn"]), record
    assert (record["initializationType"], record["phase"], record["functionName"], record["functionVersion"]) == (
        "on-demand", "init", fname, "$LATEST"), record
    assert records.index(init[0]) == 0, records


def test_a_substitute_shows_in_create_function_the_state_reason_and_init_start(url, lam, deploy, fname):
    runtime, info = substituted(url)
    runs_on = info["RunsOn"]
    created = deploy(build_zip([("handler.py", PY_HANDLER)]), wait=False, Runtime=runtime, Handler="handler.main")
    # CreateFunction's own answer (Pending) already says it.
    assert created["State"] == "Pending" and created["StateReasonCode"] == "Creating", created
    assert created["StateReason"].startswith("The function is being created. "), created
    assert f"{runtime} is not installed on this node; the function runs on {runs_on} (Python 3." in created["StateReason"]
    lam.get_waiter("function_active_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    config = lam.get_function_configuration(FunctionName=fname)
    assert config["StateReasonCode"] == "RuntimeSubstituted", config
    assert f"the function runs on {runs_on} (Python 3." in config["StateReason"], config
    _, _, body = invoke(lam, fname, {})
    assert body["statusCode"] == 200, body
    lines = all_log_lines(url, fname)
    starts = [line for line in lines if line.startswith("INIT_START ")]
    assert len(starts) == 1, lines
    # The interpreter that really runs, by its own version.
    version = runs_on.removeprefix("python")
    match = re.fullmatch(rf"INIT_START Runtime Version: python:({re.escape(version)}\.\d+)\tRuntime Version ARN: {ARN}", starts[0])
    assert match, starts
    note = lines[lines.index(starts[0]) + 1]
    assert note.startswith(f"IGNIS: runtime {runtime} is not installed on this node; running {runs_on} (Python {match.group(1)} at /"), lines


def test_aws_cli_create_function_prints_the_substitution(url, lam, fname, tmp_path):
    runtime, info = substituted(url)
    zip_path = tmp_path / "fn.zip"
    zip_path.write_bytes(build_zip([("handler.py", PY_HANDLER)]))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials")}
    cmd = [aws_bin(), "--endpoint-url", url, "--output", "json", "lambda", "create-function", "--function-name", fname,
           "--runtime", runtime, "--handler", "handler.main", "--role", ROLE, "--zip-file", f"fileb://{zip_path}"]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        printed = json.loads(out.stdout)
        assert f"the function runs on {info['RunsOn']} (Python 3." in printed["StateReason"], printed
    finally:
        try:
            lam.delete_function(FunctionName=fname)
        except ClientError:
            pass


def test_ignis_deploy_names_the_handler_it_found_and_the_substitute(url, lam, fname, tmp_path):
    runtime, info = substituted(url)
    (tmp_path / "handler.py").write_text(PY_HANDLER)
    try:
        out = ignis(url, "deploy", str(tmp_path), "--name", fname, "--runtime", runtime)
        assert out.returncode == 0, out.stderr
        assert re.search(r"^  handler +handler\.main$", out.stdout, re.M), out.stdout
        assert re.search(rf"^  note +{re.escape(runtime)} is not installed on this node; the function runs on "
                         rf"{re.escape(info['RunsOn'])} \(Python 3\.", out.stdout, re.M), out.stdout
        _, _, body = invoke(lam, fname, {})
        assert body["statusCode"] == 200, body
    finally:
        ignis(url, "functions", "delete", fname)


@pytest.mark.parametrize("files, why", [
    ([("app.py", PY_HANDLER), ("util.py", "def add(a, b):\n    return a + b\n")], "2 .py files at its top (app.py, util.py)"),
    ([("app.py", "def a(event, context):\n    pass\n\ndef b(event, context):\n    pass\n")], "app.py has 2 candidates (a, b)"),
])
def test_ignis_deploy_refuses_a_handler_it_cannot_know(url, lam, fname, tmp_path, files, why):
    for name, text in files:
        (tmp_path / name).write_text(text)
    out = ignis(url, "deploy", str(tmp_path), "--name", fname, "--runtime", "python3.13")
    assert out.returncode == 1, out
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: cannot tell the handler: "), out.stderr
    assert why in out.stderr and "--handler" in out.stderr, out.stderr
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=fname)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_ignis_deploy_still_defaults_custom_runtimes_to_bootstrap(url, fname, tmp_path, rust_bootstrap):
    (tmp_path / "bootstrap").write_bytes(rust_bootstrap.read_bytes())
    (tmp_path / "bootstrap").chmod(0o755)
    try:
        out = ignis(url, "deploy", str(tmp_path), "--name", fname)
        assert out.returncode == 0, out.stderr
        assert re.search(r"^  handler +bootstrap$", out.stdout, re.M), out.stdout
    finally:
        ignis(url, "functions", "delete", fname)


def test_serve_summary_says_what_runs_each_runtime(server, url):
    _, info = substituted(url)
    text = server.stdout_path.read_text()
    lines = [line for line in text.splitlines() if line.startswith("runtimes")]
    assert lines and lines[0].startswith("runtimes: "), text
    sub = next((line for line in lines if line.startswith("runtimes substituted: ")), None)
    assert sub and re.search(rf"runs? on {re.escape(info['RunsOn'])} \(Python 3\.", sub), lines


def test_jdks_under_usr_lib_jvm_are_found_by_their_release_file(tmp_path):
    """A Temurin 25 under /usr/lib/jvm was missed and java25 ran on Java 17.
    Discovery's root is a fake one here: its JDKs are never run, their
    `release` file says what they are."""
    root = tmp_path / "root"
    jvm = root / "usr/lib/jvm"
    java = "#!/bin/sh\necho 'this fake JDK is never run' >&2\nexit 1\n"
    (jvm / "temurin-25-jdk-amd64/bin").mkdir(parents=True)
    (jvm / "temurin-25-jdk-amd64/bin/java").write_text(java)
    (jvm / "temurin-25-jdk-amd64/bin/java").chmod(0o755)
    (jvm / "temurin-25-jdk-amd64/release").write_text('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="25.0.3"\n')
    # A directory without bin/java is not a JDK, whatever its release says.
    (jvm / "openjdk-21").mkdir()
    (jvm / "openjdk-21/release").write_text('JAVA_VERSION="21.0.9"\n')
    # PATH without the host's java: only the fake root's JDKs are Java here.
    os_env = {"PATH": "/nonexistent", "HOME": str(tmp_path)}
    server = Server(tmp_path / "data", tmp_path / "logs", [
        "--discovery-root", str(root), "--sandbox", "process"])
    saved = {k: os.environ.get(k) for k in os_env}
    os.environ.update(os_env)
    try:
        server.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        summary = [line for line in server.stdout_path.read_text().splitlines() if line.startswith("runtimes")]
        assert "java25 on Java 25.0.3" in summary[0], summary
        fake = jvm / "temurin-25-jdk-amd64/bin/java"
        sub = next(line for line in summary if line.startswith("runtimes substituted: "))
        assert f"java21 run on java25 (Java 25.0.3 at {fake})" in sub, summary
    finally:
        server.stop()

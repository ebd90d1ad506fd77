"""Execution environments: Lambda's variables, timeouts, crashes, init errors,
replacement on configuration change, and the shell-script custom runtime."""

from __future__ import annotations

import io
import json
import os
import re
import threading
import zipfile

import requests

from support import FIXTURES, build_zip, code_sha256, env_alive, invoke, logs, tail_log, wait_for, wait_log_line


def test_lambda_environment_variables(lam, deploy, echo_zip, fname):
    deploy(echo_zip, MemorySize=256, Timeout=30, Environment={"Variables": {"GREETING": "hello", "EMPTY_OK": ""}})
    resp, body, env = invoke(lam, fname, {"op": "env"})
    assert "FunctionError" not in resp, body
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fname
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"]
    assert env.get("AWS_DEFAULT_REGION", env["AWS_REGION"]) == env["AWS_REGION"]
    assert env["_HANDLER"] == "bootstrap"
    assert os.path.isabs(env["LAMBDA_TASK_ROOT"])
    assert ":" in env["AWS_LAMBDA_RUNTIME_API"]
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{fname}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["TZ"]
    assert env["GREETING"] == "hello"
    assert env["EMPTY_OK"] == ""


def test_timeout_kills_the_environment(lam, deploy, echo_zip, fname):
    deploy(echo_zip, Timeout=1)
    _, _, first = invoke(lam, fname, {"op": "count"})
    assert env_alive(first["env"]), first
    resp, body, out = invoke(lam, fname, {"op": "sleep", "ms": 3000})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in out["errorMessage"], body
    # The timed-out environment is gone; the next invocation starts afresh.
    wait_for(lambda: not env_alive(first["env"]), 15, what="the timed-out runtime to end")
    _, body, after = invoke(lam, fname, {"op": "count"})
    assert after["count"] == 1, body
    assert after["env"] != first["env"]


def test_runtime_exit_is_runtime_exit_error(lam, deploy, echo_zip, fname):
    deploy(echo_zip, Timeout=30)
    resp, body, out = invoke(lam, fname, {"op": "exit", "code": 2})
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ExitError", body
    assert "exit status 2" in out["errorMessage"], body
    _, body, after = invoke(lam, fname, {"op": "count"})
    assert after["count"] == 1, body


def test_shell_runtime_crash(lam, deploy, shell_zip, fname):
    deploy(shell_zip("shell-crash"), Timeout=30)
    for _ in range(2):  # each invocation gets a fresh environment
        resp, body, out = invoke(lam, fname, {"hello": 1})
        assert resp["FunctionError"] == "Unhandled"
        assert out["errorType"] == "Runtime.ExitError", body
        assert "exit status 3" in out["errorMessage"], body


def test_shell_runtime_hang_times_out(lam, deploy, shell_zip, fname):
    deploy(shell_zip("shell-hang"), Timeout=1)
    resp, body, out = invoke(lam, fname, {})
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in out["errorMessage"], body


def _kinds(tail: str) -> list[str]:
    """The Lambda platform lines of a log tail, by their first word."""
    platform = ("INIT_REPORT", "START", "END", "REPORT")
    return [line.split(" ")[0] for line in tail.splitlines() if line.split(" ")[0] in platform]


def test_init_error_reaches_the_invocation(lam, deploy, shell_zip, fname):
    deploy(shell_zip("shell-init-error"), Timeout=30)
    for _ in range(2):
        resp, body, out = invoke(lam, fname, {}, LogType="Tail")
        assert resp["StatusCode"] == 200
        assert resp["FunctionError"] == "Unhandled"
        assert out["errorType"] == "Runtime.ConfigError", body
        # As on Lambda: INIT_REPORT before START, REPORT with the error.
        tail = tail_log(resp)
        assert _kinds(tail) == ["INIT_REPORT", "START", "END", "REPORT"], tail
        assert "Status: error\tError Type: Runtime.ConfigError" in tail, tail


def test_a_runtime_exiting_during_init_logs_its_init_report(lam, deploy, fname):
    deploy(build_zip([("bootstrap", b"#!/bin/sh\necho starting\nexit 3\n", 0o755)]), Timeout=30)
    resp, body, out = invoke(lam, fname, {}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ExitError", body
    tail = tail_log(resp)
    assert _kinds(tail) == ["INIT_REPORT", "START", "END", "REPORT"], tail
    assert re.search(r"^INIT_REPORT .*\tStatus: error\tError Type: Runtime.ExitError$", tail, re.M), tail


def test_json_log_format_writes_platform_records(lam, deploy, echo_zip, fname):
    """With LoggingConfig LogFormat JSON, Lambda's system log lines are JSON
    records too: platform.start, platform.runtimeDone, platform.report."""
    deploy(echo_zip, Timeout=30, LoggingConfig={"LogFormat": "JSON"})
    resp, body, _ = invoke(lam, fname, {"op": "log", "lines": 1}, LogType="Tail")
    assert "FunctionError" not in resp, body
    records = [json.loads(line) for line in tail_log(resp).splitlines() if line.startswith("{")]
    assert [r["type"] for r in records] == ["platform.start", "platform.runtimeDone", "platform.report"], records
    request_id = resp["ResponseMetadata"]["RequestId"]
    assert all(r["record"]["requestId"] == request_id for r in records), records
    metrics = records[-1]["record"]["metrics"]
    assert metrics["memorySizeMB"] == 128 and metrics["maxMemoryUsedMB"] >= 1 and "initDurationMs" in metrics, records
    assert records[-1]["record"]["status"] == "success"
    assert "log line 1" in tail_log(resp)
    assert "START RequestId" not in tail_log(resp)


def test_missing_bootstrap(lam, deploy, fname):
    deploy(build_zip([("not-bootstrap", b"#!/bin/sh\n", 0o755)]), Timeout=30)
    resp, body, out = invoke(lam, fname, {}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint", body
    tail = tail_log(resp)
    assert _kinds(tail) == ["INIT_REPORT", "START", "END", "REPORT"], tail
    assert "Status: error\tError Type: Runtime.InvalidEntrypoint" in tail, tail


def test_shell_bootstrap_and_warm_counter(lam, deploy, shell_zip, fname):
    deploy(shell_zip("shell-echo"), Handler="function.handler", Timeout=30)
    _, body, first = invoke(lam, fname, {"hello": "world"})
    assert first["event"] == {"hello": "world"}, body
    assert first["count"] == 1
    _, _, second = invoke(lam, fname, {"hello": "again"})
    assert second["event"] == {"hello": "again"}
    assert second["count"] == 2
    assert second["env"] == first["env"]


def test_configuration_change_replaces_environment(lam, deploy, echo_zip, fname):
    deploy(echo_zip, Timeout=30, Environment={"Variables": {"GREETING": "hello"}})
    assert invoke(lam, fname, {"op": "count"})[2]["count"] == 1
    before = invoke(lam, fname, {"op": "count"})[2]
    assert before["count"] == 2
    lam.update_function_configuration(FunctionName=fname, Environment={"Variables": {"GREETING": "bye"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    after = invoke(lam, fname, {"op": "count"})[2]
    assert after["count"] == 1, "the environment of the old configuration was reused"
    assert invoke(lam, fname, {"op": "env"})[2]["GREETING"] == "bye"
    assert after["env"] != before["env"]
    wait_for(lambda: not env_alive(before["env"]), 30, what="the old environment to end")


def test_code_change_replaces_environment(lam, deploy, echo_zip, fname):
    deploy(echo_zip, Timeout=30)
    assert invoke(lam, fname, {"op": "count"})[2]["count"] == 1
    # Same binary, different zip (an extra file): new code, new environment.
    zip2 = build_zip([("bootstrap", _bootstrap_of(echo_zip), 0o755), ("VERSION", b"2")])
    assert lam.update_function_code(FunctionName=fname, ZipFile=zip2)["CodeSha256"] == code_sha256(zip2)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert invoke(lam, fname, {"op": "count"})[2]["count"] == 1


def _bootstrap_of(zip_bytes: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(zip_bytes)).read("bootstrap")


def test_deleted_function_environment_ends(lam, deploy, echo_zip, fname):
    deploy(echo_zip, Timeout=30)
    env = invoke(lam, fname, {"op": "count"})[2]["env"]
    assert env_alive(env), env
    lam.delete_function(FunctionName=fname)
    wait_for(lambda: not env_alive(env), 30, what="the deleted function's environment to end")


def test_logs_endpoint(lam, url, deploy, echo_zip, fname):
    deploy(echo_zip, Timeout=30)
    invoke(lam, fname, {"op": "log", "lines": 5})
    # END and REPORT are written behind the answer, as on Lambda: wait for them.
    wait_log_line(url, fname, "REPORT RequestId:")
    events = logs(url, fname, limit=1000)["events"]
    messages = [e["message"] for e in events]
    assert [m for m in messages if m.startswith("log line")] == [f"log line {i}" for i in range(1, 6)]
    assert any(m.startswith("START RequestId:") for m in messages)
    assert any(m.startswith("END RequestId:") for m in messages)
    assert any(m.startswith("REPORT RequestId:") for m in messages)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for e in events:
        assert e["timestamp"] > 1_600_000_000_000
        assert e["stream"]
        assert not e["message"].endswith("\n")

    # Paging with limit/after walks the same lines without overlap.
    walked, after = [], None
    for _ in range(len(events) + 2):
        params = {"limit": 2}
        if after is not None:
            params["after"] = after
        page = logs(url, fname, **params)
        assert len(page["events"]) <= 2
        if not page["events"]:
            break
        walked += page["events"]
        after = page["next_seq"]
    assert [e["seq"] for e in walked] == seqs

    # Nothing new after the end; `wait` returns when the wait ends.
    tail = logs(url, fname, after=after, wait=1)
    assert tail["events"] == []

    # `since` in the future filters everything out.
    assert logs(url, fname, since=events[-1]["timestamp"] + 3_600_000)["events"] == []

    r = requests.get(f"{url}/ignis/v1/functions/{fname}-missing/logs", timeout=30)
    assert r.status_code == 404


def test_logs_wait_returns_new_lines(lam, url, deploy, echo_zip, fname):
    deploy(echo_zip, Timeout=30)
    invoke(lam, fname, {"op": "count"})
    after = logs(url, fname, limit=1000)["next_seq"]
    got: dict = {}

    def follow():
        got["page"] = logs(url, fname, after=after, wait=20)

    t = threading.Thread(target=follow)
    t.start()
    invoke(lam, fname, {"op": "log", "lines": 1})
    t.join(60)
    assert got["page"]["events"], "a waiting logs request returned nothing although a line arrived"


def test_init_over_the_10s_limit_and_the_timeout_fails_the_invocation(lam, deploy, shell_zip, fname):
    # shell-slow-init sleeps 30 s before its first /next. Past Lambda's 10 s
    # init phase the init goes on under the function's timeout (3 s): the
    # invocation times out after both, well before the 30 s.
    deploy(shell_zip("shell-slow-init"), Timeout=3)
    resp, body, out = invoke(lam, fname, {}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorMessage"].endswith("Task timed out after 3.00 seconds"), body
    log = tail_log(resp)
    assert re.search(r"^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: timeout$", log, re.M), log
    assert _kinds(log) == ["INIT_REPORT", "START", "END", "REPORT"], log
    assert "Status: timeout" in log.splitlines()[-1], log


def test_an_init_longer_than_10s_completes_within_the_timeout(lam, deploy, fname):
    """As Lambda: an init that outlasts the 10 s init phase is given the
    function's timeout to finish, and the invocation then runs."""
    echo = FIXTURES / "shell-echo"
    bootstrap = (echo / "bootstrap").read_bytes().replace(b"set -euo pipefail\n", b"set -euo pipefail\nsleep 11\n", 1)
    code = build_zip([("bootstrap", bootstrap, 0o755), ("function.sh", (echo / "function.sh").read_bytes(), 0o644)])
    deploy(code, Handler="function.handler", Timeout=8)
    resp, body, _ = invoke(lam, fname, {"n": 1}, LogType="Tail")
    assert "FunctionError" not in resp, body
    log = tail_log(resp)
    assert re.search(r"^INIT_REPORT .*\tStatus: timeout$", log, re.M), log
    report = log.splitlines()[-1]
    assert report.startswith("REPORT ") and "Status:" not in report, log
    init_ms = float(re.search(r"Init Duration: ([\d.]+) ms", report).group(1))
    assert init_ms >= 11_000, report

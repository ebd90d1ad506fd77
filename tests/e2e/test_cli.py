"""The `ignis` client commands against the running server: deploy a folder,
invoke, logs, functions list/get/delete, and one-line errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from support import IGNIS_BIN, FIXTURES, wait_for


@pytest.fixture
def ignis(url):
    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(IGNIS_BIN), "--endpoint", url, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"ignis {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
def folder(tmp_path, rust_bootstrap):
    """A function folder as a user has it: an executable `bootstrap`."""
    path = tmp_path / "my-fn"
    path.mkdir()
    shutil.copy2(rust_bootstrap, path / "bootstrap")
    (path / "bootstrap").chmod(0o755)
    return path


@pytest.fixture
def deployed(ignis, folder, fname, lam):
    ignis("deploy", str(folder), "--name", fname, "--runtime", "provided.al2023")
    yield fname
    try:
        lam.delete_function(FunctionName=fname)
    except Exception:  # noqa: BLE001 - the test may have deleted it
        pass


def test_deploy_creates_an_active_function(deployed, lam):
    lam.get_waiter("function_active_v2").wait(FunctionName=deployed, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    conf = lam.get_function_configuration(FunctionName=deployed)
    assert conf["Runtime"] == "provided.al2023"
    assert conf["Handler"]


def test_deploy_again_updates_code(ignis, deployed, folder, lam):
    before = lam.get_function_configuration(FunctionName=deployed)["CodeSha256"]
    (folder / "extra.txt").write_text("new version\n")
    ignis("deploy", str(folder), "--name", deployed, "--runtime", "provided.al2023")
    lam.get_waiter("function_updated_v2").wait(FunctionName=deployed, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert lam.get_function_configuration(FunctionName=deployed)["CodeSha256"] != before


def test_deploy_shell_folder_keeps_executable_bit(ignis, fname, lam):
    ignis("deploy", str(FIXTURES / "shell-echo"), "--name", fname, "--runtime", "provided.al2023")
    try:
        lam.update_function_configuration(FunctionName=fname, Handler="function.handler")
        lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        out = ignis("invoke", fname, '{"via":"cli"}').stdout
        assert '"via"' in out and "cli" in out, out
    finally:
        lam.delete_function(FunctionName=fname)


def test_invoke_prints_the_result(ignis, deployed):
    out = ignis("invoke", deployed, '{"op":"count"}').stdout
    assert re.search(r'"count"\s*:\s*1\b', out), out
    out = ignis("invoke", deployed, '{"hello":"world"}').stdout
    assert re.search(r'"hello"\s*:\s*"world"', out), out


def test_invoke_function_error_is_shown(ignis, deployed):
    proc = ignis("invoke", deployed, '{"op":"error"}', check=False)
    assert "boom" in proc.stdout + proc.stderr


def test_event_invoke_names_its_request_id(ignis, deployed):
    proc = ignis("--json", "invoke", deployed, '{"x": 1}', "--event")
    out = json.loads(proc.stdout)
    assert out["StatusCode"] == 202 and re.fullmatch(r"[0-9a-f-]{36}", out["RequestId"]), proc.stdout
    proc = ignis("invoke", deployed, '{"x": 2}', "--event")
    assert re.search(r"queued: .* \(request id [0-9a-f-]{36}\)", proc.stderr), proc.stderr


def test_logs_show_report(ignis, deployed):
    ignis("invoke", deployed, '{"op":"log","lines":2}')
    out = wait_for(
        lambda: (o := ignis("logs", deployed).stdout) and "REPORT RequestId" in o and o, 30, what="REPORT in ignis logs"
    )
    assert "log line 2" in out
    assert "START RequestId" in out


def test_functions_list_get_delete(ignis, deployed):
    assert deployed in ignis("functions", "list").stdout
    got = ignis("functions", "get", deployed).stdout
    assert deployed in got
    ignis("functions", "delete", deployed)
    assert deployed not in ignis("functions", "list").stdout


def test_functions_get_json(ignis, deployed):
    proc = ignis("functions", "get", deployed, "--json", check=False)
    if proc.returncode != 0:
        proc = ignis("--json", "functions", "get", deployed)
    data = json.loads(proc.stdout)
    text = json.dumps(data)
    assert deployed in text


@pytest.mark.parametrize(
    "args",
    [("functions", "get"), ("functions", "delete"), ("invoke",), ("logs",)],
    ids=["get", "delete", "invoke", "logs"],
)
def test_missing_function_is_one_error_line(ignis, fname, args):
    cmd = [*args, fname]
    if args == ("invoke",):
        cmd.append("{}")
    proc = ignis(*cmd, check=False)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), proc.stderr
    assert fname in lines[0] or "not found" in lines[0].lower(), proc.stderr


def test_unreachable_endpoint_is_one_error_line():
    proc = subprocess.run(
        [str(IGNIS_BIN), "--endpoint", "http://127.0.0.1:9", "functions", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr

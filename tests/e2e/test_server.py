"""The `ignis serve` process itself, each test on a server of its own:
restart keeps functions, shutdown ends environments, idle reaping and the
node memory budget."""

from __future__ import annotations

import os
import re
import threading

import pytest
from botocore.exceptions import ClientError

from support import ROLE, Server, env_alive, error_code, error_message, invoke, lambda_client, logs, wait_for


def create(client, name, code, **config):
    params = {
        "FunctionName": name,
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Role": ROLE,
        "Code": {"ZipFile": code},
        "Timeout": 30,
    }
    params.update(config)
    client.create_function(**params)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def test_start_line_names_the_sandbox(own_server, tmp_path):
    # `auto` (the default) isolates environments in namespaces when running
    # as root; IGNIS_SANDBOX=process runs the suite on the process backend.
    srv = own_server()
    line = next(l for l in srv.stdout_path.read_text().splitlines() if l.startswith("sandbox: "))
    asked = os.environ.get("IGNIS_SANDBOX", "auto")
    expected = asked if asked != "auto" else ("namespace" if os.geteuid() == 0 else "process")
    assert re.fullmatch(rf"sandbox: {expected} \(.+\)", line), line
    if asked == "auto" and expected == "namespace":
        assert re.search(r"running as root; cgroup v[12]", line), line
    if asked == "auto" and expected == "process":
        assert "not root" in line, line


def test_restart_keeps_functions(own_server, tmp_path, echo_zip, shell_zip):
    first = own_server(tmp_path / "data")
    client = lambda_client(first.url)
    create(client, "kept-rust", echo_zip, Description="survives", Environment={"Variables": {"KEPT": "v"}})
    create(client, "kept-shell", shell_zip("shell-echo"), Handler="function.handler")
    before = client.get_function_configuration(FunctionName="kept-rust")
    env = invoke(client, "kept-rust", {"op": "count"})[2]["env"]
    assert env_alive(env), env
    assert first.stop() == 0
    wait_for(lambda: not env_alive(env), 15, what="environments to end with the server")

    second = own_server(tmp_path / "data")
    client = lambda_client(second.url)
    after = client.get_function_configuration(FunctionName="kept-rust")
    for key in ("FunctionArn", "CodeSha256", "CodeSize", "Description", "Environment", "LastModified", "Timeout"):
        assert after[key] == before[key], key
    assert after["State"] == "Active"
    names = {f["FunctionName"] for f in client.list_functions()["Functions"]}
    assert {"kept-rust", "kept-shell"} <= names
    _, body, out = invoke(client, "kept-rust", {"op": "count"})
    assert out["count"] == 1, body
    assert invoke(client, "kept-rust", {"op": "env"})[2]["KEPT"] == "v"
    assert invoke(client, "kept-shell", {"x": 1})[2]["event"] == {"x": 1}


def test_logs_follow_goes_on_across_a_restart(own_server, tmp_path, echo_zip):
    """`ignis logs --follow` waits out a restart of the server and prints the
    new server's lines: logs are in memory, and a restarted server numbers
    its lines after the old ones."""
    import queue
    import subprocess

    from support import IGNIS_BIN

    first = own_server(tmp_path / "data")
    client = lambda_client(first.url)
    create(client, "followed", echo_zip)
    follow = subprocess.Popen(
        [str(IGNIS_BIN), "--endpoint", first.url, "logs", "followed", "--follow"],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "follow.err", "w"), stdin=subprocess.DEVNULL, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follow.stdout], daemon=True).start()

    def printed(request_id: str) -> bool:
        seen = []
        while not lines.empty():
            seen.append(lines.get())
        printed.all += seen
        return any(f"START RequestId: {request_id}" in line for line in printed.all)

    printed.all = []
    try:
        resp, _, _ = invoke(client, "followed", {"n": 1})
        before = resp["ResponseMetadata"]["RequestId"]
        wait_for(lambda: printed(before), 30, what="the first invocation in the follow")
        assert first.stop() == 0
        port = first.url.rsplit(":", 1)[1]
        second = own_server(tmp_path / "data", listen=f"127.0.0.1:{port}")
        resp, _, _ = invoke(lambda_client(second.url), "followed", {"n": 2})
        after = resp["ResponseMetadata"]["RequestId"]
        try:
            wait_for(lambda: printed(after), 60, what="the restarted server's invocation in the follow")
        except AssertionError as e:
            raise AssertionError(f"{e}; follow exit {follow.poll()}, stderr:\n{(tmp_path / 'follow.err').read_text()}") from e
        assert follow.poll() is None, "the follow is still running"
    finally:
        follow.kill()
        follow.wait()


def test_sigterm_lets_inflight_invocations_finish(own_server, echo_zip):
    srv = own_server()
    client = lambda_client(srv.url)
    create(client, "inflight", echo_zip)
    env = invoke(client, "inflight", {"op": "count"})[2]["env"]
    result: dict = {}

    def slow():
        try:
            result["out"] = invoke(client, "inflight", {"op": "sleep", "ms": 2000})
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e

    t = threading.Thread(target=slow)
    t.start()
    wait_for(
        lambda: sum(e["message"].startswith("START") for e in logs(srv.url, "inflight")["events"]) >= 2,
        30,
        what="the slow invocation to start",
    )
    assert srv.stop(60) == 0
    t.join(60)
    assert "error" not in result, result
    resp, body, out = result["out"]
    assert "FunctionError" not in resp, body
    assert out["slept"] == 2000
    wait_for(lambda: not env_alive(env), 15, what="the environment to end with the server")


def test_killed_server_leaves_no_function_processes(own_server, echo_zip, shell_zip):
    srv = own_server()
    client = lambda_client(srv.url)
    create(client, "orphan-rust", echo_zip)
    create(client, "orphan-shell", shell_zip("shell-echo"), Handler="function.handler")
    envs = [invoke(client, "orphan-rust", {"op": "count"})[2]["env"], invoke(client, "orphan-shell", {})[2]["env"]]
    assert all(env_alive(env) for env in envs), envs
    srv.kill()
    for env in envs:
        wait_for(lambda env=env: not env_alive(env), 15, what=f"the processes of environment {env} to die with the server")


def test_idle_environments_are_reaped(own_server, echo_zip):
    srv = own_server(None, "--idle-timeout-secs", "1")
    client = lambda_client(srv.url)
    create(client, "idle", echo_zip)
    env = invoke(client, "idle", {"op": "count"})[2]["env"]
    wait_for(lambda: not env_alive(env), 30, what="the idle environment to be reaped")
    assert invoke(client, "idle", {"op": "count"})[2]["count"] == 1


def test_memory_budget_evicts_idle_environments(own_server, echo_zip):
    srv = own_server(None, "--memory-budget-mb", "256")
    client = lambda_client(srv.url)
    for name in ("evict-a", "evict-b", "evict-c"):
        create(client, name, echo_zip)
    env_a = invoke(client, "evict-a", {"op": "count"})[2]["env"]
    assert env_alive(env_a), env_a
    invoke(client, "evict-b", {"op": "count"})
    # A third environment needs room: the least recently used idle one goes.
    _, body, out = invoke(client, "evict-c", {"op": "count"})
    assert out["count"] == 1, body
    wait_for(lambda: not env_alive(env_a), 15, what="the LRU idle environment to be evicted")


def test_memory_budget_throttles_sync_and_queues_async(own_server, echo_zip):
    srv = own_server(None, "--memory-budget-mb", "256")
    client = lambda_client(srv.url)
    create(client, "budget", echo_zip)
    barrier = threading.Barrier(3)
    outcomes: list = []

    def one():
        barrier.wait(30)
        try:
            outcomes.append(invoke(client, "budget", {"op": "sleep", "ms": 3000})[2])
        except ClientError as e:
            outcomes.append(error_code(e))
            # Lambda's throttle names its reason; botocore parses it.
            reasons.append(e.response.get("Reason"))

    reasons: list = []
    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    # While both environments are busy, an Event invocation waits for room.
    wait_for(
        lambda: sum(e["message"].startswith("START") for e in logs(srv.url, "budget")["events"]) >= 2,
        30,
        what="two invocations to start",
    )
    queued = client.invoke(FunctionName="budget", InvocationType="Event", Payload=b'{"op":"log","lines":1}')
    assert queued["StatusCode"] == 202
    for t in threads:
        t.join(60)
    assert outcomes.count("TooManyRequestsException") == 1, outcomes
    assert reasons == ["ConcurrentInvocationLimitExceeded"], reasons
    assert sum(isinstance(o, dict) and o.get("slept") == 3000 for o in outcomes) == 2, outcomes
    wait_for(
        lambda: any(e["message"] == "log line 1" for e in logs(srv.url, "budget", limit=1000)["events"]),
        30,
        what="the queued Event invocation to run",
    )

    # A function bigger than the whole budget can never run here: a clear
    # error the SDK does not retry, not a throttle.
    create(client, "too-big", echo_zip, MemorySize=512)
    for kind in ("RequestResponse", "DryRun", "Event"):
        with pytest.raises(ClientError) as e:
            client.invoke(FunctionName="too-big", InvocationType=kind, Payload=b"{}")
        assert error_code(e.value) == "InvalidParameterValueException", kind
        assert "memory budget (256 MB)" in error_message(e.value)

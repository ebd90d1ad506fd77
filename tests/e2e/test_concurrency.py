"""Reserved concurrency and the node's concurrency limit (issue 11): the
operations in Lambda's wire format, a reservation capping the invocations a
function runs at once (sync beyond it: 429 with Lambda's Reason; Event:
waits), and reservations kept against the account limit less Lambda's 100
unreserved."""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from support import REGION, ROLE, build_zip, error_code, error_message, invoke, lambda_client, wait_for, all_log_lines

SLEEPER = '''\
import time

def main(event, context):
    began = time.time()
    time.sleep(event.get("sleep", 0))
    print("ran", event.get("tag", ""))
    return {"began": began, "ended": time.time()}
'''


@pytest.fixture
def sleeper(deploy, python, fname):
    deploy(build_zip([("handler.py", SLEEPER)]), Runtime=python, Handler="handler.main", Timeout=60)
    return fname


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


def test_reservation_operations_and_account_settings(lam, lam_raw, sleeper):
    before = lam.get_account_settings()["AccountLimit"]
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=sleeper)
    put = lam.put_function_concurrency(FunctionName=sleeper, ReservedConcurrentExecutions=3)
    assert put["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=sleeper)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName=sleeper)["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    after = lam.get_account_settings()["AccountLimit"]
    assert after["ConcurrentExecutions"] == before["ConcurrentExecutions"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 3
    lam.delete_function_concurrency(FunctionName=sleeper)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=sleeper)
    assert "Concurrency" not in lam.get_function(FunctionName=sleeper)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"]

    limit = before["ConcurrentExecutions"]
    e = refused(lambda: lam.put_function_concurrency(FunctionName=sleeper, ReservedConcurrentExecutions=limit - 99))
    assert error_code(e) == "InvalidParameterValueException"
    assert "below its minimum value of [100]" in error_message(e)
    e = refused(lambda: lam_raw.put_function_concurrency(FunctionName=sleeper, ReservedConcurrentExecutions=-1))
    assert error_code(e) == "ValidationException"
    e = refused(lambda: lam.put_function_concurrency(FunctionName="no-such-fn-x", ReservedConcurrentExecutions=1))
    assert error_code(e) == "ResourceNotFoundException"
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=sleeper), "refusals stored nothing"


def test_zero_throttles_sync_and_event_waits(lam, url, sleeper):
    lam.put_function_concurrency(FunctionName=sleeper, ReservedConcurrentExecutions=0)
    e = refused(lambda: lam.invoke(FunctionName=sleeper, Payload=b"{}"))
    assert error_code(e) == "TooManyRequestsException"
    assert e.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    queued = lam.invoke(FunctionName=sleeper, InvocationType="Event", Payload=json.dumps({"tag": "queued-event"}))
    assert queued["StatusCode"] == 202
    # The event waits while nothing may run, and runs once something may.
    time.sleep(1)
    assert not any("ran queued-event" in line for line in all_log_lines(url, sleeper))
    lam.delete_function_concurrency(FunctionName=sleeper)
    wait_for(lambda: any("ran queued-event" in line for line in all_log_lines(url, sleeper)), 60, what="the queued event to run")


def test_a_reservation_of_two_runs_two_at_once(url, sleeper):
    """Six concurrent sync invokes with a reservation of 2: at most two run
    at any moment (read from the functions' own clocks), the others are
    throttled with Lambda's Reason."""
    lam = lambda_client(url, pool=8)
    lam.put_function_concurrency(FunctionName=sleeper, ReservedConcurrentExecutions=2)

    def one(i):
        try:
            return invoke(lam, sleeper, {"sleep": 5, "tag": i})[2]
        except ClientError as e:
            return e.response

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    ran = [r for r in results if "began" in r]
    throttled = [r for r in results if r.get("Error", {}).get("Code") == "TooManyRequestsException"]
    assert len(ran) + len(throttled) == 6, results
    assert len(ran) >= 2 and throttled, results
    assert all(r["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded" for r in throttled)
    # At no moment did more than two run.
    points = sorted([(r["began"], 1) for r in ran] + [(r["ended"], -1) for r in ran])
    running, peak = 0, 0
    for _, step in points:
        running += step
        peak = max(peak, running)
    assert peak <= 2, ran


def test_aws_cli_concurrency(url, sleeper, tmp_path):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_MAX_ATTEMPTS="1")

    def aws(*args):
        out = subprocess.run(["aws", "--endpoint-url", url, "lambda", *args], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    assert aws("put-function-concurrency", "--function-name", sleeper, "--reserved-concurrent-executions", "5") == {"ReservedConcurrentExecutions": 5}
    assert aws("get-function-concurrency", "--function-name", sleeper) == {"ReservedConcurrentExecutions": 5}
    aws("delete-function-concurrency", "--function-name", sleeper)
    assert aws("get-function-concurrency", "--function-name", sleeper) == {}


def test_node_limit_flag_and_restart_keep_reservations(own_server, tmp_path, echo_zip):
    srv = own_server(tmp_path / "data", "--concurrency-limit", "150")
    lam = lambda_client(srv.url)
    lam.create_function(FunctionName="reserved", Runtime="provided.al2023", Handler="bootstrap", Role=ROLE, Code={"ZipFile": echo_zip})
    lam.get_waiter("function_active_v2").wait(FunctionName="reserved", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    settings = lam.get_account_settings()["AccountLimit"]
    assert (settings["ConcurrentExecutions"], settings["UnreservedConcurrentExecutions"]) == (150, 150)
    e = refused(lambda: lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=51))
    assert error_code(e) == "InvalidParameterValueException"
    lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=50)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    assert srv.stop() == 0

    srv = own_server(tmp_path / "data", "--concurrency-limit", "150")
    lam = lambda_client(srv.url)
    assert lam.get_function_concurrency(FunctionName="reserved")["ReservedConcurrentExecutions"] == 50
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=0)
    e = refused(lambda: lam.invoke(FunctionName="reserved", Payload=b"{}"))
    assert e.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"

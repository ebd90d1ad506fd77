"""Asynchronous invocation that loses nothing (issue 13, part 3): the
EventInvokeConfig operations (boto3 and the AWS CLI) and their errors,
retries with short configured delays, OnSuccess / OnFailure destinations
delivering Lambda's invocation record to another function, an oversized
async payload refused with nothing queued, the queue's backlog in
`/ignis/v1/functions/{name}/async` and `ignis functions get`, and the crash
test: `kill -9` with 1,000 events queued or running, restart, every event
ran, none lost."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from botocore.exceptions import ClientError

from support import (
    IGNIS_BIN,
    REGION,
    ROLE,
    Server,
    all_log_lines,
    aws_client,
    build_zip,
    error_code,
    error_message,
    lambda_client,
    wait_for,
)

# Fails the first `fail_times` attempts of each request id (the warm
# environment remembers), then answers.
FLAKY = '''\
seen = {}

def main(event, context):
    n = seen.get(context.aws_request_id, 0) + 1
    seen[context.aws_request_id] = n
    print(f"attempt {n} of {context.aws_request_id}")
    if event.get("fail_times", 0) >= n:
        raise RuntimeError(f"failing attempt {n}")
    return {"attempts": n, "event": event}
'''

# A destination: prints what it receives on one line.
RECORDER = '''\
import json

def main(event, context):
    print("RECORD " + json.dumps(event, separators=(",", ":")))
    return {}
'''

# The crash test's function: appends the event's id to a file of the host
# (the process sandbox), which outlives the server's kill.
APPENDER = '''\
import os
import time

def main(event, context):
    time.sleep(0.01)
    with open(os.environ["OUT"], "a") as f:
        f.write(event["id"] + "\\n")
    return {"id": event["id"]}
'''


def python_runtime(url: str) -> str:
    r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    for x in r.json()["Runtimes"]:
        if x["Runtime"].startswith("python3") and x["Available"]:
            return x["Runtime"]
    pytest.skip("no python3 interpreter on this machine")


def start_server(root, *args: str) -> Server:
    """A server whose retries come after 200 and 400 ms instead of 1 and 2 minutes."""
    old = os.environ.get("IGNIS_ASYNC_RETRY_DELAYS_MS")
    os.environ["IGNIS_ASYNC_RETRY_DELAYS_MS"] = "200,400"
    try:
        return Server(root / "data", root / "logs", list(args)).start()
    finally:
        if old is None:
            del os.environ["IGNIS_ASYNC_RETRY_DELAYS_MS"]
        else:
            os.environ["IGNIS_ASYNC_RETRY_DELAYS_MS"] = old


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("async"))
    yield s
    s.stop()
    assert not s.panics_since(0), s.stderr()[-8000:]


@pytest.fixture(scope="module")
def lam(srv):
    return lambda_client(srv.url)


@pytest.fixture(scope="module")
def lam_raw(srv):
    return lambda_client(srv.url, validate=False)


@pytest.fixture(scope="module")
def runtime(srv):
    return python_runtime(srv.url)


def make(lam, runtime: str, source: str, name: str | None = None, **config) -> str:
    name = name or f"async-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name, Runtime=runtime, Handler="handler.main", Role=ROLE,
        Code={"ZipFile": build_zip([("handler.py", source)])}, Timeout=30, **config,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name


def arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:000000000000:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def records(url: str, name: str) -> list[dict]:
    out = []
    for line in all_log_lines(url, name):
        if "RECORD " in line:
            out.append(json.loads(line.split("RECORD ", 1)[1]))
    return out


def backlog(url: str, name: str) -> dict:
    r = requests.get(f"{url}/ignis/v1/functions/{name}/async", timeout=30)
    r.raise_for_status()
    return r.json()


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


# ------------------------------------------------------------ the API


def test_event_invoke_config_operations(lam, runtime):
    fn = make(lam, runtime, FLAKY)
    dest = make(lam, runtime, RECORDER)
    put = lam.put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnSuccess": {"Destination": arn(dest)}},
    )
    assert put["FunctionArn"] == arn(fn, "$LATEST")
    assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 120
    assert put["DestinationConfig"] == {"OnSuccess": {"Destination": arn(dest)}, "OnFailure": {}}
    assert put["LastModified"].year >= 2024
    got = lam.get_function_event_invoke_config(FunctionName=fn)
    assert {k: got[k] for k in ("FunctionArn", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")} == \
        {k: put[k] for k in ("FunctionArn", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")}
    # $LATEST named explicitly is the same configuration.
    assert lam.get_function_event_invoke_config(FunctionName=fn, Qualifier="$LATEST")["MaximumRetryAttempts"] == 1

    # Update changes what it names and keeps the rest.
    upd = lam.update_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=0)
    assert upd["MaximumRetryAttempts"] == 0 and upd["MaximumEventAgeInSeconds"] == 120
    assert upd["DestinationConfig"]["OnSuccess"] == {"Destination": arn(dest)}
    # Put replaces the whole configuration.
    again = lam.put_function_event_invoke_config(FunctionName=fn, MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in again
    assert again["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    # A version and an alias have their own.
    version = lam.publish_version(FunctionName=fn)["Version"]
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=version)
    v = lam.put_function_event_invoke_config(FunctionName=fn, Qualifier=version, MaximumRetryAttempts=2)
    assert v["FunctionArn"] == arn(fn, version)
    a = lam.put_function_event_invoke_config(
        FunctionName=f"{fn}:live", DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}},
    )
    assert a["FunctionArn"] == arn(fn, "live")
    # A queue is stored and answered (not deliverable yet: see docs).
    assert lam.get_function_event_invoke_config(FunctionName=fn, Qualifier="live")["DestinationConfig"]["OnFailure"] == \
        {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}

    listed = lam.list_function_event_invoke_configs(FunctionName=fn)["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == sorted([arn(fn, "$LATEST"), arn(fn, version), arn(fn, "live")])
    # Paged.
    first = lam.list_function_event_invoke_configs(FunctionName=fn, MaxItems=2)
    assert len(first["FunctionEventInvokeConfigs"]) == 2 and first["NextMarker"]
    rest = lam.list_function_event_invoke_configs(FunctionName=fn, MaxItems=2, Marker=first["NextMarker"])
    assert len(rest["FunctionEventInvokeConfigs"]) == 1 and "NextMarker" not in rest
    paged = [c["FunctionArn"] for c in first["FunctionEventInvokeConfigs"] + rest["FunctionEventInvokeConfigs"]]
    assert sorted(paged) == sorted(c["FunctionArn"] for c in listed)

    lam.delete_function_event_invoke_config(FunctionName=fn, Qualifier=version)
    e = refused(lambda: lam.get_function_event_invoke_config(FunctionName=fn, Qualifier=version))
    assert error_code(e) == "ResourceNotFoundException"
    assert "doesn't have an EventInvokeConfig" in error_message(e)
    e = refused(lambda: lam.delete_function_event_invoke_config(FunctionName=fn, Qualifier=version))
    assert error_code(e) == "ResourceNotFoundException"
    assert len(lam.list_function_event_invoke_configs(FunctionName=fn)["FunctionEventInvokeConfigs"]) == 2


def test_event_invoke_config_errors(lam, lam_raw, runtime):
    fn = make(lam, runtime, FLAKY)
    before = lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=1)
    for field, value in [("MaximumRetryAttempts", 3), ("MaximumRetryAttempts", -1),
                         ("MaximumEventAgeInSeconds", 59), ("MaximumEventAgeInSeconds", 21601)]:
        for op in (lam_raw.put_function_event_invoke_config, lam_raw.update_function_event_invoke_config):
            e = refused(lambda: op(FunctionName=fn, **{field: value}))
            assert error_code(e) == "ValidationException", (field, value, e.response)
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert f"Value '{value}'" in error_message(e)
    # Nothing was changed by the refusals.
    assert lam.get_function_event_invoke_config(FunctionName=fn)["MaximumRetryAttempts"] == before["MaximumRetryAttempts"]

    for qualifier in ("7", "nope"):
        e = refused(lambda: lam.put_function_event_invoke_config(FunctionName=fn, Qualifier=qualifier, MaximumRetryAttempts=0))
        assert error_code(e) == "ResourceNotFoundException", e.response
        e = refused(lambda: lam.get_function_event_invoke_config(FunctionName=fn, Qualifier=qualifier))
        assert error_code(e) == "ResourceNotFoundException"
    missing = f"missing-{uuid.uuid4().hex[:6]}"
    for call in (lambda: lam.put_function_event_invoke_config(FunctionName=missing, MaximumRetryAttempts=0),
                 lambda: lam.list_function_event_invoke_configs(FunctionName=missing)):
        assert error_code(refused(call)) == "ResourceNotFoundException"

    # A destination must exist (and not be the function itself).
    for destination in (arn(missing), arn(fn), "not-an-arn"):
        e = refused(lambda: lam.put_function_event_invoke_config(
            FunctionName=fn, DestinationConfig={"OnFailure": {"Destination": destination}}))
        assert error_code(e) == "InvalidParameterValueException", (destination, e.response)
    assert lam.get_function_event_invoke_config(FunctionName=fn)["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    # Update needs a configuration to update.
    other = make(lam, runtime, FLAKY)
    e = refused(lambda: lam.update_function_event_invoke_config(FunctionName=other, MaximumRetryAttempts=0))
    assert error_code(e) == "ResourceNotFoundException"
    e = refused(lambda: lam.get_function_event_invoke_config(FunctionName=other))
    assert error_code(e) == "ResourceNotFoundException"
    assert lam.list_function_event_invoke_configs(FunctionName=other)["FunctionEventInvokeConfigs"] == []


def test_event_invoke_config_with_the_aws_cli(srv, lam, runtime, tmp_path):
    fn = make(lam, runtime, FLAKY)
    dest = make(lam, runtime, RECORDER)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_MAX_ATTEMPTS="1")

    def aws(*args, ok=True):
        out = subprocess.run(["aws", "--endpoint-url", srv.url, "lambda", *args], env=env,
                             capture_output=True, text=True, timeout=60)
        assert (out.returncode == 0) == ok, out.stderr
        return (json.loads(out.stdout) if out.stdout.strip() else {}) if ok else out.stderr

    put = aws("put-function-event-invoke-config", "--function-name", fn, "--maximum-retry-attempts", "0",
              "--destination-config", json.dumps({"OnFailure": {"Destination": arn(dest)}}))
    assert put["MaximumRetryAttempts"] == 0 and put["DestinationConfig"]["OnFailure"]["Destination"] == arn(dest)
    upd = aws("update-function-event-invoke-config", "--function-name", fn, "--maximum-event-age-in-seconds", "300")
    assert upd["MaximumEventAgeInSeconds"] == 300 and upd["MaximumRetryAttempts"] == 0
    assert aws("get-function-event-invoke-config", "--function-name", fn)["MaximumEventAgeInSeconds"] == 300
    listed = aws("list-function-event-invoke-configs", "--function-name", fn)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [arn(fn, "$LATEST")]
    aws("delete-function-event-invoke-config", "--function-name", fn)
    assert "ResourceNotFoundException" in aws("get-function-event-invoke-config", "--function-name", fn, ok=False)
    assert "ValidationException" in aws("put-function-event-invoke-config", "--function-name", fn,
                                        "--maximum-retry-attempts", "5", ok=False)


# ------------------------------------------------------------ retries and destinations


def start_lines(url: str, name: str, request_id: str) -> list[str]:
    return [l for l in all_log_lines(url, name) if l.startswith(f"START RequestId: {request_id}")]


def test_failing_twice_then_succeeding_is_retried_and_goes_to_on_success(srv, lam, runtime):
    fn = make(lam, runtime, FLAKY)
    dest = make(lam, runtime, RECORDER)
    lam.put_function_event_invoke_config(FunctionName=fn, DestinationConfig={"OnSuccess": {"Destination": arn(dest)}})
    event = {"fail_times": 2, "tag": "twice"}
    resp = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps(event))
    assert resp["StatusCode"] == 202
    request_id = resp["ResponseMetadata"]["RequestId"]
    got = wait_for(lambda: records(srv.url, dest), 120, what="the OnSuccess record")
    assert len(got) == 1, got
    r = got[0]
    assert r["version"] == "1.0" and r["timestamp"].endswith("Z")
    assert r["requestContext"] == {
        "requestId": request_id, "functionArn": arn(fn, "$LATEST"),
        "condition": "Success", "approximateInvokeCount": 3,
    }
    assert r["requestPayload"] == event
    assert r["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert r["responsePayload"] == {"attempts": 3, "event": event}
    # Three attempts, all under the id the 202 named.
    assert len(start_lines(srv.url, fn, request_id)) == 3
    assert sum(f"attempt 3 of {request_id}" in l for l in all_log_lines(srv.url, fn)) == 1
    wait_for(lambda: backlog(srv.url, fn)["Queued"] == 0 and backlog(srv.url, dest)["Queued"] == 0, 60, what="empty queues")


def test_exhausted_retries_go_to_on_failure(srv, lam, runtime):
    fn = make(lam, runtime, FLAKY)
    dest = make(lam, runtime, RECORDER)
    lam.put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=1,
        DestinationConfig={"OnSuccess": {"Destination": arn(dest)}, "OnFailure": {"Destination": arn(dest)}},
    )
    resp = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"fail_times": 9}))
    request_id = resp["ResponseMetadata"]["RequestId"]
    got = wait_for(lambda: records(srv.url, dest), 120, what="the OnFailure record")
    r = got[0]
    assert r["requestContext"]["condition"] == "RetriesExhausted"
    assert r["requestContext"]["approximateInvokeCount"] == 2
    assert r["requestContext"]["requestId"] == request_id
    assert r["responseContext"]["functionError"] == "Unhandled"
    assert r["responsePayload"]["errorType"] == "RuntimeError"
    assert "failing attempt 2" in r["responsePayload"]["errorMessage"]
    wait_for(lambda: backlog(srv.url, fn)["Queued"] == 0, 60, what="the event to leave the queue")
    # MaximumRetryAttempts 1: two attempts, no third, and one record.
    assert len(start_lines(srv.url, fn, request_id)) == 2
    assert len(records(srv.url, dest)) == 1


def test_queue_destinations_and_the_dead_letter_queue_get_their_messages(srv, lam, runtime):
    """OnSuccess / OnFailure to Ignis queues get Lambda's invocation record;
    a function's DeadLetterConfig queue gets the failed event itself with
    the RequestID / ErrorCode / ErrorMessage attributes."""
    sqs = aws_client(srv.url, "sqs")
    ok_q = sqs.create_queue(QueueName=f"ok-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    bad_q = sqs.create_queue(QueueName=f"bad-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dlq = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    qarn = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fn = make(lam, runtime, FLAKY, DeadLetterConfig={"TargetArn": qarn(dlq)})
    lam.put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": qarn(ok_q)}, "OnFailure": {"Destination": qarn(bad_q)}},
    )
    good = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"n": 1}))
    bad = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"fail_times": 9}))

    def one(url):
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10,
                                  MessageAttributeNames=["All"]).get("Messages", [])
        return got or None

    [ok] = wait_for(lambda: one(ok_q), 60, what="the OnSuccess record")
    record = json.loads(ok["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == good["ResponseMetadata"]["RequestId"]
    assert record["requestPayload"] == {"n": 1}
    assert record["responsePayload"]["attempts"] == 1

    [failed] = wait_for(lambda: one(bad_q), 60, what="the OnFailure record")
    record = json.loads(failed["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"

    [dead] = wait_for(lambda: one(dlq), 60, what="the dead letter")
    assert json.loads(dead["Body"]) == {"fail_times": 9}
    attrs = dead["MessageAttributes"]
    assert attrs["RequestID"] == {"StringValue": bad["ResponseMetadata"]["RequestId"], "DataType": "String"}
    assert attrs["ErrorCode"]["DataType"] == "Number"
    assert "failing attempt 1" in attrs["ErrorMessage"]["StringValue"]


def test_an_alias_destination_and_no_retries(srv, lam, runtime):
    fn = make(lam, runtime, FLAKY)
    dest = make(lam, runtime, RECORDER)
    version = lam.publish_version(FunctionName=dest)["Version"]
    lam.create_alias(FunctionName=dest, Name="rec", FunctionVersion=version)
    lam.put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn(dest, "rec")}},
    )
    resp = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"fail_times": 1}))
    got = wait_for(lambda: records(srv.url, dest), 120, what="the record at the alias")
    assert got[0]["requestContext"]["approximateInvokeCount"] == 1
    assert got[0]["requestContext"]["requestId"] == resp["ResponseMetadata"]["RequestId"]
    # The destination ran as its alias's version.
    assert any(l.startswith("START RequestId:") and f"Version: {version}" in l for l in all_log_lines(srv.url, dest))


def test_an_oversized_async_payload_is_refused_and_nothing_is_queued(srv, lam, runtime):
    fn = make(lam, runtime, FLAKY)
    e = refused(lambda: lam.invoke(FunctionName=fn, InvocationType="Event",
                                   Payload=b'"' + b"x" * (1024 * 1024 + 16) + b'"'))
    assert error_code(e) == "RequestTooLargeException"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert backlog(srv.url, fn)["Queued"] == 0
    # Just under the limit is queued and runs.
    ok = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"pad": "x" * (1024 * 1024 - 64)}))
    assert ok["StatusCode"] == 202
    request_id = ok["ResponseMetadata"]["RequestId"]
    wait_for(lambda: start_lines(srv.url, fn, request_id), 60, what="the event just under 1 MB to run")
    assert not [l for l in all_log_lines(srv.url, fn) if l.startswith("START") and request_id not in l]


def test_the_backlog_is_visible(srv, lam, runtime):
    fn = make(lam, runtime, FLAKY)
    assert backlog(srv.url, fn) == {"FunctionName": fn, "Queued": 0, "Claimed": 0, "OldestAgeSeconds": None}
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    for i in range(3):
        assert lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"i": i}))["StatusCode"] == 202
    b = wait_for(lambda: (lambda b: b if b["OldestAgeSeconds"] and b["OldestAgeSeconds"] > 0 else None)(backlog(srv.url, fn)),
                 30, what="a backlog with an age")
    assert b["Queued"] == 3
    out = subprocess.run([str(IGNIS_BIN), "--endpoint", srv.url, "functions", "get", fn],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert "async queue    3 events" in out.stdout, out.stdout
    missing = requests.get(f"{srv.url}/ignis/v1/functions/nope-{uuid.uuid4().hex[:6]}/async", timeout=30)
    assert missing.status_code == 404
    assert missing.headers["X-Amzn-ErrorType"].startswith("ResourceNotFoundException")
    lam.delete_function_concurrency(FunctionName=fn)
    wait_for(lambda: backlog(srv.url, fn)["Queued"] == 0, 60, what="the backlog to drain")
    out = subprocess.run([str(IGNIS_BIN), "--endpoint", srv.url, "functions", "get", fn],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "async queue    empty" in out.stdout, out.stdout


# ------------------------------------------------------------ the crash test


EVENTS = 1000


def test_kill_9_with_1000_events_queued_loses_none(tmp_path):
    """Every accepted event runs to success across a `kill -9` of the
    server; duplicates only for attempts running at the kill."""
    out_file = tmp_path / "ran.txt"
    out_file.touch()
    server = start_server(tmp_path / "one", "--sandbox", "process")
    data_dir = server.data_dir
    try:
        lam = lambda_client(server.url, pool=32)
        runtime = python_runtime(server.url)
        fn = make(lam, runtime, APPENDER, MemorySize=128, Environment={"Variables": {"OUT": str(out_file)}})
        # Nothing runs while the 1,000 are sent; then two at a time, so most
        # are still queued at the kill.
        lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
        ids = [f"ev-{i:04d}" for i in range(EVENTS)]

        def send(event_id):
            r = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"id": event_id}))
            assert r["StatusCode"] == 202
            return r["ResponseMetadata"]["RequestId"]

        with ThreadPoolExecutor(16) as pool:
            accepted = list(pool.map(send, ids))
        assert len(set(accepted)) == EVENTS
        assert backlog(server.url, fn)["Queued"] == EVENTS
        lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=2)
        # Some ran, many are still queued: kill -9.
        wait_for(lambda: len(out_file.read_text().split()) >= 50, 120, what="some events to run")
        before = backlog(server.url, fn)
    finally:
        server.kill()
    ran_before = out_file.read_text().split()
    print(f"\nat the kill: {len(ran_before)} attempts had run; the queue held {before['Queued']} "
          f"({before['Claimed']} claimed)")
    assert before["Queued"] > 0 and len(set(ran_before)) < EVENTS, "the kill came after the queue drained"

    restarted = Server(data_dir, tmp_path / "two" / "logs", ["--sandbox", "process"]).start()
    try:
        wait_for(lambda: set(out_file.read_text().split()) >= set(ids), 600, interval=1,
                 what="every event to run after the restart")
        wait_for(lambda: backlog(restarted.url, fn)["Queued"] == 0, 120, what="the queue to empty")
        ran = out_file.read_text().split()
        unexpected = set(ran) - set(ids)
        assert not unexpected, unexpected
        duplicates = {i: ran.count(i) for i in set(ran) if ran.count(i) > 1}
        print(f"after the restart: {len(set(ran))} of {EVENTS} events ran, none lost; "
              f"{len(ran)} attempts; {len(duplicates)} events ran twice (running at the kill): {sorted(duplicates)}")
        # Only events claimed at the kill can run again (the dispatcher
        # claims at most 64 at once; of them only the attempts that had
        # started ran before), and each at most twice.
        assert len(duplicates) <= 64 and all(n == 2 for n in duplicates.values()), duplicates
    finally:
        restarted.stop()
        assert not restarted.panics_since(0), restarted.stderr()[-8000:]

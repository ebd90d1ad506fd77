"""Invoke API against a function built with the real `lambda_runtime` crate:
invocation types, Tail logs, function errors, client context, warm reuse and
concurrency."""

from __future__ import annotations

import base64
import json
import re
import threading

import pytest
import requests
from botocore.exceptions import ClientError

from support import error_code, error_message, invoke, lambda_client, tail_log, wait_log_line


def test_request_response_echoes_bytes_identically(lam, echo_fn):
    # Odd spacing, key order, escapes and non-ASCII: a server that re-encodes
    # the JSON on the way in or out changes these bytes.
    payload = '{"z": 1,  "a": [1.50, "\\u00e9", "é", {"nested" :true}], "big": 12345678901234567890}'.encode()
    resp, body, _ = invoke(lam, echo_fn, payload)
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert body == payload
    assert resp["ExecutedVersion"] == "$LATEST"


def test_non_object_payloads_echo(lam, echo_fn):
    for payload in (b'"just a string"', b"[1,2,3]", b"42", b"null"):
        _, body, _ = invoke(lam, echo_fn, payload)
        assert body == payload


def test_empty_payload(lam, echo_fn):
    resp = lam.invoke(FunctionName=echo_fn)
    assert resp["StatusCode"] == 200


def test_event_invocation_runs_in_background(lam, url, echo_fn):
    resp = lam.invoke(FunctionName=echo_fn, InvocationType="Event", Payload=b'{"op":"log","lines":3}')
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    wait_log_line(url, echo_fn, "log line 3")
    # As on Lambda, the 202 names the request id the invocation runs under.
    request_id = resp["ResponseMetadata"]["RequestId"]
    lines = wait_log_line(url, echo_fn, f"REPORT RequestId: {request_id}")
    assert any(line.startswith(f"START RequestId: {request_id}") for line in lines), lines


def test_dry_run(lam, echo_fn):
    resp = lam.invoke(FunctionName=echo_fn, InvocationType="DryRun", Payload=b'{"op":"count"}')
    assert resp["StatusCode"] == 204
    # A dry run does not run the function: the first real invocation is still 1.
    _, _, out = invoke(lam, echo_fn, {"op": "count"})
    assert out["count"] == 1


def test_dry_run_of_missing_function(lam, fname):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=fname, InvocationType="DryRun")
    assert error_code(e.value) == "ResourceNotFoundException"


def test_log_type_tail(lam, echo_fn):
    cold = lam.invoke(FunctionName=echo_fn, LogType="Tail", Payload=b'{"op":"log","lines":2}')
    log = tail_log(cold)
    assert "log line 1" in log and "log line 2" in log, log
    start = re.search(r"^START RequestId: (\S+) Version: \$LATEST$", log, re.M)
    assert start, log
    request_id = start.group(1)
    assert re.search(rf"^END RequestId: {re.escape(request_id)}$", log, re.M), log
    report = re.search(rf"^REPORT RequestId: {re.escape(request_id)}\t.*$", log, re.M)
    assert report, log
    line = report.group(0)
    for field in (r"Duration: [\d.]+ ms", r"Billed Duration: \d+ ms", r"Memory Size: 128 MB", r"Max Memory Used: \d+ MB"):
        assert re.search(field, line), (field, line)
    assert re.search(r"Init Duration: [\d.]+ ms", line), line
    assert int(re.search(r"Max Memory Used: (\d+) MB", line).group(1)) >= 1

    warm = lam.invoke(FunctionName=echo_fn, LogType="Tail", Payload=b'{"op":"count"}')
    warm_log = tail_log(warm)
    warm_report = re.search(r"^REPORT RequestId: .*$", warm_log, re.M)
    assert warm_report, warm_log
    assert "Init Duration" not in warm_report.group(0)
    assert "log line 1" not in warm_log, "Tail must hold this invocation's log only"


def test_log_tail_is_at_most_4kb(lam, echo_fn):
    resp = lam.invoke(FunctionName=echo_fn, LogType="Tail", Payload=b'{"op":"log","lines":2000}')
    raw = base64.b64decode(resp["LogResult"])
    assert len(raw) <= 4096
    assert "REPORT RequestId" in raw.decode(errors="replace")


def test_no_log_result_without_tail(lam, echo_fn):
    resp = lam.invoke(FunctionName=echo_fn, Payload=b'{"op":"count"}')
    assert "LogResult" not in resp


def test_function_error(lam, echo_fn):
    resp, body, out = invoke(lam, echo_fn, {"op": "error"})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorMessage"] == "boom", body
    assert out["errorType"], body
    # The environment survives a function error.
    assert invoke(lam, echo_fn, {"op": "count"})[2]["count"] == 2


def test_panic_is_a_function_error(lam, echo_fn):
    resp, body, out = invoke(lam, echo_fn, {"op": "panic"})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert "errorType" in out and "errorMessage" in out, body
    assert invoke(lam, echo_fn, {"op": "count"})[2]["count"] >= 1


def test_context_reaches_the_runtime(lam, echo_fn):
    arn = lam.get_function_configuration(FunctionName=echo_fn)["FunctionArn"]
    client_context = {"custom": {"tenant": "acme"}, "env": {"platform": "e2e"}}
    resp, body, out = invoke(
        lam,
        echo_fn,
        {"op": "context"},
        ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode(),
    )
    assert "FunctionError" not in resp, body
    assert out["request_id"]
    assert out["invoked_function_arn"] == arn
    assert out["client_context"]["custom"] == {"tenant": "acme"}
    assert out["deadline"] > 0


def test_a_client_context_with_non_ascii_text_and_newlines_arrives_whole(lam, echo_fn):
    """The runtime receives it in a header: it must get there as one ASCII
    line holding the same document (lambda_runtime exits on non-ASCII
    header bytes)."""
    client_context = {"custom": {"city": "Zürich 🚀", "quote": 'a "b"'}}
    encoded = base64.b64encode(json.dumps(client_context, indent=2, ensure_ascii=False).encode()).decode()
    resp, body, out = invoke(lam, echo_fn, {"op": "context"}, ClientContext=encoded)
    assert "FunctionError" not in resp, body
    assert out["client_context"]["custom"] == client_context["custom"], body


def test_the_qualifier_the_caller_names_is_in_the_invoked_arn(lam, echo_fn):
    arn = lam.get_function_configuration(FunctionName=echo_fn)["FunctionArn"]
    for kwargs in ({"FunctionName": echo_fn, "Qualifier": "$LATEST"}, {"FunctionName": f"{echo_fn}:$LATEST"}):
        resp = lam.invoke(Payload=b'{"op":"context"}', **kwargs)
        out = json.loads(resp["Payload"].read())
        assert out["invoked_function_arn"] == f"{arn}:$LATEST", (kwargs, out)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=f"{echo_fn}:$LATEST", Qualifier="1", Payload=b"{}")
    assert error_code(e.value) == "InvalidParameterValueException"
    assert "does not match the specified qualifier" in error_message(e.value)


def test_the_callers_trace_header_reaches_the_runtime(url, echo_fn):
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    r = requests.post(
        f"{url}/2015-03-31/functions/{echo_fn}/invocations",
        data=b'{"op":"context"}',
        headers={"X-Amzn-Trace-Id": trace},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json()["xray_trace_id"] == trace
    # Without one, the runtime gets a fresh trace id.
    fresh = requests.post(f"{url}/2015-03-31/functions/{echo_fn}/invocations", data=b'{"op":"context"}', timeout=60)
    assert fresh.json()["xray_trace_id"].startswith("Root=1-"), fresh.text
    assert fresh.json()["xray_trace_id"] != trace


@pytest.mark.parametrize("context", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_client_context_that_is_not_a_json_object_is_refused(lam, echo_fn, context):
    """The runtime parses it as a JSON object (lambda_runtime exits on
    anything else): it is refused before it reaches one."""
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=echo_fn, Payload=b"{}", ClientContext=base64.b64encode(context).decode())
    assert error_code(e.value) == "InvalidParameterValueException"
    assert "Client context must be a valid Base64-encoded JSON object." in error_message(e.value)
    assert invoke(lam, echo_fn, {"op": "count"})[2]["count"] >= 1


def test_response_request_id_is_the_invocations(lam, echo_fn):
    # As on Lambda: x-amzn-RequestId of the Invoke response is the request id
    # the runtime saw and the START/END/REPORT lines name.
    resp, body, out = invoke(lam, echo_fn, {"op": "context"}, LogType="Tail")
    request_id = resp["ResponseMetadata"]["RequestId"]
    assert out["request_id"] == request_id, body
    assert f"START RequestId: {request_id} " in tail_log(resp)


def test_deadline_is_the_timeout(lam, echo_fn):
    # echo_fn has Timeout=30.
    _, _, remaining = invoke(lam, echo_fn, {"op": "remaining"})
    assert 0 < remaining <= 31_000, remaining


def test_warm_reuse(lam, echo_fn):
    _, _, first = invoke(lam, echo_fn, {"op": "count"})
    _, _, second = invoke(lam, echo_fn, {"op": "count"})
    assert first["count"] == 1
    assert second["count"] == 2
    assert first["env"] == second["env"]


def test_concurrent_invocations_get_their_own_environments(url, echo_fn):
    client = lambda_client(url, pool=16)
    barrier = threading.Barrier(8)
    results: list = []
    errors: list = []

    def one():
        try:
            barrier.wait(30)
            results.append(invoke(client, echo_fn, {"op": "sleep", "ms": 1000}))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 8
    for resp, body, _ in results:
        assert "FunctionError" not in resp, body
    envs = {out["env"] for _, _, out in results}
    assert len(envs) == 8, envs


# Over-limit requests use a client of their own: whether the server keeps the
# connection usable after a 413 is test_bad_input's concern.


def test_sync_payload_over_6mb(lam, url, echo_fn):
    with pytest.raises(ClientError) as e:
        lambda_client(url).invoke(FunctionName=echo_fn, Payload=b'"' + b"x" * (6 * 1024 * 1024 + 16) + b'"')
    assert error_code(e.value) == "RequestTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert invoke(lam, echo_fn, {"op": "count"})[2]["count"] == 1


def test_async_payload_over_1mb(url, echo_fn):
    with pytest.raises(ClientError) as e:
        lambda_client(url).invoke(FunctionName=echo_fn, InvocationType="Event", Payload=b'"' + b"x" * (1024 * 1024 + 16) + b'"')
    assert error_code(e.value) == "RequestTooLargeException"


def test_sync_payload_just_under_6mb(lam, echo_fn):
    payload = b'"' + b"x" * (6 * 1024 * 1024 - 1024) + b'"'
    resp, body, _ = invoke(lam, echo_fn, payload)
    assert "FunctionError" not in resp, body[:200]
    assert body == payload


def test_oversized_response_is_an_error_not_a_hang(url, echo_fn):
    client = lambda_client(url, read_timeout=60)
    try:
        resp, body, out = invoke(client, echo_fn, {"op": "big", "bytes": 7_000_000})
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] >= 400
    else:
        assert resp.get("FunctionError"), f"a {len(body)}-byte response passed the 6 MB limit"
        assert len(body) < 6 * 1024 * 1024
        assert out and "errorType" in out, body[:500]
    # The function still answers.
    resp, body, out = invoke(client, echo_fn, {"op": "big", "bytes": 10})
    assert out == "x" * 10, body


def test_invalid_json_payload(url, echo_fn):
    r = requests.post(f"{url}/2015-03-31/functions/{echo_fn}/invocations", data=b"{not json", timeout=60)
    assert r.status_code == 400
    assert r.headers.get("X-Amzn-ErrorType", "").split(":")[0] == "InvalidRequestContentException"
    assert r.json()["Type"] == "User"


def test_a_payload_with_invalid_utf8_in_a_string_is_refused(url, echo_fn):
    r = requests.post(f"{url}/2015-03-31/functions/{echo_fn}/invocations", data=b'{"a":"\xff\xfe"}', timeout=60)
    assert r.status_code == 400, r.text
    assert r.headers.get("X-Amzn-ErrorType", "").split(":")[0] == "InvalidRequestContentException"


def test_unknown_invocation_type(url, echo_fn):
    r = requests.post(
        f"{url}/2015-03-31/functions/{echo_fn}/invocations",
        data=b"{}",
        headers={"X-Amz-Invocation-Type": "Sometimes"},
        timeout=60,
    )
    assert r.status_code == 400
    assert r.headers.get("X-Amzn-ErrorType", "").split(":")[0] in (
        "InvalidParameterValueException",
        "ValidationException",
    )


def test_invoke_async_queues_an_event(lam, url, echo_fn):
    """InvokeAsync, Lambda's deprecated Event form, is queued and answered 202."""
    resp = lam.invoke_async(FunctionName=echo_fn, InvokeArgs=b'{"via": "invoke-async"}')
    assert resp["Status"] == 202
    wait_log_line(url, echo_fn, "REPORT RequestId")
    with pytest.raises(ClientError) as e:
        lam.invoke_async(FunctionName=echo_fn, InvokeArgs=b"not json")
    assert error_code(e.value) == "InvalidRequestContentException"

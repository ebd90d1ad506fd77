"""Response streaming (issue 13, part 2): InvokeWithResponseStream read with
boto3's event stream and with botocore's own event-stream parser, Node.js
functions written with `awslambda.streamifyResponse`, errors mid-stream,
the log tail, functions not written for streaming, and proof that the first
chunk reaches a real client before the function writes the second —
asserted by order of arrival, never by a timing bound."""

from __future__ import annotations

import base64
import json
import shutil

import pytest
import requests
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from support import all_log_lines, build_zip, error_code, wait_log_line

pytestmark = pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")

STREAMING = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  if (event.contentType) responseStream.setContentType(event.contentType);
  for (const part of event.parts || []) {
    responseStream.write(part.hex !== undefined ? Buffer.from(part.hex, 'hex') : part);
    await new Promise((ok) => setTimeout(ok, 5));
  }
  if (event.log) console.log(event.log);
  if (event.fail) throw new Error(event.fail);
  responseStream.end();
});
"""

# Writes its first chunk, then waits for the caller's signal: a tag on the
# function, which the test sets only once it holds that chunk (through the
# function's AWS_ENDPOINT_URL). Without an endpoint (--network none) it
# sleeps 2 s instead. Either way it logs AFTER-WAIT before the second chunk.
WAITS_FOR_THE_CLIENT = """\
const http = require('http');
const get = (url) => new Promise((ok, fail) => {
  http.get(url, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => ok(body));
  }).on('error', fail);
});
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/plain');
  responseStream.write('first;');
  console.log('first chunk written');
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (endpoint && event.arn) {
    const path = `${endpoint}/2017-03-31/tags/${encodeURIComponent(event.arn)}`;
    for (;;) {
      const tags = (JSON.parse(await get(path)).Tags) || {};
      if (tags.received === 'first') break;
      await new Promise((ok) => setTimeout(ok, 50));
    }
  } else {
    await new Promise((ok) => setTimeout(ok, 2000));
  }
  console.log('AFTER-WAIT');
  responseStream.write('second');
  responseStream.end();
});
"""

SLEEPS = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('one;');
  await new Promise((ok) => setTimeout(ok, 2000));
  console.log('AFTER-SLEEP');
  responseStream.write('two');
  responseStream.end();
});
"""

HTTP_STREAM = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const s = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201, headers: { 'x-custom': 'yes' }, cookies: ['a=1'],
  });
  s.write('hello ');
  s.end('world');
});
"""

CONTEXT = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const custom = context.clientContext && context.clientContext.custom;
  responseStream.write(JSON.stringify({
    version: process.env.AWS_LAMBDA_FUNCTION_VERSION, arn: context.invokedFunctionArn, custom,
  }));
  responseStream.end();
});
"""

# Writes `event.mb` MB in 1 MB chunks.
LARGE = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const mb = Buffer.alloc(1024 * 1024, 'x');
  for (let i = 0; i < event.mb; i++) {
    if (!responseStream.write(mb)) await new Promise((ok) => responseStream.once('drain', ok));
  }
  responseStream.end();
});
"""


@pytest.fixture
def node_fn(url, deploy, fname):
    """Deploys a Node.js function from `index.js` source; returns its name."""
    runtimes = requests.get(f"{url}/ignis/v1/runtimes", timeout=30).json()["Runtimes"]
    runtime = next((r["Runtime"] for r in runtimes if r["Runtime"].startswith("nodejs") and r["Available"]), None)
    if runtime is None:
        pytest.skip("no Node.js runtime on this node")

    def make(source: str, **config) -> str:
        config.setdefault("Timeout", 60)
        deploy(build_zip([("index.js", source)]), Runtime=runtime, Handler="index.handler", **config)
        return fname

    return make


def stream(lam, name: str, payload, **kw):
    """InvokeWithResponseStream read with boto3's event stream: (response,
    payload chunks, InvokeComplete events)."""
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(payload), **kw)
    chunks, complete = [], []
    for event in resp["EventStream"]:
        if "PayloadChunk" in event:
            assert not complete, "a chunk after InvokeComplete"
            chunks.append(event["PayloadChunk"]["Payload"])
        elif "InvokeComplete" in event:
            complete.append(event["InvokeComplete"])
        else:
            raise AssertionError(f"unexpected event {event}")
    assert len(complete) == 1, complete
    return resp, chunks, complete[0]


def test_payload_chunks_join_to_what_the_function_wrote(lam, node_fn):
    name = node_fn(STREAMING)
    parts = ["stream", "ing ", "works ✓", {"hex": "00ff10"}]
    resp, chunks, complete = stream(lam, name, {"parts": parts, "contentType": "text/plain"})
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert resp["ResponseStreamContentType"] == "text/plain"
    assert b"".join(chunks) == "streaming works ✓".encode() + bytes.fromhex("00ff10")
    assert len(chunks) >= 2, chunks  # written apart, streamed apart
    assert "ErrorCode" not in complete and "LogResult" not in complete, complete


def test_an_error_mid_stream_ends_it_with_its_error_code(lam, node_fn):
    name = node_fn(STREAMING)
    _, chunks, complete = stream(lam, name, {"parts": ["partial"], "fail": "mid-stream failure"})
    assert b"".join(chunks) == b"partial"
    assert complete["ErrorCode"] == "Error", complete
    assert "mid-stream failure" in complete["ErrorDetails"], complete
    # The environment still serves.
    _, chunks, complete = stream(lam, name, {"parts": ["again"]})
    assert b"".join(chunks) == b"again" and "ErrorCode" not in complete


def test_log_type_tail_puts_the_log_in_invoke_complete(lam, node_fn):
    name = node_fn(STREAMING)
    _, chunks, complete = stream(lam, name, {"parts": ["x"], "log": "hello from the stream"}, LogType="Tail")
    assert b"".join(chunks) == b"x"
    log = base64.b64decode(complete["LogResult"]).decode()
    assert "hello from the stream" in log, log
    assert "START RequestId" in log and "REPORT RequestId" in log, log


def test_http_response_stream_prelude_is_streamed_as_written(lam, node_fn):
    name = node_fn(HTTP_STREAM)
    resp, chunks, complete = stream(lam, name, {})
    assert resp["ResponseStreamContentType"] == "application/vnd.awslambda.http-integration-response"
    head, body = b"".join(chunks).split(b"\0" * 8, 1)
    assert json.loads(head) == {"statusCode": 201, "headers": {"x-custom": "yes"}, "cookies": ["a=1"]}
    assert body == b"hello world"
    assert "ErrorCode" not in complete


def test_a_function_not_written_for_streaming_answers_in_one_chunk(lam, echo_fn):
    resp, chunks, complete = stream(lam, echo_fn, {"echo": [1, 2, 3]})
    assert resp["StatusCode"] == 200
    assert json.loads(b"".join(chunks)) == {"echo": [1, 2, 3]}
    assert len(chunks) == 1 and "ErrorCode" not in complete


def test_a_crash_is_an_error_code_without_chunks(lam, deploy, shell_zip, fname):
    deploy(shell_zip("shell-crash"), Timeout=10)
    _, chunks, complete = stream(lam, fname, {})
    assert chunks == []
    assert complete["ErrorCode"] == "Runtime.ExitError", complete
    assert "Runtime exited" in complete["ErrorDetails"], complete


def test_botocore_parser_reads_the_raw_event_stream(url, lam, node_fn):
    """The bytes on the wire, parsed by botocore.eventstream.EventStreamBuffer
    (which checks both CRCs of every message)."""
    name = node_fn(STREAMING)
    r = requests.post(
        f"{url}/2021-11-15/functions/{name}/response-streaming-invocations",
        data=json.dumps({"parts": ["a", "bc"], "fail": "late"}),
        stream=True,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.headers["X-Amz-Executed-Version"] == "$LATEST"
    buf = EventStreamBuffer()
    messages = []
    for data in r.raw.stream(1024, decode_content=False):
        buf.add_data(data)
        messages.extend(buf)
    headers = [m.headers for m in messages]
    assert [h[":event-type"] for h in headers] == ["PayloadChunk", "PayloadChunk", "InvokeComplete"], headers
    assert all(h[":message-type"] == "event" for h in headers)
    assert [h[":content-type"] for h in headers] == ["application/octet-stream"] * 2 + ["application/json"]
    assert [m.payload for m in messages[:2]] == [b"a", b"bc"]
    assert json.loads(messages[2].payload)["ErrorCode"] == "Error"


def test_the_first_chunk_reaches_the_client_before_the_function_writes_the_second(url, lam, node_fn):
    name = node_fn(WAITS_FOR_THE_CLIENT)
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"arn": arn}))
    events = iter(resp["EventStream"])
    first = next(events)
    assert first["PayloadChunk"]["Payload"] == b"first;"
    # The function has not gone past its wait: it logs AFTER-WAIT only once
    # the tag below is set (or, without an endpoint, after sleeping).
    lines = all_log_lines(url, name)
    assert not any("AFTER-WAIT" in line for line in lines), lines
    lam.tag_resource(Resource=arn, Tags={"received": "first"})
    rest = list(events)
    assert [e["PayloadChunk"]["Payload"] for e in rest if "PayloadChunk" in e] == [b"second"], (
        rest,
        all_log_lines(url, name)[-20:],
    )
    assert "ErrorCode" not in rest[-1]["InvokeComplete"], rest


def test_a_function_that_writes_sleeps_and_writes_is_read_chunk_by_chunk(url, lam, node_fn):
    name = node_fn(SLEEPS)
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")
    events = iter(resp["EventStream"])
    assert next(events)["PayloadChunk"]["Payload"] == b"one;"
    # Received while the function sleeps: its line after the sleep is not
    # written yet.
    assert not any("AFTER-SLEEP" in line for line in all_log_lines(url, name))
    rest = list(events)
    assert rest[0]["PayloadChunk"]["Payload"] == b"two"
    wait_log_line(url, name, "AFTER-SLEEP")


def test_dry_run_and_refusals(lam, node_fn):
    name = node_fn(STREAMING)
    resp = lam.invoke_with_response_stream(FunctionName=name, InvocationType="DryRun", Payload=b"{}")
    assert resp["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.invoke_with_response_stream(FunctionName=name + "-missing", Payload=b"{}")
    assert error_code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.invoke_with_response_stream(FunctionName=name, Payload=b"not json")
    assert error_code(e.value) == "InvalidRequestContentException"


def test_awss_own_node_client_streams_through_the_runtime_api(lam, deploy, fname):
    """The same streaming handler on AWS's own Node.js runtime client
    (npm's aws-lambda-ric, as tests/e2e/test_official_clients.py builds it):
    its chunked streaming response and its error trailers, as Lambda reads
    them."""
    from test_official_clients import FUNCTION_PATH, _node_ric_modules, _zip_tree

    modules = _node_ric_modules()
    node = shutil.which("node", path=FUNCTION_PATH)
    if node is None:
        pytest.skip(f"no node on the function PATH {FUNCTION_PATH}")
    bootstrap = f'#!/bin/sh\ncd "$LAMBDA_TASK_ROOT"\nexec {node} node_modules/.bin/aws-lambda-ric index.handler\n'
    deploy(_zip_tree(modules.parent, [("bootstrap", bootstrap, 0o755), ("index.js", STREAMING)]), Timeout=60)
    resp, chunks, complete = stream(lam, fname, {"parts": ["official ", "client"], "contentType": "text/plain"})
    assert resp["ResponseStreamContentType"] == "text/plain"
    assert b"".join(chunks) == b"official client"
    assert "ErrorCode" not in complete, complete
    _, chunks, complete = stream(lam, fname, {"parts": ["partial"], "fail": "mid-stream failure"})
    assert b"".join(chunks) == b"partial"
    assert complete["ErrorCode"] == "Error", complete
    assert "mid-stream failure" in complete["ErrorDetails"], complete


def test_qualifier_and_client_context_reach_the_function(lam, node_fn):
    name = node_fn(CONTEXT)
    version = lam.publish_version(FunctionName=name)["Version"]
    cc = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    resp, chunks, complete = stream(lam, name, {}, Qualifier=version, ClientContext=cc)
    assert resp["ExecutedVersion"] == version
    doc = json.loads(b"".join(chunks))
    assert doc["version"] == version, doc
    assert doc["arn"].endswith(f":function:{name}:{version}"), doc
    assert doc["custom"] == {"k": "v"}, doc
    assert "ErrorCode" not in complete


def test_a_stream_past_20_mb_stops_there_with_response_size_too_large(lam, node_fn):
    name = node_fn(LARGE, MemorySize=512)
    _, chunks, complete = stream(lam, name, {"mb": 21})
    assert sum(len(c) for c in chunks) == 20 * 1024 * 1024
    assert complete["ErrorCode"] == "Function.ResponseSizeTooLarge", complete
    assert "20971520 bytes" in complete["ErrorDetails"], complete
    # 20 MB exactly is within the limit, and the environment still serves.
    _, chunks, complete = stream(lam, name, {"mb": 20})
    assert sum(len(c) for c in chunks) == 20 * 1024 * 1024
    assert "ErrorCode" not in complete, complete

"""Ignis's Node.js runtime client (runtimes/node/bootstrap.js) against a fake
Runtime API: no server, no Lambda. Each test writes a function's code into a
temporary directory, starts `node bootstrap.js` there with the environment the
server gives a managed runtime, feeds it invocations over a tiny HTTP server
and checks what it posts back and what it logs.

No conftest.py on purpose (tests/runtimes is shared with other runtimes'
suites): the fake Runtime API and the process plumbing come from
fake_runtime_api.py."""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import time
import uuid
from pathlib import Path

import pytest

from fake_runtime_api import (
    ClientProcess, Posted, PostedRuntimeAPI, interpreter_or_skip, invocation_headers, lambda_env, write_tree,
)

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / "runtimes" / "node" / "bootstrap.js"
# IGNIS_TEST_NODE runs the suite under another interpreter (Node 18–24).
NODE = interpreter_or_skip("IGNIS_TEST_NODE", "node", "test_node_runtime")

WAIT = 10.0  # seconds: generous upper bound for anything to arrive
TEXT_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\t([^\t]+)\t(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\t(.*)$"
)


# --------------------------------------------------------------------------
# Runtime process, against the fake Runtime API (fake_runtime_api.py)


class NodeRuntime(ClientProcess):
    def __init__(self, code_dir: Path, handler: str, env: dict | None = None, opt_dir: Path | None = None,
                 bootstrap: Path = BOOTSTRAP):
        self.api = PostedRuntimeAPI()
        self.code_dir = code_dir
        self.env = lambda_env(
            self.api.address,
            handler,
            code_dir,
            opt_dir or code_dir.parent / "opt-empty",
            execution_env="AWS_Lambda_nodejs20.x",
            function_name="node-fn",
            memory="256",
            log_stream="2025/01/01/[$LATEST]0123456789abcdef",
            path=os.environ.get("PATH", "/usr/bin:/bin"),
            extra={"AWS_DEFAULT_REGION": "us-east-1", "LANG": "en_US.UTF-8"},
            overrides=env,
        )
        self.launch([NODE, str(bootstrap)], cwd=code_dir, env=self.env, separate_stderr=True)

    # invocations ----------------------------------------------------------
    def send(self, event=None, *, raw: bytes | None = None, request_id: str | None = None,
             timeout_ms: int = 30000, headers: dict | None = None) -> str:
        request_id = request_id or str(uuid.uuid4())
        body = raw if raw is not None else json.dumps(event).encode("utf-8")
        hdrs = {
            "Content-Type": "application/json",
            **invocation_headers(
                request_id,
                timeout_ms,
                arn="arn:aws:lambda:us-east-1:123456789012:function:node-fn",
                trace="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            ),
        }
        hdrs.update(headers or {})
        self.api.events.put((body, hdrs))
        return request_id

    def next_posted(self, timeout: float = WAIT) -> Posted:
        try:
            return self.api.posted.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"runtime posted nothing within {timeout}s (exit={self.proc.poll()})\n"
                f"stdout:\n{self.stdout()}\nstderr:\n{self.stderr()}"
            ) from None

    def invoke(self, event=None, **kw) -> Posted:
        request_id = self.send(event, **kw)
        posted = self.next_posted()
        assert posted.request_id == request_id, posted
        return posted

    def init_error(self) -> Posted:
        posted = self.next_posted()
        assert posted.kind == "init_error", posted
        return posted

    def wait_exit(self, timeout: float = WAIT) -> int:
        return self.proc.wait(timeout=timeout)

    # logs -----------------------------------------------------------------
    def stdout(self) -> str:
        return self.log()

    def stderr(self) -> str:
        return "\n".join(self.err_lines)

    def log_lines(self) -> list[str]:
        return list(self.lines)

    def wait_log(self, predicate, timeout: float = WAIT) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in list(self.lines):
                if predicate(line):
                    return line
            time.sleep(0.01)
        raise AssertionError(f"no matching log line; stdout:\n{self.stdout()}\nstderr:\n{self.stderr()}")

    def stop(self):
        self.kill(timeout=WAIT)
        self.api.close()
        self.join_readers(timeout=2)


@pytest.fixture
def node_runtime(tmp_path):
    """Factory: node_runtime({relative path: source}, handler, env=..., opt=...)"""
    started: list[NodeRuntime] = []

    def start(files: dict, handler: str, env: dict | None = None, opt_files: dict | None = None,
              code_dir: str = "task") -> NodeRuntime:
        root = tmp_path / code_dir
        write_files(root, files)
        opt_dir = tmp_path / "opt"
        write_files(opt_dir, opt_files or {})
        rt = NodeRuntime(root, handler, env=env, opt_dir=opt_dir)
        started.append(rt)
        return rt

    yield start
    for rt in started:
        rt.stop()


def write_files(root: Path, files: dict):
    write_tree(root, files, encoding="utf-8")


def assert_success(posted: Posted):
    assert posted.kind == "response", f"{posted}"
    return posted.json


def assert_error(posted: Posted, error_type: str):
    assert posted.kind in ("error", "init_error"), f"{posted}"
    body = posted.json
    assert body["errorType"] == error_type, body
    assert posted.headers.get("lambda-runtime-function-error-type") == error_type
    assert isinstance(body["errorMessage"], str)
    assert isinstance(body["trace"], list)
    return body


# --------------------------------------------------------------------------
# Module formats and handler resolution

ECHO_CJS = """
exports.handler = async (event, context) => ({ format: 'cjs', event });
"""


def test_commonjs_async_handler(node_runtime):
    rt = node_runtime({"index.js": ECHO_CJS}, "index.handler")
    assert assert_success(rt.invoke({"a": 1})) == {"format": "cjs", "event": {"a": 1}}


def test_mjs_handler(node_runtime):
    rt = node_runtime(
        {"index.mjs": "export const handler = async (event) => ({ format: 'mjs', n: event.n * 2 });"},
        "index.handler",
    )
    assert assert_success(rt.invoke({"n": 21})) == {"format": "mjs", "n": 42}


def test_cjs_extension(node_runtime):
    rt = node_runtime({"index.cjs": "module.exports.handler = async () => 'from .cjs';"}, "index.handler")
    assert assert_success(rt.invoke({})) == "from .cjs"


SEED_TS_ESM = """\
export const main = async (event) => {
  console.log(JSON.stringify(event));
  return { statusCode: 200, body: JSON.stringify({ message: 'hello from ignis', input: event }) };
};
"""

SEED_TS_CJS = """\
"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.main = void 0;
const main = async (event) => {
    console.log(JSON.stringify(event));
    return { statusCode: 200, body: JSON.stringify({ message: 'hello from ignis', input: event }) };
};
exports.main = main;
"""


def test_seed_typescript_example_as_es_module(node_runtime):
    """tsc output with "module": "ES2022" in a package with "type": "module"."""
    rt = node_runtime(
        {"handler.js": SEED_TS_ESM, "package.json": json.dumps({"name": "seed", "type": "module"})},
        "handler.main",
    )
    out = assert_success(rt.invoke({"name": "ignis"}))
    assert out["statusCode"] == 200
    assert json.loads(out["body"]) == {"message": "hello from ignis", "input": {"name": "ignis"}}


def test_seed_typescript_example_as_commonjs(node_runtime):
    rt = node_runtime({"handler.js": SEED_TS_CJS, "package.json": '{"name": "seed"}'}, "handler.main")
    out = assert_success(rt.invoke({"name": "ignis"}))
    assert out["statusCode"] == 200
    assert json.loads(out["body"])["input"] == {"name": "ignis"}


def test_type_module_in_parent_directory_applies_to_nested_handler(node_runtime):
    rt = node_runtime(
        {
            "package.json": '{"type": "module"}',
            "src/app.js": "export const handler = async () => ({ where: import.meta.url.endsWith('/src/app.js') });",
        },
        "src/app.handler",
    )
    assert assert_success(rt.invoke({})) == {"where": True}


def test_nested_property_path_and_subdirectory(node_runtime):
    rt = node_runtime(
        {"lib/api/index.js": "exports.routes = { get: { item: async (e) => ({ got: e.id }) } };"},
        "lib/api/index.routes.get.item",
    )
    assert assert_success(rt.invoke({"id": 7})) == {"got": 7}


def test_js_preferred_over_mjs_and_cjs(node_runtime):
    rt = node_runtime(
        {
            "index.js": "exports.handler = async () => 'js';",
            "index.mjs": "export const handler = async () => 'mjs';",
            "index.cjs": "exports.handler = async () => 'cjs';",
        },
        "index.handler",
    )
    assert assert_success(rt.invoke({})) == "js"


def test_mjs_preferred_over_cjs(node_runtime):
    rt = node_runtime(
        {
            "index.mjs": "export const handler = async () => 'mjs';",
            "index.cjs": "exports.handler = async () => 'cjs';",
        },
        "index.handler",
    )
    assert assert_success(rt.invoke({})) == "mjs"


def test_es_module_with_top_level_await(node_runtime):
    rt = node_runtime(
        {"index.mjs": "const v = await Promise.resolve(5);\nexport const handler = async () => v;"},
        "index.handler",
    )
    assert assert_success(rt.invoke({})) == 5


# --------------------------------------------------------------------------
# Programming models


def test_promise_returning_handler(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = (e) => new Promise((ok) => setTimeout(() => ok({ p: e.v }), 20));"},
        "index.handler",
    )
    assert assert_success(rt.invoke({"v": "x"})) == {"p": "x"}


def test_callback_handler(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = (e, ctx, cb) => { setTimeout(() => cb(null, { cb: e.v }), 10); };"},
        "index.handler",
    )
    assert assert_success(rt.invoke({"v": 3})) == {"cb": 3}


def test_callback_error_and_non_error_values(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
exports.handler = (e, ctx, cb) => {
  if (e.kind === 'error') cb(new TypeError('typed'));
  else if (e.kind === 'string') cb('just a string');
  else if (e.kind === 'object') cb({ code: 42 });
  else cb(null, 'fine');
};
"""
        },
        "index.handler",
    )
    body = assert_error(rt.invoke({"kind": "error"}), "TypeError")
    assert body["errorMessage"] == "typed"
    assert body["trace"][0] == "TypeError: typed"
    body = assert_error(rt.invoke({"kind": "string"}), "string")
    assert body == {"errorType": "string", "errorMessage": "just a string", "trace": []}
    body = assert_error(rt.invoke({"kind": "object"}), "object")
    assert body["errorMessage"] == "[object Object]"
    assert assert_success(rt.invoke({"kind": "ok"})) == "fine"


def test_sync_handler_return_value_is_ignored_like_lambda(node_runtime):
    """On nodejs18.x–22.x a non-async handler answers through the callback;
    its return value is dropped and the response is null once the event loop
    is empty."""
    rt = node_runtime({"index.js": "exports.handler = (e) => ({ ignored: true });"}, "index.handler")
    posted = rt.invoke({})
    assert posted.kind == "response" and posted.body == b"null"


def test_undefined_result_is_null(node_runtime):
    rt = node_runtime({"index.js": "exports.handler = async () => undefined;"}, "index.handler")
    posted = rt.invoke({})
    assert posted.kind == "response" and posted.body == b"null"


CALLBACK_WAITS = """
let fired = 0;
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  const before = fired;
  if (event.timer) setTimeout(() => { fired += 1; }, event.timer);
  callback(null, { before, wait: context.callbackWaitsForEmptyEventLoop });
};
"""


def test_callback_waits_for_empty_event_loop_true(node_runtime):
    rt = node_runtime({"index.js": CALLBACK_WAITS}, "index.handler")
    start = time.time()
    out = assert_success(rt.invoke({"wait": True, "timer": 600}))
    elapsed = time.time() - start
    assert out == {"before": 0, "wait": True}
    assert elapsed >= 0.55, f"response sent before the event loop was empty ({elapsed:.3f}s)"


def test_callback_waits_for_empty_event_loop_false(node_runtime):
    rt = node_runtime({"index.js": CALLBACK_WAITS}, "index.handler")
    start = time.time()
    out = assert_success(rt.invoke({"wait": False, "timer": 600}))
    elapsed = time.time() - start
    assert out == {"before": 0, "wait": False}
    assert elapsed < 0.45, f"response waited for the pending timer ({elapsed:.3f}s)"
    # The timer kept running in the same environment after the response.
    time.sleep(0.8)
    assert assert_success(rt.invoke({"wait": False, "timer": 0}))["before"] == 1


def test_context_done_succeed_fail(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
exports.handler = (event, context) => {
  setTimeout(() => {}, 500); // done/succeed/fail never wait for the event loop
  if (event.m === 'succeed') context.succeed({ via: 'succeed' });
  else if (event.m === 'done') context.done(null, { via: 'done' });
  else if (event.m === 'done-error') context.done(new Error('done failed'));
  else if (event.m === 'fail') context.fail(new Error('failed'));
  else if (event.m === 'fail-empty') context.fail();
  else if (event.m === 'twice') { context.succeed('first'); context.succeed('second'); }
};
"""
        },
        "index.handler",
    )
    start = time.time()
    assert assert_success(rt.invoke({"m": "succeed"})) == {"via": "succeed"}
    assert time.time() - start < 0.45
    assert assert_success(rt.invoke({"m": "done"})) == {"via": "done"}
    assert assert_error(rt.invoke({"m": "done-error"}), "Error")["errorMessage"] == "done failed"
    assert assert_error(rt.invoke({"m": "fail"}), "Error")["errorMessage"] == "failed"
    assert assert_error(rt.invoke({"m": "fail-empty"}), "string")["errorMessage"] == "handled"
    assert assert_success(rt.invoke({"m": "twice"})) == "first"
    # no second post for the same invocation
    with pytest.raises(AssertionError):
        rt.next_posted(timeout=0.3)


def test_init_once_per_environment(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
globalThis.inits = (globalThis.inits || 0) + 1;
let calls = 0;
console.log('init ran');
exports.handler = async () => ({ inits: globalThis.inits, calls: ++calls });
"""
        },
        "index.handler",
    )
    results = [assert_success(rt.invoke({})) for _ in range(3)]
    assert results == [{"inits": 1, "calls": 1}, {"inits": 1, "calls": 2}, {"inits": 1, "calls": 3}]
    assert sum("init ran" in line for line in rt.log_lines()) == 1


def test_keep_alive_connection(node_runtime):
    rt = node_runtime({"index.js": ECHO_CJS}, "index.handler")
    for i in range(4):
        assert_success(rt.invoke({"i": i}))
    assert len(rt.api.connections) == 1, rt.api.connections


def test_async_handler_whose_promise_never_settles(node_runtime):
    rt = node_runtime({"index.js": "exports.handler = async () => new Promise(() => {});"}, "index.handler")
    body = assert_error(rt.invoke({}), "Runtime.NodeJsExit")
    assert "Promise that was never settled" in body["errorMessage"]
    # the environment stays usable
    assert_error(rt.invoke({}), "Runtime.NodeJsExit")


# --------------------------------------------------------------------------
# Context


def test_context_fields(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
exports.handler = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  awsRequestId: context.awsRequestId,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  clientContext: context.clientContext,
  identity: context.identity,
  waits: context.callbackWaitsForEmptyEventLoop,
  helpers: [typeof context.done, typeof context.succeed, typeof context.fail],
  trace: process.env._X_AMZN_TRACE_ID || null,
  region: process.env.AWS_REGION,
});
"""
        },
        "index.handler",
    )
    client_context = {"client": {"installation_id": "i-1"}, "custom": {"k": "v"}, "env": {}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    posted = rt.invoke(
        {},
        request_id="req-0001",
        headers={
            "Lambda-Runtime-Client-Context": json.dumps(client_context),
            "Lambda-Runtime-Cognito-Identity": json.dumps(identity),
            "Lambda-Runtime-Trace-Id": "Root=1-abc;Sampled=0",
        },
    )
    out = assert_success(posted)
    assert out == {
        "functionName": "node-fn",
        "functionVersion": "$LATEST",
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:node-fn",
        "memoryLimitInMB": "256",
        "awsRequestId": "req-0001",
        "logGroupName": "/aws/lambda/node-fn",
        "logStreamName": "2025/01/01/[$LATEST]0123456789abcdef",
        "clientContext": client_context,
        "identity": identity,
        "waits": True,
        "helpers": ["function", "function", "function"],
        "trace": "Root=1-abc;Sampled=0",
        "region": "us-east-1",
    }
    # _X_AMZN_TRACE_ID follows each invocation and is removed when absent;
    # absent client context / identity are undefined (dropped from the JSON).
    out = assert_success(rt.invoke({}, headers={"Lambda-Runtime-Trace-Id": ""}))
    assert out["trace"] is None
    assert "clientContext" not in out and "identity" not in out


def test_get_remaining_time_in_millis(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
exports.handler = async (event, context) => {
  const first = context.getRemainingTimeInMillis();
  await new Promise((ok) => setTimeout(ok, 200));
  return { first, second: context.getRemainingTimeInMillis() };
};
"""
        },
        "index.handler",
    )
    out = assert_success(rt.invoke({}, timeout_ms=3000))
    assert 1500 < out["first"] <= 3000, out
    assert 150 <= out["first"] - out["second"] <= 1000, out


def test_malformed_client_context_fails_the_invocation(node_runtime):
    rt = node_runtime({"index.js": ECHO_CJS}, "index.handler")
    body = assert_error(rt.invoke({}, headers={"Lambda-Runtime-Client-Context": "{nope"}), "Error")
    assert body["errorMessage"].startswith("Cannot parse ClientContext as json")
    assert_success(rt.invoke({"ok": 1}))


# --------------------------------------------------------------------------
# Errors


def test_thrown_error_shape(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
class PaymentDeclined extends Error {
  constructor(m) { super(m); this.name = 'PaymentDeclined'; }
}
exports.handler = async (event) => {
  if (event.custom) throw new PaymentDeclined('card refused');
  throw new TypeError('cannot read the thing');
};
"""
        },
        "index.handler",
    )
    posted = rt.invoke({})
    body = assert_error(posted, "TypeError")
    assert set(body) == {"errorType", "errorMessage", "trace"}
    assert body["errorMessage"] == "cannot read the thing"
    assert body["trace"][0] == "TypeError: cannot read the thing"
    assert any("index.js" in frame for frame in body["trace"][1:]), body["trace"]
    assert posted.headers.get("content-type", "").startswith("application/json")
    body = assert_error(rt.invoke({"custom": True}), "PaymentDeclined")
    assert body["errorMessage"] == "card refused"
    # An error fails the invocation, not the environment.
    rt.wait_log(lambda l: "\tERROR\tInvoke Error \t" in l and "PaymentDeclined" in l)
    assert rt.proc.poll() is None


def test_sync_throw_in_handler(node_runtime):
    rt = node_runtime({"index.js": "exports.handler = () => { throw new RangeError('sync'); };"}, "index.handler")
    assert assert_error(rt.invoke({}), "RangeError")["errorMessage"] == "sync"


def test_import_error_missing_module(node_runtime):
    rt = node_runtime({"other.js": ECHO_CJS}, "index.handler")
    body = assert_error(rt.init_error(), "Runtime.ImportModuleError")
    assert body["errorMessage"].startswith("Error: Cannot find module 'index'"), body
    assert body["trace"][0].startswith("Runtime.ImportModuleError: Error: Cannot find module 'index'")
    assert rt.wait_exit() != 0
    rt.wait_log(lambda l: "\tundefined\tERROR\tUncaught Exception \t" in l and "Runtime.ImportModuleError" in l)


def test_import_error_missing_dependency(node_runtime):
    rt = node_runtime({"index.js": "const x = require('left-pad-nope');\nexports.handler = async () => x;"},
                      "index.handler")
    body = assert_error(rt.init_error(), "Runtime.ImportModuleError")
    assert body["errorMessage"].startswith("Error: Cannot find module 'left-pad-nope'"), body
    assert rt.wait_exit() != 0


def test_es_module_missing_package_is_reported_like_lambda(node_runtime):
    rt = node_runtime({"index.mjs": "import x from 'nope-pkg';\nexport const handler = async () => x;"},
                      "index.handler")
    body = assert_error(rt.init_error(), "Error")
    assert "Cannot find package 'nope-pkg'" in body["errorMessage"], body
    assert rt.wait_exit() != 0


def test_handler_not_found(node_runtime):
    rt = node_runtime({"index.js": ECHO_CJS}, "index.nope")
    body = assert_error(rt.init_error(), "Runtime.HandlerNotFound")
    assert body["errorMessage"] == "index.nope is undefined or not exported"
    assert rt.wait_exit() != 0


def test_handler_not_a_function(node_runtime):
    rt = node_runtime({"index.js": "exports.value = 42;"}, "index.value")
    body = assert_error(rt.init_error(), "Runtime.HandlerNotFound")
    assert body["errorMessage"] == "index.value is not a function"


@pytest.mark.parametrize(
    "handler, message",
    [
        ("index", "Bad handler"),
        ("../index.handler", "'../index.handler' is not a valid handler name. Use absolute paths when "
                             "specifying root directories in handler names."),
    ],
)
def test_malformed_handler_name(node_runtime, handler, message):
    rt = node_runtime({"index.js": ECHO_CJS}, handler)
    body = assert_error(rt.init_error(), "Runtime.MalformedHandlerName")
    assert body["errorMessage"] == message


@pytest.mark.parametrize("filename", ["index.js", "index.mjs"])
def test_user_code_syntax_error(node_runtime, filename):
    rt = node_runtime({filename: "exports.handler = async () => {\n  return {;\n};\n"}, "index.handler")
    body = assert_error(rt.init_error(), "Runtime.UserCodeSyntaxError")
    assert body["errorMessage"].startswith("SyntaxError: "), body
    assert body["trace"][0].startswith("Runtime.UserCodeSyntaxError: SyntaxError: ")
    assert rt.wait_exit() != 0


def test_error_thrown_during_init(node_runtime):
    rt = node_runtime({"index.js": "throw new Error('config missing');"}, "index.handler")
    body = assert_error(rt.init_error(), "Error")
    assert body["errorMessage"] == "config missing"
    assert rt.wait_exit() == 129


def test_unhandled_rejection_during_init(node_runtime):
    rt = node_runtime(
        {"index.js": "Promise.reject(new Error('init reject'));\nexports.handler = async () => 1;"},
        "index.handler",
    )
    body = assert_error(rt.init_error(), "Runtime.UnhandledPromiseRejection")
    assert body["errorMessage"] == "Error: init reject"
    assert rt.wait_exit() == 128


def test_crash_while_waiting_for_the_first_invocation(node_runtime):
    """An exception thrown by init code after the runtime started polling is
    still an init error, and the pending long poll does not hold it back."""
    rt = node_runtime(
        {"index.js": "setTimeout(() => { throw new Error('late init'); }, 300);\nexports.handler = async () => 1;"},
        "index.handler",
    )
    body = assert_error(rt.init_error(), "Error")
    assert body["errorMessage"] == "late init"
    assert rt.wait_exit() == 129


def test_unhandled_rejection_during_invoke(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
exports.handler = async () => {
  Promise.reject(new Error('nobody caught me'));
  await new Promise((ok) => setTimeout(ok, 300));
  return 'too late';
};
"""
        },
        "index.handler",
    )
    body = assert_error(rt.invoke({}), "Runtime.UnhandledPromiseRejection")
    assert body["errorMessage"] == "Error: nobody caught me"
    assert body["trace"][0] == "Runtime.UnhandledPromiseRejection: Error: nobody caught me"
    assert rt.wait_exit() == 128
    rt.wait_log(lambda l: "\tERROR\tUnhandled Promise Rejection \t" in l)


def test_uncaught_exception_during_invoke(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = (e, c, cb) => { setTimeout(() => { throw new RangeError('kaboom'); }, 10); };"},
        "index.handler",
    )
    body = assert_error(rt.invoke({}), "RangeError")
    assert body["errorMessage"] == "kaboom"
    assert rt.wait_exit() == 129


def test_unserializable_result(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = async () => { const o = {}; o.self = o; return o; };"}, "index.handler"
    )
    body = assert_error(rt.invoke({}), "Error")
    assert body["errorMessage"] == "Unable to stringify response body"
    assert_error(rt.invoke({}), "Error")  # still alive


def test_invalid_json_event(node_runtime):
    rt = node_runtime({"index.js": ECHO_CJS}, "index.handler")
    assert assert_error(rt.invoke(raw=b"{not json"), "SyntaxError")
    assert_success(rt.invoke({"fine": True}))


# --------------------------------------------------------------------------
# Payloads


def test_five_megabyte_payload_round_trip(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = async (e) => ({ len: e.blob.length, blob: e.blob });"}, "index.handler"
    )
    blob = ("0123456789abcdef" * 65536 * 5)[: 5 * 1024 * 1024]
    out = assert_success(rt.invoke({"blob": blob}))
    assert out["len"] == len(blob)
    assert out["blob"] == blob


def test_unicode_round_trip_and_logs(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = async (e) => { console.log('got', e.text); return { echo: e.text, "
                     "len: [...e.text].length }; };"},
        "index.handler",
    )
    text = "héllo wörld — 世界 🚀 \u0000 \u2028"
    out = assert_success(rt.invoke({"text": text}))
    assert out == {"echo": text, "len": len(text)}
    rt.wait_log(lambda l: "got héllo wörld — 世界 🚀" in l)


# --------------------------------------------------------------------------
# Logs

LOGGING = """
console.log('init log');
exports.handler = async (event) => {
  console.log('log %s %d', 'formatted', 42, { a: 1 });
  console.info('info line');
  console.warn('warn line');
  console.error('error line');
  console.debug('debug line');
  console.trace('trace line');
  console.log('multi\\nline');
  console.error(new Error('logged error'));
  console.log({ structured: true, n: 1 });
  return 'ok';
};
"""


def test_console_text_format(node_runtime):
    rt = node_runtime({"index.js": LOGGING}, "index.handler")
    rid = "11111111-2222-3333-4444-555555555555"
    assert_success(rt.invoke({}, request_id=rid))
    rt.wait_log(lambda l: "structured" in l)
    lines = rt.log_lines()
    parsed = [TEXT_LINE.match(l) for l in lines]
    assert all(parsed), lines
    by_message = {m.group(4): m for m in parsed}
    init = by_message["init log"]
    assert init.group(2) == "undefined" and init.group(3) == "INFO"
    expect = {
        "log formatted 42 { a: 1 }": "INFO",
        "info line": "INFO",
        "warn line": "WARN",
        "error line": "ERROR",
        "debug line": "DEBUG",
        "trace line": "TRACE",
        "multi\rline": "INFO",
        "{ structured: true, n: 1 }": "INFO",
    }
    for message, level in expect.items():
        m = by_message.get(message)
        assert m, (message, lines)
        assert m.group(2) == rid and m.group(3) == level
    err = next(m for m in parsed if m.group(4).startswith("Error: logged error"))
    assert err.group(3) == "ERROR"
    assert "\r    at " in err.group(4)  # stack kept on one line


def test_console_json_format(node_runtime):
    rt = node_runtime({"index.js": LOGGING}, "index.handler", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    rid = "aaaaaaaa-2222-3333-4444-555555555555"
    assert_success(rt.invoke({}, request_id=rid))
    rt.wait_log(lambda l: "structured" in l)
    records = [json.loads(l) for l in rt.log_lines()]
    init = records[0]
    assert init["message"] == "init log" and init["level"] == "INFO" and "requestId" not in init
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", init["timestamp"])
    invoke = [r for r in records if r.get("requestId") == rid]
    by_message = {r["message"] if isinstance(r["message"], str) else json.dumps(r["message"]): r for r in invoke}
    assert by_message["log formatted 42 { a: 1 }"]["level"] == "INFO"
    assert by_message["warn line"]["level"] == "WARN"
    assert by_message["debug line"]["level"] == "DEBUG"
    assert by_message["trace line"]["level"] == "TRACE"
    assert by_message["multi\nline"]["level"] == "INFO"
    structured = next(r for r in invoke if r["message"] == {"structured": True, "n": 1})
    assert structured["level"] == "INFO"
    err = next(r for r in invoke if isinstance(r["message"], dict) and r["message"].get("errorType") == "Error")
    assert err["level"] == "ERROR"
    assert err["message"]["errorMessage"] == "logged error"
    assert err["message"]["stackTrace"][0] == "Error: logged error"


def test_json_log_level_filter(node_runtime):
    rt = node_runtime(
        {"index.js": LOGGING},
        "index.handler",
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"},
    )
    assert_success(rt.invoke({}))
    rt.wait_log(lambda l: "logged error" in l)
    levels = {json.loads(l)["level"] for l in rt.log_lines()}
    assert levels == {"WARN", "ERROR"}


def test_invoke_error_is_logged_in_json(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = async () => { throw new TypeError('json boom'); };"},
        "index.handler",
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON"},
    )
    assert_error(rt.invoke({}), "TypeError")
    line = rt.wait_log(lambda l: "json boom" in l)
    record = json.loads(line)
    assert record["level"] == "ERROR"
    assert record["message"]["errorType"] == "TypeError"
    assert record["message"]["errorMessage"] == "json boom"


# --------------------------------------------------------------------------
# Layers ($IGNIS_OPT_DIR plays /opt)

LAYER_LIB = {
    "nodejs/node_modules/layer-lib/package.json": '{"name": "layer-lib", "version": "1.0.0", "main": "index.js"}',
    "nodejs/node_modules/layer-lib/index.js": "exports.shout = (s) => s.toUpperCase() + '!';",
}


def test_layer_module_without_node_path(node_runtime):
    rt = node_runtime(
        {"index.js": "const { shout } = require('layer-lib');\nexports.handler = async (e) => shout(e.s);"},
        "index.handler",
        env={"NODE_PATH": None},
        opt_files=LAYER_LIB,
    )
    assert assert_success(rt.invoke({"s": "layer"})) == "LAYER!"


def test_layer_module_with_server_node_path(node_runtime, tmp_path):
    opt = tmp_path / "opt"
    node_path = f"{opt}/nodejs/node_modules:{opt}/nodejs/node20/node_modules"
    rt = node_runtime(
        {"index.js": "const { shout } = require('layer-lib');\nexports.handler = async (e) => shout(e.s);"},
        "index.handler",
        env={"NODE_PATH": node_path},
        opt_files=LAYER_LIB,
    )
    assert assert_success(rt.invoke({"s": "env"})) == "ENV!"


def test_layer_module_imported_from_es_module(node_runtime):
    rt = node_runtime(
        {"index.mjs": "import { shout } from 'layer-lib';\nexport const handler = async (e) => shout(e.s);"},
        "index.handler",
        env={"NODE_PATH": None},
        opt_files=LAYER_LIB,
    )
    assert assert_success(rt.invoke({"s": "esm"})) == "ESM!"


def test_function_node_modules_win_over_layer(node_runtime):
    rt = node_runtime(
        {
            "index.js": "const { shout } = require('layer-lib');\nexports.handler = async (e) => shout(e.s);",
            "node_modules/layer-lib/index.js": "exports.shout = (s) => 'bundled ' + s;",
        },
        "index.handler",
        opt_files=LAYER_LIB,
    )
    assert assert_success(rt.invoke({"s": "x"})) == "bundled x"


# --------------------------------------------------------------------------
# nodejs24.x programming model and response streaming


def test_nodejs24_refuses_callback_handlers(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = (e, ctx, cb) => cb(null, 1);"},
        "index.handler",
        env={"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs24.x"},
    )
    body = assert_error(rt.init_error(), "Runtime.CallbackHandlerDeprecated")
    assert "removed support for callback-based function handlers" in body["errorMessage"]


def test_nodejs24_promise_model(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
exports.handler = (event, context) => {
  if (event.sync) return { sync: true, helpers: typeof context.succeed };
  return Promise.resolve({ sync: false, left: context.getRemainingTimeInMillis() > 0 });
};
"""
        },
        "index.handler",
        env={"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs24.x"},
    )
    assert assert_success(rt.invoke({"sync": True})) == {"sync": True, "helpers": "undefined"}
    assert assert_success(rt.invoke({"sync": False})) == {"sync": False, "left": True}


def test_streaming_handler(node_runtime):
    rt = node_runtime(
        {
            "index.mjs": """
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  for (const part of event.parts) {
    responseStream.write(part);
    await new Promise((ok) => setTimeout(ok, 5));
  }
  responseStream.end();
});
"""
        },
        "index.handler",
    )
    posted = rt.invoke({"parts": ["stream", "ing ", "works ✓"]})
    assert posted.kind == "response"
    assert posted.headers.get("lambda-runtime-function-response-mode") == "streaming"
    assert posted.headers.get("content-type") == "text/plain"
    assert posted.body.decode("utf-8") == "streaming works ✓"
    assert posted.trailers == {}


def test_streaming_handler_error_after_first_write(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('partial');
  throw new Error('mid-stream failure');
});
"""
        },
        "index.handler",
    )
    posted = rt.invoke({})
    assert posted.body == b"partial"
    assert posted.trailers.get("lambda-runtime-function-error-type") == "Error"
    err = json.loads(base64.b64decode(posted.trailers["lambda-runtime-function-error-body"]))
    assert err["errorMessage"] == "mid-stream failure"
    assert rt.invoke({}).body == b"partial"  # the environment still serves


def test_streamed_writes_reach_the_runtime_api_before_the_handler_returns(node_runtime, tmp_path):
    """Each write goes out as a chunk as it is written: the handler writes
    once, then waits for a file the test makes only when that chunk has
    arrived, then writes again."""
    signal = tmp_path / "got-first"
    rt = node_runtime(
        {
            "index.js": f"""
const fs = require('fs');
exports.handler = awslambda.streamifyResponse(async (event, stream) => {{
  stream.write('first');
  while (!fs.existsSync({json.dumps(str(signal))})) await new Promise((ok) => setTimeout(ok, 10));
  stream.write('second');
  stream.end();
}});
"""
        },
        "index.handler",
    )
    request_id = rt.send({})
    assert rt.api.chunks.get(timeout=WAIT) == b"first"
    assert rt.api.posted.empty()
    signal.write_text("yes")
    posted = rt.next_posted()
    assert posted.request_id == request_id
    assert posted.headers.get("transfer-encoding") == "chunked"
    assert posted.headers.get("lambda-runtime-function-response-mode") == "streaming"
    assert posted.body == b"firstsecond"
    assert rt.api.chunks.get(timeout=WAIT) == b"second"


def test_an_error_after_writes_sends_every_byte_written_then_the_trailers(node_runtime):
    rt = node_runtime(
        {
            "index.js": """
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('a');
  stream.write('b');
  stream.write(Buffer.alloc(200000, 'c'));
  stream.write('d');
  throw new Error('after four writes');
});
"""
        },
        "index.handler",
    )
    posted = rt.invoke({})
    assert posted.body == b"ab" + b"c" * 200000 + b"d"
    assert posted.trailers.get("lambda-runtime-function-error-type") == "Error"
    err = json.loads(base64.b64decode(posted.trailers["lambda-runtime-function-error-body"]))
    assert err["errorMessage"] == "after four writes"


def test_http_response_stream_writes_the_integration_prelude(node_runtime):
    rt = node_runtime(
        {
            "index.mjs": """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/html', 'x-custom': 'yes' },
    cookies: ['a=1', 'b=2'],
  });
  stream.write('<p>');
  stream.end('hi</p>');
});
"""
        },
        "index.handler",
    )
    posted = rt.invoke({})
    assert posted.kind == "response"
    assert posted.headers.get("content-type") == "application/vnd.awslambda.http-integration-response"
    assert posted.headers.get("lambda-runtime-function-response-mode") == "streaming"
    head, sep, body = posted.body.partition(b"\0" * 8)
    assert sep, posted.body
    assert json.loads(head) == {
        "statusCode": 201,
        "headers": {"content-type": "text/html", "x-custom": "yes"},
        "cookies": ["a=1", "b=2"],
    }
    assert body == b"<p>hi</p>"
    assert posted.trailers == {}


def test_streaming_handler_failing_before_any_write_posts_an_error(node_runtime):
    rt = node_runtime(
        {"index.js": "exports.handler = awslambda.streamifyResponse(async () => { throw new TypeError('early'); });"},
        "index.handler",
    )
    posted = rt.invoke({})
    assert posted.kind == "error"
    assert posted.headers.get("lambda-runtime-function-error-type") == "TypeError"
    assert posted.json["errorMessage"] == "early"


# --------------------------------------------------------------------------
# Placement of the bootstrap itself


def test_bootstrap_under_a_type_module_package(tmp_path):
    """The server may unpack bootstrap.js anywhere; a package.json with
    "type": "module" above it must not break it."""
    rt_dir = tmp_path / "runtime"
    write_files(rt_dir, {"package.json": '{"type": "module"}', "bootstrap.js": BOOTSTRAP.read_text()})
    code = tmp_path / "task"
    write_files(code, {"index.js": ECHO_CJS})
    rt = NodeRuntime(code, "index.handler", bootstrap=rt_dir / "bootstrap.js")
    try:
        assert assert_success(rt.invoke({"x": 1})) == {"format": "cjs", "event": {"x": 1}}
    finally:
        rt.stop()

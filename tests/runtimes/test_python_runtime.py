"""Ignis's Python runtime client (runtimes/python/bootstrap.py) against a fake
Runtime API, on every Python interpreter installed here. No Ignis server
needed: a tiny HTTP/1.1 server in a thread serves the events the test queues,
the client runs as Ignis starts it (`python3.X -S -u bootstrap.py`, the code
directory as cwd, a clean environment)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fake_runtime_api import PREFIX, ClientProcess, FakeRuntimeAPI, Outcome, env_factory, lambda_env, write_tree

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / "runtimes" / "python" / "bootstrap.py"


def _interpreters() -> list[tuple[str, str]]:
    """(version, path) of each Python 3.9+ found, one per minor version."""
    candidates = []
    for minor in range(9, 15):
        candidates += [f"/usr/bin/python3.{minor}", f"/usr/local/bin/python3.{minor}"]
        candidates += sorted(glob.glob(f"/root/.pyenv/versions/3.{minor}.*/bin/python3.{minor}"))
        found = shutil.which(f"python3.{minor}")
        if found:
            candidates.append(found)
    seen: dict[str, str] = {}
    for path in candidates:
        if not os.access(path, os.X_OK):
            continue
        try:
            out = subprocess.run(
                [path, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if out and out not in seen:
            seen[out] = path
    return sorted(seen.items(), key=lambda kv: tuple(int(x) for x in kv[0].split(".")))


INTERPRETERS = _interpreters()
if not INTERPRETERS:
    pytest.skip("no Python 3.9+ interpreter found", allow_module_level=True)
ALL = pytest.mark.parametrize(
    "python", [p for _, p in INTERPRETERS], ids=[v for v, _ in INTERPRETERS]
)
NEWEST = INTERPRETERS[-1][1]
MINORS = {p: int(v.split(".")[1]) for v, p in INTERPRETERS}


# --------------------------------------------------------------------------
# The client, against the fake Runtime API (fake_runtime_api.py)
# --------------------------------------------------------------------------


class Env(ClientProcess):
    """One execution environment: a code dir, an opt dir, the client
    process and its output."""

    def __init__(self, python, tmp: Path, files: dict, handler="handler.main", env=None, layer=None):
        self.api = FakeRuntimeAPI()
        self.code = tmp / "code"
        self.opt = tmp / "opt"
        self.code.mkdir()
        self.opt.mkdir()
        self.minor = MINORS[python]
        write_tree(self.code, files, text=textwrap.dedent)
        write_tree(self.opt, layer, name=lambda rel: rel.format(minor=self.minor), text=textwrap.dedent)
        e = lambda_env(
            self.api.address,
            handler,
            self.code,
            self.opt,
            execution_env="AWS_Lambda_python3.%d" % self.minor,
            overrides=env,
        )
        self.launch([python, "-S", "-u", str(BOOTSTRAP)], cwd=self.code, env=e)


@pytest.fixture
def make_env(tmp_path):
    yield from env_factory(tmp_path, lambda d, python, files, **kw: Env(python, d, files, **kw), first=1)


SEED = {
    "handler.py": """
        import json

        def main(event, context):
            print(json.dumps(event))
            return {"statusCode": 200, "body": json.dumps({"hello": event.get("name", "world")})}
    """
}


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


@ALL
def test_seed_example_success_and_print(make_env, python):
    env = make_env(python, SEED)
    out = env.api.invoke({"name": "ignis"})
    assert out.kind == "response"
    assert out.json() == {"statusCode": 200, "body": '{"hello": "ignis"}'}
    # Lambda's separators: {"a": 1}
    assert out.body == b'{"statusCode": 200, "body": "{\\"hello\\": \\"ignis\\"}"}'
    env.wait_log('{"name": "ignis"}')
    # one persistent connection for next, response, next
    assert len(env.api.connections) == 1


@ALL
def test_init_once_per_environment_and_context(make_env, python):
    env = make_env(
        python,
        {
            "handler.py": """
                import os, sys
                COUNT = 0
                INIT = 0
                INIT += 1

                def main(event, context):
                    global COUNT
                    COUNT += 1
                    cc = context.client_context
                    return {
                        "init": INIT,
                        "count": COUNT,
                        "function_name": context.function_name,
                        "function_version": context.function_version,
                        "invoked_function_arn": context.invoked_function_arn,
                        "memory_limit_in_mb": context.memory_limit_in_mb,
                        "aws_request_id": context.aws_request_id,
                        "log_group_name": context.log_group_name,
                        "log_stream_name": context.log_stream_name,
                        "identity": [context.identity.cognito_identity_id,
                                     context.identity.cognito_identity_pool_id],
                        "client_context": None if cc is None else {
                            "custom": cc.custom, "env": cc.env,
                            "installation_id": cc.client.installation_id,
                            "app_title": cc.client.app_title},
                        "remaining": context.get_remaining_time_in_millis(),
                        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
                        "sys_path": sys.path,
                        "cwd": os.getcwd(),
                        "exit_builtin": callable(exit),
                    }
            """
        },
    )
    rid1 = env.api.submit({}, timeout_ms=3000)
    a = env.api.outcome(rid1).json()
    cc = {
        "client": {"installation_id": "i-1", "app_title": "app"},
        "custom": {"k": "v"},
        "env": {"platform": "x"},
    }
    rid2 = env.api.submit(
        {},
        headers={
            "Lambda-Runtime-Client-Context": json.dumps(cc),
            "Lambda-Runtime-Cognito-Identity": json.dumps(
                {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
            ),
            "Lambda-Runtime-Trace-Id": "Root=1-2",
        },
    )
    b = env.api.outcome(rid2).json()
    assert (a["init"], a["count"]) == (1, 1)
    assert (b["init"], b["count"]) == (1, 2)
    assert a["function_name"] == "fn"
    assert a["function_version"] == "$LATEST"
    assert a["invoked_function_arn"].endswith(":function:fn")
    assert a["memory_limit_in_mb"] == "128"
    assert a["aws_request_id"] == rid1 and b["aws_request_id"] == rid2
    assert a["log_group_name"] == "/aws/lambda/fn"
    assert a["log_stream_name"] == "2024/01/01/[$LATEST]abc"
    assert a["identity"] == [None, None]
    assert a["client_context"] is None
    assert b["identity"] == ["id-1", "pool-1"]
    assert b["client_context"] == {
        "custom": {"k": "v"},
        "env": {"platform": "x"},
        "installation_id": "i-1",
        "app_title": "app",
    }
    assert 2000 < a["remaining"] <= 3000
    assert 25000 < b["remaining"] <= 30000
    assert a["trace"].startswith("Root=1-") and b["trace"] == "Root=1-2"
    code = str(env.code)
    assert a["cwd"] == code
    assert a["sys_path"][:3] == [
        code,
        str(env.opt / "python" / "lib" / ("python3.%d" % env.minor) / "site-packages"),
        str(env.opt / "python"),
    ]
    assert str(BOOTSTRAP.parent) not in a["sys_path"]
    assert not [p for p in a["sys_path"][3:] if "site-packages" in p or "dist-packages" in p]
    assert a["exit_builtin"] is True


@ALL
def test_unhandled_error_shape(make_env, python):
    env = make_env(
        python,
        {
            "handler.py": """
                def inner(x):
                    raise ValueError("boom: %s" % x)

                def main(event, context):
                    return inner(event["x"])
            """
        },
    )
    rid = env.api.submit({"x": 7})
    out = env.api.outcome(rid)
    assert out.kind == "error"
    assert out.headers["lambda-runtime-function-error-type"] == "ValueError"
    doc = out.json()
    assert list(doc) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert doc["errorType"] == "ValueError"
    assert doc["errorMessage"] == "boom: 7"
    assert doc["requestId"] == rid
    trace = doc["stackTrace"]
    assert len(trace) == 2, trace
    assert trace[0].startswith('  File "%s/handler.py", line 6, in main\n' % env.code)
    assert trace[0].endswith('    return inner(event["x"])\n')
    assert trace[1].startswith('  File "%s/handler.py", line 3, in inner\n' % env.code)
    log = env.wait_log("[ERROR] ValueError: boom: 7")
    assert "Traceback (most recent call last):" in log
    assert '\u00a0\u00a0File "%s/handler.py", line 6, in main' % env.code in log
    # the environment survives a function error
    assert env.api.invoke({"x": 1}).json()["errorMessage"] == "boom: 1"
    assert env.proc.poll() is None


def _init_error(env) -> Outcome:
    out = env.api.init_errors.get(timeout=20)
    assert env.proc.wait(timeout=10) == 1
    return out


@ALL
def test_import_error(make_env, python):
    env = make_env(python, {"handler.py": "import not_a_module_xyz\n\ndef main(e, c):\n    return 1\n"})
    out = _init_error(env)
    doc = out.json()
    assert out.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert doc == {
        "errorMessage": "Unable to import module 'handler': No module named 'not_a_module_xyz'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    log = env.log()
    assert "LAMBDA_WARNING: Unhandled exception." in log
    assert (
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'handler': "
        "No module named 'not_a_module_xyz'" in log
    )
    assert not env.api.requests or env.api.requests == [("POST", PREFIX + "/init/error")]


@ALL
def test_missing_module_and_handler(make_env, python):
    env = make_env(python, SEED, handler="handler.nope")
    doc = _init_error(env).json()
    assert doc["errorType"] == "Runtime.HandlerNotFound"
    assert doc["errorMessage"] == "Handler 'nope' missing on module 'handler'"

    env = make_env(python, SEED, handler="missing.main")
    doc = _init_error(env).json()
    assert doc["errorType"] == "Runtime.ImportModuleError"
    assert doc["errorMessage"] == "Unable to import module 'missing': No module named 'missing'"

    env = make_env(python, SEED, handler="handler")
    doc = _init_error(env).json()
    assert doc["errorType"] == "Runtime.MalformedHandlerName"
    assert doc["errorMessage"].startswith("Bad handler 'handler': ")

    env = make_env(python, SEED, handler="sys.main")
    doc = _init_error(env).json()
    assert doc["errorType"] == "Runtime.BuiltInModuleConflict"
    assert doc["errorMessage"] == "Cannot use built-in module sys as a handler module"


@ALL
def test_syntax_error(make_env, python):
    env = make_env(python, {"handler.py": "def main(event, context)\n    return 1\n"})
    doc = _init_error(env).json()
    assert doc["errorType"] == "Runtime.UserCodeSyntaxError"
    assert doc["errorMessage"].startswith("Syntax error in module 'handler': ")
    assert doc["stackTrace"][0].startswith('  File "%s/handler.py" Line 1\n' % env.code)


def test_exception_at_module_level(make_env):
    env = make_env(NEWEST, {"handler.py": "raise KeyError('cfg')\n"})
    doc = _init_error(env).json()
    assert doc["errorType"] == "KeyError"
    assert doc["errorMessage"] == "'cfg'"
    assert any("handler.py" in f for f in doc["stackTrace"])
    assert not any("/runtimes/python/bootstrap.py" in f for f in doc["stackTrace"])


@ALL
def test_marshal_error_and_decimal(make_env, python):
    env = make_env(
        python,
        {
            "handler.py": """
                import decimal, datetime

                def main(event, context):
                    if event == "bad":
                        return {"when": datetime.date(2024, 1, 2)}
                    if event == "bytes":
                        return b'{"raw": true}'
                    if event == "nan":
                        return float("nan")
                    return {"d": decimal.Decimal("1.10"), "i": decimal.Decimal("10"),
                            "n": decimal.Decimal("NaN"), "l": [decimal.Decimal("-2.5E+3")],
                            "s": "\\u0000x"}
            """
        },
    )
    out = env.api.invoke("bad")
    assert out.kind == "error"
    assert out.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"
    doc = out.json()
    assert doc["errorType"] == "Runtime.MarshalError"
    assert doc["errorMessage"] == "Unable to marshal response: Object of type date is not JSON serializable"
    assert doc["stackTrace"] == []
    env.wait_log("[ERROR] Runtime.MarshalError: Unable to marshal response:")

    out = env.api.invoke("ok")
    assert out.kind == "response"
    assert out.body == b'{"d": 1.10, "i": 10, "n": NaN, "l": [-2.5E+3], "s": "\\u0000x"}'
    assert env.api.invoke("bytes").body == b'{"raw": true}'
    assert env.api.invoke("nan").body == b"NaN"


@ALL
def test_bytes_and_namedtuples_serialize_as_simplejson_does(make_env, python):
    """Lambda's runtime encodes with simplejson: bytes inside a response are
    UTF-8 text, anything with `_asdict()` (namedtuples first) an object."""
    env = make_env(
        python,
        {
            "handler.py": """
                import base64, collections

                Point = collections.namedtuple("Point", "x y")

                class Row(object):
                    def _asdict(self):
                        return {"id": 7, "at": Point(1, 2)}

                def main(event, context):
                    if event == "bad-bytes":
                        return {"body": b"\\xff"}
                    return {"body": base64.b64encode(b"\\x89PNG"), "point": Point(1, 2),
                            "points": [Point(3, 4)], "row": Row(), "plain": (1, 2), b"key": 1}
            """
        },
    )
    out = env.api.invoke("ok")
    assert out.kind == "response", out.body
    assert out.json() == {
        "body": "iVBORw==",
        "point": {"x": 1, "y": 2},
        "points": [{"x": 3, "y": 4}],
        "row": {"id": 7, "at": {"x": 1, "y": 2}},
        "plain": [1, 2],
        "key": 1,
    }
    out = env.api.invoke("bad-bytes")
    assert out.kind == "error"
    assert out.json()["errorType"] == "Runtime.MarshalError"


@ALL
def test_code_named_like_the_standard_library_does_not_break_the_runtime(make_env, python):
    """On Lambda the runtime client has imported json, logging, traceback
    (and what they import) before the function's code runs, so a `types.py`
    or an `enum/` package of the function is never imported in their place."""
    env = make_env(
        python,
        {
            "types.py": "SHADOW = True\n",
            "sre_compile.py": "X = 1\n",
            "enum/__init__.py": "raise ImportError('the enum34 backport')\n",
            "handler.py": """
                import json

                def main(event, context):
                    if event == "raise":
                        raise ValueError("boom")
                    return json.loads('{"ok": true}')
            """,
        },
    )
    assert env.api.invoke("ok").json() == {"ok": True}
    out = env.api.invoke("raise")
    assert out.kind == "error"
    doc = out.json()
    assert (doc["errorType"], doc["errorMessage"]) == ("ValueError", "boom"), doc
    assert doc["stackTrace"], doc
    env.wait_log("[ERROR] ValueError: boom")
    assert env.proc.poll() is None


@ALL
def test_large_payload_and_unicode(make_env, python):
    env = make_env(
        python,
        {
            "handler.py": """
                def main(event, context):
                    print("got", len(event.get("data", "")), event["u"])
                    return event
            """
        },
    )
    big = {"data": "x" * (5 * 1024 * 1024), "u": "héllo wörld ✓ 日本 🎉"}
    out = env.api.invoke(big)
    assert out.kind == "response"
    assert out.json() == big
    env.wait_log("got %d héllo wörld ✓ 日本 🎉" % (5 * 1024 * 1024))
    # Lambda escapes non-ASCII up to python3.11, writes UTF-8 from 3.12 on
    small = env.api.invoke({"u": "é🎉"})
    if env.minor >= 12:
        assert small.body == '{"u": "é🎉"}'.encode()
    else:
        assert small.body == b'{"u": "\\u00e9\\ud83c\\udf89"}'


@ALL
def test_log_format_text(make_env, python):
    env = make_env(
        python,
        {
            "handler.py": """
                import logging
                logging.getLogger().warning("at init")
                log = logging.getLogger()
                log.setLevel(logging.INFO)

                def main(event, context):
                    log.info("hello %s", "there")
                    log.debug("hidden")
                    log.error("two\\nlines")
                    context.log("via context")
                    return 1
            """
        },
    )
    rid = env.api.submit({})
    env.api.outcome(rid)
    log = env.wait_log("via context")
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(r"^\[WARNING\]\t%s\t\tat init$" % ts, log, re.M), log
    assert re.search(r"^\[INFO\]\t%s\t%s\thello there$" % (ts, rid), log, re.M), log
    assert re.search(r"^\[ERROR\]\t%s\t%s\ttwo\nlines$" % (ts, rid), log, re.M), log
    assert "hidden" not in log
    assert re.search(r"^via context$", log, re.M)


@ALL
def test_log_format_json(make_env, python):
    env = make_env(
        python,
        {
            "handler.py": """
                import logging
                log = logging.getLogger("app")

                def main(event, context):
                    print("plain print")
                    log.info("hello %s", "json", extra={"order": 42})
                    log.debug("hidden")
                    try:
                        1 / 0
                    except ZeroDivisionError:
                        log.exception("failed")
                    raise RuntimeError("bad")
            """
        },
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"},
    )
    rid = env.api.submit({})
    out = env.api.outcome(rid)
    assert out.json()["errorType"] == "RuntimeError"
    env.wait_log('"log_level": "ERROR"')
    records = {}
    for line in env.lines:
        if line.startswith("{"):
            rec = json.loads(line)
            records[rec.get("message", rec.get("errorMessage"))] = rec
    assert "plain print" in env.lines
    info = records["hello json"]
    assert list(info)[:5] == ["timestamp", "level", "message", "logger", "requestId"]
    assert info["level"] == "INFO" and info["logger"] == "app" and info["requestId"] == rid
    assert info["order"] == 42
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["timestamp"])
    assert "hidden" not in env.log()
    exc = records["failed"]
    assert exc["level"] == "ERROR" and exc["errorType"] == "ZeroDivisionError"
    assert exc["errorMessage"] == "division by zero" and exc["stackTrace"]
    assert exc["location"].endswith("handler.py:main:12")
    err = records["bad"]
    assert err["log_level"] == "ERROR" and err["errorType"] == "RuntimeError"
    assert err["requestId"] == rid


@ALL
def test_layer_dependency(make_env, python):
    env = make_env(
        python,
        {
            "handler.py": """
                import layerdep, sitedep

                def main(event, context):
                    return [layerdep.NAME, sitedep.NAME]
            """
        },
        layer={
            "python/layerdep.py": "NAME = 'from /opt/python'\n",
            "python/lib/python3.{minor}/site-packages/sitedep.py": "NAME = 'from site-packages'\n",
        },
    )
    assert env.api.invoke({}).json() == ["from /opt/python", "from site-packages"]


@ALL
def test_nested_handler_path(make_env, python):
    env = make_env(
        python,
        {
            "pkg/sub/file.py": """
                from . import helper

                def func(event, context):
                    return {"nested": helper.VALUE, "module": __name__}
            """,
            "pkg/sub/helper.py": "VALUE = 3\n",
        },
        handler="pkg/sub/file.func",
    )
    assert env.api.invoke({}).json() == {"nested": 3, "module": "pkg.sub.file"}


def test_unmarshal_error(make_env):
    env = make_env(NEWEST, SEED)
    out = env.api.invoke(b"{not json")
    assert out.kind == "error"
    doc = out.json()
    assert doc["errorType"] == "Runtime.UnmarshalError"
    assert doc["errorMessage"].startswith("Unable to unmarshal input: Expecting property name")


def test_reconnects_when_the_server_closes_the_connection(make_env):
    env = make_env(NEWEST, SEED)
    env.api.close_after_post = True
    for i in range(3):
        assert env.api.invoke({"name": str(i)}).json()["statusCode"] == 200
    assert len(env.api.connections) >= 3
    assert env.proc.poll() is None


def test_exits_when_next_fails(make_env):
    env = make_env(NEWEST, SEED)
    assert env.api.invoke({}).kind == "response"
    env.api.stopping = True  # /next answers 500: a container error
    assert env.proc.wait(timeout=10) == 1
    assert "ignis: GET /invocation/next answered 500" in env.wait_log("answered 500")

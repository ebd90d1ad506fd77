"""AWS's own runtime interface clients on Ignis: a `provided.al2023` function
whose `bootstrap` runs `python3 -m awslambdaric` (vendored into the zip from
its wheel) or npm's `aws-lambda-ric` (built natively, cached per machine)
behaves like the same handler on Ignis's managed `python3.x` / `nodejs20.x`
runtime: same payloads, warm reuse, the client's own error shape, context
fields and remaining time.

The clients are installed at test time; a build step that fails for want of a
system package skips naming the Debian package, and scripts/test.sh installs
those packages so that CI runs these tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import requests

from support import ROLE, build_zip, invoke, tail_log

# The PATH Ignis gives a function's process (crates/ignis-router/src/env.rs),
# less the per-function /opt/bin.
FUNCTION_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
VENV = Path(os.environ.get("IGNIS_VENV", "/var/tmp/ignis-venv"))
NPM_CACHE = Path("/var/tmp/ignis-npm-cache")
# Pinned so the cached build is keyed by what it holds and reruns need no
# registry look-up; the 3.x line is what Node 20 resolves `aws-lambda-ric` to.
NODE_RIC_VERSION = "3.3.0"
TIMEOUT = 10
# Debian package providing each tool the native build of aws-lambda-ric runs.
BUILD_TOOLS = {
    "cmake": "cmake",
    "autoconf": "autoconf",
    "automake": "automake",
    "libtoolize": "libtool",
    "g++": "g++",
    "make": "make",
    "python3": "python3",
}
REPORT_ID = re.compile(r"REPORT RequestId: (\S+)")

PY_HANDLER = '''\
import json
import os
import sys

COUNT = 0


def main(event, context):
    global COUNT
    COUNT += 1
    op = event.get("op")
    if op == "fail":
        raise ValueError("boom: " + str(event.get("why")))
    if op == "count":
        return {"count": COUNT, "env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"], "official": "awslambdaric" in sys.modules}
    if op == "context":
        return {
            "requestId": context.aws_request_id,
            "functionName": context.function_name,
            "functionVersion": context.function_version,
            "memoryLimitInMB": int(context.memory_limit_in_mb),
            "invokedFunctionArn": context.invoked_function_arn,
            "logGroupName": context.log_group_name,
            "logStreamName": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        }
    print("hello from", event.get("name"))
    return {"statusCode": 200, "body": json.dumps({"message": "hello", "input": event}), "echo": event}
'''

NODE_HANDLER = '''\
let count = 0;

export const handler = async (event, context) => {
  count += 1;
  if (event.op === "fail") {
    throw new TypeError("boom: " + event.why);
  }
  if (event.op === "count") {
    return { count, env: process.env.AWS_LAMBDA_LOG_STREAM_NAME, official: process.argv.some((a) => a.includes("aws-lambda-ric")) };
  }
  if (event.op === "context") {
    return {
      requestId: context.awsRequestId,
      functionName: context.functionName,
      functionVersion: context.functionVersion,
      memoryLimitInMB: Number(context.memoryLimitInMB),
      invokedFunctionArn: context.invokedFunctionArn,
      logGroupName: context.logGroupName,
      logStreamName: context.logStreamName,
      remaining: context.getRemainingTimeInMillis(),
    };
  }
  console.log("hello from", event.name);
  return { statusCode: 200, body: JSON.stringify({ message: "hello", input: event }), echo: event };
};
'''

HELLO_EVENTS = [
    {"name": "x"},
    {"name": "zoë ☃ 日本語 🚀", "nested": {"list": [1, 2.5, None, True], "empty": {}}},
    {"name": "big", "blob": "λ" * 20000},
]


# ---------------------------------------------------------------- helpers


def _run(cmd: list[str], what: str, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{what} took over {timeout}s: {' '.join(cmd)}\n{e.stdout or ''}\n{e.stderr or ''}")
    if proc.returncode != 0:
        pytest.fail(f"{what} failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def _zip_tree(root: Path, extra: list[tuple]) -> bytes:
    entries = list(extra)
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if "__pycache__" in path.parts:
            continue
        if path.is_symlink():
            entries.append((rel, os.readlink(path), 0o120777))
        elif path.is_file():
            entries.append((rel, path.read_bytes(), path.stat().st_mode & 0o777))
    return build_zip(entries)


def _runtimes(url: str) -> dict[str, dict]:
    r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    return {x["Runtime"]: x for x in r.json()["Runtimes"]}


def _create(lam, name: str, code: bytes, **config) -> None:
    params = {
        "FunctionName": name,
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Role": ROLE,
        "Code": {"ZipFile": code},
        "Timeout": TIMEOUT,
        "MemorySize": 256,
    }
    params.update(config)
    lam.create_function(**params)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


class Pair:
    """The same handler deployed twice: on AWS's client and on Ignis's runtime."""

    def __init__(self, language: str, official: str, managed: str):
        self.language = language
        self.official = official
        self.managed = managed


def _deploy_pair(lam, label: str, official_zip: bytes, managed_zip: bytes, runtime: str, handler: str):
    suffix = uuid.uuid4().hex[:6]
    pair = Pair(label, f"official-{label}-{suffix}", f"managed-{label}-{suffix}")
    made: list[str] = []
    try:
        _create(lam, pair.official, official_zip)
        made.append(pair.official)
        _create(lam, pair.managed, managed_zip, Runtime=runtime, Handler=handler)
        made.append(pair.managed)
        yield pair
    finally:
        for name in made:
            try:
                lam.delete_function(FunctionName=name)
            except Exception:  # noqa: BLE001 - teardown is best effort
                pass


# ---------------------------------------------------------------- Python


def _function_python() -> tuple[str, str]:
    """The `python3` a function's bootstrap finds on its PATH, and its X.Y."""
    exe = shutil.which("python3", path=FUNCTION_PATH)
    if not exe:
        pytest.skip(f"no python3 on the function PATH {FUNCTION_PATH}: install Debian's python3")
    out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        pytest.skip(f"{exe} does not run: {out.stderr}")
    return exe, out.stdout.strip()


@pytest.fixture(scope="module")
def py_official_zip(tmp_path_factory) -> bytes:
    exe, version = _function_python()
    pip = VENV / "bin" / "python"
    if not pip.exists():
        pytest.skip(f"no venv python at {pip}")
    target = tmp_path_factory.mktemp("awslambdaric")
    _run(
        [str(pip), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(target),
         "--python-version", version, "--only-binary=:all:", "awslambdaric"],
        "pip install awslambdaric", timeout=180,
    )
    assert (target / "awslambdaric").is_dir(), list(target.iterdir())
    bootstrap = (
        "#!/bin/sh\n"
        'cd "$LAMBDA_TASK_ROOT"\n'
        'export PYTHONPATH="$LAMBDA_TASK_ROOT${PYTHONPATH:+:$PYTHONPATH}"\n'
        f"exec {exe} -m awslambdaric handler.main\n"
    )
    return _zip_tree(target, [("bootstrap", bootstrap, 0o755), ("handler.py", PY_HANDLER)])


@pytest.fixture(scope="module")
def py_pair(url, lam, py_official_zip):
    runtimes = _runtimes(url)
    _, version = _function_python()
    wanted = f"python{version}"
    if not runtimes.get(wanted, {}).get("Available"):
        wanted = next((n for n, i in runtimes.items() if n.startswith("python3") and i["Available"]), None)
    if not wanted:
        pytest.skip("Ignis has no available python3.x runtime here")
    yield from _deploy_pair(lam, "python", py_official_zip, build_zip([("handler.py", PY_HANDLER)]), wanted, "handler.main")


# ---------------------------------------------------------------- Node


def _node_major() -> int:
    node = shutil.which("node", path=FUNCTION_PATH)
    if not node:
        pytest.skip(f"no node on the function PATH {FUNCTION_PATH}: install Debian's nodejs")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    return int(out.stdout.strip().lstrip("v").split(".")[0])


def _node_ric_modules() -> Path:
    """node_modules holding a built aws-lambda-ric, from the per-machine cache
    or built into it. Only what runs is kept (package.json, bin/, dist/ with
    the native rapid-client.node, which links curl statically): the build tree
    is ~160 MB. The cache entry appears by an atomic rename, so a half-built
    tree is never taken for one."""
    major = _node_major()
    cached = NPM_CACHE / f"aws-lambda-ric-{NODE_RIC_VERSION}-node{major}"
    if (cached / "node_modules" / "aws-lambda-ric" / "dist" / "rapid-client.node").is_file():
        return cached / "node_modules"
    missing = sorted({pkg for tool, pkg in BUILD_TOOLS.items() if not shutil.which(tool)})
    if missing:
        pytest.skip("building aws-lambda-ric needs the Debian packages " + " ".join(missing)
                    + " (scripts/test.sh installs them)")
    npm = shutil.which("npm")
    if not npm:
        pytest.skip("npm is not installed (it comes with NodeSource's nodejs, or Debian's package npm)")
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=NPM_CACHE))
    try:
        build = work / "build"
        build.mkdir()
        (build / "package.json").write_text('{"name": "ignis-ric-build", "private": true}\n')
        env = {**os.environ, "npm_config_update_notifier": "false", "MAKEFLAGS": f"-j{os.cpu_count() or 2}"}
        try:
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--omit=dev", f"aws-lambda-ric@{NODE_RIC_VERSION}"],
                cwd=build, capture_output=True, text=True, timeout=330, env=env,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("npm install aws-lambda-ric took over 330s")
        log = proc.stdout[-3000:] + "\n" + proc.stderr[-6000:]
        if proc.returncode != 0:
            for tool, pkg in BUILD_TOOLS.items():
                if re.search(rf"(^|[\s/:']){re.escape(tool)}'?:? (command )?not (found|installed)", log, re.M):
                    pytest.skip(f"building aws-lambda-ric needs the Debian package {pkg}:\n{log}")
            pytest.fail(f"npm install aws-lambda-ric@{NODE_RIC_VERSION} failed:\n{log}")
        built = build / "node_modules" / "aws-lambda-ric"
        assert (built / "dist" / "rapid-client.node").is_file(), f"no native client was built:\n{log}"
        meta = json.loads((built / "package.json").read_text())
        bins = {"aws-lambda-ric": meta["bin"]} if isinstance(meta["bin"], str) else meta["bin"]
        kept = work / "kept"
        pkg = kept / "node_modules" / "aws-lambda-ric"
        pkg.mkdir(parents=True)
        for item in ("package.json", "LICENSE", "bin", "dist"):
            src = built / item
            if src.is_dir():
                shutil.copytree(src, pkg / item, symlinks=True)
            elif src.exists():
                shutil.copy2(src, pkg / item)
        (kept / "node_modules" / ".bin").mkdir()
        for name, rel in bins.items():
            os.symlink(f"../aws-lambda-ric/{rel.removeprefix('./')}", kept / "node_modules" / ".bin" / name)
        try:
            os.rename(kept, cached)
        except OSError:
            # Another run finished first: use its tree.
            if not (cached / "node_modules" / "aws-lambda-ric" / "dist" / "rapid-client.node").is_file():
                raise
        return cached / "node_modules"
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def node_official_zip() -> bytes:
    modules = _node_ric_modules()
    meta = json.loads((modules / "aws-lambda-ric" / "package.json").read_text())
    bins = meta.get("bin", {})
    bin_name = "aws-lambda-ric" if isinstance(bins, str) or "aws-lambda-ric" in bins else next(iter(bins))
    assert (modules / ".bin" / bin_name).exists(), sorted(os.listdir(modules / ".bin"))
    bootstrap = (
        "#!/bin/sh\n"
        'cd "$LAMBDA_TASK_ROOT"\n'
        f"exec {shutil.which('node', path=FUNCTION_PATH)} node_modules/.bin/{bin_name} index.handler\n"
    )
    extra = [("bootstrap", bootstrap, 0o755), ("index.mjs", NODE_HANDLER)]
    return _zip_tree(modules.parent, extra)


@pytest.fixture(scope="module")
def node_pair(url, lam, node_official_zip):
    runtimes = _runtimes(url)
    if not runtimes.get("nodejs20.x", {}).get("Available"):
        pytest.skip("Ignis's nodejs20.x runtime is not available here")
    yield from _deploy_pair(lam, "node", node_official_zip, build_zip([("index.mjs", NODE_HANDLER)]),
                            "nodejs20.x", "index.handler")


# ---------------------------------------------------------------- the checks, for both languages


@pytest.fixture(params=["python", "node"])
def pair(request) -> Pair:
    return request.getfixturevalue("py_pair" if request.param == "python" else "node_pair")


def test_payloads_match_the_managed_runtime(lam, pair):
    for event in HELLO_EVENTS:
        resp, raw, body = invoke(lam, pair.official, event, LogType="Tail")
        assert "FunctionError" not in resp, raw[:4000]
        assert body["statusCode"] == 200 and body["echo"] == event
        assert json.loads(body["body"]) == {"message": "hello", "input": event}
        log = tail_log(resp)
        assert f"hello from {event['name']}"[:60] in log and "REPORT RequestId" in log, log
        _, managed_raw, managed = invoke(lam, pair.managed, event)
        assert managed == body, (managed_raw[:2000], raw[:2000])


def test_environment_is_reused_while_warm(lam, pair):
    for name in (pair.official, pair.managed):
        _, _, first = invoke(lam, name, {"op": "count"})
        _, _, second = invoke(lam, name, {"op": "count"})
        assert first["official"] == (name == pair.official), (name, first)
        assert second["env"] == first["env"], (name, first, second)
        assert second["count"] == first["count"] + 1, (name, first, second)


def test_unhandled_error_shape(lam, pair):
    official_resp, raw, err = invoke(lam, pair.official, {"op": "fail", "why": "ü"})
    assert official_resp.get("FunctionError") == "Unhandled", raw
    # awslambdaric: errorType, errorMessage, requestId, stackTrace (a list of
    # formatted frames); aws-lambda-ric: errorType, errorMessage, trace.
    expected_type, trace_key, source = {
        "python": ("ValueError", "stackTrace", "handler.py"),
        "node": ("TypeError", "trace", "index.mjs"),
    }[pair.language]
    assert err["errorType"] == expected_type, err
    assert err["errorMessage"] == "boom: ü", err
    assert isinstance(err[trace_key], list) and any(source in line for line in err[trace_key]), err

    managed_resp, managed_raw, managed = invoke(lam, pair.managed, {"op": "fail", "why": "ü"})
    assert managed_resp.get("FunctionError") == "Unhandled", managed_raw
    assert managed["errorType"] == err["errorType"], (managed, err)
    assert managed["errorMessage"] == err["errorMessage"], (managed, err)
    assert set(managed) == set(err), (managed, err)

    # The environment survives an error the client reported.
    resp, raw, body = invoke(lam, pair.official, {"name": "after"})
    assert "FunctionError" not in resp and body["statusCode"] == 200, raw


def test_context_fields(lam, pair):
    for name in (pair.official, pair.managed):
        config = lam.get_function_configuration(FunctionName=name)
        resp, raw, ctx = invoke(lam, name, {"op": "context"}, LogType="Tail")
        assert "FunctionError" not in resp, raw
        report = REPORT_ID.search(tail_log(resp))
        assert report, tail_log(resp)
        assert ctx["requestId"] == report.group(1), (ctx, tail_log(resp))
        assert ctx["functionName"] == name
        assert ctx["functionVersion"] == "$LATEST"
        assert ctx["memoryLimitInMB"] == config["MemorySize"]
        assert ctx["invokedFunctionArn"] == config["FunctionArn"], (ctx, config["FunctionArn"])
        assert ctx["logGroupName"] == f"/aws/lambda/{name}"
        assert ctx["logStreamName"], ctx
        assert 0 < ctx["remaining"] <= TIMEOUT * 1000, ctx

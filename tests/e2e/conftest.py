"""Fixtures of the end-to-end suite: one `ignis serve` for the session, a fresh
function name per test, zips of the fixture functions, and a deploy helper
that deletes what a test created."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from support import (
    FIXTURES,
    REPO,
    ROLE,
    TARGET_DIR,
    Server,
    build_zip,
    lambda_client,
    python_runtime,
    zip_dir,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    root = tmp_path_factory.mktemp("ignis")
    srv = Server(root / "data", root / "logs").start()
    yield srv
    srv.stop()
    panics = srv.panics_since(0)
    assert not panics, f"server panicked:\n{srv.stderr()}"


@pytest.fixture
def own_server(tmp_path):
    """Starts servers of the test's own (`own_server(data_dir, *args)`);
    kills them at teardown and fails the test if one panicked."""
    servers: list[Server] = []

    def start(data_dir=None, *args: str, listen: str = "127.0.0.1:0") -> Server:
        srv = Server(data_dir or tmp_path / "data", tmp_path / f"logs-{len(servers)}", list(args), listen).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.kill()
    for srv in servers:
        panics = srv.panics_since(0)
        assert not panics, f"server panicked:\n{srv.stderr()[-8000:]}"


@pytest.fixture(autouse=True)
def no_server_panic(request):
    """Fails a test during which the session's server logged a panic."""
    if "server" not in request.fixturenames:
        yield
        return
    srv: Server = request.getfixturevalue("server")
    offset = srv.stderr_size()
    yield
    panics = srv.panics_since(offset)
    assert not panics, "server panicked:\n" + srv.stderr()[offset:][-8000:]
    assert srv.proc and srv.proc.poll() is None, f"server exited:\n{srv.stderr()[-8000:]}"


@pytest.fixture(scope="session")
def url(server) -> str:
    return server.url


@pytest.fixture(scope="session")
def lam(url):
    return lambda_client(url)


@pytest.fixture(scope="session")
def lam_raw(url):
    """A client that sends what boto3's own validation would refuse."""
    return lambda_client(url, validate=False)


@pytest.fixture(scope="session")
def python(url) -> str:
    """A Python runtime the session's server can run (the first available)."""
    runtime = python_runtime(url)
    if runtime is None:
        pytest.skip("no Python interpreter on this machine")
    return runtime


@pytest.fixture
def fname(request) -> str:
    base = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name).strip("-")[:40]
    return f"{base}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def rust_bootstrap(tmp_path_factory) -> Path:
    """The `bootstrap` binary of fixtures/functions/rust-echo, built if needed
    and stripped of debug info (a 40 MB debug binary makes every upload slow;
    cargo-lambda ships release binaries)."""
    path = TARGET_DIR / "debug" / "bootstrap"
    if not path.exists():
        subprocess.run(["cargo", "build", "-p", "ignis-fixture-echo"], cwd=REPO, check=True)
    stripped = tmp_path_factory.mktemp("bootstrap") / "bootstrap"
    if shutil.which("strip") and subprocess.run(["strip", "-o", str(stripped), str(path)]).returncode == 0:
        return stripped
    shutil.copy2(path, stripped)
    return stripped


@pytest.fixture(scope="session")
def echo_zip(rust_bootstrap) -> bytes:
    return build_zip([("bootstrap", rust_bootstrap.read_bytes(), 0o755)])


@pytest.fixture(scope="session")
def shell_zip():
    cache: dict[str, bytes] = {}

    def make(name: str) -> bytes:
        if name not in cache:
            cache[name] = zip_dir(FIXTURES / name)
        return cache[name]

    return make


@pytest.fixture
def deploy(lam, fname):
    """Creates a function (rust echo by default), waits until it is Active,
    returns its configuration; deletes every function it made at teardown."""
    made: list[str] = []

    def create(code: bytes, name: str | None = None, wait: bool = True, **config):
        name = name or (fname if not made else f"{fname}-{len(made)}")
        params = {
            "FunctionName": name,
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Role": ROLE,
            "Code": {"ZipFile": code},
        }
        params.update(config)
        resp = lam.create_function(**params)
        made.append(name)
        if wait:
            lam.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        return resp

    yield create
    for name in made:
        try:
            lam.delete_function(FunctionName=name)
        except Exception:  # noqa: BLE001 - a test may have deleted it already
            pass


@pytest.fixture
def echo_fn(deploy, echo_zip, fname) -> str:
    """A fresh rust-echo function; returns its name."""
    deploy(echo_zip, Timeout=30)
    return fname

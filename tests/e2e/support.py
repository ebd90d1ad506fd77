"""Helpers of the end-to-end suite: the `ignis serve` process, zip building,
bounded polling and small wrappers over boto3 and the logs endpoint."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import signal
import stat
import subprocess
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import boto3
import botocore.config
import requests

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "functions"
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/ignis-target"))
IGNIS_BIN = Path(os.environ.get("IGNIS_BIN", TARGET_DIR / "debug" / "ignis"))
ROLE = "arn:aws:iam::000000000000:role/ignis-e2e"
REGION = "us-east-1"
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
# The line `ignis serve` prints before it listens: "sandbox: <backend> (<why>)";
# the why says whether managed runtimes are started ahead ("prestarted").
SANDBOX_LINE = "sandbox: "
PRESTARTED = "managed runtimes prestarted"
# A panic of the server itself; a function's own panic (the echo fixture's
# `op=panic`) names its source file under fixtures/functions/.
PANIC = re.compile(r"panicked at")


# A starting server takes the lowest free bridge (`ignis<N>`) after removing
# those of killed servers (servers starting at once take turns, the server's
# own lock). The suite's pytest-xdist workers (scripts/test.sh) start servers
# concurrently: every start holds this lock shared, and a test that checks
# which bridges exist after one of its servers stopped or was killed (that
# the next start reclaims it, that a stop removes it) holds it exclusively
# meanwhile (`bridges_held`): no server of another worker takes the number.
BRIDGE_LOCK = Path(tempfile.gettempdir()) / "ignis-e2e-bridges.lock"
_bridges_held = False


@contextlib.contextmanager
def bridge_lock(exclusive: bool):
    with open(BRIDGE_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def bridges_held():
    """No server of another process starts (takes or reclaims a bridge)
    within this block; this process's own still do."""
    global _bridges_held
    with bridge_lock(exclusive=True):
        _bridges_held = True
        try:
            yield
        finally:
            _bridges_held = False


class Server:
    """One `ignis serve` process on an ephemeral port."""

    def __init__(self, data_dir: Path, log_dir: Path, extra_args: list[str] | None = None, listen: str = "127.0.0.1:0"):
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.extra_args = extra_args or []
        self.listen = listen
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.sandbox_line = ""
        self.stdout_path = log_dir / "stdout.log"
        self.stderr_path = log_dir / "stderr.log"

    def start(self, timeout: float = 60) -> "Server":
        if not IGNIS_BIN.exists():
            raise RuntimeError(f"{IGNIS_BIN} does not exist: build it with `cargo build -p ignis`")
        if _bridges_held:
            return self._start(timeout)
        with bridge_lock(exclusive=False):
            return self._start(timeout)

    def _start(self, timeout: float) -> "Server":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(IGNIS_BIN), "serve", "--listen", self.listen, "--data-dir", str(self.data_dir)]
        stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            cmd + self.extra_args,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_BACKTRACE": "1"},
        )
        stderr.close()
        found = threading.Event()

        def pump() -> None:
            assert self.proc and self.proc.stdout
            with open(self.stdout_path, "ab") as out:
                for line in self.proc.stdout:
                    out.write(line)
                    out.flush()
                    text = line.decode(errors="replace")
                    if text.startswith(SANDBOX_LINE) and not found.is_set():
                        self.sandbox_line = text.strip()
                    match = LISTENING.search(text)
                    if match and not found.is_set():
                        self.url = match.group(1)
                        found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.1):
            if self.proc.poll() is not None:
                raise RuntimeError(f"ignis serve exited with {self.proc.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"ignis serve printed no 'listening on' line:\n{self.stderr()}")
        self.check_prewarm_off()
        return self

    def check_prewarm_off(self) -> None:
        """The suite's second pass (scripts/test.sh) runs with
        IGNIS_PREWARM=off: a server a test starts without a `--prewarm` of its
        own must then start every environment from scratch. Fails the start
        if it says it starts managed runtimes ahead."""
        if os.environ.get("IGNIS_PREWARM") != "off":
            return
        if any(arg == "--prewarm" or arg.startswith("--prewarm=") for arg in self.extra_args):
            return
        if PRESTARTED in self.sandbox_line:
            self.kill()
            raise RuntimeError(f"IGNIS_PREWARM=off, yet the server says: {self.sandbox_line}")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; SIGKILL if it does not stop in `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_size(self) -> int:
        try:
            return self.stderr_path.stat().st_size
        except FileNotFoundError:
            return 0

    def panics_since(self, offset: int) -> list[str]:
        text = self.stderr()[offset:]
        return [line for line in text.splitlines() if PANIC.search(line) and "fixtures/functions/" not in line]


# ---------------------------------------------------------------- clients


def lambda_client(url: str, validate: bool = True, read_timeout: int = 60, pool: int = 16):
    config = botocore.config.Config(
        parameter_validation=validate,
        retries={"max_attempts": 0},
        read_timeout=read_timeout,
        connect_timeout=10,
        max_pool_connections=pool,
    )
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    )


def aws_client(url: str, service: str, **config):
    """A boto3 client of any AWS service, pointed at Ignis, signing with a
    throwaway key."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=10, **config),
    )


def python_runtime(url: str) -> str | None:
    """The first Python runtime the server at `url` can run, if any."""
    r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    return next((i["Runtime"] for i in r.json()["Runtimes"] if i["Runtime"].startswith("python3") and i["Available"]), None)


def error_code(exc) -> str:
    return exc.response["Error"]["Code"]


def error_message(exc) -> str:
    return exc.response["Error"].get("Message", "")


# ---------------------------------------------------------------- zips


def build_zip(entries: list[tuple], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Builds a zip from (name, data[, mode]) entries. A mode whose file type
    is S_IFLNK makes a symlink whose target is `data`; the mode is kept in the
    Unix external attributes, as `zip` and cargo-lambda store it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for entry in entries:
            name, data = entry[0], entry[1]
            mode = entry[2] if len(entry) > 2 else 0o644
            if not stat.S_IFMT(mode):
                mode |= stat.S_IFREG
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = compression
            zf.writestr(info, data if isinstance(data, bytes) else data.encode())
    return buf.getvalue()


def zip_dir(path: Path) -> bytes:
    entries = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        entries.append((str(file.relative_to(path)), file.read_bytes(), stat.S_IMODE(file.stat().st_mode)))
    return build_zip(entries)


def code_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# ---------------------------------------------------------------- polling


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, what: str = "condition"):
    """Polls `predicate` until it returns something truthy; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def env_alive(env: str) -> bool:
    """Whether a live (not zombie) process on this host belongs to the
    execution environment named `env` (its `AWS_LAMBDA_LOG_STREAM_NAME`, which
    the fixtures report as "env"). Pids cannot name an environment: the runtime
    is pid 2 in every `namespace` environment; its environment block is seen
    from the host with either backend."""
    needle = f"AWS_LAMBDA_LOG_STREAM_NAME={env}".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"{entry.path}/stat") as f:
                if f.read().split(")")[-1].split()[0] != "Z":
                    return True
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return False


# ---------------------------------------------------------------- invoke + logs


def invoke(client, name: str, payload, **kwargs):
    """Invokes `name`; returns (response, body bytes, decoded JSON or None)."""
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    resp = client.invoke(FunctionName=name, Payload=data, **kwargs)
    body = resp["Payload"].read() if "Payload" in resp else b""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return resp, body, parsed


def tail_log(resp) -> str:
    return base64.b64decode(resp["LogResult"]).decode(errors="replace")


def logs(url: str, name: str, **params) -> dict:
    r = requests.get(f"{url}/ignis/v1/functions/{name}/logs", params=params, timeout=60)
    r.raise_for_status()
    return r.json()


def all_log_lines(url: str, name: str) -> list[str]:
    lines, after = [], None
    for _ in range(1000):
        params = {"limit": 1000}
        if after is not None:
            params["after"] = after
        page = logs(url, name, **params)
        if not page["events"]:
            break
        lines += [e["message"] for e in page["events"]]
        after = page["next_seq"]
    return lines


def wait_log_line(url: str, name: str, needle: str, timeout: float = 30) -> list[str]:
    return wait_for(
        lambda: (lines := all_log_lines(url, name)) and any(needle in line for line in lines) and lines,
        timeout,
        what=f"log line containing {needle!r}",
    )

"""Shared by the runtime-client suites in tests/runtimes (Python, Ruby, Java,
Node.js): a fake Lambda Runtime API (a tiny HTTP/1.1 server in a thread that
serves the events a test queues and records what the client posts back), the
environment a managed runtime is started with, and the client process with
its output.

Not a conftest.py on purpose: each suite imports what it uses, and the
switches below keep each suite's former behaviour where the copies differed
(error replies, how a stop is answered, chunked bodies, JSON encoding)."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PREFIX = "/2018-06-01/runtime"
NEXT = PREFIX + "/invocation/next"
INIT_ERROR = PREFIX + "/init/error"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"
TRACE = "Root=1-00000000-000000000000000000000000;Sampled=0"
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"

OK = b'{"status":"OK"}'
NOT_FOUND = b'{"errorType":"NotFound"}'


def find_interpreter(env_var: str, name: str) -> str | None:
    """$env_var (to run a suite under another interpreter), else `name` on
    PATH, else /usr/bin/<name> if it is there."""
    fallback = "/usr/bin/" + name
    return os.environ.get(env_var) or shutil.which(name) or (fallback if os.path.exists(fallback) else None)


def interpreter_or_skip(env_var: str, name: str, suite: str) -> str:
    """find_interpreter, or the calling suite skipped (at import) without it."""
    path = find_interpreter(env_var, name)
    if path is None:
        print(f"{suite}: skipped, `{name}` is not installed")
        pytest.skip(f"{name} is not installed", allow_module_level=True)
    return path


def invocation_headers(request_id: str, timeout_ms: int = 30000, *, arn: str = ARN, trace: str = TRACE) -> dict:
    """The headers /invocation/next answers an event with."""
    return {
        "Lambda-Runtime-Aws-Request-Id": request_id,
        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + timeout_ms),
        "Lambda-Runtime-Invoked-Function-Arn": arn,
        "Lambda-Runtime-Trace-Id": trace,
    }


# --------------------------------------------------------------------------
# The fake Runtime API
# --------------------------------------------------------------------------


class Outcome:
    """What the client posted for one invocation (or at init)."""

    def __init__(self, kind: str, headers: dict, body: bytes, repr_chars: int = 300):
        self.kind = kind  # "response" | "error" | "init"
        self.headers = headers
        self.body = body
        self._repr_chars = repr_chars

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Outcome({self.kind}, {self.body[: self._repr_chars]!r})"


class Posted:
    """One thing the runtime posted: a response, an invocation error or an
    init error (PostedRuntimeAPI's record, in arrival order)."""

    def __init__(self, kind: str, request_id: str | None, headers: dict, body: bytes, trailers: dict):
        self.kind = kind
        self.request_id = request_id
        self.headers = headers
        self.body = body
        self.trailers = trailers

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self) -> str:
        return f"Posted({self.kind}, {self.request_id}, {self.body[:300]!r})"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: bytes, headers: dict | None = None):
        api = self.server.api
        self.send_response(status)
        if api.content_type:
            self.send_header("Content-Type", api.content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> tuple[bytes, dict]:
        if self.server.api.chunked and self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    break
                chunk = self.rfile.read(size)
                data += chunk
                self.rfile.readline()
                self.server.api.chunk_arrived(self.path, chunk)
            trailers = {}
            while True:
                line = self.rfile.readline().strip()
                if not line:
                    break
                k, _, v = line.decode("latin-1").partition(":")
                trailers[k.strip().lower()] = v.strip()
            return data, trailers
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length), {}

    def do_GET(self):
        api = self.server.api
        api.connections.add(self.client_address)
        api.agents.add(self.headers.get("User-Agent"))
        api.requests.append(("GET", self.path))
        if api.first_next is None:
            api.first_next = time.time()
        if self.path != NEXT:
            return self._reply(404, NOT_FOUND)
        while True:
            try:
                payload, headers = api.events.get(timeout=api.poll)
                break
            except queue.Empty:
                if api.stopping:
                    if api.close_on_stop:  # hang up instead of answering
                        self.close_connection = True
                        return
                    return self._reply(500, b'{"errorType":"Stopping"}')
        self._reply(200, payload, headers)

    def do_POST(self):
        api = self.server.api
        api.connections.add(self.client_address)
        api.requests.append(("POST", self.path))
        body, trailers = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, reply, reply_headers = api.record(self.path, headers, body, trailers)
        if (reply_headers or {}).get("Connection") == "close":
            self.close_connection = True
        self._reply(status, reply, reply_headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if self.api.quiet_errors:
            return  # a client that exits or is killed mid-request
        super().handle_error(request, client_address)


class FakeRuntimeAPI:
    """Events in `events` (body, headers); what the client posts, by
    request id, in `outcomes[rid]`, init errors in `init_errors`.

    - content_type: the Content-Type of every answer (None: only the
      headers given per answer)
    - close_on_stop: once `stopping`, /next hangs up rather than answering
      500 Stopping
    - chunked: read chunked POST bodies (and their trailers)
    - quiet_errors: no traceback for a client gone mid-request
    - ensure_ascii: how `submit` encodes a JSON payload
    - outcome_timeout: how long `outcome` waits by default
    - close_after_post: answer each accepted post with Connection: close
    """

    def __init__(self, *, content_type: str | None = "application/json", close_on_stop=False, chunked=False,
                 poll=0.2, quiet_errors=False, ensure_ascii=True, outcome_timeout=20, repr_chars=300):
        self.events: queue.Queue = queue.Queue()
        self.outcomes: dict[str, queue.Queue] = {}
        self.init_errors: queue.Queue = queue.Queue()
        self.requests: list[tuple[str, str]] = []
        self.connections: set = set()
        self.agents: set = set()
        self.first_next: float | None = None
        self.stopping = False
        self.close_after_post = False
        self.content_type = content_type
        self.close_on_stop = close_on_stop
        self.chunked = chunked
        self.poll = poll
        self.quiet_errors = quiet_errors
        self.ensure_ascii = ensure_ascii
        self.outcome_timeout = outcome_timeout
        self.repr_chars = repr_chars

        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.api = self
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.server.server_address[1]

    def chunk_arrived(self, path: str, chunk: bytes):
        """Called with each chunk of a chunked POST body as it arrives."""

    def record(self, path: str, headers: dict, body: bytes, trailers: dict) -> tuple[int, bytes, dict | None]:
        """File a POST; answer (status, body, headers)."""
        if path == INIT_ERROR:
            self.init_errors.put(Outcome("init", headers, body, self.repr_chars))
            return 202, OK, None
        parts = path[len(PREFIX) :].split("/")
        # ['', 'invocation', id, 'response'|'error']
        if len(parts) == 4 and parts[1] == "invocation" and parts[2] in self.outcomes:
            self.outcomes[parts[2]].put(Outcome(parts[3], headers, body, self.repr_chars))
            if self.close_after_post:
                return 202, OK, {"Connection": "close"}
            return 202, OK, None
        return 400, b'{"errorType":"InvalidRequestID"}', None

    def submit(self, payload, *, timeout_ms=30000, headers=None) -> str:
        rid = str(uuid.uuid4())
        self.outcomes[rid] = queue.Queue()
        if isinstance(payload, bytes):
            body = payload
        else:
            body = json.dumps(payload, ensure_ascii=self.ensure_ascii).encode("utf-8")
        h = invocation_headers(rid, timeout_ms)
        h.update(headers or {})
        self.events.put((body, h))
        return rid

    def outcome(self, rid: str, timeout=None) -> Outcome:
        return self.outcomes[rid].get(timeout=self.outcome_timeout if timeout is None else timeout)

    def invoke(self, payload, **kw) -> Outcome:
        return self.outcome(self.submit(payload, **kw))

    def close(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()


class PostedRuntimeAPI(FakeRuntimeAPI):
    """Everything posted, whatever the request id, in one queue `posted` in
    arrival order; unknown paths answer 404; stopping hangs up /next; chunked
    bodies (streamed responses) are read with their trailers."""

    def __init__(self):
        super().__init__(content_type=None, close_on_stop=True, chunked=True, poll=0.1, quiet_errors=True)
        self.posted: queue.Queue = queue.Queue()
        # Chunks of streamed bodies as they arrive, before the body ends.
        self.chunks: queue.Queue = queue.Queue()
        self.server.block_on_close = False

    def chunk_arrived(self, path, chunk):
        self.chunks.put(chunk)

    def record(self, path, headers, body, trailers):
        m = re.fullmatch(re.escape(PREFIX) + r"/invocation/([^/]+)/(response|error)", path)
        if m:
            self.posted.put(Posted(m.group(2), m.group(1), headers, body, trailers))
        elif path == INIT_ERROR:
            self.posted.put(Posted("init_error", None, headers, body, trailers))
        else:
            return 404, NOT_FOUND, None
        return 202, OK, {"Content-Type": "application/json"}


# --------------------------------------------------------------------------
# The client process
# --------------------------------------------------------------------------


def lambda_env(api_address: str, handler: str, task_root: Path, opt_dir: Path, *, execution_env: str,
               function_name="fn", memory="128", log_stream="2024/01/01/[$LATEST]abc", path=CLEAN_PATH,
               extra: dict | None = None, overrides: dict | None = None) -> dict:
    """The clean environment the server gives a managed runtime; `overrides`
    last, a None value there removes the variable."""
    e = {
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory,
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + function_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_LOG_FORMAT": "Text",
        "AWS_EXECUTION_ENV": execution_env,
        "TZ": ":UTC",
        "PATH": path,
        "IGNIS_OPT_DIR": str(opt_dir),
    }
    e.update(extra or {})
    e.update(overrides or {})
    return {k: v for k, v in e.items() if v is not None}


class ClientProcess:
    """A runtime client started against `self.api`, its output read line by
    line in threads: stdout (with stderr, unless kept apart) into `lines`,
    stderr kept apart into `err_lines`."""

    api: FakeRuntimeAPI
    log_timeout: float = 10

    def launch(self, argv: list[str], *, cwd: Path, env: dict, separate_stderr=False):
        self.lines: list[str] = []
        self.err_lines: list[str] = []
        self.started = time.time()
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT,
        )
        self.readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True)]
        if separate_stderr:
            self.readers.append(threading.Thread(target=self._pump, args=(self.proc.stderr, self.err_lines), daemon=True))
        for t in self.readers:
            t.start()

    @staticmethod
    def _pump(stream, sink: list):
        for raw in iter(stream.readline, b""):
            sink.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_log(self, needle: str, timeout=None) -> str:
        end = time.time() + (self.log_timeout if timeout is None else timeout)
        while time.time() < end:
            if needle in self.log():
                return self.log()
            time.sleep(0.01)
        raise AssertionError(f"{needle!r} not in log:\n{self.log()}")

    def kill(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=timeout)

    def join_readers(self, timeout=5):
        for t in self.readers:
            t.join(timeout=timeout)

    def close(self):
        self.kill()
        self.join_readers()
        self.api.close()


def write_tree(root: Path, files: dict | None, name=lambda rel: rel, text=lambda s: s, encoding=None) -> list[str]:
    """Write {relative path (through `name`): text (through `text`) or bytes}
    under root, created if need be; the paths written."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for rel, content in (files or {}).items():
        p = root / name(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(text(content), encoding=encoding)
        paths.append(str(p))
    return paths


def env_factory(tmp_path: Path, start, first=0):
    """The generator behind a make_env fixture (`yield from` it): yields
    make(*args, **kw), which returns start(d, *args, **kw) for a fresh
    directory d = tmp_path/envN (N counting from `first`), and closes every
    environment made once the test is done."""
    envs = []
    count = itertools.count(first)

    def make(*args, **kw):
        d = tmp_path / ("env%d" % next(count))
        d.mkdir()
        env = start(d, *args, **kw)
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.close()

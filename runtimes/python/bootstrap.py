"""Ignis's runtime client for Lambda's managed Python runtimes (python3.9 to
python3.14).

Ignis starts one per execution environment, as

    <python3.X> -S -u <dir>/bootstrap.py

with the function's code directory as working directory and Lambda's
environment (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
AWS_LAMBDA_FUNCTION_*, AWS_LAMBDA_LOG_*, AWS_EXECUTION_ENV, IGNIS_OPT_DIR, ...).
It imports the handler's module once, then loops over the Runtime API:
GET .../invocation/next, call the handler, POST .../response or .../error.
Initialization failures go to .../init/error, then the process exits 1.

Standard library only. `-S` keeps the host's site-packages off sys.path; this
file puts the code and the layers there, in Lambda's order. The Runtime API is
spoken over one persistent HTTP/1.1 connection by a small client of its own:
`http.client` drags in `email` and `ssl`, which costs tens of milliseconds on
every cold start.

Start-up cost is every cold start's too, so nothing is imported before the
first GET /next that it does not need: JSON goes through the C accelerator
`_json` directly (the `json` package compiles regular expressions on import,
and is only imported to report a decoding error exactly as it does), the
connection through `_socket` (`socket` imports `enum` and `selectors`), and
`logging` is set up when something first imports it (see _LoggingSetup).
"""

import os
import sys
import time

import _socket


def _await_function():
    """Started held (Ignis's prestarted runtimes, `--prewarm`): the
    interpreter and this client (the whole module) start before the
    function is known, with only the variables start-up reads; `True` once
    specialized, `False` when not held. The standard modules Lambda's own
    client has loaded before a function's code runs are imported now, from
    the standard library (the code is not mounted yet), then the rest of
    the environment is read from the descriptor named — `KEY=value`
    entries, NUL-terminated, to its end — and completes this process's
    environment, as if it had been started with it. That descriptor
    is stdin, which then reads /dev/null, as a runtime's does."""
    fd = os.environ.get("_IGNIS_SPECIALIZE_FD")
    if fd is None:
        return False
    for name in ("json", "logging", "traceback", "warnings", "importlib", "decimal"):
        try:
            __import__(name)
        except ImportError:
            pass
    fd = int(fd)
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, fd)
    os.close(null)
    given = {}
    for entry in b"".join(chunks).split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if key and sep:
            given[key] = value
    # The held start-up's variables are the function's own (the server
    # starts a runtime held only with those, with their values), and what
    # the interpreter itself added while starting (LC_CTYPE, when it
    # coerces a C locale) stays, as it would have with this environment.
    os.environb.pop(b"_IGNIS_SPECIALIZE_FD", None)
    os.environb.update(given)
    time.tzset()
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT") or "/var/task")
    return True

# --------------------------------------------------------------------------
# JSON: what Lambda's Python runtime produces.
#
# Lambda's runtime encodes with Python-style separators ({"a": 1}), allows
# NaN/Infinity, writes a Decimal as its exact digits (Decimal("1.10") -> 1.10)
# and a NaN Decimal as NaN, escapes non-ASCII characters up to python3.11 and
# writes them as UTF-8 from python3.12 on.
# --------------------------------------------------------------------------

try:
    from _json import encode_basestring as _c_encode_str
    from _json import encode_basestring_ascii as _c_encode_ascii
    from _json import make_encoder as _c_make_encoder
    from _json import make_scanner as _c_make_scanner
except ImportError:  # no accelerator: the json package does it all
    _c_make_encoder = _c_make_scanner = None

_DECIMAL_MARK = "\x00ignis-decimal-" + os.urandom(8).hex() + ":"
_DECIMAL_MARK_JSON = None  # '"\u0000ignis-decimal-<nonce>:', when first needed
_JSON_WS = " \t\n\r"


class _DecoderContext(object):
    """What the C scanner reads off a json.JSONDecoder()."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__
    memo = {}


_scan_once = None


def from_json(data):
    """json.loads(data), without importing `json` unless `data` is not a
    well-formed document (then json.loads raises its own error)."""
    global _scan_once
    if _c_make_scanner is not None:
        text = data
        if isinstance(data, (bytes, bytearray)):
            # json.detect_encoding says UTF-8 unless the document starts with
            # a BOM or a NUL in its first two bytes.
            if data[:1] in (b"\x00", b"\xef", b"\xfe", b"\xff") or data[1:2] == b"\x00":
                text = None
            else:
                text = data.decode("utf-8", "surrogatepass")
        elif not isinstance(data, str) or data.startswith("\ufeff"):
            text = None
        if text is not None:
            try:
                if _scan_once is None:
                    _scan_once = _c_make_scanner(_DecoderContext())
                start = len(text) - len(text.lstrip(_JSON_WS))
                obj, end = _scan_once(text, start)
                if end == len(text.rstrip(_JSON_WS)):
                    return obj
            except Exception:
                pass
    import json

    return json.loads(data)


def _runtime_minor():
    env = os.environ.get("AWS_EXECUTION_ENV", "")
    prefix = "AWS_Lambda_python3."
    if env.startswith(prefix) and env[len(prefix):].isdigit():
        return int(env[len(prefix):])
    return sys.version_info[1]


_ENSURE_ASCII = _runtime_minor() < 12


def _as_object(o):
    """What simplejson (Lambda's encoder, namedtuple_as_object on) writes as
    a JSON object: anything with a callable `_asdict`, namedtuples first."""
    asdict = getattr(o, "_asdict", None)
    return asdict() if callable(asdict) else None


_LEAVES = (str, int, float, bool, type(None))


def _namedtuples_as_objects(obj, _path=None):
    """`obj` with every namedtuple inside replaced by its `_asdict()`; `obj`
    itself when it holds none (the common case: nothing is copied). Leaves
    are skipped by their exact type, so a long list of numbers costs one
    type check per item."""
    if type(obj) in _LEAVES:
        return obj
    if isinstance(obj, tuple):
        as_dict = _as_object(obj)
        if as_dict is not None:
            return _namedtuples_as_objects(as_dict, _path)
    if not isinstance(obj, (dict, list, tuple)):
        return obj
    # The containers being walked: a cycle is the encoder's error, as json's.
    if _path is None:
        _path = set()
    if id(obj) in _path:
        raise ValueError("Circular reference detected")
    _path.add(id(obj))
    changed = None
    is_dict = isinstance(obj, dict)
    items = obj.items() if is_dict else enumerate(obj)
    for key, value in items:
        # simplejson decodes bytes keys too.
        text_key = is_dict and isinstance(key, (bytes, bytearray))
        if type(value) in _LEAVES and not text_key:
            continue
        new = _namedtuples_as_objects(value, _path)
        if new is not value or text_key:
            if changed is None:
                changed = dict(obj) if is_dict else list(obj)
            if text_key:
                del changed[key]
                key = bytes(key).decode("utf-8")
            changed[key] = new
    _path.discard(id(obj))
    return obj if changed is None else changed


def to_json(obj, ensure_ascii=None):
    """Serializes `obj` as Lambda's Python runtime (simplejson) does; raises
    TypeError or ValueError for what it cannot serialize."""
    decimals = []

    def default(o):
        dec = sys.modules.get("decimal")
        if dec is not None and isinstance(o, dec.Decimal):
            if o.is_nan():
                return float("nan")
            decimals.append(str(o))
            return _DECIMAL_MARK + str(len(decimals) - 1)
        if isinstance(o, (bytes, bytearray)):
            # simplejson decodes bytes as UTF-8 text.
            return bytes(o).decode("utf-8")
        as_dict = _as_object(o)
        if as_dict is not None:
            return _namedtuples_as_objects(as_dict)
        raise TypeError(
            "Object of type %s is not JSON serializable" % o.__class__.__name__
        )

    obj = _namedtuples_as_objects(obj)

    if ensure_ascii is None:
        ensure_ascii = _ENSURE_ASCII
    encode = None
    if _c_make_encoder is not None:
        # What json.JSONEncoder(...).encode(obj) does with the accelerator.
        encode_str = _c_encode_ascii if ensure_ascii else _c_encode_str
        if isinstance(obj, str):
            return encode_str(obj)
        try:
            encode = _c_make_encoder(
                {}, default, encode_str, None, ": ", ", ", False, False, True
            )
        except TypeError:
            encode = None
    if encode is not None:
        text = "".join(encode(obj, 0))
    else:
        import json

        text = json.JSONEncoder(
            ensure_ascii=ensure_ascii, allow_nan=True, default=default
        ).encode(obj)
    if decimals:
        import re

        global _DECIMAL_MARK_JSON
        if _DECIMAL_MARK_JSON is None:
            import json

            _DECIMAL_MARK_JSON = json.dumps(_DECIMAL_MARK)[:-1]

        pattern = re.escape(_DECIMAL_MARK_JSON) + r'(\d+)"'
        text = re.sub(pattern, lambda m: decimals[int(m.group(1))], text)
    return text


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class FaultError(Exception):
    """An error of the runtime itself, reported with a `Runtime.*` type."""

    MARSHAL = "Runtime.MarshalError"
    UNMARSHAL = "Runtime.UnmarshalError"
    SYNTAX = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    CONTEXT_UNMARSHAL = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, error_type, message, stack_trace=None):
        Exception.__init__(self, message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace


def error_document(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def exception_document(exc, request_id=None):
    """Lambda's error document for an exception raised by user code: its
    class name, its message and its frames, from the first frame that is not
    this file's."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    for i, frame in enumerate(frames):
        if "/bootstrap.py" not in frame.filename:
            frames = frames[i:]
            break
    entries = [(f.filename, f.lineno, f.name, f.line) for f in frames]
    return error_document(
        str(exc),
        exc.__class__.__name__,
        traceback.format_list(entries),
        request_id,
    )


# --------------------------------------------------------------------------
# Logs: stdout, which Ignis reads line by line.
# --------------------------------------------------------------------------

_LOG_FORMAT_JSON = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
_NBSP = "\u00a0"
_UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. "
    "The most likely cause is an issue in the function code."
)

_request_id = None
_tenant_id = None


def write_log(text):
    """Writes one log record: one write, ending with a newline."""
    if not text.endswith("\n"):
        text += "\n"
    out = sys.stdout
    out.write(text)
    try:
        out.flush()
    except Exception:
        pass


def _indent_nbsp(line):
    stripped = line.lstrip(" ")
    return _NBSP * (len(line) - len(stripped)) + stripped


def log_error_document(doc):
    """Logs an error as Lambda's runtime does before reporting it."""
    if _LOG_FORMAT_JSON:
        record = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "log_level": "ERROR",
        }
        record.update(doc)
        write_log(to_json(record))
        return
    head = "[ERROR]"
    if doc.get("errorType"):
        head += " " + doc["errorType"]
    if doc.get("errorMessage"):
        if doc.get("errorType"):
            head += ":"
        head += " " + doc["errorMessage"]
    lines = [head]
    stack = doc.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for entry in stack:
            if entry == "":
                lines.append("")
            else:
                lines.extend(_indent_nbsp(l) for l in entry.splitlines())
    write_log("\n".join(lines))


_RESERVED = frozenset(
    (
        "name msg args levelname levelno pathname filename module exc_info "
        "exc_text stack_info lineno funcName created msecs relativeCreated "
        "thread threadName processName process aws_request_id tenant_id"
    ).split()
)


def _json_formatter_class(logging):
    class JsonFormatter(logging.Formatter):
        """Lambda's JSON log format for the logging module."""

        def __init__(self):
            logging.Formatter.__init__(self, datefmt="%Y-%m-%dT%H:%M:%SZ")

        def format(self, record):
            import json
            import traceback

            record.levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelname = logging.getLevelName(record.levelno)
            exc = record.exc_info
            doc = {
                "timestamp": self.formatTime(record, self.datefmt),
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "stackTrace": traceback.format_tb(exc[2]) if exc else None,
                "errorType": exc[0].__name__ if exc else None,
                "errorMessage": str(exc[1]) if exc else None,
                "requestId": getattr(record, "aws_request_id", None),
                "location": (
                    "%s:%s:%s" % (record.pathname, record.funcName, record.lineno)
                    if exc
                    else None
                ),
            }
            if getattr(record, "tenant_id", None) is not None:
                doc["tenantId"] = record.tenant_id
            for key, value in record.__dict__.items():
                if key not in _RESERVED and key not in doc:
                    doc[key] = value
            doc = {k: v for k, v in doc.items() if v is not None}
            return json.dumps(doc, ensure_ascii=False, default=str)

    return JsonFormatter


def setup_logging(logging):
    """Lambda's root handler, on the `logging` module just imported."""

    class _RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id or ""
            record.tenant_id = _tenant_id
            return True

    class _StdoutHandler(logging.Handler):
        def emit(self, record):
            try:
                write_log(self.format(record))
            except Exception:
                self.handleError(record)

    levels = {
        "CRITICAL": logging.CRITICAL,
        "FATAL": logging.FATAL,
        "ERROR": logging.ERROR,
        "WARN": logging.WARNING,
        "WARNING": logging.WARNING,
        "INFO": logging.INFO,
        "DEBUG": logging.DEBUG,
        "NOTSET": logging.NOTSET,
    }
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    if _LOG_FORMAT_JSON:
        handler.setFormatter(_json_formatter_class(logging)())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        level = {"TRACE": "DEBUG"}.get(level.upper(), level.upper())
        if level in levels:
            root.setLevel(levels[level])
    root.addHandler(handler)


class _LoggingSetup(object):
    """A meta path finder that sets Lambda's logging up right after the
    `logging` module is first imported, by the handler's code or by this file,
    so that importing it is not a cost of every start-up. It finds nothing
    itself: it asks the finders after it and has the loader they return call
    setup_logging once the module has run."""

    @classmethod
    def install(cls):
        if "logging" in sys.modules:
            setup_logging(sys.modules["logging"])
        else:
            sys.meta_path.insert(0, cls)

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging":
            return None
        try:
            sys.meta_path.remove(cls)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is not None:

            def exec_then_setup(module):
                # Off the loader first: it may be shared with what `logging`
                # imports.
                try:
                    del loader.exec_module
                except AttributeError:
                    pass
                exec_module(module)
                setup_logging(module)

            loader.exec_module = exec_then_setup
        elif hasattr(loader, "get_code"):  # a loader of before PEP 451
            spec.loader = _LegacyLoader(loader)
        return spec


class _LegacyLoader(object):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        exec(self.loader.get_code(module.__name__), module.__dict__)
        setup_logging(module)


# --------------------------------------------------------------------------
# The context object
# --------------------------------------------------------------------------


def _fill(obj, values):
    for field in obj.__slots__:
        setattr(obj, field, values.get(field))
    return obj


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return "Client([%s])" % ",".join(
            "%s=%s" % (f, getattr(self, f)) for f in self.__slots__
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (
            self.custom,
            self.env,
            self.client,
        )


class LambdaContext(object):
    """The handler's second argument, with the attributes and methods of
    Lambda's."""

    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        env = os.environ
        self.aws_request_id = invoke_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = None
        if client_context is not None:
            self.client_context = _fill(ClientContext(), client_context)
            if self.client_context.client is not None:
                self.client_context.client = _fill(Client(), self.client_context.client)
        self.identity = _fill(CognitoIdentity(), {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get(
                "cognitoIdentityPoolId"
            )
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg):
        write_log(str(msg))

    def __repr__(self):
        return (
            "LambdaContext(["
            "aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
            "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
            "invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s"
            "])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


def _parse_json_header(value, name):
    try:
        return from_json(value)
    except Exception as e:
        raise FaultError(
            FaultError.CONTEXT_UNMARSHAL, "Unable to parse %s JSON: %s" % (name, e)
        )


# --------------------------------------------------------------------------
# The Runtime API over one persistent HTTP/1.1 connection
# --------------------------------------------------------------------------


class RuntimeAPIError(Exception):
    pass


def _create_connection(host, port):
    """socket.create_connection((host, port)) on a bare _socket.socket."""
    error = None
    for family, type_, proto, _, address in _socket.getaddrinfo(
        host, port, 0, _socket.SOCK_STREAM
    ):
        sock = None
        try:
            sock = _socket.socket(family, type_, proto)
            sock.connect(address)
            return sock
        except OSError as e:
            error = e
            if sock is not None:
                sock.close()
    if error is not None:
        raise error
    raise OSError("getaddrinfo returns an empty list")


class _Closed(ConnectionError):
    pass


class Response(object):
    __slots__ = ["status", "headers", "body"]

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


class RuntimeAPI(object):
    PREFIX = "/2018-06-01/runtime"

    def __init__(self, address):
        self.address = address
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            host, port = address, "80"
        self._target = (host.strip("[]") or "127.0.0.1", int(port))
        self._sock = None
        self._buf = bytearray()
        self._agent = "ignis-python/%d.%d.%d" % sys.version_info[:3]

    # -- transport --------------------------------------------------------

    def _connect(self):
        host, port = self._target
        try:
            # ASCII bytes: a str host would make getaddrinfo import the idna codec.
            host = host.encode("ascii")
        except UnicodeEncodeError:
            pass
        sock = _create_connection(host, port)
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._sock = sock
        self._buf = bytearray()

    def close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._buf = bytearray()

    def _fill(self):
        chunk = self._sock.recv(262144)
        if not chunk:
            raise _Closed("the Runtime API closed the connection")
        self._buf += chunk

    def _read_until(self, marker, limit=1 << 20):
        while True:
            pos = self._buf.find(marker)
            if pos >= 0:
                data = bytes(self._buf[:pos])
                del self._buf[: pos + len(marker)]
                return data
            if len(self._buf) > limit:
                raise RuntimeAPIError("malformed response from the Runtime API")
            self._fill()

    def _read_exactly(self, n):
        out = bytearray(n)
        view = memoryview(out)
        have = min(n, len(self._buf))
        view[:have] = self._buf[:have]
        del self._buf[:have]
        while have < n:
            got = self._sock.recv_into(view[have:], min(n - have, 1 << 20))
            if not got:
                raise _Closed("the Runtime API closed the connection")
            have += got
        return bytes(out)

    def _read_response(self):
        while True:
            head = self._read_until(b"\r\n\r\n").decode("utf-8", "replace")
            lines = head.split("\r\n")
            parts = lines[0].split(None, 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise RuntimeAPIError("malformed status line %r" % lines[0])
            status = int(parts[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if 100 <= status < 200:
                continue
            break
        keep_alive = parts[0] != "HTTP/1.0"
        conn = headers.get("connection", "").lower()
        if "close" in conn:
            keep_alive = False
        elif "keep-alive" in conn:
            keep_alive = True
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0].strip(), 16)
                if size == 0:
                    while self._read_until(b"\r\n"):  # trailers
                        pass
                    break
                chunks.append(self._read_exactly(size))
                self._read_until(b"\r\n")
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = self._read_exactly(int(headers["content-length"]))
        elif status in (204, 304):
            body = b""
        else:
            data = bytes(self._buf)
            self._buf = bytearray()
            pieces = [data]
            while True:
                chunk = self._sock.recv(262144)
                if not chunk:
                    break
                pieces.append(chunk)
            body = b"".join(pieces)
            keep_alive = False
        if not keep_alive:
            self.close()
        return Response(status, headers, body)

    def request(self, method, path, body=None, headers=None):
        lines = [
            "%s %s%s HTTP/1.1" % (method, self.PREFIX, path),
            "Host: " + self.address,
            "User-Agent: " + self._agent,
        ]
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
        for name, value in (headers or {}).items():
            lines.append("%s: %s" % (name, value))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if body:
            data += body
        failure = None
        for _ in (1, 2):
            reused = self._sock is not None
            try:
                if not reused:
                    self._connect()
                try:
                    self._sock.sendall(data)
                except OSError as e:
                    # The server may have answered (a 413) and closed before
                    # reading the whole body: its answer is what counts.
                    try:
                        return self._read_response()
                    except (OSError, RuntimeAPIError, ValueError):
                        raise e
                return self._read_response()
            except (OSError, ValueError) as e:
                self.close()
                failure = e
                # A kept-alive connection the server dropped while idle:
                # once, try again on a new one.
                if not reused:
                    break
        raise RuntimeAPIError("%s %s%s failed: %s" % (method, self.PREFIX, path, failure))

    # -- the API ----------------------------------------------------------

    def next_invocation(self):
        resp = self.request("GET", "/invocation/next")
        if resp.status != 200:
            raise RuntimeAPIError(
                "GET /invocation/next answered %d: %s"
                % (resp.status, resp.body[:1000].decode("utf-8", "replace"))
            )
        return resp

    def _post(self, path, body, headers):
        resp = self.request("POST", path, body, headers)
        if resp.status == 202:
            return
        message = "POST %s%s answered %d: %s" % (
            self.PREFIX,
            path,
            resp.status,
            resp.body[:1000].decode("utf-8", "replace"),
        )
        if resp.status >= 500:
            # Container error: non-recoverable, the runtime should exit.
            raise RuntimeAPIError(message)
        # 4xx (an oversized response, an invocation answered already): the
        # platform reports it to the caller; this environment carries on.
        if resp.status != 413:
            sys.stderr.write("ignis: %s\n" % message)

    def post_response(self, request_id, body, content_type):
        self._post(
            "/invocation/%s/response" % request_id,
            body,
            {"Content-Type": content_type},
        )

    def post_error(self, request_id, doc):
        self._post(
            "/invocation/%s/error" % request_id,
            to_json(doc).encode("utf-8"),
            _error_headers(doc),
        )

    def post_init_error(self, doc):
        self._post("/init/error", to_json(doc).encode("utf-8"), _error_headers(doc))


def _error_headers(doc):
    error_type = str(doc.get("errorType") or "Unknown")
    error_type = error_type.encode("ascii", "backslashreplace").decode("ascii")
    error_type = error_type.replace("\r", " ").replace("\n", " ")
    return {
        "Content-Type": "application/json",
        "Lambda-Runtime-Function-Error-Type": error_type,
    }


# --------------------------------------------------------------------------
# Handler loading
# --------------------------------------------------------------------------


def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError(
            FaultError.MALFORMED_HANDLER_NAME, "Bad handler '%s': %s" % (handler, e)
        )
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultError(
                FaultError.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module %s as a handler module" % modname,
            )
        import importlib

        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultError(
            FaultError.IMPORT_MODULE,
            "Unable to import module '%s': %s" % (modname, e),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultError(
            FaultError.SYNTAX,
            "Syntax error in module '%s': %s" % (modname, e),
            trace,
        )
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultError(
            FaultError.HANDLER_NOT_FOUND,
            "Handler '%s' missing on module '%s'" % (fname, modname),
        )


# --------------------------------------------------------------------------
# Start-up and the invocation loop
# --------------------------------------------------------------------------


# Standard-library modules that Lambda's runtime client has imported before
# the function's code runs: its bootstrap's json, logging, traceback,
# warnings, importlib and decimal, and what those import. There, a file of
# the function's named like one of them is never imported: the loaded
# module wins. This client imports them lazily (each costs milliseconds of
# every cold start), so they are looked up in the standard library only; a
# function's `types.py` or `enum/` can then break neither the function's
# `import json` nor this file's error reporting. The list keeps to what
# every client version loads: a name it holds that Lambda had not loaded
# would keep a function's own module of that name from importing.
_PRELOADED_ON_LAMBDA = frozenset(
    """collections contextlib copyreg decimal enum functools genericpath
    heapq importlib itertools json keyword linecache locale logging math
    numbers operator os posixpath re reprlib sre_compile sre_constants
    sre_parse stat string textwrap threading token tokenize traceback types
    warnings weakref""".split()
)


class _StandardLibraryFirst(object):
    """A meta path finder: the modules of `_PRELOADED_ON_LAMBDA` come from
    the standard library's directories, whatever comes first on sys.path."""

    def __init__(self, stdlib_path):
        self.stdlib_path = stdlib_path
        self.path_finder = sys.modules["_frozen_importlib_external"].PathFinder

    def find_spec(self, name, path=None, target=None):
        if path is not None or name not in _PRELOADED_ON_LAMBDA:
            return None  # submodules follow their package's own path
        return self.path_finder.find_spec(name, self.stdlib_path, target)


def setup_sys_path():
    """Lambda's search path: the code, the layers, then the standard
    library. The directory of this file (sys.path[0]) is not on it."""
    here = os.path.dirname(os.path.realpath(__file__))
    path = []
    for entry in sys.path:
        try:
            if entry and os.path.realpath(entry) == here:
                continue
        except (OSError, ValueError):
            pass
        path.append(entry)
    # After the built-in and frozen importers, before the path finder; the
    # standard library's directories only (not a PYTHONPATH the function set).
    extra = set(filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    finder = _StandardLibraryFirst([p for p in path if p not in extra])
    at = next(
        (i for i, f in enumerate(sys.meta_path) if f is finder.path_finder),
        len(sys.meta_path),
    )
    sys.meta_path.insert(at, finder)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    opt = os.environ.get("IGNIS_OPT_DIR") or "/opt"
    front = [
        task_root,
        os.path.join(
            opt, "python", "lib", "python%d.%d" % sys.version_info[:2], "site-packages"
        ),
        os.path.join(opt, "python"),
    ]
    sys.path[:] = front + [p for p in path if p not in front]


def setup_builtins():
    """exit() and quit(), which `site` would have added."""
    import builtins

    if hasattr(builtins, "exit"):
        return
    try:
        import _sitebuiltins

        eof = "Ctrl-D (i.e. EOF)"
        builtins.exit = _sitebuiltins.Quitter("exit", eof)
        builtins.quit = _sitebuiltins.Quitter("quit", eof)
    except Exception:
        pass


def setup_streams():
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            if stream.encoding.replace("-", "").lower() != "utf8":
                stream.reconfigure(encoding="utf-8")
            if not sys.flags.unbuffered:
                stream.reconfigure(line_buffering=True)
        except Exception:
            pass


def set_trace_id(trace_id):
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def handle_invocation(api, handler, resp):
    global _request_id, _tenant_id
    headers = resp.headers
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _request_id = request_id
    _tenant_id = headers.get("lambda-runtime-aws-tenant-id") or None
    set_trace_id(headers.get("lambda-runtime-trace-id"))

    doc = None
    try:
        client_context = headers.get("lambda-runtime-client-context")
        cognito = headers.get("lambda-runtime-cognito-identity")
        try:
            deadline = int(headers.get("lambda-runtime-deadline-ms", "0"))
        except ValueError:
            deadline = 0
        context = LambdaContext(
            request_id,
            _parse_json_header(client_context, "Client Context") if client_context else None,
            _parse_json_header(cognito, "Cognito Identity") if cognito else None,
            deadline,
            headers.get("lambda-runtime-invoked-function-arn"),
            _tenant_id,
        )
        content_type = headers.get("content-type", "application/json")
        if content_type.split(";")[0].strip().lower() in ("application/json", ""):
            try:
                event = from_json(resp.body)
            except Exception as e:
                raise FaultError(
                    FaultError.UNMARSHAL, "Unable to unmarshal input: %s" % e
                )
        else:
            event = resp.body
        result = handler(event, context)
        if isinstance(result, bytes):
            body, result_type = result, "application/unknown"
        else:
            try:
                body = to_json(result).encode("utf-8")
            except Exception as e:
                raise FaultError(
                    FaultError.MARSHAL, "Unable to marshal response: %s" % e
                )
            result_type = "application/json"
    except FaultError as e:
        doc = error_document(e.message, e.error_type, e.stack_trace, request_id)
    except Exception as e:
        doc = exception_document(e, request_id)

    if doc is not None:
        log_error_document(doc)
        api.post_error(request_id, doc)
    else:
        api.post_response(request_id, body, result_type)


def main():
    setup_streams()
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    api = RuntimeAPI(address)
    setup_sys_path()
    setup_builtins()

    doc = None
    try:
        _LoggingSetup.install()
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultError as e:
        doc = error_document(e.message, e.error_type, e.stack_trace)
    except Exception as e:
        doc = exception_document(e)
    if doc is not None:
        import logging

        logging.warning(_UNHANDLED_WARNING)
        log_error_document(doc)
        try:
            api.post_init_error(doc)
        except RuntimeAPIError as e:
            sys.stderr.write("ignis: %s\n" % e)
        sys.exit(1)

    while True:
        try:
            resp = api.next_invocation()
        except RuntimeAPIError as e:
            sys.stderr.write("ignis: %s\n" % e)
            sys.exit(1)
        try:
            handle_invocation(api, handler, resp)
        except RuntimeAPIError as e:
            sys.stderr.write("ignis: %s\n" % e)
            sys.exit(1)


if __name__ == "__main__":
    # A held client waits here, with this module loaded; what the module
    # read from the environment while loading is read again once the
    # function's is in place.
    if _await_function():
        _ENSURE_ASCII = _runtime_minor() < 12
        _LOG_FORMAT_JSON = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    main()

"""Bad input: malformed bodies and hostile zips each get a Lambda-shaped error
(X-Amzn-ErrorType + {"Type", "message"}), nothing is written outside the data
directory, and functions created before are intact afterwards."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import stat
import struct
import threading
import uuid
import zipfile
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from support import ROLE, build_zip, code_sha256, error_code, invoke

FUNCTIONS = "/2015-03-31/functions"


@pytest.fixture(scope="module")
def survivor(lam, echo_zip):
    """A function created before the bad requests; must stay invokable."""
    name = f"survivor-{uuid.uuid4().hex[:6]}"
    lam.create_function(
        FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Role=ROLE, Code={"ZipFile": echo_zip}
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert invoke(lam, name, {"op": "count"})[2]["count"] == 1
    yield name
    lam.delete_function(FunctionName=name)


@pytest.fixture
def sentinel():
    """A directory outside the data dir that a path-traversal would write into."""
    path = Path("/tmp") / f"ignis-sentinel-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def assert_lambda_error(r: requests.Response, types: tuple[str, ...], status: int | None = None):
    assert r.status_code >= 400, (r.status_code, r.text[:500])
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text[:500])
    error_type = r.headers.get("X-Amzn-ErrorType", "").split(":")[0]
    assert error_type in types, (r.status_code, dict(r.headers), r.text[:500])
    body = r.json()
    assert body.get("Type") in ("User", "Service"), body
    assert isinstance(body.get("message") or body.get("Message"), str) and (body.get("message") or body["Message"]), body
    return body


def create_raw(url: str, name: str, code: bytes, **extra) -> requests.Response:
    body = {
        "FunctionName": name,
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Role": ROLE,
        "Code": {"ZipFile": base64.b64encode(code).decode()},
    }
    body.update(extra)
    return requests.post(url + FUNCTIONS, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=120)


def assert_not_created(lam, name):
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    assert error_code(e.value) == "ResourceNotFoundException"


BAD_CONTENT = ("InvalidRequestContentException", "InvalidParameterValueException", "ValidationException", "SerializationException")


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2]", b'{"FunctionName": 5}', b"\xff\xfe\x00garbage"],
    ids=["truncated", "empty", "array", "wrong-type", "binary"],
)
def test_malformed_create_body(url, lam, survivor, body):
    r = requests.post(url + FUNCTIONS, data=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert_lambda_error(r, BAD_CONTENT, 400)


def test_malformed_update_body(url, survivor):
    r = requests.put(f"{url}{FUNCTIONS}/{survivor}/configuration", data=b'{"Timeout": ', timeout=60)
    assert_lambda_error(r, BAD_CONTENT, 400)
    r = requests.put(f"{url}{FUNCTIONS}/{survivor}/code", data=b"nope", timeout=60)
    assert_lambda_error(r, BAD_CONTENT, 400)


def test_unknown_field(url, lam, fname, echo_zip):
    r = create_raw(url, fname, echo_zip, NoSuchField=True)
    assert_lambda_error(r, BAD_CONTENT, 400)
    assert_not_created(lam, fname)


def test_unknown_field_in_update(url, lam, survivor):
    r = requests.put(f"{url}{FUNCTIONS}/{survivor}/configuration", data=json.dumps({"Timeoot": 5}), timeout=60)
    assert_lambda_error(r, BAD_CONTENT, 400)
    assert lam.get_function_configuration(FunctionName=survivor)["Timeout"] == 3


def test_missing_required_fields(url, lam, fname):
    r = requests.post(url + FUNCTIONS, data=json.dumps({"FunctionName": fname}), timeout=60)
    assert_lambda_error(r, BAD_CONTENT, 400)
    assert_not_created(lam, fname)


def test_code_not_base64(url, lam, fname):
    body = {"FunctionName": fname, "Runtime": "provided.al2023", "Handler": "bootstrap", "Role": ROLE, "Code": {"ZipFile": "%%%not base64%%%"}}
    r = requests.post(url + FUNCTIONS, data=json.dumps(body), timeout=60)
    assert_lambda_error(r, BAD_CONTENT, 400)
    assert_not_created(lam, fname)


def test_not_a_zip(url, lam, fname):
    r = create_raw(url, fname, b"this is not a zip file at all" * 10)
    body = assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert "zip" in json.dumps(body).lower()
    assert_not_created(lam, fname)


def test_not_a_zip_with_boto3(lam, fname):
    with pytest.raises(ClientError) as e:
        lam.create_function(
            FunctionName=fname, Runtime="provided.al2023", Handler="bootstrap", Role=ROLE, Code={"ZipFile": b"PK\x03\x04junk"}
        )
    assert error_code(e.value) == "InvalidParameterValueException"


def test_truncated_zip(url, lam, fname, echo_zip):
    r = create_raw(url, fname, echo_zip[: len(echo_zip) // 2])
    assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert_not_created(lam, fname)


def test_update_code_with_bad_zip_keeps_old_code(lam, survivor, echo_zip):
    before = lam.get_function_configuration(FunctionName=survivor)["CodeSha256"]
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName=survivor, ZipFile=b"not a zip")
    assert error_code(e.value) == "InvalidParameterValueException"
    assert lam.get_function_configuration(FunctionName=survivor)["CodeSha256"] == before


def traversal_zip(sentinel: Path, rel: str) -> bytes:
    return build_zip([("bootstrap", b"#!/bin/sh\n", 0o755), (rel, b"pwned")])


def test_zip_with_dotdot_paths(url, lam, fname, sentinel):
    rel = "../" * 32 + str(sentinel.relative_to("/")) + "/evil"
    r = create_raw(url, fname, traversal_zip(sentinel, rel))
    assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert not (sentinel / "evil").exists()
    assert list(sentinel.iterdir()) == []
    assert_not_created(lam, fname)


def test_zip_with_nested_dotdot(url, lam, fname, sentinel):
    rel = "lib/../../" + "../" * 32 + str(sentinel.relative_to("/")) + "/evil"
    r = create_raw(url, fname, traversal_zip(sentinel, rel))
    assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert list(sentinel.iterdir()) == []


def test_zip_with_absolute_path(url, lam, fname, sentinel):
    r = create_raw(url, fname, traversal_zip(sentinel, str(sentinel / "evil")))
    assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert list(sentinel.iterdir()) == []
    assert_not_created(lam, fname)


def test_zip_with_symlink_escape_then_write_through_it(url, lam, fname, sentinel):
    # "escape" -> the sentinel dir, then "escape/evil": an extractor that
    # follows the link writes outside.
    data = build_zip(
        [
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("escape", str(sentinel), stat.S_IFLNK | 0o777),
            ("escape/evil", b"pwned"),
        ]
    )
    r = create_raw(url, fname, data)
    assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert list(sentinel.iterdir()) == []
    assert_not_created(lam, fname)


def test_zip_with_relative_symlink_escape(url, lam, fname, sentinel):
    data = build_zip(
        [
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("up", "../" * 32 + str(sentinel.relative_to("/")), stat.S_IFLNK | 0o777),
            ("up/evil", b"pwned"),
        ]
    )
    r = create_raw(url, fname, data)
    assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert list(sentinel.iterdir()) == []


def test_zip_with_symlink_pointing_outside(url, lam, fname):
    data = build_zip([("bootstrap", b"#!/bin/sh\n", 0o755), ("passwd", "/etc/passwd", stat.S_IFLNK | 0o777)])
    r = create_raw(url, fname, data)
    assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert_not_created(lam, fname)


def zip_bomb(unpacked: int) -> bytes:
    """One zero-filled entry of `unpacked` bytes, streamed (fast, ~300 KB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("bootstrap", b"#!/bin/sh\n")
        zeros = zipfile.ZipInfo("zeros")
        zeros.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(zeros, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(unpacked >> 20):
                f.write(chunk)
    return buf.getvalue()


def test_zip_bomb_over_250mb_unpacked(url, lam, fname, survivor):
    data = zip_bomb(300 << 20)
    assert len(data) < 5 << 20
    r = create_raw(url, fname, data)
    body = assert_lambda_error(r, ("InvalidParameterValueException",), 400)
    assert "262144000" in json.dumps(body) or "250" in json.dumps(body), body
    assert_not_created(lam, fname)


def lying_zip_bomb(unpacked: int, claimed: int) -> bytes:
    """One zero-filled entry whose headers claim `claimed` bytes unpacked."""
    data = bytearray(zip_bomb(unpacked))
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(sig, start)) >= 0:
            if struct.unpack_from("<I", data, at + size_at)[0] == unpacked:
                struct.pack_into("<I", data, at + size_at, claimed)
            start = at + 4
    return bytes(data)


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def test_zip_bomb_with_lying_sizes(url, lam, server, fname, survivor):
    data = lying_zip_bomb(300 << 20, 1000)
    r = create_raw(url, fname, data)
    if r.status_code >= 400:
        assert_lambda_error(r, ("InvalidParameterValueException",))
    else:
        # Accepted on the strength of its headers: unpacking must still stop
        # at the limit (or at the claimed size), never fill the disk.
        lam.get_waiter("function_active_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        try:
            invoke(lam, fname, {})
        finally:
            lam.delete_function(FunctionName=fname)
    assert tree_size(server.data_dir) < 250 << 20


def test_zip_bomb_in_update_code(lam, survivor):
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName=survivor, ZipFile=zip_bomb(300 << 20))
    assert error_code(e.value) == "InvalidParameterValueException"


@pytest.mark.parametrize("what", ["create-60mb-zip", "invoke-7mb-payload"])
def test_oversized_request_answer_and_connection(url, fname, survivor, what):
    """A request over a size limit gets its 413 RequestTooLargeException. A
    server that stops reading the body must say `Connection: close`: a client
    that reuses the connection (keep-alive) otherwise fails its next request
    on a socket the server has dropped."""
    if what == "create-60mb-zip":
        path = FUNCTIONS
        code = base64.b64encode(os.urandom(60 * 1024 * 1024)).decode()
        body = json.dumps(
            {"FunctionName": fname, "Runtime": "provided.al2023", "Handler": "bootstrap", "Role": ROLE, "Code": {"ZipFile": code}}
        ).encode()
    else:
        path = f"{FUNCTIONS}/{survivor}/invocations"
        body = b'"' + b"x" * (7 * 1024 * 1024) + b'"'
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"

    def send():
        try:
            sock.sendall(head.encode() + body)
        except OSError:
            pass  # the server stopped reading; its answer is what counts

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    status, headers, payload = read_http_response(sock)
    assert status == 413, (status, headers, payload[:300])
    assert headers.get("x-amzn-errortype", "").split(":")[0] == "RequestTooLargeException"
    assert json.loads(payload)["Type"] == "User"
    if headers.get("connection", "").lower() == "close":
        sock.close()
        return
    # Keep-alive was promised: the connection must stay usable.
    sender.join(60)
    assert not sender.is_alive(), "the server neither read the body nor closed the connection"
    sock.settimeout(10)
    try:
        sock.sendall(f"GET {FUNCTIONS}/{survivor} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        status, _, _ = read_http_response(sock)
    except OSError as e:
        pytest.fail(f"413 without `Connection: close`, yet the server dropped the connection: {e!r}")
    finally:
        sock.close()
    assert status == 200


def read_http_response(sock) -> tuple[int, dict, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed before a complete response")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed in the middle of a response")
        rest += chunk
    return status, headers, rest[:length]


def test_bad_function_name_in_path(url):
    for name in ("..%2F..%2Fetc", "a%00b", "bad%20name"):
        r = requests.get(f"{url}{FUNCTIONS}/{name}", timeout=60)
        assert r.status_code in (400, 404), (name, r.status_code, r.text[:300])
        assert r.headers.get("X-Amzn-ErrorType", "").split(":")[0] in (
            "ValidationException",
            "InvalidParameterValueException",
            "ResourceNotFoundException",
        )


def test_unknown_route(url):
    r = requests.get(f"{url}/2015-03-31/nothing-here", timeout=60)
    assert r.status_code in (400, 404)
    assert r.headers.get("X-Amzn-ErrorType"), r.headers


def test_survivor_is_intact_after_bad_input(lam, survivor, echo_zip):
    # Runs last in this module (pytest keeps file order).
    conf = lam.get_function_configuration(FunctionName=survivor)
    assert conf["CodeSha256"] == code_sha256(echo_zip)
    assert conf["State"] == "Active"
    _, body, out = invoke(lam, survivor, {"op": "count"})
    assert out["count"] >= 1, body

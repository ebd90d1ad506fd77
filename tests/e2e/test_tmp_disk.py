"""`/tmp` is disk, not memory (issue 10): on the `namespace` sandbox a
function's `/tmp` is a file system of its own on disk, sized by
`EphemeralStorage` and not charged to its memory, as on Lambda. Before, it
was a tmpfs whose pages counted against MemorySize: a 128 MB function could
not write 1 GB to a 2,048 MB `/tmp`, and a 256 MB function filling its
512 MB `/tmp` was OOM-killed instead of getting `ENOSPC`.

Real Python functions against `ignis serve --sandbox namespace`. Needs root
(namespaces, cgroups, loop devices) and `mkfs.ext4`; without them the
tests skip with the reason."""

from __future__ import annotations

import os
import re
import shutil
import uuid

import pytest
import requests

from support import ROLE, Server, build_zip, invoke, lambda_client, tail_log

HANDLER = r'''
import errno, os

MB = 1 << 20


def mounted_fstype(path):
    for line in open("/proc/mounts"):
        fields = line.split()
        if fields[1] == path:
            return fields[2]
    return None


def df():
    st = os.statvfs("/tmp")
    return {"size": st.f_blocks * st.f_frsize, "avail": st.f_bavail * st.f_frsize}


def main(event, context):
    before = df()
    written, error, strerror = 0, None, None
    chunk = b"\x5a" * MB
    try:
        with open("/tmp/data", "wb", buffering=0) as f:
            while event["mb"] is None or written < event["mb"] * MB:
                written += f.write(chunk)
    except OSError as e:
        error, strerror = errno.errorcode.get(e.errno, str(e.errno)), e.strerror
    size = os.path.getsize("/tmp/data")
    os.unlink("/tmp/data")
    return {
        "fstype": mounted_fstype("/tmp"),
        "mode": oct(os.stat("/tmp").st_mode & 0o7777),
        "df": before,
        "written": size,
        "error": error,
        "strerror": strerror,
    }
'''

MB = 1 << 20


@pytest.fixture(scope="module")
def disk_server(tmp_path_factory):
    if os.geteuid() != 0:
        reason = f"the namespace sandbox needs root (running as uid {os.geteuid()})"
        print(f"test_tmp_disk: skipped: {reason}")
        pytest.skip(reason)
    if not any(shutil.which("mkfs.ext4", path=p) for p in (os.environ.get("PATH"), "/usr/sbin:/sbin")):
        pytest.skip("no mkfs.ext4 (e2fsprogs): /tmp stays a tmpfs")
    root = tmp_path_factory.mktemp("ignis-tmp-disk")
    srv = Server(root / "data", root / "logs", ["--sandbox", "namespace"]).start()
    yield srv
    srv.stop()
    assert not srv.panics_since(0), srv.stderr()[-8000:]


@pytest.fixture(scope="module")
def dlam(disk_server):
    return lambda_client(disk_server.url, read_timeout=300)


@pytest.fixture(scope="module")
def python_runtime(disk_server) -> str:
    r = requests.get(f"{disk_server.url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    for item in r.json()["Runtimes"]:
        if item["Runtime"].startswith("python3") and item["Available"]:
            return item["Runtime"]
    pytest.skip("no python3 interpreter on this machine")


@pytest.fixture(scope="module")
def writer(dlam, python_runtime):
    """Creates the writing function with `memory` MB and `tmp` MB of /tmp."""
    made: list[str] = []

    def create(memory: int, tmp: int) -> str:
        name = f"tmpdisk-{uuid.uuid4().hex[:8]}"
        dlam.create_function(
            FunctionName=name,
            Runtime=python_runtime,
            Handler="handler.main",
            Role=ROLE,
            Code={"ZipFile": build_zip([("handler.py", HANDLER, 0o644)])},
            MemorySize=memory,
            Timeout=300,
            EphemeralStorage={"Size": tmp},
        )
        made.append(name)
        dlam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        return name

    yield create
    for name in made:
        try:
            dlam.delete_function(FunctionName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


def write(dlam, name: str, mb: int | None) -> tuple[dict, str]:
    resp, raw, body = invoke(dlam, name, {"mb": mb}, LogType="Tail")
    log = tail_log(resp)
    assert "FunctionError" not in resp, f"{raw!r}\n{log}"
    return body, log


def max_memory_used(log: str) -> int:
    return int(re.search(r"Max Memory Used: (\d+) MB", log).group(1))


def test_the_start_up_line_says_tmp_is_on_disk(disk_server):
    out = disk_server.stdout_path.read_text()
    line = next(l for l in out.splitlines() if l.startswith("sandbox: "))
    assert "/tmp on disk (ext4 on loop devices" in line, line


def test_a_128_mb_function_writes_1_gb_to_a_2_gb_tmp(dlam, writer):
    name = writer(memory=128, tmp=2048)
    body, log = write(dlam, name, 1024)
    print(body, log, sep="\n")
    assert body["fstype"] == "ext4" and body["mode"] == "0o1777", body
    assert body["error"] is None and body["written"] == 1024 * MB, body
    assert 0.99 <= body["df"]["size"] / (2048 * MB) <= 1.01, body["df"]
    assert 0.99 <= body["df"]["avail"] / (2048 * MB) <= 1.01, body["df"]
    assert max_memory_used(log) <= 128, log


def test_a_full_512_mb_tmp_is_enospc_not_out_of_memory(dlam, writer):
    """256 MB of memory and a 512 MB /tmp: filling /tmp goes past the memory
    size and ends with ENOSPC, which the function gets as an error it can
    handle; its environment lives on."""
    name = writer(memory=256, tmp=512)
    body, log = write(dlam, name, None)
    print(body, log, sep="\n")
    assert body["fstype"] == "ext4", body
    assert body["error"] == "ENOSPC" and body["strerror"] == "No space left on device", body
    assert 512 * MB <= body["written"] <= 1.01 * 512 * MB, body
    assert 0.99 <= body["df"]["size"] / (512 * MB) <= 1.01, body["df"]
    # The same environment answers again, with its /tmp emptied by the
    # function: it was not killed.
    again, log = write(dlam, name, 1)
    assert again["written"] == MB and "Init Duration" not in log, (again, log)

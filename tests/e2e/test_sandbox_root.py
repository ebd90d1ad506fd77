"""`ignis serve --sandbox namespace --sandbox-root DIR` (issue 4): the
environment's read-only base root comes from DIR instead of the host. DIR
here is a tiny root file system laid out like Amazon Linux 2023 (merged
/usr) holding bash alone — the binary and the libraries `ldd` lists — and an
`etc/os-release` of its own; the function is a `provided.al2023` custom
runtime written in bash only (the root has no curl: HTTP goes through
bash's `/dev/tcp`) that answers with the os-release it sees.

Needs root (namespaces and cgroups); without it the tests skip with the
reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support import ROLE, Server, build_zip, invoke, lambda_client

BOOTSTRAP = r"""#!/bin/bash
# A custom runtime in bash alone: HTTP/1.1 over /dev/tcp, one connection per
# request. Answers with what this environment's root holds.
set -u
export LC_ALL=C
API=$AWS_LAMBDA_RUNTIME_API
HOST=${API%:*}
PORT=${API##*:}

request() {  # METHOD PATH [BODY]: sets REQUEST_ID and BODY
  local method=$1 path=$2 body=${3-} line
  exec 3<>"/dev/tcp/$HOST/$PORT" || exit 1
  printf '%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$method" "$path" "$API" "${#body}" "$body" >&3
  REQUEST_ID=
  while IFS= read -r line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    case ${line,,} in
      lambda-runtime-aws-request-id:*) REQUEST_ID=${line#*:}; REQUEST_ID=${REQUEST_ID# } ;;
    esac
  done
  BODY=
  IFS= read -r -d '' BODY <&3
  exec 3<&-
}

json() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/}
  printf '"%s"' "$s"
}

while true; do
  request GET /2018-06-01/runtime/invocation/next
  id=$REQUEST_ID
  os=$(</etc/os-release)
  resolv=$(</etc/resolv.conf)
  usr_bin=$(echo /usr/bin/*)
  answer="{\"os_release\":$(json "$os"),\"resolv\":$(json "$resolv"),\"usr_bin\":$(json "$usr_bin"),\"event\":$(json "$BODY")}"
  request POST "/2018-06-01/runtime/invocation/$id/response" "$answer"
done
"""


def under_usr(host: str) -> str:
    """`/lib/x` → `usr/lib/x`: the root's `lib` is a link to `usr/lib`."""
    rel = host.lstrip("/")
    return rel if rel.startswith("usr/") else f"usr/{rel}"


def build_tiny_root(root: Path) -> str | None:
    """Fills `root` with bash and its libraries; returns why not, or None."""
    bash = shutil.which("bash")
    ldd = shutil.which("ldd")
    if not bash or not ldd:
        return "no bash or ldd on this host"
    out = subprocess.run([ldd, bash], capture_output=True, text=True)
    if out.returncode != 0:
        return f"ldd {bash} failed: {out.stderr}"
    for d in ("usr/bin", "usr/lib", "usr/lib64", "etc"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for link, to in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        (root / link).symlink_to(to)
    shutil.copy(bash, root / "usr/bin/bash")
    (root / "usr/bin/sh").symlink_to("bash")
    for lib in (w for w in out.stdout.split() if w.startswith("/")):
        inside = root / under_usr(lib)
        inside.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, inside)
    add_python(root)
    (root / "etc/os-release").write_text('NAME="Ignis test root"\nID=ignis-test\n')
    # Empty, as `docker export` leaves it: Ignis binds the host's over it.
    (root / "etc/resolv.conf").write_text("")
    return None


def copy_program(root: Path, program: str, inside: str) -> bool:
    """Copies `program` to `inside` (a path in the root) with the libraries
    `ldd` lists; False when ldd cannot tell."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True)
    if out.returncode != 0:
        return False
    (root / inside).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(program, root / inside)
    for lib in (w for w in out.stdout.split() if w.startswith("/")):
        dest = root / under_usr(lib)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, dest)
    return True


def link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def add_python(root: Path) -> None:
    """The host's Debian-style /usr/bin/python3.N, if any, put at the root's
    /usr/local/bin with its standard library under /usr/local/lib, where
    the host has no interpreter of that name: only discovery inside the
    root can find it there."""
    host = next((p for p in sorted(Path("/usr/bin").glob("python3.*"), reverse=True)
                 if p.name.replace("python3.", "").isdigit()), None)
    if host is None or not (Path("/usr/lib") / host.name / "os.py").exists():
        return
    if Path("/usr/local/bin", host.name).exists():
        return
    if not copy_program(root, str(host), f"usr/local/bin/{host.name}"):
        return
    skip = shutil.ignore_patterns("test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip",
                                  "lib2to3", "pydoc_data", "__pycache__", "config-*")
    shutil.copytree(Path("/usr/lib") / host.name, root / "usr/local/lib" / host.name,
                    ignore=skip, copy_function=link_or_copy)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        reason = f"the namespace sandbox needs root (running as uid {os.geteuid()})"
        print(f"test_sandbox_root: skipped: {reason}")
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("tiny-root")
    reason = build_tiny_root(root)
    if reason:
        print(f"test_sandbox_root: skipped: {reason}")
        pytest.skip(reason)
    return Path(os.path.realpath(root))


@pytest.fixture(scope="module")
def root_server(tmp_path_factory, tiny_root):
    base = tmp_path_factory.mktemp("ignis-root")
    args = ["--sandbox", "namespace", "--sandbox-root", str(tiny_root)]
    srv = Server(base / "data", base / "logs", args).start()
    yield srv
    srv.stop()
    assert not srv.panics_since(0), srv.stderr()[-8000:]


def test_the_function_sees_the_custom_root(root_server, tiny_root):
    lam = lambda_client(root_server.url)
    # The start-up line names the base root in use.
    assert f"base root {tiny_root} (/usr, /lib -> usr/lib" in root_server.stderr(), root_server.stderr()
    name = "sandbox-root-os-release"
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Handler="function.handler",
        Role=ROLE,
        Code={"ZipFile": build_zip([("bootstrap", BOOTSTRAP, 0o755)])},
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    try:
        resp, raw, body = invoke(lam, name, {"hello": "root"})
        assert "FunctionError" not in resp, raw
        assert "ID=ignis-test" in body["os_release"].splitlines(), body
        host_id = next(
            (line for line in Path("/etc/os-release").read_text().splitlines() if line.startswith("ID=")),
            None,
        )
        if host_id:
            assert host_id not in body["os_release"].splitlines(), body
        # Only the tiny root's programs, not the host's /usr/bin.
        assert sorted(body["usr_bin"].split()) == ["/usr/bin/bash", "/usr/bin/sh"], body
        # The root's empty resolv.conf is covered by the host's.
        assert body["resolv"] == Path("/etc/resolv.conf").read_text().rstrip("\n"), body
        assert '"hello"' in body["event"], body
        # Warm: a second invocation reuses the environment.
        resp, raw, body = invoke(lam, name, {"again": 1})
        assert "FunctionError" not in resp and '"again"' in body["event"], raw
    finally:
        lam.delete_function(FunctionName=name)


def test_a_bad_root_stops_the_server_with_the_reason(tmp_path, tiny_root):
    (tmp_path / "notaroot").mkdir()
    srv = Server(
        tmp_path / "data",
        tmp_path / "logs",
        ["--sandbox", "namespace", "--sandbox-root", str(tmp_path / "notaroot")],
    )
    with pytest.raises(RuntimeError) as err:
        srv.start(timeout=30)
    assert "has no usr directory" in str(err.value), err.value


def test_a_python_inside_the_root_runs_the_managed_runtime(root_server, tiny_root):
    pythons = sorted((tiny_root / "usr/local/bin").glob("python3.*"))
    if not pythons:
        reason = "no Debian-style /usr/bin/python3.N with its library in /usr/lib on this host"
        print(f"test_sandbox_root: skipped: {reason}")
        pytest.skip(reason)
    runtime = pythons[0].name
    lam = lambda_client(root_server.url)
    name = "sandbox-root-python"
    src = (
        "import sys\n"
        "def main(event, context):\n"
        "    return {'executable': sys.executable, 'prefix': sys.prefix,\n"
        "            'os_release': open('/etc/os-release').read(), 'event': event}\n"
    )
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler="handler.main",
        Role=ROLE,
        Code={"ZipFile": build_zip([("handler.py", src, 0o644)])},
        Timeout=30,
        MemorySize=1769,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    try:
        resp, raw, body = invoke(lam, name, {"py": 1})
        assert "FunctionError" not in resp, raw
        assert body["executable"] == f"/usr/local/bin/{runtime}", body
        assert body["prefix"] == "/usr/local", body
        assert "ID=ignis-test" in body["os_release"].splitlines(), body
        assert body["event"] == {"py": 1}, body
    finally:
        lam.delete_function(FunctionName=name)

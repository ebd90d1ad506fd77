"""Network modes of the `namespace` sandbox (issue 4), against servers started
with `--sandbox namespace --network bridge|none`: the Runtime API at
127.0.0.1:9001 inside the environment, Ignis's own API on the host's loopback
refused, a host address reachable from `bridge` and not from `none`, and no
veth or network namespace left behind by 50 environments. Root only."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from support import ROLE, Server, bridges_held, build_zip, invoke, lambda_client, wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the namespace sandbox and network namespaces need root"
)

# A custom runtime that, per invocation, tries a TCP connection to every
# "host:port" of the event and answers how each went, with its view of the
# network; with ONE_SHOT=1 it exits after answering, so each invocation
# gets a new environment.
BOOTSTRAP = r"""#!/bin/bash
set -uo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
probe() {
  if timeout 3 bash -c "echo >/dev/tcp/$1/$2" 2>/tmp/err; then echo reached
  elif grep -q refused /tmp/err; then echo refused
  else echo unreachable; fi
}
while true; do
  HDR=$(mktemp)
  EVENT=$(curl -sS -D "$HDR" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HDR" | tr -d '[:space:]' | cut -d: -f2)
  OUT=""
  for t in $(echo "$EVENT" | tr -d '"[]{},'); do
    OUT="$OUT\"$t\": \"$(probe "${t%:*}" "${t##*:}")\", "
  done
  IFACES=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')
  curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" \
    -d "{$OUT \"api\": \"$AWS_LAMBDA_RUNTIME_API\", \"ifaces\": \"$IFACES\"}"
  [ "${ONE_SHOT:-0}" = 1 ] && exit 0
done
"""

NETWORK_LINE = re.compile(r"network `(\w+)`: (.*)")
BRIDGE = re.compile(r"bridge (ignis\d+) \S+ \(gateway ([\d.]+)\)")


def start(tmp_path_factory, mode: str) -> Server:
    root = tmp_path_factory.mktemp(f"ignis-{mode}")
    # Without environments started ahead (--prewarm): each held one keeps a
    # namespace and veth of its own, and these tests count the pool's
    # (test_prewarm.py checks held ones end with the server).
    args = ["--sandbox", "namespace", "--network", mode, "--idle-timeout-secs", "2", "--prewarm", "off"]
    return Server(root / "data", root / "logs", args).start()


def network_line(srv: Server) -> tuple[str, str]:
    match = wait_for(lambda: NETWORK_LINE.search(srv.stderr()), 10, what="the network line")
    return match.group(1), match.group(2)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    forward_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    made = {mode: start(tmp_path_factory, mode) for mode in ("bridge", "none")}
    yield made
    bridge = BRIDGE.search(made["bridge"].stderr())
    # No server of another pytest-xdist worker starts meanwhile: it could take
    # the bridge's number, once free, before the checks below.
    with bridges_held():
        for srv in made.values():
            assert srv.stop() == 0
        for srv in made.values():
            assert not srv.panics_since(0), srv.stderr()[-8000:]
        # Shutdown removes the bridge and every veth.
        assert bridge and not os.path.exists(f"/sys/class/net/{bridge.group(1)}")
        assert veths(bridge.group(1)) == 0
        assert not shutil.which("nft") or not nft_table(bridge.group(1))
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == forward_before


@pytest.fixture(scope="module")
def gateway(servers) -> tuple[str, str]:
    mode, text = network_line(servers["bridge"])
    assert mode == "bridge", text
    match = BRIDGE.search(text)
    assert match, text
    return match.group(1), match.group(2)


@pytest.fixture(scope="module")
def host_http(gateway):
    """An HTTP server on the host's bridge address (not loopback)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer((gateway[1], 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address
    httpd.shutdown()


def deploy(srv: Server, one_shot: bool = False) -> tuple[object, str]:
    client = lambda_client(srv.url)
    name = f"net-{uuid.uuid4().hex[:8]}"
    client.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Handler="bootstrap",
        Role=ROLE,
        Code={"ZipFile": build_zip([("bootstrap", BOOTSTRAP, 0o755)])},
        Timeout=30,
        Environment={"Variables": {"ONE_SHOT": "1" if one_shot else "0"}},
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return client, name


def api_port(srv: Server) -> str:
    return srv.url.rsplit(":", 1)[1]


def probe(srv: Server, targets: list[str]) -> dict:
    client, name = deploy(srv)
    resp, body, out = invoke(client, name, targets)
    assert "FunctionError" not in resp, body
    return out


def nft_table(bridge: str) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", bridge], capture_output=True).returncode == 0


def test_the_server_says_which_network_runs(servers, gateway):
    assert network_line(servers["none"])[0] == "none"
    assert gateway[0].startswith("ignis")
    text = network_line(servers["bridge"])[1]
    if shutil.which("nft"):
        assert "NAT by an nftables masquerade rule" in text, text
        assert nft_table(gateway[0])
    else:
        assert "no NAT" in text, text


def test_bridge_reaches_a_host_address_but_not_ignis_on_the_hosts_loopback(servers, gateway, host_http):
    srv = servers["bridge"]
    port = api_port(srv)
    http_target = f"{host_http[0]}:{host_http[1]}"
    out = probe(srv, [f"127.0.0.1:{port}", f"{gateway[1]}:{port}", http_target])
    assert out["api"] == "127.0.0.1:9001"
    assert out["ifaces"].split() == ["eth0", "lo"]
    assert out[f"127.0.0.1:{port}"] == "refused", out
    assert out[f"{gateway[1]}:{port}"] == "refused", out
    assert out[http_target] == "reached", out


@pytest.fixture
def metadata_http():
    """A stand-in for a cloud's instance metadata service: 169.254.169.254
    on the host's loopback interface, with an HTTP server bound to it."""
    addr = "169.254.169.254"
    if not shutil.which("ip"):
        pytest.skip("iproute2's ip is not installed")
    added = subprocess.run(["ip", "addr", "add", f"{addr}/32", "dev", "lo"], capture_output=True)
    if added.returncode != 0 and b"File exists" not in added.stderr:
        pytest.skip(f"cannot add {addr} to lo: {added.stderr.decode().strip()}")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer((addr, 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address
    finally:
        httpd.shutdown()
        httpd.server_close()
        if added.returncode == 0:
            subprocess.run(["ip", "addr", "del", f"{addr}/32", "dev", "lo"], capture_output=True)


def test_bridge_cannot_reach_a_link_local_metadata_service(servers, gateway, metadata_http):
    """Lambda does not let functions read an instance's metadata (and its
    role's credentials): link-local addresses are dropped for `bridge`,
    whether the host holds the address (input) or routes to it (forward)."""
    target = f"{metadata_http[0]}:{metadata_http[1]}"
    with socket.create_connection(metadata_http, timeout=3):
        pass  # the host itself reaches the stand-in
    out = probe(servers["bridge"], [target])
    assert out[target] == "unreachable", out


def test_none_has_only_loopback_and_reaches_nothing_of_the_host(servers, gateway, host_http):
    srv = servers["none"]
    port = api_port(srv)
    http_target = f"{host_http[0]}:{host_http[1]}"
    out = probe(srv, [f"127.0.0.1:{port}", http_target])
    assert out["api"] == "127.0.0.1:9001"
    assert out["ifaces"].split() == ["lo"]
    assert out[f"127.0.0.1:{port}"] == "refused", out
    assert out[http_target] == "unreachable", out


def veths(bridge: str) -> int:
    prefix = "ig" + bridge.removeprefix("ignis") + "g"
    return sum(1 for n in os.listdir("/sys/class/net") if n.startswith(prefix))


def netns_held(pid: int) -> set[str]:
    """Network namespaces the server holds open, other than its own."""
    own = os.readlink(f"/proc/{pid}/ns/net")
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("net:") and link != own:
            held.add(link)
    return held


def processes_in(namespaces: set[str], server: int) -> int:
    """Processes of `server` (its descendants) in `namespaces`: namespace
    numbers are reused, by other servers' environments too."""
    count = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                count += os.readlink(p / "ns/net") in namespaces and descends(int(p.name), server)
            except OSError:
                pass
    return count


def descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid == ancestor:
            return True
    return False


def test_fifty_environments_leave_no_veth_or_namespace_behind(servers, gateway):
    srv = servers["bridge"]
    bridge = gateway[0]
    client, name = deploy(srv, one_shot=True)
    pid = srv.proc.pid
    seen: set[str] = set()
    for i in range(50):
        resp, body, out = invoke(client, name, [])
        assert "FunctionError" not in resp, body
        seen |= netns_held(pid)
    # The namespace pool keeps 4 prepared (a veth each); everything the 50
    # environments had goes once they are reaped (the last one when idle).
    wait_for(lambda: veths(bridge) == 4, 30, what="only the pool's veths")
    wait_for(lambda: len(netns_held(pid)) == 4, 30, what="only the pool's namespaces")
    assert processes_in(seen, pid) == 0
    assert len(seen) > 4


def test_a_killed_servers_bridge_is_reclaimed_by_the_next(tmp_path_factory):
    # No server of another pytest-xdist worker starts meanwhile: it would
    # reclaim the bridge first, or take a freed number before the checks.
    # Theirs may stop, though, freeing a number below the killed one's.
    with bridges_held():
        killed = start(tmp_path_factory, "bridge")
        bridge = BRIDGE.search(network_line(killed)[1]).group(1)
        killed.kill()
        # SIGKILL: no shutdown ran; the namespaces (and their veths) died with
        # the process, the bridge and NAT table stay until a server reclaims them.
        assert os.path.exists(f"/sys/class/net/{bridge}")
        wait_for(lambda: veths(bridge) == 0, 30, what="the killed server's veths to go")
        nxt = start(tmp_path_factory, "bridge")
        try:
            taken = BRIDGE.search(network_line(nxt)[1]).group(1)
            log = nxt.stderr()
            assert re.search(rf"removing a bridge left by a stopped server bridge={bridge}\b", log), log[-4000:]
            # The first free number: the killed server's, unless a server of
            # another worker stopped meanwhile and freed a lower one.
            assert int(taken.removeprefix("ignis")) <= int(bridge.removeprefix("ignis")), (taken, bridge)
            if taken != bridge:
                assert not os.path.exists(f"/sys/class/net/{bridge}")
                assert not shutil.which("nft") or not nft_table(bridge)
        finally:
            assert nxt.stop() == 0
        assert not os.path.exists(f"/sys/class/net/{taken}")
        assert not shutil.which("nft") or not nft_table(taken)

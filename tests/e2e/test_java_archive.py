"""The Java client's class data sharing archive (crates/ignis-runtimes/src/
java_cds.rs): recorded by the server after it compiles the client, used by
every cold start of a Java function in the namespace sandbox, and harmless
when it is cut or stale: the function starts without it, the same, with
nothing about it in its log. A function's own JVM options (JAVA_TOOL_OPTIONS)
win over the client's defaults, as on Lambda."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from support import ROLE, build_zip, invoke, lambda_client, tail_log, wait_for

PROBE = '''\
package example;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;

public class Probe {
    public Map<String, Object> handle(Map<String, Object> event) throws Exception {
        String maps = new String(Files.readAllBytes(Paths.get("/proc/self/maps")));
        Map<String, Object> out = new HashMap<>();
        out.put("archive", maps.contains("/var/runtime/cds-"));
        out.put("name", event.get("name"));
        out.put("var", System.getenv("MY_VAR"));
        out.put("probe", String.valueOf(System.getProperty("ignis.probe")));
        out.put("level", ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                .getVMOption("TieredStopAtLevel").getValue());
        System.out.println("probe ran for " + event.get("name"));
        return out;
    }
}
'''


@pytest.fixture
def java_server(own_server, tmp_path, monkeypatch):
    """A server with a cache of its own, so that it compiles the client and
    records its archive now; returns (server, Lambda client, client dir)."""
    if not (shutil.which("java") and shutil.which("javac")):
        pytest.skip("no JDK installed")
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    # Every cold start a JVM of its own, started then: a held one (started
    # ahead, tests/e2e/test_prewarm.py) would have mapped the archive
    # before the test made it stale.
    srv = own_server(None, "--prewarm", "off")
    lam = lambda_client(srv.url)

    def ready():
        found = list((cache / "ignis" / "java").glob("classes-*/cds-*.flags"))
        return found[0].parent if found else None

    classes = wait_for(ready, timeout=240, what="the Java client's archive")
    return srv, lam, classes


def probe_zip(tmp_path: Path) -> bytes:
    src = tmp_path / "probe" / "example" / "Probe.java"
    src.parent.mkdir(parents=True)
    src.write_text(PROBE)
    out = tmp_path / "probe-classes"
    subprocess.run(["javac", "--release", "17", "-d", str(out), str(src)], check=True)
    return build_zip([("example/Probe.class", (out / "example/Probe.class").read_bytes())])


def cold(lam, name: str, code: bytes, env: dict[str, str]) -> tuple[dict, str]:
    """Creates `name` and invokes it once (a cold start)."""
    lam.create_function(
        FunctionName=name,
        Runtime="java17",
        Handler="example.Probe::handle",
        Role=ROLE,
        Code={"ZipFile": code},
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": env},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    resp, _, body = invoke(lam, name, {"name": name}, LogType="Tail")
    assert "FunctionError" not in resp, body
    log = tail_log(resp)
    assert f"probe ran for {name}" in log, log
    assert "cds" not in log and "shared archive" not in log, log
    return body, log


def test_a_java_function_starts_from_the_archive_and_without_it_the_same(java_server, tmp_path):
    _, lam, classes = java_server
    code = probe_zip(tmp_path)
    stamp = str(int(time.time()))

    # The archive is mapped; the client's defaults hold (C1 only); the
    # function's variables are its own.
    body, _ = cold(lam, f"jarch-a-{stamp}", code, {"MY_VAR": "a"})
    assert body == {"archive": True, "name": f"jarch-a-{stamp}", "var": "a", "probe": "null", "level": "1"}

    # JAVA_TOOL_OPTIONS is the function's: a property and a flag that
    # overrides the client's default, as on Lambda.
    body, _ = cold(
        lam, f"jarch-b-{stamp}", code, {"MY_VAR": "b", "JAVA_TOOL_OPTIONS": "-Dignis.probe=yes -XX:TieredStopAtLevel=4"}
    )
    assert body == {"archive": True, "name": f"jarch-b-{stamp}", "var": "b", "probe": "yes", "level": "4"}

    # The archive holds the client's classes and none of a function's,
    # not even after its functions ran (it is recorded once, before any).
    archive = next(classes.glob("cds-*.jsa")).read_bytes()
    assert b"ignis/runtime/Bootstrap" in archive
    assert b"example/Probe" not in archive and b"example.Probe" not in archive

    # A stale archive (its jar changed since it was recorded): the JVM
    # refuses it, quietly, and the function starts without it.
    jar = classes / "ignis-runtime.jar"
    saved = jar.stat()
    os.utime(jar, (saved.st_atime, saved.st_mtime + 100))
    try:
        body, _ = cold(lam, f"jarch-c-{stamp}", code, {"MY_VAR": "c"})
        assert body == {"archive": False, "name": f"jarch-c-{stamp}", "var": "c", "probe": "null", "level": "1"}
    finally:
        os.utime(jar, (saved.st_atime, saved.st_mtime))

    # A cut archive is never given to the JVM (it would crash on it).
    archive = next(classes.glob("cds-*.jsa"))
    whole = archive.read_bytes()
    archive.write_bytes(whole[: len(whole) // 2])
    try:
        body, _ = cold(lam, f"jarch-d-{stamp}", code, {"MY_VAR": "d"})
        assert body == {"archive": False, "name": f"jarch-d-{stamp}", "var": "d", "probe": "null", "level": "1"}
    finally:
        archive.write_bytes(whole)

"""Environments started ahead (issue 16): with `--prewarm` (the default) a
cold start of a Python, Node.js, Ruby or Java (17, 22 and later) function
specializes a held environment — a runtime started before its function was known — and one of
a custom runtime a prepared sandbox (its bootstrap exec'd when specialized),
instead of starting one.
Such an environment must be indistinguishable to the function from a fresh
one: the same variables (and none of the held runtime's), seen by child
processes too, its own credentials, its own random state (os.urandom,
`random`, the hash seed, Node's Math.random and crypto), its own PID
namespace, the same open descriptors, stdin on /dev/null, /var/task and
/opt mounted, and the right AWS_LAMBDA_INITIALIZATION_TYPE. Each is checked
against a server started with `--prewarm off`, where every environment is
started fresh, and the server's debug log proves the held path ran."""

from __future__ import annotations

import json
import os

import pytest

from support import ROLE, all_log_lines, build_zip, invoke, lambda_client, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="held environments are a namespace-sandbox feature (needs root)")

PYTHON = '''\
import os, random, subprocess, sys

def main(event, context):
    return {
        "env": dict(os.environ),
        "child": subprocess.run(["/bin/sh", "-c", "echo $GREETING:$AWS_LAMBDA_FUNCTION_NAME"], capture_output=True, text=True).stdout.strip(),
        "urandom": os.urandom(16).hex(),
        "random": random.random(),
        "hash": hash("ignis"),
        "pid": os.getpid(),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "fds": sorted(os.listdir("/proc/self/fd")),
        "stdin": os.readlink("/proc/self/fd/0"),
        "cwd": os.getcwd(),
        "task": sorted(os.listdir("/var/task")),
        "opt": sorted(os.listdir("/opt")),
    }
'''

NODE = '''\
const fs = require('fs');
const crypto = require('crypto');
const { execSync } = require('child_process');
exports.handler = async () => ({
  env: { ...process.env },
  child: execSync('echo $GREETING:$AWS_LAMBDA_FUNCTION_NAME').toString().trim(),
  random: Math.random(),
  crypto: crypto.randomBytes(16).toString('hex'),
  pid: process.pid,
  heap: require('v8').getHeapStatistics().heap_size_limit,
  cwd: process.cwd(),
  task: fs.readdirSync('/var/task').sort(),
  opt: fs.readdirSync('/opt').sort(),
});
'''

RUBY = '''\
require 'securerandom'
def lambda_handler(event:, context:)
  {
    'env' => ENV.to_h,
    'child' => `echo $GREETING:$AWS_LAMBDA_FUNCTION_NAME`.strip,
    'random' => rand,
    'secure' => SecureRandom.hex(16),
    'pid' => Process.pid,
    'cwd' => Dir.pwd,
    'task' => Dir.children('/var/task').sort,
  }
end
'''

# A custom runtime (provided.al2023): its environment is prepared ahead —
# namespaces, cgroups, /tmp, network — and its bootstrap started when a cold
# start specializes it.
CUSTOM = "#!/usr/bin/python3\n" + PYTHON + """
import json, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
    body = json.dumps(main(None, None)).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
"""

# Java (the JDK 17 client holds through the incubating foreign function API,
# the JDK 25 one through the final API): its stderr is /dev/null while held,
# and a function's JAVA_TOOL_OPTIONS are read as the JVM starts.
JAVA = '''\
package example;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public class Probe {
    public Map<String, Object> handle(Map<String, Object> event) throws Exception {
        Map<String, Object> out = new HashMap<>();
        out.put("env", new HashMap<>(System.getenv()));
        Process child = new ProcessBuilder("/bin/sh", "-c", "echo $GREETING:$AWS_LAMBDA_FUNCTION_NAME").start();
        out.put("child", new String(child.getInputStream().readAllBytes()).trim());
        child.waitFor();
        out.put("random", Math.random());
        byte[] bytes = new byte[16];
        new SecureRandom().nextBytes(bytes);
        StringBuilder hex = new StringBuilder();
        for (byte b : bytes) {
            hex.append(String.format("%02x", b));
        }
        out.put("secure", hex.toString());
        out.put("pid", ProcessHandle.current().pid());
        List<String> fds = new ArrayList<>();
        for (String fd : new File("/proc/self/fd").list()) {
            try {
                fds.add(Files.readSymbolicLink(Paths.get("/proc/self/fd", fd)).toString());
            } catch (java.io.IOException gone) {
                // the listing's own descriptor
            }
        }
        Collections.sort(fds);
        out.put("fds", fds);
        out.put("stdin", Files.readSymbolicLink(Paths.get("/proc/self/fd/0")).toString());
        out.put("cwd", System.getProperty("user.dir"));
        out.put("relative", new File("example/Probe.class").exists());
        out.put("task", sorted("/var/task"));
        out.put("opt", sorted("/opt"));
        out.put("heap", Runtime.getRuntime().maxMemory());
        out.put("probe", String.valueOf(System.getProperty("ignis.probe")));
        out.put("held", String.valueOf(System.getProperty("ignis.held")));
        System.err.println("probe says on stderr");
        return out;
    }

    private static List<String> sorted(String dir) {
        List<String> names = new ArrayList<>();
        Collections.addAll(names, new File(dir).list());
        Collections.sort(names);
        return names;
    }
}
'''


def java_files(tmp_path) -> list:
    import shutil
    import subprocess

    if not shutil.which("javac"):
        pytest.skip("no JDK installed")
    src = tmp_path / "probe-src" / "example" / "Probe.java"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(JAVA)
    out = tmp_path / "probe-classes"
    subprocess.run(["javac", "--release", "17", "-d", str(out), str(src)], check=True)
    return [("example/Probe.class", (out / "example" / "Probe.class").read_bytes())]


CASES = {
    "custom": ("provided.al2023", [("bootstrap", CUSTOM, 0o100755)], "unused"),
    "java17": ("java17", java_files, "example.Probe::handle"),
    "java25": ("java25", java_files, "example.Probe::handle"),
    "python": ("python3", [("handler.py", PYTHON)], "handler.main"),
    "node": ("nodejs", [("index.js", NODE)], "index.handler"),
    "ruby": ("ruby", [("lambda_function.rb", RUBY)], "lambda_function.lambda_handler"),
}

# Values that differ between any two environments, fresh or not.
PER_ENVIRONMENT = {"AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                   "_X_AMZN_TRACE_ID", "AWS_ENDPOINT_URL", "AWS_LAMBDA_RUNTIME_API"}

LAYER = build_zip([("layer-file.txt", "from a layer\n")])


def runtime_for(url: str, prefix: str) -> str:
    import requests

    if prefix.startswith("provided"):
        return prefix
    if prefix.startswith("java"):
        # The Java client compiles in the background as the server starts.
        def compiled():
            r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
            return not any("still being prepared" in str(i.get("Reason", ""))
                           for i in r.json()["Runtimes"] if i["Runtime"].startswith("java"))
        wait_for(compiled, 240, what="the Java runtime client")
    r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    for info in r.json()["Runtimes"]:
        if info["Runtime"].startswith(prefix) and info["Available"] and not info.get("Substitute"):
            return info["Runtime"]
    for info in r.json()["Runtimes"]:
        if info["Runtime"].startswith(prefix) and info["Available"]:
            return info["Runtime"]
    pytest.skip(f"no {prefix} interpreter on this machine")


def specialized(srv) -> int:
    return srv.stderr().count("specialized a held environment")


def deploy(lam, name: str, runtime: str, files, handler: str, layer_arn: str, MemorySize: int = 512, **config) -> None:
    variables = {"GREETING": f"hello-{name}"}
    if runtime.startswith("java"):
        variables["JAVA_TOOL_OPTIONS"] = "-Dignis.probe=yes"
    lam.create_function(
        FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE, Timeout=30,
        Code={"ZipFile": build_zip(files)}, Layers=[layer_arn],
        Environment={"Variables": variables}, MemorySize=MemorySize, **config,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def run(lam, name: str, **kwargs) -> dict:
    resp, body, out = invoke(lam, name, {}, **kwargs)
    assert "FunctionError" not in resp, body
    return out


@pytest.fixture
def servers(own_server, tmp_path, monkeypatch):
    monkeypatch.setenv("IGNIS_LOG", "info,ignis_sandbox::namespace::prewarm=debug,ignis_runtimes=debug")
    monkeypatch.delenv("IGNIS_PREWARM", raising=False)
    held = own_server(tmp_path / "held", "--sandbox", "namespace")
    fresh = own_server(tmp_path / "fresh", "--sandbox", "namespace", "--prewarm", "off")
    return held, fresh


@pytest.mark.parametrize("language", sorted(CASES))
def test_a_held_environment_is_indistinguishable_from_a_fresh_one(servers, language, tmp_path):
    held_srv, fresh_srv = servers
    prefix, files, handler = CASES[language]
    if callable(files):
        files = files(tmp_path)
    results, logs = {}, {}
    for label, srv in (("held", held_srv), ("fresh", fresh_srv)):
        lam = lambda_client(srv.url)
        runtime = runtime_for(srv.url, prefix)
        if language.startswith("java"):
            # A JVM's options name the client's archive once it is recorded
            # (the first time a client is compiled on a machine): held JVMs
            # started before are of another kind than the cold starts after.
            wait_for(lambda: archives_settled(srv), 240, what="the Java client's archives")
        layer = lam.publish_layer_version(LayerName="pw", Content={"ZipFile": LAYER})["LayerVersionArn"]
        # The first cold start of a kind finds no held environment and
        # makes the pool want one; the next ones (other functions, the
        # same kind) are served held on the held server.
        deploy(lam, f"{language}-warmup", runtime, files, handler, layer)
        run(lam, f"{language}-warmup")
        for n in ("a", "b"):
            name = f"{language}-{n}"
            # A prepared sandbox takes any memory size (its limit is
            # written before its program starts, larger or smaller).
            memory = 1024 if (language, n) == ("custom", "b") else 512
            deploy(lam, name, runtime, files, handler, layer, MemorySize=memory)
            if label == "held":
                # Wait until a held environment is ready, so that this
                # cold start takes one.
                wait_for(lambda: ready(srv) >= 1, 60, what="a held environment")
            resp, body, out = invoke(lam, name, {})
            assert "FunctionError" not in resp, body
            results[(label, n)] = out
            logs[(label, n)] = "\n".join(all_log_lines(srv.url, name))
    assert specialized(held_srv) >= 2, held_srv.stderr()[-4000:]
    assert "failed to specialize" not in held_srv.stderr(), held_srv.stderr()[-4000:]
    assert specialized(fresh_srv) == 0

    for n in ("a", "b"):
        held, fresh = results[("held", n)], results[("fresh", n)]
        name = f"{language}-{n}"
        # The same variables, with the same values but those of each
        # environment; none of the held runtime's own.
        assert set(held["env"]) == set(fresh["env"]), (set(held["env"]) ^ set(fresh["env"]), held["env"], fresh["env"])
        assert "_IGNIS_SPECIALIZE_FD" not in held["env"]
        for key in set(fresh["env"]) - PER_ENVIRONMENT:
            assert held["env"][key] == fresh["env"][key], key
        assert held["env"]["GREETING"] == f"hello-{name}"
        assert held["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
        # Child processes inherit the function's environment.
        assert held["child"] == f"hello-{name}:{name}"
        assert held["cwd"] == fresh["cwd"] == "/var/task"
        assert held["task"] == fresh["task"]
        if "opt" in fresh:
            assert held["opt"] == fresh["opt"] == ["layer-file.txt"]
        # Its own PID namespace: the runtime is pid 2 under its init.
        assert held["pid"] == fresh["pid"]
        # Node.js sizes its heap from its memory limit as it starts.
        assert held.get("heap") == fresh.get("heap")
        if "pids" in fresh:
            assert held["pids"] == fresh["pids"]
        if "fds" in fresh:
            # (Java names each descriptor's file: pipes and sockets by kind.)
            assert kinds(held["fds"]) == kinds(fresh["fds"])
            assert held["stdin"] == fresh["stdin"] == "/dev/null"
        # The JVM: the working directory it started in and the one it is in
        # now, its heap sized for its memory as it started, its function's
        # JAVA_TOOL_OPTIONS read as it started, nothing of the held start.
        for key in ("relative", "heap", "probe", "held"):
            assert held.get(key) == fresh.get(key), key
        if "probe" in fresh:
            assert (held["relative"], held["probe"], held["held"]) == (True, "yes", "null")
        # The log: what the runtime says as it starts and what the function
        # writes (stdout and stderr), nothing of the held start.
        log, fresh_log = logs[("held", n)], logs[("fresh", n)]
        for word in ("_IGNIS", "ignis.held", "JDK_JAVA_OPTIONS", "incubat"):
            assert word not in log, (word, log)
        if language.startswith("java"):
            for line in ("Picked up JAVA_TOOL_OPTIONS: -Dignis.probe=yes", "probe says on stderr"):
                assert line in log and line in fresh_log, (line, log, fresh_log)
    # Credentials of its own: each environment has its own key.
    keys = {results[("held", n)]["env"].get("AWS_ACCESS_KEY_ID") for n in ("a", "b")}
    assert len(keys) == 2 and None not in keys
    # Random state of its own.
    for field in ("urandom", "random", "hash", "crypto", "secure"):
        if field in results[("held", "a")]:
            assert results[("held", "a")][field] != results[("held", "b")][field], field


def test_a_prepared_runtime_that_cannot_exec_its_bootstrap_fails_as_a_fresh_one(servers):
    """A prepared sandbox's runtime, forked ahead, execs the bootstrap once
    specialized: a bootstrap naming a missing interpreter fails there
    (ENOENT), the cold start launches afresh, which fails the same way, and
    the invoke answers Runtime.InvalidEntrypoint as on a server without
    environments started ahead."""
    held_srv, fresh_srv = servers
    prefix, files, handler = CASES["custom"]
    bad = [("bootstrap", "#!/nonexistent/interpreter\n", 0o100755)]
    answers = {}
    for label, srv in (("held", held_srv), ("fresh", fresh_srv)):
        lam = lambda_client(srv.url)
        layer = lam.publish_layer_version(LayerName="pw", Content={"ZipFile": LAYER})["LayerVersionArn"]
        deploy(lam, "custom-warmup", prefix, files, handler, layer)
        run(lam, "custom-warmup")
        deploy(lam, "custom-bad", prefix, bad, handler, layer)
        if label == "held":
            wait_for(lambda: ready(srv) >= 1, 60, what="a prepared sandbox")
        resp, body, out = invoke(lam, "custom-bad", {})
        assert resp.get("FunctionError") == "Unhandled", body
        answers[label] = out["errorType"]
    assert answers == {"held": "Runtime.InvalidEntrypoint", "fresh": "Runtime.InvalidEntrypoint"}, answers
    # The held server tried the prepared sandbox first.
    log = held_srv.stderr()
    assert "failed to specialize a held environment" in log, log[-4000:]
    assert "No such file or directory" in log, log[-4000:]


def archives_settled(srv) -> bool:
    """Whether the server has recorded (or given up on) the Java client's
    class data sharing archive for every JDK it found."""
    import re

    log = srv.stderr()
    jdks = sum(1 for line in log.splitlines() if "interpreter found" in line and re.search(r'language="?Java\b', line))
    assert jdks, "the server names the JDKs it found (ignis_runtimes=debug)"
    return log.count("class data sharing archive") >= jdks


def kinds(fds: list) -> list:
    import re

    return [re.sub(r":\[\d+\]$", "", str(fd)) for fd in fds]


def ready(srv) -> int:
    """Held environments the server says are ready (its debug log counts
    them as they are taken; the pool refills within a second of demand)."""
    return srv.stderr().count("held environment ready") - specialized(srv)


def test_provisioned_concurrency_starts_its_runtime_with_its_environment(servers):
    """Provisioned environments are started ahead anyway: they are not
    served held (their runtime is started with its whole environment, and
    its /proc/<pid>/environ says provisioned-concurrency)."""
    held_srv, _ = servers
    lam = lambda_client(held_srv.url)
    runtime = runtime_for(held_srv.url, "python3")
    layer = lam.publish_layer_version(LayerName="pw", Content={"ZipFile": LAYER})["LayerVersionArn"]
    deploy(lam, "warm", runtime, [("handler.py", PYTHON)], "handler.main", layer)
    run(lam, "warm")
    deploy(lam, "prov", runtime, [("handler.py", PYTHON)], "handler.main", layer)
    version = lam.publish_version(FunctionName="prov")["Version"]
    wait_for(lambda: ready(held_srv) >= 1, 60, what="a held environment")
    before = specialized(held_srv)
    lam.put_provisioned_concurrency_config(FunctionName="prov", Qualifier=version, ProvisionedConcurrentExecutions=1)
    wait_for(lambda: lam.get_provisioned_concurrency_config(FunctionName="prov", Qualifier=version)["Status"] == "READY",
             60, what="provisioned concurrency")
    out = run(lam, "prov", Qualifier=version)
    assert out["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
    assert specialized(held_srv) == before
    stream = out["env"]["AWS_LAMBDA_LOG_STREAM_NAME"].encode()
    assert any(b"AWS_LAMBDA_LOG_STREAM_NAME=" + stream in environ for environ in environs().values())


def environs() -> dict[int, bytes]:
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"{entry.path}/environ", "rb") as f:
                    out[int(entry.name)] = f.read()
            except OSError:
                pass
    return out


def test_held_environments_end_with_the_server(own_server, tmp_path, monkeypatch):
    monkeypatch.setenv("IGNIS_LOG", "info,ignis_sandbox::namespace::prewarm=debug")
    monkeypatch.delenv("IGNIS_PREWARM", raising=False)
    srv = own_server(tmp_path / "data", "--sandbox", "namespace")
    lam = lambda_client(srv.url)
    layer = lam.publish_layer_version(LayerName="pw", Content={"ZipFile": LAYER})["LayerVersionArn"]
    for language in ("python", "custom"):
        prefix, files, handler = CASES[language]
        deploy(lam, language, runtime_for(srv.url, prefix), files, handler, layer)
        run(lam, language)
    # One held runtime and one prepared sandbox at least.
    wait_for(lambda: srv.stderr().count("held environment ready") >= 2, 60, what="environments started ahead")
    server_pid = srv.proc.pid
    # This server's: a held runtime is its init's child, the init the server's.
    held = [pid for pid, env in environs().items()
            if b"_IGNIS_SPECIALIZE_FD=" in env and parent(parent(pid) or 0) == server_pid]
    assert held
    inits = [int(p.name) for p in os.scandir("/proc")
             if p.name.isdigit() and parent(int(p.name)) == server_pid and comm(int(p.name)) == "ignis-init"]
    assert inits
    # A prepared sandbox's runtime, forked ahead, waits under its init.
    waiting = [int(p.name) for p in os.scandir("/proc")
               if p.name.isdigit() and parent(int(p.name)) in inits and comm(int(p.name)) == "ignis-waiting"]
    assert waiting
    assert srv.stop() == 0
    for pid in held + inits + waiting:
        assert not os.path.exists(f"/proc/{pid}") or zombie(pid), f"{pid} outlived the server"


def stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's name (state
    first, then the parent's pid); None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def parent(pid: int) -> int | None:
    fields = stat(pid)
    return int(fields[1]) if fields else None


def zombie(pid: int) -> bool:
    fields = stat(pid)
    return fields is None or fields[0] == "Z"


def comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


JSON_LOGS = '''\
import logging

def main(event, context):
    logging.getLogger().warning("held and logging")
    if event.get("fail"):
        raise ValueError("boom")
    return {}
'''


def test_a_held_python_runtime_logs_as_its_function_is_configured(servers):
    """A held Python client loaded while its start-up variables alone were
    set: its log format (and ensure_ascii, from AWS_EXECUTION_ENV) are read
    again once specialized — a function with JSON logs gets JSON records."""
    held_srv, _ = servers
    lam = lambda_client(held_srv.url)
    runtime = runtime_for(held_srv.url, "python3")
    layer = lam.publish_layer_version(LayerName="pw", Content={"ZipFile": LAYER})["LayerVersionArn"]
    deploy(lam, "text", runtime, [("handler.py", JSON_LOGS)], "handler.main", layer)
    run(lam, "text")
    deploy(lam, "json", runtime, [("handler.py", JSON_LOGS)], "handler.main", layer,
           LoggingConfig={"LogFormat": "JSON"})
    wait_for(lambda: ready(held_srv) >= 1, 60, what="a held environment")
    before = specialized(held_srv)
    resp, body, _ = invoke(lam, "json", {"fail": True}, LogType="Tail")
    assert specialized(held_srv) == before + 1
    assert resp.get("FunctionError") == "Unhandled", body
    import base64
    log = base64.b64decode(resp["LogResult"]).decode()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(r.get("message") == "held and logging" and r.get("level") == "WARNING" for r in records), log
    assert any(r.get("errorType") == "ValueError" and r.get("log_level") == "ERROR" for r in records), log

"""Managed runtimes through the server: the seed's Python and TypeScript
examples, exactly as written, run with handler `handler.main` on whatever
interpreter of the language this node has; runtimes Ignis has no client for
are refused with a clear InvalidRuntimeException; `ignis runtimes` lists them."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests
from botocore.exceptions import ClientError

from support import IGNIS_BIN, all_log_lines, build_zip, error_code, error_message, invoke, tail_log, wait_for

PY_HANDLER = '''\
import json

def main(event, context):
    print(event)
    return {"statusCode": 200, "body": json.dumps({"message": "hello", "input": event})}
'''

TS_COMPILED = '''\
export const main = async (event) => {
  console.log("event", JSON.stringify(event));
  return { statusCode: 200, body: JSON.stringify({ message: "hello", input: event }) };
};
'''


def runtimes(url: str) -> dict[str, dict]:
    r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    return {x["Runtime"]: x for x in r.json()["Runtimes"]}


def available(url: str, prefix: str) -> str:
    for name, info in runtimes(url).items():
        if name.startswith(prefix) and info["Available"]:
            return name
    pytest.skip(f"no {prefix} interpreter on this machine")


def test_python_seed_example_runs(url, lam, deploy, fname):
    runtime = available(url, "python3")
    code = build_zip([("handler.py", PY_HANDLER)])
    deploy(code, Runtime=runtime, Handler="handler.main")
    resp, _, body = invoke(lam, fname, {"name": "x"}, LogType="Tail")
    assert "FunctionError" not in resp, body
    assert body["statusCode"] == 200
    assert json.loads(body["body"]) == {"message": "hello", "input": {"name": "x"}}
    log = tail_log(resp)
    assert "{'name': 'x'}" in log and "REPORT RequestId" in log, log


def test_typescript_seed_example_runs(url, lam, deploy, fname):
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    runtime = available(url, "nodejs")
    code = build_zip([("handler.js", TS_COMPILED), ("package.json", '{"type": "module"}')])
    deploy(code, Runtime=runtime, Handler="handler.main")
    resp, _, body = invoke(lam, fname, {"name": "y"}, LogType="Tail")
    assert "FunctionError" not in resp, body
    assert json.loads(body["body"])["input"] == {"name": "y"}
    assert "INFO\tevent" in tail_log(resp)


def test_missing_version_runs_on_the_nearest_and_says_so(url, lam, deploy, fname):
    listed = runtimes(url)
    substituted = [n for n, i in listed.items() if n.startswith("python") and i["Available"] and i["RunsOn"] != n]
    if not substituted:
        pytest.skip("every Python runtime is installed here")
    runtime = substituted[0]
    deploy(build_zip([("handler.py", PY_HANDLER)]), Runtime=runtime, Handler="handler.main")
    config = lam.get_function_configuration(FunctionName=fname)
    assert listed[runtime]["RunsOn"] in config.get("StateReason", ""), config
    _, _, body = invoke(lam, fname, {})
    assert body["statusCode"] == 200
    lines = all_log_lines(url, fname)
    assert any(f"running {listed[runtime]['RunsOn']}" in line for line in lines), lines


def test_runtime_without_a_client_is_refused_clearly(lam, deploy, fname):
    deploy(build_zip([("Function.cs", "// compiled .NET code would go here\n")]),
           Runtime="dotnet8", Handler="Assembly::Namespace.Class::Handler")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=fname, Payload=b"{}")
    assert error_code(e.value) == "InvalidRuntimeException"
    assert "dotnet8" in error_message(e.value) and "not supported" in error_message(e.value)


def test_ruby_handler_runs(url, lam, deploy, fname):
    if not shutil.which("ruby"):
        pytest.skip("ruby is not installed")
    runtime = available(url, "ruby")
    source = "def handler(event:, context:)\n  puts \"hi #{event['name']}\"\n  { statusCode: 200, body: context.function_name }\nend\n"
    deploy(build_zip([("lambda_function.rb", source)]), Runtime=runtime, Handler="lambda_function.handler")
    resp, _, body = invoke(lam, fname, {"name": "z"}, LogType="Tail")
    assert "FunctionError" not in resp, body
    assert body == {"statusCode": 200, "body": fname}
    assert "hi z" in tail_log(resp)


def test_cli_lists_runtimes(url):
    out = subprocess.run([str(IGNIS_BIN), "--endpoint", url, "runtimes"], capture_output=True, text=True, check=True)
    assert "provided.al2023" in out.stdout and "python3.13" in out.stdout


JAVA_HANDLER = '''\
package example;

import java.util.HashMap;
import java.util.Map;

public class Hello {
    public Map<String, Object> handle(Map<String, Object> event) {
        System.out.println("hello " + event.get("name"));
        Map<String, Object> out = new HashMap<>();
        out.put("statusCode", 200);
        out.put("name", event.get("name"));
        return out;
    }
}
'''


def test_java_handler_runs(url, lam, deploy, fname, tmp_path):
    if not (shutil.which("java") and shutil.which("javac")):
        pytest.skip("no JDK installed")
    # The Java client compiles once per machine in the background at start-up.
    wait_for(lambda: runtimes(url)["java17"]["Available"], timeout=180, what="the Java runtime client")
    src = tmp_path / "example" / "Hello.java"
    src.parent.mkdir(parents=True)
    src.write_text(JAVA_HANDLER)
    subprocess.run(["javac", "--release", "17", "-d", str(tmp_path / "classes"), str(src)], check=True)
    code = build_zip([("example/Hello.class", (tmp_path / "classes/example/Hello.class").read_bytes())])
    deploy(code, Runtime="java17", Handler="example.Hello::handle", Timeout=30, MemorySize=512)
    resp, _, body = invoke(lam, fname, {"name": "duke"}, LogType="Tail")
    assert "FunctionError" not in resp, body
    assert body == {"statusCode": 200, "name": "duke"}
    assert "hello duke" in tail_log(resp)


SLEEPERS = {
    "python3": ("handler.py", "import time\n\ndef main(event, context):\n    time.sleep(5)\n", "handler.main"),
    "nodejs": ("index.mjs", "export const handler = () => new Promise((r) => setTimeout(r, 5000));\n", "index.handler"),
    "ruby": ("lambda_function.rb", "def handler(event:, context:)\n  sleep 5\nend\n", "lambda_function.handler"),
}


@pytest.mark.parametrize("language", sorted(SLEEPERS))
def test_timeout_ends_a_managed_runtime_and_the_next_invoke_works(url, lam, deploy, fname, language):
    runtime = available(url, language)
    file, source, handler = SLEEPERS[language]
    deploy(build_zip([(file, source)]), Runtime=runtime, Handler=handler, Timeout=1)
    resp, _, body = invoke(lam, fname, {})
    assert resp.get("FunctionError") == "Unhandled", body
    assert "Task timed out after 1.00 seconds" in body["errorMessage"], body
    # The killed environment is replaced: the next invocation times out the
    # same way instead of hanging or reporting a dead runtime.
    _, _, again = invoke(lam, fname, {})
    assert "Task timed out after 1.00 seconds" in again["errorMessage"], again

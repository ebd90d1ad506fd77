"""Ignis's Java runtime client (runtimes/java/src/ignis/runtime/*.java)
against a fake Runtime API: no server, no Lambda. The client is compiled once
per session with javac, as the server compiles it at start-up; so are the
test handlers and a minimal stand-in for aws-lambda-java-core (the
com.amazonaws.services.lambda.runtime interfaces), packed as a jar the way a
function ships it in lib/. Each test lays out a function's code directory
(classes at the root, jars in lib/, a layer's jars in $IGNIS_OPT_DIR/java/lib),
starts the JVM there with the environment the server gives a managed runtime,
feeds it invocations over a tiny HTTP server and checks what it posts back
and what it logs.

No conftest.py on purpose (tests/runtimes is shared with other runtimes'
suites): the fake Runtime API and the process plumbing come from
fake_runtime_api.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from fake_runtime_api import PREFIX, ClientProcess, FakeRuntimeAPI, Outcome, env_factory, lambda_env, write_tree

REPO = Path(__file__).resolve().parents[2]
JAVA_DIR = REPO / "runtimes" / "java"

JAVA = os.environ.get("IGNIS_TEST_JAVA") or shutil.which("java")
JAVAC = shutil.which("javac", path=str(Path(JAVA).parent) if JAVA else None) or shutil.which("javac")
if not JAVA or not JAVAC:
    print("test_java_runtime: skipped, `java`/`javac` (a JDK, e.g. Debian's default-jdk-headless) is not installed")
    pytest.skip("java/javac not installed", allow_module_level=True)


def compile_command(classes: Path, sources: list[str]) -> list[str]:
    """How the server compiles the client, once, at start-up.
    -XDstringConcat=inline: string concatenation without invokedynamic,
    whose first use costs ~25 ms of every cold start."""
    return [JAVAC, "--release", "17", "-XDstringConcat=inline", "-d", str(classes)] + sources


def launch_command(classes: Path, extra_classpath: list[str] = ()) -> list[str]:
    """How the server starts an execution environment. The client builds
    the function's class path itself (task root, lib/*.jar, then the layers'
    java/lib/*.jar, each in lexical order, as Lambda does); the function's
    entries on -cp as well work too (extra_classpath)."""
    return [
        JAVA,
        "-XX:+TieredCompilation",
        "-XX:TieredStopAtLevel=1",
        "-Xshare:auto",
        "-cp",
        ":".join([str(classes), *extra_classpath]),
        "ignis.runtime.Bootstrap",
    ]


# --------------------------------------------------------------------------
# Java sources: a stand-in for aws-lambda-java-core, dependencies for lib/
# and a layer, and the test handlers.
# --------------------------------------------------------------------------

CORE = {
    "com/amazonaws/services/lambda/runtime/Context.java": """
        package com.amazonaws.services.lambda.runtime;
        public interface Context {
            String getAwsRequestId();
            String getLogGroupName();
            String getLogStreamName();
            String getFunctionName();
            String getFunctionVersion();
            String getInvokedFunctionArn();
            CognitoIdentity getIdentity();
            ClientContext getClientContext();
            int getRemainingTimeInMillis();
            int getMemoryLimitInMB();
            LambdaLogger getLogger();
            default String getTenantId() { return null; }
            default String getXrayTraceId() { return "default-method"; }
        }
    """,
    "com/amazonaws/services/lambda/runtime/CognitoIdentity.java": """
        package com.amazonaws.services.lambda.runtime;
        public interface CognitoIdentity {
            String getIdentityId();
            String getIdentityPoolId();
        }
    """,
    "com/amazonaws/services/lambda/runtime/ClientContext.java": """
        package com.amazonaws.services.lambda.runtime;
        import java.util.Map;
        public interface ClientContext {
            Client getClient();
            Map<String, String> getCustom();
            Map<String, String> getEnvironment();
        }
    """,
    "com/amazonaws/services/lambda/runtime/Client.java": """
        package com.amazonaws.services.lambda.runtime;
        public interface Client {
            String getInstallationId();
            String getAppTitle();
            String getAppVersionName();
            String getAppVersionCode();
            String getAppPackageName();
        }
    """,
    "com/amazonaws/services/lambda/runtime/LambdaLogger.java": """
        package com.amazonaws.services.lambda.runtime;
        import com.amazonaws.services.lambda.runtime.logging.LogLevel;
        public interface LambdaLogger {
            void log(String message);
            void log(byte[] message);
            default void log(String message, LogLevel level) { log(message); }
        }
    """,
    "com/amazonaws/services/lambda/runtime/logging/LogLevel.java": """
        package com.amazonaws.services.lambda.runtime.logging;
        public enum LogLevel { UNDEFINED, TRACE, DEBUG, INFO, WARN, ERROR, FATAL }
    """,
    "com/amazonaws/services/lambda/runtime/LambdaRuntime.java": """
        package com.amazonaws.services.lambda.runtime;
        public final class LambdaRuntime {
            private LambdaRuntime() {}
            private static volatile LambdaLogger logger = null;
            public static LambdaLogger getLogger() { return logger; }
        }
    """,
    "com/amazonaws/services/lambda/runtime/RequestHandler.java": """
        package com.amazonaws.services.lambda.runtime;
        public interface RequestHandler<I, O> {
            O handleRequest(I input, Context context);
        }
    """,
    "com/amazonaws/services/lambda/runtime/RequestStreamHandler.java": """
        package com.amazonaws.services.lambda.runtime;
        import java.io.*;
        public interface RequestStreamHandler {
            void handleRequest(InputStream input, OutputStream output, Context context) throws IOException;
        }
    """,
}

DEPS = {
    "dep/LibGreeter.java": """
        package dep;
        public final class LibGreeter {
            public static String greet(String who) { return "lib says hi to " + who; }
        }
    """,
    "layerdep/LayerGreeter.java": """
        package layerdep;
        public final class LayerGreeter {
            public static String greet(String who) { return "layer says hi to " + who; }
        }
    """,
}

HANDLERS = {
    # POJO in, POJO out, a method handler with Context.
    "example/Pojo.java": """
        package example;
        import com.amazonaws.services.lambda.runtime.Context;
        import java.util.*;

        public class Pojo {
            public static class Address {
                private String city;
                public String zip;
                public String getCity() { return city; }
                public void setCity(String city) { this.city = city; }
            }
            public static class Request {
                private String name;
                private int age;
                private boolean admin;
                private List<String> tags;
                private Map<String, Integer> scores;
                private Address address;
                private List<Address> history;
                private String userURL;
                private Long big;
                private double ratio;
                private Kind kind;
                public String getName() { return name; }
                public void setName(String name) { this.name = name; }
                public int getAge() { return age; }
                public void setAge(int age) { this.age = age; }
                public boolean isAdmin() { return admin; }
                public void setAdmin(boolean admin) { this.admin = admin; }
                public List<String> getTags() { return tags; }
                public void setTags(List<String> tags) { this.tags = tags; }
                public Map<String, Integer> getScores() { return scores; }
                public void setScores(Map<String, Integer> scores) { this.scores = scores; }
                public Address getAddress() { return address; }
                public void setAddress(Address address) { this.address = address; }
                public List<Address> getHistory() { return history; }
                public void setHistory(List<Address> history) { this.history = history; }
                public String getUserURL() { return userURL; }
                public void setUserURL(String u) { this.userURL = u; }
                public Long getBig() { return big; }
                public void setBig(Long big) { this.big = big; }
                public double getRatio() { return ratio; }
                public void setRatio(double ratio) { this.ratio = ratio; }
                public Kind getKind() { return kind; }
                public void setKind(Kind kind) { this.kind = kind; }
            }
            public enum Kind { SMALL, LARGE }
            public record Point(int x, int y) {}
            public static class Response {
                public String greeting;
                public Integer missing;
                private final List<Object> echo = new ArrayList<>();
                private Point point;
                public List<Object> getEcho() { return echo; }
                public Point getPoint() { return point; }
                public void setPoint(Point p) { this.point = p; }
            }

            public Response handle(Request req, Context context) {
                Response r = new Response();
                r.greeting = "Hello, " + req.getName() + " (" + req.getAge() + ")";
                r.echo.add(req.isAdmin());
                r.echo.add(req.getTags());
                r.echo.add(req.getScores());
                r.echo.add(req.getAddress() == null ? null : req.getAddress().getCity() + "/" + req.getAddress().zip);
                r.echo.add(req.getHistory() == null ? null : req.getHistory().get(1).getCity());
                r.echo.add(req.getUserURL());
                r.echo.add(req.getBig());
                r.echo.add(req.getRatio());
                r.echo.add(req.getKind());
                r.echo.add(context.getFunctionName());
                r.setPoint(new Point(1, 2));
                System.out.println("pojo handled " + req.getName());
                return r;
            }

            public static Point record(Point p) { return new Point(p.y(), p.x()); }

            public static String text(String s) { return s.toUpperCase(); }

            public static int number(int n) { return n * 2; }

            public static Object untyped(Object o) {
                return Arrays.asList(o.getClass().getName(), o);
            }

            public static void nothing(Map<String, Object> m) { }

            public static Map<String, Object> nulls(Map<String, Object> m) {
                Map<String, Object> out = new LinkedHashMap<>(m);
                out.put("gone", null);
                out.put("list", Arrays.asList(1, null, 3.5f, Double.NaN, 'c', new byte[] {1, 2}, Optional.empty()));
                return out;
            }
        }
    """,
    # pkg.Class form: RequestHandler<Map, String>, logging, context.
    "example/Hello.java": """
        package example;
        import com.amazonaws.services.lambda.runtime.*;
        import com.amazonaws.services.lambda.runtime.logging.LogLevel;
        import java.util.*;

        public class Hello implements RequestHandler<Map<String, Object>, String> {
            static int INITS = 0;
            static { INITS++; }
            private int constructed;
            private int calls;
            public Hello() { constructed++; System.out.println("Hello constructed"); }

            @Override
            public String handleRequest(Map<String, Object> event, Context context) {
                calls++;
                LambdaLogger log = context.getLogger();
                log.log("via context logger " + event.get("name"));
                log.log("leveled", LogLevel.WARN);
                LambdaRuntime.getLogger().log("via LambdaRuntime");
                if ("info".equals(event.get("want"))) {
                    CognitoIdentity id = context.getIdentity();
                    ClientContext cc = context.getClientContext();
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("requestId", context.getAwsRequestId());
                    m.put("functionName", context.getFunctionName());
                    m.put("version", context.getFunctionVersion());
                    m.put("arn", context.getInvokedFunctionArn());
                    m.put("memory", context.getMemoryLimitInMB());
                    m.put("group", context.getLogGroupName());
                    m.put("stream", context.getLogStreamName());
                    m.put("remaining", context.getRemainingTimeInMillis());
                    m.put("identity", id == null ? null : id.getIdentityId() + "|" + id.getIdentityPoolId());
                    m.put("client", cc == null ? null : cc.getClient().getInstallationId() + "|" + cc.getCustom() + "|" + cc.getEnvironment());
                    m.put("tenant", context.getTenantId());
                    m.put("xray", context.getXrayTraceId());
                    m.put("traceProp", System.getProperty("com.amazonaws.xray.traceHeader"));
                    m.put("inits", INITS);
                    m.put("constructed", constructed);
                    m.put("calls", calls);
                    m.put("cwd", System.getProperty("user.dir"));
                    m.put("tccl", Thread.currentThread().getContextClassLoader() == Hello.class.getClassLoader());
                    return m.toString();
                }
                return "Hello, " + event.get("name") + " #" + calls;
            }
        }
    """,
    # A stream handler class, and stream method forms.
    "example/Streams.java": """
        package example;
        import com.amazonaws.services.lambda.runtime.*;
        import java.io.*;
        import java.nio.charset.StandardCharsets;

        public class Streams implements RequestStreamHandler {
            @Override
            public void handleRequest(InputStream in, OutputStream out, Context context) throws IOException {
                byte[] all = in.readAllBytes();
                String s = new String(all, StandardCharsets.UTF_8);
                out.write(("<" + s.toUpperCase() + "|" + context.getAwsRequestId().length() + ">").getBytes(StandardCharsets.UTF_8));
            }

            public static void raw(InputStream in, OutputStream out) throws IOException {
                in.transferTo(out);
                out.write('!');
            }
        }
    """,
    # Unhandled errors.
    "example/Fails.java": """
        package example;
        import com.amazonaws.services.lambda.runtime.*;
        import java.util.Map;

        public class Fails implements RequestHandler<Map<String, Object>, String> {
            static void inner(Object x) {
                throw new RuntimeException("boom: " + x);
            }
            public String handleRequest(Map<String, Object> event, Context context) {
                if (event.containsKey("npe")) {
                    String s = null;
                    return s.trim();
                }
                if (event.containsKey("cause")) {
                    throw new IllegalStateException("outer", new java.io.IOException("inner cause"));
                }
                inner(event.get("x"));
                return "unreachable";
            }
            public String method(Map<String, Object> event) {
                inner(event.get("x"));
                return "unreachable";
            }
        }
    """,
    "example/BadConstructor.java": """
        package example;
        public class BadConstructor {
            public BadConstructor() { throw new IllegalStateException("no config"); }
            public String handle(String s) { return s; }
        }
    """,
    "example/BadStatic.java": """
        package example;
        public class BadStatic {
            static { if (true) throw new IllegalArgumentException("static boom"); }
            public static String handle(String s) { return s; }
        }
    """,
    "example/NoCtor.java": """
        package example;
        public class NoCtor {
            public NoCtor(int x) {}
            public String handle(String s) { return s; }
        }
    """,
    # Dependencies from lib/*.jar and from a layer's java/lib/*.jar.
    "example/UsesDeps.java": """
        package example;
        import java.util.*;
        public class UsesDeps {
            public static List<String> handle(Map<String, String> event) {
                return Arrays.asList(dep.LibGreeter.greet(event.get("who")), layerdep.LayerGreeter.greet(event.get("who")));
            }
        }
    """,
    # Without aws-lambda-java-core at all.
    "example/NoCore.java": """
        package example;
        import java.util.*;
        public class NoCore {
            public Map<String, Object> handle(Map<String, Object> event) {
                Map<String, Object> out = new LinkedHashMap<>(event);
                out.put("seen", true);
                return out;
            }
            public static String withForeignContext(Map<String, Object> event, Object ctx) { return "no"; }
        }
    """,
    # Big payloads and unicode.
    "example/Echo.java": """
        package example;
        import com.amazonaws.services.lambda.runtime.Context;
        import java.util.Map;
        public class Echo {
            public Map<String, Object> handle(Map<String, Object> event, Context context) {
                Object data = event.get("data");
                System.out.println("got " + (data == null ? 0 : data.toString().length()) + " " + event.get("u"));
                return event;
            }
            public static int remaining(Map<String, Object> event, Context context) {
                return context.getRemainingTimeInMillis();
            }
            public static void sleep(Map<String, Object> event) throws Exception {
                Thread.sleep(((Number) event.get("ms")).longValue());
            }
        }
    """,
}


def _write_sources(root: Path, sources: dict) -> list[str]:
    return write_tree(root, sources, text=textwrap.dedent, encoding="utf-8")


def _jar(classes: Path, prefix: str, dest: Path):
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
        for f in sorted((classes / prefix).rglob("*.class")):
            z.write(f, f.relative_to(classes).as_posix())


class Build:
    def __init__(self, root: Path):
        self.root = root
        self.client = root / "client-classes"
        self.classes = root / "all-classes"
        self.core_jar = root / "jars" / "aws-lambda-java-core-1.2.3.jar"
        self.lib_jar = root / "jars" / "libdep-1.0.jar"
        self.layer_jar = root / "jars" / "layerdep-1.0.jar"


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Build:
    b = Build(tmp_path_factory.mktemp("java-build"))
    # The client, as the server compiles it.
    sources = [str(JAVA_DIR / line.strip()) for line in (JAVA_DIR / "sources.txt").read_text().splitlines() if line.strip()]
    t0 = time.time()
    subprocess.run(
        compile_command(b.client, sources) + ["-Xlint:all", "-Werror"],
        check=True,
        capture_output=False,
    )
    # Everything else in one javac run, then split into jars by package.
    src = b.root / "src"
    paths = _write_sources(src, {**CORE, **DEPS, **HANDLERS})
    subprocess.run([JAVAC, "--release", "17", "-d", str(b.classes)] + paths, check=True)
    _jar(b.classes, "com", b.core_jar)
    _jar(b.classes, "dep", b.lib_jar)
    _jar(b.classes, "layerdep", b.layer_jar)
    print("java build: %.1fs" % (time.time() - t0))
    return b


# --------------------------------------------------------------------------
# The JVM, against the fake Runtime API (fake_runtime_api.py)
# --------------------------------------------------------------------------


class Env(ClientProcess):
    """One execution environment: a code dir, an opt dir, the JVM and its
    output."""

    log_timeout = 15

    def __init__(self, build: Build, tmp: Path, handler: str, *, core=True, lib=False, layer=False, env=None,
                 function_classpath=False):
        # quiet_errors: a client that exits mid-request (init errors, /next failing)
        self.api = FakeRuntimeAPI(quiet_errors=True, ensure_ascii=False, outcome_timeout=30, repr_chars=500)
        self.code = tmp / "code"
        self.opt = tmp / "opt"
        shutil.copytree(build.classes / "example", self.code / "example")
        self.opt.mkdir()
        if core:
            (self.code / "lib").mkdir(exist_ok=True)
            shutil.copy(build.core_jar, self.code / "lib")
        if lib:
            (self.code / "lib").mkdir(exist_ok=True)
            shutil.copy(build.lib_jar, self.code / "lib")
        if layer:
            (self.opt / "java" / "lib").mkdir(parents=True)
            shutil.copy(build.layer_jar, self.opt / "java" / "lib")
        e = lambda_env(
            self.api.address, handler, self.code, self.opt, execution_env="AWS_Lambda_java17", memory="256", overrides=env
        )
        self.launch(
            launch_command(
                build.client,
                [str(self.code), "%s/lib/*" % self.code, "%s/java/lib/*" % self.opt] if function_classpath else [],
            ),
            cwd=self.code,
            env=e,
        )

    def init_error(self) -> Outcome:
        out = self.api.init_errors.get(timeout=30)
        assert self.proc.wait(timeout=15) == 1
        return out


@pytest.fixture
def make_env(build, tmp_path):
    yield from env_factory(tmp_path, lambda d, handler, **kw: Env(build, d, handler, **kw))


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_pojo_method_handler(make_env):
    env = make_env("example.Pojo::handle")
    event = {
        "name": "ignis",
        "age": "42",  # strings coerce into numbers
        "admin": True,
        "tags": ["a", "b"],
        "scores": {"x": 1, "y": 2},
        "address": {"city": "Lyon", "zip": "69000", "unknown": 1},
        "history": [{"city": "Paris"}, {"city": "Nice"}],
        "userURL": "https://example.com",
        "big": 12345678901234,
        "ratio": 0.5,
        "kind": "LARGE",
        "ignored": {"deep": [1, 2, 3]},
    }
    out = env.api.invoke(event)
    assert out.kind == "response", out
    assert out.json() == {
        "greeting": "Hello, ignis (42)",
        "echo": [True, ["a", "b"], {"x": 1, "y": 2}, "Lyon/69000", "Nice", "https://example.com",
                 12345678901234, 0.5, "LARGE", "fn"],
        "point": {"x": 1, "y": 2},
    }
    # null properties are left out; public fields, then getters
    assert out.body.startswith(b'{"greeting":"Hello, ignis (42)","echo":[')
    env.wait_log("pojo handled ignis")
    # one persistent connection for next, response, next
    assert len(env.api.connections) == 1


def test_scalar_record_and_untyped_inputs(make_env):
    env = make_env("example.Pojo::record")
    assert env.api.invoke({"x": 3, "y": 4}).json() == {"x": 4, "y": 3}
    env = make_env("example.Pojo::text")
    assert env.api.invoke("shout").body == b'"SHOUT"'
    env2 = make_env("example.Pojo::number")
    assert env2.api.invoke(21).body == b"42"
    env3 = make_env("example.Pojo::untyped")
    assert env3.api.invoke({"a": [1, 2.5]}).json() == ["java.util.LinkedHashMap", {"a": [1, 2.5]}]
    assert env3.api.invoke(7).json() == ["java.lang.Integer", 7]
    env4 = make_env("example.Pojo::nothing")
    assert env4.api.invoke({}).body == b"null"
    env5 = make_env("example.Pojo::nulls")
    # null map values are left out, like null properties; list items stay
    assert env5.api.invoke({"a": None, "b": 1}).body == b'{"b":1,"list":[1,null,3.5,"NaN","c","AQI=",null]}'


def test_request_handler_class_and_context(make_env):
    env = make_env("example.Hello")
    out = env.api.invoke({"name": "ignis"})
    assert out.kind == "response", out
    assert out.body == b'"Hello, ignis #1"'
    assert env.api.invoke({"name": "again"}).body == b'"Hello, again #2"'
    log = env.wait_log("via context logger again")
    assert "via context logger ignis" in log
    assert "[WARN] leveled" in log
    assert "via LambdaRuntime" in log
    assert log.count("Hello constructed") == 1

    cc = {"client": {"installation_id": "i-1", "app_title": "app"}, "custom": {"k": "v"}, "env": {"platform": "x"}}
    rid = env.api.submit(
        {"want": "info"},
        timeout_ms=3000,
        headers={
            "Lambda-Runtime-Client-Context": json.dumps(cc),
            "Lambda-Runtime-Cognito-Identity": json.dumps(
                {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
            ),
            "Lambda-Runtime-Aws-Tenant-Id": "tenant-7",
        },
    )
    info = env.api.outcome(rid).json()
    assert info.startswith("{") and info.endswith("}")
    fields = dict(kv.split("=", 1) for kv in info[1:-1].split(", ") if "=" in kv)
    assert fields["requestId"] == rid
    assert fields["functionName"] == "fn"
    assert fields["version"] == "$LATEST"
    assert fields["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert fields["memory"] == "256"
    assert fields["group"] == "/aws/lambda/fn"
    assert fields["stream"] == "2024/01/01/[$LATEST]abc"
    assert 2000 < int(fields["remaining"]) <= 3000
    assert fields["identity"] == "id-1|pool-1"
    assert fields["client"] == "i-1|{k=v}|{platform=x}"
    assert fields["tenant"] == "tenant-7"
    assert fields["xray"] == "Root=1-00000000-000000000000000000000000;Sampled=0"
    assert fields["traceProp"] == fields["xray"]
    assert (fields["inits"], fields["constructed"], fields["calls"]) == ("1", "1", "3")
    assert fields["cwd"] == str(env.code)
    assert fields["tccl"] == "true"


def test_stream_handlers(make_env):
    env = make_env("example.Streams")
    out = env.api.invoke(b"abc \xc3\xa9")
    assert out.kind == "response"
    assert out.body == "<ABC É|36>".encode()
    env = make_env("example.Streams::raw")
    assert env.api.invoke(b'{"raw":1}').body == b'{"raw":1}!'


def test_unhandled_error_shape(make_env):
    env = make_env("example.Fails")
    rid = env.api.submit({"x": 7})
    out = env.api.outcome(rid)
    assert out.kind == "error"
    assert out.headers["lambda-runtime-function-error-type"] == "Runtime.UserException"
    doc = out.json()
    assert list(doc) == ["errorMessage", "errorType", "stackTrace"]
    assert doc["errorMessage"] == "boom: 7"
    assert doc["errorType"] == "java.lang.RuntimeException"
    # the function's frames only: no runtime frames, no reflection frames
    # (Lambda's runtime calls a RequestHandler directly)
    trace = doc["stackTrace"]
    assert trace[0].startswith("example.Fails.inner(Fails.java:"), trace
    assert trace[1].startswith("example.Fails.handleRequest(Fails.java:"), trace
    assert all(f.startswith("example.Fails.") for f in trace), trace
    log = env.wait_log("boom: 7: java.lang.RuntimeException")
    assert "java.lang.RuntimeException: boom: 7\n\tat example.Fails.inner(Fails.java:" in log
    assert "ignis.runtime" not in log

    npe = env.api.invoke({"npe": 1}).json()
    assert npe["errorType"] == "java.lang.NullPointerException"
    assert npe["stackTrace"][0].startswith("example.Fails.handleRequest(")
    caused = env.api.invoke({"cause": 1}).json()
    assert caused["errorType"] == "java.lang.IllegalStateException"
    assert caused["errorMessage"] == "outer"
    # the environment survives a function error
    assert env.proc.poll() is None

    # a method handler is called through reflection, on Lambda too
    env = make_env("example.Fails::method")
    doc = env.api.invoke({"x": "y"}).json()
    assert doc["errorMessage"] == "boom: y"
    assert doc["stackTrace"][:2][1].startswith("example.Fails.method(Fails.java:")
    assert not [f for f in doc["stackTrace"] if f.startswith("ignis.")]


def test_class_and_method_not_found(make_env):
    # As on Lambda, a missing class or method is not an init failure: each
    # invocation answers the error.
    env = make_env("example.Missing::handle")
    for _ in range(2):
        out = env.api.invoke({})
        assert out.kind == "error"
        assert out.headers["lambda-runtime-function-error-type"] == "Runtime.BadFunctionCode"
        assert out.json() == {
            "errorMessage": "Class not found: example.Missing",
            "errorType": "java.lang.ClassNotFoundException",
        }
    log = env.wait_log("Class not found: example.Missing: java.lang.ClassNotFoundException")
    assert "java.lang.ClassNotFoundException: example.Missing" in log
    assert "ignis.runtime" not in log
    assert env.api.init_errors.empty()

    env = make_env("example.Missing")
    assert env.api.invoke({}).json()["errorMessage"] == "Class not found: example.Missing"

    env = make_env("example.Pojo::nope")
    assert env.api.invoke({}).json() == {
        "errorMessage": "No public method named nope with appropriate method signature found on class example.Pojo"
    }
    env = make_env("example.Pojo")
    assert env.api.invoke({}).json() == {
        "errorMessage": "Class does not implement an appropriate handler interface: example.Pojo"
    }
    env = make_env("example.Pojo::")
    assert env.api.invoke({}).json() == {"errorMessage": "Invalid handler: `example.Pojo::'"}
    env = make_env("example.NoCtor::handle")
    assert env.api.invoke("x").json() == {
        "errorMessage": "Class example.NoCtor has no public zero-argument constructor",
        "errorType": "java.lang.Exception",
    }


def test_init_errors(make_env):
    env = make_env("example.BadConstructor::handle")
    out = env.init_error()
    assert out.headers["lambda-runtime-function-error-type"] == "Runtime.BadFunctionCode"
    assert out.json() == {"errorMessage": "no config", "errorType": "java.lang.IllegalStateException"}
    assert "no config: java.lang.IllegalStateException" in env.log()
    assert ("POST", PREFIX + "/init/error") in env.api.requests
    assert not [r for r in env.api.requests if r[0] == "GET"]

    env = make_env("example.BadStatic::handle")
    out = env.init_error()
    assert out.json() == {
        "errorMessage": "Error loading class example.BadStatic",
        "errorType": "java.lang.ExceptionInInitializerError",
    }
    log = env.log()
    assert "Caused by: java.lang.IllegalArgumentException: static boom" in log


def test_json_parse_error(make_env):
    env = make_env("example.Pojo::handle")
    doc = env.api.invoke(b'{"name": ').json()
    assert doc["errorType"] == "java.lang.RuntimeException"
    assert doc["errorMessage"] == "An error occurred during JSON parsing"
    doc = env.api.invoke({"tags": {"not": "a list of strings"}}).json()
    assert doc["errorMessage"] == "An error occurred during JSON parsing"
    assert env.api.invoke({"name": "ok"}).kind == "response"


def test_remaining_time(make_env):
    env = make_env("example.Echo::remaining")
    assert 4000 < env.api.invoke({}, timeout_ms=5000).json() <= 5000
    assert 50000 < env.api.invoke({}, timeout_ms=60000).json() <= 60000
    assert env.api.invoke({}, timeout_ms=-10).json() == 0


def test_large_payload_and_unicode(make_env):
    env = make_env("example.Echo::handle")
    big = {"data": "x" * (5 * 1024 * 1024), "u": "héllo wörld ✓ 日本 🎉"}
    out = env.api.invoke(big)
    assert out.kind == "response"
    assert out.json() == big
    env.wait_log("got %d héllo wörld ✓ 日本 🎉" % (5 * 1024 * 1024))
    small = env.api.invoke({"u": "é🎉\u0001\"\\/"})
    # UTF-8 as is, control characters escaped, as Lambda's serializer writes
    assert small.body == '{"u":"é🎉\\u0001\\"\\\\/"}'.encode()


def test_dependencies_from_lib_and_layer(make_env):
    env = make_env("example.UsesDeps::handle", lib=True, layer=True, core=False)
    assert env.api.invoke({"who": "you"}).json() == ["lib says hi to you", "layer says hi to you"]
    # the same with the function's class path on the command line
    env = make_env("example.UsesDeps::handle", lib=True, layer=True, core=False, function_classpath=True)
    assert env.api.invoke({"who": "me"}).json() == ["lib says hi to me", "layer says hi to me"]
    env = make_env("example.Hello", function_classpath=True)
    assert env.api.invoke({"name": "cp"}).body == b'"Hello, cp #1"'
    # without the layer, the layer's class is missing: an unhandled error
    env = make_env("example.UsesDeps::handle", lib=True, core=False)
    doc = env.api.invoke({"who": "you"}).json()
    assert doc["errorType"] == "java.lang.NoClassDefFoundError"
    assert doc["errorMessage"] == "layerdep/LayerGreeter"


def test_without_aws_lambda_java_core(make_env):
    env = make_env("example.NoCore::handle", core=False)
    assert env.api.invoke({"a": 1}).json() == {"a": 1, "seen": True}
    env = make_env("example.NoCore::withForeignContext", core=False)
    doc = env.api.invoke({}).json()
    assert doc["errorMessage"].startswith("No public method named withForeignContext")
    env = make_env("example.Hello", core=False)
    # example.Hello needs the core jar: loading it fails
    doc = env.api.invoke({}).json()
    assert doc["errorType"] == "java.lang.NoClassDefFoundError"
    assert doc["errorMessage"].startswith("Error loading class example.Hello: com/amazonaws/services/lambda/runtime/")


def test_json_log_format(make_env):
    env = make_env("example.Hello", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    rid = env.api.submit({"name": "j"})
    assert env.api.outcome(rid).kind == "response"
    env.wait_log('"message":"via LambdaRuntime"')
    records = [json.loads(l) for l in env.lines if l.startswith("{")]
    by_msg = {r["message"]: r for r in records}
    rec = by_msg["via context logger j"]
    assert list(rec) == ["timestamp", "level", "message", "AWSRequestId"]
    assert rec["level"] == "UNDEFINED" and rec["AWSRequestId"] == rid
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["timestamp"])
    assert by_msg["leveled"]["level"] == "WARN"
    # System.out is not reformatted
    assert "Hello constructed" in env.lines


def test_exits_when_next_fails(make_env):
    env = make_env("example.Hello")
    assert env.api.invoke({"name": "x"}).kind == "response"
    env.api.stopping = True  # /next answers 500: a container error
    assert env.proc.wait(timeout=15) == 1
    assert "ignis: GET /invocation/next answered 500" in env.wait_log("answered 500")


def test_startup_time(make_env):
    """JVM start to the first GET /next, for the record (printed)."""
    times = []
    for _ in range(3):
        env = make_env("example.Hello")
        end = time.time() + 20
        while env.api.first_next is None and time.time() < end:
            time.sleep(0.002)
        assert env.api.first_next is not None
        times.append(env.api.first_next - env.started)
        out = env.api.invoke({"name": "t"})
        assert out.kind == "response"
    print("java cold start to first /next: %s ms" % [round(t * 1000) for t in times])

"""Ignis's Ruby runtime client (runtimes/ruby/bootstrap.rb) against a fake
Runtime API: no server, no Lambda. Each test writes a function's code (and a
layer) into a temporary directory, starts `ruby bootstrap.rb` there with the
clean environment the server gives a managed runtime, feeds it invocations
over a tiny HTTP/1.1 server in a thread and checks what it posts back and
what it logs.

No conftest.py on purpose (tests/runtimes is shared with other runtimes'
suites): the fake Runtime API and the process plumbing come from
fake_runtime_api.py."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from fake_runtime_api import (
    ARN, PREFIX, ClientProcess, FakeRuntimeAPI, Outcome, env_factory, interpreter_or_skip, lambda_env, write_tree,
)

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / "runtimes" / "ruby" / "bootstrap.rb"
# IGNIS_TEST_RUBY runs the suite under another interpreter.
RUBY = interpreter_or_skip("IGNIS_TEST_RUBY", "ruby", "test_ruby_runtime")

# The interpreter's gem directory version ("3.1.0") and "3.X".
_info = subprocess.run(
    [RUBY, "-e", 'print RbConfig::CONFIG["ruby_version"], " ", RUBY_VERSION[/\\A\\d+\\.\\d+/]'],
    capture_output=True,
    text=True,
    timeout=30,
    env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
).stdout.split()
GEM_VERSION, MINOR = _info[0], _info[1]

TS6 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}"


# --------------------------------------------------------------------------
# The client, against the fake Runtime API (fake_runtime_api.py)
# --------------------------------------------------------------------------


def _write(root: Path, files: dict):
    write_tree(root, files, name=lambda rel: rel.format(ver=GEM_VERSION), text=textwrap.dedent)


class Env(ClientProcess):
    """One execution environment: a code dir, an opt dir (the layers), the
    client process and its output."""

    def __init__(self, tmp: Path, files: dict, handler="lambda_function.handler", env=None, layer=None):
        self.api = FakeRuntimeAPI(ensure_ascii=False)
        self.code = tmp / "code"
        self.opt = tmp / "opt"
        self.code.mkdir()
        self.opt.mkdir()
        _write(self.code, files)
        _write(self.opt, layer)
        e = lambda_env(self.api.address, handler, self.code, self.opt, execution_env="AWS_Lambda_ruby3.3", overrides=env)
        self.launch([RUBY, str(BOOTSTRAP)], cwd=self.code, env=e)


@pytest.fixture
def make_env(tmp_path):
    yield from env_factory(tmp_path, lambda d, files, **kw: Env(d, files, **kw))


def _init_error(env) -> Outcome:
    out = env.api.init_errors.get(timeout=20)
    assert env.proc.wait(timeout=10) == 252  # exit(-4), as Lambda's runtime
    return out


HELLO = {
    "lambda_function.rb": """
        require 'json'

        def handler(event:, context:)
          puts event.to_json
          { statusCode: 200, body: JSON.generate(hello: event.fetch('name', 'world')) }
        end
    """
}


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_success_puts_and_one_connection(make_env):
    env = make_env(HELLO)
    out = env.api.invoke({"name": "ignis"})
    assert out.kind == "response"
    assert out.headers["content-type"] == "application/json"
    # to_json: no spaces
    assert out.body == b'{"statusCode":200,"body":"{\\"hello\\":\\"ignis\\"}"}'
    env.wait_log('{"name":"ignis"}')
    assert env.api.invoke({}).json()["body"] == '{"hello":"world"}'
    # one persistent connection for next, response, next, response, next
    assert len(env.api.connections) == 1
    assert env.api.agents == {"ignis-ruby/" + subprocess.check_output([RUBY, "-e", "print RUBY_VERSION"]).decode()}


def test_init_once_per_environment_and_context(make_env):
    env = make_env(
        {
            "lambda_function.rb": """
                $inits = ($inits || 0) + 1
                $count = 0

                def handler(event:, context:)
                  $count += 1
                  {
                    init: $inits, count: $count,
                    function_name: context.function_name,
                    function_version: context.function_version,
                    invoked_function_arn: context.invoked_function_arn,
                    memory_limit_in_mb: context.memory_limit_in_mb,
                    aws_request_id: context.aws_request_id,
                    log_group_name: context.log_group_name,
                    log_stream_name: context.log_stream_name,
                    identity: context.identity,
                    client_context: context.client_context,
                    deadline_ms: context.deadline_ms,
                    remaining: context.get_remaining_time_in_millis,
                    context_class: context.class.name,
                    trace: ENV['_X_AMZN_TRACE_ID'],
                    load_path: $LOAD_PATH,
                    gem_path: Gem.path,
                    cwd: Dir.pwd,
                    region: ENV['AWS_REGION'],
                  }
                end
            """
        }
    )
    rid1 = env.api.submit({}, timeout_ms=3000)
    a = env.api.outcome(rid1).json()
    cc = {"client": {"installation_id": "i-1"}, "custom": {"k": "v"}, "env": {"platform": "x"}}
    rid2 = env.api.submit(
        {},
        headers={
            "Lambda-Runtime-Client-Context": json.dumps(cc),
            "Lambda-Runtime-Cognito-Identity": json.dumps(
                {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
            ),
            "Lambda-Runtime-Trace-Id": "Root=1-2",
        },
    )
    b = env.api.outcome(rid2).json()
    assert (a["init"], a["count"]) == (1, 1)
    assert (b["init"], b["count"]) == (1, 2)
    assert a["function_name"] == "fn"
    assert a["function_version"] == "$LATEST"
    assert a["invoked_function_arn"] == ARN
    assert a["memory_limit_in_mb"] == "128"
    assert a["aws_request_id"] == rid1 and b["aws_request_id"] == rid2
    assert a["log_group_name"] == "/aws/lambda/fn"
    assert a["log_stream_name"] == "2024/01/01/[$LATEST]abc"
    assert a["identity"] is None and a["client_context"] is None
    assert b["identity"] == {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    assert b["client_context"] == cc
    assert a["context_class"] == "LambdaContext"
    assert abs(a["deadline_ms"] - (time.time() * 1000 + 3000)) < 5000
    assert 2000 < a["remaining"] <= 3000
    assert 25000 < b["remaining"] <= 30000
    assert a["trace"].startswith("Root=1-") and b["trace"] == "Root=1-2"
    assert a["cwd"] == str(env.code)
    assert a["region"] == "us-east-1"
    # Lambda's order: the code, the layers' ruby/lib, then the standard library
    assert a["load_path"][:2] == [str(env.code), str(env.opt / "ruby" / "lib")]
    assert not [p for p in a["load_path"] if "site_ruby" in p]
    assert str(BOOTSTRAP.parent) not in a["load_path"]
    # gems: vendor/bundle, the layers', then Ruby's own (not the host's)
    gp = a["gem_path"]
    assert gp[0] == str(env.code / "vendor" / "bundle" / "ruby" / GEM_VERSION)
    assert str(env.opt / "ruby" / "gems" / GEM_VERSION) in gp
    assert str(env.code / "vendor" / "bundle" / "ruby" / "3.3.0") in gp  # the declared runtime's
    assert "/var/lib/gems/" + GEM_VERSION not in gp
    assert not [p for p in gp if p.startswith(("/root", "/home"))]


def test_unhandled_error_shape(make_env):
    env = make_env(
        {
            "lambda_function.rb": """
                class BadThing < StandardError; end

                def inner(x)
                  raise BadThing, "boom: #{x}"
                end

                def handler(event:, context:)
                  return 1 / 0 if event['zero']
                  inner(event['x'])
                end
            """
        }
    )
    rid = env.api.submit({"x": 7})
    out = env.api.outcome(rid)
    assert out.kind == "error"
    # a class outside Lambda's short list is "Function<UserException>" in the header
    assert out.headers["lambda-runtime-function-error-type"] == "Function<UserException>"
    doc = out.json()
    assert list(doc) == ["errorMessage", "errorType", "stackTrace"]
    assert doc["errorType"] == "Function<BadThing>"
    assert doc["errorMessage"] == "boom: 7"
    trace = doc["stackTrace"]
    assert len(trace) == 2, trace
    assert re.match(r"^%s/lambda_function\.rb:5:in .(Object#)?inner'$" % re.escape(str(env.code)), trace[0]), trace
    assert re.match(r"^%s/lambda_function\.rb:10:in .(Object#)?handler'$" % re.escape(str(env.code)), trace[1]), trace
    log = env.wait_log('"errorType": "Function<BadThing>"')
    assert "Error raised from handler method\n{\n" in log
    assert '  "errorMessage": "boom: 7",' in log
    # the environment survives a StandardError
    doc = env.api.invoke({"zero": True}).json()
    assert doc["errorType"] == "Function<ZeroDivisionError>"
    assert doc["errorMessage"] == "divided by 0"
    assert ":in `/'" in doc["stackTrace"][0] or ":in 'Integer#/'" in doc["stackTrace"][0]
    assert env.api.invoke({"x": 1}).json()["errorMessage"] == "boom: 1"
    assert env.proc.poll() is None


def test_load_errors(make_env):
    env = make_env(HELLO, handler="missing.handler")
    out = _init_error(env)
    assert out.headers["lambda-runtime-function-error-type"] == "Init<LoadError>"
    assert out.json() == {
        "errorMessage": "cannot load such file -- missing",
        "errorType": "Init<LoadError>",
        "stackTrace": [],
    }
    log = env.log()
    assert "Init error when loading handler missing.handler\n{\n" in log
    assert '"errorType": "Init<LoadError>"' in log
    assert env.api.requests == [("POST", PREFIX + "/init/error")]

    # a gem the code needs and does not ship
    env = make_env({"lambda_function.rb": "require 'not_a_gem_xyz'\ndef handler(event:, context:) = 1\n"})
    doc = _init_error(env).json()
    assert doc["errorType"] == "Init<LoadError>"
    assert doc["errorMessage"] == "cannot load such file -- not_a_gem_xyz"
    assert doc["stackTrace"] and doc["stackTrace"][0].startswith(str(env.code / "lambda_function.rb") + ":1:in ")

    # an exception in the file's top-level code
    env = make_env({"lambda_function.rb": "def handler(event:, context:) = 1\nraise 'no config'\n"})
    out = _init_error(env)
    doc = out.json()
    assert out.headers["lambda-runtime-function-error-type"] == "Function<UserException>"
    assert doc["errorType"] == "Init<RuntimeError>" and doc["errorMessage"] == "no config"
    assert len(doc["stackTrace"]) == 1 and doc["stackTrace"][0].startswith(str(env.code / "lambda_function.rb") + ":2:in ")

    env = make_env({"lambda_function.rb": "def handler(event:, context:\n  1\nend\n"})
    doc = _init_error(env).json()
    assert doc["errorType"] == "Init<SyntaxError>"
    assert "lambda_function.rb" in doc["errorMessage"]

    env = make_env(HELLO, handler="lambda_function")
    doc = _init_error(env).json()
    assert doc["errorType"] == "Init<ArgumentError>"
    assert doc["errorMessage"].startswith('Invalid handler ["lambda_function"], must be of form FILENAME.METHOD')


def test_missing_handler(make_env):
    # As on Lambda: found missing at the first invocation, a critical error,
    # after which the runtime exits (the next invocation gets a fresh one).
    env = make_env(HELLO, handler="lambda_function.nope")
    out = env.api.invoke({})
    assert out.kind == "error"
    assert out.headers["lambda-runtime-function-error-type"] == "Function<NoMethodError>"
    doc = out.json()
    assert doc["errorType"] == "Function<NoMethodError>"
    assert "undefined method" in doc["errorMessage"] and "nope" in doc["errorMessage"]
    # the message only: no error_highlight snippet, no did_you_mean suggestions
    assert "\n" not in doc["errorMessage"]
    assert env.proc.wait(timeout=10) == 255  # exit(-1)
    assert "Critical exception from handler\n{" in env.log()

    env = make_env(HELLO, handler="lambda_function.Nope::Handler.process")
    doc = env.api.invoke({}).json()
    assert doc["errorType"] == "Function<NameError>"
    assert doc["errorMessage"] == "uninitialized constant Nope"
    assert env.proc.wait(timeout=10) == 255


def test_module_class_method_handler(make_env):
    files = {
        "app.rb": """
            require_relative 'lib/helper'

            module App
              class Handler
                def self.process(event:, context:)
                  { from: name, helper: Helper::VALUE, event: event }
                end
              end
            end
        """,
        "lib/helper.rb": "module Helper\n  VALUE = 3\nend\n",
        "lib/nested.rb": """
            module Outer
              module Inner
                def self.run(event:, context:)
                  "nested #{context.aws_request_id.size}"
                end
              end
            end
        """,
    }
    env = make_env(files, handler="app.App::Handler.process")
    assert env.api.invoke({"a": [1, 2]}).json() == {"from": "App::Handler", "helper": 3, "event": {"a": [1, 2]}}
    env = make_env(files, handler="lib/nested.Outer::Inner.run")
    assert env.api.invoke({}).json() == "nested 36"


def test_remaining_time_counts_down(make_env):
    env = make_env(
        {
            "lambda_function.rb": """
                def handler(event:, context:)
                  a = context.get_remaining_time_in_millis
                  sleep 0.3
                  [a, context.get_remaining_time_in_millis]
                end
            """
        }
    )
    a, b = env.api.invoke({}, timeout_ms=5000).json()
    assert 4000 < a <= 5000
    assert 250 <= a - b < 1500
    # past the deadline: 0, never negative
    assert env.api.invoke({}, timeout_ms=-1000).json() == [0, 0]


def test_puts_is_unbuffered(make_env):
    env = make_env(
        {
            "lambda_function.rb": """
                def handler(event:, context:)
                  puts 'before the wait'
                  $stdout.print 'partial line, '
                  sleep 1.5
                  'done'
                end
            """
        }
    )
    rid = env.api.submit({})
    env.wait_log("before the wait", timeout=1.2)
    assert env.api.outcomes[rid].empty()
    assert env.api.outcome(rid).json() == "done"


def test_large_payload_and_unicode(make_env):
    env = make_env(
        {
            "lambda_function.rb": """
                def handler(event:, context:)
                  puts "got #{event.fetch('data', '').size} #{event['u']}"
                  event
                end
            """
        }
    )
    big = {"data": "x" * (5 * 1024 * 1024), "u": "héllo wörld ✓ 日本 🎉"}
    out = env.api.invoke(big)
    assert out.kind == "response"
    assert out.json() == big
    env.wait_log("got %d héllo wörld ✓ 日本 🎉" % (5 * 1024 * 1024))
    # to_json writes UTF-8 as is
    assert env.api.invoke({"u": "é🎉"}).body == '{"u":"é🎉"}'.encode()


def test_raw_responses_and_events(make_env):
    env = make_env(
        {
            "lambda_function.rb": """
                require 'stringio'

                def handler(event:, context:)
                  return StringIO.new("raw \\xff bytes".b) if event == 'io'
                  return Time.at(0).utc if event == 'time'
                  return nil if event == 'nil'
                  [event.class.name, event]
                end
            """
        }
    )
    out = env.api.invoke("io")
    assert out.headers["content-type"] == "application/unknown"
    assert out.body == b"raw \xff bytes"
    assert env.api.invoke("time").body == b'"1970-01-01 00:00:00 UTC"'
    assert env.api.invoke("nil").body == b"null"
    rid = env.api.submit(b"plain text", headers={"Content-Type": "text/plain"})
    assert env.api.outcome(rid).json() == ["String", "plain text"]
    # a malformed JSON event is reported, and the environment carries on
    out = env.api.invoke(b"{not json")
    assert out.kind == "error" and out.json()["errorType"] == "Runtime<JSON::ParserError>"
    assert env.api.invoke({"k": 1}).json() == ["Hash", {"k": 1}]


def test_log_format_text(make_env):
    env = make_env(
        {
            "lambda_function.rb": """
                require 'logger'
                LOG = Logger.new($stdout)
                LOG.warn('at init')
                QUIET = Logger.new($stdout, level: Logger::DEBUG)

                def handler(event:, context:)
                  LOG.info('hello there')
                  LOG.debug('hidden')
                  LOG.error(ArgumentError.new('bad arg'))
                  QUIET.debug('explicit level wins')
                  Logger.new($stderr, progname: 'app').info('on stderr')
                  $stderr.puts 'plain stderr'
                  print "no newline"
                  puts
                  1
                end
            """
        },
        env={"AWS_LAMBDA_LOG_LEVEL": "INFO"},
    )
    rid = env.api.submit({})
    env.api.outcome(rid)
    log = env.wait_log("no newline")
    env.wait_log("plain stderr")
    pid = env.proc.pid
    assert re.search(r"^W, \[%s #%d\]  WARN  -- : at init$" % (TS6, pid), log, re.M), log
    assert re.search(r"^I, \[%s #%d\]  INFO %s -- : hello there$" % (TS6, pid, rid), log, re.M), log
    assert re.search(r"^E, \[%s #%d\] ERROR %s -- : bad arg \(ArgumentError\)$" % (TS6, pid, rid), log, re.M), log
    assert re.search(r"^D, \[%s #%d\] DEBUG %s -- : explicit level wins$" % (TS6, pid, rid), log, re.M), log
    assert re.search(r"^I, \[%s #%d\]  INFO %s -- app: on stderr$" % (TS6, pid, rid), log, re.M), log
    assert "hidden" not in log
    assert re.search(r"^no newline$", log, re.M)


def test_log_format_json(make_env):
    env = make_env(
        {
            "lambda_function.rb": """
                require 'logger'
                LOG = Logger.new($stdout, progname: 'app')

                def handler(event:, context:)
                  puts 'plain puts'
                  LOG.info('hello json')
                  LOG.debug('hidden')
                  begin
                    1 / 0
                  rescue ZeroDivisionError => e
                    LOG.error(e)
                  end
                  raise 'bad'
                end
            """
        },
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"},
    )
    rid = env.api.submit({})
    out = env.api.outcome(rid)
    assert out.json()["errorType"] == "Function<RuntimeError>"
    env.wait_log('"message":"Error raised from handler method"')
    records = {}
    for line in env.lines:
        if line.startswith("{"):
            rec = json.loads(line)
            records[rec["message"]] = rec
    assert "plain puts" in env.lines
    info = records["hello json"]
    assert list(info) == ["timestamp", "level", "message", "requestId", "logger"]
    assert info["level"] == "INFO" and info["logger"] == "app" and info["requestId"] == rid
    assert re.fullmatch(TS6 + "Z", info["timestamp"])
    assert "hidden" not in env.log()
    exc = records["divided by 0"]
    assert exc["level"] == "ERROR" and exc["errorType"] == "ZeroDivisionError"
    assert exc["errorMessage"] == "divided by 0" and exc["stackTrace"]
    assert re.search(r"lambda_function\.rb:\S+:10$", exc["location"]), exc["location"]
    err = records["Error raised from handler method"]
    assert err["level"] == "ERROR" and err["errorType"] == "Function<RuntimeError>"
    assert err["errorMessage"] == "bad" and err["requestId"] == rid


def test_layer_and_vendored_gems(make_env):
    def gemspec(name):
        return f"""
            Gem::Specification.new do |s|
              s.name = '{name}'
              s.version = '1.2.3'
              s.summary = 'test gem'
              s.authors = ['ignis']
              s.files = ['lib/{name}.rb']
              s.require_paths = ['lib']
            end
        """

    env = make_env(
        {
            "lambda_function.rb": """
                require 'layerlib'
                require 'layergem'
                require 'vendorgem'

                def handler(event:, context:)
                  [LayerLib::NAME, LayerGem::NAME, VendorGem::NAME,
                   Gem.loaded_specs['layergem']&.version&.to_s,
                   Gem.loaded_specs['vendorgem']&.full_gem_path]
                end
            """,
            "vendor/bundle/ruby/{ver}/specifications/vendorgem-1.2.3.gemspec": gemspec("vendorgem"),
            "vendor/bundle/ruby/{ver}/gems/vendorgem-1.2.3/lib/vendorgem.rb": "module VendorGem\n  NAME = 'from vendor/bundle'\nend\n",
        },
        layer={
            "ruby/lib/layerlib.rb": "module LayerLib\n  NAME = 'from /opt/ruby/lib'\nend\n",
            "ruby/gems/{ver}/specifications/layergem-1.2.3.gemspec": gemspec("layergem"),
            "ruby/gems/{ver}/gems/layergem-1.2.3/lib/layergem.rb": "module LayerGem\n  NAME = 'from /opt/ruby/gems'\nend\n",
        },
    )
    assert env.api.invoke({}).json() == [
        "from /opt/ruby/lib",
        "from /opt/ruby/gems",
        "from vendor/bundle",
        "1.2.3",
        str(env.code / "vendor" / "bundle" / "ruby" / GEM_VERSION / "gems" / "vendorgem-1.2.3"),
    ]


def test_reconnects_when_the_server_closes_the_connection(make_env):
    env = make_env(HELLO)
    env.api.close_after_post = True
    for i in range(3):
        assert env.api.invoke({"name": str(i)}).json()["statusCode"] == 200
    assert len(env.api.connections) >= 3
    assert env.proc.poll() is None


def test_exits_when_next_fails(make_env):
    env = make_env(HELLO)
    assert env.api.invoke({}).kind == "response"
    env.api.stopping = True  # /next answers 500: a container error
    assert env.proc.wait(timeout=10) == 1
    assert "ignis: GET /invocation/next answered 500" in env.wait_log("answered 500")

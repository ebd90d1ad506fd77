"""The RabbitMQ event source (Lambda's Amazon MQ for RabbitMQ) against a real
broker: Debian's `rabbitmq-server`, started privately by tests/e2e/rabbitmq.py.

The broker is registered and its credentials stored with the CLI
(`ignis brokers add`, `ignis secrets put`, in the server's data directory);
the mapping is made with boto3's CreateEventSourceMapping naming the broker
ARN, the queue, the BASIC_AUTH secret ARN and the VIRTUAL_HOST; messages are
published with pika. The function prints one `GOT {...}` line per record and
fails on records whose data starts with `fail`."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError

import rabbitmq
from support import IGNIS_BIN, all_log_lines, build_zip, wait_for

HANDLER = """\
import base64, json

def main(event, context):
    fail = False
    for key, records in event["rmqMessagesByQueue"].items():
        for r in records:
            print("GOT " + json.dumps({
                "eventKeys": sorted(event), "source": event["eventSource"],
                "arn": event["eventSourceArn"], "key": key, "batch": len(records), "record": r,
            }), flush=True)
            fail = fail or base64.b64decode(r["data"]).startswith(b"fail")
    if fail:
        raise RuntimeError("failing on purpose")
    return {"ok": True}
"""

PROPERTY_KEYS = sorted([
    "contentType", "contentEncoding", "headers", "deliveryMode", "priority", "correlationId",
    "replyTo", "expiration", "messageId", "timestamp", "type", "userId", "appId", "clusterId",
    "bodySize",
])


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    if not rabbitmq.installed():
        pytest.skip("rabbitmq-server is not installed (scripts/test.sh installs Debian's package)")
    b = rabbitmq.start_broker(tmp_path_factory.mktemp("rabbitmq"), tls=True)
    yield b
    b.stop()


def ignis(server, *args: str) -> str:
    done = subprocess.run(
        [str(IGNIS_BIN), *args, "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def registered(server, broker):
    """(broker ARN, secret ARN) of the module's broker, registered with the CLI."""
    name = f"rmq-{uuid.uuid4().hex[:6]}"
    broker_arn = ignis(server, "brokers", "add", name, broker.url)
    secret_arn = ignis(server, "secrets", "put", name, "--username", broker.user, "--password", broker.password)
    assert broker_arn.startswith(f"arn:aws:mq:") and f":broker:{name}:b-" in broker_arn, broker_arn
    assert secret_arn.endswith(f":secret:{name}"), secret_arn
    return broker_arn, secret_arn


@pytest.fixture
def mappings(lam):
    made: list[str] = []
    yield made
    for u in made:
        try:
            lam.delete_event_source_mapping(UUID=u)
        except ClientError:
            pass


@pytest.fixture
def handler_fn(deploy, python, fname) -> str:
    deploy(build_zip([("handler.py", HANDLER)]), Runtime=python, Handler="handler.main", Timeout=10)
    return fname


def got(url: str, fn: str) -> list[dict]:
    return [json.loads(line.split("GOT ", 1)[1]) for line in all_log_lines(url, fn) if "GOT {" in line]


def new_queue(broker) -> str:
    q = f"orders-{uuid.uuid4().hex[:6]}"
    broker.declare(q)
    return q


def create(lam, mappings, fn, broker, arns, queue, secret=None, **extra) -> dict:
    broker_arn, secret_arn = arns
    m = lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=broker_arn,
        Queues=[queue],
        SourceAccessConfigurations=[
            {"Type": "BASIC_AUTH", "URI": secret or secret_arn},
            {"Type": "VIRTUAL_HOST", "URI": broker.vhost},
        ],
        **extra,
    )
    mappings.append(m["UUID"])
    return m


def wait_state(lam, uuid_: str, state: str) -> dict:
    return wait_for(
        lambda: (m := lam.get_event_source_mapping(UUID=uuid_))["State"] == state and m,
        60, what=f"mapping {state}",
    )


def test_messages_arrive_in_the_rmq_shape_and_are_acknowledged(lam, url, broker, registered, handler_fn, mappings):
    import pika

    q = new_queue(broker)
    props = pika.BasicProperties(
        content_type="application/json", content_encoding="utf-8", headers={"h": "v", "n": 7},
        delivery_mode=2, priority=5, correlation_id="corr-1", reply_to="replies",
        expiration="600000", message_id="m-1", timestamp=1_700_000_000, type="order",
        app_id="shop",
    )
    bodies = [json.dumps({"order": i}).encode() for i in range(3)]
    broker.publish(q, bodies, props)
    m = create(lam, mappings, handler_fn, broker, registered, q, BatchSize=10, MaximumBatchingWindowInSeconds=1)
    assert m["Queues"] == [q]
    assert m["EventSourceArn"] == registered[0]

    records = wait_for(lambda: len(r := got(url, handler_fn)) >= 3 and r, 60, what="3 records")
    assert len(records) == 3, records
    assert sorted(base64.b64decode(r["record"]["data"]) for r in records) == sorted(bodies)
    for r in records:
        assert r["eventKeys"] == ["eventSource", "eventSourceArn", "rmqMessagesByQueue"]
        assert r["source"] == "aws:rmq"
        assert r["arn"] == registered[0]
        assert r["key"] == f"{q}::{broker.vhost}"
        rec = r["record"]
        assert sorted(rec) == ["basicProperties", "data", "redelivered"]
        assert rec["redelivered"] is False
        p = rec["basicProperties"]
        assert sorted(p) == PROPERTY_KEYS
        assert p["contentType"] == "application/json"
        assert p["contentEncoding"] == "utf-8"
        assert p["headers"] == {"h": {"bytes": list(b"v")}, "n": 7}
        assert (p["deliveryMode"], p["priority"]) == (2, 5)
        assert (p["correlationId"], p["replyTo"], p["expiration"]) == ("corr-1", "replies", "600000")
        assert (p["messageId"], p["type"], p["appId"]) == ("m-1", "order", "shop")
        assert p["timestamp"] == "Nov 14, 2023, 10:13:20 PM"
        assert p["userId"] is None and p["clusterId"] is None
        assert p["bodySize"] == len(base64.b64decode(rec["data"]))
    # All acknowledged: nothing ready, nothing unacknowledged.
    wait_for(lambda: broker.counts(q) == (0, 0), 30, what="an empty queue")
    wait_for(lambda: lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"] == "OK", 30, what="OK")


def test_a_failed_batch_is_requeued_and_comes_back_redelivered(lam, url, broker, registered, handler_fn, mappings):
    q = new_queue(broker)
    broker.publish(q, [b"fail-1"])
    m = create(lam, mappings, handler_fn, broker, registered, q, BatchSize=1)
    again = wait_for(
        lambda: [r for r in got(url, handler_fn) if r["record"]["redelivered"]], 60, what="a redelivery"
    )
    assert base64.b64decode(again[0]["record"]["data"]) == b"fail-1"
    first = got(url, handler_fn)[0]["record"]
    assert first["redelivered"] is False
    result = wait_for(
        lambda: (r := lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"]).startswith("PROBLEM") and r,
        30, what="a PROBLEM result",
    )
    assert result.startswith("PROBLEM: Function call failed"), result
    # Deleting the mapping leaves the message on the queue: requeued, not lost.
    lam.delete_event_source_mapping(UUID=m["UUID"])
    wait_for(lambda: _gone(lam, m["UUID"]), 60, what="the mapping deleted")
    wait_for(lambda: broker.counts(q) == (1, 0), 30, what="the message back on the queue")


def _gone(lam, uuid_: str) -> bool:
    try:
        lam.get_event_source_mapping(UUID=uuid_)
        return False
    except ClientError as e:
        return e.response["Error"]["Code"] == "ResourceNotFoundException"


def test_wrong_credentials_are_reported_and_nothing_is_consumed(lam, url, server, broker, registered, handler_fn, mappings):
    q = new_queue(broker)
    broker.publish(q, [b"kept"])
    name = f"bad-{uuid.uuid4().hex[:6]}"
    bad_secret = ignis(server, "secrets", "put", name, "--username", broker.user, "--password", "not-the-password")
    m = create(lam, mappings, handler_fn, broker, registered, q, secret=bad_secret)
    result = wait_for(
        lambda: (r := lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"]).startswith("PROBLEM") and r,
        60, what="a PROBLEM result",
    )
    assert result.startswith("PROBLEM: Connection error."), result
    assert "not-the-password" not in result
    assert "not-the-password" not in server.stderr()
    assert broker.counts(q) == (1, 0)
    assert got(url, handler_fn) == []
    # Updated to a secret that does not exist: the consumer restarts and says which.
    lam.update_event_source_mapping(
        UUID=m["UUID"],
        SourceAccessConfigurations=[
            {"Type": "BASIC_AUTH", "URI": bad_secret.replace(name, "no-such-secret")},
            {"Type": "VIRTUAL_HOST", "URI": broker.vhost},
        ],
    )
    result = wait_for(
        lambda: "no-such-secret" in (r := lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"]) and r,
        60, what="the missing secret named",
    )
    assert result.startswith("PROBLEM: Invalid event source mapping configuration."), result
    # Updated to the right secret: the message is consumed.
    lam.update_event_source_mapping(
        UUID=m["UUID"],
        SourceAccessConfigurations=[
            {"Type": "BASIC_AUTH", "URI": registered[1]},
            {"Type": "VIRTUAL_HOST", "URI": broker.vhost},
        ],
    )
    wait_for(lambda: len(got(url, handler_fn)) == 1, 60, what="the record once the secret is right")
    wait_for(lambda: broker.counts(q) == (0, 0), 30, what="an empty queue")


def test_disabling_the_mapping_stops_consumption(lam, url, broker, registered, handler_fn, mappings):
    q = new_queue(broker)
    broker.publish(q, [b"one"])
    m = create(lam, mappings, handler_fn, broker, registered, q, BatchSize=1)
    wait_for(lambda: len(got(url, handler_fn)) == 1, 60, what="the first record")
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    wait_state(lam, m["UUID"], "Disabled")
    broker.publish(q, [b"two", b"three"])
    # The consumer is gone: the broker holds both, unconsumed, with no consumer.
    wait_for(lambda: broker.counts(q) == (2, 0), 30, what="two ready messages")
    consumers = broker.ctl("list_queues", "-p", broker.vhost, "name", "consumers", "--no-table-headers", "--quiet")
    assert f"{q}\t0" in consumers or any(l.split() == [q, "0"] for l in consumers.splitlines()), consumers
    time.sleep(2)
    assert len(got(url, handler_fn)) == 1
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
    wait_state(lam, m["UUID"], "Enabled")
    wait_for(lambda: len(got(url, handler_fn)) == 3, 60, what="the records after re-enabling")
    wait_for(lambda: broker.counts(q) == (0, 0), 30, what="an empty queue")


def test_the_cli_lists_and_removes_brokers_and_secrets(server, broker):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    arn = ignis(server, "brokers", "add", name, broker.url)
    listed = json.loads(ignis(server, "brokers", "list", "--json"))["Brokers"]
    assert {"Name": name, "Url": broker.url, "BrokerArn": arn} in listed
    # Re-pointing keeps the ARN.
    assert ignis(server, "brokers", "add", name, f"amqp://127.0.0.1:{broker.port}") == arn
    secret = ignis(server, "secrets", "put", name, "--username", "u", "--password", "very-secret-pw")
    listing = ignis(server, "secrets", "list", "--json")
    assert secret in json.loads(listing)["SecretList"]
    assert "very-secret-pw" not in listing
    stored = (server.data_dir / "secrets" / f"{name}.json").read_text()
    assert "very-secret-pw" not in stored and '"u"' not in stored
    ignis(server, "secrets", "delete", name)
    ignis(server, "brokers", "remove", name)
    assert secret not in json.loads(ignis(server, "secrets", "list", "--json"))["SecretList"]
    assert all(b["Name"] != name for b in json.loads(ignis(server, "brokers", "list", "--json"))["Brokers"])
    bad = subprocess.run(
        [str(IGNIS_BIN), "brokers", "add", "x", "amqp://user:pw@127.0.0.1", "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 1 and "must not hold credentials" in bad.stderr, bad.stderr


def test_an_amqps_broker_is_reached_over_tls_with_its_ca(lam, url, server, broker, handler_fn, mappings):
    name = f"tls-{uuid.uuid4().hex[:6]}"
    arn = ignis(server, "brokers", "add", name, broker.tls_url)
    secret = ignis(server, "secrets", "put", name, "--username", broker.user, "--password", broker.password)
    q = new_queue(broker)
    broker.publish(q, [b"over tls"])
    m = create(lam, mappings, handler_fn, broker, (arn, secret), q)
    # The broker's certificate is signed by a CA of its own: not trusted by the public roots.
    result = wait_for(
        lambda: (r := lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"]).startswith("PROBLEM") and r,
        60, what="a PROBLEM result",
    )
    assert result.startswith("PROBLEM: Connection error."), result
    assert broker.counts(q) == (1, 0)
    # Registered with its CA: the consumer's next attempt connects over TLS.
    assert ignis(server, "brokers", "add", name, broker.tls_url, "--ca-file", str(broker.ca_file)) == arn
    records = wait_for(lambda: got(url, handler_fn), 90, what="the record over TLS")
    assert base64.b64decode(records[0]["record"]["data"]) == b"over tls"
    wait_for(lambda: broker.counts(q) == (0, 0), 30, what="an empty queue")

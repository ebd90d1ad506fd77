"""An event source mapping survives `kill -9` of the server (issue 14):
a queue-triggered function forwards each message's body to a second
queue (through the SDK, with the credentials and endpoint Ignis gives it);
the server is killed with SIGKILL while the mapping works through a
backlog, and restarted on the same data directory. The mapping is still
there and polls again; every message sent reaches the second queue at
least once (counted), and the source queue drains: none is lost."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from support import ROLE, aws_client, lambda_client, wait_for
from test_execution_role import python_runtime

N = 1000

FORWARDER = '''
import boto3

sqs = boto3.client("sqs")

def main(event, context):
    url = sqs.get_queue_url(QueueName="esm-done")["QueueUrl"]
    records = event["Records"]
    for start in range(0, len(records), 10):
        chunk = records[start:start + 10]
        out = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": r["body"]} for i, r in enumerate(chunk)])
        if out.get("Failed"):
            raise RuntimeError(str(out["Failed"]))
    return {}
'''


def forwarder_zip() -> bytes:
    """`handler.py` with boto3 and botocore (SQS's model only) and their
    pure-Python dependencies from this venv (Ignis's Python runtime ships
    no SDK)."""
    import boto3
    import botocore
    import dateutil
    import jmespath
    import s3transfer
    import six
    import urllib3

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("handler.py", FORWARDER)
        z.write(six.__file__, "six.py")
        for mod in (boto3, botocore, dateutil, jmespath, s3transfer, urllib3):
            root = Path(mod.__file__).parent
            for path in root.rglob("*"):
                rel = path.relative_to(root.parent)
                parts = rel.parts
                if path.is_dir() or "__pycache__" in parts or path.suffix == ".pyc":
                    continue
                if parts[:2] in (("boto3", "data"), ("boto3", "examples")):
                    continue
                if parts[:2] == ("botocore", "data") and len(parts) > 3 and parts[2] != "sqs":
                    continue
                z.write(path, str(rel))
    return buf.getvalue()


def test_kill_9_loses_no_message_of_a_mapping(own_server, tmp_path):
    data = tmp_path / "data"
    srv = own_server(data)
    lam, sqs = lambda_client(srv.url), aws_client(srv.url, "sqs")
    source = sqs.create_queue(QueueName="esm-source", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    done = sqs.create_queue(QueueName="esm-done")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_function(FunctionName="forwarder", Runtime=python_runtime(srv.url), Handler="handler.main",
                        Role=ROLE, Code={"ZipFile": forwarder_zip()}, Timeout=5, MemorySize=256)
    lam.get_waiter("function_active_v2").wait(FunctionName="forwarder", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    for start in range(0, N, 10):
        sqs.send_message_batch(QueueUrl=source, Entries=[
            {"Id": str(i), "MessageBody": f"message-{i}"} for i in range(start, start + 10)])
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="forwarder", BatchSize=10)

    # Kill once the mapping has worked through part of the backlog.
    wait_for(lambda: int(sqs.get_queue_attributes(QueueUrl=done, AttributeNames=["ApproximateNumberOfMessages"])
                         ["Attributes"]["ApproximateNumberOfMessages"]) >= 30,
             120, what="the mapping under way")
    left = sqs.get_queue_attributes(
        QueueUrl=source, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    srv.kill()
    assert sum(int(v) for v in left.values()) > 0, "the backlog was gone before the kill"

    srv = own_server(data)
    lam, sqs = lambda_client(srv.url), aws_client(srv.url, "sqs")
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] in ("Enabled", "Creating")
    source = sqs.get_queue_url(QueueName="esm-source")["QueueUrl"]
    done = sqs.get_queue_url(QueueName="esm-done")["QueueUrl"]
    seen: dict[str, int] = {}

    def drained():
        got = sqs.receive_message(QueueUrl=done, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for msg in got:
            seen[msg["Body"]] = seen.get(msg["Body"], 0) + 1
        if got:
            sqs.delete_message_batch(QueueUrl=done, Entries=[
                {"Id": str(k), "ReceiptHandle": msg["ReceiptHandle"]} for k, msg in enumerate(got)])
        left = sqs.get_queue_attributes(
            QueueUrl=source,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return len(seen) == N and not got and all(v == "0" for v in left.values())

    wait_for(drained, timeout=300, interval=0, what="every message forwarded and the source drained")
    assert set(seen) == {f"message-{i}" for i in range(N)}
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled"

"""SQS's older query protocol (form-encoded `Action=…`, XML answers) with a
real older client: boto3 1.28.80 / botocore 1.31.80, the last releases whose
SQS model is the query protocol, installed by scripts/test.sh into a second
venv (IGNIS_QUERY_VENV, default /var/tmp/ignis-venv-query). The client runs
in that venv as a subprocess; this test checks what it reports."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

VENV = Path(os.environ.get("IGNIS_QUERY_VENV", "/var/tmp/ignis-venv-query"))

SCRIPT = textwrap.dedent(
    r'''
    import base64, hashlib, json, sys, uuid
    import boto3, botocore, botocore.config
    from botocore.exceptions import ClientError

    url = sys.argv[1]
    sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x", config=botocore.config.Config(retries={"max_attempts": 0}))
    out = {"botocore": botocore.__version__, "protocol": sqs.meta.service_model.protocol}

    def attrs_md5(attrs):
        buf = b""
        for name in sorted(attrs):
            a = attrs[name]
            f = lambda b: len(b).to_bytes(4, "big") + b
            buf += f(name.encode()) + f(a["DataType"].encode())
            buf += b"\x01" + f(a["StringValue"].encode()) if "StringValue" in a else b"\x02" + f(a["BinaryValue"])
        return hashlib.md5(buf).hexdigest()

    def code(call):
        try:
            call()
        except ClientError as e:
            return [e.response["Error"]["Code"], type(e).__name__, e.response["ResponseMetadata"]["HTTPStatusCode"]]
        return None

    name = "query-" + uuid.uuid4().hex[:8]
    q = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"}, tags={"via": "query"})["QueueUrl"]
    out["queue_url"] = q
    attrs = {"s": {"DataType": "String", "StringValue": "a & <b> ✓"},
             "n": {"DataType": "Number", "StringValue": "-1.5"},
             "b": {"DataType": "Binary", "BinaryValue": bytes(range(256))}}
    body = "query <body> & more ✓"
    sent = sqs.send_message(QueueUrl=q, MessageBody=body, MessageAttributes=attrs)
    out["send_md5_ok"] = (sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
                          and sent["MD5OfMessageAttributes"] == attrs_md5(attrs))
    got = sqs.receive_message(QueueUrl=q, MessageAttributeNames=["All"], AttributeNames=["All"], WaitTimeSeconds=5)["Messages"]
    m = got[0]
    out["received"] = {"body": m["Body"], "same_id": m["MessageId"] == sent["MessageId"],
                       "attributes_equal": m["MessageAttributes"] == attrs,
                       "md5_ok": m["MD5OfMessageAttributes"] == attrs_md5(m["MessageAttributes"])
                                 and m["MD5OfBody"] == hashlib.md5(body.encode()).hexdigest(),
                       "system": sorted(m["Attributes"])}
    sqs.delete_message(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"])
    batch = sqs.send_message_batch(QueueUrl=q, Entries=[{"Id": f"e{i}", "MessageBody": f"m{i}"} for i in range(10)])
    out["batch_sent"] = sorted(s["Id"] for s in batch["Successful"])
    seen = []
    for _ in range(50):
        msgs = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=9, WaitTimeSeconds=1).get("Messages", [])
        if msgs:
            d = sqs.delete_message_batch(QueueUrl=q, Entries=[{"Id": f"d{i}", "ReceiptHandle": x["ReceiptHandle"]}
                                                              for i, x in enumerate(msgs)]
                                                     + [{"Id": "bad", "ReceiptHandle": "nope"}])
            out.setdefault("delete_failed", [[f["Id"], f["Code"], f["SenderFault"]] for f in d.get("Failed", [])])
            seen += [x["Body"] for x in msgs]
        if len(seen) >= 10:
            break
    out["batch_received"] = sorted(seen)
    out["attributes"] = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
    out["tags"] = sqs.list_queue_tags(QueueUrl=q)["Tags"]
    out["listed"] = q in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    out["errors"] = {
        "missing_queue": code(lambda: sqs.get_queue_url(QueueName=name + "-none")),
        "too_many": code(lambda: sqs.send_message_batch(QueueUrl=q, Entries=[{"Id": f"x{i}", "MessageBody": "x"} for i in range(11)])),
        "same_ids": code(lambda: sqs.delete_message_batch(QueueUrl=q, Entries=[{"Id": "a", "ReceiptHandle": "h"}] * 2)),
        "bad_attribute": code(lambda: sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["Colour"])),
        "bad_max": code(lambda: sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=11)),
        "bad_chars": code(lambda: sqs.send_message(QueueUrl=q, MessageBody="\x01")),
    }
    sqs.delete_queue(QueueUrl=q)
    out["gone"] = code(lambda: sqs.get_queue_url(QueueName=name))
    print(json.dumps(out))
    '''
)


def test_query_protocol_with_an_older_boto3(url):
    python = VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no query-protocol venv at {VENV} (scripts/test.sh creates it with boto3==1.28.80)")
    proc = subprocess.run([str(python), "-c", SCRIPT, url], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["protocol"] == "query", out
    assert out["botocore"] == "1.31.80"
    assert out["queue_url"].endswith("/000000000000/" + out["queue_url"].rsplit("/", 1)[1])
    assert out["send_md5_ok"]
    r = out["received"]
    assert r["body"] == "query <body> & more ✓"
    assert r["same_id"] and r["attributes_equal"] and r["md5_ok"], r
    assert {"SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"} <= set(r["system"])
    assert out["batch_sent"] == sorted(f"e{i}" for i in range(10))
    assert out["batch_received"] == sorted(f"m{i}" for i in range(10))
    assert out["delete_failed"] == [["bad", "ReceiptHandleIsInvalid", True]]
    assert out["attributes"]["VisibilityTimeout"] == "30"
    assert out["attributes"]["ApproximateNumberOfMessages"] == "0"
    assert out["attributes"]["QueueArn"].startswith("arn:aws:sqs:us-east-1:000000000000:query-")
    assert out["tags"] == {"via": "query"}
    assert out["listed"]
    e = out["errors"]
    assert e["missing_queue"] == ["AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", 400]
    assert e["too_many"] == ["AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "TooManyEntriesInBatchRequest", 400]
    assert e["same_ids"] == ["AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "BatchEntryIdsNotDistinct", 400]
    assert e["bad_attribute"] == ["InvalidAttributeName", "InvalidAttributeName", 400]
    assert e["bad_max"][0] == "InvalidParameterValue"
    assert e["bad_chars"][0] == "InvalidMessageContents"
    assert out["gone"][0] == "AWS.SimpleQueueService.NonExistentQueue"

"""SQS's older query protocol (form-encoded `Action=…`, XML answers) with a
real older client: boto3 1.28.80 / botocore 1.31.80, the last releases whose
SQS model is the query protocol, installed by scripts/test.sh into a second
venv (IGNIS_QUERY_VENV, default /var/tmp/ignis-venv-query). The client runs
in that venv as a subprocess; this test checks what it reports. Raw signed
forms check what no botocore sends: a request posted to the queue's URL
path, and refusals in enforce mode."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests

from support import REGION

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
    body = "query <body> & more ✓\r\nsecond line\ttab"
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
    assert r["body"] == "query <body> & more ✓\r\nsecond line\ttab"
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


def signed_form(url: str, path: str, form: str, key=("x", "x")) -> requests.Response:
    req = botocore.awsrequest.AWSRequest(method="POST", url=url + path, data=form,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(*key), "sqs", REGION).add_auth(req)
    return requests.post(req.url, data=req.body, headers=dict(req.headers), timeout=30)


def test_query_requests_posted_to_the_queue_url(url):
    """Older SDKs post to the queue's URL itself, without QueueUrl."""
    name = f"qpath-{uuid.uuid4().hex[:8]}"
    resp = signed_form(url, "/", f"Action=CreateQueue&QueueName={name}&Version=2012-11-05")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/xml")
    ns = {"s": "http://queue.amazonaws.com/doc/2012-11-05/"}
    qurl = ET.fromstring(resp.text).find("s:CreateQueueResult/s:QueueUrl", ns).text
    path = "/000000000000/" + name
    assert qurl.endswith(path)
    resp = signed_form(url, path, "Action=SendMessage&MessageBody=to+the+path&Version=2012-11-05"
                                  "&MessageAttribute.1.Name=k&MessageAttribute.1.Value.DataType=String"
                                  "&MessageAttribute.1.Value.StringValue=v")
    assert resp.status_code == 200, resp.text
    sent = ET.fromstring(resp.text).find("s:SendMessageResult", ns)
    assert sent.find("s:MD5OfMessageBody", ns).text == hashlib.md5(b"to the path").hexdigest()
    # Unsigned, as curl would post it (open mode: the caller is the root user).
    resp = requests.post(url + path, data="Action=SendMessage&MessageBody=unsigned&Version=2012-11-05",
                         headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert resp.status_code == 200 and "<SendMessageResponse" in resp.text, resp.text
    resp = signed_form(url, path, "Action=ReceiveMessage&MessageAttributeName.1=All&AttributeName.1=SenderId"
                                  "&WaitTimeSeconds=5&Version=2012-11-05")
    msg = ET.fromstring(resp.text).find("s:ReceiveMessageResult/s:Message", ns)
    assert msg.find("s:Body", ns).text == "to the path"
    attr = msg.find("s:MessageAttribute", ns)
    assert (attr.find("s:Name", ns).text, attr.find("s:Value/s:StringValue", ns).text) == ("k", "v")
    assert msg.find("s:Attribute/s:Name", ns).text == "SenderId"
    resp = signed_form(url, path, "Action=DeleteMessage&Version=2012-11-05&ReceiptHandle="
                       + urllib.parse.quote(msg.find("s:ReceiptHandle", ns).text, safe=""))
    assert resp.status_code == 200, resp.text
    assert "<DeleteMessageResponse" in resp.text
    resp = signed_form(url, path + "-gone", "Action=GetQueueAttributes&AttributeName.1=All&Version=2012-11-05")
    assert resp.status_code == 400
    err = ET.fromstring(resp.text).find("Error")
    assert (err.find("Type").text, err.find("Code").text) == ("Sender", "AWS.SimpleQueueService.NonExistentQueue")
    resp = signed_form(url, path, "Action=ReceiveMessage&WaitTimeSeconds=5&Version=2012-11-05")
    assert ET.fromstring(resp.text).find("s:ReceiveMessageResult/s:Message/s:Body", ns).text == "unsigned"
    assert signed_form(url, path, "Action=DeleteQueue&Version=2012-11-05").status_code == 200


def test_enforce_mode_refusals_in_the_query_protocol(own_server, tmp_path):
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    resp = signed_form(srv.url, "/", "Action=ListQueues&Version=2012-11-05", key=("AKIAUNKNOWNKEY000000", "x"))
    assert resp.status_code == 403, resp.text
    err = ET.fromstring(resp.text).find("Error")
    assert err.find("Type").text == "Sender"
    assert err.find("Code").text == "InvalidClientTokenId"

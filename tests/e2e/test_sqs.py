"""SQS on Ignis's endpoint (issue 14) with boto3 (botocore's default JSON
protocol) and the AWS CLI: every operation, visibility timeouts, delays,
long polling, redrive to a dead-letter queue and back, FIFO order and
deduplication, SQS's MD5 digests (recomputed here as the SDKs that check
them do), SQS's own errors for bad input, and queue policies in `enforce`
mode."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
import uuid

import botocore.config
import pytest
from botocore.exceptions import ClientError

from support import REGION, aws_client, error_code, error_message, wait_for
from test_auth import client as signed_client, root_key
from test_aws_cli import aws_bin

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def sqs(url):
    return aws_client(url, "sqs", read_timeout=60)


@pytest.fixture
def qname() -> str:
    return f"q-{uuid.uuid4().hex[:10]}"


def refused(call, code: str) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    assert error_code(e.value) == code, e.value.response
    return e.value


def attrs_md5(attrs: dict) -> str:
    """SQS's MD5 of message attributes: per attribute in name order, the
    length-prefixed name, data type, a transport byte and the value."""
    buf = b""
    for name in sorted(attrs):
        a = attrs[name]

        def field(b: bytes) -> bytes:
            return len(b).to_bytes(4, "big") + b

        buf += field(name.encode()) + field(a["DataType"].encode())
        if "StringValue" in a:
            buf += b"\x01" + field(a["StringValue"].encode())
        else:
            buf += b"\x02" + field(a["BinaryValue"])
    return hashlib.md5(buf).hexdigest()


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def receive_all(sqs, url: str, want: int, timeout: float = 30, **kw) -> list[dict]:
    got: list[dict] = []

    def more():
        got.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **kw).get("Messages", []))
        return len(got) >= want

    wait_for(more, timeout=timeout, interval=0.05, what=f"{want} messages")
    return got


def count(sqs, url: str, name: str = "ApproximateNumberOfMessages") -> int:
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name])


# ---------------------------------------------------------------- queues


def test_queue_lifecycle(sqs, qname):
    url = sqs.create_queue(QueueName=qname, Attributes={"VisibilityTimeout": "45", "DelaySeconds": "0"},
                           tags={"team": "core"})["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{qname}")
    # Same attributes: the same queue; different ones: refused.
    assert sqs.create_queue(QueueName=qname, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    e = refused(lambda: sqs.create_queue(QueueName=qname, Attributes={"VisibilityTimeout": "46"}), "QueueAlreadyExists")
    assert isinstance(e, sqs.exceptions.QueueNameExists)
    assert sqs.get_queue_url(QueueName=qname)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=qname)["QueueUrls"]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="no-such-prefix-")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
    assert attrs["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{qname}"
    for computed in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                     "ApproximateNumberOfMessagesDelayed"):
        assert attrs[computed] == "0"
    assert int(attrs["CreatedTimestamp"]) > 1_600_000_000
    assert int(attrs["LastModifiedTimestamp"]) >= int(attrs["CreatedTimestamp"])
    only = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "DelaySeconds"])["Attributes"]
    assert set(only) == {"QueueArn", "DelaySeconds"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5", "MaximumMessageSize": "2048"})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["VisibilityTimeout"], attrs["MaximumMessageSize"]) == ("5", "2048")
    # Tags.
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev", "team": "edge"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev", "team": "edge"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    # Purge.
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert count(sqs, url) == 1
    sqs.purge_queue(QueueUrl=url)
    assert count(sqs, url) == 0
    sqs.delete_queue(QueueUrl=url)
    e = refused(lambda: sqs.get_queue_url(QueueName=qname), "AWS.SimpleQueueService.NonExistentQueue")
    assert isinstance(e, sqs.exceptions.QueueDoesNotExist)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")


def test_list_queues_pages(sqs):
    prefix = f"page-{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{i}" for i in range(5)]
    for n in names:
        sqs.create_queue(QueueName=n)
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, **kw)
        seen += [u.rsplit("/", 1)[1] for u in page.get("QueueUrls", [])]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == names
    for n in names:
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=n)["QueueUrl"])


# ---------------------------------------------------------------- messages


ATTRS = {
    "trace.id": {"DataType": "String", "StringValue": "abc-1 ✓"},
    "trace.n": {"DataType": "Number", "StringValue": "42.5"},
    "blob": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
    "kind": {"DataType": "String.custom", "StringValue": "job"},
}


def test_send_receive_delete_with_attributes_and_digests(sqs, qname):
    url = sqs.create_queue(QueueName=qname)["QueueUrl"]
    body = "hello <world> & \"friends\" ✓"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=ATTRS,
                            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String",
                                                                       "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
    assert sent["MD5OfMessageBody"] == md5(body)
    assert sent["MD5OfMessageAttributes"] == attrs_md5(ATTRS)
    assert "MD5OfMessageSystemAttributes" in sent
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"],
                              WaitTimeSeconds=5)["Messages"]
    assert len(got) == 1
    m = got[0]
    assert (m["MessageId"], m["Body"], m["MD5OfBody"]) == (sent["MessageId"], body, md5(body))
    assert m["MessageAttributes"] == ATTRS
    assert m["MD5OfMessageAttributes"] == attrs_md5(m["MessageAttributes"])
    a = m["Attributes"]
    assert a["SenderId"] == ACCOUNT
    assert a["ApproximateReceiveCount"] == "1"
    assert a["AWSTraceHeader"].startswith("Root=1-")
    assert int(a["SentTimestamp"]) <= int(a["ApproximateFirstReceiveTimestamp"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # Selection: a prefix and a name; the digest covers what is returned.
    sqs.send_message(QueueUrl=url, MessageBody="two", MessageAttributes=ATTRS)
    m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["trace.*"],
                            MessageSystemAttributeNames=["SentTimestamp"], WaitTimeSeconds=5)["Messages"][0]
    assert set(m["MessageAttributes"]) == {"trace.id", "trace.n"}
    assert m["MD5OfMessageAttributes"] == attrs_md5(m["MessageAttributes"])
    assert set(m["Attributes"]) == {"SentTimestamp"}
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]
    assert "MessageAttributes" not in m and "Attributes" not in m
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    sqs.delete_queue(QueueUrl=url)


def test_batches(sqs, qname):
    url = sqs.create_queue(QueueName=qname)["QueueUrl"]
    entries = [{"Id": f"m{i}", "MessageBody": f"body {i}", "MessageAttributes": {"i": {"DataType": "Number", "StringValue": str(i)}}}
               for i in range(10)]
    out = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(s["Id"] for s in out["Successful"]) == sorted(e["Id"] for e in entries)
    assert out.get("Failed", []) == []
    for s in out["Successful"]:
        i = int(s["Id"][1:])
        assert s["MD5OfMessageBody"] == md5(f"body {i}")
        assert s["MD5OfMessageAttributes"] == attrs_md5(entries[i]["MessageAttributes"])
    got = receive_all(sqs, url, 10, MessageAttributeNames=["All"])
    assert sorted(m["Body"] for m in got) == sorted(e["MessageBody"] for e in entries)
    # Visibility batch: one back at once, one invalid handle.
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "back", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "bad", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 0},
    ])
    assert [s["Id"] for s in changed["Successful"]] == ["back"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in changed["Failed"]] == [("bad", "ReceiptHandleIsInvalid", True)]
    again = receive_all(sqs, url, 1)
    assert again[0]["MessageId"] == got[0]["MessageId"]
    handles = [m["ReceiptHandle"] for m in got[1:]] + [again[0]["ReceiptHandle"]]
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": f"d{i}", "ReceiptHandle": h} for i, h in enumerate(handles[:9])]
                                       + [{"Id": "bad", "ReceiptHandle": "nope"}])
    assert len(deleted["Successful"]) == 9
    assert [(f["Id"], f["Code"]) for f in deleted["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handles[9])
    assert count(sqs, url) == 0 and count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 0
    sqs.delete_queue(QueueUrl=url)


def test_batch_errors(url, qname):
    raw = aws_client(url, "sqs", parameter_validation=False)
    qurl = raw.create_queue(QueueName=qname)["QueueUrl"]
    many = [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
    e = refused(lambda: raw.send_message_batch(QueueUrl=qurl, Entries=many), "AWS.SimpleQueueService.TooManyEntriesInBatchRequest")
    assert isinstance(e, raw.exceptions.TooManyEntriesInBatchRequest)
    e = refused(lambda: raw.send_message_batch(QueueUrl=qurl, Entries=[]), "AWS.SimpleQueueService.EmptyBatchRequest")
    assert isinstance(e, raw.exceptions.EmptyBatchRequest)
    e = refused(lambda: raw.delete_message_batch(QueueUrl=qurl, Entries=[{"Id": "a", "ReceiptHandle": "h"}] * 2),
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct")
    assert isinstance(e, raw.exceptions.BatchEntryIdsNotDistinct)
    e = refused(lambda: raw.send_message_batch(QueueUrl=qurl, Entries=[{"Id": "not valid!", "MessageBody": "x"}]),
                "AWS.SimpleQueueService.InvalidBatchEntryId")
    assert isinstance(e, raw.exceptions.InvalidBatchEntryId)
    big = [{"Id": f"b{i}", "MessageBody": "x" * 200_000} for i in range(6)]
    e = refused(lambda: raw.send_message_batch(QueueUrl=qurl, Entries=big), "AWS.SimpleQueueService.BatchRequestTooLong")
    assert isinstance(e, raw.exceptions.BatchRequestTooLong)
    refused(lambda: raw.receive_message(QueueUrl=qurl, MaxNumberOfMessages=11), "InvalidParameterValue")
    refused(lambda: raw.receive_message(QueueUrl=qurl, WaitTimeSeconds=21), "InvalidParameterValue")
    # Nothing was sent by the refused batches.
    assert count(raw, qurl) == 0
    raw.delete_queue(QueueUrl=qurl)


def test_visibility_timeout_returns_a_message(sqs, qname):
    url = sqs.create_queue(QueueName=qname, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    second = receive_all(sqs, url, 1, AttributeNames=["ApproximateReceiveCount"])[0]
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    # A long visibility timeout keeps it away until changed.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=600)
    assert count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = receive_all(sqs, url, 1, VisibilityTimeout=600)[0]
    assert third["MessageId"] == first["MessageId"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    sqs.delete_queue(QueueUrl=url)


def test_delay_queue_and_message_delay(sqs, qname):
    url = sqs.create_queue(QueueName=qname, Attributes={"DelaySeconds": "2"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    sqs.send_message(QueueUrl=url, MessageBody="own delay", DelaySeconds=1)
    assert count(sqs, url, "ApproximateNumberOfMessagesDelayed") + count(sqs, url) == 2
    got = receive_all(sqs, url, 2)
    assert sorted(m["Body"] for m in got) == ["own delay", "queue delay"]
    sqs.delete_queue(QueueUrl=url)


def test_long_poll_returns_when_a_message_arrives(sqs, url, qname):
    qurl = sqs.create_queue(QueueName=qname)["QueueUrl"]
    sender = aws_client(url, "sqs")
    threading.Timer(1.0, lambda: sender.send_message(QueueUrl=qurl, MessageBody="woken")).start()
    got = sqs.receive_message(QueueUrl=qurl, WaitTimeSeconds=20).get("Messages", [])
    assert [m["Body"] for m in got] == ["woken"]
    # The queue's own wait time applies when the request names none.
    sqs.set_queue_attributes(QueueUrl=qurl, Attributes={"ReceiveMessageWaitTimeSeconds": "20"})
    threading.Timer(1.0, lambda: sender.send_message(QueueUrl=qurl, MessageBody="again")).start()
    got = sqs.receive_message(QueueUrl=qurl).get("Messages", [])
    assert [m["Body"] for m in got] == ["again"]
    sqs.delete_queue(QueueUrl=qurl)


def test_redrive_to_a_dead_letter_queue_and_back(sqs, qname):
    dlq = sqs.create_queue(QueueName=f"{qname}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName=qname, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
    })["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert (policy["deadLetterTargetArn"], int(policy["maxReceiveCount"])) == (dlq_arn, 2)
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    for n in (1, 2):
        m = receive_all(sqs, src, 1, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])[0]
        assert m["Attributes"]["ApproximateReceiveCount"] == str(n)
    # A third receive finds it past maxReceiveCount: it moves to the DLQ.
    assert sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1).get("Messages", []) == []
    wait_for(lambda: count(sqs, dlq) == 1, what="the message in the DLQ")
    dead = receive_all(sqs, dlq, 1, VisibilityTimeout=0, AttributeNames=["All"])[0]
    assert dead["Body"] == "poison"
    # StartMessageMoveTask: back to the source.
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    wait_for(lambda: count(sqs, src) == 1, what="the message back in its source")
    tasks = wait_for(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"] if t["Status"] == "COMPLETED"],
                     what="a completed move task")
    assert tasks[0]["SourceArn"] == dlq_arn and tasks[0]["ApproximateNumberOfMessagesMoved"] == 1
    back = receive_all(sqs, src, 1)[0]
    assert back["Body"] == "poison"
    # A finished task cannot be cancelled.
    e = refused(lambda: sqs.cancel_message_move_task(TaskHandle=handle), "InvalidParameterValue")
    assert "Only active tasks can be cancelled" in error_message(e)
    sqs.delete_queue(QueueUrl=src)
    sqs.delete_queue(QueueUrl=dlq)


def test_a_slow_move_task_to_another_queue_is_cancelled(sqs, qname):
    dlq = sqs.create_queue(QueueName=f"{qname}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName=qname, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})["QueueUrl"]
    dest = sqs.create_queue(QueueName=f"{qname}-dest")["QueueUrl"]
    dest_arn = sqs.get_queue_attributes(QueueUrl=dest, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message_batch(QueueUrl=dlq, Entries=[{"Id": str(i), "MessageBody": f"dead {i}"} for i in range(10)])
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn,
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    running = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    assert (running["Status"], running["TaskHandle"], running["DestinationArn"]) == ("RUNNING", handle, dest_arn)
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 0 <= moved < 10
    wait_for(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "CANCELLED",
             what="the task cancelled")
    # Nothing is lost: each message is in one of the two queues.
    assert count(sqs, dlq) + count(sqs, dest) == 10
    for url in (src, dest, dlq):
        sqs.delete_queue(QueueUrl=url)


# ---------------------------------------------------------------- FIFO


def test_fifo_group_order_across_1000_messages(sqs, qname):
    url = sqs.create_queue(QueueName=f"{qname}.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"})["QueueUrl"]
    groups = ["a", "b", "c", "d", "e"]
    n = 1000
    for start in range(0, n, 10):
        entries = [{"Id": f"m{i}", "MessageBody": json.dumps({"g": groups[i % 5], "i": i}),
                    "MessageGroupId": groups[i % 5], "MessageDeduplicationId": f"d{i}"} for i in range(start, start + 10)]
        out = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert len(out["Successful"]) == 10, out.get("Failed")
        assert all(s.get("SequenceNumber") for s in out["Successful"])
    last = {g: -1 for g in groups}
    received = 0
    deadline = time.monotonic() + 240
    while received < n and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  AttributeNames=["MessageGroupId", "SequenceNumber"]).get("Messages", [])
        for m in got:
            body = json.loads(m["Body"])
            assert m["Attributes"]["MessageGroupId"] == body["g"]
            assert body["i"] > last[body["g"]], f"group {body['g']}: {body['i']} after {last[body['g']]}"
            last[body["g"]] = body["i"]
        if got:
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for k, m in enumerate(got)])
        received += len(got)
    assert received == n
    assert last == {g: n - 5 + k for k, g in enumerate(groups)}
    sqs.delete_queue(QueueUrl=url)


def test_fifo_deduplication(sqs, qname):
    url = sqs.create_queue(QueueName=f"{qname}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    a = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="same")
    b = sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g", MessageDeduplicationId="same")
    assert a["MessageId"] == b["MessageId"]
    # Without a deduplication id and without content-based deduplication: refused.
    refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g"), "InvalidParameterValue")
    refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="z"), "MissingParameter")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
    c = sqs.send_message(QueueUrl=url, MessageBody="same content", MessageGroupId="g")
    d = sqs.send_message(QueueUrl=url, MessageBody="same content", MessageGroupId="g")
    assert c["MessageId"] == d["MessageId"] != a["MessageId"]
    # A retried receive with the same attempt id gets the same messages.
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="attempt-1",
                                WaitTimeSeconds=5)["Messages"]
    retry = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [m["MessageId"] for m in retry] == [m["MessageId"] for m in first]
    assert [m["Body"] for m in first] == ["one", "same content"]
    refused(lambda: sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="bad id"), "InvalidParameterValue")
    sqs.delete_queue(QueueUrl=url)


# ---------------------------------------------------------------- bad input


def test_bad_input(sqs, url, qname):
    qurl = sqs.create_queue(QueueName=qname, Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    e = refused(lambda: sqs.send_message(QueueUrl=qurl, MessageBody="x" * 2000), "InvalidParameterValue")
    assert "1024" in error_message(e)
    refused(lambda: sqs.send_message(QueueUrl=qurl, MessageBody="bad \x00 char"), "InvalidMessageContents")
    e = refused(lambda: sqs.create_queue(QueueName=f"{qname}-x", Attributes={"Colour": "blue"}), "InvalidAttributeName")
    e = refused(lambda: sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["Colour"]), "InvalidAttributeName")
    refused(lambda: sqs.send_message(QueueUrl=qurl, MessageBody="x",
                                     MessageAttributes={"AWS.reserved": {"DataType": "String", "StringValue": "v"}}),
            "InvalidParameterValue")
    refused(lambda: sqs.send_message(QueueUrl=qurl, MessageBody="x",
                                     MessageAttributes={"a": {"DataType": "Colour", "StringValue": "v"}}),
            "InvalidParameterValue")
    refused(lambda: sqs.create_queue(QueueName="bad name!"), "InvalidParameterValue")
    refused(lambda: sqs.delete_message(QueueUrl=qurl, ReceiptHandle="garbage"), "ReceiptHandleIsInvalid")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.receive_message(QueueUrl=qurl + "-missing")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_attributes(QueueUrl=f"{url}/{ACCOUNT}/no-such-queue", AttributeNames=["All"])
    # Nothing was stored by the refusals.
    assert count(sqs, qurl) == 0
    sqs.delete_queue(QueueUrl=qurl)


def test_permissions_are_policy_statements(sqs, qname):
    url = sqs.create_queue(QueueName=qname)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{qname}"
    sqs.add_permission(QueueUrl=url, Label="senders", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    sqs.add_permission(QueueUrl=url, Label="readers", AWSAccountIds=["111122223333", "444455556666"],
                       Actions=["ReceiveMessage", "DeleteMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["senders", "readers"]
    assert policy["Statement"][0] == {"Sid": "senders", "Effect": "Allow",
                                      "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                      "Action": "SQS:SendMessage", "Resource": arn}
    refused(lambda: sqs.add_permission(QueueUrl=url, Label="senders", AWSAccountIds=["1"], Actions=["SendMessage"]),
            "InvalidParameterValue")
    sqs.remove_permission(QueueUrl=url, Label="senders")
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["readers"]
    refused(lambda: sqs.remove_permission(QueueUrl=url, Label="senders"), "InvalidParameterValue")
    sqs.remove_permission(QueueUrl=url, Label="readers")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
    sqs.delete_queue(QueueUrl=url)


# ---------------------------------------------------------------- the AWS CLI


def test_aws_cli(url, qname, tmp_path):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_MAX_ATTEMPTS="1", AWS_PAGER="")

    def cli(*args: str, check: bool = True):
        proc = subprocess.run([aws_bin(), "--endpoint-url", url, "--output", "json", "sqs", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        if check:
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout) if proc.stdout.strip() else {}
        return proc

    qurl = cli("create-queue", "--queue-name", qname, "--attributes", "VisibilityTimeout=30")["QueueUrl"]
    assert cli("get-queue-url", "--queue-name", qname)["QueueUrl"] == qurl
    assert qurl in cli("list-queues", "--queue-name-prefix", qname)["QueueUrls"]
    sent = cli("send-message", "--queue-url", qurl, "--message-body", "from the cli",
               "--message-attributes", json.dumps({"k": {"DataType": "String", "StringValue": "v"}}))
    assert sent["MD5OfMessageBody"] == md5("from the cli")
    got = cli("receive-message", "--queue-url", qurl, "--wait-time-seconds", "5",
              "--message-attribute-names", "All", "--attribute-names", "All")["Messages"]
    assert got[0]["Body"] == "from the cli"
    assert got[0]["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    cli("delete-message", "--queue-url", qurl, "--receipt-handle", got[0]["ReceiptHandle"])
    batch = cli("send-message-batch", "--queue-url", qurl, "--entries",
                json.dumps([{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}]))
    assert sorted(s["Id"] for s in batch["Successful"]) == ["a", "b"]
    attrs = cli("get-queue-attributes", "--queue-url", qurl, "--attribute-names", "All")["Attributes"]
    assert int(attrs["ApproximateNumberOfMessages"]) == 2
    cli("tag-queue", "--queue-url", qurl, "--tags", "a=b")
    assert cli("list-queue-tags", "--queue-url", qurl)["Tags"] == {"a": "b"}
    cli("purge-queue", "--queue-url", qurl)
    cli("delete-queue", "--queue-url", qurl)
    proc = cli("get-queue-url", "--queue-name", qname, check=False)
    assert proc.returncode != 0
    assert "NonExistentQueue" in proc.stderr or "QueueDoesNotExist" in proc.stderr, proc.stderr


# ---------------------------------------------------------------- enforce mode


def test_enforce_mode_identity_and_queue_policies(own_server, tmp_path):
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    key = root_key(srv)
    iam = signed_client(srv.url, "iam", key)
    root = signed_client(srv.url, "sqs", key)
    qurl = root.create_queue(QueueName="guarded")["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:guarded"
    users = {}
    for name in ("nobody", "worker", "friend"):
        iam.create_user(UserName=name)
        users[name] = signed_client(srv.url, "sqs", iam.create_access_key(UserName=name)["AccessKey"])
    # No policy: refused, nothing sent.
    e = refused(lambda: users["nobody"].send_message(QueueUrl=qurl, MessageBody="x"), "AccessDenied")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "sqs:SendMessage" in error_message(e)
    refused(lambda: users["nobody"].list_queues(), "AccessDenied")
    # An identity policy allowing the queue's operations.
    iam.put_user_policy(UserName="worker", PolicyName="q", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
                       "Resource": arn}]}))
    users["worker"].send_message(QueueUrl=qurl, MessageBody="from worker")
    m = users["worker"].receive_message(QueueUrl=qurl, WaitTimeSeconds=5, AttributeNames=["SenderId"])["Messages"][0]
    assert m["Attributes"]["SenderId"].startswith("AIDA")
    users["worker"].delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
    refused(lambda: users["worker"].delete_queue(QueueUrl=qurl), "AccessDenied")
    # A queue policy granting another user sending.
    refused(lambda: users["friend"].send_message(QueueUrl=qurl, MessageBody="x"), "AccessDenied")
    root.set_queue_attributes(QueueUrl=qurl, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/friend"},
                       "Action": "sqs:SendMessage", "Resource": arn}]})})
    users["friend"].send_message(QueueUrl=qurl, MessageBody="from friend")
    refused(lambda: users["friend"].receive_message(QueueUrl=qurl), "AccessDenied")
    assert [m["Body"] for m in root.receive_message(QueueUrl=qurl, WaitTimeSeconds=5)["Messages"]] == ["from friend"]
    # Unsigned requests are refused.
    anon = aws_client(srv.url, "sqs", signature_version=botocore.UNSIGNED)
    with pytest.raises(ClientError):
        anon.list_queues()

"""Topics (issue 14): Ignis's SNS-compatible service, with boto3 and the AWS
CLI — every operation and SNS's errors; fan-out to two Python functions and
a queue with a filter policy (the exact Lambda event shape); raw delivery to
a queue; an `http` subscription to a local server with the confirmation
handshake and signed messages (verified with the served key); a FIFO topic
to a FIFO queue in group order; PublishBatch; and `kill -9` of the server
mid-publish: every acknowledged publish reaches the queue at least once.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests
import rsa
from botocore.exceptions import ClientError

from support import (
    REGION,
    ROLE,
    Server,
    aws_client,
    build_zip,
    error_code,
    error_message,
    lambda_client,
    wait_for,
    wait_log_line,
)

ACCOUNT = "000000000000"

RECORDER = '''\
import json

def main(event, context):
    print("SNS-EVENT " + json.dumps(event))
    return {"ok": True}
'''


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def sns(url):
    return aws_client(url, "sns")


@pytest.fixture(scope="module")
def sqs(url):
    return aws_client(url, "sqs")


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    return info.value


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def make_queue(sqs, name: str, **attributes) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    return url, queue_arn(name)


def receive_all(sqs, queue_url: str, want: int, timeout: float = 60, **kwargs) -> list[dict]:
    got: list[dict] = []

    def more():
        r = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kwargs)
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= want

    wait_for(more, timeout, interval=0, what=f"{want} messages in {queue_url}")
    return got


def python_runtime(url: str) -> str:
    r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    for x in r.json()["Runtimes"]:
        if x["Runtime"].startswith("python3") and x["Available"]:
            return x["Runtime"]
    pytest.skip("no python3 interpreter on this machine")


def make_function(lam, runtime: str, name: str) -> str:
    lam.create_function(
        FunctionName=name, Runtime=runtime, Handler="handler.main", Role=ROLE,
        Code={"ZipFile": build_zip([("handler.py", RECORDER)])}, Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def events_in_log(url: str, name: str, needle: str) -> list[dict]:
    lines = wait_log_line(url, name, needle, timeout=60)
    return [json.loads(line.split("SNS-EVENT ", 1)[1]) for line in lines if "SNS-EVENT " in line]


def public_key_of(cert: bytes) -> bytes:
    """The public key of the PEM certificate the SigningCertURL serves,
    which openssl reads as an X.509 certificate (and checks as self-signed)."""
    assert cert.startswith(b"-----BEGIN CERTIFICATE-----"), cert[:80]
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to read the signing certificate")
    with_key = subprocess.run([openssl, "x509", "-pubkey", "-noout", "-subject"], input=cert, capture_output=True, check=True)
    assert b"sns.ignis.local" in with_key.stdout
    start = with_key.stdout.index(b"-----BEGIN PUBLIC KEY-----")
    end = with_key.stdout.index(b"-----END PUBLIC KEY-----") + len(b"-----END PUBLIC KEY-----")
    return with_key.stdout[start:end] + b"\n"


def verify(message: dict, pem: bytes) -> None:
    """Checks a message's signature as an SNS client library does."""
    if message["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message)
    key = rsa.PublicKey.load_pkcs1_openssl_pem(public_key_of(pem))
    hash_name = rsa.verify(text.encode(), base64.b64decode(message["Signature"]), key)
    assert hash_name == ("SHA-1" if message["SignatureVersion"] == "1" else "SHA-256")


# ---------------------------------------------------------------- operations


def test_topic_operations(sns):
    name = unique("ops")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Ops"}, Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    # Idempotent with the same attributes; refused with others.
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Ops"})["TopicArn"] == arn
    e = refused(lambda: sns.create_topic(Name=name, Attributes={"DisplayName": "Other"}))
    assert error_code(e) == "InvalidParameter"
    assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]

    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn
    assert attrs["Owner"] == ACCOUNT
    assert attrs["DisplayName"] == "Ops"
    assert attrs["SubscriptionsConfirmed"] == "0"
    assert attrs["SubscriptionsPending"] == "0"
    assert attrs["SubscriptionsDeleted"] == "0"
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    assert "defaultHealthyRetryPolicy" in json.loads(attrs["EffectiveDeliveryPolicy"])["http"]

    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Renamed")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (attrs["DisplayName"], attrs["SignatureVersion"]) == ("Renamed", "2")
    e = refused(lambda: sns.set_topic_attributes(TopicArn=arn, AttributeName="Nope", AttributeValue="x"))
    assert (error_code(e), error_message(e)) == ("InvalidParameter", "Invalid parameter: AttributeName")

    sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["111122223333"], ActionName=["Publish"])
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    added = [s for s in policy["Statement"] if s.get("Sid") == "pub"]
    assert added and added[0]["Action"] == ["SNS:Publish"]
    assert added[0]["Principal"]["AWS"] == ["arn:aws:iam::111122223333:root"]
    assert error_code(refused(lambda: sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["1"], ActionName=["Publish"]))) == "InvalidParameter"
    sns.remove_permission(TopicArn=arn, Label="pub")
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert not [s for s in policy["Statement"] if s.get("Sid") == "pub"]

    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"}])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "a", "env": "test"}
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "test"}]
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('none')}"
    assert error_code(refused(lambda: sns.list_tags_for_resource(ResourceArn=missing))) == "ResourceNotFound"

    sns.delete_topic(TopicArn=arn)
    assert arn not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert error_code(refused(lambda: sns.get_topic_attributes(TopicArn=arn))) == "NotFound"


def test_list_topics_pages(sns):
    prefix = unique("page")
    arns = [sns.create_topic(Name=f"{prefix}-{i:03d}")["TopicArn"] for i in range(105)]
    seen, token = [], None
    for _ in range(20):
        page = sns.list_topics(**({"NextToken": token} if token else {}))
        assert len(page["Topics"]) <= 100
        seen += [t["TopicArn"] for t in page["Topics"]]
        token = page.get("NextToken")
        if not token:
            break
    assert set(arns) <= set(seen)
    assert len(seen) == len(set(seen))
    for arn in arns:
        sns.delete_topic(TopicArn=arn)


def test_subscription_operations(sns, sqs):
    arn = sns.create_topic(Name=unique("subs"))["TopicArn"]
    _, q = make_queue(sqs, unique("subq"))
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q, Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    # The same endpoint again: the same subscription.
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q)["SubscriptionArn"] == sub
    e = refused(lambda: sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q, Attributes={"RawMessageDelivery": "false"}))
    assert error_message(e) == "Invalid parameter: Attributes Reason: Subscription already exists with different attributes"
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["Protocol"] == "sqs" and attrs["Endpoint"] == q and attrs["TopicArn"] == arn
    assert attrs["RawMessageDelivery"] == "true"
    assert attrs["PendingConfirmation"] == "false"
    assert attrs["Owner"] == ACCOUNT
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue='{"color": ["red"]}')
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"color": ["red"]}
    assert attrs["FilterPolicyScope"] == "MessageAttributes"
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope", AttributeValue="MessageBody")
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["FilterPolicyScope"] == "MessageBody"
    e = refused(lambda: sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="maybe"))
    assert error_code(e) == "InvalidParameter"

    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert listed == [{"SubscriptionArn": sub, "Owner": ACCOUNT, "Protocol": "sqs", "Endpoint": q, "TopicArn": arn}]
    assert sub in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"] == "1"

    sns.unsubscribe(SubscriptionArn=sub)
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    assert error_code(refused(lambda: sns.get_subscription_attributes(SubscriptionArn=sub))) == "NotFound"
    # Deleting a topic deletes its subscriptions.
    sub2 = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q)["SubscriptionArn"]
    sns.delete_topic(TopicArn=arn)
    assert sub2 not in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]


def test_bad_input_gets_sns_errors(sns):
    e = refused(lambda: sns.create_topic(Name="bad name!"))
    assert (error_code(e), error_message(e)) == ("InvalidParameter", "Invalid parameter: Topic Name")
    e = refused(lambda: sns.create_topic(Name="x.fifo"))
    assert error_code(e) == "InvalidParameter"
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('none')}"
    e = refused(lambda: sns.publish(TopicArn=missing, Message="hi"))
    assert (error_code(e), error_message(e)) == ("NotFound", "Topic does not exist")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error_code(refused(lambda: sns.subscribe(TopicArn=missing, Protocol="sqs", Endpoint=queue_arn("q")))) == "NotFound"
    e = refused(lambda: sns.publish(TopicArn="not-an-arn", Message="hi"))
    assert error_code(e) == "InvalidParameter"

    arn = sns.create_topic(Name=unique("bad"))["TopicArn"]
    e = refused(lambda: sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn("q"), Attributes={"FilterPolicy": '{"a": "not-a-list"}'}))
    assert error_code(e) == "InvalidParameter"
    assert error_message(e).startswith("Invalid parameter: FilterPolicy")
    e = refused(lambda: sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn("q"), Attributes={"FilterPolicy": "{not json"}))
    assert error_code(e) == "InvalidParameter"
    e = refused(lambda: sns.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x"))
    assert error_message(e) == "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon"
    e = refused(lambda: sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint="https://example.com"))
    assert error_message(e) == "Invalid parameter: SQS endpoint ARN"
    e = refused(lambda: sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint="arn:aws:lambda:us-east-1:000000000000:nope"))
    assert error_message(e) == "Invalid parameter: Lambda endpoint ARN"
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []

    e = refused(lambda: sns.publish(TopicArn=arn, Message="x" * (256 * 1024 + 1)))
    assert (error_code(e), error_message(e)) == ("InvalidParameter", "Invalid parameter: Message too long")
    # Attributes count against the limit too.
    e = refused(lambda: sns.publish(TopicArn=arn, Message="x" * (256 * 1024 - 10),
                                    MessageAttributes={"attr": {"DataType": "String", "StringValue": "y" * 20}}))
    assert error_code(e) == "InvalidParameter"
    sns.publish(TopicArn=arn, Message="x" * (256 * 1024))
    e = refused(lambda: sns.publish(TopicArn=arn, Message="m", MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}}))
    assert error_code(e) == "ParameterValueInvalid"
    e = refused(lambda: sns.publish(TopicArn=arn, Message="m", MessageAttributes={"n": {"DataType": "Blob", "StringValue": "abc"}}))
    assert error_code(e) == "ParameterValueInvalid"
    e = refused(lambda: sns.publish(TopicArn=arn, Message='{"x": "y"}', MessageStructure="json"))
    assert error_message(e) == "Invalid parameter: Message Structure - No default entry in JSON message body"
    e = refused(lambda: sns.publish(TopicArn=arn, Message="m", MessageDeduplicationId="d"))
    assert error_code(e) == "InvalidParameter"
    e = refused(lambda: sns.publish(TopicArn=arn, Message="m", Subject="line\nbreak"))
    assert error_message(e) == "Invalid parameter: Subject"
    e = refused(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(11)]))
    assert error_code(e) == "TooManyEntriesInBatchRequest"
    e = refused(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}, {"Id": "a", "Message": "n"}]))
    assert error_code(e) == "BatchEntryIdsNotDistinct"
    sns.delete_topic(TopicArn=arn)


# ---------------------------------------------------------------- delivery


def test_fan_out_to_two_functions_and_a_filtered_queue(url, sns, sqs):
    lam = lambda_client(url)
    runtime = python_runtime(url)
    f1, f2 = unique("snsfn"), unique("snsfn")
    arn1, arn2 = make_function(lam, runtime, f1), make_function(lam, runtime, f2)
    topic = sns.create_topic(Name=unique("fan"))["TopicArn"]
    qurl, q = make_queue(sqs, unique("fanq"))
    s1 = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn1)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn2)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=q,
                  Attributes={"FilterPolicy": json.dumps({"color": ["red", {"prefix": "bl"}]})})

    red = sns.publish(TopicArn=topic, Message="red-message", Subject="Hello",
                      MessageAttributes={"color": {"DataType": "String", "StringValue": "red"},
                                         "size": {"DataType": "Number", "StringValue": "3"}})["MessageId"]
    green = sns.publish(TopicArn=topic, Message="green-message",
                        MessageAttributes={"color": {"DataType": "String", "StringValue": "green"}})["MessageId"]

    for fn in (f1, f2):
        events = events_in_log(url, fn, "green-message")
        events = events_in_log(url, fn, "red-message") if not any("red-message" in json.dumps(e) for e in events) else events
        messages = {e["Records"][0]["Sns"]["Message"] for e in events}
        assert {"red-message", "green-message"} <= messages
    event = next(e for e in events_in_log(url, f1, "red-message") if e["Records"][0]["Sns"]["Message"] == "red-message")
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == s1
    n = record["Sns"]
    assert n["Type"] == "Notification"
    assert n["MessageId"] == red
    assert n["TopicArn"] == topic
    assert n["Subject"] == "Hello"
    assert n["SignatureVersion"] == "1"
    assert n["Signature"]
    assert n["SigningCertUrl"].startswith(url)
    assert n["UnsubscribeUrl"].startswith(url) and "Action=Unsubscribe" in n["UnsubscribeUrl"]
    assert n["Timestamp"].endswith("Z")
    assert n["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}, "size": {"Type": "Number", "Value": "3"}}
    pem = requests.get(n["SigningCertUrl"], timeout=30).content
    verify(n, pem)

    # Only the red message passed the queue's filter policy.
    got = receive_all(sqs, qurl, 1)
    body = json.loads(got[0]["Body"])
    assert body["Message"] == "red-message"
    assert body["MessageId"] == red
    assert body["Type"] == "Notification"
    assert body["MessageAttributes"]["color"] == {"Type": "String", "Value": "red"}
    assert green != red
    assert sqs.receive_message(QueueUrl=qurl, WaitTimeSeconds=2).get("Messages", []) == []
    sns.delete_topic(TopicArn=topic)
    for fn in (f1, f2):
        lam.delete_function(FunctionName=fn)


def test_raw_delivery_and_message_structure(sns, sqs):
    topic = sns.create_topic(Name=unique("raw"))["TopicArn"]
    raw_url, raw = make_queue(sqs, unique("rawq"))
    json_url, wrapped = make_queue(sqs, unique("jsonq"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=wrapped)
    sns.publish(TopicArn=topic, Message="plain body",
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "k1"},
                                   "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    m = receive_all(sqs, raw_url, 1, MessageAttributeNames=["All"])[0]
    assert m["Body"] == "plain body"
    assert m["MessageAttributes"]["kind"] == {"StringValue": "k1", "DataType": "String"}
    assert m["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"
    m = receive_all(sqs, json_url, 1)[0]
    assert json.loads(m["Body"])["Message"] == "plain body"

    # MessageStructure=json: each protocol's own message, or the default.
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "dflt", "sqs": "for-sqs"}))
    assert receive_all(sqs, raw_url, 1)[0]["Body"] == "for-sqs"
    sns.delete_topic(TopicArn=topic)


def test_publish_batch(sns, sqs):
    topic = sns.create_topic(Name=unique("batch"))["TopicArn"]
    qurl, q = make_queue(sqs, unique("batchq"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=q, Attributes={"RawMessageDelivery": "true"})
    r = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "one", "Message": "b1"},
        {"Id": "two", "Message": "b2"},
        {"Id": "bad", "Message": "b3", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}},
    ])
    assert sorted(s["Id"] for s in r["Successful"]) == ["one", "two"]
    assert [f["Id"] for f in r["Failed"]] == ["bad"]
    assert r["Failed"][0]["Code"] == "ParameterValueInvalid" and r["Failed"][0]["SenderFault"] is True
    bodies = sorted(m["Body"] for m in receive_all(sqs, qurl, 2))
    assert bodies == ["b1", "b2"]
    sns.delete_topic(TopicArn=topic)


class Recorder(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict, str]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_subscription_confirms_and_receives(url, sns):
    Recorder.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/hook"
        topic = sns.create_topic(Name=unique("http"))["TopicArn"]
        assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint)["SubscriptionArn"] == "pending confirmation"
        assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"] == "PendingConfirmation"
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"
        # Nothing is delivered to a pending subscription.
        sns.publish(TopicArn=topic, Message="before-confirmation")

        wait_for(lambda: Recorder.received, 30, what="the SubscriptionConfirmation")
        headers, body = Recorder.received[0]
        confirmation = json.loads(body)
        assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
        assert headers["x-amz-sns-topic-arn"] == topic
        assert headers["x-amz-sns-message-id"] == confirmation["MessageId"]
        assert confirmation["Type"] == "SubscriptionConfirmation"
        assert confirmation["TopicArn"] == topic and confirmation["Token"]
        assert confirmation["SubscribeURL"].startswith(url)
        pem = requests.get(confirmation["SigningCertURL"], timeout=30).content
        verify(confirmation, pem)

        # The SubscribeURL confirms, unsigned, as AWS's does.
        r = requests.get(confirmation["SubscribeURL"], timeout=30)
        assert r.status_code == 200, r.text
        assert "<ConfirmSubscriptionResult><SubscriptionArn>" in r.text
        sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
        assert sub.startswith(topic + ":")
        assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "false"

        sns.publish(TopicArn=topic, Message="after-confirmation", Subject="Subj")
        wait_for(lambda: len(Recorder.received) >= 2, 30, what="the Notification")
        headers, body = Recorder.received[1]
        note = json.loads(body)
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert headers["x-amz-sns-subscription-arn"] == sub
        assert headers["x-amz-sns-topic-arn"] == topic
        assert note["Message"] == "after-confirmation" and note["Subject"] == "Subj"
        assert note["UnsubscribeURL"].startswith(url)
        verify(note, pem)
        assert all("before-confirmation" not in b for _, b in Recorder.received)

        # Unsubscribing sends the UnsubscribeConfirmation.
        sns.unsubscribe(SubscriptionArn=sub)
        wait_for(lambda: len(Recorder.received) >= 3, 30, what="the UnsubscribeConfirmation")
        headers, body = Recorder.received[2]
        assert headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
        assert json.loads(body)["Type"] == "UnsubscribeConfirmation"
        sns.delete_topic(TopicArn=topic)
    finally:
        server.shutdown()


def test_authenticate_on_unsubscribe_and_the_unsubscribe_url(sns):
    Recorder.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        topic = sns.create_topic(Name=unique("auth"))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=base + "/guarded")
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=base + "/plain")
        wait_for(lambda: len(Recorder.received) >= 2, 30, what="two confirmations")
        tokens = {json.loads(b)["Token"]: json.loads(b) for _, b in Recorder.received}
        # Signed, asking for authentication on unsubscribe; the other by its URL.
        confirmations = list(tokens.values())
        guarded = sns.confirm_subscription(TopicArn=topic, Token=confirmations[0]["Token"],
                                           AuthenticateOnUnsubscribe="true")["SubscriptionArn"]
        assert requests.get(confirmations[1]["SubscribeURL"], timeout=30).status_code == 200
        attrs = sns.get_subscription_attributes(SubscriptionArn=guarded)["Attributes"]
        assert attrs["ConfirmationWasAuthenticated"] == "true"
        plain = next(s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
                     if s["SubscriptionArn"] != guarded)
        assert sns.get_subscription_attributes(SubscriptionArn=plain)["Attributes"]["ConfirmationWasAuthenticated"] == "false"
        e = refused(lambda: sns.confirm_subscription(TopicArn=topic, Token="not-a-token"))
        assert error_code(e) == "InvalidParameter"

        # Each notification's UnsubscribeURL: unsigned, refused for the guarded one.
        sns.publish(TopicArn=topic, Message="with-urls")
        wait_for(lambda: sum("with-urls" in b for _, b in Recorder.received) >= 2, 30, what="two notifications")
        urls = {h["x-amz-sns-subscription-arn"]: json.loads(b)["UnsubscribeURL"]
                for h, b in Recorder.received if "with-urls" in b}
        r = requests.get(urls[guarded], timeout=30)
        assert r.status_code == 403 and "<Code>AuthorizationError</Code>" in r.text
        r = requests.get(urls[plain], timeout=30)
        assert r.status_code == 200, r.text
        left = [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
        assert left == [guarded]
        sns.unsubscribe(SubscriptionArn=guarded)
        sns.delete_topic(TopicArn=topic)
    finally:
        server.shutdown()


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 500 to notifications while `failures` is above zero."""
    received: list[tuple[str, int]] = []
    failures = 0

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = 200
        if body["Type"] == "Notification" and type(self).failures > 0:
            type(self).failures -= 1
            status = 500
        type(self).received.append((body["Type"] + ":" + body.get("Message", ""), status))
        if body["Type"] == "SubscriptionConfirmation":
            requests.get(body["SubscribeURL"], timeout=30)
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_deliveries_retry_then_go_to_the_dead_letter_queue(sns, sqs):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/"
        topic = sns.create_topic(Name=unique("flaky"))["TopicArn"]
        dlq_url, dlq = make_queue(sqs, unique("flakydlq"))
        Flaky.received, Flaky.failures = [], 2
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint, Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq}),
            "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {"numRetries": 2, "numNoDelayRetries": 1,
                                                                 "minDelayTarget": 1, "maxDelayTarget": 1}}),
        })
        sub = wait_for(lambda: [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
                                if s["SubscriptionArn"].startswith(topic)], 30, what="the confirmation")[0]
        # Two failures, then the second retry is delivered.
        sns.publish(TopicArn=topic, Message="third-time")
        wait_for(lambda: ("Notification:third-time", 200) in Flaky.received, 30, what="the retried delivery")
        assert [r for r in Flaky.received if r[0] == "Notification:third-time"] == [
            ("Notification:third-time", 500), ("Notification:third-time", 500), ("Notification:third-time", 200)]
        assert sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", []) == []
        # Failing past its retries: to the dead-letter queue, as SNS's JSON.
        Flaky.failures = 100
        sns.publish(TopicArn=topic, Message="never")
        body = json.loads(receive_all(sqs, dlq_url, 1)[0]["Body"])
        assert body["Message"] == "never" and body["TopicArn"] == topic
        assert [r for r in Flaky.received if r[0] == "Notification:never"] == [("Notification:never", 500)] * 3
        sns.unsubscribe(SubscriptionArn=sub)
        sns.delete_topic(TopicArn=topic)
    finally:
        server.shutdown()


def test_fifo_topic_to_fifo_queue_keeps_group_order(sns, sqs):
    topic = sns.create_topic(Name=unique("order") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["FifoTopic"] == "true" and attrs["ContentBasedDeduplication"] == "false"
    e = refused(lambda: sns.publish(TopicArn=topic, Message="m", MessageDeduplicationId="d"))
    assert "MessageGroupId" in error_message(e)
    e = refused(lambda: sns.publish(TopicArn=topic, Message="m", MessageGroupId="g"))
    assert "ContentBasedDeduplication" in error_message(e)
    qurl, q = make_queue(sqs, unique("orderq") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=q, Attributes={"RawMessageDelivery": "true"})
    count = 40
    seqs = []
    for i in range(count):
        r = sns.publish(TopicArn=topic, Message=f"{i % 2}:{i}", MessageGroupId=f"g{i % 2}", MessageDeduplicationId=f"d{i}")
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == count
    # A duplicate within five minutes is accepted and not delivered again.
    again = sns.publish(TopicArn=topic, Message="dup", MessageGroupId="g0", MessageDeduplicationId="d0")
    assert int(again["SequenceNumber"]) == seqs[0]
    got = receive_all(sqs, qurl, count, timeout=120)
    assert len(got) == count
    for group in ("0", "1"):
        order = [int(m["Body"].split(":")[1]) for m in got if m["Body"].startswith(group + ":")]
        assert order == sorted(order), order
    assert sqs.receive_message(QueueUrl=qurl, WaitTimeSeconds=2).get("Messages", []) == []
    # A notification (not raw) carries the message's SequenceNumber.
    wrapped_url, wrapped = make_queue(sqs, unique("wrappedq") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=wrapped)
    r = sns.publish(TopicArn=topic, Message="numbered", MessageGroupId="g9", MessageDeduplicationId="d-numbered")
    body = json.loads(receive_all(sqs, wrapped_url, 1)[0]["Body"])
    assert body["SequenceNumber"] == r["SequenceNumber"]
    assert body["Message"] == "numbered" and body["MessageId"] == r["MessageId"]
    sns.delete_topic(TopicArn=topic)


FAILING = '''\
def main(event, context):
    raise RuntimeError("no luck")
'''


def test_a_topic_as_an_async_failure_destination(url, sns, sqs):
    """An Event invocation that fails for good sends its invocation record
    to an OnFailure topic, which fans it out to its queue."""
    lam = lambda_client(url)
    runtime = python_runtime(url)
    name = unique("snsfail")
    lam.create_function(
        FunctionName=name, Runtime=runtime, Handler="handler.main", Role=ROLE,
        Code={"ZipFile": build_zip([("handler.py", FAILING)])}, Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    topic = sns.create_topic(Name=unique("failures"))["TopicArn"]
    qurl, q = make_queue(sqs, unique("failq"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=q, Attributes={"RawMessageDelivery": "true"})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": topic}})
    r = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"order": 7}))
    assert r["StatusCode"] == 202
    record = json.loads(receive_all(sqs, qurl, 1, timeout=90)[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"order": 7}
    sns.delete_topic(TopicArn=topic)
    lam.delete_function(FunctionName=name)


# ---------------------------------------------------------------- AWS CLI


def aws_bin() -> str:
    beside_python = Path(sys.executable).parent / "aws"
    found = str(beside_python) if beside_python.exists() else shutil.which("aws")
    if not found:
        pytest.fail("the AWS CLI is not installed (scripts/test.sh installs it into the venv)")
    return found


def test_cli_walks_the_operations(url, sqs, tmp_path):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
    }

    def cli(*args: str, ok: bool = True):
        proc = subprocess.run([aws_bin(), "--endpoint-url", url, "--output", "json", "sns", *args],
                              env=env, capture_output=True, text=True, timeout=120)
        if ok:
            assert proc.returncode == 0, f"{args} failed:\n{proc.stderr}"
            return json.loads(proc.stdout) if proc.stdout.strip() else {}
        return proc

    name = unique("cli")
    topic = cli("create-topic", "--name", name, "--tags", "Key=a,Value=b")["TopicArn"]
    assert topic in [t["TopicArn"] for t in cli("list-topics")["Topics"]]
    cli("set-topic-attributes", "--topic-arn", topic, "--attribute-name", "DisplayName", "--attribute-value", "CLI")
    assert cli("get-topic-attributes", "--topic-arn", topic)["Attributes"]["DisplayName"] == "CLI"
    qurl, q = make_queue(sqs, unique("cliq"))
    sub = cli("subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", q,
              "--attributes", "RawMessageDelivery=true")["SubscriptionArn"]
    cli("set-subscription-attributes", "--subscription-arn", sub, "--attribute-name", "FilterPolicy",
        "--attribute-value", '{"k": ["v"]}')
    assert cli("get-subscription-attributes", "--subscription-arn", sub)["Attributes"]["FilterPolicy"] == '{"k": ["v"]}'
    assert [s["SubscriptionArn"] for s in cli("list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]] == [sub]
    assert sub in [s["SubscriptionArn"] for s in cli("list-subscriptions")["Subscriptions"]]
    mid = cli("publish", "--topic-arn", topic, "--message", "from-cli",
              "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')["MessageId"]
    assert mid
    assert receive_all(sqs, qurl, 1)[0]["Body"] == "from-cli"
    r = cli("publish-batch", "--topic-arn", topic, "--publish-batch-request-entries",
            json.dumps([{"Id": "1", "Message": "x", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}]))
    assert [s["Id"] for s in r["Successful"]] == ["1"]
    cli("add-permission", "--topic-arn", topic, "--label", "l", "--aws-account-id", "111122223333", "--action-name", "Publish")
    cli("remove-permission", "--topic-arn", topic, "--label", "l")
    cli("tag-resource", "--resource-arn", topic, "--tags", "Key=c,Value=d")
    cli("untag-resource", "--resource-arn", topic, "--tag-keys", "a")
    assert cli("list-tags-for-resource", "--resource-arn", topic)["Tags"] == [{"Key": "c", "Value": "d"}]
    cli("unsubscribe", "--subscription-arn", sub)
    proc = cli("get-topic-attributes", "--topic-arn", topic + "-none", ok=False)
    assert proc.returncode != 0 and "NotFound" in proc.stderr
    cli("delete-topic", "--topic-arn", topic)


# ---------------------------------------------------------------- enforce mode


def test_enforce_mode_checks_resource_policies(own_server, tmp_path):
    """In enforce mode a queue delivery needs the queue policy to allow
    sns.amazonaws.com; without it the message goes to the subscription's
    dead-letter queue."""
    srv = own_server(tmp_path / "enforce", "--auth", "enforce")
    key = json.loads((srv.data_dir / "root-access-key.json").read_text())

    def client(service):
        return boto3.client(service, endpoint_url=srv.url, region_name=REGION,
                            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            config=botocore.config.Config(retries={"max_attempts": 0}))

    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="guarded")["TopicArn"]
    open_url, open_q = make_queue(sqs, "allowed")
    closed_url, closed_q = make_queue(sqs, "refused")
    dlq_url, dlq = make_queue(sqs, "dead-letters")
    allow = lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [{  # noqa: E731
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]})
    sqs.set_queue_attributes(QueueUrl=open_url, Attributes={"Policy": allow(open_q)})
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"Policy": allow(dlq)})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=open_q, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=closed_q,
                  Attributes={"RawMessageDelivery": "true", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})})
    sns.publish(TopicArn=topic, Message="guarded-message")
    assert receive_all(sqs, open_url, 1)[0]["Body"] == "guarded-message"
    assert receive_all(sqs, dlq_url, 1)[0]["Body"] == "guarded-message"
    assert sqs.receive_message(QueueUrl=closed_url, WaitTimeSeconds=1).get("Messages", []) == []
    # An unsigned caller may not publish.
    r = requests.post(srv.url + "/", data={"Action": "Publish", "TopicArn": topic, "Message": "x"}, timeout=30)
    assert r.status_code == 403

    # A user without a policy may not publish; the topic's policy lets it.
    iam = client("iam")
    user = iam.create_user(UserName="publisher")["User"]
    ak = iam.create_access_key(UserName="publisher")["AccessKey"]
    as_user = boto3.client("sns", endpoint_url=srv.url, region_name=REGION,
                           aws_access_key_id=ak["AccessKeyId"], aws_secret_access_key=ak["SecretAccessKey"],
                           config=botocore.config.Config(retries={"max_attempts": 0}))
    e = refused(lambda: as_user.publish(TopicArn=topic, Message="from-user"))
    assert error_code(e) == "AuthorizationError"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "users", "Effect": "Allow", "Principal": {"AWS": user["Arn"]},
                                                "Action": "sns:Publish", "Resource": topic}]}))
    assert as_user.publish(TopicArn=topic, Message="from-user")["MessageId"]
    assert receive_all(sqs, open_url, 1)[0]["Body"] == "from-user"
    # The policy grants Publish only.
    assert error_code(refused(lambda: as_user.delete_topic(TopicArn=topic))) == "AuthorizationError"


# ---------------------------------------------------------------- kill -9

PUBLISHES = 300


def test_kill_9_mid_publish_loses_no_acknowledged_message(tmp_path):
    """Publishes to a topic with a queue subscription while the server is
    killed with SIGKILL; after a restart on the same data directory every
    publish that was acknowledged arrives in the queue (at least once)."""
    server = Server(tmp_path / "data", tmp_path / "logs").start()
    acknowledged: list[str] = []
    try:
        sns, sqs = aws_client(server.url, "sns"), aws_client(server.url, "sqs")
        topic = sns.create_topic(Name="crash")["TopicArn"]
        make_queue(sqs, "crash-q")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn("crash-q"), Attributes={"RawMessageDelivery": "true"})
        lock = threading.Lock()

        def publish(i: int):
            try:
                sns.publish(TopicArn=topic, Message=f"msg-{i:04d}")
            except Exception:  # noqa: BLE001 - refused or cut by the kill: not acknowledged
                return
            with lock:
                acknowledged.append(f"msg-{i:04d}")

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(publish, i) for i in range(PUBLISHES)]
            wait_for(lambda: len(acknowledged) >= PUBLISHES // 3, 120, what="a third of the publishes")
            server.kill()
            for f in futures:
                f.result()
    finally:
        server.kill()
    acked = set(acknowledged)
    print(f"\nat the kill: {len(acked)} of {PUBLISHES} publishes acknowledged")
    assert 0 < len(acked) < PUBLISHES, "the kill came after every publish"

    restarted = Server(tmp_path / "data", tmp_path / "logs-2").start()
    try:
        sqs = aws_client(restarted.url, "sqs")
        qurl = sqs.get_queue_url(QueueName="crash-q")["QueueUrl"]
        seen: set[str] = set()

        def drained():
            r = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                seen.add(m["Body"])
                sqs.delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
            return acked <= seen

        wait_for(drained, 180, interval=0, what="every acknowledged publish in the queue")
        print(f"after the restart: {len(seen)} distinct messages arrived ({len(seen - acked)} unacknowledged ones too)")
    finally:
        restarted.stop()
        assert not restarted.panics_since(0), restarted.stderr()[-8000:]

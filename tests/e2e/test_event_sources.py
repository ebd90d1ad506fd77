"""Event source mappings on Ignis's own queues: the five operations through
boto3 and the AWS CLI with Lambda's shapes and errors, and a Python function
fed from a queue — batches, batch item failures and the dead-letter queue,
filter criteria, disabling, and FIFO group order.

The function prints one `GOT {...}` line per record it receives; the tests
read the function's log through Ignis's logs endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from support import aws_client, build_zip, error_code, error_message, all_log_lines, wait_for
from test_aws_cli import aws_bin

HANDLER = """\
import json

def main(event, context):
    failures = []
    for r in event["Records"]:
        print("GOT " + json.dumps({
            "id": r["messageId"], "body": r["body"], "attributes": r["attributes"],
            "messageAttributes": r["messageAttributes"], "keys": sorted(r),
            "source": r["eventSource"], "arn": r["eventSourceARN"], "region": r["awsRegion"],
            "batch": len(event["Records"]),
        }), flush=True)
        if r["body"].startswith("fail"):
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}
"""


@pytest.fixture(scope="module")
def sqs(url):
    return aws_client(url, "sqs")


@pytest.fixture
def queue(sqs):
    """Makes queues (`queue(name_suffix, **attributes)` → (url, arn));
    deletes them afterwards."""
    made = []

    def make(suffix: str = "", **attributes) -> tuple[str, str]:
        name = f"esm-{uuid.uuid4().hex[:8]}{suffix}"
        q = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
        made.append(q)
        arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return q, arn

    yield make
    for q in made:
        try:
            sqs.delete_queue(QueueUrl=q)
        except ClientError:
            pass


@pytest.fixture
def mappings(lam):
    """Deletes the mappings a test made (`mappings.append(uuid)`)."""
    made: list[str] = []
    yield made
    for u in made:
        try:
            lam.delete_event_source_mapping(UUID=u)
        except ClientError:
            pass


@pytest.fixture
def consumer(deploy, python, fname) -> str:
    deploy(build_zip([("handler.py", HANDLER)]), Runtime=python, Handler="handler.main", Timeout=2)
    return fname


def settled(lam, uuid_: str, state: str) -> dict:
    return wait_for(
        lambda: (m := lam.get_event_source_mapping(UUID=uuid_))["State"] == state and m,
        30,
        what=f"mapping {uuid_} {state}",
    )


def got(url: str, fn: str) -> list[dict]:
    return [json.loads(line.split("GOT ", 1)[1]) for line in all_log_lines(url, fn) if "GOT {" in line]


def depth(sqs, q: str) -> int:
    a = sqs.get_queue_attributes(
        QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def gone_(lam, uuid_: str) -> bool:
    """Whether GetEventSourceMapping answers ResourceNotFoundException."""
    try:
        lam.get_event_source_mapping(UUID=uuid_)
    except ClientError as e:
        return error_code(e) == "ResourceNotFoundException"
    return False


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


# ------------------------------------------------------------ operations


def test_create_get_update_list_delete(lam, queue, consumer, mappings):
    q, arn = queue()
    made = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=consumer, BatchSize=5, Enabled=False,
        FunctionResponseTypes=["ReportBatchItemFailures"], ScalingConfig={"MaximumConcurrency": 3},
    )
    mappings.append(made["UUID"])
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert made["State"] == "Creating"
    assert made["FunctionArn"].endswith(f":function:{consumer}")
    assert made["EventSourceArn"] == arn
    assert (made["BatchSize"], made["MaximumBatchingWindowInSeconds"]) == (5, 0)
    assert made["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert made["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert made["StateTransitionReason"] == "USER_INITIATED"
    assert made["LastProcessingResult"] == "No records processed"
    assert made["EventSourceMappingArn"].endswith(f":event-source-mapping:{made['UUID']}")
    assert made["LastModified"].year >= 2024

    m = settled(lam, made["UUID"], "Disabled")
    up = lam.update_event_source_mapping(UUID=made["UUID"], Enabled=True, BatchSize=20, MaximumBatchingWindowInSeconds=2)
    assert up["State"] == "Enabling" and up["BatchSize"] == 20
    m = settled(lam, made["UUID"], "Enabled")
    assert (m["BatchSize"], m["MaximumBatchingWindowInSeconds"]) == (20, 2)

    listed = lam.list_event_source_mappings(FunctionName=consumer)["EventSourceMappings"]
    assert [x["UUID"] for x in listed] == [made["UUID"]]
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [x["UUID"] for x in listed] == [made["UUID"]]

    # Tags by the mapping's ARN.
    esm_arn = made["EventSourceMappingArn"]
    lam.tag_resource(Resource=esm_arn, Tags={"team": "queues", "env": "dev"})
    lam.untag_resource(Resource=esm_arn, TagKeys=["env"])
    assert lam.list_tags(Resource=esm_arn)["Tags"] == {"team": "queues"}

    # A second mapping of the queue to the function.
    e = refused(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=consumer))
    assert error_code(e) == "ResourceConflictException" and made["UUID"] in error_message(e)

    gone = lam.delete_event_source_mapping(UUID=made["UUID"])
    assert gone["State"] == "Deleting"
    wait_for(lambda: gone_(lam, made["UUID"]), 30, what="the mapping gone")
    assert lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"] == []


def test_aws_cli(url, queue, consumer, mappings):
    _, arn = queue()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"}

    def aws(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([aws_bin(), "--endpoint-url", url, "--output", "json", "lambda", *args],
                              env=env, capture_output=True, text=True, timeout=120)
        assert not check or proc.returncode == 0, proc.stderr
        return proc

    made = json.loads(aws("create-event-source-mapping", "--function-name", consumer,
                          "--event-source-arn", arn, "--batch-size", "3").stdout)
    mappings.append(made["UUID"])
    assert made["BatchSize"] == 3 and made["State"] == "Creating"
    listed = json.loads(aws("list-event-source-mappings", "--function-name", consumer).stdout)
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [made["UUID"]]
    got_ = json.loads(aws("get-event-source-mapping", "--uuid", made["UUID"]).stdout)
    assert got_["EventSourceArn"] == arn
    bad = aws("create-event-source-mapping", "--function-name", consumer, "--event-source-arn",
              arn + "-missing", check=False)
    assert bad.returncode != 0 and "InvalidParameterValueException" in bad.stderr
    deleted = json.loads(aws("delete-event-source-mapping", "--uuid", made["UUID"]).stdout)
    assert deleted["State"] == "Deleting"


def test_refusals(lam, lam_raw, queue, consumer, mappings):
    _, arn = queue()
    _, fifo = queue(".fifo", FifoQueue="true")
    _, short = queue("-short", VisibilityTimeout=1)
    missing_queue = arn + "-missing"
    cases = [
        (dict(EventSourceArn=missing_queue, FunctionName=consumer), "InvalidParameterValueException"),
        (dict(EventSourceArn=arn, FunctionName=consumer + "-missing"), "ResourceNotFoundException"),
        # The queue's visibility timeout (1 s) is less than the function's (2 s).
        (dict(EventSourceArn=short, FunctionName=consumer), "InvalidParameterValueException"),
        (dict(EventSourceArn=arn, FunctionName=consumer + ":nope"), "ResourceNotFoundException"),
        (dict(EventSourceArn=arn, FunctionName=consumer, BatchSize=11), "InvalidParameterValueException"),
        (dict(EventSourceArn=arn, FunctionName=consumer, BatchSize=10001, MaximumBatchingWindowInSeconds=1),
         "ValidationException"),
        (dict(EventSourceArn=fifo, FunctionName=consumer, BatchSize=20, MaximumBatchingWindowInSeconds=1),
         "InvalidParameterValueException"),
        (dict(EventSourceArn=arn, FunctionName=consumer, StartingPosition="LATEST"), "InvalidParameterValueException"),
        (dict(EventSourceArn=arn, FunctionName=consumer, FilterCriteria={"Filters": [{"Pattern": "{not json"}]}),
         "InvalidParameterValueException"),
        (dict(EventSourceArn=arn, FunctionName=consumer,
              FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"a": "not-a-list"}})}]}),
         "InvalidParameterValueException"),
        (dict(EventSourceArn=arn, FunctionName=consumer, ScalingConfig={"MaximumConcurrency": 1}),
         "ValidationException"),
        (dict(EventSourceArn=arn, FunctionName=consumer, MetricsConfig={"Metrics": ["Everything"]}),
         "ValidationException"),
        (dict(EventSourceArn=arn, FunctionName=consumer, KMSKeyArn="not-a-key"), "ValidationException"),
        (dict(EventSourceArn=arn, FunctionName=consumer,
              DestinationConfig={"OnFailure": {"Destination": missing_queue}}), "InvalidParameterValueException"),
    ]
    for params, want in cases:
        e = refused(lambda: lam_raw.create_event_source_mapping(**params))
        assert error_code(e) == want, (params, error_code(e), error_message(e))
    e = refused(lambda: lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=consumer, FilterCriteria={"Filters": [{"Pattern": "{not json"}]}))
    assert error_message(e) == "Invalid filter pattern definition."
    e = refused(lambda: lam.create_event_source_mapping(EventSourceArn=short, FunctionName=consumer))
    assert error_message(e) == "Queue visibility timeout: 1 seconds is less than Function timeout: 2 seconds"
    e = refused(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=consumer, BatchSize=11))
    assert "Maximum batch window in seconds must be greater than 0" in error_message(e)
    # Nothing was stored.
    assert lam.list_event_source_mappings(FunctionName=consumer)["EventSourceMappings"] == []
    for call in (lam.get_event_source_mapping, lam.delete_event_source_mapping):
        e = refused(lambda: call(UUID=str(uuid.uuid4())))
        assert error_code(e) == "ResourceNotFoundException"


# ------------------------------------------------------------ processing


def test_a_queue_feeds_the_function(url, lam, sqs, queue, consumer, mappings):
    q, arn = queue()
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=consumer, BatchSize=10)
    mappings.append(m["UUID"])
    sqs.send_message(QueueUrl=q, MessageBody="with attributes",
                     MessageAttributes={"color": {"DataType": "String", "StringValue": "red"},
                                        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    for i in range(5):
        sqs.send_message(QueueUrl=q, MessageBody=f"message {i}")
    records = wait_for(lambda: len(r := got(url, consumer)) >= 6 and r, 60, what="six records")
    assert sorted(r["body"] for r in records) == sorted(["with attributes"] + [f"message {i}" for i in range(5)])
    first = next(r for r in records if r["body"] == "with attributes")
    assert first["keys"] == sorted(["messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                                    "md5OfBody", "md5OfMessageAttributes", "eventSource", "eventSourceARN",
                                    "awsRegion"])
    assert (first["source"], first["arn"], first["region"]) == ("aws:sqs", arn, "us-east-1")
    assert first["messageAttributes"]["color"] == {"stringValue": "red", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert first["messageAttributes"]["raw"]["binaryValue"] == "AAE="
    assert set(first["attributes"]) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                        "ApproximateFirstReceiveTimestamp"}
    wait_for(lambda: depth(sqs, q) == 0, 30, what="the queue drained")
    wait_for(lambda: lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"] == "OK", 30,
             what="LastProcessingResult OK")


def test_batch_item_failures_go_to_the_dead_letter_queue(url, lam, sqs, queue, consumer, mappings):
    dlq, dlq_arn = queue("-dlq")
    # Warm: a cold start longer than the visibility timeout would let a
    # batch be received twice.
    lam.invoke(FunctionName=consumer, Payload=json.dumps({"Records": []}))
    q, arn = queue(VisibilityTimeout=4,
                   RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=consumer, BatchSize=10,
                                        FunctionResponseTypes=["ReportBatchItemFailures"])
    mappings.append(m["UUID"])
    sqs.send_message_batch(QueueUrl=q, Entries=[
        {"Id": "a", "MessageBody": "ok one"}, {"Id": "b", "MessageBody": "fail me"},
        {"Id": "c", "MessageBody": "ok two"}])
    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"), 60,
                    what="the failed message in the dead-letter queue")
    assert [d["Body"] for d in dead] == ["fail me"]
    wait_for(lambda: depth(sqs, q) == 0, 30, what="the queue drained")
    records = got(url, consumer)
    # The failed message came back (received twice), the others ran once.
    assert sorted(r["body"] for r in records if r["body"].startswith("fail")) == ["fail me", "fail me"]
    assert sorted(r["body"] for r in records if r["body"].startswith("ok")) == ["ok one", "ok two"]
    counts = sorted(r["attributes"]["ApproximateReceiveCount"] for r in records if r["body"] == "fail me")
    assert counts == ["1", "2"]


def test_filter_criteria_delete_what_they_refuse(url, lam, sqs, queue, consumer, mappings):
    q, arn = queue()
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=consumer,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]})
    mappings.append(m["UUID"])
    assert m["FilterCriteria"]["Filters"][0]["Pattern"] == json.dumps({"body": {"kind": ["keep"]}})
    for body in [{"kind": "drop", "n": 1}, {"kind": "keep", "n": 2}, "plain text", {"kind": "keep", "n": 3}]:
        sqs.send_message(QueueUrl=q, MessageBody=json.dumps(body) if isinstance(body, dict) else body)
    wait_for(lambda: depth(sqs, q) == 0, 60, what="every message consumed or deleted")
    records = wait_for(lambda: len(r := got(url, consumer)) >= 2 and r, 30, what="two records")
    assert sorted(json.loads(r["body"])["n"] for r in records) == [2, 3]


def test_disabling_stops_processing(url, lam, sqs, queue, consumer, mappings):
    q, arn = queue()
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=consumer)
    mappings.append(m["UUID"])
    settled(lam, m["UUID"], "Enabled")
    sqs.send_message(QueueUrl=q, MessageBody="before")
    wait_for(lambda: got(url, consumer), 60, what="the first record")
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    settled(lam, m["UUID"], "Disabled")
    sqs.send_message(QueueUrl=q, MessageBody="while disabled")
    # The pollers are gone: the message stays, visible, however long we look.
    time.sleep(3)
    attrs = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"
    assert [r["body"] for r in got(url, consumer)] == ["before"]
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
    wait_for(lambda: len(got(url, consumer)) == 2, 60, what="the held message processed")


def test_fifo_group_order_holds_across_1000_messages(url, lam, sqs, queue, consumer, mappings):
    q, arn = queue(".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=consumer, BatchSize=10)
    mappings.append(m["UUID"])
    groups = [f"g{i}" for i in range(7)]
    n = 1000
    for i in range(0, n, 10):
        sqs.send_message_batch(QueueUrl=q, Entries=[
            {"Id": str(j), "MessageBody": f"{groups[j % 7]}:{j}", "MessageGroupId": groups[j % 7]}
            for j in range(i, min(i + 10, n))])
    records = wait_for(lambda: len(r := got(url, consumer)) >= n and r, 120, what=f"{n} records")
    assert len(records) == n
    for g in groups:
        seq = [int(r["body"].split(":")[1]) for r in records if r["body"].startswith(g + ":")]
        assert seq == sorted(seq), f"{g} out of order: {seq}"
        assert all(r["attributes"]["MessageGroupId"] == g for r in records if r["body"].startswith(g + ":"))
    assert all("SequenceNumber" in r["attributes"] for r in records)
    wait_for(lambda: depth(sqs, q) == 0, 30, what="the queue drained")


def test_a_deleted_queue_is_a_problem_not_a_crash(lam, sqs, queue, consumer, mappings):
    q, arn = queue()
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=consumer)
    mappings.append(m["UUID"])
    settled(lam, m["UUID"], "Enabled")
    sqs.delete_queue(QueueUrl=q)
    got_ = wait_for(
        lambda: (r := lam.get_event_source_mapping(UUID=m["UUID"]))["LastProcessingResult"].startswith("PROBLEM")
        and r,
        60,
        what="the mapping reporting the missing queue",
    )
    assert "queue does not exist" in got_["LastProcessingResult"], got_["LastProcessingResult"]
    # It can still be deleted.
    assert lam.delete_event_source_mapping(UUID=m["UUID"])["State"] == "Deleting"

"""Event rules (issue 15): Ignis's EventBridge-compatible service, with boto3
and the AWS CLI — every served operation and EventBridge's errors; a rule's
pattern routing PutEvents to a Python function (the exact event shape in its
log) and to a queue through an InputTransformer, non-matching events
delivered nowhere; TestEventPattern; PutEvents' per-entry errors and size
limit; DeleteRule refused while a rule has targets; a custom bus; a disabled
rule; a dead-letter queue; a function's success destination on the default
bus; operations Ignis does not serve answered as such.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from support import REGION, ROLE, aws_client, build_zip, error_code, error_message, wait_for, wait_log_line

ACCOUNT = "000000000000"

RECORDER = '''\
import json

def main(event, context):
    print("EB-EVENT " + json.dumps(event))
    return {"ok": True}
'''

ECHO = '''\
def main(event, context):
    return {"echo": event}
'''


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def events(url):
    return aws_client(url, "events")


@pytest.fixture(scope="module")
def sqs(url):
    return aws_client(url, "sqs")


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    return info.value


def make_queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def receive_all(sqs, queue_url: str, want: int, timeout: float = 60) -> list[dict]:
    got: list[dict] = []

    def more():
        r = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                MessageAttributeNames=["All"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= want

    wait_for(more, timeout, interval=0, what=f"{want} messages in {queue_url}")
    return got


def nothing_more(sqs, queue_url: str) -> None:
    r = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    assert r.get("Messages", []) == []


def make_function(lam, runtime: str, name: str, code: str = RECORDER) -> str:
    lam.create_function(
        FunctionName=name, Runtime=runtime, Handler="handler.main", Role=ROLE,
        Code={"ZipFile": build_zip([("handler.py", code)])}, Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def events_in_log(url: str, name: str, needle: str) -> list[dict]:
    lines = wait_log_line(url, name, needle, timeout=60)
    return [json.loads(line.split("EB-EVENT ", 1)[1]) for line in lines if "EB-EVENT " in line]


def entry(source: str, detail: dict, **extra) -> dict:
    return {"Source": source, "DetailType": "Order Placed", "Detail": json.dumps(detail), **extra}


def test_a_pattern_routes_events_to_a_function_and_a_queue_through_a_transformer(events, sqs, lam, python, url):
    fn = unique("eb-fn")
    fn_arn = make_function(lam, python, fn)
    qurl, qarn = make_queue(sqs, unique("eb-q"))
    rule = unique("orders")
    source = unique("app.orders")
    arn = events.put_rule(
        Name=rule,
        EventPattern=json.dumps({"source": [source], "detail": {"total": [{"numeric": [">", 100]}]}}),
        Description="big orders",
    )["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"
    put = events.put_targets(Rule=rule, Targets=[
        {"Id": "fn", "Arn": fn_arn},
        {"Id": "q", "Arn": qarn, "InputTransformer": {
            "InputPathsMap": {"id": "$.detail.id", "src": "$.source"},
            "InputTemplate": '{"order": <id>, "from": "<src>", "rule": "<aws.events.rule-name>"}',
        }},
    ])
    assert put["FailedEntryCount"] == 0
    out = events.put_events(Entries=[
        entry(source, {"id": 1, "total": 250}, Resources=["arn:aws:s3:::bucket"]),
        entry(source, {"id": 2, "total": 50}),
        entry(unique("other"), {"id": 3, "total": 900}),
    ])
    assert out["FailedEntryCount"] == 0
    ids = [e["EventId"] for e in out["Entries"]]
    assert len(set(ids)) == 3
    # The queue: the transformed input of the one matching event.
    got = receive_all(sqs, qurl, 1)
    assert [json.loads(m["Body"]) for m in got] == [{"order": 1, "from": source, "rule": rule}]
    nothing_more(sqs, qurl)
    # The function: the whole event, as EventBridge shapes it.
    seen = events_in_log(url, fn, ids[0])
    assert len(seen) == 1
    event = seen[0]
    assert event["id"] == ids[0]
    assert event["version"] == "0"
    assert event["source"] == source
    assert event["detail-type"] == "Order Placed"
    assert event["account"] == ACCOUNT
    assert event["region"] == REGION
    assert event["resources"] == ["arn:aws:s3:::bucket"]
    assert event["detail"] == {"id": 1, "total": 250}
    assert event["time"].endswith("Z")
    lines = wait_log_line(url, fn, ids[0])
    assert not any(i in line for line in lines for i in ids[1:])
    events.remove_targets(Rule=rule, Ids=["fn", "q"])
    events.delete_rule(Name=rule)


def test_rules_targets_and_their_errors(events, sqs):
    rule = unique("r")
    _, qarn = make_queue(sqs, unique("eb-q"))
    arn = events.put_rule(Name=rule, EventPattern='{"source": ["a"]}', State="ENABLED",
                          Tags=[{"Key": "team", "Value": "blue"}])["RuleArn"]
    d = events.describe_rule(Name=rule)
    assert d["Name"] == rule and d["Arn"] == arn and d["State"] == "ENABLED"
    assert d["EventBusName"] == "default" and json.loads(d["EventPattern"]) == {"source": ["a"]}
    assert rule in [r["Name"] for r in events.list_rules(NamePrefix=rule)["Rules"]]
    events.disable_rule(Name=rule)
    assert events.describe_rule(Name=rule)["State"] == "DISABLED"
    events.enable_rule(Name=rule)
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    put = events.put_targets(Rule=rule, Targets=[
        {"Id": "ok", "Arn": qarn, "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}},
        {"Id": "both", "Arn": qarn, "Input": "{}", "InputPath": "$.detail"},
    ])
    assert put["FailedEntryCount"] == 1
    assert put["FailedEntries"][0]["TargetId"] == "both"
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert [t["Id"] for t in targets] == ["ok"]
    assert targets[0]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}
    assert events.list_rule_names_by_target(TargetArn=qarn)["RuleNames"] == [rule]
    # A rule with targets is not deleted.
    e = refused(lambda: events.delete_rule(Name=rule))
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Rule can't be deleted since it has targets."
    e = refused(lambda: events.put_targets(Rule=rule, Targets=[{"Id": f"t{i}", "Arn": qarn} for i in range(6)]))
    assert error_code(e) == "LimitExceededException"
    # Tags.
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "blue"}]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    # Bad patterns and rules.
    e = refused(lambda: events.put_rule(Name=unique("bad"), EventPattern='{"source": "not-a-list"}'))
    assert error_code(e) == "InvalidEventPatternException"
    e = refused(lambda: events.put_rule(Name=unique("none")))
    assert error_code(e) == "ValidationException"
    e = refused(lambda: events.put_rule(Name=unique("s"), ScheduleExpression="rate(1 minutes)"))
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Parameter ScheduleExpression is not valid."
    events.put_rule(Name=unique("tick"), ScheduleExpression="rate(5 minutes)")
    e = refused(lambda: events.describe_rule(Name=unique("missing")))
    assert error_code(e) == "ResourceNotFoundException"
    e = refused(lambda: events.put_targets(Rule=unique("missing"), Targets=[{"Id": "a", "Arn": qarn}]))
    assert error_code(e) == "ResourceNotFoundException"
    events.remove_targets(Rule=rule, Ids=["ok"])
    events.delete_rule(Name=rule)
    assert rule not in [r["Name"] for r in events.list_rules(NamePrefix=rule)["Rules"]]


def test_test_event_pattern(events):
    event = json.dumps({"id": "1", "source": "app", "detail-type": "t", "account": ACCOUNT,
                        "time": "2026-01-01T00:00:00Z", "region": REGION, "resources": [],
                        "detail": {"n": 5, "name": "order-17"}})
    yes = events.test_event_pattern(EventPattern=json.dumps(
        {"detail": {"n": [{"numeric": [">", 1]}], "name": [{"prefix": "order-"}]}}), Event=event)
    assert yes["Result"] is True
    no = events.test_event_pattern(EventPattern='{"source": ["other"]}', Event=event)
    assert no["Result"] is False
    e = refused(lambda: events.test_event_pattern(EventPattern='{"source": [', Event=event))
    assert error_code(e) == "InvalidEventPatternException"
    assert error_message(e)


def test_put_events_per_entry_errors_and_the_size_limit(events):
    out = events.put_events(Entries=[
        {"Source": "app", "DetailType": "t"},
        {"Source": "app", "DetailType": "t", "Detail": "[1, 2]"},
        entry("app", {"ok": True}),
        entry("app", {}, EventBusName=unique("no-such-bus")),
    ])
    assert out["FailedEntryCount"] == 3
    e = out["Entries"]
    assert e[0]["ErrorCode"] == "InvalidArgument"
    assert e[0]["ErrorMessage"] == "Parameter Detail is not valid. Reason: Detail is a required argument."
    assert e[1]["ErrorCode"] == "MalformedDetail"
    assert "EventId" in e[2] and "ErrorCode" not in e[2]
    assert e[3]["ErrorCode"] == "ResourceNotFoundException"
    big = entry("app", {"big": "x" * 262_144})
    err = refused(lambda: events.put_events(Entries=[big]))
    assert error_code(err) == "ValidationException"
    assert "over the limit" in error_message(err)


def test_a_custom_bus_and_a_disabled_rule(events, sqs):
    bus = unique("shop")
    qurl, qarn = make_queue(sqs, unique("eb-q"))
    arn = events.create_event_bus(Name=bus, Description="the shop")["EventBusArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    e = refused(lambda: events.create_event_bus(Name=bus))
    assert error_code(e) == "ResourceAlreadyExistsException"
    d = events.describe_event_bus(Name=bus)
    assert d["Name"] == bus and d["Arn"] == arn and d["Description"] == "the shop"
    assert events.describe_event_bus()["Name"] == "default"
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert "default" in names and bus in names
    rule_arn = events.put_rule(Name="r", EventBusName=bus, EventPattern='{"source": ["shop"]}')["RuleArn"]
    assert rule_arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/r"
    events.put_targets(Rule="r", EventBusName=bus, Targets=[{"Id": "q", "Arn": qarn, "InputPath": "$.detail"}])
    # On the default bus nothing matches; disabled, the rule delivers nothing.
    events.put_events(Entries=[entry("shop", {"n": 0})])
    events.disable_rule(Name="r", EventBusName=bus)
    events.put_events(Entries=[entry("shop", {"n": 1}, EventBusName=bus)])
    nothing_more(sqs, qurl)
    events.enable_rule(Name="r", EventBusName=bus)
    events.put_events(Entries=[entry("shop", {"n": 2}, EventBusName=arn)])
    got = receive_all(sqs, qurl, 1)
    assert [json.loads(m["Body"]) for m in got] == [{"n": 2}]
    e = refused(lambda: events.delete_event_bus(Name="default"))
    assert error_code(e) == "ValidationException"
    events.remove_targets(Rule="r", EventBusName=bus, Ids=["q"])
    events.delete_rule(Name="r", EventBusName=bus)
    events.delete_event_bus(Name=bus)
    e = refused(lambda: events.describe_event_bus(Name=bus))
    assert error_code(e) == "ResourceNotFoundException"


def test_a_fifo_queue_target_takes_its_message_group(events, sqs):
    name = unique("eb-fifo") + ".fifo"
    qurl = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    qarn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    rule = unique("fifo")
    source = unique("fifo.app")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    put = events.put_targets(Rule=rule, Targets=[{"Id": "nogroup", "Arn": qarn}])
    assert put["FailedEntryCount"] == 1
    assert "SqsParameters" in put["FailedEntries"][0]["ErrorMessage"]
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": qarn, "SqsParameters": {"MessageGroupId": "orders"},
                                            "InputPath": "$.detail"}])
    events.put_events(Entries=[entry(source, {"n": i}) for i in range(3)])
    got = []

    def more():
        r = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                AttributeNames=["MessageGroupId"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= 3

    wait_for(more, 60, interval=0, what="3 messages in the FIFO queue")
    assert sorted(json.loads(m["Body"])["n"] for m in got) == [0, 1, 2]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"orders"}


def test_an_undeliverable_event_goes_to_the_dead_letter_queue(events, sqs):
    dlq_url, dlq_arn = make_queue(sqs, unique("eb-dlq"))
    rule = unique("dl")
    source = unique("dl.app")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    gone = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{unique('no-such-function')}"
    events.put_targets(Rule=rule, Targets=[{"Id": "gone", "Arn": gone,
                                            "RetryPolicy": {"MaximumRetryAttempts": 0},
                                            "DeadLetterConfig": {"Arn": dlq_arn}}])
    out = events.put_events(Entries=[entry(source, {"n": 1})])
    got = receive_all(sqs, dlq_url, 1)
    body = json.loads(got[0]["Body"])
    assert body["id"] == out["Entries"][0]["EventId"]
    attrs = {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}
    assert attrs["RULE_ARN"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"
    assert attrs["TARGET_ARN"] == gone
    assert attrs["ERROR_CODE"] == "CLIENT_ERROR"


def test_a_function_destination_on_the_default_bus(events, sqs, lam, python):
    fn = unique("eb-dest")
    fn_arn = make_function(lam, python, fn, ECHO)
    qurl, qarn = make_queue(sqs, unique("eb-q"))
    rule = unique("results")
    events.put_rule(Name=rule, EventPattern=json.dumps(
        {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Success"],
         "resources": [{"prefix": fn_arn + ":"}]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": qarn}])
    lam.put_function_event_invoke_config(
        FunctionName=fn,
        DestinationConfig={"OnSuccess": {"Destination": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"}},
    )
    lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"hello": "bus"}))
    got = receive_all(sqs, qurl, 1)
    event = json.loads(got[0]["Body"])
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Success"
    # The record's function ARN, qualified as Lambda names the version run.
    assert event["resources"] == [fn_arn + ":$LATEST"]
    assert event["detail"]["requestPayload"] == {"hello": "bus"}
    assert event["detail"]["responsePayload"] == {"echo": {"hello": "bus"}}


def test_operations_not_served_are_answered_as_such(events):
    e = refused(lambda: events.create_archive(
        ArchiveName=unique("a"), EventSourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"))
    assert error_code(e) == "UnknownOperationException"
    assert "not served" in error_message(e) or "not an operation" in error_message(e)


def aws_bin() -> str:
    beside_python = Path(sys.executable).parent / "aws"
    found = str(beside_python) if beside_python.exists() else shutil.which("aws")
    if not found:
        pytest.fail("the AWS CLI is not installed (scripts/test.sh installs it into the venv)")
    return found


def test_the_aws_cli(url, sqs, tmp_path):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
    }

    def cli(*args: str):
        proc = subprocess.run([aws_bin(), "--endpoint-url", url, "--output", "json", "events", *args],
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{args} failed:\n{proc.stderr}"
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    rule = unique("cli")
    source = unique("cli.app")
    qurl, qarn = make_queue(sqs, unique("eb-cliq"))
    cli("put-rule", "--name", rule, "--event-pattern", json.dumps({"source": [source]}))
    assert cli("describe-rule", "--name", rule)["Name"] == rule
    out = cli("put-targets", "--rule", rule, "--targets", json.dumps([{"Id": "q", "Arn": qarn}]))
    assert out["FailedEntryCount"] == 0
    sent = cli("put-events", "--entries", json.dumps([entry(source, {"via": "cli"})]))
    assert sent["FailedEntryCount"] == 0
    got = receive_all(sqs, qurl, 1)
    assert json.loads(got[0]["Body"])["detail"] == {"via": "cli"}
    assert cli("test-event-pattern", "--event-pattern", json.dumps({"source": [source]}),
               "--event", got[0]["Body"])["Result"] is True
    cli("remove-targets", "--rule", rule, "--ids", "q")
    cli("delete-rule", "--name", rule)


def test_enforce_mode_authorizes_each_operation_on_its_rule_or_bus(own_server, tmp_path):
    """In enforce mode a user may call an operation only as its policy
    allows `events:<Operation>` on the rule's or bus's ARN."""
    srv = own_server(tmp_path / "enforce", "--auth", "enforce")
    key = json.loads((srv.data_dir / "root-access-key.json").read_text())
    config = botocore.config.Config(retries={"max_attempts": 0})

    def client(service, ak=key["AccessKeyId"], sk=key["SecretAccessKey"]):
        return boto3.client(service, endpoint_url=srv.url, region_name=REGION,
                            aws_access_key_id=ak, aws_secret_access_key=sk, config=config)

    root = client("events")
    root.put_rule(Name="mine", EventPattern='{"source": ["a"]}')
    root.put_rule(Name="theirs", EventPattern='{"source": ["a"]}')
    iam = client("iam")
    iam.create_user(UserName="ops")
    iam.put_user_policy(UserName="ops", PolicyName="rules", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["events:DescribeRule", "events:DisableRule"],
             "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/mine"},
            {"Effect": "Allow", "Action": "events:PutEvents",
             "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"},
        ]}))
    ak = iam.create_access_key(UserName="ops")["AccessKey"]
    user = client("events", ak["AccessKeyId"], ak["SecretAccessKey"])

    def allowed():
        try:
            return user.describe_rule(Name="mine")["Name"] == "mine"
        except ClientError:
            return False

    wait_for(allowed, 30, what="the user's policy to apply")
    user.disable_rule(Name="mine")
    assert root.describe_rule(Name="mine")["State"] == "DISABLED"
    assert user.put_events(Entries=[entry("app", {"n": 1})])["FailedEntryCount"] == 0
    for call in (lambda: user.describe_rule(Name="theirs"),
                 lambda: user.delete_rule(Name="mine"),
                 lambda: user.put_rule(Name="new", EventPattern='{"source": ["a"]}')):
        e = refused(call)
        assert error_code(e) == "AccessDeniedException"
        assert "not authorized to perform: events:" in error_message(e)
    # Unsigned requests are refused.
    r = requests.post(srv.url + "/", data="{}", timeout=30, headers={
        "X-Amz-Target": "AWSEvents.ListRules", "Content-Type": "application/x-amz-json-1.1"})
    assert r.status_code in (400, 403)
    assert root.describe_rule(Name="theirs")["Name"] == "theirs"

    # Deliveries need the target's policy to let events.amazonaws.com in,
    # for this rule: the open queue gets the event, the closed one's goes
    # to the dead-letter queue.
    sqs = client("sqs")
    rule_arn = root.put_rule(Name="deliver", EventPattern='{"source": ["guarded"]}')["RuleArn"]
    queues = {}
    for name in ("open", "closed", "dead"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queues[name] = (url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
    for name in ("open", "dead"):
        url, arn = queues[name]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]})})
    root.put_targets(Rule="deliver", Targets=[
        {"Id": "open", "Arn": queues["open"][1]},
        {"Id": "closed", "Arn": queues["closed"][1], "DeadLetterConfig": {"Arn": queues["dead"][1]}},
    ])
    out = root.put_events(Entries=[entry("guarded", {"n": 7})])
    event_id = out["Entries"][0]["EventId"]
    assert json.loads(receive_all(sqs, queues["open"][0], 1)[0]["Body"])["id"] == event_id
    dead = receive_all(sqs, queues["dead"][0], 1)[0]
    assert json.loads(dead["Body"])["id"] == event_id
    assert "events.amazonaws.com may not sqs:SendMessage" in dead["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    nothing_more(sqs, queues["closed"][0])

"""Schedules (issue 15): Ignis's EventBridge Scheduler-compatible service
with boto3 and the AWS CLI — every operation, Scheduler's validation errors,
a one-time schedule firing a Python function once and deleting itself
(ActionAfterCompletion=DELETE), a queue target, a missing target
function's tick in the dead-letter queue, schedules surviving a restart (a
tick due while the server was down fires once at start-up), and `enforce`
mode's `scheduler:<Operation>` on the schedule's ARN.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from support import (
    REGION,
    ROLE,
    aws_client,
    build_zip,
    error_code,
    error_message,
    wait_for,
    wait_log_line,
    all_log_lines,
)

ACCOUNT = "000000000000"
SCHEDULER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler"

RECORDER = """
import json

def main(event, context):
    print("SCHEDULED " + json.dumps(event))
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def sched(url):
    return aws_client(url, "scheduler")


@pytest.fixture(scope="module")
def sqs(url):
    return aws_client(url, "sqs")


def python_runtime(url: str) -> str:
    r = requests.get(f"{url}/ignis/v1/runtimes", timeout=30)
    r.raise_for_status()
    for x in r.json()["Runtimes"]:
        if x["Runtime"].startswith("python3") and x["Available"]:
            return x["Runtime"]
    pytest.skip("no python3 interpreter on this machine")


def at_in(seconds: int) -> str:
    when = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return "at(" + when.strftime("%Y-%m-%dT%H:%M:%S") + ")"


def target(arn: str, **extra) -> dict:
    return {"Arn": arn, "RoleArn": SCHEDULER_ROLE, **extra}


def queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url: str, want: int, timeout: float = 60) -> list[dict]:
    got: list[dict] = []

    def more():
        r = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= want

    wait_for(more, timeout, interval=0, what=f"{want} messages in {url}")
    return got


def test_groups_schedules_tags_and_listing(sched, fname):
    group = f"{fname}-g"[:64]
    arn = sched.create_schedule_group(Name=group, Tags=[{"Key": "team", "Value": "a"}])["ScheduleGroupArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{group}"
    got = sched.get_schedule_group(Name=group)
    assert got["Name"] == group and got["State"] == "ACTIVE" and got["Arn"] == arn
    assert "CreationDate" in got
    names = [g["Name"] for g in sched.list_schedule_groups()["ScheduleGroups"]]
    assert "default" in names and group in names

    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nothing-{fname}"
    created = sched.create_schedule(
        Name="every-5", GroupName=group, ScheduleExpression="rate(5 minutes)",
        Target=target(fn_arn, Input='{"a": 1}', RetryPolicy={"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}),
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5},
        Description="five", State="DISABLED",
    )
    assert created["ScheduleArn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/every-5"
    sched.create_schedule(
        Name="nine-berlin", GroupName=group, ScheduleExpression="cron(0 9 ? * MON-FRI *)",
        ScheduleExpressionTimezone="Europe/Berlin", Target=target(fn_arn),
        FlexibleTimeWindow={"Mode": "OFF"},
        StartDate=datetime(2030, 1, 1, tzinfo=timezone.utc), EndDate=datetime(2031, 1, 1, tzinfo=timezone.utc),
    )
    got = sched.get_schedule(Name="every-5", GroupName=group)
    assert got["ScheduleExpression"] == "rate(5 minutes)"
    assert got["State"] == "DISABLED" and got["Description"] == "five"
    assert got["Target"]["Input"] == '{"a": 1}'
    assert got["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}
    assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}
    assert got["ActionAfterCompletion"] == "NONE"
    assert [s["Name"] for s in sched.list_schedules(GroupName=group, State="DISABLED")["Schedules"]] == ["every-5"]
    got = sched.get_schedule(Name="nine-berlin", GroupName=group)
    assert got["StartDate"] == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert got["ScheduleExpressionTimezone"] == "Europe/Berlin"

    sched.update_schedule(
        Name="every-5", GroupName=group, ScheduleExpression="rate(10 minutes)",
        Target=target(fn_arn), FlexibleTimeWindow={"Mode": "OFF"}, State="ENABLED",
    )
    got = sched.get_schedule(Name="every-5", GroupName=group)
    assert got["ScheduleExpression"] == "rate(10 minutes)" and got["State"] == "ENABLED"
    assert "Description" not in got

    listed = sched.list_schedules(GroupName=group)["Schedules"]
    assert [s["Name"] for s in listed] == ["every-5", "nine-berlin"]
    assert listed[0]["Target"] == {"Arn": fn_arn}
    page = sched.list_schedules(GroupName=group, MaxResults=1)
    assert [s["Name"] for s in page["Schedules"]] == ["every-5"]
    page = sched.list_schedules(GroupName=group, MaxResults=1, NextToken=page["NextToken"])
    assert [s["Name"] for s in page["Schedules"]] == ["nine-berlin"]
    assert "NextToken" not in page
    assert [s["Name"] for s in sched.list_schedules(GroupName=group, NamePrefix="nine")["Schedules"]] == ["nine-berlin"]
    assert [s["Name"] for s in sched.list_schedules(GroupName=group, State="ENABLED")["Schedules"]] == [
        "every-5", "nine-berlin"]
    assert sched.list_schedules(GroupName=group, State="DISABLED")["Schedules"] == []
    # The paginator follows NextToken.
    pages = sched.get_paginator("list_schedules").paginate(GroupName=group, PaginationConfig={"PageSize": 1})
    assert sum(len(p["Schedules"]) for p in pages) == 2

    sched.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"}])
    sched.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sched.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "test"}]

    sched.delete_schedule(Name="nine-berlin", GroupName=group)
    with pytest.raises(ClientError) as e:
        sched.get_schedule(Name="nine-berlin", GroupName=group)
    assert error_code(e.value) == "ResourceNotFoundException"
    assert error_message(e.value) == "Schedule nine-berlin does not exist."
    # Deleting the group deletes its schedules.
    sched.delete_schedule_group(Name=group)
    with pytest.raises(ClientError) as e:
        sched.get_schedule(Name="every-5", GroupName=group)
    assert error_code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sched.get_schedule_group(Name=group)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_validation_errors(sched, fname):
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fname}"

    def create(**kw):
        params = dict(Name=fname[:64], ScheduleExpression="rate(1 hour)", Target=target(fn_arn),
                      FlexibleTimeWindow={"Mode": "OFF"})
        params.update(kw)
        with pytest.raises(ClientError) as e:
            sched.create_schedule(**params)
        return e.value

    e = create(ScheduleExpression="cron(0 12 * * * *)")
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Invalid Schedule Expression cron(0 12 * * * *)."
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    e = create(ScheduleExpression="rate(0 minutes)")
    assert error_code(e) == "ValidationException"
    e = create(ScheduleExpressionTimezone="Mars/Olympus_Mons")
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Invalid ScheduleExpressionTimezone Mars/Olympus_Mons."
    e = create(FlexibleTimeWindow={"Mode": "FLEXIBLE"})
    assert error_code(e) == "ValidationException"
    e = create(GroupName="no-such-group")
    assert error_code(e) == "ResourceNotFoundException"
    # Nothing was stored.
    with pytest.raises(ClientError) as e:
        sched.get_schedule(Name=fname[:64])
    assert error_code(e.value) == "ResourceNotFoundException"
    sched.create_schedule(Name=fname[:64], ScheduleExpression="rate(1 hour)", Target=target(fn_arn),
                          FlexibleTimeWindow={"Mode": "OFF"}, State="DISABLED")
    e = create()
    assert error_code(e) == "ConflictException"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    sched.delete_schedule(Name=fname[:64])
    with pytest.raises(ClientError) as e:
        sched.delete_schedule_group(Name="default")
    assert error_code(e.value) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sched.create_schedule_group(Name="default")
    assert error_code(e.value) == "ConflictException"


def test_a_one_time_schedule_fires_a_python_function_once_and_is_deleted(url, sched, deploy, fname):
    runtime = python_runtime(url)
    deploy(build_zip([("handler.py", RECORDER)]), Runtime=runtime, Handler="handler.main", Timeout=30)
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fname}"
    marker = uuid.uuid4().hex
    sched.create_schedule(
        Name=fname[:64], ScheduleExpression=at_in(3), Target=target(fn_arn, Input=json.dumps({"marker": marker})),
        FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
    )
    lines = wait_log_line(url, fname, marker, timeout=60)
    events = [json.loads(line.split("SCHEDULED ", 1)[1]) for line in lines if "SCHEDULED " in line]
    assert events == [{"marker": marker}]

    def gone():
        try:
            sched.get_schedule(Name=fname[:64])
            return False
        except ClientError as e:
            return error_code(e) == "ResourceNotFoundException"

    wait_for(gone, 30, what="the completed schedule deleted")
    # Fired once: no second event shows up afterwards.
    lines = all_log_lines(url, fname)
    assert sum(1 for line in lines if marker in line and "SCHEDULED " in line) == 1


def test_a_queue_target_and_a_missing_function_to_the_dead_letter_queue(sched, sqs, fname):
    q_url, q_arn = queue(sqs, f"{fname}-q"[:80])
    dlq_url, dlq_arn = queue(sqs, f"{fname}-dlq"[:80])
    sched.create_schedule(
        Name=f"{fname}-q"[:64], ScheduleExpression=at_in(2), Target=target(q_arn, Input="hello queue"),
        FlexibleTimeWindow={"Mode": "OFF"},
    )
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:no-such-{fname}"[:140]
    # Scheduler accepts a target it cannot reach yet; the tick fails later.
    sched.create_schedule(
        Name=f"{fname}-m"[:64], ScheduleExpression=at_in(2),
        Target=target(missing, Input="for nobody", DeadLetterConfig={"Arn": dlq_arn},
                      RetryPolicy={"MaximumRetryAttempts": 0}),
        FlexibleTimeWindow={"Mode": "OFF"},
    )
    [m] = receive(sqs, q_url, 1)
    assert m["Body"] == "hello queue"
    [d] = receive(sqs, dlq_url, 1)
    assert d["Body"] == "for nobody"
    attrs = {k: v["StringValue"] for k, v in d["MessageAttributes"].items()}
    assert attrs["TARGET_ARN"] == missing
    assert attrs["SCHEDULE_ARN"].endswith(f":schedule/default/{fname}-m"[:64 + 18])
    assert attrs["ERROR_CODE"] == "ResourceNotFoundException"
    # A spent one-time schedule with ActionAfterCompletion NONE stays.
    assert sched.get_schedule(Name=f"{fname}-q"[:64])["ActionAfterCompletion"] == "NONE"
    sched.delete_schedule(Name=f"{fname}-q"[:64])
    sched.delete_schedule(Name=f"{fname}-m"[:64])


def aws_bin() -> str:
    beside_python = Path(sys.executable).parent / "aws"
    found = str(beside_python) if beside_python.exists() else shutil.which("aws")
    if not found:
        pytest.fail("the AWS CLI is not installed (scripts/test.sh installs it into the venv)")
    return found


def test_the_aws_cli(url, fname, tmp_path):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
    }

    def aws(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [aws_bin(), "--endpoint-url", url, "--output", "json", "scheduler", *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    name = fname[:64]
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fname}"
    out = json.loads(aws(
        "create-schedule", "--name", name, "--schedule-expression", "cron(15 10 ? * 6L 2030-2035)",
        "--schedule-expression-timezone", "America/New_York",
        "--target", json.dumps({"Arn": fn_arn, "RoleArn": SCHEDULER_ROLE, "Input": "{}"}),
        "--flexible-time-window", '{"Mode": "OFF"}',
    ).stdout)
    assert out["ScheduleArn"].endswith(f":schedule/default/{name}")
    got = json.loads(aws("get-schedule", "--name", name).stdout)
    assert got["ScheduleExpression"] == "cron(15 10 ? * 6L 2030-2035)"
    listed = json.loads(aws("list-schedules", "--name-prefix", name).stdout)
    assert [s["Name"] for s in listed["Schedules"]] == [name]
    bad = aws(
        "create-schedule", "--name", f"{name[:60]}-bad", "--schedule-expression", "cron(0 0 ? * ? *)",
        "--target", json.dumps({"Arn": fn_arn, "RoleArn": SCHEDULER_ROLE}),
        "--flexible-time-window", '{"Mode": "OFF"}', check=False,
    )
    assert bad.returncode != 0 and "ValidationException" in bad.stderr, bad.stderr
    aws("delete-schedule", "--name", name)
    missing = aws("get-schedule", "--name", name, check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_schedules_survive_a_restart_and_a_tick_due_while_down_fires_once(own_server, tmp_path):
    data = tmp_path / "data"
    srv = own_server(data)
    sched, sqs = aws_client(srv.url, "scheduler"), aws_client(srv.url, "sqs")
    sched.create_schedule_group(Name="kept", Tags=[{"Key": "k", "Value": "v"}])
    sched.create_schedule(
        Name="hourly", GroupName="kept", ScheduleExpression="cron(0 * * * ? *)",
        Target=target(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:whatever"), FlexibleTimeWindow={"Mode": "OFF"},
    )
    q_url, q_arn = queue(sqs, "while-down")
    # Due a few seconds from now; the server is stopped at once and is down
    # when the tick comes.
    sched.create_schedule(
        Name="while-down", ScheduleExpression=at_in(4), Target=target(q_arn, Input="missed"),
        FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
    )
    srv.stop()
    time.sleep(5)
    srv = own_server(data)
    sched, sqs = aws_client(srv.url, "scheduler"), aws_client(srv.url, "sqs")
    assert sched.get_schedule(Name="hourly", GroupName="kept")["ScheduleExpression"] == "cron(0 * * * ? *)"
    arn = sched.get_schedule_group(Name="kept")["Arn"]
    assert sched.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    q_url = sqs.get_queue_url(QueueName="while-down")["QueueUrl"]
    [m] = receive(sqs, q_url, 1)
    assert m["Body"] == "missed"
    # Once: nothing more arrives, and the schedule is gone.
    assert sqs.receive_message(QueueUrl=q_url, WaitTimeSeconds=2).get("Messages", []) == []
    with pytest.raises(ClientError) as e:
        sched.get_schedule(Name="while-down")
    assert error_code(e.value) == "ResourceNotFoundException"


def test_enforce_mode_authorizes_scheduler_operations_on_the_schedule_arn(own_server, tmp_path):
    srv = own_server(tmp_path / "enforce", "--auth", "enforce")
    key = json.loads((srv.data_dir / "root-access-key.json").read_text())

    def client(service, ak, sk):
        return boto3.client(service, endpoint_url=srv.url, region_name=REGION,
                            aws_access_key_id=ak, aws_secret_access_key=sk,
                            config=botocore.config.Config(retries={"max_attempts": 0}))

    root_sched = client("scheduler", key["AccessKeyId"], key["SecretAccessKey"])
    iam = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    root_sched.create_schedule_group(Name="team")
    iam.create_user(UserName="planner")
    iam.put_user_policy(UserName="planner", PolicyName="team-schedules", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["scheduler:CreateSchedule", "scheduler:GetSchedule"],
                       "Resource": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/team/*"}],
    }))
    ak = iam.create_access_key(UserName="planner")["AccessKey"]
    planner = client("scheduler", ak["AccessKeyId"], ak["SecretAccessKey"])
    params = dict(ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"}, State="DISABLED",
                  Target=target(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"))
    planner.create_schedule(Name="mine", GroupName="team", **params)
    assert planner.get_schedule(Name="mine", GroupName="team")["Name"] == "mine"
    with pytest.raises(ClientError) as e:
        planner.create_schedule(Name="elsewhere", **params)
    assert error_code(e.value) == "AccessDeniedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        planner.delete_schedule(Name="mine", GroupName="team")
    assert error_code(e.value) == "AccessDeniedException"
    # Unsigned requests are refused; the root key may do anything.
    assert requests.get(f"{srv.url}/schedules", timeout=30).status_code == 403
    root_sched.delete_schedule(Name="mine", GroupName="team")

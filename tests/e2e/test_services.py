"""Requests for AWS services and operations that Ignis does not serve are
answered in that service's own error shape, naming the service and the
operation (issue 10), so the SDK that sent them reports a clear error in its
own terms: JSON protocol (Systems Manager, CloudWatch Logs), query protocol
(CloudFormation; an SQS action outside its API in SQS's older form),
REST-XML (S3), each signed by botocore. SQS itself is served
(tests/e2e/test_sqs.py)."""

from __future__ import annotations

import os
import subprocess

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests
from botocore.exceptions import ClientError

from support import REGION, aws_client, error_code, error_message


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


def test_json_protocol(url):
    e = refused(lambda: aws_client(url, "ssm").describe_parameters())
    assert error_code(e) == "UnknownOperationException"
    assert error_message(e) == "SSM DescribeParameters is not served by Ignis"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_cloudwatch_logs(url):
    e = refused(lambda: aws_client(url, "logs").describe_log_groups())
    assert error_code(e) == "UnknownOperationException"
    assert error_message(e) == "CloudWatch Logs DescribeLogGroups is not served by Ignis"


def test_s3_rest_xml(url):
    """S3 is served now; what it does not serve (setting transfer
    acceleration or replication, enabling versioning) is S3's own
    NotImplemented, 501, in the REST-XML shape — and a request naming such
    a sub-resource never falls through to the bucket operation (DELETE
    ?replication does not delete the bucket)."""
    s3 = aws_client(url, "s3")
    bucket = "services-probe"
    s3.create_bucket(Bucket=bucket)
    try:
        e = refused(lambda: s3.put_bucket_accelerate_configuration(
            Bucket=bucket, AccelerateConfiguration={"Status": "Enabled"},
        ))
        assert error_code(e) == "NotImplemented"
        assert "accelerate" in error_message(e)
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        e = refused(lambda: s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"},
        ))
        assert error_code(e) == "NotImplemented"
        e = refused(lambda: s3.delete_bucket_replication(Bucket=bucket))
        assert error_code(e) == "NotImplemented"
        s3.head_bucket(Bucket=bucket)
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0, "nothing stored"
    finally:
        s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    "service,call,operation",
    [
        ("cloudformation", lambda c: c.list_stacks(), "CloudFormation ListStacks"),
    ],
)
def test_query_protocol(url, service, call, operation):
    e = refused(lambda: call(aws_client(url, service)))
    assert error_code(e) == "InvalidAction"
    assert error_message(e) == f"{operation} is not served by Ignis"


def test_sqs_query_protocol_signed_by_botocore(url):
    """SQS's older query protocol (form-encoded Action), as older SDKs send
    it: an action outside SQS's API is refused in that protocol's shape."""
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=url + "/",
        data="Action=SendMail&QueueUrl=q&MessageBody=hi&Version=2012-11-05",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("x", "x"), "sqs", REGION).add_auth(req)
    resp = requests.post(req.url, data=req.body, headers=dict(req.headers), timeout=10)
    assert resp.status_code == 400
    assert "<Type>Sender</Type><Code>InvalidAction</Code>" in resp.text
    assert "The action SendMail is not valid for this endpoint." in resp.text


def test_aws_cli_reports_the_service_and_operation(url, tmp_path):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_MAX_ATTEMPTS="1")
    out = subprocess.run(["aws", "--endpoint-url", url, "logs", "describe-log-groups"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "(UnknownOperationException)" in out.stderr
    assert "CloudWatch Logs DescribeLogGroups is not served by Ignis" in out.stderr


def test_lambda_operations_ignis_lacks_are_named(lam):
    e = refused(lambda: lam.list_code_signing_configs())
    assert error_code(e) == "UnknownOperationException"
    assert error_message(e).startswith("Lambda ListCodeSigningConfigs is not served by Ignis")


def test_an_unknown_operation_of_a_known_service(url):
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=url + "/",
        data="{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.Fly"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("x", "x"), "logs", REGION).add_auth(req)
    resp = requests.post(req.url, data=req.body, headers=dict(req.headers), timeout=10)
    assert resp.status_code == 400
    assert resp.json()["message"] == "Fly is not an operation of CloudWatch Logs"

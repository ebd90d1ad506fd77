"""Every operation of Lambda's model, as botocore loads it, answers with a 2xx
or with an error the model declares for that operation: never
UnknownOperationException (Ignis's answer for an operation it does not
serve), never an error type the SDKs do not expect from it.

The families other issues own, or that Ignis leaves out, are listed with
the reason; the operations of the versions/concurrency slice are walked
too and skipped, saying so, while they still answer
UnknownOperationException."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from support import REPO, ROLE, build_zip, error_code, error_message

MODEL = boto3.session.Session(region_name="us-east-1").client("lambda")._service_model

EXCLUDED = {
    **{
        op: "code signing: Ignis verifies no signatures (GetFunctionCodeSigningConfig answers none)"
        for op in [
            "CreateCodeSigningConfig",
            "DeleteCodeSigningConfig",
            "GetCodeSigningConfig",
            "ListCodeSigningConfigs",
            "UpdateCodeSigningConfig",
            "ListFunctionsByCodeSigningConfig",
            "PutFunctionCodeSigningConfig",
            "DeleteFunctionCodeSigningConfig",
        ]
    },
    **{
        op: "capacity providers (Lambda Managed Instances) are not part of Ignis"
        for op in [
            "CreateCapacityProvider",
            "DeleteCapacityProvider",
            "GetCapacityProvider",
            "ListCapacityProviders",
            "UpdateCapacityProvider",
            "ListFunctionVersionsByCapacityProvider",
        ]
    },
    **{
        op: "durable executions are not part of Ignis"
        for op in MODEL.operation_names
        if "DurableExecution" in op
    },
}

# Built by the versions/concurrency slice; walked once they answer.
VERSIONS_SLICE = {
    op
    for op in MODEL.operation_names
    if op in ("PublishVersion", "ListVersionsByFunction")
    or "Alias" in op
    or "Concurrency" in op
}

# Served by no issue yet: walked, and expected to fail until they are (strict,
# so serving one turns this list into a failure to update).
NOT_YET: dict[str, str] = {}

WALK = "walk-fn"
LAYER = "walk-layer"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:000000000000:function:{WALK}"
ZIP = build_zip([("bootstrap", b"#!/bin/sh\nexit 0\n", 0o755)])
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "walk-put",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": FUNCTION_ARN,
            }
        ],
    }
)

# One valid-looking request per operation, against the function and layer
# the module creates; destructive operations name things that do not exist.
PARAMS = {
    "AddLayerVersionPermission": dict(
        LayerName=LAYER, VersionNumber=1, StatementId="walk", Action="lambda:GetLayerVersion", Principal="*"
    ),
    "AddPermission": dict(
        FunctionName=WALK, StatementId="walk", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"
    ),
    "CreateAlias": dict(FunctionName=WALK, Name="walk", FunctionVersion="1"),
    "CreateFunctionUrlConfig": dict(FunctionName=WALK, AuthType="NONE"),
    "CreateEventSourceMapping": dict(
        FunctionName=WALK, EventSourceArn="arn:aws:sqs:us-east-1:000000000000:walk-missing-queue"
    ),
    "DeleteEventSourceMapping": dict(UUID="00000000-0000-4000-8000-000000000000"),
    "GetEventSourceMapping": dict(UUID="00000000-0000-4000-8000-000000000000"),
    "ListEventSourceMappings": dict(FunctionName=WALK),
    "UpdateEventSourceMapping": dict(UUID="00000000-0000-4000-8000-000000000000", BatchSize=5),
    "CreateFunction": dict(
        FunctionName=WALK, Runtime="provided.al2023", Handler="bootstrap", Role=ROLE, Code={"ZipFile": ZIP}
    ),
    "DeleteAlias": dict(FunctionName=WALK, Name="walk-missing"),
    "DeleteFunction": dict(FunctionName="walk-missing"),
    "DeleteFunctionConcurrency": dict(FunctionName=WALK),
    "DeleteFunctionEventInvokeConfig": dict(FunctionName=WALK, Qualifier="walk"),
    "DeleteFunctionUrlConfig": dict(FunctionName=WALK, Qualifier="walk"),
    "DeleteLayerVersion": dict(LayerName=LAYER, VersionNumber=99),
    "DeleteProvisionedConcurrencyConfig": dict(FunctionName=WALK, Qualifier="walk"),
    "DeleteResourcePolicy": dict(ResourceArn=FUNCTION_ARN + ":missing"),
    "GetAccountSettings": dict(),
    "GetAlias": dict(FunctionName=WALK, Name="walk"),
    "GetFunction": dict(FunctionName=WALK),
    "GetFunctionCodeSigningConfig": dict(FunctionName=WALK),
    "GetFunctionConcurrency": dict(FunctionName=WALK),
    "GetFunctionConfiguration": dict(FunctionName=WALK),
    "GetFunctionEventInvokeConfig": dict(FunctionName=WALK),
    "GetFunctionRecursionConfig": dict(FunctionName=WALK),
    "GetFunctionUrlConfig": dict(FunctionName=WALK),
    "GetFunctionScalingConfig": dict(FunctionName=WALK, Qualifier="1"),
    "GetLayerVersion": dict(LayerName=LAYER, VersionNumber=1),
    "GetLayerVersionByArn": dict(Arn=f"arn:aws:lambda:us-east-1:000000000000:layer:{LAYER}:1"),
    "GetLayerVersionPolicy": dict(LayerName=LAYER, VersionNumber=1),
    "GetPolicy": dict(FunctionName=WALK),
    "GetProvisionedConcurrencyConfig": dict(FunctionName=WALK, Qualifier="walk"),
    "GetResourcePolicy": dict(ResourceArn=FUNCTION_ARN),
    "GetRuntimeManagementConfig": dict(FunctionName=WALK),
    "Invoke": dict(FunctionName=WALK, Payload=b"{}"),
    "InvokeAsync": dict(FunctionName=WALK, InvokeArgs=b"{}"),
    "InvokeWithResponseStream": dict(FunctionName=WALK, Payload=b"{}"),
    "ListAliases": dict(FunctionName=WALK),
    "ListFunctionUrlConfigs": dict(FunctionName=WALK),
    "ListFunctionEventInvokeConfigs": dict(FunctionName=WALK),
    "ListFunctions": dict(),
    "ListLayerVersions": dict(LayerName=LAYER),
    "ListLayers": dict(),
    "ListProvisionedConcurrencyConfigs": dict(FunctionName=WALK),
    "ListTags": dict(Resource=FUNCTION_ARN),
    "ListVersionsByFunction": dict(FunctionName=WALK),
    "PublishLayerVersion": dict(LayerName=LAYER, Content={"ZipFile": ZIP}),
    "PublishVersion": dict(FunctionName=WALK),
    "PutFunctionConcurrency": dict(FunctionName=WALK, ReservedConcurrentExecutions=5),
    "PutFunctionEventInvokeConfig": dict(FunctionName=WALK, MaximumRetryAttempts=1),
    "PutFunctionRecursionConfig": dict(FunctionName=WALK, RecursiveLoop="Terminate"),
    "PutFunctionScalingConfig": dict(FunctionName=WALK, Qualifier="1", FunctionScalingConfig={}),
    "PutProvisionedConcurrencyConfig": dict(FunctionName=WALK, Qualifier="walk", ProvisionedConcurrentExecutions=1),
    "PutResourcePolicy": dict(ResourceArn=FUNCTION_ARN, Policy=POLICY),
    "PutRuntimeManagementConfig": dict(FunctionName=WALK, UpdateRuntimeOn="Auto"),
    "RemoveLayerVersionPermission": dict(LayerName=LAYER, VersionNumber=1, StatementId="walk"),
    "RemovePermission": dict(FunctionName=WALK, StatementId="walk"),
    "TagResource": dict(Resource=FUNCTION_ARN, Tags={"walk": "1"}),
    "UntagResource": dict(Resource=FUNCTION_ARN, TagKeys=["walk"]),
    "UpdateAlias": dict(FunctionName=WALK, Name="walk", Description="walked"),
    "UpdateFunctionCode": dict(FunctionName=WALK, ZipFile=ZIP),
    "UpdateFunctionConfiguration": dict(FunctionName=WALK, Description="walked"),
    "UpdateFunctionEventInvokeConfig": dict(FunctionName=WALK, MaximumRetryAttempts=0),
    "UpdateFunctionUrlConfig": dict(FunctionName=WALK, AuthType="AWS_IAM"),
}


def test_the_model_is_the_shared_one():
    """botocore's model and the one in ../shared/specs list the same operations."""
    shared = REPO.parent / "shared" / "specs" / "botocore" / "lambda" / "service-2.json"
    if not shared.exists():
        pytest.skip(f"{shared} is not present")
    ops = set(json.loads(Path(shared).read_text())["operations"])
    assert ops == set(MODEL.operation_names)


def test_every_walked_operation_has_a_request():
    """A new operation in the model must be listed here: walked or excluded."""
    missing = [op for op in MODEL.operation_names if op not in EXCLUDED and op not in PARAMS]
    assert not missing, f"operations neither walked nor excluded: {missing}"


@pytest.fixture(scope="module")
def walked(lam, lam_raw):
    """The function (with a published version and an alias when that slice
    answers) and the layer version the walk uses; deleted afterwards."""
    lam.create_function(**PARAMS["CreateFunction"])
    lam.get_waiter("function_active_v2").wait(FunctionName=WALK, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    lam.publish_layer_version(LayerName=LAYER, Content={"ZipFile": ZIP})
    try:
        lam.publish_version(FunctionName=WALK)
        lam.create_alias(FunctionName=WALK, Name="walk", FunctionVersion="1")
    except ClientError as e:
        if error_code(e) != "UnknownOperationException":
            raise
    yield lam_raw
    lam.delete_function(FunctionName=WALK)
    for v in lam.list_layer_versions(LayerName=LAYER)["LayerVersions"]:
        lam.delete_layer_version(LayerName=LAYER, VersionNumber=v["Version"])


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(op, marks=pytest.mark.skip(reason=EXCLUDED[op]))
        if op in EXCLUDED
        else pytest.param(op, marks=pytest.mark.xfail(strict=True, reason=NOT_YET[op]))
        if op in NOT_YET
        else op
        for op in MODEL.operation_names
    ],
)
def test_operation_answers_as_the_model_declares(walked, op):
    client = walked
    declared = {shape.name for shape in MODEL.operation_model(op).error_shapes}
    call = getattr(client, xform_name(op))
    try:
        resp = call(**PARAMS[op])
    except ClientError as e:
        code = error_code(e)
        if code == "UnknownOperationException" and op in VERSIONS_SLICE:
            pytest.skip(f"{op}: owned by the versions/concurrency slice, not served yet ({error_message(e)})")
        assert code != "UnknownOperationException", f"{op} is not served: {error_message(e)}"
        assert code in declared, f"{op} answered {code} ({error_message(e)}); the model declares {sorted(declared)}"
        return
    status = resp["ResponseMetadata"]["HTTPStatusCode"]
    assert 200 <= status < 300, f"{op} answered {status}"
    if "EventStream" in resp:
        list(resp["EventStream"])

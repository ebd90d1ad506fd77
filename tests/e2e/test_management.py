"""Management API with boto3: every operation of the issue, the Lambda fields
it reports, pagination, waiters and the error types of its limits."""

from __future__ import annotations

import json
import os
import re

import pytest
from botocore.exceptions import ClientError

from support import ROLE, build_zip, code_sha256, error_code, error_message, lambda_client

ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:(?P<name>[A-Za-z0-9_-]+)$")
LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def all_functions(lam) -> list[dict]:
    return [f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]]


def test_create_reports_lambda_fields(lam, deploy, echo_zip, fname):
    created = deploy(echo_zip, wait=False, Description="made by e2e", Timeout=7, MemorySize=256)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == fname
    assert ARN.match(created["FunctionArn"]).group("name") == fname
    assert created["Runtime"] == "provided.al2023"
    assert created["Handler"] == "bootstrap"
    assert created["Role"] == ROLE
    assert created["Description"] == "made by e2e"
    assert created["Timeout"] == 7
    assert created["MemorySize"] == 256
    assert created["Version"] == "$LATEST"
    assert created["CodeSha256"] == code_sha256(echo_zip)
    assert created["CodeSize"] == len(echo_zip)
    assert LAST_MODIFIED.match(created["LastModified"]), created["LastModified"]
    assert created["State"] in ("Pending", "Active")
    assert created.get("PackageType", "Zip") == "Zip"

    lam.get_waiter("function_active_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    got = lam.get_function(FunctionName=fname)
    conf = got["Configuration"]
    assert conf["State"] == "Active"
    assert conf["LastUpdateStatus"] == "Successful"
    assert conf["FunctionArn"] == created["FunctionArn"]
    assert conf["CodeSha256"] == code_sha256(echo_zip)
    assert "Code" in got


def test_defaults_are_lambdas(lam, deploy, echo_zip):
    created = deploy(echo_zip)
    assert created["Timeout"] == 3
    assert created["MemorySize"] == 128
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["Architectures"] == ["x86_64"]


def test_get_function_configuration_matches_get_function(lam, deploy, echo_zip, fname):
    deploy(echo_zip)
    conf = lam.get_function_configuration(FunctionName=fname)
    full = lam.get_function(FunctionName=fname)["Configuration"]
    for key in ("FunctionName", "FunctionArn", "CodeSha256", "CodeSize", "Runtime", "Handler", "Version", "State"):
        assert conf[key] == full[key], key


def test_get_by_arn(lam, deploy, echo_zip, fname):
    arn = deploy(echo_zip)["FunctionArn"]
    assert lam.get_function(FunctionName=arn)["Configuration"]["FunctionName"] == fname


def test_configuration_round_trips(lam, deploy, echo_zip, fname):
    deploy(
        echo_zip,
        Description="first",
        Timeout=10,
        MemorySize=256,
        Environment={"Variables": {"ALPHA": "1", "BETA": "two"}},
        EphemeralStorage={"Size": 1024},
        Architectures=["x86_64"],
        Tags={"team": "e2e", "cost-center": "42"},
    )
    got = lam.get_function(FunctionName=fname)
    assert got["Tags"] == {"team": "e2e", "cost-center": "42"}
    conf = got["Configuration"]
    assert conf["Description"] == "first"
    assert conf["Environment"]["Variables"] == {"ALPHA": "1", "BETA": "two"}
    assert conf["EphemeralStorage"] == {"Size": 1024}

    role2 = "arn:aws:iam::123456789012:role/other"
    updated = lam.update_function_configuration(
        FunctionName=fname,
        Description="second",
        Timeout=20,
        MemorySize=512,
        Environment={"Variables": {"GAMMA": "3"}},
        EphemeralStorage={"Size": 2048},
        Handler="main.handler",
        Runtime="provided.al2",
        Role=role2,
    )
    assert updated["LastUpdateStatus"] in ("InProgress", "Successful")
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    conf = lam.get_function_configuration(FunctionName=fname)
    assert conf["Description"] == "second"
    assert conf["Timeout"] == 20
    assert conf["MemorySize"] == 512
    assert conf["Environment"]["Variables"] == {"GAMMA": "3"}
    assert conf["EphemeralStorage"] == {"Size": 2048}
    assert conf["Handler"] == "main.handler"
    assert conf["Runtime"] == "provided.al2"
    assert conf["Role"] == role2
    assert conf["LastUpdateStatus"] == "Successful"
    assert lam.get_function(FunctionName=fname)["Tags"] == {"team": "e2e", "cost-center": "42"}


def test_update_code_changes_sha_and_architecture(lam, deploy, echo_zip, shell_zip, fname):
    deploy(shell_zip("shell-echo"), Handler="function.handler")
    updated = lam.update_function_code(FunctionName=fname, ZipFile=echo_zip, Architectures=["arm64"])
    assert updated["CodeSha256"] == code_sha256(echo_zip)
    assert updated["CodeSize"] == len(echo_zip)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    conf = lam.get_function_configuration(FunctionName=fname)
    assert conf["CodeSha256"] == code_sha256(echo_zip)
    assert conf["Architectures"] == ["arm64"]
    assert conf["LastUpdateStatus"] == "Successful"


def test_update_code_runs_new_code(lam, deploy, echo_zip, shell_zip, fname):
    deploy(shell_zip("shell-echo"), Handler="function.handler", Timeout=30)
    first = json.loads(lam.invoke(FunctionName=fname, Payload=b'{"op":"count"}')["Payload"].read())
    assert first["event"] == {"op": "count"}, first
    lam.update_function_code(FunctionName=fname, ZipFile=echo_zip)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    second = json.loads(lam.invoke(FunctionName=fname, Payload=b'{"op":"count"}')["Payload"].read())
    assert second["count"] == 1, second


def test_list_functions_pagination(lam, deploy, echo_zip, fname):
    names = {deploy(echo_zip, name=f"{fname}-{i}", wait=False)["FunctionName"] for i in range(5)}
    seen: list[str] = []
    marker = None
    for _ in range(500):
        kwargs = {"MaxItems": 2}
        if marker:
            kwargs["Marker"] = marker
        page = lam.list_functions(**kwargs)
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert len(seen) == len(set(seen)), "a function was listed twice"
    assert names <= set(seen)

    via_paginator = [
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 3})
        for f in page["Functions"]
    ]
    assert len(via_paginator) == len(set(via_paginator))
    assert names <= set(via_paginator)
    listed = {f["FunctionName"]: f for f in all_functions(lam)}
    assert listed[f"{fname}-0"]["CodeSha256"] == code_sha256(echo_zip)


def test_delete(lam, deploy, echo_zip, fname):
    deploy(echo_zip)
    resp = lam.delete_function(FunctionName=fname)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=fname)
    assert error_code(e.value) == "ResourceNotFoundException"
    assert fname not in {f["FunctionName"] for f in all_functions(lam)}


def test_delete_of_latest_by_qualifier_is_refused(lam, deploy, echo_zip, fname):
    """A qualifier names a version to delete; $LATEST is not one (Lambda
    refuses it), so a version-pruning script cannot wipe the function."""
    deploy(echo_zip)
    for kwargs in ({"FunctionName": fname, "Qualifier": "$LATEST"}, {"FunctionName": f"{fname}:$LATEST"}):
        with pytest.raises(ClientError) as e:
            lam.delete_function(**kwargs)
        assert error_code(e.value) == "InvalidParameterValueException", kwargs
        assert "$LATEST version cannot be deleted" in error_message(e.value)
    assert lam.get_function(FunctionName=fname)["Configuration"]["FunctionName"] == fname


def test_an_update_racing_tag_operations_still_finishes(lam, deploy, echo_zip, fname):
    """TagResource / UntagResource while an update is in progress: the
    update still ends Successful (it once stayed InProgress for good), and
    neither the tags nor the update are lost."""
    import threading

    arn = deploy(echo_zip)["FunctionArn"]
    waiter = lam.get_waiter("function_updated_v2")
    for i in range(6):
        def tag():
            for j in range(5):
                lam.tag_resource(Resource=arn, Tags={f"k{j}": str(i)})
            lam.untag_resource(Resource=arn, TagKeys=["k4"])

        tagger = threading.Thread(target=tag)
        tagger.start()
        lam.update_function_configuration(FunctionName=fname, Description=f"d{i}")
        tagger.join()
        waiter.wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        got = lam.get_function(FunctionName=fname)
        assert got["Configuration"]["LastUpdateStatus"] == "Successful"
        assert got["Configuration"]["Description"] == f"d{i}"
        assert got["Tags"] == {f"k{j}": str(i) for j in range(4)}


def test_an_operation_ignis_lacks_is_not_a_missing_function(lam, deploy, echo_zip, fname):
    """Code signing is outside what Ignis serves: PutFunctionCodeSigningConfig
    answers UnknownOperationException naming the operation, never "the
    function does not exist" (a tool would then recreate it)."""
    deploy(echo_zip)
    csc = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0"
    with pytest.raises(ClientError) as e:
        lam.put_function_code_signing_config(CodeSigningConfigArn=csc, FunctionName=fname)
    assert error_code(e.value) == "UnknownOperationException"
    assert "PutFunctionCodeSigningConfig" in error_message(e.value)


def test_account_settings(lam, deploy, echo_zip):
    deploy(echo_zip)
    settings = lam.get_account_settings()
    limit, usage = settings["AccountLimit"], settings["AccountUsage"]
    assert limit["CodeSizeZipped"] == 50 * 1024 * 1024
    assert limit["CodeSizeUnzipped"] == 250 * 1024 * 1024
    assert limit["ConcurrentExecutions"] > 0
    assert usage["FunctionCount"] >= 1
    assert usage["TotalCodeSize"] >= len(echo_zip)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("call", ["get_function", "get_function_configuration", "delete_function"])
def test_missing_function_is_not_found(lam, call, fname):
    with pytest.raises(ClientError) as e:
        getattr(lam, call)(FunctionName=fname)
    assert error_code(e.value) == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_update_missing_function_is_not_found(lam, fname, echo_zip):
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=fname, Timeout=5)
    assert error_code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName=fname, ZipFile=echo_zip)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_invoke_missing_function_is_not_found(lam, fname):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=fname, Payload=b"{}")
    assert error_code(e.value) == "ResourceNotFoundException"


def test_create_twice_conflicts(lam, deploy, echo_zip, fname):
    deploy(echo_zip)
    with pytest.raises(ClientError) as e:
        deploy(echo_zip, name=fname)
    assert error_code(e.value) == "ResourceConflictException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def create_params(fname, code, **overrides):
    params = {
        "FunctionName": fname,
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Role": ROLE,
        "Code": {"ZipFile": code},
    }
    params.update(overrides)
    return params


INVALID_CREATES = [
    ("timeout-901", {"Timeout": 901}, "InvalidParameterValueException", "900"),
    ("memory-10241", {"MemorySize": 10241}, "InvalidParameterValueException", "10240"),
    ("unknown-runtime", {"Runtime": "cobol85"}, "InvalidParameterValueException", "cobol85"),
    ("reserved-env", {"Environment": {"Variables": {"AWS_REGION": "x"}}}, "InvalidParameterValueException", "AWS_REGION"),
    ("env-over-4kb", {"Environment": {"Variables": {"BIG": "x" * 5000}}}, "InvalidParameterValueException", r"4 ?KB"),
    ("memory-64", {"MemorySize": 64}, "ValidationException", "128"),
    ("timeout-0", {"Timeout": 0}, "ValidationException", ""),
    ("ephemeral-10241", {"EphemeralStorage": {"Size": 10241}}, "InvalidParameterValueException", "10240"),
    ("log-format-lowercase", {"LoggingConfig": {"LogFormat": "json"}}, "ValidationException", r"\[JSON, Text\]"),
    ("system-log-level", {"LoggingConfig": {"LogFormat": "JSON", "SystemLogLevel": "ERROR"}}, "ValidationException", "systemLogLevel"),
]


@pytest.mark.parametrize("case,overrides,code,needle", INVALID_CREATES, ids=[c[0] for c in INVALID_CREATES])
def test_create_limits(lam, lam_raw, fname, echo_zip, case, overrides, code, needle):
    with pytest.raises(ClientError) as e:
        lam_raw.create_function(**create_params(fname, echo_zip, **overrides))
    assert error_code(e.value) == code, e.value.response
    assert re.search(needle, error_message(e.value), re.I), error_message(e.value)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=fname)
    assert error_code(e.value) == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "overrides,code",
    [
        ({"Timeout": 901}, "InvalidParameterValueException"),
        ({"MemorySize": 10241}, "InvalidParameterValueException"),
        ({"MemorySize": 64}, "ValidationException"),
        ({"Runtime": "cobol85"}, "InvalidParameterValueException"),
        ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "InvalidParameterValueException"),
        ({"LoggingConfig": {"ApplicationLogLevel": "LOUD"}}, "ValidationException"),
    ],
    ids=["timeout-901", "memory-10241", "memory-64", "unknown-runtime", "reserved-env", "app-log-level"],
)
def test_update_limits(lam, lam_raw, deploy, echo_zip, fname, overrides, code):
    deploy(echo_zip)
    with pytest.raises(ClientError) as e:
        lam_raw.update_function_configuration(FunctionName=fname, **overrides)
    assert error_code(e.value) == code
    conf = lam.get_function_configuration(FunctionName=fname)
    assert conf["Timeout"] == 3 and conf["MemorySize"] == 128 and conf["Runtime"] == "provided.al2023"


@pytest.mark.parametrize("bad", ["bad name!", "semi;colon", "dots.are.not.allowed"])
def test_bad_function_name(lam_raw, echo_zip, bad):
    with pytest.raises(ClientError) as e:
        lam_raw.create_function(**create_params(bad, echo_zip))
    assert error_code(e.value) == "ValidationException", e.value.response


def test_function_name_over_64_characters(lam_raw, echo_zip):
    with pytest.raises(ClientError) as e:
        lam_raw.create_function(**create_params("x" * 65, echo_zip))
    assert error_code(e.value) in ("ValidationException", "InvalidParameterValueException"), e.value.response


def test_zip_over_50mb_is_too_large(lam, url, fname):
    # A 60 MB zip (the example): the client must get the error, not a
    # connection closed mid-upload. Its own client: what the server does with
    # the connection afterwards is test_bad_input's concern.
    big = build_zip([("bootstrap", b"#!/bin/sh\n", 0o755), ("blob", os.urandom(60 * 1024 * 1024))], compression=0)
    with pytest.raises(ClientError) as e:
        lambda_client(url).create_function(**create_params(fname, big))
    assert error_code(e.value) == "RequestTooLargeException", e.value.response
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=fname)
    assert error_code(e.value) == "ResourceNotFoundException"

"""Layers through boto3: the six layer operations with Lambda's shapes and
errors, functions referencing layers (unpacked in order, later layers
winning, `bin/` on PATH, a `bootstrap` shipped in a layer, a Python package
under `python/`), and the limits: 5 layers, existing versions only, 250 MB
unpacked for code and layers together."""

from __future__ import annotations

import base64
import hashlib

import pytest
import requests
from botocore.exceptions import ClientError

from support import FIXTURES, build_zip, error_code, error_message, invoke

ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:layer:"

GREET_HANDLER = """\
function handler () {
  echo "{\\"greet\\": \\"$(greet)\\", \\"first\\": \\"$(first-only)\\"}"
}
"""

PY_HANDLER = """\
import ignis_layer_dep

def main(event, context):
    return {"dep": ignis_layer_dep.hello(), "file": ignis_layer_dep.__file__}
"""


def script(text: str) -> tuple:
    return (text, 0o755)


@pytest.fixture
def publish(lam, fname):
    """Publishes layer versions named after the test; deletes them at teardown."""
    made: list[tuple[str, int]] = []

    def publish_version(suffix: str, entries: list[tuple], **params) -> dict:
        name = f"{fname}-{suffix}"
        resp = lam.publish_layer_version(LayerName=name, Content={"ZipFile": build_zip(entries)}, **params)
        made.append((name, resp["Version"]))
        return resp

    yield publish_version
    for name, version in made:
        lam.delete_layer_version(LayerName=name, VersionNumber=version)


def python_runtime(url: str) -> str:
    listed = requests.get(f"{url}/ignis/v1/runtimes", timeout=30).json()["Runtimes"]
    for r in listed:
        if r["Runtime"].startswith("python3") and r["Available"]:
            return r["Runtime"]
    pytest.skip("no python3 interpreter on this machine")


def test_publish_get_list_delete(lam, publish, fname):
    entries = [("python/x.py", "X = 1")]
    zip_bytes = build_zip(entries)
    v1 = publish(
        "deps", entries, Description="first", CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=["x86_64"], LicenseInfo="MIT",
    )
    name = f"{fname}-deps"
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == 1
    assert v1["LayerArn"] == ARN_PREFIX + name
    assert v1["LayerVersionArn"] == f"{ARN_PREFIX}{name}:1"
    assert v1["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert v1["Content"]["CodeSize"] == len(zip_bytes)
    assert (v1["Description"], v1["LicenseInfo"]) == ("first", "MIT")
    assert v1["CompatibleRuntimes"] == ["python3.12"]
    assert v1["CompatibleArchitectures"] == ["x86_64"]
    downloaded = requests.get(v1["Content"]["Location"], timeout=30)
    assert downloaded.status_code == 200 and downloaded.content == zip_bytes

    v2 = publish("deps", [("python/x.py", "X = 2")], CompatibleRuntimes=["nodejs22.x"])
    assert v2["Version"] == 2

    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["LayerVersionArn"] == v1["LayerVersionArn"]
    assert got["Content"]["CodeSha256"] == v1["Content"]["CodeSha256"]
    by_arn = lam.get_layer_version_by_arn(Arn=v2["LayerVersionArn"])
    assert by_arn["Version"] == 2
    by_layer_arn = lam.get_layer_version(LayerName=v1["LayerArn"], VersionNumber=2)
    assert by_layer_arn["Version"] == 2

    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    page = lam.list_layer_versions(LayerName=name, MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2]
    page = lam.list_layer_versions(LayerName=name, MaxItems=1, Marker=page["NextMarker"])
    assert [v["Version"] for v in page["LayerVersions"]] == [1]
    assert "NextMarker" not in page
    only_py = lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.12")["LayerVersions"]
    assert [v["Version"] for v in only_py] == [1]

    paginator = lam.get_paginator("list_layers")
    mine = [l for p in paginator.paginate(PaginationConfig={"PageSize": 1}) for l in p["Layers"] if l["LayerName"] == name]
    assert len(mine) == 1 and mine[0]["LatestMatchingVersion"]["Version"] == 2
    assert mine[0]["LayerArn"] == v1["LayerArn"]
    filtered = [l for l in lam.list_layers(CompatibleRuntime="python3.12")["Layers"] if l["LayerName"] == name]
    assert filtered[0]["LatestMatchingVersion"]["Version"] == 1

    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    lam.delete_layer_version(LayerName=name, VersionNumber=2)  # idempotent, as on Lambda
    with pytest.raises(ClientError) as err:
        lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert error_code(err.value) == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as err:
        lam.get_layer_version_by_arn(Arn=v2["LayerVersionArn"])
    assert error_code(err.value) == "ResourceNotFoundException"
    v3 = publish("deps", entries)
    assert v3["Version"] == 3, "version numbers are never reused"


def test_bootstrap_from_a_layer_and_later_layers_win(lam, publish, deploy, fname):
    shell_bootstrap = (FIXTURES / "shell-echo" / "bootstrap").read_text()
    first = publish("runtime", [
        ("bootstrap", *script(shell_bootstrap)),
        ("bin/greet", *script("#!/bin/sh\necho one\n")),
        ("bin/first-only", *script("#!/bin/sh\necho kept\n")),
    ])
    second = publish("override", [("bin/greet", *script("#!/bin/sh\necho two\n"))])
    layers = [first["LayerVersionArn"], second["LayerVersionArn"]]
    config = deploy(build_zip([("function.sh", GREET_HANDLER)]), Handler="function.handler", Layers=layers)
    assert [l["Arn"] for l in config["Layers"]] == layers
    assert config["Layers"][0]["CodeSize"] == first["Content"]["CodeSize"]

    resp, _, body = invoke(lam, fname, {})
    assert "FunctionError" not in resp, body
    assert body == {"greet": "two", "first": "kept"}

    # Deleting a version in use leaves the function working.
    lam.delete_layer_version(LayerName=f"{fname}-override", VersionNumber=second["Version"])
    assert [l["Arn"] for l in lam.get_function_configuration(FunctionName=fname)["Layers"]] == layers
    lam.update_function_configuration(FunctionName=fname, Layers=[first["LayerVersionArn"]], Timeout=5)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    resp, _, body = invoke(lam, fname, {})
    assert body == {"greet": "one", "first": "kept"}, body


def test_python_dependency_in_a_layer(url, lam, publish, deploy, fname):
    runtime = python_runtime(url)
    dep = publish("pydeps", [("python/ignis_layer_dep/__init__.py", "def hello():\n    return 'from layer'\n")],
                  CompatibleRuntimes=[runtime])
    deploy(build_zip([("handler.py", PY_HANDLER)]), Runtime=runtime, Handler="handler.main",
           Layers=[dep["LayerVersionArn"]])
    resp, _, body = invoke(lam, fname, {})
    assert "FunctionError" not in resp, body
    assert body["dep"] == "from layer"
    assert body["file"].endswith("python/ignis_layer_dep/__init__.py")


def test_layer_limits(lam, lam_raw, publish, deploy, fname):
    small = publish("small", [("a.txt", "a")])["LayerVersionArn"]
    code = build_zip([("function.sh", GREET_HANDLER)])

    six = [publish(f"n{i}", [("f.txt", str(i))])["LayerVersionArn"] for i in range(6)]
    with pytest.raises(ClientError) as err:
        deploy(code, Handler="function.handler", Layers=six)
    assert error_code(err.value) == "InvalidParameterValueException"
    assert "more than 5 layers" in error_message(err.value)

    missing = f"{ARN_PREFIX}{fname}-never-published:1"
    with pytest.raises(ClientError) as err:
        deploy(code, Handler="function.handler", Layers=[small, missing])
    assert error_code(err.value) == "InvalidParameterValueException"
    assert error_message(err.value) == f"Layer version {missing} does not exist."

    with pytest.raises(ClientError) as err:
        deploy(code, Handler="function.handler", Layers=[f"{ARN_PREFIX}{fname}-small"])
    assert error_code(err.value) == "ValidationException"

    # 140 MB of zeros compresses to ~140 KB; two layers of it are over 250 MB.
    big = build_zip([("zeros.bin", bytes(140_000_000))])
    arns = []
    for suffix in ("big-a", "big-b"):
        v = lam.publish_layer_version(LayerName=f"{fname}-{suffix}", Content={"ZipFile": big})
        arns.append(v["LayerVersionArn"])
    try:
        with pytest.raises(ClientError) as err:
            deploy(code, Handler="function.handler", Layers=arns)
        assert error_code(err.value) == "InvalidParameterValueException"
        message = error_message(err.value)
        assert message.startswith(
            "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
            "The actual size is "
        ), message
        actual = int(message.rsplit(" is ", 1)[1].split()[0])
        assert actual > 280_000_000

        # The same limit on UpdateFunctionConfiguration.
        deploy(code, Handler="function.handler", Layers=[arns[0]])
        with pytest.raises(ClientError) as err:
            lam.update_function_configuration(FunctionName=fname, Layers=arns)
        assert error_code(err.value) == "InvalidParameterValueException"
    finally:
        for arn in arns:
            name, version = arn[len(ARN_PREFIX):].rsplit(":", 1)
            lam.delete_layer_version(LayerName=name, VersionNumber=int(version))

    with pytest.raises(ClientError) as err:
        lam_raw.publish_layer_version(LayerName="bad name", Content={"ZipFile": b"x"})
    assert error_code(err.value) == "ValidationException"
    with pytest.raises(ClientError) as err:
        lam.publish_layer_version(LayerName=f"{fname}-s3", Content={"S3Bucket": "bucket", "S3Key": "k"})
    assert error_code(err.value) == "InvalidParameterValueException"

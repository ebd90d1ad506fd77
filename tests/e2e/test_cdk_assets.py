"""CDK's asset publishing against Ignis's object store (issue 15): the real
`cdk-assets` (the AWS SDK for JavaScript v3 inside, as `cdk deploy` runs
it) publishes a zipped directory asset and a file asset to a bucket, with
`AWS_ENDPOINT_URL` pointing at Ignis; the objects arrive byte for byte, and
a second publish finds them there and uploads nothing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from support import REGION, aws_client

NPM = Path(os.environ.get("IGNIS_NPM", "/var/tmp/ignis-npm"))
CDK_ASSETS = NPM / "node_modules" / ".bin" / "cdk-assets"


def publish(url: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_REGION": REGION, "AWS_ENDPOINT_URL": url}
    return subprocess.run([str(CDK_ASSETS), "-v", "publish", "-p", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_cdk_assets_publishes_a_directory_and_a_file(url, tmp_path):
    if not CDK_ASSETS.exists():
        pytest.skip(f"cdk-assets is not installed under {NPM} (scripts/test.sh installs it)")
    s3 = aws_client(url, "s3")
    bucket = "cdk-assets-e2e"
    s3.create_bucket(Bucket=bucket)
    out = tmp_path / "cdk.out"
    (out / "asset.dir1").mkdir(parents=True)
    handler = b"exports.handler = async () => ({ ok: true });\n"
    (out / "asset.dir1" / "index.js").write_bytes(handler)
    blob = os.urandom(300_000)
    (out / "asset.file1.bin").write_bytes(blob)
    (out / "assets.json").write_text(json.dumps({
        "version": "36.0.0",
        "files": {
            "dir1": {"source": {"path": "asset.dir1", "packaging": "zip"},
                     "destinations": {"current": {"bucketName": bucket, "objectKey": "dir1.zip", "region": REGION}}},
            "file1": {"source": {"path": "asset.file1.bin", "packaging": "file"},
                      "destinations": {"current": {"bucketName": bucket, "objectKey": "file1.bin", "region": REGION}}},
        },
        "dockerImages": {},
    }))
    first = publish(url, out)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "upload: Upload s3://cdk-assets-e2e/dir1.zip" in first.stderr
    zipped = s3.get_object(Bucket=bucket, Key="dir1.zip")["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(zipped)).read("index.js") == handler
    assert s3.get_object(Bucket=bucket, Key="file1.bin")["Body"].read() == blob
    # Published already: checked, found, not uploaded again.
    again = publish(url, out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "upload:" not in again.stderr, again.stderr[-2000:]

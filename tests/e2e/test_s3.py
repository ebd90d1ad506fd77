"""Objects (issue 15): Ignis's S3-compatible store, with boto3 (its default
CRC32 checksums and `aws-chunked` uploads) and the AWS CLI — buckets,
objects round-tripped byte for byte, ranges and conditional requests,
listings with a delimiter and continuation, copies, batch deletes, tags,
multipart uploads (a 100 MB `aws s3 cp`, a folder `aws s3 sync`), S3's own
errors for bad input (nothing stored changed), presigned GET and PUT with
curl in `enforce` mode, notifications to a Python function and to a queue
with a suffix filter, and `kill -9` mid-upload: every acknowledged upload's
notification reaches the queue.
"""

from __future__ import annotations

import filecmp
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from support import REGION, ROLE, Server, aws_client, build_zip, error_code, lambda_client, python_runtime, wait_for, wait_log_line

ACCOUNT = "000000000000"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def s3(url):
    return aws_client(url, "s3")


@pytest.fixture
def bucket(s3):
    name = unique("bkt")
    s3.create_bucket(Bucket=name)
    return name


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    return info.value


def keys(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def aws_bin() -> str:
    beside_python = Path(sys.executable).parent / "aws"
    found = str(beside_python) if beside_python.exists() else shutil.which("aws")
    if not found:
        pytest.fail("the AWS CLI is not installed (scripts/test.sh installs it into the venv)")
    return found


def cli_env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
    }


def cli(url: str, tmp_path: Path, *args: str) -> str:
    # No retries: a response the CLI misreads must fail the test (an empty
    # file's `Expect: 100-continue` PUT once left botocore misreading the
    # next answer on that connection; see docs/objects.md).
    proc = subprocess.run([aws_bin(), "--endpoint-url", url, "--cli-read-timeout", "60", *args],
                          env=cli_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stderr}"
    return proc.stdout


# ------------------------------------------------------------------ buckets


def test_bucket_operations_and_their_errors(s3):
    name = unique("ops")
    s3.create_bucket(Bucket=name)
    s3.head_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert error_code(refused(lambda: s3.create_bucket(Bucket=name))) == "BucketAlreadyOwnedByYou"
    for bad in ["ab", "Upper-Case", "under_score", "-dash", "a..b", "192.168.0.1", "x" * 64]:
        e = refused(lambda: s3.create_bucket(Bucket=bad))
        assert error_code(e) == "InvalidBucketName", bad
    assert not [b for b in s3.list_buckets()["Buckets"] if b["Name"] in ("ab", "under_score")]
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert error_code(refused(lambda: s3.delete_bucket(Bucket=name))) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    e = refused(lambda: s3.head_bucket(Bucket=name))
    assert e.response["Error"]["Code"] == "404"
    assert error_code(refused(lambda: s3.list_objects_v2(Bucket=name))) == "NoSuchBucket"
    other = unique("loc")
    s3.create_bucket(Bucket=other)
    assert s3.get_bucket_location(Bucket=other)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=other)


# ------------------------------------------------------------------ objects


def test_put_get_round_trip_with_default_checksums(s3, bucket):
    body = os.urandom(3 * 1024 * 1024 + 17)
    put = s3.put_object(Bucket=bucket, Key="dir/blob.bin", Body=body, ContentType="application/x-test",
                        Metadata={"owner": "ann"})
    # boto3 sends a CRC32 in an aws-chunked trailer by default; S3 echoes it.
    assert "ChecksumCRC32" in put
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/blob.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "ann"}
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"]
    head = s3.head_object(Bucket=bucket, Key="dir/blob.bin")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    # A SHA-256 checksum, verified and returned (CRC32C needs botocore[crt]).
    for algorithm in ("SHA256",):
        r = s3.put_object(Bucket=bucket, Key=f"sum-{algorithm}", Body=b"checked", ChecksumAlgorithm=algorithm)
        g = s3.get_object(Bucket=bucket, Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
        assert g[f"Checksum{algorithm}"] == r[f"Checksum{algorithm}"]
        assert g["Body"].read() == b"checked"
    e = refused(lambda: s3.get_object(Bucket=bucket, Key="missing"))
    assert error_code(e) == "NoSuchKey"
    assert e.response["Error"]["Key"] == "missing"
    assert refused(lambda: s3.head_object(Bucket=bucket, Key="missing")).response["Error"]["Code"] == "404"


def test_a_wrong_checksum_or_digest_stores_nothing(url, s3, bucket):
    e = refused(lambda: s3.put_object(Bucket=bucket, Key="bad", Body=b"data", ChecksumCRC32="AAAAAA=="))
    assert error_code(e) == "BadDigest"
    e = refused(lambda: s3.put_object(Bucket=bucket, Key="bad", Body=b"data", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA=="))
    assert error_code(e) in ("BadDigest", "InvalidDigest")
    assert keys(s3, bucket) == []


def test_ranges_and_conditional_requests(s3, bucket):
    body = bytes(range(256)) * 4
    etag = s3.put_object(Bucket=bucket, Key="r", Body=body)["ETag"]
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["Body"].read() == body[10:20]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    assert error_code(refused(lambda: s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(body)}-"))) == "InvalidRange"

    assert s3.get_object(Bucket=bucket, Key="r", IfMatch=etag)["Body"].read() == body
    assert error_code(refused(lambda: s3.get_object(Bucket=bucket, Key="r", IfMatch='"nope"'))) == "PreconditionFailed"
    e = refused(lambda: s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag))
    assert e.response["Error"]["Code"] == "304"
    modified = s3.head_object(Bucket=bucket, Key="r")["LastModified"]
    later = formatdate(modified.timestamp() + 60, usegmt=True)
    earlier = formatdate(modified.timestamp() - 60, usegmt=True)
    assert refused(lambda: s3.get_object(Bucket=bucket, Key="r", IfModifiedSince=later)).response["Error"]["Code"] == "304"
    assert s3.get_object(Bucket=bucket, Key="r", IfModifiedSince=earlier)["Body"].read() == body
    e = refused(lambda: s3.get_object(Bucket=bucket, Key="r", IfUnmodifiedSince=earlier))
    assert error_code(e) == "PreconditionFailed"
    assert s3.head_object(Bucket=bucket, Key="r", IfMatch=etag)["ContentLength"] == len(body)


def test_listing_with_delimiter_and_continuation(s3, bucket):
    names = ["a/1", "a/2", "a/b/3", "b", "c/x", "c/y", "d", "é", "Z", "a+b c"]
    for k in names:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    # UTF-8 byte order.
    assert keys(s3, bucket) == sorted(names, key=lambda k: k.encode())
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["Z", "a+b c", "b", "d", "é"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "c/"]
    under_a = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in under_a["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in under_a["CommonPrefixes"]] == ["a/b/"]
    # Pages of two, each common prefix counted once.
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2, **kwargs)
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert page["KeyCount"] <= 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen, key=lambda k: k.encode()) == ["Z", "a+b c", "a/", "b", "c/", "d", "é"]
    assert pages == 4
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="c/x")
    assert [o["Key"] for o in after["Contents"]] == ["c/y", "d", "é"]
    # The paginator, and ListObjects v1 with a marker.
    paged = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}) for o in p["Contents"]]
    assert paged == sorted(names, key=lambda k: k.encode())
    v1 = s3.list_objects(Bucket=bucket, Marker="b", MaxKeys=2)
    assert [o["Key"] for o in v1["Contents"]] == ["c/x", "c/y"] and v1["IsTruncated"]


def test_copy_delete_objects_and_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"original", ContentType="text/plain", Metadata={"m": "1"},
                  Tagging="team=blue")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    c = s3.get_object(Bucket=bucket, Key="copy")
    assert c["Body"].read() == b"original" and c["Metadata"] == {"m": "1"} and c["ContentType"] == "text/plain"
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"m": "2"}, ContentType="application/json")
    r = s3.head_object(Bucket=bucket, Key="replaced")
    assert r["Metadata"] == {"m": "2"} and r["ContentType"] == "application/json"
    assert error_code(refused(lambda: s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src"))) == "InvalidRequest"
    assert error_code(refused(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/none"))) == "NoSuchKey"

    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == [{"Key": "team", "Value": "blue"}]
    s3.put_object_tagging(Bucket=bucket, Key="src", Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    s3.delete_object_tagging(Bucket=bucket, Key="src")
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == []

    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "src"}, {"Key": "copy"}, {"Key": "never-was"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["copy", "never-was", "src"]
    assert keys(s3, bucket) == ["replaced"]
    s3.delete_object(Bucket=bucket, Key="replaced")
    s3.delete_object(Bucket=bucket, Key="replaced")  # deleting nothing is fine
    assert keys(s3, bucket) == []


def test_bad_input_gets_s3_errors_and_changes_nothing(s3, bucket):
    e = refused(lambda: s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x"))
    assert error_code(e) == "KeyTooLongError"
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"x")
    assert keys(s3, bucket) == ["k" * 1024]
    assert error_code(refused(lambda: s3.put_object(Bucket=unique("nobucket"), Key="k", Body=b"x"))) == "NoSuchBucket"

    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))["ETag"]
    part2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=2, Body=b"b" * 10)["ETag"]
    wrong = refused(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part1}, {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}]}))
    assert error_code(wrong) == "InvalidPart"
    order = refused(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 2, "ETag": part2}, {"PartNumber": 1, "ETag": part1}]}))
    assert error_code(order) == "InvalidPartOrder"
    missing = refused(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part1}, {"PartNumber": 3, "ETag": part2}]}))
    assert error_code(missing) == "InvalidPart"
    assert "mp" not in keys(s3, bucket)
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"]] == [1, 2]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [upload]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part1}, {"PartNumber": 2, "ETag": part2}]})
    md5s = hashlib.md5(b"a" * (5 * 1024 * 1024)).digest() + hashlib.md5(b"b" * 10).digest()
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-2"'
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"a" * (5 * 1024 * 1024) + b"b" * 10
    assert error_code(refused(lambda: s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload))) == "NoSuchUpload"

    aborted = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="gone", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=aborted)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "gone" not in keys(s3, bucket)


def test_cli_copies_a_100_mb_file_and_syncs_a_folder(url, s3, tmp_path):
    bucket = unique("cli")
    cli(url, tmp_path, "s3", "mb", f"s3://{bucket}")
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1024 * 1024))
    # Flushed now, so the server's fsyncs do not pay for this file's pages.
    os.sync()
    cli(url, tmp_path, "s3", "cp", str(big), f"s3://{bucket}/big.bin")
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 100 * 1024 * 1024
    assert head["ETag"].endswith('-13"') or "-" in head["ETag"], head["ETag"]  # multipart
    back = tmp_path / "back.bin"
    cli(url, tmp_path, "s3", "cp", f"s3://{bucket}/big.bin", str(back))
    assert filecmp.cmp(big, back, shallow=False)
    # A copy inside the store: the CLI copies a large object by parts (UploadPartCopy).
    want = hashlib.md5(big.read_bytes()).hexdigest()
    big.unlink()
    back.unlink()
    cli(url, tmp_path, "s3", "cp", f"s3://{bucket}/big.bin", f"s3://{bucket}/copy.bin")
    copied = s3.get_object(Bucket=bucket, Key="copy.bin")
    assert copied["ContentLength"] == 100 * 1024 * 1024 and "-" in copied["ETag"]
    digest = hashlib.md5()
    for piece in copied["Body"].iter_chunks(1024 * 1024):
        digest.update(piece)
    assert digest.hexdigest() == want
    s3.delete_object(Bucket=bucket, Key="big.bin")
    s3.delete_object(Bucket=bucket, Key="copy.bin")
    os.sync()

    folder = tmp_path / "folder"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "many").mkdir()
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(70_000), "sub/deeper/c d.txt": b"with space", "empty": b""}
    # Enough files that the empty one's connection is reused by the CLI.
    files.update({f"many/f{i}.bin": os.urandom(2_000 if i % 3 else 10) for i in range(40)})
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    cli(url, tmp_path, "s3", "sync", str(folder), f"s3://{bucket}/site")
    listed = cli(url, tmp_path, "s3", "ls", "--recursive", f"s3://{bucket}/site/")
    for rel in files:
        assert f"site/{rel}" in listed
    out = tmp_path / "out"
    cli(url, tmp_path, "s3", "sync", f"s3://{bucket}/site", str(out))
    for rel, data in files.items():
        assert (out / rel).read_bytes() == data, rel
    # A second sync has nothing to do.
    assert cli(url, tmp_path, "s3", "sync", str(folder), f"s3://{bucket}/site").strip() == ""
    cli(url, tmp_path, "s3", "rm", "--recursive", f"s3://{bucket}/")
    assert keys(s3, bucket) == []
    api = json.loads(cli(url, tmp_path, "s3api", "list-buckets", "--output", "json"))
    assert bucket in [b["Name"] for b in api["Buckets"]]
    cli(url, tmp_path, "s3", "rb", f"s3://{bucket}")


def test_virtual_host_style_addressing(url, s3, bucket):
    s3.put_object(Bucket=bucket, Key="vh/key.txt", Body=b"virtual")
    port = url.rsplit(":", 1)[1]
    r = requests.get(f"{url}/vh/key.txt", headers={
        "Host": f"{bucket}.s3.localhost:{port}",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=x/20260101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature=00",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    }, timeout=30)
    assert r.status_code == 200 and r.content == b"virtual"
    r = requests.get(f"{url}/vh/key.txt", headers={
        "Host": f"{bucket}.localhost:{port}",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=x/20260101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature=00",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    }, timeout=30)
    assert r.status_code == 200 and r.content == b"virtual"


# ------------------------------------------------------------------ presigned URLs (enforce)


def test_presigned_get_and_put_with_curl(own_server, tmp_path):
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    key = json.loads((srv.data_dir / "root-access-key.json").read_text())
    s3 = boto3.client("s3", endpoint_url=srv.url, region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"],
                      config=botocore.config.Config(signature_version="s3v4", retries={"max_attempts": 0}))
    s3.create_bucket(Bucket="pre")
    s3.put_object(Bucket="pre", Key="hello.txt", Body=b"presigned hello")
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "hello.txt"}, ExpiresIn=300)
    out = subprocess.run(["curl", "-sf", get_url], capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stdout == b"presigned hello"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "pre", "Key": "up.bin"}, ExpiresIn=300)
    payload = tmp_path / "up.bin"
    payload.write_bytes(os.urandom(200_000))
    out = subprocess.run(["curl", "-sf", "-X", "PUT", "--data-binary", f"@{payload}", put_url], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert s3.get_object(Bucket="pre", Key="up.bin")["Body"].read() == payload.read_bytes()
    # A tampered URL, an unsigned request and a wrong key are refused, in S3's shape.
    tampered = get_url.replace("hello.txt", "up.bin")
    r = requests.get(tampered, timeout=30)
    assert r.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.content
    stranger = aws_client(srv.url, "s3")
    assert error_code(refused(lambda: stranger.get_object(Bucket="pre", Key="hello.txt"))) == "InvalidAccessKeyId"


def sigv4_headers(key: dict, method: str, host: str, path: str, headers: dict, payload_hash: str, when: str) -> tuple[str, bytes]:
    """Signs a request by hand (SigV4, S3's canonical path); the
    Authorization header and the signing key."""
    date = when[:8]
    scope = f"{date}/{REGION}/s3/aws4_request"
    all_headers = {"host": host, "x-amz-date": when, "x-amz-content-sha256": payload_hash, **headers}
    names = sorted(all_headers)
    canonical = "\n".join([
        method, path, "",
        "".join(f"{n}:{str(all_headers[n]).strip()}\n" for n in names),
        ";".join(names), payload_hash,
    ])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", when, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + key["SecretAccessKey"]).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = f"AWS4-HMAC-SHA256 Credential={key['AccessKeyId']}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    return auth, k


def signed_chunked_body(signing_key: bytes, when: str, seed: str, chunks: list[bytes]) -> bytes:
    scope = f"{when[:8]}/{REGION}/s3/aws4_request"
    empty = hashlib.sha256(b"").hexdigest()
    out, previous = b"", seed
    for chunk in chunks + [b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", when, scope, previous, empty, hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        out += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
    return out


def test_enforce_mode_signed_chunks_policies_and_users(own_server, tmp_path):
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    root = json.loads((srv.data_dir / "root-access-key.json").read_text())

    def client(service, key):
        return boto3.client(service, endpoint_url=srv.url, region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"], config=botocore.config.Config(retries={"max_attempts": 0}))

    s3 = client("s3", root)
    s3.create_bucket(Bucket="guarded")
    s3.put_object(Bucket="guarded", Key="doc.txt", Body=b"secret doc")

    # A signed aws-chunked upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), by hand.
    host = srv.url.split("//", 1)[1]
    chunks = [os.urandom(70_000), os.urandom(1000)]
    when = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    extra = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(sum(map(len, chunks)))}
    auth, signing_key = sigv4_headers(root, "PUT", host, "/guarded/chunked.bin", extra, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", when)
    seed = auth.rsplit("Signature=", 1)[1]
    body = signed_chunked_body(signing_key, when, seed, chunks)
    headers = {**extra, "x-amz-date": when, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Authorization": auth}
    r = requests.put(f"{srv.url}/guarded/chunked.bin", data=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket="guarded", Key="chunked.bin")["Body"].read() == b"".join(chunks)
    tampered = body.replace(chunks[1][:50], bytes(50))
    r = requests.put(f"{srv.url}/guarded/tampered.bin", data=tampered, headers=headers, timeout=60)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    assert "tampered.bin" not in keys(s3, "guarded")

    # A user with no policy is refused; the bucket policy lets it read only.
    iam = client("iam", root)
    iam.create_user(UserName="reader")
    created = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = client("s3", created)
    wait_for(lambda: error_code(refused(lambda: reader.get_object(Bucket="guarded", Key="doc.txt"))) == "AccessDenied",
             30, what="the new key is known")
    s3.put_bucket_policy(Bucket="guarded", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/reader"},
                       "Action": "s3:GetObject", "Resource": "arn:aws:s3:::guarded/*"}],
    }))
    assert json.loads(s3.get_bucket_policy(Bucket="guarded")["Policy"])["Statement"][0]["Action"] == "s3:GetObject"
    assert reader.get_object(Bucket="guarded", Key="doc.txt")["Body"].read() == b"secret doc"
    assert error_code(refused(lambda: reader.put_object(Bucket="guarded", Key="w", Body=b"x"))) == "AccessDenied"
    assert error_code(refused(lambda: reader.list_objects_v2(Bucket="guarded"))) == "AccessDenied"
    # A copy needs s3:GetObject on its source too: a bucket the user may
    # write but not read from is no way around the policy.
    s3.create_bucket(Bucket="dropbox")
    s3.put_bucket_policy(Bucket="dropbox", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/reader"},
                       "Action": "s3:PutObject", "Resource": "arn:aws:s3:::dropbox/*"}],
    }))
    reader.put_object(Bucket="dropbox", Key="mine.txt", Body=b"written")
    s3.create_bucket(Bucket="vault")
    s3.put_object(Bucket="vault", Key="gold.txt", Body=b"gold")
    e = refused(lambda: reader.copy_object(Bucket="dropbox", Key="stolen.txt", CopySource="vault/gold.txt"))
    assert error_code(e) == "AccessDenied"
    reader.copy_object(Bucket="dropbox", Key="copied.txt", CopySource="guarded/doc.txt")
    assert s3.get_object(Bucket="dropbox", Key="copied.txt")["Body"].read() == b"secret doc"
    assert "stolen.txt" not in keys(s3, "dropbox")
    assert error_code(refused(lambda: s3.put_bucket_policy(Bucket="guarded", Policy="not json"))) == "MalformedPolicy"
    s3.delete_bucket_policy(Bucket="guarded")
    assert error_code(refused(lambda: reader.get_object(Bucket="guarded", Key="doc.txt"))) == "AccessDenied"


# ------------------------------------------------------------------ notifications

RECORDER = '''\
import json

def main(event, context):
    print("S3-EVENT " + json.dumps(event))
    return {"ok": True}
'''


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def receive_all(sqs, queue_url: str, want: int, timeout: float = 60) -> list[dict]:
    got: list[dict] = []

    def more():
        r = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= want

    wait_for(more, timeout, interval=0, what=f"{want} messages in {queue_url}")
    return got


def test_notifications_to_a_queue_with_a_suffix_filter(url, s3, bucket):
    sqs = aws_client(url, "sqs")
    qname = unique("s3q")
    qurl = sqs.create_queue(QueueName=qname)["QueueUrl"]
    e = refused(lambda: s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn("no-such-queue"), "Events": ["s3:ObjectCreated:*"]}]}))
    assert error_code(e) == "InvalidArgument"
    config = {
        "QueueConfigurations": [{
            "Id": "pngs", "QueueArn": queue_arn(qname), "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".png"}]}},
        }],
        "EventBridgeConfiguration": {},
    }
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["QueueConfigurations"][0]["QueueArn"] == queue_arn(qname)
    assert got["QueueConfigurations"][0]["Filter"]["Key"]["FilterRules"] == [{"Name": "Suffix", "Value": ".png"}]
    assert "EventBridgeConfiguration" in got

    s3.put_object(Bucket=bucket, Key="skip.jpg", Body=b"no")
    s3.put_object(Bucket=bucket, Key="photos/a b.png", Body=b"png-bytes")
    s3.copy_object(Bucket=bucket, Key="copy.png", CopySource=f"{bucket}/photos/a b.png")
    s3.delete_object(Bucket=bucket, Key="copy.png")
    messages = receive_all(sqs, qurl, 4)
    # S3's test event when the configuration was set, then the three records.
    tests = [m for m in messages if m.get("Event") == "s3:TestEvent"]
    assert len(tests) == 1 and tests[0]["Bucket"] == bucket and tests[0]["Service"] == "Amazon S3"
    records = [r for m in messages if "Records" in m for r in m["Records"]]
    by_name = {r["eventName"]: r for r in records}
    assert set(by_name) == {"ObjectCreated:Put", "ObjectCreated:Copy", "ObjectRemoved:Delete"}
    put = by_name["ObjectCreated:Put"]
    assert put["eventVersion"] == "2.1" and put["eventSource"] == "aws:s3" and put["awsRegion"] == REGION
    assert put["s3"]["configurationId"] == "pngs"
    assert put["s3"]["bucket"]["name"] == bucket and put["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert put["s3"]["object"]["key"] == "photos/a+b.png"
    assert put["s3"]["object"]["size"] == len(b"png-bytes")
    assert put["s3"]["object"]["eTag"] == hashlib.md5(b"png-bytes").hexdigest()
    assert put["s3"]["object"]["sequencer"]
    assert "size" not in by_name["ObjectRemoved:Delete"]["s3"]["object"]
    # Nothing for the .jpg.
    time.sleep(1)
    assert not sqs.receive_message(QueueUrl=qurl, WaitTimeSeconds=1).get("Messages")


def test_notifications_to_a_python_function(url, s3, bucket):
    runtime = python_runtime(url)
    if runtime is None:
        pytest.skip("no python3 interpreter on this machine")
    lam = lambda_client(url)
    name = unique("s3fn")
    e = refused(lambda: s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
                                          "Events": ["s3:ObjectCreated:*"]}]}))
    assert error_code(e) == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in e.response["Error"]["Message"]
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("LambdaFunctionConfigurations") is None
    lam.create_function(FunctionName=name, Runtime=runtime, Handler="handler.main", Role=ROLE,
                        Code={"ZipFile": build_zip([("handler.py", RECORDER)])}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:Put"],
                                          "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}]})
    s3.put_object(Bucket=bucket, Key="out/ignored.txt", Body=b"no")
    s3.put_object(Bucket=bucket, Key="in/photo.png", Body=b"yes")
    lines = wait_log_line(url, name, "S3-EVENT", timeout=60)
    events = [json.loads(line.split("S3-EVENT ", 1)[1]) for line in lines if "S3-EVENT " in line]
    keys_seen = [r["s3"]["object"]["key"] for ev in events for r in ev["Records"]]
    assert keys_seen == ["in/photo.png"]
    assert events[0]["Records"][0]["eventName"] == "ObjectCreated:Put"


def test_event_bridge_configuration_sends_object_events_to_the_default_bus(url, s3, bucket):
    sqs, events = aws_client(url, "sqs"), aws_client(url, "events")
    qname = unique("s3eb")
    qurl = sqs.create_queue(QueueName=qname)["QueueUrl"]
    rule = unique("s3rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn(qname)}])
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="eb/a b.txt", Body=b"hello")
    s3.delete_object(Bucket=bucket, Key="eb/a b.txt")  # Object Deleted: not matched by the rule
    got = receive_all(sqs, qurl, 1)
    assert len(got) == 1
    event = got[0]
    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
    assert event["detail"]["bucket"]["name"] == bucket
    assert event["detail"]["object"]["key"] == "eb/a b.txt"
    assert event["detail"]["object"]["size"] == 5
    assert event["detail"]["object"]["etag"] == hashlib.md5(b"hello").hexdigest()
    assert event["detail"]["reason"] == "PutObject"


THUMBNAILER = """\
import os
import urllib.parse

import boto3

# The endpoint is AWS_ENDPOINT_URL, the credentials the role's, from the environment.
s3 = boto3.client("s3")


def main(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=os.environ["OUT"], Key=key + ".thumb", Body=data[::-1])
        try:
            s3.get_object(Bucket=os.environ["THIRD"], Key="private.txt")
            outcome = "allowed"
        except Exception as e:  # noqa: BLE001
            outcome = "refused " + str(getattr(e, "response", {}).get("Error", {}).get("Code"))
        s3.put_object(Bucket=os.environ["OUT"], Key=key + ".third", Body=outcome.encode())
    return {"ok": True}
"""


def thumbnailer_zip() -> bytes:
    """`handler.py` with boto3 and botocore (S3's model only) and their
    pure-Python dependencies from this venv (Ignis's Python runtime ships
    no SDK)."""
    import io
    import zipfile

    import botocore
    import dateutil
    import jmespath
    import s3transfer
    import six
    import urllib3

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("handler.py", THUMBNAILER)
        z.write(six.__file__, "six.py")
        for mod in (boto3, botocore, dateutil, jmespath, s3transfer, urllib3):
            root = Path(mod.__file__).parent
            for path in root.rglob("*"):
                rel = path.relative_to(root.parent)
                parts = rel.parts
                if path.is_dir() or "__pycache__" in parts or path.suffix == ".pyc":
                    continue
                if parts[:2] in (("boto3", "data"), ("boto3", "examples")):
                    continue
                if parts[:2] == ("botocore", "data") and len(parts) > 3 and parts[2] != "s3":
                    continue
                z.write(path, str(rel))
    return buf.getvalue()


LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def test_thumbnails_a_function_reads_and_writes_with_its_role(own_server, tmp_path):
    """The seed's scenario: a Python function on s3:ObjectCreated:* with
    suffix .png reads the object with boto3 using its role's credentials
    (a role policy granting read on that bucket), writes a result to a
    second bucket, and is refused reading a third (enforce mode)."""
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    # The bundled SDK is this venv's, pure Python, for the venv's version.
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    root = json.loads((srv.data_dir / "root-access-key.json").read_text())

    def client(service):
        return boto3.client(service, endpoint_url=srv.url, region_name=REGION, aws_access_key_id=root["AccessKeyId"],
                            aws_secret_access_key=root["SecretAccessKey"], config=botocore.config.Config(retries={"max_attempts": 0}))

    iam, s3, lam = client("iam"), client("s3"), client("lambda")
    role = ROLE.rsplit("/", 1)[1]
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.put_role_policy(RoleName=role, PolicyName="thumbs", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::thumbs/*"},
        ],
    }))
    for b in ("photos", "thumbs", "private"):
        s3.create_bucket(Bucket=b)
    s3.put_object(Bucket="private", Key="private.txt", Body=b"not for functions")
    lam.create_function(FunctionName="thumbnailer", Runtime=runtime, Handler="handler.main", Role=ROLE,
                        Code={"ZipFile": thumbnailer_zip()}, Timeout=60, MemorySize=256,
                        Environment={"Variables": {"OUT": "thumbs", "THIRD": "private"}})
    lam.get_waiter("function_active_v2").wait(FunctionName="thumbnailer", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "LambdaFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:thumbnailer",
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".png"}]}},
        }]})
    picture = os.urandom(50_000)
    s3.put_object(Bucket="photos", Key="cats/my cat.png", Body=picture)
    s3.put_object(Bucket="photos", Key="cats/notes.txt", Body=b"not a picture")
    wait_for(lambda: "cats/my cat.png.third" in keys(s3, "thumbs"), 120, what="the thumbnailer's result")
    assert s3.get_object(Bucket="thumbs", Key="cats/my cat.png.thumb")["Body"].read() == picture[::-1]
    assert s3.get_object(Bucket="thumbs", Key="cats/my cat.png.third")["Body"].read() == b"refused AccessDenied"
    assert sorted(keys(s3, "thumbs")) == ["cats/my cat.png.third", "cats/my cat.png.thumb"]


UPLOADS = 120


def test_kill_9_mid_upload_loses_no_acknowledged_notification(tmp_path):
    """Uploads to a bucket notifying a queue while the server is killed
    with SIGKILL; after a restart on the same data directory every upload
    that was acknowledged has its notification in the queue, and its bytes."""
    server = Server(tmp_path / "data", tmp_path / "logs").start()
    acknowledged: list[str] = []
    try:
        s3, sqs = aws_client(server.url, "s3"), aws_client(server.url, "sqs")
        s3.create_bucket(Bucket="crash")
        sqs.create_queue(QueueName="crash-q")
        s3.put_bucket_notification_configuration(Bucket="crash", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn("crash-q"), "Events": ["s3:ObjectCreated:*"]}]})
        lock = threading.Lock()

        def upload(i: int):
            key = f"obj-{i:04d}"
            try:
                s3.put_object(Bucket="crash", Key=key, Body=key.encode() * 1000)
            except Exception:  # noqa: BLE001 - refused or cut by the kill: not acknowledged
                return
            with lock:
                acknowledged.append(key)

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(upload, i) for i in range(UPLOADS)]
            wait_for(lambda: len(acknowledged) >= UPLOADS // 3, 120, what="a third of the uploads")
            server.kill()
            for f in futures:
                f.result()
    finally:
        server.kill()
    acked = set(acknowledged)
    print(f"\nat the kill: {len(acked)} of {UPLOADS} uploads acknowledged")
    assert 0 < len(acked) < UPLOADS, "the kill came after every upload"

    restarted = Server(tmp_path / "data", tmp_path / "logs-2").start()
    try:
        s3, sqs = aws_client(restarted.url, "s3"), aws_client(restarted.url, "sqs")
        qurl = sqs.get_queue_url(QueueName="crash-q")["QueueUrl"]
        seen: set[str] = set()

        def drained():
            r = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                for rec in json.loads(m["Body"]).get("Records", []):
                    seen.add(rec["s3"]["object"]["key"])
                sqs.delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
            return acked <= seen

        wait_for(drained, 180, interval=0, what="every acknowledged upload's notification in the queue")
        listed = {o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="crash") for o in p.get("Contents", [])}
        assert acked <= listed
        for key in sorted(acked)[:10]:
            assert s3.get_object(Bucket="crash", Key=key)["Body"].read() == key.encode() * 1000
        # Every listed object has its notification (none committed without one).
        wait_for(lambda: listed <= seen or (drained() and listed <= seen), 60, interval=0, what="a notification per listed object")
        # No temporary or unnamed file is left behind.
        data = tmp_path / "data" / "s3" / "crash"
        assert not list((data / "tmp").iterdir())
        assert len(list((data / "data").iterdir())) == len(listed)
    finally:
        restarted.stop()
        assert not restarted.panics_since(0), restarted.stderr()[-8000:]


# ------------------------------------------- an S3-compatible store's webhook

MINIO_RECORD = {
    "EventName": "s3:ObjectCreated:Put",
    "Key": "their-bucket/photos/a b.png",
    "Records": [{
        "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "",
        "eventTime": "2026-12-07T00:00:00.000Z", "eventName": "s3:ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
               "bucket": {"name": "their-bucket", "arn": "arn:aws:s3:::their-bucket"},
               "object": {"key": "photos/a+b.png", "size": 3, "eTag": "abc", "sequencer": "1"}},
    }],
}


def records_in(sqs, queue_url: str, want: int) -> list[dict]:
    """The S3 records among a queue's messages (S3's TestEvent left out)."""
    got: list[dict] = []

    def more():
        r = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            body = json.loads(m["Body"])
            got.extend(body.get("Records", []))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= want

    wait_for(more, 60, interval=0, what=f"{want} records in {queue_url}")
    return got


def test_an_external_stores_webhook_notifies_through_the_bucket_configuration(url, s3):
    """A team keeps its object store: its webhook posts S3-shaped records to
    /ignis/v1/buckets/{bucket}/events and they go where the Ignis bucket's
    notification configuration says, filters applied."""
    sqs = aws_client(url, "sqs")
    bucket, qname = unique("ext"), unique("extq")
    qurl = sqs.create_queue(QueueName=qname)["QueueUrl"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "pngs", "QueueArn": queue_arn(qname), "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".png"}]}}}]})
    hook = f"{url}/ignis/v1/buckets/{bucket}/events"
    r = requests.post(hook, json=MINIO_RECORD, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"Notifications": 1}
    skipped = json.loads(json.dumps(MINIO_RECORD))
    skipped["Records"][0]["s3"]["object"]["key"] = "notes.txt"
    assert requests.post(hook, json=skipped, timeout=30).json() == {"Notifications": 0}
    [record] = records_in(sqs, qurl, 1)
    assert record["eventSource"] == "minio:s3", "the store's record, as it sent it"
    assert record["s3"]["configurationId"] == "pngs"
    assert record["s3"]["object"]["key"] == "photos/a+b.png"
    assert record["s3"]["bucket"]["name"] == "their-bucket"
    # Bad input: the service's own errors, nothing queued.
    r = requests.post(f"{url}/ignis/v1/buckets/{unique('none')}/events", json=MINIO_RECORD, timeout=30)
    assert r.status_code == 404 and "<Code>NoSuchBucket</Code>" in r.text
    for bad in [b"not json", b"{}", json.dumps({"Records": [{"s3": {}}]}).encode()]:
        r = requests.post(hook, data=bad, timeout=30)
        assert r.status_code == 400 and "<Code>InvalidRequest</Code>" in r.text, r.text
    assert sqs.receive_message(QueueUrl=qurl, WaitTimeSeconds=1).get("Messages") is None


def test_an_external_stores_webhook_in_enforce_mode_needs_a_key_allowed_to_write(own_server, tmp_path):
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    root = json.loads((srv.data_dir / "root-access-key.json").read_text())
    s3 = boto3.client("s3", endpoint_url=srv.url, region_name=REGION, aws_access_key_id=root["AccessKeyId"],
                      aws_secret_access_key=root["SecretAccessKey"])
    s3.create_bucket(Bucket="mirror")
    hook = f"{srv.url}/ignis/v1/buckets/mirror/events"
    assert requests.post(hook, json=MINIO_RECORD, timeout=30).status_code == 403
    wrong = {"Authorization": f"Bearer {root['AccessKeyId']}:not-the-secret"}
    assert requests.post(hook, json=MINIO_RECORD, headers=wrong, timeout=30).status_code == 403
    good = {"Authorization": f"Bearer {root['AccessKeyId']}:{root['SecretAccessKey']}"}
    r = requests.post(hook, json=MINIO_RECORD, headers=good, timeout=30)
    assert r.status_code == 200 and r.json() == {"Notifications": 0}, r.text
    r = requests.post(hook, json=MINIO_RECORD, auth=(root["AccessKeyId"], root["SecretAccessKey"]), timeout=30)
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ encryption, ACLs, versions


def test_default_encryption_is_sse_s3_and_kms_is_refused(s3, bucket):
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule == [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]["BucketKeyEnabled"] is True
    e = refused(lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/mine"}}]}))
    assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == ("NotImplemented", 501)
    assert "SSE-KMS" in e.response["Error"]["Message"]
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]["BucketKeyEnabled"] is True, \
        "the refused document changed nothing"
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0] == {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}

    put = s3.put_object(Bucket=bucket, Key="a", Body=b"abc")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.put_object(Bucket=bucket, Key="b", Body=b"b", ServerSideEncryption="AES256")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="a")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="a")["ServerSideEncryption"] == "AES256"
    assert s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "a"})["ServerSideEncryption"] == "AES256"
    up = s3.create_multipart_upload(Bucket=bucket, Key="m")
    assert up["ServerSideEncryption"] == "AES256"
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=up["UploadId"], PartNumber=1, Body=b"m")
    assert part["ServerSideEncryption"] == "AES256"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["ServerSideEncryption"] == "AES256"
    for kms in ({"ServerSideEncryption": "aws:kms"}, {"ServerSideEncryption": "aws:kms:dsse"},
                {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/mine"}):
        e = refused(lambda: s3.put_object(Bucket=bucket, Key="kms", Body=b"secret", **kms))
        assert error_code(e) == "NotImplemented", kms
        e = refused(lambda: s3.create_multipart_upload(Bucket=bucket, Key="kms", **kms))
        assert error_code(e) == "NotImplemented", kms
    e = refused(lambda: s3.copy_object(Bucket=bucket, Key="kms", CopySource={"Bucket": bucket, "Key": "a"},
                                       ServerSideEncryption="aws:kms"))
    assert error_code(e) == "NotImplemented"
    e = refused(lambda: s3.put_object(Bucket=bucket, Key="sse-c", Body=b"x", SSECustomerAlgorithm="AES256",
                                      SSECustomerKey="k" * 32))
    assert error_code(e) == "NotImplemented"
    assert "kms" not in keys(s3, bucket) and "sse-c" not in keys(s3, bucket), "nothing stored on a refusal"


def test_acls_are_disabled_the_owner_has_full_control(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    for acl in (s3.get_bucket_acl(Bucket=bucket), s3.get_object_acl(Bucket=bucket, Key="k")):
        owner = acl["Owner"]["ID"]
        assert acl["Grants"] == [{"Grantee": {"ID": owner, "DisplayName": acl["Owner"]["DisplayName"], "Type": "CanonicalUser"},
                                  "Permission": "FULL_CONTROL"}]
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    # What ACLs already say is accepted; anything else is refused.
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="bucket-owner-full-control")
    s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy={
        "Owner": {"ID": owner}, "Grants": [{"Grantee": {"ID": owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]})
    s3.put_object(Bucket=bucket, Key="k2", Body=b"v", ACL="bucket-owner-full-control")
    for call in (lambda: s3.put_object(Bucket=bucket, Key="pub", Body=b"v", ACL="public-read"),
                 lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
                 lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="authenticated-read"),
                 lambda: s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy={
                     "Owner": {"ID": owner}, "Grants": [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                                                         "Permission": "READ"}]}),
                 lambda: s3.create_multipart_upload(Bucket=bucket, Key="pub", ACL="public-read-write")):
        e = refused(call)
        assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessControlListNotSupported", 400)
        assert e.response["Error"]["Message"] == "The bucket does not allow ACLs"
    assert "pub" not in keys(s3, bucket)
    e = refused(lambda: s3.get_object_acl(Bucket=bucket, Key="missing"))
    assert error_code(e) == "NoSuchKey"
    other = unique("acl")
    e = refused(lambda: s3.create_bucket(Bucket=other, ACL="public-read"))
    assert error_code(e) == "InvalidBucketAclWithObjectOwnership"
    assert other not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.create_bucket(Bucket=other, ACL="private", ObjectOwnership="BucketOwnerEnforced")
    s3.delete_bucket(Bucket=other)


def test_settings_that_cannot_be_set_read_as_never_set(s3, bucket):
    # What Terraform's aws_s3_bucket reads of every bucket.
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    for call, code in [(s3.get_bucket_replication, "ReplicationConfigurationNotFoundError"),
                       (s3.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError"),
                       (s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration")]:
        e = refused(lambda: call(Bucket=bucket))
        assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, 404)
    e = refused(lambda: s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"}))
    assert error_code(e) == "NotImplemented"
    e = refused(lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True}))
    assert error_code(e) == "NotImplemented"
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    e = refused(lambda: s3.get_object_lock_configuration(Bucket=unique("none")))
    assert error_code(e) == "NoSuchBucket"


def test_object_versions_of_an_unversioned_bucket(s3, bucket):
    for key in ["dir/a", "dir/b", "one", "two", "two"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        ("dir/a", "null", True), ("dir/b", "null", True), ("one", "null", True), ("two", "null", True)]
    assert "DeleteMarkers" not in listed
    assert listed["Versions"][0]["ETag"] == s3.head_object(Bucket=bucket, Key="dir/a")["ETag"]
    paginator = s3.get_paginator("list_object_versions")
    pages = list(paginator.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}))
    assert len(pages) == 3
    assert [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])] == ["dir/"]
    assert [v["Key"] for page in pages for v in page.get("Versions", [])] == ["one", "two"]
    under = s3.list_object_versions(Bucket=bucket, Prefix="dir/", KeyMarker="dir/a")
    assert [v["Key"] for v in under["Versions"]] == ["dir/b"]
    e = refused(lambda: s3.list_object_versions(Bucket=bucket, VersionIdMarker="null"))
    assert error_code(e) == "InvalidArgument"
    s3.delete_object(Bucket=bucket, Key="one")
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == ["dir/a", "dir/b", "two"]
    # The one version is `null`; any other id is refused, nothing deleted.
    assert s3.get_object(Bucket=bucket, Key="two", VersionId="null")["Body"].read() == b"two"
    e = refused(lambda: s3.delete_object(Bucket=bucket, Key="two", VersionId="3HL4kqtJlcpXroDTDmJ"))
    assert error_code(e) == "InvalidArgument"
    # How tools empty a bucket (CDK's auto-delete, Terraform's force_destroy):
    # every version listed, deleted by version id.
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
                                                   + [{"Key": "two", "VersionId": "3HL4kqtJlcpXroDTDmJ"}]})
    assert sorted((d["Key"], d["VersionId"]) for d in out["Deleted"]) == [("dir/a", "null"), ("dir/b", "null"), ("two", "null")]
    assert [(x["Key"], x["Code"]) for x in out["Errors"]] == [("two", "NoSuchVersion")]
    assert keys(s3, bucket) == []
    # Never versioned; Suspended is what such a bucket already does, Enabled is not served.
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    e = refused(lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}))
    assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == ("NotImplemented", 501)
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert [(v["Key"], v["VersionId"]) for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [("k", "null")], \
        "a suspended bucket's write replaces the null version"


# ------------------------------------------------------------------ CORS


CORS_RULES = [
    {"ID": "app", "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["PUT", "GET"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]


def preflight(url: str, path: str, origin: str, method: str, headers: str | None = None, host: str | None = None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    if host:
        h["Host"] = host
    return requests.options(f"{url}{path}", headers=h, timeout=30)


def test_cors_configuration_is_validated_stored_and_removed(s3, bucket):
    e = refused(lambda: s3.get_bucket_cors(Bucket=bucket))
    assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchCORSConfiguration", 404)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": CORS_RULES})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == CORS_RULES
    for bad, code in [
        ({"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}, "InvalidRequest"),
        ({"CORSRules": [{"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}]}, "InvalidRequest"),
        ({"CORSRules": []}, "MalformedXML"),
    ]:
        assert error_code(refused(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=bad))) == code, bad
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == CORS_RULES, "a refused document changed nothing"
    s3.delete_bucket_cors(Bucket=bucket)
    assert error_code(refused(lambda: s3.get_bucket_cors(Bucket=bucket))) == "NoSuchCORSConfiguration"
    s3.head_bucket(Bucket=bucket)


def test_cors_preflights_and_actual_requests(url, s3, bucket):
    s3.put_object(Bucket=bucket, Key="photo.png", Body=b"png")
    # No configuration: refused.
    r = preflight(url, f"/{bucket}/photo.png", "https://app.example.com", "GET")
    assert r.status_code == 403 and "<Code>CORSResponse</Code>" in r.text, r.text
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": CORS_RULES})
    # Path style, unsigned as a browser sends it: the first matching rule.
    r = preflight(url, f"/{bucket}/photo.png", "https://app.example.com", "PUT", "Content-Type, X-Amz-Date")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert r.headers["Access-Control-Allow-Methods"] == "PUT, GET"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    # Virtual-host style, the bucket itself, the wildcard rule.
    port = url.rsplit(":", 1)[1]
    r = preflight(url, "/", "https://elsewhere.org", "HEAD", host=f"{bucket}.s3.localhost:{port}")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Max-Age" not in r.headers
    # Nothing matches: a method no rule allows, a header the rule does not allow.
    for origin, method, headers in [("https://elsewhere.org", "PUT", None),
                                    ("https://app.example.com", "DELETE", None),
                                    ("https://app.example.com", "PUT", "authorization")]:
        r = preflight(url, f"/{bucket}/photo.png", origin, method, headers)
        assert r.status_code == 403, (origin, method, headers)
        assert "This CORS request is not allowed" in r.text
        assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.options(f"{url}/{bucket}/photo.png", headers={"Host": f"s3.localhost:{port}", "Access-Control-Request-Method": "GET"}, timeout=30)
    assert r.status_code == 400 and "Origin request header needed" in r.text, r.text
    r = preflight(url, f"/{unique('none')}/k", "https://app.example.com", "GET")
    assert r.status_code == 404 and "<Code>NoSuchBucket</Code>" in r.text
    # Actual requests with an Origin carry the matching rule's headers.
    signer = aws_client(url, "s3", signature_version="s3v4")
    get = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "photo.png"})
    r = requests.get(get, headers={"Origin": "https://app.example.com"}, timeout=30)
    assert r.status_code == 200 and r.content == b"png", (get, r.status_code, r.text)
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    r = requests.get(get, headers={"Origin": "https://elsewhere.org"}, timeout=30)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    r = requests.get(get, timeout=30)
    assert "Access-Control-Allow-Origin" not in r.headers
    put = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up.txt"})
    r = requests.put(put, data=b"up", headers={"Origin": "https://elsewhere.org"}, timeout=30)
    assert r.status_code == 200, r.text
    assert "Access-Control-Allow-Origin" not in r.headers, "the wildcard rule allows GET and HEAD only"


# ------------------------------------------------------------------ lifecycle


LIFECYCLE_RULES = [
    {"ID": "tagged-tmp", "Status": "Enabled", "Expiration": {"Days": 1},
     "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "expire", "Value": "yes"}]}}},
    {"ID": "old", "Status": "Enabled", "Expiration": {"Date": "2020-01-01T00:00:00Z"}, "Filter": {"Prefix": "old/"}},
    {"ID": "uploads", "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
     "Filter": {"Prefix": "uploads/"}},
    {"ID": "off", "Status": "Disabled", "Expiration": {"Days": 1}, "Filter": {"Prefix": ""}},
]


def test_lifecycle_configuration_is_validated_stored_and_removed(s3, bucket):
    e = refused(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket))
    assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchLifecycleConfiguration", 404)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": LIFECYCLE_RULES})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["tagged-tmp", "old", "uploads", "off"]
    assert got[0]["Filter"] == {"And": {"Prefix": "tmp/", "Tags": [{"Key": "expire", "Value": "yes"}]}}
    assert got[0]["Expiration"] == {"Days": 1}
    assert got[1]["Expiration"]["Date"].year == 2020
    assert got[2]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert got[3]["Status"] == "Disabled"
    for bad, code in [
        ([{"ID": "x", "Status": "Enabled", "Expiration": {"Days": 0}, "Filter": {}}], "InvalidArgument"),
        ([{"ID": "x", "Status": "Enabled", "Expiration": {"Date": "2030-01-01T12:00:00Z"}, "Filter": {}}], "InvalidArgument"),
        ([{"ID": "x", "Status": "Enabled", "Filter": {}}], "InvalidRequest"),
        ([{"ID": "x", "Status": "Enabled", "Filter": {}, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}], "NotImplemented"),
        ([{"ID": "x", "Status": "Enabled", "Expiration": {"Days": 1}, "Filter": {}},
          {"ID": "x", "Status": "Enabled", "Expiration": {"Days": 2}, "Filter": {}}], "InvalidArgument"),
    ]:
        e = refused(lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": bad}))
        assert error_code(e) == code, bad
    assert [r["ID"] for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]] == \
        ["tagged-tmp", "old", "uploads", "off"], "a refused document changed nothing"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert error_code(refused(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket))) == "NoSuchLifecycleConfiguration"
    s3.head_bucket(Bucket=bucket)


def test_lifecycle_expires_objects_and_aborts_uploads_with_notifications(own_server, monkeypatch):
    # A lifecycle day of 2 seconds (docs/objects.md): Days=1 is 2-4 s.
    monkeypatch.setenv("IGNIS_S3_LIFECYCLE_DAY_SECS", "2")
    srv = own_server()
    s3 = aws_client(srv.url, "s3")
    sqs = aws_client(srv.url, "sqs")
    bucket = unique("life")
    s3.create_bucket(Bucket=bucket)
    qname = unique("lifeq")
    qurl = sqs.create_queue(QueueName=qname)["QueueUrl"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "expiry", "QueueArn": queue_arn(qname), "Events": ["s3:LifecycleExpiration:*"]}]})
    s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"a", Tagging="expire=yes")
    s3.put_object(Bucket=bucket, Key="tmp/untagged", Body=b"b")
    s3.put_object(Bucket=bucket, Key="old/x", Body=b"c")
    s3.put_object(Bucket=bucket, Key="keep/y", Body=b"d", Tagging="expire=yes")
    stale = s3.create_multipart_upload(Bucket=bucket, Key="uploads/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="uploads/big", UploadId=stale, PartNumber=1, Body=b"part")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": LIFECYCLE_RULES})

    def swept():
        left = keys(s3, bucket)
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return ("tmp/a" not in left and "old/x" not in left and not uploads) and left

    left = wait_for(swept, 60, interval=0.5, what="expired objects and the stale upload gone")
    assert sorted(left) == ["keep/y", "tmp/untagged"], "only what the enabled rules select"
    # Setting the configuration also sent S3's test event: wait for the records.
    records: list[dict] = []

    def two_records():
        r = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            records.extend(json.loads(m["Body"]).get("Records", []))
            sqs.delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
        return len(records) >= 2

    wait_for(two_records, 60, interval=0, what="two lifecycle records")
    assert sorted(r["s3"]["object"]["key"] for r in records) == ["old/x", "tmp/a"]
    assert {r["eventName"] for r in records} == {"LifecycleExpiration:Delete"}
    assert all(r["s3"]["configurationId"] == "expiry" and "size" not in r["s3"]["object"] for r in records)


def test_cors_preflight_needs_no_signature_in_enforce_mode(own_server, tmp_path):
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    root = json.loads((srv.data_dir / "root-access-key.json").read_text())
    s3 = boto3.client("s3", endpoint_url=srv.url, region_name=REGION, aws_access_key_id=root["AccessKeyId"],
                      aws_secret_access_key=root["SecretAccessKey"], config=botocore.config.Config(retries={"max_attempts": 0}))
    s3.create_bucket(Bucket="site")
    s3.put_bucket_cors(Bucket="site", CORSConfiguration={"CORSRules": CORS_RULES})
    r = preflight(srv.url, "/site/app.js", "https://app.example.com", "PUT", "content-type")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    # The preflight opens nothing: the unsigned request itself is refused.
    r = requests.get(f"{srv.url}/site/app.js", headers={"Origin": "https://app.example.com", "Host": "site.s3.localhost"}, timeout=30)
    assert r.status_code == 403, r.text
    r = requests.put(f"{srv.url}/site/app.js", data=b"x", headers={"Origin": "https://app.example.com", "Host": "site.s3.localhost"}, timeout=30)
    assert r.status_code == 403, r.text
    assert "Contents" not in s3.list_objects_v2(Bucket="site")


# ------------------------------------------------------------------ website


def site_get(url: str, bucket: str, path: str, method: str = "GET"):
    port = url.rsplit(":", 1)[1]
    return requests.request(method, f"{url}{path}", headers={"Host": f"{bucket}.s3-website.localhost:{port}"},
                            allow_redirects=False, timeout=30)


def test_website_configuration_and_endpoint(url, s3, bucket):
    e = refused(lambda: s3.get_bucket_website(Bucket=bucket))
    assert (error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchWebsiteConfiguration", 404)
    r = site_get(url, bucket, "/")
    assert r.status_code == 404 and "NoSuchWebsiteConfiguration" in r.text and r.headers["Content-Type"].startswith("text/html")
    config = {
        "IndexDocument": {"Suffix": "index.html"},
        "ErrorDocument": {"Key": "404.html"},
        "RoutingRules": [{"Condition": {"KeyPrefixEquals": "old/"},
                          "Redirect": {"ReplaceKeyPrefixWith": "new/", "HttpRedirectCode": "302"}}],
    }
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=config)
    got = s3.get_bucket_website(Bucket=bucket)
    assert got["IndexDocument"] == {"Suffix": "index.html"} and got["ErrorDocument"] == {"Key": "404.html"}
    assert got["RoutingRules"] == config["RoutingRules"]
    for bad in ({"IndexDocument": {"Suffix": "a/b"}}, {"ErrorDocument": {"Key": "e.html"}},
                {"RedirectAllRequestsTo": {"HostName": "h"}, "IndexDocument": {"Suffix": "i"}}):
        assert error_code(refused(lambda: s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=bad))) == "InvalidArgument", bad
    assert s3.get_bucket_website(Bucket=bucket)["IndexDocument"] == {"Suffix": "index.html"}, "a refused document changed nothing"

    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"docs", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="app.js", Body=b"js()", ContentType="application/javascript")
    r = site_get(url, bucket, "/")
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"<h1>home</h1>", "text/html")
    assert site_get(url, bucket, "/docs/").content == b"docs"
    r = site_get(url, bucket, "/docs")
    assert (r.status_code, r.headers["Location"]) == (302, "/docs/")
    assert site_get(url, bucket, "/app.js").content == b"js()"
    r = site_get(url, bucket, "/app.js", "HEAD")
    assert r.status_code == 200 and r.headers["Content-Length"] == "4" and r.content == b""
    r = site_get(url, bucket, "/old/page.html")
    assert r.status_code == 302 and r.headers["Location"].endswith("/new/page.html")
    # No error document yet: S3's HTML 404; then the error document, with 404.
    r = site_get(url, bucket, "/missing.html")
    assert r.status_code == 404 and "<li>Code: NoSuchKey</li>" in r.text
    s3.put_object(Bucket=bucket, Key="404.html", Body=b"not here", ContentType="text/html")
    r = site_get(url, bucket, "/missing.html")
    assert (r.status_code, r.content) == (404, b"not here")
    assert site_get(url, bucket, "/app.js", "PUT").status_code == 405
    assert keys(s3, bucket) == ["404.html", "app.js", "docs/index.html", "index.html"], "the endpoint writes nothing"
    # Every request elsewhere.
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}})
    r = site_get(url, bucket, "/a/b?c=d")
    assert (r.status_code, r.headers["Location"]) == (301, "https://example.com/a/b")
    s3.delete_bucket_website(Bucket=bucket)
    assert error_code(refused(lambda: s3.get_bucket_website(Bucket=bucket))) == "NoSuchWebsiteConfiguration"
    assert site_get(url, bucket, "/").status_code == 404


def test_website_serves_only_public_objects_in_enforce_mode(own_server, tmp_path):
    srv = own_server(tmp_path / "data", "--auth", "enforce")
    root = json.loads((srv.data_dir / "root-access-key.json").read_text())
    s3 = boto3.client("s3", endpoint_url=srv.url, region_name=REGION, aws_access_key_id=root["AccessKeyId"],
                      aws_secret_access_key=root["SecretAccessKey"], config=botocore.config.Config(retries={"max_attempts": 0}))
    s3.create_bucket(Bucket="site")
    s3.put_bucket_website(Bucket="site", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    s3.put_object(Bucket="site", Key="index.html", Body=b"home")
    s3.put_object(Bucket="site", Key="private/secret.txt", Body=b"secret")
    r = site_get(srv.url, "site", "/")
    assert r.status_code == 403 and "AccessDenied" in r.text, "no policy: nothing is public"
    s3.put_bucket_policy(Bucket="site", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/index.html"}]}))
    r = site_get(srv.url, "site", "/")
    assert (r.status_code, r.content) == (200, b"home")
    r = site_get(srv.url, "site", "/private/secret.txt")
    assert r.status_code == 403 and b"secret" not in r.content

//! The service end to end over SQLite and a temporary directory: puts
//! streamed in pieces, listings with a delimiter and pages, multipart
//! ETags, and a crash's leftovers swept.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use ignis_store::SqliteStore;

use crate::notify::{Answer, Destinations};
use crate::op::{parse, S3Request};
use crate::{ResponseBody, S3Config, S3Error, S3Response, S3};

/// Destinations that exist and record what they are handed.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String)>>);

impl Destinations for Recorder {
    fn exists<'a>(&'a self, _arn: &'a str) -> Answer<'a, bool> {
        Box::pin(async { true })
    }
    fn deliver<'a>(&'a self, arn: &'a str, payload: &'a str) -> Answer<'a, Result<(), String>> {
        self.0
            .lock()
            .unwrap()
            .push((arn.to_string(), payload.to_string()));
        Box::pin(async { Ok(()) })
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    s3: S3,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in(dir.path()).unwrap());
    let s3 = S3::new(S3Config {
        data_dir: dir.path().to_path_buf(),
        store,
        region: "us-east-1".into(),
        destinations: Arc::new(Recorder::default()),
    });
    Fixture { _dir: dir, s3 }
}

async fn call(
    s3: &S3,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<S3Response, S3Error> {
    let mut headers = HeaderMap::new();
    headers.insert("host", "127.0.0.1:9000".parse().unwrap());
    let req = S3Request {
        method,
        path,
        query,
        headers: &headers,
    };
    let op = parse(&req)?;
    // The body arrives in small pieces, as from a connection.
    let pieces: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    s3.execute(op, &req, Box::pin(futures_util::stream::iter(pieces)), None)
        .await
}

fn text(resp: S3Response) -> String {
    match resp.body {
        ResponseBody::Text(t, _) => t,
        other => panic!("not a document: {other:?}"),
    }
}

fn header(resp: &S3Response, name: &str) -> String {
    resp.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn all<'a>(doc: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    doc.split(&open)
        .skip(1)
        .map(|s| &s[..s.find(&close).unwrap()])
        .collect()
}

#[tokio::test]
async fn listings_roll_up_common_prefixes_and_page() {
    let f = fixture();
    call(&f.s3, "PUT", "/bkt", "", b"").await.unwrap();
    for key in ["a/1", "a/2", "a/b/3", "b", "c/x", "c/y", "d", "%C3%A9"] {
        call(&f.s3, "PUT", &format!("/bkt/{key}"), "", key.as_bytes())
            .await
            .unwrap();
    }
    let top = text(
        call(&f.s3, "GET", "/bkt", "list-type=2&delimiter=/", b"")
            .await
            .unwrap(),
    );
    assert_eq!(all(&top, "Key"), ["b", "d", "é"]);
    assert_eq!(
        all(&top, "Prefix"),
        ["", "a/", "c/"],
        "the request's prefix, then the common prefixes"
    );
    // Pages of two: a common prefix counts once.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let q = match &token {
            Some(t) => format!("list-type=2&delimiter=/&max-keys=2&continuation-token={t}"),
            None => "list-type=2&delimiter=/&max-keys=2".into(),
        };
        let page = text(call(&f.s3, "GET", "/bkt", &q, b"").await.unwrap());
        seen.extend(all(&page, "Key").into_iter().map(str::to_string));
        seen.extend(all(&page, "Prefix").into_iter().skip(1).map(str::to_string));
        match all(&page, "NextContinuationToken").first() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["a/", "b", "c/", "d", "é"]);
    let under = text(
        call(
            &f.s3,
            "GET",
            "/bkt",
            "prefix=a/&delimiter=/&marker=a/1",
            b"",
        )
        .await
        .unwrap(),
    );
    assert_eq!(all(&under, "Key"), ["a/2"]);
}

#[tokio::test]
async fn multipart_objects_have_md5_of_md5s_etags_and_read_across_parts() {
    let f = fixture();
    call(&f.s3, "PUT", "/mp-bucket", "", b"").await.unwrap();
    let created = text(
        call(&f.s3, "POST", "/mp-bucket/big", "uploads", b"")
            .await
            .unwrap(),
    );
    let id = all(&created, "UploadId")[0].to_string();
    let one = vec![b'x'; 5 * 1024 * 1024];
    let two = b"tail".to_vec();
    let mut etags = Vec::new();
    for (n, part) in [(1, &one), (2, &two)] {
        let resp = call(
            &f.s3,
            "PUT",
            "/mp-bucket/big",
            &format!("partNumber={n}&uploadId={id}"),
            part,
        )
        .await
        .unwrap();
        etags.push(header(&resp, "etag"));
    }
    let wrong = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>\"00\"</ETag></Part></CompleteMultipartUpload>",
        etags[0]
    );
    let e = call(
        &f.s3,
        "POST",
        "/mp-bucket/big",
        &format!("uploadId={id}"),
        wrong.as_bytes(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "InvalidPart");
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        etags[0], etags[1]
    );
    let done = text(
        call(
            &f.s3,
            "POST",
            "/mp-bucket/big",
            &format!("uploadId={id}"),
            body.as_bytes(),
        )
        .await
        .unwrap(),
    );
    let expected = crate::digest::multipart_etag(&[
        <[u8; 16]>::try_from(hex::decode(crate::digest::md5_hex(&one)).unwrap()).unwrap(),
        <[u8; 16]>::try_from(hex::decode(crate::digest::md5_hex(&two)).unwrap()).unwrap(),
    ]);
    assert_eq!(
        all(&done, "ETag"),
        [expected.replace('"', "&quot;").as_str()]
    );
    // A range across the parts' boundary.
    let mut h = HeaderMap::new();
    h.insert("host", "127.0.0.1".parse().unwrap());
    h.insert(
        "range",
        format!("bytes={}-{}", one.len() - 2, one.len() + 1)
            .parse()
            .unwrap(),
    );
    let req = S3Request {
        method: "GET",
        path: "/mp-bucket/big",
        query: "",
        headers: &h,
    };
    let resp =
        f.s3.execute(
            parse(&req).unwrap(),
            &req,
            Box::pin(futures_util::stream::empty()),
            None,
        )
        .await
        .unwrap();
    let ResponseBody::Files(files) = resp.body else {
        panic!("not a file body")
    };
    let mut got = Vec::new();
    for (mut file, len) in files {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0; len as usize];
        file.read_exact(&mut buf).await.unwrap();
        got.extend(buf);
    }
    assert_eq!(got, b"xxta");
}

#[tokio::test]
async fn a_crash_leftover_is_swept_and_objects_stay() {
    let f = fixture();
    call(&f.s3, "PUT", "/sweep-me", "", b"").await.unwrap();
    call(&f.s3, "PUT", "/sweep-me/kept", "", b"kept")
        .await
        .unwrap();
    let dir = f._dir.path().join("s3").join("sweep-me");
    std::fs::write(dir.join("tmp").join("half-written"), b"partial").unwrap();
    std::fs::write(dir.join("data").join("renamed-but-no-row"), b"orphan").unwrap();
    assert_eq!(f.s3.recover().await.unwrap(), 2);
    assert_eq!(std::fs::read_dir(dir.join("data")).unwrap().count(), 1);
    let resp = call(&f.s3, "HEAD", "/sweep-me/kept", "", b"")
        .await
        .unwrap();
    assert_eq!(header(&resp, "content-length"), "4");
}

#[tokio::test]
async fn bucket_sub_resources_never_fall_through_to_the_bucket() {
    let f = fixture();
    call(&f.s3, "PUT", "/subs", "", b"").await.unwrap();
    // DELETE ?logging used to be DeleteBucket, PUT ?replication CreateBucket.
    for (method, query) in [
        ("DELETE", "logging"),
        ("PUT", "replication"),
        ("PUT", "accelerate"),
    ] {
        let e = call(&f.s3, method, "/subs", query, b"").await.unwrap_err();
        assert_eq!(e.code, "NotImplemented", "{method} ?{query}");
    }
    call(&f.s3, "HEAD", "/subs", "", b"").await.unwrap();
    // The default encryption until one is put; deleting it is the default.
    let enc = text(
        call(&f.s3, "GET", "/subs", "encryption", b"")
            .await
            .unwrap(),
    );
    assert!(enc.contains("<SSEAlgorithm>AES256</SSEAlgorithm>"), "{enc}");
    call(&f.s3, "DELETE", "/subs", "encryption", b"")
        .await
        .unwrap();
    call(&f.s3, "HEAD", "/subs", "", b"").await.unwrap();
    // PUT /subs/k?acl is not an upload of the ACL document.
    call(&f.s3, "PUT", "/subs/k", "", b"bytes").await.unwrap();
    let e = call(&f.s3, "PUT", "/subs/k", "acl", b"<AccessControlPolicy/>")
        .await
        .unwrap_err();
    assert_eq!(e.code, "MalformedACLError");
    let acl = text(call(&f.s3, "GET", "/subs/k", "acl", b"").await.unwrap());
    assert!(
        acl.contains("<Permission>FULL_CONTROL</Permission>"),
        "{acl}"
    );
    let resp = call(&f.s3, "GET", "/subs/k", "", b"").await.unwrap();
    assert_eq!(header(&resp, "content-length"), "5");
    assert_eq!(header(&resp, "x-amz-server-side-encryption"), "AES256");
}

#[tokio::test]
async fn object_versions_list_every_object_once_as_null_and_page() {
    let f = fixture();
    call(&f.s3, "PUT", "/vers", "", b"").await.unwrap();
    for key in ["a/1", "a/2", "b", "c"] {
        call(&f.s3, "PUT", &format!("/vers/{key}"), "", b"x")
            .await
            .unwrap();
    }
    call(&f.s3, "PUT", "/vers/b", "", b"again").await.unwrap();
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let q = match &marker {
            Some(m) => {
                format!("versions&delimiter=/&max-keys=1&key-marker={m}&version-id-marker=null")
            }
            None => "versions&delimiter=/&max-keys=1".into(),
        };
        let page = text(call(&f.s3, "GET", "/vers", &q, b"").await.unwrap());
        for v in all(&page, "Version") {
            assert!(
                v.contains("<VersionId>null</VersionId><IsLatest>true</IsLatest>"),
                "{v}"
            );
        }
        seen.extend(all(&page, "Key").into_iter().map(str::to_string));
        seen.extend(all(&page, "Prefix").into_iter().skip(1).map(str::to_string));
        match all(&page, "NextKeyMarker").first() {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["a/", "b", "c"], "each once, a common prefix once");
}

#[tokio::test]
async fn lifecycle_expires_what_its_rules_select_and_aborts_stale_uploads() {
    let f = fixture();
    call(&f.s3, "PUT", "/life", "", b"").await.unwrap();
    let rules = "<LifecycleConfiguration><Rule><ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule><Rule><ID>off</ID><Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>";
    call(&f.s3, "PUT", "/life", "lifecycle", rules.as_bytes())
        .await
        .unwrap();
    let notification = "<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue><Event>s3:LifecycleExpiration:*</Event></QueueConfiguration></NotificationConfiguration>";
    call(
        &f.s3,
        "PUT",
        "/life",
        "notification",
        notification.as_bytes(),
    )
    .await
    .unwrap();
    for key in ["logs/a", "logs/b", "keep/c"] {
        call(&f.s3, "PUT", &format!("/life/{key}"), "", b"x")
            .await
            .unwrap();
    }
    call(&f.s3, "POST", "/life/logs/big", "uploads", b"")
        .await
        .unwrap();
    let now = crate::meta::now_ms();
    // A day of a second: nothing is two days old yet.
    let swept = f.s3.sweep_lifecycle(now, 1000).await.unwrap();
    assert_eq!((swept.expired, swept.aborted), (0, 0));
    let swept = f.s3.sweep_lifecycle(now + 3000, 1000).await.unwrap();
    assert_eq!((swept.expired, swept.aborted), (2, 1));
    let listed = text(
        call(&f.s3, "GET", "/life", "list-type=2", b"")
            .await
            .unwrap(),
    );
    assert_eq!(
        all(&listed, "Key"),
        ["keep/c"],
        "the disabled rule did nothing"
    );
    let uploads = text(call(&f.s3, "GET", "/life", "uploads", b"").await.unwrap());
    assert!(all(&uploads, "UploadId").is_empty(), "{uploads}");
    let pending = f.s3.inner.store.pending_object_events().await.unwrap();
    assert_eq!(
        pending, 2,
        "one LifecycleExpiration:Delete per expired object"
    );
    let back = text(call(&f.s3, "GET", "/life", "lifecycle", b"").await.unwrap());
    assert_eq!(all(&back, "ID"), ["logs", "off"]);
    call(&f.s3, "DELETE", "/life", "lifecycle", b"")
        .await
        .unwrap();
    let e = call(&f.s3, "GET", "/life", "lifecycle", b"")
        .await
        .unwrap_err();
    assert_eq!(e.code, "NoSuchLifecycleConfiguration");
}

//! Access control lists, as S3 has them for a bucket created since April
//! 2023: Object Ownership `BucketOwnerEnforced`, ACLs disabled. Reading an
//! ACL answers the owner with `FULL_CONTROL`; setting one (PutBucketAcl,
//! PutObjectAcl, `x-amz-acl` / `x-amz-grant-*` on a write) succeeds only
//! when it says the same — the `private` or `bucket-owner-full-control`
//! canned ACL, or full control granted to the owner alone — and is
//! otherwise `AccessControlListNotSupported` (a bucket being created:
//! `InvalidBucketAclWithObjectOwnership`). Permissions are policies' (IAM
//! and the bucket policy), never ACLs'.

use http::{HeaderMap, StatusCode};

use crate::body::RequestBody;
use crate::error::S3Error;
use crate::op::not_implemented;
use crate::service::{write_owner, write_owner_fields, Inner, DOC_MAX, OWNER_ID};
use crate::xml::{self, XmlWriter};
use crate::S3Response;

/// The one Object Ownership setting a bucket has.
const ENFORCED: &str = "BucketOwnerEnforced";

/// The canned ACLs that mean "the owner has full control" and nothing else.
const OWNER_ONLY: [&str; 2] = ["private", "bucket-owner-full-control"];

/// The grant headers of a write.
const GRANT_HEADERS: [&str; 5] = [
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
];

fn not_supported() -> S3Error {
    S3Error::new(
        StatusCode::BAD_REQUEST,
        "AccessControlListNotSupported",
        "The bucket does not allow ACLs",
    )
}

/// Whether a request's ACL headers grant only the owner's full control;
/// `Ok(false)` if it has none.
fn owner_only_headers(headers: &HeaderMap) -> Result<bool, ()> {
    let mut any = false;
    if let Some(canned) = headers.get("x-amz-acl") {
        any = true;
        if !OWNER_ONLY.contains(&canned.to_str().unwrap_or("").trim()) {
            return Err(());
        }
    }
    for name in GRANT_HEADERS {
        let Some(value) = headers.get(name) else {
            continue;
        };
        any = true;
        let owner = format!("id=\"{OWNER_ID}\"");
        let only_owner = value
            .to_str()
            .unwrap_or("")
            .split(',')
            .all(|g| g.trim() == owner || g.trim() == format!("id={OWNER_ID}"));
        if name != "x-amz-grant-full-control" || !only_owner {
            return Err(());
        }
    }
    Ok(any)
}

/// The ACL headers of a write of an object (PutObject, CopyObject,
/// CreateMultipartUpload).
pub(crate) fn check_object_write(headers: &HeaderMap) -> Result<(), S3Error> {
    owner_only_headers(headers)
        .map(|_| ())
        .map_err(|()| not_supported())
}

/// The ACL and ownership headers of CreateBucket.
pub(crate) fn check_create_bucket(headers: &HeaderMap) -> Result<(), S3Error> {
    if let Some(v) = headers.get("x-amz-object-ownership") {
        let v = v.to_str().unwrap_or("");
        if v != ENFORCED {
            return Err(not_implemented(&format!(
                "Object Ownership {v}: buckets are {ENFORCED}, ACLs are not served"
            )));
        }
    }
    owner_only_headers(headers).map(|_| ()).map_err(|()| {
        S3Error::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        )
    })
}

/// An `AccessControlPolicy` document granting the owner full control and
/// nothing else: `Ok`; any other grant: `AccessControlListNotSupported`.
fn check_policy_doc(text: &str) -> Result<(), S3Error> {
    let malformed = || {
        S3Error::new(
            StatusCode::BAD_REQUEST,
            "MalformedACLError",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let root = xml::parse(text)
        .filter(|r| r.name == "AccessControlPolicy")
        .ok_or_else(malformed)?;
    let list = root.child("AccessControlList").ok_or_else(malformed)?;
    let grants: Vec<_> = list.all("Grant").collect();
    for grant in &grants {
        let grantee = grant.child("Grantee").ok_or_else(malformed)?;
        let permission = grant.text_of("Permission").ok_or_else(malformed)?.trim();
        let to_owner = grantee.text_of("ID").map(str::trim) == Some(OWNER_ID)
            && grantee.child("URI").is_none()
            && grantee.child("EmailAddress").is_none();
        if !to_owner || permission != "FULL_CONTROL" {
            return Err(not_supported());
        }
    }
    if grants.is_empty() {
        return Err(not_supported());
    }
    Ok(())
}

/// The ACL every bucket and object has: the owner, with full control.
fn owner_acl_xml() -> String {
    let mut w = XmlWriter::new();
    w.root("AccessControlPolicy");
    write_owner(&mut w, "Owner");
    w.open("AccessControlList");
    w.open("Grant");
    w.out_raw(
        "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">",
    );
    write_owner_fields(&mut w);
    w.close("Grantee");
    w.leaf("Permission", "FULL_CONTROL");
    w.close("Grant");
    w.close("AccessControlList");
    w.close("AccessControlPolicy");
    w.finish()
}

impl Inner {
    /// The bucket, or its object `key`, whose ACL a request reads or sets:
    /// it must exist.
    async fn acl_subject(&self, bucket: &str, key: Option<&str>) -> Result<(), S3Error> {
        match key {
            Some(key) => self.existing_object(bucket, key).await.map(|_| ()),
            None => self.existing(bucket).await.map(|_| ()),
        }
    }

    /// GetBucketAcl, GetObjectAcl (`key`): the owner's full control.
    pub(crate) async fn get_acl(
        &self,
        bucket: &str,
        key: Option<&str>,
    ) -> Result<S3Response, S3Error> {
        self.acl_subject(bucket, key).await?;
        Ok(S3Response::xml(owner_acl_xml()))
    }

    /// PutBucketAcl, PutObjectAcl (`key`): accepted, changing nothing,
    /// when it says what the ACL already is; else refused.
    pub(crate) async fn put_acl(
        &self,
        bucket: &str,
        key: Option<&str>,
        headers: &HeaderMap,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        self.acl_subject(bucket, key).await?;
        let doc = body.read_all(DOC_MAX).await?;
        let by_headers = owner_only_headers(headers).map_err(|()| not_supported())?;
        if doc.iter().all(u8::is_ascii_whitespace) {
            if !by_headers {
                return Err(S3Error::new(
                    StatusCode::BAD_REQUEST,
                    "MissingSecurityHeader",
                    "Your request was missing a required header",
                )
                .with("MissingHeaderName", "x-amz-acl"));
            }
        } else {
            check_policy_doc(xml::doc_text(&doc)?)?;
        }
        Ok(S3Response::empty(StatusCode::OK))
    }

    /// GetBucketOwnershipControls: `BucketOwnerEnforced`.
    pub(crate) async fn get_ownership(&self, bucket: &str) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let mut w = XmlWriter::new();
        w.root("OwnershipControls");
        w.open("Rule");
        w.leaf("ObjectOwnership", ENFORCED);
        w.close("Rule");
        w.close("OwnershipControls");
        Ok(S3Response::xml(w.finish()))
    }

    /// PutBucketOwnershipControls: `BucketOwnerEnforced` is what every
    /// bucket has; another setting would enable ACLs, not served.
    pub(crate) async fn put_ownership(
        &self,
        bucket: &str,
        body: &mut RequestBody,
    ) -> Result<S3Response, S3Error> {
        self.existing(bucket).await?;
        let text = body.read_doc().await?;
        let root = xml::parse_root(&text, "OwnershipControls")?;
        let rules: Vec<_> = root.all("Rule").collect();
        let [rule] = rules.as_slice() else {
            return Err(S3Error::malformed_xml());
        };
        match rule.text_of("ObjectOwnership").map(str::trim) {
            Some(ENFORCED) => Ok(S3Response::empty(StatusCode::OK)),
            Some(other @ ("BucketOwnerPreferred" | "ObjectWriter")) => Err(not_implemented(
                &format!("Object Ownership {other}: buckets are {ENFORCED}, ACLs are not served"),
            )),
            _ => Err(S3Error::malformed_xml()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_the_owners_full_control_may_be_set() {
        assert!(check_object_write(&headers(&[])).is_ok());
        assert!(
            check_object_write(&headers(&[("x-amz-acl", "bucket-owner-full-control")])).is_ok()
        );
        assert!(check_object_write(&headers(&[("x-amz-acl", "private")])).is_ok());
        let owner = format!("id=\"{OWNER_ID}\"");
        assert!(check_object_write(&headers(&[("x-amz-grant-full-control", &owner)])).is_ok());
        for refused in [
            ("x-amz-acl", "public-read"),
            ("x-amz-grant-read", owner.as_str()),
            ("x-amz-grant-full-control", "id=\"someone-else\""),
            (
                "x-amz-grant-full-control",
                "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            ),
        ] {
            let e = check_object_write(&headers(&[refused])).unwrap_err();
            assert_eq!(
                (e.code, e.status.as_u16()),
                ("AccessControlListNotSupported", 400),
                "{refused:?}"
            );
            assert_eq!(e.message, "The bucket does not allow ACLs");
        }
        let e = check_create_bucket(&headers(&[("x-amz-acl", "public-read-write")])).unwrap_err();
        assert_eq!(e.code, "InvalidBucketAclWithObjectOwnership");
        assert!(check_create_bucket(&headers(&[(
            "x-amz-object-ownership",
            "BucketOwnerEnforced"
        )]))
        .is_ok());
        assert_eq!(
            check_create_bucket(&headers(&[("x-amz-object-ownership", "ObjectWriter")]))
                .unwrap_err()
                .code,
            "NotImplemented"
        );
    }

    #[test]
    fn an_acl_document_may_grant_the_owner_full_control_only() {
        let grant = |id: &str, perm: &str| {
            format!("<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>{id}</ID></Grantee><Permission>{perm}</Permission></Grant>")
        };
        let doc = |grants: &str| {
            format!("<AccessControlPolicy><Owner><ID>{OWNER_ID}</ID></Owner><AccessControlList>{grants}</AccessControlList></AccessControlPolicy>")
        };
        assert!(check_policy_doc(&doc(&grant(OWNER_ID, "FULL_CONTROL"))).is_ok());
        assert_eq!(
            check_policy_doc(&doc(&grant(OWNER_ID, "READ")))
                .unwrap_err()
                .code,
            "AccessControlListNotSupported"
        );
        assert_eq!(
            check_policy_doc(&doc(&grant("x", "FULL_CONTROL")))
                .unwrap_err()
                .code,
            "AccessControlListNotSupported"
        );
        assert_eq!(
            check_policy_doc("<AccessControlPolicy>").unwrap_err().code,
            "MalformedACLError"
        );
        let xml = owner_acl_xml();
        assert!(
            xml.contains("xsi:type=\"CanonicalUser\"")
                && xml.contains("<Permission>FULL_CONTROL</Permission>"),
            "{xml}"
        );
        assert!(xml::parse(&xml).is_some());
    }
}

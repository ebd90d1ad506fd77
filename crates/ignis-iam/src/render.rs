//! IAM's result shapes (the model's members, in its order) from stored
//! records.

use chrono::{TimeZone, Utc};
use ignis_protocol::{Members, XmlValue};
use ignis_store::iam::{AccessKey, IamRole, IamUser, ManagedPolicy, Tag};

use crate::document;
use crate::managed::AwsManagedPolicy;
use crate::principal::{role_arn, user_arn};

/// A timestamp as IAM writes it (`2026-03-07T12:00:00Z`).
pub fn date(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn tags(list: &[Tag]) -> Vec<XmlValue> {
    list.iter()
        .map(|(k, v)| XmlValue::Struct(Members::new().text("Key", k).text("Value", v)))
        .collect()
}

fn with_tags(m: Members, list: &[Tag]) -> Members {
    if list.is_empty() {
        m
    } else {
        m.list("Tags", tags(list))
    }
}

/// `User` (tags only where the operation returns them).
pub fn user(u: &IamUser, include_tags: bool) -> Members {
    let m = Members::new()
        .text("Path", &u.path)
        .text("UserName", &u.name)
        .text("UserId", &u.id)
        .text("Arn", user_arn(&u.path, &u.name))
        .text("CreateDate", date(u.create_date));
    if include_tags {
        with_tags(m, &u.tags)
    } else {
        m
    }
}

/// `Role` (tags only where the operation returns them; the trust policy
/// percent-encoded, as IAM answers policy documents).
pub fn role(r: &IamRole, include_tags: bool) -> Members {
    let m = Members::new()
        .text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.id)
        .text("Arn", role_arn(&r.path, &r.name))
        .text("CreateDate", date(r.create_date))
        .text(
            "AssumeRolePolicyDocument",
            document::encode(&r.trust_policy),
        )
        .opt("Description", r.description.as_deref())
        .text("MaxSessionDuration", r.max_session_duration.to_string());
    if include_tags {
        with_tags(m, &r.tags).nested("RoleLastUsed", Members::new())
    } else {
        m
    }
}

/// `AccessKey` (with its secret: CreateAccessKey's answer only).
pub fn access_key(k: &AccessKey) -> Members {
    Members::new()
        .text("UserName", &k.user_name)
        .text("AccessKeyId", &k.id)
        .text("Status", &k.status)
        .text("SecretAccessKey", &k.secret)
        .text("CreateDate", date(k.create_date))
}

/// `AccessKeyMetadata`.
pub fn access_key_metadata(k: &AccessKey) -> Members {
    Members::new()
        .text("UserName", &k.user_name)
        .text("AccessKeyId", &k.id)
        .text("Status", &k.status)
        .text("CreateDate", date(k.create_date))
}

/// `Policy` of a customer managed policy.
pub fn policy(p: &ManagedPolicy, attachments: u64, detail: bool) -> Members {
    let m = Members::new()
        .text("PolicyName", &p.name)
        .text("PolicyId", &p.id)
        .text("Arn", &p.arn)
        .text("Path", &p.path)
        .text("DefaultVersionId", format!("v{}", p.default_version))
        .text("AttachmentCount", attachments.to_string())
        .text("PermissionsBoundaryUsageCount", "0")
        .bool("IsAttachable", true);
    let m = if detail {
        m.opt("Description", p.description.as_deref())
    } else {
        m
    };
    let m = m
        .text("CreateDate", date(p.create_date))
        .text("UpdateDate", date(p.update_date));
    if detail {
        with_tags(m, &p.tags)
    } else {
        m
    }
}

/// `Policy` of an AWS managed policy.
pub fn aws_policy(p: &AwsManagedPolicy, attachments: u64) -> Members {
    Members::new()
        .text("PolicyName", &p.policy_name)
        .text("PolicyId", &p.policy_id)
        .text("Arn", &p.arn)
        .text("Path", &p.path)
        .text("DefaultVersionId", &p.default_version_id)
        .text("AttachmentCount", attachments.to_string())
        .text("PermissionsBoundaryUsageCount", "0")
        .bool("IsAttachable", true)
        .text("CreateDate", &p.create_date)
        .text("UpdateDate", &p.update_date)
}

/// `PolicyVersion`.
pub fn policy_version(
    document: &str,
    version_id: &str,
    is_default: bool,
    created: &str,
) -> Members {
    Members::new()
        .text("Document", document::encode(document))
        .text("VersionId", version_id)
        .bool("IsDefaultVersion", is_default)
        .text("CreateDate", created)
}

/// A list's `IsTruncated` and `Marker`.
pub fn truncation(m: Members, next: Option<String>) -> Members {
    m.bool("IsTruncated", next.is_some()).opt("Marker", next)
}

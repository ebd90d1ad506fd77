//! Lifecycle: a bucket's `LifecycleConfiguration` (rules of a filter and
//! actions), checked as S3 checks it when put, and a sweeper that applies
//! the enabled rules — expiring objects (`Expiration` `Days` or `Date`,
//! filtered by prefix, tags and size) with `s3:LifecycleExpiration:Delete`
//! notifications through the outbox, and aborting multipart uploads left
//! incomplete (`AbortIncompleteMultipartUpload.DaysAfterInitiation`).
//!
//! As on S3, rules act on whole days: an object made at `t` expires `Days`
//! later rounded up to the next day boundary (midnight UTC). The length
//! of a day is the sweeper's (`day_ms`: a real day; tests shorten it,
//! docs/objects.md). Storage-class transitions are `NotImplemented` (Ignis
//! has one storage class); noncurrent-version and delete-marker actions
//! are kept but have nothing to act on (versioning is never enabled).

use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::S3Error;
use crate::meta::{iso8601, ObjectMeta};
use crate::notify::EventName;
use crate::op::not_implemented;
use crate::setting::StoredConfig;
use crate::xml::{self, Element, XmlWriter};
use crate::S3;

/// The most rules a configuration holds.
const MAX_RULES: usize = 1000;
/// Rows read at a time while sweeping.
const PAGE: usize = 1000;
/// A real day.
pub const DAY_MS: i64 = 86_400_000;

/// Which objects a rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Filter {
    prefix: String,
    tags: Vec<(String, String)>,
    larger_than: Option<u64>,
    smaller_than: Option<u64>,
}

/// How a rule was written: a filter element or the older rule-level
/// `Prefix`; with `And`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
enum FilterForm {
    /// `<Filter>` with one condition (or none).
    #[default]
    Filter,
    /// `<Filter><And>…</And></Filter>`.
    And,
    /// `<Prefix>` beside the actions.
    RulePrefix,
}

/// When an `Expiration` acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Expiration {
    /// Days after the object was written.
    Days(u32),
    /// At a date (midnight UTC), Unix epoch milliseconds.
    Date(i64),
    /// Expired delete markers (versioned buckets only: nothing to do here).
    DeleteMarker(bool),
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Rule {
    id: String,
    enabled: bool,
    filter: Filter,
    form: FilterForm,
    expiration: Option<Expiration>,
    abort_after_days: Option<u32>,
    /// `NoncurrentVersionExpiration`: days and newer versions kept.
    noncurrent: Option<(u32, Option<u32>)>,
}

/// A bucket's lifecycle configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LifecycleConfig {
    rules: Vec<Rule>,
}

fn invalid(message: &str) -> S3Error {
    S3Error::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
}

fn positive(text: Option<&str>, message: &str) -> Result<Option<u32>, S3Error> {
    text.map(|t| {
        t.trim()
            .parse::<u32>()
            .ok()
            .filter(|d| *d > 0)
            .ok_or_else(|| invalid(message))
    })
    .transpose()
}

fn size(text: Option<&str>) -> Result<Option<u64>, S3Error> {
    text.map(|t| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| S3Error::malformed_xml())
    })
    .transpose()
}

fn tag(el: &Element) -> Result<(String, String), S3Error> {
    Ok((
        el.text_of("Key")
            .ok_or_else(S3Error::malformed_xml)?
            .to_string(),
        el.text_of("Value").unwrap_or("").to_string(),
    ))
}

impl Filter {
    /// A `<Filter>`: at most one of `Prefix`, `Tag`, `And`,
    /// `ObjectSizeGreaterThan`, `ObjectSizeLessThan`.
    fn parse(el: &Element) -> Result<(Self, FilterForm), S3Error> {
        if el.children.len() > 1 {
            return Err(S3Error::malformed_xml());
        }
        let mut filter = Self::default();
        let Some(only) = el.children.first() else {
            return Ok((filter, FilterForm::Filter));
        };
        let form = match only.name.as_str() {
            "Prefix" => {
                filter.prefix = only.text.clone();
                FilterForm::Filter
            }
            "Tag" => {
                filter.tags.push(tag(only)?);
                FilterForm::Filter
            }
            "ObjectSizeGreaterThan" => {
                filter.larger_than = size(Some(&only.text))?;
                FilterForm::Filter
            }
            "ObjectSizeLessThan" => {
                filter.smaller_than = size(Some(&only.text))?;
                FilterForm::Filter
            }
            "And" => {
                filter.prefix = only.text_of("Prefix").unwrap_or("").to_string();
                filter.tags = only.all("Tag").map(tag).collect::<Result<_, _>>()?;
                filter.larger_than = size(only.text_of("ObjectSizeGreaterThan"))?;
                filter.smaller_than = size(only.text_of("ObjectSizeLessThan"))?;
                FilterForm::And
            }
            _ => return Err(S3Error::malformed_xml()),
        };
        if let (Some(gt), Some(lt)) = (filter.larger_than, filter.smaller_than) {
            if gt >= lt {
                return Err(invalid(
                    "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
                ));
            }
        }
        Ok((filter, form))
    }

    /// Whether an object of `key`, `size` and `tags` is under it.
    fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|t| tags.contains(t))
            && self.larger_than.is_none_or(|gt| size > gt)
            && self.smaller_than.is_none_or(|lt| size < lt)
    }
}

fn parse_date(text: &str) -> Result<i64, S3Error> {
    let when = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| S3Error::malformed_xml())?
        .with_timezone(&chrono::Utc);
    let ms = when.timestamp_millis();
    if ms.rem_euclid(DAY_MS) != 0 {
        return Err(invalid("'Date' must be at midnight GMT"));
    }
    Ok(ms)
}

impl Rule {
    fn parse(el: &Element) -> Result<Self, S3Error> {
        let id = match el.text_of("ID").map(str::trim) {
            Some(id) if id.chars().count() > 255 => {
                return Err(invalid("ID length should not exceed allowed limit of 255"))
            }
            Some(id) if !id.is_empty() => id.to_string(),
            _ => uuid::Uuid::new_v4().simple().to_string(),
        };
        let enabled = match el.text_of("Status").map(str::trim) {
            Some("Enabled") => true,
            Some("Disabled") => false,
            _ => return Err(S3Error::malformed_xml()),
        };
        let (filter, form) = match (el.child("Filter"), el.text_of("Prefix")) {
            (Some(f), None) => Filter::parse(f)?,
            (None, Some(p)) => (
                Filter {
                    prefix: p.to_string(),
                    ..Filter::default()
                },
                FilterForm::RulePrefix,
            ),
            _ => return Err(S3Error::malformed_xml()),
        };
        if el.child("Transition").is_some() || el.child("NoncurrentVersionTransition").is_some() {
            return Err(not_implemented(
                "lifecycle transitions: Ignis has one storage class",
            ));
        }
        let expiration = el.child("Expiration").map(Self::expiration).transpose()?;
        let abort_after_days = match el.child("AbortIncompleteMultipartUpload") {
            Some(a) => Some(
                positive(
                    Some(a.text_of("DaysAfterInitiation").ok_or_else(S3Error::malformed_xml)?),
                    "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                )?
                .expect("given"),
            ),
            None => None,
        };
        if abort_after_days.is_some() && !filter.tags.is_empty() {
            return Err(invalid(
                "AbortIncompleteMultipartUpload cannot be specified with Tags.",
            ));
        }
        let noncurrent = match el.child("NoncurrentVersionExpiration") {
            Some(n) => Some((
                positive(
                    Some(n.text_of("NoncurrentDays").ok_or_else(S3Error::malformed_xml)?),
                    "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                )?
                .expect("given"),
                positive(
                    n.text_of("NewerNoncurrentVersions"),
                    "'NewerNoncurrentVersions' must be a positive integer",
                )?,
            )),
            None => None,
        };
        if expiration.is_none() && abort_after_days.is_none() && noncurrent.is_none() {
            return Err(S3Error::invalid_request(
                "At least one action needs to be specified in a rule",
            ));
        }
        Ok(Self {
            id,
            enabled,
            filter,
            form,
            expiration,
            abort_after_days,
            noncurrent,
        })
    }

    fn expiration(el: &Element) -> Result<Expiration, S3Error> {
        let days = el.text_of("Days");
        let date = el.text_of("Date");
        let marker = el.text_of("ExpiredObjectDeleteMarker");
        match (days, date, marker) {
            (Some(d), None, None) => Ok(Expiration::Days(
                positive(
                    Some(d),
                    "'Days' for Expiration action must be a positive integer",
                )?
                .expect("given"),
            )),
            (None, Some(d), None) => Ok(Expiration::Date(parse_date(d)?)),
            (None, None, Some(m)) => match m.trim() {
                "true" => Ok(Expiration::DeleteMarker(true)),
                "false" => Ok(Expiration::DeleteMarker(false)),
                _ => Err(S3Error::malformed_xml()),
            },
            _ => Err(S3Error::malformed_xml()),
        }
    }

    fn write(&self, w: &mut XmlWriter) {
        w.open("Rule");
        w.leaf("ID", &self.id);
        let f = &self.filter;
        match self.form {
            FilterForm::RulePrefix => w.leaf("Prefix", &f.prefix),
            FilterForm::And => {
                w.open("Filter");
                w.open("And");
                w.leaf("Prefix", &f.prefix);
                write_tags(w, &f.tags);
                write_sizes(w, f);
                w.close("And");
                w.close("Filter");
            }
            FilterForm::Filter => {
                w.open("Filter");
                if !f.tags.is_empty() {
                    write_tags(w, &f.tags);
                } else if f.larger_than.is_some() || f.smaller_than.is_some() {
                    write_sizes(w, f);
                } else {
                    w.leaf("Prefix", &f.prefix);
                }
                w.close("Filter");
            }
        }
        w.leaf("Status", if self.enabled { "Enabled" } else { "Disabled" });
        match &self.expiration {
            Some(Expiration::Days(d)) => {
                w.open("Expiration");
                w.leaf("Days", &d.to_string());
                w.close("Expiration");
            }
            Some(Expiration::Date(ms)) => {
                w.open("Expiration");
                w.leaf("Date", &iso8601(*ms));
                w.close("Expiration");
            }
            Some(Expiration::DeleteMarker(m)) => {
                w.open("Expiration");
                w.leaf(
                    "ExpiredObjectDeleteMarker",
                    if *m { "true" } else { "false" },
                );
                w.close("Expiration");
            }
            None => {}
        }
        if let Some((days, newer)) = self.noncurrent {
            w.open("NoncurrentVersionExpiration");
            w.leaf("NoncurrentDays", &days.to_string());
            if let Some(n) = newer {
                w.leaf("NewerNoncurrentVersions", &n.to_string());
            }
            w.close("NoncurrentVersionExpiration");
        }
        if let Some(days) = self.abort_after_days {
            w.open("AbortIncompleteMultipartUpload");
            w.leaf("DaysAfterInitiation", &days.to_string());
            w.close("AbortIncompleteMultipartUpload");
        }
        w.close("Rule");
    }

    /// When an object written at `written_ms` expires under it, if ever.
    fn expires_at(&self, written_ms: i64, day_ms: i64) -> Option<i64> {
        match self.expiration {
            Some(Expiration::Days(d)) => Some(after_days(written_ms, d, day_ms)),
            Some(Expiration::Date(ms)) => Some(ms),
            _ => None,
        }
    }
}

/// `days` days after `at`, rounded up to the next day boundary (midnight
/// UTC for a real day), as S3 counts.
fn after_days(at: i64, days: u32, day_ms: i64) -> i64 {
    let raw = at.saturating_add(i64::from(days).saturating_mul(day_ms));
    raw.div_euclid(day_ms)
        .saturating_add(i64::from(raw.rem_euclid(day_ms) != 0))
        * day_ms
}

fn write_tags(w: &mut XmlWriter, tags: &[(String, String)]) {
    for (k, v) in tags {
        w.open("Tag");
        w.leaf("Key", k);
        w.leaf("Value", v);
        w.close("Tag");
    }
}

fn write_sizes(w: &mut XmlWriter, f: &Filter) {
    if let Some(gt) = f.larger_than {
        w.leaf("ObjectSizeGreaterThan", &gt.to_string());
    }
    if let Some(lt) = f.smaller_than {
        w.leaf("ObjectSizeLessThan", &lt.to_string());
    }
}

impl StoredConfig for LifecycleConfig {}

impl LifecycleConfig {
    /// Reads a `LifecycleConfiguration` document.
    pub(crate) fn parse(text: &str) -> Result<Self, S3Error> {
        let root = xml::parse_root(text, "LifecycleConfiguration")?;
        let rules = xml::one_to_max(&root, "Rule", MAX_RULES, Rule::parse)?;
        let mut ids = std::collections::HashSet::new();
        if !rules.iter().all(|r| ids.insert(r.id.as_str())) {
            return Err(invalid(
                "Rule ID must be unique. Found same ID for more than one rule",
            ));
        }
        Ok(Self { rules })
    }

    /// GetBucketLifecycleConfiguration's document.
    pub(crate) fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.root("LifecycleConfiguration");
        for r in &self.rules {
            r.write(&mut w);
        }
        w.close("LifecycleConfiguration");
        w.finish()
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Objects expired.
    pub expired: u64,
    /// Incomplete multipart uploads aborted.
    pub aborted: u64,
}

impl S3 {
    /// Applies every bucket's enabled lifecycle rules as of `now_ms`, a day
    /// lasting `day_ms` ([`DAY_MS`] but in tests).
    pub async fn sweep_lifecycle(&self, now_ms: i64, day_ms: i64) -> Result<Swept, S3Error> {
        let day_ms = day_ms.max(1);
        let mut swept = Swept::default();
        for bucket in self.inner.store.buckets().await? {
            let Some(config) = self
                .inner
                .store
                .bucket_setting(&bucket.name, crate::op::BucketDoc::Lifecycle.setting())
                .await?
            else {
                continue;
            };
            let config = LifecycleConfig::decode(&config);
            for rule in config.rules.iter().filter(|r| r.enabled) {
                swept.expired += self.expire(&bucket.name, rule, now_ms, day_ms).await?;
                if let Some(days) = rule.abort_after_days {
                    swept.aborted += self
                        .abort_stale(&bucket.name, &rule.filter.prefix, days, now_ms, day_ms)
                        .await?;
                }
            }
        }
        Ok(swept)
    }

    async fn expire(
        &self,
        bucket: &str,
        rule: &Rule,
        now_ms: i64,
        day_ms: i64,
    ) -> Result<u64, S3Error> {
        if !matches!(
            rule.expiration,
            Some(Expiration::Days(_) | Expiration::Date(_))
        ) {
            return Ok(0);
        }
        let this = &self.inner;
        let mut expired = 0;
        let mut after: Option<String> = None;
        loop {
            let rows = this
                .store
                .list_objects(bucket, &rule.filter.prefix, after.as_deref(), PAGE)
                .await?;
            let full = rows.len() == PAGE;
            for row in rows {
                after = Some(row.key.clone());
                let due = rule.expires_at(row.modified_ms, day_ms);
                if due.is_none_or(|d| d > now_ms) {
                    continue;
                }
                let tags = ObjectMeta::decode(&row.meta).tags;
                if !rule.filter.matches(&row.key, row.size, &tags) {
                    continue;
                }
                // Only the object that expired: one written meanwhile stays.
                let removed = this
                    .remove_object_as_read(&row, EventName::LifecycleDelete)
                    .await?;
                if removed {
                    tracing::info!(
                        bucket,
                        key = row.key,
                        rule = rule.id,
                        "object expired by lifecycle"
                    );
                    expired += 1;
                }
            }
            if !full {
                return Ok(expired);
            }
        }
    }

    async fn abort_stale(
        &self,
        bucket: &str,
        prefix: &str,
        days: u32,
        now_ms: i64,
        day_ms: i64,
    ) -> Result<u64, S3Error> {
        let this = &self.inner;
        let mut aborted = 0;
        for upload in this.store.uploads(bucket).await? {
            if !upload.key.starts_with(prefix)
                || after_days(upload.initiated_ms, days, day_ms) > now_ms
            {
                continue;
            }
            if let Some(files) = this.store.abort_upload(&upload.upload_id).await? {
                for f in files {
                    this.disk.remove(bucket, &f).await;
                }
                tracing::info!(
                    bucket,
                    key = upload.key,
                    upload_id = upload.upload_id,
                    "incomplete upload aborted by lifecycle"
                );
                aborted += 1;
            }
        }
        Ok(aborted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> String {
        format!(
            "<LifecycleConfiguration xmlns=\"{}\">{rules}</LifecycleConfiguration>",
            xml::NS
        )
    }

    #[test]
    fn rules_round_trip_and_bad_ones_are_refused() {
        let good = doc("<Rule><ID>logs</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>\
            <Rule><ID>tmp</ID><Prefix>tmp/</Prefix><Status>Disabled</Status><Expiration><Date>2027-01-01T00:00:00Z</Date></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>\
            <Rule><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays></NoncurrentVersionExpiration></Rule>");
        let config = LifecycleConfig::parse(&good).unwrap();
        assert_eq!(LifecycleConfig::parse(&config.to_xml()).unwrap(), config);
        assert_eq!(LifecycleConfig::decode(&config.encode()), config);
        assert_eq!(
            config.rules[2].id.len(),
            32,
            "an ID is made when none is given"
        );
        let rule = |body: &str| doc(&format!("<Rule>{body}</Rule>"));
        for (bad, code) in [
            (doc(""), "MalformedXML"),
            (rule("<Filter/><Expiration><Days>1</Days></Expiration>"), "MalformedXML"),
            (rule("<Filter/><Status>Enabled</Status>"), "InvalidRequest"),
            (rule("<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>"), "InvalidArgument"),
            (rule("<Filter/><Status>Enabled</Status><Expiration><Date>2027-01-01T10:00:00Z</Date></Expiration>"), "InvalidArgument"),
            (rule("<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2027-01-01T00:00:00Z</Date></Expiration>"), "MalformedXML"),
            (rule("<Filter><Prefix>a</Prefix><Tag><Key>k</Key></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"), "MalformedXML"),
            (rule("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"), "InvalidArgument"),
            (rule("<Filter/><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>"), "NotImplemented"),
            (doc("<Rule><ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>"), "InvalidArgument"),
        ] {
            assert_eq!(LifecycleConfig::parse(&bad).unwrap_err().code, code, "{bad}");
        }
    }

    #[test]
    fn days_count_to_the_next_day_boundary_and_filters_select() {
        // Written at 10:00 on day 0 with Days=1: expires at midnight of day 2.
        let ten = 10 * 3_600_000;
        assert_eq!(after_days(ten, 1, DAY_MS), 2 * DAY_MS);
        assert_eq!(after_days(DAY_MS, 1, DAY_MS), 2 * DAY_MS);
        assert_eq!(after_days(1500, 2, 1000), 4000);
        let f = Filter {
            prefix: "logs/".into(),
            tags: vec![("k".into(), "v".into())],
            larger_than: Some(10),
            smaller_than: None,
        };
        let tags = [
            ("k".to_string(), "v".to_string()),
            ("x".to_string(), "y".to_string()),
        ];
        assert!(f.matches("logs/a", 11, &tags));
        assert!(!f.matches("logs/a", 10, &tags));
        assert!(!f.matches("logs/a", 11, &tags[1..]));
        assert!(!f.matches("other/a", 11, &tags));
    }
}

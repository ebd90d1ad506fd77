//! Queue lifecycle: create (idempotent when the attributes match), list,
//! attributes, tags, delete, and the dead-letter relation.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ignis_store::sqs::SqsQueueRecord;

use super::{queue_of, store_err, Sqs};
use crate::attributes::{self, RedrivePolicy, FIFO_QUEUE, REDRIVE_POLICY};
use crate::error::SqsError;
use crate::model::Queue;
use crate::names;

/// The most tags a queue has.
const MAX_TAGS: usize = 50;
/// The most queues one `ListQueues` page holds.
const MAX_LIST: u32 = 1_000;

impl Sqs {
    /// Creates a queue, or returns the one of that name when its
    /// attributes match (`QueueAlreadyExists` when they do not).
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> Result<Queue, SqsError> {
        let fifo = match attributes.get(FIFO_QUEUE).map(|v| v.to_ascii_lowercase()) {
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(_) => return Err(SqsError::invalid_attribute_value(FIFO_QUEUE, None)),
            None => false,
        };
        names::check(name, fifo)?;
        let given = attributes::validate(&attributes, fifo, true)?;
        let full = attributes::with_defaults(given.clone(), fifo);
        attributes::check_combination(&full)?;
        check_tags(&tags)?;
        if let Some(v) = full.get(REDRIVE_POLICY) {
            self.check_redrive(name, fifo, &attributes::redrive_policy(v)?, v)
                .await?;
        }
        let now = chrono::Utc::now().timestamp();
        let record = SqsQueueRecord {
            name: name.to_string(),
            attributes: full,
            tags,
            created_s: now,
            modified_s: now,
        };
        let (stored, created) = self.store.create_queue(&record).await.map_err(store_err)?;
        if !created {
            if let Some((k, _)) = given
                .iter()
                .find(|(k, v)| stored.attributes.get(*k) != Some(*v) && *k != FIFO_QUEUE)
            {
                return Err(SqsError::sender(
                    "QueueNameExists",
                    format!("A queue already exists with the same name and a different value for attribute {k}"),
                ));
            }
        }
        self.forget(name);
        Ok(queue_of(&self.region, stored))
    }

    /// Checks a redrive policy of queue `name`: its dead-letter queue
    /// exists, is of the same type, and lets `name` name it.
    async fn check_redrive(
        &self,
        name: &str,
        fifo: bool,
        policy: &RedrivePolicy,
        raw: &str,
    ) -> Result<(), SqsError> {
        let invalid = |reason: &str| {
            SqsError::invalid_parameter(format!(
                "Value {raw} for parameter RedrivePolicy is invalid. Reason: {reason}"
            ))
        };
        let Some(dlq_name) = self.name_of_arn(&policy.target_arn) else {
            return Err(invalid("Dead-letter target does not exist."));
        };
        let dlq = match self.queue(dlq_name).await {
            Ok(q) => q,
            Err(e) if e.code == "QueueDoesNotExist" => {
                return Err(invalid("Dead-letter target does not exist."))
            }
            Err(e) => return Err(e),
        };
        if dlq.is_fifo() != fifo {
            return Err(invalid(
                "Dead-letter queue must be same type of queue as the source.",
            ));
        }
        let allow = dlq.attributes.get(attributes::REDRIVE_ALLOW_POLICY);
        if !attributes::allows_source(allow.map(String::as_str), &self.queue_arn(name)) {
            return Err(invalid(
                "Queue is not allowed to use this dead-letter queue by its RedriveAllowPolicy.",
            ));
        }
        Ok(())
    }

    /// Queue names, in name order, starting with `prefix`, a page of at
    /// most `max` (1–1,000) after `next_token`, and the next page's token.
    pub async fn list_queues(
        &self,
        prefix: Option<&str>,
        max: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), SqsError> {
        if let Some(m) = max.filter(|m| !(1..=MAX_LIST).contains(m)) {
            return Err(SqsError::invalid_parameter(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
            )));
        }
        let after = match next_token {
            None => None,
            Some(t) => Some(
                URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| SqsError::invalid_parameter("Invalid NextToken value."))?,
            ),
        };
        let all = self.store.list_queues().await.map_err(store_err)?;
        let mut names = all
            .into_iter()
            .map(|q| q.name)
            .filter(|n| n.starts_with(prefix.unwrap_or("")))
            .filter(|n| after.as_ref().is_none_or(|a| n > a));
        let limit = max.unwrap_or(MAX_LIST) as usize;
        let page: Vec<String> = names.by_ref().take(limit).collect();
        let token = match (max, names.next(), page.last()) {
            (Some(_), Some(_), Some(last)) => Some(URL_SAFE_NO_PAD.encode(last)),
            _ => None,
        };
        Ok((page, token))
    }

    /// Sets attributes (validated as SQS does; `FifoQueue` cannot change).
    pub async fn set_attributes(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        let current = self.queue(name).await?;
        let given = attributes::validate(&attributes, current.is_fifo(), false)?;
        let mut merged = current.attributes.clone();
        for (k, v) in &given {
            if v.is_empty() {
                merged.remove(k);
            } else {
                merged.insert(k.clone(), v.clone());
            }
        }
        attributes::check_combination(&merged)?;
        if let Some(v) = given.get(REDRIVE_POLICY).filter(|v| !v.is_empty()) {
            self.check_redrive(name, current.is_fifo(), &attributes::redrive_policy(v)?, v)
                .await?;
        }
        let now = chrono::Utc::now().timestamp();
        let found = self
            .store
            .set_queue_attributes(name, &given, now)
            .await
            .map_err(store_err)?;
        self.forget(name);
        if !found {
            return Err(SqsError::no_queue());
        }
        // A shorter visibility or delay may make messages visible sooner.
        self.wake(name);
        Ok(())
    }

    /// Deletes a queue and its messages.
    pub async fn delete_queue(&self, name: &str) -> Result<(), SqsError> {
        let found = self.store.delete_queue(name).await.map_err(store_err)?;
        self.forget(name);
        self.wake(name);
        if found {
            Ok(())
        } else {
            Err(SqsError::no_queue())
        }
    }

    /// Adds or replaces tags.
    pub async fn tag_queue(
        &self,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        check_tags(&tags)?;
        let current = self.queue(name).await?;
        let mut merged = current.tags.clone();
        merged.extend(tags.clone());
        if merged.len() > MAX_TAGS {
            return Err(SqsError::invalid_parameter(format!(
                "Too many tags added for queue {name}."
            )));
        }
        self.retag(name, &tags, &[]).await
    }

    /// Removes tags.
    pub async fn untag_queue(&self, name: &str, keys: &[String]) -> Result<(), SqsError> {
        self.retag(name, &BTreeMap::new(), keys).await
    }

    async fn retag(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), SqsError> {
        let found = self
            .store
            .tag_queue(name, set, remove)
            .await
            .map_err(store_err)?;
        self.forget(name);
        if found {
            Ok(())
        } else {
            Err(SqsError::no_queue())
        }
    }

    /// Names of the queues whose `RedrivePolicy` names this one.
    pub async fn dead_letter_sources(&self, name: &str) -> Result<Vec<String>, SqsError> {
        self.queue(name).await?;
        let arn = self.queue_arn(name);
        let all = self.store.list_queues().await.map_err(store_err)?;
        Ok(all
            .into_iter()
            .filter(|q| {
                q.attributes
                    .get(REDRIVE_POLICY)
                    .and_then(|p| attributes::redrive_policy(p).ok())
                    .is_some_and(|p| p.target_arn == arn)
            })
            .map(|q| q.name)
            .collect())
    }
}

/// Checks tags as SQS does: at most 50, keys 1–128 and values up to 256
/// characters.
fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), SqsError> {
    if tags.len() > MAX_TAGS {
        return Err(SqsError::invalid_parameter(
            "Too many tags: a queue has at most 50 tags.",
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(SqsError::invalid_parameter(format!(
                "Tag {k} is invalid: keys are 1 to 128 characters, values up to 256."
            )));
        }
    }
    Ok(())
}

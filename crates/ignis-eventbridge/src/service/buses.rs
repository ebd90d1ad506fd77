//! Event buses and tags: Create/Describe/List/DeleteEventBus,
//! TagResource, UntagResource, ListTagsForResource.

use std::collections::BTreeMap;

use ignis_protocol::AwsError;
use ignis_store::events_bus::{EventBus, EventRule};
use serde_json::{json, Value};

use super::{epoch_s, page_size, EventBridge};
use crate::error::{already_exists, internal, no_bus, not_found, validation};
use crate::names::{bus_arn, bus_name, resource_of, valid_bus_name, Resource, DEFAULT_BUS};
use crate::op::Tag;

/// Tags a resource may have.
const MAX_TAGS: usize = 50;

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
    if tags.len() > MAX_TAGS {
        return Err(crate::error::limit_exceeded(format!(
            "A resource has at most {MAX_TAGS} tags."
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(validation(
                "A tag key must be 1 to 128 characters and a value at most 256.",
            ));
        }
        if k.starts_with("aws:") {
            return Err(validation("The aws: tag prefix is reserved."));
        }
    }
    Ok(())
}

fn bus_json(bus: &EventBus) -> Value {
    let mut out = json!({
        "Name": bus.name,
        "Arn": bus.arn,
        "CreationTime": epoch_s(bus.created_ms),
        "LastModifiedTime": epoch_s(bus.created_ms),
    });
    if let Some(d) = &bus.description {
        out["Description"] = json!(d);
    }
    out
}

/// What a tagged ARN names, found.
enum Tagged {
    Bus(EventBus),
    Rule(EventRule),
}

impl EventBridge {
    pub(super) async fn create_bus(
        &self,
        name: String,
        description: Option<String>,
        tags: Vec<Tag>,
    ) -> Result<Value, AwsError> {
        if !valid_bus_name(&name) {
            return Err(validation(format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+"
            )));
        }
        if name.starts_with("aws.") {
            return Err(validation(
                "Event bus names starting with aws. are for partner event sources.",
            ));
        }
        let tags: BTreeMap<String, String> = tags.into_iter().map(|t| (t.key, t.value)).collect();
        check_tags(&tags)?;
        let arn = bus_arn(&self.inner.region, &self.inner.account, &name);
        let bus = EventBus {
            name: name.clone(),
            arn: arn.clone(),
            description: description.clone(),
            tags,
            created_ms: self.inner.clock.now_ms(),
        };
        if !self
            .inner
            .store
            .create_bus(bus)
            .await
            .map_err(|e| internal(&e))?
        {
            return Err(already_exists(format!("Event bus {name} already exists.")));
        }
        let mut out = json!({ "EventBusArn": arn });
        if let Some(d) = description {
            out["Description"] = json!(d);
        }
        Ok(out)
    }

    pub(super) async fn describe_bus(&self, name: Option<String>) -> Result<Value, AwsError> {
        let bus = self.bus(name.as_deref()).await?;
        Ok(bus_json(&bus))
    }

    pub(super) async fn list_buses(
        &self,
        prefix: Option<String>,
        next_token: Option<String>,
        limit: Option<i64>,
    ) -> Result<Value, AwsError> {
        let size = page_size(limit)?;
        let mut buses = self
            .inner
            .store
            .list_buses(
                prefix.as_deref().unwrap_or(""),
                next_token.as_deref(),
                size + 1,
            )
            .await
            .map_err(|e| internal(&e))?;
        let more = buses.len() > size;
        buses.truncate(size);
        let mut out = json!({ "EventBuses": buses.iter().map(bus_json).collect::<Vec<_>>() });
        if more {
            out["NextToken"] = json!(buses.last().map(|b| b.name.clone()));
        }
        Ok(out)
    }

    pub(super) async fn delete_bus(&self, name: &str) -> Result<Value, AwsError> {
        let name = bus_name(Some(name));
        if name == DEFAULT_BUS {
            return Err(validation("Cannot delete event bus default."));
        }
        // AWS answers a bus that is not there as deleted.
        self.inner
            .store
            .delete_bus(&name)
            .await
            .map_err(|e| internal(&e))?;
        Ok(json!({}))
    }

    async fn tagged(&self, arn: &str) -> Result<Tagged, AwsError> {
        let missing = || not_found(format!("Resource {arn} does not exist."));
        match resource_of(arn)
            .ok_or_else(|| validation(format!("Parameter ResourceARN is not valid: {arn}")))?
        {
            Resource::Bus(name) => self
                .inner
                .store
                .bus(&name)
                .await
                .map_err(|e| internal(&e))?
                .map(Tagged::Bus)
                .ok_or_else(|| no_bus(&name)),
            Resource::Rule(bus, name) => self
                .inner
                .store
                .rule(&bus, &name)
                .await
                .map_err(|e| internal(&e))?
                .map(Tagged::Rule)
                .ok_or_else(missing),
        }
    }

    async fn save_tags(
        &self,
        found: Tagged,
        edit: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), AwsError> {
        let store = &self.inner.store;
        let saved = match found {
            Tagged::Bus(bus) => {
                let mut tags = bus.tags;
                edit(&mut tags);
                check_tags(&tags)?;
                store.set_bus_tags(&bus.name, tags).await
            }
            Tagged::Rule(mut rule) => {
                edit(&mut rule.tags);
                check_tags(&rule.tags)?;
                store.put_rule(rule).await
            }
        };
        saved.map_err(|e| internal(&e)).map(|_| ())
    }

    pub(super) async fn tag(&self, arn: &str, tags: Vec<Tag>) -> Result<Value, AwsError> {
        let found = self.tagged(arn).await?;
        self.save_tags(found, |t| {
            t.extend(tags.into_iter().map(|t| (t.key, t.value)));
        })
        .await?;
        Ok(json!({}))
    }

    pub(super) async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<Value, AwsError> {
        let found = self.tagged(arn).await?;
        self.save_tags(found, |t| {
            for k in &keys {
                t.remove(k);
            }
        })
        .await?;
        Ok(json!({}))
    }

    pub(super) async fn list_tags(&self, arn: &str) -> Result<Value, AwsError> {
        let tags = match self.tagged(arn).await? {
            Tagged::Bus(b) => b.tags,
            Tagged::Rule(r) => r.tags,
        };
        let list: Vec<Value> = tags
            .into_iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        Ok(json!({ "Tags": list }))
    }
}

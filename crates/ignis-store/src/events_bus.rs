//! [`EventBusStore`]: EventBridge's durable state — event buses, rules
//! with their targets and tags, and the outbox of deliveries that PutEvents
//! (and a scheduled rule's tick) commits.
//!
//! The store keeps records and what one transaction must hold; the
//! service (`ignis-eventbridge`) validates and encodes. A rule's and a
//! target's settings are kept as the service's opaque JSON (`spec`), so
//! the store's schema does not follow every field of the API. Deliveries
//! follow the claim protocol of [`crate::queue`]: claimed under a lease by
//! one owner, deleted or rescheduled only by that owner, and released at
//! start-up.

use std::collections::BTreeMap;

use crate::store::StoreError;

/// An event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBus {
    /// The name (`default` for the account's default bus).
    pub name: String,
    /// The ARN.
    pub arn: String,
    /// The description, if any.
    pub description: Option<String>,
    /// Tags, in key order.
    pub tags: BTreeMap<String, String>,
    /// Creation time, Unix epoch milliseconds.
    pub created_ms: i64,
}

/// A rule of a bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRule {
    /// The bus's name.
    pub bus: String,
    /// The rule's name (unique on its bus).
    pub name: String,
    /// The ARN.
    pub arn: String,
    /// Whether it is `ENABLED` (else `DISABLED`).
    pub enabled: bool,
    /// The rule's settings (pattern, schedule, description, role), as the
    /// service encodes them (opaque here).
    pub spec: String,
    /// A scheduled rule's next tick, Unix epoch milliseconds (`None`: not
    /// scheduled, or nothing due).
    pub next_fire_ms: Option<i64>,
    /// Tags, in key order.
    pub tags: BTreeMap<String, String>,
    /// Creation time, Unix epoch milliseconds.
    pub created_ms: i64,
}

/// A target of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTarget {
    /// The target's id (unique on its rule).
    pub id: String,
    /// The target's ARN.
    pub arn: String,
    /// Its settings (input, transformer, retry policy, dead-letter queue,
    /// queue parameters), as the service encodes them (opaque here).
    pub spec: String,
}

/// A delivery to write (one row of the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEventDelivery {
    /// The rule whose target it is for.
    pub rule_arn: String,
    /// The target's ARN.
    pub target_arn: String,
    /// What to deliver, encoded by the service (opaque here).
    pub payload: String,
    /// Not before this, Unix epoch milliseconds.
    pub not_before_ms: i64,
}

/// A claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDelivery {
    /// The row's id.
    pub id: i64,
    /// The rule whose target it is for.
    pub rule_arn: String,
    /// The target's ARN.
    pub target_arn: String,
    /// What to deliver.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
}

/// What [`EventBusStore::delete_rule`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleDeleted {
    /// The rule is gone.
    Deleted,
    /// There was no such rule.
    Missing,
    /// The rule still has targets: nothing done.
    HasTargets,
}

/// EventBridge's state.
#[async_trait::async_trait]
pub trait EventBusStore: Send + Sync + 'static {
    /// Creates `bus`; `false` (nothing written) if one of that name exists.
    async fn create_bus(&self, bus: EventBus) -> Result<bool, StoreError>;
    /// The bus of this name.
    async fn bus(&self, name: &str) -> Result<Option<EventBus>, StoreError>;
    /// Buses whose names start with `prefix`, in name order after `after`,
    /// at most `limit`.
    async fn list_buses(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EventBus>, StoreError>;
    /// Replaces a bus's tags; `false` if it is gone.
    async fn set_bus_tags(
        &self,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<bool, StoreError>;
    /// Deletes a bus with its rules and their targets; `false` if there
    /// was none.
    async fn delete_bus(&self, name: &str) -> Result<bool, StoreError>;
    /// Creates or replaces a rule (tags and creation time of a replaced
    /// rule are the caller's to carry over); `false` if its bus is gone.
    async fn put_rule(&self, rule: EventRule) -> Result<bool, StoreError>;
    /// The rule `name` of bus `bus`.
    async fn rule(&self, bus: &str, name: &str) -> Result<Option<EventRule>, StoreError>;
    /// The rule of this ARN.
    async fn rule_by_arn(&self, arn: &str) -> Result<Option<EventRule>, StoreError>;
    /// Rules of `bus` whose names start with `prefix`, in name order after
    /// `after`, at most `limit`.
    async fn list_rules(
        &self,
        bus: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EventRule>, StoreError>;
    /// Deletes a rule that has no targets.
    async fn delete_rule(&self, bus: &str, name: &str) -> Result<RuleDeleted, StoreError>;
    /// The targets of a rule, in id order.
    async fn targets(&self, bus: &str, rule: &str) -> Result<Vec<RuleTarget>, StoreError>;
    /// Adds or replaces (by id) targets of a rule; `false` if the rule is
    /// gone.
    async fn put_targets(
        &self,
        bus: &str,
        rule: &str,
        targets: Vec<RuleTarget>,
    ) -> Result<bool, StoreError>;
    /// Removes the targets of these ids; the ids that were there.
    async fn remove_targets(
        &self,
        bus: &str,
        rule: &str,
        ids: Vec<String>,
    ) -> Result<Vec<String>, StoreError>;
    /// Names of the rules of `bus` with a target of ARN `target_arn`, in
    /// name order after `after`, at most `limit`.
    async fn rule_names_by_target(
        &self,
        bus: &str,
        target_arn: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// The enabled rules of `bus` with their targets (rules without
    /// targets left out).
    async fn enabled_rules(
        &self,
        bus: &str,
    ) -> Result<Vec<(EventRule, Vec<RuleTarget>)>, StoreError>;
    /// Commits deliveries (one transaction).
    async fn add_deliveries(&self, deliveries: Vec<NewEventDelivery>) -> Result<(), StoreError>;
    /// Enabled scheduled rules whose tick is due at `now_ms`, with their
    /// targets.
    async fn due_rules(&self, now_ms: i64)
        -> Result<Vec<(EventRule, Vec<RuleTarget>)>, StoreError>;
    /// Claims one tick: if the rule's next tick is still `due_ms`, moves it
    /// to `next_ms` and commits `deliveries` in the same transaction
    /// (`true`); else nothing (another claimer took it; `false`).
    async fn fire_rule(
        &self,
        arn: &str,
        due_ms: i64,
        next_ms: Option<i64>,
        deliveries: Vec<NewEventDelivery>,
    ) -> Result<bool, StoreError>;
    /// The earliest next tick of an enabled scheduled rule.
    async fn next_rule_due(&self) -> Result<Option<i64>, StoreError>;
    /// Claims up to `limit` due deliveries for `owner` until
    /// `lease_until_ms`.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<EventDelivery>, StoreError>;
    /// Deletes a delivery `owner` still holds.
    async fn finish_delivery(&self, id: i64, owner: &str) -> Result<bool, StoreError>;
    /// Puts a held delivery back with its attempts, due at `not_before_ms`.
    async fn retry_delivery(
        &self,
        id: i64,
        owner: &str,
        attempts: u32,
        not_before_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Releases every claim (start-up: their owner is gone); how many.
    async fn release_delivery_claims(&self) -> Result<u64, StoreError>;
    /// When the next delivery may be claimed, if any.
    async fn next_delivery_due(&self) -> Result<Option<i64>, StoreError>;
    /// Deliveries waiting (claimed or not).
    async fn pending_deliveries(&self) -> Result<u64, StoreError>;
}

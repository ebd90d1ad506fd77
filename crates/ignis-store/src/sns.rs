//! [`SnsStore`]: the topic service's durable state — topics with their
//! attributes and tags, subscriptions, the outbox of deliveries a publish
//! commits, and the FIFO topics' deduplication window.
//!
//! The store keeps records and what one transaction must hold (a publish's
//! deliveries are committed together or not at all, after the topic is
//! found and a FIFO duplicate ruled out); SNS's validation and messages
//! belong to `ignis-sns`. Deliveries follow the claim protocol of
//! [`crate::queue`]: claimed under a lease by one owner, deleted or
//! rescheduled only by that owner, and released at start-up. A delivery with
//! an ordering key (a FIFO subscription's message group) is claimable only
//! when it is the oldest of its key, so a group is delivered in order.

use std::collections::BTreeMap;

use crate::store::StoreError;

/// A tag: key and value.
pub type Tag = (String, String);

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsTopic {
    /// The name (`….fifo` for a FIFO topic).
    pub name: String,
    /// The ARN.
    pub arn: String,
    /// Its settable attributes as SNS names them, as set.
    pub attributes: BTreeMap<String, String>,
    /// Tags, in key order.
    pub tags: BTreeMap<String, String>,
    /// Creation time, Unix epoch milliseconds.
    pub created_ms: i64,
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsSubscription {
    /// The ARN (`<topic ARN>:<uuid>`).
    pub arn: String,
    /// The topic's ARN.
    pub topic_arn: String,
    /// `lambda`, `sqs`, `http` or `https`.
    pub protocol: String,
    /// The endpoint (a function or queue ARN, a URL).
    pub endpoint: String,
    /// The owner's account.
    pub owner: String,
    /// Settable attributes as SNS names them (`FilterPolicy`, …).
    pub attributes: BTreeMap<String, String>,
    /// Whether it is confirmed (HTTP endpoints confirm; others are at once).
    pub confirmed: bool,
    /// The confirmation token of a pending subscription.
    pub token: Option<String>,
    /// Creation time, Unix epoch milliseconds.
    pub created_ms: i64,
}

/// A delivery to write (one row of the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The subscription it is for (kept when the subscription is gone:
    /// an unsubscribe confirmation).
    pub subscription_arn: String,
    /// FIFO: deliveries of one key go out one at a time, oldest first.
    pub ordering_key: Option<String>,
    /// What to deliver, encoded by the service (opaque here).
    pub payload: String,
    /// Not before this, Unix epoch milliseconds.
    pub not_before_ms: i64,
}

/// A claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsDelivery {
    /// The row's id.
    pub id: i64,
    /// The subscription it is for.
    pub subscription_arn: String,
    /// The ordering key, if any.
    pub ordering_key: Option<String>,
    /// What to deliver.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
}

/// What [`SnsStore::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Committed with this sequence number (FIFO topics; 0 otherwise).
    Accepted {
        /// The topic's sequence number of the message.
        sequence: u64,
    },
    /// A FIFO duplicate within the window: nothing written; the first
    /// message's id and sequence number.
    Duplicate {
        /// The first message's id.
        message_id: String,
        /// The first message's sequence number.
        sequence: u64,
    },
    /// The topic does not exist (nothing written).
    NoTopic,
}

/// A publish's FIFO deduplication: the id, the message id to remember and
/// until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    /// The deduplication id (given or the body's SHA-256).
    pub id: String,
    /// The message id this publish answers.
    pub message_id: String,
    /// Remembered until this, Unix epoch milliseconds.
    pub until_ms: i64,
    /// Now, Unix epoch milliseconds (older entries are forgotten).
    pub now_ms: i64,
}

/// Makes a publish's deliveries once the store has numbered it (the rows
/// carry the sequence number).
pub type DeliveriesFor = Box<dyn FnOnce(u64) -> Result<Vec<NewDelivery>, StoreError> + Send>;

/// The topic service's state.
#[async_trait::async_trait]
pub trait SnsStore: Send + Sync + 'static {
    /// Creates `topic`, or returns the topic of that name if there is one
    /// (the caller compares attributes).
    async fn create_topic(&self, topic: SnsTopic) -> Result<(SnsTopic, bool), StoreError>;
    /// The topic of this ARN.
    async fn topic(&self, arn: &str) -> Result<Option<SnsTopic>, StoreError>;
    /// Replaces a topic's attributes and tags; `false` if it is gone.
    async fn update_topic(&self, topic: &SnsTopic) -> Result<bool, StoreError>;
    /// Deletes a topic and its subscriptions; `false` if there was none.
    async fn delete_topic(&self, arn: &str) -> Result<bool, StoreError>;
    /// Topic ARNs in ARN order after `after`, at most `limit`.
    async fn list_topics(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// Adds a subscription, writing `deliveries` (a confirmation request)
    /// in the same transaction; if the topic has one of the same protocol
    /// and endpoint, returns that one instead and writes nothing
    /// (`false`). `Ok(None)`: the topic is gone.
    async fn subscribe(
        &self,
        subscription: SnsSubscription,
        deliveries: Vec<NewDelivery>,
    ) -> Result<Option<(SnsSubscription, bool)>, StoreError>;
    /// The subscription of this ARN.
    async fn subscription(&self, arn: &str) -> Result<Option<SnsSubscription>, StoreError>;
    /// The pending subscription of `topic_arn` with this token.
    async fn subscription_by_token(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> Result<Option<SnsSubscription>, StoreError>;
    /// Replaces a subscription's attributes, confirmation and token;
    /// `false` if it is gone.
    async fn update_subscription(&self, subscription: &SnsSubscription)
        -> Result<bool, StoreError>;
    /// Deletes a subscription, writing `deliveries` (an unsubscribe
    /// confirmation) in the same transaction; `false` if there was none.
    async fn unsubscribe(
        &self,
        arn: &str,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, StoreError>;
    /// Subscriptions (of `topic_arn`, or all) in ARN order after `after`,
    /// at most `limit`.
    async fn list_subscriptions(
        &self,
        topic_arn: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SnsSubscription>, StoreError>;
    /// Commits a publish: (FIFO) rules out a duplicate and numbers the
    /// message, then writes the deliveries `deliveries` makes for that
    /// sequence number (0 for a standard topic) — one per matching
    /// subscription.
    async fn publish(
        &self,
        topic_arn: &str,
        dedup: Option<Dedup>,
        deliveries: DeliveriesFor,
    ) -> Result<Published, StoreError>;
    /// Claims up to `limit` due deliveries for `owner` until
    /// `lease_until_ms` (see the module's claim rules).
    async fn claim_deliveries(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<SnsDelivery>, StoreError>;
    /// Deletes a delivery `owner` still holds, writing `then` (a
    /// dead-letter delivery) in the same transaction.
    async fn finish_delivery(
        &self,
        id: i64,
        owner: &str,
        then: Option<NewDelivery>,
    ) -> Result<bool, StoreError>;
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
    /// When the next delivery may be claimed (it is due and any lease on it
    /// passed; of an ordering key, its oldest row), if any.
    async fn next_delivery_due(&self) -> Result<Option<i64>, StoreError>;
    /// Deliveries waiting (claimed or not).
    async fn pending_deliveries(&self) -> Result<u64, StoreError>;
}

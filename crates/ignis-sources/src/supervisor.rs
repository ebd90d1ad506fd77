//! The supervisor: makes the running pollers follow the stored mappings,
//! and settles the state machine.
//!
//! On every change ([`crate::Mappings::changed`]), every few seconds, and
//! when a mapping's pollers end, it reads every mapping and, for each:
//! starts its pollers when it should poll and none run (or they run an
//! older configuration: they are stopped and new ones started), stops them
//! when it should not (a token's cancellation: a long poll is dropped at
//! once, a batch in flight finishes), then settles a transitional state
//! (`Creating`/`Enabling`/`Updating` → `Enabled` or `Disabled`,
//! `Disabling` → `Disabled`) — and removes a `Deleting` mapping once its
//! pollers have finished. At start-up that is every stored mapping: the
//! pollers of a restarted node start again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::mapping::Mapping;
use crate::service::Mappings;
use crate::sqs::BoxFuture;

/// What runs a kind of source's pollers (the SQS poller; the RabbitMQ
/// consumer plugs in the same way).
pub trait Runner: Send + Sync + 'static {
    /// Whether it runs mappings of this source.
    fn serves(&self, mapping: &Mapping) -> bool;
    /// Runs the mapping's pollers until `token` is cancelled and its
    /// batches in flight have finished.
    fn run(&self, mapping: Mapping, token: CancellationToken) -> BoxFuture<'static, ()>;
}

/// How often the supervisor looks without being told.
const TICK: Duration = Duration::from_secs(5);

struct Running {
    /// The mapping's settings it runs with (its record without state).
    fingerprint: String,
    token: CancellationToken,
    handle: JoinHandle<()>,
}

/// Starts and stops pollers; see the module's documentation.
pub struct Supervisor {
    mappings: Mappings,
    runners: Vec<Arc<dyn Runner>>,
    running: HashMap<String, Running>,
    /// Pollers stopped and finishing their batches, by mapping.
    stopping: HashMap<String, JoinHandle<()>>,
}

/// What of a mapping its pollers depend on: a change restarts them.
fn fingerprint(m: &Mapping) -> String {
    let mut m = m.clone();
    m.state = crate::State::Enabled;
    m.state_reason.clear();
    m.last_processing_result.clear();
    m.last_modified_ms = 0;
    serde_json::to_string(&m).expect("a mapping serializes")
}

impl Supervisor {
    /// A supervisor of `mappings` with these runners.
    pub fn new(mappings: Mappings, runners: Vec<Arc<dyn Runner>>) -> Self {
        Self {
            mappings,
            runners,
            running: HashMap::new(),
            stopping: HashMap::new(),
        }
    }

    /// Runs until `shutdown`; then stops every mapping's pollers and waits
    /// for their batches.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let changed = self.mappings.changed().clone();
        loop {
            self.reconcile().await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = changed.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
        for (_, r) in self.running.drain() {
            r.token.cancel();
            let _ = r.handle.await;
        }
        for (_, h) in self.stopping.drain() {
            let _ = h.await;
        }
    }

    /// One pass over the stored mappings.
    pub async fn reconcile(&mut self) {
        let all = match self.mappings.load_all().await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e.message, "failed to read the event source mappings");
                return;
            }
        };
        self.stopping.retain(|_, h| !h.is_finished());
        let mut seen = std::collections::HashSet::new();
        for m in all {
            seen.insert(m.uuid.clone());
            self.follow(&m);
            self.settle(m).await;
        }
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|u| !seen.contains(*u))
            .cloned()
            .collect();
        for uuid in gone {
            self.stop(&uuid);
        }
    }

    /// Starts or stops the mapping's pollers as its state says.
    fn follow(&mut self, m: &Mapping) {
        let runner = self.runners.iter().find(|r| r.serves(m)).cloned();
        let want = m.state.polls(m.enabled) && runner.is_some();
        let print = fingerprint(m);
        match self.running.get(&m.uuid) {
            Some(r) if want && r.fingerprint == print && !r.handle.is_finished() => return,
            Some(_) => self.stop(&m.uuid),
            None => {}
        }
        let (true, Some(runner)) = (want, runner) else {
            return;
        };
        let token = CancellationToken::new();
        let fut = runner.run(m.clone(), token.clone());
        let changed = self.mappings.changed().clone();
        let handle = tokio::spawn(async move {
            fut.await;
            changed.notify_one();
        });
        tracing::info!(uuid = %m.uuid, function = %m.function.arn, source = %m.event_source_arn, "event source mapping pollers started");
        self.running.insert(
            m.uuid.clone(),
            Running {
                fingerprint: print,
                token,
                handle,
            },
        );
    }

    fn stop(&mut self, uuid: &str) {
        if let Some(r) = self.running.remove(uuid) {
            r.token.cancel();
            tracing::info!(%uuid, "event source mapping pollers stopped");
            self.stopping.insert(uuid.to_owned(), r.handle);
        }
    }

    /// Moves a transitional state to where it rests.
    async fn settle(&mut self, mut m: Mapping) {
        if m.state.is_settled() {
            return;
        }
        match m.state.settled(m.enabled) {
            Some(state) => {
                m.state = state;
                if let Err(e) = self.mappings.save(&m).await {
                    tracing::warn!(uuid = %m.uuid, error = %e, "failed to settle an event source mapping");
                }
            }
            None => {
                if self.stopping.get(&m.uuid).is_some_and(|h| !h.is_finished()) {
                    return; // batches in flight; the runner's end wakes us
                }
                match self
                    .mappings
                    .store()
                    .delete_mapping(&m.uuid, m.revision)
                    .await
                {
                    Ok(true) => tracing::info!(uuid = %m.uuid, "event source mapping deleted"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(uuid = %m.uuid, error = %e, "failed to delete an event source mapping")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ignis_store::SqliteStore;

    use super::*;
    use crate::mapping::FunctionTarget;
    use crate::source::{Catalog, QueueFacts};
    use crate::wire::{CreateRequest, UpdateRequest};

    struct AnyQueue;

    #[async_trait::async_trait]
    impl Catalog for AnyQueue {
        async fn queue(&self, arn: &str) -> Result<Option<QueueFacts>, String> {
            Ok(Some(QueueFacts {
                name: arn.rsplit(':').next().unwrap_or_default().to_owned(),
                fifo: false,
                visibility_timeout: 30,
            }))
        }
    }

    /// Counts pollers running; each runs until cancelled.
    #[derive(Default)]
    struct Counting {
        running: Arc<AtomicUsize>,
        started: AtomicUsize,
    }

    impl Runner for Counting {
        fn serves(&self, _: &Mapping) -> bool {
            true
        }

        fn run(&self, _: Mapping, token: CancellationToken) -> BoxFuture<'static, ()> {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.running.fetch_add(1, Ordering::SeqCst);
            let running = self.running.clone();
            Box::pin(async move {
                token.cancelled().await;
                running.fetch_sub(1, Ordering::SeqCst);
            })
        }
    }

    fn function() -> FunctionTarget {
        FunctionTarget {
            name: "f".into(),
            qualifier: None,
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        }
    }

    async fn settle(s: &mut Supervisor) {
        // A pass, then one more once stopped pollers have ended.
        s.reconcile().await;
        tokio::task::yield_now().await;
        for h in s.stopping.values_mut() {
            let _ = h.await;
        }
        s.reconcile().await;
    }

    #[tokio::test]
    async fn pollers_follow_the_mappings_and_states_settle() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_in(dir.path()).unwrap());
        let mappings = Mappings::new(store.clone(), Arc::new(AnyQueue), "us-east-1");
        let runner = Arc::new(Counting::default());
        let mut sup = Supervisor::new(mappings.clone(), vec![runner.clone()]);

        let req: CreateRequest =
            serde_json::from_str(r#"{"EventSourceArn":"arn:aws:sqs:us-east-1:000000000000:q"}"#)
                .unwrap();
        let made = mappings.create(function(), 3, req).await.unwrap();
        settle(&mut sup).await;
        assert_eq!(runner.running.load(Ordering::SeqCst), 1);
        assert_eq!(mappings.get(&made.uuid).await.unwrap().state, "Enabled");

        // A change of configuration restarts the pollers.
        let up: UpdateRequest = serde_json::from_str(r#"{"BatchSize":3}"#).unwrap();
        assert_eq!(
            mappings.update(&made.uuid, None, up).await.unwrap().state,
            "Updating"
        );
        settle(&mut sup).await;
        assert_eq!(runner.started.load(Ordering::SeqCst), 2);
        assert_eq!(runner.running.load(Ordering::SeqCst), 1);

        // Disabling stops them.
        let off: UpdateRequest = serde_json::from_str(r#"{"Enabled":false}"#).unwrap();
        assert_eq!(
            mappings.update(&made.uuid, None, off).await.unwrap().state,
            "Disabling"
        );
        settle(&mut sup).await;
        assert_eq!(runner.running.load(Ordering::SeqCst), 0);
        assert_eq!(mappings.get(&made.uuid).await.unwrap().state, "Disabled");

        // Enabled again, then a restart: a new supervisor starts them.
        let on: UpdateRequest = serde_json::from_str(r#"{"Enabled":true}"#).unwrap();
        mappings.update(&made.uuid, None, on).await.unwrap();
        settle(&mut sup).await;
        assert_eq!(runner.running.load(Ordering::SeqCst), 1);
        drop(sup);
        let restarted = Arc::new(Counting::default());
        let mut sup = Supervisor::new(mappings.clone(), vec![restarted.clone()]);
        settle(&mut sup).await;
        assert_eq!(restarted.running.load(Ordering::SeqCst), 1);

        // Deleting stops them and removes the mapping.
        assert_eq!(mappings.delete(&made.uuid).await.unwrap().state, "Deleting");
        settle(&mut sup).await;
        assert_eq!(restarted.running.load(Ordering::SeqCst), 0);
        assert!(mappings.get(&made.uuid).await.is_err());
    }
}

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

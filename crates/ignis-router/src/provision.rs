//! Provisioned concurrency: environments started and initialized ahead of
//! any invocation, kept as long as they are wanted. Each pool (a function
//! version) with a wish has one provisioner task that keeps the number of
//! live provisioned environments at the sum of the wishes on it (a version's
//! own and those of aliases pointing at it): it launches and initializes
//! the missing ones (`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`,
//! Init Duration in an INIT_REPORT, so their first invocation is warm),
//! replaces crashed ones, and turns surplus ones into ordinary environments.
//! One whose credentials near their expiry is replaced the same way
//! (`crate::credentials`).
//! They count against the memory budget and are neither reaped for
//! idleness nor evicted for room; invocations take them before on-demand
//! environments and spill over to those beyond them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ignis_model::Version;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::admission::Reservation;
use crate::env::Env;
use crate::report::InitType;
use crate::{FunctionSpec, Pool, Resolved, Router};

/// How often a provisioner checks that its environments are alive.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a provisioner waits after a failed start before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// A pool's provisioned environments and what is wanted of them.
#[derive(Default)]
pub(crate) struct Provision {
    /// Environments wanted, by the qualifier that asked (`"3"`, `"live"`).
    wanted: HashMap<String, u32>,
    envs: Vec<Weak<Env>>,
    /// Why the last start failed, until one succeeds.
    failure: Option<String>,
    /// A provisioner task runs for the pool.
    running: bool,
    /// Wakes the provisioner.
    pub(crate) wake: Arc<Notify>,
}

impl Provision {
    fn target(&self) -> u32 {
        self.wanted.values().sum()
    }

    /// Live, initialized environments. One whose credentials near their
    /// expiry no longer counts: it becomes an ordinary environment (retired
    /// when next found idle) and the provisioner starts its replacement.
    fn alive(&mut self) -> usize {
        self.envs.retain(|w| {
            w.upgrade().is_some_and(|e| {
                if e.expiring() {
                    e.unprovision();
                }
                e.reusable() && e.provisioned()
            })
        });
        self.envs.len()
    }
}

/// What a qualifier's provisioned concurrency looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedStatus {
    /// Environments asked for by this qualifier.
    pub requested: u32,
    /// Of those, initialized and ready.
    pub allocated: u32,
    /// Why the last start failed, if the pool is short because of it.
    pub failure: Option<String>,
}

impl Router {
    /// Keeps `n` environments of `function`'s `version` initialized for
    /// `qualifier` (the version itself, or an alias pointing at it); 0
    /// stops. A qualifier's earlier wish on another version (an alias that
    /// moved) is dropped.
    pub fn provision(self: &Arc<Self>, function: &str, qualifier: &str, version: Version, n: u32) {
        let pools: Vec<(Version, Arc<Pool>)> = {
            let functions = self.functions.read().expect("functions lock poisoned");
            match functions.get(function) {
                Some(f) => f.versions.iter().map(|(v, p)| (*v, p.clone())).collect(),
                None => Vec::new(),
            }
        };
        for (v, pool) in pools {
            let mut p = pool.provision.lock().expect("provision lock poisoned");
            let changed = if v == version && n > 0 {
                p.wanted.insert(qualifier.to_string(), n) != Some(n)
            } else {
                p.wanted.remove(qualifier).is_some()
            };
            if !changed {
                continue;
            }
            p.wake.notify_one();
            if !p.running && p.target() > 0 {
                p.running = true;
                drop(p);
                let span = tracing::info_span!("provision", function, version = %v);
                tokio::spawn(
                    provisioner(Arc::downgrade(self), Arc::downgrade(&pool)).instrument(span),
                );
            }
        }
    }

    /// The provisioned concurrency `qualifier` asked of `function`'s `version`.
    pub fn provisioned(
        &self,
        function: &str,
        qualifier: &str,
        version: Version,
    ) -> ProvisionedStatus {
        let pool = {
            let functions = self.functions.read().expect("functions lock poisoned");
            functions
                .get(function)
                .and_then(|f| f.versions.get(&version).cloned())
        };
        let Some(pool) = pool else {
            return ProvisionedStatus {
                requested: 0,
                allocated: 0,
                failure: Some("the version is not loaded on this node".into()),
            };
        };
        let mut p = pool.provision.lock().expect("provision lock poisoned");
        let requested = p.wanted.get(qualifier).copied().unwrap_or(0);
        let alive = u32::try_from(p.alive()).unwrap_or(u32::MAX);
        ProvisionedStatus {
            requested,
            allocated: alive.min(requested),
            failure: (alive < p.target()).then(|| p.failure.clone()).flatten(),
        }
    }

    /// Starts one provisioned environment of `pool` and runs its init.
    async fn provision_one(&self, pool: &Pool) -> Result<Arc<Env>, String> {
        let spec = pool.spec.lock().expect("pool lock poisoned").clone();
        let resolved = self
            .resolve_runtime(pool, &spec)
            .map_err(|e| e.to_string())?;
        let mb = u64::from(spec.record.memory_size);
        let reservation = self.reserve(mb).map_err(|_| {
            format!(
                "The node's memory budget cannot hold another {mb} MB environment ({} of {} MB reserved)",
                self.admission.used_mb(),
                self.admission.budget_mb()
            )
        })?;
        let limit = self
            .config
            .init_timeout
            .max(Duration::from_secs(u64::from(spec.record.timeout)));
        self.start_ahead(&spec, &resolved, reservation, InitType::Provisioned, limit)
            .await
    }

    /// Starts an environment of `spec` ahead of any invocation and runs its
    /// init within `limit` (provisioned concurrency, pre-warming).
    pub(crate) async fn start_ahead(
        &self,
        spec: &Arc<FunctionSpec>,
        resolved: &Resolved,
        reservation: Reservation,
        init_type: InitType,
        limit: Duration,
    ) -> Result<Arc<Env>, String> {
        let logs = self.logs.function(&spec.record.name);
        let env = Env::launch(
            &self.ctx,
            spec.clone(),
            resolved,
            logs,
            reservation,
            init_type,
        )
        .await
        .map_err(|f| format!("{}: {}", f.error_type, f.message))?;
        self.live
            .lock()
            .expect("live lock poisoned")
            .insert(env.id.clone(), Arc::downgrade(&env));
        env.initialize(limit).await?;
        Ok(env)
    }
}

/// Keeps `pool`'s provisioned environments at their target until the
/// target is 0, the pool is gone or the router stops.
async fn provisioner(router: Weak<Router>, pool: Weak<Pool>) {
    loop {
        let (Some(router), Some(pool)) = (router.upgrade(), pool.upgrade()) else {
            return;
        };
        if router.stopping.load(Ordering::Acquire) {
            return;
        }
        let (target, alive, wake) = {
            let mut p = pool.provision.lock().expect("provision lock poisoned");
            let (target, alive) = (p.target() as usize, p.alive());
            if target == 0 && alive == 0 {
                p.running = false;
                return;
            }
            if alive > target {
                let surplus: Vec<_> = p.envs.drain(target..).filter_map(|w| w.upgrade()).collect();
                drop(p);
                surplus.iter().for_each(|e| e.unprovision());
                tracing::info!(
                    count = surplus.len(),
                    "provisioned environments no longer wanted"
                );
                continue;
            }
            (target, alive, p.wake.clone())
        };
        if alive < target {
            match router.provision_one(&pool).await {
                Ok(env) => {
                    // Taken before on-demand environments (see
                    // `Router::acquire`); idle before it is counted, so
                    // one counted is there to take.
                    let weak = Arc::downgrade(&env);
                    pool.idle.lock().expect("pool lock poisoned").push(env);
                    let mut p = pool.provision.lock().expect("provision lock poisoned");
                    p.envs.push(weak);
                    p.failure = None;
                    continue;
                }
                Err(reason) => {
                    tracing::warn!(%reason, "failed to start a provisioned environment");
                    pool.provision
                        .lock()
                        .expect("provision lock poisoned")
                        .failure = Some(reason);
                    drop((router, pool));
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(RETRY_AFTER) => {}
                    }
                    continue;
                }
            }
        }
        drop((router, pool));
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

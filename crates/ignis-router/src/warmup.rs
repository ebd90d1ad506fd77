//! Pre-warming by the keep-alive policy (`docs/keepalive.md`): a function
//! version whose invocations follow a pattern gets a *pre-warm window*
//! after each invocation, during which its next one is not expected. The
//! reaper ends its idle environments during that window, and the warmer
//! starts and initializes one shortly before the window closes, so that
//! the expected invocation finds it warm. As Lambda's own occasional
//! initialization ahead of on-demand invocations, the environment's init
//! type stays `on-demand`, its INIT_REPORT is written when the init ends,
//! and its first invocation's REPORT has no Init Duration.
//!
//! A pre-warm never evicts another environment (it only uses free memory
//! of the budget), happens at most once per idle period of a version, and
//! is skipped once the predicted keep-alive window has passed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::env::Env;
use crate::report::InitType;
use crate::{lock, Pool, Router};

/// How long before a pre-warm window closes its environment is started:
/// what an init usually takes, with room. Pre-warm windows are whole
/// minutes less 10% (54 s at least), so this is a small share of one.
pub const LEAD: Duration = Duration::from_secs(5);

/// How often the warmer looks for versions due.
const EVERY: Duration = Duration::from_secs(1);

/// A version's pre-warming: whether one runs, and the idle period (the
/// end of the invocation it follows) the last one was for.
#[derive(Debug, Default)]
pub(crate) struct Warmup {
    running: bool,
    done_for: Option<Instant>,
}

impl Router {
    /// Starts environments ahead of expected invocations, every second,
    /// until `stop` resolves (nothing under the fixed keep-alive policy,
    /// whose windows have no pre-warm).
    pub async fn warm_ahead(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(EVERY) => {
                    for (pool, idle_since) in self.warm_due(Instant::now()) {
                        let router = self.clone();
                        tokio::spawn(async move { router.warm(&pool, idle_since).await });
                    }
                }
            }
        }
    }

    /// The versions to pre-warm at `now`, each marked as being pre-warmed
    /// for its current idle period.
    pub(crate) fn warm_due(&self, now: Instant) -> Vec<(Arc<Pool>, Instant)> {
        if self.stopping.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut due = Vec::new();
        for pool in self.all_pools() {
            if !lock(&pool.idle).is_empty() {
                continue;
            }
            let windows = self.windows(&pool);
            let (at, idle_since) = {
                let history = lock(&pool.history);
                match (history.prewarm_at(&windows), history.idle_since()) {
                    (Some(at), Some(since)) => (at, since),
                    _ => continue,
                }
            };
            // Not yet, or the expected invocation's window has passed.
            if now + LEAD < at || now >= at + windows.keep_alive {
                continue;
            }
            let mut warmup = lock(&pool.warmup);
            if warmup.running || warmup.done_for == Some(idle_since) {
                continue;
            }
            warmup.running = true;
            warmup.done_for = Some(idle_since);
            drop(warmup);
            due.push((pool, idle_since));
        }
        due
    }

    /// Starts and initializes one environment of `pool` and puts it in the
    /// pool as if its last use were `idle_since`, so that the reaper keeps
    /// it for the keep-alive window that follows the pre-warm window.
    pub(crate) async fn warm(&self, pool: &Pool, idle_since: Instant) {
        let spec = lock(&pool.spec).clone();
        let span = tracing::info_span!("prewarm", function = %spec.record.name, version = %spec.record.version);
        let outcome = self.warm_one(pool, &spec).instrument(span.clone()).await;
        let _enter = span.enter();
        match outcome {
            Ok(env) => {
                env.used_at(idle_since);
                // A newer configuration or a stop meanwhile: not kept.
                let current = Arc::ptr_eq(&lock(&pool.spec), &env.spec);
                if current && !self.stopping.load(Ordering::Acquire) {
                    tracing::debug!(env_id = %env.id, "environment started ahead of an expected invocation");
                    lock(&pool.idle).push(env);
                } else {
                    env.kill();
                }
            }
            Err(reason) => tracing::debug!(%reason, "no environment started ahead"),
        }
        lock(&pool.warmup).running = false;
    }

    async fn warm_one(
        &self,
        pool: &Pool,
        spec: &Arc<crate::FunctionSpec>,
    ) -> Result<Arc<Env>, String> {
        let resolved = self
            .resolve_runtime(pool, spec)
            .map_err(|e| e.to_string())?;
        // Only free memory: a guess is not worth another's environment.
        let reservation = self
            .admission
            .try_reserve(u64::from(spec.record.memory_size))
            .ok_or("the memory budget is full")?;
        self.start_ahead(
            spec,
            &resolved,
            reservation,
            InitType::OnDemand,
            self.config.init_timeout,
        )
        .await
    }

    /// Whether `pool`'s idle environments are in their pre-warm window at
    /// `now` (not needed until shortly before it closes; the warmer starts
    /// one then).
    pub(crate) fn in_prewarm_window(&self, pool: &Pool, now: Instant) -> bool {
        let windows = self.windows(pool);
        lock(&pool.history)
            .prewarm_at(&windows)
            .is_some_and(|at| now + LEAD < at)
    }
}

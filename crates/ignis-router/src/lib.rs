//! The router: resolves an invocation to its function, admits it against the
//! node's memory budget, and runs it in a warm environment of that function
//! or a new one. Environments are reused until reaped for idleness, broken
//! by a crash or timeout, or outdated by a change of the function.
#![deny(missing_docs)]

mod admission;
pub mod concurrency;
pub mod credentials;
mod env;
pub mod http_prelude;
pub mod keepalive;
pub mod logs;
mod provision;
mod pump;
pub mod report;
mod streaming;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod warmup;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ignis_model::alias::AliasRecord;
use ignis_model::{FunctionRecord, FunctionState, Version};
use ignis_runtime_api::Invocation;
use ignis_runtimes::{Catalog, Resolved, RuntimeError};
use ignis_sandbox::Sandbox;
use tracing::Instrument;

pub use admission::Admission;
pub use concurrency::{Concurrency, FunctionLimit};
pub use credentials::{CredentialIssuer, IssuedCredentials};
pub use env::Completed;
use env::{Env, LaunchContext, LaunchFailure};
use logs::LogRegistry;
pub use provision::ProvisionedStatus;
pub use streaming::{Piece, StreamBody, StreamError, StreamOutcome, StreamedCompleted};

/// Ends an environment that will not be used again: at once, unless it is
/// still in its invoke phase (working after its answer); then when that
/// phase ends, as the task settling it holds it until then and the last
/// handle's drop ends it.
fn retire(env: Arc<Env>) {
    if env.unfinished() {
        // Busy after its answer: kept alive until its phase ends.
        tokio::spawn(async move { env.settle().await });
    } else {
        env.kill();
    }
}

/// How long an invocation waits for a warm environment whose runtime has
/// answered to ask for its next event, before it looks elsewhere. Compiled
/// runtimes ask within microseconds; a shell runtime in the style of AWS's
/// tutorial starts a `curl` first, which takes tens of milliseconds on a
/// loaded machine: reusing the environment beats a cold start for both.
const SETTLE_GRACE: Duration = Duration::from_secs(1);

/// Where layers are found for a function without layers (`/opt`, as on
/// Lambda).
const OPT_DIR: &str = "/opt";

/// A function as the router runs it: its configuration and unpacked code.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The stored configuration.
    pub record: FunctionRecord,
    /// The unpacked code on this node.
    pub code_dir: PathBuf,
    /// The union of the function's layers on this node; `None` without
    /// layers (the environment then sees `/opt`).
    pub opt_dir: Option<PathBuf>,
}

impl FunctionSpec {
    /// The directory the function's environment knows as `/opt`.
    pub fn opt_dir(&self) -> &Path {
        self.opt_dir.as_deref().unwrap_or(Path::new(OPT_DIR))
    }
}

/// Settings of the router.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Region reported to functions.
    pub region: String,
    /// Where environments keep their scratch directories.
    pub envs_dir: PathBuf,
    /// Memory all environments together may reserve, MB.
    pub memory_budget_mb: u64,
    /// No idle environment is kept longer than this: the fixed policy's
    /// keep-alive, and the hybrid policy's cap.
    pub idle_timeout: Duration,
    /// How long idle environments are kept (`docs/keepalive.md`): the
    /// idle timeout, or a window learned from each function's idle times.
    pub keepalive: keepalive::Mode,
    /// Time a runtime has to reach its first `/next`.
    pub init_timeout: Duration,
    /// Log kept per function, bytes.
    pub log_max_bytes: usize,
    /// Invocations in flight the node allows (the account's
    /// `ConcurrentExecutions`); `None`: [`default_concurrency_limit`].
    pub concurrency_limit: Option<u32>,
}

/// The node's default concurrency limit: Lambda's default account limit,
/// 1,000, or as many 128 MB environments as the memory budget holds if
/// that is more. The memory budget still bounds what runs at once.
pub fn default_concurrency_limit(memory_budget_mb: u64) -> u32 {
    u32::try_from(memory_budget_mb / 128)
        .unwrap_or(u32::MAX)
        .max(1000)
}

/// One invocation as the router receives it.
#[derive(Debug, Clone)]
pub struct InvokeInput {
    /// Function name.
    pub function: String,
    /// The version or alias the caller named; `None`: `$LATEST`.
    pub qualifier: Option<String>,
    /// The event bytes, passed through untouched.
    pub payload: Bytes,
    /// Decoded client context, if any.
    pub client_context: Option<String>,
    /// The ARN the caller used.
    pub invoked_arn: String,
    /// The request id to run under; `None`: a new one. Every attempt of an
    /// Event invocation keeps the id it was accepted with, as on Lambda.
    pub request_id: Option<String>,
    /// The caller wants the invocation's log lines in [`Completed::log`]
    /// (`LogType: Tail`). Otherwise an answered invocation returns before
    /// its END and REPORT are written, which follow at once.
    pub tail: bool,
    /// The caller's `X-Amzn-Trace-Id`, passed to the runtime as Lambda does
    /// in PassThrough mode; `None`: a new trace id.
    pub trace_id: Option<String>,
}

/// Why an invocation could not be run.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No such function.
    #[error("function {0} not found")]
    NotFound(String),
    /// The function is not Active.
    #[error("function is in state {0:?}")]
    NotReady(FunctionState),
    /// The function's runtime cannot run here.
    #[error("runtime {runtime} is not available on this node: {reason}")]
    RuntimeUnavailable {
        /// The runtime identifier.
        runtime: String,
        /// Why.
        reason: RuntimeError,
    },
    /// No memory left for another environment.
    #[error("no capacity for another execution environment")]
    NoCapacity,
    /// A concurrency limit is reached; Lambda's `Reason` says which.
    #[error("throttled: {0}")]
    Throttled(&'static str),
    /// The function's MemorySize is more than the node's whole budget: no
    /// environment of it can ever start here.
    #[error("MemorySize {memory_mb} MB is more than the node's memory budget of {budget_mb} MB")]
    OverBudget {
        /// The function's MemorySize, MB.
        memory_mb: u64,
        /// The node's budget, MB.
        budget_mb: u64,
    },
    /// The node is stopping.
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// A function ready to run: its pool, configuration and runtime.
type Runnable = (Arc<Pool>, Arc<FunctionSpec>, Arc<Resolved>);

/// The invocations of a function this router runs, with its limit.
struct Function {
    versions: HashMap<Version, Arc<Pool>>,
    aliases: HashMap<String, AliasRecord>,
    /// Its reservation and invocations in flight, shared by its versions.
    limit: Arc<FunctionLimit>,
}

impl Function {
    fn new() -> Self {
        Self {
            versions: HashMap::new(),
            aliases: HashMap::new(),
            limit: Arc::new(FunctionLimit::default()),
        }
    }

    /// The pool a qualifier names; an alias with a routing configuration
    /// picks one of its two versions by weight, for each invocation.
    fn pool(&self, qualifier: Option<&str>) -> Option<&Arc<Pool>> {
        let version = match qualifier {
            None => Version::Latest,
            Some(q) => match Version::from_qualifier(q) {
                Some(v) => v,
                None => self.aliases.get(q)?.pick(fastrand::f64()),
            },
        };
        self.versions.get(&version)
    }
}

struct Pool {
    /// The function's limit (the same for each of its versions).
    limit: Arc<FunctionLimit>,
    /// Its invocations as the keep-alive policy sees them.
    history: Mutex<keepalive::History>,
    spec: Mutex<Arc<FunctionSpec>>,
    idle: Mutex<Vec<Arc<Env>>>,
    /// The runtime resolved for a configuration (kept with it, so a replaced
    /// configuration is resolved afresh); failures are not kept.
    runtime: Mutex<Option<(Arc<FunctionSpec>, Arc<Resolved>)>>,
    /// Its provisioned concurrency.
    provision: Mutex<provision::Provision>,
    /// Its pre-warming by the keep-alive policy.
    warmup: Mutex<warmup::Warmup>,
}

/// Runs invocations in execution environments.
pub struct Router {
    catalog: Arc<Catalog>,
    ctx: LaunchContext,
    config: RouterConfig,
    keepalive: keepalive::Policy,
    admission: Arc<Admission>,
    concurrency: Arc<Concurrency>,
    functions: RwLock<HashMap<String, Function>>,
    logs: LogRegistry,
    live: Mutex<HashMap<String, Weak<Env>>>,
    stopping: AtomicBool,
}

impl Router {
    /// A router starting environments with `sandbox`.
    pub fn new(
        config: RouterConfig,
        sandbox: Arc<dyn Sandbox>,
        catalog: Arc<Catalog>,
    ) -> Arc<Self> {
        Arc::new(Self {
            catalog,
            ctx: LaunchContext {
                sandbox,
                region: config.region.clone(),
                envs_dir: config.envs_dir.clone(),
                init_timeout: config.init_timeout,
                credentials: std::sync::OnceLock::new(),
                endpoint_url: std::sync::OnceLock::new(),
            },
            admission: Admission::new(config.memory_budget_mb),
            concurrency: Concurrency::new(
                config
                    .concurrency_limit
                    .unwrap_or_else(|| default_concurrency_limit(config.memory_budget_mb)),
            ),
            functions: RwLock::new(HashMap::new()),
            logs: LogRegistry::new(config.log_max_bytes),
            live: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            keepalive: keepalive_policy(config.keepalive, config.idle_timeout),
            config,
        })
    }

    /// Gives every environment started from now on temporary credentials
    /// for its function's role, from `issuer`. Set once, before the first
    /// environment starts; a second call is ignored.
    pub fn set_credentials(&self, issuer: Arc<dyn CredentialIssuer>) {
        let _ = self.ctx.credentials.set(issuer);
    }

    /// Sets `AWS_ENDPOINT_URL`, where environments started from now on
    /// reach Ignis's APIs. Set once; a second call is ignored.
    pub fn set_endpoint_url(&self, url: String) {
        let _ = self.ctx.endpoint_url.set(url);
    }

    /// The sandbox backend in use.
    pub fn sandbox_name(&self) -> &'static str {
        self.ctx.sandbox.name()
    }

    /// The runtimes this node can run.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The node's memory budget.
    pub fn admission(&self) -> &Arc<Admission> {
        &self.admission
    }

    /// The node's concurrency limit and what is reserved of it.
    pub fn concurrency(&self) -> &Arc<Concurrency> {
        &self.concurrency
    }

    /// Sets (or removes) a function's reserved concurrency; the function's
    /// entry is made if the router does not run it yet.
    pub fn set_reserved_concurrency(&self, function: &str, reserved: Option<u32>) {
        let mut functions = self.functions.write().expect("functions lock poisoned");
        let f = functions
            .entry(function.to_string())
            .or_insert_with(Function::new);
        self.concurrency.reserve(&f.limit, reserved);
    }

    /// Function logs.
    pub fn logs(&self) -> &LogRegistry {
        &self.logs
    }

    /// Adds a function's version (`$LATEST` or a published one) or
    /// replaces its configuration; environments of the old configuration
    /// are ended (idle ones now, busy ones when done).
    pub fn upsert(&self, spec: FunctionSpec) {
        let (name, version) = (spec.record.name.clone(), spec.record.version);
        let spec = Arc::new(spec);
        let mut functions = self.functions.write().expect("functions lock poisoned");
        let function = functions.entry(name).or_insert_with(Function::new);
        match function.versions.get(&version) {
            Some(pool) => {
                *pool.spec.lock().expect("pool lock poisoned") = spec;
                let stale = std::mem::take(&mut *pool.idle.lock().expect("pool lock poisoned"));
                drop(functions);
                stale.into_iter().for_each(retire);
            }
            None => {
                function.versions.insert(
                    version,
                    Arc::new(Pool {
                        limit: function.limit.clone(),
                        history: Mutex::new(keepalive::History::default()),
                        spec: Mutex::new(spec),
                        runtime: Mutex::new(None),
                        idle: Mutex::new(Vec::new()),
                        provision: Mutex::new(provision::Provision::default()),
                        warmup: Mutex::new(warmup::Warmup::default()),
                    }),
                );
            }
        }
    }

    /// Adds or replaces an alias of a function the router knows.
    pub fn set_alias(&self, alias: AliasRecord) {
        let mut functions = self.functions.write().expect("functions lock poisoned");
        if let Some(f) = functions.get_mut(&alias.function) {
            f.aliases.insert(alias.name.clone(), alias);
        }
    }

    /// Removes an alias.
    pub fn remove_alias(&self, function: &str, alias: &str) {
        let mut functions = self.functions.write().expect("functions lock poisoned");
        if let Some(f) = functions.get_mut(function) {
            f.aliases.remove(alias);
        }
    }

    /// Removes a published version and ends its idle environments.
    pub fn remove_version(&self, function: &str, version: Version) {
        let pool = {
            let mut functions = self.functions.write().expect("functions lock poisoned");
            functions
                .get_mut(function)
                .and_then(|f| f.versions.remove(&version))
        };
        if let Some(pool) = pool {
            end_idle(&pool);
        }
    }

    /// Removes a function, its versions and aliases, and ends their idle
    /// environments.
    pub fn remove(&self, name: &str) {
        let function = self
            .functions
            .write()
            .expect("functions lock poisoned")
            .remove(name);
        if let Some(f) = &function {
            self.concurrency.reserve(&f.limit, None);
        }
        for pool in function.iter().flat_map(|f| f.versions.values()) {
            end_idle(pool);
        }
        self.logs.remove(name);
    }

    /// Checks that `function` (at `qualifier`) could be invoked now
    /// (DryRun, Event).
    pub fn check(&self, function: &str, qualifier: Option<&str>) -> Result<(), InvokeError> {
        self.runnable(function, qualifier).map(|_| ())
    }

    fn runnable(&self, function: &str, qualifier: Option<&str>) -> Result<Runnable, InvokeError> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(InvokeError::ShuttingDown);
        }
        let pool = self
            .functions
            .read()
            .expect("functions lock poisoned")
            .get(function)
            .and_then(|f| f.pool(qualifier))
            .cloned()
            .ok_or_else(|| InvokeError::NotFound(function.to_string()))?;
        let spec = pool.spec.lock().expect("pool lock poisoned").clone();
        if spec.record.state != FunctionState::Active {
            return Err(InvokeError::NotReady(spec.record.state));
        }
        let (memory_mb, budget_mb) = (spec.record.memory_size as u64, self.admission.budget_mb());
        if memory_mb > budget_mb {
            return Err(InvokeError::OverBudget {
                memory_mb,
                budget_mb,
            });
        }
        let resolved = self.resolve_runtime(&pool, &spec)?;
        Ok((pool, spec, resolved))
    }

    /// What runs `spec`'s runtime: resolved on the first invocation of a
    /// configuration, then reused (the warm path does no lookup).
    fn resolve_runtime(
        &self,
        pool: &Pool,
        spec: &Arc<FunctionSpec>,
    ) -> Result<Arc<Resolved>, InvokeError> {
        if let Some((for_spec, resolved)) = &*pool.runtime.lock().expect("pool lock poisoned") {
            if Arc::ptr_eq(for_spec, spec) {
                return Ok(resolved.clone());
            }
        }
        let runtime = spec.record.runtime.as_deref().unwrap_or_default();
        // Managed runtime clients find layers, and are found, where the
        // function sees them.
        let guest =
            self.ctx
                .sandbox
                .guest_paths(&spec.code_dir, Path::new(""), spec.opt_dir.as_deref());
        let resolved = self
            .catalog
            .resolve(runtime, &guest.opt, guest.runtime.as_deref())
            .map_err(|reason| InvokeError::RuntimeUnavailable {
                runtime: runtime.to_string(),
                reason,
            })?;
        let resolved = Arc::new(resolved);
        *pool.runtime.lock().expect("pool lock poisoned") = Some((spec.clone(), resolved.clone()));
        Ok(resolved)
    }

    /// Runs one invocation synchronously.
    pub async fn invoke(&self, input: InvokeInput) -> Result<Completed, InvokeError> {
        let (pool, spec, resolved) = self.runnable(&input.function, input.qualifier.as_deref())?;
        // Held until the environment is given back.
        let _slot = self
            .concurrency
            .enter(&pool.limit)
            .map_err(InvokeError::Throttled)?;
        let _in_use = InUse::new(&pool);
        let request_id = input
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let input_tail = input.tail;
        let invocation = self.invocation(input, &spec, &request_id);
        // A warm runtime may exit between invocations; the invocation it
        // never took runs on another environment.
        for _ in 0..3 {
            let began = Instant::now();
            let env = match self.acquire(&pool, &spec, &resolved, &request_id).await? {
                Ok(env) => env,
                Err(failure) => {
                    return Ok(self.launch_failed(
                        &spec,
                        &resolved,
                        &request_id,
                        failure,
                        began.elapsed(),
                    ))
                }
            };
            let result = env.invoke(invocation.clone(), input_tail).await;
            // END and REPORT after the answer, when the runtime asks for its
            // next event: written by that `/next` call (`Env::watch_phases`;
            // the environment's next invocation, if it comes first, writes
            // them before it starts).
            self.release(&pool, env);
            match result {
                Ok(completed) => return Ok(completed),
                Err(env::Undelivered) => {
                    tracing::info!(
                        function = %spec.record.name,
                        request_id = %request_id,
                        "warm environment exited before taking the invocation; retrying"
                    );
                }
            }
        }
        Err(InvokeError::NoCapacity)
    }

    fn invocation(&self, input: InvokeInput, spec: &FunctionSpec, request_id: &str) -> Invocation {
        let payload = if input.payload.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            input.payload
        };
        Invocation {
            request_id: request_id.into(),
            payload,
            timeout: Duration::from_secs(spec.record.timeout as u64),
            invoked_arn: input.invoked_arn.into(),
            client_context: input.client_context,
            cognito_identity: None,
            trace_id: input.trace_id.unwrap_or_else(trace_id).into(),
            deadline: None,
            stream: false,
        }
    }

    async fn acquire(
        &self,
        pool: &Pool,
        spec: &Arc<FunctionSpec>,
        resolved: &Resolved,
        request_id: &str,
    ) -> Result<Result<Arc<Env>, LaunchFailure>, InvokeError> {
        // An environment whose runtime has answered but not yet asked for
        // its next event is still in its invoke phase. A runtime asks at
        // once, so the first such one is given a moment (`SETTLE_GRACE`);
        // one still busy after it (work after the answer) is left to finish,
        // and the invocation goes elsewhere, as on Lambda.
        let mut busy = Vec::new();
        let found = loop {
            let candidate = take_idle(&mut pool.idle.lock().expect("pool lock poisoned"));
            match candidate {
                // Its credentials would expire during this invocation.
                Some(env) if env.expiring() => retire(env),
                Some(env) if env.reusable() && Arc::ptr_eq(&env.spec, spec) => {
                    if !env.unfinished()
                        || (busy.is_empty() && env.settle_within(SETTLE_GRACE).await)
                    {
                        if env.reusable() {
                            break Some(env);
                        }
                        env.kill();
                    } else {
                        busy.push(env);
                    }
                }
                Some(env) => env.kill(),
                None => break None,
            }
        };
        if let Some(env) = found {
            self.hand_back(pool, busy);
            return Ok(Ok(env));
        }
        let reservation = match self.reserve(spec.record.memory_size as u64) {
            Ok(r) => r,
            // No room for a new one: wait for a busy one's phase to end and
            // reuse it, rather than throttle.
            Err(e) => match busy.pop() {
                Some(env) => {
                    self.hand_back(pool, std::mem::take(&mut busy));
                    env.settle().await;
                    if env.reusable() {
                        return Ok(Ok(env));
                    }
                    // It overran its deadline and ended: its memory comes
                    // back once the task that settled it lets go.
                    env.kill();
                    drop(env);
                    self.reserve_soon(spec.record.memory_size as u64).await?
                }
                None => return Err(e),
            },
        };
        self.hand_back(pool, busy);
        let logs = self.logs.function(&spec.record.name);
        // What the sandbox logs while starting the environment names the
        // invocation. Only this (cold) path gets a span: creating one for
        // every warm invocation cost about a tenth of its instructions at the
        // default `info` level, and nothing on the warm path logs.
        let span =
            tracing::info_span!("invoke", function = %spec.record.name, request_id = %request_id);
        let launched = Env::launch(
            &self.ctx,
            spec.clone(),
            resolved,
            logs,
            reservation,
            report::InitType::OnDemand,
        )
        .instrument(span)
        .await;
        if let Ok(env) = &launched {
            self.live
                .lock()
                .expect("live lock poisoned")
                .insert(env.id.clone(), Arc::downgrade(env));
        }
        Ok(launched)
    }

    /// [`Router::reserve`], waiting up to 100 ms for memory being freed.
    async fn reserve_soon(&self, mb: u64) -> Result<admission::Reservation, InvokeError> {
        let until = Instant::now() + Duration::from_millis(100);
        loop {
            match self.reserve(mb) {
                Ok(r) => return Ok(r),
                Err(e) if Instant::now() >= until => return Err(e),
                Err(_) => {
                    let _ = tokio::time::timeout_at(until.into(), self.admission.freed()).await;
                }
            }
        }
    }

    /// Puts environments passed over while still in their invoke phase back
    /// in the pool, behind the idle ones (taken last); one of a replaced
    /// configuration is not put back, and ends when its phase does (the
    /// task settling it holds it until then).
    fn hand_back(&self, pool: &Pool, busy: Vec<Arc<Env>>) {
        if busy.is_empty() {
            return;
        }
        let current = pool.spec.lock().expect("pool lock poisoned").clone();
        let (keep, replaced): (Vec<_>, Vec<_>) = busy
            .into_iter()
            .partition(|e| Arc::ptr_eq(&e.spec, &current));
        replaced.into_iter().for_each(retire);
        let mut idle = pool.idle.lock().expect("pool lock poisoned");
        idle.splice(0..0, keep);
    }

    /// Reserves `mb`, ending idle environments least recently used first
    /// when the budget is full.
    fn reserve(&self, mb: u64) -> Result<admission::Reservation, InvokeError> {
        if let Some(r) = self.admission.try_reserve(mb) {
            return Ok(r);
        }
        let mut idle: Vec<(Instant, Arc<Pool>, String)> = Vec::new();
        for pool in self.all_pools() {
            for env in pool.idle.lock().expect("pool lock poisoned").iter() {
                // Busy after its answer: killing it would cut its work off,
                // and its memory only comes back when its phase ends. One
                // kept for provisioned concurrency stays.
                if !env.unfinished() && !env.provisioned() {
                    idle.push((env.last_used(), pool.clone(), env.id.clone()));
                }
            }
        }
        idle.sort_by_key(|(at, _, _)| *at);
        for (_, pool, id) in idle {
            let evicted = {
                let mut list = pool.idle.lock().expect("pool lock poisoned");
                list.iter().position(|e| e.id == id).map(|i| list.remove(i))
            };
            if let Some(env) = evicted {
                tracing::info!(env_id = %env.id, "evicting idle environment to make room");
                env.kill();
                drop(env);
                if let Some(r) = self.admission.try_reserve(mb) {
                    return Ok(r);
                }
            }
        }
        Err(InvokeError::NoCapacity)
    }

    fn release(&self, pool: &Pool, env: Arc<Env>) {
        let current = pool.spec.lock().expect("pool lock poisoned").clone();
        if !self.stopping.load(Ordering::Acquire)
            && env.reusable()
            && !env.expiring()
            && Arc::ptr_eq(&env.spec, &current)
        {
            pool.idle.lock().expect("pool lock poisoned").push(env);
        } else if env.reusable() && env.unfinished() && !self.stopping.load(Ordering::Acquire) {
            // Of a replaced configuration, or with credentials about to
            // expire, still working after its answer.
            retire(env);
        } else {
            env.kill();
            self.live
                .lock()
                .expect("live lock poisoned")
                .remove(&env.id);
        }
    }

    /// The answer and log of an invocation whose environment could not
    /// start (no `bootstrap`, say), in Lambda's order: INIT_START,
    /// INIT_REPORT, START, the error, END, REPORT with the error's type.
    fn launch_failed(
        &self,
        spec: &FunctionSpec,
        resolved: &Resolved,
        request_id: &str,
        f: LaunchFailure,
        took: Duration,
    ) -> Completed {
        let logs = self.logs.function(&spec.record.name);
        let message = format!("RequestId: {request_id} Error: {}", f.message);
        let report = report::Report {
            duration: took,
            memory_size_mb: spec.record.memory_size,
            max_memory_used_mb: 0,
            init: None,
            status: Some("error"),
            error_type: Some(f.error_type.to_string()),
        };
        let system = report::SystemLog::of(&spec.record.logging);
        let lines = [
            env::init_start(
                system,
                spec,
                resolved,
                &self.ctx.region,
                report::InitType::OnDemand,
            ),
            system.init_error(took, f.error_type, report::InitType::OnDemand),
            system.start(request_id, &spec.record.version.to_string()),
            Some(message.clone()),
            Some(f.error_type.to_string()),
            system.end(request_id, &report),
            system.report(request_id, &report),
        ];
        let mut log = Vec::new();
        let stream: Arc<str> = "launch".into();
        for line in lines.into_iter().flatten() {
            log.extend_from_slice(line.as_bytes());
            log.push(b'\n');
            logs.append(&stream, line);
        }
        Completed {
            request_id: request_id.to_string(),
            payload: report::error_document(f.error_type, &message),
            function_error: true,
            log,
            version: spec.record.version,
        }
    }

    /// Ends environments idle for longer than the idle timeout, every
    /// `every`, until `stop` resolves.
    pub async fn reap_idle(&self, every: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(every) => self.reap_once(),
            }
        }
    }

    fn reap_once(&self) {
        self.reap_at(Instant::now());
    }

    /// Ends the environments idle at `now` beyond their function's
    /// keep-alive window (at most the idle timeout).
    fn reap_at(&self, now: Instant) {
        for pool in self.all_pools() {
            let window = self.windows(&pool).horizon();
            let cutoff = now.checked_sub(window);
            // Not needed before its pre-warm window closes (`warmup`).
            let unneeded = self.in_prewarm_window(&pool, now);
            let stale = |e: &Arc<Env>| {
                // Idle too long, or its credentials near their expiry (a
                // provisioned one is replaced by its provisioner first).
                let idle_too_long = unneeded || cutoff.is_some_and(|c| e.last_used() < c);
                (idle_too_long || e.expiring()) && !e.provisioned() && !e.unfinished()
            };
            let mut idle = pool.idle.lock().expect("pool lock poisoned");
            // One still in its invoke phase (working after its answer) is
            // not idle.
            let (old, keep): (Vec<_>, Vec<_>) =
                std::mem::take(&mut *idle).into_iter().partition(stale);
            *idle = keep;
            drop(idle);
            for env in old {
                tracing::debug!(
                    env_id = %env.id,
                    window_secs = window.as_secs(),
                    "reaping idle environment"
                );
                env.kill();
            }
        }
        self.live
            .lock()
            .expect("live lock poisoned")
            .retain(|_, w| w.strong_count() > 0);
    }

    /// The keep-alive windows of `pool`'s environments now.
    fn windows(&self, pool: &Pool) -> keepalive::Windows {
        self.keepalive.windows(lock(&pool.history).histogram())
    }

    /// Function versions whose next invocation is expected within `within`
    /// from now by the keep-alive policy (a pre-warm window closes) and
    /// that have no idle environment: what a pool of pre-started
    /// environments would start next, earliest first.
    pub fn prewarm_due(&self, within: Duration) -> Vec<PrewarmDue> {
        let until = Instant::now() + within;
        let mut due: Vec<PrewarmDue> = self
            .all_pools()
            .iter()
            .filter(|pool| lock(&pool.idle).is_empty())
            .filter_map(|pool| {
                let windows = self.windows(pool);
                let at = lock(&pool.history).prewarm_at(&windows)?;
                let spec = lock(&pool.spec).clone();
                (at <= until).then(|| PrewarmDue {
                    function: spec.record.name.clone(),
                    version: spec.record.version,
                    at,
                    keep_alive: windows.keep_alive,
                })
            })
            .collect();
        due.sort_by_key(|d| d.at);
        due
    }

    fn all_pools(&self) -> Vec<Arc<Pool>> {
        let functions = self.functions.read().expect("functions lock poisoned");
        functions
            .values()
            .flat_map(|f| f.versions.values().cloned())
            .collect()
    }

    /// Number of environments alive (idle or busy).
    pub fn live_environments(&self) -> usize {
        let mut live = self.live.lock().expect("live lock poisoned");
        live.retain(|_, w| w.strong_count() > 0);
        live.len()
    }

    /// Refuses new invocations and ends every environment.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        for pool in self.all_pools() {
            pool.idle.lock().expect("pool lock poisoned").clear();
        }
        let live: Vec<Weak<Env>> = self
            .live
            .lock()
            .expect("live lock poisoned")
            .drain()
            .map(|(_, w)| w)
            .collect();
        for env in live.iter().filter_map(Weak::upgrade) {
            env.kill();
        }
    }
}

/// A function version whose next invocation the keep-alive policy expects
/// soon ([`Router::prewarm_due`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrewarmDue {
    /// The function's name.
    pub function: String,
    /// Its version.
    pub version: Version,
    /// When its next invocation is expected (the pre-warm window's end).
    pub at: Instant,
    /// How long an environment started then is worth keeping idle.
    pub keep_alive: Duration,
}

/// The keep-alive policy of a router: `idle_timeout` is the fixed
/// policy's window and the hybrid one's cap, whose window while a
/// function's history says nothing is [`keepalive::DEFAULT_FIXED`] (or the
/// cap if shorter).
fn keepalive_policy(mode: keepalive::Mode, idle_timeout: Duration) -> keepalive::Policy {
    match mode {
        keepalive::Mode::Fixed => keepalive::Policy::fixed(idle_timeout),
        keepalive::Mode::Hybrid => keepalive::Policy {
            mode,
            fixed: keepalive::DEFAULT_FIXED.min(idle_timeout),
            cap: idle_timeout,
        },
    }
}

/// An invocation of a pool as its keep-alive history counts it: from when
/// it is admitted to when it is done — or dropped, when its caller went
/// away.
struct InUse(Arc<Pool>);

impl InUse {
    fn new(pool: &Arc<Pool>) -> Self {
        lock(&pool.history).started(Instant::now());
        Self(pool.clone())
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        lock(&self.0.history).finished(Instant::now());
    }
}

/// Locks a router mutex (poisoned only by a panic under it).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("router lock poisoned")
}

/// The idle environment an invocation takes: the most recently used one
/// kept for provisioned concurrency, else the most recently used one (LIFO
/// keeps few environments hot).
fn take_idle(idle: &mut Vec<Arc<Env>>) -> Option<Arc<Env>> {
    match idle.iter().rposition(|e| e.provisioned()) {
        Some(i) => Some(idle.remove(i)),
        None => idle.pop(),
    }
}

/// Ends a pool's idle environments (its busy ones end when they are done,
/// as they are not given back to a pool the router no longer holds).
fn end_idle(pool: &Pool) {
    let idle = std::mem::take(&mut *pool.idle.lock().expect("pool lock poisoned"));
    idle.iter().for_each(|e| e.kill());
}

/// An X-Ray style trace header.
fn trace_id() -> String {
    use std::fmt::Write;
    let secs = chrono::Utc::now().timestamp();
    let mut hex = [0u8; uuid::fmt::Simple::LENGTH];
    let id = uuid::Uuid::new_v4().simple().encode_lower(&mut hex);
    // Built in one string sized once: this runs for every invocation.
    let mut t = String::with_capacity(64);
    let _ = write!(t, "Root=1-{secs:08x}-");
    t.push_str(&id[..24]);
    t.push_str(";Parent=");
    t.push_str(&id[16..32]);
    t.push_str(";Sampled=0");
    t
}

#[cfg(test)]
mod tests;

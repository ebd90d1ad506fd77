//! One execution environment: a runtime process started by the sandbox, its
//! Runtime API listener and its log pump. It runs one invocation at a time
//! and knows whether it can be reused afterwards.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ignis_runtime_api::{Delivery, DeliveryHook, Invocation, NextCalls, Outcome, RuntimeApi};
use ignis_runtimes::Resolved;
use ignis_sandbox::{EnvProcess, ExitInfo, GuestPaths, LaunchSpec, Prestart, Sandbox};
use tokio::sync::watch;

use crate::admission::Reservation;
use crate::credentials::{self, CredentialIssuer};
use crate::logs::FunctionLogs;
use crate::pump::{LogSink, Pump};
use crate::report::InitType;
use crate::report::{self, Report};
use crate::FunctionSpec;

/// Where and how environments start on this node.
pub(crate) struct LaunchContext {
    pub sandbox: Arc<dyn Sandbox>,
    pub region: String,
    pub envs_dir: PathBuf,
    pub init_timeout: Duration,
    /// Issues each environment's credentials for its function's role;
    /// unset: environments get none.
    pub credentials: OnceLock<Arc<dyn CredentialIssuer>>,
    /// `AWS_ENDPOINT_URL`: where environments reach Ignis's APIs; unset
    /// where they cannot (`--network none`).
    pub endpoint_url: OnceLock<String>,
}

/// The answer of one invocation.
#[derive(Debug)]
pub struct Completed {
    /// The invocation's request id.
    pub request_id: String,
    /// Response or error document.
    pub payload: Bytes,
    /// Set when the function failed (`Unhandled`).
    pub function_error: bool,
    /// The invocation's log lines, START to REPORT, when the caller asked
    /// for them ([`crate::InvokeInput::tail`]); empty otherwise.
    pub log: Vec<u8>,
    /// The version that ran (`X-Amz-Executed-Version`).
    pub version: ignis_model::Version,
}

/// The end of an answered invocation's log — the function's last output,
/// END and REPORT — when it is written after the answer went out (see
/// [`Env::finish`]).
struct Epilogue {
    request_id: Arc<str>,
    /// Its REPORT; `max_memory_used_mb` is a floor for the peak read when
    /// the lines are written (read before a kill, it is the only reading).
    report: Report,
    /// For an answered invocation: when it was delivered, by which `/next`
    /// call, and its deadline. Its invoke phase (and `Duration`) ends with
    /// the runtime's next `/next`, as on Lambda; `None`: already ended.
    open: Option<OpenPhase>,
    /// An invocation waited its grace for this phase to end and went
    /// elsewhere; later ones do not wait for it again.
    passed_over: bool,
}

#[derive(Clone, Copy)]
struct OpenPhase {
    /// When its time began: at delivery, or, after an init past its 10 s
    /// phase, where the rest of the init began to share the timeout.
    began: Instant,
    next_call: u64,
    deadline: Instant,
}

pub(crate) struct Env {
    pub id: String,
    pub spec: Arc<FunctionSpec>,
    api: RuntimeApi,
    process: Arc<dyn EnvProcess>,
    sink: Arc<LogSink>,
    pump: Arc<Pump>,
    /// Its cold start's timeline: `launch` called, the sandbox asked to
    /// launch it (`launched_at`, where its init begins), the sandbox done.
    created: Instant,
    launched_at: Instant,
    sandboxed: Instant,
    init_timeout: Duration,
    /// How its platform lines are written (text, or JSON records).
    system: report::SystemLog,
    /// Its version as START lines name it (`$LATEST`, `3`).
    version: Arc<str>,
    init_type: InitType,
    /// Kept initialized for provisioned concurrency: never reaped for
    /// idleness nor evicted for room (cleared when no longer wanted).
    provisioned: AtomicBool,
    initialized: AtomicBool,
    broken: AtomicBool,
    last_used: Mutex<Instant>,
    /// The last invocation's END and REPORT, not written yet.
    epilogue: Mutex<Option<Epilogue>>,
    /// After this its credentials are too close to their expiry for
    /// another invocation (see [`credentials::renewal_margin`]).
    renew_at: Option<Instant>,
    scratch: PathBuf,
    _reservation: Reservation,
}

/// The INIT_START line (or record) of a new environment of `spec`, which
/// runs on `resolved`.
pub(crate) fn init_start(
    system: report::SystemLog,
    spec: &FunctionSpec,
    resolved: &Resolved,
    region: &str,
    init_type: InitType,
) -> Option<String> {
    let runtime = spec.record.runtime.as_deref().unwrap_or_default();
    system.init_start(
        &resolved.runtime_version(runtime),
        &resolved.runtime_version_arn(runtime, region),
        &spec.record.name,
        &spec.record.version.to_string(),
        init_type,
    )
}

/// A warm runtime exited before taking the invocation.
#[derive(Debug)]
pub(crate) struct Undelivered;

/// How an invocation was answered: whole, or with a stream under way.
pub(crate) enum Answer {
    /// The answer (or the failure) in one piece.
    Whole(Completed),
    /// The runtime streams its answer ([`Outcome::Streamed`]).
    Streamed {
        request_id: String,
        stream: ignis_runtime_api::ResponseStream,
        /// The invocation's deadline.
        deadline: Instant,
    },
}

/// Why an environment could not start; answered as a function error.
pub(crate) struct LaunchFailure {
    pub error_type: &'static str,
    pub message: String,
}

impl Env {
    pub async fn launch(
        ctx: &LaunchContext,
        spec: Arc<FunctionSpec>,
        resolved: &Resolved,
        logs: Arc<FunctionLogs>,
        reservation: Reservation,
        init_type: InitType,
    ) -> Result<Arc<Env>, LaunchFailure> {
        let created = Instant::now();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let record = &spec.record;
        let scratch = ctx.envs_dir.join(&id);
        let tmp_dir = scratch.join("tmp");
        // The paths the function sees (the sandbox may mount them elsewhere).
        let guest = ctx
            .sandbox
            .guest_paths(&spec.code_dir, &tmp_dir, spec.opt_dir.as_deref());
        let (program, args, runtime_env, note, runtime_dir) = match resolved {
            Resolved::Custom => {
                // As Lambda: the function's own bootstrap, else one a layer
                // ships (only a function's layers are its /opt here).
                let candidates = [
                    Some((spec.code_dir.join("bootstrap"), &guest.task_root)),
                    spec.opt_dir
                        .as_ref()
                        .map(|o| (o.join("bootstrap"), &guest.opt)),
                ];
                let found = candidates.into_iter().flatten().find(|(p, _)| p.is_file());
                let Some((_, seen_in)) = found else {
                    return Err(LaunchFailure {
                        error_type: "Runtime.InvalidEntrypoint",
                        message:
                            "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
                                .to_string(),
                    });
                };
                (
                    seen_in.join("bootstrap"),
                    Vec::new(),
                    Vec::new(),
                    None,
                    None,
                )
            }
            Resolved::Managed(l) => {
                let note = l.substitute.as_ref().map(|actual| {
                    format!(
                        "IGNIS: runtime {} is not installed on this node; running {actual} ({} at {})",
                        record.runtime.as_deref().unwrap_or_default(),
                        l.interpreter_name(),
                        l.program.display()
                    )
                });
                (
                    l.program.clone(),
                    l.args.clone(),
                    l.env.clone(),
                    note,
                    l.client_dir.clone(),
                )
            }
        };
        // Only a backend that shows the function this host directory as its
        // `/tmp` needs it (the namespace sandbox mounts a disk of its own).
        if guest.tmp == tmp_dir {
            std::fs::create_dir_all(&tmp_dir).map_err(|e| LaunchFailure {
                error_type: "Runtime.Unknown",
                message: format!("failed to create the environment's /tmp: {e}"),
            })?;
        }
        let api_failed = |e: std::io::Error| LaunchFailure {
            error_type: "Runtime.Unknown",
            message: format!("failed to bind the Runtime API: {e}"),
        };
        // Either the sandbox makes the socket inside the environment (its
        // own network namespace), or the Runtime API listens on the host's
        // loopback.
        let (api_addr, host_api) = match ctx.sandbox.runtime_api_addr() {
            Some(inside) => (inside, None),
            None => {
                let api = RuntimeApi::bind_loopback().await.map_err(api_failed)?;
                (api.addr(), Some(api))
            }
        };
        let record_version = record.version.to_string();
        let stream = log_stream_name(&record_version, &id);
        let mut env = lambda_env(&spec, &guest, &ctx.region, &api_addr.to_string(), &stream);
        if let Some(kind) = env
            .iter_mut()
            .find(|(k, _)| k == "AWS_LAMBDA_INITIALIZATION_TYPE")
        {
            kind.1 = init_type.as_str().to_string();
        }
        env.extend(runtime_env);
        let renew_at = match ctx.credentials.get() {
            // No role (not possible through the API): no credentials.
            Some(issuer) if !record.role.is_empty() => {
                let now = chrono::Utc::now();
                let creds =
                    issuer
                        .issue(&record.role, &record.name)
                        .map_err(|e| LaunchFailure {
                            error_type: "Runtime.Unknown",
                            message: format!(
                                "failed to issue credentials for the execution role {}: {e}",
                                record.role
                            ),
                        })?;
                let timeout = Duration::from_secs(u64::from(record.timeout));
                // Last: they win over anything of the same name.
                env.extend(credentials::variables(
                    Some(&creds),
                    None,
                    &record.environment,
                ));
                Some(Instant::now() + credentials::usable_for(creds.expiration, now, timeout))
            }
            _ => None,
        };
        let endpoint = ctx.endpoint_url.get().map(String::as_str);
        env.extend(credentials::variables(None, endpoint, &record.environment));
        // A provisioned environment is started ahead anyway: it runs its
        // runtime with its whole environment from the start (its
        // `/proc/<pid>/environ` says so too, see docs/sandbox.md).
        let prestart = match resolved {
            Resolved::Managed(l) if init_type != InitType::Provisioned => {
                l.holding().and_then(|holding| prestart(holding, &env))
            }
            _ => None,
        };
        let launch = LaunchSpec {
            prestart,
            env_id: id.clone(),
            program,
            args,
            code_dir: spec.code_dir.clone(),
            tmp_dir,
            opt_dir: spec.opt_dir.clone(),
            runtime_dir,
            env,
            memory_mb: record.memory_size,
            tmp_mb: record.ephemeral_storage,
        };
        let launched_at = Instant::now();
        let mut launched = match ctx.sandbox.launch(launch).await {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&scratch);
                return Err(LaunchFailure {
                    error_type: "Runtime.InvalidEntrypoint",
                    message: e.to_string(),
                });
            }
        };
        let sandboxed = Instant::now();
        let api = match (host_api, launched.runtime_api.take()) {
            (Some(api), _) => Ok(api),
            (None, Some(inside)) => {
                tokio::net::TcpListener::from_std(inside).and_then(RuntimeApi::serve)
            }
            (None, None) => Err(std::io::Error::other(
                "the sandbox made no Runtime API socket",
            )),
        };
        let api = match api {
            Ok(api) => api,
            Err(e) => {
                // Dropping the launch kills the environment; its scratch
                // directory goes too.
                drop(launched);
                let _ = std::fs::remove_dir_all(&scratch);
                return Err(api_failed(e));
            }
        };
        let sink = Arc::new(LogSink::new(stream, logs));
        let system = report::SystemLog::of(&spec.record.logging);
        // Before anything the runtime writes: the pump starts below.
        sink.platform(init_start(system, &spec, resolved, &ctx.region, init_type));
        if let Some(note) = note {
            sink.line(note);
        }
        let pump = Pump::start(launched.output, sink.clone());
        tracing::debug!(env_id = %id, pid = launched.process.pid(), "environment started");
        Ok(Arc::new(Env {
            id,
            spec,
            api,
            process: Arc::from(launched.process),
            sink,
            pump,
            created,
            launched_at,
            sandboxed,
            init_timeout: ctx.init_timeout,
            system,
            version: record_version.into(),
            init_type,
            provisioned: AtomicBool::new(init_type == InitType::Provisioned),
            initialized: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
            epilogue: Mutex::new(None),
            renew_at,
            scratch,
            _reservation: reservation,
        }))
    }

    /// Runs the init ahead of any invocation (provisioned concurrency):
    /// waits for the runtime's first `/next`, within `limit`. Its
    /// INIT_REPORT says how long it took; the first invocation is then warm
    /// (no Init Duration in its REPORT). `Err` says why it failed (the
    /// environment is then of no use).
    pub async fn initialize(&self, limit: Duration) -> Result<(), String> {
        let mut calls = self.api.next_calls();
        let mut exited = self.process.exited();
        let outcome = tokio::select! {
            biased;
            _ = calls.wait_for(|c| c.count > 0) => Ok(()),
            info = exited.wait_for(Option::is_some) => {
                let info = info.ok().and_then(|i| *i).unwrap_or(ExitInfo::Code(-1));
                Err(report::exit_error_type(&info))
            }
            _ = tokio::time::sleep(limit) => Err("Sandbox.Timedout"),
        };
        let took = self.launched_at.elapsed();
        self.pump.flush();
        match outcome {
            Ok(()) => {
                self.process.init_done();
                self.sink
                    .platform(self.system.init_done(took, self.init_type));
                self.initialized.store(true, Ordering::Release);
                *self.last_used.lock().expect("last_used lock poisoned") = Instant::now();
                Ok(())
            }
            Err(error_type) => {
                self.sink
                    .platform(self.system.init_error(took, error_type, self.init_type));
                self.kill();
                Err(format!("the function's init failed ({error_type})"))
            }
        }
    }

    /// Whether it is kept for provisioned concurrency.
    pub fn provisioned(&self) -> bool {
        self.provisioned.load(Ordering::Acquire)
    }

    /// No longer kept for provisioned concurrency: an ordinary environment
    /// from now on (reaped when idle).
    pub fn unprovision(&self) {
        self.provisioned.store(false, Ordering::Release);
    }

    /// Whether its credentials are too close to their expiry for another
    /// invocation: it is to be retired and replaced.
    pub fn expiring(&self) -> bool {
        self.renew_at.is_some_and(|at| Instant::now() >= at)
    }

    /// Whether the environment can take another invocation.
    pub fn reusable(&self) -> bool {
        !self.broken.load(Ordering::Acquire) && self.process.exited().borrow().is_none()
    }

    /// Counts it as last used at `at` (an environment started ahead of an
    /// expected invocation is kept as if it had served the one before).
    pub fn used_at(&self, at: Instant) {
        *self.last_used.lock().expect("last_used lock poisoned") = at;
    }

    pub fn last_used(&self) -> Instant {
        *self.last_used.lock().expect("last_used lock poisoned")
    }

    /// Ends the environment now.
    pub fn kill(&self) {
        self.broken.store(true, Ordering::Release);
        self.process.kill();
    }

    /// Runs one invocation to its end. `Err(Undelivered)` means a warm
    /// runtime exited before it took the invocation: the function never saw
    /// it, and it can be run on a fresh environment. Without `tail`, an
    /// invocation the runtime answered returns as soon as the answer is
    /// here, and its END and REPORT wait for [`Env::finish`] (as on Lambda,
    /// the log is written after the caller has the answer).
    pub async fn invoke(
        self: &Arc<Self>,
        inv: Invocation,
        tail: bool,
    ) -> Result<Completed, Undelivered> {
        match self.answer(inv, tail).await? {
            Answer::Whole(completed) => Ok(completed),
            // Only an invocation with `stream` set is answered with a stream.
            Answer::Streamed { .. } => unreachable!("a stream answered a whole invocation"),
        }
    }

    /// [`Env::invoke`], for an invocation that may be answered with a
    /// stream ([`Invocation::stream`]): a streamed answer returns as soon
    /// as it starts; its invoke phase stays open (END and REPORT wait for
    /// the runtime's next `/next`, and with `tail` the log is the caller's
    /// to take, [`Env::take_log`], once the stream has ended).
    pub async fn answer(
        self: &Arc<Self>,
        inv: Invocation,
        tail: bool,
    ) -> Result<Answer, Undelivered> {
        self.settle().await;
        if !self.reusable() {
            // The last invocation overran its deadline after answering, or
            // the runtime exited: this one was never handed over.
            return Err(Undelivered);
        }
        self.watch_phases();
        let request_id = inv.request_id.clone();
        let timeout = inv.timeout;
        let cold = !self.initialized.load(Ordering::Acquire);
        // Only a caller that takes the log tail gets the lines copied.
        if tail {
            self.sink.start_capture();
        } else {
            self.sink.stop_capture();
        }
        let start = {
            let (sink, id, system) = (self.sink.clone(), request_id.clone(), self.system);
            let version = self.version.clone();
            // A cold environment's init ends as its runtime takes the first
            // event: its CPU share applies from here.
            let process = cold.then(|| self.process.clone());
            Box::new(move || {
                if let Some(p) = process {
                    p.init_done();
                }
                sink.platform(system.start(&id, &version))
            })
        };
        let started = Instant::now();
        let (ended, delivered, deadline) = self.run(inv, cold, start).await;
        let finished = Instant::now();
        if delivered.is_none() {
            if !cold && matches!(ended, Ended::Exited(_)) {
                self.broken.store(true, Ordering::Release);
                self.sink.take_capture();
                return Err(Undelivered);
            }
            // As on Lambda, a failed init's INIT_REPORT comes before START
            // (one that ran out of time has written its own).
            let init_failure = match &ended {
                Ended::Answered(Outcome::InitError { error_type, .. }) => {
                    Some(error_type.as_deref().unwrap_or("Runtime.Unknown"))
                }
                Ended::Exited(info) if cold => Some(report::exit_error_type(info)),
                _ => None,
            };
            if let Some(t) = init_failure {
                self.sink.platform(self.system.init_error(
                    finished - self.launched_at,
                    t,
                    self.init_type,
                ));
            }
            self.sink
                .platform(self.system.start(&request_id, &self.version));
        }
        self.initialized.store(true, Ordering::Release);
        *self.last_used.lock().expect("last_used lock poisoned") = finished;

        let init = if cold {
            self.cold_timed(delivered.map(|d| d.at), finished);
            self.api
                .ready_at()
                .map(|at| at.saturating_duration_since(self.launched_at))
        } else {
            None
        };
        // The invocation's time starts at delivery; after an init past its
        // 10 s phase, where the rest of the init shares the timeout.
        let timeout_began = deadline.map(|d| d.checked_sub(timeout).unwrap_or(d));
        let began = timeout_began.or(delivered.map(|d| d.at)).unwrap_or(started);
        let duration = finished.saturating_duration_since(began);
        let report = |status, error_type| Report {
            duration,
            memory_size_mb: self.spec.record.memory_size,
            max_memory_used_mb: 0,
            init,
            status,
            error_type,
        };
        // Answered: the runtime goes on to its next `/next`, and the invoke
        // phase stays open until then (a 413 on its response included).
        let mut streamed = None;
        let answered = match ended {
            Ended::Answered(Outcome::Response(body)) => Some((body, false, None, None)),
            Ended::Answered(Outcome::Streamed(stream)) => {
                streamed = Some(stream);
                Some((Bytes::new(), false, None, None))
            }
            Ended::Answered(Outcome::FunctionError { error_type, body }) => Some((
                report::function_error_body(error_type.as_deref(), body),
                true,
                None,
                None,
            )),
            Ended::Answered(Outcome::ResponseTooLarge { .. }) => Some((
                report::response_too_large(),
                true,
                Some("error"),
                Some(report::RESPONSE_TOO_LARGE.to_string()),
            )),
            other => {
                // Before `failed` kills the environment: a dead runtime has
                // no memory left to read.
                let peak = self.peak_mb();
                let (payload, status, error_type) = self.failed(other, &request_id);
                let mut report = report(status, error_type);
                report.max_memory_used_mb = peak;
                let epilogue = Epilogue {
                    request_id: request_id.clone(),
                    report,
                    open: None,
                    passed_over: false,
                };
                self.write_epilogue(epilogue, finished);
                return Ok(Answer::Whole(Completed {
                    request_id: request_id.to_string(),
                    payload,
                    function_error: true,
                    log: self.sink.take_capture(),
                    version: self.spec.record.version,
                }));
            }
        };
        let Some((payload, function_error, status, error_type)) = answered else {
            unreachable!("every other ending returned above");
        };
        let epilogue = Epilogue {
            request_id: request_id.clone(),
            report: report(status, error_type),
            open: delivered.map(|d| OpenPhase {
                began: timeout_began.unwrap_or(d.at),
                next_call: d.next_call,
                deadline: deadline.unwrap_or(d.at + timeout),
            }),
            passed_over: false,
        };
        let open = epilogue.open;
        *self.epilogue.lock().expect("epilogue lock poisoned") = Some(epilogue);
        // The runtime may have asked for its next event already, before the
        // phase was stored for the `/next` hook to end.
        if let Some(phase) = open {
            let calls = self.api.calls();
            if calls.count > phase.next_call {
                self.phase_ended(calls);
            }
        }
        if let Some(stream) = streamed {
            return Ok(Answer::Streamed {
                request_id: request_id.to_string(),
                stream,
                deadline: deadline.unwrap_or_else(|| finished + timeout),
            });
        }
        let log = if tail {
            // The tail ends with REPORT, so the answer waits for the end of
            // the invoke phase (a runtime asks for the next event at once).
            self.settle().await;
            self.sink.take_capture()
        } else {
            Vec::new()
        };
        Ok(Answer::Whole(Completed {
            request_id: request_id.to_string(),
            payload,
            function_error,
            log,
            version: self.spec.record.version,
        }))
    }

    /// Where a cold start's time went (`IGNIS_LOG=ignis_router::env=debug`),
    /// in µs from one step to the next: the router's set-up of the launch
    /// (variables, credentials, `/tmp`), the sandbox's launch (or
    /// specialization), the Runtime API's start, the runtime's start to its
    /// first `/next`, the event's delivery, the function's answer.
    fn cold_timed(&self, delivered: Option<Instant>, answered: Instant) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let us = |from: Instant, to: Instant| to.saturating_duration_since(from).as_micros() as u64;
        let ready = self.api.ready_at().unwrap_or(answered);
        let delivered = delivered.unwrap_or(answered);
        tracing::debug!(
            env_id = %self.id,
            setup_us = us(self.created, self.launched_at),
            sandbox_us = us(self.launched_at, self.sandboxed),
            to_next_us = us(self.sandboxed, ready),
            deliver_us = us(ready, delivered),
            answer_us = us(delivered, answered),
            total_us = us(self.created, answered),
            "cold start timed"
        );
    }

    /// The log captured since the invocation started (START on), for a
    /// streamed answer's tail once its phase has ended.
    pub fn take_log(&self) -> Vec<u8> {
        self.sink.take_capture()
    }

    /// Why a stream broke off before its end: it ran past `deadline` (and
    /// was ended: a timeout), or the runtime exited (its exit error); the
    /// error type and document. `None`: neither (the upload itself broke).
    pub fn stream_failure(&self, request_id: &str, deadline: Instant) -> Option<(String, Bytes)> {
        if Instant::now() >= deadline {
            let limit = Duration::from_secs(self.spec.record.timeout as u64);
            return Some((
                "Sandbox.Timedout".to_string(),
                report::timeout_error(request_id, limit),
            ));
        }
        let exited = *self.process.exited().borrow();
        exited.map(|info| {
            (
                report::exit_error_type(&info).to_string(),
                report::exit_error(request_id, &info),
            )
        })
    }

    /// Writes the last invocation's END and REPORT once its invoke phase
    /// has ended: when the runtime asks for the next event (on Lambda the
    /// phase ends there, so what the function prints after answering and
    /// before that still comes before END), or exits, or the invocation's
    /// deadline passes. The next invocation awaits it before it is handed
    /// over; the router runs it in a task of its own after the answer.
    ///
    /// A runtime still working when the deadline passes has overrun it, as
    /// on Lambda: the invocation is reported timed out (its caller has the
    /// answer already) and the environment is ended, so no later invocation
    /// is charged with the overrun.
    pub async fn settle(&self) {
        let open = {
            let pending = self.epilogue.lock().expect("epilogue lock poisoned");
            match pending.as_ref() {
                None => return,
                Some(e) => e.open,
            }
        };
        let Some(phase) = open else {
            return self.finish_at(None, Instant::now());
        };
        let mut calls = self.api.next_calls();
        let mut exited = self.process.exited();
        // Whichever woke it, the phase is the one read above: a settle that
        // runs late must not end a later invocation's phase.
        let n = Some(phase.next_call);
        tokio::select! {
            biased;
            calls = calls.wait_for(|c| c.count > phase.next_call) => {
                let asked = calls.ok().and_then(|c| c.last).unwrap_or_else(Instant::now);
                if asked <= phase.deadline {
                    self.finish_at(n, asked);
                } else {
                    self.overran(n);
                }
            }
            _ = exited.wait_for(Option::is_some) => self.finish_at(n, Instant::now()),
            _ = tokio::time::sleep_until(phase.deadline.into()) => self.overran(n),
        }
    }

    /// Ends answered invocations' invoke phases without a task per
    /// invocation: the Runtime API's `/next` hook writes the epilogue on the
    /// call's own task as the runtime asks for its next event, and one
    /// watchdog task per environment, started with its first invocation,
    /// ends a phase whose runtime exits or overruns its deadline. The
    /// watchdog holds the environment weakly; it sleeps until the open
    /// phase's deadline, or, with none open, for the function's timeout (a
    /// phase opened after that look has a later deadline, unless it was
    /// delivered before it: then it is seen at most a timeout late), so it
    /// wakes about once per timeout, not once per invocation.
    fn watch_phases(self: &Arc<Self>) {
        if self.api.has_next_hook() {
            return;
        }
        let weak = Arc::downgrade(self);
        let hook = Box::new(move |calls| {
            if let Some(env) = weak.upgrade() {
                env.phase_ended(calls);
            }
        });
        if self.api.on_next(hook) {
            let idle = Duration::from_secs(self.spec.record.timeout as u64);
            tokio::spawn(watchdog(Arc::downgrade(self), self.process.exited(), idle));
        }
    }

    /// The runtime called `/next` (`calls` counts it): the open invoke
    /// phase delivered by an earlier call ends at that call, or, past its
    /// deadline, was overrun.
    fn phase_ended(&self, calls: NextCalls) {
        let mut pending = self.epilogue.lock().expect("epilogue lock poisoned");
        let Some(phase) = pending.as_ref().and_then(|e| e.open) else {
            return;
        };
        if calls.count <= phase.next_call {
            return;
        }
        let asked = calls.last.unwrap_or_else(Instant::now);
        if asked <= phase.deadline {
            if let Some(epilogue) = Self::take_epilogue(&mut pending, Some(phase.next_call)) {
                // Under the lock, as in `finish_at`.
                self.write_epilogue(epilogue, asked);
            }
        } else {
            drop(pending);
            self.overran(Some(phase.next_call));
        }
    }

    /// For the watchdog: ends the open phase if its deadline has passed
    /// (or `/next` ended it meanwhile); the next time to look.
    fn check_deadline(&self, idle: Duration) -> Instant {
        let now = Instant::now();
        let open = {
            let pending = self.epilogue.lock().expect("epilogue lock poisoned");
            pending.as_ref().and_then(|e| e.open)
        };
        match open {
            Some(phase) if now >= phase.deadline => {
                let calls = self.api.calls();
                if calls.count > phase.next_call {
                    self.phase_ended(calls);
                } else {
                    self.overran(Some(phase.next_call));
                }
                now + idle
            }
            Some(phase) => phase.deadline,
            None => now + idle,
        }
    }

    /// [`Env::settle`], waiting at most `grace`: whether the invoke phase
    /// has ended. A phase that outlasted one grace is not waited for again.
    pub async fn settle_within(&self, grace: Duration) -> bool {
        let phase = {
            let pending = self.epilogue.lock().expect("epilogue lock poisoned");
            match pending.as_ref() {
                None => return true,
                Some(e) if e.passed_over => return false,
                Some(e) => e.open.map(|p| p.next_call),
            }
        };
        if tokio::time::timeout(grace, self.settle()).await.is_ok() {
            return true;
        }
        let mut pending = self.epilogue.lock().expect("epilogue lock poisoned");
        if let Some(e) = pending.as_mut() {
            if e.open.map(|p| p.next_call) == phase {
                e.passed_over = true;
            }
        }
        false
    }

    /// Takes the pending epilogue if it is phase `n`'s (any, for `None`).
    fn take_epilogue(pending: &mut Option<Epilogue>, n: Option<u64>) -> Option<Epilogue> {
        let matches = match (n, pending.as_ref()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(n), Some(e)) => e.open.map(|p| p.next_call) == Some(n),
        };
        if matches {
            pending.take()
        } else {
            None
        }
    }

    /// The answered invocation's deadline passed before the runtime asked
    /// for the next event: it timed out after its answer.
    fn overran(&self, n: Option<u64>) {
        let mut pending = self.epilogue.lock().expect("epilogue lock poisoned");
        let Some(mut epilogue) = Self::take_epilogue(&mut pending, n) else {
            return;
        };
        // Before the kill: a dead runtime has no memory left to read.
        epilogue.report.max_memory_used_mb = self.peak_mb();
        self.kill();
        let limit = self.timeout_of(&epilogue);
        self.pump.flush();
        self.sink
            .line(report::timed_out_line(&epilogue.request_id, limit));
        epilogue.report.status = Some("timeout");
        let ended = epilogue.open.map_or_else(Instant::now, |p| p.deadline);
        self.write_epilogue(epilogue, ended);
    }

    /// The function's timeout, as the invocation's deadline gave it.
    fn timeout_of(&self, epilogue: &Epilogue) -> Duration {
        epilogue
            .open
            .map(|p| p.deadline.saturating_duration_since(p.began))
            .unwrap_or_else(|| Duration::from_secs(self.spec.record.timeout as u64))
    }

    /// Writes the pending END and REPORT of phase `n` (any, for `None`),
    /// the invoke phase ending at `ended` (for a drop: now).
    fn finish_at(&self, n: Option<u64>, ended: Instant) {
        let mut pending = self.epilogue.lock().expect("epilogue lock poisoned");
        if let Some(epilogue) = Self::take_epilogue(&mut pending, n) {
            // Under the lock: a concurrent `settle` waits until these lines
            // are written, so the next START comes after them.
            self.write_epilogue(epilogue, ended);
        }
    }

    /// Whether an answered invocation's END and REPORT are still to write.
    pub fn unfinished(&self) -> bool {
        self.epilogue
            .lock()
            .expect("epilogue lock poisoned")
            .is_some()
    }

    /// What the function printed during its invoke phase, then END and
    /// REPORT (with the peak memory read now, and the phase's duration when
    /// it ended at `ended`).
    fn write_epilogue(&self, mut epilogue: Epilogue, ended: Instant) {
        if let Some(phase) = epilogue.open {
            epilogue.report.duration = ended.saturating_duration_since(phase.began);
        }
        self.pump.flush();
        epilogue.report.max_memory_used_mb = epilogue.report.max_memory_used_mb.max(self.peak_mb());
        let (id, report) = (&epilogue.request_id, &epilogue.report);
        self.sink.platform(self.system.end(id, report));
        self.sink.platform(self.system.report(id, report));
    }

    /// An invocation that did not end with an answer of the runtime: its
    /// error document, REPORT status and error type; the environment is
    /// killed or marked broken, and the reason is logged.
    fn failed(
        &self,
        ended: Ended,
        request_id: &str,
    ) -> (Bytes, Option<&'static str>, Option<String>) {
        match ended {
            Ended::Answered(
                Outcome::Response(_)
                | Outcome::FunctionError { .. }
                | Outcome::ResponseTooLarge { .. }
                | Outcome::Streamed(_),
            ) => {
                unreachable!("answered invocations are not failures")
            }
            Ended::Answered(Outcome::InitError { error_type, body }) => {
                // Its INIT_REPORT went out before START.
                self.broken.store(true, Ordering::Release);
                let t = error_type
                    .clone()
                    .unwrap_or_else(|| "Runtime.Unknown".into());
                (
                    report::function_error_body(error_type.as_deref(), body),
                    Some("error"),
                    Some(t),
                )
            }
            Ended::TimedOut(limit) => {
                self.kill();
                self.sink.line(report::timed_out_line(request_id, limit));
                (
                    report::timeout_error(request_id, limit),
                    Some("timeout"),
                    None,
                )
            }
            Ended::Exited(info) => {
                self.broken.store(true, Ordering::Release);
                let error_type = report::exit_error_type(&info);
                let msg =
                    format!("RequestId: {request_id} Error: Runtime exited with error: {info}");
                self.sink.line(msg);
                self.sink.line(error_type.to_string());
                (
                    report::exit_error(request_id, &info),
                    Some("error"),
                    Some(error_type.to_string()),
                )
            }
        }
    }

    /// Hands `inv` to the runtime and waits for its end; also returns when
    /// the runtime took it and the invocation's deadline.
    async fn run(
        &self,
        inv: Invocation,
        cold: bool,
        on_delivery: DeliveryHook,
    ) -> (Ended, Option<Delivery>, Option<Instant>) {
        let timeout = inv.timeout;
        let mut exited = self.process.exited();
        let sub = self.api.submit_with(inv, on_delivery);
        let mut outcome = sub.outcome;
        // Delivery: at once on a warm environment; after init on a cold one.
        // An init past its 10 s goes on, as Lambda retries it within the
        // invocation, under the function's timeout.
        let mut delivery = sub.delivered;
        let (mut in_init, mut limit) = if cold {
            (true, self.init_timeout)
        } else {
            (false, timeout)
        };
        // Set when the init runs past its phase: the init's remainder and
        // the invocation then share one timeout from that moment.
        let mut shared_deadline: Option<Instant> = None;
        let delivered = loop {
            tokio::select! {
                biased;
                d = &mut delivery => break d.ok(),
                info = exited.wait_for(Option::is_some) => {
                    let ended = match outcome.try_recv() {
                        Ok(o) => Ended::Answered(o),
                        Err(_) => Ended::Exited(info.ok().and_then(|i| *i).unwrap_or(ExitInfo::Code(-1))),
                    };
                    return (ended, None, None);
                }
                _ = tokio::time::sleep(limit) => {
                    if !in_init {
                        return (Ended::TimedOut(timeout), None, None);
                    }
                    self.sink.platform(self.system.init_timeout(limit, self.init_type));
                    // Past its 10 s the init goes on at the function's share.
                    self.process.init_done();
                    let at = Instant::now() + timeout;
                    self.api.set_pending_deadline(at);
                    shared_deadline = Some(at);
                    (in_init, limit) = (false, timeout);
                }
            }
        };
        let deadline = shared_deadline
            .unwrap_or_else(|| delivered.map_or_else(Instant::now, |d| d.at) + timeout);
        let ended = tokio::select! {
            biased;
            o = &mut outcome => match o {
                Ok(o) => Ended::Answered(o),
                Err(_) => Ended::Exited(ExitInfo::Code(-1)),
            },
            info = exited.wait_for(Option::is_some) => {
                let info = info.ok().and_then(|i| *i).unwrap_or(ExitInfo::Code(-1));
                match outcome.try_recv() {
                    Ok(o) => Ended::Answered(o),
                    Err(_) => Ended::Exited(info),
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => Ended::TimedOut(timeout),
        };
        (ended, delivered, Some(deadline))
    }

    /// Max Memory Used: the backends keep the highest value they saw, so
    /// the last reading stands even after the runtime is gone.
    fn peak_mb(&self) -> u64 {
        self.process
            .peak_memory_bytes()
            .unwrap_or(0)
            .div_ceil(1024 * 1024)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.finish_at(None, Instant::now());
        self.process.kill();
        let scratch = std::mem::take(&mut self.scratch);
        let remove = move || {
            let _ = std::fs::remove_dir_all(&scratch);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }
}

/// The watchdog of [`Env::watch_phases`]: ends an open invoke phase when
/// the runtime exits or the phase's deadline passes.
async fn watchdog(env: Weak<Env>, mut exited: watch::Receiver<Option<ExitInfo>>, idle: Duration) {
    let mut wake_at = Instant::now() + idle;
    loop {
        tokio::select! {
            biased;
            _ = exited.wait_for(Option::is_some) => {
                if let Some(env) = env.upgrade() {
                    env.finish_at(None, Instant::now());
                }
                return;
            }
            _ = tokio::time::sleep_until(wake_at.into()) => {}
        }
        let Some(env) = env.upgrade() else { return };
        wake_at = env.check_deadline(idle);
    }
}

enum Ended {
    Answered(Outcome),
    TimedOut(Duration),
    Exited(ExitInfo),
}

/// `YYYY/MM/DD/[$LATEST]<env id>` (`[3]` for version 3), as Lambda names
/// log streams.
fn log_stream_name(version: &str, env_id: &str) -> String {
    format!(
        "{}/[{version}]{env_id}",
        chrono::Utc::now().format("%Y/%m/%d")
    )
}

/// The environment variables Lambda sets, then the user's.
/// Whether a runtime reads `key` while it starts, before its client runs
/// (the loader, the C library's locale and time zone, the interpreter's
/// own settings): such a variable must have its value from the start.
fn read_at_start_up(key: &str) -> bool {
    const PREFIXES: [&str; 12] = [
        "LD_", "LC_", "PYTHON", "NODE_", "UV_", "RUBY", "GEM_", "BUNDLE", "MALLOC_", "GLIBC_",
        "JAVA", "_JAVA",
    ];
    const NAMES: [&str; 8] = [
        "TZ",
        "LANG",
        "LANGUAGE",
        "PATH",
        "HOME",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "IGNIS_OPT_DIR",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || NAMES.contains(&key)
}

/// How a managed runtime may be started before its function is known
/// (see `ignis_sandbox::namespace::prewarm`): of the complete `env`, the
/// last value of every variable read at start-up, and what `holding` adds.
/// `None` when the function sets a variable of the held start's own (its
/// runtime then starts with the whole environment, as always).
fn prestart(holding: ignis_runtimes::Holding, env: &[(String, String)]) -> Option<Prestart> {
    if env
        .iter()
        .any(|(k, _)| holding.env.iter().any(|(own, _)| own == k))
    {
        return None;
    }
    let last: std::collections::BTreeMap<&str, &str> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let vars = last
        .into_iter()
        .filter(|(k, _)| read_at_start_up(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(holding.env)
        .collect();
    Some(Prestart {
        env: vars,
        park_stderr: holding.park_stderr,
    })
}

fn lambda_env(
    spec: &FunctionSpec,
    guest: &GuestPaths,
    region: &str,
    runtime_api: &str,
    stream: &str,
) -> Vec<(String, String)> {
    let r = &spec.record;
    let task_root = guest.task_root.display().to_string();
    let opt = guest.opt.display().to_string();
    let log_group = r
        .logging
        .log_group
        .clone()
        .unwrap_or_else(|| format!("/aws/lambda/{}", r.name));
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("_HANDLER", r.handler.clone().unwrap_or_default()),
        ("LAMBDA_TASK_ROOT", task_root.clone()),
        // `/var/runtime` where the sandbox shows the runtime there, as
        // Lambda; the process backend has no such place.
        (
            "LAMBDA_RUNTIME_DIR",
            guest
                .runtime
                .as_ref()
                .map_or_else(|| task_root.clone(), |p| p.display().to_string()),
        ),
        ("AWS_LAMBDA_FUNCTION_NAME", r.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", r.version.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", r.memory_size.to_string()),
        ("AWS_REGION", region.to_string()),
        ("AWS_DEFAULT_REGION", region.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", log_group),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("TZ", ":UTC".to_string()),
        ("LANG", "en_US.UTF-8".to_string()),
        (
            "PATH",
            format!("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:{opt}/bin"),
        ),
        (
            "LD_LIBRARY_PATH",
            format!("{task_root}:{task_root}/lib:{opt}/lib"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if r.logging.log_format.as_deref() == Some("JSON") {
        env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
        let level = r
            .logging
            .application_log_level
            .clone()
            .unwrap_or_else(|| "INFO".into());
        env.push(("AWS_LAMBDA_LOG_LEVEL".into(), level));
    } else {
        env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "Text".into()));
    }
    if let Some(rt) = &r.runtime {
        if !rt.starts_with("provided") {
            env.push(("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{rt}")));
        }
    }
    env.extend(r.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn var(env: &[(String, String)], key: &str) -> String {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    #[test]
    fn search_paths_follow_the_opt_dir() {
        let mut spec = FunctionSpec {
            record: ignis_test_support::function("f").build(),
            code_dir: PathBuf::from("/data/code/abc"),
            opt_dir: None,
        };
        let sandbox = ignis_sandbox::process::ProcessSandbox;
        let guest = |s: &FunctionSpec| {
            sandbox.guest_paths(&s.code_dir, Path::new("/t"), s.opt_dir.as_deref())
        };
        let env = lambda_env(&spec, &guest(&spec), "us-east-1", "127.0.0.1:1", "s");
        assert!(var(&env, "PATH").ends_with(":/opt/bin"));
        assert!(var(&env, "LD_LIBRARY_PATH").ends_with(":/opt/lib"));
        spec.opt_dir = Some(PathBuf::from("/data/opt/123"));
        let env = lambda_env(&spec, &guest(&spec), "us-east-1", "127.0.0.1:1", "s");
        assert!(var(&env, "PATH").ends_with(":/data/opt/123/bin"));
        assert_eq!(
            var(&env, "LD_LIBRARY_PATH"),
            "/data/code/abc:/data/code/abc/lib:/data/opt/123/lib"
        );
        let seen = GuestPaths {
            task_root: "/var/task".into(),
            tmp: "/tmp".into(),
            opt: "/opt".into(),
            runtime: Some("/var/runtime".into()),
        };
        let env = lambda_env(&spec, &seen, "us-east-1", "127.0.0.1:1", "s");
        assert_eq!(var(&env, "LAMBDA_TASK_ROOT"), "/var/task");
        assert_eq!(
            var(&env, "LD_LIBRARY_PATH"),
            "/var/task:/var/task/lib:/opt/lib"
        );
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_held_start_has_the_start_up_variables_and_its_own_unless_the_function_sets_them() {
        let holding = ignis_runtimes::Holding {
            env: pairs(&[("JDK_JAVA_OPTIONS", "-Dignis.held=1")]),
            park_stderr: true,
        };
        let env = pairs(&[
            ("GREETING", "hi"),
            ("JAVA_TOOL_OPTIONS", "-Xss1m"),
            ("TZ", ":UTC"),
            ("TZ", "Europe/Paris"),
        ]);
        let held = prestart(holding.clone(), &env).unwrap();
        assert!(held.park_stderr);
        assert_eq!(
            held.env,
            pairs(&[
                ("JAVA_TOOL_OPTIONS", "-Xss1m"),
                ("TZ", "Europe/Paris"),
                ("JDK_JAVA_OPTIONS", "-Dignis.held=1"),
            ])
        );
        let mut own = env.clone();
        own.extend(pairs(&[("JDK_JAVA_OPTIONS", "-Xmx64m")]));
        assert_eq!(prestart(holding, &own), None);
    }
}

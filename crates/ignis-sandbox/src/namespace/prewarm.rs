//! Environments started before their function is known, specialized on a
//! cold start (see `docs/performance.md`, "Prestarted runtimes").
//!
//! A managed runtime's start-up — the interpreter, its standard modules,
//! Ignis's runtime client — does not depend on the function. A *held*
//! launch runs all of it ahead of need, in an environment that has its
//! namespaces, cgroups, `/tmp`, network and runtime client but not yet the
//! function's code, layers or variables: the runtime blocks reading its
//! stdin, and the init waits on a control socket. A cold start then only
//! *specializes* one ([`NamespaceSandbox::specialize`]): the server writes
//! the function's memory limits to the cgroups and sends the code and
//! layers as detached read-only trees with the runtime's environment; the
//! init attaches the trees at `/var/task` and `/opt` and writes the
//! environment to the runtime's stdin; the runtime client replaces its
//! environment with it and imports the handler. Nothing is forked from a
//! process that ran anything of another function: each held runtime is a
//! fresh `execve`, with its own PID namespace, hash seed and random state.
//!
//! [`Prewarming`] wraps the sandbox with a pool of held environments per
//! *kind* (the same program, arguments, runtime client, `/tmp` size and
//! start-up environment, [`LaunchSpec::prestart`]), sized from recent
//! demand: as many as the kind's cold starts of the last minute, at most
//! `per_kind`, none once it has had none for [`IDLE`].

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{cgroup, mounts, template, zygote, NamespaceSandbox, Running};
use crate::{GuestPaths, LaunchSpec, Launched, Sandbox, SandboxError};

/// The variable that tells a managed runtime client it was started held:
/// it reads the rest of its environment (`KEY=value`, NUL-terminated) from
/// the descriptor named, to its end, before anything else.
pub const SPECIALIZE_VAR: &str = "_IGNIS_SPECIALIZE_FD";
/// A kind's demand counts the cold starts of this last window.
pub const DEMAND_WINDOW: Duration = Duration::from_secs(60);
/// A kind without a cold start for this long keeps no held environment.
pub const IDLE: Duration = Duration::from_secs(600);
/// Held environments being started at once.
const STARTING: usize = 2;
/// The refill starts nothing until this long after the last cold start
/// launched: a specialized environment's runtime is still starting then
/// and its first invocation running, and on a small machine a held
/// environment started beside them takes their CPU.
const SETTLE: Duration = Duration::from_millis(20);
/// How long the server waits for a held init to attach the trees.
const SPECIALIZE_TIMEOUT: Duration = Duration::from_secs(10);

/// A `SOCK_SEQPACKET` pair, both ends close-on-exec.
#[allow(unsafe_code)]
pub(super) fn socket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two new descriptors into `fds`, which we
    // then own.
    unsafe {
        if libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// A held environment: started, its runtime waiting for its function.
/// Dropped unspecialized, it is killed.
pub struct Held {
    running: Option<Running>,
    /// Prepared only: no runtime yet, it is started when specialized.
    prepared: bool,
    /// The memory size its cgroups' limits were written for: a
    /// specialization for the same size leaves them as they are.
    memory_mb: u32,
}

impl Held {
    /// Whether its runtime is still alive.
    pub fn alive(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.exited.borrow().is_none())
    }

    /// Its init's pid (in the server's PID namespace).
    #[cfg(test)]
    pub(super) fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.pid)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(fd) = self.running.as_ref().and_then(|r| r.pidfd.as_ref()) {
            super::spawn::kill(fd);
        }
    }
}

impl NamespaceSandbox {
    /// Starts an environment for `spec` ahead of its function: with
    /// `spec.prestart`, its runtime held — started without the
    /// function's code, layers and variables, with that environment (plus
    /// [`SPECIALIZE_VAR`]); without, only prepared — its namespaces,
    /// cgroups, `/tmp` and network, the init waiting for the program to
    /// start.
    pub async fn prestart(&self, spec: &LaunchSpec) -> Result<Held, SandboxError> {
        let held = match &spec.prestart {
            Some(prestart) => LaunchSpec {
                env: prestart
                    .env
                    .iter()
                    .cloned()
                    .chain([(SPECIALIZE_VAR.to_string(), "0".to_string())])
                    .collect(),
                // Its function's size from the start: a runtime sizes its
                // heap from its cgroup's limit as it starts (Node.js,
                // the JVM).
                opt_dir: None,
                ..spec.clone()
            },
            None => prepared_spec(spec),
        };
        let running = self.start_env(&held, true).await?;
        Ok(Held {
            running: Some(running),
            prepared: spec.prestart.is_none(),
            memory_mb: held.memory_mb,
        })
    }

    /// Gives a held environment its function: `spec`'s memory limits,
    /// code, layers and environment. Fails (and ends it) when it died
    /// while held or its init refused; the caller launches anew then.
    pub async fn specialize(
        &self,
        mut held: Held,
        spec: &LaunchSpec,
    ) -> Result<Launched, SandboxError> {
        let mut running = held.running.take().expect("a held environment is running");
        let sent = self.send_function(&mut running, spec, &held).await;
        match sent {
            Ok(()) => self.launched(running, spec.memory_mb),
            Err(e) => {
                held.running = Some(running); // killed on drop
                Err(e)
            }
        }
    }

    /// The server's half of a specialization (see [`super::init`]'s `hold`):
    /// writes the limits, sends the trees and the environment (system calls
    /// that do not wait), then awaits the init's answer without holding a
    /// worker thread.
    async fn send_function(
        &self,
        running: &mut Running,
        spec: &LaunchSpec,
        held: &Held,
    ) -> Result<(), SandboxError> {
        let prepared = held.prepared;
        let failed = |e: std::io::Error| SandboxError::Spawn {
            program: spec.program.display().to_string(),
            source: e,
        };
        let sock = running
            .hold
            .take()
            .ok_or_else(|| failed(std::io::Error::other("not a held environment")))?;
        let began = Instant::now();
        // Written when it started for its kind's latest size (a held
        // runtime's kind has one size): on the cold start's path only for
        // another size.
        if held.memory_mb != spec.memory_mb {
            cgroup::limit(self.fs.as_ref(), &self.layout, &running.cg, spec.memory_mb)
                .map_err(SandboxError::Cgroup)?;
        }
        let limited = began.elapsed();
        let mut trees = vec![(spec.code_dir.as_path(), mounts::TASK_ROOT)];
        if let Some(opt) = &spec.opt_dir {
            trees.push((opt.as_path(), mounts::OPT));
        }
        // A held runtime has its client mounted already.
        if let Some(runtime) = spec.runtime_dir.as_ref().filter(|_| prepared) {
            trees.push((runtime.as_path(), mounts::RUNTIME_DIR));
        }
        let fds = trees
            .iter()
            .map(|(host, _)| {
                template::read_only_tree(host).map_err(|source| SandboxError::Mount {
                    path: host.to_path_buf(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let exec = prepared.then(|| self.exec(spec));
        let msg = specialization(
            trees.iter().map(|(_, at)| *at),
            exec.as_ref().map(|e| e.argv()),
            &super::envp(&spec.env),
        );
        if msg.len() > super::init::HOLD_MESSAGE {
            return Err(failed(std::io::Error::other(format!(
                "the environment is {} bytes, more than the {} a held environment takes",
                msg.len(),
                super::init::HOLD_MESSAGE
            ))));
        }
        let raw: Vec<_> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        let sent_at = Instant::now();
        let prepared_in = sent_at - began - limited;
        zygote::send(sock.as_raw_fd(), &msg, &raw).map_err(failed)?;
        drop(fds);
        init_answer(sock, prepared).await.map_err(failed)?;
        // Where a specialization's time goes (`IGNIS_LOG=
        // ignis_sandbox::namespace::prewarm=debug`).
        tracing::debug!(
            env_id = %spec.env_id,
            limits_us = limited.as_micros() as u64,
            trees_us = prepared_in.as_micros() as u64,
            init_us = sent_at.elapsed().as_micros() as u64,
            "specialization timed"
        );
        Ok(())
    }
}

/// A specialization packet: the trees' count, their paths (NUL-terminated,
/// each after its length), for a prepared environment the arguments'
/// count and the arguments (argv[0] the program), and the environment,
/// `KEY=value`; each string NUL-terminated.
fn specialization<'a>(
    paths: impl ExactSizeIterator<Item = &'a str>,
    argv: Option<&[std::ffi::CString]>,
    envp: &[std::ffi::CString],
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(4096);
    msg.extend((paths.len() as u32).to_ne_bytes());
    for path in paths {
        msg.extend((path.len() as u32 + 1).to_ne_bytes());
        msg.extend(path.as_bytes());
        msg.push(0);
    }
    if let Some(argv) = argv {
        msg.extend((argv.len() as u32).to_ne_bytes());
        for arg in argv {
            msg.extend(arg.as_bytes_with_nul());
        }
    }
    for var in envp {
        msg.extend(var.as_bytes_with_nul());
    }
    msg
}

/// Awaits a specialized init's answer on its control socket: a held init
/// answers 0 once it has written the environment; a prepared sandbox's
/// runtime closes the socket as it execs (end of file) or answers why it
/// could not. At most [`SPECIALIZE_TIMEOUT`].
#[allow(unsafe_code)]
async fn init_answer(sock: OwnedFd, prepared: bool) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    set_nonblocking(&sock)?;
    // SAFETY: the `AsyncFd` owns the `OwnedFd`, which keeps its descriptor
    // open, the same one, until both are dropped.
    let sock = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(sock, tokio::io::Interest::READABLE)
    }?;
    let answer = async {
        loop {
            let mut ready = sock.readable().await?;
            let mut buf = [0u8; 4];
            if let Ok(got) = ready.try_io(|s| zygote::recv(s.as_raw_fd(), &mut buf)) {
                return got.map(|(n, _)| (n, buf));
            }
        }
    };
    let (n, buf) = tokio::time::timeout(SPECIALIZE_TIMEOUT, answer)
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::TimedOut,
                "the held environment did not answer its specialization",
            )
        })??;
    match (n, i32::from_ne_bytes(buf)) {
        (4, 0) => Ok(()),
        (4, errno) => Err(Error::from_raw_os_error(errno)),
        (0, _) if prepared => Ok(()),
        _ => Err(Error::other(
            "the held environment ended before it was specialized",
        )),
    }
}

#[allow(unsafe_code)]
fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The namespace sandbox with a pool of held environments per kind.
pub struct Prewarming {
    sandbox: Arc<NamespaceSandbox>,
    pool: Arc<Pool>,
}

struct Pool {
    kinds: Mutex<HashMap<String, Kind>>,
    wake: Notify,
    per_kind: usize,
    stopped: AtomicBool,
    next_id: AtomicU64,
    /// Specializations that worked and that fell back to a fresh launch.
    hits: AtomicU64,
    misses: AtomicU64,
    /// Cold starts launching (afresh or specializing) right now: the
    /// refill waits for them (in a burst a held runtime started meanwhile
    /// only takes CPU from the launches it could no longer serve), and
    /// until [`SETTLE`] after the last.
    launching: std::sync::atomic::AtomicUsize,
    /// When the refill may start again.
    settled_at: Mutex<Instant>,
}

/// One kind of held environment.
struct Kind {
    /// What a held one of this kind is started from.
    spec: LaunchSpec,
    ready: VecDeque<Held>,
    /// Its cold starts of the last [`DEMAND_WINDOW`].
    demand: VecDeque<Instant>,
    last_demand: Instant,
    /// Held ones being started now.
    starting: usize,
}

impl Kind {
    /// How many held ones it should have `now`.
    fn target(&self, now: Instant, per_kind: usize) -> usize {
        if now.duration_since(self.last_demand) > IDLE {
            return 0;
        }
        let recent = self
            .demand
            .iter()
            .filter(|at| now.duration_since(**at) <= DEMAND_WINDOW)
            .count();
        recent.clamp(1, per_kind.max(1)).min(per_kind)
    }

    fn note_demand(&mut self, now: Instant) {
        self.last_demand = now;
        self.demand.push_back(now);
        while self
            .demand
            .front()
            .is_some_and(|at| now.duration_since(*at) > DEMAND_WINDOW)
        {
            self.demand.pop_front();
        }
    }
}

/// The kind of a launch that may be held: what its runtime's start-up
/// depends on (its memory size too: Node.js sizes its heap from its
/// cgroup's limit as it starts); for one that may only be prepared (no start-up
/// environment), its `/tmp` size — if its program is inside the base
/// root (`outside_base`: the template would need the program's prefix).
fn kind_of(spec: &LaunchSpec, outside_base: bool) -> Option<String> {
    match &spec.prestart {
        Some(prestart) => Some(format!(
            "runtime\0{:?}\0{:?}\0{:?}\0{}\0{}\0{:?}\0{}",
            spec.program,
            spec.args,
            spec.runtime_dir,
            spec.memory_mb,
            spec.tmp_mb,
            prestart.env,
            prestart.park_stderr
        )),
        None if !outside_base => Some(format!("prepared\0{}", spec.tmp_mb)),
        None => None,
    }
}

/// What a prepared environment for `spec` is started from: nothing of its
/// function, no program (the init waits for it); `spec`'s memory size, its
/// kind's latest (written again when specialized for another).
fn prepared_spec(spec: &LaunchSpec) -> LaunchSpec {
    LaunchSpec {
        program: std::path::PathBuf::new(),
        args: Vec::new(),
        runtime_dir: None,
        opt_dir: None,
        env: Vec::new(),
        prestart: None,
        ..spec.clone()
    }
}

impl Prewarming {
    /// `sandbox` keeping up to `per_kind` held environments of each kind
    /// recently launched; starts the refill task (call within a runtime).
    pub fn start(sandbox: Arc<NamespaceSandbox>, per_kind: usize) -> Arc<Self> {
        let pool = Arc::new(Pool {
            kinds: Mutex::default(),
            wake: Notify::new(),
            per_kind,
            stopped: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            launching: std::sync::atomic::AtomicUsize::new(0),
            settled_at: Mutex::new(Instant::now()),
        });
        let this = Arc::new(Self { sandbox, pool });
        let (sandbox, pool) = (this.sandbox.clone(), this.pool.clone());
        tokio::spawn(refill(sandbox, pool));
        this
    }

    /// Ends every held environment and stops refilling.
    pub fn shutdown(&self) {
        self.pool.stopped.store(true, Ordering::Release);
        let kinds = std::mem::take(&mut *self.pool.kinds.lock().unwrap_or_else(|e| e.into_inner()));
        drop(kinds);
        self.pool.wake.notify_one();
    }

    /// Cold starts that specialized a held environment, and those that
    /// launched anew (no held one ready, or it failed).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.pool.hits.load(Ordering::Relaxed),
            self.pool.misses.load(Ordering::Relaxed),
        )
    }

    /// Held environments ready now.
    pub fn ready(&self) -> usize {
        let kinds = self.pool.kinds.lock().unwrap_or_else(|e| e.into_inner());
        kinds.values().map(|k| k.ready.len()).sum()
    }

    /// A live held environment of `kind`, noting the demand.
    fn take(&self, kind: String, spec: &LaunchSpec) -> Option<Held> {
        let now = Instant::now();
        let mut kinds = self.pool.kinds.lock().unwrap_or_else(|e| e.into_inner());
        if self.pool.stopped.load(Ordering::Acquire) {
            return None;
        }
        let k = kinds.entry(kind).or_insert_with(|| Kind {
            // Only what start-up needs: not the function's variables.
            spec: LaunchSpec {
                env: Vec::new(),
                ..spec.clone()
            },
            ready: VecDeque::new(),
            demand: VecDeque::new(),
            last_demand: now,
            starting: 0,
        });
        k.note_demand(now);
        // A prepared kind's next ones are limited for its latest size (a
        // held runtime's kind has one size).
        k.spec.memory_mb = spec.memory_mb;
        // The refill hears of the demand once the cold start launched.
        std::iter::from_fn(|| k.ready.pop_front()).find(Held::alive)
    }

    /// A cold start launched (or failed to): the refill may go on
    /// [`SETTLE`] after the last.
    fn launched_one(&self) {
        *self
            .pool
            .settled_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Instant::now() + SETTLE;
        if self.pool.launching.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.pool.wake.notify_one();
        }
    }
}

#[async_trait::async_trait]
impl Sandbox for Prewarming {
    fn name(&self) -> &'static str {
        self.sandbox.name()
    }

    fn guest_paths(
        &self,
        code: &std::path::Path,
        tmp: &std::path::Path,
        opt: Option<&std::path::Path>,
    ) -> GuestPaths {
        self.sandbox.guest_paths(code, tmp, opt)
    }

    fn runtime_api_addr(&self) -> Option<std::net::SocketAddr> {
        self.sandbox.runtime_api_addr()
    }

    async fn launch(&self, spec: LaunchSpec) -> Result<Launched, SandboxError> {
        let outside_base = self.sandbox.host_prefix(&spec.program).is_some();
        let Some(kind) = kind_of(&spec, outside_base) else {
            return self.sandbox.launch(spec).await;
        };
        self.pool.launching.fetch_add(1, Ordering::AcqRel);
        if let Some(held) = self.take(kind, &spec) {
            match self.sandbox.specialize(held, &spec).await {
                Ok(launched) => {
                    self.pool.hits.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(env_id = %spec.env_id, "specialized a held environment");
                    self.launched_one();
                    return Ok(launched);
                }
                Err(e) => {
                    tracing::warn!(error = %e, env_id = %spec.env_id, "failed to specialize a held environment; launching anew");
                }
            }
        }
        self.pool.misses.fetch_add(1, Ordering::Relaxed);
        let launched = self.sandbox.launch(spec).await;
        self.launched_one();
        launched
    }
}

/// Keeps each kind at its target: starts held environments (up to
/// [`STARTING`] at once, at the environments' CPU class, behind the
/// invocations), ends the surplus and the dead; none while a cold start
/// is launching nor until [`SETTLE`] after the last. Wakes once a cold
/// start launched, and every second.
async fn refill(sandbox: Arc<NamespaceSandbox>, pool: Arc<Pool>) {
    let starting = Arc::new(tokio::sync::Semaphore::new(STARTING));
    loop {
        if pool.stopped.load(Ordering::Acquire) {
            return;
        }
        let Ok(permit) = starting.clone().acquire_owned().await else {
            return;
        };
        if pool.launching.load(Ordering::Acquire) > 0 {
            drop(permit);
            let _ = tokio::time::timeout(Duration::from_millis(50), pool.wake.notified()).await;
            continue;
        }
        let settled_at = *pool.settled_at.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = settled_at.checked_duration_since(Instant::now()) {
            drop(permit);
            tokio::time::sleep(wait).await;
            continue;
        }
        let Some((kind, spec)) = next_start(&pool) else {
            drop(permit);
            let _ = tokio::time::timeout(Duration::from_secs(1), pool.wake.notified()).await;
            continue;
        };
        let n = pool.next_id.fetch_add(1, Ordering::Relaxed);
        let spec = LaunchSpec {
            env_id: format!("held-{}-{n}", std::process::id()),
            ..spec
        };
        let (sandbox, pool) = (sandbox.clone(), pool.clone());
        tokio::spawn(async move {
            let started = sandbox.prestart(&spec).await;
            let failed = {
                let mut kinds = pool.kinds.lock().unwrap_or_else(|e| e.into_inner());
                // Gone (shut down meanwhile): the held one is dropped, and
                // so killed.
                match (kinds.get_mut(&kind), started) {
                    (Some(k), Ok(held)) => {
                        k.starting -= 1;
                        k.ready.push_back(held);
                        tracing::debug!(env_id = %spec.env_id, "held environment ready");
                        None
                    }
                    (Some(k), Err(e)) => {
                        k.starting -= 1;
                        Some(e)
                    }
                    (None, _) => None,
                }
            };
            if let Some(e) = failed {
                tracing::warn!(error = %e, "failed to start a held environment");
                // Holds its permit a while: a failing kind does not spin.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            drop(permit);
            pool.wake.notify_one();
        });
    }
}

/// Trims every kind to its target and picks one to start a held
/// environment for (its spec), if any is short.
fn next_start(pool: &Pool) -> Option<(String, LaunchSpec)> {
    let now = Instant::now();
    let mut kinds = pool.kinds.lock().unwrap_or_else(|e| e.into_inner());
    let mut short = None;
    kinds.retain(|name, k| {
        let target = k.target(now, pool.per_kind);
        k.ready.retain(Held::alive);
        while k.ready.len() > target {
            // The oldest go first.
            k.ready.pop_front();
        }
        if short.is_none() && k.ready.len() + k.starting < target {
            short = Some(name.clone());
        }
        target > 0 || k.starting > 0
    });
    let name = short?;
    let k = kinds.get_mut(&name)?;
    k.starting += 1;
    Some((name, k.spec.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(now: Instant) -> Kind {
        Kind {
            spec: LaunchSpec {
                env_id: String::new(),
                program: "/usr/bin/python3".into(),
                args: vec![],
                code_dir: "/c".into(),
                tmp_dir: "/t".into(),
                opt_dir: None,
                runtime_dir: None,
                env: vec![],
                memory_mb: 128,
                tmp_mb: 512,
                prestart: Some(crate::Prestart {
                    env: vec![],
                    park_stderr: false,
                }),
            },
            ready: VecDeque::new(),
            demand: VecDeque::new(),
            last_demand: now,
            starting: 0,
        }
    }

    #[test]
    fn the_target_follows_the_last_minutes_cold_starts() {
        let t0 = Instant::now();
        let mut k = kind(t0);
        k.note_demand(t0);
        assert_eq!(k.target(t0, 4), 1);
        for i in 1..10 {
            k.note_demand(t0 + Duration::from_secs(i));
        }
        assert_eq!(k.target(t0 + Duration::from_secs(10), 4), 4, "capped");
        // A minute later the burst no longer counts, but the kind is
        // still wanted: one.
        assert_eq!(k.target(t0 + Duration::from_secs(75), 4), 1);
        // Idle for longer than IDLE: none.
        assert_eq!(k.target(t0 + IDLE + Duration::from_secs(20), 4), 0);
        // Turned off.
        assert_eq!(k.target(t0, 0), 0);
    }

    #[test]
    fn a_specialization_packet_is_what_the_init_parses() {
        let envp = [
            std::ffi::CString::new("A=1").unwrap(),
            std::ffi::CString::new("B=two").unwrap(),
        ];
        let msg = specialization(["/var/task", "/opt"].into_iter(), None, &envp);
        let (trees, env) = super::super::init::split_hold(&msg, 2).expect("well formed");
        assert_eq!(&msg[trees[0].clone()], b"/var/task\0");
        assert_eq!(&msg[trees[1].clone()], b"/opt\0");
        assert_eq!(&msg[env], b"A=1\0B=two\0");
        // The descriptors' count must agree with the packet's.
        assert!(super::super::init::split_hold(&msg, 1).is_none());
        assert!(super::super::init::split_hold(&msg[..10], 2).is_none());

        // A prepared environment's: the program and its arguments first.
        let argv = [
            std::ffi::CString::new("/var/task/bootstrap").unwrap(),
            std::ffi::CString::new("--x").unwrap(),
        ];
        let msg = specialization(["/var/task"].into_iter(), Some(&argv), &envp);
        let (_, rest) = super::super::init::split_hold(&msg, 1).expect("well formed");
        let mut args = [std::ptr::null(); 4];
        let mut vars = [std::ptr::null(); 4];
        assert!(super::super::init::split_exec(
            &msg,
            rest.clone(),
            &mut args,
            &mut vars
        ));
        let text = |p: *const libc::c_char| {
            // SAFETY: pointers into `msg`, NUL-terminated by construction.
            #[allow(unsafe_code)]
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            [text(args[0]), text(args[1])],
            ["/var/task/bootstrap", "--x"]
        );
        assert!(args[2].is_null());
        assert_eq!([text(vars[0]), text(vars[1])], ["A=1", "B=two"]);
        assert!(vars[2].is_null());
        // Too many variables for the room given: refused.
        let mut few = [std::ptr::null(); 2];
        assert!(!super::super::init::split_exec(
            &msg, rest, &mut args, &mut few
        ));
    }

    #[test]
    fn kinds_differ_by_what_start_up_depends_on() {
        let k = kind(Instant::now()).spec;
        let other_fn = LaunchSpec {
            code_dir: "/other".into(),
            env: vec![("A".into(), "1".into())],
            ..k.clone()
        };
        assert_eq!(kind_of(&k, false), kind_of(&other_fn, false));
        let other_size = LaunchSpec {
            memory_mb: 1024,
            ..k.clone()
        };
        assert_ne!(kind_of(&k, false), kind_of(&other_size, false));
        let other_env = LaunchSpec {
            prestart: Some(crate::Prestart {
                env: vec![("PYTHONPATH".into(), "/x".into())],
                park_stderr: false,
            }),
            ..k.clone()
        };
        assert_ne!(kind_of(&k, false), kind_of(&other_env, false));
        let other_tmp = LaunchSpec {
            tmp_mb: 1024,
            ..k.clone()
        };
        assert_ne!(kind_of(&k, false), kind_of(&other_tmp, false));
        let not_held = LaunchSpec {
            prestart: None,
            ..k
        };
        // Without a start-up environment: prepared only, one kind per
        // /tmp size, unless the program lies outside the base root.
        assert_eq!(
            kind_of(&not_held, false),
            Some(format!("prepared\0{}", 512))
        );
        assert_eq!(kind_of(&not_held, true), None);
    }
}

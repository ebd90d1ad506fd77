//! The `namespace` backend: each environment gets its own mount, PID, IPC
//! and UTS namespaces, a read-only root of the host's base directories (or
//! a custom root's, [`base_root`]) with
//! the code at `/var/task`, layers at `/opt`, the runtime client at
//! `/var/runtime`, a sized file system of its own on disk at `/tmp`
//! ([`disk`]; a sized tmpfs without one), a minimal `/dev` and a fresh
//! `/proc`; it runs as an unprivileged user without capabilities under
//! `no_new_privs` and a seccomp filter ([`seccomp`]), in cgroups below
//! Ignis's own that cap memory (no swap), CPU (1,769 MB = one vCPU) and
//! pids.
//!
//! Networking is one of [`net::NetMode`]: `host` (shared; the default of
//! [`NamespaceSandbox::new`]), `none` or `bridge` (own network namespace,
//! the Runtime API at `127.0.0.1:9001` inside). See `docs/sandbox.md`.

pub mod base_root;
pub mod cgpool;
pub mod cgroup;
pub mod disk;
pub mod dynmods;
mod init;
pub mod mounts;
pub mod net;
pub mod prewarm;
pub mod seccomp;
mod spawn;
mod stock;
pub mod template;
pub mod zygote;

use std::collections::HashMap;
use std::ffi::CString;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::os::fd::{AsRawFd, OwnedFd};

use tokio::sync::watch;

use crate::{EnvProcess, ExitInfo, GuestPaths, LaunchSpec, Launched, Sandbox, SandboxError};
use base_root::BaseRoot;
use cgroup::{CgroupFs, EnvCgroups, Layout, RealFs};
use template::Template;
use zygote::Zygote;

/// The unprivileged user functions run as (Lambda's is `sbx_user1051`).
pub const DEFAULT_UID: u32 = 993;
/// Its group.
pub const DEFAULT_GID: u32 = 990;

/// Whether this process runs as root (the namespace backend needs it).
#[allow(unsafe_code)]
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Why the namespace backend cannot run here.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// Namespaces, mounts and cgroups need root.
    #[error("the namespace sandbox needs root (running as uid {0})")]
    NotRoot(u32),
    /// No cgroup hierarchy holds the memory, cpu and pids controllers.
    #[error("failed to find cgroups with the memory, cpu and pids controllers")]
    NoCgroups,
    /// The trial environment did not run.
    #[error("failed the self-check launch: {0}")]
    SelfCheck(String),
}

/// Runs environments in Linux namespaces and cgroups.
pub struct NamespaceSandbox {
    layout: Layout,
    base: BaseRoot,
    uid: u32,
    gid: u32,
    fs: Arc<dyn CgroupFs>,
    seccomp: Option<Arc<seccomp::Filter>>,
    network: Arc<net::Network>,
    /// Root templates by the host interpreter prefixes they hold (most
    /// runtimes need none: one template).
    templates: Mutex<HashMap<Vec<PathBuf>, Arc<Template>>>,
    /// Starts environments when the server started one; else the server
    /// forks a keeper per environment itself.
    zygote: Option<Arc<Zygote>>,
    /// Blank cgroups made ahead of need, when started.
    cgroups: Option<Arc<cgpool::CgroupPool>>,
    /// File systems for `/tmp` on disk, when started; else `/tmp` is a
    /// tmpfs.
    disks: Option<Arc<disk::TmpDisks>>,
    /// A disk could not be had for the last launch (warned once until
    /// one can again).
    disk_failing: std::sync::atomic::AtomicBool,
    /// Signals this process ignores (see `init::ignored_signals`).
    ignored_signals: u64,
}

impl std::fmt::Debug for NamespaceSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespaceSandbox")
            .field("layout", &self.layout)
            .field("uid", &self.uid)
            .field("network", &self.network.mode())
            .field("base", &self.base.dir())
            .finish()
    }
}

impl NamespaceSandbox {
    /// Detects the cgroup layout and the host's base root; functions run as
    /// `uid`/`gid`.
    #[allow(unsafe_code)]
    pub fn new(uid: u32, gid: u32) -> Result<Self, NamespaceError> {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if euid != 0 {
            return Err(NamespaceError::NotRoot(euid));
        }
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let layout =
            Layout::detect(&own, Path::new("/sys/fs/cgroup")).ok_or(NamespaceError::NoCgroups)?;
        Ok(Self {
            layout,
            base: BaseRoot::host(),
            uid,
            gid,
            fs: Arc::new(RealFs),
            seccomp: native_seccomp(),
            network: Arc::new(net::Network::host()),
            templates: Mutex::default(),
            zygote: None,
            cgroups: None,
            disks: None,
            disk_failing: std::sync::atomic::AtomicBool::new(false),
            ignored_signals: init::ignored_signals(),
        })
    }

    /// Networks environments with `network` instead of the host's.
    pub fn with_network(mut self, network: Arc<net::Network>) -> Self {
        self.network = network;
        self
    }

    /// Keepers are forked by `zygote` instead of this process.
    pub fn with_zygote(mut self, zygote: Arc<Zygote>) -> Self {
        self.zygote = Some(zygote);
        self
    }

    /// Keeps `target` blank cgroups ready for launches (a background
    /// thread; see [`cgpool`]).
    pub fn with_cgroup_pool(mut self, target: usize) -> std::io::Result<Self> {
        let pool = cgpool::CgroupPool::start(self.fs.clone(), self.layout.clone(), target)?;
        self.cgroups = Some(Arc::new(pool));
        Ok(self)
    }

    /// The cgroup pool, to shut down with the server.
    pub fn cgroup_pool(&self) -> Option<Arc<cgpool::CgroupPool>> {
        self.cgroups.clone()
    }

    /// Environments get a file system of their own on disk as `/tmp`,
    /// from `disks`, instead of a tmpfs.
    pub fn with_tmp_disks(mut self, disks: Arc<disk::TmpDisks>) -> Self {
        self.disks = Some(disks);
        self
    }

    /// The `/tmp` disks, to shut down with the server.
    pub fn tmp_disks(&self) -> Option<Arc<disk::TmpDisks>> {
        self.disks.clone()
    }

    /// A disk for an environment's `/tmp` of `mb` MB; `None` (a tmpfs
    /// then, with a warning) without disks or when none can be made.
    fn tmp_disk(&self, mb: u32) -> Option<disk::Disk> {
        let disks = self.disks.as_ref()?;
        match disks.take(mb) {
            Ok(d) => {
                self.disk_failing.store(false, Ordering::Relaxed);
                Some(d)
            }
            Err(e) => {
                if !self.disk_failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, mb, "failed to make a /tmp disk: environments get a tmpfs /tmp (charged to their memory) until one can be made");
                }
                None
            }
        }
    }

    /// Gives an ended (or never started) environment's disk back.
    fn release_disk(disks: Option<&Arc<disk::TmpDisks>>, d: Option<disk::Disk>) {
        if let (Some(disks), Some(d)) = (disks, d) {
            disks.release(d);
        }
    }

    /// Whether a zygote starts the environments.
    pub fn has_zygote(&self) -> bool {
        self.zygote.is_some()
    }

    /// Environments get `base` as their base root instead of the host's.
    pub fn with_base_root(mut self, base: BaseRoot) -> Self {
        self.base = base;
        self.templates = Mutex::default();
        self
    }

    /// The base root environments get.
    pub fn base_root(&self) -> &BaseRoot {
        &self.base
    }

    /// [`probe_with`](Self::probe_with) the host's base root.
    pub async fn probe(uid: u32, gid: u32) -> Result<Self, NamespaceError> {
        Self::probe_with(uid, gid, BaseRoot::host()).await
    }

    /// [`new`](Self::new) with `base` as the base root, then a trial launch
    /// of `/bin/sh` (inside that root) in a throw-away directory: the
    /// backend is only used if it works here.
    pub async fn probe_with(uid: u32, gid: u32, base: BaseRoot) -> Result<Self, NamespaceError> {
        Self::new(uid, gid)?.with_base_root(base).checked().await
    }

    /// This sandbox after a trial launch of `/bin/sh` (inside its base
    /// root) in a throw-away directory: it is only used if it works here.
    pub async fn checked(self) -> Result<Self, NamespaceError> {
        let sandbox = self;
        let fail = |e: &dyn std::fmt::Display| NamespaceError::SelfCheck(e.to_string());
        let dir = tempfile_dir().map_err(|e| fail(&e))?;
        let spec = LaunchSpec {
            env_id: format!("selfcheck-{}", std::process::id()),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "test -d /var/task && exit 7".into()],
            code_dir: dir.join("code"),
            tmp_dir: dir.join("tmp"),
            opt_dir: None,
            runtime_dir: None,
            env: Vec::new(),
            memory_mb: 128,
            tmp_mb: 1,
            prestart: None,
        };
        let result = async {
            let launched = sandbox.launch(spec).await.map_err(|e| fail(&e))?;
            let mut rx = launched.process.exited();
            let info = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(Option::is_some))
                .await
                .map_err(|e| fail(&e))?
                .map_err(|e| fail(&e))?
                .expect("waited for Some");
            match info {
                ExitInfo::Code(7) => Ok(()),
                other => Err(fail(&format!("trial environment ended with {other}"))),
            }
        }
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        result.map(|()| sandbox)
    }

    /// The cgroup layout in use.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The host installation (the parent of its `bin/`) of a program that
    /// lives outside the base root, bind-mounted read-only at its own path.
    /// A program the custom root holds runs from there, not the host.
    fn host_prefix(&self, program: &Path) -> Option<PathBuf> {
        mounts::interpreter_prefix(program).filter(|_| !self.base.holds(program))
    }

    /// The path to exec: a host interpreter reached through a link outside
    /// what is mounted (a venv's `bin/python3.11` -> pyenv's) runs by its
    /// real path, inside the prefix [`Self::host_prefix`] mounts.
    fn exec_path(&self, program: &Path) -> PathBuf {
        match self.host_prefix(program) {
            Some(_) => std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf()),
            None => program.to_path_buf(),
        }
    }

    /// The root template holding `extra`, built on first use.
    fn template(&self, extra: Vec<PathBuf>) -> std::io::Result<Arc<Template>> {
        let mut templates = self.templates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = templates.get(&extra) {
            return Ok(t.clone());
        }
        let built = Arc::new(Template::build(self.base.entries(), &extra)?);
        templates.insert(extra, built.clone());
        Ok(built)
    }

    fn prepare(
        &self,
        spec: &LaunchSpec,
        cg: &EnvCgroups,
        netns: Option<&net::EnvNet>,
        io: &LaunchIo,
        disk: Option<&mut disk::Disk>,
    ) -> Result<init::Prepared, SandboxError> {
        let extra: Vec<_> = self.host_prefix(&spec.program).into_iter().collect();
        let template = self.template(extra).map_err(SandboxError::Template)?;
        let tmp_mount = disk.and_then(disk::Disk::take_mount);
        // A held launch gets the function's code and layers when it is
        // specialized.
        let held = io.hold.is_some();
        let own = mounts::env_plan(&mounts::EnvLayout {
            code_dir: (!held).then_some(spec.code_dir.as_path()),
            opt_dir: spec.opt_dir.as_deref().filter(|_| !held),
            runtime_dir: spec.runtime_dir.as_deref(),
            tmp: match tmp_mount {
                Some(_) => mounts::TmpKind::Disk,
                None => mounts::TmpKind::Memory(spec.tmp_mb),
            },
        });
        let mut trees: Vec<_> = own
            .trees
            .into_iter()
            .map(|(host, at)| {
                template::read_only_tree(&host)
                    .map(|fd| (fd, at))
                    .map_err(|source| SandboxError::Mount { path: host, source })
            })
            .collect::<Result<_, _>>()?;
        trees.extend(tmp_mount.map(|m| (m, cpath(Path::new(mounts::TMP)))));
        assert!(
            cg.procs.len() <= init::MAX_HIERARCHIES,
            "one procs file per hierarchy"
        );
        Ok(init::Prepared {
            procs: cg.procs.iter().map(|p| cpath(p)).collect(),
            template,
            trees,
            steps: own.steps,
            workdir: cpath(Path::new(mounts::TASK_ROOT)),
            uid: self.uid,
            gid: self.gid,
            seccomp: self.seccomp.clone(),
            netns: netns.map_or(-1, net::EnvNet::netns_fd),
            exec: self.exec(spec),
            // One pipe for both, as on Lambda: lines keep their order.
            stdout: io.output.1.as_raw_fd(),
            stderr: io.output.1.as_raw_fd(),
            report: io.report.1.as_raw_fd(),
            ignored_signals: self.ignored_signals,
            lifeline: -1,
            sched_policy: crate::sched::policy(),
            hold: io.hold.as_ref().map_or(-1, |h| h.1.as_raw_fd()),
            park_stderr: held && spec.prestart.as_ref().is_some_and(|p| p.park_stderr),
        })
    }

    /// The runtime's `execve`: the program (by its path inside; a bare
    /// name is looked up in the function's `PATH`), argv[0] = that path,
    /// the function's environment with `TMPDIR=/tmp`.
    fn exec(&self, spec: &LaunchSpec) -> init::Exec {
        let program = self.exec_path(&resolve(&spec.program, &spec.env));
        let argv = std::iter::once(cpath(&program))
            .chain(spec.args.iter().map(|a| cstr_lossy(a.as_bytes())))
            .collect();
        init::Exec::new(cpath(&program), argv, envp(&spec.env))
    }

    /// Starts the environment (its init through the zygote when there is
    /// one, else a keeper forked here) and waits
    /// until the runtime exec'd or the launch failed.
    fn start(
        &self,
        prepared: init::Prepared,
        report: (OwnedFd, OwnedFd),
    ) -> std::io::Result<spawn::Spawned> {
        let spawned = match &self.zygote {
            Some(z) if !z.gone() => match z.spawn(&prepared) {
                Ok(s) => Ok(s),
                Err(zygote::SpawnError::Unsent(e)) => {
                    tracing::warn!(error = %e, "environments are forked by the server from now on");
                    spawn::fork_direct(Arc::new(prepared))
                }
                Err(zygote::SpawnError::Lost(e)) => {
                    tracing::warn!(error = %e, "environments are forked by the server from now on");
                    Err(e)
                }
                Err(zygote::SpawnError::Failed(e)) => Err(e),
            },
            _ => spawn::fork_direct(Arc::new(prepared)),
        };
        drop(report.1);
        let spawned = spawned?;
        // A failed launch's process is exiting: dropping it reaps it.
        spawn::read_report(report.0).map(|()| spawned)
    }
}

/// The pipes of one launch, (read, write) each: the runtime's output
/// (stdout and stderr) and the launch report; for a held launch, its
/// control socket (the server's end, the init's).
struct LaunchIo {
    output: (OwnedFd, OwnedFd),
    report: (OwnedFd, OwnedFd),
    hold: Option<(OwnedFd, OwnedFd)>,
}

impl LaunchIo {
    fn new(held: bool) -> std::io::Result<Self> {
        Ok(Self {
            output: spawn::pipe()?,
            report: spawn::pipe()?,
            hold: if held {
                Some(prewarm::socket_pair()?)
            } else {
                None
            },
        })
    }
}

/// `KEY=value` strings for `execve`: one per key, the last value given
/// winning (the router appends the user's variables after its defaults;
/// glibc's `getenv` would return the *first* of two), sorted by key as
/// `std::process::Command` passed them, and `TMPDIR=/tmp`.
fn envp(env: &[(String, String)]) -> Vec<CString> {
    let mut vars: std::collections::BTreeMap<&str, &str> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.insert("TMPDIR", mounts::TMP);
    vars.into_iter()
        .map(|(k, v)| cstr_lossy(format!("{k}={v}").as_bytes()))
        .collect()
}

/// `program`, or for a bare name the first executable of that name in the
/// `PATH` of `env` (as `execvp` would find it).
fn resolve(program: &Path, env: &[(String, String)]) -> PathBuf {
    if program.components().count() != 1 || program.is_absolute() {
        return program.to_path_buf();
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| program.to_path_buf())
}

fn cstr_lossy(b: &[u8]) -> CString {
    CString::new(b.iter().copied().filter(|&c| c != 0).collect::<Vec<_>>())
        .expect("NUL bytes removed")
}

fn native_seccomp() -> Option<Arc<seccomp::Filter>> {
    let filter = seccomp::native().map(Arc::new);
    if filter.is_none() {
        tracing::warn!(
            arch = std::env::consts::ARCH,
            "no seccomp filter for this architecture: functions run without one"
        );
    }
    filter
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("paths hold no NUL bytes")
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("ignis-selfcheck-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("code"))?;
    std::fs::create_dir_all(dir.join("tmp"))?;
    Ok(dir)
}

#[async_trait::async_trait]
impl Sandbox for NamespaceSandbox {
    fn name(&self) -> &'static str {
        "namespace"
    }

    fn guest_paths(&self, _code: &Path, _tmp: &Path, _opt: Option<&Path>) -> GuestPaths {
        GuestPaths {
            task_root: mounts::TASK_ROOT.into(),
            tmp: mounts::TMP.into(),
            opt: mounts::OPT.into(),
            runtime: Some(mounts::RUNTIME_DIR.into()),
        }
    }

    fn runtime_api_addr(&self) -> Option<SocketAddr> {
        self.network.runtime_api_addr()
    }

    async fn launch(&self, spec: LaunchSpec) -> Result<Launched, SandboxError> {
        let running = self.start_env(&spec, false).await?;
        self.launched(running, spec.memory_mb)
    }
}

/// A started environment, watched by its supervisor: what becomes a
/// [`Launched`] (at once, or once a held one is specialized).
struct Running {
    pid: u32,
    /// Its init's (or keeper's) pidfd, for killing it.
    pidfd: Option<OwnedFd>,
    exited: watch::Receiver<Option<ExitInfo>>,
    memory: Arc<MemorySeen>,
    cg: EnvCgroups,
    output: OwnedFd,
    runtime_api: Option<std::net::TcpListener>,
    /// A held launch's control socket.
    hold: Option<OwnedFd>,
}

impl NamespaceSandbox {
    /// Starts an environment for `spec` (held: without the function's code
    /// and layers, its runtime waiting for the rest of its environment)
    /// and its supervisor.
    async fn start_env(&self, spec: &LaunchSpec, held: bool) -> Result<Running, SandboxError> {
        // Taking a network namespace (made now if the pool is empty), the
        // cgroup writes and the spawn — which returns only once the runtime
        // has exec'd, after the root is built — block for milliseconds.
        let (mut env_net, cg, output, hold, spawned, disk) =
            blocking(|| -> Result<_, SandboxError> {
                let env_net = self.network.take().map_err(SandboxError::Network)?;
                let io = LaunchIo::new(held).map_err(SandboxError::Pipes)?;
                let cg = match &self.cgroups {
                    Some(pool) => pool.take(&spec.env_id, spec.memory_mb),
                    None => {
                        cgroup::create(self.fs.as_ref(), &self.layout, &spec.env_id, spec.memory_mb)
                    }
                }
                .map_err(SandboxError::Cgroup)?;
                let mut disk = self.tmp_disk(spec.tmp_mb);
                let prepared = match self.prepare(spec, &cg, env_net.as_ref(), &io, disk.as_mut()) {
                    Ok(p) => p,
                    Err(e) => {
                        // Nothing ran in them yet: removing them cannot wait.
                        cgroup::remove(self.fs.as_ref(), &cg);
                        Self::release_disk(self.disks.as_ref(), disk);
                        return Err(e);
                    }
                };
                let spawned = self.start(prepared, io.report);
                // The runtime (and a held init) hold the other ends now.
                drop(io.output.1);
                let hold = io.hold.map(|(ours, _theirs)| ours);
                Ok((env_net, cg, io.output.0, hold, spawned, disk))
            })?;
        let child = match spawned {
            Ok(c) => c,
            Err(source) => {
                cleanup(self.fs.as_ref(), &cg).await;
                Self::release_disk(self.disks.as_ref(), disk);
                return Err(SandboxError::Spawn {
                    program: spec.program.display().to_string(),
                    source,
                });
            }
        };
        let (tx, rx) = watch::channel(None);
        let memory = Arc::new(MemorySeen::default());
        let runtime_api = env_net.as_mut().and_then(net::EnvNet::take_listener);
        let pid = child.pid as u32;
        let watched = child.into_pidfd();
        let pidfd = watched.try_clone().ok();
        let (fs, seen, disks, watched_cg) = (
            self.fs.clone(),
            memory.clone(),
            self.disks.clone(),
            cg.clone(),
        );
        tokio::spawn(async move {
            supervise(watched, tx, fs, watched_cg, seen).await;
            // Deletes the veth once the environment's processes are gone,
            // and unmounts its /tmp (the init's death ended its mount
            // namespace; this holds the last reference).
            drop(env_net);
            Self::release_disk(disks.as_ref(), disk);
        });
        Ok(Running {
            pid,
            pidfd,
            exited: rx,
            memory,
            cg,
            output,
            runtime_api,
            hold,
        })
    }

    /// A running environment as the router takes it, limited for
    /// `memory_mb`.
    fn launched(&self, running: Running, memory_mb: u32) -> Result<Launched, SandboxError> {
        let Running {
            pid,
            pidfd,
            exited,
            memory,
            cg,
            output,
            runtime_api,
            hold: _,
        } = running;
        let cpu_share = cgroup::cpu_share(self.fs.as_ref(), &self.layout, &cg, memory_mb);
        let process = NsProcess {
            pid,
            pidfd,
            exited,
            peak_file: std::fs::File::open(&cg.peak).ok(),
            memory,
            limit_bytes: u64::from(memory_mb) * 1024 * 1024,
            events: cg.events.clone(),
            procs: cg.procs.first().cloned(),
            cpu_share: Mutex::new(Some((self.fs.clone(), cpu_share))),
        };
        let output = match tokio::net::unix::pipe::Receiver::from_owned_fd(output) {
            Ok(p) => p,
            Err(e) => {
                // Dropping it kills the environment; its supervisor cleans up.
                drop(process);
                return Err(SandboxError::Pipes(e));
            }
        };
        Ok(Launched {
            process: Box::new(process),
            output,
            runtime_api,
        })
    }
}

/// Runs `f`, blocking set-up work, so that a multi-thread runtime moves the
/// worker's other tasks elsewhere meanwhile (`block_in_place`); inline on a
/// current-thread runtime (tests), where that is not available.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// What the server saw of an environment's memory: the highest usage, and
/// the memory cgroup's OOM-kill count as of the last invocation that ended
/// near the limit (kills before it were of other processes, since the
/// runtime went on to answer).
#[derive(Debug, Default)]
struct MemorySeen {
    peak: AtomicU64,
    oom_kills_before: AtomicU64,
}

async fn supervise(
    pidfd: OwnedFd,
    tx: watch::Sender<Option<ExitInfo>>,
    fs: Arc<dyn CgroupFs>,
    cg: EnvCgroups,
    seen: Arc<MemorySeen>,
) {
    let info = ExitInfo::from_wait(spawn::wait(pidfd).await, "the environment's init or keeper");
    if let Some(p) = std::fs::read(&cg.peak).ok().and_then(|b| parse_u64(&b)) {
        seen.peak.fetch_max(p, Ordering::Relaxed);
    }
    let oom_kills = std::fs::read_to_string(&cg.events)
        .ok()
        .and_then(|t| cgroup::oom_kills(&t));
    let before = seen.oom_kills_before.load(Ordering::Relaxed);
    let _ = tx.send(Some(classify(info, oom_kills, before)));
    cleanup(fs.as_ref(), &cg).await;
}

/// A runtime killed by SIGKILL in a memory cgroup whose OOM killer has
/// struck since the last invocation the runtime answered (`before` kills
/// then) ran out of memory (the kernel counts the kill as it sends it,
/// before the process can be reaped). The init reports a runtime killed by
/// a signal as 128 + its number (the keeper re-raises it; without a
/// keeper the server sees the init's code): read back as the signal.
fn classify(info: ExitInfo, oom_kills: Option<u64>, before: u64) -> ExitInfo {
    let info = match info {
        ExitInfo::Code(c @ 129..=192) => ExitInfo::Signal(c - 128),
        other => other,
    };
    match info {
        ExitInfo::Signal(libc::SIGKILL) if oom_kills.unwrap_or(0) > before => ExitInfo::OutOfMemory,
        other => other,
    }
}

/// Kills whatever is left in the environment's cgroups and removes them.
async fn cleanup(fs: &dyn CgroupFs, cg: &EnvCgroups) {
    for _ in 0..500 {
        for procs in &cg.procs {
            kill_all(procs);
        }
        if cgroup::remove(fs, cg) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!(cgroups = ?cg.dirs, "failed to remove an environment's cgroups");
}

#[allow(unsafe_code)]
fn kill_all(procs: &Path) {
    let Ok(text) = std::fs::read_to_string(procs) else {
        return;
    };
    for pid in text
        .lines()
        .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
    {
        // SAFETY: kill only sends a signal, to a process in this
        // environment's cgroup.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

struct NsProcess {
    pid: u32,
    /// The init's (or keeper's) pidfd: signals cannot reach a recycled pid.
    pidfd: Option<OwnedFd>,
    exited: watch::Receiver<Option<ExitInfo>>,
    peak_file: Option<std::fs::File>,
    memory: Arc<MemorySeen>,
    limit_bytes: u64,
    events: PathBuf,
    procs: Option<PathBuf>,
    /// The writes that end the init's unthrottled CPU (see
    /// [`cgroup::limit`]); taken by the first [`EnvProcess::init_done`].
    cpu_share: Mutex<Option<CpuShare>>,
}

/// The cgroup files to write, and what, to give an environment its CPU share.
type CpuShare = (Arc<dyn CgroupFs>, Vec<(PathBuf, String)>);

impl EnvProcess for NsProcess {
    fn init_done(&self) {
        let pending = self
            .cpu_share
            .lock()
            .expect("cpu share lock poisoned")
            .take();
        let Some((fs, writes)) = pending else { return };
        for (file, value) in writes {
            if let Err(e) = fs.write(&file, &value) {
                // Its share stays the init's: say so, and go on.
                tracing::warn!(file = %file.display(), error = %e, "failed to set an environment's CPU share");
                return;
            }
        }
    }

    fn pid(&self) -> u32 {
        self.pid
    }

    fn kill(&self) {
        if self.exited.borrow().is_some() {
            return;
        }
        // The init's death ends the whole namespace; a keeper's ends the
        // init (PDEATHSIG).
        if let Some(fd) = &self.pidfd {
            spawn::kill(fd);
        }
        if let Some(p) = &self.procs {
            kill_all(p);
        }
    }

    fn peak_memory_bytes(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 32];
        if let Some(n) = self
            .peak_file
            .as_ref()
            .and_then(|f| f.read_at(&mut buf, 0).ok())
        {
            if let Some(v) = parse_u64(&buf[..n]) {
                self.memory.peak.fetch_max(v, Ordering::Relaxed);
                // Only an invocation that went up to the limit can have
                // met the OOM killer: then note its count, which the
                // runtime (still answering) outlived.
                if v + self.limit_bytes / 64 >= self.limit_bytes {
                    if let Some(kills) = std::fs::read_to_string(&self.events)
                        .ok()
                        .and_then(|t| cgroup::oom_kills(&t))
                    {
                        self.memory
                            .oom_kills_before
                            .fetch_max(kills, Ordering::Relaxed);
                    }
                }
            }
        }
        Some(self.memory.peak.load(Ordering::Relaxed))
    }

    fn exited(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exited.clone()
    }
}

impl Drop for NsProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests;

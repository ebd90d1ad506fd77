//! Execution environments: how a function's runtime process is started,
//! watched, measured and ended. The [`Sandbox`] trait has one backend per
//! isolation level — [`process::ProcessSandbox`] (a plain child process,
//! works anywhere), [`namespace::NamespaceSandbox`] (Linux namespaces and
//! cgroups, needs root), `microvm` later. The router only sees the trait.
//!
//! This is the only crate allowed `unsafe`; each block says why it is sound.
#![deny(missing_docs)]

pub mod namespace;
pub mod process;
pub mod sched;

use std::fmt;
use std::path::{Path, PathBuf};

use tokio::net::unix::pipe;
use tokio::sync::watch;

/// What to start in an environment.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// Identifier of the environment (for logs and paths).
    pub env_id: String,
    /// The program to run (e.g. the code's `bootstrap`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The function's unpacked code (`LAMBDA_TASK_ROOT`), the working directory.
    pub code_dir: PathBuf,
    /// A writable scratch directory that becomes the function's `/tmp`.
    pub tmp_dir: PathBuf,
    /// The union of the function's layers (`/opt` on Lambda), if any.
    pub opt_dir: Option<PathBuf>,
    /// Ignis's runtime client files of a managed runtime, if any: a host
    /// directory the function sees at [`GuestPaths::runtime`].
    pub runtime_dir: Option<PathBuf>,
    /// The complete environment (nothing is inherited from the host). A
    /// later entry for a key replaces an earlier one: the router appends
    /// the function's own variables after its defaults.
    pub env: Vec<(String, String)>,
    /// Memory limit, MB.
    pub memory_mb: u32,
    /// `/tmp` size, MB.
    pub tmp_mb: u32,
    /// How a managed runtime may be started before its function is known,
    /// when the router allows it (see `namespace::prewarm`). `None`:
    /// started with `env` only, once its function is.
    pub prestart: Option<Prestart>,
}

/// A managed runtime's start ahead of its function (*held*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prestart {
    /// The environment it starts with (what its start-up reads: the
    /// interpreter's and the loader's variables, and the held start's
    /// own); its client then waits for the rest of [`LaunchSpec::env`].
    pub env: Vec<(String, String)>,
    /// Its stderr is `/dev/null` until it is specialized, the log's pipe
    /// waiting at fd 3 for its client to put back (a JVM's launcher says
    /// on stderr which options it was held with; see `namespace::init`'s
    /// `park_stderr`).
    pub park_stderr: bool,
}

/// How a runtime process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitInfo {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// The environment's memory limit was hit and the kernel's OOM killer
    /// ended it (with SIGKILL). Only backends that can tell (`namespace`,
    /// from its memory cgroup's `oom_kill` counter) report it; others see
    /// `Signal(SIGKILL)`.
    OutOfMemory,
}

impl ExitInfo {
    /// How a waited-for child ended, from `wait`'s result (`Code(-1)` when
    /// the wait itself failed or the status says neither).
    pub fn from_wait(waited: std::io::Result<std::process::ExitStatus>, what: &str) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match waited {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(c), _) => Self::Code(c),
                (None, Some(s)) => Self::Signal(s),
                (None, None) => Self::Code(-1),
            },
            Err(e) => {
                tracing::warn!(error = %e, "failed to wait for {what}");
                Self::Code(-1)
            }
        }
    }

    /// Whether the environment ran out of memory.
    pub fn out_of_memory(&self) -> bool {
        matches!(self, Self::OutOfMemory)
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => write!(f, "exit status {c}"),
            Self::OutOfMemory => f.write_str("signal: killed"),
            Self::Signal(s) => match signal_name(*s) {
                Some(name) => write!(f, "signal: {name}"),
                None => write!(f, "signal: signal {s}"),
            },
        }
    }
}

/// A signal's name as Lambda's messages give it (Go's `syscall.Signal`
/// strings: `signal: segmentation fault`, `signal: aborted`).
fn signal_name(signal: i32) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "hangup",
        "interrupt",
        "quit",
        "illegal instruction",
        "trace/breakpoint trap",
        "aborted",
        "bus error",
        "floating point exception",
        "killed",
        "user defined signal 1",
        "segmentation fault",
        "user defined signal 2",
        "broken pipe",
        "alarm clock",
        "terminated",
        "stack fault",
        "child exited",
        "continued",
        "stopped (signal)",
        "stopped",
        "stopped (tty input)",
        "stopped (tty output)",
        "urgent I/O condition",
        "CPU time limit exceeded",
        "file size limit exceeded",
        "virtual timer expired",
        "profiling timer expired",
        "window changed",
        "I/O possible",
        "power failure",
        "bad system call",
    ];
    let index = usize::try_from(signal).ok()?.checked_sub(1)?;
    NAMES.get(index).copied()
}

/// A started environment: its process and its output.
pub struct Launched {
    /// Control of the running process.
    pub process: Box<dyn EnvProcess>,
    /// The runtime's stdout and stderr, one pipe for both (as on Lambda):
    /// lines keep the order they were written in, whichever stream.
    pub output: pipe::Receiver,
    /// The Runtime API's listening socket inside the environment, when the
    /// backend made one ([`Sandbox::runtime_api_addr`] is `Some`).
    pub runtime_api: Option<std::net::TcpListener>,
}

/// A running environment's process tree.
pub trait EnvProcess: Send + Sync {
    /// The process id of the runtime.
    fn pid(&self) -> u32;
    /// Ends the environment's whole process tree at once. Idempotent.
    fn kill(&self);
    /// Peak memory of the environment so far, bytes, if measurable: the
    /// highest value seen, which stands after the environment has ended.
    fn peak_memory_bytes(&self) -> Option<u64>;
    /// Becomes `Some` when the runtime process has exited.
    fn exited(&self) -> watch::Receiver<Option<ExitInfo>>;
    /// The runtime finished its init (it asked for its first event): from
    /// now on the environment runs at its function's CPU share. Until then
    /// a backend that limits CPU lets the init run unthrottled, as Lambda
    /// boosts the init phase. Called once; a no-op where CPU is not limited.
    fn init_done(&self) {}
}

/// Failure to start an environment.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The program could not be started.
    #[error("failed to start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The runtime's output pipes could not be set up.
    #[error("failed to set up output pipes: {0}")]
    Pipes(#[source] std::io::Error),
    /// The environment's cgroups could not be created or limited.
    #[error("failed to set up the environment's cgroups: {0}")]
    Cgroup(#[source] std::io::Error),
    /// The environment's network namespace could not be made.
    #[error("failed to set up the environment's network: {0}")]
    Network(#[source] namespace::net::NetError),
    /// The root template the environment's file system is copied from
    /// could not be built.
    #[error("failed to build the environments' root template: {0}")]
    Template(#[source] std::io::Error),
    /// A directory of the function (code, layers, runtime client) could
    /// not be cloned for mounting inside.
    #[error("failed to prepare {} for mounting: {source}", path.display())]
    Mount {
        /// The host directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where the function sees its directories: what `LAMBDA_TASK_ROOT`,
/// `TMPDIR`, `/opt` and the bootstrap path must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestPaths {
    /// The code directory (`/var/task` on Lambda).
    pub task_root: PathBuf,
    /// The scratch directory (`/tmp` on Lambda).
    pub tmp: PathBuf,
    /// The layers (`/opt` on Lambda).
    pub opt: PathBuf,
    /// Where the runtime client files ([`LaunchSpec::runtime_dir`]) are
    /// seen, when the sandbox shows them at a fixed place (`/var/runtime`,
    /// as on Lambda); `None`: at their host path.
    pub runtime: Option<PathBuf>,
}

/// A way of running execution environments.
#[async_trait::async_trait]
pub trait Sandbox: Send + Sync + 'static {
    /// The backend's name, as `ignis serve` reports it.
    fn name(&self) -> &'static str;
    /// Where a function whose host directories are `code_dir`, `tmp_dir` and
    /// `opt_dir` sees them. Backends without their own file system view see
    /// the host paths (and `/opt` when there are no layers).
    fn guest_paths(&self, code_dir: &Path, tmp_dir: &Path, opt_dir: Option<&Path>) -> GuestPaths {
        GuestPaths {
            task_root: code_dir.to_path_buf(),
            tmp: tmp_dir.to_path_buf(),
            opt: opt_dir.unwrap_or(Path::new("/opt")).to_path_buf(),
            runtime: None,
        }
    }
    /// Where the runtime reaches the Runtime API when the backend creates
    /// its socket inside the environment (returned in
    /// [`Launched::runtime_api`]); `None` when the caller serves it on the
    /// host's loopback.
    fn runtime_api_addr(&self) -> Option<std::net::SocketAddr> {
        None
    }
    /// Starts an environment.
    async fn launch(&self, spec: LaunchSpec) -> Result<Launched, SandboxError>;
}

/// Bytes waiting in the pipe or socket `fd` now (`FIONREAD`); `None` if
/// the call fails.
#[allow(unsafe_code)]
pub fn bytes_ready(fd: std::os::fd::BorrowedFd<'_>) -> Option<usize> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to `n`; the descriptor is borrowed,
    // so it stays open for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    if r == 0 {
        usize::try_from(n).ok()
    } else {
        None
    }
}

/// Which of `fds` have something to read now (data, end of file or an
/// error), in one `poll(2)` that does not wait. If the call fails every
/// descriptor is reported readable, so a caller that then reads loses
/// nothing. Lets an environment's log pump skip reading two empty pipes on
/// every invocation (one system call instead of two).
#[allow(unsafe_code)]
pub fn readable_now<const N: usize>(fds: [std::os::fd::BorrowedFd<'_>; N]) -> [bool; N] {
    use std::os::fd::AsRawFd;
    let mut polled = fds.map(|fd| libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        // SAFETY: `polled` is a valid array of N pollfds for the duration
        // of the call; the descriptors are borrowed, so they stay open.
        let r = unsafe { libc::poll(polled.as_mut_ptr(), N as libc::nfds_t, 0) };
        if r >= 0 {
            return polled.map(|p| p.revents != 0);
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return [true; N];
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn readable_now_sees_data_and_end_of_file() {
        use std::io::Write;
        use std::os::fd::AsFd;
        let (r1, mut w1) = std::io::pipe().unwrap();
        let (r2, w2) = std::io::pipe().unwrap();
        assert_eq!(
            super::readable_now([r1.as_fd(), r2.as_fd()]),
            [false, false]
        );
        w1.write_all(b"x").unwrap();
        drop(w2);
        assert_eq!(super::readable_now([r1.as_fd(), r2.as_fd()]), [true, true]);
    }

    use super::*;

    #[test]
    fn exit_info_reads_like_lambda() {
        assert_eq!(ExitInfo::Code(3).to_string(), "exit status 3");
        assert_eq!(
            ExitInfo::Signal(libc::SIGKILL).to_string(),
            "signal: killed"
        );
        // Lambda says the same; the error type tells them apart.
        assert_eq!(ExitInfo::OutOfMemory.to_string(), "signal: killed");
        assert!(ExitInfo::OutOfMemory.out_of_memory());
        assert!(!ExitInfo::Signal(libc::SIGKILL).out_of_memory());
        for (signal, text) in [
            (libc::SIGINT, "signal: interrupt"),
            (libc::SIGABRT, "signal: aborted"),
            (libc::SIGSEGV, "signal: segmentation fault"),
            (libc::SIGTERM, "signal: terminated"),
            (libc::SIGSYS, "signal: bad system call"),
            (64, "signal: signal 64"),
        ] {
            assert_eq!(ExitInfo::Signal(signal).to_string(), text);
        }
    }
}

//! Starting an environment and watching it: the server forks a keeper
//! itself, or — when `ignis serve` started one before its threads — the
//! zygote ([`super::zygote`]), a small single-threaded process, clones the
//! environment's init straight into its namespaces. Either way the
//! server's child (the zygote clones with `CLONE_PARENT`) is watched
//! through a pidfd.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitStatus;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use tokio::io::unix::AsyncFd;

use super::init::{self, Prepared};

/// A started environment: the server's child (the init, or a keeper).
/// Dropped before [`Spawned::into_pidfd`] hands it to a supervisor, it is
/// killed and reaped.
#[derive(Debug)]
pub struct Spawned {
    /// Its pid (in the server's PID namespace).
    pub pid: libc::pid_t,
    pidfd: Option<OwnedFd>,
}

impl Spawned {
    /// `pid` watched through `pidfd`.
    pub fn new(pid: libc::pid_t, pidfd: OwnedFd) -> Self {
        Self {
            pid,
            pidfd: Some(pidfd),
        }
    }

    /// The pidfd, for a supervisor that waits for and reaps the process.
    pub fn into_pidfd(mut self) -> OwnedFd {
        self.pidfd.take().expect("a pidfd until handed over")
    }
}

/// Whether process `pid` of this PID namespace exists (signal 0: a process
/// we may not signal exists too).
#[allow(unsafe_code)]
pub fn exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks whether the process exists.
    let signalled = unsafe { libc::kill(pid, 0) } == 0;
    signalled || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A pid no process has: `pid_max` itself (pids stay below it), for tests
/// of what a gone owner leaves.
#[cfg(test)]
pub(crate) fn never_a_pid() -> libc::pid_t {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("read pid_max")
        .trim()
        .parse()
        .expect("pid_max is a number")
}

/// Sends SIGKILL through a pidfd: it reaches that process or nothing, even
/// once the process is reaped and its pid reused.
#[allow(unsafe_code)]
pub fn kill(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal on a descriptor we hold, no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        );
    }
}

impl Drop for Spawned {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        let Some(fd) = self.pidfd.take() else {
            return;
        };
        kill(&fd);
        // SAFETY: waitid on our own child's pidfd; it writes only `info`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PIDFD,
                fd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            );
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The thread every direct fork happens on. `PR_SET_PDEATHSIG` fires when
/// the *thread* that forked the process exits, and a tokio thread that
/// ran `block_in_place` may end up in the blocking pool and exit after
/// 10 s idle, killing the environments it forked; this one lives as long
/// as the process.
fn forker() -> &'static Mutex<mpsc::Sender<Job>> {
    static FORKER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    FORKER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ignis-forker".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("start the forker thread");
        Mutex::new(tx)
    })
}

/// Forks the keeper from this process, on the forker thread.
pub fn fork_direct(p: Arc<Prepared>) -> io::Result<Spawned> {
    let (tx, rx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = tx.send(fork_here(&p));
    });
    forker()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|_| io::Error::other("the forker thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the forker thread is gone"))?
}

#[allow(unsafe_code)]
fn fork_here(p: &Prepared) -> io::Result<Spawned> {
    // SAFETY: the child runs `init::run`, raw system calls on data
    // prepared before the fork, and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        init::run(p);
    }
    // SAFETY: pidfd_open on our own child, which nobody else reaps.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let err = io::Error::last_os_error();
        // SAFETY: our unreaped child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        return Err(err);
    }
    // SAFETY: a fresh descriptor we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
    Ok(Spawned::new(pid, pidfd))
}

/// A pipe, both ends close-on-exec: (read, write).
#[allow(unsafe_code)]
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads the report pipe until every copy of its write end is closed:
/// `Ok` when the runtime exec'd, the errno the keeper, init or runtime
/// wrote otherwise.
pub fn read_report(read: OwnedFd) -> io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::from(read);
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    match got {
        0 => Ok(()),
        4 => Err(io::Error::from_raw_os_error(i32::from_ne_bytes(buf))),
        _ => Err(io::Error::other("a truncated launch report")),
    }
}

/// Waits for the environment's process to exit and reaps it.
#[allow(unsafe_code)]
pub async fn wait(pidfd: OwnedFd) -> io::Result<ExitStatus> {
    // SAFETY: the AsyncFd owns the pidfd, which stays open and the same
    // for its whole life.
    let fd = unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }?;
    loop {
        let mut guard = fd.readable().await?;
        match try_reap(fd.get_ref())? {
            Some(status) => return Ok(status),
            None => guard.clear_ready(),
        }
    }
}

#[allow(unsafe_code)]
fn try_reap(pidfd: &OwnedFd) -> io::Result<Option<ExitStatus>> {
    use std::os::unix::process::ExitStatusExt;
    // SAFETY: waitid on our own child's pidfd; writes only `info`.
    let (r, info) = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG,
        );
        (r, info)
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EINTR) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: waitid filled in a SIGCHLD siginfo (or left it zeroed).
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    if pid == 0 {
        return Ok(None);
    }
    let raw = match info.si_code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        _ => status & 0x7f,
    };
    Ok(Some(ExitStatus::from_raw(raw)))
}

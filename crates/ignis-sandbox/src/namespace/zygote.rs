//! The zygote: a small single-threaded process that `ignis serve` forks
//! before it starts any thread, and that forks every environment's keeper
//! on the server's behalf.
//!
//! Why: `fork` copies the caller's page tables and write-protects its
//! private pages. Forking the server — a multi-threaded process with a
//! heap of ten-odd MB — cost ≈ 0.2–0.35 ms per fork, traced, and a cold
//! start forks three times (keeper, init, runtime), each from a copy of
//! the server; a fork of a 1 MB single-threaded process costs a fraction
//! of that (measured side by side: 0.13 ms against 0.39 ms with a 16 MB
//! heap and 1.1 ms with 8 threads on top, under load). The server's own
//! pages are no longer write-protected under its running threads either.
//!
//! How: the server sends the prepared launch (`init::Prepared`, encoded
//! below) over a `SOCK_SEQPACKET` socket pair with its descriptors
//! (`SCM_RIGHTS`); the zygote rebuilds it, opens the environment's
//! `cgroup.procs` files, enters the root template's mount namespace and
//! the environment's network namespace, and clones the environment's init
//! straight into new mount (a copy of the template), PID, IPC and UTS
//! namespaces with `CLONE_PARENT | CLONE_PIDFD` — so the init is the
//! *server's* child, reaped and killed by it, and dies with it
//! (`PR_SET_PDEATHSIG`); no keeper process is needed on this path — then
//! returns to its own namespaces and answers with the pid and the pidfd.
//! It never waits for the init: the server reads the launch's report pipe
//! itself, so the zygote is busy only for the clone.
//! It exits when the server's end of the socket closes, and is killed with
//! the server.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use super::init::{Exec, Prepared};
use super::mounts::Step;
use super::seccomp;
use super::spawn::Spawned;
use super::template::Template;

/// Largest encoded launch: the environment is at most 4 KB on Lambda; the
/// rest is paths.
const MAX_MESSAGE: usize = 256 * 1024;
/// Most descriptors one launch passes (template, stdout, stderr, report,
/// network namespace, code, runtime client, layers, `/tmp`).
const MAX_FDS: usize = 9;

/// The server's handle on its zygote.
#[derive(Debug)]
pub struct Zygote {
    sock: Mutex<OwnedFd>,
    pid: libc::pid_t,
    /// The zygote no longer answers (killed, or it left a namespace it
    /// could not return from): launches go back to the server's own fork.
    gone: std::sync::atomic::AtomicBool,
}

impl Zygote {
    /// Forks the zygote. Call it while the process is still
    /// single-threaded — before the async runtime starts — so that the
    /// zygote is a small, clean copy that may allocate.
    #[allow(unsafe_code)]
    pub fn start() -> io::Result<Zygote> {
        let mut fds = [-1; 2];
        // SAFETY: socketpair writes two descriptors into `fds`.
        if unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        } < 0
        {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: two fresh descriptors we own.
        let (ours, theirs) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the caller promises a single-threaded process, so the
        // child may run ordinary Rust code; it never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            drop(ours);
            serve(theirs);
        }
        drop(theirs);
        // A launch's answer comes within milliseconds; a zygote stopped
        // (Ctrl-Z) or wedged must not hold every launch forever.
        let timeout = libc::timeval {
            tv_sec: 10,
            tv_usec: 0,
        };
        for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
            // SAFETY: setsockopt reads `timeout`, which outlives the call.
            unsafe {
                libc::setsockopt(
                    ours.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&timeout as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                );
            }
        }
        Ok(Zygote {
            sock: Mutex::new(ours),
            pid,
            gone: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The zygote's pid.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Whether the zygote stopped answering.
    pub fn gone(&self) -> bool {
        self.gone.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Has the zygote start the environment `p` describes.
    pub(super) fn spawn(&self, p: &Prepared) -> Result<Spawned, SpawnError> {
        let (msg, fds) = encode(p);
        if msg.len() > MAX_MESSAGE {
            return Err(SpawnError::Failed(io::Error::other(format!(
                "the launch is {} bytes, more than the {MAX_MESSAGE} the zygote takes",
                msg.len()
            ))));
        }
        let lost = |e: io::Error| {
            self.gone.store(true, std::sync::atomic::Ordering::Relaxed);
            io::Error::other(format!("the zygote is gone: {e}"))
        };
        let sock = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        if self.gone() {
            return Err(SpawnError::Unsent(io::Error::other("the zygote is gone")));
        }
        if let Err(e) = send(sock.as_raw_fd(), &msg, &fds) {
            return Err(match e.raw_os_error() {
                // Dead before it read the launch: it may go elsewhere.
                Some(libc::EPIPE | libc::ECONNRESET) => SpawnError::Unsent(lost(e)),
                _ => SpawnError::Failed(e),
            });
        }
        let mut reply = [0u8; 8];
        let mut got = match recv(sock.as_raw_fd(), &mut reply) {
            Ok((8, got)) => got,
            // Died (or timed out, after which its answers would no longer
            // match the questions) while handling it: it may have cloned
            // the init already, so this launch fails.
            Ok(_) => return Err(SpawnError::Lost(lost(io::ErrorKind::UnexpectedEof.into()))),
            Err(e) => return Err(SpawnError::Lost(lost(e))),
        };
        drop(sock);
        let pid = i32::from_ne_bytes(reply[..4].try_into().expect("4 bytes"));
        let errno = i32::from_ne_bytes(reply[4..].try_into().expect("4 bytes"));
        if errno != 0 {
            return Err(SpawnError::Failed(io::Error::from_raw_os_error(errno)));
        }
        match (pid > 0, got.pop()) {
            (true, Some(pidfd)) if got.is_empty() => Ok(Spawned::new(pid, pidfd)),
            _ => Err(SpawnError::Failed(io::Error::other(
                "a malformed answer from the zygote",
            ))),
        }
    }
}

/// Why the zygote did not start an environment.
#[derive(Debug)]
pub(super) enum SpawnError {
    /// The zygote was gone before it read the launch, which may be started
    /// another way.
    Unsent(io::Error),
    /// The zygote was lost while it handled the launch, which fails.
    Lost(io::Error),
    /// The launch itself failed (its errno), the zygote is fine.
    Failed(io::Error),
}

impl Drop for Zygote {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: our own child; it exits on its own once the socket
        // closes, but is killed in case it is stuck, then reaped.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// The zygote's loop.
#[allow(unsafe_code)]
fn serve(sock: OwnedFd) -> ! {
    // SAFETY: prctl and signal on integers. The zygote outlives a Ctrl-C
    // or a SIGTERM sent to the server's whole process group or cgroup: it
    // ends with the server (PR_SET_PDEATHSIG, or its socket's end), so
    // launches during the server's grace period still work. The init
    // puts these signals back to their defaults (`init::default_signals`).
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::prctl(libc::PR_SET_NAME, c"ignis-zygote".as_ptr());
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    let filter = seccomp::native().map(Arc::new);
    let ignored = super::init::ignored_signals();
    let home = match Home::open() {
        Ok(h) => h,
        // SAFETY: _exit has no preconditions.
        Err(_) => unsafe { libc::_exit(1) },
    };
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let (n, fds) = match recv(sock.as_raw_fd(), &mut buf) {
            Ok((0, _)) => break,
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let lifeline = home.server.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        let answer = decode(&buf[..n], fds, filter.clone(), ignored, lifeline).and_then(|launch| {
            let spawned = clone_init(&launch.prepared, &home);
            drop(launch);
            spawned
        });
        let sent = match answer {
            Ok((pid, pidfd)) => {
                let mut reply = pid.to_ne_bytes().to_vec();
                reply.extend(0i32.to_ne_bytes());
                send(sock.as_raw_fd(), &reply, &[pidfd.as_raw_fd()])
            }
            Err(e) => {
                let mut reply = 0i32.to_ne_bytes().to_vec();
                reply.extend(e.raw_os_error().unwrap_or(libc::EIO).to_ne_bytes());
                send(sock.as_raw_fd(), &reply, &[])
            }
        };
        if sent.is_err() || home.lost.get() {
            break;
        }
    }
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(0) }
}

/// The zygote's own mount and network namespaces, to return to after
/// each clone.
struct Home {
    mnt: OwnedFd,
    net: OwnedFd,
    /// A pidfd of the server (our parent), each init's lifeline.
    server: Option<OwnedFd>,
    /// Returning failed: the zygote must not clone from elsewhere.
    lost: std::cell::Cell<bool>,
}

impl Home {
    #[allow(unsafe_code)]
    fn open() -> io::Result<Home> {
        let open = |p: &str| std::fs::File::open(p).map(OwnedFd::from);
        // SAFETY: getppid and pidfd_open on integers; the result is a new
        // descriptor (close-on-exec) we own, or -1.
        let server = unsafe {
            let fd = libc::syscall(libc::SYS_pidfd_open, libc::getppid(), 0);
            (fd >= 0).then(|| OwnedFd::from_raw_fd(fd as libc::c_int))
        };
        Ok(Home {
            mnt: open("/proc/self/ns/mnt")?,
            net: open("/proc/self/ns/net")?,
            server,
            lost: std::cell::Cell::new(false),
        })
    }
}

/// Clones the environment's init into its namespaces, as the server's
/// child (a sibling of the zygote).
#[allow(unsafe_code)]
fn clone_init(p: &Prepared, home: &Home) -> io::Result<(libc::pid_t, OwnedFd)> {
    let mut procs = [-1; super::init::MAX_HIERARCHIES];
    let opened = super::init::open_procs(p, &mut procs);
    let close_procs = |procs: &[libc::c_int]| {
        for fd in procs.iter().copied().filter(|fd| *fd >= 0) {
            // SAFETY: descriptors opened above, closed once.
            unsafe { libc::close(fd) };
        }
    };
    if let Err(e) = opened {
        close_procs(&procs);
        return Err(e);
    }
    let result = (|| {
        // SAFETY: setns on descriptors we hold; clone without a new stack
        // behaves as fork (the child runs `init::run_init` and never
        // returns); CLONE_PIDFD stores the pidfd in `pidfd` (the
        // parent_tid argument).
        unsafe {
            if libc::setns(p.template.ns_fd(), libc::CLONE_NEWNS) < 0 {
                return Err(io::Error::last_os_error());
            }
            if p.netns >= 0 && libc::setns(p.netns, libc::CLONE_NEWNET) < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut pidfd: libc::c_int = -1;
            let flags = libc::CLONE_PARENT | libc::CLONE_PIDFD | super::init::FLAGS;
            let pid = libc::syscall(
                libc::SYS_clone,
                flags as libc::c_ulong,
                0usize,
                &mut pidfd as *mut libc::c_int,
                0usize,
                0usize,
            ) as libc::pid_t;
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid == 0 {
                super::init::run_init(p, &procs);
            }
            Ok((pid, OwnedFd::from_raw_fd(pidfd)))
        }
    })();
    close_procs(&procs);
    // SAFETY: setns back into the namespaces we came from.
    let back = unsafe {
        libc::setns(home.mnt.as_raw_fd(), libc::CLONE_NEWNS) == 0
            && libc::setns(home.net.as_raw_fd(), libc::CLONE_NEWNET) == 0
    };
    if !back {
        // Never clone from the wrong namespaces: the loop ends after this
        // answer and later launches fail with "the zygote is gone".
        home.lost.set(true);
    }
    result
}

/// A decoded launch and the descriptors it borrows.
struct Launch {
    prepared: Prepared,
    _held: Vec<OwnedFd>,
}

// The encoding: a flat byte string of u32s and length-prefixed byte
// strings, descriptors in a fixed order beside it.

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend(v.to_ne_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend(b);
    }
    fn list<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.u32(items.len() as u32);
        for b in items {
            self.bytes(b);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u32(&mut self) -> io::Result<u32> {
        let (head, rest) = self.0.split_at_checked(4).ok_or_else(malformed)?;
        self.0 = rest;
        Ok(u32::from_ne_bytes(head.try_into().expect("4 bytes")))
    }
    fn cstring(&mut self) -> io::Result<CString> {
        let n = self.u32()? as usize;
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(malformed)?;
        self.0 = rest;
        CString::new(head).map_err(|_| malformed())
    }
    fn list(&mut self) -> io::Result<Vec<CString>> {
        let n = self.u32()? as usize;
        if n > MAX_MESSAGE / 4 {
            return Err(malformed());
        }
        (0..n).map(|_| self.cstring()).collect()
    }
}

fn malformed() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADMSG)
}

const STEP_MKDIR: u32 = 1;
const STEP_TOUCH: u32 = 2;
const STEP_SYMLINK: u32 = 3;
const STEP_TMPFS: u32 = 4;
const STEP_BIND_RO: u32 = 5;
const STEP_BIND: u32 = 6;
const STEP_PROC: u32 = 7;

fn encode(p: &Prepared) -> (Vec<u8>, Vec<RawFd>) {
    let mut w = Writer(Vec::with_capacity(4096));
    w.u32(p.uid);
    w.u32(p.gid);
    w.u32(u32::from(p.seccomp.is_some()));
    w.u32(u32::from(p.netns >= 0));
    // 0: not held; 1: held; 2: held, its stderr parked.
    w.u32(u32::from(p.hold >= 0) + u32::from(p.hold >= 0 && p.park_stderr));
    w.u32(p.sched_policy as u32);
    w.list(p.procs.iter().map(|c| c.as_bytes()));
    w.list(p.trees.iter().map(|(_, at)| at.as_bytes()));
    w.u32(p.steps.len() as u32);
    for step in &p.steps {
        let (tag, a, b) = match step {
            Step::Mkdir(a) => (STEP_MKDIR, a, None),
            Step::Touch(a) => (STEP_TOUCH, a, None),
            Step::Symlink(a, b) => (STEP_SYMLINK, a, Some(b)),
            Step::Tmpfs(a, b) => (STEP_TMPFS, a, Some(b)),
            Step::BindRo(a, b) => (STEP_BIND_RO, a, Some(b)),
            Step::Bind(a, b) => (STEP_BIND, a, Some(b)),
            Step::Proc(a, b) => (STEP_PROC, a, Some(b)),
        };
        w.u32(tag);
        w.bytes(a.as_bytes());
        if let Some(b) = b {
            w.bytes(b.as_bytes());
        }
    }
    w.bytes(p.workdir.as_bytes());
    w.bytes(p.exec.program().to_bytes());
    w.list(p.exec.argv().iter().map(|c| c.as_bytes()));
    w.list(p.exec.envp().iter().map(|c| c.as_bytes()));
    let mut fds = vec![p.template.ns_fd(), p.stdout, p.stderr, p.report];
    if p.netns >= 0 {
        fds.push(p.netns);
    }
    if p.hold >= 0 {
        fds.push(p.hold);
    }
    fds.extend(p.trees.iter().map(|(fd, _)| fd.as_raw_fd()));
    (w.0, fds)
}

fn decode(
    msg: &[u8],
    fds: Vec<OwnedFd>,
    filter: Option<Arc<seccomp::Filter>>,
    ignored_signals: u64,
    lifeline: libc::c_int,
) -> io::Result<Launch> {
    let mut r = Reader(msg);
    let uid = r.u32()?;
    let gid = r.u32()?;
    let wants_filter = r.u32()? == 1;
    let has_netns = r.u32()? == 1;
    let (has_hold, park_stderr) = match r.u32()? {
        0 => (false, false),
        1 => (true, false),
        2 => (true, true),
        _ => return Err(io::Error::from_raw_os_error(libc::EBADMSG)),
    };
    let sched_policy = r.u32()? as libc::c_int;
    let procs = r.list()?;
    let targets = r.list()?;
    let steps = (0..r.u32()?)
        .map(|_| {
            let tag = r.u32()?;
            let a = r.cstring()?;
            Ok(match tag {
                STEP_MKDIR => Step::Mkdir(a),
                STEP_TOUCH => Step::Touch(a),
                STEP_SYMLINK => Step::Symlink(a, r.cstring()?),
                STEP_TMPFS => Step::Tmpfs(a, r.cstring()?),
                STEP_BIND_RO => Step::BindRo(a, r.cstring()?),
                STEP_BIND => Step::Bind(a, r.cstring()?),
                STEP_PROC => Step::Proc(a, r.cstring()?),
                _ => return Err(malformed()),
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    let workdir = r.cstring()?;
    let program = r.cstring()?;
    let argv = r.list()?;
    let envp = r.list()?;
    let wanted = 4 + usize::from(has_netns) + usize::from(has_hold) + targets.len();
    if fds.len() != wanted || procs.len() > super::init::MAX_HIERARCHIES {
        return Err(malformed());
    }
    let mut fds = fds.into_iter();
    let mut next = || fds.next().expect("counted above");
    let template = Arc::new(Template::from_fd(next()));
    let (stdout, stderr, report) = (next(), next(), next());
    let netns = if has_netns { Some(next()) } else { None };
    let hold = if has_hold { Some(next()) } else { None };
    let trees: Vec<_> = targets.into_iter().map(|at| (next(), at)).collect();
    let prepared = Prepared {
        procs,
        template,
        trees,
        steps,
        workdir,
        uid,
        gid,
        seccomp: if wants_filter { filter } else { None },
        netns: netns.as_ref().map_or(-1, AsRawFd::as_raw_fd),
        exec: Exec::new(program, argv, envp),
        stdout: stdout.as_raw_fd(),
        stderr: stderr.as_raw_fd(),
        report: report.as_raw_fd(),
        ignored_signals,
        lifeline,
        sched_policy,
        hold: hold.as_ref().map_or(-1, AsRawFd::as_raw_fd),
        park_stderr,
    };
    if wants_filter && prepared.seccomp.is_none() {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    Ok(Launch {
        prepared,
        _held: [stdout, stderr, report]
            .into_iter()
            .chain(netns)
            .chain(hold)
            .collect(),
    })
}

/// Sends `msg` with `fds` as one packet.
#[allow(unsafe_code)]
pub(super) fn send(sock: RawFd, msg: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: msg.as_ptr() as *mut libc::c_void,
        iov_len: msg.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: a zeroed msghdr is valid; the pointers set below outlive
    // the sendmsg call; CMSG_* compute offsets inside `control`.
    unsafe {
        let mut hdr: libc::msghdr = std::mem::zeroed();
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        if !fds.is_empty() {
            let bytes = std::mem::size_of_val(fds);
            hdr.msg_control = control.as_mut_ptr().cast();
            hdr.msg_controllen = libc::CMSG_SPACE(bytes as u32) as usize;
            let cmsg = libc::CMSG_FIRSTHDR(&hdr);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(bytes as u32) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast(), fds.len());
        }
        loop {
            let n = libc::sendmsg(sock, &hdr, libc::MSG_NOSIGNAL);
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Receives one packet into `buf` and the descriptors that came with it
/// (close-on-exec). A truncated packet is an error.
#[allow(unsafe_code)]
pub(super) fn recv(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: as in `send`; the kernel writes at most `msg_controllen`
    // bytes of control data and the received descriptors are ours.
    unsafe {
        let mut hdr: libc::msghdr = std::mem::zeroed();
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = control.as_mut_ptr().cast();
        hdr.msg_controllen = std::mem::size_of_val(&control);
        let n = libc::recvmsg(sock, &mut hdr, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut fds = Vec::new();
        let mut cmsg = libc::CMSG_FIRSTHDR(&hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let count =
                    ((*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&hdr, cmsg);
        }
        if hdr.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 || fds.len() > MAX_FDS {
            return Err(malformed());
        }
        Ok((n as usize, fds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    #[test]
    fn a_launch_survives_the_trip_to_the_zygote() {
        let (stdout, stderr, report, netns) = (fd(), fd(), fd(), fd());
        let p = Prepared {
            procs: vec![c("/cg/memory/x/cgroup.procs"), c("/cg/cpu/x/cgroup.procs")],
            template: Arc::new(Template::from_fd(fd())),
            trees: vec![
                (fd(), c("/var/task")),
                (fd(), c("/var/runtime")),
                (fd(), c("/opt")),
                (fd(), c("/tmp")),
            ],
            steps: vec![
                Step::Tmpfs(c("/tmp"), c("mode=1777,size=512m")),
                Step::Proc(c("/proc"), c("hidepid=2")),
                Step::Mkdir(c("/x")),
            ],
            workdir: c("/var/task"),
            uid: 993,
            gid: 990,
            seccomp: None,
            netns: netns.as_raw_fd(),
            exec: Exec::new(
                c("/var/task/bootstrap"),
                vec![c("/var/task/bootstrap"), c("--flag")],
                vec![c("A=1"), c("TMPDIR=/tmp")],
            ),
            stdout: stdout.as_raw_fd(),
            stderr: stderr.as_raw_fd(),
            report: report.as_raw_fd(),
            ignored_signals: 0,
            lifeline: -1,
            sched_policy: libc::SCHED_BATCH,
            hold: -1,
            park_stderr: false,
        };
        let (msg, raw) = encode(&p);
        // The most a launch passes: template, stdio, report, network,
        // code, runtime client, layers and a /tmp disk.
        assert_eq!(raw.len(), MAX_FDS);
        let (ours, theirs) = socket_pair();
        send(ours.as_raw_fd(), &msg, &raw).unwrap();
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (n, fds) = recv(theirs.as_raw_fd(), &mut buf).unwrap();
        assert_eq!((n, fds.len()), (msg.len(), MAX_FDS));
        let back = decode(&buf[..n], fds, None, 1 << 12, -1).unwrap().prepared;
        assert_eq!(back.procs, p.procs);
        assert_eq!(back.steps, p.steps);
        assert_eq!(back.workdir, p.workdir);
        assert_eq!((back.uid, back.gid), (993, 990));
        assert_eq!(back.ignored_signals, 1 << 12);
        assert_eq!(back.sched_policy, libc::SCHED_BATCH);
        assert!(back.netns >= 0 && back.seccomp.is_none());
        assert_eq!(back.exec.program(), p.exec.program());
        assert_eq!(back.exec.argv(), p.exec.argv());
        assert_eq!(back.exec.envp(), p.exec.envp());
        let targets: Vec<_> = back.trees.iter().map(|(_, at)| at.clone()).collect();
        assert_eq!(
            targets,
            [c("/var/task"), c("/var/runtime"), c("/opt"), c("/tmp")]
        );
        assert_eq!(back.hold, -1);
        assert!(!back.park_stderr);

        // A held launch: its control socket travels too, without the
        // function's trees.
        let hold = fd();
        let held = Prepared {
            trees: p.trees.into_iter().skip(1).take(1).collect(),
            hold: hold.as_raw_fd(),
            park_stderr: true,
            netns: -1,
            ..p
        };
        let (msg, raw) = encode(&held);
        send(ours.as_raw_fd(), &msg, &raw).unwrap();
        let (n, fds) = recv(theirs.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(fds.len(), 6);
        let back = decode(&buf[..n], fds, None, 0, -1).unwrap().prepared;
        assert!(back.hold >= 0 && back.netns < 0 && back.park_stderr);
        assert_eq!(back.trees.len(), 1);
        assert_eq!(back.trees[0].1, c("/var/runtime"));
    }

    #[allow(unsafe_code)]
    fn socket_pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [-1; 2];
        // SAFETY: socketpair writes two descriptors into `fds`, which we
        // then own.
        unsafe {
            assert_eq!(
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                    0,
                    fds.as_mut_ptr()
                ),
                0
            );
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        }
    }

    #[test]
    fn malformed_launches_are_refused() {
        assert!(decode(&[1u8, 2, 3], Vec::new(), None, 0, -1).is_err());
        let mut w = Writer(Vec::new());
        for _ in 0..4 {
            w.u32(0);
        }
        w.u32(u32::MAX);
        assert!(decode(&w.0, Vec::new(), None, 0, -1).is_err());
    }
}

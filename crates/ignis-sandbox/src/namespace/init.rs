//! What runs between `fork` and `exec`, with no allocation.
//!
//! On the usual path the zygote ([`super::zygote`]) clones the *init*
//! straight into the environment's namespaces (a copy of the root
//! template's mount namespace, [`super::template`], and new PID, IPC and
//! UTS namespaces, after entering the network namespace), as the server's
//! child; [`run_init`] is its body. Without a zygote the server forks a
//! *keeper* ([`run`]): it opens the environment's `cgroup.procs` files,
//! enters the template's and the network's namespaces, unshares the
//! others, forks the init and waits for it, then exits the way the runtime
//! did; it stays in the host's PID namespace, watched and killed like any
//! child, and its death takes the environment with it.
//!
//! 1. The *init*, PID 1 of the new namespace: attaches the environment's
//!    read-only trees (code, layers, runtime client) and mounts its own
//!    `/tmp`, `/dev/shm` and `/proc` (see `mounts::env_plan`), joins the
//!    environment's cgroups (with files opened before the namespaces hid
//!    them), starts a session without a controlling terminal, forks the
//!    runtime (in the environments' CPU class, [`crate::sched`]), then
//!    reaps every zombie and forwards SIGTERM to the runtime
//!    until the runtime exits, and exits with its status (a signal as its
//!    number plus 128). It has `PR_SET_PDEATHSIG`, and the end of a PID
//!    namespace's init kills every process in it.
//! 2. The *runtime*: drops to the unprivileged user (no capabilities left),
//!    sets `no_new_privs`, enters `/var/task`, installs the seccomp filter
//!    (compiled before the fork) and `execve`s the runtime.
//!
//! Every path is a C string prepared beforehand (the keeper is forked by
//! the server, a threaded program, where after `fork` only
//! async-signal-safe calls are allowed). A failure anywhere before the
//! `execve` is written as its errno to the report pipe, which the launcher
//! reads until every copy is closed: end of file means the runtime exec'd.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use super::mounts::Step;
use super::seccomp;
use super::template::Template;

/// Everything the child side needs, prepared before `fork`.
pub struct Prepared {
    /// `cgroup.procs` files the init joins.
    pub procs: Vec<CString>,
    /// The root template whose mount namespace the environment copies.
    pub template: Arc<Template>,
    /// Read-only trees cloned from the host (`open_tree`), attached at these
    /// paths inside.
    pub trees: Vec<(OwnedFd, CString)>,
    /// The environment's own file systems, mounted after the trees.
    pub steps: Vec<Step>,
    /// The runtime's working directory inside.
    pub workdir: CString,
    /// The unprivileged user and group.
    pub uid: libc::uid_t,
    /// The group.
    pub gid: libc::gid_t,
    /// The runtime's seccomp filter (none on an architecture without one).
    pub seccomp: Option<std::sync::Arc<seccomp::Filter>>,
    /// The environment's network namespace, or -1 to keep the host's.
    pub netns: libc::c_int,
    /// What the runtime execs.
    pub exec: Exec,
    /// The runtime's stdout and stderr (its stdin is `/dev/null`).
    pub stdout: libc::c_int,
    /// See `stdout`.
    pub stderr: libc::c_int,
    /// Where a failure before the `execve` is reported (close-on-exec).
    pub report: libc::c_int,
    /// Signals the launcher ignores (see [`ignored_signals`]), which the
    /// init puts back to their defaults.
    pub ignored_signals: u64,
    /// A pidfd of the server, readable once it has exited, or -1.
    pub lifeline: libc::c_int,
    /// The CPU scheduling class of the init and the runtime (see
    /// [`crate::sched`]).
    pub sched_policy: libc::c_int,
    /// A held launch's end of its control socket, or -1: the runtime
    /// starts before its function is known and reads the rest of its
    /// environment from its stdin; the init attaches the function's trees
    /// when the server sends them ([`hold`]).
    pub hold: libc::c_int,
    /// A held runtime's stderr is `/dev/null` until it is specialized, the
    /// log's pipe waiting at [`PARKED_STDERR`] for its client to put back
    /// (see [`park_stderr`]).
    pub park_stderr: bool,
}

/// Where a held runtime started with [`Prepared::park_stderr`] finds the
/// log's pipe (not close-on-exec).
pub const PARKED_STDERR: libc::c_int = 3;

/// A program, its arguments and environment as the C arrays `execve`
/// takes, built before the fork.
pub struct Exec {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
}

// SAFETY: the pointers point into the CStrings' heap buffers, which this
// struct owns and never changes; moving it moves no buffer.
#[allow(unsafe_code)]
unsafe impl Send for Exec {}
// SAFETY: as above; it is read only.
#[allow(unsafe_code)]
unsafe impl Sync for Exec {}

impl Exec {
    /// `program` run with `argv` (argv[0] first) and `envp` (`KEY=value`).
    pub fn new(program: CString, argv: Vec<CString>, envp: Vec<CString>) -> Self {
        let ptrs = |v: &[CString]| {
            v.iter()
                .map(|c| c.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        Self {
            argv_ptrs: ptrs(&argv),
            envp_ptrs: ptrs(&envp),
            program,
            argv,
            envp,
        }
    }

    /// The program.
    pub fn program(&self) -> &CStr {
        &self.program
    }

    /// The arguments, argv[0] first.
    pub fn argv(&self) -> &[CString] {
        &self.argv
    }

    /// The environment, `KEY=value`.
    pub fn envp(&self) -> &[CString] {
        &self.envp
    }
}

/// At most this many `cgroup.procs` files (v1: memory, cpu, pids).
pub const MAX_HIERARCHIES: usize = 4;
/// The namespaces an environment gets besides its network's.
pub const FLAGS: libc::c_int =
    libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
const HOSTNAME: &[u8] = b"localhost";
pub(super) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(super) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(super) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(super) const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 0x4;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The runtime's pid as the init sees it, for forwarding signals.
static RUNTIME: AtomicI32 = AtomicI32::new(0);

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The keeper's body, in a freshly forked child: becomes the runtime
/// (`execve`) three processes down, or reports why not and exits 127.
#[allow(unsafe_code)]
pub fn run(p: &Prepared) -> ! {
    report(p, keeper(p))
}

/// The init's body when the zygote cloned it straight into the new
/// namespaces (no keeper): it is PID 1 already, in its copy of the
/// template and in its network namespace; `procs` are the environment's
/// `cgroup.procs` files, opened by the zygote beforehand.
pub fn run_init(p: &Prepared, procs: &[libc::c_int]) -> ! {
    report(p, stdio(p).and_then(|()| init(p, procs)))
}

/// Writes why the launch failed to the report pipe and exits 127.
fn report(p: &Prepared, result: io::Result<()>) -> ! {
    report_to(p.report, result)
}

/// [`report`] to the report pipe at `fd`.
#[allow(unsafe_code)]
fn report_to(fd: libc::c_int, result: io::Result<()>) -> ! {
    let err = match result {
        Ok(()) => io::Error::from_raw_os_error(libc::EINVAL),
        Err(e) => e,
    };
    let code: i32 = err.raw_os_error().unwrap_or(libc::EIO);
    // SAFETY: write and _exit on an integer and an open descriptor.
    unsafe {
        libc::write(fd, (&code as *const i32).cast(), 4);
        libc::_exit(127)
    }
}

/// stdin from `/dev/null`, stdout and stderr to the launcher's pipes.
#[allow(unsafe_code)]
fn stdio(p: &Prepared) -> io::Result<()> {
    // SAFETY: open, dup2 and close on descriptors and a static C string.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        check(null)?;
        check(libc::dup2(null, 0))?;
        if null != 0 {
            libc::close(null);
        }
        check(libc::dup2(p.stdout, 1))?;
        check(libc::dup2(p.stderr, 2))
    }
}

/// Opens the environment's `cgroup.procs` files (close-on-exec) into
/// `fds`: before the template's namespace hides them; they are joined once
/// the file systems are mounted, so that work is not charged to a small
/// function's CPU quota.
#[allow(unsafe_code)]
pub fn open_procs(p: &Prepared, fds: &mut [libc::c_int; MAX_HIERARCHIES]) -> io::Result<()> {
    for (fd, procs) in fds.iter_mut().zip(&p.procs) {
        // SAFETY: open on a prepared C string.
        *fd = unsafe { libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        check(*fd)?;
    }
    Ok(())
}

/// The keeper, then the init and the runtime; returns only on failure.
#[allow(unsafe_code)]
fn keeper(p: &Prepared) -> io::Result<()> {
    // SAFETY: we are in a forked child. Every call below is a raw system
    // call on C strings and integers prepared before the fork; nothing
    // allocates or takes a lock.
    unsafe {
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
        if libc::getppid() == 1 {
            libc::_exit(1);
        }
        libc::prctl(libc::PR_SET_NAME, c"ignis-keeper".as_ptr());
        stdio(p)?;
        let mut fds = [-1; MAX_HIERARCHIES];
        open_procs(p, &mut fds)?;
        // Entering a mount namespace makes its root our root and cwd.
        check(libc::setns(p.template.ns_fd(), libc::CLONE_NEWNS))?;
        if p.netns >= 0 {
            check(libc::setns(p.netns, libc::CLONE_NEWNET))?;
        }
        check(libc::unshare(FLAGS))?;
        let init = libc::fork();
        check(init)?;
        if init > 0 {
            keep(init);
        }
        self::init(p, &fds)
    }
}

/// PID 1 of the environment: its own mounts, its cgroups, a session of
/// its own, then the runtime; returns only on failure.
#[allow(unsafe_code)]
fn init(p: &Prepared, procs: &[libc::c_int]) -> io::Result<()> {
    // SAFETY: as in `keeper`.
    unsafe {
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
        // The server may have died between our clone and the prctl, which
        // then never fires: its pidfd (the zygote's, inherited) is
        // readable once it has exited. (Inside a new PID namespace
        // getppid() says 0 either way.)
        if p.lifeline >= 0 {
            let mut pfd = libc::pollfd {
                fd: p.lifeline,
                events: libc::POLLIN,
                revents: 0,
            };
            if libc::poll(&mut pfd, 1, 0) != 0 {
                libc::_exit(1);
            }
        }
        // Named for `ps` on the host (a fork keeps the zygote's or the
        // server's thread name otherwise).
        libc::prctl(libc::PR_SET_NAME, c"ignis-init".as_ptr());
        default_signals(p.ignored_signals);
        crate::sched::enter(p.sched_policy);
        mount_own(p)?;
        for fd in procs.iter().copied().filter(|fd| *fd >= 0) {
            join(fd)?;
        }
        // A session of its own and so no controlling terminal: the server's
        // (an administrator's shell, for `sudo ignis serve`) is out of
        // reach through /dev/tty, TIOCSTI included.
        check(libc::setsid())?;
        if p.hold >= 0 && p.exec.program.as_bytes().is_empty() {
            deferred(p)?;
        }
        // A held runtime's stdin: the rest of its environment, written by
        // the init once the server has specialized it.
        let mut spec: [libc::c_int; 2] = [-1, -1];
        if p.hold >= 0 {
            check(libc::pipe2(spec.as_mut_ptr(), libc::O_CLOEXEC))?;
        }
        let runtime = libc::fork();
        check(runtime)?;
        if runtime > 0 {
            if p.hold >= 0 {
                libc::close(spec[0]);
                hold(p, spec[1], runtime);
            }
            init_loop(runtime);
        }
        if p.hold >= 0 {
            // dup2 leaves 0 without close-on-exec.
            check(libc::dup2(spec[0], 0))?;
        }
        drop_privileges(p)?;
        // Whatever the server inherited without close-on-exec (a service
        // manager's sockets, a harness's pipes) does not reach the runtime.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
        let report = if p.hold >= 0 && p.park_stderr {
            park_stderr(p.report)?
        } else {
            p.report
        };
        libc::execve(
            p.exec.program.as_ptr(),
            p.exec.argv_ptrs.as_ptr(),
            p.exec.envp_ptrs.as_ptr(),
        );
        report_to(report, Err(io::Error::last_os_error()))
    }
}

/// A held runtime's stderr while it starts: `/dev/null`, the log's pipe
/// kept at [`PARKED_STDERR`] (not close-on-exec) for its client to put
/// back once specialized. A JVM started held says on stderr what a fresh
/// start of its function would not (the launcher's note of the options it
/// was held with, the module system's of the incubating foreign function
/// API). Returns where the report pipe is now (moved when it was at
/// [`PARKED_STDERR`]). Descriptors only: called between fork and exec.
#[allow(unsafe_code)]
unsafe fn park_stderr(report: libc::c_int) -> io::Result<libc::c_int> {
    // SAFETY: fcntl, dup2, open and close on descriptors of this process
    // and a static C string.
    unsafe {
        let mut report = report;
        if report == PARKED_STDERR {
            report = libc::fcntl(report, libc::F_DUPFD_CLOEXEC, PARKED_STDERR + 1);
            check(report)?;
        }
        check(libc::dup2(2, PARKED_STDERR))?;
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        check(null)?;
        check(libc::dup2(null, 2))?;
        libc::close(null);
        Ok(report)
    }
}

/// The kernel's `struct sigaction` for `rt_sigaction(2)` (called directly:
/// glibc refuses its two internal real-time signals, which may still come
/// ignored from the launcher's own parent).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

const SIG_IGN: usize = 1;

/// The signals this process ignores, as a mask (bit `n - 1` for signal
/// `n`): what a child would inherit through `execve`, which keeps a signal
/// ignored. Read once where allocating is fine; [`default_signals`] puts
/// them back in the init.
#[allow(unsafe_code)]
pub fn ignored_signals() -> u64 {
    let mut mask = 0;
    for sig in 1..=64u32 {
        let mut old = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: rt_sigaction with no new action only writes `old`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::null::<KernelSigaction>(),
                &mut old as *mut KernelSigaction,
                8usize,
            )
        };
        if r == 0 && old.handler == SIG_IGN {
            mask |= 1u64 << (sig - 1);
        }
    }
    mask
}

/// No signal blocked (`execve` keeps the mask; `std`'s spawn emptied it),
/// and the signals ignored by the launcher (`mask`, see
/// [`ignored_signals`]) back to their defaults, since `execve` keeps a
/// signal ignored: SIGPIPE
/// (every Rust program ignores it, and `std`'s own spawn resets it; a
/// runtime — or `yes | head` in a shell bootstrap — expects to die of
/// it), the terminal signals the zygote ignores, and whatever the server's
/// own parent left ignored. A function starts with none ignored, as on
/// Lambda. The init then catches SIGTERM to forward it.
#[allow(unsafe_code)]
fn default_signals(mask: u64) {
    let empty: u64 = 0;
    // SAFETY: rt_sigprocmask reads `empty`; async-signal-safe.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        );
    }
    let default = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in (1..=64u32).filter(|s| mask & (1u64 << (s - 1)) != 0) {
        // SAFETY: rt_sigaction setting SIG_DFL; async-signal-safe.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            );
        }
    }
}

/// Writes "0" (the calling process) to an open `cgroup.procs` file and
/// closes it.
#[allow(unsafe_code)]
unsafe fn join(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: write/close on an open descriptor and a static buffer.
    unsafe {
        let n = libc::write(fd, b"0".as_ptr().cast(), 1);
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n != 1 {
            return Err(err);
        }
        Ok(())
    }
}

/// The keeper: waits for the init and exits with its code.
#[allow(unsafe_code)]
unsafe fn keep(init: libc::pid_t) -> ! {
    // SAFETY: close_range, waitpid, signal, kill and _exit are
    // async-signal-safe; closing our copies of the launcher's descriptors
    // (the report pipe among them) lets the launch return once the
    // runtime has exec'd.
    // It exits with the init's code (128 + signal for a killed runtime, or
    // for an init killed itself), which the server reads back as the
    // signal. It does not re-raise it: a stop signal would leave it
    // stopped rather than exited, and a core-dumping one would dump a
    // copy of the server's memory.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let status = wait_for(init);
        if libc::WIFSIGNALED(status) {
            libc::_exit(128 + libc::WTERMSIG(status))
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

#[allow(unsafe_code)]
unsafe fn wait_for(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes only to `status`.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return status;
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 255 << 8;
        }
    }
}

extern "C" fn forward(sig: libc::c_int) {
    let pid = RUNTIME.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// PID 1: reaps zombies and forwards SIGTERM until the runtime exits.
#[allow(unsafe_code)]
unsafe fn init_loop(runtime: libc::pid_t) -> ! {
    RUNTIME.store(runtime, Ordering::Relaxed);
    // SAFETY: as in `keep`; the handler only calls kill.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::signal(libc::SIGTERM, forward as *const () as libc::sighandler_t);
        loop {
            let mut status = 0;
            let r = libc::waitpid(-1, &mut status, 0);
            if r == runtime {
                let code = if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    libc::WEXITSTATUS(status)
                };
                libc::_exit(code);
            }
            // Interrupted (a forwarded SIGTERM): wait on. No child left
            // cannot happen while the runtime is one; `errno` may be the
            // waiting runtime's (see `deferred`), which never sets ECHILD.
            if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
                libc::_exit(255);
            }
        }
    }
}

/// The largest specialization a held init takes: the trees' paths and the
/// runtime's environment (the API's 4 KB of variables, Lambda's own and
/// credentials are far below it).
pub const HOLD_MESSAGE: usize = 60 * 1024;
/// At most this many trees are attached when a held launch is specialized
/// (code and layers).
pub const HOLD_TREES: usize = 4;

/// A held init waits for its specialization on `p.hold`: one packet of
/// `u32` tree count, per tree a `u32` length and its path (NUL included),
/// then the runtime's environment (`KEY=value` NUL-terminated), with the
/// trees' descriptors. It attaches the trees, writes the environment to
/// the runtime's stdin (`spec_w`) and closes it, answers the errno (0) on
/// the socket and returns to be the init. Closing the socket instead (the
/// server dropped it) or any failure ends the environment. Stack buffers
/// only: nothing allocates after the fork.
#[allow(unsafe_code)]
unsafe fn hold(p: &Prepared, spec_w: libc::c_int, runtime: libc::pid_t) {
    // SAFETY: raw system calls on descriptors of this process and stack
    // buffers; `fail` only sends, kills our own child and exits.
    unsafe {
        close_all_but(&[p.hold, spec_w]);
        let mut buf = [0u8; HOLD_MESSAGE];
        let mut fds = [-1; HOLD_TREES];
        let fail = |errno: libc::c_int| -> ! {
            libc::send(p.hold, (&errno as *const i32).cast(), 4, libc::MSG_NOSIGNAL);
            libc::kill(runtime, libc::SIGKILL);
            libc::_exit(127)
        };
        let (n, nfds) = match recv_hold(p.hold, &mut buf, &mut fds) {
            Ok(Some(got)) => got,
            // The server let go of it.
            Ok(None) => {
                libc::kill(runtime, libc::SIGKILL);
                libc::_exit(1)
            }
            Err(e) => fail(e.raw_os_error().unwrap_or(libc::EIO)),
        };
        let msg = &mut buf[..n];
        let Some((trees, env)) = split_hold(msg, nfds) else {
            fail(libc::EBADMSG)
        };
        if let Err(errno) = attach(msg, &trees, &fds[..nfds]) {
            fail(errno);
        }
        let mut rest = &msg[env];
        while !rest.is_empty() {
            let w = libc::write(spec_w, rest.as_ptr().cast(), rest.len());
            if w < 0 {
                if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                fail(
                    io::Error::last_os_error()
                        .raw_os_error()
                        .unwrap_or(libc::EIO),
                );
            }
            rest = &rest[w as usize..];
        }
        libc::close(spec_w);
        let ok: i32 = 0;
        libc::send(p.hold, (&ok as *const i32).cast(), 4, libc::MSG_NOSIGNAL);
        libc::close(p.hold);
    }
}

/// Most arguments and variables a prepared environment's runtime is
/// started with (the API's 4 KB of variables stay far below).
const DEFERRED_ARGS: usize = 64;
const DEFERRED_VARS: usize = 1024;

/// The waiting runtime's own stack (it shares the init's memory until it
/// execs): its specialization buffer and argument arrays (≈ 70 KB) and
/// the calls it makes, with room to spare.
const WAITING_STACK: usize = 256 * 1024;

/// A prepared init (no program yet, see `prewarm`) starts its runtime
/// ahead and is the ordinary init at once ([`init_loop`], which closes its
/// copies of the control socket and of the launch's report pipe); the
/// runtime waits for its function and specializes itself
/// ([`waiting_runtime`]). Returns only on a failure before the clone.
///
/// The runtime is cloned with `CLONE_VM`, on a stack of its own: it runs
/// in the init's memory (reading the prepared launch, writing only its
/// stack) until it execs. A forked copy had page tables of its own — the
/// zygote's ≈ 3 MB, relocated data of the server's binary included — and
/// its `execve` spent about half of its 0.3–1 ms tearing them down on the
/// cold start's path (bpftrace, 10 cold starts; on-CPU stacks of 20); an exec that leaves a
/// shared address space only drops a reference to it. It shares nothing
/// else: its own descriptor table, working directory, signal handlers,
/// credentials and seccomp filter. Both see one `errno` (one thread
/// pointer) until the exec, which is why [`init_loop`] reads `errno` only
/// to tell `ECHILD`, which the runtime never causes. The stack pages the
/// runtime wrote (its buffers, under 100 KB) stay with the init; an idle
/// environment of the minimal echo measured 488 KiB private dirty after
/// this, 520 KiB before (the fork's copied pages are gone instead).
#[allow(unsafe_code)]
unsafe fn deferred(p: &Prepared) -> io::Result<()> {
    // SAFETY: an anonymous mapping for the runtime's stack (never
    // unmapped: the init does not know when the runtime stops using it,
    // and it ends with the init); clone with CLONE_VM runs `waiting_entry`
    // on it with `p`, which outlives both (the init never returns from
    // `init_loop`, and `p` lives in its frame's caller). The init then
    // only closes descriptors, waits and exits (`init_loop`).
    unsafe {
        // A guard page below it: an overflow faults instead of writing
        // into the init's memory beneath.
        let page = usize::try_from(libc::sysconf(libc::_SC_PAGESIZE)).unwrap_or(64 * 1024);
        let stack = libc::mmap(
            std::ptr::null_mut(),
            page + WAITING_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        );
        if stack == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        check(libc::mprotect(stack, page, libc::PROT_NONE))?;
        let top = stack.cast::<u8>().add(page + WAITING_STACK).cast();
        let runtime = libc::clone(
            waiting_entry,
            top,
            libc::CLONE_VM | libc::SIGCHLD,
            (p as *const Prepared).cast_mut().cast(),
        );
        check(runtime)?;
        init_loop(runtime)
    }
}

/// The waiting runtime's entry on its own stack; `arg` is the `Prepared`.
extern "C" fn waiting_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `deferred` passes its `&Prepared`, alive until the init
    // exits (which kills this process first: it is PID 1).
    #[allow(unsafe_code)]
    unsafe {
        waiting_runtime(&*arg.cast::<Prepared>())
    }
}

/// A prepared sandbox's runtime, started before its function is known
/// (nothing of it depends on the function): closes its copy of the
/// launch's report pipe (the environment is prepared) and waits on
/// `p.hold` for its function — the trees as for [`hold`], then a `u32`
/// argument count, the arguments (argv[0] is the program) and the
/// environment, each NUL-terminated. It attaches the trees (it is still
/// root in the environment's namespaces), drops to the unprivileged user
/// with `no_new_privs` and the seccomp filter, enters `/var/task` and
/// execs the program, as a launch's runtime would. The `execve` closes the
/// socket (close-on-exec; the init closed its copy): end of file tells the
/// server it exec'd; a failure anywhere is answered as its errno before
/// it exits 127. Stack buffers only.
#[allow(unsafe_code)]
unsafe fn waiting_runtime(p: &Prepared) -> ! {
    // SAFETY: raw system calls on descriptors of this process and stack
    // buffers that outlive every pointer taken into them.
    unsafe {
        close_all_but(&[p.hold]);
        // For `ps` on the host until it execs.
        libc::prctl(libc::PR_SET_NAME, c"ignis-waiting".as_ptr());
        let mut buf = [0u8; HOLD_MESSAGE];
        let mut fds = [-1; HOLD_TREES];
        let fail = |errno: libc::c_int| -> ! {
            libc::send(p.hold, (&errno as *const i32).cast(), 4, libc::MSG_NOSIGNAL);
            libc::_exit(127)
        };
        let (n, nfds) = match recv_hold(p.hold, &mut buf, &mut fds) {
            Ok(Some(got)) => got,
            // The server let go of it.
            Ok(None) => libc::_exit(1),
            Err(e) => fail(e.raw_os_error().unwrap_or(libc::EIO)),
        };
        // NUL-terminated in place: the pointers below point into `buf`.
        let msg = &mut buf[..n];
        let Some((trees, rest)) = split_hold(msg, nfds) else {
            fail(libc::EBADMSG)
        };
        let mut argv = [std::ptr::null::<libc::c_char>(); DEFERRED_ARGS + 1];
        let mut envp = [std::ptr::null::<libc::c_char>(); DEFERRED_VARS + 1];
        if !split_exec(msg, rest, &mut argv, &mut envp) {
            fail(libc::E2BIG);
        }
        if let Err(errno) = attach(msg, &trees, &fds[..nfds]) {
            fail(errno);
        }
        if let Err(e) = drop_privileges(p) {
            fail(e.raw_os_error().unwrap_or(libc::EIO));
        }
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
        libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
        fail(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }
}

/// The arguments and environment of a prepared init's packet (`rest`, its
/// range of `msg`): a `u32` count, then that many NUL-terminated
/// arguments, then NUL-terminated variables to the end; pointers into
/// `msg`, each array ended by a null pointer. `false` when malformed or
/// too many. No allocation.
pub(super) fn split_exec(
    msg: &[u8],
    rest: std::ops::Range<usize>,
    argv: &mut [*const libc::c_char],
    envp: &mut [*const libc::c_char],
) -> bool {
    let Some(count) = msg.get(rest.start..rest.start + 4) else {
        return false;
    };
    let argc = u32::from_ne_bytes([count[0], count[1], count[2], count[3]]) as usize;
    if argc == 0 || argc >= argv.len() {
        return false;
    }
    let (mut at, mut n_args, mut n_vars) = (rest.start + 4, 0, 0);
    while at < rest.end {
        let Some(len) = msg[at..rest.end].iter().position(|&b| b == 0) else {
            return false;
        };
        let ptr = msg[at..].as_ptr().cast::<libc::c_char>();
        if n_args < argc {
            argv[n_args] = ptr;
            n_args += 1;
        } else if n_vars + 1 < envp.len() {
            envp[n_vars] = ptr;
            n_vars += 1;
        } else {
            return false;
        }
        at += len + 1;
    }
    argv[n_args] = std::ptr::null();
    envp[n_vars] = std::ptr::null();
    n_args == argc
}

/// Attaches each tree (`fds[i]`, a detached mount) at its path (`trees[i]`,
/// a NUL-terminated range of `msg`) and closes it; the errno of the first
/// that fails.
#[allow(unsafe_code)]
unsafe fn attach(
    msg: &[u8],
    trees: &[std::ops::Range<usize>; HOLD_TREES],
    fds: &[libc::c_int],
) -> Result<(), libc::c_int> {
    for (fd, range) in fds.iter().zip(trees) {
        let at = msg[range.clone()].as_ptr().cast::<libc::c_char>();
        // SAFETY: move_mount of a descriptor we received onto a path
        // NUL-terminated inside `msg`; close of that descriptor.
        unsafe {
            let r = libc::syscall(
                libc::SYS_move_mount,
                *fd,
                c"".as_ptr(),
                libc::AT_FDCWD,
                at,
                MOVE_MOUNT_F_EMPTY_PATH,
            );
            if r < 0 {
                return Err(io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO));
            }
            libc::close(*fd);
        }
    }
    Ok(())
}

/// Receives one specialization packet and its descriptors into `fds`:
/// `Ok(None)` at the end of the stream.
#[allow(unsafe_code)]
unsafe fn recv_hold(
    sock: libc::c_int,
    buf: &mut [u8],
    fds: &mut [libc::c_int; HOLD_TREES],
) -> io::Result<Option<(usize, usize)>> {
    // Room for HOLD_TREES descriptors (CMSG_SPACE of 16 bytes is 32).
    let mut control = [0u64; 8];
    loop {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; zeroed is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: the buffers outlive the call; the kernel writes within
        // the lengths given.
        let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(None);
        }
        if msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        }
        let mut count = 0;
        // SAFETY: walking the control buffer the kernel filled, with the
        // kernel's own macros.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
                    let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    for i in 0..len / 4 {
                        let fd = std::ptr::read_unaligned(data.add(i));
                        if count < HOLD_TREES {
                            fds[count] = fd;
                            count += 1;
                        } else {
                            libc::close(fd);
                        }
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        return Ok(Some((n as usize, count)));
    }
}

/// The trees' paths (NUL-terminated C strings, as ranges of `msg`) and
/// the environment's range of a specialization packet with `nfds`
/// descriptors; `None` when malformed (the counts disagree, a path is not
/// terminated). No allocation.
pub(super) fn split_hold(
    msg: &[u8],
    nfds: usize,
) -> Option<([std::ops::Range<usize>; HOLD_TREES], std::ops::Range<usize>)> {
    let word = |at: usize| -> Option<usize> {
        let b = msg.get(at..at + 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = word(0)?;
    if count != nfds || count > HOLD_TREES {
        return None;
    }
    let mut trees = [0..0, 0..0, 0..0, 0..0];
    let mut at = 4;
    for tree in trees.iter_mut().take(count) {
        let len = word(at)?;
        let path = at + 4..at + 4 + len;
        if len == 0 || msg.get(path.end - 1) != Some(&0) {
            return None;
        }
        at = path.end;
        *tree = path;
    }
    Some((trees, at..msg.len()))
}

/// Closes every descriptor from 3 up but those in `keep` (at most four).
#[allow(unsafe_code)]
unsafe fn close_all_but(keep: &[libc::c_int]) {
    let mut kept = [u32::MAX; 4];
    for (slot, fd) in kept.iter_mut().zip(keep) {
        *slot = *fd as u32;
    }
    kept.sort_unstable();
    let mut first = 3u32;
    // SAFETY: close_range on descriptor numbers; the kept ones are ours.
    unsafe {
        for fd in kept {
            if fd > first {
                libc::syscall(libc::SYS_close_range, first, fd - 1, 0u32);
            }
            if fd == u32::MAX {
                return;
            }
            first = first.max(fd + 1);
        }
        libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32);
    }
}

/// The init's part of the file system: the environment's trees attached
/// and its own file systems mounted in its copy of the template.
#[allow(unsafe_code)]
unsafe fn mount_own(p: &Prepared) -> io::Result<()> {
    // SAFETY: move_mount and the mount calls of `apply` on prepared
    // descriptors and C strings; they change only this process's (new)
    // mount namespace.
    unsafe {
        for (tree, at) in &p.trees {
            check(libc::syscall(
                libc::SYS_move_mount,
                tree.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                at.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            ) as libc::c_int)?;
        }
        for step in &p.steps {
            apply(step)?;
        }
        check(libc::sethostname(HOSTNAME.as_ptr().cast(), HOSTNAME.len()))
    }
}

/// The root template's builder, a fork of the server: a mount namespace
/// of its own, the plan executed in it, pivoted into and made read-only.
/// Reports 0 or the failing call's errno on `report` and, on success,
/// waits to be killed (the server opens its namespace first).
#[allow(unsafe_code)]
pub fn build_template(steps: &[Step], new_root: &CStr, report: libc::c_int) -> ! {
    // SAFETY: we are in the forked child; raw system calls on data
    // prepared before the fork, then only write, pause and _exit.
    unsafe {
        let result = (|| -> io::Result<()> {
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            for step in steps {
                apply(step)?;
            }
            check(libc::chdir(new_root.as_ptr()))?;
            check(
                libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as libc::c_int,
            )?;
            check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
            check(libc::chdir(c"/".as_ptr()))?;
            set_attr(
                c"/",
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                0,
            )?;
            // The /dev tmpfs is shared by every environment's copy: read
            // only (the device nodes are mounts of their own and stay
            // usable; each environment mounts its own /dev/shm on it).
            set_attr(c"/dev", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0)
        })();
        let code: i32 = match result {
            Ok(()) => 0,
            Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
        };
        libc::write(report, (&code as *const i32).cast(), 4);
        if code != 0 {
            libc::_exit(1);
        }
        loop {
            libc::pause();
        }
    }
}

#[allow(unsafe_code)]
unsafe fn set_attr(path: &CStr, attrs: u64, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: as `set_attr_at`, relative to the working directory.
    unsafe { set_attr_at(libc::AT_FDCWD, path, attrs, flags) }
}

/// `mount_setattr(2)`: sets `attrs` on the mount at `path` relative to
/// `dirfd` (the mount `dirfd` itself with `AT_EMPTY_PATH` and `c""`).
#[allow(unsafe_code)]
pub(super) unsafe fn set_attr_at(
    dirfd: libc::c_int,
    path: &CStr,
    attrs: u64,
    flags: libc::c_uint,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads `attr`, which lives across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(r as libc::c_int)
}

#[allow(unsafe_code)]
unsafe fn apply(step: &Step) -> io::Result<()> {
    let null = std::ptr::null::<libc::c_char>();
    let fs_flags = libc::MS_NOSUID | libc::MS_NODEV;
    // SAFETY: raw file and mount calls on prepared C strings.
    unsafe {
        match step {
            Step::Mkdir(path) => {
                if libc::mkdir(path.as_ptr(), 0o755) < 0
                    && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST)
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            }
            Step::Touch(path) => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                check(fd)?;
                libc::close(fd);
                Ok(())
            }
            Step::Symlink(to, path) => check(libc::symlink(to.as_ptr(), path.as_ptr())),
            Step::Tmpfs(path, opts) => check(libc::mount(
                c"tmpfs".as_ptr(),
                path.as_ptr(),
                c"tmpfs".as_ptr(),
                fs_flags,
                opts.as_ptr().cast(),
            )),
            Step::BindRo(from, to) => {
                check(libc::mount(
                    from.as_ptr(),
                    to.as_ptr(),
                    null,
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
                set_attr(
                    to,
                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                    AT_RECURSIVE,
                )
            }
            Step::Bind(from, to) => check(libc::mount(
                from.as_ptr(),
                to.as_ptr(),
                null,
                libc::MS_BIND,
                std::ptr::null(),
            )),
            Step::Proc(path, opts) => check(libc::mount(
                c"proc".as_ptr(),
                path.as_ptr(),
                c"proc".as_ptr(),
                fs_flags | libc::MS_NOEXEC,
                opts.as_ptr().cast(),
            )),
        }
    }
}

/// The runtime: an unprivileged user without capabilities or a way back,
/// under the seccomp filter, in its working directory.
#[allow(unsafe_code)]
unsafe fn drop_privileges(p: &Prepared) -> io::Result<()> {
    // SAFETY: as in `restrict`; chdir on a C string.
    unsafe {
        restrict(p)?;
        check(libc::chdir(p.workdir.as_ptr()))
    }
}

/// What [`drop_privileges`] does but entering the working directory: the
/// unprivileged user, `no_new_privs` and the seccomp filter.
#[allow(unsafe_code)]
unsafe fn restrict(p: &Prepared) -> io::Result<()> {
    // SAFETY: credential and prctl calls on integers.
    unsafe {
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setresgid(p.gid, p.gid, p.gid))?;
        check(libc::setresuid(p.uid, p.uid, p.uid))?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
    }
    match &p.seccomp {
        Some(filter) => seccomp::install(filter),
        None => Ok(()),
    }
}

//! The root template: the part of every environment's file system that is
//! the same for all of them — the base root's read-only binds, `/dev`, the
//! host interpreter prefixes a runtime needs and the empty mount points —
//! built once in a mount namespace of its own, which the server keeps open
//! (an `nsfs` descriptor keeps a namespace alive with no process in it).
//!
//! A cold start then enters that namespace and unshares a copy of it: the
//! kernel copies a few dozen mounts, with no `pivot_root` and no old root
//! to unmount, and the init only attaches the environment's trees and
//! mounts its `/tmp`, `/dev/shm` and `/proc` (`mounts::env_plan`). The
//! copy's root tmpfs is the template's, shared and read-only: nothing can
//! write to it, so sharing it is invisible to functions.
//!
//! The trees come from the host, whose paths are not visible inside the
//! template: the server clones each with `open_tree(OPEN_TREE_CLONE)` —
//! a detached, read-only copy of the mount — and the init attaches it with
//! `move_mount`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::base_root::BaseEntry;
use super::init;
use super::mounts::{self, TemplateLayout};

const OPEN_TREE_CLONE: libc::c_uint = 1;

/// A built template: its mount namespace, held open.
#[derive(Debug)]
pub struct Template {
    ns: OwnedFd,
}

impl Template {
    /// Builds the template for `base` with the host directories `extra`
    /// bound read-only at their own paths. Blocks for about a millisecond.
    #[allow(unsafe_code)]
    pub fn build(base: &[BaseEntry], extra: &[PathBuf]) -> io::Result<Template> {
        static BUILT: AtomicU64 = AtomicU64::new(0);
        // The template's root tmpfs is mounted here inside the builder's
        // own namespace only, until it pivots into it; the directory is
        // not a mount point on the host at any time.
        let dir = std::env::temp_dir().join(format!(
            "ignis-root-{}-{}",
            std::process::id(),
            BUILT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let steps = mounts::template_plan(&TemplateLayout {
            new_root: &dir,
            base,
            extra,
        });
        let new_root = cstring(&dir);
        let result = (|| {
            let (read, write) = pipe()?;
            // SAFETY: the child runs `init::build_template`, raw system
            // calls on the plan prepared above, and never returns.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid == 0 {
                init::build_template(&steps, &new_root, write.as_raw_fd());
            }
            drop(write);
            let reaped = Builder(pid);
            let mut code = [0u8; 4];
            read_exact(&read, &mut code)?;
            match i32::from_ne_bytes(code) {
                0 => {}
                errno => return Err(io::Error::from_raw_os_error(errno)),
            }
            let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))?;
            drop(reaped);
            Ok(Template { ns: ns.into() })
        })();
        let _ = std::fs::remove_dir(&dir);
        result
    }

    /// A template whose namespace descriptor came from elsewhere (the
    /// zygote receives it with each launch).
    pub fn from_fd(ns: OwnedFd) -> Template {
        Template { ns }
    }

    /// The namespace's descriptor, for `setns` (close-on-exec).
    pub fn ns_fd(&self) -> libc::c_int {
        self.ns.as_raw_fd()
    }
}

/// The builder process: killed and reaped when dropped.
struct Builder(libc::pid_t);

impl Drop for Builder {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: our own child, not yet reaped, so its pid is still its.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            let mut status = 0;
            while libc::waitpid(self.0, &mut status, 0) < 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
        }
    }
}

/// A detached read-only copy of the mount tree at `path` (recursive), to
/// be attached inside an environment (close-on-exec).
#[allow(unsafe_code)]
pub fn read_only_tree(path: &Path) -> io::Result<OwnedFd> {
    let path = cstring(path);
    // SAFETY: open_tree on a C string; the result is a new descriptor we
    // own, or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | init::AT_RECURSIVE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
    // SAFETY: mount_setattr on the detached mount we own.
    unsafe {
        init::set_attr_at(
            tree.as_raw_fd(),
            c"",
            init::MOUNT_ATTR_RDONLY | init::MOUNT_ATTR_NOSUID | init::MOUNT_ATTR_NODEV,
            libc::AT_EMPTY_PATH as libc::c_uint | init::AT_RECURSIVE,
        )?;
    }
    Ok(tree)
}

fn cstring(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("paths hold no NUL bytes")
}

#[allow(unsafe_code)]
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn read_exact(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::from(fd.try_clone()?);
    file.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::other("the root template's builder died"),
        _ => e,
    })
}

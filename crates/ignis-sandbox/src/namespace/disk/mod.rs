//! `/tmp` on disk: each environment's `/tmp` is an ext4 file system of its
//! own on a loop device, sized by its `EphemeralStorage`, so that what a
//! function writes there is storage — bounded by that size (a full `/tmp`
//! answers `ENOSPC`) — and not memory charged to its cgroup, as on Lambda.
//!
//! A disk is made by [`prepare`], off the launch path when it can be (see
//! [`pool`]): a sparse image file in the server's disk directory, sized so
//! that the file system's free space is the asked size
//! ([`image_blocks`]), holding a copy of the file system `mkfs.ext4`
//! formatted once for that size ([`template`]: no journal, no reserved
//! blocks, inode tables initialised lazily and never by the kernel; a
//! UUID of its own), attached to a loop device with direct I/O
//! ([`loopdev`]), mounted with the new mount API as a *detached* mount
//! (`fsopen` + `fsmount`: it never appears in the host's mount table),
//! its root made `1777` and emptied of `lost+found`, and the image file
//! unlinked at once: the loop device holds it open, so its blocks are
//! freed when the device detaches itself, and a server that dies leaves
//! neither file nor device (only a file whose preparation it was in the
//! middle of, which [`sweep`] removes at the next start).
//!
//! The launch hands the detached mount to the environment's init, which
//! attaches it at `/tmp` (`move_mount`); the server keeps a descriptor of
//! the file system's root ([`Disk`]) until the environment has ended, then
//! drops it on a background thread: the file system is unmounted there
//! (writing back what is still dirty, into the unlinked file) and the
//! loop device detaches itself.

pub mod loopdev;
pub mod pool;
pub mod template;

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use pool::TmpDisks;
pub use template::{Template, TemplateError};

/// Block size of the file systems (and of the loop devices).
const BLOCK: u64 = loopdev::BLOCK_SIZE as u64;
/// Blocks per ext4 block group at 4 KB blocks.
const GROUP_BLOCKS: u64 = 32_768;
/// Blocks of metadata per block group: 512 of inode table (one 256-byte
/// inode per 16 KB, `mke2fs.conf`'s default ratio) and two bitmaps.
const GROUP_METADATA: u64 = 514;
/// Extra room for the superblock copies and group descriptors, the root
/// directory and rounding: 2 MB.
const SLACK_BLOCKS: u64 = 512;
/// Name suffix of the image files.
const IMAGE_SUFFIX: &str = ".img";

/// Why a disk could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// `mkfs.ext4` (e2fsprogs) is not installed.
    #[error("failed to find mkfs.ext4 (install e2fsprogs)")]
    NoMkfs,
    /// The image file could not be created or sized.
    #[error("failed to create the image {}: {source}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `mkfs.ext4` failed.
    #[error("failed to format the image with mkfs.ext4: {0}")]
    Format(String),
    /// The formatted image cannot be copied.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// No loop device could be attached.
    #[error("failed to attach a loop device: {0}")]
    Attach(#[source] io::Error),
    /// The file system could not be mounted or prepared.
    #[error("failed to mount the file system: {0}")]
    Mount(#[source] io::Error),
    /// The refill or reaper thread could not start.
    #[error("failed to start the /tmp disks' threads: {0}")]
    Thread(#[source] io::Error),
}

/// One environment's `/tmp` file system, mounted but not attached
/// anywhere until the init attaches [`Disk::take_mount`] at `/tmp`. Its
/// root descriptor keeps it alive; dropping the disk after the
/// environment has ended unmounts it and detaches its loop device
/// (blocking for the unmount's write-back and the device's teardown: drop
/// it off the async threads, see [`TmpDisks::release`]).
#[derive(Debug)]
pub struct Disk {
    mount: Option<OwnedFd>,
    _root: OwnedFd,
    mb: u32,
    loop_number: u32,
    direct_io: bool,
}

impl Disk {
    /// The detached mount, for the init to attach (once).
    pub fn take_mount(&mut self) -> Option<OwnedFd> {
        self.mount.take()
    }

    /// Its size, MB.
    pub fn mb(&self) -> u32 {
        self.mb
    }

    /// Its loop device's number.
    pub fn loop_number(&self) -> u32 {
        self.loop_number
    }

    /// Whether its loop device does direct I/O.
    pub fn direct_io(&self) -> bool {
        self.direct_io
    }
}

/// Blocks of the image for a file system with `mb` MB free: the asked
/// blocks, the block groups' metadata on top (ext4 counts it out of the
/// size `df` shows) and the kernel's reserve ([`reserve_blocks`]), plus
/// [`SLACK_BLOCKS`]. Measured (`df` of a fresh file system): 512 MB →
/// 100.37 % of the asked size free, 2,048 MB → 100.09 %, 10,240 MB →
/// 100.01 %.
pub fn image_blocks(mb: u32) -> u64 {
    let blocks = u64::from(mb.max(1)) * (1 << 20) / BLOCK;
    let groups_room = (blocks * GROUP_BLOCKS).div_ceil(GROUP_BLOCKS - GROUP_METADATA);
    groups_room + reserve_blocks(mb) + SLACK_BLOCKS
}

/// Blocks ext4 keeps back from ordinary writes for its own needs
/// (converting extents on a full file system): 1/512 of the size, where
/// the kernel's default is 2 % up to 16 MB (set through `sysfs` after
/// mounting).
pub fn reserve_blocks(mb: u32) -> u64 {
    u64::from(mb.max(1)) * (1 << 20) / BLOCK / 512
}

/// `mkfs.ext4`, on `PATH` or in the usual `sbin` directories (a `sudo`
/// `PATH` may lack them).
pub fn find_mkfs() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("mkfs.ext4"))
        .find(|p| p.is_file())
}

/// Removes the image files in `dir` (one server's disk directory) left by
/// a server that died while preparing one; returns how many.
pub fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(IMAGE_SUFFIX))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Formats the template of `mb` MB disks: image `name` in `dir`,
/// formatted by `mkfs`, mounted once to make its root what a new `/tmp`
/// is (mode `1777`, no `lost+found`), unmounted, its written blocks read
/// and the file removed.
pub fn make_template(dir: &Path, name: &str, mkfs: &Path, mb: u32) -> Result<Template, DiskError> {
    let path = dir.join(format!("{name}{IMAGE_SUFFIX}"));
    let file = new_image(&path, image_blocks(mb) * BLOCK)?;
    let made = format(mkfs, &path).and_then(|()| {
        let device = loopdev::attach(&file).map_err(DiskError::Attach)?;
        let mount = mount_ext4(device.path()).map_err(DiskError::Mount)?;
        let number = device.number();
        drop(device);
        let root = open_root(&mount).map_err(DiskError::Mount)?;
        make_tmp_root(&root).map_err(DiskError::Mount)?;
        // Closing the last reference unmounts it, writing everything back
        // through the loop device, which then detaches itself. Ours is not
        // always the last: a process forked meanwhile holds a copy of the
        // mount's descriptor until it execs. The image is read once the
        // device let go of it, not before (a template read earlier has
        // mkfs's root, mode 755: every disk made from it refuses the
        // function's user its /tmp).
        drop(root);
        drop(mount);
        released(number, &path).map_err(DiskError::Mount)?;
        Template::read(&file).map_err(DiskError::Template)
    });
    let _ = std::fs::remove_file(&path);
    made
}

/// Waits (at most 10 s) until loop device `number` is no longer attached
/// to the image at `path`: its file system is unmounted and written back.
fn released(number: u32, path: &Path) -> io::Result<()> {
    let backing = format!("/sys/block/loop{number}/loop/backing_file");
    // The kernel names it by its absolute path, symbolic links resolved.
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let ours = path.as_os_str().as_encoded_bytes();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read(&backing).is_ok_and(|b| b.trim_ascii_end() == ours) {
        if std::time::Instant::now() >= until {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("loop{number} still holds the template image after its unmount"),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Ok(())
}

/// A new sparse file of `len` bytes at `path`, open read-write.
fn new_image(path: &Path, len: u64) -> Result<std::fs::File, DiskError> {
    let image = |source| DiskError::Image {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(image)?;
    match file.set_len(len) {
        Ok(()) => Ok(file),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(image(e))
        }
    }
}

/// Makes a disk of `mb` MB from `template` (of that size): an empty
/// sparse image `name` in `dir`, attached to a loop device, the template
/// written to the device (into its page cache: the mount then reads it
/// from memory, and write-back puts it in the image later), the image
/// unlinked, the file system mounted (detached).
pub fn prepare(dir: &Path, name: &str, template: &Template, mb: u32) -> Result<Disk, DiskError> {
    let path = dir.join(format!("{name}{IMAGE_SUFFIX}"));
    let file = new_image(&path, template.image_len())?;
    let attached = loopdev::attach(&file).map_err(DiskError::Attach);
    // The device holds the file now (or nothing does): no name is needed.
    let _ = std::fs::remove_file(&path);
    let device = attached?;
    template
        .write_into(device.device())
        .map_err(|source| DiskError::Image { path, source })?;
    let mount = mount_ext4(device.path()).map_err(DiskError::Mount)?;
    // The mount holds the device now; ours may close.
    let (loop_number, direct_io) = (device.number(), device.direct_io());
    drop(device);
    let root = open_root(&mount).map_err(DiskError::Mount)?;
    set_reserve(loop_number, reserve_blocks(mb));
    Ok(Disk {
        mount: Some(mount),
        _root: root,
        mb,
        loop_number,
        direct_io,
    })
}

/// `mkfs.ext4` on the image: 4 KB blocks, no journal (the file system
/// does not outlive the environment), no reserved blocks for root, no
/// room kept for growing, metadata checksums seeded from the superblock
/// (so that a copy's UUID can change, see [`template`]), inode tables
/// left for lazy initialisation (the mount's `noinit_itable` keeps the
/// kernel from zeroing them later), no discard of the (sparse) image.
fn format(mkfs: &Path, image: &Path) -> Result<(), DiskError> {
    let out = std::process::Command::new(mkfs)
        .args(["-q", "-F", "-m", "0", "-b", "4096"])
        .args([
            "-O",
            "^has_journal,^resize_inode,metadata_csum,metadata_csum_seed",
        ])
        .args(["-E", "lazy_itable_init=1,nodiscard,root_owner=0:0"])
        .arg(image)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| DiskError::Format(e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    Err(DiskError::Format(format!(
        "{}: {}",
        out.status,
        said.trim()
    )))
}

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

fn check(r: libc::c_long) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as libc::c_int)
    }
}

/// A new ext4 superblock on `device`, as a detached mount (`nosuid`,
/// `nodev`, as the tmpfs it replaces).
#[allow(unsafe_code)]
fn mount_ext4(device: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: fsopen on a static name; the result is a new descriptor we
    // own, or -1.
    let fs = check(unsafe { libc::syscall(libc::SYS_fsopen, c"ext4".as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: a fresh descriptor nobody else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(fs) };
    let config = |cmd: libc::c_uint, key: Option<&CStr>, value: Option<&CStr>| {
        let ptr = |c: Option<&CStr>| c.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: fsconfig on our descriptor with NUL-terminated strings
        // (or none), which outlive the call.
        check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                cmd,
                ptr(key),
                ptr(value),
                0,
            )
        })
    };
    config(FSCONFIG_SET_STRING, Some(c"source"), Some(device))?;
    config(FSCONFIG_SET_FLAG, Some(c"noinit_itable"), None)?;
    config(FSCONFIG_CMD_CREATE, None, None)?;
    let attrs = super::init::MOUNT_ATTR_NOSUID | super::init::MOUNT_ATTR_NODEV;
    // SAFETY: fsmount on the configured context; the result is a new
    // descriptor we own, or -1.
    let mount = check(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attrs as libc::c_uint,
        )
    })?;
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(mount) })
}

/// The file system's root directory, open.
#[allow(unsafe_code)]
fn open_root(mount: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: openat relative to our mount descriptor; the result is a
    // new descriptor we own, or -1.
    let root = check(
        unsafe {
            libc::openat(
                mount.as_raw_fd(),
                c".".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        }
        .into(),
    )?;
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(root) })
}

/// Makes a new file system's root what a new `/tmp` is: mode `1777` (as a
/// tmpfs `/tmp`), owner root (`mkfs`'s `root_owner`), and empty (no
/// `lost+found`).
#[allow(unsafe_code)]
fn make_tmp_root(root: &OwnedFd) -> io::Result<()> {
    // SAFETY: fchmod and unlinkat on our descriptor and a static name.
    unsafe {
        check(libc::fchmod(root.as_raw_fd(), 0o1777).into())?;
        let r = libc::unlinkat(root.as_raw_fd(), c"lost+found".as_ptr(), libc::AT_REMOVEDIR);
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sets the file system's reserve (see [`reserve_blocks`]); the kernel's
/// default stays if that fails.
fn set_reserve(loop_number: u32, blocks: u64) {
    let at = format!("/sys/fs/ext4/loop{loop_number}/reserved_clusters");
    if let Err(e) = std::fs::write(&at, blocks.to_string()) {
        tracing::debug!(error = %e, path = at, "could not set a /tmp disk's reserve");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_hold_the_asked_size_plus_metadata_reserve_and_slack() {
        // 512 MB = 131,072 blocks; 1/62.75 of metadata on top.
        assert_eq!(image_blocks(512), 133_161 + 256 + 512);
        for mb in [512u32, 2048, 10_240] {
            let asked = u64::from(mb) * 256;
            let image = image_blocks(mb);
            let over = (image - asked) as f64 / asked as f64;
            assert!(over > 0.0159 && over < 0.024, "{mb} MB: {over}");
        }
        assert_eq!(reserve_blocks(10_240), 5_120);
        assert!(image_blocks(0) > 0);
    }

    #[test]
    fn sweep_removes_only_image_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("1-0.img"), "").unwrap();
        std::fs::write(d.path().join("2-3.img"), "").unwrap();
        std::fs::write(d.path().join("notes.txt"), "").unwrap();
        assert_eq!(sweep(d.path()), 2);
        assert_eq!(sweep(d.path()), 0);
        assert!(d.path().join("notes.txt").exists());
        assert_eq!(sweep(&d.path().join("missing")), 0);
    }
}

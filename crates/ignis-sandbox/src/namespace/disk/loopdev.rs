//! Loop devices, attached with the kernel's ioctls rather than by running
//! `losetup`: a free device from `/dev/loop-control`
//! (`LOOP_CTL_GET_FREE`), configured in one call (`LOOP_CONFIGURE`,
//! kernels ≥ 5.8) with the backing file, a 4 KB logical block size and
//! the flags
//!
//! - `LO_FLAGS_DIRECT_IO`: the device reads and writes the backing file
//!   with direct I/O, so a block is cached once (in the page cache of the
//!   file system on the device), not a second time as the backing file's
//!   pages; the kernel drops the flag when the backing file system cannot
//!   do it, which [`LoopDevice::direct_io`] reports;
//! - `LO_FLAGS_AUTOCLEAR`: the device detaches itself when its last user
//!   closes it — the file system mounted on it, once unmounted — so a
//!   server that dies leaves no device behind.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
const LO_FLAGS_DIRECT_IO: u32 = 16;
/// The device's logical block size: the file system's block size, and at
/// least the backing file system's, so direct I/O is possible.
pub const BLOCK_SIZE: u32 = 4096;
/// Tries before giving up when other processes keep taking the free
/// device first.
const TRIES: usize = 16;

/// `struct loop_info64` of `<linux/loop.h>`.
#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    sizelimit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

/// `struct loop_config` of `<linux/loop.h>`.
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

fn blank_info() -> LoopInfo64 {
    LoopInfo64 {
        device: 0,
        inode: 0,
        rdevice: 0,
        offset: 0,
        sizelimit: 0,
        number: 0,
        encrypt_type: 0,
        encrypt_key_size: 0,
        flags: 0,
        file_name: [0; 64],
        crypt_name: [0; 64],
        encrypt_key: [0; 32],
        init: [0; 2],
    }
}

/// An attached loop device, open. It detaches itself once nothing holds
/// it open any more (`LO_FLAGS_AUTOCLEAR`): mount it before dropping this.
#[derive(Debug)]
pub struct LoopDevice {
    number: u32,
    path: CString,
    direct_io: bool,
    device: std::fs::File,
}

impl LoopDevice {
    /// Its number (`/dev/loop<N>`).
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Its device node, `/dev/loop<N>`.
    pub fn path(&self) -> &CString {
        &self.path
    }

    /// Whether the kernel kept direct I/O on.
    pub fn direct_io(&self) -> bool {
        self.direct_io
    }

    /// The device, open read-write: what is written to it goes to the
    /// block device's page cache, where a file system mounted on it reads
    /// its blocks, and reaches the backing file on write-back.
    pub fn device(&self) -> &std::fs::File {
        &self.device
    }
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

#[allow(unsafe_code)]
fn open(path: &CString) -> io::Result<OwnedFd> {
    // SAFETY: open on a NUL-terminated path; the result is a new
    // descriptor we own, or -1.
    let fd = check(unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attaches `backing` (open read-write) to a free loop device.
#[allow(unsafe_code)]
pub fn attach(backing: &std::fs::File) -> io::Result<LoopDevice> {
    let control = open(&CString::from(c"/dev/loop-control"))?;
    let mut last = io::Error::other("no free loop device");
    for _ in 0..TRIES {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a number.
        let number = check(unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) })?;
        let path = CString::new(format!("/dev/loop{number}")).expect("no NUL bytes");
        let device = match open(&path) {
            Ok(fd) => fd,
            // The node may not be there yet, or taken and removed again.
            Err(e) => {
                last = e;
                continue;
            }
        };
        let mut info = blank_info();
        info.flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
        let config = LoopConfig {
            fd: backing.as_raw_fd() as u32,
            block_size: BLOCK_SIZE,
            info,
            reserved: [0; 8],
        };
        // SAFETY: LOOP_CONFIGURE reads one `struct loop_config`, which
        // lives across the call; the backing descriptor is open.
        let r = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_CONFIGURE, &config) };
        if r < 0 {
            last = io::Error::last_os_error();
            // Another process configured it between our two calls.
            if last.raw_os_error() == Some(libc::EBUSY) {
                continue;
            }
            return Err(last);
        }
        let mut status = blank_info();
        // SAFETY: LOOP_GET_STATUS64 writes one `struct loop_info64`.
        let r = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_GET_STATUS64, &mut status) };
        let direct_io = r == 0 && status.flags & LO_FLAGS_DIRECT_IO != 0;
        return Ok(LoopDevice {
            number: number as u32,
            path,
            direct_io,
            device: device.into(),
        });
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_structures_have_the_kernel_s_layout() {
        // <linux/loop.h>: loop_info64 is 232 bytes, loop_config 304.
        assert_eq!(std::mem::size_of::<LoopInfo64>(), 232);
        assert_eq!(std::mem::size_of::<LoopConfig>(), 304);
    }
}

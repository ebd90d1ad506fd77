//! Cheap cgroup moves: the `favordynmods` option of the cgroup2 hierarchy.
//!
//! Every environment's init joins its cgroups by writing to
//! `cgroup.procs`. The kernel guards such moves with a per-CPU rw-semaphore
//! whose writer waits for an RCU grace period unless moves come in quick
//! succession: 10–30 ms per cold start on these machines (`HZ=250`), more
//! than everything else the sandbox does. `favordynmods`, a mount option of
//! the cgroup2 hierarchy that applies to the semaphore of every hierarchy
//! (v1 included), keeps that semaphore on its slow reader path instead, so a
//! move costs microseconds; forks and exits pay a few atomic operations.
//! [`favor_dynamic_cgroups`] turns it on for the host (the option stays
//! until the hierarchy is remounted), keeping the hierarchy's other options.

use std::ffi::CString;
use std::io;
use std::path::PathBuf;

/// The option.
pub const OPTION: &str = "favordynmods";

/// What [`favor_dynamic_cgroups`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynMods {
    /// The cgroup2 hierarchy already had the option.
    AlreadyOn,
    /// Ignis turned it on for the hierarchy mounted here.
    Enabled(PathBuf),
    /// No cgroup2 hierarchy is mounted: cgroup moves stay slow.
    NoCgroup2,
}

/// The first cgroup2 mount in `mountinfo` (`/proc/self/mountinfo`): its
/// mount point and its super options.
pub fn cgroup2_mount(mountinfo: &str) -> Option<(PathBuf, Vec<String>)> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mut fs = fs.split(' ');
        if fs.next()? != "cgroup2" {
            return None;
        }
        let point = mount.split(' ').nth(4)?;
        let options = fs.nth(1).unwrap_or_default();
        Some((
            PathBuf::from(unescape(point)),
            options.split(',').map(str::to_string).collect(),
        ))
    })
}

/// The flags to reconfigure the hierarchy with: its cgroup options (not
/// `rw`/`ro`, which belong to the superblock) plus [`OPTION`]; `None` when
/// it is already on.
pub fn reconfigure_flags(options: &[String]) -> Option<Vec<String>> {
    if options.iter().any(|o| o == OPTION) {
        return None;
    }
    let mut flags: Vec<String> = options
        .iter()
        .filter(|o| !matches!(o.as_str(), "rw" | "ro" | ""))
        .cloned()
        .collect();
    flags.push(OPTION.to_string());
    Some(flags)
}

/// `\040` (space) and friends in mountinfo paths.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Turns [`OPTION`] on for the host's cgroup2 hierarchy (needs root).
pub fn favor_dynamic_cgroups() -> io::Result<DynMods> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let Some((point, options)) = cgroup2_mount(&mountinfo) else {
        return Ok(DynMods::NoCgroup2);
    };
    let Some(flags) = reconfigure_flags(&options) else {
        return Ok(DynMods::AlreadyOn);
    };
    reconfigure(&point, &flags)?;
    Ok(DynMods::Enabled(point))
}

const FSPICK_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_CMD_RECONFIGURE: libc::c_uint = 7;

/// `fspick` + `fsconfig`: sets `flags` on the superblock mounted at
/// `point` and reconfigures it, leaving the mount's own flags alone.
#[allow(unsafe_code)]
fn reconfigure(point: &std::path::Path, flags: &[String]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let cstr =
        |b: &[u8]| CString::new(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
    let path = cstr(point.as_os_str().as_bytes())?;
    let flags = flags
        .iter()
        .map(|f| cstr(f.as_bytes()))
        .collect::<io::Result<Vec<_>>>()?;
    // SAFETY: fspick reads a NUL-terminated path; the descriptor it returns
    // is owned here and closed below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_fspick,
            libc::AT_FDCWD,
            path.as_ptr(),
            FSPICK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = fd as libc::c_int;
    let config = |cmd: libc::c_uint, key: Option<&CString>| {
        let key = key.map_or(std::ptr::null(), |k| k.as_ptr());
        // SAFETY: fsconfig on our descriptor with a NUL-terminated key (or
        // none) and no value.
        let r =
            unsafe { libc::syscall(libc::SYS_fsconfig, fd, cmd, key, std::ptr::null::<u8>(), 0) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    let result = flags
        .iter()
        .try_for_each(|f| config(FSCONFIG_SET_FLAG, Some(f)))
        .and_then(|()| config(FSCONFIG_CMD_RECONFIGURE, None));
    // SAFETY: closes the descriptor fspick returned, once.
    unsafe { libc::close(fd) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
25 1 0:23 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:24 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 25 0:33 / /sys/fs/cgroup/uni\\040fied rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn finds_the_cgroup2_mount_and_its_super_options() {
        let (point, options) = cgroup2_mount(MOUNTINFO).unwrap();
        assert_eq!(point, PathBuf::from("/sys/fs/cgroup/uni fied"));
        assert_eq!(options, ["rw", "nsdelegate", "memory_recursiveprot"]);
        assert_eq!(
            cgroup2_mount("26 25 0:24 / /x rw - cgroup cgroup rw,cpu\n"),
            None
        );
    }

    #[test]
    fn keeps_the_other_options_and_adds_favordynmods_once() {
        let (_, options) = cgroup2_mount(MOUNTINFO).unwrap();
        assert_eq!(
            reconfigure_flags(&options).unwrap(),
            ["nsdelegate", "memory_recursiveprot", "favordynmods"]
        );
        let on = ["rw".to_string(), "favordynmods".to_string()];
        assert_eq!(reconfigure_flags(&on), None);
        assert_eq!(
            reconfigure_flags(&["rw".to_string()]).unwrap(),
            ["favordynmods"]
        );
    }
}

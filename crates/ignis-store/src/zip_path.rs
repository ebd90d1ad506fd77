//! What an entry's name and a symlink's target may be: names split into
//! safe path components, entry kinds from unix modes, and symlink targets
//! checked both lexically and by resolving them through the unpacked tree.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::code::CodeError;

/// Longest symlink target, bytes (Linux's `PATH_MAX` less the NUL).
pub(crate) const MAX_LINK_TARGET: usize = 4095;
/// Longest path component, bytes (Linux's `NAME_MAX`).
const MAX_COMPONENT: usize = 255;
/// Symlinks followed while checking one link, as the kernel's `ELOOP` limit.
const MAX_LINK_HOPS: usize = 40;

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;

/// What an entry is, from its name and unix mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File { executable: bool },
    Symlink,
}

pub(crate) fn kind_of(name: &[u8], mode: Option<u32>) -> Kind {
    let file_type = mode.map(|m| m & S_IFMT);
    if name.ends_with(b"/") || file_type == Some(S_IFDIR) {
        Kind::Dir
    } else if file_type == Some(S_IFLNK) {
        Kind::Symlink
    } else {
        Kind::File {
            executable: mode.is_some_and(|m| m & 0o111 != 0),
        }
    }
}

/// Splits an entry name into its path components, rejecting every name that
/// could leave the root. `.` and empty components are dropped.
pub(crate) fn components(raw: &[u8]) -> Result<Vec<&[u8]>, CodeError> {
    let name = || String::from_utf8_lossy(raw).into_owned();
    if raw.is_empty() || raw.contains(&0) {
        return Err(CodeError::InvalidName { name: name() });
    }
    if raw.contains(&b'\\') || is_drive_prefix(raw) {
        return Err(CodeError::WindowsPath { name: name() });
    }
    if raw.starts_with(b"/") {
        return Err(CodeError::AbsolutePath { name: name() });
    }
    let mut parts = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(CodeError::ParentDirInPath { name: name() }),
            _ if part.len() > MAX_COMPONENT => return Err(CodeError::InvalidName { name: name() }),
            _ => parts.push(part),
        }
    }
    Ok(parts)
}

/// `C:`, `c:foo`: a Windows drive, absolute or drive-relative.
fn is_drive_prefix(raw: &[u8]) -> bool {
    matches!(raw, [letter, b':', ..] if letter.is_ascii_alphabetic())
}

pub(crate) fn to_path(parts: &[&[u8]]) -> PathBuf {
    parts.iter().map(|p| OsStr::from_bytes(p)).collect()
}

/// Checks a symlink target before creating it: relative, and not climbing
/// above the root when its `..` are resolved from the link's directory.
pub(crate) fn check_link_target(name: &str, depth: usize, target: &[u8]) -> Result<(), CodeError> {
    let lossy = || String::from_utf8_lossy(target).into_owned();
    if target.is_empty() || target.contains(&0) || target.len() > MAX_LINK_TARGET {
        return Err(CodeError::InvalidSymlink {
            name: name.to_string(),
        });
    }
    if target.starts_with(b"/") {
        return Err(CodeError::SymlinkAbsolute {
            name: name.to_string(),
            target: lossy(),
        });
    }
    let mut depth = depth;
    for part in target.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| CodeError::SymlinkEscapes {
                        name: name.to_string(),
                        target: lossy(),
                    })?;
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// Whether resolving the symlink at `link` (components under `root`) would
/// leave `root`. Resolution that fails (missing component, not a directory,
/// too many links) cannot leave it.
pub(crate) fn escapes(root: &Path, link: &[OsString]) -> Result<bool, CodeError> {
    let Some((first, parents)) = link.split_last().map(|(l, p)| (l.clone(), p.to_vec())) else {
        return Ok(false);
    };
    // `dir` is a real directory inside root; `pending` are components left.
    let mut dir: Vec<OsString> = parents;
    let mut pending: Vec<OsString> = vec![first];
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_bytes() {
            b"" | b"." => continue,
            b".." => {
                if dir.pop().is_none() {
                    return Ok(true);
                }
                continue;
            }
            _ => {}
        }
        let path = root.join(dir.iter().collect::<PathBuf>()).join(&part);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(CodeError::io("inspect", &path, source)),
        };
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Ok(false);
            }
            let target =
                fs::read_link(&path).map_err(|source| CodeError::io("read link", &path, source))?;
            if target.is_absolute() {
                return Ok(true);
            }
            // Its components are resolved next, from `dir`, in order.
            let parts = target.as_os_str().as_bytes().split(|b| *b == b'/');
            pending.extend(parts.rev().map(|p| OsStr::from_bytes(p).to_os_string()));
        } else if meta.is_dir() {
            dir.push(part);
        } else {
            // A regular file: the end, or a failing lookup beneath it.
            return Ok(false);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert_eq!(
            components(b"./a//b/./c").unwrap(),
            [b"a" as &[u8], b"b", b"c"]
        );
        assert!(components(b"./").unwrap().is_empty());
        assert!(matches!(
            components(&[b'a'; 256]),
            Err(CodeError::InvalidName { .. })
        ));
        assert_eq!(kind_of(b"d/", None), Kind::Dir);
        assert_eq!(kind_of(b"d", Some(0o040_755)), Kind::Dir);
        assert_eq!(kind_of(b"l", Some(0o120_777)), Kind::Symlink);
        assert_eq!(
            kind_of(b"f", Some(0o100_700)),
            Kind::File { executable: true }
        );
        assert_eq!(kind_of(b"f", None), Kind::File { executable: false });
    }

    fn link_parts(path: &str) -> Vec<OsString> {
        path.split('/').map(OsString::from).collect()
    }

    #[test]
    fn lexical_link_checks() {
        assert!(check_link_target("a/b/l", 2, b"../../x").is_ok());
        assert!(check_link_target("a/b/l", 2, b"./../.././x/..").is_ok());
        let err = check_link_target("a/b/l", 2, b"../../../x").unwrap_err();
        assert!(matches!(err, CodeError::SymlinkEscapes { .. }), "{err}");
        let err = check_link_target("l", 0, b"/etc/passwd").unwrap_err();
        assert!(matches!(err, CodeError::SymlinkAbsolute { .. }), "{err}");
        let long = vec![b'a'; MAX_LINK_TARGET + 1];
        assert!(matches!(
            check_link_target("l", 0, &long),
            Err(CodeError::InvalidSymlink { .. })
        ));
    }

    #[test]
    fn resolution_follows_links_through_the_tree() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("a")).unwrap();
        fs::write(root.join("f"), b"").unwrap();
        symlink(".", root.join("d")).unwrap();
        symlink("d/d/../..", root.join("x")).unwrap();
        symlink("../missing/../..", root.join("a/dangling")).unwrap();
        symlink("f/../..", root.join("through_file")).unwrap();
        symlink("l2", root.join("l1")).unwrap();
        symlink("l1", root.join("l2")).unwrap();
        symlink("../x", root.join("a/via_x")).unwrap();
        symlink("../d/a", root.join("a/inside")).unwrap();

        assert!(!escapes(root, &link_parts("d")).unwrap());
        assert!(escapes(root, &link_parts("x")).unwrap());
        assert!(escapes(root, &link_parts("a/via_x")).unwrap());
        assert!(!escapes(root, &link_parts("a/inside")).unwrap());
        // Lookups that fail in the kernel cannot escape.
        assert!(!escapes(root, &link_parts("a/dangling")).unwrap());
        assert!(!escapes(root, &link_parts("through_file")).unwrap());
        assert!(!escapes(root, &link_parts("l1")).unwrap());
    }
}

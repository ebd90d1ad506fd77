//! A function's `/opt`: the union of its layers' unpacked trees, in order,
//! later layers overwriting earlier files as Lambda extracts them.
//!
//! ```text
//! <data_dir>/opt/<hex>/             the union, keyed by the SHA-256 of the ordered layer digests
//! <data_dir>/opt/.staging-<random>  a union being built, renamed into place when complete
//! ```
//!
//! Files are hard links into `code/<hex>/` (a copy where linking fails), so a
//! union costs directory entries, not space. The unpacked trees were checked
//! for hostile paths and escaping symlinks when they were unpacked; the
//! merge never writes through a symlink (each directory it descends into is
//! one it made or checked), so a relative link that stayed inside one layer
//! stays inside the union.

use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::code::CodeError;

const STAGING_PREFIX: &str = ".staging-";

/// The key of the union of `digests` (layer SHA-256s in order).
pub(crate) fn union_key(digests: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for d in digests {
        hasher.update(d.as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Builds the union of `trees` under `opt_root/<key>` unless present;
/// returns its path.
pub(crate) fn ensure_union(
    opt_root: &Path,
    key: &str,
    trees: &[PathBuf],
) -> Result<PathBuf, CodeError> {
    let union = opt_root.join(key);
    if union.is_dir() {
        return Ok(union);
    }
    fs::create_dir_all(opt_root).map_err(|e| CodeError::io("create directory", opt_root, e))?;
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(opt_root)
        .map_err(|e| CodeError::io("create a staging directory in", opt_root, e))?;
    for tree in trees {
        merge(tree, staging.path())?;
    }
    fs::set_permissions(staging.path(), Permissions::from_mode(0o755))
        .map_err(|e| CodeError::io("set permissions of", staging.path(), e))?;
    match fs::rename(staging.path(), &union) {
        Ok(()) => {
            let _ = staging.keep();
            Ok(union)
        }
        // Built concurrently by another call; ours is dropped.
        Err(_) if union.is_dir() => Ok(union),
        Err(e) => Err(CodeError::io("move the layer union to", &union, e)),
    }
}

/// Removes every union (they are rebuilt on demand); returns how many.
pub(crate) fn remove_all(opt_root: &Path) -> Result<usize, CodeError> {
    let Ok(entries) = fs::read_dir(opt_root) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry
            .map_err(|e| CodeError::io("list", opt_root, e))?
            .path();
        fs::remove_dir_all(&path).map_err(|e| CodeError::io("remove", &path, e))?;
        removed += 1;
    }
    Ok(removed)
}

/// Puts every entry of `src` into `dst`, replacing what is there.
fn merge(src: &Path, dst: &Path) -> Result<(), CodeError> {
    for entry in fs::read_dir(src).map_err(|e| CodeError::io("list", src, e))? {
        let entry = entry.map_err(|e| CodeError::io("list", src, e))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from).map_err(|e| CodeError::io("inspect", &from, e))?;
        let existing = fs::symlink_metadata(&to).ok();
        if meta.is_dir() {
            match existing {
                Some(m) if m.is_dir() => {}
                Some(_) => {
                    remove(&to, false)?;
                    make_dir(&to, &meta)?;
                }
                None => make_dir(&to, &meta)?,
            }
            merge(&from, &to)?;
            continue;
        }
        if let Some(m) = existing {
            remove(&to, m.is_dir())?;
        }
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&from).map_err(|e| CodeError::io("read link", &from, e))?;
            std::os::unix::fs::symlink(&target, &to)
                .map_err(|e| CodeError::io("create symlink", &to, e))?;
        } else if meta.is_file() && fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to).map_err(|e| CodeError::io("copy to", &to, e))?;
        }
    }
    Ok(())
}

fn make_dir(path: &Path, like: &fs::Metadata) -> Result<(), CodeError> {
    fs::create_dir(path).map_err(|e| CodeError::io("create directory", path, e))?;
    fs::set_permissions(
        path,
        Permissions::from_mode(like.permissions().mode() & 0o777 | 0o700),
    )
    .map_err(|e| CodeError::io("set permissions of", path, e))
}

fn remove(path: &Path, is_dir: bool) -> Result<(), CodeError> {
    let result = if is_dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.map_err(|e| CodeError::io("remove", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testzip::{self, Entry};
    use crate::CodeStore;

    #[test]
    fn later_layers_overwrite_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::open(dir.path()).unwrap();
        let first = store
            .put_zip(&testzip::build(&[
                Entry::file("bin/tool", b"one").mode(0o100_755),
                Entry::file("shared.txt", b"first"),
                Entry::file("python/a/__init__.py", b"A = 1"),
                Entry::symlink("link", "shared.txt"),
                Entry::file("was-file", b"x"),
            ]))
            .unwrap();
        let second = store
            .put_zip(&testzip::build(&[
                Entry::file("shared.txt", b"second"),
                Entry::file("python/b/__init__.py", b"B = 2"),
                Entry::file("was-file/now-dir", b"y"),
            ]))
            .unwrap();
        let union = store.ensure_opt(&[first.clone(), second.clone()]).unwrap();
        assert_eq!(fs::read(union.join("shared.txt")).unwrap(), b"second");
        assert_eq!(fs::read(union.join("link")).unwrap(), b"second");
        assert_eq!(fs::read(union.join("bin/tool")).unwrap(), b"one");
        let mode = fs::metadata(union.join("bin/tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(union.join("python/a/__init__.py").is_file());
        assert!(union.join("python/b/__init__.py").is_file());
        assert_eq!(fs::read(union.join("was-file/now-dir")).unwrap(), b"y");
        // The layers' own trees are untouched.
        let tree = store.ensure_unpacked(&first).unwrap();
        assert_eq!(fs::read(tree.join("shared.txt")).unwrap(), b"first");

        // Same list: same directory, built once. Other order: another one.
        assert_eq!(
            store.ensure_opt(&[first.clone(), second.clone()]).unwrap(),
            union
        );
        let reversed = store.ensure_opt(&[second, first]).unwrap();
        assert_ne!(reversed, union);
        assert_eq!(fs::read(reversed.join("shared.txt")).unwrap(), b"first");
        let names: Vec<_> = fs::read_dir(dir.path().join("opt"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| !n.starts_with(STAGING_PREFIX)));

        assert_eq!(remove_all(&dir.path().join("opt")).unwrap(), 2);
    }

    #[test]
    fn keys_depend_on_order() {
        assert_ne!(union_key(&["a", "b"]), union_key(&["b", "a"]));
        assert_ne!(union_key(&["ab"]), union_key(&["a", "b"]));
        assert_eq!(union_key(&["a"]).len(), 64);
    }
}

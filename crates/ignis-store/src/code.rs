//! [`CodeStore`]: function code on disk, content-addressed by the zip's
//! SHA-256.
//!
//! ```text
//! <data_dir>/blobs/<hex>.zip        the uploaded zip, kept for GetFunction and re-unpacking
//! <data_dir>/code/<hex>/            its unpacked tree, what environments run
//! <data_dir>/code/.staging-<random> a tree being unpacked, renamed into place when complete
//! <data_dir>/opt/<hex>/             the union of a list of layers (see `opt.rs`)
//! ```
//!
//! Layer zips are stored exactly like function zips.
//!
//! A tree appears under its final name only once fully and safely unpacked,
//! so a present `code/<hex>` is always complete.

use std::collections::HashSet;
use std::fs::{self, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use ignis_model::function::CodeRef;
use sha2::{Digest, Sha256};
use zip::result::ZipError;

use crate::unzip;
pub use crate::unzip::{UnzipLimits, MAX_ENTRIES};

const BLOBS_DIR: &str = "blobs";
const CODE_DIR: &str = "code";
const OPT_DIR: &str = "opt";
const BLOB_SUFFIX: &str = ".zip";
const STAGING_PREFIX: &str = ".staging-";
const BLOB_TEMP_PREFIX: &str = ".tmp-";
/// Leftovers of an interrupted write older than this are collected.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Lambda's message for an upload that cannot be unzipped.
const UNZIP_FAILED: &str = "Could not unzip uploaded file";

/// Why storing or unpacking code failed. Variants up to [`CodeError::TooLarge`]
/// reject the uploaded zip (see [`CodeError::is_invalid_zip`]); the rest are
/// the node's own failures.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The bytes are not a readable zip.
    #[error("{UNZIP_FAILED}. Please check your file, then try to upload again.")]
    NotAZip {
        /// What the zip reader reported.
        #[source]
        source: ZipError,
    },
    /// An entry is encrypted or uses an unsupported compression method.
    #[error(
        "{UNZIP_FAILED}: entry {name:?} is encrypted or uses an unsupported compression method."
    )]
    UnsupportedEntry {
        /// The entry's name.
        name: String,
        /// What the zip reader reported.
        #[source]
        source: ZipError,
    },
    /// An entry's data does not decompress or fails its checksum.
    #[error("{UNZIP_FAILED}: entry {name:?} is corrupt.")]
    CorruptEntry {
        /// The entry's name.
        name: String,
        /// What decompressing reported.
        #[source]
        source: io::Error,
    },
    /// An entry name is empty, has an overlong component or a NUL byte.
    #[error("{UNZIP_FAILED}: entry name {name:?} is empty, too long or contains a NUL byte.")]
    InvalidName {
        /// The entry's name.
        name: String,
    },
    /// An entry name is an absolute path.
    #[error("{UNZIP_FAILED}: entry {name:?} has an absolute path.")]
    AbsolutePath {
        /// The entry's name.
        name: String,
    },
    /// An entry name has a `..` component.
    #[error("{UNZIP_FAILED}: entry {name:?} has a '..' path component.")]
    ParentDirInPath {
        /// The entry's name.
        name: String,
    },
    /// An entry name has a backslash or a Windows drive letter.
    #[error(
        "{UNZIP_FAILED}: entry {name:?} has a backslash or a drive letter; use '/' separators."
    )]
    WindowsPath {
        /// The entry's name.
        name: String,
    },
    /// Two entries have the same path.
    #[error("{UNZIP_FAILED}: entry {name:?} appears more than once.")]
    DuplicateEntry {
        /// The entry's name.
        name: String,
    },
    /// An entry's path is taken by an entry of another kind (say, a file
    /// where an earlier entry needed a directory).
    #[error("{UNZIP_FAILED}: entry {name:?} collides with {existing:?}, unpacked before it.")]
    PathConflict {
        /// The entry's name.
        name: String,
        /// The path already there.
        existing: String,
    },
    /// An entry would be written through a symlink unpacked before it.
    #[error("{UNZIP_FAILED}: entry {name:?} would be written through the symlink {link:?}.")]
    ThroughSymlink {
        /// The entry's name.
        name: String,
        /// The symlink in its path.
        link: String,
    },
    /// A symlink points to an absolute path.
    #[error("{UNZIP_FAILED}: symlink {name:?} points to the absolute path {target:?}.")]
    SymlinkAbsolute {
        /// The symlink's name.
        name: String,
        /// Its target.
        target: String,
    },
    /// A symlink resolves outside the unpacked code.
    #[error("{UNZIP_FAILED}: symlink {name:?} points outside the function's code ({target:?}).")]
    SymlinkEscapes {
        /// The symlink's name.
        name: String,
        /// Its target.
        target: String,
    },
    /// A symlink's target is empty, overlong or has a NUL byte.
    #[error("{UNZIP_FAILED}: symlink {name:?} has an empty, overlong or invalid target.")]
    InvalidSymlink {
        /// The symlink's name.
        name: String,
    },
    /// The zip holds more entries than allowed.
    #[error("{UNZIP_FAILED}: it holds {count} entries, more than the {max} allowed.")]
    TooManyEntries {
        /// Entries found (counting may stop just past the limit).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The unpacked code would be larger than allowed.
    #[error("Unzipped size must be smaller than {max} bytes")]
    TooLarge {
        /// The limit, bytes.
        max: u64,
    },
    /// A filesystem operation failed.
    #[error("failed to {action} {path}")]
    Io {
        /// What was being done, e.g. `create directory`.
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A code digest given by the caller is not 64 lowercase hex digits.
    #[error("failed to look up code: {digest:?} is not a lowercase hex SHA-256")]
    InvalidDigest {
        /// The digest given.
        digest: String,
    },
    /// No blob is stored for this digest.
    #[error("failed to find the code blob {sha256_hex}")]
    BlobMissing {
        /// The digest.
        sha256_hex: String,
    },
    /// The stored blob no longer matches its digest.
    #[error("failed to verify the code blob {sha256_hex}: its content does not match its digest")]
    BlobCorrupt {
        /// The digest.
        sha256_hex: String,
    },
}

impl CodeError {
    /// Whether the uploaded zip itself was rejected (the caller's fault,
    /// Lambda's `InvalidParameterValueException`), as opposed to a failure
    /// of this node.
    pub fn is_invalid_zip(&self) -> bool {
        !matches!(
            self,
            Self::Io { .. }
                | Self::InvalidDigest { .. }
                | Self::BlobMissing { .. }
                | Self::BlobCorrupt { .. }
        )
    }

    pub(crate) fn not_a_zip(source: ZipError) -> Self {
        Self::NotAZip { source }
    }

    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Content-addressed code under one data directory. Its methods block on
/// the filesystem: call them from `spawn_blocking` in async code.
#[derive(Debug, Clone)]
pub struct CodeStore {
    blobs: PathBuf,
    code: PathBuf,
    opt: PathBuf,
    limits: UnzipLimits,
}

impl CodeStore {
    /// Opens the code store under `data_dir`, creating `blobs/` and `code/`.
    pub fn open(data_dir: &Path) -> Result<Self, CodeError> {
        let blobs = data_dir.join(BLOBS_DIR);
        let code = data_dir.join(CODE_DIR);
        for dir in [&blobs, &code] {
            fs::create_dir_all(dir).map_err(|e| CodeError::io("create directory", dir, e))?;
        }
        Ok(Self {
            blobs,
            code,
            opt: data_dir.join(OPT_DIR),
            limits: UnzipLimits::default(),
        })
    }

    /// Uses `limits` instead of Lambda's when unpacking.
    pub fn with_limits(self, limits: UnzipLimits) -> Self {
        Self { limits, ..self }
    }

    /// Validates `zip`, stores it as `blobs/<hex>.zip`, unpacks it once to
    /// `code/<hex>/` and returns its [`CodeRef`]. Storing the same zip again
    /// unpacks nothing.
    pub fn put_zip(&self, zip: &[u8]) -> Result<CodeRef, CodeError> {
        let digest = Sha256::digest(zip);
        let sha256_hex = to_hex(&digest);
        let tree = self.code.join(&sha256_hex);
        let unzipped_size = if tree.is_dir() {
            tree_size(&tree)?
        } else {
            self.unpack(zip, &tree)?
        };
        self.write_blob(&sha256_hex, zip)?;
        Ok(CodeRef {
            sha256_b64: base64::engine::general_purpose::STANDARD.encode(digest),
            sha256_hex,
            size: zip.len() as u64,
            unzipped_size,
        })
    }

    /// The directory holding `code` unpacked, unpacking it again from its
    /// blob if the tree is gone (say, the cache was cleared).
    pub fn ensure_unpacked(&self, code: &CodeRef) -> Result<PathBuf, CodeError> {
        check_digest(&code.sha256_hex)?;
        let tree = self.code.join(&code.sha256_hex);
        if tree.is_dir() {
            return Ok(tree);
        }
        let zip = self.read_zip(&code.sha256_hex)?;
        if to_hex(&Sha256::digest(&zip)) != code.sha256_hex {
            return Err(CodeError::BlobCorrupt {
                sha256_hex: code.sha256_hex.clone(),
            });
        }
        self.unpack(&zip, &tree)?;
        Ok(tree)
    }

    /// The directory holding the union of `layers` unpacked in order (later
    /// layers overwrite earlier files, as in Lambda's `/opt`), built once
    /// per distinct ordered list under `opt/<hex>/`.
    pub fn ensure_opt(&self, layers: &[CodeRef]) -> Result<PathBuf, CodeError> {
        let trees = layers
            .iter()
            .map(|l| self.ensure_unpacked(l))
            .collect::<Result<Vec<_>, _>>()?;
        let digests: Vec<&str> = layers.iter().map(|l| l.sha256_hex.as_str()).collect();
        crate::opt::ensure_union(&self.opt, &crate::opt::union_key(&digests), &trees)
    }

    /// The stored zip with this digest.
    pub fn read_zip(&self, sha256_hex: &str) -> Result<Vec<u8>, CodeError> {
        check_digest(sha256_hex)?;
        let path = self.blob_path(sha256_hex);
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CodeError::BlobMissing {
                sha256_hex: sha256_hex.to_string(),
            },
            _ => CodeError::io("read", &path, e),
        })
    }

    /// Removes the blobs and unpacked trees whose digest is not in `keep`,
    /// every layer union, and leftovers of interrupted writes older than an
    /// hour; returns how many digests were removed. The caller must not run it while code it
    /// stored is not yet referenced from `keep`.
    pub fn collect_garbage(&self, keep: &HashSet<String>) -> Result<usize, CodeError> {
        // Layer unions are derived data, rebuilt when a function is loaded;
        // dropping them all keeps none of a removed layer alive.
        crate::opt::remove_all(&self.opt)?;
        let mut removed = HashSet::new();
        for (name, path) in list_dir(&self.blobs)? {
            match name.strip_suffix(BLOB_SUFFIX) {
                Some(hex) if is_digest(hex) && !keep.contains(hex) => {
                    fs::remove_file(&path).map_err(|e| CodeError::io("remove", &path, e))?;
                    removed.insert(hex.to_string());
                }
                _ if name.starts_with(BLOB_TEMP_PREFIX) && is_stale(&path) => {
                    fs::remove_file(&path).map_err(|e| CodeError::io("remove", &path, e))?;
                }
                _ => {}
            }
        }
        for (name, path) in list_dir(&self.code)? {
            let orphan = is_digest(&name) && !keep.contains(&name);
            if orphan || (name.starts_with(STAGING_PREFIX) && is_stale(&path)) {
                fs::remove_dir_all(&path).map_err(|e| CodeError::io("remove", &path, e))?;
            }
            if orphan {
                removed.insert(name);
            }
        }
        Ok(removed.len())
    }

    fn blob_path(&self, sha256_hex: &str) -> PathBuf {
        self.blobs.join(format!("{sha256_hex}{BLOB_SUFFIX}"))
    }

    /// Unpacks `zip` into a staging directory, then renames it to `tree`;
    /// on any error the staging directory is removed.
    fn unpack(&self, zip: &[u8], tree: &Path) -> Result<u64, CodeError> {
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .tempdir_in(&self.code)
            .map_err(|e| CodeError::io("create a staging directory in", &self.code, e))?;
        let size = unzip::unpack(zip, staging.path(), &self.limits)?;
        fs::set_permissions(staging.path(), Permissions::from_mode(0o755))
            .map_err(|e| CodeError::io("set permissions of", staging.path(), e))?;
        match fs::rename(staging.path(), tree) {
            Ok(()) => {
                // Moved away: nothing left for the guard to remove.
                let _ = staging.keep();
                Ok(size)
            }
            // Another call unpacked the same zip first; ours is dropped.
            Err(_) if tree.is_dir() => Ok(size),
            Err(e) => Err(CodeError::io("move unpacked code to", tree, e)),
        }
    }

    /// Writes the blob unless present, atomically and durably.
    fn write_blob(&self, sha256_hex: &str, zip: &[u8]) -> Result<(), CodeError> {
        let path = self.blob_path(sha256_hex);
        if path.is_file() {
            return Ok(());
        }
        let io_err = |e| CodeError::io("write", &path, e);
        let mut tmp = tempfile::Builder::new()
            .prefix(BLOB_TEMP_PREFIX)
            .tempfile_in(&self.blobs)
            .map_err(io_err)?;
        tmp.write_all(zip).map_err(io_err)?;
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(&path).map_err(|e| io_err(e.error))?;
        Ok(())
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_digest(s: &str) -> Result<(), CodeError> {
    if is_digest(s) {
        Ok(())
    } else {
        Err(CodeError::InvalidDigest {
            digest: s.to_string(),
        })
    }
}

/// Entries of `dir` with UTF-8 names (only those can be ours).
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, CodeError> {
    let entries = fs::read_dir(dir).map_err(|e| CodeError::io("list", dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CodeError::io("list", dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path()));
        }
    }
    Ok(out)
}

fn is_stale(path: &Path) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_AFTER)
}

/// Total size of the regular files under `root`, symlinks not followed.
fn tree_size(root: &Path) -> Result<u64, CodeError> {
    let mut total = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| CodeError::io("list", &dir, e))? {
            let entry = entry.map_err(|e| CodeError::io("list", &dir, e))?;
            let meta = fs::symlink_metadata(entry.path())
                .map_err(|e| CodeError::io("inspect", &entry.path(), e))?;
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testzip::{self, Entry};

    fn store() -> (tempfile::TempDir, CodeStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::open(dir.path()).unwrap();
        (dir, store)
    }

    fn code_entries(store: &CodeStore) -> Vec<String> {
        let mut names: Vec<String> = list_dir(&store.code)
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        names.sort();
        names
    }

    fn sample() -> Vec<u8> {
        testzip::build(&[
            Entry::file("bootstrap", b"#!/bin/sh\n").mode(0o100_755),
            Entry::file("lib/data.txt", b"hello"),
        ])
    }

    #[test]
    fn put_zip_stores_and_unpacks() {
        let (dir, store) = store();
        let zip = sample();
        let code = store.put_zip(&zip).unwrap();

        let digest = Sha256::digest(&zip);
        assert_eq!(code.sha256_hex, to_hex(&digest));
        assert_eq!(code.sha256_hex.len(), 64);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&code.sha256_b64)
                .unwrap(),
            digest.as_slice()
        );
        assert_eq!(code.size, zip.len() as u64);
        assert_eq!(code.unzipped_size, 10 + 5);

        let tree = dir.path().join("code").join(&code.sha256_hex);
        assert_eq!(store.ensure_unpacked(&code).unwrap(), tree);
        let mode = fs::metadata(tree.join("bootstrap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(fs::read(tree.join("lib/data.txt")).unwrap(), b"hello");
        assert_eq!(
            fs::metadata(&tree).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(store.read_zip(&code.sha256_hex).unwrap(), zip);
        assert_eq!(code_entries(&store), [code.sha256_hex]);
    }

    #[test]
    fn known_digest() {
        let (_dir, store) = store();
        // An empty zip: just the end-of-central-directory record.
        let mut empty = b"PK\x05\x06".to_vec();
        empty.extend_from_slice(&[0; 18]);
        let code = store.put_zip(&empty).unwrap();
        assert_eq!(code.sha256_hex, to_hex(&Sha256::digest(&empty)));
        assert_eq!(code.unzipped_size, 0);
        assert_eq!(
            to_hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn put_zip_is_idempotent() {
        let (_dir, store) = store();
        let zip = sample();
        let first = store.put_zip(&zip).unwrap();
        let tree = store.ensure_unpacked(&first).unwrap();
        // A marker proves the tree is not unpacked again.
        fs::write(tree.join("marker"), b"").unwrap();
        let second = store.put_zip(&zip).unwrap();
        assert_eq!(second.sha256_hex, first.sha256_hex);
        assert_eq!(second.size, first.size);
        assert!(tree.join("marker").exists());
        assert_eq!(code_entries(&store), [first.sha256_hex]);
    }

    #[test]
    fn rejected_zip_leaves_nothing() {
        let (dir, store) = store();
        for bad in [
            b"garbage, not a zip".to_vec(),
            testzip::build(&[Entry::file("ok", b"1"), Entry::file("../evil", b"2")]),
            testzip::build(&[Entry::file("a", b"1"), Entry::symlink("up", "../..")]),
        ] {
            let err = store.put_zip(&bad).unwrap_err();
            assert!(err.is_invalid_zip(), "{err}");
        }
        assert!(code_entries(&store).is_empty());
        assert_eq!(fs::read_dir(dir.path().join("blobs")).unwrap().count(), 0);
        assert!(!dir.path().join("evil").exists());
    }

    #[test]
    fn ensure_unpacked_restores_a_deleted_tree() {
        let (_dir, store) = store();
        let code = store.put_zip(&sample()).unwrap();
        let tree = store.ensure_unpacked(&code).unwrap();
        fs::remove_dir_all(&tree).unwrap();
        assert_eq!(store.ensure_unpacked(&code).unwrap(), tree);
        assert_eq!(fs::read(tree.join("lib/data.txt")).unwrap(), b"hello");

        // The blob gone too: a clear error.
        fs::remove_dir_all(&tree).unwrap();
        fs::remove_file(store.blob_path(&code.sha256_hex)).unwrap();
        let err = store.ensure_unpacked(&code).unwrap_err();
        assert!(matches!(err, CodeError::BlobMissing { .. }), "{err}");
        assert!(!err.is_invalid_zip());
    }

    #[test]
    fn ensure_unpacked_checks_the_blob() {
        let (_dir, store) = store();
        let code = store.put_zip(&sample()).unwrap();
        fs::remove_dir_all(store.ensure_unpacked(&code).unwrap()).unwrap();
        fs::write(store.blob_path(&code.sha256_hex), b"tampered").unwrap();
        let err = store.ensure_unpacked(&code).unwrap_err();
        assert!(matches!(err, CodeError::BlobCorrupt { .. }), "{err}");
    }

    #[test]
    fn digests_are_checked_before_touching_paths() {
        let (_dir, store) = store();
        for bad in ["../../etc/passwd", "", "ABC", &"A".repeat(64)] {
            let err = store.read_zip(bad).unwrap_err();
            assert!(
                matches!(err, CodeError::InvalidDigest { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn garbage_collection_keeps_only_referenced_code() {
        let (_dir, store) = store();
        let kept = store.put_zip(&sample()).unwrap();
        let dropped = store
            .put_zip(&testzip::build(&[Entry::file("x", b"other")]))
            .unwrap();
        fs::write(store.code.join("not-ours"), b"").unwrap();

        let keep = HashSet::from([kept.sha256_hex.clone()]);
        assert_eq!(store.collect_garbage(&keep).unwrap(), 1);
        assert!(store.read_zip(&kept.sha256_hex).is_ok());
        assert!(store.ensure_unpacked(&kept).is_ok());
        let err = store.read_zip(&dropped.sha256_hex).unwrap_err();
        assert!(matches!(err, CodeError::BlobMissing { .. }), "{err}");
        assert!(!store.code.join(&dropped.sha256_hex).exists());
        assert!(store.code.join("not-ours").exists());
        assert_eq!(store.collect_garbage(&keep).unwrap(), 0);
        assert_eq!(store.collect_garbage(&HashSet::new()).unwrap(), 1);
    }

    #[test]
    fn custom_limits_apply() {
        let (_dir, store) = store();
        let store = store.with_limits(UnzipLimits {
            max_unzipped_bytes: 4,
            max_entries: 10,
        });
        let err = store.put_zip(&sample()).unwrap_err();
        assert!(matches!(err, CodeError::TooLarge { max: 4 }), "{err}");
        assert!(code_entries(&store).is_empty());
        assert_eq!(UnzipLimits::default().max_unzipped_bytes, 250 * 1024 * 1024);
        assert_eq!(UnzipLimits::default().max_entries, 50_000);
    }
}

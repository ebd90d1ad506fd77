//! Unpacking an untrusted zip into an empty directory, safely.
//!
//! Nothing is ever written outside the destination: entry names are checked
//! component by component (no `..`, no absolute or Windows paths), parents
//! are created as real directories and never traversed through a symlink,
//! files are created with `O_EXCL` (so an existing symlink is never
//! followed), and symlinks must resolve inside the tree. Sizes in the zip's
//! headers are never trusted: decompressed bytes are counted as they come
//! and unpacking stops as soon as the limit is passed. On error the caller
//! discards the destination; it may hold a partial tree.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Cursor, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zip::result::ZipError;
use zip::ZipArchive;

use crate::code::CodeError;
use crate::zip_path::{
    check_link_target, components, escapes, kind_of, to_path, Kind, MAX_LINK_TARGET,
};

/// Most entries a zip may hold.
pub const MAX_ENTRIES: usize = 50_000;
const DIR_MODE: u32 = 0o755;
const EXEC_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;

/// What unpacking may produce at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnzipLimits {
    /// Most decompressed bytes (files and symlink targets).
    pub max_unzipped_bytes: u64,
    /// Most entries in the zip.
    pub max_entries: usize,
}

impl Default for UnzipLimits {
    /// Lambda's: 250 MB unpacked, 50,000 entries.
    fn default() -> Self {
        Self {
            max_unzipped_bytes: ignis_model::limits::UNZIPPED_MAX,
            max_entries: MAX_ENTRIES,
        }
    }
}

/// Unpacks `zip` into the empty directory `root`; returns the total size of
/// the regular files written.
pub(crate) fn unpack(zip: &[u8], root: &Path, limits: &UnzipLimits) -> Result<u64, CodeError> {
    let mut archive = ZipArchive::new(Cursor::new(zip)).map_err(CodeError::not_a_zip)?;
    check_directory(zip, &archive, limits)?;
    check_declared_sizes(&mut archive, limits)?;
    let mut unpacker = Unpacker {
        root,
        budget: Budget {
            used: 0,
            max: limits.max_unzipped_bytes,
        },
        seen: HashSet::new(),
        links: Vec::new(),
        file_bytes: 0,
    };
    for index in 0..archive.len() {
        let name = archive
            .name_for_index(index)
            .unwrap_or_default()
            .to_string();
        let mut file = archive.by_index(index).map_err(|source| match source {
            ZipError::UnsupportedArchive(_) => CodeError::UnsupportedEntry { name, source },
            source => CodeError::not_a_zip(source),
        })?;
        unpacker.entry(&mut file)?;
    }
    unpacker.check_links()?;
    Ok(unpacker.file_bytes)
}

/// Entry count and duplicates, read from the raw central directory: the zip
/// crate keeps only the last of several entries with the same name.
fn check_directory(
    zip: &[u8],
    archive: &ZipArchive<Cursor<&[u8]>>,
    limits: &UnzipLimits,
) -> Result<(), CodeError> {
    let too_many = |count| CodeError::TooManyEntries {
        count,
        max: limits.max_entries,
    };
    if archive.len() > limits.max_entries {
        return Err(too_many(archive.len()));
    }
    let start = usize::try_from(archive.central_directory_start()).unwrap_or(usize::MAX);
    let names = central_names(zip, start, limits.max_entries.saturating_add(1));
    if names.len() > limits.max_entries {
        return Err(too_many(names.len()));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(*n)) {
        return Err(CodeError::DuplicateEntry {
            name: String::from_utf8_lossy(dup).into_owned(),
        });
    }
    if names.len() != archive.len() {
        return Err(CodeError::not_a_zip(ZipError::InvalidArchive(
            format!(
                "the central directory holds {} entries but {} distinct names",
                names.len(),
                archive.len()
            )
            .into(),
        )));
    }
    Ok(())
}

/// Raw names of the central directory's consecutive file headers from
/// `start`, at most `max`.
fn central_names(zip: &[u8], start: usize, max: usize) -> Vec<&[u8]> {
    const SIGNATURE: &[u8] = b"PK\x01\x02";
    const FIXED: usize = 46;
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([zip[at], zip[at + 1]]));
    let mut names = Vec::new();
    let mut at = start;
    while names.len() < max {
        let Some(header) = zip.get(at..at.saturating_add(FIXED)) else {
            break;
        };
        if !header.starts_with(SIGNATURE) {
            break;
        }
        let (name_len, extra_len, comment_len) =
            (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        let name_start = at + FIXED;
        let Some(name) = zip.get(name_start..name_start + name_len) else {
            break;
        };
        names.push(name);
        at = name_start + name_len + extra_len + comment_len;
    }
    names
}

/// Rejects early a zip whose headers already admit it is too large; the
/// real check counts bytes while unpacking.
fn check_declared_sizes(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    limits: &UnzipLimits,
) -> Result<(), CodeError> {
    let mut declared = 0u64;
    for index in 0..archive.len() {
        let file = archive.by_index_raw(index).map_err(CodeError::not_a_zip)?;
        declared = declared.saturating_add(file.size());
    }
    if declared > limits.max_unzipped_bytes {
        return Err(CodeError::TooLarge {
            max: limits.max_unzipped_bytes,
        });
    }
    Ok(())
}

/// Decompressed bytes so far, against the limit.
struct Budget {
    used: u64,
    max: u64,
}

impl Budget {
    fn charge(&mut self, bytes: usize) -> Result<(), CodeError> {
        self.used = self.used.saturating_add(bytes as u64);
        if self.used > self.max {
            return Err(CodeError::TooLarge { max: self.max });
        }
        Ok(())
    }
}

/// Unpacking state for one zip.
struct Unpacker<'a> {
    root: &'a Path,
    budget: Budget,
    /// Paths of the entries so far, to reject duplicates that differ only
    /// by `.` or repeated slashes.
    seen: HashSet<PathBuf>,
    /// Symlinks created: (path components, entry name), checked at the end.
    links: Vec<(Vec<OsString>, String)>,
    file_bytes: u64,
}

impl Unpacker<'_> {
    fn entry(&mut self, file: &mut zip::read::ZipFile<'_, Cursor<&[u8]>>) -> Result<(), CodeError> {
        let raw = file.name_raw().to_vec();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let kind = kind_of(&raw, file.unix_mode());
        let parts = components(&raw)?;
        let Some((_, parents)) = parts.split_last() else {
            // `./` and the like name the root itself.
            return match kind {
                Kind::Dir => Ok(()),
                _ => Err(CodeError::InvalidName { name }),
            };
        };
        let rel = to_path(&parts);
        if !self.seen.insert(rel.clone()) {
            return Err(CodeError::DuplicateEntry { name });
        }
        self.make_parents(parents, &name)?;
        let path = self.root.join(&rel);
        match kind {
            Kind::Dir => self.make_dir(&path, &name),
            Kind::File { executable } => self.write_file(file, &path, &name, executable),
            Kind::Symlink => {
                let target = self.read_link_target(file, &name)?;
                check_link_target(&name, parents.len(), &target)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(|e| self.create_err(e, &path, &name))?;
                let parts = parts
                    .iter()
                    .map(|p| OsStr::from_bytes(p).to_os_string())
                    .collect();
                self.links.push((parts, name));
                Ok(())
            }
        }
    }

    /// Creates the entry's parent directories, refusing to pass through
    /// anything but a real directory.
    fn make_parents(&self, parents: &[&[u8]], name: &str) -> Result<(), CodeError> {
        let mut dir = self.root.to_path_buf();
        for part in parents {
            dir.push(OsStr::from_bytes(part));
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(CodeError::ThroughSymlink {
                        name: name.to_string(),
                        link: self.relative(&dir),
                    });
                }
                Ok(_) => {
                    return Err(CodeError::PathConflict {
                        name: name.to_string(),
                        existing: self.relative(&dir),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    DirBuilder::new()
                        .mode(DIR_MODE)
                        .create(&dir)
                        .map_err(|source| CodeError::io("create directory", &dir, source))?;
                    set_mode(&dir, DIR_MODE)?;
                }
                Err(source) => return Err(CodeError::io("inspect", &dir, source)),
            }
        }
        Ok(())
    }

    fn make_dir(&self, path: &Path, name: &str) -> Result<(), CodeError> {
        match fs::symlink_metadata(path) {
            // Already made as the parent of an earlier entry.
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(CodeError::PathConflict {
                name: name.to_string(),
                existing: self.relative(path),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                DirBuilder::new()
                    .mode(DIR_MODE)
                    .create(path)
                    .map_err(|source| CodeError::io("create directory", path, source))?;
                set_mode(path, DIR_MODE)
            }
            Err(source) => Err(CodeError::io("inspect", path, source)),
        }
    }

    fn write_file(
        &mut self,
        file: &mut impl Read,
        path: &Path,
        name: &str,
        executable: bool,
    ) -> Result<(), CodeError> {
        let mode = if executable { EXEC_MODE } else { FILE_MODE };
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(|e| self.create_err(e, path, name))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(CodeError::CorruptEntry {
                        name: name.to_string(),
                        source,
                    })
                }
            };
            self.budget.charge(n)?;
            out.write_all(&buf[..n])
                .map_err(|source| CodeError::io("write", path, source))?;
            self.file_bytes += n as u64;
        }
        set_mode(path, mode)
    }

    fn read_link_target(&mut self, file: &mut impl Read, name: &str) -> Result<Vec<u8>, CodeError> {
        let mut target = Vec::new();
        file.take(MAX_LINK_TARGET as u64 + 1)
            .read_to_end(&mut target)
            .map_err(|source| CodeError::CorruptEntry {
                name: name.to_string(),
                source,
            })?;
        self.budget.charge(target.len())?;
        Ok(target)
    }

    /// An `O_EXCL` create that found the path taken means two entries
    /// claim it (say, a file and a directory's implicit parent).
    fn create_err(&self, e: io::Error, path: &Path, name: &str) -> CodeError {
        if e.kind() == io::ErrorKind::AlreadyExists {
            CodeError::PathConflict {
                name: name.to_string(),
                existing: self.relative(path),
            }
        } else {
            CodeError::io("create", path, e)
        }
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    /// Follows every symlink through the finished tree, as the kernel would,
    /// and rejects any that leaves it (say, via `..` after another link).
    fn check_links(&self) -> Result<(), CodeError> {
        for (parts, name) in &self.links {
            if escapes(self.root, parts)? {
                let target = fs::read_link(self.root.join(parts.iter().collect::<PathBuf>()))
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Err(CodeError::SymlinkEscapes {
                    name: name.clone(),
                    target,
                });
            }
        }
        Ok(())
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), CodeError> {
    fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|source| CodeError::io("set permissions of", path, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testzip::{self, Entry};

    /// Whether an error is the one a case expects.
    type Expect = fn(&CodeError) -> bool;

    fn unpack_into(zip: &[u8]) -> (tempfile::TempDir, Result<u64, CodeError>) {
        unpack_with(zip, &UnzipLimits::default())
    }

    fn unpack_with(
        zip: &[u8],
        limits: &UnzipLimits,
    ) -> (tempfile::TempDir, Result<u64, CodeError>) {
        let dir = tempfile::tempdir().unwrap();
        let result = unpack(zip, dir.path(), limits);
        (dir, result)
    }

    fn mode_of(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn unpacks_files_dirs_and_modes() {
        let zip = testzip::build(&[
            Entry::file("bootstrap", b"#!/bin/sh\necho hi\n").mode(0o100_755),
            Entry::file("lib/deep/nested/data.txt", b"data"),
            Entry::file("private", b"p").mode(0o100_600),
            Entry::dir("empty/"),
        ]);
        let (dir, result) = unpack_into(&zip);
        let root = dir.path();
        assert_eq!(result.unwrap(), 18 + 4 + 1);
        assert_eq!(
            fs::read(root.join("bootstrap")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(mode_of(&root.join("bootstrap")), 0o755);
        assert_eq!(
            fs::read(root.join("lib/deep/nested/data.txt")).unwrap(),
            b"data"
        );
        assert_eq!(mode_of(&root.join("lib/deep/nested/data.txt")), 0o644);
        assert_eq!(mode_of(&root.join("lib/deep")), 0o755);
        assert_eq!(mode_of(&root.join("private")), 0o644);
        assert!(root.join("empty").is_dir());
        assert_eq!(mode_of(&root.join("empty")), 0o755);
    }

    #[test]
    fn special_bits_are_dropped_and_missing_modes_defaulted() {
        let zip = testzip::build_raw(&[
            Entry::file("setuid", b"x").mode(0o106_777),
            Entry::file("sticky", b"x").mode(0o101_666),
            Entry::file("nomode.txt", b"plain").no_unix_mode(),
            Entry::dir("nomode-dir/").no_unix_mode(),
        ]);
        let (dir, result) = unpack_into(&zip);
        let root = dir.path();
        assert_eq!(result.unwrap(), 7);
        assert_eq!(mode_of(&root.join("setuid")), 0o755);
        assert_eq!(mode_of(&root.join("sticky")), 0o644);
        assert_eq!(mode_of(&root.join("nomode.txt")), 0o644);
        assert_eq!(mode_of(&root.join("nomode-dir")), 0o755);
    }

    #[test]
    fn not_a_zip() {
        let (_dir, result) = unpack_into(b"this is not a zip file at all");
        let err = result.unwrap_err();
        assert!(matches!(err, CodeError::NotAZip { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        );
    }

    #[test]
    fn rejects_hostile_names() {
        let cases: &[(&str, Expect)] = &[
            ("../evil", |e| {
                matches!(e, CodeError::ParentDirInPath { .. })
            }),
            ("a/../../evil", |e| {
                matches!(e, CodeError::ParentDirInPath { .. })
            }),
            ("a/../b", |e| matches!(e, CodeError::ParentDirInPath { .. })),
            ("/abs", |e| matches!(e, CodeError::AbsolutePath { .. })),
            ("//abs", |e| matches!(e, CodeError::AbsolutePath { .. })),
            ("..\\evil", |e| matches!(e, CodeError::WindowsPath { .. })),
            ("C:\\Windows\\evil", |e| {
                matches!(e, CodeError::WindowsPath { .. })
            }),
            ("c:/evil", |e| matches!(e, CodeError::WindowsPath { .. })),
            ("a\0b", |e| matches!(e, CodeError::InvalidName { .. })),
        ];
        for (name, expected) in cases {
            let zip = testzip::build(&[Entry::file(name, b"x")]);
            let (dir, result) = unpack_into(&zip);
            let err = result.unwrap_err();
            assert!(expected(&err), "{name:?}: {err}");
            assert!(err.is_invalid_zip(), "{name:?}");
            // Nothing was written, in the root or beside it.
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "{name:?}");
        }
    }

    #[test]
    fn symlinks_inside_are_kept() {
        let zip = testzip::build(&[
            Entry::file("lib/libfoo.so.1", b"elf"),
            Entry::symlink("lib/libfoo.so", "libfoo.so.1"),
            Entry::symlink("bin/foo", "../lib/libfoo.so"),
            Entry::symlink("dangling", "nowhere/at/all"),
        ]);
        let (dir, result) = unpack_into(&zip);
        result.unwrap();
        let root = dir.path();
        assert_eq!(
            fs::read_link(root.join("bin/foo")).unwrap(),
            Path::new("../lib/libfoo.so")
        );
        assert_eq!(fs::read(root.join("bin/foo")).unwrap(), b"elf");
        assert!(fs::symlink_metadata(root.join("dangling"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn rejects_escaping_symlinks() {
        let cases: &[(&[Entry], Expect)] = &[
            (&[Entry::symlink("etc", "/etc")], |e| {
                matches!(e, CodeError::SymlinkAbsolute { .. })
            }),
            (&[Entry::symlink("up", "..")], |e| {
                matches!(e, CodeError::SymlinkEscapes { .. })
            }),
            (&[Entry::symlink("a/b/up", "../../../x")], |e| {
                matches!(e, CodeError::SymlinkEscapes { .. })
            }),
            (&[Entry::symlink("a/up", "b/../../..")], |e| {
                matches!(e, CodeError::SymlinkEscapes { .. })
            }),
            // Lexically inside, but `d` is itself a link: d/d/../.. is root/..
            (
                &[Entry::symlink("d", "."), Entry::symlink("x", "d/d/../..")],
                |e| matches!(e, CodeError::SymlinkEscapes { .. }),
            ),
            (&[Entry::symlink("empty", "")], |e| {
                matches!(e, CodeError::InvalidSymlink { .. })
            }),
        ];
        for (entries, expected) in cases {
            let zip = testzip::build(entries);
            let (_dir, result) = unpack_into(&zip);
            let err = result.unwrap_err();
            assert!(expected(&err), "{entries:?}: {err}");
            assert!(err.is_invalid_zip());
        }
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let zip = testzip::build(&[
            Entry::symlink("link", "sub"),
            Entry::dir("sub/"),
            Entry::file("link/file", b"x"),
        ]);
        let (_dir, result) = unpack_into(&zip);
        let err = result.unwrap_err();
        assert!(
            matches!(err, CodeError::ThroughSymlink { ref link, .. } if link == "link"),
            "{err}"
        );

        // A file entry named like an existing symlink is refused (O_EXCL),
        // not written through it.
        let zip = testzip::build(&[
            Entry::file("target", b"original"),
            Entry::symlink("link", "target"),
            Entry::file("./link", b"overwrite"),
        ]);
        let (dir, result) = unpack_into(&zip);
        assert!(matches!(
            result.unwrap_err(),
            CodeError::DuplicateEntry { .. }
        ));
        assert_eq!(fs::read(dir.path().join("target")).unwrap(), b"original");
    }

    #[test]
    fn rejects_duplicates_and_conflicts() {
        let exact = testzip::build_raw(&[Entry::file("a", b"1"), Entry::file("a", b"2")]);
        let (_dir, result) = unpack_into(&exact);
        let err = result.unwrap_err();
        assert!(
            matches!(err, CodeError::DuplicateEntry { ref name } if name == "a"),
            "{err}"
        );

        let normalized = testzip::build(&[Entry::file("x/a", b"1"), Entry::file("x//./a", b"2")]);
        let (_dir, result) = unpack_into(&normalized);
        assert!(matches!(
            result.unwrap_err(),
            CodeError::DuplicateEntry { .. }
        ));

        let file_then_child = testzip::build(&[Entry::file("a", b"1"), Entry::file("a/b", b"2")]);
        let (_dir, result) = unpack_into(&file_then_child);
        assert!(matches!(
            result.unwrap_err(),
            CodeError::PathConflict { .. }
        ));

        let child_then_file = testzip::build(&[Entry::file("a/b", b"1"), Entry::file("a", b"2")]);
        let (_dir, result) = unpack_into(&child_then_file);
        assert!(matches!(
            result.unwrap_err(),
            CodeError::PathConflict { .. }
        ));

        // An explicit directory after its implicit creation is fine.
        let dir_after = testzip::build(&[Entry::file("a/b", b"1"), Entry::dir("a/")]);
        let (_dir, result) = unpack_into(&dir_after);
        result.unwrap();
    }

    #[test]
    fn too_many_entries() {
        let entries: Vec<Entry> = (0..11)
            .map(|i| Entry::file(&format!("f{i}"), b""))
            .collect();
        let zip = testzip::build(&entries);
        let limits = UnzipLimits {
            max_entries: 10,
            ..UnzipLimits::default()
        };
        let (_dir, result) = unpack_with(&zip, &limits);
        let err = result.unwrap_err();
        assert!(
            matches!(err, CodeError::TooManyEntries { count: 11, max: 10 }),
            "{err}"
        );
        let limits = UnzipLimits {
            max_entries: 11,
            ..UnzipLimits::default()
        };
        unpack_with(&zip, &limits).1.unwrap();
    }

    #[test]
    fn honest_sizes_over_the_limit_are_rejected_before_writing() {
        let zip = testzip::build(&[Entry::file("big", &[0u8; 2048])]);
        let limits = UnzipLimits {
            max_unzipped_bytes: 1024,
            ..UnzipLimits::default()
        };
        let (dir, result) = unpack_with(&zip, &limits);
        assert!(matches!(
            result.unwrap_err(),
            CodeError::TooLarge { max: 1024 }
        ));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// 300 MB of zeros (~1.9 MB deflated) whose headers claim 1 KB: the real
    /// limit stops it after 250 MB were decompressed.
    #[test]
    fn zip_bomb_with_lying_headers_stops_at_the_limit() {
        let bomb = testzip::lying_bomb(300 * 1024 * 1024, 1024);
        assert!(bomb.len() < 3 * 1024 * 1024, "{}", bomb.len());
        let (dir, result) = unpack_into(&bomb);
        let err = result.unwrap_err();
        assert!(matches!(err, CodeError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("262144000"), "{err}");
        let written = fs::metadata(dir.path().join("zeros")).unwrap().len();
        // It really ran up to the limit (headers were not trusted), and no further.
        let max = ignis_model::limits::UNZIPPED_MAX;
        assert!(written <= max && written > max - 1024 * 1024, "{written}");
    }

    #[test]
    fn corrupt_data_is_reported_per_entry() {
        let mut zip = testzip::build(&[Entry::file("f", &[7u8; 1000]).stored()]);
        // Flip a byte of the stored content: the CRC check fails.
        let at = zip.windows(4).position(|w| w == [7, 7, 7, 7]).unwrap();
        zip[at] = 8;
        let (_dir, result) = unpack_into(&zip);
        let err = result.unwrap_err();
        assert!(
            matches!(err, CodeError::CorruptEntry { ref name, .. } if name == "f"),
            "{err}"
        );
    }

    #[test]
    fn encrypted_or_unsupported_entries() {
        let encrypted = testzip::build_raw(&[Entry::file("secret", b"x").raw_header(0, 1)]);
        let (_dir, result) = unpack_into(&encrypted);
        let err = result.unwrap_err();
        assert!(
            matches!(err, CodeError::UnsupportedEntry { ref name, .. } if name == "secret"),
            "{err}"
        );

        let bzip2 = testzip::build_raw(&[Entry::file("packed", b"BZh9").raw_header(12, 0)]);
        let (_dir, result) = unpack_into(&bzip2);
        let err = result.unwrap_err();
        assert!(matches!(err, CodeError::UnsupportedEntry { .. }), "{err}");
        assert!(err.is_invalid_zip());
    }
}

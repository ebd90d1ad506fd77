//! The deployment package of `ignis deploy`: a .zip file as it is, or a
//! folder zipped in memory with relative paths, unix permission bits (so
//! `bootstrap` stays executable) and a deterministic order and timestamp.

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use ignis_model::limits;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Why the package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A file or folder could not be read.
    #[error("failed to read {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The path is a file that is not a zip.
    #[error("{} is neither a folder nor a .zip file", path.display())]
    NotZip {
        /// The path.
        path: PathBuf,
    },
    /// A path inside the folder is not UTF-8, which zip names must be.
    #[error("file name {} is not valid UTF-8", path.display())]
    NonUtf8Name {
        /// The path.
        path: PathBuf,
    },
    /// A symbolic link inside the folder points at a folder.
    #[error("{} links to a folder; only files may be linked", path.display())]
    LinkedFolder {
        /// The path.
        path: PathBuf,
    },
    /// The folder holds no files.
    #[error("folder {} holds no files", path.display())]
    Empty {
        /// The path.
        path: PathBuf,
    },
    /// The package is over a limit of Lambda's, found before uploading it.
    #[error("{what} is {size} bytes; Lambda takes at most {max} bytes")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The zip writer failed.
    #[error("failed to add {name} to the zip")]
    Zip {
        /// The entry.
        name: String,
        /// The cause.
        #[source]
        source: zip::result::ZipError,
    },
}

/// The bytes of the zip at `path`, or of `path` zipped when it is a folder.
pub fn load(path: &Path) -> Result<Vec<u8>, PackageError> {
    let read_err = |source| PackageError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return zip_dir(path);
    }
    let is_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip {
        return Err(PackageError::NotZip {
            path: path.to_path_buf(),
        });
    }
    fs::read(path).map_err(read_err)
}

/// One file to put in the zip.
struct Entry {
    /// Path inside the zip, `/`-separated.
    name: String,
    /// Path on disk.
    path: PathBuf,
    /// Unix permission bits.
    mode: u32,
    /// Bytes on disk.
    size: u64,
}

/// Zips the files below `root` in memory.
pub fn zip_dir(root: &Path) -> Result<Vec<u8>, PackageError> {
    let mut entries = Vec::new();
    collect(root, "", &mut entries)?;
    if entries.is_empty() {
        return Err(PackageError::Empty {
            path: root.to_path_buf(),
        });
    }
    // Lambda's limits, checked here rather than after a long compression
    // and upload: the files' total size, then the zip's as it grows.
    let unzipped: u64 = entries.iter().map(|e| e.size).sum();
    if unzipped > limits::UNZIPPED_MAX {
        return Err(PackageError::TooLarge {
            what: "the folder's unzipped size",
            size: unzipped,
            max: limits::UNZIPPED_MAX,
        });
    }
    let too_large = || PackageError::TooLarge {
        what: "the zipped folder",
        size: limits::ZIP_MAX as u64 + 1,
        max: limits::ZIP_MAX as u64,
    };
    let mut zip = ZipWriter::new(Capped(Cursor::new(Vec::new())));
    for entry in &entries {
        let zip_err = |source: zip::result::ZipError| match &source {
            zip::result::ZipError::Io(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                too_large()
            }
            _ => PackageError::Zip {
                name: entry.name.clone(),
                source,
            },
        };
        let data = fs::read(&entry.path).map_err(|source| PackageError::Read {
            path: entry.path.clone(),
            source,
        })?;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(entry.mode);
        zip.start_file(entry.name.as_str(), options)
            .map_err(zip_err)?;
        zip.write_all(&data).map_err(|e| zip_err(e.into()))?;
    }
    let capped = zip.finish().map_err(|source| match &source {
        zip::result::ZipError::Io(e) if e.kind() == std::io::ErrorKind::FileTooLarge => too_large(),
        _ => PackageError::Zip {
            name: "(end)".into(),
            source,
        },
    })?;
    Ok(capped.0.into_inner())
}

/// The zip being written, refusing to grow past Lambda's 50 MB upload
/// limit (`FileTooLarge`): a folder that compresses to more stops there
/// instead of after the whole compression and upload.
struct Capped(Cursor<Vec<u8>>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.position() as usize + buf.len() > limits::ZIP_MAX {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl std::io::Seek for Capped {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

/// Appends the files below `dir` (named `prefix` inside the zip), sorted by
/// name so the zip is the same every time.
fn collect(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> Result<(), PackageError> {
    let read_err = |source| PackageError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut children: Vec<_> = fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    children.sort_by_key(|c| c.file_name());
    for child in children {
        let path = child.path();
        let Some(file_name) = child.file_name().to_str().map(str::to_string) else {
            return Err(PackageError::NonUtf8Name { path });
        };
        let name = format!("{prefix}{file_name}");
        let link = child.file_type().map_err(read_err)?.is_symlink();
        let meta = fs::metadata(&path).map_err(|source| PackageError::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() && link {
            return Err(PackageError::LinkedFolder { path });
        } else if meta.is_dir() {
            collect(&path, &format!("{name}/"), out)?;
        } else {
            out.push(Entry {
                name,
                path,
                mode: mode(&meta),
                size: meta.len(),
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode(meta: &fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn write(path: &Path, text: &str, mode: u32) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("bootstrap"), "#!/bin/sh\n", 0o755);
        write(&dir.path().join("lib/data.txt"), "data", 0o644);
        write(&dir.path().join("a.txt"), "a", 0o600);
        dir
    }

    fn entries(zip: &[u8]) -> Vec<(String, u32)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
        (0..archive.len())
            .map(|i| {
                let file = archive.by_index(i).unwrap();
                (file.name().to_string(), file.unix_mode().unwrap() & 0o777)
            })
            .collect()
    }

    #[test]
    fn folder_zip_keeps_relative_paths_and_permissions() {
        let dir = fixture();
        let zip = load(dir.path()).unwrap();
        assert_eq!(
            entries(&zip),
            [
                ("a.txt".to_string(), 0o600),
                ("bootstrap".to_string(), 0o755),
                ("lib/data.txt".to_string(), 0o644)
            ]
        );
        let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("lib/data.txt").unwrap(), &mut text)
            .unwrap();
        assert_eq!(text, "data");
    }

    #[test]
    fn folder_zip_is_deterministic() {
        let dir = fixture();
        let first = zip_dir(dir.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        fs::write(dir.path().join("a.txt"), "a").unwrap();
        assert_eq!(first, zip_dir(dir.path()).unwrap());
    }

    #[test]
    fn zip_files_are_read_as_they_are() {
        let dir = fixture();
        let zip = zip_dir(dir.path()).unwrap();
        let path = dir.path().join("fn.ZIP");
        fs::write(&path, &zip).unwrap();
        assert_eq!(load(&path).unwrap(), zip);
    }

    #[test]
    fn other_inputs_are_refused_with_the_path() {
        let dir = fixture();
        let err = load(&dir.path().join("a.txt")).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("a.txt is neither a folder nor a .zip file"),
            "{err}"
        );
        let err = load(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().starts_with("failed to read "), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(empty.path()),
            Err(PackageError::Empty { .. })
        ));
    }

    #[test]
    fn linked_files_are_followed_and_linked_folders_refused() {
        let dir = fixture();
        std::os::unix::fs::symlink(dir.path().join("a.txt"), dir.path().join("b.txt")).unwrap();
        let names: Vec<_> = entries(&zip_dir(dir.path()).unwrap())
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert!(names.contains(&"b.txt".to_string()));
        std::os::unix::fs::symlink(dir.path().join("lib"), dir.path().join("lib2")).unwrap();
        assert!(matches!(
            zip_dir(dir.path()),
            Err(PackageError::LinkedFolder { .. })
        ));
    }

    #[test]
    fn a_folder_over_lambdas_zip_limit_is_refused_while_zipping() {
        let dir = tempfile::tempdir().unwrap();
        // Incompressible: 60 MB of pseudo-random bytes in two files.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for name in ["a.bin", "b.bin"] {
            let bytes: Vec<u8> = (0..30 * 1024 * 1024)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            fs::write(dir.path().join(name), bytes).unwrap();
        }
        let err = zip_dir(dir.path()).unwrap_err();
        assert!(
            matches!(err, PackageError::TooLarge { max, .. } if max == limits::ZIP_MAX as u64),
            "{err}"
        );
    }
}

//! Object bytes on disk: `<data dir>/s3/<bucket>/data/<id>` for objects
//! and parts, written under `<bucket>/tmp/<id>` first. A body streams into
//! its temporary file piece by piece (never whole in memory) while its
//! digests are computed; only when it is complete and verified is the file
//! fsynced and renamed into `data/` (and the directory fsynced), and only
//! then does the service write the row that names it. A crash leaves a
//! temporary file, or a data file no row names; [`Disk::sweep`] removes
//! both at start-up.
//!
//! A multipart object is not copied at completion: its row names its parts'
//! files in order ([`composite`]: `parts:<id>,<id>,…`), each already
//! durable, and reads stream them one after the other.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

use crate::body::RequestBody;
use crate::digest::{BodyDigests, ChecksumAlgorithm, Digests};
use crate::error::S3Error;

/// A durable write slower than this is logged (a loaded disk).
const SLOW_SYNC: std::time::Duration = std::time::Duration::from_secs(5);

/// The write buffer: pieces of a body are gathered to this size.
const WRITE_BUF: usize = 1 << 20;

/// How a row names a multipart object's files.
const COMPOSITE: &str = "parts:";

/// The name a row gives an object made of `files`, in order.
pub fn composite(files: &[String]) -> String {
    format!("{COMPOSITE}{}", files.join(","))
}

/// The data files a row's `file` names (one, or a multipart object's parts).
pub fn names(file: &str) -> Vec<&str> {
    match file.strip_prefix(COMPOSITE) {
        Some(list) => list.split(',').filter(|f| !f.is_empty()).collect(),
        None => vec![file],
    }
}

/// A file written and named: its name under `data/` and its digests.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The file's name.
    pub file: String,
    /// Its digests.
    pub digests: Digests,
    /// The checksum the request declared (verified), if any.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// The object store's directory.
#[derive(Debug, Clone)]
pub struct Disk {
    root: PathBuf,
}

impl Disk {
    /// Files under `root` (`<data dir>/s3`).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join(bucket)
    }

    /// The path of a bucket's data file.
    pub fn path(&self, bucket: &str, file: &str) -> PathBuf {
        self.bucket_dir(bucket).join("data").join(file)
    }

    /// Makes a bucket's directories.
    pub async fn create_bucket(&self, bucket: &str) -> std::io::Result<()> {
        tokio::fs::create_dir_all(self.bucket_dir(bucket).join("data")).await?;
        tokio::fs::create_dir_all(self.bucket_dir(bucket).join("tmp")).await
    }

    /// Removes a (deleted, empty) bucket's directories.
    pub async fn remove_bucket(&self, bucket: &str) {
        let _ = tokio::fs::remove_dir_all(self.bucket_dir(bucket)).await;
    }

    /// Removes the data files of a `file` no row names any more (best
    /// effort).
    pub async fn remove(&self, bucket: &str, file: &str) {
        for name in names(file) {
            if let Err(e) = tokio::fs::remove_file(self.path(bucket, name)).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(bucket, file = name, error = %e, "could not remove an object file");
                }
            }
        }
    }

    /// The bytes `start..start + len` of the object whose row names
    /// `file`: each data file it spans, opened and positioned, with the
    /// bytes to read from it.
    pub async fn open(
        &self,
        bucket: &str,
        file: &str,
        mut start: u64,
        mut len: u64,
    ) -> std::io::Result<Vec<(tokio::fs::File, u64)>> {
        use tokio::io::AsyncSeekExt;
        let mut out = Vec::new();
        for name in names(file) {
            if len == 0 {
                break;
            }
            let mut f = tokio::fs::File::open(self.path(bucket, name)).await?;
            let size = f.metadata().await?.len();
            if start >= size {
                start -= size;
                continue;
            }
            if start > 0 {
                f.seek(std::io::SeekFrom::Start(start)).await?;
            }
            let take = (size - start).min(len);
            out.push((f, take));
            len -= take;
            start = 0;
        }
        Ok(out)
    }

    /// Streams `body` into a new data file, verified and durable.
    pub async fn write(&self, bucket: &str, body: &mut RequestBody) -> Result<Stored, S3Error> {
        let mut temp = Temp::create(self, bucket).await?;
        let mut digests = BodyDigests::default();
        while let Some(piece) = body.next().await? {
            digests.update(&piece);
            temp.out.write_all(&piece).await?;
        }
        let digests = digests.finish();
        let checksum = body.verify(&digests)?;
        let file = temp.commit(self, bucket).await?;
        Ok(Stored {
            file,
            digests,
            checksum,
        })
    }

    /// Copies objects' data files (each one, or a multipart object's
    /// parts in order) into a new data file of `bucket`.
    pub async fn concat(
        &self,
        bucket: &str,
        sources: &[(String, String)],
    ) -> Result<Stored, S3Error> {
        let mut temp = Temp::create(self, bucket).await?;
        let mut digests = BodyDigests::default();
        let mut buf = vec![0u8; WRITE_BUF];
        for (src_bucket, src_file) in sources {
            for name in names(src_file) {
                let mut src = tokio::fs::File::open(self.path(src_bucket, name)).await?;
                loop {
                    let n = src.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    digests.update(&buf[..n]);
                    temp.out.write_all(&buf[..n]).await?;
                }
            }
        }
        let file = temp.commit(self, bucket).await?;
        Ok(Stored {
            file,
            digests: digests.finish(),
            checksum: None,
        })
    }

    /// Copies the bytes `start..start + len` of an object of
    /// `src_bucket` (whose row names `src_file`) into a new data file of
    /// `bucket` (UploadPartCopy).
    pub async fn copy_range(
        &self,
        bucket: &str,
        src_bucket: &str,
        src_file: &str,
        start: u64,
        len: u64,
    ) -> Result<Stored, S3Error> {
        let mut temp = Temp::create(self, bucket).await?;
        let mut digests = BodyDigests::default();
        let mut buf = vec![0u8; WRITE_BUF];
        for (mut src, mut left) in self.open(src_bucket, src_file, start, len).await? {
            while left > 0 {
                let want = usize::try_from(left).unwrap_or(WRITE_BUF).min(WRITE_BUF);
                let n = src.read(&mut buf[..want]).await?;
                if n == 0 {
                    return Err(S3Error::internal("an object's file ended early"));
                }
                digests.update(&buf[..n]);
                temp.out.write_all(&buf[..n]).await?;
                left -= n as u64;
            }
        }
        let file = temp.commit(self, bucket).await?;
        Ok(Stored {
            file,
            digests: digests.finish(),
            checksum: None,
        })
    }

    /// Removes a bucket's temporary files and the data files not in
    /// `named` (left by a crash between a rename and its row).
    pub async fn sweep(&self, bucket: &str, named: &HashSet<String>) -> std::io::Result<u64> {
        let mut removed = 0;
        for (dir, keep_named) in [("tmp", false), ("data", true)] {
            let mut entries = match tokio::fs::read_dir(self.bucket_dir(bucket).join(dir)).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            while let Some(entry) = entries.next_entry().await? {
                let name = entry.file_name().to_string_lossy().into_owned();
                if keep_named && named.contains(&name) {
                    continue;
                }
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The buckets with a directory.
    pub async fn bucket_dirs(&self) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(&self.root).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        while let Some(entry) = entries.next_entry().await? {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }
}

/// A temporary file being written; removed unless committed.
struct Temp {
    path: PathBuf,
    id: String,
    out: BufWriter<tokio::fs::File>,
    committed: bool,
}

impl Temp {
    async fn create(disk: &Disk, bucket: &str) -> Result<Self, S3Error> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmp = disk.bucket_dir(bucket).join("tmp");
        tokio::fs::create_dir_all(&tmp).await?;
        let path = tmp.join(&id);
        let file = tokio::fs::File::create(&path).await?;
        Ok(Self {
            path,
            id,
            out: BufWriter::with_capacity(WRITE_BUF, file),
            committed: false,
        })
    }

    /// Flushes, fsyncs, renames into `data/` and fsyncs the directory.
    async fn commit(mut self, disk: &Disk, bucket: &str) -> Result<String, S3Error> {
        let started = std::time::Instant::now();
        self.out.flush().await?;
        self.out.get_mut().sync_all().await?;
        let data = disk.bucket_dir(bucket).join("data");
        tokio::fs::create_dir_all(&data).await?;
        tokio::fs::rename(&self.path, data.join(&self.id)).await?;
        sync_dir(&data).await?;
        self.committed = true;
        let took = started.elapsed();
        if took > SLOW_SYNC {
            tracing::warn!(bucket, ?took, "making an object durable was slow (fsync)");
        }
        Ok(self.id.clone())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_composite_object_reads_across_its_parts() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::new(dir.path().to_path_buf());
        disk.create_bucket("b").await.unwrap();
        let mut files = Vec::new();
        for (i, part) in [&b"hello "[..], b"multipart ", b"world"].iter().enumerate() {
            let name = format!("p{i}");
            std::fs::write(disk.path("b", &name), part).unwrap();
            files.push(name);
        }
        let whole = composite(&files);
        assert_eq!(names(&whole), ["p0", "p1", "p2"]);
        assert_eq!(names("single"), ["single"]);
        let read = |start, len| {
            let disk = disk.clone();
            let whole = whole.clone();
            async move {
                let mut out = Vec::new();
                for (mut f, n) in disk.open("b", &whole, start, len).await.unwrap() {
                    let mut buf = vec![0; n as usize];
                    f.read_exact(&mut buf).await.unwrap();
                    out.extend(buf);
                }
                String::from_utf8(out).unwrap()
            }
        };
        assert_eq!(read(0, 21).await, "hello multipart world");
        assert_eq!(read(3, 10).await, "lo multipa");
        assert_eq!(read(16, 5).await, "world");
        let copied = disk
            .concat("b", &[("b".into(), whole.clone())])
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(disk.path("b", &copied.file)).unwrap(),
            b"hello multipart world"
        );
        disk.remove("b", &whole).await;
        assert!(!disk.path("b", "p1").exists());
    }
}

//! A formatted file system, kept to be written into new images: `mkfs.ext4`
//! runs once per `/tmp` size, not once per disk.
//!
//! A fresh ext4 file system is a sparse image whose few written blocks
//! (superblock, group descriptors, bitmaps, the root directory and
//! `lost+found`: ≈ 60 KB for 512 MB) are all `mkfs` put there. A
//! [`Template`] is those blocks, read once (`SEEK_DATA` / `SEEK_HOLE`)
//! from an image `mkfs.ext4` formatted; a new disk's image is a sparse
//! file of the same size with the same blocks written into it
//! ([`Template::write_into`]). What `mkfs` makes unique per file system
//! is made unique per copy: a new random UUID and directory hash seed,
//! and the superblock's checksum computed again. That only works because
//! the file system is formatted with `metadata_csum_seed`: the seed of
//! every metadata checksum is stored in the superblock instead of being
//! derived from the UUID, so changing the UUID leaves every other
//! checksum valid (as `tune2fs -U` does on such a file system). The
//! superblock's backup copies keep the template's UUID; the kernel reads
//! only the primary, and the file system never outlives its environment.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

/// The primary superblock's offset in the image.
const SB_OFFSET: usize = 1024;
/// The superblock's size.
const SB_SIZE: usize = 1024;
/// Offsets of the superblock's fields used here (`struct ext4_super_block`).
const SB_MAGIC: usize = 0x38;
const SB_FEATURE_INCOMPAT: usize = 0x60;
const SB_FEATURE_RO_COMPAT: usize = 0x64;
const SB_UUID: usize = 0x68;
const SB_HASH_SEED: usize = 0xEC;
const SB_CHECKSUM: usize = 0x3FC;
const EXT4_MAGIC: u16 = 0xEF53;
/// `EXT4_FEATURE_INCOMPAT_CSUM_SEED`.
const INCOMPAT_CSUM_SEED: u32 = 0x2000;
/// `EXT4_FEATURE_RO_COMPAT_METADATA_CSUM`.
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;

/// Why an image cannot serve as a template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Reading the image failed.
    #[error("failed to read the formatted image: {0}")]
    Read(#[from] io::Error),
    /// It is not what `mkfs.ext4` was asked for.
    #[error("the formatted image is not usable as a template: {0}")]
    Unusable(&'static str),
}

/// The written blocks of a formatted image, and its size.
#[derive(Debug)]
pub struct Template {
    len: u64,
    /// `(offset, bytes)` of each written range, in order.
    extents: Vec<(u64, Vec<u8>)>,
    /// The primary superblock as formatted.
    superblock: [u8; SB_SIZE],
}

impl Template {
    /// Reads the written ranges of `image` (formatted with
    /// `metadata_csum,metadata_csum_seed`) and checks its superblock.
    pub fn read(image: &File) -> Result<Self, TemplateError> {
        let len = image.metadata()?.len();
        let mut extents = Vec::new();
        let mut at = 0u64;
        while at < len {
            let Some(start) = seek(image, at, libc::SEEK_DATA)? else {
                break;
            };
            let end = seek(image, start, libc::SEEK_HOLE)?.unwrap_or(len).min(len);
            let mut bytes = vec![0u8; (end - start) as usize];
            image.read_exact_at(&mut bytes, start)?;
            extents.push((start, bytes));
            at = end;
        }
        let mut superblock = [0u8; SB_SIZE];
        image.read_exact_at(&mut superblock, SB_OFFSET as u64)?;
        if u16::from_le_bytes([superblock[SB_MAGIC], superblock[SB_MAGIC + 1]]) != EXT4_MAGIC {
            return Err(TemplateError::Unusable("no ext4 superblock"));
        }
        let incompat = le32(&superblock, SB_FEATURE_INCOMPAT);
        let ro_compat = le32(&superblock, SB_FEATURE_RO_COMPAT);
        if ro_compat & RO_COMPAT_METADATA_CSUM == 0 || incompat & INCOMPAT_CSUM_SEED == 0 {
            return Err(TemplateError::Unusable(
                "formatted without metadata_csum and metadata_csum_seed",
            ));
        }
        if le32(&superblock, SB_CHECKSUM) != superblock_checksum(&superblock) {
            return Err(TemplateError::Unusable(
                "its superblock checksum does not match",
            ));
        }
        Ok(Self {
            len,
            extents,
            superblock,
        })
    }

    /// Bytes written per copy.
    pub fn written(&self) -> usize {
        self.extents.iter().map(|(_, b)| b.len()).sum()
    }

    /// The image's size, bytes.
    pub fn image_len(&self) -> u64 {
        self.len
    }

    /// Makes `file` (a file or device of [`Template::image_len`] bytes that
    /// reads as zeros) a copy of the template with a UUID and directory
    /// hash seed of its own.
    pub fn write_into(&self, file: &File) -> io::Result<()> {
        for (at, bytes) in &self.extents {
            file.write_all_at(bytes, *at)?;
        }
        let mut superblock = self.superblock;
        let mut fresh = [0u8; 32];
        getrandom(&mut fresh)?;
        superblock[SB_UUID..SB_UUID + 16].copy_from_slice(&fresh[..16]);
        // An RFC 4122 random UUID, as mkfs makes (version 4, variant 1).
        superblock[SB_UUID + 6] = (superblock[SB_UUID + 6] & 0x0F) | 0x40;
        superblock[SB_UUID + 8] = (superblock[SB_UUID + 8] & 0x3F) | 0x80;
        superblock[SB_HASH_SEED..SB_HASH_SEED + 16].copy_from_slice(&fresh[16..]);
        let sum = superblock_checksum(&superblock);
        superblock[SB_CHECKSUM..SB_CHECKSUM + 4].copy_from_slice(&sum.to_le_bytes());
        file.write_all_at(&superblock, SB_OFFSET as u64)
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `lseek` for `SEEK_DATA` / `SEEK_HOLE`; `None` past the last data.
#[allow(unsafe_code)]
fn seek(file: &File, from: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    // SAFETY: lseek on a descriptor we hold; no memory is passed.
    let r = unsafe { libc::lseek(file.as_raw_fd(), from as libc::off_t, whence) };
    if r >= 0 {
        return Ok(Some(r as u64));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENXIO) {
        Ok(None)
    } else {
        Err(e)
    }
}

#[allow(unsafe_code)]
fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: getrandom writes at most the given length into our
        // buffer, from the given offset.
        let r =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        } else {
            filled += r as usize;
        }
    }
    Ok(())
}

/// The superblock's checksum as ext4 stores it: CRC-32C (Castagnoli) of
/// the bytes before the checksum field, started at `!0` and not inverted
/// at the end (the kernel's `ext4_superblock_csum`).
fn superblock_checksum(superblock: &[u8; SB_SIZE]) -> u32 {
    crc32c_update(!0, &superblock[..SB_CHECKSUM])
}

/// CRC-32C (reflected polynomial 0x82F63B78), bit by bit: one kilobyte per
/// disk does not call for a table.
fn crc32c_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let low = crc & 1;
            crc >>= 1;
            if low != 0 {
                crc ^= 0x82F6_3B78;
            }
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_value() {
        // The usual check value: CRC-32C of "123456789".
        assert_eq!(!crc32c_update(!0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn a_file_that_is_no_file_system_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("x.img");
        std::fs::write(&path, vec![1u8; 8192]).unwrap();
        let f = File::open(&path).unwrap();
        assert!(matches!(
            Template::read(&f),
            Err(TemplateError::Unusable("no ext4 superblock"))
        ));
    }
}

/// Against a real `mkfs.ext4` (skipped without one): no root needed.
#[cfg(test)]
mod with_mkfs {
    use super::*;

    fn fsck(path: &std::path::Path) -> Option<std::process::Output> {
        let e2fsck = ["/usr/sbin/e2fsck", "/sbin/e2fsck"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())?;
        Some(
            std::process::Command::new(e2fsck)
                .args(["-f", "-n"])
                .arg(path)
                .output()
                .unwrap(),
        )
    }

    #[test]
    fn copies_are_valid_file_systems_with_a_uuid_and_hash_seed_of_their_own() {
        let Some(mkfs) = crate::namespace::disk::find_mkfs() else {
            println!("skipped: no mkfs.ext4");
            return;
        };
        let d = tempfile::tempdir().unwrap();
        let template = crate::namespace::disk::make_template(d.path(), "t", &mkfs, 512).unwrap();
        // The template's file is gone; only its blocks are kept.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        assert!(template.written() > 0 && template.written() < 1 << 20);
        let mut seen = Vec::new();
        for name in ["a.img", "b.img"] {
            let path = d.path().join(name);
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .unwrap();
            f.set_len(template.image_len()).unwrap();
            template.write_into(&f).unwrap();
            assert_eq!(f.metadata().unwrap().len(), template.len);
            let mut sb = [0u8; SB_SIZE];
            f.read_exact_at(&mut sb, SB_OFFSET as u64).unwrap();
            assert_eq!(le32(&sb, SB_CHECKSUM), superblock_checksum(&sb));
            // Sparse: about what the template wrote, not the size.
            use std::os::unix::fs::MetadataExt;
            assert!(f.metadata().unwrap().blocks() * 512 < 4 << 20);
            if let Some(out) = fsck(&path) {
                assert!(
                    out.status.success(),
                    "e2fsck -fn {name}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            seen.push((
                sb[SB_UUID..SB_UUID + 16].to_vec(),
                sb[SB_HASH_SEED..SB_HASH_SEED + 16].to_vec(),
            ));
        }
        assert_ne!(seen[0].0, seen[1].0);
        assert_ne!(seen[0].1, seen[1].1);
        assert_ne!(
            seen[0].0,
            template.superblock[SB_UUID..SB_UUID + 16].to_vec()
        );
    }
}

//! The digests S3 computes over a body while it streams: MD5 (the ETag,
//! RFC 1321, computed incrementally), CRC32, CRC32C and SHA-256 (the
//! `x-amz-checksum-*` values, base64 of the big-endian digest).

use base64::Engine;
use sha2::{Digest, Sha256};

/// Per-round shift amounts (RFC 1321, 3.4).
const SHIFTS: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/// An MD5 fed piece by piece.
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    table: [u32; 64],
    pending: Vec<u8>,
    len: u64,
}

impl Default for Md5 {
    fn default() -> Self {
        let mut table = [0u32; 64];
        for (i, v) in table.iter_mut().enumerate() {
            // T[i] = floor(2^32 * |sin(i + 1)|) (RFC 1321, 3.4).
            *v = ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32;
        }
        Self {
            state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476],
            table,
            pending: Vec::with_capacity(64),
            len: 0,
        }
    }
}

impl Md5 {
    /// Feeds `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if !self.pending.is_empty() {
            let take = (64 - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == 64 {
                let block: [u8; 64] = self.pending[..].try_into().expect("64 bytes");
                self.block(&block);
                self.pending.clear();
            }
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            self.block(block.try_into().expect("64 bytes"));
        }
        self.pending.extend_from_slice(blocks.remainder());
    }

    /// The digest.
    pub fn finish(mut self) -> [u8; 16] {
        let bit_len = self.len.wrapping_mul(8);
        let mut tail = std::mem::take(&mut self.pending);
        tail.push(0x80);
        while tail.len() % 64 != 56 {
            tail.push(0);
        }
        tail.extend_from_slice(&bit_len.to_le_bytes());
        for block in tail.chunks_exact(64) {
            self.block(block.try_into().expect("64 bytes"));
        }
        let mut out = [0u8; 16];
        for (i, word) in self.state.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    #[allow(clippy::needless_range_loop)] // `i` picks the round, the word and the shift
    fn block(&mut self, block: &[u8; 64]) {
        let mut m = [0u32; 16];
        for (i, word) in block.chunks_exact(4).enumerate() {
            m[i] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        }
        let [mut a, mut b, mut c, mut d] = self.state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(self.table[i])
                .wrapping_add(m[g])
                .rotate_left(SHIFTS[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
}

/// MD5 of `data`, lowercase hex.
pub fn md5_hex(data: &[u8]) -> String {
    let mut m = Md5::default();
    m.update(data);
    hex::encode(m.finish())
}

/// The CRC-32C (Castagnoli) table, reflected polynomial 0x82F63B78.
fn crc32c_table() -> &'static [u32; 256] {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, v) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0x82F6_3B78 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *v = c;
        }
        t
    })
}

/// Extends the CRC-32C `crc` with `data`.
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let table = crc32c_table();
    let mut c = !crc;
    for &b in data {
        c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// A checksum algorithm S3 accepts (`x-amz-checksum-<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (IEEE).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// SHA-1 (accepted; not computed: stored as sent).
    Sha1,
    /// SHA-256.
    Sha256,
    /// CRC-64/NVME (accepted; not computed: stored as sent).
    Crc64Nvme,
}

impl ChecksumAlgorithm {
    /// From the header suffix or the algorithm name (`crc32`, `CRC32`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "crc32" => Some(Self::Crc32),
            "crc32c" => Some(Self::Crc32c),
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "crc64nvme" => Some(Self::Crc64Nvme),
            _ => None,
        }
    }

    /// The header that carries it.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
        }
    }

    /// The name in XML (`ChecksumCRC32`) minus the `Checksum` prefix.
    pub fn xml_name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Crc64Nvme => "CRC64NVME",
        }
    }
}

/// The digests of one body, fed as it streams.
#[derive(Clone, Default)]
pub struct BodyDigests {
    md5: Md5,
    crc32: crc32fast::Hasher,
    crc32c: u32,
    sha256: Sha256,
    /// Bytes seen.
    pub len: u64,
}

impl BodyDigests {
    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.crc32.update(data);
        self.crc32c = crc32c_update(self.crc32c, data);
        self.sha256.update(data);
        self.len += data.len() as u64;
    }

    /// The results.
    pub fn finish(self) -> Digests {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        Digests {
            md5: self.md5.finish(),
            crc32: b64(&self.crc32.finalize().to_be_bytes()),
            crc32c: b64(&self.crc32c.to_be_bytes()),
            sha256_hex: hex::encode(self.sha256.clone().finalize()),
            sha256: b64(&self.sha256.finalize()),
            len: self.len,
        }
    }
}

/// A body's digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// MD5.
    pub md5: [u8; 16],
    /// CRC-32, base64.
    pub crc32: String,
    /// CRC-32C, base64.
    pub crc32c: String,
    /// SHA-256, base64.
    pub sha256: String,
    /// SHA-256, hex (`x-amz-content-sha256`).
    pub sha256_hex: String,
    /// Length.
    pub len: u64,
}

impl Digests {
    /// The checksum `algorithm` names, base64; `None` for algorithms not
    /// computed here.
    pub fn checksum(&self, algorithm: ChecksumAlgorithm) -> Option<&str> {
        match algorithm {
            ChecksumAlgorithm::Crc32 => Some(&self.crc32),
            ChecksumAlgorithm::Crc32c => Some(&self.crc32c),
            ChecksumAlgorithm::Sha256 => Some(&self.sha256),
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Crc64Nvme => None,
        }
    }

    /// The ETag S3 gives a single-part object: the MD5, hex, quoted.
    pub fn etag(&self) -> String {
        format!("\"{}\"", hex::encode(self.md5))
    }
}

/// The ETag of a multipart object: the MD5 of the parts' MD5s, `-N`.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut m = Md5::default();
    for p in part_md5s {
        m.update(p);
    }
    format!("\"{}-{}\"", hex::encode(m.finish()), part_md5s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_the_rfc_suite_fed_in_any_pieces() {
        for (input, hex) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(md5_hex(input.as_bytes()), hex);
            for step in [1, 3, 63, 64, 65] {
                let mut m = Md5::default();
                for piece in input.as_bytes().chunks(step) {
                    m.update(piece);
                }
                assert_eq!(
                    hex::encode(m.finish()),
                    hex,
                    "{input:?} in pieces of {step}"
                );
            }
        }
    }

    #[test]
    fn checksums_are_base64_of_big_endian_digests() {
        let mut d = BodyDigests::default();
        d.update(b"123456789");
        let d = d.finish();
        // The check values of CRC-32 (0xCBF43926) and CRC-32C (0xE3069283).
        assert_eq!(d.crc32, "y/Q5Jg==");
        assert_eq!(d.crc32c, "4waSgw==");
        assert_eq!(d.etag(), "\"25f9e794323b453885f5181f1b624d0b\"");
    }

    #[test]
    fn multipart_etag_is_md5_of_md5s_with_the_count() {
        let a = Md5::default().finish();
        let etag = multipart_etag(&[a, a]);
        let mut cat = Vec::new();
        cat.extend_from_slice(&a);
        cat.extend_from_slice(&a);
        assert_eq!(etag, format!("\"{}-2\"", md5_hex(&cat)));
    }
}

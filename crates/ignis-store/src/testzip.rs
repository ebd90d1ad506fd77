//! Test zips built in memory: with the `zip` crate's writer, or byte by byte
//! for what the writer will not produce (duplicate names, entries without a
//! unix mode, setuid modes, headers that lie about sizes).

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    File,
    Dir,
    Symlink,
}

/// One entry of a test zip.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    name: String,
    data: Vec<u8>,
    kind: EntryKind,
    mode: Option<u32>,
    stored: bool,
    /// Compression method and flags for raw zips.
    raw_header: (u16, u16),
}

impl Entry {
    pub(crate) fn file(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.to_string(),
            data: data.to_vec(),
            kind: EntryKind::File,
            mode: Some(0o100_644),
            stored: false,
            raw_header: (0, 0),
        }
    }

    pub(crate) fn dir(name: &str) -> Self {
        Self {
            kind: EntryKind::Dir,
            mode: Some(0o040_755),
            ..Self::file(name, b"")
        }
    }

    pub(crate) fn symlink(name: &str, target: &str) -> Self {
        Self {
            kind: EntryKind::Symlink,
            mode: Some(0o120_777),
            ..Self::file(name, target.as_bytes())
        }
    }

    /// Full unix mode, file type included.
    pub(crate) fn mode(self, mode: u32) -> Self {
        Self {
            mode: Some(mode),
            ..self
        }
    }

    /// No unix mode at all (made by MS-DOS, no attributes); raw zips only.
    pub(crate) fn no_unix_mode(self) -> Self {
        Self { mode: None, ..self }
    }

    /// Compression method and general-purpose flags written in raw zips
    /// (the data is written as given).
    pub(crate) fn raw_header(self, method: u16, flags: u16) -> Self {
        Self {
            raw_header: (method, flags),
            ..self
        }
    }

    /// Stored rather than deflated.
    pub(crate) fn stored(self) -> Self {
        Self {
            stored: true,
            ..self
        }
    }
}

/// A zip written by the `zip` crate (permission bits only: it drops setuid).
pub(crate) fn build(entries: &[Entry]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for e in entries {
        let method = if e.stored {
            CompressionMethod::Stored
        } else {
            CompressionMethod::Deflated
        };
        let mut options = SimpleFileOptions::default().compression_method(method);
        if let Some(mode) = e.mode {
            options = options.unix_permissions(mode);
        }
        match e.kind {
            EntryKind::File => {
                writer.start_file(e.name.as_str(), options).unwrap();
                writer.write_all(&e.data).unwrap();
            }
            EntryKind::Dir => writer.add_directory(e.name.as_str(), options).unwrap(),
            EntryKind::Symlink => {
                let target = String::from_utf8(e.data.clone()).unwrap();
                writer
                    .add_symlink(e.name.as_str(), target, options)
                    .unwrap();
            }
        }
    }
    writer.finish().unwrap().into_inner()
}

/// A zip of stored entries, written byte by byte.
pub(crate) fn build_raw(entries: &[Entry]) -> Vec<u8> {
    let raw: Vec<RawEntry> = entries
        .iter()
        .map(|e| RawEntry {
            name: e.name.as_bytes().to_vec(),
            method: e.raw_header.0,
            flags: e.raw_header.1,
            crc: crc32(&e.data),
            declared_size: e.data.len() as u32,
            mode: e.mode,
            data: e.data.clone(),
        })
        .collect();
    write_raw(&raw)
}

/// One entry named `zeros` whose deflated data inflates to `real` zero
/// bytes while its headers claim `claimed` bytes.
pub(crate) fn lying_bomb(real: u64, claimed: u32) -> Vec<u8> {
    let entry = RawEntry {
        name: b"zeros".to_vec(),
        method: 8,
        flags: 0,
        crc: 0,
        declared_size: claimed,
        mode: Some(0o100_644),
        data: deflate_zeros(real),
    };
    write_raw(&[entry])
}

struct RawEntry {
    name: Vec<u8>,
    /// 0 stored, 8 deflated.
    method: u16,
    flags: u16,
    crc: u32,
    declared_size: u32,
    mode: Option<u32>,
    /// As stored (compressed if deflated).
    data: Vec<u8>,
}

fn write_raw(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let common = |buf: &mut Vec<u8>| {
            put16(buf, 20); // version needed
            put16(buf, e.flags);
            put16(buf, e.method);
            put16(buf, 0); // time
            put16(buf, 0x21); // date: 1980-01-01
            put32(buf, e.crc);
            put32(buf, e.data.len() as u32);
            put32(buf, e.declared_size);
            put16(buf, e.name.len() as u16);
            put16(buf, 0); // extra length
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);

        central.extend_from_slice(b"PK\x01\x02");
        put16(
            &mut central,
            if e.mode.is_some() { (3 << 8) | 20 } else { 20 },
        );
        common(&mut central);
        put16(&mut central, 0); // comment length
        put16(&mut central, 0); // disk
        put16(&mut central, 0); // internal attributes
        put32(&mut central, e.mode.map_or(0, |m| m << 16));
        put32(&mut central, offset);
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, entries.len() as u16);
    put16(&mut out, entries.len() as u16);
    put32(&mut out, central.len() as u32);
    put32(&mut out, cd_offset);
    put16(&mut out, 0);
    out
}

fn put16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Raw deflate of `n` zero bytes in one fixed-Huffman block: a literal 0,
/// then back-references of length 258 at distance 1 (13 bits each).
fn deflate_zeros(n: u64) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bits(1, 1); // BFINAL
    w.bits(1, 2); // BTYPE = fixed Huffman
    let mut left = n;
    if left > 0 {
        w.huffman(0b0011_0000, 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        w.huffman(0b1100_0101, 8); // length symbol 285 = 258
        w.huffman(0, 5); // distance symbol 0 = 1
        left -= 258;
    }
    for _ in 0..left {
        w.huffman(0b0011_0000, 8);
    }
    w.huffman(0, 7); // end of block (256)
    w.finish()
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl BitWriter {
    /// `n` bits of `value`, least significant first.
    fn bits(&mut self, value: u32, n: u32) {
        self.acc |= u64::from(value) << self.len;
        self.len += n;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// A Huffman code, most significant bit first.
    fn huffman(&mut self, code: u32, n: u32) {
        self.bits(code.reverse_bits() >> (32 - n), n);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.len > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

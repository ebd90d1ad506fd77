//! AWS's event-stream binary framing (`application/vnd.amazon.eventstream`),
//! as the SDKs parse a streamed answer (Lambda's InvokeWithResponseStream):
//!
//! ```text
//! total length (u32 BE, the whole message) | headers length (u32 BE)
//! prelude CRC32 (u32 BE, of the 8 bytes above)
//! headers: name length (u8) | name | value type (u8, 7 = string) | value length (u16 BE) | value
//! payload
//! message CRC32 (u32 BE, of everything before it)
//! ```
//!
//! CRC32 is the IEEE (gzip) one. Only string headers are written: an event's
//! `:event-type`, `:content-type` and `:message-type`.

use bytes::{BufMut, Bytes, BytesMut};

/// Bytes a message takes besides its headers and payload: the prelude, its
/// CRC and the message CRC.
const OVERHEAD: usize = 16;
/// The header value type of a string.
const STRING: u8 = 7;

/// One message: `headers` (name, value) as strings, then `payload`.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers_len = headers_len(headers);
    let total = OVERHEAD + headers_len + payload.len();
    let mut buf = BytesMut::with_capacity(total);
    put_prelude(&mut buf, total, headers_len);
    put_headers(&mut buf, headers);
    buf.put_slice(payload);
    let message_crc = crc32fast::hash(&buf);
    buf.put_u32(message_crc);
    buf.freeze()
}

/// [`event`] in three parts — prelude and headers, `payload` itself, the
/// message CRC — so that the payload's bytes are sent as they are, not
/// copied into the message.
pub fn event_parts(event_type: &str, content_type: &str, payload: Bytes) -> [Bytes; 3] {
    let headers = event_headers(event_type, content_type);
    let headers_len = headers_len(&headers);
    let total = OVERHEAD + headers_len + payload.len();
    let mut head = BytesMut::with_capacity(12 + headers_len);
    put_prelude(&mut head, total, headers_len);
    put_headers(&mut head, &headers);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(&payload);
    let tail = Bytes::copy_from_slice(&crc.finalize().to_be_bytes());
    [head.freeze(), payload, tail]
}

/// An event's headers.
fn event_headers<'a>(event_type: &'a str, content_type: &'a str) -> [(&'a str, &'a str); 3] {
    [
        (":event-type", event_type),
        (":content-type", content_type),
        (":message-type", "event"),
    ]
}

fn headers_len(headers: &[(&str, &str)]) -> usize {
    headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 1 + 2 + value.len())
        .sum()
}

fn put_prelude(buf: &mut BytesMut, total: usize, headers_len: usize) {
    buf.put_u32(total as u32);
    buf.put_u32(headers_len as u32);
    let prelude_crc = crc32fast::hash(&buf[buf.len() - 8..]);
    buf.put_u32(prelude_crc);
}

fn put_headers(buf: &mut BytesMut, headers: &[(&str, &str)]) {
    for (name, value) in headers {
        buf.put_u8(name.len() as u8);
        buf.put_slice(name.as_bytes());
        buf.put_u8(STRING);
        buf.put_u16(value.len() as u16);
        buf.put_slice(value.as_bytes());
    }
}

/// An event of `event_type` with a payload of `content_type`.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    message(&event_headers(event_type, content_type), payload)
}

/// Why bytes are not one message.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the message says, or lengths that disagree.
    Malformed,
    /// The prelude's CRC does not match.
    PreludeCrc,
    /// The message's CRC does not match.
    MessageCrc,
}

/// A message read back: its string headers and payload (for tests and
/// for clients of streamed answers).
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Headers as (name, value), string ones only.
    pub headers: Vec<(String, String)>,
    /// The payload.
    pub payload: Vec<u8>,
    /// Bytes the message took.
    pub len: usize,
}

impl Decoded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the message at the start of `bytes`, checking both CRCs.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let u32_at = |at: usize| -> Result<u32, DecodeError> {
        let b = bytes.get(at..at + 4).ok_or(DecodeError::Malformed)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let total = u32_at(0)? as usize;
    let headers_len = u32_at(4)? as usize;
    // The prelude's own CRC first: lengths are not trusted before it.
    if crc32fast::hash(&bytes[..8]) != u32_at(8)? {
        return Err(DecodeError::PreludeCrc);
    }
    if total < OVERHEAD + headers_len || bytes.len() < total {
        return Err(DecodeError::Malformed);
    }
    if crc32fast::hash(&bytes[..total - 4]) != u32_at(total - 4)? {
        return Err(DecodeError::MessageCrc);
    }
    let mut headers = Vec::new();
    let mut at = 12;
    let end = 12 + headers_len;
    while at < end {
        let name_len = bytes[at] as usize;
        let name = bytes
            .get(at + 1..at + 1 + name_len)
            .ok_or(DecodeError::Malformed)?;
        at += 1 + name_len;
        if bytes.get(at) != Some(&STRING) {
            return Err(DecodeError::Malformed);
        }
        let len = bytes.get(at + 1..at + 3).ok_or(DecodeError::Malformed)?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        let value = bytes
            .get(at + 3..at + 3 + len)
            .ok_or(DecodeError::Malformed)?;
        at += 3 + len;
        headers.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
    if at != end {
        return Err(DecodeError::Malformed);
    }
    Ok(Decoded {
        headers,
        payload: bytes[end..total - 4].to_vec(),
        len: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_message_is_its_prelude_and_crcs() {
        // The prelude (16, 0) and its CRC; the message CRC over those 12.
        let m = message(&[], b"");
        assert_eq!(m.len(), 16);
        assert_eq!(&m[..8], &[0, 0, 0, 16, 0, 0, 0, 0]);
        assert_eq!(&m[8..12], &crc32fast::hash(&m[..8]).to_be_bytes());
        assert_eq!(&m[12..], &crc32fast::hash(&m[..12]).to_be_bytes());
    }

    #[test]
    fn the_payload_only_message_of_the_published_example() {
        // Known answer: `{"foo": "bar"}` without headers frames to total
        // 30, headers 0, prelude CRC ba f2 f6 8a, message CRC ae 72 58 e4
        // (a published encoder's documented example; botocore's own parser
        // reads Ignis's events in tests/e2e/test_streaming.py).
        let m = message(&[], br#"{"foo": "bar"}"#);
        assert_eq!(&m[..12], &[0, 0, 0, 30, 0, 0, 0, 0, 0xba, 0xf2, 0xf6, 0x8a]);
        assert_eq!(&m[m.len() - 4..], &[0xae, 0x72, 0x58, 0xe4]);
    }

    #[test]
    fn headers_are_length_prefixed_strings() {
        let m = event("PayloadChunk", "application/octet-stream", b"hi");
        let headers_len = u32::from_be_bytes([m[4], m[5], m[6], m[7]]) as usize;
        let expected = (1 + 11 + 1 + 2 + 12) + (1 + 13 + 1 + 2 + 24) + (1 + 13 + 1 + 2 + 5);
        assert_eq!(headers_len, expected);
        assert_eq!(m[12], 11);
        assert_eq!(&m[13..24], b":event-type");
        assert_eq!(m[24], STRING);
        assert_eq!(&m[25..27], &[0, 12]);
        assert_eq!(&m[27..39], b"PayloadChunk");
        let d = decode(&m).unwrap();
        assert_eq!(d.header(":event-type"), Some("PayloadChunk"));
        assert_eq!(d.header(":content-type"), Some("application/octet-stream"));
        assert_eq!(d.header(":message-type"), Some("event"));
        assert_eq!(d.payload, b"hi");
        assert_eq!(d.len, m.len());
    }

    #[test]
    fn an_event_in_parts_is_the_event() {
        let payload = Bytes::from_static(b"some bytes");
        let parts = event_parts("PayloadChunk", "application/octet-stream", payload.clone());
        assert_eq!(
            parts[1].as_ptr(),
            payload.as_ptr(),
            "the payload is not copied"
        );
        let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        assert_eq!(
            joined,
            event("PayloadChunk", "application/octet-stream", &payload)
        );
    }

    #[test]
    fn corrupted_bytes_fail_their_crc() {
        let m = event("InvokeComplete", "application/json", b"{}").to_vec();
        let mut bad = m.clone();
        bad[3] ^= 1;
        assert_eq!(decode(&bad), Err(DecodeError::PreludeCrc));
        let mut bad = m.clone();
        let last = bad.len() - 5;
        bad[last] ^= 1;
        assert_eq!(decode(&bad), Err(DecodeError::MessageCrc));
        assert_eq!(decode(&m[..m.len() - 1]), Err(DecodeError::Malformed));
    }

    #[test]
    fn messages_follow_each_other() {
        let mut two = event("PayloadChunk", "application/octet-stream", b"a").to_vec();
        two.extend_from_slice(&event("PayloadChunk", "application/octet-stream", b"bc"));
        let first = decode(&two).unwrap();
        let second = decode(&two[first.len..]).unwrap();
        assert_eq!(
            (first.payload, second.payload),
            (b"a".to_vec(), b"bc".to_vec())
        );
    }
}

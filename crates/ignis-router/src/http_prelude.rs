//! The HTTP-integration prelude of a streamed answer, for a function URL
//! with `InvokeMode: RESPONSE_STREAM`: a function that writes with
//! `awslambda.HttpResponseStream.from(stream, {statusCode, headers,
//! cookies})` streams with the content type
//! [`HTTP_INTEGRATION_CONTENT_TYPE`], first the head as JSON, then 8 NUL
//! bytes, then the body. JSON text has no raw NUL byte (control characters
//! in its strings are escaped), so the first run of 8 ends the head.
//!
//! [`PreludeReader`] finds it in chunks as they arrive (the head may span
//! chunks, and the body may begin in the chunk that ends it), without
//! copying when the delimiter falls inside one chunk; [`split_prelude`] is
//! the same over bytes at hand.

use bytes::{Bytes, BytesMut};

/// The content type of a stream that begins with an HTTP-integration
/// prelude.
pub const HTTP_INTEGRATION_CONTENT_TYPE: &str =
    "application/vnd.awslambda.http-integration-response";

/// The bytes between the prelude's head and the body.
const DELIMITER: [u8; 8] = [0; 8];

/// The head (JSON) and the body of bytes that hold the whole prelude;
/// `None` if the delimiter is not in them.
pub fn split_prelude(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = find_delimiter(bytes, 0)?;
    Some((&bytes[..at], &bytes[at + DELIMITER.len()..]))
}

/// Where the first delimiter starts, looking from `from`.
fn find_delimiter(bytes: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(DELIMITER.len())
        .position(|w| w == DELIMITER)
        .map(|i| i + from)
}

/// Reads a prelude from a stream's chunks.
#[derive(Debug, Default)]
pub struct PreludeReader {
    /// The head so far, when it spans chunks.
    buf: BytesMut,
}

/// What a chunk gave.
#[derive(Debug, PartialEq, Eq)]
pub enum PreludeRead {
    /// The head is not complete yet.
    NeedMore,
    /// The head (JSON, without the delimiter) and the first bytes of the
    /// body (possibly empty); every later chunk is body.
    Head {
        /// The head's JSON text.
        head: Bytes,
        /// What followed the delimiter in this chunk.
        body: Bytes,
    },
}

impl PreludeReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the stream's next chunk.
    pub fn push(&mut self, chunk: Bytes) -> PreludeRead {
        if self.buf.is_empty() {
            // The usual case: head and delimiter in one chunk.
            if let Some(at) = find_delimiter(&chunk, 0) {
                return PreludeRead::Head {
                    head: chunk.slice(..at),
                    body: chunk.slice(at + DELIMITER.len()..),
                };
            }
            self.buf.extend_from_slice(&chunk);
            return PreludeRead::NeedMore;
        }
        // A delimiter may straddle the boundary: look from 7 bytes back.
        let from = self.buf.len().saturating_sub(DELIMITER.len() - 1);
        self.buf.extend_from_slice(&chunk);
        match find_delimiter(&self.buf, from) {
            Some(at) => {
                let mut all = std::mem::take(&mut self.buf).freeze();
                let body = all.split_off(at + DELIMITER.len());
                all.truncate(at);
                PreludeRead::Head { head: all, body }
            }
            None => PreludeRead::NeedMore,
        }
    }

    /// What was read of a stream that ended before its head did.
    pub fn into_unfinished(self) -> Bytes {
        self.buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = br#"{"statusCode":201,"headers":{"x-a":"b"},"cookies":["c=1"]}"#;

    fn stream(body: &[u8]) -> Vec<u8> {
        [HEAD, &DELIMITER[..], body].concat()
    }

    #[test]
    fn splits_bytes_at_hand() {
        let all = stream(b"body\0\0\0\0\0\0\0\0more");
        let (head, body) = split_prelude(&all).unwrap();
        assert_eq!(head, HEAD);
        // NULs in the body are body.
        assert_eq!(body, b"body\0\0\0\0\0\0\0\0more");
        assert_eq!(split_prelude(HEAD), None);
        assert_eq!(split_prelude(&DELIMITER), Some((&b""[..], &b""[..])));
    }

    #[test]
    fn one_chunk_is_split_without_a_copy() {
        let chunk = Bytes::from(stream(b"hello"));
        let mut r = PreludeReader::new();
        let PreludeRead::Head { head, body } = r.push(chunk.clone()) else {
            panic!("no head");
        };
        assert_eq!(head, HEAD);
        assert_eq!(body, "hello");
        assert_eq!(head.as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn a_head_and_delimiter_split_anywhere_are_found() {
        let all = stream(b"the body");
        for cut in 1..all.len() {
            for cut2 in cut..all.len() {
                let mut r = PreludeReader::new();
                let pieces = [&all[..cut], &all[cut..cut2], &all[cut2..]];
                let mut got = None;
                let mut body = Vec::new();
                for p in pieces {
                    match &got {
                        Some(_) => body.extend_from_slice(p),
                        None => {
                            if let PreludeRead::Head { head, body: b } =
                                r.push(Bytes::copy_from_slice(p))
                            {
                                got = Some(head);
                                body.extend_from_slice(&b);
                            }
                        }
                    }
                }
                assert_eq!(got.as_deref(), Some(HEAD), "cut at {cut}, {cut2}");
                assert_eq!(body, b"the body", "cut at {cut}, {cut2}");
            }
        }
    }

    #[test]
    fn a_stream_that_ends_inside_its_head_gives_what_it_read() {
        let mut r = PreludeReader::new();
        assert_eq!(
            r.push(Bytes::from_static(b"{\"statusCode\"")),
            PreludeRead::NeedMore
        );
        assert_eq!(
            r.push(Bytes::from_static(b":200}\0\0\0")),
            PreludeRead::NeedMore
        );
        assert_eq!(r.into_unfinished(), "{\"statusCode\":200}\0\0\0");
    }
}

//! The Runtime API's hot exchanges on a lean HTTP/1.1 connection loop.
//!
//! A warm invoke is three HTTP exchanges, two of them here: the runtime's
//! `GET …/invocation/next` and its `POST …/invocation/{id}/response` (or
//! `/error`). This loop serves exactly those requests when they come in the
//! plain shape every runtime client sends (HTTP/1.1, a `Content-Length`
//! body or none, no `Transfer-Encoding`, `Expect` or upgrade, well-formed
//! header lines ending in CRLF): one read of the head and body into a
//! buffer kept for the connection, the answer's head written next to the
//! body in one system call, no per-request header map, no task hop.
//!
//! Anything else — a streamed (chunked) response with its trailers,
//! `/init/error`, a body over the 6 MB limit, an unknown path or method, a
//! head that does not parse cleanly here — hands the connection, with every
//! byte already read, to hyper ([`Rewind`]), which serves it from then on
//! with [`crate::handlers::route`]; so the full HTTP/1.1 behavior (and every
//! error shape of the spec) stays hyper's, and this loop only has to be
//! right about the requests it takes.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use hyper::StatusCode;
use ignis_model::headers as h;
use ignis_model::limits::RESPONSE_PAYLOAD_MAX;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::handlers::{answer_parts, deadline_ms, route_of, Route, PREFIX};
use crate::slot::Slot;
use crate::{Invocation, Outcome};

/// The most head bytes looked at here; a longer head goes to hyper.
const HEAD_MAX: usize = 16 * 1024;
/// The most header lines taken here (hyper's own default limit).
const HEADERS_MAX: usize = 100;
/// Buffer room asked for before each read.
const READ_CHUNK: usize = 8 * 1024;
/// Bodies up to this size are copied out of the connection's buffer (one
/// small allocation, the buffer stays the connection's); longer ones are
/// split off it without a copy.
const COPY_MAX: usize = 16 * 1024;
/// Bodies up to this size are written in the same buffer as the head.
const INLINE_MAX: usize = 16 * 1024;

/// Serves `stream` until it closes, or hands it back with the bytes read
/// from it so far for hyper to serve.
pub(crate) async fn serve(mut stream: TcpStream, slot: &Slot) -> Option<(TcpStream, Bytes)> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let head_len = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            if buf.len() > HEAD_MAX {
                return Some((stream, buf.freeze()));
            }
            buf.reserve(READ_CHUNK);
            match stream.read_buf(&mut buf).await {
                Ok(0) if buf.is_empty() => return None,
                // Closed mid-head: hyper says what it makes of it.
                Ok(0) => return Some((stream, buf.freeze())),
                Ok(_) => {}
                Err(_) => return None,
            }
        };
        let Some(head) = parse_head(&buf[..head_len]) else {
            return Some((stream, buf.freeze()));
        };
        let total = head_len + head.content_length;
        while buf.len() < total {
            buf.reserve((total - buf.len()).clamp(READ_CHUNK, 1 << 20));
            match stream.read_buf(&mut buf).await {
                Ok(0) => return Some((stream, buf.freeze())),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        out.clear();
        let sent = match head.route {
            Lean::Next => {
                buf.advance(total);
                // `None`: the runtime hung up.
                let invocation = next(&stream, slot, &mut buf).await?;
                write_next(&mut out, &invocation, head.close);
                write_with_body(&mut stream, &mut out, &invocation.payload).await
            }
            Lean::Answer { id, error } => {
                let (id, body, error_type) = if head.content_length <= COPY_MAX {
                    let id = &buf[id];
                    let body = Bytes::copy_from_slice(&buf[head_len..total]);
                    // The path and the error type were checked as visible
                    // ASCII by `parse_head`.
                    let id = std::str::from_utf8(id).unwrap_or_default().to_owned();
                    let error_type = head.error_type.map(|r| ascii(&buf[r]));
                    buf.advance(total);
                    (id, body, error_type)
                } else {
                    let mut message = buf.split_to(total);
                    let id = std::str::from_utf8(&message[id])
                        .unwrap_or_default()
                        .to_owned();
                    let error_type = head.error_type.map(|r| ascii(&message[r]));
                    message.advance(head_len);
                    (id, message.freeze(), error_type)
                };
                let outcome = if error {
                    Outcome::FunctionError { error_type, body }
                } else {
                    Outcome::Response(body)
                };
                let (status, document) = answer_parts(slot.answer(&id, outcome));
                write_head(&mut out, status, &[], document.len(), head.close);
                out.extend_from_slice(&document);
                stream.write_all(&out).await
            }
        };
        if sent.is_err() || head.close {
            let _ = stream.shutdown().await;
            return None;
        }
    }
}

/// The `/next` long poll: the next invocation, or `None` if the runtime
/// closed its connection first (the invocation then stays for the next
/// `/next`, as hyper drops a closed connection's pending request).
async fn next(stream: &TcpStream, slot: &Slot, buf: &mut BytesMut) -> Option<Invocation> {
    let next = slot.next();
    tokio::pin!(next);
    let mut watching = true;
    loop {
        tokio::select! {
            biased;
            invocation = &mut next => return Some(invocation),
            gone = peer_gone(stream, buf), if watching => {
                if gone {
                    return None;
                }
                // A pipelined request: it waits in the buffer.
                watching = false;
            }
        }
    }
}

/// Waits until the peer sends something: `true` if it closed or failed,
/// `false` if bytes came (kept in `buf`).
async fn peer_gone(stream: &TcpStream, buf: &mut BytesMut) -> bool {
    loop {
        if stream.readable().await.is_err() {
            return true;
        }
        buf.reserve(READ_CHUNK);
        match stream.try_read_buf(buf) {
            Ok(0) => return true,
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return true,
        }
    }
}

/// Writes `out` (a head) and then `body`: together in `out` when small,
/// else side by side in one vectored write.
async fn write_with_body(stream: &mut TcpStream, out: &mut Vec<u8>, body: &[u8]) -> io::Result<()> {
    if body.len() <= INLINE_MAX {
        out.extend_from_slice(body);
        return stream.write_all(out).await;
    }
    let (mut head, mut body) = (&out[..], body);
    while !head.is_empty() {
        let n = stream
            .write_vectored(&[IoSlice::new(head), IoSlice::new(body)])
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n >= head.len() {
            body = &body[n - head.len()..];
            head = &[];
        } else {
            head = &head[n..];
        }
    }
    stream.write_all(body).await
}

/// What this loop serves.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lean {
    /// `GET …/invocation/next`.
    Next,
    /// `POST …/invocation/{id}/response` (or `/error`); `id` is the
    /// request id's byte range in the head.
    Answer {
        id: std::ops::Range<usize>,
        error: bool,
    },
}

/// A request head this loop serves.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    route: Lean,
    content_length: usize,
    /// `Connection: close`.
    close: bool,
    /// The byte range of `Lambda-Runtime-Function-Error-Type`'s value.
    error_type: Option<std::ops::Range<usize>>,
}

/// Byte classes for the head's checks, one lookup per byte.
const TCHAR: u8 = 1;
/// A byte of a header value as httparse takes it (tab, space, visible
/// ASCII, obs-text).
const FIELD: u8 = 2;
/// A byte `HeaderValue::from_str` takes (tab, space, visible ASCII).
const VALUE: u8 = 4;
/// A byte of a request target taken here (visible ASCII but `?` and `#`).
const TARGET: u8 = 8;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            class |= TCHAR;
        }
        if c == b'\t' || (c >= 0x20 && c != 0x7f) {
            class |= FIELD;
        }
        if c == b'\t' || (c >= 0x20 && c < 0x7f) {
            class |= VALUE;
        }
        if c > 0x20 && c < 0x7f && c != b'?' && c != b'#' {
            class |= TARGET;
        }
        t[b] = class;
        b += 1;
    }
    t
};

/// Whether every byte of `bytes` is of `class`.
fn all_of(bytes: &[u8], class: u8) -> bool {
    bytes.iter().all(|&b| CLASS[b as usize] & class != 0)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bits at the bytes of `x` that are zero (exact up to the first one).
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The first `needle` in `hay`, eight bytes at a time.
fn find(hay: &[u8], needle: u8) -> Option<usize> {
    let pattern = ONES * u64::from(needle);
    let mut chunks = hay.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let hits = zero_bytes(word ^ pattern);
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&b| b == needle).map(|i| at + i)
}

/// Whether every byte of `bytes` is of `class` (a class that takes every
/// byte from space to `~`), eight bytes at a time where they are all that.
fn all_of_text(bytes: &[u8], class: u8) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // Any byte below a space, at DEL or above: look at each.
        let odd = (word.wrapping_sub(ONES * 0x20) & !word & HIGHS)
            | zero_bytes(word ^ (ONES * 0x7f))
            | (word & HIGHS);
        if odd != 0 && !all_of(chunk, class) {
            return false;
        }
    }
    all_of(chunks.remainder(), class)
}

/// The length of the head at the start of `buf` (through its empty line),
/// if it is all there. A bare LF ends a head too (hyper takes those); the
/// head then fails [`parse_head`] and goes to hyper.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find(&buf[from..], b'\n') {
        let at = from + i;
        match buf.get(at + 1..) {
            Some([b'\n', ..]) => return Some(at + 2),
            Some([b'\r', b'\n', ..]) => return Some(at + 3),
            _ => from = at + 1,
        }
    }
    None
}

/// The head, if it is one this loop serves; `None`: hyper's.
fn parse_head(head: &[u8]) -> Option<Head> {
    let mut lines = CrlfLines { rest: head, at: 0 };
    let (request_line, _) = lines.next()?;
    let (method, rest) = request_line.split_at(find(request_line, b' ')?);
    // The version is the line's last 9 bytes; the target is what is between
    // (a space in it fails the target's check below).
    let (target, version) = rest[1..].split_at(rest.len().checked_sub(10)?);
    if version != b" HTTP/1.1" {
        return None;
    }
    // The target: visible ASCII, no query; the id's range is relative to
    // the head (the request line starts it).
    if !target
        .iter()
        .all(|&b| (0x21..0x7f).contains(&b) && b != b'?' && b != b'#')
    {
        return None;
    }
    let target_at = method.len() + 1;
    let rest_at = target_at + PREFIX.len();
    let rest = std::str::from_utf8(target.strip_prefix(PREFIX.as_bytes())?).ok()?;
    let route = match (method, route_of(rest)) {
        (b"GET", Route::Next) => Lean::Next,
        (b"POST", Route::Response(r)) => Lean::Answer {
            id: rest_at + r.start..rest_at + r.end,
            error: false,
        },
        (b"POST", Route::Error(r)) => Lean::Answer {
            id: rest_at + r.start..rest_at + r.end,
            error: true,
        },
        _ => return None,
    };
    let mut content_length = None;
    let mut close = false;
    let mut error_type = None;
    let mut count = 0;
    for (line, at) in lines {
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > HEADERS_MAX {
            return None;
        }
        let colon = find(line, b':')?;
        let name = &line[..colon];
        if name.is_empty() || !all_of(name, TCHAR) {
            return None;
        }
        let (start, end) = trim(line, colon + 1);
        let value = &line[start..end];
        if !value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
        {
            return None;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            if content_length.is_some() || value.is_empty() || value.len() > 10 {
                return None;
            }
            if !value.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let n: usize = std::str::from_utf8(value).ok()?.parse().ok()?;
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"connection") {
            if value.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if !value.eq_ignore_ascii_case(b"keep-alive") {
                return None;
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"upgrade")
            || name.eq_ignore_ascii_case(b"lambda-runtime-function-response-mode")
        {
            return None;
        } else if name.eq_ignore_ascii_case(h::RUNTIME_FUNCTION_ERROR_TYPE.as_bytes()) {
            // Kept only as visible ASCII, as `HeaderValue::to_str` would.
            if error_type.is_none() && all_of_text(value, VALUE) {
                error_type = Some(at + start..at + end);
            }
        }
    }
    let content_length = content_length.unwrap_or(0);
    match route {
        Lean::Next if content_length > 0 => return None,
        Lean::Answer { .. } if content_length > RESPONSE_PAYLOAD_MAX => return None,
        _ => {}
    }
    Some(Head {
        route,
        content_length,
        close,
        error_type,
    })
}

/// The lines of a head, each without its CRLF, with its offset; a line
/// ending in a bare LF ends the iteration early, so the head is not taken.
struct CrlfLines<'a> {
    rest: &'a [u8],
    at: usize,
}

impl<'a> Iterator for CrlfLines<'a> {
    type Item = (&'a [u8], usize);

    fn next(&mut self) -> Option<Self::Item> {
        let i = find(self.rest, b'\n')?;
        if i == 0 || self.rest[i - 1] != b'\r' {
            // A bare LF: make the caller give up (an empty line would end
            // the head here, so answer something no caller takes).
            self.rest = &[];
            return Some((b"\0", self.at));
        }
        let line = &self.rest[..i - 1];
        let at = self.at;
        self.rest = &self.rest[i + 1..];
        self.at += i + 1;
        Some((line, at))
    }
}

/// The value's range in `line` after `from`, without surrounding spaces
/// and tabs.
fn trim(line: &[u8], from: usize) -> (usize, usize) {
    let mut start = from;
    let mut end = line.len();
    while start < end && matches!(line[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(line[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    (start, end)
}

/// Visible ASCII bytes as a string.
fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `/next` answer's head: the invocation's `Lambda-Runtime-*`
/// headers (values that are not valid header values are left out, as the
/// hyper path does).
fn write_next(out: &mut Vec<u8>, inv: &Invocation, close: bool) {
    let deadline = deadline_ms(inv, SystemTime::now());
    let mut digits = [0u8; 20];
    let mut extra: [(&str, &[u8]); 6] = [("", b""); 6];
    let mut n = 0;
    let deadline = format_u64(deadline, &mut digits);
    let fields: [(&str, Option<&[u8]>); 6] = [
        (h::RUNTIME_REQUEST_ID, Some(inv.request_id.as_bytes())),
        (h::RUNTIME_DEADLINE_MS, Some(deadline)),
        (
            h::RUNTIME_INVOKED_FUNCTION_ARN,
            Some(inv.invoked_arn.as_bytes()),
        ),
        (h::RUNTIME_TRACE_ID, Some(inv.trace_id.as_bytes())),
        (
            h::RUNTIME_CLIENT_CONTEXT,
            inv.client_context.as_deref().map(str::as_bytes),
        ),
        (
            h::RUNTIME_COGNITO_IDENTITY,
            inv.cognito_identity.as_deref().map(str::as_bytes),
        ),
    ];
    for (name, value) in fields.iter().filter_map(|(n, v)| Some((*n, (*v)?))) {
        if n < extra.len() && all_of_text(value, VALUE) {
            extra[n] = (name, value);
            n += 1;
        }
    }
    write_head(out, StatusCode::OK, &extra[..n], inv.payload.len(), close);
}

/// A response head: status line, `content-type: application/json`,
/// `extra`, `content-length`, `connection: close` if `close`, and `date`.
fn write_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    extra: &[(&str, &[u8])],
    len: usize,
    close: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
    for (name, value) in extra {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let mut digits = [0u8; 20];
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(format_u64(len as u64, &mut digits));
    if close {
        // The request asked to close: this is the connection's last answer.
        out.extend_from_slice(b"\r\nconnection: close");
    }
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(&http_date());
    out.extend_from_slice(b"\r\n\r\n");
}

/// `n` in decimal, in `digits`.
fn format_u64(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[i..];
        }
    }
}

std::thread_local! {
    /// The `Date` value of the current second, made once per second.
    static DATE: std::cell::Cell<(u64, [u8; 29])> = const { std::cell::Cell::new((u64::MAX, [0; 29])) };
}

/// Now as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date() -> [u8; 29] {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let (at, text) = cell.get();
        if at == secs {
            return text;
        }
        let text = format_http_date(secs);
        cell.set((secs, text));
        text
    })
}

/// Seconds since the epoch as an IMF-fixdate.
fn format_http_date(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = [0u8; 29];
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    out[3..5].copy_from_slice(b", ");
    let two = |v: u64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    out[5..7].copy_from_slice(&two(day as u64));
    out[7] = b' ';
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    out[11] = b' ';
    let y = year.clamp(0, 9999) as u64;
    out[12..14].copy_from_slice(&two(y / 100));
    out[14..16].copy_from_slice(&two(y % 100));
    out[16] = b' ';
    out[17..19].copy_from_slice(&two(of_day / 3600));
    out[19] = b':';
    out[20..22].copy_from_slice(&two(of_day / 60 % 60));
    out[22] = b':';
    out[23..25].copy_from_slice(&two(of_day % 60));
    out[25..29].copy_from_slice(b" GMT");
    out
}

/// A connection handed to hyper: the bytes already read come first.
pub(crate) struct Rewind {
    read: Bytes,
    inner: TcpStream,
}

impl Rewind {
    /// `inner`, with `read` in front of what it reads next.
    pub(crate) fn new(inner: TcpStream, read: Bytes) -> Self {
        Self { read, inner }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read[..n]);
            self.read.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_end_at_the_empty_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
    }

    #[test]
    fn the_hot_requests_are_taken_and_the_rest_left_to_hyper() {
        let next = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
        let head = parse_head(next).expect("taken");
        assert_eq!(head.route, Lean::Next);
        assert!(!head.close);
        let resp = b"POST /2018-06-01/runtime/invocation/abc-1/error HTTP/1.1\r\nhost: x\r\n\
            content-length: 12\r\nConnection: close\r\n\
            Lambda-Runtime-Function-Error-Type:  Runtime.Boom \r\n\r\n";
        let head = parse_head(resp).expect("taken");
        let Lean::Answer { id, error } = head.route.clone() else {
            panic!("not an answer");
        };
        assert_eq!(&resp[id], b"abc-1");
        assert!(error);
        assert!(head.close);
        assert_eq!(head.content_length, 12);
        assert_eq!(&resp[head.error_type.expect("error type")], b"Runtime.Boom");
        for hyper_s in [
            &b"GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\n\r\n"[..],
            b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\n\n",
            b"GET /2018-06-01/runtime/invocation/next?x=1 HTTP/1.1\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n",
            b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
            b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nContent-Length: 6291557\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\n folded\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nConnection: upgrade\r\n\r\n",
            b"POST /2018-06-01/runtime/invocation/a/other HTTP/1.1\r\n\r\n",
            b"GET /elsewhere HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                parse_head(hyper_s),
                None,
                "{}",
                String::from_utf8_lossy(hyper_s)
            );
        }
    }

    #[test]
    fn words_at_a_time_agree_with_bytes_at_a_time() {
        let samples: [&[u8]; 7] = [
            b"",
            b"arn:aws:lambda:us-east-1:000000000000:function:f",
            b"Root=1-5e1b4151-5ac6c58f4a1d2b8e3c7d9f00;Sampled=0",
            b"tab\there and more text",
            b"bad\x7fbyte in the middle of it",
            b"high \xc3\xa9 bytes",
            b"ctl \x01 byte........",
        ];
        for sample in samples {
            for class in [FIELD, VALUE, TARGET] {
                assert_eq!(all_of_text(sample, class), all_of(sample, class));
            }
            for needle in [b'\n', b':', b' ', b'e', 0x7f] {
                assert_eq!(
                    find(sample, needle),
                    sample.iter().position(|&b| b == needle)
                );
            }
        }
    }

    #[test]
    fn dates_are_imf_fixdates() {
        assert_eq!(
            &format_http_date(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(&format_http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &format_http_date(1_709_164_800),
            b"Thu, 29 Feb 2024 00:00:00 GMT"
        );
        assert_eq!(
            &format_http_date(4_102_444_799),
            b"Thu, 31 Dec 2099 23:59:59 GMT"
        );
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut digits = [0; 20];
        assert_eq!(format_u64(0, &mut digits), b"0");
        assert_eq!(format_u64(u64::MAX, &mut digits), b"18446744073709551615");
    }
}

//! A request body as it streams in: plain, or `aws-chunked`
//! (`Content-Encoding: aws-chunked`, the `STREAMING-…` payloads of
//! `x-amz-content-sha256`: `<hex size>[;chunk-signature=…]\r\n<data>\r\n`
//! chunks, a zero-size chunk, then trailers such as
//! `x-amz-checksum-crc32:<base64>`), decoded chunk by chunk; and what the
//! request says the body must be (its SHA-256, `Content-MD5`, a checksum
//! in a header or a trailer, its decoded length), checked once the last
//! byte is read — before anything is made visible.

use std::pin::Pin;

use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, StatusCode};
use ignis_identity::sigv4::ChunkSigner;
use sha2::{Digest, Sha256};

use crate::digest::{ChecksumAlgorithm, Digests};
use crate::error::S3Error;

/// The raw body, as the front hands it over.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The longest chunk header or trailer line accepted.
const LINE_MAX: usize = 4096;

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunked {
    /// Expecting `<hex size>[;ext]\r\n`.
    Header,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the `\r\n` after a chunk's data.
    DataEnd,
    /// Reading trailer lines until an empty line (or the end).
    Trailers,
    /// Done.
    Done,
}

/// A body: its bytes, decoded, and what they must match.
pub struct RequestBody {
    stream: ByteStream,
    buf: BytesMut,
    chunked: Option<Chunked>,
    ended: bool,
    /// Trailers read after the last chunk, names lower case.
    pub trailers: Vec<(String, String)>,
    expect: Expect,
    /// A signed chunked body's signatures, checked chunk by chunk.
    signing: Option<Signing>,
}

/// Where a signed chunked body's verification is.
struct Signing {
    signer: ChunkSigner,
    /// The signature the current chunk's header gave.
    given: Option<String>,
    /// The current chunk's data, hashed as it streams.
    hash: Sha256,
}

fn signature_mismatch() -> S3Error {
    S3Error::new(
        StatusCode::FORBIDDEN,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

/// What the request's headers say the body must be.
#[derive(Debug, Clone, Default)]
struct Expect {
    sha256_hex: Option<String>,
    content_md5: Option<String>,
    checksum: Option<(ChecksumAlgorithm, String)>,
    trailer_checksum: Option<ChecksumAlgorithm>,
    decoded_length: Option<u64>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

impl RequestBody {
    /// The body of a request with these headers; `signer` checks the
    /// chunk signatures of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body.
    pub fn new(
        stream: ByteStream,
        headers: &HeaderMap,
        signer: Option<ChunkSigner>,
    ) -> Result<Self, S3Error> {
        let content_sha = header(headers, "x-amz-content-sha256").unwrap_or("");
        let encoding_chunked = header(headers, "content-encoding")
            .is_some_and(|e| e.split(',').any(|p| p.trim() == "aws-chunked"));
        let chunked = content_sha.starts_with("STREAMING-") || encoding_chunked;
        let mut expect = Expect::default();
        if content_sha.len() == 64 && content_sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            expect.sha256_hex = Some(content_sha.to_ascii_lowercase());
        }
        expect.content_md5 = header(headers, "content-md5").map(str::to_string);
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            if let Some(v) = header(headers, alg.header()) {
                expect.checksum = Some((alg, v.to_string()));
            }
        }
        if let Some(t) = header(headers, "x-amz-trailer") {
            let alg = t
                .strip_prefix("x-amz-checksum-")
                .and_then(ChecksumAlgorithm::parse)
                .ok_or_else(|| S3Error::invalid_argument("Invalid trailer", "x-amz-trailer", t))?;
            expect.trailer_checksum = Some(alg);
        }
        if chunked {
            let len = header(headers, "x-amz-decoded-content-length")
                .ok_or_else(|| {
                    S3Error::new(
                        StatusCode::LENGTH_REQUIRED,
                        "MissingContentLength",
                        "You must provide the Content-Length HTTP header.",
                    )
                })?
                .parse::<u64>()
                .map_err(|_| {
                    S3Error::invalid_argument(
                        "Invalid x-amz-decoded-content-length",
                        "x-amz-decoded-content-length",
                        header(headers, "x-amz-decoded-content-length").unwrap_or(""),
                    )
                })?;
            expect.decoded_length = Some(len);
        }
        Ok(Self {
            stream,
            buf: BytesMut::new(),
            chunked: chunked.then_some(Chunked::Header),
            ended: false,
            trailers: Vec::new(),
            expect,
            signing: signer.filter(|_| chunked).map(|signer| Signing {
                signer,
                given: None,
                hash: Sha256::new(),
            }),
        })
    }

    /// The checksum algorithm the request names (header or trailer).
    pub fn checksum_algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.expect
            .checksum
            .as_ref()
            .map(|(a, _)| *a)
            .or(self.expect.trailer_checksum)
    }

    /// Reads more raw bytes into the buffer; `false` at the end.
    async fn fill(&mut self) -> Result<bool, S3Error> {
        if self.ended {
            return Ok(false);
        }
        match self.stream.next().await {
            Some(Ok(b)) => {
                self.buf.extend_from_slice(&b);
                Ok(true)
            }
            Some(Err(e)) => Err(S3Error::new(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                format!("The request body terminated unexpectedly: {e}"),
            )),
            None => {
                self.ended = true;
                Ok(false)
            }
        }
    }

    /// A `\r\n`-terminated line from the buffer (reading more as needed);
    /// `None` at the end of the body.
    async fn line(&mut self) -> Result<Option<String>, S3Error> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(i);
                self.buf.advance(2);
                return String::from_utf8(line.to_vec())
                    .map(Some)
                    .map_err(|_| incomplete("a chunk header is not UTF-8"));
            }
            if self.buf.len() > LINE_MAX {
                return Err(incomplete("a chunk header is too long"));
            }
            if !self.fill().await? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(incomplete("the body ends inside a chunk header"));
            }
        }
    }

    /// The next piece of the decoded body; `None` at its end.
    pub async fn next(&mut self) -> Result<Option<Bytes>, S3Error> {
        let Some(state) = self.chunked else {
            if !self.buf.is_empty() {
                return Ok(Some(self.buf.split().freeze()));
            }
            if !self.fill().await? {
                return Ok(None);
            }
            return Ok(Some(self.buf.split().freeze()));
        };
        let mut state = state;
        loop {
            match state {
                Chunked::Header => {
                    let line = self
                        .line()
                        .await?
                        .ok_or_else(|| incomplete("the body ends before its last chunk"))?;
                    let mut fields = line.split(';');
                    let size = fields.next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16)
                        .map_err(|_| incomplete("a chunk size is not hexadecimal"))?;
                    if let Some(signing) = &mut self.signing {
                        signing.given = fields
                            .find_map(|f| f.trim().strip_prefix("chunk-signature="))
                            .map(str::to_string);
                        signing.hash = Sha256::new();
                        if size == 0 {
                            signing.verify_chunk()?;
                        }
                    }
                    state = if size == 0 {
                        Chunked::Trailers
                    } else {
                        Chunked::Data(size)
                    };
                }
                Chunked::Data(left) => {
                    if self.buf.is_empty() && !self.fill().await? {
                        return Err(incomplete("the body ends inside a chunk"));
                    }
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    let piece = self.buf.split_to(take).freeze();
                    if let Some(signing) = &mut self.signing {
                        signing.hash.update(&piece);
                    }
                    let left = left - take as u64;
                    self.chunked = Some(if left == 0 {
                        Chunked::DataEnd
                    } else {
                        Chunked::Data(left)
                    });
                    return Ok(Some(piece));
                }
                Chunked::DataEnd => {
                    let line = self.line().await?;
                    if line.as_deref() != Some("") {
                        return Err(incomplete("a chunk is longer than its size"));
                    }
                    if let Some(signing) = &mut self.signing {
                        signing.verify_chunk()?;
                    }
                    state = Chunked::Header;
                }
                Chunked::Trailers => match self.line().await? {
                    None => {
                        self.verify_trailer()?;
                        state = Chunked::Done;
                    }
                    Some(line) if line.is_empty() => {
                        self.verify_trailer()?;
                        state = Chunked::Done;
                    }
                    Some(line) => {
                        if let Some((name, value)) = line.split_once(':') {
                            self.trailers
                                .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                        }
                    }
                },
                Chunked::Done => {
                    self.chunked = Some(Chunked::Done);
                    // Read the connection's body to its end (nothing but a
                    // final line may follow), so the connection stays
                    // usable for the client's next request.
                    while self.fill().await? {
                        if self.buf.len() > LINE_MAX {
                            return Err(incomplete("data follows the last chunk"));
                        }
                    }
                    self.buf.clear();
                    return Ok(None);
                }
            }
            self.chunked = Some(state);
        }
    }

    /// A signed body's trailer signature, when it sent one.
    fn verify_trailer(&mut self) -> Result<(), S3Error> {
        let Some(signing) = &mut self.signing else {
            return Ok(());
        };
        let Some(given) = self
            .trailers
            .iter()
            .find(|(n, _)| n == "x-amz-trailer-signature")
            .map(|(_, v)| v.clone())
        else {
            return Ok(());
        };
        let mut hash = Sha256::new();
        for (name, value) in self
            .trailers
            .iter()
            .filter(|(n, _)| n != "x-amz-trailer-signature")
        {
            hash.update(format!("{name}:{value}\n").as_bytes());
        }
        if signing.signer.trailer(&hash.finalize(), &given) {
            Ok(())
        } else {
            Err(signature_mismatch())
        }
    }

    /// The whole decoded body, at most `limit` bytes (small XML documents).
    pub async fn read_all(&mut self, limit: usize) -> Result<Bytes, S3Error> {
        let mut out = BytesMut::new();
        let mut digests = crate::digest::BodyDigests::default();
        while let Some(piece) = self.next().await? {
            if out.len() + piece.len() > limit {
                return Err(S3Error::new(
                    StatusCode::BAD_REQUEST,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                ));
            }
            digests.update(&piece);
            out.extend_from_slice(&piece);
        }
        self.verify(&digests.finish())?;
        Ok(out.freeze())
    }

    /// The whole body as the text of an XML document (a configuration, a
    /// list): at most `DOC_MAX` bytes, UTF-8
    /// (else `MalformedXML`).
    pub(crate) async fn read_doc(&mut self) -> Result<String, S3Error> {
        let doc = self.read_all(crate::service::DOC_MAX).await?;
        crate::xml::doc_text(&doc).map(str::to_string)
    }

    /// Checks the decoded body's digests against what the request said;
    /// the checksum to keep with the object (algorithm and base64 value).
    pub fn verify(&self, d: &Digests) -> Result<Option<(ChecksumAlgorithm, String)>, S3Error> {
        let e = &self.expect;
        if let Some(len) = e.decoded_length {
            if len != d.len {
                return Err(incomplete(&format!(
                    "You did not provide the number of bytes specified by the x-amz-decoded-content-length header: {len} declared, {} sent",
                    d.len
                )));
            }
        }
        if let Some(sha) = &e.sha256_hex {
            if *sha != d.sha256_hex {
                return Err(S3Error::new(
                    StatusCode::BAD_REQUEST,
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
                .with("ClientComputedContentSHA256", sha.clone())
                .with("S3ComputedContentSHA256", d.sha256_hex.clone()));
            }
        }
        if let Some(md5) = &e.content_md5 {
            let given = base64::engine::general_purpose::STANDARD
                .decode(md5)
                .map_err(|_| {
                    S3Error::new(
                        StatusCode::BAD_REQUEST,
                        "InvalidDigest",
                        "The Content-MD5 you specified was invalid.",
                    )
                })?;
            if given != d.md5 {
                return Err(S3Error::new(
                    StatusCode::BAD_REQUEST,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                ));
            }
        }
        let declared = match (&e.checksum, e.trailer_checksum) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(alg)) => {
                let value = self
                    .trailers
                    .iter()
                    .find(|(n, _)| n == alg.header())
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        S3Error::invalid_request(format!(
                            "The trailer {} was declared but not sent",
                            alg.header()
                        ))
                    })?;
                Some((alg, value))
            }
            (None, None) => None,
        };
        if let Some((alg, value)) = &declared {
            if let Some(computed) = d.checksum(*alg) {
                if computed != value {
                    return Err(S3Error::new(
                        StatusCode::BAD_REQUEST,
                        "BadDigest",
                        format!(
                            "The {} you specified did not match the calculated checksum.",
                            alg.xml_name()
                        ),
                    ));
                }
            }
        }
        Ok(declared)
    }
}

impl Signing {
    /// Checks the chunk just read against the signature its header gave.
    fn verify_chunk(&mut self) -> Result<(), S3Error> {
        let hash = std::mem::take(&mut self.hash).finalize();
        match self.given.take() {
            Some(given) if self.signer.chunk(&hash, &given) => Ok(()),
            _ => Err(signature_mismatch()),
        }
    }
}

fn incomplete(what: &str) -> S3Error {
    S3Error::new(
        StatusCode::BAD_REQUEST,
        "IncompleteBody",
        format!("The request body is malformed: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::BodyDigests;

    fn body(pieces: Vec<&'static [u8]>, headers: &[(&str, &str)]) -> RequestBody {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let stream = futures_util::stream::iter(
            pieces
                .into_iter()
                .map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p))),
        );
        RequestBody::new(Box::pin(stream), &h, None).unwrap()
    }

    async fn drain(b: &mut RequestBody) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        let mut d = BodyDigests::default();
        while let Some(p) = b.next().await? {
            d.update(&p);
            out.extend_from_slice(&p);
        }
        b.verify(&d.finish())?;
        Ok(out)
    }

    const TRAILER: &[(&str, &str)] = &[
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "9"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ];

    #[tokio::test]
    async fn decodes_chunks_split_anywhere_and_checks_the_trailer() {
        // "123456789" in chunks of 4 and 5; CRC-32 y/Q5Jg==.
        let raw: &'static [u8] =
            b"4\r\n1234\r\n5\r\n56789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n";
        for split in [1, 2, 3, 7, raw.len()] {
            let pieces: Vec<&'static [u8]> = raw.chunks(split).collect();
            let mut b = body(pieces, TRAILER);
            assert_eq!(drain(&mut b).await.unwrap(), b"123456789", "split {split}");
        }
    }

    #[tokio::test]
    async fn a_wrong_trailer_checksum_is_bad_digest() {
        let raw: &'static [u8] = b"9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        let mut b = body(vec![raw], TRAILER);
        assert_eq!(drain(&mut b).await.unwrap_err().code, "BadDigest");
    }

    #[tokio::test]
    async fn signed_chunks_carry_their_signatures_in_the_header() {
        let raw: &'static [u8] =
            b"9;chunk-signature=abcd\r\n123456789\r\n0;chunk-signature=ef01\r\n\r\n";
        let mut b = body(
            vec![raw],
            &[
                ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                ("x-amz-decoded-content-length", "9"),
            ],
        );
        assert_eq!(drain(&mut b).await.unwrap(), b"123456789");
    }

    #[tokio::test]
    async fn a_short_body_or_wrong_length_is_refused() {
        let mut b = body(vec![b"9\r\n1234"], TRAILER);
        assert_eq!(drain(&mut b).await.unwrap_err().code, "IncompleteBody");
        let raw: &'static [u8] = b"3\r\n123\r\n0\r\n\r\n";
        let mut b = body(
            vec![raw],
            &[
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "9"),
            ],
        );
        assert_eq!(drain(&mut b).await.unwrap_err().code, "IncompleteBody");
    }

    #[tokio::test]
    async fn plain_bodies_check_sha256_and_md5() {
        let mut b = body(vec![b"abc"], &[("content-md5", "kAFQmDzST7DWlj99KOF/cg==")]);
        assert_eq!(drain(&mut b).await.unwrap(), b"abc");
        let mut b = body(vec![b"abd"], &[("content-md5", "kAFQmDzST7DWlj99KOF/cg==")]);
        assert_eq!(drain(&mut b).await.unwrap_err().code, "BadDigest");
        let mut b = body(vec![b"abc"], &[("x-amz-content-sha256", &"0".repeat(64))]);
        assert_eq!(
            drain(&mut b).await.unwrap_err().code,
            "XAmzContentSHA256Mismatch"
        );
    }

    #[tokio::test]
    async fn signed_chunks_are_verified_one_by_one() {
        // AWS's example of a signed chunked upload: 64 KB and 1 KB of 'a'.
        let auth = ignis_identity::sigv4::Authorization {
            form: ignis_identity::sigv4::SignatureForm::Header,
            credential: ignis_identity::sigv4::Credential {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                date: "20130524".into(),
                region: "us-east-1".into(),
                service: "s3".into(),
            },
            signed_headers: vec![],
            signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
            signed_at: chrono::DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            expires_secs: None,
            session_token: None,
        };
        let signer = ChunkSigner::new(&auth, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let mut raw = Vec::new();
        raw.extend_from_slice(b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
        raw.extend_from_slice(&[b'a'; 65536]);
        raw.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
        raw.extend_from_slice(&[b'a'; 1024]);
        raw.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-content-sha256",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".parse().unwrap(),
        );
        h.insert("x-amz-decoded-content-length", "66560".parse().unwrap());
        let body_of = |raw: Vec<u8>| {
            let pieces: Vec<Result<Bytes, std::io::Error>> = raw
                .chunks(1000)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Box::pin(futures_util::stream::iter(pieces)) as ByteStream
        };
        let mut b = RequestBody::new(body_of(raw.clone()), &h, Some(signer.clone())).unwrap();
        assert_eq!(drain(&mut b).await.unwrap().len(), 66560);
        // One byte changed in the second chunk: refused.
        let mut tampered = raw;
        let at = tampered.len() - 200;
        tampered[at] = b'b';
        let mut b = RequestBody::new(body_of(tampered), &h, Some(signer)).unwrap();
        assert_eq!(
            drain(&mut b).await.unwrap_err().code,
            "SignatureDoesNotMatch"
        );
    }
}

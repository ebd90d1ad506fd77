//! The canonical request and string to sign of Signature Version 4, built
//! from a request as it arrived: the raw (percent-encoded) path and query,
//! the headers the client listed as signed, and the payload hash.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{RequestParts, ALGORITHM};

type HmacSha256 = Hmac<Sha256>;

/// The path as AWS canonicalizes it. S3 signs the path as sent (encoded
/// once); every other service normalizes it (dot segments and empty
/// segments removed) and encodes it again, so `%20` on the wire is `%2520`
/// in the canonical request.
pub(crate) fn canonical_uri(path: &str, s3: bool) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    if s3 {
        return path.to_string();
    }
    uri_encode(&remove_dot_segments(path), false)
}

/// RFC 3986's dot-segment removal, also dropping empty segments (AWS
/// collapses `//`), keeping a leading and a trailing slash.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let first = if path.starts_with('/') { "/" } else { "" };
    let last = if path.ends_with('/') && !out.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{first}{}{last}", out.join("/"))
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`),
/// and `/` unless `encode_slash`; hex digits upper case.
pub(crate) fn uri_encode(input: &str, encode_slash: bool) -> String {
    uri_encode_bytes(input.as_bytes(), encode_slash)
}

fn uri_encode_bytes(input: &[u8], encode_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (b == b'/' && !encode_slash);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (a malformed escape stays as it is); `+` stays `+`.
pub(crate) fn percent_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decodes a query component: `+` is a space (form encoding, as botocore
/// sends spaces in query strings), a literal `+` arrives as `%2B`.
fn query_decode(input: &str) -> Vec<u8> {
    percent_decode(&input.replace('+', " "))
}

/// The query's `key=value` pairs, decoded.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                String::from_utf8_lossy(&query_decode(k)).into_owned(),
                String::from_utf8_lossy(&query_decode(v)).into_owned(),
            )
        })
        .collect()
}

/// Every parameter (but `X-Amz-Signature` when presigned) decoded and
/// encoded again AWS's way, sorted by key then value, joined by `&`.
pub(crate) fn canonical_query(query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .filter(|(k, _)| !(presigned && *k == "X-Amz-Signature"))
        .map(|(k, v)| {
            (
                uri_encode_bytes(&query_decode(k), true),
                uri_encode_bytes(&query_decode(v), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `name:value` lines for the signed headers: values of a repeated header
/// joined by `,`, each trimmed and its runs of white space made one space.
/// A signed header the request lacks contributes an empty value (and so a
/// signature that does not match).
pub(crate) fn canonical_headers(req: &RequestParts<'_>, signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| trim_all(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

fn trim_all(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The whole canonical request.
pub(crate) struct CanonicalRequest<'a> {
    pub(crate) req: &'a RequestParts<'a>,
    pub(crate) s3: bool,
    pub(crate) presigned: bool,
    pub(crate) signed_headers: &'a [String],
    pub(crate) payload_hash: &'a str,
}

impl CanonicalRequest<'_> {
    pub(crate) fn render(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.req.method.to_ascii_uppercase(),
            canonical_uri(self.req.path, self.s3),
            canonical_query(self.req.query, self.presigned),
            canonical_headers(self.req, self.signed_headers),
            self.signed_headers.join(";"),
            self.payload_hash,
        )
    }
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of the canonical request>`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// HMAC-SHA256.
pub(crate) fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_and_encoded_twice_except_for_s3() {
        assert_eq!(canonical_uri("/a/./b/../c//d/", false), "/a/c/d/");
        assert_eq!(canonical_uri("/my%20fn", false), "/my%2520fn");
        assert_eq!(canonical_uri("/my%20fn", true), "/my%20fn");
        assert_eq!(canonical_uri("", false), "/");
        assert_eq!(canonical_uri("/", false), "/");
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(
            canonical_query("b=2&a=x%20y&a=1&c", false),
            "a=1&a=x%20y&b=2&c="
        );
        assert_eq!(
            canonical_query("k=a+b&k2=%7e&p=%2B", false),
            "k=a%20b&k2=~&p=%2B"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=ab&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
    }

    #[test]
    fn percent_decode_keeps_malformed_escapes() {
        assert_eq!(percent_decode("%41%zz%4"), b"A%zz%4".to_vec());
    }
}

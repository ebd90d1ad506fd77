//! The digests SQS answers with: MD5 (RFC 1321) of a body, and of message
//! attributes in SQS's encoding — which is also how the store keeps them.
//!
//! SQS's attribute encoding, the input of `MD5OfMessageAttributes` (the SDKs
//! recompute it and refuse a mismatch): for each attribute in name order, a
//! 4-byte big-endian length and the name's UTF-8 bytes, the same for the
//! data type, one transport byte (1: `String`/`Number`, 2: `Binary`), then
//! the length and bytes of the value.

use sha2::{Digest, Sha256};

use crate::model::{AttributeValue, MessageAttributes};

/// The transport byte of a string or number value.
const STRING_TRANSPORT: u8 = 1;
/// The transport byte of a binary value.
const BINARY_TRANSPORT: u8 = 2;

/// MD5 of `data`, lowercase hex.
pub fn md5_hex(data: &[u8]) -> String {
    to_hex(&md5(data))
}

/// SHA-256 of `data`, lowercase hex (content-based deduplication ids).
pub fn sha256_hex(data: &[u8]) -> String {
    to_hex(&Sha256::digest(data))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The MD5 of message attributes as SQS computes it; `None` when there are
/// none.
pub fn attributes_md5(attributes: &MessageAttributes) -> Option<String> {
    (!attributes.is_empty()).then(|| md5_hex(&encode(attributes)))
}

/// Attributes in SQS's digest encoding (the store's format too).
pub fn encode(attributes: &MessageAttributes) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in attributes {
        put(&mut out, name.as_bytes());
        put(&mut out, value.data_type.as_bytes());
        match &value.binary_value {
            Some(bytes) if is_binary(&value.data_type) => {
                out.push(BINARY_TRANSPORT);
                put(&mut out, bytes);
            }
            _ => {
                out.push(STRING_TRANSPORT);
                put(
                    &mut out,
                    value.string_value.as_deref().unwrap_or("").as_bytes(),
                );
            }
        }
    }
    out
}

/// Decodes [`encode`]'s output; `None` when it is not well formed.
pub fn decode(mut data: &[u8]) -> Option<MessageAttributes> {
    let mut out = MessageAttributes::new();
    while !data.is_empty() {
        let name = String::from_utf8(take(&mut data)?.to_vec()).ok()?;
        let data_type = String::from_utf8(take(&mut data)?.to_vec()).ok()?;
        let (&transport, rest) = data.split_first()?;
        data = rest;
        let value = take(&mut data)?;
        let value = match transport {
            BINARY_TRANSPORT => AttributeValue {
                data_type,
                string_value: None,
                binary_value: Some(value.to_vec()),
            },
            STRING_TRANSPORT => AttributeValue {
                data_type,
                string_value: Some(String::from_utf8(value.to_vec()).ok()?),
                binary_value: None,
            },
            _ => return None,
        };
        out.insert(name, value);
    }
    Some(out)
}

/// Whether a data type is binary (`Binary` or `Binary.<label>`).
pub fn is_binary(data_type: &str) -> bool {
    data_type == "Binary" || data_type.starts_with("Binary.")
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("attribute parts are far below 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn take<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = data.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    *data = rest;
    Some(value)
}

/// Per-round shift amounts (RFC 1321, 3.4).
const SHIFTS: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/// The table `T[i] = floor(2^32 * |sin(i + 1)|)` (RFC 1321, 3.4).
fn sine_table() -> [u32; 64] {
    let mut t = [0u32; 64];
    for (i, v) in t.iter_mut().enumerate() {
        *v = ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32;
    }
    t
}

/// MD5 of `data` (RFC 1321).
pub fn md5(data: &[u8]) -> [u8; 16] {
    let table = sine_table();
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut padded = data.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&bit_len.to_le_bytes());
    for block in padded.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (i, word) in block.chunks_exact(4).enumerate() {
            m[i] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(table[i])
                .wrapping_add(m[g])
                .rotate_left(SHIFTS[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, word) in state.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_the_rfc_test_suite() {
        for (input, hex) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(md5_hex(input.as_bytes()), hex, "{input:?}");
        }
    }

    fn string(data_type: &str, v: &str) -> AttributeValue {
        AttributeValue {
            data_type: data_type.into(),
            string_value: Some(v.into()),
            binary_value: None,
        }
    }

    #[test]
    fn attribute_digest_is_sqs_encoding() {
        let mut attrs = MessageAttributes::new();
        attrs.insert("b".into(), string("Number", "1"));
        attrs.insert(
            "a".into(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![0, 255]),
            },
        );
        // Hand-built: sorted by name, length-prefixed parts, transport byte.
        let mut expected = Vec::new();
        expected.extend_from_slice(&[0, 0, 0, 1, b'a', 0, 0, 0, 6]);
        expected.extend_from_slice(b"Binary");
        expected.extend_from_slice(&[2, 0, 0, 0, 2, 0, 255]);
        expected.extend_from_slice(&[0, 0, 0, 1, b'b', 0, 0, 0, 6]);
        expected.extend_from_slice(b"Number");
        expected.extend_from_slice(&[1, 0, 0, 0, 1, b'1']);
        assert_eq!(encode(&attrs), expected);
        assert_eq!(attributes_md5(&attrs), Some(md5_hex(&expected)));
        assert_eq!(decode(&expected), Some(attrs));
        assert_eq!(attributes_md5(&MessageAttributes::new()), None);
        assert_eq!(decode(&expected[..5]), None, "truncated");
    }

    #[test]
    fn published_sqs_attribute_digests() {
        // Digests published for SQS clients that verify them.
        let number = string("Number.float", "4563442423554324324264524243.32543234");
        let binary = AttributeValue {
            data_type: "Binary".into(),
            string_value: None,
            binary_value: Some(b"Hello binary world!".to_vec()),
        };
        let one = |name: &str, v: AttributeValue| MessageAttributes::from([(name.to_string(), v)]);
        let cases = [
            (
                one("attribName1", string("String", "attribValue 1")),
                "19e27d4e946b072f3f58da80d94fd778",
            ),
            (
                one("customNumberTypeAttrib", number.clone()),
                "9fe1b90bbd9965bdf77bac517c7d2495",
            ),
            (
                one("binaryAttribute", binary.clone()),
                "31a92b15d92f8db860eda32aceb656c3",
            ),
            (
                MessageAttributes::from([
                    ("attribName1".to_string(), string("String", "attribValue 1")),
                    ("customNumberTypeAttrib".to_string(), number),
                    ("binaryAttribute".to_string(), binary),
                ]),
                "c932db14a896c663f83c260297d594ff",
            ),
        ];
        for (attrs, md5) in cases {
            assert_eq!(attributes_md5(&attrs).as_deref(), Some(md5), "{attrs:?}");
        }
    }
}

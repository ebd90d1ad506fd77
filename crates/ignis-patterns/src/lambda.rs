//! Lambda event filtering: an event source mapping's `FilterCriteria`
//! (up to five patterns, OR'ed) applied to each record before it is
//! batched.
//!
//! The language is EventBridge's as Pipes has it (no `wildcard`, and
//! `anything-but` over values only), with exact numbers compared by text.
//! The record's data field gets Lambda's treatment: a JSON body (object or
//! array) is matched as JSON, anything else as the plain string, so a
//! pattern that nests into `body` drops a plain-string message and a
//! plain-string pattern on `body` drops a JSON message — the table in
//! Lambda's "Filtering with Amazon SQS".

use serde_json::Value;
use thiserror::Error;

use crate::ast::{Language, Node};
use crate::error::PatternError;
use crate::matching::Replaced;
use crate::parse::parse;

/// Filters per event source mapping (Lambda's default quota).
pub const MAX_FILTERS: usize = 5;

/// The longest `Pattern` Lambda accepts, in characters.
pub const MAX_PATTERN_LENGTH: usize = 4096;

/// SQS records carry their data in `body`.
pub const SQS_DATA_FIELD: &str = "body";

/// Why `FilterCriteria` was refused: Lambda answers
/// `InvalidParameterValueException` with this message.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FilterError {
    /// More filters than [`MAX_FILTERS`].
    #[error(
        "Invalid filter criteria: the number of filters ({count}) exceeds the maximum of {max}."
    )]
    TooManyFilters {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A pattern that does not parse or check.
    #[error("Invalid filter pattern definition.")]
    InvalidPattern {
        /// Which filter (0-based).
        index: usize,
        /// What is wrong with it.
        #[source]
        source: PatternError,
    },
}

/// A mapping's parsed filters; no filters matches every record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    patterns: Vec<Node>,
}

impl Filters {
    /// Parses the `Pattern` strings of `FilterCriteria.Filters`.
    pub fn parse(patterns: &[String]) -> Result<Self, FilterError> {
        if patterns.len() > MAX_FILTERS {
            return Err(FilterError::TooManyFilters {
                count: patterns.len(),
                max: MAX_FILTERS,
            });
        }
        let patterns = patterns
            .iter()
            .enumerate()
            .map(|(index, p)| {
                parse(p, Language::Lambda, MAX_PATTERN_LENGTH)
                    .map_err(|source| FilterError::InvalidPattern { index, source })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns })
    }

    /// Whether there are no filters (every record passes).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether an SQS event record (`messageId`, `body`, `attributes`, …)
    /// passes: its `body` is matched as JSON when it is a JSON object or
    /// array, as the plain string otherwise.
    pub fn matches_sqs(&self, record: &Value) -> bool {
        self.matches_with(record, SQS_DATA_FIELD, |data| match data {
            Value::String(body) => parse_json_body(body.as_bytes()),
            _ => None,
        })
    }

    /// Whether a record of another source passes, `data_field` being its
    /// data (`data` for MQ and Kinesis, `dynamodb` for DynamoDB streams). A
    /// string data field is base64-decoded when it decodes; JSON (object or
    /// array) is then matched as JSON and other UTF-8 text as the decoded
    /// string. An object data field is matched as it is.
    pub fn matches_record(&self, record: &Value, data_field: &str) -> bool {
        self.matches_with(record, data_field, |data| match data {
            Value::String(s) => {
                let bytes = decode_base64(s)?;
                parse_json_body(&bytes).or_else(|| String::from_utf8(bytes).ok().map(Value::String))
            }
            _ => None,
        })
    }

    fn matches_with(
        &self,
        record: &Value,
        data_field: &str,
        prepare: impl FnOnce(&Value) -> Option<Value>,
    ) -> bool {
        if self.patterns.is_empty() {
            return true;
        }
        let base = record.as_object();
        let original = base.and_then(|m| m.get(data_field));
        let needs_data = self.patterns.iter().any(|p| p.mentions(data_field));
        let prepared = match original {
            Some(data) if needs_data => prepare(data),
            _ => None,
        };
        let view = Replaced {
            base,
            key: data_field,
            value: prepared.as_ref().or(original),
        };
        self.patterns
            .iter()
            .any(|p| p.matches(&view, Language::Lambda))
    }
}

/// The body as JSON when it is a JSON object or array.
fn parse_json_body(bytes: &[u8]) -> Option<Value> {
    match serde_json::from_slice(bytes) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => Some(v),
        _ => None,
    }
}

/// Standard base64 (padding optional); `None` if `s` is not base64.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    if s.is_empty() || s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("QUJDOkFBQUE=").unwrap(), b"ABC:AAAA");
        assert_eq!(decode_base64("QUI").unwrap(), b"AB");
        assert_eq!(decode_base64("eyJhIjoxfQ==").unwrap(), br#"{"a":1}"#);
        assert!(decode_base64("not base64!").is_none());
        assert!(decode_base64("").is_none());
    }
}

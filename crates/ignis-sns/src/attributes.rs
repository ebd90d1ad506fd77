//! Message attributes as SNS takes them: `String`, `String.Array`,
//! `Number` and `Binary` (the first three with an optional custom label,
//! `Number.float`), validated as SNS validates them.

use std::collections::BTreeMap;

use base64::Engine;
use ignis_protocol::AwsError;
use serde::{Deserialize, Serialize};

use crate::error::{invalid_parameter, parameter_value_invalid};
use crate::params::{group, Fields};

/// One message attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    /// `String`, `String.Array`, `Number`, `Binary` (with a label: `Number.x`).
    pub data_type: String,
    /// The value of a string, array or number attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// The value of a binary attribute, base64 (as notifications carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
}

impl MessageAttribute {
    /// The base type: `String`, `String.Array`, `Number` or `Binary`.
    pub fn base_type(&self) -> &str {
        if self.data_type == "String.Array" {
            return "String.Array";
        }
        self.data_type.split('.').next().unwrap_or("")
    }

    /// The value as a notification shows it (`Value`): the string, or the
    /// binary's base64.
    pub fn value(&self) -> &str {
        self.string_value
            .as_deref()
            .or(self.binary_value.as_deref())
            .unwrap_or("")
    }

    /// Bytes counted against the message size (name excluded).
    pub fn size(&self) -> usize {
        self.data_type.len() + self.value().len()
    }
}

/// Message attributes by name.
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

/// Reads `prefix.entry.N.Name` / `.Value.DataType` / `.Value.StringValue`
/// / `.Value.BinaryValue` and validates each attribute.
pub fn parse(params: &Fields, prefix: &str) -> Result<MessageAttributes, AwsError> {
    let mut out = MessageAttributes::new();
    for entry in group(params, &format!("{prefix}.entry")) {
        let name = entry.get("Name").cloned().unwrap_or_default();
        let data_type = entry.get("Value.DataType").cloned().unwrap_or_default();
        let binary = match entry.get("Value.BinaryValue") {
            Some(b64) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
                    .map_err(|_| {
                        parameter_value_invalid(format!(
                            "The message attribute '{name}' has an invalid binary value."
                        ))
                    })?,
            ),
            None => None,
        };
        let attr = MessageAttribute {
            data_type,
            string_value: entry.get("Value.StringValue").cloned(),
            binary_value: binary,
        };
        check(&name, &attr)?;
        out.insert(name, attr);
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), AwsError> {
    let bad = |why: &str| {
        invalid_parameter(format!(
            "MessageAttributes: the message attribute name '{name}' {why}"
        ))
    };
    if name.is_empty() {
        return Err(invalid_parameter(
            "The message attribute name can not be empty.",
        ));
    }
    if name.len() > 256 {
        return Err(bad("is longer than 256 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(bad(
            "contains invalid characters (allowed: a-z, A-Z, 0-9, _, -, .)",
        ));
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(bad(
            "must not start or end with a period nor contain two in a row",
        ));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return Err(bad("uses a reserved prefix (AWS., Amazon.)"));
    }
    Ok(())
}

fn check(name: &str, a: &MessageAttribute) -> Result<(), AwsError> {
    check_name(name)?;
    let base = a.base_type();
    if !matches!(base, "String" | "String.Array" | "Number" | "Binary") {
        return Err(parameter_value_invalid(format!(
            "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
        )));
    }
    let empty = || {
        parameter_value_invalid(format!(
            "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{}'.",
            a.data_type
        ))
    };
    match base {
        "Binary" => {
            if a.binary_value.as_deref().is_none_or(str::is_empty) {
                return Err(empty());
            }
        }
        _ => {
            let value = a
                .string_value
                .as_deref()
                .filter(|v| !v.is_empty())
                .ok_or_else(empty)?;
            if base == "Number" && !is_number(value) {
                return Err(parameter_value_invalid(format!(
                    "Could not cast message attribute '{name}' value to number."
                )));
            }
            if base == "String.Array"
                && !serde_json::from_str::<serde_json::Value>(value).is_ok_and(|v| {
                    v.as_array()
                        .is_some_and(|items| items.iter().all(|i| !i.is_object() && !i.is_array()))
                })
            {
                return Err(invalid_parameter(format!(
                    "Message attribute '{name}' value is not an array of strings, numbers, booleans or nulls: {value}"
                )));
            }
        }
    }
    Ok(())
}

/// SNS's numbers: a finite decimal within ±10^9 with at most 5 decimals.
fn is_number(v: &str) -> bool {
    let Ok(n) = v.trim().parse::<f64>() else {
        return false;
    };
    let decimals = v.split_once('.').map_or(0, |(_, d)| d.trim_end().len());
    n.is_finite() && n.abs() <= 1e9 && decimals <= 5 && !v.contains(['e', 'E'])
}

/// The attributes as a notification's `MessageAttributes` JSON:
/// `{"name": {"Type": …, "Value": …}}`.
pub fn to_notification(attrs: &MessageAttributes) -> serde_json::Value {
    attrs
        .iter()
        .map(|(name, a)| {
            (
                name.clone(),
                serde_json::json!({"Type": a.data_type, "Value": a.value()}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn attributes_validate_as_sns() {
        let ok = parse(
            &fields(&[
                ("M.entry.1.Name", "color"),
                ("M.entry.1.Value.DataType", "String"),
                ("M.entry.1.Value.StringValue", "red"),
                ("M.entry.2.Name", "n"),
                ("M.entry.2.Value.DataType", "Number.float"),
                ("M.entry.2.Value.StringValue", "1.5"),
                ("M.entry.3.Name", "b"),
                ("M.entry.3.Value.DataType", "Binary"),
                ("M.entry.3.Value.BinaryValue", "AAE="),
                ("M.entry.4.Name", "list"),
                ("M.entry.4.Value.DataType", "String.Array"),
                ("M.entry.4.Value.StringValue", "[\"a\", 1, true]"),
            ]),
            "M",
        )
        .unwrap();
        assert_eq!(ok.len(), 4);
        assert_eq!(ok["n"].base_type(), "Number");
        assert_eq!(
            to_notification(&ok)["b"],
            serde_json::json!({"Type": "Binary", "Value": "AAE="})
        );
        let refused = |pairs: &[(&str, &str)]| parse(&fields(pairs), "M").unwrap_err();
        let e = refused(&[
            ("M.entry.1.Name", "x"),
            ("M.entry.1.Value.DataType", "Number"),
            ("M.entry.1.Value.StringValue", "abc"),
        ]);
        assert_eq!(e.code, "ParameterValueInvalid");
        let e = refused(&[
            ("M.entry.1.Name", "x"),
            ("M.entry.1.Value.DataType", "Blob"),
            ("M.entry.1.Value.StringValue", "abc"),
        ]);
        assert!(e.message.contains("invalid message attribute type"));
        let e = refused(&[
            ("M.entry.1.Name", "AWS.x"),
            ("M.entry.1.Value.DataType", "String"),
            ("M.entry.1.Value.StringValue", "abc"),
        ]);
        assert_eq!(e.code, "InvalidParameter");
        let e = refused(&[
            ("M.entry.1.Name", "x"),
            ("M.entry.1.Value.DataType", "String"),
        ]);
        assert!(e.message.contains("non-empty"));
        refused(&[
            ("M.entry.1.Name", "x"),
            ("M.entry.1.Value.DataType", "String.Array"),
            ("M.entry.1.Value.StringValue", "{}"),
        ]);
    }
}

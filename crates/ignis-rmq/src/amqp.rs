//! From the AMQP client's types to the event's: a delivery's basic
//! properties and header table as Lambda's Java consumer serializes them.
//! A long string (and a byte array) becomes `{"bytes":[…]}` with Java's
//! signed bytes (-128..127), numbers stay numbers, a decimal becomes its
//! value, a timestamp is written as the `timestamp` property is, a nested
//! table an object, an array a list, void `null`.

use amqprs::{FieldTable, FieldValue};
use serde_json::{Map, Number, Value};

use crate::event::{format_timestamp, BasicProperties};

/// The event's properties for a delivery with `properties` and a body of
/// `body_size` bytes.
pub fn properties(
    properties: Option<&amqprs::BasicProperties>,
    body_size: usize,
) -> BasicProperties {
    let Some(p) = properties else {
        return BasicProperties {
            body_size,
            ..Default::default()
        };
    };
    BasicProperties {
        content_type: p.content_type().cloned(),
        content_encoding: p.content_encoding().cloned(),
        headers: p.headers().map(table),
        delivery_mode: p.delivery_mode(),
        priority: p.priority(),
        correlation_id: p.correlation_id().cloned(),
        reply_to: p.reply_to().cloned(),
        expiration: p.expiration().cloned(),
        message_id: p.message_id().cloned(),
        timestamp: p.timestamp().map(format_timestamp),
        message_type: p.message_type().cloned(),
        user_id: p.user_id().cloned(),
        app_id: p.app_id().cloned(),
        cluster_id: p.cluster_id().cloned(),
        body_size,
    }
}

fn table(table: &FieldTable) -> Map<String, Value> {
    let entries: &std::collections::HashMap<_, _> = table.as_ref();
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    sorted
        .into_iter()
        .map(|(name, value)| (name.as_ref().clone(), header_value(value)))
        .collect()
}

fn java_bytes(bytes: &[u8]) -> Value {
    let signed: Vec<Value> = bytes.iter().map(|b| Value::from(*b as i8)).collect();
    let mut object = Map::new();
    object.insert("bytes".into(), Value::Array(signed));
    Value::Object(object)
}

fn float(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// One header value as the event carries it.
pub fn header_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::t(b) => Value::from(*b),
        FieldValue::b(n) => Value::from(*n),
        FieldValue::B(n) => Value::from(*n),
        FieldValue::s(n) => Value::from(*n),
        FieldValue::u(n) => Value::from(*n),
        FieldValue::I(n) => Value::from(*n),
        FieldValue::i(n) => Value::from(*n),
        FieldValue::l(n) => Value::from(*n),
        FieldValue::f(n) => float(f64::from(*n)),
        FieldValue::d(n) => float(*n),
        FieldValue::D(decimal) => {
            // (scale, unscaled value): the value is unscaled / 10^scale.
            match serde_json::to_value(decimal) {
                Ok(Value::Array(parts)) if parts.len() == 2 => {
                    let scale = parts[0].as_i64().unwrap_or(0);
                    let unscaled = parts[1].as_i64().unwrap_or(0);
                    float(unscaled as f64 / 10f64.powi(scale as i32))
                }
                _ => Value::Null,
            }
        }
        FieldValue::S(s) => java_bytes(s.as_ref().as_bytes()),
        FieldValue::A(array) => {
            let items: Vec<FieldValue> = array.clone().into();
            Value::Array(items.iter().map(header_value).collect())
        }
        FieldValue::T(seconds) => Value::from(format_timestamp(*seconds)),
        FieldValue::F(nested) => Value::Object(table(nested)),
        FieldValue::V => Value::Null,
        FieldValue::x(bytes) => {
            let bytes: Vec<u8> = bytes.clone().into();
            java_bytes(&bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amqprs::{DecimalValue, FieldArray, FieldName};
    use serde_json::json;

    fn name(s: &str) -> FieldName {
        s.try_into().unwrap()
    }

    #[test]
    fn header_values_are_written_as_lambda_writes_them() {
        let mut nested = FieldTable::new();
        nested.insert(name("k"), FieldValue::from("v"));
        let mut headers = FieldTable::new();
        headers.insert(name("header1"), FieldValue::from("value1"));
        headers.insert(name("numberInHeader"), FieldValue::I(10));
        headers.insert(name("long"), FieldValue::l(-5_000_000_000));
        headers.insert(name("flag"), FieldValue::t(true));
        headers.insert(name("utf8"), FieldValue::from("é"));
        headers.insert(name("nested"), FieldValue::F(nested));
        headers.insert(
            name("list"),
            FieldValue::A(FieldArray::try_from(vec![FieldValue::u(1), FieldValue::V]).unwrap()),
        );
        headers.insert(name("price"), FieldValue::D(DecimalValue::new(2, 1234)));
        headers.insert(
            name("raw"),
            FieldValue::x(vec![1u8, 255].try_into().unwrap()),
        );
        headers.insert(name("at"), FieldValue::T(2021));
        let props = amqprs::BasicProperties::default()
            .with_content_type("text/plain")
            .with_headers(headers)
            .with_delivery_mode(2)
            .with_message_id("m-1")
            .with_timestamp(0)
            .with_message_type("t")
            .finish();
        let event = properties(Some(&props), 80);
        assert_eq!(event.content_type.as_deref(), Some("text/plain"));
        assert_eq!(event.delivery_mode, Some(2));
        assert_eq!(event.priority, None);
        assert_eq!(event.message_id.as_deref(), Some("m-1"));
        assert_eq!(event.message_type.as_deref(), Some("t"));
        assert_eq!(event.timestamp.as_deref(), Some("Jan 1, 1970, 12:00:00 AM"));
        assert_eq!(event.body_size, 80);
        assert_eq!(
            Value::Object(event.headers.unwrap()),
            json!({
                "header1": {"bytes": [118, 97, 108, 117, 101, 49]},
                "numberInHeader": 10,
                "long": -5_000_000_000i64,
                "flag": true,
                "utf8": {"bytes": [-61, -87]},
                "nested": {"k": {"bytes": [118]}},
                "list": [1, null],
                "price": 12.34,
                "raw": {"bytes": [1, -1]},
                "at": "Jan 1, 1970, 12:33:41 AM"
            })
        );
    }

    #[test]
    fn a_delivery_without_properties_has_only_its_size() {
        let event = properties(None, 3);
        assert_eq!(
            event,
            BasicProperties {
                body_size: 3,
                ..Default::default()
            }
        );
    }
}

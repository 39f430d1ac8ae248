//! JSON documents inside protobuf messages: `google.protobuf.Struct` to and from
//! `serde_json::Value`, for the admin API, whose gRPC messages carry the REST API's JSON
//! documents. Protobuf numbers are doubles: whole numbers within ±2^53 come back as JSON
//! integers, so ids, versions and sequences survive the trip.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};

/// Largest integer a double holds exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// A JSON object as a `Struct`; `None` for any other JSON value.
pub fn to_struct(value: serde_json::Value) -> Option<Struct> {
    match value {
        serde_json::Value::Object(map) => Some(Struct {
            fields: map.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
        }),
        _ => None,
    }
}

/// A `Struct` as a JSON object.
pub fn from_struct(value: Struct) -> serde_json::Value {
    serde_json::Value::Object(
        value
            .fields
            .into_iter()
            .map(|(k, v)| (k, from_value(v)))
            .collect(),
    )
}

fn to_value(value: serde_json::Value) -> Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(to_value).collect(),
        }),
        object @ serde_json::Value::Object(_) => {
            Kind::StructValue(to_struct(object).expect("an object"))
        }
    };
    Value { kind: Some(kind) }
}

fn from_value(value: Value) -> serde_json::Value {
    match value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => b.into(),
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() <= MAX_EXACT => {
            // Exact: a whole double within ±2^53 is an i64.
            #[allow(clippy::cast_possible_truncation)]
            serde_json::Value::from(n as i64)
        }
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(n)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Some(Kind::StringValue(s)) => s.into(),
        Some(Kind::ListValue(list)) => list.values.into_iter().map(from_value).collect(),
        Some(Kind::StructValue(s)) => from_struct(s),
    }
}

#[cfg(test)]
mod tests;

//! Tool allow/deny lists: `tools/list` answers lose the tools a client may not see (only that
//! response is rewritten, everything else in it kept in order), and a `tools/call` of such a
//! tool is answered as the upstream would answer an unknown tool.

use std::fmt;

use bytes::Bytes;
use mcpgw_shared::model::ToolFilter;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON object read with its members in order and their values left as raw text.
struct OrderedObject(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(OrderedObject(members))
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl Serialize for OrderedObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl OrderedObject {
    fn get_mut(&mut self, key: &str) -> Option<&mut Box<RawValue>> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
}

fn same_id(a: &RawValue, b: &RawValue) -> bool {
    let parse = |raw: &RawValue| serde_json::from_str::<serde_json::Value>(raw.get()).ok();
    a.get() == b.get() || parse(a).is_some_and(|x| Some(x) == parse(b))
}

/// If `message` is the response to request `id` and carries `result.tools`, the same message
/// without the tools `filter` hides; otherwise `None` (relay it unchanged).
pub fn filter_list_response(message: &[u8], id: &RawValue, filter: &ToolFilter) -> Option<Vec<u8>> {
    let mut top: OrderedObject = serde_json::from_slice(message).ok()?;
    if !top.get("id").is_some_and(|got| same_id(got, id)) {
        return None;
    }
    let result = top.get_mut("result")?;
    let mut result_obj: OrderedObject = serde_json::from_str(result.get()).ok()?;
    let tools = result_obj.get_mut("tools")?;
    let list: Vec<Box<RawValue>> = serde_json::from_str(tools.get()).ok()?;
    let kept: Vec<Box<RawValue>> = list
        .into_iter()
        .filter(|tool| {
            serde_json::from_str::<Named<'_>>(tool.get())
                .ok()
                .and_then(|t| t.name.map(|n| filter.permits(&n)))
                .unwrap_or(false)
        })
        .collect();
    *tools = serde_json::value::to_raw_value(&kept).ok()?;
    *result = serde_json::value::to_raw_value(&result_obj).ok()?;
    serde_json::to_vec(&top).ok()
}

/// The answer to a `tools/call` of a tool the client may not see: the same JSON-RPC error an
/// MCP server gives for an unknown tool.
pub fn unknown_tool_response(id: Option<&RawValue>, name: &str) -> Bytes {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": -32602, "message": format!("Unknown tool: {name}") },
    });
    serde_json::to_vec(&body)
        .expect("a JSON value serializes")
        .into()
}

/// Whether `filter` hides anything at all (if not, responses are never touched).
pub fn filters_anything(filter: &ToolFilter) -> bool {
    filter.allow.is_some() || !filter.deny.is_empty()
}

#[cfg(test)]
mod tests;

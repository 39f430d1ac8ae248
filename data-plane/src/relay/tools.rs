//! Tool policies on the wire: every response that lists tools, on a server whose policy hides
//! or renames some, loses the hidden ones and shows the others as the policy says (only that
//! message is rewritten; everything else in it is kept in order); a `tools/call` names the
//! upstream's tool, and one of a hidden tool is answered with an error naming the rule.
//!
//! Filtering fails closed: a response is filtered by what it is (a JSON-RPC response carrying
//! `result.tools`), not by matching its id to a request, and one the gateway cannot read the way
//! a client would (a key given twice, `tools` not a list) is replaced by an error instead of
//! being relayed.

use std::fmt;

use bytes::Bytes;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use mcpgw_shared::model::ToolOverride;

use crate::snapshot::{Hidden, ToolAnnotations, ToolPolicy};

/// JSON-RPC internal error, answered in place of a list that could not be filtered.
const INTERNAL_ERROR: i64 = -32603;

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

/// A member that a client could read two ways.
struct Ambiguous;

impl OrderedObject {
    /// The one member named `key`; given twice, it is ambiguous (parsers disagree which wins).
    fn get(&self, key: &str) -> Result<Option<&RawValue>, Ambiguous> {
        let mut found = self.0.iter().filter(|(k, _)| k == key);
        let first = found.next().map(|(_, v)| &**v);
        match found.next() {
            Some(_) => Err(Ambiguous),
            None => Ok(first),
        }
    }

    fn set(&mut self, key: &str, value: Box<RawValue>) {
        if let Some((_, v)) = self.0.iter_mut().find(|(k, _)| k == key) {
            *v = value;
        }
    }

    /// Sets `key`, adding it at the end when absent.
    fn put(&mut self, key: &str, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
}

/// What the gateway reads of a listed tool.
#[derive(Deserialize)]
pub(super) struct Listed<'a> {
    #[serde(borrow)]
    pub(super) name: std::borrow::Cow<'a, str>,
    #[serde(default)]
    pub(super) annotations: Option<ToolAnnotations>,
}

/// What filtering did to one SSE event's data or one JSON body.
#[derive(Debug, PartialEq, Eq)]
pub enum Filtered {
    /// Nothing to filter: relay as is.
    Unchanged,
    /// The message as it may be relayed.
    Rewritten(Vec<u8>),
}

/// Filters every tools listing in `data` (one JSON-RPC message, or a batch of them) by `policy`.
pub fn filter(data: &[u8], policy: &ToolPolicy) -> Filtered {
    let first = data.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let Ok(items) = serde_json::from_slice::<Vec<Box<RawValue>>>(data) else {
            return Filtered::Unchanged;
        };
        let mut changed = false;
        let items: Vec<Box<RawValue>> = items
            .into_iter()
            .map(|item| match filter_message(item.get().as_bytes(), policy) {
                Filtered::Unchanged => item,
                Filtered::Rewritten(new) => {
                    changed = true;
                    raw(new)
                }
            })
            .collect();
        return if changed {
            Filtered::Rewritten(serde_json::to_vec(&items).expect("raw JSON values serialize"))
        } else {
            Filtered::Unchanged
        };
    }
    filter_message(data, policy)
}

fn raw(bytes: Vec<u8>) -> Box<RawValue> {
    let text = String::from_utf8(bytes).expect("serde_json writes UTF-8");
    RawValue::from_string(text).expect("serde_json writes valid JSON")
}

fn filter_message(data: &[u8], policy: &ToolPolicy) -> Filtered {
    let Ok(mut top) = serde_json::from_slice::<OrderedObject>(data) else {
        // Not an object: no client reads a tools listing out of it.
        return Filtered::Unchanged;
    };
    let id = top.get("id").ok().flatten().map(ToOwned::to_owned);
    match rewrite(&mut top, policy) {
        Ok(false) => Filtered::Unchanged,
        Ok(true) => Filtered::Rewritten(serde_json::to_vec(&top).expect("raw JSON serializes")),
        Err(Ambiguous) => Filtered::Rewritten(unfilterable(id.as_deref())),
    }
}

/// Filters `result.tools` of a response in place; `Ok(true)` when it did.
fn rewrite(top: &mut OrderedObject, policy: &ToolPolicy) -> Result<bool, Ambiguous> {
    top.get("id")?;
    let Some(result) = top.get("result")? else {
        return Ok(false);
    };
    let Ok(mut result_obj) = serde_json::from_str::<OrderedObject>(result.get()) else {
        return Ok(false);
    };
    let Some(tools) = result_obj.get("tools")? else {
        return Ok(false);
    };
    let list: Vec<Box<RawValue>> = serde_json::from_str(tools.get()).map_err(|_| Ambiguous)?;
    let mut kept = Vec::with_capacity(list.len());
    for tool in list {
        let Ok(named) = serde_json::from_str::<Listed<'_>>(tool.get()) else {
            continue;
        };
        let visible = policy.permits(&named.name)
            && !policy.shadowed(&named.name)
            && policy
                .admits(&named.annotations.unwrap_or_default())
                .is_ok();
        if !visible {
            continue;
        }
        match policy.presentation(&named.name) {
            Some(shown) => kept.push(present(&tool, shown)?),
            None => kept.push(tool),
        }
    }
    result_obj.set(
        "tools",
        serde_json::value::to_raw_value(&kept).expect("raw JSON values serialize"),
    );
    top.set(
        "result",
        serde_json::value::to_raw_value(&result_obj).expect("raw JSON serializes"),
    );
    Ok(true)
}

/// `tool` as the policy shows it: another name, another description.
fn present(tool: &RawValue, shown: &ToolOverride) -> Result<Box<RawValue>, Ambiguous> {
    let mut object = serde_json::from_str::<OrderedObject>(tool.get()).map_err(|_| Ambiguous)?;
    object.get("name")?;
    object.get("description")?;
    let text = |value: &str| serde_json::value::to_raw_value(value).expect("a string serializes");
    if let Some(name) = &shown.name {
        object.put("name", text(name));
    }
    if let Some(description) = &shown.description {
        object.put("description", text(description));
    }
    Ok(serde_json::value::to_raw_value(&object).expect("raw JSON serializes"))
}

/// The error relayed in place of a listing that cannot be filtered safely.
fn unfilterable(id: Option<&RawValue>) -> Vec<u8> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": INTERNAL_ERROR,
            "message": "the gateway could not filter this server's tool list, so it is not relayed",
        },
    });
    serde_json::to_vec(&body).expect("a JSON value serializes")
}

/// A `tools/call` body naming the tool `upstream` instead (the client called it by the name the
/// policy shows); `None` when the body is not one.
pub fn call_named(body: &[u8], upstream: &str) -> Option<Bytes> {
    let mut message: serde_json::Value = serde_json::from_slice(body).ok()?;
    *message.get_mut("params")?.get_mut("name")? = serde_json::Value::from(upstream);
    Some(serde_json::to_vec(&message).ok()?.into())
}

/// The answer to a `tools/call` of a tool the client may not call: a JSON-RPC error naming
/// the server and the rule, with the request id.
pub fn denied_tool_response(
    id: Option<&RawValue>,
    name: &str,
    slug: &str,
    hidden: &Hidden,
    request_id: &str,
) -> Bytes {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": -32602,
            "message": match hidden {
                Hidden::By(owner, inner) => {
                    format!("Unknown tool: {name} ({} hides it: {inner})", owner.describe())
                }
                other => format!("Unknown tool: {name} (server `{slug}`'s tool policy hides it: {other})"),
            },
            "data": {
                "reason": "tool_denied",
                "rule": hidden.rule(),
                "request_id": request_id,
                "hint": "call tools/list for the tools this server offers you; an admin sets `tools` on the server (or on the workspace, for every server, or `grants` for a key or user)",
            },
        },
    });
    serde_json::to_vec(&body)
        .expect("a JSON value serializes")
        .into()
}

#[cfg(test)]
mod tests;
